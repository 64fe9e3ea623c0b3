-- Reward-model training runs started from Admin -> Reward model: what each was asked for,
-- how far it got, and what it found. The instance running one writes its progress and a
-- heartbeat; any instance lists it, and a cancel asked of any instance reaches it.
create table reward_runs (
    -- Made by the client, so a double-clicked start makes one run.
    id text primary key,
    created_by text not null references users (id),
    -- RewardOptions (JSON).
    options text not null,
    -- running, done, failed or cancelled.
    status text not null,
    progress double precision not null default 0,
    message text not null default '',
    -- RewardResult (JSON), once done.
    result text,
    cancel_requested integer not null default 0,
    heartbeat_at text not null,
    created_at text not null,
    finished_at text
);
-- One run at a time: each reads every reply through the model, on the server's cores.
create unique index reward_runs_one_running on reward_runs (status) where status = 'running';

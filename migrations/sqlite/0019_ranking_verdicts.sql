-- Reviewers' verdicts on doubtful rankings (Review -> Doubtful rankings): those a reward model
-- and the other trainers both disagree with. A ranking stands, or is set aside: then it is
-- left out of exports, agreement figures and later reward-model training.
create table ranking_verdicts (
    -- Made by the client, so a double-clicked verdict is stored once.
    id text primary key,
    -- One verdict a ranking: the first reviewer's.
    ranking_id text not null unique references rankings (id),
    reviewer_id text not null references users (id),
    -- stands or set_aside.
    verdict text not null,
    note text not null default '',
    -- The reward-model run that found it doubtful.
    run_id text not null references reward_runs (id),
    created_at text not null
);
-- When a reviewer set the ranking aside (null: it counts).
alter table rankings add column set_aside_at text;

-- Comparison tasks: a model-written message chosen at random from a chat, K completions of
-- its context to rank, each ranked by `overlap` different trainers. Every ranking a
-- comparison still needs is a slot; a trainer holds a slot under a lease that expires.

create table comparison_batches (
    id text primary key,
    created_by text not null references users (id),
    -- The seed the messages were drawn and the completions sampled with.
    seed text not null,
    k integer not null,
    overlap integer not null,
    -- The original message is one of the K completions.
    include_original integer not null,
    -- Trainers may rank comparisons drawn from their own conversations.
    allow_own integer not null,
    -- Sampling parameters (JSON) of the sampled completions; each completion keeps its seed.
    sampling text not null,
    created_at text not null
);

create table comparisons (
    id text primary key,
    batch_id text not null references comparison_batches (id) on delete cascade,
    -- Place in the draw, from 0.
    position integer not null,
    conversation_id text not null references conversations (id),
    message_id text not null references messages (id),
    -- Whose conversation it was drawn from: they are not asked to rank it unless allowed.
    source_owner_id text not null references users (id),
    -- pending (completions being sampled), ready (to rank) or failed.
    status text not null,
    -- A server sampling its completions holds it until then; afterwards another may.
    claimed_until text,
    error text,
    created_at text not null
);
create index comparisons_status on comparisons (status, claimed_until);
create index comparisons_message on comparisons (message_id);

create table completions (
    id text primary key,
    comparison_id text not null references comparisons (id) on delete cascade,
    position integer not null,
    text text not null,
    -- The original message, when this completion is it.
    message_id text references messages (id),
    model_version_id text references model_versions (id),
    -- Parameters (JSON, seed included) that reproduce a sampled completion.
    sampling text,
    finish_reason text not null,
    created_at text not null,
    unique (comparison_id, position)
);

create table comparison_slots (
    comparison_id text not null references comparisons (id) on delete cascade,
    slot integer not null,
    holder_id text references users (id),
    lease_expires_at text,
    done_by text references users (id),
    primary key (comparison_id, slot)
);
create index comparison_slots_open on comparison_slots (done_by, lease_expires_at);

-- A trainer who skipped a comparison is not offered it again.
create table comparison_skips (
    comparison_id text not null references comparisons (id) on delete cascade,
    user_id text not null references users (id),
    skipped_at text not null,
    primary key (comparison_id, user_id)
);

-- Every ranking submitted; a revision by its author adds a row and keeps the earlier ones.
create table rankings (
    -- Made by the client, so a retried submit stores one ranking.
    id text primary key,
    comparison_id text not null references comparisons (id) on delete cascade,
    slot integer not null,
    ranked_by text not null references users (id),
    revision integer not null,
    -- Groups of completion ids, best first, ties in one group (JSON); null when the trainer
    -- could not rank.
    ranking text,
    -- Why the trainer could not rank (none acceptable, cannot judge, …).
    cannot_rank text,
    -- The completion ids in the order this trainer was shown them (JSON).
    shown_order text not null,
    -- Labels per completion id (JSON object of lists).
    labels text not null,
    rationale text not null,
    created_at text not null,
    unique (comparison_id, ranked_by, revision)
);
create index rankings_by on rankings (ranked_by, created_at);

-- Comparison tasks: a model-written message chosen at random from a chat, K completions of
-- its context to rank, each ranked by `overlap` different trainers. Every ranking a
-- comparison still needs is a slot; a trainer holds a slot under a lease that expires.

create table comparison_batches (
    id text primary key,
    created_by text not null references users (id),
    -- The seed the messages were drawn with, so the draw can be repeated.
    seed text not null,
    k integer not null,
    overlap integer not null,
    created_at text not null
);

create table comparisons (
    id text primary key,
    batch_id text not null references comparison_batches (id) on delete cascade,
    conversation_id text not null references conversations (id),
    message_id text not null references messages (id),
    -- Whose conversation it was drawn from: they are not asked to rank it unless allowed.
    source_owner_id text not null references users (id),
    created_at text not null
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

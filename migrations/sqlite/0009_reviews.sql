-- Reviews of submitted demonstrations. Which submissions a reviewer sees is decided at
-- submit time (all of a new trainer's first ones, then a share), and queued here.

-- A submitted revision waiting for review; a reviewer holds it under a lease while reading.
create table review_queue (
    conversation_id text primary key references conversations (id) on delete cascade,
    revision integer not null,
    -- Why it was queued: "first 20", "sampled 10%", "resubmitted after rejection".
    reason text not null,
    queued_at text not null,
    held_by text references users (id),
    held_until text
);
create index review_queue_queued_at on review_queue (queued_at);

-- Every verdict, kept: accepted or rejected (with the reason), and whether the reviewer
-- edited the turns (their edit is then a revision submitted by the reviewer).
create table reviews (
    -- Made by the client, so a retried or double-clicked verdict is stored once.
    id text primary key,
    conversation_id text not null references conversations (id) on delete cascade,
    -- The revision the reviewer read.
    revision integer not null,
    reviewer_id text not null references users (id),
    verdict text not null check (verdict in ('accepted', 'rejected')),
    reason text not null,
    -- The reviewer's own revision when they edited the turns before accepting.
    edited_revision integer,
    created_at text not null
);
create index reviews_conversation on reviews (conversation_id, created_at);
create index reviews_reviewer on reviews (reviewer_id, created_at);

-- Feedback on model-written texts (one per person per text, editable), settings that admins
-- change at run time, and the content filter: policy versions, decisions, feedback.

create table feedback (
    -- What it is on: a model-written message, a suggestion shown while writing, or a
    -- completion in a comparison. Not a foreign key, as it points into three tables.
    target_kind text not null check (target_kind in ('message', 'suggestion', 'completion')),
    -- The message's or completion's id; for a suggestion its request id and index, "id:index".
    target_id text not null,
    user_id text not null references users (id),
    -- 1 thumbs up, -1 thumbs down, null neither.
    thumbs integer,
    -- The categories ticked (JSON list of names).
    categories text not null,
    text text not null,
    created_at text not null,
    updated_at text not null,
    primary key (target_kind, target_id, user_id)
);
create index feedback_updated on feedback (updated_at);

create table settings (
    key text primary key,
    value text not null,
    updated_at text not null
);

-- The content filter's policy: every version kept; the newest is in force. None stored:
-- the built-in default (version 0).
create table content_policies (
    version integer primary key,
    text text not null,
    created_by text references users (id),
    created_at text not null
);

-- Every decision of the filter on a message, with the policy version that made it.
create table filter_decisions (
    id text primary key,
    message_id text not null references messages (id) on delete cascade,
    policy_version integer not null,
    -- null (passed), warn or block.
    action text,
    -- Categories hit (JSON list) and the rules' matches (JSON).
    categories text not null,
    hits text not null,
    created_at text not null
);
create index filter_decisions_message on filter_decisions (message_id, created_at);

-- Feedback on the filter: a flag that was wrong, or a text that should have been flagged.
create table filter_feedback (
    message_id text not null references messages (id) on delete cascade,
    user_id text not null references users (id),
    kind text not null check (kind in ('false_positive', 'false_negative')),
    category text not null,
    note text not null,
    created_at text not null,
    primary key (message_id, user_id)
);

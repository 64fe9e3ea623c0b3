-- Feedback on model-written messages: one per person per message, editable; and settings
-- that admins change at run time (the feedback categories).

create table feedback (
    message_id text not null references messages (id) on delete cascade,
    user_id text not null references users (id),
    -- 1 thumbs up, -1 thumbs down, null neither.
    thumbs integer,
    -- The categories ticked (JSON list of names).
    categories text not null,
    text text not null,
    created_at text not null,
    updated_at text not null,
    primary key (message_id, user_id)
);
create index feedback_updated on feedback (updated_at);

create table settings (
    key text primary key,
    value text not null,
    updated_at text not null
);

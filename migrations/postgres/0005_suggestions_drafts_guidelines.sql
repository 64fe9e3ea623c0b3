-- Model suggestions shown to a trainer while writing a turn, the text being typed before it
-- is added (kept on the server, so it survives a reload or another machine), and the task
-- guidelines admins write.

create table suggestions (
    -- The request's id, made by the page: a retried request finds what it stored.
    id text not null,
    idx integer not null,
    conversation_id text not null references conversations (id) on delete cascade,
    -- The turn the suggestion would answer (none: the first turn). Not a foreign key: the
    -- turn may later be deleted, and what was shown stays on record.
    parent_id text,
    role text not null check (role in ('user', 'assistant')),
    text text not null,
    model_version_id text not null references model_versions (id),
    -- The parameters, seed included, that reproduce the text (JSON).
    sampling text not null,
    -- 'stop', 'length', or 'cancelled' when the trainer stopped it.
    finish_reason text not null,
    requested_by text not null references users (id),
    created_at text not null,
    -- The turn that was started from this suggestion, once taken.
    taken_message_id text,
    primary key (id, idx)
);
create index suggestions_conversation on suggestions (conversation_id, parent_id);

alter table conversations add column composer text;

create table guidelines (
    area text primary key,
    markdown text not null,
    updated_by text references users (id),
    updated_at text not null
);

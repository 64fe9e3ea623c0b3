-- Conversations are trees of messages: a demonstration a trainer writes (both sides), or a
-- chat with the model. Branches are siblings under one parent; `position` orders them.

create table conversations (
    -- Made by the client, so a retried create stores one conversation.
    id text primary key,
    kind text not null check (kind in ('demonstration', 'chat')),
    owner_id text not null references users (id),
    system_prompt text,
    status text not null check (status in ('draft', 'submitted', 'accepted', 'rejected')),
    -- Sampling parameters for model turns (JSON), chosen per conversation.
    sampling text,
    -- Bumped by each submit; conversation_revisions keeps every submitted version.
    revision integer not null,
    created_at text not null,
    updated_at text not null
);
create index conversations_owner on conversations (owner_id, updated_at);

create table messages (
    id text primary key,
    conversation_id text not null references conversations (id) on delete cascade,
    parent_id text references messages (id),
    position integer not null,
    role text not null check (role in ('system', 'user', 'assistant')),
    text text not null,
    -- Exactly one author: a person, or a model version with the parameters and seed it used.
    author_user_id text references users (id),
    author_model_version_id text references model_versions (id),
    sampling text,
    -- A demonstration turn that started from a model suggestion: the suggestion taken and
    -- how far the final text moved from it.
    suggestion_text text,
    suggestion_model_version_id text references model_versions (id),
    edit_distance integer,
    edit_ratio real,
    created_at text not null,
    updated_at text not null,
    check ((author_user_id is null) <> (author_model_version_id is null))
);
create index messages_conversation on messages (conversation_id, parent_id, position);

create table conversation_revisions (
    conversation_id text not null references conversations (id) on delete cascade,
    revision integer not null,
    -- The whole conversation as submitted (JSON).
    snapshot text not null,
    submitted_by text not null references users (id),
    submitted_at text not null,
    primary key (conversation_id, revision)
);

-- Datasets: imported instruction data and where each conversation came from, prompts that
-- chat and comparison tasks start from, and the context each comparison was sampled from.

-- One import of a file (its id made by the client, so a retried upload imports once).
create table imports (
    id text primary key,
    source text not null,
    format text not null,
    file_name text not null,
    conversations integer not null,
    prompts integer not null,
    duplicates integer not null,
    created_by text references users (id),
    created_at text not null
);

-- Where a conversation came from: null when made in Parley, else the source named at import
-- ("hh-rlhf", a file name) and the import.
alter table conversations add column source text;
alter table conversations add column import_id text references imports (id);
-- SHA-256 of an imported conversation's turns, so the same text is imported once.
alter table conversations add column content_hash text;
create unique index conversations_content_hash on conversations (content_hash);

-- A prompt without an answer: chats and comparisons can start from it.
create table prompts (
    id text primary key,
    text text not null,
    source text not null,
    import_id text references imports (id),
    content_hash text not null unique,
    created_at text not null
);

-- The messages the completions continue (JSON, system prompt included), kept as sampled.
alter table comparisons add column context text;

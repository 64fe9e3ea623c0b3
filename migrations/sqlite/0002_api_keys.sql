-- Keys for the OpenAI-compatible API (/v1). Only a SHA-256 of each key is stored; the key
-- itself is shown once, when it is made.

create table api_keys (
    id text primary key,
    name text not null,
    key_hash text not null unique,
    -- The admin who made it; null when made with `parley key add`.
    created_by text references users (id) on delete set null,
    created_at text not null,
    revoked_at text
);

-- Every model version a Parley server has served, so that each model-written text can name
-- the exact weights that wrote it; and the one admins chose as active.

create table model_versions (
    id text primary key,
    name text not null,
    -- The GGUF file, or a remote engine's URL.
    source text not null,
    -- SHA-256 of the GGUF file; null for a remote engine.
    sha256 text,
    -- What makes two registrations the same version: the file hash, or the engine and name.
    fingerprint text not null unique,
    registered_at text not null
);

create table active_model (
    id integer primary key check (id = 1),
    model_version_id text not null references model_versions (id),
    set_at text not null
);

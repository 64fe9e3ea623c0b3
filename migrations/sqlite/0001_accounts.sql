-- Accounts, server-side sessions and sign-in failures (for rate limiting).
-- Uuids and times are TEXT (times in one fixed-width UTC format, so text order is time order).

create table users (
    id text primary key,
    email text not null unique,
    password_hash text not null,
    role text not null check (role in ('trainer', 'reviewer', 'admin')),
    created_at text not null
);

create table sessions (
    -- SHA-256 of the cookie's token; the token itself is never stored.
    token_hash text primary key,
    user_id text not null references users (id) on delete cascade,
    created_at text not null,
    expires_at text not null
);
create index sessions_user_id on sessions (user_id);
create index sessions_expires_at on sessions (expires_at);

create table login_failures (
    -- "email:<address>" or "address:<client ip>"
    key text not null,
    at text not null
);
create index login_failures_key_at on login_failures (key, at);

-- One row once the first admin exists; its primary key serialises first-run set-up.
create table instance (
    id integer primary key check (id = 1),
    set_up_at text not null
);

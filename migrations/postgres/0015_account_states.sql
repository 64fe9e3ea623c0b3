-- An account an admin deactivated: it cannot sign in, and its sessions ended when it was.
alter table users add column deactivated_at text;
-- 1 when an admin (or `parley user password`) set a one-time password: the account must
-- choose its own before it can do anything else.
alter table users add column must_change_password integer not null default 0;

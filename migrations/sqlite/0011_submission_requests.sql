-- A submission carries the id its client made, so a retried or double-clicked submit keeps
-- one revision: the second finds the first by this id.
alter table conversation_revisions add column request_id text;
create unique index conversation_revisions_request on conversation_revisions (request_id);

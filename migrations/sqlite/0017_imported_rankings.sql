-- Preference data imported as rankings (HH-RLHF, TRL preference, K-wise): each row becomes a
-- comparison of its replies with the ranking its source gave, in one batch per import.

-- What an import made of its preference rows.
alter table imports add column comparisons integer not null default 0;
alter table imports add column rankings integer not null default 0;
-- The import a batch of imported comparisons came from (null for batches drawn in Parley).
alter table comparison_batches add column import_id text references imports (id);
-- An account standing for who ranked imported rows: the import's source ("hh-rlhf", or
-- "source/trainer" where a K-wise row names its trainer). It cannot sign in, is not listed
-- among the people, and its rankings export and count like a trainer's.
alter table users add column source text;

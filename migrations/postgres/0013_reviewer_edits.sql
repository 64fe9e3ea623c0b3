-- The reviewer whose edit the message's text is (accepted with edits); cleared when its
-- author edits it again. Exports credit the text to them.
alter table messages add column edited_by_reviewer_id text references users (id);

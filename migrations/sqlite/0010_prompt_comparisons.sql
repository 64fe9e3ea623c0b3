-- Comparisons drawn from imported prompts: the batch records what it drew from ('chat':
-- model-written chat replies; 'prompts': imported prompts without a reply, all K sampled),
-- and the chat made to hold a drawn prompt names it, so no prompt is drawn twice.
alter table comparison_batches add column draw text not null default 'chat';
alter table conversations add column prompt_id text references prompts (id);
create index conversations_prompt on conversations (prompt_id);

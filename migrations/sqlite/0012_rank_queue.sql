-- The rank queue, found by index at any size. A comparison gets its place in the queue
-- (`queue_key`, rising) when it becomes ready to rank, and counts its slots that nobody holds
-- or has done (`free_slots`). A lease takes the first comparison at or after the trainer's
-- cursor whose free slots index lists; an expired lease (or a skipped one) is taken over
-- through the index of held slots. Neither scans the queue or the rankings.
alter table comparisons add column queue_key integer;
alter table comparisons add column free_slots integer not null default 0;

update comparisons set free_slots = (select count(*) from comparison_slots s
    where s.comparison_id = comparisons.id and s.holder_id is null and s.done_by is null);
update comparisons set queue_key = (select count(*) from comparisons o where o.status = 'ready'
    and (o.created_at < comparisons.created_at
         or (o.created_at = comparisons.created_at and o.position <= comparisons.position)))
    where status = 'ready';

create index comparisons_queue on comparisons (queue_key);
create index comparisons_free on comparisons (queue_key) where free_slots > 0;
create index comparison_slots_held on comparison_slots (lease_expires_at)
    where holder_id is not null and done_by is null;
create index comparison_slots_holder on comparison_slots (holder_id, lease_expires_at);
create index comparison_slots_done on comparison_slots (done_by, comparison_id);

-- Where each trainer's walk through the queue starts: every comparison before it was one they
-- had seen, or one with no free slot when they passed it.
create table rank_cursors (
    user_id text primary key references users (id) on delete cascade,
    queue_key integer not null
);

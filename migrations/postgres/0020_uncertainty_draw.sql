-- A batch may be drawn by a reward model's uncertainty instead of at random: it samples the
-- completions of a larger random draw (the pool), the reward model scores them, and only the
-- comparisons it is least sure of join the rank queue (random stays the default).
-- The reward-model run that scored the pool (null: the batch was drawn at random).
alter table comparison_batches add column reward_run_id text references reward_runs (id);
-- How many of the pool join the rank queue (null: all of them).
alter table comparison_batches add column keep integer;
-- How unsure the reward model is of a comparison's order, from 0 (sure of every pair) to 1
-- (no pair told apart): the mean over its pairs of 1 - |2p - 1|, p the preference it predicts.
-- A sampled comparison of such a batch waits as 'scored' until the whole pool is sampled; then
-- the `keep` least sure become 'ready' and the others 'passed' (kept, never queued).
alter table comparisons add column uncertainty double precision;

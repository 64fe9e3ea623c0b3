-- A trainer's unsubmitted board for a comparison (places, labels, rationale as JSON), kept
-- as they work so a reload or another machine finds it; deleted when they submit.
create table rank_drafts (
    comparison_id text not null references comparisons (id) on delete cascade,
    user_id text not null references users (id),
    draft text not null,
    updated_at text not null,
    primary key (comparison_id, user_id)
);

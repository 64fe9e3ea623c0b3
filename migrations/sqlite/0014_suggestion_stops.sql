-- A suggestion the trainer stopped while the others of its request went on. The server
-- instance streaming the request reads these as it runs (any instance may take the stop).
create table suggestion_stops (
    request_id text not null,
    idx integer not null,
    conversation_id text not null references conversations (id) on delete cascade,
    stopped_by text not null references users (id),
    created_at text not null,
    primary key (request_id, idx)
);

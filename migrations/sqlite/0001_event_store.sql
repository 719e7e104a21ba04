-- The event log. cqrs-es (sqlite-es) names the first seven columns in its statements; the rest
-- are ours. The primary key must stay (aggregate_type, aggregate_id, sequence): sqlite-es
-- recognises an optimistic-concurrency conflict by SQLite's primary-key error code (1555).
--
-- SQLite has one writer at a time, so numbering at insert time is commit order. `position` is an
-- explicit column filled by the trigger below rather than the rowid, because VACUUM may renumber
-- the rowids of a table without an INTEGER PRIMARY KEY.
CREATE TABLE events
(
    aggregate_type text                          NOT NULL,
    aggregate_id   text                          NOT NULL,
    sequence       integer CHECK (sequence >= 0) NOT NULL,
    event_type     text                          NOT NULL,
    event_version  text                          NOT NULL,
    payload        text                          NOT NULL,
    metadata       text                          NOT NULL,
    position       integer,
    recorded_at    text                          NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
) STRICT;

CREATE UNIQUE INDEX events_position ON events (position);

CREATE TRIGGER events_assign_position AFTER INSERT ON events
BEGIN
    UPDATE events
       SET position = (SELECT coalesce(max(position), 0) + 1 FROM events)
     WHERE rowid = NEW.rowid;
END;

CREATE TABLE projection_checkpoints
(
    name           text PRIMARY KEY,
    transaction_id integer NOT NULL DEFAULT 0,
    position       integer NOT NULL DEFAULT 0,
    events_applied integer NOT NULL DEFAULT 0,
    updated_at     text    NOT NULL,
    last_error     text
) STRICT;

CREATE TABLE idempotency_keys
(
    principal       text    NOT NULL,
    idempotency_key text    NOT NULL,
    request_hash    text    NOT NULL,
    status_code     integer,
    response_body   text,
    created_at      text    NOT NULL,
    PRIMARY KEY (principal, idempotency_key)
) STRICT;

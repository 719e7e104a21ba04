-- The event log. cqrs-es (postgres-es) names the first seven columns in its statements; the
-- rest are ours and filled by defaults, so the library never needs to know about them.
--
-- `position` is unique but is NOT commit order: a transaction can take a lower number and commit
-- after a higher one. The feed is therefore ordered by (transaction_id, position) and reads only
-- rows whose transaction_id is below pg_snapshot_xmin(pg_current_snapshot()): every transaction
-- below that horizon has finished, so no row can later appear behind a reader's checkpoint.
CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        jsonb                        NOT NULL,
    metadata       jsonb                        NOT NULL,
    position       bigserial                    NOT NULL UNIQUE,
    transaction_id xid8                         NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at    timestamptz                  NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE INDEX events_feed_order ON events (transaction_id, position);

-- One row per projection: how far in the feed its view rows are. Written in the same
-- transaction as the view rows it describes.
CREATE TABLE projection_checkpoints
(
    name           text PRIMARY KEY,
    transaction_id bigint NOT NULL DEFAULT 0,
    position       bigint NOT NULL DEFAULT 0,
    events_applied bigint NOT NULL DEFAULT 0,
    updated_at     text   NOT NULL,
    last_error     text
);

-- Answers already given to a client's Idempotency-Key, per authenticated user.
CREATE TABLE idempotency_keys
(
    principal       text    NOT NULL,
    idempotency_key text    NOT NULL,
    request_hash    text    NOT NULL,
    status_code     integer,
    response_body   text,
    created_at      text    NOT NULL,
    PRIMARY KEY (principal, idempotency_key)
);

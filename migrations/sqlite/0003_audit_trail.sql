-- Tamper-evident audit trail (format v1, see crates/caseledger-store/src/audit/hash.rs).
-- event_hash: SHA-256 over the stream's previous event hash and this event's fields, written in
-- the same transaction as the event. Rows from before this migration are hashed by `migrate`.
ALTER TABLE events ADD COLUMN event_hash text;

-- The global chain over the feed, one row per event (projection `audit_chain`). It locates the
-- first divergence; the digests below are what outsiders pin.
CREATE TABLE audit_chain
(
    position       integer PRIMARY KEY,
    transaction_id integer NOT NULL,
    event_count    integer NOT NULL,
    chain_hash     text   NOT NULL
) STRICT;

CREATE TABLE audit_chain_head
(
    id                   integer PRIMARY KEY CHECK (id = 1),
    event_count          integer NOT NULL,
    position             integer NOT NULL,
    transaction_id       integer NOT NULL,
    chain_hash           text   NOT NULL,
    last_digest_seq      integer NOT NULL,
    last_digest_hash     text   NOT NULL,
    last_digest_count    integer NOT NULL,
    last_sealed_at       text   NOT NULL
) STRICT;

-- Published digests: each seals the chain at one event and links to the previous digest.
CREATE TABLE audit_digests
(
    digest_seq           integer PRIMARY KEY,
    previous_digest_hash text   NOT NULL,
    up_to_position       integer NOT NULL,
    up_to_transaction_id integer NOT NULL,
    event_count          integer NOT NULL,
    chain_hash           text   NOT NULL,
    sealed_at            text   NOT NULL,
    digest_hash          text   NOT NULL
) STRICT;

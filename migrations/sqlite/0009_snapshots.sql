-- Our own aggregate snapshots (see crates/caseledger-store/src/snapshots.rs): a cache of an
-- aggregate's state after event `version`, used only while that event still has `event_hash`
-- and only by the build format that wrote it. Deleting every row is always safe.
CREATE TABLE aggregate_snapshots
(
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    version        integer NOT NULL,
    format         text   NOT NULL,
    event_hash     text   NOT NULL,
    state          text   NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
) STRICT;

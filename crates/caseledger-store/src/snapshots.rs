//! Loading aggregates for commands, with our own snapshots.
//!
//! cqrs-es 0.5.0's snapshot and aggregate stores apply events twice and save wrong state, so
//! caseledger never uses them. Long streams still must not cost a full replay per command, so
//! this module keeps its own cache in `aggregate_snapshots`: the aggregate's state after event
//! `version`, with that event's hash.
//!
//! A snapshot is only a cache; the log stays the truth:
//! - it is used only if the event it claims to follow still has the recorded hash (so a snapshot
//!   can never outlive a changed or deleted event without being ignored), and only if it was
//!   written by this build's snapshot format ([`SNAPSHOT_FORMAT`]: the release version and a state
//!   revision, because a change may alter what `evolve` derives);
//! - anything unreadable is ignored and the stream is replayed from its first event;
//! - it is written after the command's commit, outside its transaction; losing that write costs
//!   only speed.
//!
//! The same load also returns the hash of the stream's last event, so the write path chains the
//! new events without reading it again.

use cqrs_es::Aggregate;
use serde::de::DeserializeOwned;

use crate::db::{Database, StoreError};

/// A snapshot is written when a command leaves the stream this many events past the last one.
pub const SNAPSHOT_EVERY: u64 = 100;

/// Snapshots written by another format are ignored (and replaced by the next command).
///
/// The release version alone is not enough: the workspace version does not change between
/// deployments of main, while an aggregate's state may gain a field (`case_number` in a case, the
/// committee roster in a nomination's terms). A snapshot written before such a change would read
/// with the field defaulted and decide commands on a wrong state. So the format ends with a state
/// revision, bumped in the same change as any field of an aggregate's state.
/// `state.2`: the case's `case_number`, the reward committee roster, a consultation's return to
/// `panel_drawn` during collection (issue 13).
pub const SNAPSHOT_FORMAT: &str = concat!("caseledger-", env!("CARGO_PKG_VERSION"), "-state.2");

/// An aggregate as loaded for a command.
pub(crate) struct Loaded<A> {
    /// Its state after `version`.
    pub aggregate: A,
    /// The sequence of its last event (0: none).
    pub version: u64,
    /// The hash of that event (`None` for an empty stream).
    pub last_hash: Option<String>,
    /// The version of the snapshot the load started from (0: none).
    pub snapshot_version: u64,
}

struct Snapshot {
    version: i64,
    state: String,
    event_hash: String,
}

impl Database {
    /// The state of `aggregate_id` as the next command would see it, with its version.
    pub async fn aggregate_state<A>(&self, aggregate_id: &str) -> Result<(A, u64), StoreError>
    where
        A: Aggregate,
    {
        let loaded = self.load_for_command::<A>(aggregate_id).await?;
        Ok((loaded.aggregate, loaded.version))
    }

    /// Loads `aggregate_id` of type `A` from its snapshot (if valid) and the events after it,
    /// in one query; a snapshot that does not fit the log costs a second, full replay.
    pub(crate) async fn load_for_command<A>(
        &self,
        aggregate_id: &str,
    ) -> Result<Loaded<A>, StoreError>
    where
        A: Aggregate,
        A::Event: DeserializeOwned,
    {
        // Row kind 0 is the snapshot (sequence = its version, payload = its state), kind 1 the
        // events from the snapshot's version on (the first of them must carry its hash).
        const SQL: &str = "WITH s AS (SELECT version, state, event_hash FROM aggregate_snapshots \
                      WHERE aggregate_type = $1 AND aggregate_id = $2 AND format = $3) \
             SELECT 0 AS kind, version AS sequence, state AS payload, event_hash FROM s \
             UNION ALL \
             SELECT 1, e.sequence, CAST(e.payload AS text), e.event_hash FROM events e \
              WHERE e.aggregate_type = $1 AND e.aggregate_id = $2 \
                AND e.sequence >= COALESCE((SELECT version FROM s), 0) \
             ORDER BY kind, sequence";
        let rows: Vec<(i32, i64, String, Option<String>)> =
            with_pool!(self, |pool| sqlx::query_as(SQL)
                .bind(A::TYPE)
                .bind(aggregate_id)
                .bind(SNAPSHOT_FORMAT)
                .fetch_all(pool)
                .await)?;
        let mut rows = rows.into_iter().peekable();
        let snapshot = match rows.peek() {
            Some((0, version, state, Some(event_hash))) => {
                let snapshot = Snapshot {
                    version: *version,
                    state: state.clone(),
                    event_hash: event_hash.clone(),
                };
                rows.next();
                Some(snapshot)
            }
            _ => None,
        };
        let events = rows
            .filter(|(kind, ..)| *kind == 1)
            .map(|(_, sequence, payload, hash)| (sequence, payload, hash));
        if let Some(loaded) = replay::<A, _>(aggregate_id, snapshot.as_ref(), events)? {
            return Ok(loaded);
        }
        tracing::warn!(
            aggregate_type = A::TYPE,
            aggregate_id,
            "ignoring a snapshot that does not match the log"
        );
        let rows: Vec<(i64, String, Option<String>)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT sequence, CAST(payload AS text), event_hash FROM events \
              WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence"
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_all(pool)
        .await)?;
        replay::<A, _>(aggregate_id, None, rows.into_iter())?
            .ok_or_else(|| StoreError::Invariant("a replay from the first event failed".into()))
    }

    /// Stores `state` as the snapshot of `aggregate_id` after event `version` (whose hash is
    /// `event_hash`), unless a newer one is stored already.
    pub(crate) async fn save_snapshot(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        version: u64,
        event_hash: &str,
        state: &str,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO aggregate_snapshots (aggregate_type, aggregate_id, version, format, event_hash, state) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET version = excluded.version, \
                 format = excluded.format, event_hash = excluded.event_hash, state = excluded.state \
             WHERE aggregate_snapshots.version < excluded.version OR aggregate_snapshots.format <> excluded.format";
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        with_write_pool!(self, |pool| sqlx::query(SQL)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .bind(version)
            .bind(SNAPSHOT_FORMAT)
            .bind(event_hash)
            .bind(state)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Deletes every snapshot (they are rebuilt by the next commands); returns how many.
    pub async fn clear_snapshots(&self) -> Result<u64, StoreError> {
        let deleted =
            with_write_pool!(self, |pool| sqlx::query("DELETE FROM aggregate_snapshots")
                .execute(pool)
                .await
                .map(|done| done.rows_affected()))?;
        Ok(deleted)
    }
}

/// Applies `events` (sequence, payload, hash) to the snapshot's state, or to a fresh aggregate.
/// `Ok(None)`: the snapshot does not fit the log (its event is gone or has another hash, or its
/// state does not read) and must be ignored.
fn replay<A, I>(
    aggregate_id: &str,
    snapshot: Option<&Snapshot>,
    events: I,
) -> Result<Option<Loaded<A>>, StoreError>
where
    A: Aggregate,
    A::Event: DeserializeOwned,
    I: Iterator<Item = (i64, String, Option<String>)>,
{
    let mut events = events.peekable();
    let from = snapshot.map_or(0, |snapshot| snapshot.version);
    let mut aggregate = match snapshot {
        None => A::default(),
        Some(snapshot) => {
            // The event the snapshot follows must still be there, with the same hash.
            match events.next() {
                Some((sequence, _, Some(hash)))
                    if sequence == snapshot.version && hash == snapshot.event_hash => {}
                _ => return Ok(None),
            }
            match serde_json::from_str::<A>(&snapshot.state) {
                Ok(aggregate) => aggregate,
                Err(_) => return Ok(None),
            }
        }
    };
    let mut version = u64::try_from(from).unwrap_or(0);
    let mut last_hash = snapshot.map(|snapshot| snapshot.event_hash.clone());
    for (sequence, payload, hash) in events {
        let event: A::Event = serde_json::from_str(&payload).map_err(|error| {
            StoreError::Invariant(format!(
                "{} {aggregate_id} event {sequence} does not read: {error}",
                A::TYPE
            ))
        })?;
        aggregate.apply(event);
        version = u64::try_from(sequence).unwrap_or(0);
        last_hash = hash;
    }
    Ok(Some(Loaded {
        aggregate,
        version,
        last_hash,
        snapshot_version: u64::try_from(from).unwrap_or(0),
    }))
}

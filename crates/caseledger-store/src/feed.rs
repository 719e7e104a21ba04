//! The feed: every event of every stream in one global order that never skips an event.
//!
//! SQLite: one writer at a time, and the insert trigger numbers rows under that writer's lock,
//! so `position` order is commit order.
//!
//! PostgreSQL: `position` (a bigserial) is taken at insert time, so a transaction may commit a
//! lower position after a reader has already passed a higher one. Each row also records the id of
//! the transaction that wrote it (`transaction_id`, `pg_current_xact_id()`), and the feed reads
//! only rows below `pg_snapshot_xmin(pg_current_snapshot())`, the oldest transaction still
//! running. Every transaction below that horizon has committed or aborted, so no row can ever
//! appear there later. The order is `(transaction_id, position)`: within one transaction by
//! position, across transactions by id. A long-open transaction anywhere in the cluster holds the
//! horizon back and delays (never corrupts) the feed.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Database, PgStore, SqliteStore, StoreError, Tx};

/// A place in the feed: the last event a reader has seen. `transaction_id` is always 0 on SQLite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FeedPosition {
    /// The writing transaction's id (PostgreSQL `xid8` as a number); 0 on SQLite.
    pub transaction_id: i64,
    /// The event's position.
    pub position: i64,
}

/// One event as the feed delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    /// Where it stands in the feed.
    pub at: FeedPosition,
    /// The aggregate (stream) type, e.g. `EnterpriseCase`.
    pub aggregate_type: String,
    /// The aggregate id.
    pub aggregate_id: String,
    /// The event's sequence within its aggregate, from 1.
    pub sequence: i64,
    /// The event type, e.g. `CaseDispatched`.
    pub event_type: String,
    /// The event type's version.
    pub event_version: String,
    /// The payload as JSON text.
    pub payload: String,
    /// The metadata as JSON text.
    pub metadata: String,
    /// When the store recorded it (RFC 3339, UTC).
    pub recorded_at: String,
    /// The event's hash in its stream's chain (see [`crate::audit::hash`]).
    pub event_hash: Option<String>,
}

const SQLITE_COLUMNS: &str =
    "0 AS transaction_id, position, aggregate_type, aggregate_id, sequence, \
     event_type, event_version, payload, metadata, recorded_at, event_hash";
const POSTGRES_COLUMNS: &str = "transaction_id::text::bigint AS transaction_id, position, aggregate_type, \
     aggregate_id, sequence, event_type, event_version, payload::text AS payload, metadata::text AS metadata, \
     to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS recorded_at, event_hash";

/// Decodes one events row selected with the feed's columns.
pub(crate) fn decode_event<R: Row>(row: &R) -> Result<FeedEvent, sqlx::Error>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    Ok(FeedEvent {
        at: FeedPosition {
            transaction_id: row.try_get("transaction_id")?,
            position: row.try_get("position")?,
        },
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
        recorded_at: row.try_get("recorded_at")?,
        event_hash: row.try_get("event_hash")?,
    })
}

/// The select list of the feed's columns for a backend, for queries elsewhere in this crate.
pub(crate) fn columns(db: &Database) -> &'static str {
    match db {
        Database::Postgres(_) => POSTGRES_COLUMNS,
        Database::Sqlite(_) => SQLITE_COLUMNS,
    }
}

impl FeedPosition {
    /// Before every row, including rows an intruder might place at position 0 or below: where
    /// audit verification and exports start.
    pub const BEFORE_ALL: FeedPosition = FeedPosition {
        transaction_id: 0,
        position: i64::MIN,
    };
}

impl Database {
    /// Up to `limit` events after `after`, in feed order.
    ///
    /// The PostgreSQL query names `events.transaction_id` explicitly: the select list has an
    /// output column of the same name (converted to bigint), and an unqualified ORDER BY would
    /// sort by that expression, which no index serves; every batch would then sort all the rows
    /// after it.
    pub async fn read_feed(
        &self,
        after: FeedPosition,
        limit: i64,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let events = match self {
            Database::Postgres(PgStore { read: pool, .. }) => {
                let sql = format!(
                    "SELECT {POSTGRES_COLUMNS} FROM events \
                     WHERE (events.transaction_id, events.position) > ($1::text::xid8, $2) \
                       AND events.transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
                     ORDER BY events.transaction_id, events.position LIMIT $3"
                );
                let rows = sqlx::query(&sql)
                    .bind(after.transaction_id.to_string())
                    .bind(after.position)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?;
                rows.iter()
                    .map(decode_event)
                    .collect::<Result<Vec<_>, _>>()?
            }
            Database::Sqlite(SqliteStore { read: pool, .. }) => {
                let sql = format!("SELECT {SQLITE_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2");
                let rows = sqlx::query(&sql)
                    .bind(after.position)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?;
                rows.iter()
                    .map(decode_event)
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok(events)
    }

    /// The feed place of the event at `position` (its writing transaction and position), so a
    /// reader that names only the position it last saw resumes exactly after it. `None` when no
    /// event has that position. Position 0 is before every event.
    pub async fn feed_position_at(
        &self,
        position: i64,
    ) -> Result<Option<FeedPosition>, StoreError> {
        if position == 0 {
            return Ok(Some(FeedPosition::default()));
        }
        let transaction_id: Option<i64> = match self {
            Database::Postgres(PgStore { read: pool, .. }) => {
                sqlx::query_scalar(
                    "SELECT transaction_id::text::bigint FROM events WHERE position = $1",
                )
                .bind(position)
                .fetch_optional(pool)
                .await?
            }
            Database::Sqlite(SqliteStore { read: pool, .. }) => {
                sqlx::query_scalar("SELECT 0 FROM events WHERE position = $1")
                    .bind(position)
                    .fetch_optional(pool)
                    .await?
            }
        };
        Ok(transaction_id.map(|transaction_id| FeedPosition {
            transaction_id,
            position,
        }))
    }

    /// How many events of the feed lie after `after`, counting events not yet below the
    /// PostgreSQL horizon, and when the oldest of them was recorded.
    pub async fn feed_backlog(
        &self,
        after: FeedPosition,
    ) -> Result<(i64, Option<String>), StoreError> {
        let (n, oldest): (i64, Option<String>) = match self {
            Database::Postgres(PgStore { read: pool, .. }) => {
                sqlx::query_as(
                    "SELECT count(*), to_char(min(recorded_at) AT TIME ZONE 'UTC', \
                     'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM events \
                     WHERE (transaction_id, position) > ($1::text::xid8, $2)",
                )
                .bind(after.transaction_id.to_string())
                .bind(after.position)
                .fetch_one(pool)
                .await?
            }
            Database::Sqlite(SqliteStore { read: pool, .. }) => {
                sqlx::query_as("SELECT count(*), min(recorded_at) FROM events WHERE position > $1")
                    .bind(after.position)
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok((n, oldest))
    }

    /// Whether the event at `position` lies at or before `checkpoint` in feed order. `None` when
    /// no event has that position.
    pub async fn is_at_or_before(
        &self,
        position: i64,
        checkpoint: FeedPosition,
    ) -> Result<Option<bool>, StoreError> {
        match self {
            Database::Postgres(PgStore { read: pool, .. }) => {
                let found: Option<bool> = sqlx::query_scalar(
                    "SELECT (transaction_id, position) <= ($2::text::xid8, $3) FROM events WHERE position = $1",
                )
                .bind(position)
                .bind(checkpoint.transaction_id.to_string())
                .bind(checkpoint.position)
                .fetch_optional(pool)
                .await?;
                Ok(found)
            }
            Database::Sqlite(SqliteStore { read: pool, .. }) => {
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT position FROM events WHERE position = $1")
                        .bind(position)
                        .fetch_optional(pool)
                        .await?;
                Ok(exists.map(|_| position <= checkpoint.position))
            }
        }
    }
}

/// A point in the writers' history: every transaction that had committed when it was taken lies
/// below it. On PostgreSQL it is the `xmax` of a snapshot; on SQLite reads always see every
/// committed write, so it is trivially passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedBarrier(i64);

impl Database {
    /// Takes a barrier now. See [`Database::feed_passed`].
    pub async fn feed_barrier(&self) -> Result<FeedBarrier, StoreError> {
        match self {
            Database::Postgres(PgStore { read: pool, .. }) => {
                let xmax: i64 = sqlx::query_scalar(
                    "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
                )
                .fetch_one(pool)
                .await?;
                Ok(FeedBarrier(xmax))
            }
            Database::Sqlite(_) => Ok(FeedBarrier(0)),
        }
    }

    /// Whether the feed's horizon has passed `barrier`: every event committed before the barrier
    /// was taken is now readable from the feed.
    pub async fn feed_passed(&self, barrier: FeedBarrier) -> Result<bool, StoreError> {
        match self {
            Database::Postgres(PgStore { read: pool, .. }) => {
                let passed: bool = sqlx::query_scalar(
                    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint >= $1",
                )
                .bind(barrier.0)
                .fetch_one(pool)
                .await?;
                Ok(passed)
            }
            Database::Sqlite(_) => Ok(true),
        }
    }
}

impl Tx {
    /// [`Tx::try_lock_projection`] for several projections in one statement (the same lock
    /// keys); `false` when another process holds any of them (the caller rolls back, which
    /// releases those it got).
    pub(crate) async fn try_lock_projections(
        &mut self,
        names: &[&str],
    ) -> Result<bool, StoreError> {
        match self {
            Tx::Postgres(tx) => {
                let locked: Option<bool> = sqlx::query_scalar(
                    "SELECT bool_and(pg_try_advisory_xact_lock(hashtext('caseledger-projection:' || name))) \
                       FROM unnest($1::text[]) AS name",
                )
                .bind(names)
                .fetch_one(&mut **tx)
                .await?;
                Ok(locked.unwrap_or(true))
            }
            Tx::Sqlite(_) => Ok(true),
        }
    }

    /// Locks out other projector processes for this transaction on PostgreSQL; `false` when
    /// another process holds the lock for `name`. Always `true` on SQLite, whose single writer
    /// already serialises projector transactions.
    pub(crate) async fn try_lock_projection(
        &mut self,
        name: &str,
        wait: bool,
    ) -> Result<bool, StoreError> {
        match self {
            Tx::Postgres(tx) => {
                let key = format!("caseledger-projection:{name}");
                if wait {
                    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                        .bind(key)
                        .execute(&mut **tx)
                        .await?;
                    Ok(true)
                } else {
                    let locked: bool =
                        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext($1))")
                            .bind(key)
                            .fetch_one(&mut **tx)
                            .await?;
                    Ok(locked)
                }
            }
            Tx::Sqlite(_) => Ok(true),
        }
    }
}

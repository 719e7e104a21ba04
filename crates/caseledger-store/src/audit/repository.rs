//! The write path of the audit trail: a `PersistedEventRepository` that wraps the postgres-es or
//! sqlite-es repository. Reads go to the wrapped repository unchanged; `persist` writes the
//! events itself so that each row carries its event hash from the moment it exists.

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use serde_json::Value;

use std::sync::{Arc, Mutex};

use crate::audit::hash::{event_hash, EventFields, GENESIS};
use crate::commands::Committed;
use crate::conditions::{AppendTerms, KeyAnswer, RECORD_ANSWER};
use crate::db::{Database, PgStore, StoreError};

/// A repository whose `persist` chains each event to its stream's previous event.
pub struct ChainedRepository<R> {
    inner: R,
    db: Database,
    /// The stream's last event as the command loaded it: (sequence, hash).
    previous: Option<(u64, String)>,
    /// Where `persist` reports what it wrote.
    written: Option<Arc<Mutex<Option<Written>>>>,
    /// What the write transaction does besides appending.
    terms: AppendTerms,
}

/// What one `persist` wrote: the feed position and the hash of its last event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The feed position of the last event written.
    pub position: i64,
    /// That event's hash.
    pub last_hash: String,
}

impl<R> ChainedRepository<R> {
    /// Wraps `inner` (reads) and writes through `db`.
    pub fn new(inner: R, db: Database) -> Self {
        Self {
            inner,
            db,
            previous: None,
            written: None,
            terms: AppendTerms::default(),
        }
    }

    /// Carries out `terms` (conditions, the idempotency key's answer) in the transaction that
    /// appends the events.
    pub fn with_terms(mut self, terms: AppendTerms) -> Self {
        self.terms = terms;
        self
    }

    /// The stream's last event is `sequence` with `hash` (as loaded): chaining the next event
    /// needs no read.
    pub fn after(mut self, sequence: u64, hash: Option<String>) -> Self {
        self.previous = hash.map(|hash| (sequence, hash));
        self
    }

    /// Reports each write's position and last hash into `cell`.
    pub fn reporting(mut self, cell: Arc<Mutex<Option<Written>>>) -> Self {
        self.written = Some(cell);
        self
    }
}

fn to_persistence(error: StoreError) -> PersistenceError {
    match error {
        StoreError::Sql(sqlx::Error::Database(database_error))
            if matches!(
                database_error.code().as_deref(),
                Some("23505" | "1555" | "2067")
            ) =>
        {
            PersistenceError::OptimisticLockError
        }
        // The `StoreError` itself travels in the box, so that `ExecuteError` can classify it
        // again (`StoreError::from_boxed`).
        error if error.is_unavailable() => PersistenceError::ConnectionError(Box::new(error)),
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}

impl Database {
    /// The stored hash of one event; `None` when the event does not exist or was never hashed.
    pub async fn event_hash_of(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        sequence: i64,
    ) -> Result<Option<String>, StoreError> {
        let hash: Option<Option<String>> = with_pool!(self, |pool| {
            sqlx::query_scalar(
            "SELECT event_hash FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3"
        )
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(sequence)
        .fetch_optional(pool)
        .await
        })?;
        Ok(hash.flatten())
    }

    /// Inserts hashed events atomically with `terms` and returns the feed position of the last,
    /// or `None` when a condition of `terms` no longer holds (nothing is written then). A
    /// primary-key violation means another command on the same stream committed first.
    ///
    /// PostgreSQL without terms: one multi-row `INSERT … RETURNING position`, a single round trip
    /// that commits on its own; with terms, a transaction that checks the conditions, inserts
    /// and records the key's answer. SQLite: a transaction (`IMMEDIATE`) that checks the
    /// conditions, inserts, reads the position the trigger assigned and records the answer
    /// (local calls, no round trips).
    async fn insert_hashed(
        &self,
        aggregate_type: &str,
        rows: &[(&SerializedEvent, String)],
        terms: &AppendTerms,
    ) -> Result<Option<i64>, StoreError> {
        let Some((last, _)) = rows.last() else {
            return Ok(Some(0));
        };
        match self {
            Database::Postgres(PgStore { write: pool, .. }) => {
                let placeholders: Vec<String> = (0..rows.len())
                    .map(|row| {
                        let base = row * 8;
                        format!(
                            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                            base + 1,
                            base + 2,
                            base + 3,
                            base + 4,
                            base + 5,
                            base + 6,
                            base + 7,
                            base + 8
                        )
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_hash) \
                     VALUES {} RETURNING position",
                    placeholders.join(", ")
                );
                let mut query = sqlx::query_scalar::<_, i64>(&sql);
                for (event, hash) in rows {
                    query = query
                        .bind(aggregate_type)
                        .bind(&event.aggregate_id)
                        .bind(event.sequence as i64)
                        .bind(&event.event_type)
                        .bind(&event.event_version)
                        .bind(&event.payload)
                        .bind(&event.metadata)
                        .bind(hash);
                }
                if terms.is_empty() {
                    let positions = query.fetch_all(pool).await?;
                    return Ok(Some(positions.into_iter().max().unwrap_or(0)));
                }
                let mut tx = pool.begin().await?;
                for condition in &terms.conditions {
                    if !condition.holds_postgres(&mut tx).await? {
                        tx.rollback().await?;
                        return Ok(None);
                    }
                }
                let positions = query.fetch_all(&mut *tx).await?;
                let position = positions.into_iter().max().unwrap_or(0);
                if let Some(answer) = &terms.answer {
                    let (status, body) = answer_of(answer, rows, position);
                    sqlx::query(RECORD_ANSWER)
                        .bind(status)
                        .bind(body)
                        .bind(&answer.principal)
                        .bind(&answer.key)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(Some(position))
            }
            Database::Sqlite(store) => {
                let mut tx = store.begin_write().await?;
                for condition in &terms.conditions {
                    if !condition.holds_sqlite(&mut tx).await? {
                        tx.rollback().await?;
                        return Ok(None);
                    }
                }
                for (event, hash) in rows {
                    sqlx::query(
                        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_hash) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(aggregate_type)
                    .bind(&event.aggregate_id)
                    .bind(event.sequence as i64)
                    .bind(&event.event_type)
                    .bind(&event.event_version)
                    .bind(&event.payload)
                    .bind(&event.metadata)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
                }
                let position: Option<i64> = sqlx::query_scalar(
                    "SELECT position FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
                )
                .bind(aggregate_type)
                .bind(&last.aggregate_id)
                .bind(last.sequence as i64)
                .fetch_one(&mut *tx)
                .await?;
                let position = position.unwrap_or(0);
                if let Some(answer) = &terms.answer {
                    let (status, body) = answer_of(answer, rows, position);
                    sqlx::query(RECORD_ANSWER)
                        .bind(status)
                        .bind(body)
                        .bind(&answer.principal)
                        .bind(&answer.key)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(Some(position))
            }
        }
    }
}

/// The status and body of a key's answer for the events in `rows`, the last at `position`.
fn answer_of(
    answer: &KeyAnswer,
    rows: &[(&SerializedEvent, String)],
    position: i64,
) -> (i32, String) {
    let committed = Committed {
        aggregate_id: rows
            .last()
            .map(|(event, _)| event.aggregate_id.clone())
            .unwrap_or_default(),
        version: rows
            .last()
            .map_or(0, |(event, _)| u64::try_from(event.sequence).unwrap_or(0)),
        position,
        event_types: rows
            .iter()
            .map(|(event, _)| event.event_type.clone())
            .collect(),
    };
    (i32::from(answer.status), (answer.body)(&committed))
}

impl<R: PersistedEventRepository> PersistedEventRepository for ChainedRepository<R> {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.inner.get_events::<A>(aggregate_id).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.inner
            .get_last_events::<A>(aggregate_id, last_sequence)
            .await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        self.inner.get_snapshot::<A>(aggregate_id).await
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            return Err(PersistenceError::UnknownError(
                "snapshots are not used by caseledger".into(),
            ));
        }
        let Some(first) = events.first() else {
            return Ok(());
        };
        // The previous event is committed and immutable, so reading its hash before the write
        // transaction is safe (and keeps SQLite's transaction a pure writer).
        let known = self
            .previous
            .as_ref()
            .filter(|(sequence, _)| *sequence + 1 == first.sequence as u64)
            .map(|(_, hash)| hash.clone());
        let mut previous = if first.sequence <= 1 {
            GENESIS.to_owned()
        } else if let Some(hash) = known {
            hash
        } else {
            self.db
                .event_hash_of(A::TYPE, &first.aggregate_id, first.sequence as i64 - 1)
                .await
                .map_err(to_persistence)?
                .ok_or_else(|| {
                    PersistenceError::UnknownError(
                        format!(
                            "{} {} has an unhashed event; run `caseledger migrate`",
                            A::TYPE,
                            first.aggregate_id
                        )
                        .into(),
                    )
                })?
        };
        let mut rows = Vec::with_capacity(events.len());
        for event in events {
            let hash = event_hash(
                &previous,
                EventFields {
                    aggregate_type: A::TYPE,
                    aggregate_id: &event.aggregate_id,
                    sequence: event.sequence as i64,
                    event_type: &event.event_type,
                    event_version: &event.event_version,
                    payload: &event.payload,
                    metadata: &event.metadata,
                },
            );
            previous.clone_from(&hash);
            rows.push((event, hash));
        }
        let Some(position) = self
            .db
            .insert_hashed(A::TYPE, &rows, &self.terms)
            .await
            .map_err(to_persistence)?
        else {
            // A fact from another stream that the decision relied on changed: the caller
            // decides again, as after a concurrent append on the stream itself.
            return Err(PersistenceError::OptimisticLockError);
        };
        if let Some(cell) = &self.written {
            if let Ok(mut written) = cell.lock() {
                *written = Some(Written {
                    position,
                    last_hash: previous,
                });
            }
        }
        Ok(())
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        self.inner.stream_events::<A>(aggregate_id).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        self.inner.stream_all_events::<A>().await
    }
}

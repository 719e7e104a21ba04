//! Command execution through cqrs-es: load the aggregate from the plain event store, let it
//! decide, commit the events with optimistic concurrency, and report where they landed.
//!
//! This replaces `CqrsFramework::execute` on purpose: the framework dispatches to queries inline
//! (and drops their errors) and does not return what it committed. Here `EventStore::commit`
//! hands back the committed envelopes, and projections are fed from the events table instead.
//! Only `PersistedEventStore::new_event_store` is used: the snapshot and aggregate stores of
//! cqrs-es 0.5.0 apply events twice. Reads go through postgres-es / sqlite-es; writes go through
//! [`ChainedRepository`], which hashes each event into its stream's chain as it is inserted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventStore};
use cqrs_es::{Aggregate, AggregateError, EventStore};
use postgres_es::PostgresEventRepository;
use sqlite_es::SqliteEventRepository;

use crate::audit::repository::ChainedRepository;
pub use crate::cache::AggregateCache;
use crate::cache::CacheUse;
use crate::conditions::AppendTerms;
use crate::db::{Database, PgStore, StoreError};
use crate::snapshots::{Loaded, SNAPSHOT_EVERY};

/// Metadata stored beside each event: who, on whose behalf, which request, when.
pub type Metadata = HashMap<String, String>;

/// What a successful command wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The aggregate's id.
    pub aggregate_id: String,
    /// The aggregate's version (sequence of its last event) after the command.
    pub version: u64,
    /// The feed position of the last event written (or of the aggregate's last event, when the
    /// command wrote none). A read with `min_position` waits for it.
    pub position: i64,
    /// The types of the events written, in order.
    pub event_types: Vec<String>,
}

/// Why a command did not commit.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E: std::error::Error> {
    /// The aggregate refused the command (a rule, a permission, an unknown id).
    #[error(transparent)]
    Rejected(E),
    /// The caller's expected version (`If-Match`) is not the current one.
    #[error("expected version {expected}, found {current}")]
    VersionMismatch {
        /// What the caller expected.
        expected: u64,
        /// What the store holds.
        current: u64,
    },
    /// Another command on the same aggregate committed first (optimistic concurrency), or a
    /// fact of another stream the decision relied on changed before the append
    /// ([`crate::AppendCondition`]). Nothing was written: deciding again is safe.
    #[error("concurrent modification")]
    Conflict,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store failed inside cqrs-es.
    #[error("event store: {0}")]
    EventStore(String),
}

impl<E: std::error::Error> ExecuteError<E> {
    fn from_aggregate(error: AggregateError<E>) -> Self {
        match error {
            AggregateError::UserError(error) => ExecuteError::Rejected(error),
            AggregateError::AggregateConflict => ExecuteError::Conflict,
            // Our repository's failures keep their `StoreError` (a lost connection is a 503,
            // not an opaque event-store failure).
            AggregateError::DatabaseConnectionError(error)
            | AggregateError::UnexpectedError(error) => match StoreError::from_boxed(error) {
                Ok(error) => ExecuteError::Store(error),
                Err(error) => ExecuteError::EventStore(error.to_string()),
            },
            other => ExecuteError::EventStore(other.to_string()),
        }
    }
}

impl Database {
    /// Executes `command` on the aggregate `aggregate_id` of type `A`.
    ///
    /// With `expected_version`, the command runs only if the aggregate is at that version. A
    /// concurrent commit on the same aggregate makes this call fail with
    /// [`ExecuteError::Conflict`]; nothing is written then.
    ///
    /// The aggregate is loaded from its snapshot and the events after it ([`crate::snapshots`]);
    /// the new events are chained to the loaded last hash and committed through cqrs-es's plain
    /// event store, whose write reports the feed position, so a command costs one read of the
    /// stream's tail and one write transaction.
    #[tracing::instrument(skip_all, fields(aggregate_type = A::TYPE, %aggregate_id))]
    pub async fn execute<A>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        expected_version: Option<u64>,
        metadata: Metadata,
        services: &A::Services,
    ) -> Result<Committed, ExecuteError<A::Error>>
    where
        A: Aggregate,
    {
        let terms = AppendTerms::default();
        let (committed, _) = self
            .decide_from_log::<A>(
                aggregate_id,
                command,
                expected_version,
                metadata,
                services,
                &terms,
            )
            .await?;
        Ok(committed)
    }

    /// [`Database::execute`], starting from the aggregate's state in `cache` when this process
    /// committed its last event, and leaving the state after the command there.
    ///
    /// The cached state is trusted only as far as the write proves it: the new events are
    /// inserted at the cached version + 1, which the log's primary key refuses if anything was
    /// appended since (another process, or an edit of the log). Every outcome that could come
    /// from a stale state (a conflict, a refusal, a version mismatch, a command that writes
    /// nothing) is decided again from the log, so a cached answer is never one the log would
    /// not give.
    pub async fn execute_cached<A>(
        &self,
        cache: &AggregateCache,
        aggregate_id: &str,
        command: A::Command,
        expected_version: Option<u64>,
        metadata: Metadata,
        services: &A::Services,
    ) -> Result<Committed, ExecuteError<A::Error>>
    where
        A: Aggregate + 'static,
        A::Command: Clone,
    {
        self.execute_cached_with::<A>(
            cache,
            aggregate_id,
            command,
            expected_version,
            metadata,
            services,
            &AppendTerms::default(),
        )
        .await
    }

    /// [`Database::execute_cached`], with `terms` carried out in the transaction that appends
    /// the command's events: the answer of its idempotency key recorded, and conditions across
    /// streams checked again (one that no longer holds fails the command with
    /// [`ExecuteError::Conflict`], having written nothing). A command that writes no events
    /// opens no transaction and carries out no terms.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(skip_all, fields(aggregate_type = A::TYPE, %aggregate_id))]
    pub async fn execute_cached_with<A>(
        &self,
        cache: &AggregateCache,
        aggregate_id: &str,
        command: A::Command,
        expected_version: Option<u64>,
        metadata: Metadata,
        services: &A::Services,
        terms: &AppendTerms,
    ) -> Result<Committed, ExecuteError<A::Error>>
    where
        A: Aggregate + 'static,
        A::Command: Clone,
    {
        // `attempt` checks `If-Match` against the cached version before deciding anything, so a
        // mismatch costs nothing here and is checked again against the log below.
        match cache.take::<A>(aggregate_id) {
            None => cache.record(CacheUse::Miss),
            Some(loaded) => {
                let attempt = self
                    .attempt(
                        aggregate_id,
                        loaded,
                        command.clone(),
                        expected_version,
                        metadata.clone(),
                        services,
                        terms,
                    )
                    .await;
                match attempt {
                    Ok((committed, Some(after))) => {
                        cache.record(CacheUse::Hit);
                        cache.put(aggregate_id, after);
                        return Ok(committed);
                    }
                    Ok((_, None))
                    | Err(
                        ExecuteError::Rejected(_)
                        | ExecuteError::Conflict
                        | ExecuteError::VersionMismatch { .. },
                    ) => cache.record(CacheUse::Stale),
                    Err(error) => return Err(error),
                }
            }
        }
        let (committed, after) = self
            .decide_from_log::<A>(
                aggregate_id,
                command,
                expected_version,
                metadata,
                services,
                terms,
            )
            .await?;
        if let Some(after) = after {
            cache.put(aggregate_id, after);
        }
        Ok(committed)
    }

    /// Loads the aggregate from the log (and its snapshot) and [`Database::attempt`]s `command`.
    async fn decide_from_log<A>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        expected_version: Option<u64>,
        metadata: Metadata,
        services: &A::Services,
        terms: &AppendTerms,
    ) -> Result<(Committed, Option<Loaded<A>>), ExecuteError<A::Error>>
    where
        A: Aggregate,
    {
        let loaded = self.load_for_command::<A>(aggregate_id).await?;
        self.attempt(
            aggregate_id,
            loaded,
            command,
            expected_version,
            metadata,
            services,
            terms,
        )
        .await
    }

    /// Decides `command` on a loaded aggregate and commits its events (with `terms`); also
    /// returns the state after them when it wrote any.
    #[allow(clippy::too_many_arguments)]
    async fn attempt<A>(
        &self,
        aggregate_id: &str,
        loaded: Loaded<A>,
        command: A::Command,
        expected_version: Option<u64>,
        metadata: Metadata,
        services: &A::Services,
        terms: &AppendTerms,
    ) -> Result<(Committed, Option<Loaded<A>>), ExecuteError<A::Error>>
    where
        A: Aggregate,
    {
        let current = loaded.version;
        if let Some(expected) = expected_version {
            if expected != current {
                return Err(ExecuteError::VersionMismatch { expected, current });
            }
        }
        let mut aggregate = loaded.aggregate;
        let sink = cqrs_es::event_sink::EventSink::<A>::default();
        aggregate
            .handle(command, services, &sink)
            .await
            .map_err(ExecuteError::Rejected)?;
        let events = sink.collect().await;
        if events.is_empty() {
            let position = self
                .position_of(A::TYPE, aggregate_id, current)
                .await?
                .unwrap_or(0);
            let committed = Committed {
                aggregate_id: aggregate_id.to_owned(),
                version: current,
                position,
                event_types: Vec::new(),
            };
            return Ok((committed, None));
        }
        let version = current + events.len() as u64;
        // `handle` applied the events as it wrote them: `aggregate` is the state after them.
        let snapshot = if version - loaded.snapshot_version >= SNAPSHOT_EVERY {
            Some(serde_json::to_string(&aggregate).map_err(StoreError::from)?)
        } else {
            None
        };
        let event_types = events
            .iter()
            .map(cqrs_es::DomainEvent::event_type)
            .collect();
        // The plain event store never reads the context's aggregate (only snapshot stores do),
        // so the state after the command stays ours.
        let context = EventStoreAggregateContext {
            aggregate_id: aggregate_id.to_owned(),
            aggregate: A::default(),
            current_sequence: usize::try_from(current).unwrap_or(usize::MAX),
            current_snapshot: None,
        };
        let written = Arc::new(Mutex::new(None));
        match self {
            Database::Postgres(PgStore { write: pool, .. }) => {
                let repository = ChainedRepository::new(
                    PostgresEventRepository::new(pool.clone()),
                    self.clone(),
                )
                .after(current, loaded.last_hash)
                .reporting(written.clone())
                .with_terms(terms.clone());
                PersistedEventStore::<_, A>::new_event_store(repository)
                    .commit(events, context, metadata)
                    .await
                    .map_err(ExecuteError::from_aggregate)?;
            }
            Database::Sqlite(store) => {
                let repository = ChainedRepository::new(
                    SqliteEventRepository::new(store.read.clone()),
                    self.clone(),
                )
                .after(current, loaded.last_hash)
                .reporting(written.clone())
                .with_terms(terms.clone());
                PersistedEventStore::<_, A>::new_event_store(repository)
                    .commit(events, context, metadata)
                    .await
                    .map_err(ExecuteError::from_aggregate)?;
            }
        }
        let written = written
            .lock()
            .ok()
            .and_then(|mut written| written.take())
            .ok_or_else(|| StoreError::Invariant("the commit reported no write".into()))?;
        let mut snapshot_version = loaded.snapshot_version;
        if let Some(state) = snapshot {
            match self
                .save_snapshot(A::TYPE, aggregate_id, version, &written.last_hash, &state)
                .await
            {
                Ok(()) => snapshot_version = version,
                Err(error) => {
                    tracing::warn!(%error, "saving a snapshot failed (only speed is lost)")
                }
            }
        }
        let committed = Committed {
            aggregate_id: aggregate_id.to_owned(),
            version,
            position: written.position,
            event_types,
        };
        let after = Loaded {
            aggregate,
            version,
            last_hash: Some(written.last_hash),
            snapshot_version,
        };
        Ok((committed, Some(after)))
    }

    /// The feed position of one event, if it exists.
    pub async fn position_of(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        sequence: u64,
    ) -> Result<Option<i64>, StoreError> {
        const SQL: &str =
            "SELECT position FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3";
        let sequence = i64::try_from(sequence).unwrap_or(i64::MAX);
        let position: Option<Option<i64>> = with_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .bind(sequence)
            .fetch_optional(pool)
            .await)?;
        Ok(position.flatten())
    }

    /// The current version of an aggregate: the sequence of its last event, 0 when it has none.
    pub async fn current_version(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<u64, StoreError> {
        const SQL: &str =
            "SELECT max(sequence) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2";
        let version: Option<i64> = with_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_one(pool)
            .await)?;
        Ok(version.map_or(0, |version| u64::try_from(version).unwrap_or(0)))
    }
}

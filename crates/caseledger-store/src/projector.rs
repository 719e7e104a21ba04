//! The projector: feeds each projection the events after its checkpoint, in feed order, and
//! writes the new checkpoint in the same transaction as the projection's view rows.
//!
//! Guarantees:
//! - Nothing lost, nothing applied twice: a batch's view rows and its checkpoint commit together
//!   or not at all; a crash or a failing projection leaves the checkpoint where the last good batch
//!   put it.
//! - One projector at a time per projection, across processes: the checkpoint is advanced by a
//!   compare-and-set (`WHERE position = <old>`), so a second projector that read the same
//!   checkpoint finds nothing to update and rolls back. On PostgreSQL a transaction-level advisory
//!   lock also keeps a second process from doing the work at all; when the holder dies its lock
//!   dies with its transaction and the next poll of another process takes over.
//! - A failing event stops its projection at that event (later events depend on it). The error is
//!   recorded in `projection_checkpoints.last_error` and the projector retries with backoff; other
//!   projections go on.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::sync::{watch, Notify};
use tracing::{debug, warn};

use crate::db::{now_text, Database, StoreError, Tx};
use crate::feed::{FeedEvent, FeedPosition};

/// Why a projection could not apply a batch.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// One event could not be projected (unreadable payload, impossible order).
    #[error("event at position {position} ({event_type}): {message}")]
    Event {
        /// The event's feed position.
        position: i64,
        /// The event's type.
        event_type: String,
        /// What went wrong.
        message: String,
    },
    /// There is no projection of that name.
    #[error("unknown projection {0:?}")]
    UnknownProjection(String),
    /// The projection is append-only evidence and is never rebuilt.
    #[error("projection {0:?} is append-only evidence and cannot be rebuilt; use `caseledger audit verify`")]
    NotRebuildable(String),
    /// The PostgreSQL horizon did not pass a barrier in time: some transaction in the cluster
    /// stays open (look for `idle in transaction` sessions in `pg_stat_activity`).
    #[error("the feed horizon did not advance for {0:?}: a long-open transaction holds it back")]
    HorizonStuck(Duration),
}

/// Events a rebuild applies per batch. A projection writes each touched view row once per batch,
/// and on PostgreSQL every rewrite inside the rebuild's one transaction leaves a row version
/// behind, so larger batches mean fewer rewrites (about 30 MB of events in memory at most).
const REBUILD_BATCH: i64 = 25_000;

/// How long the live projector waits after a batch that caught up before it reads the feed
/// again ([`Projector::run`]). The first event after a quiet spell is applied at once; under load
/// the view trails by up to this much more (docs/PERFORMANCE.md).
const LINGER: Duration = Duration::from_millis(10);

/// How long catch-up and rebuild wait for the PostgreSQL horizon to pass their start.
const HORIZON_PATIENCE: Duration = Duration::from_secs(60);

/// Waits a moment for the feed horizon, or fails once `started` is older than the patience.
async fn wait_for_horizon(started: tokio::time::Instant) -> Result<(), ProjectionError> {
    if started.elapsed() > HORIZON_PATIENCE {
        return Err(ProjectionError::HorizonStuck(HORIZON_PATIENCE));
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

impl From<sqlx::Error> for ProjectionError {
    fn from(error: sqlx::Error) -> Self {
        ProjectionError::Store(StoreError::Sql(error))
    }
}

impl ProjectionError {
    /// Builds an [`ProjectionError::Event`] for `event`.
    pub fn event(event: &FeedEvent, message: impl std::fmt::Display) -> Self {
        ProjectionError::Event {
            position: event.at.position,
            event_type: event.event_type.clone(),
            message: message.to_string(),
        }
    }
}

/// A view derived from the feed.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// A stable name: the checkpoint's key and the CLI's argument.
    fn name(&self) -> &'static str;

    /// The tables holding this projection's rows; a rebuild empties them.
    fn tables(&self) -> Vec<&'static str>;

    /// Whether `rebuild` may empty and replay this projection. Append-only evidence (the audit
    /// chain) says no: replaying tampered events would seal the tampering.
    fn rebuildable(&self) -> bool {
        true
    }

    /// Applies `events` (consecutive, in feed order) inside `tx`. Must be deterministic: the same
    /// events on the same rows give the same rows.
    async fn apply(&self, tx: &mut Tx, events: &[FeedEvent]) -> Result<(), ProjectionError>;

    /// Queries returning every row of the view as one text column named `row`, each in a stable
    /// order. The SHA-256 of their rows, query after query, is the view's checksum.
    fn checksum_sql(&self) -> Vec<String>;
}

/// A projection's progress, as `/readyz`, `/metrics` and the CLI report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// The projection's name.
    pub name: String,
    /// The last event applied.
    pub checkpoint: FeedPosition,
    /// How many events it has applied since it was last rebuilt.
    pub events_applied: i64,
    /// When it last advanced.
    pub updated_at: String,
    /// The error that stops it, if any.
    pub last_error: Option<String>,
    /// Events in the log after its checkpoint.
    pub backlog: i64,
    /// When the oldest of those was recorded (`None` when there is no backlog).
    pub oldest_pending_at: Option<String>,
}

/// The result of waiting for a projection to reach a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// The projection has applied the event at that position.
    Reached,
    /// It has not within the time allowed.
    TimedOut,
    /// No event has that position.
    UnknownPosition,
}

struct Inner {
    db: Database,
    projections: Vec<Arc<dyn Projection>>,
    wake: Notify,
    progress: watch::Sender<u64>,
    batch_size: i64,
    poll_interval: Duration,
}

/// Runs projections. Cheap to clone; clones share the wake-up signal.
#[derive(Clone)]
pub struct Projector {
    inner: Arc<Inner>,
}

const CHECKPOINT_COLUMNS: &str = "transaction_id, position, events_applied, updated_at, last_error";

impl Projector {
    /// A projector over `projections`, reading 500 events a batch and polling every 250 ms when
    /// nothing wakes it (other processes' commits are seen by polling).
    pub fn new(db: Database, projections: Vec<Arc<dyn Projection>>) -> Self {
        Self::with_tuning(db, projections, 500, Duration::from_millis(250))
    }

    /// A projector with an explicit batch size and poll interval.
    pub fn with_tuning(
        db: Database,
        projections: Vec<Arc<dyn Projection>>,
        batch_size: i64,
        poll_interval: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                projections,
                wake: Notify::new(),
                progress: watch::channel(0).0,
                batch_size: batch_size.max(1),
                poll_interval,
            }),
        }
    }

    /// The names of the projections, in the order they run.
    pub fn names(&self) -> Vec<&'static str> {
        self.inner
            .projections
            .iter()
            .map(|projection| projection.name())
            .collect()
    }

    /// The names of the projections a rebuild may empty and refill, in the order they run (not
    /// append-only evidence such as the audit chain).
    pub fn rebuildable_names(&self) -> Vec<&'static str> {
        self.inner
            .projections
            .iter()
            .filter(|projection| projection.rebuildable())
            .map(|projection| projection.name())
            .collect()
    }

    /// Signals that new events were committed.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    fn find(&self, name: &str) -> Result<&Arc<dyn Projection>, ProjectionError> {
        self.inner
            .projections
            .iter()
            .find(|projection| projection.name() == name)
            .ok_or_else(|| ProjectionError::UnknownProjection(name.to_owned()))
    }

    /// Creates missing checkpoint rows (at the start of the feed).
    pub async fn ensure_checkpoints(&self) -> Result<(), StoreError> {
        for projection in &self.inner.projections {
            with_write_pool!(&self.inner.db, |pool| {
                sqlx::query(
                "INSERT INTO projection_checkpoints (name, updated_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
            )
            .bind(projection.name())
            .bind(now_text())
            .execute(pool)
            .await.map(|done| done.rows_affected())
            })?;
        }
        Ok(())
    }

    /// The checkpoint of projection `name` (the start of the feed when it has none yet).
    pub async fn checkpoint(&self, name: &str) -> Result<FeedPosition, StoreError> {
        let row: Option<(i64, i64)> = with_pool!(&self.inner.db, |pool| sqlx::query_as(
            "SELECT transaction_id, position FROM projection_checkpoints WHERE name = $1"
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?;
        Ok(
            row.map_or_else(FeedPosition::default, |(transaction_id, position)| {
                FeedPosition {
                    transaction_id,
                    position,
                }
            }),
        )
    }

    /// Applies at most `limit` events to `projection` in one transaction; returns how many.
    /// Returns 0 when there is nothing to do or another projector got there first.
    async fn step(
        &self,
        projection: &dyn Projection,
        limit: i64,
    ) -> Result<usize, ProjectionError> {
        let db = &self.inner.db;
        let name = projection.name();
        let checkpoint = self.checkpoint(name).await?;
        let events = db.read_feed(checkpoint, limit).await?;
        let Some(last) = events.last().map(|event| event.at) else {
            return Ok(0);
        };
        let mut tx = db.begin().await?;
        if !tx.try_lock_projection(name, false).await? {
            return Ok(0);
        }
        // On SQLite this update is the transaction's first statement, so the transaction holds
        // the write lock before it reads any view row and cannot fail to upgrade later.
        let advanced = with_tx!(&mut tx, |conn| sqlx::query(
            "UPDATE projection_checkpoints \
                SET transaction_id = $1, position = $2, events_applied = events_applied + $3, \
                    updated_at = $4, last_error = NULL \
              WHERE name = $5 AND transaction_id = $6 AND position = $7"
        )
        .bind(last.transaction_id)
        .bind(last.position)
        .bind(events.len() as i64)
        .bind(now_text())
        .bind(name)
        .bind(checkpoint.transaction_id)
        .bind(checkpoint.position)
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected()))?;
        if advanced != 1 {
            debug!(projection = name, "checkpoint moved by another projector");
            tx.rollback().await?;
            return Ok(0);
        }
        if let Err(error) = projection.apply(&mut tx, &events).await {
            // Release the advisory lock before the caller retries.
            if let Err(rollback_error) = tx.rollback().await {
                warn!(projection = name, %rollback_error, "rollback after a failed batch failed");
            }
            return Err(error);
        }
        tx.commit().await?;
        self.inner.progress.send_modify(|n| *n += 1);
        Ok(events.len())
    }

    /// Advances every projection by one batch in one transaction, reading the feed once, when
    /// they all stand at the same checkpoint (the normal case). `Ok(None)`: they do not, another
    /// projector holds one of them, or a projection refused the batch; the caller then advances
    /// them one by one, which isolates a failing projection and records its error.
    async fn step_together(&self, limit: i64) -> Result<Option<usize>, ProjectionError> {
        let projections = &self.inner.projections;
        if projections.len() < 2 {
            return Ok(None);
        }
        let db = &self.inner.db;
        let rows: Vec<(String, i64, i64)> = with_pool!(db, |pool| sqlx::query_as(
            "SELECT name, transaction_id, position FROM projection_checkpoints"
        )
        .fetch_all(pool)
        .await)?;
        let mut shared: Option<FeedPosition> = None;
        for projection in projections {
            let Some((_, transaction_id, position)) =
                rows.iter().find(|(name, _, _)| name == projection.name())
            else {
                return Ok(None);
            };
            let at = FeedPosition {
                transaction_id: *transaction_id,
                position: *position,
            };
            match shared {
                None => shared = Some(at),
                Some(first) if first == at => {}
                Some(_) => return Ok(None),
            }
        }
        let Some(checkpoint) = shared else {
            return Ok(None);
        };
        let events = db.read_feed(checkpoint, limit).await?;
        let Some(last) = events.last().map(|event| event.at) else {
            return Ok(Some(0));
        };
        // One statement locks them all and one advances them all: per live batch of a few
        // events, a statement per projection was most of the projector's round trips.
        let names: Vec<&str> = projections
            .iter()
            .map(|projection| projection.name())
            .collect();
        let mut tx = db.begin().await?;
        if !tx.try_lock_projections(&names).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        let sql = format!(
            "UPDATE projection_checkpoints \
                SET transaction_id = $1, position = $2, events_applied = events_applied + $3, \
                    updated_at = $4, last_error = NULL \
              WHERE transaction_id = $5 AND position = $6 AND name IN ({})",
            (7..7 + names.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let advanced = with_tx!(&mut tx, |conn| {
            let mut query = sqlx::query(&sql)
                .bind(last.transaction_id)
                .bind(last.position)
                .bind(events.len() as i64)
                .bind(now_text())
                .bind(checkpoint.transaction_id)
                .bind(checkpoint.position);
            for name in &names {
                query = query.bind(*name);
            }
            query
                .execute(&mut *conn)
                .await
                .map(|done| done.rows_affected())
        })?;
        if advanced != names.len() as u64 {
            tx.rollback().await?;
            return Ok(None);
        }
        for projection in projections {
            if let Err(error) = projection.apply(&mut tx, &events).await {
                debug!(projection = projection.name(), %error, "joint batch refused; going one by one");
                if let Err(rollback_error) = tx.rollback().await {
                    warn!(%rollback_error, "rollback after a refused joint batch failed");
                }
                return Ok(None);
            }
        }
        tx.commit().await?;
        self.inner.progress.send_modify(|n| *n += 1);
        Ok(Some(events.len()))
    }

    /// Advances one projection by up to one batch. After a failing batch it goes on event by
    /// event, so that the events before a bad one are still applied; the error is returned only
    /// when the very next event fails.
    async fn advance(&self, projection: &dyn Projection) -> Result<usize, ProjectionError> {
        match self.step(projection, self.inner.batch_size).await {
            Ok(n) => Ok(n),
            Err(error) if self.inner.batch_size > 1 => {
                let mut applied = 0;
                for _ in 0..self.inner.batch_size {
                    match self.step(projection, 1).await {
                        Ok(0) => break,
                        Ok(n) => applied += n,
                        Err(_) => break,
                    }
                }
                // A failed batch never reads as "nothing to do".
                if applied == 0 {
                    return Err(error);
                }
                Ok(applied)
            }
            Err(error) => Err(error),
        }
    }

    async fn record_error(&self, name: &str, error: &ProjectionError) {
        let message = error.to_string();
        let result = with_write_pool!(&self.inner.db, |pool| sqlx::query(
            "UPDATE projection_checkpoints SET last_error = $1 WHERE name = $2"
        )
        .bind(&message)
        .bind(name)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()));
        if let Err(store_error) = result {
            warn!(projection = name, %store_error, "could not record projection error");
        }
    }

    /// Runs every projection until it has applied every event committed before this call.
    /// Returns the number of events applied. Stops at the first error.
    pub async fn catch_up(&self) -> Result<usize, ProjectionError> {
        self.ensure_checkpoints().await?;
        let barrier = self.inner.db.feed_barrier().await?;
        let started = tokio::time::Instant::now();
        let mut total = 0;
        loop {
            let mut progressed = 0;
            match self.step_together(self.inner.batch_size).await {
                Ok(Some(n)) => progressed = n,
                Ok(None) | Err(_) => {
                    for projection in &self.inner.projections {
                        progressed += self.advance(projection.as_ref()).await?;
                    }
                }
            }
            total += progressed;
            if progressed == 0 {
                if self.inner.db.feed_passed(barrier).await? {
                    return Ok(total);
                }
                wait_for_horizon(started).await?;
            }
        }
    }

    /// Runs until `shutdown` completes: woken by [`Projector::wake`], polling as the fallback,
    /// retrying failing projections with backoff (up to 30 s).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        // Without its checkpoint row a projection's compare-and-set would match nothing.
        while let Err(error) = self.ensure_checkpoints().await {
            warn!(%error, "cannot create projection checkpoints; retrying");
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = &mut shutdown => return,
            }
        }
        let projections = self.inner.projections.clone();
        let mut failures = vec![0u32; projections.len()];
        loop {
            let mut progressed = false;
            if let Ok(Some(n)) = self.step_together(self.inner.batch_size).await {
                failures.iter_mut().for_each(|failures| *failures = 0);
                if n > 0 {
                    // Caught up with events still arriving: let a few more commit first. A
                    // batch costs a fixed round of statements and a commit whatever its size,
                    // so under load fewer, larger batches spend less of the database per event.
                    if (n as i64) < self.inner.batch_size && !LINGER.is_zero() {
                        tokio::select! {
                            _ = tokio::time::sleep(LINGER) => {}
                            _ = &mut shutdown => return,
                        }
                    }
                    continue;
                }
            } else {
                for (projection, failures) in projections.iter().zip(failures.iter_mut()) {
                    match self.advance(projection.as_ref()).await {
                        Ok(n) => {
                            progressed |= n > 0;
                            *failures = 0;
                        }
                        Err(error) => {
                            *failures = failures.saturating_add(1);
                            warn!(projection = projection.name(), %error, failures = *failures, "projection failed");
                            self.record_error(projection.name(), &error).await;
                        }
                    }
                }
            }
            if progressed {
                continue;
            }
            let worst = failures.iter().copied().max().unwrap_or(0);
            let backoff = if worst == 0 {
                self.inner.poll_interval
            } else {
                Duration::from_millis(500u64.saturating_mul(1 << worst.min(6)))
                    .min(Duration::from_secs(30))
            };
            tokio::select! {
                _ = self.inner.wake.notified(), if worst == 0 => {}
                _ = tokio::time::sleep(backoff) => {}
                _ = &mut shutdown => return,
            }
        }
    }

    /// Waits until projection `name` has applied the event at `position`, for at most `timeout`.
    pub async fn wait_for(
        &self,
        name: &str,
        position: i64,
        timeout: Duration,
    ) -> Result<CatchUp, StoreError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut progress = self.inner.progress.subscribe();
        loop {
            let checkpoint = self.checkpoint(name).await?;
            match self.inner.db.is_at_or_before(position, checkpoint).await? {
                None => return Ok(CatchUp::UnknownPosition),
                Some(true) => return Ok(CatchUp::Reached),
                Some(false) => {}
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(CatchUp::TimedOut);
            }
            // Woken by this process's projector; polled for another process's.
            let nap = (deadline - now).min(Duration::from_millis(50));
            let _ = tokio::time::timeout(nap, progress.changed()).await;
        }
    }

    /// Empties projection `name` and applies the whole feed again in one transaction, calling
    /// `progress(applied, total)` along the way. Live projectors wait (PostgreSQL) or find the
    /// checkpoint moved (SQLite) meanwhile. Returns the view's checksum afterwards.
    pub async fn rebuild(
        &self,
        name: &str,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<String, ProjectionError> {
        let mut rebuilt = self.rebuild_many(&[name], progress).await?;
        match rebuilt.pop() {
            Some((_, checksum)) => Ok(checksum),
            None => Err(ProjectionError::UnknownProjection(name.to_owned())),
        }
    }

    /// Empties the projections `names` and applies the whole feed to all of them in one pass and
    /// one transaction: each batch is read once and handed to every projection in turn, and the
    /// next batch is read while they apply this one. Every checkpoint ends at the same event and
    /// commits with the rows, as after one rebuild each. Refuses, before touching anything, an
    /// unknown name or append-only evidence. Returns each view's checksum, in the order given
    /// (a name given twice is rebuilt once).
    pub async fn rebuild_many(
        &self,
        names: &[&str],
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<Vec<(&'static str, String)>, ProjectionError> {
        let mut projections: Vec<Arc<dyn Projection>> = Vec::with_capacity(names.len());
        for name in names {
            let projection = self.find(name)?.clone();
            if !projection.rebuildable() {
                return Err(ProjectionError::NotRebuildable((*name).to_owned()));
            }
            if !projections.iter().any(|p| p.name() == projection.name()) {
                projections.push(projection);
            }
        }
        let Some(first) = projections.first() else {
            return Ok(Vec::new());
        };
        let names: Vec<&'static str> = projections.iter().map(|p| p.name()).collect();
        let first = first.name();
        let db = &self.inner.db;
        self.ensure_checkpoints().await?;
        let (total, _) = db.feed_backlog(FeedPosition::default()).await?;
        // Taken before the rebuild's own transaction exists, so that transaction cannot hold the
        // horizon below the barrier.
        let barrier = db.feed_barrier().await?;
        let started = tokio::time::Instant::now();
        let mut tx = db.begin().await?;
        // First statement is a write (SQLite lock, see `step`).
        with_tx!(&mut tx, |conn| {
            sqlx::query(
            "UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0 WHERE name = $1"
        )
        .bind(first)
        .execute(&mut *conn)
        .await.map(|done| done.rows_affected())
        })?;
        // PostgreSQL caches a generic plan for a prepared statement after five executions when
        // it costs no more than the custom ones. The views were emptied (or never analysed since
        // they were), so the plan cached early in the rebuild is a sequential scan, and every
        // later batch scans the whole growing view: measured 192 ms against 0.6 ms for one load
        // of 100 cases out of 50,000 (docs/PERFORMANCE.md, session 16). Custom plans see the
        // view's current size. For this transaction only.
        if let Tx::Postgres(pg) = &mut tx {
            sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
                .execute(&mut **pg)
                .await
                .map_err(StoreError::from)?;
        }
        // In the order given: two rebuilds of overlapping sets take the locks in one order.
        for name in &names {
            tx.try_lock_projection(name, true).await?;
        }
        for projection in &projections {
            for table in projection.tables() {
                let sql = format!("DELETE FROM {table}");
                with_tx!(&mut tx, |conn| sqlx::query(&sql)
                    .execute(&mut *conn)
                    .await
                    .map(|done| done.rows_affected()))?;
            }
        }
        let mut at = FeedPosition::default();
        let mut applied: u64 = 0;
        let mut next = db.read_feed(at, REBUILD_BATCH).await?;
        loop {
            let events = std::mem::take(&mut next);
            let Some(last) = events.last().map(|event| event.at) else {
                if db.feed_passed(barrier).await? {
                    break;
                }
                wait_for_horizon(started).await?;
                next = db.read_feed(at, REBUILD_BATCH).await?;
                continue;
            };
            // The next batch is read (another connection) while this one is applied.
            let apply = async {
                for projection in &projections {
                    projection.apply(&mut tx, &events).await?;
                }
                Ok::<(), ProjectionError>(())
            };
            let (applying, reading) = tokio::join!(apply, db.read_feed(last, REBUILD_BATCH));
            applying?;
            next = reading?;
            applied += events.len() as u64;
            at = last;
            progress(applied, (total.max(0) as u64).max(applied));
        }
        let sql = format!(
            "UPDATE projection_checkpoints \
                SET transaction_id = $1, position = $2, events_applied = $3, updated_at = $4, last_error = NULL \
              WHERE name IN ({})",
            (5..5 + names.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let advanced = with_tx!(&mut tx, |conn| {
            let mut query = sqlx::query(&sql)
                .bind(at.transaction_id)
                .bind(at.position)
                .bind(applied as i64)
                .bind(now_text());
            for name in &names {
                query = query.bind(*name);
            }
            query
                .execute(&mut *conn)
                .await
                .map(|done| done.rows_affected())
        })?;
        if advanced != names.len() as u64 {
            tx.rollback().await?;
            return Err(ProjectionError::Store(StoreError::Invariant(format!(
                "a rebuild advanced {advanced} of {} checkpoints",
                names.len()
            ))));
        }
        tx.commit().await?;
        self.inner.progress.send_modify(|n| *n += 1);
        let mut checksums = Vec::with_capacity(names.len());
        for name in names {
            checksums.push((name, self.checksum(name).await?));
        }
        Ok(checksums)
    }

    /// The SHA-256 (hex) of every row of projection `name`, in the projection's stable order.
    pub async fn checksum(&self, name: &str) -> Result<String, ProjectionError> {
        let projection = self.find(name)?;
        let mut hasher = Sha256::new();
        for sql in projection.checksum_sql() {
            let rows: Vec<String> = with_pool!(&self.inner.db, |pool| sqlx::query_scalar(&sql)
                .fetch_all(pool)
                .await)?;
            for row in rows {
                hasher.update(row.as_bytes());
                hasher.update(b"\n");
            }
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// The progress of every projection.
    pub async fn status(&self) -> Result<Vec<ProjectionStatus>, StoreError> {
        let mut statuses = Vec::with_capacity(self.inner.projections.len());
        for projection in &self.inner.projections {
            let name = projection.name();
            let sql =
                format!("SELECT {CHECKPOINT_COLUMNS} FROM projection_checkpoints WHERE name = $1");
            let row: Option<(i64, i64, i64, String, Option<String>)> =
                with_pool!(&self.inner.db, |pool| sqlx::query_as(&sql)
                    .bind(name)
                    .fetch_optional(pool)
                    .await)?;
            let (transaction_id, position, events_applied, updated_at, last_error) =
                row.unwrap_or((0, 0, 0, String::new(), None));
            let checkpoint = FeedPosition {
                transaction_id,
                position,
            };
            let (backlog, oldest_pending_at) = self.inner.db.feed_backlog(checkpoint).await?;
            statuses.push(ProjectionStatus {
                name: name.to_owned(),
                checkpoint,
                events_applied,
                updated_at,
                last_error,
                backlog,
                oldest_pending_at,
            });
        }
        Ok(statuses)
    }
}

//! The application layer of caseledger: what a running system is made of, whoever drives it.
//! The HTTP API and the CLI both build an [`App`] and use it; neither owns these parts.
//!
//! Architecture invariants:
//! - No HTTP here: no axum, no status codes, no request or response shapes. The API maps.
//! - Every time a command or a timer records comes from [`App::now`] (the [`Clock`]), so tests
//!   move time without waiting.
//! - The projections a process keeps are listed once, in [`projections`].
//! - Background work (projector, timers, audit sealer) is started and stopped by [`Runners`],
//!   and a stop brings every projection up to the last commit before returning.

pub mod commands;
pub mod facts;
pub mod reference;
pub mod revocations;
pub mod timers;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use caseledger_store::{AggregateCache, Database, Projection, Projector};
use chrono::{DateTime, Utc};

pub use reference::ReferenceData;

/// The projections every process keeps up to date, in the order they are registered.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(caseledger_store::cases::CasesProjection),
        Arc::new(caseledger_store::subjects::SubjectsProjection),
        Arc::new(caseledger_store::portfolios::PortfoliosProjection),
        Arc::new(caseledger_store::kpi::KpiProjection),
        Arc::new(caseledger_store::appraisals::AppraisalsProjection),
        Arc::new(caseledger_store::consultations::ExpertsProjection),
        Arc::new(caseledger_store::consultations::ConsultationsProjection),
        Arc::new(caseledger_store::rewards::RewardsProjection),
        Arc::new(caseledger_store::revocations::RevocationsProjection),
        Arc::new(caseledger_store::people::PeopleProjection),
        Arc::new(caseledger_store::audit::AuditChainProjection::default()),
    ]
}

/// The application: the store, its projector, the reference data, the clock and the cache of
/// aggregates this process wrote last. Cheap to clone (handles only).
#[derive(Clone)]
pub struct App {
    /// The database.
    pub db: Database,
    /// The projector (for read-your-writes waits and status).
    pub projector: Projector,
    /// Departments, the SLA policy and the calendar.
    pub reference: Arc<ReferenceData>,
    /// Where command times and timer decisions come from.
    pub clock: Clock,
    /// The state of aggregates this process wrote last, so their next command skips the load
    /// (`Database::execute_cached`).
    pub aggregates: AggregateCache,
    /// Set when the process begins to stop, so long-lived work (an open event stream) ends and
    /// lets the stop finish.
    pub closing: Closing,
    /// The revocation reads of concurrent requests, shared ([`revocations`]).
    pub revocations: revocations::RevocationChecks,
}

impl App {
    /// The application over `db` with the standard [`projections`].
    pub fn new(db: Database, reference: ReferenceData) -> Self {
        let projector = Projector::new(db.clone(), projections());
        Self::with_projector(db, projector, reference)
    }

    /// The application with an explicit projector (tests use one with extra projections).
    pub fn with_projector(db: Database, projector: Projector, reference: ReferenceData) -> Self {
        Self {
            db,
            projector,
            reference: Arc::new(reference),
            clock: Clock::system(),
            aggregates: AggregateCache::default(),
            closing: Closing::default(),
            revocations: revocations::RevocationChecks::default(),
        }
    }

    /// The same application reading time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The current time by the application's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// When `sub`'s sessions were last revoked, if ever, as the log holds it after this call
    /// began (one read shared by the requests checked at the same time).
    pub async fn revoked_before(
        &self,
        sub: &str,
    ) -> Result<Option<DateTime<Utc>>, caseledger_store::StoreError> {
        self.revocations.revoked_before(&self.db, sub).await
    }
}

/// The application's clock. The system clock in production; tests move a manual one so that
/// deadlines pass without waiting.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(Utc::now))
    }

    /// A clock that reads `now`.
    pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// Whether the process is stopping: set once by whoever stops it, awaited by work that would
/// otherwise run for ever (an open event stream holds its connection, and a graceful stop waits
/// for every connection).
#[derive(Clone)]
pub struct Closing(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Closing {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl Closing {
    /// Marks the process as stopping.
    pub fn close(&self) {
        self.0.send_replace(true);
    }

    /// Completes once the process is stopping (at once if it already is).
    pub async fn closed(&self) {
        let mut receiver = self.0.subscribe();
        let _ = receiver.wait_for(|closing| *closing).await;
    }
}

/// How long a stop waits for the projections to reach the last commit.
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(10);

/// The background work of a serving process: the projector, the timer runner and the audit
/// sealer.
pub struct Runners {
    app: App,
    stop_projector: tokio::sync::oneshot::Sender<()>,
    projector: tokio::task::JoinHandle<()>,
    stop_timers: tokio::sync::oneshot::Sender<()>,
    timers: tokio::task::JoinHandle<()>,
    sealer: tokio::task::JoinHandle<()>,
}

impl Runners {
    /// Makes sure every projection has its checkpoint, then starts the runners.
    pub async fn start(app: &App) -> Result<Self, caseledger_store::StoreError> {
        app.projector.ensure_checkpoints().await?;
        let (stop_projector, projector_stopped) = tokio::sync::oneshot::channel::<()>();
        let projector = tokio::spawn(app.projector.clone().run(async {
            let _ = projector_stopped.await;
        }));
        // Seal the audit chain at least hourly while events arrive, even in a quiet hour.
        let sealer = tokio::spawn(seal_periodically(app.db.clone()));
        // Fire deadline warnings, breaches and escalations as they fall due.
        let (stop_timers, timers_stopped) = tokio::sync::oneshot::channel::<()>();
        let timers = tokio::spawn(timers::run(app.clone(), async {
            let _ = timers_stopped.await;
        }));
        Ok(Self {
            app: app.clone(),
            stop_projector,
            projector,
            stop_timers,
            timers,
            sealer,
        })
    }

    /// Stops the timers and the projector, then brings every projection, the audit chain
    /// included, up to the last commit (for at most [`SHUTDOWN_DRAIN`]), so that a command
    /// answered just before a stop is not left unchained until the next start (where deleting
    /// it would go unnoticed). Call it once nothing writes any more.
    pub async fn stop(self) {
        let _ = self.stop_timers.send(());
        let _ = self.timers.await;
        let _ = self.stop_projector.send(());
        let _ = self.projector.await;
        drain_projections(&self.app.projector, SHUTDOWN_DRAIN).await;
        self.sealer.abort();
    }
}

/// Runs the projector until every projection has applied every committed event, for at most
/// `limit`; logs what it did.
pub async fn drain_projections(projector: &Projector, limit: Duration) {
    match tokio::time::timeout(limit, projector.catch_up()).await {
        Ok(Ok(applied)) => tracing::info!(applied, "projections drained before exit"),
        Ok(Err(error)) => {
            tracing::error!(%error, "draining the projections before exit failed")
        }
        Err(_) => tracing::error!(
            seconds = limit.as_secs(),
            "the projections did not reach the last commit before the shutdown deadline"
        ),
    }
}

async fn seal_periodically(db: Database) {
    let policy = caseledger_store::audit::SealPolicy::default();
    let mut interval = tokio::time::interval(Duration::from_secs(60));
    loop {
        interval.tick().await;
        if let Err(error) = db.seal_audit_if_due(policy).await {
            tracing::warn!(%error, "sealing the audit chain failed");
        }
    }
}

/// Runs `work` with the runners beside it: starts them, awaits `work`, then stops them (see
/// [`Runners::stop`]).
pub async fn with_runners<T>(
    app: &App,
    work: impl Future<Output = T>,
) -> Result<T, caseledger_store::StoreError> {
    let runners = Runners::start(app).await?;
    let result = work.await;
    runners.stop().await;
    Ok(result)
}

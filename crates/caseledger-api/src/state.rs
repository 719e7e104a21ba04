//! Application state shared by handlers: a small `Clone` struct of cheap handles.

use std::sync::Arc;

use caseledger_store::{AggregateCache, Database, Projector};
use chrono::{DateTime, Utc};

use crate::auth::JwtKeys;
use crate::metrics::Metrics;
use crate::reference::ReferenceData;

/// Everything a handler may need.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Database,
    /// The projector (for read-your-writes waits and status).
    pub projector: Projector,
    /// Token keys.
    pub keys: Arc<JwtKeys>,
    /// Departments and the SLA policy.
    pub reference: Arc<ReferenceData>,
    /// Request and command counters.
    pub metrics: Arc<Metrics>,
    /// Where command times and timer decisions come from.
    pub clock: Clock,
    /// The state of aggregates this process wrote last, so their next command skips the load
    /// (`Database::execute_cached`).
    pub aggregates: AggregateCache,
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

impl AppState {
    /// State over `db` with the standard projections.
    pub fn new(db: Database, keys: JwtKeys, reference: ReferenceData) -> Self {
        let projector = Projector::new(db.clone(), crate::projections());
        Self::with_projector(db, projector, keys, reference)
    }

    /// State with an explicit projector (tests use one with extra projections).
    pub fn with_projector(
        db: Database,
        projector: Projector,
        keys: JwtKeys,
        reference: ReferenceData,
    ) -> Self {
        Self {
            db,
            projector,
            keys: Arc::new(keys),
            reference: Arc::new(reference),
            metrics: Arc::new(Metrics::default()),
            clock: Clock::system(),
            aggregates: AggregateCache::default(),
        }
    }

    /// The same state reading time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The current time by the state's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

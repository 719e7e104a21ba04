//! Application state shared by handlers: a small `Clone` struct of cheap handles.

use std::sync::Arc;

use caseledger_store::{Database, Projector};

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
        }
    }
}

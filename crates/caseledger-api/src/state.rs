//! Application state shared by handlers: the [`App`] (store, projector, reference data, clock)
//! and what only the HTTP edge needs (token keys, how people sign in, request metrics). Derefs to the [`App`], so a
//! handler reads `state.db`, `state.reference` or `state.now()` directly.

use std::ops::Deref;
use std::sync::Arc;

use caseledger_app::{App, Clock};
use caseledger_store::{Database, Projector};

use crate::auth::{Identity, JwtKeys};
use crate::metrics::Metrics;
use crate::reference::ReferenceData;

/// Everything a handler may need.
#[derive(Clone)]
pub struct AppState {
    /// The application the API drives.
    pub app: App,
    /// Token keys.
    pub keys: Arc<JwtKeys>,
    /// Request and command counters.
    pub metrics: Arc<Metrics>,
    /// How people sign in: local tokens, an OIDC issuer, or both.
    pub identity: Arc<Identity>,
    /// Whether `/metrics` and the detail of `/readyz` are served on a separate admin listener
    /// (`CASELEDGER_ADMIN_LISTEN`) instead of to admins on the public port.
    pub ops_listener: bool,
}

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}

impl AppState {
    /// State over `db` with the standard projections.
    pub fn new(db: Database, keys: JwtKeys, reference: ReferenceData) -> Self {
        Self::over(App::new(db, reference), keys)
    }

    /// State with an explicit projector (tests use one with extra projections).
    pub fn with_projector(
        db: Database,
        projector: Projector,
        keys: JwtKeys,
        reference: ReferenceData,
    ) -> Self {
        Self::over(App::with_projector(db, projector, reference), keys)
    }

    /// State over an application.
    pub fn over(app: App, keys: JwtKeys) -> Self {
        Self {
            app,
            keys: Arc::new(keys),
            metrics: Arc::new(Metrics::default()),
            identity: Arc::new(Identity::default()),
            ops_listener: false,
        }
    }

    /// The same state signing people in as `identity` says.
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.identity = Arc::new(identity);
        self
    }

    /// The same state reading time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.app = self.app.with_clock(clock);
        self
    }
}

//! Test harness: a fresh database per test on either backend, and the real server on port 0.
//!
//! PostgreSQL: `CASELEDGER_TEST_POSTGRES_URL` names a throwaway cluster (scripts/test starts one
//! and sets it). Each test creates its own database there. Without it the PostgreSQL variant of a
//! test fails with instructions: PostgreSQL tests never skip silently.

use std::net::SocketAddr;
use std::sync::Arc;

use caseledger_api::{AppState, JwtKeys, Protection, ReferenceData};
use caseledger_store::{Database, Projection, Projector};
use tokio::sync::oneshot;

/// A database owned by one test.
pub struct TestDb {
    pub db: Database,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("caseledger.db").display());
        let db = Database::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        Self {
            db,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> Self {
        let admin_url = std::env::var("CASELEDGER_TEST_POSTGRES_URL").unwrap_or_else(|_| {
            panic!(
                "CASELEDGER_TEST_POSTGRES_URL is not set. Run the suite with scripts/test, which starts a \
                 throwaway PostgreSQL cluster, or point the variable at a cluster where this user may \
                 CREATE DATABASE (e.g. postgres://postgres@127.0.0.1:5432/postgres)."
            )
        });
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&admin_url)
            .await
            .expect("connecting to the test cluster");
        let Database::Postgres(caseledger_store::PgStore { write: pool, .. }) = &admin else {
            panic!("CASELEDGER_TEST_POSTGRES_URL is not a postgres url")
        };
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(pool)
            .await
            .unwrap();
        admin.close().await;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        let db = Database::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        Self { db, _dir: None }
    }
}

/// Runs one statement on either backend (fixtures and deliberate tampering).
pub async fn sql(db: &Database, statement: &str) {
    match db {
        Database::Postgres(caseledger_store::PgStore { write: pool, .. }) => {
            sqlx::query(statement).execute(pool).await.map(|_| ())
        }
        Database::Sqlite(store) => sqlx::query(statement)
            .execute(&store.write)
            .await
            .map(|_| ()),
    }
    .unwrap_or_else(|error| panic!("{statement}: {error}"));
}

/// The first column of every row of `query`, as integers.
pub async fn integers(db: &Database, query: &str) -> Vec<i64> {
    match db {
        Database::Postgres(caseledger_store::PgStore { write: pool, .. }) => {
            sqlx::query_scalar(query).fetch_all(pool).await
        }
        Database::Sqlite(store) => sqlx::query_scalar(query).fetch_all(&store.read).await,
    }
    .unwrap_or_else(|error| panic!("{query}: {error}"))
}

/// Runs an async test body once on SQLite and once on PostgreSQL:
/// `on_both!(name)` expects `async fn name(db: TestDb)` in the same module.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::TestDb::sqlite().await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::support::TestDb::postgres().await).await
            }
        }
    )*};
}

pub const SECRET: &[u8] = b"integration-test-secret-0123456789";

pub fn keys() -> JwtKeys {
    JwtKeys::from_secret(SECRET)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token for `sub` with one role and an optional org.
pub fn token(sub: &str, role: &str, org: Option<&str>) -> String {
    keys()
        .mint(sub, &[role.to_owned()], org, now(), 3600)
        .unwrap()
}

/// A clock the test sets and moves.
#[derive(Clone)]
pub struct ManualClock(Arc<std::sync::Mutex<chrono::DateTime<chrono::Utc>>>);

impl ManualClock {
    pub fn at(rfc3339: &str) -> Self {
        let at = chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .to_utc();
        Self(Arc::new(std::sync::Mutex::new(at)))
    }

    pub fn set(&self, rfc3339: &str) {
        *self.0.lock().unwrap() = chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .to_utc();
    }

    pub fn clock(&self) -> caseledger_app::Clock {
        let now = self.0.clone();
        caseledger_app::Clock::from_fn(move || *now.lock().unwrap())
    }
}

/// The real server on a loopback port, with its projector running.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    /// The server's state: tests drive the timer runner and the projector through it.
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(db: Database) -> Self {
        Self::spawn_with(db, caseledger_app::projections()).await
    }

    pub async fn spawn_with(db: Database, projections: Vec<Arc<dyn Projection>>) -> Self {
        let projector = Projector::new(db.clone(), projections);
        let state =
            AppState::with_projector(db.clone(), projector, keys(), ReferenceData::defaults());
        Self::spawn_state(state).await
    }

    /// The server reading time from `clock` (tests move it to make deadlines pass).
    pub async fn spawn_at(db: Database, clock: &ManualClock) -> Self {
        let state = AppState::new(db, keys(), ReferenceData::defaults()).with_clock(clock.clock());
        Self::spawn_state(state).await
    }

    /// The server with the default protection less its rate limits: the suite sends far more
    /// requests from one address than a person would. `protection.rs` tests the limits.
    pub async fn spawn_state(state: AppState) -> Self {
        Self::spawn_protected(state, Protection::default().without_rate_limits()).await
    }

    /// The server with the given protection of the edge (rate limits, CORS, timeouts …).
    pub async fn spawn_protected(state: AppState, protection: Protection) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(caseledger_api::serve_with(
            listener,
            None,
            state.clone(),
            protection,
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            address,
            client: reqwest::Client::new(),
            state,
            stop: Some(stop),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    /// POSTs JSON with a bearer token.
    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// The Prometheus text of `/metrics` (an admin's token: the public port serves it to admins
    /// only).
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .bearer_auth(token("ops-admin", "admin", None))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// GETs with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// Reads a JSON body, asserting the status first (and showing the body when it differs).
pub async fn json(response: reqwest::Response, status: u16) -> serde_json::Value {
    let actual = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    if status >= 400 {
        assert_eq!(
            content_type, "application/problem+json",
            "errors are problem+json"
        );
    }
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not json: {text}"))
}

/// Asserts a problem answer with `status` and `code`.
pub async fn problem(response: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    let body = json(response, status).await;
    assert_eq!(body["code"], code, "problem: {body}");
    assert_eq!(body["status"], status);
    body
}

/// A registration body for enterprise `enterprise_id`.
pub fn registration(enterprise_id: &str) -> serde_json::Value {
    serde_json::json!({
        "enterprise_id": enterprise_id,
        "title": "融资贴息申请受阻",
        "description": "企业反映贷款贴息政策兑现慢。",
        "category": "financing",
        "urgency": "normal",
        "source": "liaison_visit"
    })
}

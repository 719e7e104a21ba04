//! Identity and access over real HTTP (issue 15 items 1, 2, 3 and 7):
//! - OIDC: a real issuer on a loopback port (discovery and JWKS, served by axum from the test
//!   keys in tests/fixtures/oidc) that rotates its keys; RS256 and ES256 tokens signed here;
//!   `iss`, `aud`, `exp`, `nbf`, `alg: none`, HS256 key confusion, roles at a dotted path, the
//!   organisation claim, unknown roles ignored, rate-limited key fetches.
//! - Local tokens: `iat` required and not in the future, the maximum lifetime, `nbf`, refused
//!   when OIDC is configured unless allowed.
//! - Revocation: an admin revokes a subject; its older tokens get 401 `token_revoked` from this
//!   server and from a second one over the same database; a newer token works; the revocation is
//!   an event in the audit trail.
//! - Operations endpoints: `/metrics` and the detail of `/readyz` for admins only, or on a
//!   separate admin listener.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use caseledger_api::auth::{Claims, Identity, LocalTokens};
use caseledger_api::oidc::{OidcSettings, OidcVerifier};
use caseledger_api::{AppState, ReferenceData};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::on_both;
use crate::support::{json, keys, token, TestApp, TestDb};

const AUDIENCE: &str = "caseledger";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/oidc")
        .join(name)
}

fn now() -> u64 {
    caseledger_api::auth::unix_now()
}

/// The test issuer: publishes the JWKs whose kids are listed, counts fetches.
#[derive(Clone)]
struct Issuer {
    url: String,
    published: Arc<Mutex<Vec<&'static str>>>,
    jwks_fetches: Arc<AtomicU64>,
}

impl Issuer {
    async fn start(published: &[&'static str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let issuer = Issuer {
            url: format!("http://{address}/realms/district"),
            published: Arc::new(Mutex::new(published.to_vec())),
            jwks_fetches: Arc::new(AtomicU64::new(0)),
        };
        let all: Value =
            serde_json::from_str(&std::fs::read_to_string(fixture("jwks.json")).unwrap()).unwrap();
        let router = Router::new()
            .route(
                "/realms/district/.well-known/openid-configuration",
                get(|State(issuer): State<Issuer>| async move {
                    Json(json!({
                        "issuer": issuer.url,
                        "jwks_uri": format!("{}/protocol/openid-connect/certs", issuer.url),
                        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                    }))
                }),
            )
            .route(
                "/realms/district/protocol/openid-connect/certs",
                get(move |State(issuer): State<Issuer>| {
                    let all = all.clone();
                    async move {
                        issuer.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                        let published = issuer.published.lock().unwrap().clone();
                        let keys: Vec<Value> = all["keys"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter(|key| published.contains(&key["kid"].as_str().unwrap()))
                            .cloned()
                            .collect();
                        Json(json!({ "keys": keys }))
                    }
                }),
            )
            .with_state(issuer.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        issuer
    }

    /// Publishes only these keys from now on (a rotation).
    fn publish(&self, kids: &[&'static str]) {
        *self.published.lock().unwrap() = kids.to_vec();
    }

    fn fetches(&self) -> u64 {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    fn settings(&self) -> OidcSettings {
        OidcSettings::new(self.url.clone(), AUDIENCE)
    }
}

/// A token signed with the test key `kid` (`rsa-*` RS256, `ec-*` ES256) over `claims`.
fn signed(kid: &str, claims: &Value) -> String {
    let pem = std::fs::read(fixture(&format!("{kid}.pem"))).unwrap();
    let (algorithm, key) = if kid.starts_with("rsa") {
        (Algorithm::RS256, EncodingKey::from_rsa_pem(&pem).unwrap())
    } else {
        (Algorithm::ES256, EncodingKey::from_ec_pem(&pem).unwrap())
    };
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// The claims of a valid token of `issuer` for `sub` with `roles` at `roles` and `org`.
fn claims(issuer: &Issuer, sub: &str, roles: &[&str], org: Option<&str>) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": issuer.url,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": now,
        "exp": now + 300,
        "roles": roles,
    });
    if let Some(org) = org {
        claims["org"] = json!(org);
    }
    claims
}

/// The server signing in through `issuer` (with `settings`), local tokens as `local` says.
async fn spawn_oidc(db: TestDb, settings: OidcSettings, local: LocalTokens) -> (TestApp, TestDb) {
    let verifier = OidcVerifier::new(settings).unwrap();
    let state =
        AppState::new(db.db.clone(), keys(), ReferenceData::defaults()).with_identity(Identity {
            local,
            oidc: Some(Arc::new(verifier)),
        });
    (TestApp::spawn_state(state).await, db)
}

async fn status_and_code(app: &TestApp, path: &str, token: &str) -> (u16, String) {
    let response = app.get(path, token).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

const ANY_USER: &str = "/api/v1/departments";
const DISPATCHER_ONLY: &str = "/api/v1/queues/unassigned";

/// Valid RS256 and ES256 tokens are accepted; every other kind of token is 401 with its code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_tokens_are_verified_against_the_issuers_published_keys() {
    let issuer = Issuer::start(&["rsa-1", "ec-1"]).await;
    let (app, _db) = spawn_oidc(
        TestDb::sqlite().await,
        issuer.settings(),
        LocalTokens::Refuse,
    )
    .await;

    for kid in ["rsa-1", "ec-1"] {
        let token = signed(kid, &claims(&issuer, "disp-1", &["dispatcher"], None));
        assert_eq!(
            status_and_code(&app, DISPATCHER_ONLY, &token).await,
            (200, String::new()),
            "{kid}"
        );
    }
    // Unknown role names are ignored; the known one counts.
    let token = signed(
        "rsa-1",
        &claims(
            &issuer,
            "disp-2",
            &["offline_access", "uma_authorization", "dispatcher"],
            None,
        ),
    );
    assert_eq!(status_and_code(&app, DISPATCHER_ONLY, &token).await.0, 200);
    // A valid token without any known role: 403 no_known_role.
    let token = signed(
        "rsa-1",
        &claims(&issuer, "nobody", &["offline_access"], None),
    );
    assert_eq!(
        status_and_code(&app, ANY_USER, &token).await,
        (403, "no_known_role".into())
    );

    let refused = |mutate: &dyn Fn(&mut Value)| {
        let mut claims = claims(&issuer, "disp-1", &["dispatcher"], None);
        mutate(&mut claims);
        signed("rsa-1", &claims)
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong iss",
            refused(&|c| c["iss"] = json!("http://127.0.0.1:1/realms/other")),
            "invalid_token",
        ),
        (
            "wrong aud",
            refused(&|c| c["aud"] = json!("another-client")),
            "invalid_token",
        ),
        (
            "no aud",
            refused(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
            "invalid_token",
        ),
        (
            "expired beyond the skew",
            refused(&|c| c["exp"] = json!(now() - 120)),
            "token_expired",
        ),
        (
            "nbf in the future",
            refused(&|c| c["nbf"] = json!(now() + 600)),
            "invalid_token",
        ),
    ];
    for (what, token, code) in &cases {
        assert_eq!(
            status_and_code(&app, ANY_USER, token).await,
            (401, (*code).to_owned()),
            "{what}"
        );
    }
    // Within the clock skew (60 s) an expiry just passed is still accepted.
    let skewed = refused(&|c| c["exp"] = json!(now() - 20));
    assert_eq!(status_and_code(&app, ANY_USER, &skewed).await.0, 200);

    // alg none, with and without a signature.
    use base64::Engine;
    let b64 =
        |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let payload = b64(&claims(&issuer, "disp-1", &["dispatcher"], None));
    for header in [
        json!({"alg": "none", "kid": "rsa-1"}),
        json!({"alg": "none"}),
    ] {
        for token in [
            format!("{}.{payload}.", b64(&header)),
            format!("{}.{payload}", b64(&header)),
        ] {
            assert_eq!(
                status_and_code(&app, ANY_USER, &token).await.0,
                401,
                "{token}"
            );
        }
    }
    // HS256 keyed with the issuer's public key (key confusion): refused as a local token here,
    // and refused by a server that accepts local tokens too (its secret is not that key).
    let public_pem = std::fs::read(fixture("rsa-1.pub.pem")).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let confused = jsonwebtoken::encode(
        &header,
        &claims(&issuer, "disp-1", &["dispatcher"], None),
        &EncodingKey::from_secret(&public_pem),
    )
    .unwrap();
    assert_eq!(
        status_and_code(&app, ANY_USER, &confused).await,
        (401, "local_tokens_refused".into())
    );
    // RS256 in the header with the kid of an ES256 key: the key decides the algorithm.
    let mut claims_ec = claims(&issuer, "disp-1", &["dispatcher"], None);
    claims_ec["x"] = json!(1);
    let pem = std::fs::read(fixture("rsa-1.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("ec-1".into());
    let mismatched = jsonwebtoken::encode(
        &header,
        &claims_ec,
        &EncodingKey::from_rsa_pem(&pem).unwrap(),
    )
    .unwrap();
    assert_eq!(status_and_code(&app, ANY_USER, &mismatched).await.0, 401);
    // A local token (the server secret) is refused while OIDC is configured.
    assert_eq!(
        status_and_code(
            &app,
            ANY_USER,
            &crate::support::token("d-1", "dispatcher", None)
        )
        .await,
        (401, "local_tokens_refused".into())
    );
    app.stop().await;

    // CASELEDGER_LOCAL_TOKENS=allow: local tokens work beside OIDC; the confused token is still
    // refused (the HMAC key is the server secret, not the public key).
    let (app, _db) = spawn_oidc(
        TestDb::sqlite().await,
        issuer.settings(),
        LocalTokens::Allow,
    )
    .await;
    assert_eq!(
        status_and_code(
            &app,
            ANY_USER,
            &crate::support::token("d-1", "dispatcher", None)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        status_and_code(&app, ANY_USER, &confused).await,
        (401, "invalid_token".into())
    );
    let es256 = signed("ec-1", &claims(&issuer, "disp-1", &["dispatcher"], None));
    assert_eq!(status_and_code(&app, ANY_USER, &es256).await.0, 200);
    app.stop().await;
}

/// Keycloak's layout: roles at `realm_access.roles`, the organisation from a mapper claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_at_a_dotted_path_and_the_organisation_claim_map_to_the_actor() {
    let issuer = Issuer::start(&["ec-2"]).await;
    let mut settings = issuer.settings();
    settings.roles_claim = "realm_access.roles".into();
    settings.org_claim = "department".into();
    let (app, _db) = spawn_oidc(TestDb::sqlite().await, settings, LocalTokens::Refuse).await;
    let now = now();
    let token = signed(
        "ec-2",
        &json!({
            "iss": issuer.url, "aud": [AUDIENCE, "account"], "sub": "6f1c2a7e-handler",
            "iat": now, "exp": now + 300,
            "realm_access": {"roles": ["default-roles-district", "department_handler"]},
            "department": "dept-commerce",
            "roles": ["admin"],
        }),
    );
    // The roles come from realm_access.roles only (the top-level `roles` is not read), the
    // department from `department`.
    assert_eq!(
        status_and_code(&app, "/api/v1/queues/department/dept-commerce", &token)
            .await
            .0,
        200
    );
    assert_eq!(
        status_and_code(
            &app,
            "/api/v1/queues/department/dept-market-regulation",
            &token
        )
        .await,
        (403, "department_not_allowed".into())
    );
    assert_eq!(
        status_and_code(&app, "/api/v1/admin/revocations", &token).await,
        (403, "role_not_allowed".into())
    );
    app.stop().await;
}

/// The issuer rotates its key: a token of the new key makes the server fetch the keys again
/// and is accepted; a token of the removed key is refused. A flood of made-up key ids costs
/// the issuer at most one fetch per interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_is_followed_and_refetches_are_rate_limited() {
    let issuer = Issuer::start(&["rsa-1"]).await;
    let mut settings = issuer.settings();
    settings.min_refresh_interval = Duration::from_millis(1500);
    let (app, _db) = spawn_oidc(TestDb::sqlite().await, settings, LocalTokens::Refuse).await;
    let old = signed("rsa-1", &claims(&issuer, "disp-1", &["dispatcher"], None));
    assert_eq!(status_and_code(&app, ANY_USER, &old).await.0, 200);
    assert_eq!(issuer.fetches(), 1);

    // Made-up key ids, right after a fetch: all refused, no fetch at all.
    for n in 0..40 {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(format!("bogus-{n}"));
        let pem = std::fs::read(fixture("rsa-2.pem")).unwrap();
        let bogus = jsonwebtoken::encode(
            &header,
            &claims(&issuer, "x", &["dispatcher"], None),
            &EncodingKey::from_rsa_pem(&pem).unwrap(),
        )
        .unwrap();
        assert_eq!(status_and_code(&app, ANY_USER, &bogus).await.0, 401);
    }
    assert_eq!(
        issuer.fetches(),
        1,
        "bogus kids within the interval fetch nothing"
    );

    // Rotation: rsa-1 removed, rsa-2 added.
    issuer.publish(&["rsa-2"]);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let new = signed("rsa-2", &claims(&issuer, "disp-1", &["dispatcher"], None));
    assert_eq!(status_and_code(&app, ANY_USER, &new).await.0, 200);
    assert_eq!(issuer.fetches(), 2, "the unknown kid fetched the keys once");
    assert_eq!(
        status_and_code(&app, ANY_USER, &old).await,
        (401, "invalid_token".into()),
        "the removed key no longer verifies"
    );
    assert_eq!(status_and_code(&app, ANY_USER, &new).await.0, 200);

    // A flood over several intervals: at most one fetch per interval.
    let started = std::time::Instant::now();
    let before = issuer.fetches();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(2000) {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(format!("flood-{sent}"));
        let pem = std::fs::read(fixture("rsa-2.pem")).unwrap();
        let bogus = jsonwebtoken::encode(
            &header,
            &claims(&issuer, "x", &["dispatcher"], None),
            &EncodingKey::from_rsa_pem(&pem).unwrap(),
        )
        .unwrap();
        assert_eq!(status_and_code(&app, ANY_USER, &bogus).await.0, 401);
        sent += 1;
    }
    let made = issuer.fetches() - before;
    assert!(
        sent > 20 && made <= 2,
        "{sent} bogus tokens made {made} fetches"
    );
    app.stop().await;
}

/// Local tokens: `iat` required and not in the future, `exp − iat` within the maximum
/// lifetime, `nbf` honoured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_tokens_follow_the_lifetime_policy() {
    let db = TestDb::sqlite().await;
    let app = TestApp::spawn(db.db.clone()).await;
    let now = now();
    let local = |iat: Option<u64>, exp: u64, nbf: Option<u64>| {
        keys()
            .sign(&Claims {
                sub: "d-1".into(),
                roles: vec!["dispatcher".into()],
                org: None,
                exp,
                iat,
                nbf,
            })
            .unwrap()
    };
    let cases = [
        ("fine", local(Some(now), now + 3600, None), 200, ""),
        (
            "exactly the maximum",
            local(Some(now), now + 12 * 3600, None),
            200,
            "",
        ),
        (
            "100 years",
            local(Some(now), now + 100 * 365 * 86_400, None),
            401,
            "invalid_token",
        ),
        (
            "13 hours",
            local(Some(now), now + 13 * 3600, None),
            401,
            "invalid_token",
        ),
        (
            "no iat",
            local(None, now + 3600, None),
            401,
            "invalid_token",
        ),
        (
            "iat in the future",
            local(Some(now + 86_400), now + 86_400 + 60, None),
            401,
            "invalid_token",
        ),
        (
            "nbf in the future",
            local(Some(now), now + 3600, Some(now + 600)),
            401,
            "invalid_token",
        ),
        (
            "nbf passed",
            local(Some(now), now + 3600, Some(now - 1)),
            200,
            "",
        ),
        (
            "expired",
            local(Some(now - 7200), now - 3600, None),
            401,
            "token_expired",
        ),
    ];
    for (what, token, status, code) in cases {
        assert_eq!(
            status_and_code(&app, ANY_USER, &token).await,
            (status, code.to_owned()),
            "{what}"
        );
    }
    // Minting refuses what the server would refuse.
    assert!(keys()
        .mint("d-1", &["dispatcher".into()], None, now, 13 * 3600)
        .is_err());
    app.stop().await;
}

on_both!(a_revoked_subject_is_refused_by_every_server_until_it_signs_in_again);

/// An admin revokes alice: her tokens issued until then get 401 `token_revoked` from this server
/// and from a second server over the same database; a token issued afterwards works; the
/// revocation is an audited event; only admins revoke and list.
async fn a_revoked_subject_is_refused_by_every_server_until_it_signs_in_again(db: TestDb) {
    let first = TestApp::spawn(db.db.clone()).await;
    let second = TestApp::spawn(db.db.clone()).await;
    let admin = token("root-admin", "admin", None);
    let alice = token("alice", "dispatcher", None);
    let bob = token("bob", "dispatcher", None);
    for app in [&first, &second] {
        assert_eq!(status_and_code(app, ANY_USER, &alice).await.0, 200);
    }
    // Only an admin revokes.
    let refused = first
        .post(
            "/api/v1/admin/revocations",
            &alice,
            json!({"sub": "bob", "reason": "x"}),
        )
        .await;
    assert_eq!(json(refused, 403).await["code"], "role_not_allowed");
    let invalid = first
        .post(
            "/api/v1/admin/revocations",
            &admin,
            json!({"sub": "", "reason": " "}),
        )
        .await;
    assert_eq!(json(invalid, 422).await["code"], "validation_failed");

    let revoked = first
        .post(
            "/api/v1/admin/revocations",
            &admin,
            json!({"sub": "alice", "reason": "laptop stolen"}),
        )
        .await;
    assert_eq!(
        revoked.headers()["location"],
        "/api/v1/admin/revocations/alice"
    );
    let revoked = json(revoked, 201).await;
    let position = revoked["position"].as_i64().unwrap();
    for app in [&first, &second] {
        assert_eq!(
            status_and_code(app, ANY_USER, &alice).await,
            (401, "token_revoked".into())
        );
        assert_eq!(
            status_and_code(app, ANY_USER, &bob).await.0,
            200,
            "others unaffected"
        );
    }
    // A token issued after the revocation (a later second) works, on both servers.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = token("alice", "dispatcher", None);
    for app in [&first, &second] {
        assert_eq!(status_and_code(app, ANY_USER, &fresh).await.0, 200);
    }

    // The admins' listing (from the projection) and the audit trail.
    first
        .state
        .projector
        .wait_for("revocations", position, Duration::from_secs(10))
        .await
        .unwrap();
    let list = json(second.get("/api/v1/admin/revocations", &admin).await, 200).await;
    assert_eq!(list["items"][0]["sub"], "alice");
    assert_eq!(list["items"][0]["reason"], "laptop stolen");
    assert_eq!(list["items"][0]["revoked_by"], "root-admin");
    let one = json(
        second.get("/api/v1/admin/revocations/alice", &admin).await,
        200,
    )
    .await;
    assert_eq!(one["revocations"], 1);
    assert_eq!(
        json(
            second.get("/api/v1/admin/revocations/bob", &admin).await,
            404
        )
        .await["code"],
        "revocation_not_found"
    );
    assert_eq!(
        status_and_code(&second, "/api/v1/admin/revocations", &bob).await,
        (403, "role_not_allowed".into())
    );
    let auditor = token("aud-1", "auditor", None);
    let events = json(
        first
            .get(
                "/api/v1/audit/events?aggregate_type=SessionRevocation&purpose=revocation-review",
                &auditor,
            )
            .await,
        200,
    )
    .await;
    let event = &events["items"][0];
    assert_eq!(event["event_type"], "SessionsRevoked");
    assert_eq!(event["aggregate_id"], "alice");
    assert_eq!(event["actor"]["sub"], "root-admin");
    assert_eq!(
        event["payload"]["SessionsRevoked"]["reason"],
        "laptop stolen"
    );
    first.stop().await;
    second.stop().await;
}

/// `/metrics` and the detail of `/readyz` are for admins; probes get the bare status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_detail_is_for_admins_on_the_public_port() {
    let db = TestDb::sqlite().await;
    let app = TestApp::spawn(db.db.clone()).await;
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(json(metrics, 401).await["code"], "missing_token");
    assert_eq!(
        status_and_code(
            &app,
            "/metrics",
            &crate::support::token("d-1", "dispatcher", None)
        )
        .await,
        (403, "role_not_allowed".into())
    );
    assert!(app
        .metrics()
        .await
        .contains("caseledger_projection_lag_events"));

    let bare = json(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(bare, json!({"status": "ready"}));
    let detail = json(app.get("/readyz", &token("ops", "admin", None)).await, 200).await;
    assert_eq!(detail["database"], true);
    assert!(detail["projections"].as_array().unwrap().len() > 3);
    assert_eq!(
        status_and_code(
            &app,
            "/readyz",
            &crate::support::token("d-1", "dispatcher", None)
        )
        .await,
        (403, "role_not_allowed".into())
    );
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    app.stop().await;
}

/// With an admin listener, the public port shows no internals at all (no metrics even for an
/// admin, the bare readiness status), and the admin listener serves both without a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_listener_takes_the_operations_detail_off_the_public_port() {
    let db = TestDb::sqlite().await;
    let state = AppState::new(db.db.clone(), keys(), ReferenceData::defaults());
    let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (public_address, admin_address) =
        (public.local_addr().unwrap(), admin.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(caseledger_api::serve_with(
        public,
        Some(admin),
        state,
        caseledger_api::Protection::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    let admin_token = token("ops", "admin", None);

    let metrics = client
        .get(format!("http://{public_address}/metrics"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(json(metrics, 404).await["code"], "route_not_found");
    let ready = client
        .get(format!("http://{public_address}/readyz"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(json(ready, 200).await, json!({"status": "ready"}));

    let metrics = client
        .get(format!("http://{admin_address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics
        .text()
        .await
        .unwrap()
        .contains("caseledger_projection_lag_events"));
    let ready = json(
        client
            .get(format!("http://{admin_address}/readyz"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(ready["database"], true);
    assert!(ready["projections"].is_array());
    let health = client
        .get(format!("http://{admin_address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    // Both listeners stopped.
    assert!(client
        .get(format!("http://{admin_address}/healthz"))
        .send()
        .await
        .is_err());
}

/// Keys older than `refresh_every` are fetched again beside a request, which goes on with the
/// key held (the issuer is asked periodically, not only on an unknown key id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_keys_are_refreshed_periodically_without_holding_up_requests() {
    let issuer = Issuer::start(&["ec-1"]).await;
    let mut settings = issuer.settings();
    settings.refresh_every = Duration::from_millis(300);
    settings.min_refresh_interval = Duration::from_millis(100);
    let (app, _db) = spawn_oidc(TestDb::sqlite().await, settings, LocalTokens::Refuse).await;
    let token = signed("ec-1", &claims(&issuer, "disp-1", &["dispatcher"], None));
    assert_eq!(status_and_code(&app, ANY_USER, &token).await.0, 200);
    assert_eq!(issuer.fetches(), 1);
    assert_eq!(status_and_code(&app, ANY_USER, &token).await.0, 200);
    assert_eq!(issuer.fetches(), 1, "fresh keys are not fetched again");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(status_and_code(&app, ANY_USER, &token).await.0, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while issuer.fetches() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(issuer.fetches(), 2, "stale keys were fetched again");
    app.stop().await;
}

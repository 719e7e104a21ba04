//! Protection at the edge (issue 15 items 4, 6 and 9) over real HTTP: security headers and
//! CORS, request ids kept or replaced (and what lands in the stored metadata), rate limits per
//! client address (through trusted proxies too), on failed authentications and per nomination,
//! where a limited objection writes nothing. Timeouts and the connection cap are tested with
//! the real binary (`crates/caseledger-cli/tests/protection.rs`).

use std::time::Duration;

use caseledger_api::protection::{Limit, Origin, TrustedProxy};
use caseledger_api::{AppState, Protection, ReferenceData};
use serde_json::json;

use crate::on_both;
use crate::rewards::{
    add_pool, approved_program, command, nominate, ok, roles, through_committee, MONDAY,
};
use crate::support::{
    integers, json, keys, problem, registration, token, ManualClock, TestApp, TestDb,
};

on_both!(
    private_answers_are_not_stored_and_pages_may_not_be_framed,
    cors_is_closed_unless_an_origin_is_listed,
    request_ids_are_kept_only_when_short_and_printable,
    public_endpoints_are_limited_per_client_address,
    the_client_address_comes_from_trusted_proxies_only,
    failed_authentications_are_limited_per_client_address,
    objections_are_limited_per_nomination_and_a_limited_one_writes_nothing,
);

fn limit(text: &str) -> Limit {
    text.parse().unwrap()
}

async fn spawn(db: &TestDb, protection: Protection) -> TestApp {
    let state = AppState::new(db.db.clone(), keys(), ReferenceData::defaults());
    TestApp::spawn_protected(state, protection).await
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap())
}

async fn private_answers_are_not_stored_and_pages_may_not_be_framed(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));

    // A private answer, a refusal of a missing token, a private error.
    for response in [
        app.get("/api/v1/cases", &dispatcher).await,
        app.client
            .get(app.url("/api/v1/cases"))
            .send()
            .await
            .unwrap(),
        app.get("/api/v1/cases/not-a-case-id", &dispatcher).await,
    ] {
        assert_eq!(
            header(&response, "cache-control"),
            Some("no-store"),
            "{}",
            response.url()
        );
        assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
    }

    // A public JSON answer may be cached; nosniff all the same.
    let public = app
        .client
        .get(app.url("/api/v1/public/kpi?period=2026"))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 200);
    assert_eq!(header(&public, "cache-control"), None);
    assert_eq!(header(&public, "x-content-type-options"), Some("nosniff"));

    // HTML pages: their own policy kept and completed; no framing, no referrer.
    let docs = app.client.get(app.url("/docs")).send().await.unwrap();
    let page = app
        .client
        .get(app.url("/public/appraisals/no-such-campaign"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    for (response, kept) in [
        (&docs, "default-src 'none'; style-src 'unsafe-inline'"),
        (
            &page,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:",
        ),
    ] {
        assert!(header(response, "content-type")
            .unwrap()
            .starts_with("text/html"));
        let policy = header(response, "content-security-policy").unwrap();
        assert_eq!(
            policy,
            format!("{kept}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
            "{}",
            response.url()
        );
        assert_eq!(header(response, "x-frame-options"), Some("DENY"));
        assert_eq!(header(response, "referrer-policy"), Some("no-referrer"));
        assert_eq!(header(response, "x-content-type-options"), Some("nosniff"));
    }
    app.stop().await;
}

fn preflight(app: &TestApp, origin: &str) -> reqwest::RequestBuilder {
    app.client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/cases"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,idempotency-key",
        )
}

async fn cors_is_closed_unless_an_origin_is_listed(db: TestDb) {
    const LISTED: &str = "https://portal.example.cn";
    const UNLISTED: &str = "https://elsewhere.example.com";

    // Nothing configured: no origin is allowed, not even the one a deployment might list.
    let closed = spawn(&db, Protection::default()).await;
    let answer = preflight(&closed, LISTED).send().await.unwrap();
    assert!(answer
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert!(answer
        .headers()
        .get("access-control-allow-methods")
        .is_none());
    closed.stop().await;

    let open = spawn(
        &db,
        Protection {
            cors_origins: vec![LISTED.parse::<Origin>().unwrap()],
            ..Protection::default()
        },
    )
    .await;
    let allowed = preflight(&open, LISTED).send().await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some(LISTED)
    );
    let allowed_headers = header(&allowed, "access-control-allow-headers").unwrap();
    for name in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed_headers.contains(name), "{allowed_headers}");
    }
    assert!(header(&allowed, "access-control-allow-methods")
        .unwrap()
        .contains("POST"));

    let refused = preflight(&open, UNLISTED).send().await.unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    // A real request from the listed origin may be read by its page; from another, not.
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    for (origin, allowed) in [(LISTED, true), (UNLISTED, false)] {
        let response = open
            .client
            .get(open.url("/api/v1/cases"))
            .bearer_auth(&dispatcher)
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            allowed.then_some(origin)
        );
    }
    open.stop().await;
}

async fn request_ids_are_kept_only_when_short_and_printable(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let liaison = token("lo-1", "liaison_officer", None);
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    let good = "client-req_0042:batch/7";
    let longest = "r".repeat(64);
    let overlong = "r".repeat(65);
    let cases: [(&[u8], bool); 6] = [
        (good.as_bytes(), true),
        (longest.as_bytes(), true),
        (overlong.as_bytes(), false),
        (b"tab\there", false),
        (b"two words", false),
        ("caf\u{e9}-id".as_bytes(), false),
    ];
    for (sent, kept) in cases {
        let response = app
            .client
            .post(app.url("/api/v1/cases"))
            .bearer_auth(&liaison)
            .header(
                "x-request-id",
                reqwest::header::HeaderValue::from_bytes(sent).unwrap(),
            )
            .json(&registration("ent-0001"))
            .send()
            .await
            .unwrap();
        let answered = header(&response, "x-request-id").unwrap().to_owned();
        let created = json(response, 201).await;
        if kept {
            assert_eq!(answered.as_bytes(), sent);
        } else {
            assert_ne!(answered.as_bytes(), sent);
            assert!(
                uuid::Uuid::parse_str(&answered).is_ok(),
                "a new id is generated: {answered}"
            );
        }
        // The id the answer names is the one stored with the event.
        let history = json(
            app.get(
                &format!("/api/v1/cases/{}/history", created["id"].as_str().unwrap()),
                &dispatcher,
            )
            .await,
            200,
        )
        .await;
        let event = &history["events"][0];
        assert_eq!(event["event_type"], "CaseRegistered", "{history}");
        assert_eq!(event["request_id"], answered.as_str(), "{history}");
    }
    app.stop().await;
}

async fn public_endpoints_are_limited_per_client_address(db: TestDb) {
    let app = spawn(
        &db,
        Protection {
            rate_public: limit("3/min"),
            ..Protection::default()
        },
    )
    .await;
    let public = |forwarded: &'static str| {
        app.client
            .get(app.url("/api/v1/public/kpi?period=2026"))
            .header("x-forwarded-for", forwarded)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(public("198.51.100.1").await.unwrap().status(), 200);
    }
    // A made-up X-Forwarded-For from a peer that is no trusted proxy changes nothing.
    let limited = public("198.51.100.2").await.unwrap();
    let retry_after: u64 = header(&limited, "retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    let body = problem(limited, 429, "rate_limited").await;
    assert!(
        body["detail"].as_str().unwrap().contains("public"),
        "{body}"
    );
    // Every public endpoint shares the budget: the HTML page and the status lookup too.
    let page = app
        .client
        .get(app.url("/public/appraisals/some-campaign"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 429);
    let lookup = app
        .client
        .post(app.url("/api/v1/public/case-status"))
        .json(&json!({"case_number": "X", "verifier": "Y"}))
        .send()
        .await
        .unwrap();
    problem(lookup, 429, "rate_limited").await;
    // Private endpoints, the probes and the reference are not limited by it.
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    assert_eq!(app.get("/api/v1/cases", &dispatcher).await.status(), 200);
    for path in ["/healthz", "/openapi.json", "/docs"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    // Limited requests are counted like any other.
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            "caseledger_http_requests_total{route=\"/api/v1/public/kpi\",method=\"GET\",status=\"429\"} 1"
        ),
        "{metrics}"
    );
    app.stop().await;
}

async fn the_client_address_comes_from_trusted_proxies_only(db: TestDb) {
    // The test client connects from loopback, which plays the proxy here.
    let app = spawn(
        &db,
        Protection {
            rate_public: limit("2/min"),
            trusted_proxies: vec!["127.0.0.0/8".parse::<TrustedProxy>().unwrap()],
            ..Protection::default()
        },
    )
    .await;
    let public = |forwarded: &'static str| {
        app.client
            .get(app.url("/api/v1/public/kpi?period=2026"))
            .header("x-forwarded-for", forwarded)
            .send()
    };
    assert_eq!(public("198.51.100.1").await.unwrap().status(), 200);
    assert_eq!(public("198.51.100.1").await.unwrap().status(), 200);
    problem(public("198.51.100.1").await.unwrap(), 429, "rate_limited").await;
    // Another client behind the same proxy has its own budget.
    assert_eq!(public("198.51.100.2").await.unwrap().status(), 200);
    // A client cannot escape by writing its own first hop: the proxy appends the real one.
    problem(
        public("203.0.113.99, 198.51.100.1").await.unwrap(),
        429,
        "rate_limited",
    )
    .await;
    // Without the header the proxy itself is the client.
    for _ in 0..2 {
        let response = app
            .client
            .get(app.url("/api/v1/public/kpi?period=2026"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    app.stop().await;
}

async fn failed_authentications_are_limited_per_client_address(db: TestDb) {
    let app = spawn(
        &db,
        Protection {
            rate_auth_failures: limit("3/min"),
            ..Protection::default()
        },
    )
    .await;
    let forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.forged";
    for _ in 0..2 {
        problem(app.get("/api/v1/cases", forged).await, 401, "invalid_token").await;
    }
    let bare = app
        .client
        .get(app.url("/api/v1/cases"))
        .send()
        .await
        .unwrap();
    problem(bare, 401, "missing_token").await;
    // The budget is spent: the next failure is a 429 …
    let limited = app.get("/api/v1/cases", forged).await;
    assert!(header(&limited, "retry-after").is_some());
    problem(limited, 429, "rate_limited").await;
    // … and so is any request with credentials from that address, a valid token too, until
    // the budget has room again: a guessed token is not even looked at.
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    let body = problem(
        app.get("/api/v1/cases", &dispatcher).await,
        429,
        "rate_limited",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("authentication"),
        "{body}"
    );
    // Public endpoints and the probes stay open.
    let public = app
        .client
        .get(app.url("/api/v1/public/kpi?period=2026"))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 200);
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await;
}

async fn objections_are_limited_per_nomination_and_a_limited_one_writes_nothing(test_db: TestDb) {
    let clock = ManualClock::at(MONDAY);
    let state = AppState::new(test_db.db.clone(), keys(), ReferenceData::defaults())
        .with_clock(clock.clock());
    let app = TestApp::spawn_protected(
        state,
        Protection {
            rate_public: limit("off"),
            rate_objections: limit("2/h"),
            ..Protection::default()
        },
    )
    .await;
    let r = roles();
    add_pool(&app, &r).await;
    let program = approved_program(&app, &r, 1).await;
    let id = nominate(&app, &r, &program, "吴戊", "区智能制造园").await;
    through_committee(&app, &r, &id, 80).await;
    command(&app, &r.office, &id, "start-notice", json!({})).await;
    let file = |spelling: String| {
        app.client
            .post(app.url(&format!("/api/v1/public/nominations/{spelling}/objections")))
            .json(&json!({"grounds": "申报材料与事实不符"}))
            .send()
    };
    ok(file(id.clone()).await.unwrap()).await;
    let second = ok(file(id.clone()).await.unwrap()).await;

    let count = "SELECT count(*) FROM events";
    let before = integers(&test_db.db, count).await;
    // The same nomination, spelt as the handler would also accept it: limited, nothing written.
    for spelling in [id.clone(), id.to_uppercase()] {
        let limited = file(spelling).await.unwrap();
        assert!(header(&limited, "retry-after").is_some());
        let body = problem(limited, 429, "rate_limited").await;
        assert!(
            body["detail"].as_str().unwrap().contains("nomination"),
            "{body}"
        );
    }
    // Let any projection and audit-chain work settle, then count again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(integers(&test_db.db, count).await, before);

    // The two accepted objections are on record.
    let filed = ok(app
        .get(
            &format!(
                "/api/v1/nominations/{id}/objections?min_position={}",
                second["position"]
            ),
            &r.auditor,
        )
        .await)
    .await;
    assert_eq!(filed.as_array().unwrap().len(), 2);
    app.stop().await;
}

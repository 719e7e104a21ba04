//! Hardening under faults (issue 13): text the stores cannot hold, a database that goes away,
//! a full disk, and a shutdown in the middle of work.

use serde_json::json;

use crate::on_both;
use crate::support::{integers, problem, registration, token, TestApp, TestDb};

// A NUL character (U+0000) in any text is refused at the edge with 400 `invalid_text` on both
// stores (PostgreSQL's `jsonb` and `text` cannot hold it), and nothing is written.

async fn nul_character_in_body_query_path_or_public_lookup_is_400(test: TestDb) {
    let db = test.db.clone();
    let app = TestApp::spawn(test.db).await;
    let dispatcher = token("dora", "dispatcher", None);

    let mut body = registration("ent-nul");
    body["title"] = json!("融资\u{0}贴息");
    let refused = problem(
        app.post("/api/v1/cases", &dispatcher, body).await,
        400,
        "invalid_text",
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("title"),
        "the detail names the field: {refused}"
    );

    let mut body = registration("ent-nul");
    body["category"] = json!("financing\u{0}");
    problem(
        app.post("/api/v1/cases", &dispatcher, body).await,
        400,
        "invalid_text",
    )
    .await;

    problem(
        app.get("/api/v1/cases?department=dept%00commerce", &dispatcher)
            .await,
        400,
        "invalid_text",
    )
    .await;
    problem(
        app.get("/api/v1/cases?enterprise_id=ent%00x&limit=5", &dispatcher)
            .await,
        400,
        "invalid_text",
    )
    .await;
    problem(
        app.get("/api/v1/cases/0190a0b0-0000-7000-8000-00000000%0000", &dispatcher)
            .await,
        400,
        "invalid_text",
    )
    .await;

    // The anonymous public lookup.
    let lookup = app
        .client
        .post(app.url("/api/v1/public/case-status"))
        .json(&json!({"case_number": "CL-2026-\u{0}1", "verifier": "abc"}))
        .send()
        .await
        .unwrap();
    problem(lookup, 400, "invalid_text").await;
    let lookup = app
        .client
        .post(app.url("/api/v1/public/case-status"))
        .json(&json!({"case_number": "CL-2026-1", "verifier": "a\u{0}"}))
        .send()
        .await
        .unwrap();
    problem(lookup, 400, "invalid_text").await;

    assert_eq!(
        integers(&db, "SELECT count(*) FROM events").await,
        vec![0],
        "nothing is written"
    );

    // A backslash followed by `u0000` is plain text, not a NUL character.
    let mut body = registration("ent-nul");
    body["title"] = json!("path C:\\u0000 literally");
    let accepted = app.post("/api/v1/cases", &dispatcher, body).await;
    assert_eq!(accepted.status().as_u16(), 201);
    app.stop().await;
}

/// A PostgreSQL data error is never read as a SQLite result code: 22021 (a NUL byte in text) has
/// 5, `SQLITE_BUSY`, in its low byte, and used to answer 503. SQLite stores the text.
async fn data_error_is_not_unavailability(test: TestDb) {
    let result = test.db.cases_by_number("CL-\u{0}-1").await;
    match (&test.db, result) {
        (caseledger_store::Database::Postgres(_), Err(error)) => {
            assert!(!error.is_unavailable(), "{error} is a data error");
        }
        (caseledger_store::Database::Sqlite(_), Ok(cases)) => assert!(cases.is_empty()),
        (_, other) => panic!("unexpected: {other:?}"),
    }
}

on_both!(
    nul_character_in_body_query_path_or_public_lookup_is_400,
    data_error_is_not_unavailability
);

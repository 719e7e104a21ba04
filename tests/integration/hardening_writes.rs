//! Hardening of the write path (issue 13): unconditional commands re-decided instead of losing to
//! a concurrent append, idempotency answers recorded with the events, and the reward quota checked
//! in the transaction that appends the approval.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::on_both;
use crate::support::{json, registration, token, TestApp, TestDb};

on_both!(
    concurrent_unconditional_commands_on_one_case_all_commit,
    concurrent_commands_with_if_match_commit_once_and_the_rest_answer_409_or_412,
    a_committed_command_is_answered_2xx_when_the_database_fails_after_the_commit,
);

/// Commands on one case sent at once, each with its note text, and what each answered.
async fn concurrent_notes(
    app: &Arc<TestApp>,
    token: &str,
    case_id: &str,
    n: usize,
    if_match: Option<u64>,
) -> Vec<(usize, u16, Value)> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let app = app.clone();
        let token = token.to_owned();
        let url = app.url(&format!("/api/v1/cases/{case_id}/add-note"));
        tasks.spawn(async move {
            let mut request = app
                .client
                .post(url)
                .bearer_auth(&token)
                .json(&json!({"text": format!("note {i}")}));
            if let Some(version) = if_match {
                request = request.header("if-match", format!("\"{version}\""));
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (i, status, response.json::<Value>().await.unwrap())
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        answers.push(answer.unwrap());
    }
    answers
}

/// The note texts in a case's history, in order.
async fn notes_in_log(app: &TestApp, token: &str, case_id: &str) -> Vec<String> {
    let history = json(
        app.get(&format!("/api/v1/cases/{case_id}/history"), token)
            .await,
        200,
    )
    .await;
    let events = history["events"].as_array().unwrap();
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(
        sequences,
        (1..=events.len() as i64).collect::<Vec<_>>(),
        "sequence has a gap"
    );
    events
        .iter()
        .filter_map(|e| e["payload"]["InternalNoteAdded"]["text"].as_str())
        .map(str::to_owned)
        .collect()
}

async fn stop(app: Arc<TestApp>) {
    match Arc::try_unwrap(app) {
        Ok(app) => app.stop().await,
        Err(_) => panic!("app still shared"),
    }
}

/// Item 4: commands without `If-Match` that lose the race to a concurrent append are decided
/// again on the new state, inside the server: eight notes sent at once all answer 200, each
/// with its own version, and all eight are in the log. The retries are counted in `/metrics`.
async fn concurrent_unconditional_commands_on_one_case_all_commit(db: TestDb) {
    let app = Arc::new(TestApp::spawn(db.db.clone()).await);
    let dispatcher = token("disp-1", "dispatcher", None);
    let created = json(
        app.post("/api/v1/cases", &dispatcher, registration("ent-0001"))
            .await,
        201,
    )
    .await;
    let case_id = created["id"].as_str().unwrap().to_owned();

    // Several rounds, so that the race is met however the requests happen to interleave.
    let mut sent = BTreeSet::new();
    for round in 0..3 {
        let answers = concurrent_notes(&app, &dispatcher, &case_id, 8, None).await;
        let mut versions = BTreeSet::new();
        for (i, status, body) in answers {
            assert_eq!(status, 200, "round {round}, note {i}: {body}");
            assert!(versions.insert(body["version"].as_u64().unwrap()));
            sent.insert(format!("note {i}"));
        }
        assert_eq!(versions.len(), 8);
    }
    let logged = notes_in_log(&app, &dispatcher, &case_id).await;
    assert_eq!(logged.len(), 24, "every note is in the log once per round");
    assert_eq!(logged.iter().cloned().collect::<BTreeSet<_>>(), sent);

    let metrics = app.metrics().await;
    assert!(
        metrics.contains("# TYPE caseledger_command_retries_total counter"),
        "{metrics}"
    );
    stop(app).await;
}

/// Item 4: a command with `If-Match` is never retried: of eight notes sent at once with the
/// current version, exactly one commits and every other answers 412 `version_mismatch` or 409
/// `concurrent_modification`.
async fn concurrent_commands_with_if_match_commit_once_and_the_rest_answer_409_or_412(db: TestDb) {
    let app = Arc::new(TestApp::spawn(db.db.clone()).await);
    let dispatcher = token("disp-1", "dispatcher", None);
    let created = json(
        app.post("/api/v1/cases", &dispatcher, registration("ent-0001"))
            .await,
        201,
    )
    .await;
    let case_id = created["id"].as_str().unwrap().to_owned();
    let version = created["version"].as_u64().unwrap();

    let answers = concurrent_notes(&app, &dispatcher, &case_id, 8, Some(version)).await;
    let mut committed = 0;
    for (i, status, body) in answers {
        match status {
            200 => committed += 1,
            409 => assert_eq!(body["code"], "concurrent_modification", "note {i}"),
            412 => assert_eq!(body["code"], "version_mismatch", "note {i}"),
            other => panic!("note {i} answered {other}: {body}"),
        }
    }
    assert_eq!(committed, 1);
    assert_eq!(notes_in_log(&app, &dispatcher, &case_id).await.len(), 1);
    stop(app).await;
}

/// Item 17: the answer of a command with an `Idempotency-Key` is recorded with its events, in
/// the same transaction. With every write of the key's answer after the commit failing (a fault
/// armed for the key), the client still gets its 200, a retry with the key replays it, and the
/// log holds the command once.
async fn a_committed_command_is_answered_2xx_when_the_database_fails_after_the_commit(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let dispatcher = token("disp-1", "dispatcher", None);
    let created = json(
        app.post("/api/v1/cases", &dispatcher, registration("ent-0001"))
            .await,
        201,
    )
    .await;
    let case_id = created["id"].as_str().unwrap().to_owned();
    // The fault registry is shared by the tests of this process: one key per run.
    let key = format!("note-{}", uuid::Uuid::new_v4());
    caseledger_store::idempotency::fault::arm(&key);

    let send = || {
        app.client
            .post(app.url(&format!("/api/v1/cases/{case_id}/add-note")))
            .bearer_auth(&dispatcher)
            .header("idempotency-key", &key)
            .json(&json!({"text": "只记一次"}))
            .send()
    };
    let first = send().await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = json(first, 200).await;
    let retry = send().await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry = json(retry, 200).await;
    assert_eq!(retry, first);
    caseledger_store::idempotency::fault::disarm(&key);

    assert_eq!(
        notes_in_log(&app, &dispatcher, &case_id).await,
        vec!["只记一次".to_owned()]
    );
    app.stop().await;
}

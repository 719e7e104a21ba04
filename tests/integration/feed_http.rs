//! The feed over HTTP (issue 17 item 1): pages and Server-Sent Events in commit order, resumable
//! from any position, filtered by stream or event type, without personal fields for integrations,
//! and access-logged.

use serde_json::{json, Value};

use crate::on_both;
use crate::support::{json, problem, registration, token, TestApp, TestDb};

on_both!(
    the_feed_pages_the_log_in_order_without_personal_fields,
    the_feed_stream_resumes_after_the_last_event_id_and_sends_heartbeats,
);

fn subject(id: &str) -> Value {
    json!({
        "id": id, "name": format!("{id} 有限公司"), "kind": "private_enterprise",
        "industry": "biomedicine", "district_area": "中关村片区",
        "contact": {"person": "陈经理", "phone": "010-6512 3456", "email": "contact@example.cn"}
    })
}

/// A subject with contact data, a case for it, dispatched; returns the case and the position of
/// the dispatch.
async fn some_history(app: &TestApp) -> (String, i64) {
    let liaison = token("lo-1", "liaison_officer", None);
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    json(
        app.post("/api/v1/subjects", &liaison, subject("ent-0001"))
            .await,
        201,
    )
    .await;
    let case = json(
        app.post("/api/v1/cases", &dispatcher, registration("ent-0001"))
            .await,
        201,
    )
    .await;
    let case_id = case["id"].as_str().unwrap().to_owned();
    let dispatched = json(
        app.post(
            &format!("/api/v1/cases/{case_id}/dispatch"),
            &dispatcher,
            json!({"lead_department": "dept-commerce"}),
        )
        .await,
        200,
    )
    .await;
    (case_id, dispatched["position"].as_i64().unwrap())
}

/// The feed serves an event once every transaction before it has ended, cluster-wide on
/// PostgreSQL (other tests' databases share the cluster): waits until it has `position`.
async fn settled(app: &TestApp, who: &str, position: i64) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let all = page(app, who, "limit=1000").await;
        if all["next"].as_i64().unwrap() >= position {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feed never reached {position}: {all}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn page(app: &TestApp, who: &str, query: &str) -> Value {
    json(app.get(&format!("/api/v1/feed?{query}"), who).await, 200).await
}

fn positions(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["position"].as_i64().unwrap())
        .collect()
}

fn types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn feed_reads(db: &caseledger_store::Database) -> i64 {
    crate::support::integers(
        db,
        "SELECT count(*) FROM events WHERE event_type = 'PrivateDataRead' \
         AND CAST(payload AS TEXT) LIKE '%\"feed\"%'",
    )
    .await[0]
}

/// Every event in commit order, one page or one at a time alike; the subject's contact left out
/// for an integration and kept for an auditor; filters by stream and by event type; clear 400s
/// for an unknown type, a position the feed never gave and a limit out of range; 403 for a role
/// that may not follow; a page with personal data access-logged, one without not.
async fn the_feed_pages_the_log_in_order_without_personal_fields(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let integration = token("warehouse", "integration", None);
    let auditor = token("aud-1", "auditor", Some("dept-discipline"));
    let (case_id, dispatched) = some_history(&app).await;
    settled(&app, &integration, dispatched).await;

    let all = page(&app, &integration, "limit=1000&purpose=warehouse%20sync").await;
    let in_order = positions(&all);
    assert!(in_order.len() >= 3, "{all}");
    assert!(in_order.windows(2).all(|pair| pair[0] < pair[1]), "{all}");
    assert_eq!(all["next"], *in_order.last().unwrap());
    let registered = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["type"] == "SubjectRegistered")
        .unwrap();
    assert_eq!(registered["stream"], "Subject");
    assert_eq!(registered["stream_id"], "ent-0001");
    assert_eq!(registered["redacted"], true);
    let text = registered["payload"].to_string();
    assert!(
        !text.contains("6512") && !text.contains("contact@"),
        "{text}"
    );
    assert!(text.contains("ent-0001 有限公司"), "{text}");
    assert!(registered["hash"]
        .as_str()
        .is_some_and(|hash| hash.len() == 64));

    // One at a time gives the same events, each page resuming after the last; at the end an
    // empty page keeps the cursor (reading without personal data wrote nothing new).
    let mut after = 0;
    let mut one_by_one = Vec::new();
    loop {
        let next = page(&app, &integration, &format!("after={after}&limit=1")).await;
        let got = positions(&next);
        if got.is_empty() {
            assert_eq!(next["next"], after, "an empty page keeps the cursor");
            break;
        }
        assert!(
            one_by_one.len() < in_order.len(),
            "more events than the log had"
        );
        one_by_one.extend(got);
        after = next["next"].as_i64().unwrap();
    }
    assert_eq!(one_by_one, in_order);

    // The auditor gets the contact, and that read is recorded first; the integration's reads
    // of the same event are not, since they carry no personal data.
    let before = feed_reads(&db.db).await;
    page(&app, &integration, "types=SubjectRegistered").await;
    assert_eq!(feed_reads(&db.db).await, before);
    let auditor_page = page(
        &app,
        &auditor,
        "types=SubjectRegistered&purpose=spot%20check",
    )
    .await;
    let item = &auditor_page["items"][0];
    assert_eq!(item["redacted"], false);
    assert_eq!(
        item["payload"]["SubjectRegistered"]["contact"]["phone"],
        "010-6512 3456"
    );
    assert_eq!(
        feed_reads(&db.db).await,
        before + 1,
        "a personal read leaves an access event"
    );

    let cases_only = page(&app, &integration, "types=EnterpriseCase").await;
    assert!(!positions(&cases_only).is_empty());
    assert!(cases_only["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|item| item["stream"] == "EnterpriseCase" && item["stream_id"] == case_id.as_str()));
    let dispatches = page(&app, &integration, "types=CaseDispatched").await;
    assert_eq!(types(&dispatches), ["CaseDispatched"]);
    // A filter that skips everything still moves the cursor past what it looked at.
    let nothing = page(&app, &integration, "types=NominationApproved").await;
    assert!(positions(&nothing).is_empty());
    assert!(nothing["next"].as_i64().unwrap() >= *in_order.last().unwrap());

    problem(
        app.get("/api/v1/feed?types=CaseDispatchd", &integration)
            .await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.get("/api/v1/feed?after=987654321", &integration).await,
        400,
        "invalid_cursor",
    )
    .await;
    problem(
        app.get("/api/v1/feed?limit=0", &integration).await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.get(
            "/api/v1/feed",
            &token("disp-1", "dispatcher", Some("dept-business-environment")),
        )
        .await,
        403,
        "role_not_allowed",
    )
    .await;

    app.stop().await;
}

/// Reads SSE frames from `response` until `done` says enough, or fails after ten seconds.
async fn read_frames(
    response: &mut reqwest::Response,
    buffer: &mut String,
    done: impl Fn(&str) -> bool,
) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done(buffer) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("the stream stalled; so far:\n{buffer}"))
            .unwrap()
            .expect("the stream ended");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

fn ids(frames: &str) -> Vec<i64> {
    frames
        .lines()
        .filter_map(|line| {
            line.strip_prefix("id: ")
                .or_else(|| line.strip_prefix("id:"))
        })
        .map(|id| id.trim().parse().unwrap())
        .collect()
}

/// A stream opened with `Last-Event-ID` sends exactly the events after it, in order, then an
/// event committed while it is open, then heartbeats while nothing happens.
async fn the_feed_stream_resumes_after_the_last_event_id_and_sends_heartbeats(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let integration = token("warehouse", "integration", None);
    let (case_id, dispatched) = some_history(&app).await;
    settled(&app, &integration, dispatched).await;
    let cases = page(&app, &integration, "types=EnterpriseCase").await;
    let case_positions = positions(&cases);
    let first = case_positions[0];

    let mut response = app
        .client
        .get(app.url("/api/v1/feed/stream?types=EnterpriseCase&heartbeat_seconds=1"))
        .bearer_auth(&integration)
        .header("last-event-id", first.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut frames = String::new();
    let expected = case_positions[1..].to_vec();
    read_frames(&mut response, &mut frames, |frames| {
        ids(frames).len() >= expected.len()
    })
    .await;
    assert_eq!(ids(&frames), expected, "{frames}");
    assert!(frames.contains("event: CaseDispatched"), "{frames}");

    // A note added now arrives on the open stream.
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    let noted = json(
        app.post(
            &format!("/api/v1/cases/{case_id}/add-note"),
            &dispatcher,
            json!({"text": "已电话联系企业"}),
        )
        .await,
        200,
    )
    .await;
    let note_position = noted["position"].as_i64().unwrap();
    read_frames(&mut response, &mut frames, |frames| {
        ids(frames).contains(&note_position)
    })
    .await;
    let data: Value = serde_json::from_str(
        frames
            .lines()
            .rev()
            .find_map(|line| {
                line.strip_prefix("data: ")
                    .or_else(|| line.strip_prefix("data:"))
            })
            .unwrap(),
    )
    .unwrap();
    assert_eq!(data["position"], note_position);
    assert_eq!(data["stream_id"], case_id.as_str());

    frames.clear();
    read_frames(&mut response, &mut frames, |frames| {
        frames.contains(": heartbeat") || frames.contains(":heartbeat")
    })
    .await;

    problem(
        app.client
            .get(app.url("/api/v1/feed/stream"))
            .bearer_auth(&integration)
            .header("last-event-id", "not-a-position")
            .send()
            .await
            .unwrap(),
        400,
        "invalid_cursor",
    )
    .await;
    drop(response);
    app.stop().await;
}

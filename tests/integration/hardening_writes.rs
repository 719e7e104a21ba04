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
    concurrent_approvals_through_two_servers_never_exceed_the_quota,
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

// ---------------------------------------------------------------------------------------------
// Item 21: the reward quota, checked in the transaction that appends an approval.

/// Monday 2 March 2026, 10:00 in Beijing: a working day.
pub(crate) const MONDAY: &str = "2026-03-02T02:00:00Z";
/// Five working days later plus an hour.
const AFTER_NOTICE: &str = "2026-03-09T03:00:00Z";

/// A second handle on the same database, with its own pools: what a second `serve` process
/// has (on SQLite its own writer connection, so the two meet at the file's write lock).
async fn second_handle(db: &caseledger_store::Database) -> caseledger_store::Database {
    match db {
        caseledger_store::Database::Sqlite(store) => {
            let path = store.write.connect_options().get_filename().to_owned();
            caseledger_store::Database::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap()
        }
        caseledger_store::Database::Postgres(store) => {
            let options = (*store.write.connect_options()).clone();
            let pool = || {
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(16)
                    .connect_with(options.clone())
            };
            caseledger_store::Database::Postgres(caseledger_store::PgStore {
                read: pool().await.unwrap(),
                write: pool().await.unwrap(),
            })
        }
    }
}

async fn ok(response: reqwest::Response) -> Value {
    json(response, 200).await
}

async fn nomination_command(app: &TestApp, who: &str, id: &str, what: &str, body: Value) -> i64 {
    ok(app
        .post(&format!("/api/v1/nominations/{id}/{what}"), who, body)
        .await)
    .await["position"]
        .as_i64()
        .unwrap()
}

/// A program with `quota` and `n` nominations, each through eligibility, the reviewers' scores,
/// the committee and a closed notice: ready to approve. Returns the program and nominations.
pub(crate) async fn nominations_ready_to_approve(
    app: &TestApp,
    clock: &crate::support::ManualClock,
    quota: u32,
    n: usize,
) -> (String, Vec<String>) {
    let office = token("ro-chen", "reward_office", None);
    let authority = token("mayor-li", "approving_authority", None);
    let secretary = token("sec-wu", "panel_secretary", None);
    let members: Vec<String> = (1..=3)
        .map(|i| token(&format!("member-{i}"), "committee_member", None))
        .collect();
    for i in 1..=6 {
        json(
            app.post(
                "/api/v1/experts",
                &secretary,
                json!({"expert_id": format!("econ-{i}"), "name": format!("经济专家{i}"),
                       "disciplines": ["economics"], "employer_unit": format!("univ-{i}")}),
            )
            .await,
            201,
        )
        .await;
    }
    let program = json(
        app.post(
            "/api/v1/reward-programs",
            &office,
            json!({
                "title": "2026年度科技创新重奖", "cycle": "2026", "quota": quota,
                "tiers": [{"code": "first", "name": "一等奖", "min_amount": 100000, "max_amount": 200000}],
                "criteria": [
                    {"code": "contribution", "name": "经济贡献", "weight": 3, "min_score": 0, "max_score": 100},
                    {"code": "innovation", "name": "创新水平", "weight": 2, "min_score": 0, "max_score": 100}
                ],
                "trim": 1, "notice_working_days": 5, "reviewers": 3, "alternates": 2,
                "disciplines": ["economics"], "committee_size": 5, "committee_quorum": 3,
                "committee": ["member-1", "member-2", "member-3", "member-4", "member-5"],
                "reward_office_unit": "district-reward-office", "reward_office_staff": ["ro-chen"]
            }),
        )
        .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(app
        .post(
            &format!("/api/v1/reward-programs/{program}/approve"),
            &authority,
            json!({"document_number": "区委〔2026〕8号"}),
        )
        .await)
    .await;

    let mut nominations = Vec::new();
    for i in 0..n {
        let name = format!("候选人{i}");
        let id = json(
            app.post(
                "/api/v1/nominations",
                &office,
                json!({
                    "program_id": program,
                    "nominee": {"kind": "person", "name": name, "unit": "区新材料研究院",
                                "unit_id": "inst-materials"},
                    "summary": format!("{name}主持研发新型电池隔膜。"),
                    "contributions": [{"description": "新增产值", "quantity": 12000, "unit": "万元"}],
                    "evidence": ["区科〔2025〕31号"],
                    "reason": "贡献突出，成果已产业化"
                }),
            )
            .await,
            201,
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        nomination_command(
            app,
            &office,
            &id,
            "decide-eligibility",
            json!({"eligible": true, "checklist": [{"item": "在本区工作满两年", "passed": true}],
                   "reason": "材料齐全，条件符合"}),
        )
        .await;
        let position = nomination_command(app, &office, &id, "draw-reviewers", json!({})).await;
        let drawn = ok(app
            .get(
                &format!("/api/v1/nominations/{id}?min_position={position}"),
                &office,
            )
            .await)
        .await;
        let reviewers: Vec<String> = drawn["reviewers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["recused"].is_null())
            .map(|r| r["expert_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(reviewers.len(), 3);
        for (k, reviewer) in reviewers.iter().enumerate() {
            let score = 70 + 5 * k as i64;
            nomination_command(
                app,
                &token(reviewer, "expert", None),
                &id,
                "submit-scores",
                json!({"scores": {"contribution": {"score": score},
                                  "innovation": {"score": score - 4}}}),
            )
            .await;
        }
        nomination_command(app, &office, &id, "aggregate-scores", json!({})).await;
        for member in &members {
            nomination_command(app, member, &id, "cast-vote", json!({"in_favour": true})).await;
        }
        nomination_command(app, &office, &id, "tally-vote", json!({})).await;
        nomination_command(app, &office, &id, "start-notice", json!({})).await;
        nominations.push(id);
    }
    clock.set(AFTER_NOTICE);
    for id in &nominations {
        nomination_command(app, &office, id, "close-notice", json!({})).await;
    }
    (program, nominations)
}

/// Twelve nominations of a program with a quota of three, approved all at once through two
/// servers with their own connections to one database (two processes): exactly three are
/// approved, the nine others are refused with `quota_exceeded`, the log holds three approvals
/// and the program audit flags nothing.
async fn concurrent_approvals_through_two_servers_never_exceed_the_quota(db: TestDb) {
    let clock = crate::support::ManualClock::at(MONDAY);
    let first = Arc::new(TestApp::spawn_at(db.db.clone(), &clock).await);
    let (program, nominations) = nominations_ready_to_approve(&first, &clock, 3, 12).await;
    let second_db = second_handle(&db.db).await;
    let second = Arc::new(TestApp::spawn_at(second_db.clone(), &clock).await);

    let authority = token("mayor-li", "approving_authority", None);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, id) in nominations.iter().enumerate() {
        let app = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let (authority, id) = (authority.clone(), id.clone());
        tasks.spawn(async move {
            let response = app
                .post(
                    &format!("/api/v1/nominations/{id}/approve"),
                    &authority,
                    json!({"decision_number": format!("区政〔2026〕{i}号"), "tier": "first",
                           "amount": 150000, "reason": "评审通过，公示无异议"}),
                )
                .await;
            let status = response.status().as_u16();
            (id, status, response.json::<Value>().await.unwrap())
        });
    }
    let mut approved = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        let (id, status, body) = answer.unwrap();
        match status {
            200 => approved.push((id, body["position"].as_i64().unwrap())),
            422 => assert_eq!(body["code"], "quota_exceeded", "{id}: {body}"),
            other => panic!("{id} answered {other}: {body}"),
        }
    }
    assert_eq!(approved.len(), 3, "exactly the quota is approved");
    let in_log = crate::support::integers(
        &db.db,
        "SELECT count(*) FROM events WHERE event_type = 'NominationApproved'",
    )
    .await;
    assert_eq!(in_log, vec![3]);
    let approved_counts: BTreeSet<i64> = crate::support::integers(
        &db.db,
        "SELECT count(*) FROM events WHERE event_type = 'NominationApproved' GROUP BY aggregate_id",
    )
    .await
    .into_iter()
    .collect();
    assert_eq!(approved_counts, BTreeSet::from([1]));

    let auditor = token("inspector-sun", "auditor", None);
    let audit = ok(first
        .get(
            &format!("/api/v1/reward-programs/{program}/audit"),
            &auditor,
        )
        .await)
    .await;
    assert_eq!(audit["approvals"], 3);
    assert_eq!(audit["flag_count"], 0, "{audit:#}");

    stop(second).await;
    stop(first).await;
    second_db.close().await;
}

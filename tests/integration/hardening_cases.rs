//! Issue 13, the case loop under real HTTP: a reassignment or a rerouting return moves the case
//! in every view (case, queues, lists, visibility, KPIs); a merge into a case registered a
//! moment ago works before the view has it; queue reads take `min_position`; staff find a case
//! by its public number; a dispatcher re-issues a lost verifier.

use serde_json::{json, Value};

use crate::on_both;
use crate::support::{json, problem, registration, token, TestApp, TestDb};

on_both!(
    a_reassignment_moves_the_case_in_every_view,
    a_rerouting_return_moves_the_case_and_a_plain_return_unassigns_it,
    a_merge_into_a_case_registered_a_moment_ago_succeeds,
    queue_reads_take_min_position,
    staff_find_a_case_by_its_number_within_what_they_may_see,
    a_dispatcher_reissues_a_lost_verifier_and_the_old_one_stops_working,
);

const COMMERCE: &str = "dept-commerce";
const MARKET: &str = "dept-market-regulation";
const TAXATION: &str = "dept-taxation";

struct Staff {
    liaison: String,
    dispatcher: String,
    commerce: String,
    market: String,
    taxation: String,
}

fn staff() -> Staff {
    Staff {
        liaison: token("leader-li", "district_leader", None),
        dispatcher: token("disp-1", "dispatcher", Some("dept-business-environment")),
        commerce: token("handler-c", "department_handler", Some(COMMERCE)),
        market: token("handler-m", "department_handler", Some(MARKET)),
        taxation: token("handler-t", "department_handler", Some(TAXATION)),
    }
}

/// Registers a case; answers its id and the registration's answer.
async fn register(app: &TestApp, staff: &Staff) -> (String, Value) {
    let created = json(
        app.post("/api/v1/cases", &staff.liaison, registration("ent-0001"))
            .await,
        201,
    )
    .await;
    (created["id"].as_str().unwrap().to_owned(), created)
}

/// POSTs a command that must succeed; answers the feed position it wrote.
async fn command(app: &TestApp, id: &str, name: &str, token: &str, body: Value) -> i64 {
    let answer = json(
        app.post(&format!("/api/v1/cases/{id}/{name}"), token, body)
            .await,
        200,
    )
    .await;
    answer["position"].as_i64().unwrap()
}

async fn read(app: &TestApp, id: &str, token: &str, position: i64) -> reqwest::Response {
    app.get(
        &format!("/api/v1/cases/{id}?min_position={position}"),
        token,
    )
    .await
}

/// The case ids of a queue read (which must succeed).
async fn queue_ids(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let body = json(app.get(path, token).await, 200).await;
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn department_queue(
    app: &TestApp,
    department: &str,
    token: &str,
    position: i64,
) -> Vec<String> {
    queue_ids(
        app,
        &format!("/api/v1/queues/department/{department}?min_position={position}"),
        token,
    )
    .await
}

/// The case ids of a department's case list, as that department's handler sees it.
async fn listed(app: &TestApp, token: &str, position: i64) -> Vec<String> {
    let body = json(
        app.get(&format!("/api/v1/cases?min_position={position}"), token)
            .await,
        200,
    )
    .await;
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// This month in China Standard Time (the KPI period of a dispatch made now).
fn this_month() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m")
        .to_string()
}

async fn kpi_volume(app: &TestApp, department: &str, token: &str, position: i64) -> u64 {
    let body = json(
        app.get(
            &format!(
                "/api/v1/departments/{department}/kpi?period={}&min_position={position}",
                this_month()
            ),
            token,
        )
        .await,
        200,
    )
    .await;
    body["kpi"]["volume"].as_u64().unwrap()
}

/// Reassigned from commerce to market regulation: the case, the queues, the lists, who may read
/// it and the KPIs all follow the new lead; the co-department keeps its access.
async fn a_reassignment_moves_the_case_in_every_view(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let s = staff();
    let (id, _) = register(&app, &s).await;
    command(
        &app,
        &id,
        "dispatch",
        &s.dispatcher,
        json!({ "lead_department": COMMERCE, "co_departments": [TAXATION] }),
    )
    .await;
    let position = command(
        &app,
        &id,
        "reassign",
        &s.dispatcher,
        json!({ "lead_department": MARKET, "reason": "属市场监管职责" }),
    )
    .await;

    let case = json(read(&app, &id, &s.dispatcher, position).await, 200).await;
    assert_eq!(case["lead_department"], MARKET, "{case}");
    assert_eq!(case["co_departments"], json!([TAXATION]));
    assert_eq!(case["status"], "dispatched");
    assert_eq!(case["handling"]["reassignments"], 1);

    // The new lead reads it, finds it in its queue and list, and may accept it.
    let seen = json(read(&app, &id, &s.market, position).await, 200).await;
    assert_eq!(seen["lead_department"], MARKET);
    assert!(department_queue(&app, MARKET, &s.market, position)
        .await
        .contains(&id));
    assert!(listed(&app, &s.market, position).await.contains(&id));
    // The old lead no longer sees it anywhere.
    problem(
        read(&app, &id, &s.commerce, position).await,
        404,
        "case_not_found",
    )
    .await;
    assert!(!department_queue(&app, COMMERCE, &s.commerce, position)
        .await
        .contains(&id));
    assert!(!listed(&app, &s.commerce, position).await.contains(&id));
    // The co-department still assists.
    json(read(&app, &id, &s.taxation, position).await, 200).await;
    assert!(listed(&app, &s.taxation, position).await.contains(&id));

    // KPIs count the case for its current lead only.
    assert_eq!(kpi_volume(&app, MARKET, &s.dispatcher, position).await, 1);
    assert_eq!(kpi_volume(&app, COMMERCE, &s.dispatcher, position).await, 0);

    let accepted = command(&app, &id, "accept", &s.market, json!({})).await;
    let case = json(read(&app, &id, &s.market, accepted).await, 200).await;
    assert_eq!(case["status"], "accepted");
    assert_eq!(case["accepted_by"], "handler-m");
    app.stop().await;
}

/// A first return naming the competent department moves the case there (the domain reroutes
/// it); a return naming none leaves it with no department, on the dispatcher's unassigned list.
async fn a_rerouting_return_moves_the_case_and_a_plain_return_unassigns_it(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let s = staff();
    let (rerouted, _) = register(&app, &s).await;
    command(
        &app,
        &rerouted,
        "dispatch",
        &s.dispatcher,
        json!({ "lead_department": COMMERCE }),
    )
    .await;
    let position = command(
        &app,
        &rerouted,
        "return",
        &s.commerce,
        json!({ "reason": "属市场监管职责", "suggested_department": MARKET }),
    )
    .await;
    let case = json(read(&app, &rerouted, &s.dispatcher, position).await, 200).await;
    assert_eq!(case["lead_department"], MARKET, "{case}");
    assert_eq!(case["status"], "dispatched");
    assert_eq!(case["handling"]["returns"], 1);
    json(read(&app, &rerouted, &s.market, position).await, 200).await;
    assert!(department_queue(&app, MARKET, &s.market, position)
        .await
        .contains(&rerouted));
    problem(
        read(&app, &rerouted, &s.commerce, position).await,
        404,
        "case_not_found",
    )
    .await;
    assert!(!department_queue(&app, COMMERCE, &s.commerce, position)
        .await
        .contains(&rerouted));
    assert_eq!(kpi_volume(&app, MARKET, &s.dispatcher, position).await, 1);
    assert_eq!(kpi_volume(&app, COMMERCE, &s.dispatcher, position).await, 0);
    command(&app, &rerouted, "accept", &s.market, json!({})).await;

    // A return naming no department: back to the dispatcher, no department sees it.
    let (plain, _) = register(&app, &s).await;
    command(
        &app,
        &plain,
        "dispatch",
        &s.dispatcher,
        json!({ "lead_department": COMMERCE, "co_departments": [TAXATION] }),
    )
    .await;
    let position = command(
        &app,
        &plain,
        "return",
        &s.commerce,
        json!({ "reason": "不属于本部门" }),
    )
    .await;
    let case = json(read(&app, &plain, &s.dispatcher, position).await, 200).await;
    assert_eq!(case["status"], "registered");
    assert!(case["lead_department"].is_null(), "{case}");
    assert_eq!(case["co_departments"], json!([]));
    assert!(queue_ids(
        &app,
        &format!("/api/v1/queues/unassigned?min_position={position}"),
        &s.dispatcher
    )
    .await
    .contains(&plain));
    for handler in [&s.commerce, &s.taxation] {
        problem(
            read(&app, &plain, handler, position).await,
            404,
            "case_not_found",
        )
        .await;
    }
    assert!(!listed(&app, &s.commerce, position).await.contains(&plain));
    app.stop().await;
}

/// A case the 201 said exists can be merged into at once, before any projection has it (this
/// server runs no projections at all, so the view can never have it).
async fn a_merge_into_a_case_registered_a_moment_ago_succeeds(db: TestDb) {
    let app = TestApp::spawn_with(db.db.clone(), Vec::new()).await;
    let s = staff();
    let (duplicate, _) = register(&app, &s).await;
    let (original, _) = register(&app, &s).await;
    command(
        &app,
        &duplicate,
        "merge",
        &s.dispatcher,
        json!({ "into": original, "reason": "重复诉求" }),
    )
    .await;
    // An id no case has is still refused.
    let (other, _) = register(&app, &s).await;
    let refused = problem(
        app.post(
            &format!("/api/v1/cases/{other}/merge"),
            &s.dispatcher,
            json!({ "into": "0193a0a2-7c4e-7d1a-9b8e-000000000000", "reason": "重复" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "into");
    app.stop().await;
}

/// Every queue read waits for a command's position like the case reads do, and refuses a
/// position no event has.
async fn queue_reads_take_min_position(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let s = staff();
    let (waiting, _) = register(&app, &s).await;
    let (dispatched, _) = register(&app, &s).await;
    let position = command(
        &app,
        &dispatched,
        "dispatch",
        &s.dispatcher,
        json!({ "lead_department": COMMERCE }),
    )
    .await;
    assert!(department_queue(&app, COMMERCE, &s.commerce, position)
        .await
        .contains(&dispatched));
    assert!(queue_ids(
        &app,
        &format!("/api/v1/queues/unassigned?min_position={position}"),
        &s.dispatcher
    )
    .await
    .contains(&waiting));
    let overdue = queue_ids(
        &app,
        &format!("/api/v1/queues/overdue?department={COMMERCE}&min_position={position}"),
        &s.dispatcher,
    )
    .await;
    assert!(overdue.is_empty(), "nothing is overdue yet: {overdue:?}");
    for path in [
        format!("/api/v1/queues/department/{COMMERCE}?min_position=999999999"),
        "/api/v1/queues/unassigned?min_position=999999999".to_owned(),
        "/api/v1/queues/overdue?min_position=999999999".to_owned(),
    ] {
        let token = if path.contains("department/") {
            &s.commerce
        } else {
            &s.dispatcher
        };
        problem(app.get(&path, token).await, 400, "unknown_position").await;
    }
    app.stop().await;
}

/// The ids listed by `GET /cases?case_number=…` for `token` (which must succeed).
async fn by_number(app: &TestApp, number: &str, token: &str, position: i64) -> Vec<String> {
    let body = json(
        app.get(
            &format!("/api/v1/cases?case_number={number}&min_position={position}"),
            token,
        )
        .await,
        200,
    )
    .await;
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The number an enterprise reads out finds its case for staff who may see it, and for nobody
/// else (an empty list, never a hint that the number exists).
async fn staff_find_a_case_by_its_number_within_what_they_may_see(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let s = staff();
    let (first, receipt) = register(&app, &s).await;
    let first_number = receipt["case_number"].as_str().unwrap().to_owned();
    let other = json(
        app.post("/api/v1/cases", &s.liaison, registration("ent-0002"))
            .await,
        201,
    )
    .await;
    let other_number = other["case_number"].as_str().unwrap().to_owned();
    let position = command(
        &app,
        &first,
        "dispatch",
        &s.dispatcher,
        json!({ "lead_department": COMMERCE }),
    )
    .await;

    assert_eq!(
        by_number(&app, &first_number, &s.dispatcher, position).await,
        [first.as_str()]
    );
    // Read out over the phone and typed in lower case.
    assert_eq!(
        by_number(&app, &first_number.to_lowercase(), &s.dispatcher, position).await,
        [first.as_str()]
    );
    assert_eq!(
        by_number(&app, &other_number, &s.dispatcher, position).await,
        [other["id"].as_str().unwrap().to_owned()]
    );
    // Handlers: only their department's cases.
    assert_eq!(
        by_number(&app, &first_number, &s.commerce, position).await,
        [first.as_str()]
    );
    assert!(by_number(&app, &other_number, &s.commerce, position)
        .await
        .is_empty());
    assert!(by_number(&app, &first_number, &s.market, position)
        .await
        .is_empty());
    // Enterprises: only their own.
    let own = token("ent-user-1", "enterprise", Some("ent-0001"));
    let stranger = token("ent-user-2", "enterprise", Some("ent-0002"));
    assert_eq!(
        by_number(&app, &first_number, &own, position).await,
        [first.as_str()]
    );
    assert!(by_number(&app, &first_number, &stranger, position)
        .await
        .is_empty());
    assert!(by_number(&app, "C20000101-000000", &s.dispatcher, position)
        .await
        .is_empty());
    problem(
        app.get("/api/v1/cases?case_number=%20", &s.dispatcher)
            .await,
        400,
        "invalid_query",
    )
    .await;
    app.stop().await;
}

async fn lookup(app: &TestApp, number: &str, verifier: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/public/case-status"))
        .json(&json!({ "case_number": number, "verifier": verifier }))
        .send()
        .await
        .unwrap()
}

/// A lost verifier is re-issued by a dispatcher, shown once; the re-issue is an event holding
/// only the hash, and from then on only the new code opens the public lookup.
async fn a_dispatcher_reissues_a_lost_verifier_and_the_old_one_stops_working(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let s = staff();
    let (id, receipt) = register(&app, &s).await;
    let number = receipt["case_number"].as_str().unwrap().to_owned();
    let lost = receipt["verifier"].as_str().unwrap().to_owned();
    let position = receipt["position"].as_i64().unwrap();
    json(read(&app, &id, &s.dispatcher, position).await, 200).await;
    json(lookup(&app, &number, &lost).await, 200).await;

    let path = format!("/api/v1/cases/{id}/reissue-verifier");
    let reason = json!({ "reason": "企业遗失验证码，电话核实身份后补发" });
    let enterprise = token("ent-user-1", "enterprise", Some("ent-0001"));
    for refused in [&s.commerce, &enterprise, &s.liaison] {
        problem(
            app.post(&path, refused, reason.clone()).await,
            403,
            "role_not_allowed",
        )
        .await;
    }
    let reissued = json(app.post(&path, &s.dispatcher, reason.clone()).await, 200).await;
    let fresh = reissued["verifier"].as_str().unwrap().to_owned();
    assert_eq!(fresh.len(), 10);
    assert_ne!(fresh, lost);
    assert_eq!(reissued["case_number"], number.as_str());
    let position = reissued["position"].as_i64().unwrap();
    json(read(&app, &id, &s.dispatcher, position).await, 200).await;
    problem(lookup(&app, &number, &lost).await, 404, "case_not_found").await;
    let status = json(lookup(&app, &number, &fresh).await, 200).await;
    assert_eq!(status["status"], "registered");

    // The history records the re-issue with the hash only.
    let history = json(
        app.get(&format!("/api/v1/cases/{id}/history"), &s.dispatcher)
            .await,
        200,
    )
    .await;
    let last = history["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["event_type"], "VerifierReissued");
    assert_eq!(last["actor"]["sub"], "disp-1");
    let text = last.to_string();
    assert!(!text.contains(&fresh), "the code is never stored: {text}");
    assert_eq!(
        last["payload"]["VerifierReissued"]["verifier_sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );

    // A retry with the same Idempotency-Key replays the answer without a code, and issues none.
    let keyed = |key: &'static str| {
        app.client
            .post(app.url(&path))
            .bearer_auth(&s.dispatcher)
            .header("idempotency-key", key)
            .json(&reason)
    };
    let third = json(keyed("reissue-1").send().await.unwrap(), 200).await;
    let third_code = third["verifier"].as_str().unwrap().to_owned();
    let replay = json(keyed("reissue-1").send().await.unwrap(), 200).await;
    assert!(replay.get("verifier").is_none(), "{replay}");
    assert_eq!(replay["version"], third["version"]);
    json(
        read(
            &app,
            &id,
            &s.dispatcher,
            third["position"].as_i64().unwrap(),
        )
        .await,
        200,
    )
    .await;
    problem(lookup(&app, &number, &fresh).await, 404, "case_not_found").await;
    json(lookup(&app, &number, &third_code).await, 200).await;

    // Also after the case ended: the lookup stays useful.
    command(
        &app,
        &id,
        "withdraw",
        &s.dispatcher,
        json!({ "reason": "企业撤回" }),
    )
    .await;
    let late = json(app.post(&path, &s.dispatcher, reason.clone()).await, 200).await;
    json(
        read(&app, &id, &s.dispatcher, late["position"].as_i64().unwrap()).await,
        200,
    )
    .await;
    let ended = json(
        lookup(&app, &number, late["verifier"].as_str().unwrap()).await,
        200,
    )
    .await;
    assert_eq!(ended["status"], "withdrawn");
    app.stop().await;
}

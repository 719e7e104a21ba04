//! The whole case loop over real HTTP with a clock the test moves: deadlines from the SLA
//! policy and calendar, timers that fire exactly once (with two runners and after a restart),
//! escalation, the department and dispatcher queues, and the public status lookup.

use caseledger_api::{AppState, ReferenceData};
use caseledger_app::timers::fire_due_timers;
use serde_json::{json, Value};

use crate::on_both;
use crate::support::{json, keys, problem, registration, token, ManualClock, TestApp, TestDb};

on_both!(
    one_case_answered_in_time_the_other_escalated,
    timers_fire_once_with_two_runners_and_a_restart,
    loop_commands_answer_with_their_rules
);

/// Monday 23 November 2026, 09:00 in Beijing.
const MONDAY_MORNING: &str = "2026-11-23T01:00:00Z";

struct Staff {
    liaison: String,
    dispatcher: String,
    second_dispatcher: String,
    handler: String,
    head: String,
    enterprise: String,
}

fn staff() -> Staff {
    Staff {
        liaison: token("leader-li", "district_leader", None),
        dispatcher: token("disp-1", "dispatcher", Some("dept-business-environment")),
        second_dispatcher: token("disp-2", "dispatcher", Some("dept-business-environment")),
        handler: token("handler-1", "department_handler", Some("dept-commerce")),
        head: token("head-1", "department_head", Some("dept-commerce")),
        enterprise: token("ent-user-1", "enterprise", Some("ent-0001")),
    }
}

/// Registers a case raised on a leader's visit and dispatches it to commerce.
async fn registered_and_dispatched(app: &TestApp, staff: &Staff, title: &str) -> (String, Value) {
    let mut body = registration("ent-0001");
    body["title"] = json!(title);
    body["source"] = json!("leader_visit");
    let created = json(app.post("/api/v1/cases", &staff.liaison, body).await, 201).await;
    let id = created["id"].as_str().unwrap().to_owned();
    json(
        app.post(
            &format!("/api/v1/cases/{id}/dispatch"),
            &staff.dispatcher,
            json!({ "lead_department": "dept-commerce" }),
        )
        .await,
        200,
    )
    .await;
    (id, created)
}

async fn post_ok(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    json(app.post(path, token, body).await, 200).await
}

/// Reads a case once the view has every event written so far.
async fn read_case(app: &TestApp, id: &str, token: &str) -> Value {
    let last = crate::support::integers(&app.state.db, "SELECT max(position) FROM events").await;
    json(
        app.get(
            &format!("/api/v1/cases/{id}?min_position={}", last[0]),
            token,
        )
        .await,
        200,
    )
    .await
}

/// Fires due timers until none is left, projecting in between.
async fn settle_timers(state: &AppState) {
    for _ in 0..50 {
        state.projector.catch_up().await.unwrap();
        let pass = fire_due_timers(state).await.unwrap();
        if pass.due == 0 {
            return;
        }
    }
    panic!("timers did not settle");
}

/// The acceptance scenario: a leader's quarterly visit raises two problems, they are
/// dispatched, one is answered in time and rated, the other runs past its deadline and
/// escalates to the leader; the leader's overview and the department queue show exactly that.
async fn one_case_answered_in_time_the_other_escalated(db: TestDb) {
    let clock = ManualClock::at(MONDAY_MORNING);
    let app = TestApp::spawn_at(db.db.clone(), &clock).await;
    let staff = staff();

    // The enterprise, and the leader's portfolio with a quarterly visit obligation.
    json(
        app.post(
            "/api/v1/subjects",
            &staff.dispatcher,
            json!({
                "id": "ent-0001", "name": "中关村新材料有限公司", "kind": "private_enterprise",
                "contact": { "person": "陈经理", "phone": "010-6512 3456" }
            }),
        )
        .await,
        201,
    )
    .await;
    let portfolio = "/api/v1/portfolios/leader.leader-li";
    json(
        app.post(
            "/api/v1/portfolios",
            &staff.liaison,
            json!({ "owner_kind": "leader", "owner_id": "leader-li", "owner_name": "李副区长" }),
        )
        .await,
        201,
    )
    .await;
    post_ok(
        &app,
        &format!("{portfolio}/assign-subject"),
        &staff.liaison,
        json!({ "subject_id": "ent-0001", "obligation": "quarterly", "assigned_on": "2026-07-01" }),
    )
    .await;

    // The visit raises two problems; both are registered, dispatched and linked to the visit.
    let (answered, receipt) = registered_and_dispatched(&app, &staff, "贷款贴息兑现慢").await;
    let (late, _) = registered_and_dispatched(&app, &staff, "厂房消防验收排期过长").await;
    post_ok(
        &app,
        &format!("{portfolio}/record-visit"),
        &staff.liaison,
        json!({
            "subject_id": "ent-0001", "visited_on": "2026-11-23",
            "participants": ["李副区长", "区商务局"],
            "learned": "订单饱满；贴息兑现慢，新厂房消防验收排期长。",
            "case_ids": [answered, late]
        }),
    )
    .await;
    let case_number = receipt["case_number"].as_str().unwrap().to_owned();
    let verifier = receipt["verifier"].as_str().unwrap().to_owned();
    assert!(case_number.starts_with("C20261123-"), "{case_number}");
    assert_eq!(verifier.len(), 10);

    // Both are accepted the same morning.
    for id in [&answered, &late] {
        post_ok(
            &app,
            &format!("/api/v1/cases/{id}/accept"),
            &staff.handler,
            json!({}),
        )
        .await;
    }
    let late_case = read_case(&app, &late, &staff.dispatcher).await;
    let respond_due = late_case["respond_due"].as_str().unwrap().to_owned();
    assert_eq!(late_case["sla_policy_version"], "2026.2");
    assert!(late_case["overdue"].as_array().unwrap().is_empty());

    // The first is contacted, updated in public, answered, rated and closed in time.
    clock.set("2026-11-23T03:00:00Z");
    let path = |id: &str, command: &str| format!("/api/v1/cases/{id}/{command}");
    post_ok(
        &app,
        &path(&answered, "log-contact"),
        &staff.handler,
        json!({ "channel": "phone", "summary": "与企业财务总监电话沟通" }),
    )
    .await;
    post_ok(
        &app,
        &path(&answered, "post-update"),
        &staff.handler,
        json!({ "text": "已协调合作银行开辟绿色通道" }),
    )
    .await;
    post_ok(
        &app,
        &path(&answered, "respond"),
        &staff.handler,
        json!({
            "resolution": "resolved",
            "text": "贴息资金已拨付",
            "evidence": [{ "name": "拨付凭证.pdf", "sha256": "ab".repeat(32) }]
        }),
    )
    .await;
    post_ok(
        &app,
        &path(&answered, "rate"),
        &staff.enterprise,
        json!({ "satisfaction": 5, "resolved": true }),
    )
    .await;
    post_ok(
        &app,
        &path(&answered, "close"),
        &staff.dispatcher,
        json!({}),
    )
    .await;

    // The second runs past its response deadline: warnings, breach, escalation to the leader
    // in charge.
    let past_due =
        chrono::DateTime::parse_from_rfc3339(&respond_due).unwrap() + chrono::Duration::seconds(1);
    clock.set(&past_due.to_rfc3339());
    settle_timers(&app.state).await;
    let late_case = read_case(&app, &late, &staff.dispatcher).await;
    let alerts: Vec<(String, String)> = late_case["handling"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alert| {
            (
                alert["deadline"].as_str().unwrap().to_owned(),
                alert["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("respond", "warn50"),
        ("respond", "warn80"),
        ("respond", "breach"),
        ("respond", "escalation"),
        ("first_contact", "breach"),
    ] {
        assert!(
            alerts.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} missing from {alerts:?}"
        );
    }
    assert!(
        !alerts.iter().any(|(deadline, _)| deadline == "accept"),
        "acceptance was in time: {alerts:?}"
    );
    let overdue: Vec<&str> = late_case["overdue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kind| kind.as_str().unwrap())
        .collect();
    assert_eq!(overdue, ["first_contact", "respond"]);

    // The department queue and the dispatcher's overdue list show exactly that.
    let queue = json(
        app.get("/api/v1/queues/department/dept-commerce", &staff.handler)
            .await,
        200,
    )
    .await;
    let ids: Vec<&str> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [late.as_str()], "the closed case left the queue");
    assert_eq!(queue["overdue_count"], 1);
    let overdue_list = json(
        app.get("/api/v1/queues/overdue", &staff.dispatcher).await,
        200,
    )
    .await;
    assert_eq!(overdue_list["items"][0]["id"], late.as_str());
    assert_eq!(overdue_list["items"].as_array().unwrap().len(), 1);
    problem(
        app.get("/api/v1/queues/department/dept-taxation", &staff.handler)
            .await,
        403,
        "department_not_allowed",
    )
    .await;
    problem(
        app.get("/api/v1/queues/overdue", &staff.handler).await,
        403,
        "role_not_allowed",
    )
    .await;

    // The enterprise sees its case with the public update.
    let own = read_case(&app, &answered, &staff.enterprise).await;
    assert_eq!(own["public_updates"][0]["department"], "dept-commerce");
    assert!(
        own.get("handling").is_none(),
        "no handling detail for the enterprise"
    );
    assert!(own.get("accepted_by").is_none());

    // The public lookup: status and public updates under the department's name, nothing else.
    let lookup = app
        .client
        .post(app.url("/api/v1/public/case-status"))
        .json(&json!({ "case_number": case_number, "verifier": verifier.to_lowercase() }))
        .send()
        .await
        .unwrap();
    let public = json(lookup, 200).await;
    assert_eq!(public["status"], "closed");
    assert_eq!(public["public_updates"][0]["department"], "区商务局");
    let text = public.to_string();
    for private in [
        "handler-1",
        "head-1",
        "leader-li",
        "ent-0001",
        "陈经理",
        "6512",
        "贴息资金已拨付",
        "财务总监",
    ] {
        assert!(!text.contains(private), "{private} leaked: {text}");
    }
    let keys: Vec<&String> = public.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "case_number",
            "public_updates",
            "registered_on",
            "status",
            "updated_at"
        ]
    );
    for wrong in [
        json!({ "case_number": case_number, "verifier": "AAAAAAAAAA" }),
        json!({ "case_number": "C20990101-000000", "verifier": verifier }),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/public/case-status"))
            .json(&wrong)
            .send()
            .await
            .unwrap();
        problem(response, 404, "case_not_found").await;
    }

    // The escalation was recorded once, however often the runner passes.
    for _ in 0..3 {
        fire_due_timers(&app.state).await.unwrap();
    }
    let escalations = crate::support::integers(
        &db.db,
        &format!(
            "SELECT count(*) FROM events WHERE aggregate_id = '{late}' AND event_type = 'CaseEscalated'"
        ),
    )
    .await;
    assert_eq!(escalations, [1]);

    // The escalation went to the leader whose portfolio holds the enterprise, and the leader's
    // overview shows the visit done, one open case overdue and escalated, one closed and rated.
    let escalation = late_case["handling"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|alert| alert["kind"] == "escalation")
        .unwrap()
        .clone();
    assert_eq!(escalation["leaders"], json!(["leader-li"]));
    let overview = json(
        app.get(&format!("{portfolio}/overview"), &staff.liaison)
            .await,
        200,
    )
    .await;
    assert_eq!(
        overview["visits_due"],
        json!([]),
        "visited this quarter: {overview}"
    );
    let open: Vec<&str> = overview["open_cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| case["id"].as_str().unwrap())
        .collect();
    assert_eq!(open, [late.as_str()]);
    assert_eq!(overview["overdue_cases"], 1);
    assert_eq!(overview["escalated_cases"], 1);
    assert_eq!(overview["open_cases"][0]["escalated"], true);
    assert_eq!(overview["closed_cases"][0]["id"], answered.as_str());
    assert_eq!(overview["closed_cases"][0]["satisfaction"], 5);
    assert_eq!(overview["closed_cases"].as_array().unwrap().len(), 1);

    // The server ran the cases' later commands from its in-memory aggregate cache, and the log
    // still decided each one: every answer above is what the log gives.
    let metrics = app.metrics().await;
    let cache = |outcome: &str| -> u64 {
        let prefix = format!("caseledger_aggregate_cache_total{{outcome=\"{outcome}\"}} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {outcome} count in /metrics"))
            .parse()
            .unwrap()
    };
    assert!(cache("hit") >= 5, "{metrics}");
    assert!(cache("miss") >= 1, "{metrics}");
    app.stop().await;
}

async fn timers_fire_once_with_two_runners_and_a_restart(db: TestDb) {
    let clock = ManualClock::at(MONDAY_MORNING);
    let app = TestApp::spawn_at(db.db.clone(), &clock).await;
    let staff = staff();
    let mut cases = Vec::new();
    for n in 0..3 {
        cases.push(
            registered_and_dispatched(&app, &staff, &format!("诉求 {n}"))
                .await
                .0,
        );
    }
    app.state.projector.catch_up().await.unwrap();

    // A second process on the same database, with its own clock reading the same time.
    let second =
        AppState::new(db.db.clone(), keys(), ReferenceData::defaults()).with_clock(clock.clock());

    // Halfway to acceptance: the 50% warnings are due. Both runners race for them.
    clock.set("2026-11-23T06:00:00Z");
    for _ in 0..20 {
        let (a, b) = tokio::join!(fire_due_timers(&app.state), fire_due_timers(&second));
        a.unwrap();
        b.unwrap();
        app.state.projector.catch_up().await.unwrap();
    }

    // A restart: a third state with nothing in memory, then every deadline passes.
    let restarted =
        AppState::new(db.db.clone(), keys(), ReferenceData::defaults()).with_clock(clock.clock());
    clock.set("2027-06-01T00:00:00Z");
    for _ in 0..30 {
        let (a, b) = tokio::join!(fire_due_timers(&restarted), fire_due_timers(&second));
        a.unwrap();
        b.unwrap();
        restarted.projector.catch_up().await.unwrap();
    }
    settle_timers(&restarted).await;

    for id in &cases {
        let counts = crate::support::integers(
            &db.db,
            &format!(
                "SELECT count(*) FROM events WHERE aggregate_id = '{id}' \
                 AND event_type IN ('DeadlineWarning', 'DeadlineBreached', 'CaseEscalated') \
                 GROUP BY event_type ORDER BY event_type"
            ),
        )
        .await;
        // CaseEscalated: respond and resolve; DeadlineBreached: four deadlines;
        // DeadlineWarning: two per deadline.
        assert_eq!(counts, [2, 4, 8], "case {id}");
        let distinct = crate::support::integers(
            &db.db,
            &format!(
                "SELECT count(DISTINCT CAST(payload AS text)) FROM events WHERE aggregate_id = '{id}' \
                 AND event_type = 'DeadlineWarning'"
            ),
        )
        .await;
        assert_eq!(distinct, [8]);
    }
    let pending = crate::support::integers(&db.db, "SELECT count(*) FROM case_timers").await;
    assert_eq!(pending, [0]);
    app.stop().await;
}

async fn loop_commands_answer_with_their_rules(db: TestDb) {
    let clock = ManualClock::at(MONDAY_MORNING);
    let app = TestApp::spawn_at(db.db.clone(), &clock).await;
    let staff = staff();
    let (id, _) = registered_and_dispatched(&app, &staff, "用地指标").await;
    let path = |command: &str| format!("/api/v1/cases/{id}/{command}");

    // The dispatcher who dispatched may not exempt; another may.
    problem(
        app.post(
            &path("grant-exemption"),
            &staff.dispatcher,
            json!({ "reason": "unreasonable_request", "text": "超出职责" }),
        )
        .await,
        403,
        "exemption_by_decider",
    )
    .await;
    problem(
        app.post(
            &path("grant-exemption"),
            &staff.second_dispatcher,
            json!({ "reason": "no_such_reason", "text": "x" }),
        )
        .await,
        400,
        "invalid_body",
    )
    .await;

    // Extensions: before acceptance refused; over the cap refused with what remains.
    problem(
        app.post(
            &path("request-extension"),
            &staff.handler,
            json!({ "amount": 1, "reason": "需要会商" }),
        )
        .await,
        422,
        "case_not_accepted",
    )
    .await;
    post_ok(&app, &path("accept"), &staff.handler, json!({})).await;
    problem(
        app.post(
            &path("return"),
            &staff.handler,
            json!({ "reason": "不属于本部门" }),
        )
        .await,
        422,
        "case_already_accepted",
    )
    .await;
    let over = problem(
        app.post(
            &path("request-extension"),
            &staff.handler,
            json!({ "amount": 999, "reason": "需要会商" }),
        )
        .await,
        422,
        "extension_over_cap",
    )
    .await;
    assert!(
        over["detail"].as_str().unwrap().contains("working_days"),
        "{over}"
    );
    post_ok(
        &app,
        &path("request-extension"),
        &staff.handler,
        json!({ "amount": 2, "reason": "需要会商" }),
    )
    .await;
    let before = read_case(&app, &id, &staff.dispatcher).await;
    post_ok(
        &app,
        &path("decide-extension"),
        &staff.dispatcher,
        json!({ "approve": true, "reason": "同意" }),
    )
    .await;
    let after = read_case(&app, &id, &staff.dispatcher).await;
    assert!(
        after["respond_due"].as_str().unwrap() > before["respond_due"].as_str().unwrap(),
        "the extension moved the response deadline: {before} -> {after}"
    );
    assert_eq!(after["handling"]["extensions_granted"], 1);

    // Pause: asked by the department, approved by the dispatcher; the clock stops.
    post_ok(
        &app,
        &path("request-pause"),
        &staff.handler,
        json!({ "reason": "等待企业补充材料" }),
    )
    .await;
    post_ok(
        &app,
        &path("decide-pause"),
        &staff.dispatcher,
        json!({ "approve": true, "reason": "同意" }),
    )
    .await;
    let paused = read_case(&app, &id, &staff.dispatcher).await;
    assert_eq!(paused["status"], "paused");
    assert!(paused["next_due"].is_null());
    problem(
        app.post(
            &path("respond"),
            &staff.handler,
            json!({ "resolution": "resolved", "text": "已办结" }),
        )
        .await,
        422,
        "clock_paused",
    )
    .await;
    clock.set("2026-11-24T01:00:00Z");
    post_ok(&app, &path("resume"), &staff.handler, json!({})).await;

    // Evidence hashes are checked; a bad one lists the field.
    let invalid = problem(
        app.post(
            &path("respond"),
            &staff.handler,
            json!({ "resolution": "resolved", "text": "已办结", "evidence": [{ "name": "x", "sha256": "xyz" }] }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(invalid["errors"][0]["field"], "evidence[0].sha256");
    post_ok(
        &app,
        &path("respond"),
        &staff.handler,
        json!({ "resolution": "resolved", "text": "已办结" }),
    )
    .await;

    // Appeals: only after a rating, only by the head; the rating stands.
    problem(
        app.post(
            &path("appeal"),
            &staff.head,
            json!({ "reason": "政策所限" }),
        )
        .await,
        422,
        "no_rating_yet",
    )
    .await;
    post_ok(
        &app,
        &path("rate"),
        &staff.enterprise,
        json!({ "satisfaction": 1, "resolved": false }),
    )
    .await;
    problem(
        app.post(
            &path("appeal"),
            &staff.handler,
            json!({ "reason": "政策所限" }),
        )
        .await,
        403,
        "role_not_allowed",
    )
    .await;
    post_ok(
        &app,
        &path("appeal"),
        &staff.head,
        json!({ "reason": "政策所限" }),
    )
    .await;
    post_ok(
        &app,
        &path("decide-appeal"),
        &staff.second_dispatcher,
        json!({ "upheld": true, "reason": "诉求超出政策" }),
    )
    .await;
    let appealed = read_case(&app, &id, &staff.dispatcher).await;
    assert_eq!(
        appealed["rating"]["satisfaction"], 1,
        "the rating never changes"
    );
    assert_eq!(appealed["handling"]["appeal"], "upheld");

    // Reopen: a new cycle; merge into itself refused; merge into an unknown case refused.
    post_ok(&app, &path("close"), &staff.dispatcher, json!({})).await;
    post_ok(
        &app,
        &path("reopen"),
        &staff.dispatcher,
        json!({ "reason": "问题复发" }),
    )
    .await;
    let reopened = read_case(&app, &id, &staff.dispatcher).await;
    assert_eq!(reopened["status"], "accepted");
    assert_eq!(reopened["cycle"], 2);
    assert!(reopened["rating"].is_null());
    problem(
        app.post(
            &path("merge"),
            &staff.dispatcher,
            json!({ "into": id, "reason": "重复" }),
        )
        .await,
        422,
        "merge_into_self",
    )
    .await;
    problem(
        app.post(
            &path("merge"),
            &staff.dispatcher,
            json!({ "into": "0193a0a2-7c4e-7d1a-9b8e-000000000000", "reason": "重复" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;

    // Withdrawal after dispatch is flagged for a quality check.
    post_ok(
        &app,
        &path("withdraw"),
        &staff.enterprise,
        json!({ "reason": "已自行解决" }),
    )
    .await;
    let withdrawn = read_case(&app, &id, &staff.dispatcher).await;
    assert_eq!(withdrawn["status"], "withdrawn");
    assert_eq!(withdrawn["handling"]["quality_check"], true);
    problem(
        app.post(
            &path("log-contact"),
            &staff.handler,
            json!({ "channel": "phone", "summary": "x" }),
        )
        .await,
        422,
        "case_ended",
    )
    .await;
    app.stop().await;
}

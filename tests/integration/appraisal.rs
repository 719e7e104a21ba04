//! Department KPIs (kpi.v1) and public appraisal campaigns (appraisal.v1) over real HTTP with a
//! clock the test moves, on SQLite and PostgreSQL:
//! - the KPI formulas on cases driven through every scoring rule (exemption, upheld appeal,
//!   pause, a deadline across the National Day holiday, return, withdrawal after dispatch,
//!   reopen, extension), against figures computed by hand in the comments;
//! - the campaign rules over HTTP, and the acceptance scenario: four departments, three rater
//!   groups, results published, the report equal to a hand computation, recomputable from the
//!   events, and no private field in the public JSON, CSV or page;
//! - the public page in a real headless Chromium, offline (content, no request leaving
//!   loopback, and a phone-sized screenshot kept under `target/artifacts/`; see `browser.rs`).

use std::collections::BTreeMap;

use caseledger_domain::appraisal::{compute_results, AppraisalCampaign, AppraisalEvent};
use caseledger_store::Backend;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::on_both;
use crate::support::{integers, json, problem, token, ManualClock, TestApp, TestDb};

on_both!(
    kpi_formulas_match_a_hand_computation,
    kpi_reads_check_their_input_and_readers,
    campaign_commands_answer_with_their_rules,
    four_departments_three_groups_published_as_computed_by_hand,
    public_page_renders_in_headless_chromium,
);

const COMMERCE: &str = "dept-commerce";
const MARKET: &str = "dept-market-regulation";
const HR: &str = "dept-human-resources";
const LAND: &str = "dept-natural-resources";

struct Staff {
    liaison: String,
    dispatcher: String,
    second_dispatcher: String,
    enterprise: String,
}

fn staff() -> Staff {
    Staff {
        liaison: token("leader-li", "district_leader", None),
        dispatcher: token("disp-1", "dispatcher", Some("dept-business-environment")),
        second_dispatcher: token("disp-2", "dispatcher", Some("dept-business-environment")),
        enterprise: token("ent-user-1", "enterprise", Some("ent-0001")),
    }
}

fn handler(department: &str) -> String {
    token(
        &format!("handler-{department}"),
        "department_handler",
        Some(department),
    )
}

fn head(department: &str) -> String {
    token(
        &format!("head-{department}"),
        "department_head",
        Some(department),
    )
}

/// A server with a clock, and a way to run case commands at a given instant.
struct World {
    app: TestApp,
    clock: ManualClock,
    staff: Staff,
}

impl World {
    async fn new(db: &TestDb, at: &str) -> Self {
        let clock = ManualClock::at(at);
        let app = TestApp::spawn_at(db.db.clone(), &clock).await;
        Self {
            app,
            clock,
            staff: staff(),
        }
    }

    /// POSTs at `at` and expects 200 (201 for creations). The timer runner works in the
    /// background, so a command racing one of its events is retried on 409.
    async fn post(&self, at: &str, path: &str, token: &str, body: Value) -> Value {
        self.clock.set(at);
        for _ in 0..5 {
            let response = self.app.post(path, token, body.clone()).await;
            let status = response.status().as_u16();
            if status == 409 {
                let text = response.text().await.unwrap();
                assert!(text.contains("concurrent_modification"), "{path}: {text}");
                continue;
            }
            return json(response, if status == 201 { 201 } else { 200 }).await;
        }
        panic!("{path} kept conflicting");
    }

    async fn case_command(&self, at: &str, id: &str, command: &str, token: &str, body: Value) {
        self.post(at, &format!("/api/v1/cases/{id}/{command}"), token, body)
            .await;
    }

    /// Registers a case (category `general`: accept 1, respond 3, resolve 15 working days) and
    /// dispatches it to `department` at `at`.
    async fn dispatched(&self, at: &str, department: &str) -> String {
        let created = self
            .post(
                at,
                "/api/v1/cases",
                &self.staff.liaison,
                json!({
                    "enterprise_id": "ent-0001", "title": "经营许可办理慢",
                    "description": "企业反映许可证办理时间长。", "category": "general",
                    "urgency": "normal", "source": "hotline"
                }),
            )
            .await;
        let id = created["id"].as_str().unwrap().to_owned();
        self.case_command(
            at,
            &id,
            "dispatch",
            &self.staff.dispatcher,
            json!({ "lead_department": department }),
        )
        .await;
        id
    }

    /// Accept, respond and (optionally) rate at the given instants.
    async fn handled(
        &self,
        id: &str,
        department: &str,
        accept_at: &str,
        respond_at: &str,
        rating: Option<(&str, u8, bool)>,
    ) {
        let handler = handler(department);
        self.case_command(accept_at, id, "accept", &handler, json!({}))
            .await;
        self.case_command(
            respond_at,
            id,
            "respond",
            &handler,
            json!({ "resolution": "resolved", "text": "已办理并答复企业。" }),
        )
        .await;
        if let Some((at, satisfaction, resolved)) = rating {
            self.case_command(
                at,
                id,
                "rate",
                &self.staff.enterprise,
                json!({ "satisfaction": satisfaction, "resolved": resolved }),
            )
            .await;
        }
    }

    async fn latest_position(&self) -> i64 {
        integers(&self.app.state.db, "SELECT max(position) FROM events").await[0]
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let separator = if path.contains('?') { '&' } else { '?' };
        let path = format!(
            "{path}{separator}min_position={}",
            self.latest_position().await
        );
        json(self.app.get(&path, token).await, 200).await
    }
}

fn ratio(value: &Value) -> (u64, u64) {
    (
        value["numerator"].as_u64().unwrap(),
        value["denominator"].as_u64().unwrap(),
    )
}

/// Eight cases of 2026-Q4, seven led by commerce at the end, one rerouted to market regulation.
/// The comments give each case's facts; the expected figures are computed by hand below.
async fn kpi_formulas_match_a_hand_computation(db: TestDb) {
    // Case E first: dispatched on Thursday 1 October 2026, 09:00 Beijing, inside the National
    // Day holiday (1–7 October; Saturday 10 October is a make-up working day).
    let world = World::new(&db, "2026-10-01T01:00:00Z").await;
    let s = &world.staff;
    let e = world.dispatched("2026-10-01T01:00:00Z", COMMERCE).await;
    let case_e = world
        .get(&format!("/api/v1/cases/{e}"), &s.dispatcher)
        .await;
    // The clock starts on Thursday 8 October: acceptance due at the end of the 8th, response
    // (3 working days: 8th, 9th and the make-up Saturday 10th) at the start of Monday 12th.
    assert_eq!(
        case_e["accept_due"], "2026-10-08T16:00:00.000000Z",
        "{case_e}"
    );
    assert_eq!(
        case_e["respond_due"], "2026-10-11T16:00:00.000000Z",
        "{case_e}"
    );
    // Accepted 8 Oct 10:00, answered 9 Oct 10:00: on time only because the holiday does not
    // count (a calendar-day count would have made the answer due on 4 October).
    world
        .handled(
            &e,
            COMMERCE,
            "2026-10-08T02:00:00Z",
            "2026-10-09T02:00:00Z",
            Some(("2026-10-09T03:00:00Z", 5, true)),
        )
        .await;
    world
        .case_command(
            "2026-10-09T04:00:00Z",
            &e,
            "close",
            &s.dispatcher,
            json!({}),
        )
        .await;

    // The November cases: dispatched Monday 2 November 09:00 Beijing. Acceptance due Tuesday
    // 09:00, response due Thursday 5 November 09:00, closing due 23 November 09:00.
    const DISPATCH: &str = "2026-11-02T01:00:00Z";
    let a = world.dispatched(DISPATCH, COMMERCE).await;
    let b = world.dispatched(DISPATCH, COMMERCE).await;
    let c = world.dispatched(DISPATCH, COMMERCE).await;
    let d = world.dispatched(DISPATCH, COMMERCE).await;
    let f = world.dispatched(DISPATCH, COMMERCE).await;
    let g = world.dispatched(DISPATCH, COMMERCE).await;
    let h = world.dispatched(DISPATCH, COMMERCE).await;

    // A: accepted at once, one working day of extension granted, answered, rated 5 resolved,
    // closed. On time everywhere.
    world
        .case_command(
            "2026-11-02T02:00:00Z",
            &a,
            "accept",
            &handler(COMMERCE),
            json!({}),
        )
        .await;
    world
        .case_command(
            "2026-11-02T03:00:00Z",
            &a,
            "request-extension",
            &handler(COMMERCE),
            json!({ "amount": 1, "reason": "需要现场核实" }),
        )
        .await;
    world
        .case_command(
            "2026-11-02T04:00:00Z",
            &a,
            "decide-extension",
            &s.dispatcher,
            json!({ "approve": true, "reason": "同意" }),
        )
        .await;
    world
        .case_command(
            "2026-11-03T02:00:00Z",
            &a,
            "respond",
            &handler(COMMERCE),
            json!({ "resolution": "resolved", "text": "已办结。" }),
        )
        .await;
    world
        .case_command(
            "2026-11-03T03:00:00Z",
            &a,
            "rate",
            &s.enterprise,
            json!({ "satisfaction": 5, "resolved": true }),
        )
        .await;
    world
        .case_command(
            "2026-11-04T01:00:00Z",
            &a,
            "close",
            &s.dispatcher,
            json!({}),
        )
        .await;

    // H: answered and rated 3 in the first cycle, closed, reopened (redo), answered again in
    // time and rated 4, not resolved. The latest rating counts.
    world
        .handled(
            &h,
            COMMERCE,
            "2026-11-02T02:00:00Z",
            "2026-11-03T02:00:00Z",
            Some(("2026-11-03T03:00:00Z", 3, false)),
        )
        .await;
    world
        .case_command(
            "2026-11-04T01:00:00Z",
            &h,
            "close",
            &s.dispatcher,
            json!({}),
        )
        .await;
    world
        .case_command(
            "2026-11-04T02:00:00Z",
            &h,
            "reopen",
            &s.dispatcher,
            json!({ "reason": "问题复发" }),
        )
        .await;
    world
        .case_command(
            "2026-11-05T02:00:00Z",
            &h,
            "respond",
            &handler(COMMERCE),
            json!({ "resolution": "partially_resolved", "text": "部分解决。" }),
        )
        .await;
    world
        .case_command(
            "2026-11-05T03:00:00Z",
            &h,
            "rate",
            &s.enterprise,
            json!({ "satisfaction": 4, "resolved": false }),
        )
        .await;

    // C: exempted by the second dispatcher (the one who dispatched may not): volume only.
    world
        .case_command(
            "2026-11-02T02:00:00Z",
            &c,
            "accept",
            &handler(COMMERCE),
            json!({}),
        )
        .await;
    world
        .case_command(
            "2026-11-02T03:00:00Z",
            &c,
            "grant-exemption",
            &s.second_dispatcher,
            json!({ "reason": "unreasonable_request", "text": "诉求超出法定职责" }),
        )
        .await;

    // F: returned by commerce to market regulation (first return, rerouted), which accepts and
    // answers in time; no rating.
    world
        .case_command(
            "2026-11-02T02:00:00Z",
            &f,
            "return",
            &handler(COMMERCE),
            json!({ "reason": "属市场监管职责", "suggested_department": MARKET }),
        )
        .await;
    world
        .handled(
            &f,
            MARKET,
            "2026-11-02T03:00:00Z",
            "2026-11-03T03:00:00Z",
            None,
        )
        .await;

    // G: withdrawn by the enterprise after dispatch (quality check).
    world
        .case_command(
            "2026-11-02T02:00:00Z",
            &g,
            "accept",
            &handler(COMMERCE),
            json!({}),
        )
        .await;
    world
        .case_command(
            "2026-11-02T05:00:00Z",
            &g,
            "withdraw",
            &s.enterprise,
            json!({ "reason": "已自行解决" }),
        )
        .await;

    // D: accepted, paused Tuesday 3 Nov 09:00 to Friday 6 Nov 09:00 (three working days), so
    // the response due moves from Thursday 5 Nov 09:00 to Tuesday 10 Nov 09:00; answered on
    // Monday 9 Nov: late without the pause, on time with it. Rated 3, resolved.
    world
        .case_command(
            "2026-11-02T02:00:00Z",
            &d,
            "accept",
            &handler(COMMERCE),
            json!({}),
        )
        .await;
    world
        .case_command(
            "2026-11-03T01:00:00Z",
            &d,
            "request-pause",
            &handler(COMMERCE),
            json!({ "reason": "等待企业补充材料" }),
        )
        .await;
    world
        .case_command(
            "2026-11-03T01:00:00Z",
            &d,
            "decide-pause",
            &s.dispatcher,
            json!({ "approve": true, "reason": "同意" }),
        )
        .await;

    // B: accepted late (Tuesday 12:00), answered late (Friday 6 Nov 09:00, due Thursday 09:00),
    // rated 2; the head appeals and the second dispatcher upholds: the rating is excluded.
    world
        .handled(
            &b,
            COMMERCE,
            "2026-11-03T04:00:00Z",
            "2026-11-06T01:00:00Z",
            Some(("2026-11-06T02:00:00Z", 2, false)),
        )
        .await;
    world
        .case_command(
            "2026-11-06T03:00:00Z",
            &b,
            "appeal",
            &head(COMMERCE),
            json!({ "reason": "企业诉求超出政策范围" }),
        )
        .await;
    world
        .case_command(
            "2026-11-06T04:00:00Z",
            &b,
            "decide-appeal",
            &s.second_dispatcher,
            json!({ "upheld": true, "reason": "申诉成立" }),
        )
        .await;

    world
        .case_command(
            "2026-11-06T01:00:00Z",
            &d,
            "resume",
            &handler(COMMERCE),
            json!({}),
        )
        .await;
    let case_d = world
        .get(&format!("/api/v1/cases/{d}"), &s.dispatcher)
        .await;
    assert_eq!(
        case_d["respond_due"], "2026-11-10T01:00:00.000000Z",
        "{case_d}"
    );
    world
        .case_command(
            "2026-11-09T02:00:00Z",
            &d,
            "respond",
            &handler(COMMERCE),
            json!({ "resolution": "resolved", "text": "已办结。" }),
        )
        .await;
    world
        .case_command(
            "2026-11-09T03:00:00Z",
            &d,
            "rate",
            &s.enterprise,
            json!({ "satisfaction": 3, "resolved": true }),
        )
        .await;

    // By hand, commerce in 2026-Q4: led A B C D E G H (F went to market regulation).
    // volume 7; exempted 1 (C); scored 5 = A B D E H (G withdrawn, C exempted).
    // timely acceptance 4/5 (B late); response 5/5; on time 4/5 (B late); overdue 1 (B).
    // Scorable ratings: A 5 resolved, D 3 resolved, E 5 resolved, H 4 not resolved (B's
    // rating excluded by the upheld appeal): satisfaction (4 or 5) 3/4, resolution 3/4.
    // Returns: received A B D E F G H (C exempted) = 7, returned F = 1/7. Redo: H 1/5.
    // Extensions 1 (A), appeals 1 upheld 1 (B), withdrawals after dispatch 1 (G).
    // Score = 15×4/5 + 15×5/5 + 30×4/5 + 25×3/4 + 15×3/4 = 12 + 15 + 24 + 18.75 + 11.25 = 81.
    let answer = world
        .get(
            "/api/v1/departments/dept-commerce/kpi?period=2026-Q4",
            &s.dispatcher,
        )
        .await;
    assert_eq!(answer["formula_version"], "kpi.v1");
    assert!(answer["formulas"].as_array().unwrap().len() >= 10);
    let kpi = &answer["kpi"];
    assert_eq!(kpi["formula_version"], "kpi.v1");
    assert_eq!(kpi["period"], "2026-Q4");
    assert_eq!(
        (&kpi["volume"], &kpi["exempted"], &kpi["scored"]),
        (&json!(7), &json!(1), &json!(5)),
        "{kpi}"
    );
    assert_eq!(ratio(&kpi["timely_acceptance"]), (4, 5), "{kpi}");
    assert_eq!(ratio(&kpi["response"]), (5, 5), "{kpi}");
    assert_eq!(ratio(&kpi["on_time_completion"]), (4, 5), "{kpi}");
    assert_eq!(kpi["overdue"], 1, "{kpi}");
    assert_eq!(ratio(&kpi["satisfaction"]), (3, 4), "{kpi}");
    assert_eq!(ratio(&kpi["resolution"]), (3, 4), "{kpi}");
    assert_eq!(kpi["satisfaction"]["rate"], 0.75);
    assert_eq!(ratio(&kpi["returns"]), (1, 7), "{kpi}");
    assert_eq!(ratio(&kpi["redo"]), (1, 5), "{kpi}");
    assert_eq!(
        (&kpi["extensions"], &kpi["appeals"], &kpi["appeals_upheld"]),
        (&json!(1), &json!(1), &json!(1)),
        "{kpi}"
    );
    assert_eq!(kpi["withdrawals_after_dispatch"], 1, "{kpi}");
    assert_eq!(kpi["score"], 81.0, "{kpi}");

    // Market regulation: F only, accepted and answered in time, no rating:
    // score = (15 + 15 + 30) / 60 × 100 = 100; it returned nothing of the one it received.
    let list = world.get("/api/v1/kpi?period=2026-Q4", &s.dispatcher).await;
    let market = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["department"] == MARKET)
        .unwrap();
    assert_eq!(market["volume"], 1);
    assert_eq!(market["score"], 100.0);
    assert_eq!(ratio(&market["returns"]), (0, 1));
    assert!(market["satisfaction"]["rate"].is_null());

    // The public ranking, without login: the same figures, highest score first, nothing about
    // a case, an enterprise or an officer.
    let public = world
        .app
        .client
        .get(world.app.url("/api/v1/public/kpi?period=2026-Q4"))
        .send()
        .await
        .unwrap();
    let public = json(public, 200).await;
    let ranked: Vec<(&str, Option<f64>)> = public["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["department"].as_str().unwrap(), item["score"].as_f64()))
        .collect();
    assert_eq!(ranked[0], (MARKET, Some(100.0)), "{public}");
    assert_eq!(ranked[1], (COMMERCE, Some(81.0)), "{public}");
    assert!(ranked[2..].iter().all(|(_, score)| score.is_none()));
    assert_eq!(public["formula_version"], "kpi.v1");
    // Field by field: department-level counts and rates only.
    let mut keys: Vec<&str> = public["items"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "appeals",
            "appeals_upheld",
            "department",
            "department_name",
            "department_name_en",
            "exempted",
            "extensions",
            "formula_version",
            "on_time_completion",
            "overdue",
            "period",
            "redo",
            "resolution",
            "response",
            "returns",
            "satisfaction",
            "score",
            "scored",
            "timely_acceptance",
            "volume",
            "withdrawals_after_dispatch"
        ]
    );

    // Months: E in October, the others in November; the quarter is their sum.
    let trend = world
        .get(
            "/api/v1/departments/dept-commerce/kpi/trend?from=2026-10&to=2026-12",
            &handler(COMMERCE),
        )
        .await;
    let volumes: Vec<u64> = trend["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["volume"].as_u64().unwrap())
        .collect();
    assert_eq!(volumes, [1, 6, 0]);
    assert_eq!(trend["granularity"], "month");
    assert_eq!(trend["formula_version"], "kpi.v1");

    // The projection rebuilt from the feed equals the live one.
    let projector = &world.app.state.projector;
    projector.catch_up().await.unwrap();
    let live = projector.checksum("kpi").await.unwrap();
    let rebuilt = projector.rebuild("kpi", &mut |_, _| {}).await.unwrap();
    assert_eq!(live, rebuilt);
    world.app.stop().await;
}

async fn kpi_reads_check_their_input_and_readers(db: TestDb) {
    let world = World::new(&db, "2026-11-02T01:00:00Z").await;
    let s = &world.staff;
    let app = &world.app;
    problem(
        app.get(
            "/api/v1/departments/dept-commerce/kpi?period=2026-Q5",
            &s.dispatcher,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.get("/api/v1/departments/dept-commerce/kpi", &s.dispatcher)
            .await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.get(
            "/api/v1/departments/dept-nowhere/kpi?period=2026",
            &s.dispatcher,
        )
        .await,
        404,
        "department_not_found",
    )
    .await;
    problem(
        app.get(
            "/api/v1/departments/dept-market-regulation/kpi?period=2026",
            &handler(COMMERCE),
        )
        .await,
        403,
        "not_own_department",
    )
    .await;
    problem(
        app.get(
            "/api/v1/departments/dept-commerce/kpi?period=2026",
            &s.enterprise,
        )
        .await,
        403,
        "role_not_allowed",
    )
    .await;
    problem(
        app.get("/api/v1/kpi?period=2026", &handler(COMMERCE)).await,
        403,
        "role_not_allowed",
    )
    .await;
    problem(
        app.get(
            "/api/v1/departments/dept-commerce/kpi/trend?from=2026-Q1&to=2026-12",
            &s.dispatcher,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.get(
            "/api/v1/departments/dept-commerce/kpi/trend?from=2020-01&to=2026-12",
            &s.dispatcher,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    let own = json(
        app.get(
            "/api/v1/departments/dept-commerce/kpi?period=2026",
            &handler(COMMERCE),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(own["kpi"]["volume"], 0);
    assert!(own["kpi"]["score"].is_null());
    let anonymous = app
        .client
        .get(app.url("/api/v1/kpi?period=2026"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    world.app.stop().await;
}

fn campaign_body() -> Value {
    json!({
        "title": "2026年第四季度行政执法部门公开评议",
        "title_en": "Public appraisal of law-enforcement departments, 2026 Q4",
        "period": "2026-Q4",
        "departments": [COMMERCE, MARKET, HR, LAND],
        "rater_groups": [
            { "id": "enterprises", "name": "企业代表", "name_en": "Enterprises", "weight": 50, "roles": ["enterprise"] },
            { "id": "leaders", "name": "区领导", "name_en": "District leaders", "weight": 30, "roles": ["district_leader"] },
            { "id": "staff", "name": "机关工作人员", "name_en": "District staff", "weight": 20,
              "roles": ["liaison_officer", "department_head"] }
        ],
        "dimensions": [
            { "id": "lawful", "name": "依法行政", "name_en": "Lawful administration" },
            { "id": "fair", "name": "公正执法", "name_en": "Fair enforcement" },
            { "id": "transparency", "name": "政务公开", "name_en": "Transparency" }
        ],
        "kpi_weight": 40
    })
}

async fn campaign_commands_answer_with_their_rules(db: TestDb) {
    let world = World::new(&db, "2026-11-04T04:00:00Z").await;
    let s = &world.staff;
    let app = &world.app;
    let at = "2026-11-04T04:00:00Z";

    // Every bad field at once.
    let mut bad = campaign_body();
    bad["period"] = json!("2026-Q7");
    bad["departments"] = json!([COMMERCE, "dept-nowhere"]);
    bad["rater_groups"][0]["weight"] = json!(10);
    bad["rater_groups"][1]["roles"] = json!(["mayor"]);
    let invalid = problem(
        app.post("/api/v1/appraisals", &s.dispatcher, bad).await,
        422,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = invalid["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    for field in ["period", "departments[1]", "rater_groups[1].roles[0]"] {
        assert!(fields.contains(&field), "{field} missing in {invalid}");
    }
    problem(
        app.post("/api/v1/appraisals", &handler(COMMERCE), campaign_body())
            .await,
        403,
        "role_not_allowed",
    )
    .await;
    let created = world
        .post(at, "/api/v1/appraisals", &s.dispatcher, campaign_body())
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = |command: &str| format!("/api/v1/appraisals/{id}/{command}");
    let ballot = json!({ "department": COMMERCE, "rater_group": "enterprises",
                         "scores": { "lawful": 90, "fair": null, "transparency": 80 } });
    problem(
        app.post(&path("ballots"), &s.enterprise, ballot.clone())
            .await,
        422,
        "wrong_campaign_status",
    )
    .await;
    world
        .post(at, &path("open"), &s.dispatcher, json!({}))
        .await;
    world
        .post(at, &path("ballots"), &s.enterprise, ballot.clone())
        .await;
    problem(
        app.post(&path("ballots"), &s.enterprise, ballot.clone())
            .await,
        409,
        "ballot_already_cast",
    )
    .await;
    let mut staff_ballot = ballot.clone();
    staff_ballot["rater_group"] = json!("staff");
    problem(
        app.post(&path("ballots"), &s.enterprise, staff_ballot.clone())
            .await,
        403,
        "not_in_rater_group",
    )
    .await;
    problem(
        app.post(&path("ballots"), &head(COMMERCE), staff_ballot.clone())
            .await,
        403,
        "rater_conflict",
    )
    .await;
    let mut wrong = ballot.clone();
    wrong["scores"] = json!({ "lawful": 90 });
    problem(
        app.post(
            &path("ballots"),
            &token("ent-user-9", "enterprise", Some("ent-0009")),
            wrong,
        )
        .await,
        422,
        "invalid_scores",
    )
    .await;
    let mut too_high = ballot.clone();
    too_high["scores"]["lawful"] = json!(300);
    problem(
        app.post(&path("ballots"), &s.enterprise, too_high).await,
        400,
        "invalid_body",
    )
    .await;
    let mut elsewhere = ballot.clone();
    elsewhere["department"] = json!("dept-ecology-environment");
    problem(
        app.post(&path("ballots"), &s.enterprise, elsewhere).await,
        422,
        "department_not_in_campaign",
    )
    .await;
    problem(
        app.post(&path("publish"), &s.dispatcher, json!({})).await,
        422,
        "wrong_campaign_status",
    )
    .await;
    // Not published: nothing public, not even whether it exists.
    problem(
        app.client
            .get(app.url(&format!("/api/v1/public/appraisals/{id}")))
            .send()
            .await
            .unwrap(),
        404,
        "appraisal_not_found",
    )
    .await;
    let page = app
        .client
        .get(app.url(&format!("/public/appraisals/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 404);
    problem(
        app.client
            .get(app.url(&format!("/public/appraisals/{id}?lang=fr")))
            .send()
            .await
            .unwrap(),
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.post(
            "/api/v1/appraisals/0193a0a2-7c4e-7d1a-9b8e-000000000000/open",
            &s.dispatcher,
            json!({}),
        )
        .await,
        404,
        "appraisal_not_found",
    )
    .await;
    problem(
        app.post(
            "/api/v1/appraisals/not-a-uuid/open",
            &s.dispatcher,
            json!({}),
        )
        .await,
        404,
        "appraisal_not_found",
    )
    .await;
    // The staff view counts ballots and shows no rater.
    let view = world
        .get(&format!("/api/v1/appraisals/{id}"), &s.dispatcher)
        .await;
    assert_eq!(view["status"], "open");
    assert_eq!(view["ballots"][COMMERCE]["enterprises"], 1);
    assert!(!view.to_string().contains("ent-user-1"), "{view}");
    world.app.stop().await;
}

/// Six cases of 2026-Q4 across four departments, all dispatched Monday 2 November 09:00.
async fn quarter_of_cases(world: &World) {
    const DISPATCH: &str = "2026-11-02T01:00:00Z";
    const EARLY: &str = "2026-11-02T02:00:00Z";
    const NEXT_DAY: &str = "2026-11-03T02:00:00Z";
    // Commerce: two cases accepted and answered in time, rated 5 resolved → KPI 100.
    for _ in 0..2 {
        let id = world.dispatched(DISPATCH, COMMERCE).await;
        world
            .handled(
                &id,
                COMMERCE,
                EARLY,
                NEXT_DAY,
                Some(("2026-11-03T03:00:00Z", 5, true)),
            )
            .await;
    }
    // Market regulation: one in time rated 5 resolved; one answered late (Friday, due
    // Thursday 09:00) rated 2 not resolved → timely acceptance 2/2, response 2/2, on time 1/2,
    // satisfaction 1/2, resolution 1/2 → 15 + 15 + 15 + 12.5 + 7.5 = 65.
    let id = world.dispatched(DISPATCH, MARKET).await;
    world
        .handled(
            &id,
            MARKET,
            EARLY,
            NEXT_DAY,
            Some(("2026-11-03T03:00:00Z", 5, true)),
        )
        .await;
    let late = world.dispatched(DISPATCH, MARKET).await;
    // Human resources: accepted late (Tuesday 12:00, due 09:00), answered in time, rated 4
    // resolved → 0 + 15 + 30 + 25 + 15 = 85.
    let hr = world.dispatched(DISPATCH, HR).await;
    // Natural resources: accepted in time, not answered yet (its response falls due on
    // Thursday) → timely 1/1, response 0/1, on time 0/1, no rating → 15 / 60 × 100 = 25.
    let land = world.dispatched(DISPATCH, LAND).await;
    world
        .case_command(EARLY, &land, "accept", &handler(LAND), json!({}))
        .await;
    world
        .handled(
            &hr,
            HR,
            "2026-11-03T04:00:00Z",
            "2026-11-04T02:00:00Z",
            Some(("2026-11-04T03:00:00Z", 4, true)),
        )
        .await;
    world
        .handled(
            &late,
            MARKET,
            EARLY,
            "2026-11-06T02:00:00Z",
            Some(("2026-11-06T03:00:00Z", 2, false)),
        )
        .await;
}

/// The campaign of the acceptance scenario, published; returns its id.
async fn published_campaign(world: &World) -> String {
    quarter_of_cases(world).await;
    let s = &world.staff;
    let at = "2026-11-06T05:00:00Z";
    let created = world
        .post(at, "/api/v1/appraisals", &s.dispatcher, campaign_body())
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = |command: &str| format!("/api/v1/appraisals/{id}/{command}");
    world
        .post(at, &path("open"), &s.dispatcher, json!({}))
        .await;
    let e1 = s.enterprise.clone();
    let e2 = token("ent-user-2", "enterprise", Some("ent-0002"));
    let l1 = s.liaison.clone();
    let s1 = token("liaison-1", "liaison_officer", Some("district-office"));
    let ballots: Vec<(&String, &str, &str, Value, Option<&str>)> = vec![
        (
            &e1,
            "enterprises",
            COMMERCE,
            json!([90, 90, 90]),
            Some("王科长办事快，电话13812345678，邮箱wang.ke@example.com"),
        ),
        (&e2, "enterprises", COMMERCE, json!([80, 80, null]), None),
        (&l1, "leaders", COMMERCE, json!([90, 80, 70]), None),
        (&s1, "staff", COMMERCE, json!([100, 100, 100]), None),
        (
            &e1,
            "enterprises",
            MARKET,
            json!([60, 60, 60]),
            Some("执法尺度不一"),
        ),
        (&l1, "leaders", MARKET, json!([70, 70, 70]), None),
        (&e1, "enterprises", HR, json!([80, 80, 80]), None),
        (&l1, "leaders", HR, json!([80, 80, 80]), None),
        (&s1, "staff", HR, json!([80, 80, 80]), None),
        (&e1, "enterprises", LAND, json!([50, 50, 50]), None),
    ];
    for (rater, group, department, scores, comment) in ballots {
        let mut body = json!({
            "department": department, "rater_group": group,
            "scores": { "lawful": scores[0], "fair": scores[1], "transparency": scores[2] }
        });
        if let Some(comment) = comment {
            body["comment"] = json!(comment);
        }
        world.post(at, &path("ballots"), rater, body).await;
    }
    world
        .post(at, &path("close"), &s.dispatcher, json!({}))
        .await;
    world
        .post(
            at,
            &path("compute"),
            &s.dispatcher,
            json!({ "redact_names": ["王科长"] }),
        )
        .await;
    world
        .post(at, &path("publish"), &s.dispatcher, json!({}))
        .await;
    // Rectification: natural resources (fail) verified after its report; market regulation open.
    let item = world
        .post(
            at,
            &path("rectifications"),
            &s.dispatcher,
            json!({ "department": LAND, "title": "答复不及时，建立限时办结台账", "due_on": "2027-03-31" }),
        )
        .await;
    let item = item["created_id"].as_str().unwrap().to_owned();
    world
        .post(
            at,
            &path("rectifications"),
            &s.dispatcher,
            json!({ "department": MARKET, "title": "统一执法裁量基准", "due_on": "2027-03-31" }),
        )
        .await;
    problem(
        world
            .app
            .post(
                &format!("/api/v1/appraisals/{id}/rectifications/{item}/report"),
                &handler(COMMERCE),
                json!({ "note": "x" }),
            )
            .await,
        403,
        "not_own_department",
    )
    .await;
    world
        .post(
            at,
            &format!("/api/v1/appraisals/{id}/rectifications/{item}/report"),
            &handler(LAND),
            json!({ "note": "已建立台账，专人督办" }),
        )
        .await;
    world
        .post(
            at,
            &format!("/api/v1/appraisals/{id}/rectifications/{item}/recheck"),
            &s.second_dispatcher,
            json!({ "passed": true, "note": "复查台账完整" }),
        )
        .await;
    // Wait for the views.
    world
        .get(&format!("/api/v1/appraisals/{id}"), &s.dispatcher)
        .await;
    id
}

/// Strings that must never appear in a public answer.
async fn private_strings(world: &World, id: &str) -> Vec<String> {
    let mut private: Vec<String> = [
        "13812345678",
        "wang.ke@example.com",
        "王科长",
        "ent-user-1",
        "ent-user-2",
        "leader-li",
        "liaison-1",
        "disp-1",
        "disp-2",
        "handler-",
        "rater_key",
        "redact",
        "已建立台账",
        "复查台账完整",
        "ent-0001",
    ]
    .map(str::to_owned)
    .to_vec();
    // The rater keys recorded in the ballots.
    let history = world
        .app
        .state
        .db
        .stream_history("AppraisalCampaign", id)
        .await
        .unwrap();
    for event in history {
        if let Ok(AppraisalEvent::BallotCast { rater_key, .. }) =
            serde_json::from_str::<AppraisalEvent>(&event.payload)
        {
            private.push(rater_key);
        }
    }
    private
}

fn assert_no_leak(text: &str, private: &[String], what: &str) {
    for secret in private {
        assert!(!text.contains(secret.as_str()), "{what} leaks {secret:?}");
    }
}

async fn four_departments_three_groups_published_as_computed_by_hand(db: TestDb) {
    let world = World::new(&db, "2026-11-02T01:00:00Z").await;
    let id = published_campaign(&world).await;
    let app = &world.app;

    let report = json(
        app.client
            .get(app.url(&format!("/api/v1/public/appraisals/{id}")))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(report["method_version"], "appraisal.v1");
    assert_eq!(report["kpi_formula_version"], "kpi.v1");
    let departments = report["departments"].as_array().unwrap();
    let order: Vec<&str> = departments
        .iter()
        .map(|d| d["department"].as_str().unwrap())
        .collect();
    // By hand (KPI weight 40 %, groups enterprises 50 / leaders 30 / staff 20):
    // commerce: enterprises lawful (90+80)/2 = 85, fair 85, transparency 90 (one don't know)
    //   → 86.667; leaders (90+80+70)/3 = 80; staff 100; ballots 0.5×86.667 + 0.3×80 + 0.2×100
    //   = 87.333; total 0.4×100 + 0.6×87.333 = 92.40 → rank 1, advanced (4 × 30 % → 1 place).
    // human resources: ballots 80; total 0.4×85 + 0.6×80 = 82.00 → rank 2, pass.
    // market regulation: ballots (50×60 + 30×70)/80 = 63.75 (no staff ballot);
    //   total 0.4×65 + 0.6×63.75 = 64.25 → rank 3, pass.
    // natural resources: ballots 50; total 0.4×25 + 0.6×50 = 40.00 → rank 4, fail.
    assert_eq!(order, [COMMERCE, HR, MARKET, LAND]);
    let expected = [
        (1, 92.4, 100.0, 87.33, "advanced"),
        (2, 82.0, 85.0, 80.0, "pass"),
        (3, 64.25, 65.0, 63.75, "pass"),
        (4, 40.0, 25.0, 50.0, "fail"),
    ];
    for (department, (rank, total, kpi, ballots, grade)) in departments.iter().zip(expected) {
        assert_eq!(department["rank"], rank, "{department}");
        assert_eq!(department["total"], total, "{department}");
        assert_eq!(department["kpi_score"], kpi, "{department}");
        assert_eq!(department["ballot_score"], ballots, "{department}");
        assert_eq!(department["grade"], grade, "{department}");
    }
    // Commerce's breakdown: lawful 0.5×85 + 0.3×90 + 0.2×100 = 89.5; fair 0.5×85 + 0.3×80 +
    // 0.2×100 = 86.5; transparency 0.5×90 + 0.3×70 + 0.2×100 = 86 with one don't know.
    let commerce = &departments[0];
    let dimension_scores: Vec<f64> = commerce["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["score"].as_f64().unwrap())
        .collect();
    assert_eq!(dimension_scores, [89.5, 86.5, 86.0]);
    assert_eq!(commerce["dimensions"][2]["dont_know"], 1);
    let group_scores: Vec<f64> = commerce["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["score"].as_f64().unwrap())
        .collect();
    assert_eq!(group_scores, [86.67, 80.0, 100.0]);
    assert_eq!(commerce["ballots"], 4);
    assert_eq!(
        commerce["comments"],
        json!(["***办事快，电话***，邮箱***"]),
        "desensitised"
    );
    assert_eq!(commerce["kpi"]["volume"], 2);
    let market = &departments[2];
    assert!(market["groups"][2]["score"].is_null());
    assert_eq!(market["rectifications"][0]["status"], "open");
    assert_eq!(departments[3]["rectifications"][0]["status"], "verified");
    assert_eq!(departments[3]["rectifications"][0]["overdue"], false);

    // No private field in the JSON, the CSV or the page (either language).
    let private = private_strings(&world, &id).await;
    assert_no_leak(&report.to_string(), &private, "public JSON");
    let csv_response = app
        .client
        .get(app.url(&format!("/api/v1/public/appraisals/{id}/export.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(csv_response.status().as_u16(), 200);
    assert!(csv_response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv_response.text().await.unwrap();
    assert_no_leak(&csv, &private, "CSV");
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines[0],
        "rank,department,name,name_en,grade,total,kpi_score,ballot_score,ballots,\
         dimension:lawful,dimension:fair,dimension:transparency,\
         group:enterprises,group:leaders,group:staff"
    );
    assert_eq!(
        lines[1],
        "1,dept-commerce,区商务局,District Commerce Bureau,advanced,92.40,100.00,87.33,4,89.50,86.50,86.00,86.67,80.00,100.00"
    );
    assert_eq!(lines.len(), 5);
    for lang in ["zh", "en"] {
        let page = app
            .client
            .get(app.url(&format!("/public/appraisals/{id}?lang={lang}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status().as_u16(), 200);
        assert!(page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = page.text().await.unwrap();
        assert_no_leak(&html, &private, "page");
        assert!(!html.contains("<script"), "no JavaScript");
        assert!(html.contains("name=\"viewport\""));
        assert!(html.contains("<svg"));
    }

    // Reproducible: the results recomputed from the events equal the published ones.
    let history = app
        .state
        .db
        .stream_history("AppraisalCampaign", &id)
        .await
        .unwrap();
    let mut campaign = AppraisalCampaign::default();
    let mut recorded = None;
    for event in &history {
        let event: AppraisalEvent = serde_json::from_str(&event.payload).unwrap();
        if let AppraisalEvent::ResultsComputed {
            kpi,
            redact_names,
            results,
            ..
        } = &event
        {
            let recomputed = compute_results(
                campaign.definition.as_ref().unwrap(),
                &campaign.ballots,
                kpi,
                redact_names,
            );
            assert_eq!(&recomputed, results, "recomputed from the events");
            recorded = Some((kpi.clone(), results.clone()));
        }
        campaign.evolve(&event);
    }
    let (kpi_snapshot, results) = recorded.expect("a ResultsComputed event");
    let view = app.state.db.campaign_view(&id).await.unwrap().unwrap();
    assert_eq!(view.results.as_ref(), Some(&results), "the view shows them");
    let published_totals: Vec<f64> = departments
        .iter()
        .map(|d| d["total"].as_f64().unwrap())
        .collect();
    let recomputed_totals: Vec<f64> = results
        .departments
        .iter()
        .map(|d| d.total.unwrap())
        .collect();
    assert_eq!(published_totals, recomputed_totals);
    // The KPI snapshot equals the KPIs recomputed now from the case log's projection.
    let kpi_now = json(
        app.get(
            "/api/v1/departments/dept-market-regulation/kpi?period=2026-Q4",
            &world.staff.dispatcher,
        )
        .await,
        200,
    )
    .await;
    let snapshot: BTreeMap<String, Value> = kpi_snapshot
        .iter()
        .map(|(department, kpi)| (department.to_string(), serde_json::to_value(kpi).unwrap()))
        .collect();
    assert_eq!(snapshot[MARKET]["score"], kpi_now["kpi"]["score"]);
    assert_eq!(snapshot[MARKET]["volume"], kpi_now["kpi"]["volume"]);

    // Rebuilt views equal the live ones.
    let projector = &app.state.projector;
    projector.catch_up().await.unwrap();
    for name in ["appraisals", "kpi"] {
        let live = projector.checksum(name).await.unwrap();
        let rebuilt = projector.rebuild(name, &mut |_, _| {}).await.unwrap();
        assert_eq!(live, rebuilt, "{name}");
    }
    world.app.stop().await;
}

async fn public_page_renders_in_headless_chromium(db: TestDb) {
    let world = World::new(&db, "2026-11-02T01:00:00Z").await;
    let id = published_campaign(&world).await;
    let private = private_strings(&world, &id).await;
    let url = world.app.url(&format!("/public/appraisals/{id}"));

    // One load for the DOM as the browser built it (Chinese, the default)...
    let browser = Browser::offline();
    let dom = browser
        .run_async(vec!["--dump-dom".into(), url.clone()])
        .await;
    let position = |text: &str| {
        dom.find(text)
            .unwrap_or_else(|| panic!("{text:?} not on the page"))
    };
    assert!(dom.contains("2026年第四季度行政执法部门公开评议"));
    // The ranking table lists the departments in rank order with their totals and grades.
    let ranking = &dom[position("id=\"ranking\"")..position("id=\"dept-")];
    let order: Vec<usize> = [
        "区商务局",
        "区人力资源和社会保障局",
        "区市场监督管理局",
        "区规划和自然资源局",
    ]
    .iter()
    .map(|name| {
        ranking
            .find(name)
            .unwrap_or_else(|| panic!("{name} not ranked"))
    })
    .collect();
    assert!(
        order.windows(2).all(|pair| pair[0] < pair[1]),
        "ranking order {order:?}"
    );
    for text in ["92.40", "82.00", "64.25", "40.00", "先进", "合格", "不合格"] {
        assert!(ranking.contains(text), "{text} not in the ranking");
    }
    // The breakdown charts and the desensitised comment.
    assert!(
        dom.matches("<svg").count() >= 9,
        "one total chart and two per department"
    );
    assert!(dom.contains("依法行政") && dom.contains("企业代表"));
    assert!(dom.contains("89.50"));
    assert!(dom.contains("***办事快"));
    assert!(dom.contains("已复查通过"));
    assert_no_leak(&dom, &private, "rendered page");

    // ...and one for a phone-sized screenshot, kept as a CI artifact.
    let backend = match world.app.state.db.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    browser
        .screenshot(
            &url,
            &format!("appraisal-public-page-{backend}"),
            (390, 844),
        )
        .await;
    // Styles inline, no fonts, no scripts: nothing the page needs comes from elsewhere.
    assert_eq!(
        browser.page_requests_leaving_loopback(),
        Vec::<String>::new(),
        "requests that left loopback"
    );
    world.app.stop().await;
}

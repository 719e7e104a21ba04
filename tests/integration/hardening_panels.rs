//! Issue 13, panels and committees, over real HTTP on both stores: a seat changed while opinions
//! are being collected stops opinions and the conclusion until the alternate pledges (item 6);
//! employees of the requesting unit and of a party are never drawn and the draw still verifies
//! (item 7); only the program's committee roster votes, the roster changes only by a reasoned
//! event and the quorum counts it (item 8); an approval after the notice ended but before it was
//! closed says so (item 9); a recused reviewer loses the file (item 10); every read of the
//! nominee's ID number or phone leaves an access event (item 14).

use serde_json::{json, Value};

use crate::on_both;
use crate::support::{integers, json, problem, token, ManualClock, TestApp, TestDb};

on_both!(
    a_seat_changed_while_opinions_are_collected_waits_for_the_pledge,
    the_requesters_and_the_parties_staff_are_never_drawn,
    only_the_programs_committee_roster_votes,
    approval_after_the_notice_ended_but_before_closing_says_not_closed,
    a_recused_reviewer_loses_the_file,
    reads_of_the_nominees_id_number_and_phone_are_recorded
);

// ---------------------------------------------------------------------------------------------
// Consultations

const REQUESTER: &str = "dept-development-reform";

/// Eight independent finance experts, one employed by the requester and one by the investor.
async fn add_consultation_pool(app: &TestApp, secretary: &str) -> i64 {
    let mut experts: Vec<Value> = (1..=8)
        .map(|i| {
            json!({"expert_id": format!("expert-{i:02}"), "name": format!("专家{i}"),
                   "disciplines": ["finance"], "employer_unit": format!("univ-{i}")})
        })
        .collect();
    experts.push(json!({"expert_id": "expert-own-staff", "name": "本单位甲",
                        "disciplines": ["finance"], "employer_unit": REQUESTER}));
    experts.push(json!({"expert_id": "expert-investor", "name": "投资方乙",
                        "disciplines": ["finance"], "employer_unit": "firm-investor"}));
    let mut last = 0;
    for expert in experts {
        last = json(app.post("/api/v1/experts", secretary, expert).await, 201).await["position"]
            .as_i64()
            .unwrap();
    }
    last
}

/// Submitted by the requester, accepted and drawn (five seats, two alternates). Returns the
/// request's path and the draw's position.
async fn drawn_request(app: &TestApp, secretary: &str, head: &str) -> (String, i64) {
    let submitted = json(
        app.post(
            "/api/v1/consultations",
            head,
            json!({
                "topic_type": "investment_project",
                "title": "新能源产业园二期投资项目可行性论证",
                "questions": ["投资回报测算是否合理？"],
                "confidentiality": "confidential",
                "disciplines": ["finance"],
                "panel_size": 5,
                "deadline": "2099-12-31",
                "parties": ["firm-investor"]
            }),
        )
        .await,
        201,
    )
    .await;
    let base = format!(
        "/api/v1/consultations/{}",
        submitted["id"].as_str().unwrap()
    );
    json(
        app.post(&format!("{base}/accept"), secretary, json!({}))
            .await,
        200,
    )
    .await;
    let drawn = json(
        app.post(&format!("{base}/draw"), secretary, json!({"alternates": 2}))
            .await,
        200,
    )
    .await["position"]
        .as_i64()
        .unwrap();
    (base, drawn)
}

async fn request_at(app: &TestApp, base: &str, who: &str, position: i64) -> Value {
    json(
        app.get(&format!("{base}?min_position={position}"), who)
            .await,
        200,
    )
    .await
}

fn active_seats(request: &Value) -> Vec<String> {
    request["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|seat| seat["state"] == "invited" || seat["state"] == "accepted")
        .map(|seat| seat["expert_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_seat_changed_while_opinions_are_collected_waits_for_the_pledge(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let secretary = token("sec-wu", "panel_secretary", None);
    let head = token("head-liu", "department_head", Some(REQUESTER));
    let expert = |id: &str| token(id, "expert", None);
    add_consultation_pool(&app, &secretary).await;
    let (base, mut last) = drawn_request(&app, &secretary, &head).await;
    let drawn = request_at(&app, &base, &secretary, last).await;
    let panel = active_seats(&drawn);
    assert_eq!(panel.len(), 5);
    for member in &panel {
        last = json(
            app.post(
                &format!("{base}/accept-seat"),
                &expert(member),
                json!({"pledge_accepted": true}),
            )
            .await,
            200,
        )
        .await["position"]
            .as_i64()
            .unwrap();
    }
    let opinion = json!({"stance": "support", "rationale": "测算依据充分。", "signature": "签名"});
    for member in &panel[..3] {
        last = json(
            app.post(
                &format!("{base}/submit-opinion"),
                &expert(member),
                opinion.clone(),
            )
            .await,
            200,
        )
        .await["position"]
            .as_i64()
            .unwrap();
    }
    assert_eq!(
        request_at(&app, &base, &secretary, last).await["status"],
        "collecting_opinions"
    );

    // A conflict comes to light: the secretary recuses the fourth expert; an alternate is
    // seated and the request goes back to panel_drawn until the alternate pledges.
    last = json(
        app.post(
            &format!("{base}/recuse"),
            &secretary,
            json!({"expert_id": panel[3], "reason": "举报核实存在利害关系"}),
        )
        .await,
        200,
    )
    .await["position"]
        .as_i64()
        .unwrap();
    let request = request_at(&app, &base, &secretary, last).await;
    assert_eq!(request["status"], "panel_drawn");
    let alternate = active_seats(&request)
        .into_iter()
        .find(|id| !panel.contains(id))
        .expect("an alternate is seated");
    problem(
        app.post(
            &format!("{base}/submit-opinion"),
            &expert(&panel[4]),
            opinion.clone(),
        )
        .await,
        422,
        "panel_not_confirmed",
    )
    .await;
    let conclusion = json!({"majority_view": "项目可行。", "recommendations": ["分期投资"]});
    problem(
        app.post(&format!("{base}/conclude"), &secretary, conclusion.clone())
            .await,
        422,
        "panel_not_confirmed",
    )
    .await;

    // The alternate pledges: collection resumes and the opinions given still count.
    last = json(
        app.post(
            &format!("{base}/accept-seat"),
            &expert(&alternate),
            json!({"pledge_accepted": true}),
        )
        .await,
        200,
    )
    .await["position"]
        .as_i64()
        .unwrap();
    assert_eq!(
        request_at(&app, &base, &secretary, last).await["status"],
        "collecting_opinions"
    );
    json(
        app.post(&format!("{base}/conclude"), &secretary, conclusion)
            .await,
        200,
    )
    .await;
    app.stop().await;
}

async fn the_requesters_and_the_parties_staff_are_never_drawn(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let secretary = token("sec-wu", "panel_secretary", None);
    let head = token("head-liu", "department_head", Some(REQUESTER));
    add_consultation_pool(&app, &secretary).await;
    // Several draws with fresh seeds: the requester's and the investor's employees never appear.
    for _ in 0..4 {
        let (base, at) = drawn_request(&app, &secretary, &head).await;
        let request = request_at(&app, &base, &secretary, at).await;
        let drawn: Vec<String> = active_seats(&request)
            .into_iter()
            .chain(request["alternates"].as_array().unwrap().iter().map(|a| {
                a.as_str()
                    .map_or_else(|| a["expert_id"].to_string(), str::to_owned)
            }))
            .collect();
        assert_eq!(drawn.len(), 7, "{request}");
        for barred in ["expert-own-staff", "expert-investor"] {
            assert!(
                drawn.iter().all(|id| !id.contains(barred)),
                "{barred} drawn: {drawn:?}"
            );
        }
        // The exclusion is part of the recorded filters: the draw re-runs to the same proof.
        let verified = json(app.get(&format!("{base}/draw/verify"), &head).await, 200).await;
        assert_eq!(verified["matches"], true, "{verified}");
    }
    // Nor may a secretary choose the requester's employee by hand.
    let submitted = json(
        app.post(
            "/api/v1/consultations",
            &head,
            json!({
                "topic_type": "key_project", "title": "重点项目论证",
                "questions": ["是否可行？"], "confidentiality": "internal",
                "disciplines": ["finance"], "panel_size": 3, "deadline": "2099-12-31"
            }),
        )
        .await,
        201,
    )
    .await;
    let manual = format!(
        "/api/v1/consultations/{}",
        submitted["id"].as_str().unwrap()
    );
    json(
        app.post(&format!("{manual}/accept"), &secretary, json!({}))
            .await,
        200,
    )
    .await;
    problem(
        app.post(
            &format!("{manual}/propose-selection"),
            &secretary,
            json!({"panel": ["expert-01", "expert-02", "expert-own-staff"], "reason": "熟悉情况"}),
        )
        .await,
        422,
        "expert_conflicted",
    )
    .await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Rewards

/// Monday 2 March 2026, 10:00 in Beijing: a working day.
const MONDAY: &str = "2026-03-02T02:00:00Z";
/// Five working days later plus an hour.
const AFTER_NOTICE: &str = "2026-03-09T03:00:00Z";
const ID_NUMBER: &str = "110101198001011234";
const PHONE: &str = "13912345678";

struct Roles {
    office: String,
    authority: String,
    auditor: String,
    secretary: String,
}

fn roles() -> Roles {
    Roles {
        office: token("ro-chen", "reward_office", None),
        authority: token("mayor-li", "approving_authority", None),
        auditor: token("inspector-sun", "auditor", None),
        secretary: token("sec-wu", "panel_secretary", None),
    }
}

fn member(n: u32) -> String {
    token(&format!("member-{n}"), "committee_member", None)
}

async fn ok(response: reqwest::Response) -> Value {
    json(response, 200).await
}

async fn add_reward_pool(app: &TestApp, r: &Roles) {
    for i in 1..=6 {
        json(
            app.post(
                "/api/v1/experts",
                &r.secretary,
                json!({"expert_id": format!("econ-{i}"), "name": format!("经济专家{i}"),
                       "disciplines": ["economics"], "employer_unit": format!("univ-{i}")}),
            )
            .await,
            201,
        )
        .await;
    }
}

/// An approved program whose committee roster is member-1 … member-5, quorum 3.
async fn approved_program(app: &TestApp, r: &Roles) -> String {
    let created = json(
        app.post(
            "/api/v1/reward-programs",
            &r.office,
            json!({
                "title": "2026年度科技创新重奖", "cycle": "2026", "quota": 2,
                "tiers": [{"code": "first", "name": "一等奖", "min_amount": 100000, "max_amount": 200000}],
                "criteria": [{"code": "contribution", "name": "经济贡献", "weight": 1, "min_score": 0, "max_score": 100}],
                "trim": 1, "notice_working_days": 5, "reviewers": 3, "disciplines": ["economics"],
                "committee_size": 5, "committee_quorum": 3,
                "committee": ["member-1", "member-2", "member-3", "member-4", "member-5"],
                "reward_office_unit": "district-reward-office", "reward_office_staff": ["ro-chen"]
            }),
        )
        .await,
        201,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    ok(app
        .post(
            &format!("/api/v1/reward-programs/{id}/approve"),
            &r.authority,
            json!({"document_number": "区委〔2026〕8号"}),
        )
        .await)
    .await;
    id
}

async fn nominate(app: &TestApp, r: &Roles, program: &str) -> String {
    let body = json!({
        "program_id": program,
        "nominee": {"kind": "person", "name": "钱乙", "unit": "区新材料研究院",
                    "unit_id": "inst-materials", "id_number": ID_NUMBER, "phone": PHONE},
        "summary": "主持研发新型电池隔膜，年新增产值1.2亿元。",
        "contributions": [{"description": "新增产值", "quantity": 12000, "unit": "万元"}],
        "evidence": ["区科〔2025〕31号"],
        "reason": "贡献突出，成果已产业化"
    });
    json(app.post("/api/v1/nominations", &r.office, body).await, 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn command(app: &TestApp, who: &str, nomination: &str, what: &str, body: Value) -> i64 {
    ok(app
        .post(
            &format!("/api/v1/nominations/{nomination}/{what}"),
            who,
            body,
        )
        .await)
    .await["position"]
        .as_i64()
        .unwrap()
}

async fn nomination(app: &TestApp, who: &str, id: &str, position: i64) -> Value {
    ok(app
        .get(
            &format!("/api/v1/nominations/{id}?min_position={position}"),
            who,
        )
        .await)
    .await
}

fn active_reviewers(nomination: &Value) -> Vec<String> {
    nomination["reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["recused"].is_null())
        .map(|r| r["expert_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Eligible, drawn, scored by every seated reviewer and aggregated. Returns the position.
async fn scored(app: &TestApp, r: &Roles, id: &str) -> i64 {
    command(
        app,
        &r.office,
        id,
        "decide-eligibility",
        json!({"eligible": true, "checklist": [{"item": "在本区工作满两年", "passed": true}],
               "reason": "材料齐全，条件符合"}),
    )
    .await;
    let position = command(app, &r.office, id, "draw-reviewers", json!({})).await;
    let drawn = nomination(app, &r.office, id, position).await;
    for reviewer in active_reviewers(&drawn) {
        command(
            app,
            &token(&reviewer, "expert", None),
            id,
            "submit-scores",
            json!({"scores": {"contribution": {"score": 80}}}),
        )
        .await;
    }
    command(app, &r.office, id, "aggregate-scores", json!({})).await
}

async fn only_the_programs_committee_roster_votes(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let r = roles();
    add_reward_pool(&app, &r).await;
    let program = approved_program(&app, &r).await;
    let id = nominate(&app, &r, &program).await;
    scored(&app, &r, &id).await;
    let vote = |in_favour: bool| json!({"in_favour": in_favour});

    // Someone holding the role but not on the roster does not vote.
    for outsider in [6, 7, 8] {
        problem(
            app.post(
                &format!("/api/v1/nominations/{id}/cast-vote"),
                &member(outsider),
                vote(false),
            )
            .await,
            403,
            "not_committee_member",
        )
        .await;
    }
    command(&app, &member(1), &id, "cast-vote", vote(true)).await;
    problem(
        app.post(
            &format!("/api/v1/nominations/{id}/cast-vote"),
            &member(1),
            vote(true),
        )
        .await,
        409,
        "already_voted",
    )
    .await;
    command(&app, &member(2), &id, "cast-vote", vote(true)).await;
    command(&app, &member(3), &id, "cast-vote", vote(true)).await;

    // The roster changes only with a reason, by the reward office; member-3 leaves, so only two
    // counted votes remain and the quorum over the new roster of four is three.
    let change = format!("/api/v1/reward-programs/{program}/change-committee");
    let new_roster = json!({"members": ["member-1", "member-2", "member-4", "member-5"],
                            "reason": "member-3 调离本区"});
    problem(
        app.post(&change, &member(1), new_roster.clone()).await,
        403,
        "role_not_allowed",
    )
    .await;
    problem(
        app.post(
            &change,
            &r.office,
            json!({"members": ["member-1", "member-2", "member-4", "member-5"], "reason": ""}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    ok(app.post(&change, &r.office, new_roster).await).await;
    problem(
        app.post(
            &format!("/api/v1/nominations/{id}/tally-vote"),
            &r.office,
            json!({}),
        )
        .await,
        422,
        "quorum_not_reached",
    )
    .await;
    problem(
        app.post(
            &format!("/api/v1/nominations/{id}/cast-vote"),
            &member(3),
            vote(false),
        )
        .await,
        403,
        "not_committee_member",
    )
    .await;
    command(&app, &member(4), &id, "cast-vote", vote(false)).await;
    let position = command(&app, &r.office, &id, "tally-vote", json!({})).await;
    let tallied = nomination(&app, &r.office, &id, position).await;
    assert_eq!(tallied["status"], "shortlisted", "{tallied}");
    let openapi: Value = reqwest::get(app.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        openapi["paths"]["/api/v1/reward-programs/{program_id}/change-committee"]["post"]
            .is_object()
    );
    app.stop().await;
}

async fn approval_after_the_notice_ended_but_before_closing_says_not_closed(db: TestDb) {
    let clock = ManualClock::at(MONDAY);
    let app = TestApp::spawn_at(db.db.clone(), &clock).await;
    let r = roles();
    add_reward_pool(&app, &r).await;
    let program = approved_program(&app, &r).await;
    let id = nominate(&app, &r, &program).await;
    scored(&app, &r, &id).await;
    for n in 1..=3 {
        command(
            &app,
            &member(n),
            &id,
            "cast-vote",
            json!({"in_favour": true}),
        )
        .await;
    }
    command(&app, &r.office, &id, "tally-vote", json!({})).await;
    command(&app, &r.office, &id, "start-notice", json!({})).await;
    let approve = json!({"decision_number": "区政〔2026〕15号", "tier": "first",
                         "amount": 150000, "reason": "经公示无异议"});
    let running = problem(
        app.post(
            &format!("/api/v1/nominations/{id}/approve"),
            &r.authority,
            approve.clone(),
        )
        .await,
        422,
        "notice_period_running",
    )
    .await;
    assert!(running.to_string().contains("2026-03-09"), "{running}");
    clock.set(AFTER_NOTICE);
    problem(
        app.post(
            &format!("/api/v1/nominations/{id}/approve"),
            &r.authority,
            approve.clone(),
        )
        .await,
        422,
        "notice_not_closed",
    )
    .await;
    command(&app, &r.office, &id, "close-notice", json!({})).await;
    command(&app, &r.authority, &id, "approve", approve).await;
    app.stop().await;
}

async fn a_recused_reviewer_loses_the_file(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let r = roles();
    add_reward_pool(&app, &r).await;
    let program = approved_program(&app, &r).await;
    let id = nominate(&app, &r, &program).await;
    command(
        &app,
        &r.office,
        &id,
        "decide-eligibility",
        json!({"eligible": true, "checklist": [{"item": "在本区工作满两年", "passed": true}],
               "reason": "材料齐全，条件符合"}),
    )
    .await;
    let position = command(&app, &r.office, &id, "draw-reviewers", json!({})).await;
    let drawn = nomination(&app, &r.office, &id, position).await;
    let reviewers = active_reviewers(&drawn);
    let recused = reviewers[0].clone();
    let recused_token = token(&recused, "expert", None);
    // Seated: the reviewer reads the file.
    nomination(&app, &recused_token, &id, position).await;
    let position = command(
        &app,
        &r.office,
        &id,
        "recuse-reviewer",
        json!({"expert_id": recused, "reason": "与被提名人同一课题组"}),
    )
    .await;
    problem(
        app.get(
            &format!("/api/v1/nominations/{id}?min_position={position}"),
            &recused_token,
        )
        .await,
        404,
        "nomination_not_found",
    )
    .await;
    // The reviewers still seated keep reading it.
    nomination(&app, &token(&reviewers[1], "expert", None), &id, position).await;
    app.stop().await;
}

async fn personal_data_reads(db: &TestDb) -> i64 {
    integers(
        &db.db,
        "SELECT count(*) FROM events WHERE aggregate_type = 'AccessLog' \
           AND CAST(payload AS TEXT) LIKE '%nominee_personal_data%'",
    )
    .await[0]
}

async fn reads_of_the_nominees_id_number_and_phone_are_recorded(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let r = roles();
    let program = approved_program(&app, &r).await;
    let first = nominate(&app, &r, &program).await;
    let second = nominate(&app, &r, &program).await;
    let at = integers(&db.db, "SELECT max(position) FROM events").await[0];
    assert_eq!(personal_data_reads(&db).await, 0);

    // One nomination read by the reward office, then by the auditor: two records.
    let read = nomination(&app, &r.office, &first, at).await;
    assert_eq!(read["nominee_id_number"], ID_NUMBER);
    assert_eq!(personal_data_reads(&db).await, 1);
    let read = nomination(&app, &r.auditor, &first, at).await;
    assert_eq!(read["nominee_phone"], PHONE);
    assert_eq!(personal_data_reads(&db).await, 2);

    // A list showing two nominees' data: one record per nominee.
    let listed = ok(app
        .get(
            &format!("/api/v1/nominations?program_id={program}&min_position={at}"),
            &r.office,
        )
        .await)
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(personal_data_reads(&db).await, 4);
    let subjects = integers(
        &db.db,
        &format!(
            "SELECT count(*) FROM events WHERE aggregate_type = 'AccessLog' \
               AND CAST(payload AS TEXT) LIKE '%{second}%'"
        ),
    )
    .await[0];
    assert_eq!(
        subjects, 1,
        "the list's record names the nominee's nomination"
    );

    // A committee member sees no ID number nor phone, so nothing is recorded.
    let read = nomination(&app, &member(1), &first, at).await;
    assert!(read["nominee_id_number"].is_null());
    assert_eq!(personal_data_reads(&db).await, 4);
    app.stop().await;
}

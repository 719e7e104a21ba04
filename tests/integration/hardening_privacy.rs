//! Hardening (issue 13), privacy items, over real HTTP on both stores: personal data typed into
//! free text never reaches a public surface (ballot comments on the public appraisal report and
//! page, a nomination's summary in the public notices and awards, a revocation's grounds, a
//! case's public updates in the status lookup).

use serde_json::{json, Value};

use crate::on_both;
use crate::support::{integers, json, registration, token, ManualClock, TestApp, TestDb};

on_both!(
    ballot_comments_are_masked_on_the_public_report_and_page,
    nomination_summaries_are_masked_in_public_notices_and_awards,
    public_updates_are_masked_in_the_status_lookup,
    rater_keys_are_keyed_with_the_server_secret,
    a_path_with_invalid_utf8_answers_a_problem,
    withdraw_before_approval_program_terms_and_the_audit_schema,
);

/// Pieces of personal data in the spellings the masking used to miss; none may appear in a
/// public answer.
const LEAKS: [&str; 10] = [
    "１３８",
    "５６７８",
    "138.1234",
    "5678",
    "1234",
    "002X",
    "3456",
    "张三",
    "王科长",
    "example",
];

fn assert_no_leak(text: &str, what: &str) {
    for leaked in LEAKS {
        assert!(!text.contains(leaked), "{leaked} leaked in {what}: {text}");
    }
}

async fn ok(response: reqwest::Response) -> Value {
    json(response, 200).await
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    let response = app.post(path, token, body).await;
    let status = response.status().as_u16();
    json(response, if status == 201 { 201 } else { 200 }).await
}

async fn ballot_comments_are_masked_on_the_public_report_and_page(db: TestDb) {
    let clock = ManualClock::at("2026-11-06T05:00:00Z");
    let app = TestApp::spawn_at(db.db.clone(), &clock).await;
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    let created = post(
        &app,
        "/api/v1/appraisals",
        &dispatcher,
        json!({
            "title": "2026年第四季度公开评议", "title_en": "Appraisal 2026 Q4", "period": "2026-Q4",
            "departments": ["dept-commerce"],
            "rater_groups": [{ "id": "enterprises", "name": "企业代表", "name_en": "Enterprises",
                               "weight": 100, "roles": ["enterprise"] }],
            "dimensions": [{ "id": "lawful", "name": "依法行政", "name_en": "Lawful administration" }],
            "kpi_weight": 0
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = |command: &str| format!("/api/v1/appraisals/{id}/{command}");
    post(&app, &path("open"), &dispatcher, json!({})).await;
    let comments = [
        "办事快，手机１３８１２３４５６７８",
        "王科长电话138.1234.5678，座机010-6512 3456",
        "联系人张三，身份证11010519491231002X，邮箱zhang@example.com",
    ];
    for (n, comment) in comments.iter().enumerate() {
        let rater = token(
            &format!("ent-user-{n}"),
            "enterprise",
            Some(&format!("ent-000{n}")),
        );
        post(
            &app,
            &path("ballots"),
            &rater,
            json!({ "department": "dept-commerce", "rater_group": "enterprises",
                    "scores": { "lawful": 80 }, "comment": comment }),
        )
        .await;
    }
    post(&app, &path("close"), &dispatcher, json!({})).await;
    post(
        &app,
        &path("compute"),
        &dispatcher,
        json!({ "redact_names": [] }),
    )
    .await;
    let published = post(&app, &path("publish"), &dispatcher, json!({})).await;
    // The public report reads its own writes too (issue 13 item 3): a position no event has is
    // refused, the publication's position is waited for.
    let public = |query: String| {
        app.client
            .get(app.url(&format!("/api/v1/public/appraisals/{id}{query}")))
            .send()
    };
    crate::support::problem(
        public("?min_position=999999999".to_owned()).await.unwrap(),
        400,
        "unknown_position",
    )
    .await;
    let csv = app
        .client
        .get(app.url(&format!(
            "/api/v1/public/appraisals/{id}/export.csv?min_position={}",
            published["position"]
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    let report = ok(public(format!("?min_position={}", published["position"]))
        .await
        .unwrap())
    .await;
    let shown = report["departments"][0]["comments"].as_array().unwrap();
    assert_eq!(shown.len(), 3, "{report}");
    assert_eq!(shown[0], "办事快，手机***");
    assert_eq!(report["desensitise_version"], "desensitise.v2");
    assert_no_leak(&report.to_string(), "the public report");
    for page in [
        format!("/public/appraisals/{id}"),
        format!("/public/appraisals/{id}?lang=en"),
    ] {
        let response = app.client.get(app.url(&page)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let html = response.text().await.unwrap();
        assert!(html.contains("办事快，手机***"), "{html}");
        assert_no_leak(&html, "the public page");
    }
    app.stop().await;
}

struct Roles {
    office: String,
    authority: String,
    members: Vec<String>,
    secretary: String,
}

impl Roles {
    fn auditor(&self) -> String {
        token("inspector-sun", "auditor", None)
    }
}

fn roles() -> Roles {
    Roles {
        office: token("ro-chen", "reward_office", None),
        authority: token("mayor-li", "approving_authority", None),
        members: (1..=3)
            .map(|n| token(&format!("member-{n}"), "committee_member", None))
            .collect(),
        secretary: token("sec-wu", "panel_secretary", None),
    }
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

/// An approved program with a pool of six experts; returns the program id.
async fn program_with_pool(app: &TestApp, r: &Roles) -> String {
    for i in 1..=6 {
        post(
            app,
            "/api/v1/experts",
            &r.secretary,
            json!({"expert_id": format!("econ-{i}"), "name": format!("经济专家{i}"),
                   "disciplines": ["economics"], "employer_unit": format!("univ-{i}")}),
        )
        .await;
    }
    let created = post(
        app,
        "/api/v1/reward-programs",
        &r.office,
        json!({
            "title": "2026年度科技创新重奖", "cycle": "2026", "quota": 2,
            "tiers": [{"code": "first", "name": "一等奖", "min_amount": 100000, "max_amount": 200000}],
            "criteria": [{"code": "contribution", "name": "经济贡献", "weight": 1, "min_score": 0, "max_score": 100}],
            "trim": 0, "notice_working_days": 5, "reviewers": 3, "alternates": 2,
            "disciplines": ["economics"], "committee_size": 5, "committee_quorum": 3,
            "committee": ["member-1", "member-2", "member-3", "member-4", "member-5"],
            "reward_office_unit": "district-reward-office", "reward_office_staff": ["ro-chen"]
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    post(
        app,
        &format!("/api/v1/reward-programs/{id}/approve"),
        &r.authority,
        json!({"document_number": "区委〔2026〕8号"}),
    )
    .await;
    id
}

async fn nomination_in_notice(
    app: &TestApp,
    r: &Roles,
    program: &str,
    summary: &str,
) -> (String, i64) {
    let created = post(
        app,
        "/api/v1/nominations",
        &r.office,
        json!({
            "program_id": program,
            "nominee": {"kind": "person", "name": "钱乙", "unit": "区新材料研究院",
                        "unit_id": "inst-materials", "id_number": "110101198001011234",
                        "phone": "13912345678"},
            "summary": summary,
            "contributions": [{"description": "新增产值", "quantity": 12000, "unit": "万元"}],
            "evidence": ["区科〔2025〕31号"],
            "reason": "贡献突出"
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    command(
        app,
        &r.office,
        &id,
        "decide-eligibility",
        json!({"eligible": true, "checklist": [{"item": "在本区工作满两年", "passed": true}],
               "reason": "材料齐全"}),
    )
    .await;
    let position = command(app, &r.office, &id, "draw-reviewers", json!({})).await;
    let drawn = ok(app
        .get(
            &format!("/api/v1/nominations/{id}?min_position={position}"),
            &r.office,
        )
        .await)
    .await;
    for reviewer in drawn["reviewers"].as_array().unwrap() {
        if !reviewer["recused"].is_null() {
            continue;
        }
        let expert = token(reviewer["expert_id"].as_str().unwrap(), "expert", None);
        command(
            app,
            &expert,
            &id,
            "submit-scores",
            json!({"scores": {"contribution": {"score": 80}}}),
        )
        .await;
    }
    command(app, &r.office, &id, "aggregate-scores", json!({})).await;
    for member in &r.members {
        command(app, member, &id, "cast-vote", json!({"in_favour": true})).await;
    }
    command(app, &r.office, &id, "tally-vote", json!({})).await;
    let position = command(app, &r.office, &id, "start-notice", json!({})).await;
    (id, position)
}

async fn nomination_summaries_are_masked_in_public_notices_and_awards(db: TestDb) {
    let clock = ManualClock::at("2026-03-02T02:00:00Z");
    let app = TestApp::spawn_at(db.db.clone(), &clock).await;
    let r = roles();
    let program = program_with_pool(&app, &r).await;
    let summary = "钱乙同志主持研发新型电池隔膜，年新增产值1.2亿元。联系人张三，\
                   电话１３８１２３４５６７８，身份证11010519491231002X。";
    let (id, position) = nomination_in_notice(&app, &r, &program, summary).await;
    let notices = ok(app
        .client
        .get(app.url(&format!(
            "/api/v1/public/nominations?min_position={position}"
        )))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(notices[0]["name"], "钱乙");
    assert_eq!(
        notices[0]["summary"],
        "钱乙同志主持研发新型电池隔膜，年新增产值1.2亿元。联系人***，电话***，身份证***。"
    );
    assert_no_leak(&notices.to_string(), "the public notices");

    clock.set("2026-03-09T03:00:00Z");
    command(&app, &r.office, &id, "close-notice", json!({})).await;
    command(
        &app,
        &r.authority,
        &id,
        "approve",
        json!({"decision_number": "区政〔2026〕15号", "tier": "first", "amount": 150000,
               "reason": "评审第一"}),
    )
    .await;
    command(&app, &r.office, &id, "announce", json!({})).await;
    let position = command(
        &app,
        &r.authority,
        &id,
        "revoke",
        json!({"decision_number": "区政〔2026〕30号",
               "grounds": "经查数据不实，举报人王科长电话138.1234.5678"}),
    )
    .await;
    let awards = ok(app
        .client
        .get(app.url(&format!("/api/v1/public/awards?min_position={position}")))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(awards["revocations"][0]["name"], "钱乙");
    assert_no_leak(&awards.to_string(), "the public awards");
    app.stop().await;
}

async fn public_updates_are_masked_in_the_status_lookup(db: TestDb) {
    let clock = ManualClock::at("2026-11-23T02:00:00Z");
    let app = TestApp::spawn_at(db.db.clone(), &clock).await;
    let liaison = token("leader-li", "district_leader", None);
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    let handler = token("handler-1", "department_handler", Some("dept-commerce"));
    let created = post(&app, "/api/v1/cases", &liaison, registration("ent-0001")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let case_number = created["case_number"].as_str().unwrap().to_owned();
    let verifier = created["verifier"].as_str().unwrap().to_owned();
    post(
        &app,
        &format!("/api/v1/cases/{id}/dispatch"),
        &dispatcher,
        json!({ "lead_department": "dept-commerce" }),
    )
    .await;
    post(
        &app,
        &format!("/api/v1/cases/{id}/accept"),
        &handler,
        json!({}),
    )
    .await;
    post(
        &app,
        &format!("/api/v1/cases/{id}/post-update"),
        &handler,
        json!({ "text": "已受理，经办人：张三，有事请找王科长，电话１３８１２３４５６７８或010-6512 3456。" }),
    )
    .await;
    app.state.projector.catch_up().await.unwrap();
    let public = ok(app
        .client
        .post(app.url("/api/v1/public/case-status"))
        .json(&json!({ "case_number": case_number, "verifier": verifier }))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(
        public["public_updates"][0]["text"],
        "已受理，经办人：***，有事请找***，电话***或***。"
    );
    assert_no_leak(&public.to_string(), "the status lookup");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Item 13: the rater key is keyed with a server secret the log never contains.

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn hmac_sha256_matches_rfc_4231() {
    use caseledger_api::auth::hmac_sha256;
    assert_eq!(
        hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // A key longer than the block is hashed first (RFC 4231 test case 6).
    assert_eq!(
        hex(&hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

async fn rater_keys_are_keyed_with_the_server_secret(db: TestDb) {
    use caseledger_api::appraisals::rater_key;
    use caseledger_api::JwtKeys;
    use caseledger_domain::appraisal::AppraisalEvent;
    use caseledger_domain::{Actor, AppraisalId, Role, UserId};

    let clock = ManualClock::at("2026-11-06T05:00:00Z");
    let app = TestApp::spawn_at(db.db.clone(), &clock).await;
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    let created = post(
        &app,
        "/api/v1/appraisals",
        &dispatcher,
        json!({
            "title": "2026年第四季度公开评议", "title_en": "Appraisal 2026 Q4", "period": "2026-Q4",
            "departments": ["dept-commerce"],
            "rater_groups": [{ "id": "enterprises", "name": "企业代表", "name_en": "Enterprises",
                               "weight": 100, "roles": ["enterprise"] }],
            "dimensions": [{ "id": "lawful", "name": "依法行政", "name_en": "Lawful administration" }],
            "kpi_weight": 0
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    post(
        &app,
        &format!("/api/v1/appraisals/{id}/open"),
        &dispatcher,
        json!({}),
    )
    .await;
    let rater = token("ent-user-1", "enterprise", Some("ent-0001"));
    let ballot = json!({ "department": "dept-commerce", "rater_group": "enterprises",
                         "scores": { "lawful": 80 } });
    post(
        &app,
        &format!("/api/v1/appraisals/{id}/ballots"),
        &rater,
        ballot.clone(),
    )
    .await;
    // One ballot per rater still holds.
    crate::support::problem(
        app.post(&format!("/api/v1/appraisals/{id}/ballots"), &rater, ballot)
            .await,
        409,
        "ballot_already_cast",
    )
    .await;

    let history = app
        .state
        .db
        .stream_history("AppraisalCampaign", &id)
        .await
        .unwrap();
    let stored: Vec<String> = history
        .iter()
        .filter_map(
            |event| match serde_json::from_str::<AppraisalEvent>(&event.payload).unwrap() {
                AppraisalEvent::BallotCast { rater_key, .. } => Some(rater_key),
                _ => None,
            },
        )
        .collect();
    assert_eq!(stored.len(), 1);
    let stored = &stored[0];
    assert!(!stored.contains("ent-user-1"));
    let campaign = AppraisalId::parse(&id).unwrap();
    let actor = Actor {
        sub: UserId::parse("ent-user-1").unwrap(),
        roles: vec![Role::Enterprise],
        org: Some("ent-0001".into()),
    };
    let server = crate::support::keys();
    assert_eq!(
        stored,
        &rater_key(server.rater_key_secret(), &campaign, &actor)
    );
    // Under another server secret the same rater in the same campaign gets another key, and a
    // key from a constant everybody knows (an empty secret) is not the stored one.
    let other = JwtKeys::from_secret(b"another-server-secret-0123456789");
    assert_ne!(
        stored,
        &rater_key(other.rater_key_secret(), &campaign, &actor)
    );
    assert_ne!(stored, &rater_key(&[0; 32], &campaign, &actor));
    // The secret is not the token secret itself, and neither appears in the log.
    assert_ne!(&server.rater_key_secret()[..], crate::support::SECRET);
    let log: String = history.iter().map(|event| event.payload.clone()).collect();
    assert!(!log.contains(&hex(server.rater_key_secret())));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Item 20: every error is problem+json, a path that is not valid UTF-8 included.

async fn a_path_with_invalid_utf8_answers_a_problem(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let auditor = token("inspector-sun", "auditor", None);
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    let gets = [
        ("/api/v1/cases/%ff%fe/history", Some(&auditor)),
        ("/api/v1/cases/%C3%28", Some(&auditor)),
        ("/api/v1/public/appraisals/%ff%fe", None),
        ("/api/v1/public/appraisals/%ff/export.csv", None),
        ("/public/appraisals/%ff%fe", None),
    ];
    for (path, bearer) in gets {
        let mut request = app.client.get(app.url(path));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let answer =
            crate::support::problem(request.send().await.unwrap(), 400, "invalid_path").await;
        assert_eq!(
            answer["type"], "urn:caseledger:problem:invalid_path",
            "{path}"
        );
    }
    crate::support::problem(
        app.post(
            "/api/v1/appraisals/0193a0a2-7c4e-7d1a-9b8e-000000000000/rectifications/%ff/report",
            &token("h", "department_handler", Some("dept-commerce")),
            json!({ "note": "x" }),
        )
        .await,
        400,
        "invalid_path",
    )
    .await;
    crate::support::problem(
        app.post("/api/v1/cases/%ff%fe/dispatch", &dispatcher, json!({}))
            .await,
        400,
        "invalid_path",
    )
    .await;
    // Valid UTF-8 that names nothing is still a 404 problem.
    crate::support::problem(
        app.get("/api/v1/cases/%E4%B8%AD/history", &auditor).await,
        404,
        "case_not_found",
    )
    .await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Item 11: withdraw before approval means every status before approval; the program read shows
// every term the office entered; the audit answer has a schema.

async fn withdraw_before_approval_program_terms_and_the_audit_schema(db: TestDb) {
    let clock = ManualClock::at("2026-03-02T02:00:00Z");
    let app = TestApp::spawn_at(db.db.clone(), &clock).await;
    let r = roles();
    let program = program_with_pool(&app, &r).await;

    // The program read shows every term the office entered.
    let last = integers(&app.state.db, "SELECT max(position) FROM events").await;
    let read = ok(app
        .get(
            &format!("/api/v1/reward-programs/{program}?min_position={}", last[0]),
            &r.office,
        )
        .await)
    .await;
    assert_eq!(read["alternates"], 2, "{read}");
    assert_eq!(read["disciplines"], json!(["economics"]));
    assert_eq!(read["reward_office_unit"], "district-reward-office");
    assert_eq!(read["reward_office_staff"], json!(["ro-chen"]));
    assert_eq!(
        read["committee"],
        json!(["member-1", "member-2", "member-3", "member-4", "member-5"])
    );

    // An ineligible nomination and one the committee voted down are withdrawn on record.
    let nominate = |name: &'static str| {
        let app = &app;
        let r = &r;
        let program = program.clone();
        async move {
            post(
                app,
                "/api/v1/nominations",
                &r.office,
                json!({
                    "program_id": program,
                    "nominee": {"kind": "person", "name": name, "unit": "区机械厂"},
                    "summary": "事迹",
                    "contributions": [{"description": "新增产值", "quantity": 1, "unit": "万元"}],
                    "evidence": ["区科〔2025〕31号"],
                    "reason": "贡献突出"
                }),
            )
            .await["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let ineligible = nominate("赵甲").await;
    command(
        &app,
        &r.office,
        &ineligible,
        "decide-eligibility",
        json!({"eligible": false, "checklist": [{"item": "在本区工作满两年", "passed": false}],
               "reason": "在本区工作不满两年"}),
    )
    .await;
    let voted_down = nominate("孙丙").await;
    command(
        &app,
        &r.office,
        &voted_down,
        "decide-eligibility",
        json!({"eligible": true, "checklist": [{"item": "在本区工作满两年", "passed": true}],
               "reason": "材料齐全"}),
    )
    .await;
    let position = command(&app, &r.office, &voted_down, "draw-reviewers", json!({})).await;
    let drawn = ok(app
        .get(
            &format!("/api/v1/nominations/{voted_down}?min_position={position}"),
            &r.office,
        )
        .await)
    .await;
    for reviewer in drawn["reviewers"].as_array().unwrap() {
        let expert = token(reviewer["expert_id"].as_str().unwrap(), "expert", None);
        command(
            &app,
            &expert,
            &voted_down,
            "submit-scores",
            json!({"scores": {"contribution": {"score": 40}}}),
        )
        .await;
    }
    command(&app, &r.office, &voted_down, "aggregate-scores", json!({})).await;
    for member in &r.members {
        command(
            &app,
            member,
            &voted_down,
            "cast-vote",
            json!({"in_favour": false}),
        )
        .await;
    }
    let position = command(&app, &r.office, &voted_down, "tally-vote", json!({})).await;
    let read = ok(app
        .get(
            &format!("/api/v1/nominations/{voted_down}?min_position={position}"),
            &r.office,
        )
        .await)
    .await;
    assert_eq!(read["status"], "not_shortlisted");
    for id in [&ineligible, &voted_down] {
        let position = command(
            &app,
            &r.office,
            id,
            "withdraw",
            json!({"reason": "推荐单位撤回推荐"}),
        )
        .await;
        let read = ok(app
            .get(
                &format!("/api/v1/nominations/{id}?min_position={position}"),
                &r.office,
            )
            .await)
        .await;
        assert_eq!(read["status"], "withdrawn");
    }

    // The audit answer is described by a schema, and every key it answers is in it.
    let document = ok(app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap())
    .await;
    let audit_path = &document["paths"]["/api/v1/reward-programs/{program_id}/audit"]["get"];
    assert_eq!(
        audit_path["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/RewardAuditBody"
    );
    let schemas = &document["components"]["schemas"];
    let audit = ok(app
        .get(
            &format!("/api/v1/reward-programs/{program}/audit"),
            &r.auditor(),
        )
        .await)
    .await;
    let keys =
        |value: &Value| -> Vec<String> { value.as_object().unwrap().keys().cloned().collect() };
    for key in keys(&audit) {
        assert!(
            schemas["RewardAuditBody"]["properties"].get(&key).is_some(),
            "audit key {key} not in the schema"
        );
    }
    for key in keys(&audit["nominations"][0]) {
        assert!(
            schemas["NominationAuditBody"]["properties"]
                .get(&key)
                .is_some(),
            "nomination audit key {key} not in the schema"
        );
    }
    for key in keys(&audit["nominations"][0]["timeline"][0]) {
        assert!(
            schemas["AuditTimelineEntryBody"]["properties"]
                .get(&key)
                .is_some(),
            "timeline key {key} not in the schema"
        );
    }
    // The program's terms in the schema too.
    for key in [
        "alternates",
        "disciplines",
        "reward_office_unit",
        "reward_office_staff",
        "committee",
    ] {
        assert!(
            schemas["ProgramBody"]["properties"].get(key).is_some(),
            "{key}"
        );
    }
    app.stop().await;
}

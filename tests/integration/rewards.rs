//! Reward nominations over real HTTP, on both stores, with every role. The done-when story: a
//! program with a quota of two; four nominations, one ineligible; reviewers drawn from the
//! expert pool (reward-office staff never seated), one reviewer recused after scoring and
//! replaced; scores aggregated; the committee votes; a public notice of five working days; an
//! anonymous objection logged as not accepted and a named one upheld by the auditor; two
//! approvals announced and one later revoked by the authority that approved it. The program
//! audit tells that story and flags nothing. Then: a score changed by hand in the events table
//! is caught by the audit (a view edit is not what the audit reads); public answers carry no
//! private field; refusals answer with their codes.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::on_both;
use crate::support::{integers, json, problem, sql, token, ManualClock, TestApp, TestDb};

on_both!(
    reward_program_from_nomination_to_revocation_with_the_audit,
    a_score_changed_by_hand_in_the_store_is_caught_by_the_audit,
    reward_commands_refuse_with_stable_codes,
    public_objections_ignore_if_match_and_idempotency_keys
);

/// Monday 2 March 2026, 10:00 in Beijing: a working day.
pub(crate) const MONDAY: &str = "2026-03-02T02:00:00Z";
/// Five working days later plus an hour.
const AFTER_NOTICE: &str = "2026-03-09T03:00:00Z";

const ID_NUMBER: &str = "110101198001011234";
const PHONE: &str = "13912345678";
const FILER: &str = "李举报";
const FILER_CONTACT: &str = "15800001111";

pub(crate) struct Roles {
    pub(crate) office: String,
    authority: String,
    other_authority: String,
    pub(crate) auditor: String,
    members: Vec<String>,
    secretary: String,
}

pub(crate) fn roles() -> Roles {
    Roles {
        office: token("ro-chen", "reward_office", None),
        authority: token("mayor-li", "approving_authority", None),
        other_authority: token("deputy-zhao", "approving_authority", None),
        auditor: token("inspector-sun", "auditor", None),
        members: (1..=3)
            .map(|n| token(&format!("member-{n}"), "committee_member", None))
            .collect(),
        secretary: token("sec-wu", "panel_secretary", None),
    }
}

fn expert_token(id: &str) -> String {
    token(id, "expert", None)
}

pub(crate) async fn ok(response: reqwest::Response) -> Value {
    json(response, 200).await
}

pub(crate) async fn add_pool(app: &TestApp, r: &Roles) {
    let mut experts: Vec<Value> = (1..=6)
        .map(|i| {
            json!({"expert_id": format!("econ-{i}"), "name": format!("经济专家{i}"),
                   "disciplines": ["economics"], "employer_unit": format!("univ-{i}")})
        })
        .collect();
    // A reward-office staff member who is also in the pool, and an expert employed by the
    // reward office: neither may ever be seated.
    experts.push(
        json!({"expert_id": "ro-chen", "name": "陈", "disciplines": ["economics"],
                        "employer_unit": "univ-9"}),
    );
    experts.push(
        json!({"expert_id": "ro-employee", "name": "奖励办职员", "disciplines": ["economics"],
                        "employer_unit": "district-reward-office"}),
    );
    for expert in experts {
        json(app.post("/api/v1/experts", &r.secretary, expert).await, 201).await;
    }
}

fn program_body(quota: u32) -> Value {
    json!({
        "title": "2026年度科技创新重奖",
        "cycle": "2026",
        "quota": quota,
        "tiers": [
            {"code": "first", "name": "一等奖", "min_amount": 100000, "max_amount": 200000},
            {"code": "second", "name": "二等奖", "min_amount": 50000, "max_amount": 80000}
        ],
        "criteria": [
            {"code": "contribution", "name": "经济贡献", "weight": 3, "min_score": 0, "max_score": 100},
            {"code": "innovation", "name": "创新水平", "weight": 2, "min_score": 0, "max_score": 100}
        ],
        "trim": 1,
        "notice_working_days": 5,
        "reviewers": 3,
        "alternates": 2,
        "disciplines": ["economics"],
        "committee_size": 5,
        "committee_quorum": 3,
        "committee": ["member-1", "member-2", "member-3", "member-4", "member-5"],
        "reward_office_unit": "district-reward-office",
        "reward_office_staff": ["ro-chen"]
    })
}

pub(crate) async fn approved_program(app: &TestApp, r: &Roles, quota: u32) -> String {
    let created = json(
        app.post("/api/v1/reward-programs", &r.office, program_body(quota))
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

pub(crate) async fn nominate(
    app: &TestApp,
    r: &Roles,
    program: &str,
    name: &str,
    unit: &str,
) -> String {
    let body = json!({
        "program_id": program,
        "nominee": {"kind": "person", "name": name, "unit": unit, "unit_id": "inst-materials",
                    "id_number": ID_NUMBER, "phone": PHONE},
        "summary": format!("{name}主持研发新型电池隔膜，年新增产值1.2亿元。"),
        "contributions": [{"description": "新增产值", "quantity": 12000, "unit": "万元"}],
        "evidence": ["区科〔2025〕31号"],
        "reason": "贡献突出，成果已产业化"
    });
    json(app.post("/api/v1/nominations", &r.office, body).await, 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn command(
    app: &TestApp,
    who: &str,
    nomination: &str,
    what: &str,
    body: Value,
) -> i64 {
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

fn scores(contribution: i64, innovation: i64) -> Value {
    json!({"scores": {
        "contribution": {"score": contribution},
        "innovation": {"score": innovation}
    }})
}

const ELIGIBLE: fn() -> Value = || {
    json!({"eligible": true, "checklist": [{"item": "在本区工作满两年", "passed": true},
                                            {"item": "无违法违纪记录", "passed": true}],
           "reason": "材料齐全，条件符合"})
};

/// Eligible, drawn, scored by every seated reviewer (after `before_scores`), aggregated and
/// shortlisted by three votes. Returns the last position.
pub(crate) async fn through_committee(app: &TestApp, r: &Roles, id: &str, base: i64) -> i64 {
    command(app, &r.office, id, "decide-eligibility", ELIGIBLE()).await;
    let position = command(app, &r.office, id, "draw-reviewers", json!({})).await;
    let drawn = nomination(app, &r.office, id, position).await;
    let reviewers = active_reviewers(&drawn);
    assert_eq!(reviewers.len(), 3);
    for (i, reviewer) in reviewers.iter().enumerate() {
        let score = base + 5 * i as i64;
        command(
            app,
            &expert_token(reviewer),
            id,
            "submit-scores",
            scores(score, score - 4),
        )
        .await;
    }
    command(app, &r.office, id, "aggregate-scores", json!({})).await;
    for member in &r.members {
        command(app, member, id, "cast-vote", json!({"in_favour": true})).await;
    }
    command(app, &r.office, id, "tally-vote", json!({})).await
}

async fn reward_program_from_nomination_to_revocation_with_the_audit(test_db: TestDb) {
    let db = test_db.db.clone();
    let clock = ManualClock::at(MONDAY);
    let app = TestApp::spawn_at(test_db.db.clone(), &clock).await;
    let r = roles();
    add_pool(&app, &r).await;
    let program = approved_program(&app, &r, 2).await;

    let a = nominate(&app, &r, &program, "赵甲", "区机械厂").await;
    let b = nominate(&app, &r, &program, "钱乙", "区新材料研究院").await;
    let c = nominate(&app, &r, &program, "孙丙", "区生物医药园").await;
    let d = nominate(&app, &r, &program, "周丁", "区软件园").await;

    // A is not eligible.
    command(
        &app,
        &r.office,
        &a,
        "decide-eligibility",
        json!({"eligible": false,
               "checklist": [{"item": "在本区工作满两年", "passed": false}],
               "reason": "在本区工作不满两年"}),
    )
    .await;

    // B: a reviewer scores, is then found conflicted and recused; the alternate scores.
    command(&app, &r.office, &b, "decide-eligibility", ELIGIBLE()).await;
    let position = command(&app, &r.office, &b, "draw-reviewers", json!({})).await;
    let drawn = nomination(&app, &r.office, &b, position).await;
    let reviewers = active_reviewers(&drawn);
    for reviewer in &reviewers {
        assert!(
            reviewer.starts_with("econ-"),
            "never reward-office staff: {reviewer}"
        );
    }
    let recused = reviewers[0].clone();
    command(
        &app,
        &expert_token(&recused),
        &b,
        "submit-scores",
        json!({"scores": {"contribution": {"score": 100, "comment": "产值贡献全区第一"},
                          "innovation": {"score": 90}}}),
    )
    .await;
    // Reward-office staff cannot score, even holding an expert token too.
    let both = crate::support::keys()
        .mint(
            &recused,
            &["expert".into(), "reward_office".into()],
            None,
            chrono::Utc::now().timestamp() as u64,
            3600,
        )
        .unwrap();
    problem(
        app.post(
            &format!("/api/v1/nominations/{b}/submit-scores"),
            &both,
            scores(70, 70),
        )
        .await,
        403,
        "scorer_is_reward_office",
    )
    .await;
    let position = command(
        &app,
        &r.office,
        &b,
        "recuse-reviewer",
        json!({"expert_id": recused, "reason": "后查明曾与被提名人合作承担项目"}),
    )
    .await;
    problem(
        app.post(
            &format!("/api/v1/nominations/{b}/submit-scores"),
            &expert_token(&recused),
            scores(70, 70),
        )
        .await,
        403,
        "reviewer_recused",
    )
    .await;
    let after_recusal = nomination(&app, &r.office, &b, position).await;
    let seated = active_reviewers(&after_recusal);
    assert_eq!(seated.len(), 3);
    assert!(!seated.contains(&recused));
    for (i, reviewer) in seated.iter().enumerate() {
        command(
            &app,
            &expert_token(reviewer),
            &b,
            "submit-scores",
            scores(80 + i as i64, 75),
        )
        .await;
    }
    command(&app, &r.office, &b, "aggregate-scores", json!({})).await;
    for member in &r.members {
        command(&app, member, &b, "cast-vote", json!({"in_favour": true})).await;
    }
    command(&app, &r.office, &b, "tally-vote", json!({})).await;

    through_committee(&app, &r, &c, 70).await;
    through_committee(&app, &r, &d, 60).await;

    // The notice: five working days from Monday 10:00 to the next Monday 10:00.
    let mut position = 0;
    for id in [&b, &c, &d] {
        position = command(&app, &r.office, id, "start-notice", json!({})).await;
    }
    let in_notice = nomination(&app, &r.auditor, &b, position).await;
    assert_eq!(in_notice["notice_ends_at"], "2026-03-09T02:00:00.000000Z");

    // The public sees the three in notice, with public fields only.
    let public = ok(app
        .client
        .get(app.url(&format!(
            "/api/v1/public/nominations?min_position={position}"
        )))
        .send()
        .await
        .unwrap())
    .await;
    let listed = public.as_array().unwrap();
    assert_eq!(listed.len(), 3);
    for entry in listed {
        let keys: BTreeSet<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "cycle",
                "name",
                "nomination_id",
                "notice_ends_at",
                "notice_starts_at",
                "program",
                "summary",
                "unit"
            ]
            .into()
        );
    }
    assert_no_private(&public.to_string());

    // Objections: an anonymous vague one against B is logged, not accepted; a named one
    // against D is accepted. No login.
    let anonymous = ok(app
        .client
        .post(app.url(&format!("/api/v1/public/nominations/{b}/objections")))
        .json(&json!({"grounds": "听说有问题"}))
        .send()
        .await
        .unwrap())
    .await;
    assert!(anonymous["created_id"].is_string());
    let named = ok(app
        .client
        .post(app.url(&format!("/api/v1/public/nominations/{d}/objections")))
        .json(&json!({"name": FILER, "contact": FILER_CONTACT,
                      "grounds": "该成果为团队集体完成，申报材料夸大个人作用，附项目合同编号HT-2024-17。"}))
        .send()
        .await
        .unwrap())
    .await;
    let objection = named["created_id"].as_str().unwrap().to_owned();

    // No approval during the notice period.
    problem(
        app.post(
            &format!("/api/v1/nominations/{b}/approve"),
            &r.authority,
            json!({"decision_number": "区政〔2026〕15号", "tier": "first", "amount": 150000,
                   "reason": "评审第一"}),
        )
        .await,
        422,
        "notice_period_running",
    )
    .await;

    // Staff reads never show the filer; the filer list is recorded before it is served.
    let member_view =
        nomination(&app, &r.members[0], &d, named["position"].as_i64().unwrap()).await;
    assert!(!member_view.to_string().contains(FILER));
    assert!(!member_view.to_string().contains(FILER_CONTACT));
    assert!(member_view.get("nominee_id_number").is_none());
    problem(
        app.get(
            &format!("/api/v1/nominations/{d}/objections"),
            &r.members[0],
        )
        .await,
        403,
        "role_not_allowed",
    )
    .await;
    let reads_before = integers(
        &db,
        "SELECT count(*) FROM events WHERE aggregate_type = 'AccessLog'",
    )
    .await[0];
    let filers = ok(app
        .get(&format!("/api/v1/nominations/{d}/objections"), &r.auditor)
        .await)
    .await;
    assert_eq!(filers[0]["filer_name"], FILER);
    let reads_after = integers(
        &db,
        "SELECT count(*) FROM events WHERE aggregate_type = 'AccessLog'",
    )
    .await[0];
    assert_eq!(reads_after, reads_before + 1, "the read is access-audited");

    // The auditor upholds the objection against D; the reward office disqualifies D.
    problem(
        app.post(
            &format!("/api/v1/nominations/{d}/resolve-objection"),
            &r.office,
            json!({"objection_id": objection, "upheld": true, "finding": "x"}),
        )
        .await,
        403,
        "role_not_allowed",
    )
    .await;
    command(
        &app,
        &r.auditor,
        &d,
        "resolve-objection",
        json!({"objection_id": objection, "upheld": true,
               "finding": "经核查合同与项目组名单，成果为团队完成，申报夸大个人作用，异议成立"}),
    )
    .await;
    command(
        &app,
        &r.office,
        &d,
        "disqualify",
        json!({"reason": "公示期异议成立：申报材料夸大个人作用"}),
    )
    .await;

    // After the notice: close, approve B and C, announce both.
    clock.set(AFTER_NOTICE);
    for id in [&b, &c] {
        command(&app, &r.office, id, "close-notice", json!({})).await;
    }
    command(
        &app,
        &r.authority,
        &b,
        "approve",
        json!({"decision_number": "区政〔2026〕15号", "tier": "first", "amount": 150000,
               "reason": "评审总分第一，公示无有效异议"}),
    )
    .await;
    command(
        &app,
        &r.authority,
        &c,
        "approve",
        json!({"decision_number": "区政〔2026〕16号", "tier": "second", "amount": 60000,
               "reason": "评审总分第二，公示无异议"}),
    )
    .await;
    command(&app, &r.office, &b, "announce", json!({})).await;
    let position = command(&app, &r.office, &c, "announce", json!({})).await;

    let awards = ok(app
        .client
        .get(app.url(&format!("/api/v1/public/awards?min_position={position}")))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(awards["awards"].as_array().unwrap().len(), 2);
    for award in awards["awards"].as_array().unwrap() {
        let keys: BTreeSet<&str> = award
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, public_award_keys());
    }
    assert_no_private(&awards.to_string());

    // Later, C is revoked, only by the authority that approved it.
    problem(
        app.post(
            &format!("/api/v1/nominations/{c}/revoke"),
            &r.other_authority,
            json!({"decision_number": "区政〔2026〕30号", "grounds": "数据造假"}),
        )
        .await,
        403,
        "not_original_authority",
    )
    .await;
    let position = command(
        &app,
        &r.authority,
        &c,
        "revoke",
        json!({"decision_number": "区政〔2026〕30号", "grounds": "经查获奖成果的产值数据与统计不符"}),
    )
    .await;
    let awards = ok(app
        .client
        .get(app.url(&format!("/api/v1/public/awards?min_position={position}")))
        .send()
        .await
        .unwrap())
    .await;
    assert_eq!(awards["awards"].as_array().unwrap().len(), 1);
    assert_eq!(awards["awards"][0]["name"], "钱乙");
    assert_eq!(awards["revocations"].as_array().unwrap().len(), 1);
    assert_eq!(awards["revocations"][0]["name"], "孙丙");
    for award in awards["revocations"].as_array().unwrap() {
        let keys: BTreeSet<&str> = award
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, public_award_keys());
    }
    assert_no_private(&awards.to_string());

    // The audit tells the story and flags nothing that did not happen.
    problem(
        app.get(
            &format!("/api/v1/reward-programs/{program}/audit"),
            &r.members[0],
        )
        .await,
        403,
        "role_not_allowed",
    )
    .await;
    let audit = ok(app
        .get(
            &format!("/api/v1/reward-programs/{program}/audit"),
            &r.auditor,
        )
        .await)
    .await;
    assert_eq!(audit["flag_count"], 0, "{:#}", audit);
    assert_eq!(audit["approvals"], 2);
    assert_eq!(audit["revocations"], 1);
    assert_eq!(audit["approval_document"], "区委〔2026〕8号");
    let nominations = audit["nominations"].as_array().unwrap();
    let statuses: Vec<&str> = nominations
        .iter()
        .map(|n| n["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["ineligible", "announced", "revoked", "disqualified"]
    );
    let audit_b = &nominations[1];
    assert_eq!(audit_b["draw_reproducible"], true);
    let recused_entry = audit_b["roster"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["expert_id"] == recused.as_str())
        .unwrap();
    assert!(recused_entry["recused"].is_string());
    assert_eq!(recused_entry["voided"], true);
    assert_eq!(audit_b["aggregations"][0]["matches"], true);
    assert_eq!(audit_b["objections"][0]["accepted"], false);
    assert_eq!(nominations[3]["objections"][0]["upheld"], true);
    assert!(nominations[2]["revocation"].is_array());
    let events: Vec<&str> = audit_b["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for expected in [
        "NominationSubmitted",
        "ReviewerRecused",
        "ScoresVoided",
        "AlternateSeated",
        "ScoresAggregated",
        "VoteTallied",
        "NoticeStarted",
        "ObjectionFiled",
        "NominationApproved",
        "AwardAnnounced",
    ] {
        assert!(events.contains(&expected), "{expected} in {events:?}");
    }
    let audit_text = audit.to_string();
    assert!(!audit_text.contains(FILER) && !audit_text.contains(FILER_CONTACT));
    assert_no_private(&audit_text);

    let csv = app
        .get(
            &format!("/api/v1/reward-programs/{program}/audit?format=csv"),
            &r.auditor,
        )
        .await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("section,nomination_id,nominee,sequence,at,actor,event,detail\n"));
    assert!(csv.contains("AwardRevoked"));
    assert!(!csv.contains("\nflag,"));

    // The view rebuilds from the log to what the live projector wrote.
    let last = db.latest_event_position().await.unwrap().unwrap();
    let projector = caseledger_store::Projector::new(db.clone(), caseledger_app::projections());
    let reached = projector
        .wait_for("rewards", last, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(reached, caseledger_store::projector::CatchUp::Reached);
    let live = projector.checksum("rewards").await.unwrap();
    let rebuilt = projector.rebuild("rewards", &mut |_, _| {}).await.unwrap();
    assert_eq!(rebuilt, live);
    app.stop().await;
}

fn public_award_keys() -> BTreeSet<&'static str> {
    [
        "amount",
        "announced_at",
        "cycle",
        "decision_number",
        "name",
        "nomination_id",
        "program",
        "revocation_grounds",
        "revocation_number",
        "revoked",
        "revoked_at",
        "summary",
        "tier",
        "unit",
    ]
    .into()
}

fn assert_no_private(text: &str) {
    for private in [
        ID_NUMBER,
        PHONE,
        FILER,
        FILER_CONTACT,
        "id_number",
        "phone",
        "filer",
    ] {
        assert!(!text.contains(private), "{private} leaked: {text}");
    }
}

async fn a_score_changed_by_hand_in_the_store_is_caught_by_the_audit(test_db: TestDb) {
    let db = test_db.db.clone();
    let clock = ManualClock::at(MONDAY);
    let app = TestApp::spawn_at(test_db.db.clone(), &clock).await;
    let r = roles();
    add_pool(&app, &r).await;
    let program = approved_program(&app, &r, 2).await;
    let id = nominate(&app, &r, &program, "钱乙", "区新材料研究院").await;
    let position = through_committee(&app, &r, &id, 70).await;
    let audit_path = format!("/api/v1/reward-programs/{program}/audit");
    let audit = ok(app.get(&audit_path, &r.auditor).await).await;
    assert_eq!(audit["flag_count"], 0, "{audit:#}");
    let recorded_total = audit["nominations"][0]["aggregations"][0]["recorded_total"].clone();

    // Editing the view changes nothing the audit reads: it recomputes from events.
    nomination(&app, &r.auditor, &id, position).await;
    let view_edit = match &db {
        caseledger_store::Database::Postgres(_) => {
            "UPDATE reward_nomination_view SET document = replace(document, '\"score\":70', '\"score\":10')"
        }
        caseledger_store::Database::Sqlite(_) => {
            "UPDATE reward_nomination_view SET document = replace(document, '\"score\":70', '\"score\":10')"
        }
    };
    sql(&db, view_edit).await;
    let audit = ok(app.get(&audit_path, &r.auditor).await).await;
    assert_eq!(audit["flag_count"], 0);

    // Changing a recorded score in the events table is caught.
    let event_edit = match &db {
        caseledger_store::Database::Postgres(_) => format!(
            "UPDATE events SET payload = jsonb_set(payload, '{{ScoresSubmitted,scores,contribution,score}}', '99') \
              WHERE aggregate_type = 'RewardNomination' AND aggregate_id = '{id}' \
                AND event_type = 'ScoresSubmitted' AND payload::text LIKE '%\"score\": 70%'"
        ),
        caseledger_store::Database::Sqlite(_) => format!(
            "UPDATE events SET payload = json_set(payload, '$.ScoresSubmitted.scores.contribution.score', 99) \
              WHERE aggregate_type = 'RewardNomination' AND aggregate_id = '{id}' \
                AND event_type = 'ScoresSubmitted' AND payload LIKE '%\"score\":70%'"
        ),
    };
    sql(&db, &event_edit).await;
    let audit = ok(app.get(&audit_path, &r.auditor).await).await;
    assert_eq!(audit["flag_count"], 1, "{audit:#}");
    let flag = &audit["nominations"][0]["flags"][0];
    assert_eq!(flag["code"], "recomputation_mismatch");
    let check = &audit["nominations"][0]["aggregations"][0];
    assert_eq!(check["matches"], false);
    assert_eq!(check["recorded_total"], recorded_total);
    assert_ne!(
        check["recomputed"]["total_x100"],
        check["recorded"]["total_x100"]
    );
    app.stop().await;
}

async fn reward_commands_refuse_with_stable_codes(test_db: TestDb) {
    let clock = ManualClock::at(MONDAY);
    let app = TestApp::spawn_at(test_db.db.clone(), &clock).await;
    let r = roles();
    add_pool(&app, &r).await;

    // Program rules.
    let mut short = program_body(2);
    short["notice_working_days"] = json!(4);
    problem(
        app.post("/api/v1/reward-programs", &r.office, short).await,
        422,
        "notice_period_too_short",
    )
    .await;
    problem(
        app.post("/api/v1/reward-programs", &r.authority, program_body(2))
            .await,
        403,
        "role_not_allowed",
    )
    .await;
    let mut bad = program_body(2);
    bad["disciplines"] = json!(["Not A Slug"]);
    let body = problem(
        app.post("/api/v1/reward-programs", &r.office, bad).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "disciplines[0]");
    let mut typo = program_body(2);
    typo["quotaa"] = json!(1);
    problem(
        app.post("/api/v1/reward-programs", &r.office, typo).await,
        400,
        "invalid_body",
    )
    .await;

    // A draft program takes no nominations; an unknown one is a field error.
    let draft = json(
        app.post("/api/v1/reward-programs", &r.office, program_body(2))
            .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let nomination_body = |program: &str| {
        json!({"program_id": program,
               "nominee": {"kind": "unit", "name": "区新材料研究院", "unit": "区新材料研究院"},
               "summary": "成果突出", "reason": "贡献突出"})
    };
    problem(
        app.post("/api/v1/nominations", &r.office, nomination_body(&draft))
            .await,
        422,
        "program_not_approved",
    )
    .await;
    problem(
        app.post(
            "/api/v1/nominations",
            &r.office,
            nomination_body("0195f000-0000-7000-8000-000000000099"),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;

    let program = approved_program(&app, &r, 1).await;
    let id = nominate(&app, &r, &program, "钱乙", "区新材料研究院").await;
    // Out of order, wrong role, contradicting checklist.
    problem(
        app.post(
            &format!("/api/v1/nominations/{id}/aggregate-scores"),
            &r.office,
            json!({}),
        )
        .await,
        422,
        "invalid_status",
    )
    .await;
    problem(
        app.post(
            &format!("/api/v1/nominations/{id}/decide-eligibility"),
            &r.members[0],
            ELIGIBLE(),
        )
        .await,
        403,
        "role_not_allowed",
    )
    .await;
    problem(
        app.post(
            &format!("/api/v1/nominations/{id}/decide-eligibility"),
            &r.office,
            json!({"eligible": true, "checklist": [{"item": "x", "passed": false}], "reason": "ok"}),
        )
        .await,
        422,
        "checklist_contradiction",
    )
    .await;
    // Objections outside the notice.
    problem(
        app.client
            .post(app.url(&format!("/api/v1/public/nominations/{id}/objections")))
            .json(&json!({"name": "王五", "contact": "wang@example.cn", "grounds": "不实"}))
            .send()
            .await
            .unwrap(),
        422,
        "notice_not_open",
    )
    .await;
    // Scores: range and comment.
    command(&app, &r.office, &id, "decide-eligibility", ELIGIBLE()).await;
    let position = command(&app, &r.office, &id, "draw-reviewers", json!({})).await;
    let reviewer = active_reviewers(&nomination(&app, &r.office, &id, position).await)[0].clone();
    problem(
        app.post(
            &format!("/api/v1/nominations/{id}/submit-scores"),
            &expert_token(&reviewer),
            scores(101, 50),
        )
        .await,
        422,
        "score_out_of_range",
    )
    .await;
    problem(
        app.post(
            &format!("/api/v1/nominations/{id}/submit-scores"),
            &expert_token(&reviewer),
            scores(0, 50),
        )
        .await,
        422,
        "comment_required",
    )
    .await;
    // Not found, and reads by roles without access.
    problem(
        app.get(
            "/api/v1/nominations/0195f000-0000-7000-8000-000000000099",
            &r.office,
        )
        .await,
        404,
        "nomination_not_found",
    )
    .await;
    problem(
        app.get(
            &format!("/api/v1/nominations/{id}"),
            &token("ent-1", "enterprise", Some("ent-1")),
        )
        .await,
        403,
        "role_not_allowed",
    )
    .await;
    problem(
        app.get(
            &format!("/api/v1/reward-programs/{program}/audit?format=xml"),
            &r.auditor,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    app.stop().await;
}

/// The public objection is a command without a user: `If-Match` and `Idempotency-Key` are not
/// read. Idempotency keys are kept per user and every member of the public is the one user
/// `public`, so honouring them would let one filer's key replay another filer's answer (or
/// refuse it as a reused key); a malformed `If-Match` is not a 400 either.
async fn public_objections_ignore_if_match_and_idempotency_keys(test_db: TestDb) {
    let clock = ManualClock::at(MONDAY);
    let app = TestApp::spawn_at(test_db.db.clone(), &clock).await;
    let r = roles();
    add_pool(&app, &r).await;
    let program = approved_program(&app, &r, 1).await;
    let id = nominate(&app, &r, &program, "吴戊", "区智能制造园").await;
    through_committee(&app, &r, &id, 80).await;
    command(&app, &r.office, &id, "start-notice", json!({})).await;
    let file = |grounds: &str, if_match: &str| {
        app.client
            .post(app.url(&format!("/api/v1/public/nominations/{id}/objections")))
            .header("Idempotency-Key", "the-same-key")
            .header("If-Match", if_match)
            .json(&json!({"grounds": grounds}))
            .send()
    };
    let first = file("第一份异议", "\"1\"").await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = ok(first).await;
    let second = file("第二份异议，理由不同", "not a version").await.unwrap();
    assert!(second.headers().get("idempotent-replayed").is_none());
    let second = ok(second).await;
    assert_ne!(first["created_id"], second["created_id"]);
    assert_eq!(
        second["version"].as_i64().unwrap(),
        first["version"].as_i64().unwrap() + 1
    );
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

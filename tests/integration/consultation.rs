//! Expert consultations over real HTTP, on both stores, with every role: the pool kept by the
//! panel secretary; a department asks about an investment project; a panel of five is drawn;
//! one expert declares a conflict and an alternate is seated; opinions come in with one
//! dissent, private until the conclusion; the conclusion and the adoption report close it.
//! The draw verifies, and stops verifying when a pool entry is changed by hand: in the
//! snapshot the event recorded, or in the expert log it was read from. A manual selection is
//! approved by a second person and flagged.

use serde_json::{json, Value};

use crate::on_both;
use crate::support::{json, problem, sql, token, TestApp, TestDb};

on_both!(
    investment_project_consultation_from_draw_to_close,
    manual_selection_needs_a_second_person_and_is_flagged,
    consultation_commands_refuse_with_stable_codes
);

const REQUESTER: &str = "dept-development-reform";

/// Ten independent finance experts, two from units subordinate to the requester, and one with a
/// declared conflict with the investor.
fn pool() -> Vec<Value> {
    let mut experts: Vec<Value> = (1..=10)
        .map(|i| {
            json!({
                "expert_id": format!("expert-{i:02}"),
                "name": format!("专家{i}"),
                "disciplines": ["finance", "investment"],
                "employer_unit": format!("univ-{}", i % 4),
            })
        })
        .collect();
    experts.push(json!({
        "expert_id": "expert-sub-a", "name": "下属甲", "disciplines": ["finance"],
        "employer_unit": "dev-reform-research-center", "subordinate_to": [REQUESTER],
    }));
    experts.push(json!({
        "expert_id": "expert-sub-b", "name": "下属乙", "disciplines": ["investment"],
        "employer_unit": "soe-district-investment", "subordinate_to": [REQUESTER],
    }));
    experts.push(json!({
        "expert_id": "expert-conflicted", "name": "冲突丙", "disciplines": ["finance"],
        "employer_unit": "univ-9", "conflicts": ["firm-investor"],
    }));
    experts
}

fn request_body() -> Value {
    json!({
        "topic_type": "investment_project",
        "title": "新能源产业园二期投资项目可行性论证",
        "questions": ["投资回报测算是否合理？", "风险如何防控？"],
        "materials_ref": "区发改〔2026〕12号附件",
        "confidentiality": "confidential",
        "disciplines": ["finance", "investment"],
        "panel_size": 5,
        "deadline": "2099-12-31",
        "parties": ["firm-investor"]
    })
}

async fn position(response: reqwest::Response, status: u16) -> i64 {
    json(response, status).await["position"].as_i64().unwrap()
}

async fn add_pool(app: &TestApp, secretary: &str) -> i64 {
    let mut last = 0;
    for expert in pool() {
        last = position(app.post("/api/v1/experts", secretary, expert).await, 201).await;
    }
    last
}

fn seats(request: &Value) -> Vec<(String, String)> {
    request["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|seat| {
            (
                seat["expert_id"].as_str().unwrap().to_owned(),
                seat["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn tamper(db: &TestDb, postgres: &str, sqlite: &str) {
    match &db.db {
        caseledger_store::Database::Postgres(_) => sql(&db.db, postgres).await,
        caseledger_store::Database::Sqlite(_) => sql(&db.db, sqlite).await,
    }
}

async fn investment_project_consultation_from_draw_to_close(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let secretary = token("sec-wu", "panel_secretary", None);
    let head = token("head-liu", "department_head", Some(REQUESTER));
    let handler = token("handler-ma", "department_handler", Some(REQUESTER));
    let other_head = token("head-qian", "department_head", Some("dept-commerce"));
    let auditor = token("aud-zhou", "auditor", Some("dept-discipline"));
    let outsider = token("rep-chen", "enterprise", Some("ent-0001"));
    let expert = |id: &str| token(id, "expert", None);

    // The pool, as events; an expert reads their own record, not others'.
    let at = add_pool(&app, &secretary).await;
    let listed = json(
        app.get(&format!("/api/v1/experts?min_position={at}"), &secretary)
            .await,
        200,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 13);
    json(
        app.get("/api/v1/experts/expert-01", &expert("expert-01"))
            .await,
        200,
    )
    .await;
    problem(
        app.get("/api/v1/experts/expert-02", &expert("expert-01"))
            .await,
        404,
        "expert_not_found",
    )
    .await;
    problem(
        app.get("/api/v1/experts", &head).await,
        403,
        "role_not_allowed",
    )
    .await;

    // A department asks; the secretary accepts and draws five with two alternates.
    let submitted = json(
        app.post("/api/v1/consultations", &head, request_body())
            .await,
        201,
    )
    .await;
    let id = submitted["id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/consultations/{id}");
    json(
        app.post(&format!("{base}/accept"), &secretary, json!({}))
            .await,
        200,
    )
    .await;
    let drawn = position(
        app.post(
            &format!("{base}/draw"),
            &secretary,
            json!({"alternates": 2}),
        )
        .await,
        200,
    )
    .await;
    let request = json(
        app.get(&format!("{base}?min_position={drawn}"), &secretary)
            .await,
        200,
    )
    .await;
    assert_eq!(request["status"], "panel_drawn");
    assert_eq!(request["selection"]["method"], "draw");
    assert_eq!(request["selection"]["manual"], false);
    let panel: Vec<String> = seats(&request).into_iter().map(|(id, _)| id).collect();
    assert_eq!(panel.len(), 5);
    assert!(!panel.contains(&"expert-conflicted".to_owned()));
    let subordinates = request["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|seat| seat["subordinate"] == true)
        .count();
    assert!(subordinates <= 2);
    assert_eq!(request["alternates"].as_array().unwrap().len(), 2);

    // Who sees what before the pledge.
    let first = panel[0].clone();
    let invited = json(app.get(&base, &expert(&first)).await, 200).await;
    assert_eq!(invited["pledge_required"], true);
    assert!(invited.get("questions").is_none());
    assert_eq!(
        seats(&invited).len(),
        1,
        "an expert sees only their own seat"
    );
    let unseated = (1..=10)
        .map(|i| format!("expert-{i:02}"))
        .find(|id| {
            !panel.contains(id)
                && !request["alternates"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(id))
        })
        .unwrap();
    problem(
        app.get(&base, &expert(&unseated)).await,
        404,
        "consultation_not_found",
    )
    .await;
    problem(
        app.get(&base, &other_head).await,
        404,
        "consultation_not_found",
    )
    .await;
    problem(app.get(&base, &outsider).await, 403, "role_not_allowed").await;
    json(app.get(&base, &handler).await, 200).await;

    // One expert declares a conflict: recused, and an alternate takes the seat.
    let recused = position(
        app.post(
            &format!("{base}/declare-conflict"),
            &expert(&first),
            json!({"reason": "本人配偶在投资方任职"}),
        )
        .await,
        200,
    )
    .await;
    let request = json(
        app.get(&format!("{base}?min_position={recused}"), &secretary)
            .await,
        200,
    )
    .await;
    let now_seated: Vec<(String, String)> = seats(&request);
    assert_eq!(now_seated.len(), 6);
    assert_eq!(now_seated[0], (first.clone(), "recused".to_owned()));
    assert_eq!(request["seats"][5]["via"], "alternate");
    let active: Vec<String> = now_seated
        .iter()
        .filter(|(_, state)| state == "invited")
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(active.len(), 5);
    problem(
        app.post(
            &format!("{base}/submit-opinion"),
            &expert(&first),
            json!({"stance": "support", "rationale": "同意", "signature": "签名"}),
        )
        .await,
        422,
        "expert_conflicted",
    )
    .await;

    // Every seated expert accepts with the pledge; the panel is confirmed.
    problem(
        app.post(
            &format!("{base}/accept-seat"),
            &expert(&active[0]),
            json!({"pledge_accepted": false}),
        )
        .await,
        422,
        "pledge_required",
    )
    .await;
    let mut last = 0;
    for expert_id in &active {
        last = position(
            app.post(
                &format!("{base}/accept-seat"),
                &expert(expert_id),
                json!({"pledge_accepted": true}),
            )
            .await,
            200,
        )
        .await;
    }
    let pledged = json(
        app.get(&format!("{base}?min_position={last}"), &expert(&active[0]))
            .await,
        200,
    )
    .await;
    assert_eq!(pledged["status"], "panel_confirmed");
    assert_eq!(pledged["questions"].as_array().unwrap().len(), 2);

    // Opinions: four support (one amended from conditional), one oppose.
    let signed = |stance: &str| {
        json!({"stance": stance, "rationale": "测算依据充分，风险可控。", "signature": "签名",
               "conditions": if stance == "conditional" { json!("分期建设") } else { Value::Null }})
    };
    json(
        app.post(
            &format!("{base}/submit-opinion"),
            &expert(&active[1]),
            signed("conditional"),
        )
        .await,
        200,
    )
    .await;
    for (i, expert_id) in active.iter().enumerate() {
        let stance = if i == 0 { "oppose" } else { "support" };
        last = position(
            app.post(
                &format!("{base}/submit-opinion"),
                &expert(expert_id),
                signed(stance),
            )
            .await,
            200,
        )
        .await;
    }

    // Private until the conclusion: the department may not read them; the auditor and the
    // secretary read them attributed (recorded); an expert reads their own.
    problem(
        app.get(&format!("{base}/opinions?min_position={last}"), &head)
            .await,
        403,
        "opinions_private_until_conclusion",
    )
    .await;
    let attributed = json(
        app.get(
            &format!("{base}/opinions?min_position={last}&purpose=review"),
            &auditor,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(attributed["attributed"], true);
    assert_eq!(attributed["items"].as_array().unwrap().len(), 6);
    let amended: Vec<&Value> = attributed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["expert"] == active[1].as_str())
        .collect();
    assert_eq!(amended.len(), 2);
    assert_eq!(
        (amended[0]["counted"].clone(), amended[1]["counted"].clone()),
        (json!(false), json!(true))
    );
    let own = json(
        app.get(&format!("{base}/opinions"), &expert(&active[2]))
            .await,
        200,
    )
    .await;
    assert_eq!(own["items"].as_array().unwrap().len(), 1);
    problem(
        app.post(&format!("{base}/close"), &secretary, json!({}))
            .await,
        422,
        "invalid_status",
    )
    .await;

    // The conclusion: majority support, one dissent.
    problem(
        app.post(
            &format!("{base}/conclude"),
            &secretary,
            json!({"majority_view": "项目总体可行", "recommendations": ["分期投资"]}),
        )
        .await,
        422,
        "dissent_required",
    )
    .await;
    let concluded = position(
        app.post(
            &format!("{base}/conclude"),
            &secretary,
            json!({
                "majority_view": "项目总体可行，建议分期实施。",
                "dissent": "一位专家认为回报周期过长。",
                "recommendations": ["分两期投资", "引入第三方评估", "设立风险准备金"]
            }),
        )
        .await,
        200,
    )
    .await;
    let request = json(
        app.get(&format!("{base}?min_position={concluded}"), &head)
            .await,
        200,
    )
    .await;
    assert_eq!(request["conclusion"]["majority"], "support");
    assert_eq!(request["conclusion"]["support"], 4);
    assert_eq!(request["conclusion"]["oppose"], 1);
    assert_eq!(request["conclusion"]["dissent_count"], 1);
    assert!(request["conclusion"].get("dissenters").is_none());
    let anonymous = json(app.get(&format!("{base}/opinions"), &head).await, 200).await;
    assert_eq!(anonymous["attributed"], false);
    assert!(anonymous["items"][0]["expert"]
        .as_str()
        .unwrap()
        .starts_with("expert-"));
    assert!(anonymous["items"][0].get("signature").is_none());

    // Adoption, close, the adoption rate.
    problem(
        app.post(&format!("{base}/close"), &secretary, json!({}))
            .await,
        422,
        "adoption_not_reported",
    )
    .await;
    problem(
        app.post(
            &format!("{base}/report-adoption"),
            &handler,
            json!({"items": [
                {"recommendation": 1, "outcome": "adopted"},
                {"recommendation": 2, "outcome": "partly"},
                {"recommendation": 3, "outcome": "not_adopted"}
            ]}),
        )
        .await,
        422,
        "adoption_reason_required",
    )
    .await;
    json(
        app.post(
            &format!("{base}/report-adoption"),
            &handler,
            json!({"items": [
                {"recommendation": 1, "outcome": "adopted"},
                {"recommendation": 2, "outcome": "partly", "reason": "评估范围缩小"},
                {"recommendation": 3, "outcome": "not_adopted", "reason": "财政预算不足"}
            ]}),
        )
        .await,
        200,
    )
    .await;
    let closed = position(
        app.post(&format!("{base}/close"), &head, json!({})).await,
        200,
    )
    .await;
    let rates = json(
        app.get(
            &format!("/api/v1/consultations/adoption-rates?min_position={closed}"),
            &auditor,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rates["items"][0]["requesting_unit"], REQUESTER);
    assert_eq!(rates["items"][0]["recommendations"], 3);
    assert_eq!(rates["items"][0]["adopted"], 1);
    assert_eq!(rates["items"][0]["not_adopted"], 1);
    let workload = json(
        app.get(
            &format!("/api/v1/experts/{}/workload", active[0]),
            &expert(&active[0]),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(workload["completed"], 1);
    let recused_workload = json(
        app.get(&format!("/api/v1/experts/{first}/workload"), &secretary)
            .await,
        200,
    )
    .await;
    assert_eq!(recused_workload["recused"], 1);
    let listed = json(
        app.get("/api/v1/consultations", &expert(&active[0])).await,
        200,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let listed = json(app.get("/api/v1/consultations", &other_head).await, 200).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);

    // Both views rebuild from the log to what the live projector wrote (before the auditor's
    // listing below writes another access record for the live projector to apply).
    let projector = caseledger_store::Projector::new(db.db.clone(), caseledger_app::projections());
    for name in ["experts", "consultations"] {
        let reached = projector
            .wait_for(name, closed, std::time::Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(reached, caseledger_store::projector::CatchUp::Reached);
        let live = projector.checksum(name).await.unwrap();
        let rebuilt = projector.rebuild(name, &mut |_, _| {}).await.unwrap();
        assert_eq!(rebuilt, live, "{name}");
    }

    // Every opinion read was recorded before it was served.
    let reads = json(
        app.get(
            "/api/v1/audit/events?aggregate_type=AccessLog&event_type=PrivateDataRead",
            &auditor,
        )
        .await,
        200,
    )
    .await;
    let opinion_reads = reads["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["payload"]["PrivateDataRead"]["resource"] == "consultation_opinions")
        .count();
    assert_eq!(opinion_reads, 3);

    // The draw verifies.
    let verify = format!("{base}/draw/verify");
    let verified = json(app.get(&verify, &head).await, 200).await;
    assert_eq!(verified["matches"], true, "{verified}");
    assert_eq!(verified["method"], "draw");
    problem(
        app.get(&verify, &other_head).await,
        404,
        "consultation_not_found",
    )
    .await;
    problem(
        app.get(&verify, &expert(&active[0])).await,
        403,
        "role_not_allowed",
    )
    .await;

    // Changing the derived expert view changes nothing: the draw is checked against the log.
    let in_panel = &active[1];
    sql(
        &db.db,
        &format!("UPDATE expert_view SET status = 'removed' WHERE expert_id = '{in_panel}'"),
    )
    .await;
    assert_eq!(
        json(app.get(&verify, &auditor).await, 200).await["matches"],
        true
    );

    // Changing the expert's record in the log: the snapshot no longer equals the pool at the
    // draw.
    tamper(
        &db,
        &format!(
            "UPDATE events SET payload = jsonb_set(payload, '{{ExpertAdded,profile,employer_unit}}', '\"univ-forged\"') \
              WHERE aggregate_type = 'Expert' AND aggregate_id = '{in_panel}' AND sequence = 1"
        ),
        &format!(
            "UPDATE events SET payload = json_set(payload, '$.ExpertAdded.profile.employer_unit', 'univ-forged') \
              WHERE aggregate_type = 'Expert' AND aggregate_id = '{in_panel}' AND sequence = 1"
        ),
    )
    .await;
    let broken = json(app.get(&verify, &auditor).await, 200).await;
    assert_eq!(broken["matches"], false);
    assert!(
        broken["finding"]
            .as_str()
            .unwrap()
            .starts_with(&format!("pool_at_draw: {in_panel} differs")),
        "{broken}"
    );
    let employer = pool()
        .into_iter()
        .find(|e| e["expert_id"] == in_panel.as_str())
        .unwrap()["employer_unit"]
        .as_str()
        .unwrap()
        .to_owned();
    tamper(
        &db,
        &format!(
            "UPDATE events SET payload = jsonb_set(payload, '{{ExpertAdded,profile,employer_unit}}', '\"{employer}\"') \
              WHERE aggregate_type = 'Expert' AND aggregate_id = '{in_panel}' AND sequence = 1"
        ),
        &format!(
            "UPDATE events SET payload = json_set(payload, '$.ExpertAdded.profile.employer_unit', '{employer}') \
              WHERE aggregate_type = 'Expert' AND aggregate_id = '{in_panel}' AND sequence = 1"
        ),
    )
    .await;
    assert_eq!(
        json(app.get(&verify, &auditor).await, 200).await["matches"],
        true
    );

    // Changing one entry of the snapshot the draw recorded: its hash no longer matches.
    tamper(
        &db,
        "UPDATE events SET payload = jsonb_set(payload, '{PanelDrawn,pool,0,subordinate_to}', '[\"dept-forged\"]') \
          WHERE event_type = 'PanelDrawn'",
        "UPDATE events SET payload = json_set(payload, '$.PanelDrawn.pool[0].subordinate_to', json('[\"dept-forged\"]')) \
          WHERE event_type = 'PanelDrawn'",
    )
    .await;
    let broken = json(app.get(&verify, &auditor).await, 200).await;
    assert_eq!(broken["matches"], false);
    assert!(
        broken["finding"]
            .as_str()
            .unwrap()
            .starts_with("pool_hash:"),
        "{broken}"
    );
    app.stop().await;
}

async fn manual_selection_needs_a_second_person_and_is_flagged(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let secretary = token("sec-wu", "panel_secretary", None);
    let leader = token("leader-wang", "district_leader", None);
    let head = token("head-liu", "department_head", Some(REQUESTER));
    add_pool(&app, &secretary).await;
    let mut body = request_body();
    body["panel_size"] = json!(3);
    let id = json(app.post("/api/v1/consultations", &head, body).await, 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/api/v1/consultations/{id}");
    json(
        app.post(&format!("{base}/accept"), &secretary, json!({}))
            .await,
        200,
    )
    .await;
    problem(
        app.post(
            &format!("{base}/propose-selection"),
            &secretary,
            json!({"panel": ["expert-01", "expert-sub-a", "expert-sub-b"], "reason": "需要本系统专家"}),
        )
        .await,
        422,
        "subordinate_cap_exceeded",
    )
    .await;
    problem(
        app.post(
            &format!("{base}/propose-selection"),
            &secretary,
            json!({"panel": ["expert-01", "expert-02", "expert-conflicted"], "reason": "理由"}),
        )
        .await,
        422,
        "expert_conflicted",
    )
    .await;
    json(
        app.post(
            &format!("{base}/propose-selection"),
            &secretary,
            json!({"panel": ["expert-01", "expert-02", "expert-sub-a"], "alternates": ["expert-03"],
                   "reason": "项目涉及核心技术，需有相关经验的专家"}),
        )
        .await,
        200,
    )
    .await;
    problem(
        app.post(&format!("{base}/approve-selection"), &secretary, json!({}))
            .await,
        403,
        "approver_is_proposer",
    )
    .await;
    let approved = position(
        app.post(&format!("{base}/approve-selection"), &leader, json!({}))
            .await,
        200,
    )
    .await;
    let request = json(
        app.get(&format!("{base}?min_position={approved}"), &head)
            .await,
        200,
    )
    .await;
    assert_eq!(request["selection"]["manual"], true);
    assert_eq!(request["selection"]["approved_by"], "leader-wang");
    assert_eq!(request["seats"][0]["via"], "manual");
    let verified = json(app.get(&format!("{base}/draw/verify"), &head).await, 200).await;
    assert_eq!(verified["manual"], true);
    assert_eq!(verified["matches"], false);
    assert!(verified["finding"]
        .as_str()
        .unwrap()
        .starts_with("manual_selection:"));
    app.stop().await;
}

async fn consultation_commands_refuse_with_stable_codes(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let secretary = token("sec-wu", "panel_secretary", None);
    let head = token("head-liu", "department_head", Some(REQUESTER));
    let auditor = token("aud-zhou", "auditor", None);

    let mut small = request_body();
    small["panel_size"] = json!(2);
    problem(
        app.post("/api/v1/consultations", &head, small).await,
        422,
        "panel_size_out_of_range",
    )
    .await;
    let invalid = json!({
        "topic_type": "gossip", "title": " ", "questions": [], "confidentiality": "top",
        "disciplines": ["Bad Slug"], "panel_size": 5, "deadline": "soon"
    });
    let body = problem(
        app.post("/api/v1/consultations", &head, invalid).await,
        422,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "topic_type",
            "title",
            "questions",
            "confidentiality",
            "disciplines[0]",
            "deadline"
        ]
    );
    let mut smuggled = request_body();
    smuggled["requesting_unit"] = json!("dept-commerce");
    problem(
        app.post("/api/v1/consultations", &head, smuggled).await,
        400,
        "invalid_body",
    )
    .await;
    problem(
        app.post("/api/v1/consultations", &secretary, request_body())
            .await,
        403,
        "role_not_allowed",
    )
    .await;
    problem(
        app.post("/api/v1/experts", &head, pool()[0].clone()).await,
        403,
        "role_not_allowed",
    )
    .await;
    json(
        app.post("/api/v1/experts", &secretary, pool()[0].clone())
            .await,
        201,
    )
    .await;
    problem(
        app.post("/api/v1/experts", &secretary, pool()[0].clone())
            .await,
        409,
        "expert_already_exists",
    )
    .await;

    // Too small a pool for the panel is a rule, not a server fault.
    let id = json(
        app.post("/api/v1/consultations", &head, request_body())
            .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/api/v1/consultations/{id}");
    problem(
        app.post(&format!("{base}/draw"), &secretary, json!({}))
            .await,
        422,
        "invalid_status",
    )
    .await;
    json(
        app.post(&format!("{base}/accept"), &secretary, json!({}))
            .await,
        200,
    )
    .await;
    problem(
        app.post(&format!("{base}/draw"), &secretary, json!({}))
            .await,
        422,
        "insufficient_pool",
    )
    .await;
    problem(
        app.post(&format!("{base}/accept"), &auditor, json!({}))
            .await,
        403,
        "role_not_allowed",
    )
    .await;
    problem(
        app.get("/api/v1/consultations/not-a-uuid", &auditor).await,
        404,
        "consultation_not_found",
    )
    .await;
    problem(
        app.post(
            &format!("/api/v1/consultations/{}/accept", uuid::Uuid::now_v7()),
            &secretary,
            json!({}),
        )
        .await,
        404,
        "consultation_not_found",
    )
    .await;
    let verified = json(app.get(&format!("{base}/draw/verify"), &auditor).await, 200).await;
    assert_eq!(verified["matches"], false);
    assert_eq!(verified["finding"], "no panel has been selected yet");
    app.stop().await;
}

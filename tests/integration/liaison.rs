//! Subjects and liaison portfolios over real HTTP, on both stores: registration and who sees the
//! private contact data; a leader's portfolio with quarterly visits, a visit that raises a case,
//! the overdue listing as of a date; and the error answers with their codes.

use chrono::{Datelike, Months, NaiveDate};
use serde_json::{json, Value};

use crate::on_both;
use crate::support::{json, problem, token, TestApp, TestDb};

on_both!(
    subjects_keep_contact_data_private,
    portfolio_visits_raise_cases_and_show_overdue,
    portfolio_commands_refuse_with_stable_codes
);

fn subject(id: &str, kind: &str) -> Value {
    json!({
        "id": id,
        "name": format!("{id} 有限公司"),
        "kind": kind,
        "industry": "biomedicine",
        "district_area": "中关村片区",
        "contact": {
            "person": "陈经理",
            "phone": "010-6512 3456",
            "email": format!("contact@{id}.example.cn")
        }
    })
}

fn fields_of(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap().to_owned())
        .collect()
}

/// Today in China Standard Time, as the server sees it.
fn china_today() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}

fn quarter_start(date: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(date.year(), (date.month0() / 3) * 3 + 1, 1).unwrap()
}

async fn register(app: &TestApp, token: &str, body: Value) -> i64 {
    json(app.post("/api/v1/subjects", token, body).await, 201).await["position"]
        .as_i64()
        .unwrap()
}

async fn subjects_keep_contact_data_private(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let liaison = token("lo-1", "liaison_officer", None);
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    let handler = token("handler-1", "department_handler", Some("dept-commerce"));
    let own = token("ent-user-1", "enterprise", Some("ent-0001"));
    let other_enterprise = token("ent-user-2", "enterprise", Some("ent-0002"));
    let expert = token("expert-1", "expert", None);
    let auditor = token("aud-1", "auditor", Some("dept-discipline"));

    // 201 with the location of the new subject.
    let response = app
        .post(
            "/api/v1/subjects",
            &liaison,
            subject("ent-0001", "private_enterprise"),
        )
        .await;
    assert_eq!(response.headers()["location"], "/api/v1/subjects/ent-0001");
    let created = json(response, 201).await;
    assert_eq!(created["id"], "ent-0001");
    let mut talent = subject("talent-zhang", "talent");
    talent["contact"]["personal_details"] = json!("院士，新材料方向");
    register(&app, &dispatcher, talent).await;

    // 409, 422 with every field, 400, 401, 403.
    problem(
        app.post(
            "/api/v1/subjects",
            &dispatcher,
            subject("ent-0001", "private_enterprise"),
        )
        .await,
        409,
        "subject_already_exists",
    )
    .await;
    let invalid = json!({
        "id": "Not A Slug", "name": "  ", "kind": "company",
        "contact": {"phone": "call me", "email": "nobody"}
    });
    let body = problem(
        app.post("/api/v1/subjects", &liaison, invalid).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        fields_of(&body),
        ["id", "name", "kind", "contact.phone", "contact.email"]
    );
    let mut smuggled = subject("ent-0003", "institute");
    smuggled["registered_by"] = json!("someone-else");
    problem(
        app.post("/api/v1/subjects", &liaison, smuggled).await,
        400,
        "invalid_body",
    )
    .await;
    let anonymous = app
        .client
        .post(app.url("/api/v1/subjects"))
        .json(&subject("ent-0003", "institute"))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401, "missing_token").await;
    problem(
        app.post(
            "/api/v1/subjects",
            &handler,
            subject("ent-0003", "institute"),
        )
        .await,
        403,
        "role_not_allowed",
    )
    .await;

    // The subject updates its own contact; another enterprise may not.
    let updated = json(
        app.post(
            "/api/v1/subjects/ent-0001/update-contact",
            &own,
            json!({"person": "孙经理", "phone": "+86 138 0000 0000"}),
        )
        .await,
        200,
    )
    .await;
    let position = updated["position"].as_i64().unwrap();
    problem(
        app.post(
            "/api/v1/subjects/ent-0001/update-contact",
            &other_enterprise,
            json!({"person": "冒名者"}),
        )
        .await,
        403,
        "not_own_subject",
    )
    .await;
    problem(
        app.post(
            "/api/v1/subjects/ent-9999/update-contact",
            &dispatcher,
            json!({}),
        )
        .await,
        404,
        "subject_not_found",
    )
    .await;

    // Staff see the contact (and the read is recorded), the subject sees its own, a handler
    // sees public fields only, another enterprise nothing, an expert is refused.
    let path = format!("/api/v1/subjects/ent-0001?min_position={position}&purpose=visit-prep");
    let staff_view = json(app.get(&path, &liaison).await, 200).await;
    assert_eq!(staff_view["name"], "ent-0001 有限公司");
    assert_eq!(staff_view["contact"]["person"], "孙经理");
    assert_eq!(
        staff_view["contact"]["email"],
        Value::Null,
        "replaced whole"
    );
    assert_eq!(staff_view["version"], 2);
    let own_view = json(app.get("/api/v1/subjects/ent-0001", &own).await, 200).await;
    assert_eq!(own_view["contact"]["phone"], "+86 138 0000 0000");
    let public_view = json(app.get("/api/v1/subjects/ent-0001", &handler).await, 200).await;
    assert_eq!(public_view["kind"], "private_enterprise");
    assert!(public_view.get("contact").is_none(), "{public_view}");
    problem(
        app.get("/api/v1/subjects/ent-0001", &other_enterprise)
            .await,
        404,
        "subject_not_found",
    )
    .await;
    problem(
        app.get("/api/v1/subjects/ent-0001", &expert).await,
        403,
        "role_not_allowed",
    )
    .await;
    problem(
        app.get("/api/v1/subjects/ent-9999", &dispatcher).await,
        404,
        "subject_not_found",
    )
    .await;

    // Lists: filter by kind, pages, and the same visibility.
    let talents = json(
        app.get("/api/v1/subjects?kind=talent", &dispatcher).await,
        200,
    )
    .await;
    assert_eq!(talents["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        talents["items"][0]["contact"]["personal_details"],
        "院士，新材料方向"
    );
    let first_page = json(app.get("/api/v1/subjects?limit=1", &dispatcher).await, 200).await;
    assert_eq!(first_page["items"][0]["id"], "talent-zhang", "newest first");
    let cursor = first_page["next_cursor"].as_str().unwrap().to_owned();
    let second_page = json(
        app.get(
            &format!("/api/v1/subjects?limit=1&cursor={cursor}"),
            &dispatcher,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(second_page["items"][0]["id"], "ent-0001");
    assert_eq!(second_page["next_cursor"], Value::Null);
    let handler_list = json(app.get("/api/v1/subjects", &handler).await, 200).await;
    assert_eq!(handler_list["items"].as_array().unwrap().len(), 2);
    assert!(handler_list["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|item| item.get("contact").is_none()));
    let own_list = json(app.get("/api/v1/subjects", &own).await, 200).await;
    assert_eq!(own_list["items"].as_array().unwrap().len(), 1);
    assert_eq!(own_list["items"][0]["id"], "ent-0001");
    problem(
        app.get("/api/v1/subjects?kind=company", &dispatcher).await,
        400,
        "invalid_query",
    )
    .await;

    // The access log names who read which contact data, and why.
    let log = json(
        app.get(
            "/api/v1/audit/events?aggregate_type=AccessLog&purpose=test",
            &auditor,
        )
        .await,
        200,
    )
    .await;
    let reads: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| &event["payload"]["PrivateDataRead"])
        .filter(|read| read["resource"] == "subject_contact")
        .collect();
    assert_eq!(reads.len(), 1, "own and public reads are not recorded");
    assert_eq!(reads[0]["subject"], "ent-0001");
    assert_eq!(reads[0]["purpose"], "visit-prep");
    assert_eq!(reads[0]["read_by"], "lo-1");
    app.stop().await;
}

async fn portfolio_visits_raise_cases_and_show_overdue(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    let leader = token("leader-wang", "district_leader", None);
    let liaison = token("lo-1", "liaison_officer", None);
    let handler = token("handler-1", "department_handler", Some("dept-commerce"));
    for id in ["ent-0001", "ent-0002"] {
        register(&app, &dispatcher, subject(id, "private_enterprise")).await;
    }

    // A leader creates their own portfolio; the id is derived from the owner.
    let response = app
        .post(
            "/api/v1/portfolios",
            &leader,
            json!({"owner_kind": "leader", "owner_id": "leader-wang", "owner_name": "王副区长"}),
        )
        .await;
    assert_eq!(
        response.headers()["location"],
        "/api/v1/portfolios/leader.leader-wang"
    );
    assert_eq!(json(response, 201).await["id"], "leader.leader-wang");
    json(
        app.post(
            "/api/v1/portfolios",
            &dispatcher,
            json!({"owner_kind": "department", "owner_id": "dept-commerce", "owner_name": "区商务局"}),
        )
        .await,
        201,
    )
    .await;
    let portfolio = "/api/v1/portfolios/leader.leader-wang";

    // Both subjects assigned quarterly since the start of the quarter before last.
    let today = china_today();
    let this_quarter = quarter_start(today);
    let last_quarter = this_quarter.checked_sub_months(Months::new(3)).unwrap();
    let assigned_on = this_quarter.checked_sub_months(Months::new(6)).unwrap();
    for (id, who) in [("ent-0001", &leader), ("ent-0002", &liaison)] {
        json(
            app.post(
                &format!("{portfolio}/assign-subject"),
                who,
                json!({"subject_id": id, "obligation": "quarterly", "assigned_on": assigned_on.to_string()}),
            )
            .await,
            200,
        )
        .await;
    }

    // Last quarter the leader visited ent-0001; a problem raised there became a case.
    let case = json(
        app.post(
            "/api/v1/cases",
            &leader,
            json!({
                "enterprise_id": "ent-0001", "title": "用地指标紧张",
                "description": "扩产需要新增工业用地。", "category": "land",
                "urgency": "normal", "source": "leader_visit"
            }),
        )
        .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let visit = json(
        app.post(
            &format!("{portfolio}/record-visit"),
            &liaison,
            json!({
                "subject_id": "ent-0001", "visited_on": last_quarter.to_string(),
                "participants": ["王副区长", "lo-1"],
                "learned": "订单饱满，扩产受用地限制。", "case_ids": [case]
            }),
        )
        .await,
        200,
    )
    .await;
    let visit_id = visit["created_id"].as_str().unwrap().to_owned();
    assert_eq!(visit["id"], "leader.leader-wang");

    // A second case from the same visit is linked afterwards.
    let second_case = json(
        app.post(
            "/api/v1/cases",
            &liaison,
            json!({
                "enterprise_id": "ent-0001", "title": "人才公寓申请",
                "description": "新引进工程师住房困难。", "category": "talent_housing",
                "urgency": "normal", "source": "liaison_visit"
            }),
        )
        .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let linked = json(
        app.post(
            &format!("{portfolio}/link-case"),
            &leader,
            json!({"visit_id": visit_id, "case_id": second_case}),
        )
        .await,
        200,
    )
    .await;
    let position = linked["position"].as_i64().unwrap();

    let visits = json(
        app.get(
            &format!("{portfolio}/visits?min_position={position}"),
            &leader,
        )
        .await,
        200,
    )
    .await;
    let items = visits["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], visit_id.as_str());
    assert_eq!(items[0]["visited_on"], last_quarter.to_string());
    assert_eq!(items[0]["case_ids"], json!([case, second_case]));
    assert_eq!(items[0]["recorded_by"], "lo-1");

    // As of today: ent-0001 was visited last quarter, ent-0002 was not and is overdue.
    let view = json(
        app.get(&format!("{portfolio}?as_of={today}"), &dispatcher)
            .await,
        200,
    )
    .await;
    assert_eq!(view["owner_kind"], "leader");
    assert_eq!(view["owner_id"], "leader-wang");
    assert_eq!(view["visit_count"], 1);
    let subjects = view["subjects"].as_array().unwrap();
    assert_eq!(subjects.len(), 2);
    assert_eq!(subjects[0]["subject_id"], "ent-0001");
    assert_eq!(subjects[0]["subject_name"], "ent-0001 有限公司");
    assert_eq!(subjects[0]["overdue"], false);
    assert_eq!(subjects[0]["last_visit_on"], last_quarter.to_string());
    assert_eq!(
        subjects[0]["current_period_start"],
        this_quarter.to_string()
    );
    let quarter_end = this_quarter
        .checked_add_months(Months::new(3))
        .unwrap()
        .pred_opt()
        .unwrap();
    assert_eq!(subjects[0]["due_on"], quarter_end.to_string());
    assert_eq!(subjects[1]["subject_id"], "ent-0002");
    assert_eq!(subjects[1]["overdue"], true);
    assert_eq!(subjects[1]["last_visit_on"], Value::Null);
    assert_eq!(subjects[1]["missed_period_start"], last_quarter.to_string());

    let overdue = json(
        app.get(
            &format!("/api/v1/portfolios/overdue-visits?as_of={today}"),
            &dispatcher,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(overdue["as_of"], today.to_string());
    let owners = overdue["owners"].as_array().unwrap();
    assert_eq!(owners.len(), 1, "{overdue}");
    assert_eq!(owners[0]["portfolio_id"], "leader.leader-wang");
    assert_eq!(owners[0]["owner_name"], "王副区长");
    let late: Vec<&Value> = owners[0]["overdue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|subject| &subject["subject_id"])
        .collect();
    assert_eq!(late, ["ent-0002"]);
    let departments_only = json(
        app.get(
            "/api/v1/portfolios/overdue-visits?owner_kind=department",
            &dispatcher,
        )
        .await,
        200,
    )
    .await;
    assert!(departments_only["owners"].as_array().unwrap().is_empty());
    // During the first required quarter nothing was overdue yet.
    let earlier = json(
        app.get(
            &format!(
                "/api/v1/portfolios/overdue-visits?as_of={}",
                last_quarter.pred_opt().unwrap()
            ),
            &dispatcher,
        )
        .await,
        200,
    )
    .await;
    assert!(
        earlier["owners"].as_array().unwrap().is_empty(),
        "{earlier}"
    );

    // The list counts per portfolio; handlers see only their department's portfolio.
    let list = json(
        app.get(&format!("/api/v1/portfolios?as_of={today}"), &liaison)
            .await,
        200,
    )
    .await;
    let ids: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| &item["id"])
        .collect();
    assert_eq!(ids, ["department.dept-commerce", "leader.leader-wang"]);
    assert_eq!(list["items"][1]["subject_count"], 2);
    assert_eq!(list["items"][1]["overdue_count"], 1);
    let leaders = json(
        app.get("/api/v1/portfolios?owner_kind=leader", &liaison)
            .await,
        200,
    )
    .await;
    assert_eq!(leaders["items"].as_array().unwrap().len(), 1);
    let handler_list = json(app.get("/api/v1/portfolios", &handler).await, 200).await;
    assert_eq!(handler_list["items"].as_array().unwrap().len(), 1);
    assert_eq!(handler_list["items"][0]["id"], "department.dept-commerce");
    problem(
        app.get(portfolio, &handler).await,
        404,
        "portfolio_not_found",
    )
    .await;
    json(
        app.get("/api/v1/portfolios/department.dept-commerce", &handler)
            .await,
        200,
    )
    .await;

    // The store answers who escalations go to.
    assert_eq!(
        db.db.leaders_of_subject("ent-0001").await.unwrap(),
        ["leader-wang"]
    );
    assert_eq!(
        db.db
            .subjects_of_portfolio("leader.leader-wang")
            .await
            .unwrap(),
        ["ent-0001", "ent-0002"]
    );
    let unassigned = json(
        app.post(
            &format!("{portfolio}/unassign-subject"),
            &dispatcher,
            json!({"subject_id": "ent-0002", "reason": "企业迁出本区"}),
        )
        .await,
        200,
    )
    .await;
    let position = unassigned["position"].as_i64().unwrap();
    let view = json(
        app.get(&format!("{portfolio}?min_position={position}"), &leader)
            .await,
        200,
    )
    .await;
    assert_eq!(view["subjects"].as_array().unwrap().len(), 1);
    assert!(db
        .db
        .leaders_of_subject("ent-0002")
        .await
        .unwrap()
        .is_empty());

    // Both views rebuild from the log to what the live projector wrote.
    let projector = caseledger_store::Projector::new(db.db.clone(), caseledger_app::projections());
    for name in ["subjects", "portfolios"] {
        let reached = projector
            .wait_for(name, position, std::time::Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(reached, caseledger_store::projector::CatchUp::Reached);
        let live = projector.checksum(name).await.unwrap();
        let rebuilt = projector.rebuild(name, &mut |_, _| {}).await.unwrap();
        assert_eq!(rebuilt, live, "{name}");
    }
    app.stop().await;
}

async fn portfolio_commands_refuse_with_stable_codes(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    let leader = token("leader-wang", "district_leader", None);
    let other_leader = token("leader-zhao", "district_leader", None);
    let handler = token("handler-1", "department_handler", Some("dept-commerce"));
    let expert = token("expert-1", "expert", None);
    for id in ["ent-0001", "ent-0002", "ent-0003"] {
        register(&app, &dispatcher, subject(id, "private_enterprise")).await;
    }
    let create =
        json!({"owner_kind": "leader", "owner_id": "leader-wang", "owner_name": "王副区长"});
    problem(
        app.post("/api/v1/portfolios", &other_leader, create.clone())
            .await,
        403,
        "not_own_portfolio",
    )
    .await;
    problem(
        app.post("/api/v1/portfolios", &handler, create.clone())
            .await,
        403,
        "role_not_allowed",
    )
    .await;
    json(
        app.post("/api/v1/portfolios", &dispatcher, create.clone())
            .await,
        201,
    )
    .await;
    problem(
        app.post("/api/v1/portfolios", &leader, create).await,
        409,
        "portfolio_already_exists",
    )
    .await;
    let body = problem(
        app.post(
            "/api/v1/portfolios",
            &dispatcher,
            json!({"owner_kind": "team", "owner_id": "x", "owner_name": " "}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields_of(&body), ["owner_kind", "owner_name"]);
    let body = problem(
        app.post(
            "/api/v1/portfolios",
            &dispatcher,
            json!({"owner_kind": "department", "owner_id": "dept-nowhere", "owner_name": "无"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields_of(&body), ["owner_id"]);
    problem(
        app.post(
            "/api/v1/portfolios",
            &dispatcher,
            json!({"owner_kind": "leader", "owner_id": 7, "owner_name": "x"}),
        )
        .await,
        400,
        "invalid_body",
    )
    .await;

    let portfolio = "/api/v1/portfolios/leader.leader-wang";
    let today = china_today();
    let tomorrow = today.succ_opt().unwrap();
    let assign = |id: &str, on: NaiveDate| json!({"subject_id": id, "obligation": "quarterly", "assigned_on": on.to_string()});
    let body = problem(
        app.post(
            &format!("{portfolio}/assign-subject"),
            &leader,
            json!({"subject_id": "ent-9999", "obligation": "weekly", "assigned_on": "2026-13-01"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        fields_of(&body),
        ["subject_id", "obligation", "assigned_on"]
    );
    problem(
        app.post(
            &format!("{portfolio}/assign-subject"),
            &leader,
            assign("ent-0001", tomorrow),
        )
        .await,
        422,
        "assignment_date_in_future",
    )
    .await;
    problem(
        app.post(
            &format!("{portfolio}/assign-subject"),
            &other_leader,
            assign("ent-0001", today),
        )
        .await,
        403,
        "not_portfolio_member",
    )
    .await;
    problem(
        app.post(
            &format!("{portfolio}/assign-subject"),
            &handler,
            assign("ent-0001", today),
        )
        .await,
        403,
        "not_portfolio_member",
    )
    .await;
    problem(
        app.post(
            &format!("{portfolio}/assign-subject"),
            &expert,
            assign("ent-0001", today),
        )
        .await,
        403,
        "role_not_allowed",
    )
    .await;
    json(
        app.post(
            &format!("{portfolio}/assign-subject"),
            &leader,
            assign("ent-0001", today),
        )
        .await,
        200,
    )
    .await;
    problem(
        app.post(
            &format!("{portfolio}/assign-subject"),
            &leader,
            assign("ent-0001", today),
        )
        .await,
        422,
        "subject_already_assigned",
    )
    .await;
    for path in [
        "/api/v1/portfolios/leader.nobody/assign-subject",
        "/api/v1/portfolios/Not-An-Id/assign-subject",
    ] {
        problem(
            app.post(path, &dispatcher, assign("ent-0001", today)).await,
            404,
            "portfolio_not_found",
        )
        .await;
    }

    // Visits.
    let other_case = json(
        app.post(
            "/api/v1/cases",
            &leader,
            json!({
                "enterprise_id": "ent-0002", "title": "融资难", "description": "贷款审批慢。",
                "category": "financing", "urgency": "normal", "source": "leader_visit"
            }),
        )
        .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let visit = |subject: &str, on: NaiveDate, case_ids: Value| {
        json!({
            "subject_id": subject, "visited_on": on.to_string(),
            "participants": ["王副区长"], "learned": "了解生产经营情况。", "case_ids": case_ids
        })
    };
    problem(
        app.post(
            &format!("{portfolio}/record-visit"),
            &leader,
            visit("ent-0001", tomorrow, json!([])),
        )
        .await,
        422,
        "visit_date_in_future",
    )
    .await;
    problem(
        app.post(
            &format!("{portfolio}/record-visit"),
            &leader,
            visit("ent-0003", today, json!([])),
        )
        .await,
        422,
        "subject_not_assigned",
    )
    .await;
    problem(
        app.post(
            &format!("{portfolio}/record-visit"),
            &leader,
            visit("ent-0001", today, json!([other_case])),
        )
        .await,
        422,
        "case_of_another_subject",
    )
    .await;
    let unknown_case = uuid::Uuid::now_v7().to_string();
    let body = problem(
        app.post(
            &format!("{portfolio}/record-visit"),
            &leader,
            json!({
                "subject_id": "ent-0001", "visited_on": "yesterday", "participants": [],
                "learned": "", "case_ids": [unknown_case, "not-a-uuid"]
            }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        fields_of(&body),
        [
            "visited_on",
            "participants",
            "learned",
            "case_ids[0]",
            "case_ids[1]"
        ]
    );
    let recorded = json(
        app.post(
            &format!("{portfolio}/record-visit"),
            &leader,
            visit("ent-0001", today, json!([])),
        )
        .await,
        200,
    )
    .await;
    let visit_id = recorded["created_id"].as_str().unwrap().to_owned();

    // Linking.
    problem(
        app.post(
            &format!("{portfolio}/link-case"),
            &leader,
            json!({"visit_id": uuid::Uuid::now_v7().to_string(), "case_id": other_case}),
        )
        .await,
        404,
        "visit_not_found",
    )
    .await;
    problem(
        app.post(
            &format!("{portfolio}/link-case"),
            &leader,
            json!({"visit_id": visit_id, "case_id": other_case}),
        )
        .await,
        422,
        "case_of_another_subject",
    )
    .await;
    let body = problem(
        app.post(
            &format!("{portfolio}/link-case"),
            &leader,
            json!({"visit_id": "v-1", "case_id": unknown_case}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields_of(&body), ["visit_id", "case_id"]);

    // Reads: bad parameters, unknown ids, roles without access.
    problem(
        app.get(&format!("{portfolio}?as_of=31-12-2026"), &leader)
            .await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.get("/api/v1/portfolios/overdue-visits?owner_kind=team", &leader)
            .await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.get("/api/v1/portfolios/department.dept-tax", &dispatcher)
            .await,
        404,
        "portfolio_not_found",
    )
    .await;
    problem(
        app.get("/api/v1/portfolios/leader.nobody/visits", &dispatcher)
            .await,
        404,
        "portfolio_not_found",
    )
    .await;
    problem(app.get(portfolio, &expert).await, 403, "role_not_allowed").await;
    problem(
        app.get("/api/v1/portfolios/overdue-visits", &expert).await,
        403,
        "role_not_allowed",
    )
    .await;
    let unauthenticated = app
        .client
        .get(app.url("/api/v1/portfolios"))
        .send()
        .await
        .unwrap();
    problem(unauthenticated, 401, "missing_token").await;

    // Every liaison route is in the OpenAPI document.
    let openapi = json(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let routes = [
        ("/api/v1/subjects", "post"),
        ("/api/v1/subjects", "get"),
        ("/api/v1/subjects/{subject_id}", "get"),
        ("/api/v1/subjects/{subject_id}/update-contact", "post"),
        ("/api/v1/subjects/{subject_id}/rename", "post"),
        ("/api/v1/portfolios", "post"),
        ("/api/v1/portfolios", "get"),
        ("/api/v1/portfolios/overdue-visits", "get"),
        ("/api/v1/portfolios/{portfolio_id}", "get"),
        ("/api/v1/portfolios/{portfolio_id}/visits", "get"),
        ("/api/v1/portfolios/{portfolio_id}/assign-subject", "post"),
        ("/api/v1/portfolios/{portfolio_id}/unassign-subject", "post"),
        ("/api/v1/portfolios/{portfolio_id}/record-visit", "post"),
        ("/api/v1/portfolios/{portfolio_id}/link-case", "post"),
    ];
    for (path, method) in routes {
        assert!(
            openapi["paths"][path][method].is_object(),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    app.stop().await;
}

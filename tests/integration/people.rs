//! The people directory (issue 17, the recipients of notifications): administrators enter,
//! update and deactivate people; every change is an event; only administrators read the
//! contact records, each read recorded in the access log first; the feed leaves the contact
//! records out for integrations.

use serde_json::{json, Value};

use crate::on_both;
use crate::support::{json, problem, token, TestApp, TestDb};

on_both!(
    an_admin_keeps_the_directory_and_every_contact_read_is_logged,
    the_directory_refuses_bad_entries_and_other_roles,
);

fn wang() -> Value {
    json!({
        "sub": "handler-7", "name": "王芳",
        "roles": ["department_handler", "department_head", "department_handler"],
        "organisation": "dept-commerce",
        "email": "wang.fang@commerce.example.gov.cn", "mobile": "138 0013 8000"
    })
}

async fn access_reads(app: &TestApp, resource: &str) -> Vec<Value> {
    let auditor = token("aud-1", "auditor", None);
    let page = json(
        app.get(
            "/api/v1/audit/events?aggregate_type=AccessLog&purpose=directory-check",
            &auditor,
        )
        .await,
        200,
    )
    .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["payload"]["PrivateDataRead"]["resource"] == resource)
        .cloned()
        .collect()
}

async fn an_admin_keeps_the_directory_and_every_contact_read_is_logged(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let admin = token("root-admin", "admin", None);
    json(app.post("/api/v1/people", &admin, wang()).await, 201).await;
    let created = json(
        app.post(
            "/api/v1/people",
            &admin,
            json!({"sub": "expert-3", "name": "李明", "roles": ["expert"],
                   "organisation": "清华大学", "email": "li.ming@example.edu.cn"}),
        )
        .await,
        201,
    )
    .await;
    let position = created["position"].as_i64().unwrap();

    // One entry: the contact record, and the read recorded with who and why.
    let person = json(
        app.get(
            &format!("/api/v1/people/handler-7?min_position={position}&purpose=directory-check"),
            &admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(person["name"], "王芳");
    assert_eq!(
        person["roles"],
        json!(["department_handler", "department_head"]),
        "sorted, once each"
    );
    assert_eq!(person["organisation"], "dept-commerce");
    assert_eq!(
        person["contact"]["email"],
        "wang.fang@commerce.example.gov.cn"
    );
    assert_eq!(person["contact"]["mobile"], "138 0013 8000");
    assert_eq!(person["active"], true);
    assert_eq!(person["changed_by"], "root-admin");
    let reads = access_reads(&app, "person_contact").await;
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(
        reads[0]["payload"]["PrivateDataRead"]["subject"],
        "handler-7"
    );
    assert_eq!(reads[0]["actor"]["sub"], "root-admin");

    // The listing filters by role and organisation, and is recorded too.
    let heads = json(
        app.get(
            "/api/v1/people?role=department_head&purpose=directory-check",
            &admin,
        )
        .await,
        200,
    )
    .await;
    let subs = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|person| person["sub"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(subs(&heads), ["handler-7"]);
    let university = json(
        app.get(
            "/api/v1/people?organisation=清华大学&purpose=directory-check",
            &admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(subs(&university), ["expert-3"]);
    assert_eq!(access_reads(&app, "people_contacts").await.len(), 2);
    let all = json(app.get("/api/v1/people?limit=1", &admin).await, 200).await;
    assert_eq!(subs(&all), ["expert-3"], "newest first");
    let cursor = all["next_cursor"].as_str().unwrap();
    let next = json(
        app.get(&format!("/api/v1/people?limit=1&cursor={cursor}"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(subs(&next), ["handler-7"]);
    assert!(next["next_cursor"].is_null());

    // Deactivated: off the listing unless asked for, and once only; an update brings them back.
    let deactivated = json(
        app.post(
            "/api/v1/people/handler-7/deactivate",
            &admin,
            json!({"reason": "调往其他单位"}),
        )
        .await,
        200,
    )
    .await;
    let position = deactivated["position"].as_i64().unwrap();
    let active = json(
        app.get(&format!("/api/v1/people?min_position={position}"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(subs(&active), ["expert-3"]);
    let everyone = json(
        app.get("/api/v1/people?include_inactive=true", &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(subs(&everyone), ["expert-3", "handler-7"]);
    problem(
        app.post(
            "/api/v1/people/handler-7/deactivate",
            &admin,
            json!({"reason": "again"}),
        )
        .await,
        409,
        "person_inactive",
    )
    .await;
    let mut entry = wang();
    entry.as_object_mut().unwrap().remove("sub");
    entry["roles"] = json!(["dispatcher"]);
    entry["organisation"] = json!("dept-business-environment");
    let updated = json(
        app.post("/api/v1/people/handler-7/update", &admin, entry)
            .await,
        200,
    )
    .await;
    let position = updated["position"].as_i64().unwrap();
    let person = json(
        app.get(
            &format!("/api/v1/people/handler-7?min_position={position}"),
            &admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(person["active"], true);
    assert_eq!(person["roles"], json!(["dispatcher"]));
    assert_eq!(person["version"], 3);

    // Every change is in the log; an integration follows it without the contact records.
    let integration = token("warehouse", "integration", None);
    let feed = json(
        app.get("/api/v1/feed?types=Person", &integration).await,
        200,
    )
    .await;
    let items = feed["items"].as_array().unwrap();
    let types: Vec<&str> = items
        .iter()
        .map(|item| item["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "PersonRegistered",
            "PersonRegistered",
            "PersonDeactivated",
            "PersonUpdated"
        ]
    );
    let text = feed.to_string();
    assert!(
        !text.contains("wang.fang") && !text.contains("0013"),
        "contact records left out for integrations: {text}"
    );
    assert!(text.contains("王芳"), "{text}");
    let redacted: Vec<bool> = items
        .iter()
        .map(|item| item["redacted"].as_bool().unwrap())
        .collect();
    assert_eq!(
        redacted,
        [true, true, false, true],
        "only entries carry a contact"
    );
}

async fn the_directory_refuses_bad_entries_and_other_roles(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let admin = token("root-admin", "admin", None);
    let auditor = token("aud-1", "auditor", None);
    problem(
        app.post("/api/v1/people", &auditor, wang()).await,
        403,
        "role_not_allowed",
    )
    .await;
    problem(
        app.get("/api/v1/people", &auditor).await,
        403,
        "role_not_allowed",
    )
    .await;
    problem(
        app.get("/api/v1/people/handler-7", &admin).await,
        404,
        "person_not_found",
    )
    .await;
    let bad = problem(
        app.post(
            "/api/v1/people",
            &admin,
            json!({"sub": "x-1", "name": "", "roles": ["wizard"], "email": "no-at-sign",
                   "mobile": "call me"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "roles[0]", "email", "mobile"], "{bad}");
    let none = problem(
        app.post(
            "/api/v1/people",
            &admin,
            json!({"sub": "x-1", "name": "张三", "roles": []}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(none["errors"][0]["field"], "roles", "{none}");
    json(app.post("/api/v1/people", &admin, wang()).await, 201).await;
    problem(
        app.post("/api/v1/people", &admin, wang()).await,
        409,
        "person_already_listed",
    )
    .await;
    problem(
        app.post(
            "/api/v1/people/nobody/update",
            &admin,
            json!({"name": "某人", "roles": ["expert"]}),
        )
        .await,
        404,
        "person_not_found",
    )
    .await;
    problem(
        app.get("/api/v1/people?role=wizard", &admin).await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.get("/api/v1/people?cursor=abc", &admin).await,
        400,
        "invalid_cursor",
    )
    .await;
}

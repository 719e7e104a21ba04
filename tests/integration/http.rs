//! The case lifecycle over real HTTP, with every class of error answer and an idempotent retry.

use serde_json::json;

use crate::on_both;
use crate::support::{json, problem, registration, sql, token, TestApp, TestDb};

on_both!(
    lifecycle_with_every_error_answer,
    visibility_of_reads,
    authentication_failures,
    idempotency_survives_a_crash
);

async fn lifecycle_with_every_error_answer(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let liaison = token("lo-1", "liaison_officer", None);
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    let handler = token("handler-1", "department_handler", Some("dept-commerce"));
    let other_handler = token("handler-2", "department_handler", Some("dept-taxation"));
    let enterprise = token("ent-user-1", "enterprise", Some("ent-0001"));
    let other_enterprise = token("ent-user-2", "enterprise", Some("ent-0002"));

    // Register.
    let response = app
        .post("/api/v1/cases", &liaison, registration("ent-0001"))
        .await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created = json(response, 201).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/cases/{id}"));
    assert_eq!(created["version"], 1);
    let case = format!("/api/v1/cases/{id}");

    // 400: malformed JSON and a wrong type.
    let malformed = app
        .client
        .post(app.url("/api/v1/cases"))
        .bearer_auth(&liaison)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    problem(malformed, 400, "malformed_json").await;
    let mut wrong_type = registration("ent-0001");
    wrong_type["title"] = json!(42);
    problem(
        app.post("/api/v1/cases", &liaison, wrong_type).await,
        400,
        "invalid_body",
    )
    .await;
    let mut unknown_field = registration("ent-0001");
    unknown_field["actor"] = json!("someone-else");
    problem(
        app.post("/api/v1/cases", &liaison, unknown_field).await,
        400,
        "invalid_body",
    )
    .await;

    // 422: invalid values, each field listed.
    let mut invalid = registration("Not A Slug");
    invalid["title"] = json!("   ");
    let body = problem(
        app.post("/api/v1/cases", &liaison, invalid).await,
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
    assert_eq!(fields, ["enterprise_id", "title"]);

    // 413: a body over 1 MiB.
    let mut huge = registration("ent-0001");
    huge["description"] = json!("x".repeat(1024 * 1024 + 1));
    problem(
        app.post("/api/v1/cases", &liaison, huge).await,
        413,
        "payload_too_large",
    )
    .await;

    // 403: an enterprise registering for another enterprise; a handler dispatching.
    problem(
        app.post("/api/v1/cases", &enterprise, registration("ent-0002"))
            .await,
        403,
        "not_own_enterprise",
    )
    .await;
    let dispatch = json!({"lead_department": "dept-commerce", "co_departments": ["dept-taxation"], "note": "请一周内联系企业"});
    problem(
        app.post(&format!("{case}/dispatch"), &handler, dispatch.clone())
            .await,
        403,
        "role_not_allowed",
    )
    .await;

    // 422: an unknown department is a field error.
    let body = problem(
        app.post(
            &format!("{case}/dispatch"),
            &dispatcher,
            json!({"lead_department": "dept-nowhere"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "lead_department");

    // 412: If-Match with a stale version; then the right one.
    let stale = app
        .client
        .post(app.url(&format!("{case}/dispatch")))
        .bearer_auth(&dispatcher)
        .header("if-match", "\"5\"")
        .json(&dispatch)
        .send()
        .await
        .unwrap();
    problem(stale, 412, "version_mismatch").await;
    let dispatched = app
        .client
        .post(app.url(&format!("{case}/dispatch")))
        .bearer_auth(&dispatcher)
        .header("if-match", "\"1\"")
        .json(&dispatch)
        .send()
        .await
        .unwrap();
    assert_eq!(dispatched.headers()["etag"], "\"2\"");
    assert_eq!(json(dispatched, 200).await["version"], 2);

    // 403 for another department's handler; 422 for the wrong state.
    problem(
        app.post(&format!("{case}/accept"), &other_handler, json!({}))
            .await,
        403,
        "not_lead_department",
    )
    .await;
    let answer = json!({"resolution": "resolved", "text": "已协调银行完成贴息。"});
    problem(
        app.post(&format!("{case}/respond"), &handler, answer.clone())
            .await,
        422,
        "case_not_accepted",
    )
    .await;
    json(
        app.post(&format!("{case}/accept"), &handler, json!({}))
            .await,
        200,
    )
    .await;
    problem(
        app.post(&format!("{case}/close"), &dispatcher, json!({}))
            .await,
        422,
        "no_response_yet",
    )
    .await;
    problem(
        app.post(
            &format!("{case}/respond"),
            &handler,
            json!({"resolution": "explained", "text": "不符合条件"}),
        )
        .await,
        422,
        "basis_required",
    )
    .await;
    json(
        app.post(&format!("{case}/respond"), &handler, answer).await,
        200,
    )
    .await;

    // 404 for another enterprise; 422 for an out-of-range grade; a rating is final.
    let rating = json!({"satisfaction": 5, "resolved": true, "comment": "很满意"});
    problem(
        app.post(&format!("{case}/rate"), &other_enterprise, rating.clone())
            .await,
        404,
        "case_not_found",
    )
    .await;
    problem(
        app.post(
            &format!("{case}/rate"),
            &enterprise,
            json!({"satisfaction": 6, "resolved": true}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    json(
        app.post(&format!("{case}/rate"), &enterprise, rating.clone())
            .await,
        200,
    )
    .await;
    problem(
        app.post(&format!("{case}/rate"), &enterprise, rating).await,
        422,
        "rating_is_final",
    )
    .await;

    // Close with an idempotency key; the retry returns the first answer and writes nothing.
    let close = |key: &'static str| {
        app.client
            .post(app.url(&format!("{case}/close")))
            .bearer_auth(&dispatcher)
            .header("idempotency-key", key)
            .send()
    };
    let first = json(close("close-1").await.unwrap(), 200).await;
    let retry = close("close-1").await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(json(retry, 200).await, first);
    // The same key for another request is refused.
    let reused = app
        .client
        .post(app.url(&format!("{case}/add-note")))
        .bearer_auth(&dispatcher)
        .header("idempotency-key", "close-1")
        .json(&json!({"text": "note"}))
        .send()
        .await
        .unwrap();
    problem(reused, 422, "idempotency_key_reused").await;
    // Any command on the closed case is a rule violation.
    problem(
        app.post(
            &format!("{case}/add-note"),
            &dispatcher,
            json!({"text": "late"}),
        )
        .await,
        422,
        "case_closed",
    )
    .await;

    // Read your write; the enterprise sees no handler names, staff do.
    let position = first["position"].as_i64().unwrap();
    let own = json(
        app.get(&format!("{case}?min_position={position}"), &enterprise)
            .await,
        200,
    )
    .await;
    assert_eq!(own["status"], "closed");
    assert_eq!(own["version"], 6);
    assert_eq!(own["rating"]["satisfaction"], 5);
    assert!(
        own.get("accepted_by").is_none()
            && own.get("responded_by").is_none()
            && own.get("dispatch_note").is_none()
    );
    let staff = json(app.get(&case, &dispatcher).await, 200).await;
    assert_eq!(staff["accepted_by"], "handler-1");
    assert_eq!(staff["co_departments"], json!(["dept-taxation"]));
    assert_eq!(staff["sla_policy_version"], "2026.2");

    // History: exactly the applied commands, with actors from the tokens.
    let history = json(app.get(&format!("{case}/history"), &dispatcher).await, 200).await;
    let events = history["events"].as_array().unwrap();
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "CaseRegistered",
            "CaseDispatched",
            "CaseAccepted",
            "CaseResponded",
            "CaseRated",
            "CaseClosed"
        ]
    );
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5, 6]);
    assert_eq!(events[2]["actor"]["sub"], "handler-1");
    assert_eq!(events[2]["actor"]["roles"], json!(["department_handler"]));
    assert_eq!(events[2]["actor"]["org"], "dept-commerce");
    assert!(events
        .iter()
        .all(|e| e["request_id"].as_str().is_some_and(|id| !id.is_empty())));
    problem(
        app.get(&format!("{case}/history"), &enterprise).await,
        403,
        "history_not_available",
    )
    .await;

    // Unknown paths and ids.
    problem(
        app.get(
            "/api/v1/cases/00000000-0000-0000-0000-000000000000",
            &dispatcher,
        )
        .await,
        404,
        "case_not_found",
    )
    .await;
    problem(
        app.get("/api/v1/cases/not-a-uuid", &dispatcher).await,
        404,
        "case_not_found",
    )
    .await;
    problem(
        app.post(
            "/api/v1/cases/00000000-0000-0000-0000-000000000000/accept",
            &handler,
            json!({}),
        )
        .await,
        404,
        "case_not_found",
    )
    .await;
    problem(
        app.get("/api/v1/nothing-here", &dispatcher).await,
        404,
        "route_not_found",
    )
    .await;
    let wrong_method = app
        .client
        .put(app.url("/api/v1/cases"))
        .bearer_auth(&dispatcher)
        .send()
        .await
        .unwrap();
    problem(wrong_method, 405, "method_not_allowed").await;
    problem(
        app.get("/api/v1/cases?min_position=999999", &dispatcher)
            .await,
        400,
        "unknown_position",
    )
    .await;
    app.stop().await;
}

async fn visibility_of_reads(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let liaison = token("lo-1", "liaison_officer", None);
    let dispatcher = token("disp-1", "dispatcher", None);
    let mut last_position = 0;
    let mut ids = Vec::new();
    for (enterprise, department) in [
        ("ent-0001", "dept-commerce"),
        ("ent-0002", "dept-taxation"),
        ("ent-0001", "dept-taxation"),
    ] {
        let created = json(
            app.post("/api/v1/cases", &liaison, registration(enterprise))
                .await,
            201,
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        let dispatched = json(
            app.post(
                &format!("/api/v1/cases/{id}/dispatch"),
                &dispatcher,
                json!({"lead_department": department}),
            )
            .await,
            200,
        )
        .await;
        last_position = dispatched["position"].as_i64().unwrap();
        ids.push(id);
    }
    let list = |token: String, query: &'static str| {
        let app = &app;
        async move {
            let body = json(
                app.get(
                    &format!("/api/v1/cases?min_position={last_position}{query}"),
                    &token,
                )
                .await,
                200,
            )
            .await;
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    // Newest first; handlers see their department's cases, enterprises their own.
    assert_eq!(
        list(dispatcher.clone(), "").await,
        [ids[2].clone(), ids[1].clone(), ids[0].clone()]
    );
    assert_eq!(
        list(token("h", "department_handler", Some("dept-taxation")), "").await,
        [ids[2].clone(), ids[1].clone()]
    );
    assert_eq!(
        list(token("e", "enterprise", Some("ent-0001")), "").await,
        [ids[2].clone(), ids[0].clone()]
    );
    assert_eq!(
        list(dispatcher.clone(), "&department=dept-commerce").await,
        [ids[0].clone()]
    );
    assert_eq!(
        list(dispatcher.clone(), "&status=registered").await,
        Vec::<String>::new()
    );
    // Cursor pagination walks every case exactly once.
    let first = json(app.get("/api/v1/cases?limit=2", &dispatcher).await, 200).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = json(
        app.get(
            &format!("/api/v1/cases?limit=2&cursor={cursor}"),
            &dispatcher,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(second["items"][0]["id"], ids[0].as_str());
    assert!(second["next_cursor"].is_null());
    // Out of bounds: another department, another enterprise, a role without case access.
    problem(
        app.get(
            "/api/v1/cases?department=dept-commerce",
            &token("h", "department_handler", Some("dept-taxation")),
        )
        .await,
        403,
        "department_not_allowed",
    )
    .await;
    problem(
        app.get(
            &format!("/api/v1/cases/{}", ids[1]),
            &token("e", "enterprise", Some("ent-0001")),
        )
        .await,
        404,
        "case_not_found",
    )
    .await;
    problem(
        app.get(
            &format!("/api/v1/cases/{}", ids[0]),
            &token("h", "department_handler", Some("dept-taxation")),
        )
        .await,
        404,
        "case_not_found",
    )
    .await;
    problem(
        app.get("/api/v1/cases", &token("x", "expert", None)).await,
        403,
        "role_not_allowed",
    )
    .await;
    problem(
        app.get("/api/v1/cases?limit=0", &dispatcher).await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.get("/api/v1/cases?cursor=abc", &dispatcher).await,
        400,
        "invalid_cursor",
    )
    .await;
    problem(
        app.get("/api/v1/cases?status=lost", &dispatcher).await,
        400,
        "invalid_query",
    )
    .await;
    // Departments for any authenticated user.
    let departments = json(
        app.get("/api/v1/departments", &token("x", "expert", None))
            .await,
        200,
    )
    .await;
    assert!(departments
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == "dept-commerce" && d["law_enforcement"] == true));
    app.stop().await;
}

async fn authentication_failures(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let unauthenticated = app
        .client
        .get(app.url("/api/v1/cases"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.headers()["www-authenticate"], "Bearer");
    problem(unauthenticated, 401, "missing_token").await;
    problem(
        app.get("/api/v1/cases", "not-a-jwt").await,
        401,
        "invalid_token",
    )
    .await;
    let past = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 7200;
    let expired = crate::support::keys()
        .mint("alice", &["dispatcher".into()], None, past, 60)
        .unwrap();
    problem(
        app.get("/api/v1/cases", &expired).await,
        401,
        "token_expired",
    )
    .await;
    let foreign = caseledger_api::JwtKeys::from_secret(b"some-other-secret-0123456789abcdef")
        .mint("alice", &["dispatcher".into()], None, past + 7200, 60)
        .unwrap();
    problem(
        app.get("/api/v1/cases", &foreign).await,
        401,
        "invalid_token",
    )
    .await;
    // Operations endpoints need no token; the request id is echoed.
    let health = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(health.headers()["x-request-id"], "req-42");
    assert_eq!(health.status(), 200);
    let ready = json(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(ready["status"], "ready");
    let openapi = json(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3.1"));
    // Every route the router serves is documented.
    let documented = [
        ("/api/v1/cases", "post"),
        ("/api/v1/cases", "get"),
        ("/api/v1/cases/{case_id}", "get"),
        ("/api/v1/cases/{case_id}/history", "get"),
        ("/api/v1/cases/{case_id}/dispatch", "post"),
        ("/api/v1/cases/{case_id}/accept", "post"),
        ("/api/v1/cases/{case_id}/respond", "post"),
        ("/api/v1/cases/{case_id}/rate", "post"),
        ("/api/v1/cases/{case_id}/add-note", "post"),
        ("/api/v1/cases/{case_id}/close", "post"),
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
        ("/api/v1/departments", "get"),
        ("/api/v1/audit/events", "get"),
        ("/api/v1/public/audit/digests", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/v1/departments/{department_id}/kpi", "get"),
        ("/api/v1/departments/{department_id}/kpi/trend", "get"),
        ("/api/v1/kpi", "get"),
        ("/api/v1/appraisals", "post"),
        ("/api/v1/appraisals", "get"),
        ("/api/v1/appraisals/{appraisal_id}", "get"),
        ("/api/v1/appraisals/{appraisal_id}/open", "post"),
        ("/api/v1/appraisals/{appraisal_id}/ballots", "post"),
        ("/api/v1/appraisals/{appraisal_id}/close", "post"),
        ("/api/v1/appraisals/{appraisal_id}/compute", "post"),
        ("/api/v1/appraisals/{appraisal_id}/publish", "post"),
        ("/api/v1/appraisals/{appraisal_id}/rectifications", "post"),
        (
            "/api/v1/appraisals/{appraisal_id}/rectifications/{item_id}/report",
            "post",
        ),
        (
            "/api/v1/appraisals/{appraisal_id}/rectifications/{item_id}/recheck",
            "post",
        ),
        ("/api/v1/public/appraisals/{appraisal_id}", "get"),
        ("/api/v1/public/appraisals/{appraisal_id}/export.csv", "get"),
        ("/public/appraisals/{appraisal_id}", "get"),
    ];
    for (path, method) in documented {
        assert!(
            openapi["paths"][path][method].is_object(),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    assert!(openapi["components"]["securitySchemes"]["bearer"].is_object());
    let docs = app
        .client
        .get(app.url("/docs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(docs.contains("/api/v1/cases/{case_id}/respond") && !docs.contains("<script"));
    let metrics = app.metrics().await;
    assert!(metrics.contains(
        "caseledger_http_requests_total{route=\"/api/v1/cases\",method=\"GET\",status=\"401\"}"
    ));
    assert!(metrics.contains("caseledger_projection_lag_events{projection=\"cases\"} 0"));
    app.stop().await;
}

/// A process that dies between claiming a key and answering leaves a claim without an answer.
/// After the claim goes stale, a retry answers from the log if the command committed, and runs
/// the command if it did not; either way exactly one set of events exists.
async fn idempotency_survives_a_crash(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let dispatcher = token("disp-1", "dispatcher", None);
    let register = |key: &'static str| {
        app.client
            .post(app.url("/api/v1/cases"))
            .bearer_auth(&dispatcher)
            .header("idempotency-key", key)
            .json(&registration("ent-0001"))
            .send()
    };
    let count_events = || async {
        let body = json(
            app.get(
                "/api/v1/audit/events?event_type=CaseRegistered",
                &token("a", "auditor", None),
            )
            .await,
            200,
        )
        .await;
        body["items"].as_array().unwrap().len()
    };

    // Crash after the commit, before the answer was stored.
    let first = json(register("crash-after-commit").await.unwrap(), 201).await;
    sql(
        &db.db,
        "UPDATE idempotency_keys SET status_code = NULL, response_body = NULL, created_at = '2000-01-01T00:00:00.000000Z' \
         WHERE idempotency_key = 'crash-after-commit'",
    )
    .await;
    let retry = register("crash-after-commit").await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let replayed = json(retry, 201).await;
    for field in ["id", "version", "position"] {
        assert_eq!(replayed[field], first[field], "{field}");
    }
    // The verifier is shown once and never stored in clear, so a replay cannot repeat it.
    assert!(first["verifier"].is_string());
    assert!(replayed.get("verifier").is_none());
    assert_eq!(count_events().await, 1);

    // A fresh claim without an answer is a request still running.
    sql(&db.db, "UPDATE idempotency_keys SET status_code = NULL, response_body = NULL, created_at = '2999-01-01T00:00:00.000000Z'").await;
    problem(
        register("crash-after-commit").await.unwrap(),
        409,
        "idempotency_key_in_progress",
    )
    .await;

    // Crash before the commit: the claim is there, no event is; the retry runs the command once.
    let fingerprint = caseledger_api::commands::fingerprint(
        "POST",
        "/api/v1/cases",
        &serde_json::from_value::<caseledger_api::cases::RegisterCaseRequest>(registration(
            "ent-0001",
        ))
        .unwrap(),
    );
    sql(
        &db.db,
        &format!(
            "INSERT INTO idempotency_keys (principal, idempotency_key, request_hash, created_at) \
             VALUES ('disp-1', 'crash-before-commit', '{fingerprint}', '2000-01-01T00:00:00.000000Z')"
        ),
    )
    .await;
    let ran = json(register("crash-before-commit").await.unwrap(), 201).await;
    assert_ne!(ran["id"], first["id"]);
    assert_eq!(count_events().await, 2);
    let again = json(register("crash-before-commit").await.unwrap(), 201).await;
    let mut expected = ran.clone();
    expected.as_object_mut().unwrap().remove("verifier");
    assert_eq!(
        again, expected,
        "the replay is the first answer without the verifier"
    );
    assert_eq!(count_events().await, 2);
    app.stop().await;
}

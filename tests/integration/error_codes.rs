//! The error-code registry as clients see it (issue 14 item 4): the served `/openapi.json`
//! declares `Problem.code` as an enum of every registered code (the edge's own codes and every
//! aggregate's refusal codes), and the codes real answers carry are among them.

use crate::support::{json, problem, TestApp, TestDb};

#[tokio::test]
async fn problem_code_in_the_served_openapi_document_is_the_enum_of_registered_codes() {
    let store = TestDb::sqlite().await;
    let app = TestApp::spawn(store.db.clone()).await;
    let document = json(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["Problem"]["properties"]["code"]["$ref"], "#/components/schemas/ErrorCode",
        "Problem.code: {}",
        schemas["Problem"]["properties"]["code"]
    );
    assert_eq!(schemas["ErrorCode"]["type"], "string");
    let codes: Vec<String> = schemas["ErrorCode"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("ErrorCode has no enum: {}", schemas["ErrorCode"]))
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    // The edge's codes, and refusal codes of every aggregate (the README lacked the
    // consultation, expert and reward ones before the registry).
    for code in [
        "malformed_json",
        "missing_token",
        "role_not_allowed",
        "route_not_found",
        "request_rejected",
        "validation_failed",
        "version_mismatch",
        "internal_error",
        "storage_unavailable",
        "no_response_yet",
        "name_unchanged",
        "visit_before_assignment",
        "ballot_already_cast",
        "expert_already_exists",
        "pledge_required",
        "expert_conflicted",
        "program_already_approved",
        "quota_exceeded",
        "notice_period_running",
    ] {
        assert!(
            codes.iter().any(|listed| listed == code),
            "{code} is not in {codes:?}"
        );
    }

    // Answers carry listed codes.
    let unauthenticated = problem(
        app.client
            .get(app.url("/api/v1/cases"))
            .send()
            .await
            .unwrap(),
        401,
        "missing_token",
    )
    .await;
    let unrouted = problem(
        app.client
            .get(app.url("/api/v1/no-such-route"))
            .send()
            .await
            .unwrap(),
        404,
        "route_not_found",
    )
    .await;
    for body in [unauthenticated, unrouted] {
        assert!(
            codes.contains(&body["code"].as_str().unwrap().to_owned()),
            "{body}"
        );
    }
    app.stop().await;
}

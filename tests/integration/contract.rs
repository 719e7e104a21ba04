//! The HTTP contract as a generated client reads it (issue 14 item 5): the `/openapi.json` the
//! server answers is a valid OpenAPI document (`openapi-spec-validator` finds 0 errors), and every
//! parameter declared in the path is one of the path's `{placeholders}`, so query parameters are
//! declared in the query and optional ones are not required.
//!
//! The validator is the Python `openapi-spec-validator` (scripts/test installs it with pip when it
//! is missing). `OPENAPI_SPEC_VALIDATOR` may name its command; otherwise `openapi-spec-validator`
//! on the PATH, then `python3 -m openapi_spec_validator`. Like PostgreSQL, it never skips: without
//! the validator the test fails and says what to install.

use std::process::Command;

use crate::support::{json, TestApp, TestDb};

/// The document as the running server answers it (it does not depend on the store).
async fn served_document() -> serde_json::Value {
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
    app.stop().await;
    document
}

/// Every operation's parameters, as `(path, method, parameter)`.
fn parameters(document: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                found.push((path.clone(), method.clone(), parameter.clone()));
            }
        }
    }
    found
}

#[tokio::test]
async fn path_parameters_are_placeholders_of_their_path_and_query_parameters_are_in_the_query() {
    let document = served_document().await;
    let parameters = parameters(&document);
    let misplaced: Vec<String> = parameters
        .iter()
        .filter(|(path, _, parameter)| {
            parameter["in"] == "path"
                && !path.contains(&format!("{{{}}}", parameter["name"].as_str().unwrap()))
        })
        .map(|(path, method, parameter)| format!("{method} {path}: {}", parameter["name"]))
        .collect();
    assert!(
        misplaced.is_empty(),
        "{} path parameters are not in their path: {misplaced:#?}",
        misplaced.len()
    );
    // The reads' filters are in the query and optional, as the handlers treat them.
    let query = |path: &str, name: &str| {
        parameters
            .iter()
            .find(|(p, method, parameter)| {
                p == path && method == "get" && parameter["name"] == name
            })
            .map(|(_, _, parameter)| parameter.clone())
            .unwrap_or_else(|| panic!("GET {path} does not declare {name}"))
    };
    for (path, name) in [
        ("/api/v1/cases", "status"),
        ("/api/v1/cases", "limit"),
        ("/api/v1/cases", "cursor"),
        ("/api/v1/cases/{case_id}", "min_position"),
        ("/api/v1/cases/{case_id}/history", "purpose"),
        ("/api/v1/audit/events", "limit"),
    ] {
        let parameter = query(path, name);
        assert_eq!(parameter["in"], "query", "GET {path} {name}: {parameter}");
        assert_ne!(
            parameter["required"],
            serde_json::json!(true),
            "GET {path} {name}: {parameter}"
        );
    }
}

/// The validator's command: `OPENAPI_SPEC_VALIDATOR`, the `openapi-spec-validator` script, or the
/// Python module.
fn validator() -> Command {
    if let Ok(command) = std::env::var("OPENAPI_SPEC_VALIDATOR") {
        return Command::new(command);
    }
    let script = Command::new("openapi-spec-validator")
        .arg("--version")
        .output();
    if script.is_ok_and(|output| output.status.success()) {
        return Command::new("openapi-spec-validator");
    }
    let module = Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--version"])
        .output();
    if module.is_ok_and(|output| output.status.success()) {
        let mut command = Command::new("python3");
        command.args(["-m", "openapi_spec_validator"]);
        return command;
    }
    panic!(
        "openapi-spec-validator is not installed: run `python3 -m pip install openapi-spec-validator` \
         (scripts/test does this when it is missing) or set OPENAPI_SPEC_VALIDATOR to its command"
    );
}

#[tokio::test]
async fn openapi_document_passes_openapi_spec_validator() {
    let document = served_document().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    let output = validator()
        .args(["--validation-errors", "all"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(": OK"),
        "openapi-spec-validator rejects /openapi.json:\n{stdout}\n{stderr}"
    );
}

/// Issue 14 item 5: every operation documents the answers any route can give (401 where a token
/// is required, 400 and 503 everywhere, 413 and 415 where there is a body, 409 and 412 for every
/// command: `If-Match` and `Idempotency-Key` work on all of them; 403, 422 and, with an id in the
/// path, 404 for every command: refusals; 429 where a rate limit applies), so a generated client
/// knows them. Before, 3 of 127
/// operations documented 401.
#[tokio::test]
async fn every_operation_documents_the_answers_every_route_can_give() {
    let document = served_document().await;
    let mut missing = Vec::new();
    let mut n_operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            n_operations += 1;
            let responses = operation["responses"].as_object().unwrap();
            let authenticated = operation["security"]
                .as_array()
                .is_some_and(|requirements| !requirements.is_empty());
            let mut expected = vec!["400", "503"];
            if authenticated {
                expected.push("401");
            }
            // Rate limits (issue 15 item 4): failed authentications on every operation that
            // takes a token, the per-address budget on every public one.
            let public = path.starts_with("/api/v1/public/") || path.starts_with("/public/");
            if authenticated || public {
                expected.push("429");
            } else if responses.contains_key("429") {
                missing.push(format!(
                    "{method} {path}: 429 documented but never answered"
                ));
            }
            if operation.get("requestBody").is_some() {
                expected.extend(["413", "415"]);
            }
            let command = responses.iter().any(|(status, response)| {
                status.starts_with('2')
                    && response["content"]["application/json"]["schema"]["$ref"]
                        == "#/components/schemas/CommandAccepted"
            });
            if command {
                // Every command's refusal is mapped by its kind: 403, 409 or 422, and 404 when
                // the path names the aggregate.
                expected.extend(["403", "409", "412", "422"]);
                if path.contains('{') {
                    expected.push("404");
                }
            }
            for status in expected {
                if !responses.contains_key(status) {
                    missing.push(format!("{method} {path}: {status}"));
                }
            }
        }
    }
    assert!(n_operations > 100, "only {n_operations} operations");
    assert!(
        missing.is_empty(),
        "{} undocumented answers: {missing:#?}",
        missing.len()
    );
    let shared = &document["components"]["responses"];
    for name in [
        "BadRequest",
        "Unauthorized",
        "PayloadTooLarge",
        "UnsupportedMediaType",
        "CommandConflict",
        "VersionMismatch",
        "Forbidden",
        "NotFound",
        "Refused",
        "Unavailable",
        "RateLimited",
    ] {
        assert_eq!(
            shared[name]["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem",
            "{name}"
        );
    }
}

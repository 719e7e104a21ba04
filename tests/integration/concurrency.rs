//! Many clients on one case at once: every command is applied or answered 409, the sequence has
//! no gap, and the history holds exactly the applied commands.

use std::collections::BTreeSet;

use serde_json::json;

use crate::on_both;
use crate::support::{json, registration, token, TestApp, TestDb};

on_both!(fifty_concurrent_commands_on_one_case);

async fn fifty_concurrent_commands_on_one_case(db: TestDb) {
    let app = std::sync::Arc::new(TestApp::spawn(db.db.clone()).await);
    let dispatcher = token("disp-1", "dispatcher", None);
    let created = json(
        app.post("/api/v1/cases", &dispatcher, registration("ent-0001"))
            .await,
        201,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();

    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50 {
        let app = app.clone();
        let path = format!("/api/v1/cases/{id}/add-note");
        let dispatcher = dispatcher.clone();
        tasks.spawn(async move {
            let response = app
                .post(&path, &dispatcher, json!({"text": format!("note {n}")}))
                .await;
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (n, status, body)
        });
    }
    let mut applied = BTreeSet::new();
    let mut versions = BTreeSet::new();
    while let Some(result) = tasks.join_next().await {
        let (n, status, body) = result.unwrap();
        match status {
            200 => {
                applied.insert(format!("note {n}"));
                assert!(
                    versions.insert(body["version"].as_i64().unwrap()),
                    "two commands got one version"
                );
            }
            409 => assert_eq!(body["code"], "concurrent_modification"),
            other => panic!("command {n} answered {other}: {body}"),
        }
    }
    assert!(!applied.is_empty());

    let history = json(
        app.get(&format!("/api/v1/cases/{id}/history"), &dispatcher)
            .await,
        200,
    )
    .await;
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 1 + applied.len());
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(
        sequences,
        (1..=events.len() as i64).collect::<Vec<_>>(),
        "sequence has a gap"
    );
    let noted: BTreeSet<String> = events[1..]
        .iter()
        .map(|e| {
            e["payload"]["InternalNoteAdded"]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(noted, applied);
    assert_eq!(versions, (2..=events.len() as i64).collect());
    match std::sync::Arc::try_unwrap(app) {
        Ok(app) => app.stop().await,
        Err(_) => panic!("app still shared"),
    }
}

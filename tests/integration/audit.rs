//! The audit trail: untouched data verifies; every kind of tampering is detected and the first
//! broken event or digest is named; private reads are recorded, public ones are not.

use std::sync::Arc;

use caseledger_store::audit::hash::{event_hash, EventFields, GENESIS};
use caseledger_store::audit::verify::Finding;
use caseledger_store::audit::{AuditChainProjection, SealPolicy};
use caseledger_store::cases::CasesProjection;
use caseledger_store::{Database, Projection, Projector};
use serde_json::json;

use crate::on_both;
use crate::projector::{all_positions, write_case};
use crate::support::{json, registration, sql, token, TestApp, TestDb};

on_both!(
    every_kind_of_tampering_is_named,
    private_reads_are_recorded,
    verify_checks_every_digest_past_the_first_page,
);

/// Three cases with notes, chained and sealed every 4 events. Returns the positions in order and
/// the case ids.
async fn fixture(db: &Database) -> (Vec<i64>, Vec<String>) {
    let mut ids = Vec::new();
    for notes in [3, 4, 2] {
        ids.push(write_case(db, notes).await);
    }
    let projections: Vec<Arc<dyn Projection>> = vec![
        Arc::new(CasesProjection),
        Arc::new(AuditChainProjection {
            policy: SealPolicy {
                every_events: 4,
                every: std::time::Duration::from_secs(3600),
            },
        }),
    ];
    Projector::new(db.clone(), projections)
        .catch_up()
        .await
        .unwrap();
    (all_positions(db).await, ids)
}

async fn verify(db: &Database) -> Option<Finding> {
    let report = db.verify_audit_trail(&[], &mut |_, _| {}).await.unwrap();
    report.finding
}

async fn every_kind_of_tampering_is_named(db: TestDb) {
    let postgres = matches!(db.db, Database::Postgres(_));
    // Untouched data verifies, with digests.
    let (positions, _) = fixture(&db.db).await;
    assert_eq!(positions.len(), 12);
    let report = db.db.verify_audit_trail(&[], &mut |_, _| {}).await.unwrap();
    assert_eq!(report.finding, None);
    assert_eq!(
        (report.events, report.chained_events, report.streams),
        (12, 12, 3)
    );
    assert!(report.digests >= 3, "{report:?}");
    let digests = db.db.audit_digests(0, 100).await.unwrap();
    // A pinned digest that is still there passes; a wrong pin is named.
    let pin = (1, digests[0].digest_hash.clone());
    assert_eq!(
        db.db
            .verify_audit_trail(&[pin], &mut |_, _| {})
            .await
            .unwrap()
            .finding,
        None
    );
    let wrong = db
        .db
        .verify_audit_trail(&[(1, "00".into())], &mut |_, _| {})
        .await
        .unwrap()
        .finding;
    assert!(
        matches!(wrong, Some(Finding::DigestBroken { digest_seq: 1, .. })),
        "{wrong:?}"
    );

    // 1. A changed payload: the 2nd case's first note (its 2nd event, position index 5).
    let target = positions[5];
    let payload = if postgres {
        format!("UPDATE events SET payload = replace(payload::text, 'note 0', 'forged')::jsonb WHERE position = {target}")
    } else {
        format!("UPDATE events SET payload = replace(payload, 'note 0', 'forged') WHERE position = {target}")
    };
    sql(&db.db, &payload).await;
    let finding = verify(&db.db).await;
    assert!(
        matches!(&finding, Some(Finding::EventModified { position, sequence: 2, .. }) if *position == target),
        "{finding:?}"
    );

    // Each further kind on a fresh store.
    let fresh = || async {
        let test_db = if postgres {
            TestDb::postgres().await
        } else {
            TestDb::sqlite().await
        };
        let (positions, ids) = fixture(&test_db.db).await;
        (test_db, positions, ids)
    };

    // 2. Changed metadata (who acted).
    let (store, positions, _) = fresh().await;
    sql(
        &store.db,
        &format!(
            "UPDATE events SET metadata = '{{\"actor_sub\":\"someone-else\"}}' WHERE position = {}",
            positions[3]
        ),
    )
    .await;
    let finding = verify(&store.db).await;
    assert!(
        matches!(&finding, Some(Finding::EventModified { position, .. }) if *position == positions[3]),
        "{finding:?}"
    );

    // 3. A deleted event in the middle of a stream: the gap is named.
    let (store, positions, ids) = fresh().await;
    sql(
        &store.db,
        &format!("DELETE FROM events WHERE position = {}", positions[2]),
    )
    .await;
    let finding = verify(&store.db).await;
    assert!(
        matches!(&finding, Some(Finding::SequenceGap { expected: 3, found: 4, stream, .. }) if stream.ends_with(&ids[0])),
        "{finding:?}"
    );

    // 4. An inserted event, with a correct stream hash, moved into the sealed past.
    let (store, _, _) = fresh().await;
    let payload = json!({"InternalNoteAdded": {"text": "forged"}});
    let metadata = json!({"actor_sub": "nobody"});
    let hash = event_hash(
        GENESIS,
        EventFields {
            aggregate_type: "EnterpriseCase",
            aggregate_id: "forged",
            sequence: 1,
            event_type: "InternalNoteAdded",
            event_version: "1",
            payload: &payload,
            metadata: &metadata,
        },
    );
    let columns = "aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_hash";
    let values = format!("'EnterpriseCase', 'forged', 1, 'InternalNoteAdded', '1', '{payload}', '{metadata}', '{hash}'");
    if postgres {
        sql(&store.db, &format!("INSERT INTO events ({columns}, position, transaction_id) VALUES ({values}, 0, '1'::xid8)")).await;
    } else {
        sql(
            &store.db,
            &format!("INSERT INTO events ({columns}) VALUES ({values})"),
        )
        .await;
        sql(
            &store.db,
            "UPDATE events SET position = 0 WHERE aggregate_id = 'forged'",
        )
        .await;
    }
    let finding = verify(&store.db).await;
    assert!(
        matches!(&finding, Some(Finding::NotInChain { position: 0, .. })),
        "{finding:?}"
    );

    // 5. Two events swapped in the feed.
    let (store, positions, _) = fresh().await;
    // Stream 1's last event and stream 3's first: each stream keeps its own order, so only the
    // global chain can tell.
    let (first, second) = (positions[3], positions[9]);
    sql(
        &store.db,
        &format!("UPDATE events SET position = -1 WHERE position = {first}"),
    )
    .await;
    sql(
        &store.db,
        &format!("UPDATE events SET position = {first} WHERE position = {second}"),
    )
    .await;
    sql(
        &store.db,
        &format!("UPDATE events SET position = {second} WHERE position = -1"),
    )
    .await;
    let finding = verify(&store.db).await;
    assert!(
        matches!(&finding, Some(Finding::ChainDiverges { position, .. }) if *position == first || *position == second),
        "{finding:?}"
    );

    // 6. An edited digest.
    let (store, _, _) = fresh().await;
    sql(
        &store.db,
        &format!(
            "UPDATE audit_digests SET chain_hash = '{}' WHERE digest_seq = 2",
            "f".repeat(64)
        ),
    )
    .await;
    let finding = verify(&store.db).await;
    assert!(
        matches!(&finding, Some(Finding::DigestBroken { digest_seq: 2, .. })),
        "{finding:?}"
    );

    // 7. The newest sealed events deleted from the end of the log.
    let (store, positions, _) = fresh().await;
    sql(
        &store.db,
        &format!("DELETE FROM events WHERE position >= {}", positions[10]),
    )
    .await;
    let finding = verify(&store.db).await;
    assert!(
        matches!(
            &finding,
            Some(
                Finding::ChainTruncated {
                    recomputed: 10,
                    stored: 12
                } | Finding::DigestBroken { .. }
            )
        ),
        "{finding:?}"
    );
}

/// The access log as the auditor lists it (which itself records one more read).
async fn access_log(app: &TestApp, auditor: &str) -> Vec<serde_json::Value> {
    let url = "/api/v1/audit/events?aggregate_type=AccessLog&purpose=test-inspection";
    json(app.get(url, auditor).await, 200).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn private_reads_are_recorded(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let dispatcher = token("disp-1", "dispatcher", Some("dept-business-environment"));
    let auditor = token("aud-1", "auditor", Some("dept-discipline"));
    let created = json(
        app.post("/api/v1/cases", &dispatcher, registration("ent-0001"))
            .await,
        201,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let position = created["position"].as_i64().unwrap();

    // Reading the access log is itself a private read: it records itself first.
    let before = access_log(&app, &auditor).await;
    assert_eq!(before.len(), 1);
    assert_eq!(
        before[0]["payload"]["PrivateDataRead"]["resource"],
        "audit_events"
    );
    assert_eq!(
        before[0]["payload"]["PrivateDataRead"]["purpose"],
        "test-inspection"
    );
    assert_eq!(before[0]["actor"]["sub"], "aud-1");

    // Public and ordinary reads record nothing.
    json(
        app.client
            .get(app.url("/api/v1/public/audit/digests"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    json(
        app.get(
            &format!("/api/v1/cases/{id}?min_position={position}"),
            &dispatcher,
        )
        .await,
        200,
    )
    .await;
    json(app.get("/api/v1/cases", &dispatcher).await, 200).await;
    assert_eq!(
        access_log(&app, &auditor).await.len(),
        2,
        "only the second listing itself was added"
    );

    // The case history (names officers, shows internal notes) is recorded with who and why.
    json(
        app.get(
            &format!("/api/v1/cases/{id}/history?purpose=complaint-review"),
            &dispatcher,
        )
        .await,
        200,
    )
    .await;
    let after = access_log(&app, &auditor).await;
    let history_reads: Vec<_> = after
        .iter()
        .filter(|event| event["payload"]["PrivateDataRead"]["resource"] == "case_history")
        .collect();
    assert_eq!(history_reads.len(), 1);
    let read = &history_reads[0]["payload"]["PrivateDataRead"];
    assert_eq!(read["subject"], id.as_str());
    assert_eq!(read["purpose"], "complaint-review");
    assert_eq!(history_reads[0]["actor"]["sub"], "disp-1");
    assert!(history_reads[0]["event_hash"]
        .as_str()
        .is_some_and(|hash| hash.len() == 64));

    // Filters, and who may list.
    let by_actor = json(
        app.get(
            "/api/v1/audit/events?actor=disp-1&event_type=CaseRegistered",
            &auditor,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(by_actor["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_actor["items"][0]["aggregate_id"], id.as_str());
    let from_future = json(
        app.get("/api/v1/audit/events?from=2999-01-01T00:00:00Z", &auditor)
            .await,
        200,
    )
    .await;
    assert!(from_future["items"].as_array().unwrap().is_empty());
    crate::support::problem(
        app.get("/api/v1/audit/events", &dispatcher).await,
        403,
        "role_not_allowed",
    )
    .await;
    crate::support::problem(
        app.get("/api/v1/audit/events?from=yesterday", &auditor)
            .await,
        400,
        "invalid_query",
    )
    .await;

    // The projector seals the chain; the digests are public and the trail verifies.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let digests = loop {
        let digests = json(
            app.client
                .get(app.url("/api/v1/public/audit/digests"))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        if !digests.as_array().unwrap().is_empty() || std::time::Instant::now() > deadline {
            break digests;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(digests[0]["digest_seq"], 1);
    assert_eq!(digests[0]["digest_hash"].as_str().unwrap().len(), 64);
    app.stop().await;
    let report = db.db.verify_audit_trail(&[], &mut |_, _| {}).await.unwrap();
    assert_eq!(report.finding, None, "{report:?}");
}

/// A log sealed after every event has more digests than one read returns (1,000): `audit verify`
/// counts and checks every one of them, so a digest altered past the first thousand is named.
/// (Before, verify read one page and never looked at the rest.)
async fn verify_checks_every_digest_past_the_first_page(db: TestDb) {
    write_case(&db.db, caseledger_store::audit::DIGEST_PAGE as usize + 5).await;
    let every_event: Vec<Arc<dyn Projection>> = vec![Arc::new(AuditChainProjection {
        policy: SealPolicy {
            every_events: 1,
            every: std::time::Duration::from_secs(3600),
        },
    })];
    Projector::new(db.db.clone(), every_event)
        .catch_up()
        .await
        .unwrap();
    let report = db.db.verify_audit_trail(&[], &mut |_, _| {}).await.unwrap();
    assert_eq!(report.finding, None);
    assert!(
        report.digests > caseledger_store::audit::DIGEST_PAGE as u64,
        "{report:?}"
    );
    assert_eq!(report.digests, report.events, "one digest per event");

    let last = report.digests as i64;
    sql(
        &db.db,
        &format!("UPDATE audit_digests SET chain_hash = 'forged' WHERE digest_seq = {last}"),
    )
    .await;
    let finding = verify(&db.db).await;
    assert!(
        matches!(&finding, Some(Finding::DigestBroken { digest_seq, .. }) if *digest_seq == last),
        "{finding:?}"
    );
}

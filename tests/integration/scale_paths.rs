//! The operators' long passes over the whole log (issue 16): `audit verify` reads pages ahead
//! and hashes a page on every core, and `projections rebuild` without a name rebuilds every
//! projection in one pass. Both must give exactly what the one-at-a-time passes gave.

use std::sync::Arc;

use caseledger_store::audit::verify::{Finding, VerifyReport};
use caseledger_store::audit::{AuditChainProjection, SealPolicy};
use caseledger_store::cases::CasesProjection;
use caseledger_store::projector::ProjectionError;
use caseledger_store::{Database, Projection, Projector};
use serde_json::json;

use crate::on_both;
use crate::projector::{all_positions, write_case};
use crate::support::{integers, json, registration, sql, token, TestApp, TestDb};

on_both!(
    verify_in_pages_of_any_size_names_the_same_first_finding,
    rebuilding_every_projection_in_one_pass_equals_rebuilding_each,
);

/// Page sizes from one event to more than the log: streams, digests and findings fall on
/// both sides of page boundaries and of the hashing threads' chunks.
const PAGE_SIZES: [i64; 6] = [1, 2, 3, 5, 7, 10_000];

async fn verify_paged(db: &Database, batch: i64) -> VerifyReport {
    db.verify_audit_trail_paged(&[], batch, &mut |_, _| {})
        .await
        .unwrap()
}

/// Verifies with every page size and checks they all agree with the default; returns that.
async fn verify_every_way(db: &Database) -> VerifyReport {
    let default = db.verify_audit_trail(&[], &mut |_, _| {}).await.unwrap();
    for batch in PAGE_SIZES {
        assert_eq!(verify_paged(db, batch).await, default, "pages of {batch}");
    }
    default
}

/// Five cases (21 events), chained and sealed every 4 events.
async fn chained_log(db: &Database) -> Vec<i64> {
    for notes in [3, 5, 1, 4, 3] {
        write_case(db, notes).await;
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
    all_positions(db).await
}

fn replace_in_payload(postgres: bool, position: i64, from: &str, to: &str) -> String {
    if postgres {
        format!("UPDATE events SET payload = replace(payload::text, '{from}', '{to}')::jsonb WHERE position = {position}")
    } else {
        format!("UPDATE events SET payload = replace(payload, '{from}', '{to}') WHERE position = {position}")
    }
}

async fn verify_in_pages_of_any_size_names_the_same_first_finding(db: TestDb) {
    let postgres = matches!(db.db, Database::Postgres(_));
    let positions = chained_log(&db.db).await;
    assert_eq!(positions.len(), 21);
    let intact = verify_every_way(&db.db).await;
    assert_eq!(intact.finding, None, "{intact:?}");
    assert_eq!(
        (intact.events, intact.chained_events, intact.streams),
        (21, 21, 5)
    );
    assert!(intact.digests >= 5, "{intact:?}");

    // Two modified events: the 2nd case's third note (its 4th event, position index 7) and,
    // later in the feed, the 4th case's first note. The first in feed order is named, whatever
    // the paging: the later one's stream is intact up to it, and its own hash is computed from
    // stored hashes, so only the order of the check decides.
    sql(
        &db.db,
        &replace_in_payload(postgres, positions[13], "note 0", "forged"),
    )
    .await;
    let later = verify_every_way(&db.db).await;
    assert!(
        matches!(&later.finding, Some(Finding::EventModified { position, sequence: 2, .. }) if *position == positions[13]),
        "{later:?}"
    );
    sql(
        &db.db,
        &replace_in_payload(postgres, positions[7], "note 2", "forged"),
    )
    .await;
    let first = verify_every_way(&db.db).await;
    assert!(
        matches!(&first.finding, Some(Finding::EventModified { position, sequence: 4, .. }) if *position == positions[7]),
        "{first:?}"
    );
    assert_eq!(first.events, 8, "stopped at the first modified event");

    // Undo the first: the next event of its stream chains from its stored hash again, and the
    // later one is named once more.
    sql(
        &db.db,
        &replace_in_payload(postgres, positions[7], "forged", "note 2"),
    )
    .await;
    assert_eq!(verify_every_way(&db.db).await, later);

    // An event deleted from a stream whose previous event lies in another page: the gap.
    sql(
        &db.db,
        &replace_in_payload(postgres, positions[13], "forged", "note 0"),
    )
    .await;
    assert_eq!(verify_every_way(&db.db).await, intact);
    sql(
        &db.db,
        &format!("DELETE FROM events WHERE position = {}", positions[14]),
    )
    .await;
    let gap = verify_every_way(&db.db).await;
    assert!(
        matches!(&gap.finding, Some(Finding::SequenceGap { expected: 3, found: 4, position, .. }) if *position == positions[15]),
        "{gap:?}"
    );
}

/// The checkpoint (position, events applied) of every projection named.
async fn checkpoints(db: &Database, names: &[&str]) -> Vec<(i64, i64)> {
    let mut rows = Vec::new();
    for name in names {
        let position = integers(
            db,
            &format!("SELECT position FROM projection_checkpoints WHERE name = '{name}'"),
        )
        .await;
        let applied = integers(
            db,
            &format!("SELECT events_applied FROM projection_checkpoints WHERE name = '{name}'"),
        )
        .await;
        rows.push((position[0], applied[0]));
    }
    rows
}

async fn checksums(projector: &Projector, names: &[&str]) -> Vec<(&'static str, String)> {
    let mut sums = Vec::new();
    for name in names {
        let checksum = projector.checksum(name).await.unwrap();
        let name = projector
            .names()
            .into_iter()
            .find(|known| known == name)
            .unwrap();
        sums.push((name, checksum));
    }
    sums
}

async fn rebuilding_every_projection_in_one_pass_equals_rebuilding_each(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let dispatcher = token("disp-1", "dispatcher", None);
    let handler = token("h-1", "department_handler", Some("dept-commerce"));
    let liaison = token("lo-1", "liaison_officer", None);
    for n in 0..12 {
        json(
            app.post(
                "/api/v1/subjects",
                &liaison,
                json!({
                    "id": format!("ent-{n:04}"),
                    "name": format!("ent-{n:04} 有限公司"),
                    "kind": "private_enterprise",
                    "industry": "biomedicine",
                    "district_area": "中关村片区",
                    "contact": {
                        "person": "陈经理",
                        "phone": "010-6512 3456",
                        "email": format!("contact@ent-{n:04}.example.cn")
                    }
                }),
            )
            .await,
            201,
        )
        .await;
        let created = json(
            app.post(
                "/api/v1/cases",
                &dispatcher,
                registration(&format!("ent-{n:04}")),
            )
            .await,
            201,
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        if n % 4 == 3 {
            continue;
        }
        json(
            app.post(
                &format!("/api/v1/cases/{id}/dispatch"),
                &dispatcher,
                json!({"lead_department": "dept-commerce"}),
            )
            .await,
            200,
        )
        .await;
        if n % 2 == 0 {
            json(
                app.post(&format!("/api/v1/cases/{id}/accept"), &handler, json!({}))
                    .await,
                200,
            )
            .await;
        }
    }
    // Stopping brings every projection up to date, applied live in the server's batches.
    app.stop().await;

    let projector = Projector::new(db.db.clone(), caseledger_app::projections());
    projector.catch_up().await.unwrap();
    let names = projector.rebuildable_names();
    assert!(names.len() >= 9, "{names:?}");
    assert!(!names.contains(&"audit_chain"));
    let events = all_positions(&db.db).await;
    let live = checksums(&projector, &names).await;
    let live_checkpoints = checkpoints(&db.db, &names).await;
    assert!(
        integers(&db.db, "SELECT count(*) FROM case_view").await[0] == 12
            && integers(&db.db, "SELECT count(*) FROM subject_view").await[0] == 12,
        "the fixture fills more than one projection"
    );

    // Refused before anything is touched: append-only evidence, an unknown name.
    let mut with_chain = names.clone();
    with_chain.push("audit_chain");
    assert!(matches!(
        projector.rebuild_many(&with_chain, &mut |_, _| {}).await,
        Err(ProjectionError::NotRebuildable(name)) if name == "audit_chain"
    ));
    assert!(matches!(
        projector.rebuild_many(&["cases", "no_such_view"], &mut |_, _| {}).await,
        Err(ProjectionError::UnknownProjection(name)) if name == "no_such_view"
    ));
    assert_eq!(checksums(&projector, &names).await, live);

    // One pass: the same views, every checkpoint at the end of the log with every event
    // applied once.
    let mut calls = 0;
    let rebuilt = projector
        .rebuild_many(&names, &mut |_, _| calls += 1)
        .await
        .unwrap();
    assert!(calls > 0);
    assert_eq!(rebuilt, live);
    let at_end = (*events.last().unwrap(), events.len() as i64);
    assert_eq!(live_checkpoints, vec![at_end; names.len()]);
    assert_eq!(checkpoints(&db.db, &names).await, live_checkpoints);

    // And the same as rebuilding each projection on its own.
    for (name, checksum) in &live {
        let alone = projector.rebuild(name, &mut |_, _| {}).await.unwrap();
        assert_eq!(&alone, checksum, "{name} rebuilt alone");
    }

    // After the one-pass rebuild the live projector carries on from the checkpoints: new
    // events are applied once, as a fresh rebuild of each view confirms.
    projector
        .rebuild_many(&names, &mut |_, _| {})
        .await
        .unwrap();
    for notes in [2, 1] {
        write_case(&db.db, notes).await;
    }
    assert_eq!(projector.catch_up().await.unwrap(), 5);
    let caught_up = checksums(&projector, &names).await;
    assert_ne!(caught_up, live, "the new cases reached the views");
    let events = all_positions(&db.db).await;
    assert_eq!(
        checkpoints(&db.db, &names).await,
        vec![(*events.last().unwrap(), events.len() as i64); names.len()]
    );
    for (name, checksum) in &caught_up {
        let alone = projector.rebuild(name, &mut |_, _| {}).await.unwrap();
        assert_eq!(&alone, checksum, "{name} after catching up");
    }
}

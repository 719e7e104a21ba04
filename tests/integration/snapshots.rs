//! Our own aggregate snapshots: a long stream is loaded from its snapshot and the events after
//! it, to exactly the state a full replay gives; a snapshot that no longer fits the log, or was
//! written by another format, is ignored; and the audit trail stays intact.

use caseledger_domain::case::{CaseCommand, EnterpriseCase};
use caseledger_domain::text::LongText;
use caseledger_domain::{Actor, Authored, Role, UserId};
use caseledger_store::snapshots::SNAPSHOT_EVERY;
use caseledger_store::Database;

use crate::on_both;
use crate::projector::write_case;
use crate::support::{integers, sql, TestDb};

on_both!(
    a_long_stream_loads_from_its_snapshot_to_the_replayed_state,
    a_snapshot_that_does_not_fit_the_log_is_ignored
);

async fn full_replay(db: &Database, id: &str) -> (EnterpriseCase, u64) {
    sql(db, "DELETE FROM aggregate_snapshots").await;
    db.aggregate_state::<EnterpriseCase>(id).await.unwrap()
}

async fn add_note(db: &Database, id: &str, text: &str) -> u64 {
    let actor = Actor {
        sub: UserId::parse("disp-1").unwrap(),
        roles: vec![Role::Dispatcher],
        org: None,
    };
    db.execute::<EnterpriseCase>(
        id,
        Authored {
            actor,
            at: chrono::Utc::now(),
            command: CaseCommand::AddNote {
                text: LongText::parse(text).unwrap(),
            },
        },
        None,
        Default::default(),
        &(),
    )
    .await
    .unwrap()
    .version
}

async fn a_long_stream_loads_from_its_snapshot_to_the_replayed_state(db: TestDb) {
    let id = write_case(&db.db, 250).await;
    let versions = integers(&db.db, "SELECT version FROM aggregate_snapshots").await;
    assert_eq!(versions.len(), 1, "one snapshot row per stream");
    assert!(
        versions[0] >= SNAPSHOT_EVERY as i64 && versions[0] <= 251,
        "{versions:?}"
    );
    let (from_snapshot, version) = db.db.aggregate_state::<EnterpriseCase>(&id).await.unwrap();
    assert_eq!(version, 251);
    assert_eq!(full_replay(&db.db, &id).await, (from_snapshot, 251));
    // Commands go on with the right version and an unbroken chain, and write a new snapshot.
    assert_eq!(add_note(&db.db, &id, "after the snapshot").await, 252);
    assert_eq!(
        integers(&db.db, "SELECT version FROM aggregate_snapshots").await,
        [252]
    );
    let from_snapshot = db.db.aggregate_state::<EnterpriseCase>(&id).await.unwrap();
    assert_eq!(full_replay(&db.db, &id).await, from_snapshot);
    let report = db.db.verify_audit_trail(&[], &mut |_, _| {}).await.unwrap();
    assert_eq!(report.finding, None, "{report:?}");
    assert_eq!(report.events, 252);
}

async fn a_snapshot_that_does_not_fit_the_log_is_ignored(db: TestDb) {
    let id = write_case(&db.db, 120).await;
    assert_eq!(
        integers(&db.db, "SELECT count(*) FROM aggregate_snapshots").await,
        [1]
    );
    // A snapshot claiming another hash for its event, or written by another format, is not
    // used: the load replays the log, and the next command writes a good snapshot again.
    let (truth, version) = {
        let (state, version) = db.db.aggregate_state::<EnterpriseCase>(&id).await.unwrap();
        (state, version)
    };
    // A readable but wrong state: were the checks missing, the load would return it.
    let wrong = serde_json::to_string(&EnterpriseCase::default())
        .unwrap()
        .replace('\'', "''");
    sql(
        &db.db,
        &format!("UPDATE aggregate_snapshots SET event_hash = 'not-the-hash', state = '{wrong}'"),
    )
    .await;
    assert_eq!(
        db.db.aggregate_state::<EnterpriseCase>(&id).await.unwrap(),
        (truth.clone(), version)
    );
    sql(
        &db.db,
        &format!("UPDATE aggregate_snapshots SET event_hash = (SELECT event_hash FROM events WHERE sequence = aggregate_snapshots.version AND aggregate_id = aggregate_snapshots.aggregate_id), format = 'caseledger-0.0.0-old', state = '{wrong}'"),
    )
    .await;
    assert_eq!(
        db.db.aggregate_state::<EnterpriseCase>(&id).await.unwrap(),
        (truth, version)
    );
}

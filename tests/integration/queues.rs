//! Queues filtered by more enterprises than one statement takes: the ids are queried in chunks
//! and merged in the queue's own order, with nothing dropped past the first chunk.

use std::sync::Arc;

use caseledger_domain::case::{CaseCommand, CaseSource, EnterpriseCase, Urgency};
use caseledger_domain::text::{Label, LongText, Title};
use caseledger_domain::{Actor, Authored, CaseId, Role, SubjectId, UserId};
use caseledger_store::cases::{CasesProjection, QueueFilter};
use caseledger_store::{Database, Projection, Projector};

use crate::on_both;
use crate::support::TestDb;

on_both!(a_queue_of_more_enterprises_than_one_statement_takes);

const ENTERPRISES: usize = 600;

async fn register(db: &Database, enterprise: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let case_id = CaseId::from_uuid(uuid::Uuid::now_v7());
    let command = CaseCommand::Register {
        case_id,
        enterprise_id: SubjectId::parse(enterprise).unwrap(),
        title: Title::parse("t").unwrap(),
        description: LongText::parse("d").unwrap(),
        category: Label::parse("c").unwrap(),
        urgency: Urgency::Normal,
        source: CaseSource::Hotline,
        case_number: None,
        verifier_sha256: None,
    };
    let actor = Actor {
        sub: UserId::parse("disp-1").unwrap(),
        roles: vec![Role::Dispatcher],
        org: None,
    };
    let id = case_id.to_string();
    db.execute::<EnterpriseCase>(
        &id,
        Authored { actor, at, command },
        None,
        Default::default(),
        &(),
    )
    .await
    .unwrap();
    id
}

async fn a_queue_of_more_enterprises_than_one_statement_takes(db: TestDb) {
    let db = db.db;
    let ids: Vec<String> = (0..ENTERPRISES).map(|n| format!("ent-{n:04}")).collect();
    // The last enterprises register first, so the head of the queue lies past the first 500 ids.
    let start = chrono::Utc::now() - chrono::Duration::days(1);
    let mut first_registered = Vec::new();
    for (n, enterprise) in ids.iter().enumerate().rev() {
        let at = start + chrono::Duration::seconds((ENTERPRISES - n) as i64);
        first_registered.push(register(&db, enterprise, at).await);
    }
    let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(CasesProjection)];
    Projector::new(db.clone(), projections)
        .catch_up()
        .await
        .unwrap();

    let queue = |enterprise_ids: Option<Vec<String>>| QueueFilter {
        lead_department: None,
        statuses: Vec::new(),
        enterprise_ids,
        due_by: None,
        limit: 50,
    };
    let all = db.case_queue(&queue(None)).await.unwrap();
    let by_enterprise = db.case_queue(&queue(Some(ids.clone()))).await.unwrap();
    let case_ids = |views: &[caseledger_store::cases::CaseView]| -> Vec<String> {
        views.iter().map(|view| view.case_id.clone()).collect()
    };
    assert_eq!(case_ids(&all), first_registered[..50]);
    assert_eq!(case_ids(&by_enterprise), case_ids(&all));
    // Only the second chunk's enterprises, and one from each chunk.
    let tail = db
        .case_queue(&queue(Some(ids[500..].to_vec())))
        .await
        .unwrap();
    assert_eq!(case_ids(&tail), first_registered[..50]);
    let two = db
        .case_queue(&queue(Some(vec![ids[0].clone(), ids[599].clone()])))
        .await
        .unwrap();
    assert_eq!(
        case_ids(&two),
        [first_registered[0].clone(), first_registered[599].clone()]
    );
}

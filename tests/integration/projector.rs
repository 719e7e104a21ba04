//! The projector's guarantees: a failure or restart mid-stream loses nothing and applies nothing
//! twice; two projectors at once apply each event once; a rebuild equals the live view.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use caseledger_domain::case::{CaseCommand, CaseSource, EnterpriseCase, Urgency};
use caseledger_domain::text::{Label, LongText, Title};
use caseledger_domain::{Actor, Authored, CaseId, Role, SubjectId, UserId};
use caseledger_store::cases::CasesProjection;
use caseledger_store::{with_tx, Database, FeedEvent, Projection, ProjectionError, Projector, Tx};
use serde_json::json;

use crate::on_both;
use crate::support::{integers, json, registration, sql, token, TestApp, TestDb};

on_both!(
    failure_and_restart_lose_nothing,
    two_projectors_apply_each_event_once,
    rebuild_equals_live
);

/// Records every event it applies in `test_applied`, whose primary key makes a second
/// application of the same event fail loudly. Fails on purpose at `fail_at`.
struct Recording {
    fail_at: Arc<AtomicI64>,
}

#[async_trait]
impl Projection for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }

    fn tables(&self) -> Vec<&'static str> {
        vec!["test_applied"]
    }

    async fn apply(&self, tx: &mut Tx, events: &[FeedEvent]) -> Result<(), ProjectionError> {
        for event in events {
            if event.at.position == self.fail_at.load(Ordering::SeqCst) {
                return Err(ProjectionError::event(event, "injected failure"));
            }
            with_tx!(tx, |conn| sqlx::query(
                "INSERT INTO test_applied (position, sequence) VALUES ($1, $2)"
            )
            .bind(event.at.position)
            .bind(event.sequence)
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected()))?;
        }
        Ok(())
    }

    fn checksum_sql(&self) -> Vec<String> {
        vec!["SELECT CAST(position AS TEXT) AS row FROM test_applied ORDER BY position".to_owned()]
    }
}

async fn create_recording_table(db: &Database) {
    sql(
        db,
        "CREATE TABLE test_applied (position BIGINT PRIMARY KEY, sequence BIGINT NOT NULL)",
    )
    .await;
}

async fn applied_positions(db: &Database) -> Vec<i64> {
    integers(db, "SELECT position FROM test_applied ORDER BY position").await
}

pub(crate) async fn all_positions(db: &Database) -> Vec<i64> {
    integers(db, "SELECT position FROM events ORDER BY position").await
}

fn dispatcher() -> Actor {
    Actor {
        sub: UserId::parse("disp-1").unwrap(),
        roles: vec![Role::Dispatcher],
        org: None,
    }
}

/// Writes one case with `notes` notes through the store; returns the case id.
pub(crate) async fn write_case(db: &Database, notes: usize) -> String {
    let case_id = CaseId::from_uuid(uuid::Uuid::now_v7());
    let register = CaseCommand::Register {
        case_id,
        enterprise_id: SubjectId::parse("ent-0001").unwrap(),
        title: Title::parse("t").unwrap(),
        description: LongText::parse("d").unwrap(),
        category: Label::parse("c").unwrap(),
        urgency: Urgency::Normal,
        source: CaseSource::Hotline,
        case_number: None,
        verifier_sha256: None,
    };
    let id = case_id.to_string();
    let at = chrono::Utc::now();
    db.execute::<EnterpriseCase>(
        &id,
        Authored {
            actor: dispatcher(),
            at,
            command: register,
        },
        None,
        Default::default(),
        &(),
    )
    .await
    .unwrap();
    for n in 0..notes {
        let command = CaseCommand::AddNote {
            text: LongText::parse(format!("note {n}")).unwrap(),
        };
        db.execute::<EnterpriseCase>(
            &id,
            Authored {
                actor: dispatcher(),
                at,
                command,
            },
            None,
            Default::default(),
            &(),
        )
        .await
        .unwrap();
    }
    id
}

async fn failure_and_restart_lose_nothing(db: TestDb) {
    let db = db.db;
    create_recording_table(&db).await;
    write_case(&db, 19).await;
    let positions = all_positions(&db).await;
    assert_eq!(positions.len(), 20);

    let fail_at = Arc::new(AtomicI64::new(positions[9]));
    let recording: Arc<dyn Projection> = Arc::new(Recording {
        fail_at: fail_at.clone(),
    });
    let projector = Projector::with_tuning(
        db.clone(),
        vec![recording.clone()],
        4,
        std::time::Duration::from_millis(10),
    );
    projector.ensure_checkpoints().await.unwrap();

    // The bad event stops the projection right before it; everything before is applied once.
    let error = projector.catch_up().await.unwrap_err();
    assert!(error.to_string().contains("injected failure"), "{error}");
    assert_eq!(applied_positions(&db).await, positions[..9]);
    assert_eq!(
        projector.checkpoint("recording").await.unwrap().position,
        positions[8]
    );

    // A new projector (a restart) resumes from the checkpoint once the cause is fixed.
    fail_at.store(-1, Ordering::SeqCst);
    let restarted = Projector::with_tuning(
        db.clone(),
        vec![recording],
        4,
        std::time::Duration::from_millis(10),
    );
    assert_eq!(restarted.catch_up().await.unwrap(), 11);
    assert_eq!(applied_positions(&db).await, positions);
    let status = restarted.status().await.unwrap();
    assert_eq!(status[0].events_applied, 20);
    assert_eq!(status[0].backlog, 0);
    assert!(status[0].last_error.is_none());
}

async fn two_projectors_apply_each_event_once(db: TestDb) {
    let db = db.db;
    create_recording_table(&db).await;
    let make = || {
        let recording: Arc<dyn Projection> = Arc::new(Recording {
            fail_at: Arc::new(AtomicI64::new(-1)),
        });
        Projector::with_tuning(
            db.clone(),
            vec![recording],
            3,
            std::time::Duration::from_millis(5),
        )
    };
    let (first, second) = (make(), make());
    first.ensure_checkpoints().await.unwrap();
    let writer = {
        let db = db.clone();
        tokio::spawn(async move {
            for _ in 0..6 {
                write_case(&db, 4).await;
            }
        })
    };
    let run = |projector: Projector| {
        tokio::spawn(async move {
            for _ in 0..40 {
                projector.catch_up().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
    };
    let (a, b) = (run(first.clone()), run(second));
    writer.await.unwrap();
    a.await.unwrap();
    b.await.unwrap();
    first.catch_up().await.unwrap();
    assert_eq!(applied_positions(&db).await, all_positions(&db).await);
    assert_eq!(first.status().await.unwrap()[0].events_applied, 30);
}

async fn rebuild_equals_live(db: TestDb) {
    let app = TestApp::spawn(db.db.clone()).await;
    let dispatcher = token("disp-1", "dispatcher", None);
    let handler = token("h-1", "department_handler", Some("dept-commerce"));
    let mut last = 0;
    for n in 0..5 {
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
        last = json(
            app.post(
                &format!("/api/v1/cases/{id}/dispatch"),
                &dispatcher,
                json!({"lead_department": "dept-commerce"}),
            )
            .await,
            200,
        )
        .await["position"]
            .as_i64()
            .unwrap();
        if n % 2 == 0 {
            last = json(
                app.post(&format!("/api/v1/cases/{id}/accept"), &handler, json!({}))
                    .await,
                200,
            )
            .await["position"]
                .as_i64()
                .unwrap();
        }
    }
    let projector = Projector::new(db.db.clone(), vec![Arc::new(CasesProjection)]);
    assert_eq!(
        projector
            .wait_for("cases", last, std::time::Duration::from_secs(5))
            .await
            .unwrap(),
        caseledger_store::projector::CatchUp::Reached
    );
    let before = json(app.get("/api/v1/cases?limit=200", &dispatcher).await, 200).await;
    let live = projector.checksum("cases").await.unwrap();
    let mut calls = 0;
    let rebuilt = projector
        .rebuild("cases", &mut |_, _| calls += 1)
        .await
        .unwrap();
    assert_eq!(rebuilt, live);
    assert!(calls > 0);
    let after = json(app.get("/api/v1/cases?limit=200", &dispatcher).await, 200).await;
    assert_eq!(before, after);
    assert_eq!(after["items"].as_array().unwrap().len(), 5);
    app.stop().await;
}

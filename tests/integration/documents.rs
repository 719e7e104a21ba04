//! The one implementation behind every document projection (`caseledger_store::documents`): a
//! batch touching more rows than one statement holds (loaded, upserted and with derived rows in
//! chunks of 100), batches that split a stream's events, and a rebuild all give the same rows.

use std::sync::Arc;
use std::time::Duration;

use caseledger_store::cases::CasesProjection;
use caseledger_store::kpi::KpiProjection;
use caseledger_store::{Database, Projection, Projector};
use serde_json::json;

use crate::on_both;
use crate::support::{integers, json, registration, sql, token, TestApp, TestDb};

on_both!(batches_of_any_size_give_the_same_rows);

/// More than two statements' worth of rows (`ROWS_PER_STATEMENT` is 100).
const CASES: usize = 230;

const NAMES: [&str; 2] = ["cases", "kpi"];

fn projector(db: &Database, batch_size: i64) -> Projector {
    let projections: Vec<Arc<dyn Projection>> =
        vec![Arc::new(CasesProjection), Arc::new(KpiProjection)];
    Projector::with_tuning(
        db.clone(),
        projections,
        batch_size,
        Duration::from_millis(10),
    )
}

async fn checksums(projector: &Projector) -> Vec<String> {
    let mut sums = Vec::new();
    for name in NAMES {
        sums.push(projector.checksum(name).await.unwrap());
    }
    sums
}

/// Empties both projections and puts their checkpoints back at the start of the feed.
async fn reset(db: &Database) {
    for table in [
        "case_view",
        "case_departments",
        "case_timers",
        "kpi_case_facts",
    ] {
        sql(db, &format!("DELETE FROM {table}")).await;
    }
    sql(
        db,
        "UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0 \
          WHERE name IN ('cases', 'kpi')",
    )
    .await;
}

async fn batches_of_any_size_give_the_same_rows(db: TestDb) {
    let db = db.db;
    let app = TestApp::spawn(db.clone()).await;
    let dispatcher = token("disp-1", "dispatcher", None);
    let handler = token("h-1", "department_handler", Some("dept-commerce"));
    let mut departments = 0;
    for n in 0..CASES {
        let created = json(
            app.post(
                "/api/v1/cases",
                &dispatcher,
                registration(&format!("ent-{:04}", n % 17)),
            )
            .await,
            201,
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        if n % 5 == 4 {
            // Left registered: no department, no timer.
            continue;
        }
        let co_departments = if n % 2 == 0 {
            json!(["dept-taxation"])
        } else {
            json!([])
        };
        departments += 1 + co_departments.as_array().unwrap().len();
        json(
            app.post(
                &format!("/api/v1/cases/{id}/dispatch"),
                &dispatcher,
                json!({"lead_department": "dept-commerce", "co_departments": co_departments}),
            )
            .await,
            200,
        )
        .await;
        if n % 3 == 0 {
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

    let live_projector = projector(&db, 500);
    let live = checksums(&live_projector).await;
    assert_eq!(
        integers(&db, "SELECT list_order FROM case_view ORDER BY list_order").await,
        (1..=CASES as i64).collect::<Vec<_>>(),
        "cases are numbered in feed order, without gaps"
    );
    assert_eq!(
        integers(&db, "SELECT count(*) FROM case_departments").await,
        vec![departments as i64]
    );
    assert!(integers(&db, "SELECT count(*) FROM case_timers").await[0] > 100);
    assert_eq!(
        integers(&db, "SELECT count(*) FROM kpi_case_facts").await,
        vec![CASES as i64]
    );

    // A rebuild applies the whole feed as one batch: every statement is chunked.
    for (name, live) in NAMES.iter().zip(&live) {
        let rebuilt = live_projector.rebuild(name, &mut |_, _| {}).await.unwrap();
        assert_eq!(&rebuilt, live, "{name} rebuilt");
    }

    // Live batches of any size, from one larger than the feed down to a few events (a stream's
    // events split across batches, new rows numbered after the stored ones), give the same rows.
    for batch_size in [5_000, 7, 1] {
        reset(&db).await;
        let projector = projector(&db, batch_size);
        projector.catch_up().await.unwrap();
        assert_eq!(
            checksums(&projector).await,
            live,
            "batches of {batch_size} events"
        );
    }
}

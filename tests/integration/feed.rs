//! PostgreSQL: a transaction that takes a lower position but commits after a higher one must not
//! be skipped by the feed.

use caseledger_store::{Database, FeedPosition};

use crate::support::TestDb;

async fn insert_event(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    aggregate_id: &str,
) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Probe', $1, 1, 'Probed', '1', '{}'::jsonb, '{}'::jsonb) RETURNING position",
    )
    .bind(aggregate_id)
    .fetch_one(&mut **tx)
    .await
    .unwrap()
}

async fn read_until(
    db: &Database,
    after: FeedPosition,
    n: usize,
) -> Vec<caseledger_store::FeedEvent> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let events = db.read_feed(after, 100).await.unwrap();
        if events.len() >= n || std::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writers_committing_out_of_order_are_never_skipped() {
    let db = TestDb::postgres().await.db;
    let Database::Postgres(caseledger_store::PgStore { write: pool, .. }) = &db else {
        unreachable!()
    };

    // A takes the lower position, B the higher; B commits first.
    let mut slow = pool.begin().await.unwrap();
    let slow_position = insert_event(&mut slow, "slow").await;
    let mut fast = pool.begin().await.unwrap();
    let fast_position = insert_event(&mut fast, "fast").await;
    assert!(slow_position < fast_position);
    fast.commit().await.unwrap();

    // A reader now must not move past the open transaction.
    let seen = db.read_feed(FeedPosition::default(), 100).await.unwrap();
    assert!(
        seen.is_empty(),
        "feed ran ahead of an open transaction: {seen:?}"
    );

    slow.commit().await.unwrap();
    // The horizon is cluster-wide: other tests' open transactions may hold it back for a moment,
    // which delays the feed but never makes it skip. Poll as the projector does.
    let seen = read_until(&db, FeedPosition::default(), 2).await;
    let ids: Vec<&str> = seen
        .iter()
        .map(|event| event.aggregate_id.as_str())
        .collect();
    assert_eq!(ids, ["slow", "fast"], "both events, in commit-safe order");
    // Reading on from the first event's position yields the second exactly once.
    let rest = read_until(&db, seen[0].at, 1).await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].aggregate_id, "fast");
    assert!(db.read_feed(seen[1].at, 100).await.unwrap().is_empty());
}

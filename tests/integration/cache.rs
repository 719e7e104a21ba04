//! The in-memory aggregate cache: a command starts from the state this process wrote last, and
//! whenever another writer got there first the answer is still the one the log gives: never a
//! 409 or a refusal that only the stale state would produce.

use caseledger_domain::case::{CaseCommand, CaseError, CaseStatus, EnterpriseCase};
use caseledger_domain::text::LongText;
use caseledger_domain::{Actor, Authored, Role, UserId};
use caseledger_store::{AggregateCache, CacheStats, Committed, Database, ExecuteError};

use crate::on_both;
use crate::projector::write_case;
use crate::support::TestDb;

on_both!(a_stale_cached_state_never_decides);

fn dispatcher() -> Actor {
    Actor {
        sub: UserId::parse("disp-1").unwrap(),
        roles: vec![Role::Dispatcher],
        org: None,
    }
}

fn authored(command: CaseCommand) -> Authored<CaseCommand> {
    Authored {
        actor: dispatcher(),
        at: chrono::Utc::now(),
        command,
    }
}

fn note(text: &str) -> CaseCommand {
    CaseCommand::AddNote {
        text: LongText::parse(text).unwrap(),
    }
}

/// Through the cache, as the server does.
async fn cached(
    db: &Database,
    cache: &AggregateCache,
    id: &str,
    command: CaseCommand,
    expected: Option<u64>,
) -> Result<Committed, ExecuteError<CaseError>> {
    db.execute_cached::<EnterpriseCase>(
        cache,
        id,
        authored(command),
        expected,
        Default::default(),
        &(),
    )
    .await
}

/// Another writer (another process, or this one without the cache).
async fn elsewhere(db: &Database, id: &str, command: CaseCommand) -> u64 {
    db.execute::<EnterpriseCase>(id, authored(command), None, Default::default(), &())
        .await
        .unwrap()
        .version
}

fn stats(hits: u64, misses: u64, stale: u64) -> CacheStats {
    CacheStats {
        hits,
        misses,
        stale,
    }
}

async fn a_stale_cached_state_never_decides(db: TestDb) {
    let db = db.db;
    let cache = AggregateCache::default();
    let id = write_case(&db, 0).await;

    // A miss loads from the log; the next command on the same case starts from the cache.
    let first = cached(&db, &cache, &id, note("one"), None).await.unwrap();
    assert_eq!(first.version, 2);
    let second = cached(&db, &cache, &id, note("two"), Some(2))
        .await
        .unwrap();
    assert_eq!(second.version, 3);
    assert_eq!(cache.stats(), stats(1, 1, 0));

    // Another writer appends: the cached state (version 3) is stale. Inserting at version 4
    // collides with the log's primary key, so the command is decided again from the log
    // instead of answering a conflict.
    assert_eq!(elsewhere(&db, &id, note("elsewhere")).await, 4);
    let third = cached(&db, &cache, &id, note("three"), None).await.unwrap();
    assert_eq!(third.version, 5);
    assert_eq!(cache.stats(), stats(1, 1, 1));

    // An If-Match that only the log can satisfy is checked against the log.
    assert_eq!(elsewhere(&db, &id, note("elsewhere again")).await, 6);
    let fourth = cached(&db, &cache, &id, note("four"), Some(6))
        .await
        .unwrap();
    assert_eq!(fourth.version, 7);
    // And a wrong one is still refused, with the log's version.
    assert!(matches!(
        cached(&db, &cache, &id, note("wrong"), Some(3)).await,
        Err(ExecuteError::VersionMismatch {
            expected: 3,
            current: 7
        })
    ));

    // The stale state would accept a note; the log says the case was withdrawn meanwhile.
    let cached_before = cached(&db, &cache, &id, note("five"), None).await.unwrap();
    assert_eq!(cached_before.version, 8);
    let withdraw = CaseCommand::Withdraw {
        reason: LongText::parse("solved elsewhere").unwrap(),
    };
    assert_eq!(elsewhere(&db, &id, withdraw).await, 9);
    let refused = cached(&db, &cache, &id, note("too late"), None).await;
    assert!(
        matches!(
            refused,
            Err(ExecuteError::Rejected(CaseError::CaseEnded { .. }))
        ),
        "{refused:?}"
    );

    // Every event is where the log's rules put it, and the hash chain of the stream holds.
    let (state, version) = db.aggregate_state::<EnterpriseCase>(&id).await.unwrap();
    assert_eq!(version, 9);
    assert_eq!(state.status, Some(CaseStatus::Withdrawn));
    let report = db.verify_audit_trail(&[], &mut |_, _| {}).await.unwrap();
    assert_eq!(report.finding, None, "{report:?}");
    assert_eq!(report.events, 9);
}

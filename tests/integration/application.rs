//! The application layer without HTTP: what the CLI or an importer would call. A command runs
//! through `App::execute` with the same idempotency, the same completion from other streams
//! and the same append conditions as through the API.

use caseledger_app::commands::{Call, CommandOptions, Failure, Settled};
use caseledger_domain::revocation::{RevocationCommand, SessionRevocation};
use caseledger_domain::reward::nomination::{NominationCommand, RewardNomination};
use caseledger_domain::text::{Label, LongText};
use caseledger_domain::{Actor, Role, UserId};
use caseledger_store::ExecuteError;

use crate::hardening_writes::{nominations_ready_to_approve, MONDAY};
use crate::on_both;
use crate::support::{TestApp, TestDb};

on_both!(
    the_application_completes_conditions_and_keys_without_http,
    concurrent_revocation_checks_share_reads_and_see_every_earlier_revocation,
);

fn approval(decision: &str) -> NominationCommand {
    NominationCommand::Approve {
        decision_number: Label::parse(decision).unwrap(),
        tier: "first".to_owned(),
        amount: 150_000,
        reason: LongText::parse("评审通过，公示无异议").unwrap(),
        // What a caller may claim; the application counts the program's awards itself.
        awards_in_program: 0,
    }
}

fn no_answer<E>(_: &ExecuteError<E>) -> (u16, String)
where
    E: std::error::Error,
{
    (422, String::new())
}

/// A program with a quota of one and two nominations ready to approve. Both approvals are sent
/// to the application directly, each claiming the program has made no award yet: the first
/// commits, the second is refused `quota_exceeded`, because the application counts the awards
/// (and makes the count an append condition) whatever the caller said. The first approval's
/// idempotency key replays its answer and appends nothing, and is refused for a command on
/// another nomination.
async fn the_application_completes_conditions_and_keys_without_http(db: TestDb) {
    let clock = crate::support::ManualClock::at(MONDAY);
    let server = TestApp::spawn_at(db.db.clone(), &clock).await;
    let (_program, nominations) = nominations_ready_to_approve(&server, &clock, 1, 2).await;
    let app: &caseledger_app::App = &server.state;
    let authority = Actor {
        sub: UserId::parse("mayor-li").unwrap(),
        roles: vec![Role::ApprovingAuthority],
        org: None,
    };
    let keyed = || CommandOptions {
        idempotency_key: Some("approve-first".to_owned()),
        ..CommandOptions::default()
    };

    let mut first = Call::<RewardNomination>::new(
        authority.clone(),
        &nominations[0],
        approval("区政〔2026〕1号"),
    );
    first.options = keyed();
    let committed = match app.execute(first, no_answer).await.outcome {
        Ok(Settled::Committed(accepted)) => accepted,
        other => panic!("the first approval did not commit: {other:?}"),
    };
    assert_eq!(committed.id, nominations[0]);

    let mut again = Call::<RewardNomination>::new(
        authority.clone(),
        &nominations[0],
        approval("区政〔2026〕1号"),
    );
    again.options = keyed();
    match app.execute(again, no_answer).await.outcome {
        Ok(Settled::Replayed { status, body }) => {
            assert_eq!(status, 200);
            let replayed: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(replayed["version"], committed.version);
            assert_eq!(replayed["position"], committed.position);
        }
        other => panic!("the keyed retry was not replayed: {other:?}"),
    }

    // The same key for a command on another nomination is refused, not replayed.
    let mut elsewhere = Call::<RewardNomination>::new(
        authority.clone(),
        &nominations[1],
        approval("区政〔2026〕2号"),
    );
    elsewhere.options = keyed();
    match app.execute(elsewhere, no_answer).await.outcome {
        Err(Failure::KeyReused) => {}
        other => panic!("a key reused on another aggregate was not refused: {other:?}"),
    }

    let second =
        Call::<RewardNomination>::new(authority, &nominations[1], approval("区政〔2026〕2号"));
    match app.execute(second, no_answer).await.outcome {
        Err(Failure::Execute(ExecuteError::Rejected(error))) => {
            assert_eq!(error.code(), "quota_exceeded", "{error}")
        }
        other => panic!("the second approval was not refused: {other:?}"),
    }
    let approvals = crate::support::integers(
        &db.db,
        "SELECT count(*) FROM events WHERE event_type = 'NominationApproved'",
    )
    .await;
    assert_eq!(approvals, vec![1]);
    server.stop().await;
}

/// Revokes `sub`'s sessions through the application, as an admin.
async fn revoke(app: &caseledger_app::App, sub: &str) {
    let admin = Actor {
        sub: UserId::parse("root-admin").unwrap(),
        roles: vec![Role::Admin],
        org: None,
    };
    let call = Call::<SessionRevocation>::new(
        admin,
        sub,
        RevocationCommand::Revoke {
            sub: UserId::parse(sub).unwrap(),
            reason: LongText::parse("设备遗失").unwrap(),
        },
    );
    let report = app.execute(call, no_answer).await;
    assert!(
        matches!(report.outcome, Ok(Settled::Committed(_))),
        "the revocation commits"
    );
}

/// The revocation check of every authenticated request reads the log, and checks made at the
/// same time share one read: 200 concurrent checks of a revoked and a never revoked subject all
/// answer right, with far fewer reads than checks. A revocation committed after them is seen by
/// the next check at once (its read starts after the check began).
async fn concurrent_revocation_checks_share_reads_and_see_every_earlier_revocation(db: TestDb) {
    let app = caseledger_app::App::new(db.db.clone(), caseledger_app::ReferenceData::defaults());
    revoke(&app, "alice").await;
    let before = app.revocations.stats();

    let checks: Vec<_> = (0..200)
        .map(|i| {
            let app = app.clone();
            let sub = if i % 2 == 0 { "alice" } else { "bob" };
            tokio::spawn(async move { (sub, app.revoked_before(sub).await.unwrap()) })
        })
        .collect();
    for check in checks {
        let (sub, revoked) = check.await.unwrap();
        assert_eq!(revoked.is_some(), sub == "alice", "{sub}");
    }
    let after = app.revocations.stats();
    assert_eq!(after.checks - before.checks, 200);
    let reads = after.reads - before.reads;
    assert!(
        (1..=50).contains(&reads),
        "200 concurrent checks share reads: {reads} reads"
    );

    assert_eq!(app.revoked_before("bob").await.unwrap(), None);
    revoke(&app, "bob").await;
    assert!(app.revoked_before("bob").await.unwrap().is_some());
}

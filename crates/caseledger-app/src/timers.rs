//! The timer runner: fires deadline warnings, breaches and escalations (督办) when they are due.
//!
//! Timers are derived from events: the `cases` projection keeps, in `case_timers`, every timer
//! the case aggregate says is still to fire ([`EnterpriseCase::pending_timers`]). The runner
//! reads those due, and fires each by a `FireTimer` command on the case. The aggregate records a
//! timer's event at most once per deadline, threshold and cycle, and the event store's
//! optimistic concurrency lets only one of several racing processes commit it; a loser retries
//! and finds nothing left to do. So each timer fires exactly once, whichever process gets there
//! first and however often processes restart. Nothing is kept in memory between passes.
//!
//! [`EnterpriseCase::pending_timers`]: caseledger_domain::case::EnterpriseCase::pending_timers

use std::future::Future;
use std::time::Duration;

use caseledger_domain::case::{CaseCommand, EnterpriseCase};
use caseledger_domain::{Actor, Authored, UserId};
use caseledger_store::cases::DueTimer;
use caseledger_store::{ExecuteError, StoreError};

use crate::commands::{event_metadata, CommandOptions};
use crate::App;

/// The user id recorded on events the runner causes.
pub const TIMER_ACTOR: &str = "system:timers";

/// Timers fired per pass at most.
const BATCH: i64 = 200;

/// The longest the runner sleeps between passes.
const MAX_IDLE: Duration = Duration::from_secs(5);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Due timers found.
    pub due: usize,
    /// Timers whose command recorded events.
    pub fired: usize,
    /// Commands that lost a race with another process (retried next pass).
    pub conflicts: usize,
}

/// Fires every timer due by the application's clock, at most one batch.
pub async fn fire_due_timers(state: &App) -> Result<Pass, StoreError> {
    let now = state.now();
    let due = state.db.due_timers(now, BATCH).await?;
    let mut pass = Pass {
        due: due.len(),
        ..Pass::default()
    };
    for timer in due {
        match fire(state, &timer).await {
            Ok(true) => pass.fired += 1,
            Ok(false) => {}
            Err(ExecuteError::Conflict) => pass.conflicts += 1,
            Err(ExecuteError::Store(error)) => return Err(error),
            Err(error) => {
                tracing::warn!(case_id = %timer.case_id, %error, "firing a timer failed");
            }
        }
    }
    if pass.fired > 0 {
        state.projector.wake();
    }
    Ok(pass)
}

async fn fire(
    state: &App,
    due: &DueTimer,
) -> Result<bool, ExecuteError<caseledger_domain::case::CaseError>> {
    let leaders = state
        .db
        .leaders_of_subject(&due.enterprise_id)
        .await?
        .into_iter()
        .filter_map(UserId::parse)
        .collect();
    let now = state.now();
    let actor = Actor {
        sub: UserId::parse(TIMER_ACTOR).expect("a valid user id"),
        roles: Vec::new(),
        org: None,
    };
    let mut metadata = event_metadata(&actor, now, &CommandOptions::default());
    metadata.insert(
        "timer".into(),
        format!(
            "{}/{}/{}",
            due.timer.deadline.as_str(),
            due.timer.threshold.as_str(),
            due.timer.cycle
        ),
    );
    let command = Authored {
        actor,
        at: now,
        command: CaseCommand::FireTimer {
            timer: due.timer,
            leaders,
        },
    };
    let committed = state
        .db
        .execute_cached::<EnterpriseCase>(
            &state.aggregates,
            &due.case_id,
            command,
            None,
            metadata,
            &(),
        )
        .await?;
    if !committed.event_types.is_empty() {
        tracing::info!(
            case_id = %due.case_id,
            deadline = due.timer.deadline.as_str(),
            threshold = due.timer.threshold.as_str(),
            events = ?committed.event_types,
            "timer fired"
        );
    }
    Ok(!committed.event_types.is_empty())
}

/// Runs passes until `shutdown` completes: after each pass it sleeps until the next timer is
/// due, at most [`MAX_IDLE`], and backs off after store errors.
pub async fn run(state: App, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut failures = 0u32;
    loop {
        let pause = match fire_due_timers(&state).await {
            Ok(pass) if pass.due as i64 >= BATCH || pass.conflicts > 0 => Duration::from_millis(50),
            // Due rows that fired nothing: the projection has not caught up with the events
            // that settled them yet. Give it a moment instead of spinning.
            Ok(pass) if pass.due > 0 && pass.fired == 0 => Duration::from_secs(1),
            Ok(_) => {
                failures = 0;
                idle_until_next(&state).await
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, failures, "timer pass failed");
                Duration::from_millis(250u64.saturating_mul(1 << failures.min(5)))
            }
        };
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

async fn idle_until_next(state: &App) -> Duration {
    match state.db.next_timer_at().await {
        Ok(Some(next)) => (next - state.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .clamp(Duration::from_millis(100), MAX_IDLE),
        _ => MAX_IDLE,
    }
}

//! What the transaction that appends a command's events does besides appending them:
//! conditions across streams checked at append time (as disintegrate does), and the answer to
//! the command's idempotency key, recorded with the events.
//!
//! A decision that read another stream (how many awards a program has made) relied on a fact
//! that can change between that read and the append. The read is repeated inside the write
//! transaction, under a lock that every append relying on the same fact takes (SQLite: the
//! database's single writer; PostgreSQL: a transaction-level advisory lock named after the
//! fact), and the append is refused as a conflict when the fact changed, so the caller decides
//! again on the new fact. Nothing here knows HTTP: an answer arrives as a status and a function
//! that writes the body from what was committed.

use std::sync::Arc;

use crate::commands::Committed;
use crate::db::StoreError;

/// What else the transaction that appends a command's events does.
#[derive(Clone, Default)]
pub struct AppendTerms {
    /// The answer to record for the command's idempotency key, in the transaction that appends
    /// its events: a committed command's key is never left without its answer.
    pub answer: Option<KeyAnswer>,
    /// Facts from other streams the decision relied on; each must still hold when the events
    /// are appended, or nothing is appended and the command fails with a conflict.
    pub conditions: Vec<AppendCondition>,
}

impl AppendTerms {
    /// Whether the append needs nothing beyond its events.
    pub fn is_empty(&self) -> bool {
        self.answer.is_none() && self.conditions.is_empty()
    }
}

impl std::fmt::Debug for AppendTerms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendTerms")
            .field("answer", &self.answer.as_ref().map(|a| (&a.key, a.status)))
            .field("conditions", &self.conditions)
            .finish()
    }
}

/// The answer of a claimed idempotency key, written when the command's events commit.
#[derive(Clone)]
pub struct KeyAnswer {
    /// Whose key it is.
    pub principal: String,
    /// The key.
    pub key: String,
    /// The HTTP status of the answer.
    pub status: u16,
    /// Writes the answer's body from what the command committed.
    pub body: Arc<dyn Fn(&Committed) -> String + Send + Sync>,
}

/// A fact about other streams that a decision relied on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendCondition {
    /// The reward program `program_id` has approved exactly `awards` awards (revoked ones
    /// included): what a nomination's approval was decided on (the quota).
    ProgramAwards {
        /// The program.
        program_id: String,
        /// The number of approvals the decision counted.
        awards: u32,
    },
}

/// The approvals of a program's nominations: `NominationApproved` events of nominations whose
/// first event (`NominationSubmitted`) names the program. PostgreSQL (`payload` is `jsonb`).
pub(crate) const PROGRAM_AWARDS_POSTGRES: &str = "SELECT count(*) FROM events approved \
     JOIN events submitted ON submitted.aggregate_type = approved.aggregate_type \
     AND submitted.aggregate_id = approved.aggregate_id AND submitted.sequence = 1 \
     WHERE approved.aggregate_type = 'RewardNomination' AND approved.event_type = 'NominationApproved' \
     AND submitted.payload -> 'NominationSubmitted' ->> 'program_id' = $1";

/// [`PROGRAM_AWARDS_POSTGRES`] on SQLite (`payload` is text).
pub(crate) const PROGRAM_AWARDS_SQLITE: &str = "SELECT count(*) FROM events approved \
     JOIN events submitted ON submitted.aggregate_type = approved.aggregate_type \
     AND submitted.aggregate_id = approved.aggregate_id AND submitted.sequence = 1 \
     WHERE approved.aggregate_type = 'RewardNomination' AND approved.event_type = 'NominationApproved' \
     AND json_extract(submitted.payload, '$.NominationSubmitted.program_id') = $1";

/// Records a key's answer; the claim row exists since the command began.
pub(crate) const RECORD_ANSWER: &str =
    "UPDATE idempotency_keys SET status_code = $1, response_body = $2 \
     WHERE principal = $3 AND idempotency_key = $4";

impl AppendCondition {
    /// Whether the condition holds, checked on PostgreSQL inside the append transaction. The
    /// advisory lock (held until the transaction ends) makes every append relying on the same
    /// fact wait for the one before it to commit; the count that follows runs on a snapshot
    /// taken after the lock, so it sees that commit.
    pub(crate) async fn holds_postgres(
        &self,
        conn: &mut sqlx::PgConnection,
    ) -> Result<bool, StoreError> {
        match self {
            AppendCondition::ProgramAwards { program_id, awards } => {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                    .bind(format!("caseledger-reward-quota:{program_id}"))
                    .execute(&mut *conn)
                    .await?;
                let count: i64 = sqlx::query_scalar(PROGRAM_AWARDS_POSTGRES)
                    .bind(program_id)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(count == i64::from(*awards))
            }
        }
    }

    /// Whether the condition holds, checked on SQLite inside the append transaction, which
    /// began `IMMEDIATE` and so holds the database's only write lock.
    pub(crate) async fn holds_sqlite(
        &self,
        conn: &mut sqlx::SqliteConnection,
    ) -> Result<bool, StoreError> {
        match self {
            AppendCondition::ProgramAwards { program_id, awards } => {
                let count: i64 = sqlx::query_scalar(PROGRAM_AWARDS_SQLITE)
                    .bind(program_id)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(count == i64::from(*awards))
            }
        }
    }
}

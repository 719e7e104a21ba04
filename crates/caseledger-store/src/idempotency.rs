//! Idempotency keys: a client's retry with the same `Idempotency-Key` gets the first answer and
//! writes nothing.
//!
//! A key is claimed before the command runs (a row without a response), then completed with the
//! answer. A second request with the key while the first is running is told so; a request with
//! the same key but another body is refused. Keys are scoped to the authenticated user.
//!
//! A claim left behind by a process that died before answering is resolved from the log: the key
//! is also written into each event's metadata, so [`Database::committed_with_key`] tells whether
//! the command committed (and where), and a stale claim without events is taken over.

use crate::db::{now_text, Database, StoreError};

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new and now claimed by the caller, who must complete or release it.
    Claimed,
    /// The key was used for this same request; here is the answer given then.
    Replay {
        /// The HTTP status code.
        status: u16,
        /// The response body.
        body: String,
    },
    /// The key was used for a different request.
    Mismatch,
    /// The first request with this key has not finished.
    InProgress,
    /// The first request with this key was claimed `age` ago and never answered.
    Stale,
}

/// How long an unanswered claim is trusted to belong to a running request.
pub const STALE_CLAIM_SECONDS: i64 = 30;

impl Database {
    /// Claims `key` for `principal` and the request whose hash is `request_hash`.
    pub async fn claim_idempotency_key(
        &self,
        principal: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<Claim, StoreError> {
        let inserted = with_write_pool!(self, |pool| {
            sqlx::query(
            "INSERT INTO idempotency_keys (principal, idempotency_key, request_hash, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (principal, idempotency_key) DO NOTHING"
        )
        .bind(principal)
        .bind(key)
        .bind(request_hash)
        .bind(now_text())
        .execute(pool)
        .await.map(|done| done.rows_affected())
        })?;
        if inserted == 1 {
            return Ok(Claim::Claimed);
        }
        let row: Option<(String, Option<i32>, Option<String>, String)> =
            with_pool!(self, |pool| {
                sqlx::query_as(
            "SELECT request_hash, status_code, response_body, created_at FROM idempotency_keys \
             WHERE principal = $1 AND idempotency_key = $2"
        )
        .bind(principal)
        .bind(key)
        .fetch_optional(pool)
        .await
            })?;
        Ok(match row {
            // Released between our insert and select: the caller may simply retry.
            None => Claim::InProgress,
            Some((hash, _, _, _)) if hash != request_hash => Claim::Mismatch,
            Some((_, Some(status), Some(body), _)) => Claim::Replay {
                status: u16::try_from(status).unwrap_or(500),
                body,
            },
            Some((_, _, _, created_at)) => {
                let age = chrono::DateTime::parse_from_rfc3339(&created_at)
                    .map(|at| (chrono::Utc::now() - at.to_utc()).num_seconds())
                    .unwrap_or(i64::MAX);
                if age >= STALE_CLAIM_SECONDS {
                    Claim::Stale
                } else {
                    Claim::InProgress
                }
            }
        })
    }

    /// Takes over a stale claim (one process at a time wins): returns whether the caller now holds
    /// it.
    pub async fn take_over_idempotency_key(
        &self,
        principal: &str,
        key: &str,
    ) -> Result<bool, StoreError> {
        let cutoff = (chrono::Utc::now() - chrono::Duration::seconds(STALE_CLAIM_SECONDS))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let taken = with_write_pool!(self, |pool| {
            sqlx::query(
            "UPDATE idempotency_keys SET created_at = $1 \
             WHERE principal = $2 AND idempotency_key = $3 AND status_code IS NULL AND created_at <= $4"
        )
        .bind(now_text())
        .bind(principal)
        .bind(key)
        .bind(cutoff)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        })?;
        Ok(taken == 1)
    }

    /// The stream, version and position of the last event written by `principal` with
    /// idempotency key `key`, if a command with that key committed.
    pub async fn committed_with_key(
        &self,
        principal: &str,
        key: &str,
    ) -> Result<Option<(String, i64, i64)>, StoreError> {
        let sql = match self {
            Database::Postgres(_) => {
                "SELECT aggregate_id, sequence, position FROM events \
                 WHERE metadata->>'idempotency_key' = $1 AND metadata->>'actor_sub' = $2 ORDER BY position DESC LIMIT 1"
            }
            Database::Sqlite(_) => {
                "SELECT aggregate_id, sequence, position FROM events \
                 WHERE json_extract(metadata, '$.idempotency_key') = $1 AND json_extract(metadata, '$.actor_sub') = $2 \
                 ORDER BY position DESC LIMIT 1"
            }
        };
        let found: Option<(String, i64, i64)> = with_pool!(self, |pool| sqlx::query_as(sql)
            .bind(key)
            .bind(principal)
            .fetch_optional(pool)
            .await)?;
        Ok(found)
    }

    /// Stores the answer for a claimed key, in a statement of its own: for answers that commit
    /// no events (refusals, commands that change nothing). A command's events carry their key's
    /// answer in their own transaction ([`crate::conditions::AppendTerms::answer`]).
    pub async fn complete_idempotency_key(
        &self,
        principal: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        if fault::armed(key) {
            return Err(StoreError::Sql(sqlx::Error::PoolTimedOut));
        }
        with_write_pool!(self, |pool| {
            sqlx::query(crate::conditions::RECORD_ANSWER)
                .bind(i32::from(status))
                .bind(body)
                .bind(principal)
                .bind(key)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// Gives a claimed key up (the request failed in a way worth retrying).
    pub async fn release_idempotency_key(
        &self,
        principal: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        with_write_pool!(self, |pool| {
            sqlx::query(
            "DELETE FROM idempotency_keys WHERE principal = $1 AND idempotency_key = $2 AND status_code IS NULL"
        )
        .bind(principal)
        .bind(key)
        .execute(pool)
        .await.map(|done| done.rows_affected())
        })?;
        Ok(())
    }
}

/// A fault-injection point for tests of a failure no request can cause: the database failing
/// right after a command's transaction committed, when the key's answer is written in a statement
/// of its own ([`Database::complete_idempotency_key`]). Inert unless a test arms it for a key:
/// the check is one atomic load.
pub mod fault {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    static ANY_ARMED: AtomicBool = AtomicBool::new(false);
    static ARMED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

    /// From now on, storing the answer of idempotency key `key` on its own fails as if the
    /// database were unreachable (503).
    pub fn arm(key: &str) {
        if let Ok(mut armed) = ARMED.lock() {
            armed.insert(key.to_owned());
            ANY_ARMED.store(true, Ordering::SeqCst);
        }
    }

    /// Undoes [`arm`].
    pub fn disarm(key: &str) {
        if let Ok(mut armed) = ARMED.lock() {
            armed.remove(key);
        }
    }

    pub(crate) fn armed(key: &str) -> bool {
        ANY_ARMED.load(Ordering::Relaxed) && ARMED.lock().is_ok_and(|armed| armed.contains(key))
    }
}

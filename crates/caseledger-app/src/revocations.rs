//! The revocation check of every authenticated request, with the reads of concurrent requests
//! shared.
//!
//! A token is refused when its subject's sessions were revoked at or after its `iat`, and a
//! revocation must hold in every process the moment it commits (docs/DECISIONS.md, "Revocation
//! is an event, checked against the log"). So every request reads the log, and no answer may come
//! from a read that started before the request did. Under load that is a round trip per request
//! for a table that almost never changes.
//!
//! [`RevocationChecks`] keeps the guarantee and shares the round trips, like a group commit: one
//! task reads for every request queued while its previous read ran, in one statement
//! ([`Database::revoked_before_each`]). A request's read therefore always starts after the request
//! was queued; at one request at a time it is one read per request, as before, and with N
//! requests in flight about one read per N.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use caseledger_store::{Database, StoreError};
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

/// At most this many requests are answered by one read.
const BATCH: usize = 256;

/// What one read found: each subject ever revoked of the batch, with its latest revocation; or
/// that the read failed.
type Found = Option<Arc<HashMap<String, DateTime<Utc>>>>;

/// A queued check: whose revocation, and where the read's answer goes.
struct Check {
    sub: String,
    answer: oneshot::Sender<Found>,
}

/// The shared revocation reads of one process (cheap to clone). The reading task starts with the
/// first check and ends when the last clone is dropped.
#[derive(Clone, Default)]
pub struct RevocationChecks {
    queue: Arc<OnceLock<mpsc::Sender<Check>>>,
    counts: Arc<Counts>,
}

/// How many checks were made and how many reads of the log answered them.
#[derive(Debug, Default)]
struct Counts {
    checks: AtomicU64,
    reads: AtomicU64,
}

/// How many revocation checks a process made, and with how many reads of the log (`/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevocationStats {
    /// Checks made (one per authenticated request).
    pub checks: u64,
    /// Reads of the log that answered them (shared reads and reads alone).
    pub reads: u64,
}

impl std::fmt::Debug for RevocationChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevocationChecks")
    }
}

impl RevocationChecks {
    /// When `sub`'s sessions were last revoked, if ever, read from the log after this call
    /// began. A failed shared read is retried alone, so its error is this request's own.
    pub async fn revoked_before(
        &self,
        db: &Database,
        sub: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.counts.checks.fetch_add(1, Ordering::Relaxed);
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(BATCH * 4);
            tokio::spawn(read_in_turn(db.clone(), receiver, self.counts.clone()));
            sender
        });
        let (answer, found) = oneshot::channel();
        let check = Check {
            sub: sub.to_owned(),
            answer,
        };
        if queue.send(check).await.is_ok() {
            if let Ok(Some(found)) = found.await {
                return Ok(found.get(sub).copied());
            }
        }
        self.counts.reads.fetch_add(1, Ordering::Relaxed);
        db.revoked_before(sub).await
    }

    /// The checks and reads so far.
    pub fn stats(&self) -> RevocationStats {
        RevocationStats {
            checks: self.counts.checks.load(Ordering::Relaxed),
            reads: self.counts.reads.load(Ordering::Relaxed),
        }
    }
}

/// Waits for a check, takes every check queued by then (up to [`BATCH`]), answers them with one
/// read, and again, until every sender is gone.
async fn read_in_turn(db: Database, mut queue: mpsc::Receiver<Check>, counts: Arc<Counts>) {
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut subs: Vec<&str> = batch.iter().map(|check| check.sub.as_str()).collect();
        subs.sort_unstable();
        subs.dedup();
        counts.reads.fetch_add(1, Ordering::Relaxed);
        let found = match db.revoked_before_each(&subs).await {
            Ok(found) => Some(Arc::new(found)),
            Err(error) => {
                tracing::debug!(%error, "a shared revocation read failed; each request reads alone");
                None
            }
        };
        for check in batch.drain(..) {
            let _ = check.answer.send(found.clone());
        }
    }
}

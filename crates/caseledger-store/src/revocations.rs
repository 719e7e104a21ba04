//! Projection `revocations`: per signed-in subject (`sub`), the time at or before which its tokens
//! were issued are refused, from the `SessionRevocation` stream (the admins' listing). The check
//! on every authenticated request, [`Database::revoked_before`], reads the log itself (one
//! primary-key range of the events table), so every process serving the same database refuses a
//! revoked token as soon as the revocation commits, projected or not.
//!
//! Rows: `revocations` (one per `sub`: `revoked_before` as stored time text, UTC with
//! milliseconds, and the [`RevocationView`] as a JSON document).

use std::collections::HashMap;

use caseledger_domain::revocation::RevocationEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{list_placeholders, Bind, Database, StoreError};
use crate::documents::{Column, Document, DocumentProjection, Table};
use crate::feed::FeedEvent;

/// The aggregate type of revocations in the events table.
pub const AGGREGATE_TYPE: &str = "SessionRevocation";

/// The revocations of one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationView {
    /// Whose sessions.
    pub sub: String,
    /// Tokens issued at or before this instant are refused (the latest revocation).
    pub revoked_before: DateTime<Utc>,
    /// Why (the latest revocation).
    pub reason: String,
    /// Who (the latest revocation).
    pub revoked_by: String,
    /// How many revocations.
    pub revocations: i64,
    /// The stream's version.
    pub version: i64,
}

/// The `revocations` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct RevocationsProjection;

impl DocumentProjection for RevocationsProjection {
    const NAME: &'static str = "revocations";
    type Documents = RevocationView;
}

/// The stored form of a time: UTC, milliseconds, `Z` (sorts as text).
fn stored(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Document for RevocationView {
    type Event = RevocationEvent;
    const AGGREGATE_TYPE: &'static str = AGGREGATE_TYPE;
    const TABLE: Table = Table::new("revocations", "sub")
        .numbered()
        .versioned()
        .with_columns(&[Column::new("revoked_before")]);

    fn create(_: &FeedEvent, event: &RevocationEvent) -> Result<Self, &'static str> {
        let RevocationEvent::SessionsRevoked {
            sub,
            reason,
            revoked_by,
            revoked_at,
        } = event;
        Ok(Self {
            sub: sub.to_string(),
            revoked_before: *revoked_at,
            reason: reason.as_str().to_owned(),
            revoked_by: revoked_by.to_string(),
            revocations: 0,
            version: 0,
        })
    }

    fn evolve(&mut self, feed: &FeedEvent, event: &RevocationEvent) {
        self.version = feed.sequence;
        let RevocationEvent::SessionsRevoked {
            reason,
            revoked_by,
            revoked_at,
            ..
        } = event;
        // The latest revocation wins; a clock set back never shortens an earlier one.
        self.revoked_before = self.revoked_before.max(*revoked_at);
        self.reason = reason.as_str().to_owned();
        self.revoked_by = revoked_by.to_string();
        self.revocations += 1;
    }

    fn columns(&self, row: &mut Vec<Bind>) {
        row.push(Bind::Text(stored(self.revoked_before)));
    }
}

/// The subject and payload of each revocation of the subjects in `IN (…)`, from the log
/// (PostgreSQL stores payloads as jsonb).
const REVOCATION_PAYLOADS_POSTGRES: &str = "SELECT aggregate_id, payload::text FROM events \
     WHERE aggregate_type = 'SessionRevocation' AND aggregate_id IN";
/// See [`REVOCATION_PAYLOADS_POSTGRES`].
const REVOCATION_PAYLOADS_SQLITE: &str = "SELECT aggregate_id, payload FROM events \
     WHERE aggregate_type = 'SessionRevocation' AND aggregate_id IN";

/// At most this many subjects per statement of [`Database::revoked_before_each`].
const SUBJECTS_PER_STATEMENT: usize = 500;

impl Database {
    /// When `sub`'s sessions were last revoked, if ever: tokens issued at or before it are
    /// refused. Read from the log (the events' primary key), not from the view, so a revocation
    /// holds in every process the moment it commits, without waiting for the projector.
    pub async fn revoked_before(&self, sub: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.revoked_before_each(&[sub]).await?.remove(sub))
    }

    /// [`Database::revoked_before`] of several subjects in one read: the subjects ever revoked,
    /// each with its latest revocation time (the others are absent).
    pub async fn revoked_before_each(
        &self,
        subs: &[&str],
    ) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        let head = match self {
            Database::Postgres(_) => REVOCATION_PAYLOADS_POSTGRES,
            Database::Sqlite(_) => REVOCATION_PAYLOADS_SQLITE,
        };
        let mut latest = HashMap::new();
        for chunk in subs.chunks(SUBJECTS_PER_STATEMENT) {
            let sql = format!("{head} ({})", list_placeholders(chunk.len()));
            let rows: Vec<(String, String)> = with_pool!(self, |pool| {
                let mut query = sqlx::query_as(&sql);
                for sub in chunk {
                    query = query.bind(*sub);
                }
                query.fetch_all(pool).await
            })?;
            for (sub, payload) in rows {
                let RevocationEvent::SessionsRevoked { revoked_at, .. } =
                    serde_json::from_str(&payload)?;
                let entry = latest.entry(sub).or_insert(revoked_at);
                *entry = (*entry).max(revoked_at);
            }
        }
        Ok(latest)
    }

    /// Every subject whose sessions were revoked, the most recently first revoked first.
    pub async fn revocations(&self) -> Result<Vec<RevocationView>, StoreError> {
        self.documents(
            "SELECT document FROM revocations ORDER BY list_order DESC",
            &[],
        )
        .await
    }
}

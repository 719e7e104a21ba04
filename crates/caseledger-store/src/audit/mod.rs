//! The tamper-evident audit trail.
//!
//! - Every event row carries an event hash chained to its stream's previous event, computed in
//!   the write transaction ([`repository`]).
//! - Projection `audit_chain` chains every event hash in feed order into one global chain and
//!   seals it in digests (every N events, and at least hourly while events arrive); each digest
//!   links to the previous one. Digests are public so outsiders can pin them.
//! - [`verify`] recomputes all of it from the events table and names the first broken thing.
//! - [`export`] writes a versioned, documented export that a third party re-verifies with
//!   `scripts/verify-audit-export.py`.
//!
//! The projection is append-only and never rebuilt: a rebuild over tampered events would seal the
//! tampering.

pub mod export;
pub mod hash;
pub mod repository;
pub mod verify;

use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;

use crate::db::{
    now_text, values_placeholders, Bind, Database, StoreError, Tx, ROWS_PER_STATEMENT,
};
use crate::feed::{columns, decode_event, FeedEvent};
use crate::projector::{Projection, ProjectionError};
use hash::{chain_hash, digest_hash, Digest, EventFields, GENESIS};

/// When the chain is sealed into a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealPolicy {
    /// Seal after this many new events.
    pub every_events: i64,
    /// Seal when the last digest is older than this and new events arrived.
    pub every: Duration,
}

impl Default for SealPolicy {
    fn default() -> Self {
        Self {
            every_events: 1_000,
            every: Duration::from_secs(3_600),
        }
    }
}

/// The state of the global chain after the last event applied.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChainHead {
    /// Events chained so far.
    pub event_count: i64,
    /// Position of the last one.
    pub position: i64,
    /// Its transaction id (0 on SQLite).
    pub transaction_id: i64,
    /// The chain hash after it.
    pub chain_hash: String,
    /// The last digest's number (0 when none).
    pub last_digest_seq: i64,
    /// The last digest's hash.
    pub last_digest_hash: String,
    /// How many events the last digest covers.
    pub last_digest_count: i64,
    /// When the last digest was sealed.
    pub last_sealed_at: String,
}

impl ChainHead {
    fn genesis() -> Self {
        Self {
            event_count: 0,
            position: 0,
            transaction_id: 0,
            chain_hash: GENESIS.to_owned(),
            last_digest_seq: 0,
            last_digest_hash: GENESIS.to_owned(),
            last_digest_count: 0,
            last_sealed_at: String::new(),
        }
    }

    fn seal_due(&self, policy: SealPolicy, now: chrono::DateTime<chrono::Utc>) -> bool {
        let unsealed = self.event_count - self.last_digest_count;
        if unsealed <= 0 {
            return false;
        }
        if unsealed >= policy.every_events {
            return true;
        }
        let last = chrono::DateTime::parse_from_rfc3339(&self.last_sealed_at).map(|at| at.to_utc());
        match last {
            Ok(last) => (now - last).to_std().unwrap_or_default() >= policy.every,
            // Never sealed: the first digest starts the clock.
            Err(_) => true,
        }
    }
}

const HEAD_COLUMNS: &str =
    "event_count, position, transaction_id, chain_hash, last_digest_seq, last_digest_hash, \
     last_digest_count, last_sealed_at";

/// Locks the head row (PostgreSQL row lock; on SQLite the transaction holds the write lock) and
/// reads it.
async fn lock_head(tx: &mut Tx) -> Result<ChainHead, StoreError> {
    let sql = format!("SELECT {HEAD_COLUMNS} FROM audit_chain_head WHERE id = 1");
    let head: Option<ChainHead> = with_tx!(tx, |conn| {
        sqlx::query("UPDATE audit_chain_head SET id = id WHERE id = 1")
            .execute(&mut *conn)
            .await?;
        sqlx::query_as(&sql).fetch_optional(&mut *conn).await
    })?;
    Ok(head.unwrap_or_else(ChainHead::genesis))
}

async fn store_head(tx: &mut Tx, head: &ChainHead) -> Result<(), StoreError> {
    with_tx!(tx, |conn| {
        sqlx::query(
        "INSERT INTO audit_chain_head (id, event_count, position, transaction_id, chain_hash, last_digest_seq, \
             last_digest_hash, last_digest_count, last_sealed_at) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (id) DO UPDATE SET event_count = excluded.event_count, position = excluded.position, \
             transaction_id = excluded.transaction_id, chain_hash = excluded.chain_hash, \
             last_digest_seq = excluded.last_digest_seq, last_digest_hash = excluded.last_digest_hash, \
             last_digest_count = excluded.last_digest_count, last_sealed_at = excluded.last_sealed_at"
    )
    .bind(head.event_count)
    .bind(head.position)
    .bind(head.transaction_id)
    .bind(&head.chain_hash)
    .bind(head.last_digest_seq)
    .bind(&head.last_digest_hash)
    .bind(head.last_digest_count)
    .bind(&head.last_sealed_at)
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected())
    })?;
    Ok(())
}

/// Seals the chain at `head` into a new digest.
async fn seal(tx: &mut Tx, head: &mut ChainHead) -> Result<(), StoreError> {
    let digest_seq = head.last_digest_seq + 1;
    let sealed_at = now_text();
    let hash = digest_hash(
        digest_seq,
        &head.last_digest_hash,
        head.position,
        head.event_count,
        &head.chain_hash,
        &sealed_at,
    );
    with_tx!(tx, |conn| {
        sqlx::query(
        "INSERT INTO audit_digests (digest_seq, previous_digest_hash, up_to_position, up_to_transaction_id, \
             event_count, chain_hash, sealed_at, digest_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(digest_seq)
    .bind(&head.last_digest_hash)
    .bind(head.position)
    .bind(head.transaction_id)
    .bind(head.event_count)
    .bind(&head.chain_hash)
    .bind(&sealed_at)
    .bind(&hash)
    .execute(&mut *conn)
    .await
    .map(|done| done.rows_affected())
    })?;
    head.last_digest_seq = digest_seq;
    head.last_digest_hash = hash;
    head.last_digest_count = head.event_count;
    head.last_sealed_at = sealed_at;
    Ok(())
}

/// Projection `audit_chain`: the global hash chain and its digests.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditChainProjection {
    /// When to seal.
    pub policy: SealPolicy,
}

#[async_trait]
impl Projection for AuditChainProjection {
    fn name(&self) -> &'static str {
        "audit_chain"
    }

    fn tables(&self) -> Vec<&'static str> {
        vec!["audit_chain", "audit_chain_head", "audit_digests"]
    }

    fn rebuildable(&self) -> bool {
        false
    }

    async fn apply(&self, tx: &mut Tx, events: &[FeedEvent]) -> Result<(), ProjectionError> {
        let mut head = lock_head(tx).await?;
        let mut rows = Vec::with_capacity(events.len() * 4);
        for event in events {
            let Some(event_hash) = &event.event_hash else {
                return Err(ProjectionError::event(event, "the event has no hash"));
            };
            head.chain_hash = chain_hash(&head.chain_hash, event.at.position, event_hash);
            head.event_count += 1;
            head.position = event.at.position;
            head.transaction_id = event.at.transaction_id;
            rows.extend([
                Bind::Int(head.position),
                Bind::Int(head.transaction_id),
                Bind::Int(head.event_count),
                Bind::Text(head.chain_hash.clone()),
            ]);
            if head.event_count - head.last_digest_count >= self.policy.every_events {
                seal(tx, &mut head).await?;
            }
        }
        for chunk in rows.chunks(4 * ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO audit_chain (position, transaction_id, event_count, chain_hash) VALUES {}",
                values_placeholders(chunk.len() / 4, 4)
            );
            tx.execute_with(&sql, chunk).await?;
        }
        if head.seal_due(self.policy, chrono::Utc::now()) {
            seal(tx, &mut head).await?;
        }
        store_head(tx, &head).await?;
        Ok(())
    }

    fn checksum_sql(&self) -> Vec<String> {
        vec![
            "SELECT CAST(position AS TEXT) || '|' || chain_hash AS row FROM audit_chain ORDER BY position"
                .to_owned(),
        ]
    }
}

/// Filters of the auditor's event listing. All optional; they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEventFilter {
    /// The acting user (`actor_sub`).
    pub actor: Option<String>,
    /// The organisation the actor acted for (`actor_org`).
    pub department: Option<String>,
    /// The aggregate type.
    pub aggregate_type: Option<String>,
    /// The event type.
    pub event_type: Option<String>,
    /// Recorded at or after (RFC 3339, UTC, milliseconds).
    pub from: Option<String>,
    /// Recorded before (RFC 3339, UTC, milliseconds).
    pub to: Option<String>,
    /// Only events after this position (the cursor).
    pub after_position: Option<i64>,
    /// At most this many (1 to 500).
    pub limit: i64,
}

/// The most digests one read returns.
pub const DIGEST_PAGE: i64 = 1_000;

impl Database {
    /// Events matching `filter`, in position order.
    pub async fn audit_events(
        &self,
        filter: &AuditEventFilter,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let postgres = matches!(self, Database::Postgres(_));
        let metadata = |key: &str| {
            if postgres {
                format!("metadata->>'{key}'")
            } else {
                format!("json_extract(metadata, '$.{key}')")
            }
        };
        let timestamp_cast = if postgres { "::timestamptz" } else { "" };
        let mut conditions = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut push = |condition: String, value: &str, binds: &mut Vec<String>| {
            binds.push(value.to_owned());
            conditions.push(condition.replace('?', &format!("${}", binds.len())));
        };
        if let Some(actor) = &filter.actor {
            push(format!("{} = ?", metadata("actor_sub")), actor, &mut binds);
        }
        if let Some(department) = &filter.department {
            push(
                format!("{} = ?", metadata("actor_org")),
                department,
                &mut binds,
            );
        }
        if let Some(aggregate_type) = &filter.aggregate_type {
            push("aggregate_type = ?".to_owned(), aggregate_type, &mut binds);
        }
        if let Some(event_type) = &filter.event_type {
            push("event_type = ?".to_owned(), event_type, &mut binds);
        }
        if let Some(from) = &filter.from {
            push(
                format!("recorded_at >= ?{timestamp_cast}"),
                from,
                &mut binds,
            );
        }
        if let Some(to) = &filter.to {
            push(format!("recorded_at < ?{timestamp_cast}"), to, &mut binds);
        }
        let mut sql = format!(
            "SELECT {} FROM events WHERE position > ${}",
            columns(self),
            binds.len() + 1
        );
        for condition in &conditions {
            sql.push_str(" AND ");
            sql.push_str(condition);
        }
        sql.push_str(&format!(" ORDER BY position LIMIT ${}", binds.len() + 2));
        let after = filter.after_position.unwrap_or(0);
        let limit = filter.limit.clamp(1, 500);
        let events = with_pool!(self, |pool| {
            let mut query = sqlx::query(&sql);
            for bind in &binds {
                query = query.bind(bind.as_str());
            }
            let rows = query.bind(after).bind(limit).fetch_all(pool).await?;
            rows.iter().map(decode_event).collect::<Result<Vec<_>, _>>()
        })?;
        Ok(events)
    }

    /// Every published digest, oldest first, read [`DIGEST_PAGE`] at a time (`audit verify` and
    /// the export check them all; a single [`Database::audit_digests`] call returns one page).
    pub async fn all_audit_digests(&self) -> Result<Vec<Digest>, StoreError> {
        let mut all: Vec<Digest> = Vec::new();
        loop {
            let after = all.last().map_or(0, |digest| digest.digest_seq);
            let page = self.audit_digests(after, DIGEST_PAGE).await?;
            let more = page.len() as i64 == DIGEST_PAGE;
            all.extend(page);
            if !more {
                return Ok(all);
            }
        }
    }

    /// Published digests after `after_seq`, oldest first: at most `limit`, and at most
    /// [`DIGEST_PAGE`].
    pub async fn audit_digests(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<Digest>, StoreError> {
        let rows: Vec<(i64, String, i64, i64, String, String, String)> = with_pool!(
            self,
            |pool| {
                sqlx::query_as(
            "SELECT digest_seq, previous_digest_hash, up_to_position, event_count, chain_hash, sealed_at, digest_hash \
               FROM audit_digests WHERE digest_seq > $1 ORDER BY digest_seq LIMIT $2"
        )
        .bind(after_seq)
        .bind(limit.clamp(1, DIGEST_PAGE))
        .fetch_all(pool)
        .await
            }
        )?;
        Ok(rows
            .into_iter()
            .map(|row| Digest {
                digest_seq: row.0,
                previous_digest_hash: row.1,
                up_to_position: row.2,
                event_count: row.3,
                chain_hash: row.4,
                sealed_at: row.5,
                digest_hash: row.6,
            })
            .collect())
    }

    /// Seals the chain if the policy says so (called periodically by the server, so that a quiet
    /// hour's last events get sealed too). Returns whether a digest was written.
    pub async fn seal_audit_if_due(&self, policy: SealPolicy) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let mut head = lock_head(&mut tx).await?;
        if head.event_count == 0 || !head.seal_due(policy, chrono::Utc::now()) {
            tx.rollback().await?;
            return Ok(false);
        }
        seal(&mut tx, &mut head).await?;
        store_head(&mut tx, &head).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Hashes events stored before the audit trail existed (rows whose `event_hash` is null), in
    /// stream order. Returns how many were hashed. Idempotent.
    pub async fn backfill_event_hashes(&self) -> Result<u64, StoreError> {
        let streams: Vec<(String, String)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT DISTINCT aggregate_type, aggregate_id FROM events WHERE event_hash IS NULL"
        )
        .fetch_all(pool)
        .await)?;
        let mut hashed = 0;
        for (aggregate_type, aggregate_id) in streams {
            let mut tx = self.begin().await?;
            let sql = format!(
                "SELECT sequence, event_type, event_version, {}, event_hash FROM events \
                 WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
                match self {
                    Database::Postgres(_) => "payload::text AS payload, metadata::text AS metadata",
                    Database::Sqlite(_) => "payload, metadata",
                }
            );
            with_tx!(&mut tx, |conn| {
                sqlx::query("UPDATE events SET event_hash = event_hash WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = 1")
                .bind(&aggregate_type)
                .bind(&aggregate_id)
                .execute(&mut *conn)
                .await
                .map(|done| done.rows_affected())
            })?;
            let rows = with_tx!(&mut tx, |conn| {
                let rows = sqlx::query(&sql)
                    .bind(&aggregate_type)
                    .bind(&aggregate_id)
                    .fetch_all(&mut *conn)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok::<_, sqlx::Error>((
                            row.try_get::<i64, _>("sequence")?,
                            row.try_get::<String, _>("event_type")?,
                            row.try_get::<String, _>("event_version")?,
                            row.try_get::<String, _>("payload")?,
                            row.try_get::<String, _>("metadata")?,
                            row.try_get::<Option<String>, _>("event_hash")?,
                        ))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })?;
            let mut previous = GENESIS.to_owned();
            for (sequence, event_type, event_version, payload, metadata, stored) in rows {
                let hash = match stored {
                    Some(hash) => hash,
                    None => {
                        let payload: serde_json::Value = serde_json::from_str(&payload)?;
                        let metadata: serde_json::Value = serde_json::from_str(&metadata)?;
                        let hash = hash::event_hash(
                            &previous,
                            EventFields {
                                aggregate_type: &aggregate_type,
                                aggregate_id: &aggregate_id,
                                sequence,
                                event_type: &event_type,
                                event_version: &event_version,
                                payload: &payload,
                                metadata: &metadata,
                            },
                        );
                        with_tx!(&mut tx, |conn| {
                            sqlx::query(
                            "UPDATE events SET event_hash = $1 WHERE aggregate_type = $2 AND aggregate_id = $3 AND sequence = $4"
                        )
                        .bind(&hash)
                        .bind(&aggregate_type)
                        .bind(&aggregate_id)
                        .bind(sequence)
                        .execute(&mut *conn)
                        .await
                        .map(|done| done.rows_affected())
                        })?;
                        hashed += 1;
                        hash
                    }
                };
                previous = hash;
            }
            tx.commit().await?;
        }
        Ok(hashed)
    }
}

//! `audit verify`: recompute every stream chain, the global chain and every digest from the events
//! table, and name the first thing that does not match.
//!
//! One pass over the events in feed order (no projection involved): each event's hash is
//! recomputed from its stream's previous event and compared with the stored one; sequences must
//! have no gap; for events the `audit_chain` projection has covered, the recomputed global chain
//! must match its stored row; at each digest's last event the digest must match; at the end the
//! chain head must match. Digests are first checked on their own (hash, link to the previous one,
//! and any pins an outsider supplies).
//!
//! The pass is a pipeline: a task fetches the next page of events while this one is checked, and
//! the event hashes of a page are computed on every core before the page is checked in order.
//! An event's hash needs its stream's previous hash; each is computed from the previous event's
//! *stored* hash. Checking stops at the first event whose recomputed hash differs from its stored
//! one, so every previous event that a checked event depends on has a stored hash equal to its
//! recomputed one: the verdicts, and the first finding named, are those of the one-thread pass.

use std::collections::HashMap;
use std::fmt;

use sqlx::Row;

use crate::audit::hash::{chain_hash, digest_hash, event_hash_with, Digest, EventFields, GENESIS};
use crate::db::{Database, PgStore, SqliteStore, StoreError};
use crate::feed::{decode_event, FeedEvent, FeedPosition};

/// The first thing found broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The stored event hash does not match the event's content (payload, metadata, type,
    /// identity) or its stream's previous event.
    EventModified {
        /// Feed position.
        position: i64,
        /// Stream.
        stream: String,
        /// Sequence.
        sequence: i64,
    },
    /// A stream's sequence jumps: an event was deleted, or events were renumbered.
    SequenceGap {
        /// Feed position of the event found.
        position: i64,
        /// Stream.
        stream: String,
        /// The sequence expected.
        expected: i64,
        /// The sequence found.
        found: i64,
    },
    /// An event lies inside the chained part of the feed but is not in the chain: it was
    /// inserted afterwards.
    NotInChain {
        /// Feed position.
        position: i64,
        /// Stream.
        stream: String,
        /// Sequence.
        sequence: i64,
    },
    /// The recomputed global chain differs from the stored one at this event: an event before
    /// it was deleted, inserted or moved, or the chain row was edited.
    ChainDiverges {
        /// Feed position.
        position: i64,
        /// Stream.
        stream: String,
        /// Sequence.
        sequence: i64,
    },
    /// A digest does not match its own fields, the previous digest, a pin, or the events.
    DigestBroken {
        /// Which digest.
        digest_seq: i64,
        /// What does not match.
        reason: String,
    },
    /// The chain ends early: events the chain covered are gone.
    ChainTruncated {
        /// Events recomputed.
        recomputed: i64,
        /// Events the stored head says were chained.
        stored: i64,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::EventModified { position, stream, sequence } => write!(
                f,
                "event at position {position} ({stream} #{sequence}) was modified: its hash does not match its content"
            ),
            Finding::SequenceGap { position, stream, expected, found } => write!(
                f,
                "{stream}: event #{expected} is missing (found #{found} at position {position}): an event was deleted or renumbered"
            ),
            Finding::NotInChain { position, stream, sequence } => write!(
                f,
                "event at position {position} ({stream} #{sequence}) is not in the audit chain: it was inserted afterwards"
            ),
            Finding::ChainDiverges { position, stream, sequence } => write!(
                f,
                "the audit chain diverges at position {position} ({stream} #{sequence}): an event up to here was deleted, inserted or reordered"
            ),
            Finding::DigestBroken { digest_seq, reason } => write!(f, "digest {digest_seq} is broken: {reason}"),
            Finding::ChainTruncated { recomputed, stored } => write!(
                f,
                "the audit chain covered {stored} events but only {recomputed} remain: events at its end were deleted"
            ),
        }
    }
}

/// What a verification covered, and the first finding if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events checked.
    pub events: u64,
    /// Streams seen.
    pub streams: u64,
    /// Events checked against the global chain.
    pub chained_events: u64,
    /// Digests checked.
    pub digests: u64,
    /// The first thing broken; `None` when everything matches.
    pub finding: Option<Finding>,
}

/// An event as the verifier reads it: the feed's fields plus its stored chain row, if any.
struct VerifyRow {
    event: FeedEvent,
    chain_hash: Option<String>,
}

/// Events per page read.
const BATCH: i64 = 10_000;

/// Pages of events the fetching task may read ahead of the checking.
const PAGES_AHEAD: usize = 1;

fn decode_row<R: Row>(row: &R) -> Result<VerifyRow, sqlx::Error>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    Ok(VerifyRow {
        event: decode_event(row)?,
        chain_hash: row.try_get("chain_hash")?,
    })
}

impl Database {
    async fn verify_batch(
        &self,
        after: FeedPosition,
        batch: i64,
    ) -> Result<Vec<VerifyRow>, StoreError> {
        const SELECT: &str =
            "SELECT e.position, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, \
             e.event_version, e.event_hash, c.chain_hash, '' AS recorded_at";
        let rows = match self {
            Database::Postgres(PgStore { read: pool, .. }) => {
                let sql = format!(
                    "{SELECT}, e.transaction_id::text::bigint AS transaction_id, e.payload::text AS payload, \
                     e.metadata::text AS metadata \
                     FROM events e LEFT JOIN audit_chain c ON c.position = e.position \
                     WHERE (e.transaction_id, e.position) > ($1::text::xid8, $2) \
                     ORDER BY e.transaction_id, e.position LIMIT $3"
                );
                let rows = sqlx::query(&sql)
                    .bind(after.transaction_id.to_string())
                    .bind(after.position)
                    .bind(batch)
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?
            }
            Database::Sqlite(SqliteStore { read: pool, .. }) => {
                let sql = format!(
                    "{SELECT}, 0 AS transaction_id, e.payload, e.metadata \
                     FROM events e LEFT JOIN audit_chain c ON c.position = e.position \
                     WHERE e.position > $1 ORDER BY e.position LIMIT $2"
                );
                let rows = sqlx::query(&sql)
                    .bind(after.position)
                    .bind(batch)
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok(rows)
    }

    /// The stored chain head and the `audit_chain` projection's checkpoint.
    async fn chain_state(&self) -> Result<(Option<(i64, String)>, FeedPosition), StoreError> {
        let head: Option<(i64, String)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT event_count, chain_hash FROM audit_chain_head WHERE id = 1"
        )
        .fetch_optional(pool)
        .await)?;
        let checkpoint: Option<(i64, i64)> = with_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT transaction_id, position FROM projection_checkpoints WHERE name = 'audit_chain'"
        )
        .fetch_optional(pool)
        .await
        })?;
        let checkpoint =
            checkpoint.map_or_else(FeedPosition::default, |(transaction_id, position)| {
                FeedPosition {
                    transaction_id,
                    position,
                }
            });
        Ok((head, checkpoint))
    }

    /// Verifies the whole audit trail. `pins` are `(digest_seq, digest_hash)` pairs an outsider
    /// recorded earlier; `progress(done, total)` is called after each batch.
    pub async fn verify_audit_trail(
        &self,
        pins: &[(i64, String)],
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<VerifyReport, StoreError> {
        self.verify_audit_trail_paged(pins, BATCH, progress).await
    }

    /// [`Database::verify_audit_trail`] reading `batch` events a page (tests use small pages so
    /// that streams and findings cross page boundaries).
    #[doc(hidden)]
    pub async fn verify_audit_trail_paged(
        &self,
        pins: &[(i64, String)],
        batch: i64,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<VerifyReport, StoreError> {
        let (total, _) = self.feed_backlog(FeedPosition::default()).await?;
        let total = total.max(0) as u64;
        let digests = self.all_audit_digests().await?;
        let mut report = VerifyReport {
            events: 0,
            streams: 0,
            chained_events: 0,
            digests: digests.len() as u64,
            finding: None,
        };
        if let Some(finding) = check_digests(&digests, pins) {
            report.finding = Some(finding);
            return Ok(report);
        }
        let by_position: HashMap<i64, &Digest> = digests
            .iter()
            .map(|digest| (digest.up_to_position, digest))
            .collect();
        let mut reached = 0usize;
        let (head, chained_until) = self.chain_state().await?;
        // Each stream's last sequence and stored hash, in feed order, for the pages prepared.
        let mut heads = StreamHeads::default();
        let mut streams: u64 = 0;
        let mut chain = GENESIS.to_owned();
        let mut chained: i64 = 0;
        let mut pages = self.fetch_pages_ahead(batch.max(1));
        // The page being hashed while the one before it is checked.
        let mut hashing: Option<tokio::task::JoinHandle<HashedPage>> = None;
        loop {
            // Receive and start hashing the next page, then check the current one meanwhile. A
            // read error is returned only after the pages before it are checked (a finding
            // there comes first, as in a plain pass).
            let (next, read_error) = match pages.recv().await {
                Some(Ok(rows)) => (Some(hash_page(rows, &mut heads)), None),
                Some(Err(error)) => (None, Some(error)),
                None => (None, None),
            };
            if let Some(current) = hashing.take() {
                let page = current.await.map_err(|error| {
                    StoreError::Invariant(format!("hashing a page of events stopped: {error}"))
                })?;
                for (index, row) in page.rows.iter().enumerate() {
                    report.events += 1;
                    let step = EventCheck {
                        computed: page.hashes[index].as_deref(),
                        expected_sequence: page.expected_sequences[index],
                    };
                    match check_event(
                        row,
                        step,
                        &mut chain,
                        &mut chained,
                        chained_until,
                        &by_position,
                        &mut reached,
                    ) {
                        Ok(()) => streams += u64::from(page.expected_sequences[index] == 1),
                        Err(finding) => {
                            report.streams = streams;
                            report.chained_events = chained as u64;
                            report.finding = Some(finding);
                            return Ok(report);
                        }
                    }
                }
                progress(report.events, total.max(report.events));
            }
            if let Some(error) = read_error {
                return Err(error);
            }
            match next {
                Some(next) => hashing = Some(next),
                None => break,
            }
        }
        report.streams = streams;
        report.chained_events = chained as u64;
        if reached < digests.len() {
            let missing = digests.iter().find(|digest| digest.event_count > chained);
            if let Some(digest) = missing {
                report.finding = Some(Finding::DigestBroken {
                    digest_seq: digest.digest_seq,
                    reason: format!(
                        "the event at position {} that it seals is gone",
                        digest.up_to_position
                    ),
                });
                return Ok(report);
            }
        }
        if let Some((stored_count, stored_chain)) = head {
            if stored_count != chained || stored_chain != chain {
                report.finding = Some(Finding::ChainTruncated {
                    recomputed: chained,
                    stored: stored_count,
                });
            }
        }
        Ok(report)
    }
}

impl Database {
    /// Reads the events in feed order, page after page, on a task of its own that stays up to
    /// [`PAGES_AHEAD`] pages ahead of the receiver; stops after an empty page, an error, or when
    /// the receiver is dropped (a finding ends the verification early).
    fn fetch_pages_ahead(
        &self,
        batch: i64,
    ) -> tokio::sync::mpsc::Receiver<Result<Vec<VerifyRow>, StoreError>> {
        let (sender, receiver) = tokio::sync::mpsc::channel(PAGES_AHEAD);
        let db = self.clone();
        tokio::spawn(async move {
            let mut after = FeedPosition::BEFORE_ALL;
            loop {
                let page = db.verify_batch(after, batch).await;
                let last = match &page {
                    Ok(rows) => match rows.last() {
                        Some(row) => Some(row.event.at),
                        None => return,
                    },
                    Err(_) => None,
                };
                if sender.send(page).await.is_err() {
                    return;
                }
                match last {
                    Some(last) => after = last,
                    None => return,
                }
            }
        });
        receiver
    }
}

/// Each stream's last sequence and stored hash in feed order, over the pages prepared so far.
#[derive(Default)]
struct StreamHeads {
    heads: HashMap<String, (i64, Option<String>)>,
    key: String,
}

impl StreamHeads {
    /// Records `row` as its stream's newest event; returns the sequence and stored hash of the
    /// event before it in the stream (`(0, None)` for the stream's first).
    fn advance(&mut self, row: &VerifyRow) -> (i64, Option<String>) {
        // The type's length first: no two (type, id) pairs give the same key.
        self.key.clear();
        self.key
            .push_str(&row.event.aggregate_type.len().to_string());
        self.key.push(':');
        self.key.push_str(&row.event.aggregate_type);
        self.key.push_str(&row.event.aggregate_id);
        let head = (row.event.sequence, row.event.event_hash.clone());
        match self.heads.get_mut(self.key.as_str()) {
            Some(previous) => std::mem::replace(previous, head),
            None => {
                self.heads.insert(self.key.clone(), head);
                (0, None)
            }
        }
    }
}

/// A page with what checking it needs, computed ahead of the check.
struct HashedPage {
    rows: Vec<VerifyRow>,
    /// Each row's recomputed event hash (`None`: payload or metadata is not JSON).
    hashes: Vec<Option<String>>,
    /// Each row's expected sequence: its stream's previous event's plus one.
    expected_sequences: Vec<i64>,
}

/// Starts computing the event hash of every row of a page, on every core. Each row chains from
/// the stored hash of its stream's previous row (`heads`, advanced here in feed order, so the
/// next page can be prepared before this one is checked).
fn hash_page(rows: Vec<VerifyRow>, heads: &mut StreamHeads) -> tokio::task::JoinHandle<HashedPage> {
    let mut previous = Vec::with_capacity(rows.len());
    let mut expected_sequences = Vec::with_capacity(rows.len());
    for row in &rows {
        let (sequence, hash) = heads.advance(row);
        expected_sequences.push(sequence + 1);
        // A stream's first event, or one after an event without a stored hash (which the
        // check stops at before this one's hash is used): GENESIS.
        previous.push(hash.unwrap_or_else(|| GENESIS.to_owned()));
    }
    tokio::task::spawn_blocking(move || {
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .clamp(1, 8);
        let chunk = rows.len().div_ceil(threads).max(1);
        let mut hashes: Vec<Option<String>> = vec![None; rows.len()];
        std::thread::scope(|scope| {
            for ((rows, previous), hashes) in rows
                .chunks(chunk)
                .zip(previous.chunks(chunk))
                .zip(hashes.chunks_mut(chunk))
            {
                scope.spawn(move || {
                    let mut buffer = Vec::with_capacity(4096);
                    for ((row, previous), hash) in rows.iter().zip(previous).zip(hashes) {
                        *hash = recompute_hash(row, previous, &mut buffer);
                    }
                });
            }
        });
        HashedPage {
            rows,
            hashes,
            expected_sequences,
        }
    })
}

/// The event hash of `row` chained from `previous`; `None` where its payload or metadata is not
/// JSON (a modified event).
fn recompute_hash(row: &VerifyRow, previous: &str, buffer: &mut Vec<u8>) -> Option<String> {
    let payload = serde_json::from_str::<serde_json::Value>(&row.event.payload).ok()?;
    let metadata = serde_json::from_str::<serde_json::Value>(&row.event.metadata).ok()?;
    Some(event_hash_with(
        previous,
        EventFields {
            aggregate_type: &row.event.aggregate_type,
            aggregate_id: &row.event.aggregate_id,
            sequence: row.event.sequence,
            event_type: &row.event.event_type,
            event_version: &row.event.event_version,
            payload: &payload,
            metadata: &metadata,
        },
        buffer,
    ))
}

fn check_digests(digests: &[Digest], pins: &[(i64, String)]) -> Option<Finding> {
    let mut previous = GENESIS.to_owned();
    for (index, digest) in digests.iter().enumerate() {
        let broken = |reason: &str| {
            Some(Finding::DigestBroken {
                digest_seq: digest.digest_seq,
                reason: reason.to_owned(),
            })
        };
        if digest.digest_seq != index as i64 + 1 {
            return broken("digest numbers are not consecutive");
        }
        if digest.previous_digest_hash != previous {
            return broken("it does not link to the previous digest");
        }
        let recomputed = digest_hash(
            digest.digest_seq,
            &digest.previous_digest_hash,
            digest.up_to_position,
            digest.event_count,
            &digest.chain_hash,
            &digest.sealed_at,
        );
        if recomputed != digest.digest_hash {
            return broken("its hash does not match its fields");
        }
        previous.clone_from(&digest.digest_hash);
    }
    for (digest_seq, pinned) in pins {
        match digests
            .iter()
            .find(|digest| digest.digest_seq == *digest_seq)
        {
            Some(digest) if digest.digest_hash == *pinned => {}
            Some(digest) => {
                return Some(Finding::DigestBroken {
                    digest_seq: *digest_seq,
                    reason: format!(
                        "pinned hash {pinned} but the store holds {}",
                        digest.digest_hash
                    ),
                })
            }
            None => {
                return Some(Finding::DigestBroken {
                    digest_seq: *digest_seq,
                    reason: "the pinned digest is gone".into(),
                })
            }
        }
    }
    None
}

/// What was computed ahead for one event: its recomputed hash and expected sequence.
struct EventCheck<'a> {
    computed: Option<&'a str>,
    expected_sequence: i64,
}

fn check_event(
    row: &VerifyRow,
    step: EventCheck<'_>,
    chain: &mut String,
    chained: &mut i64,
    chained_until: FeedPosition,
    digests: &HashMap<i64, &Digest>,
    reached: &mut usize,
) -> Result<(), Finding> {
    let stream = || format!("{} {}", row.event.aggregate_type, row.event.aggregate_id);
    // The stream's previous event in feed order passed its check (the check stops at the
    // first finding), so it is the last one checked.
    if row.event.sequence != step.expected_sequence {
        return Err(Finding::SequenceGap {
            position: row.event.at.position,
            stream: stream(),
            expected: step.expected_sequence,
            found: row.event.sequence,
        });
    }
    let modified = || Finding::EventModified {
        position: row.event.at.position,
        stream: stream(),
        sequence: row.event.sequence,
    };
    // Recomputed from the stream's previous stored hash, which equals the previous recomputed
    // one whenever this point is reached: the check stops at the first mismatch.
    let Some(computed) = step.computed else {
        return Err(modified());
    };
    if row.event.event_hash.as_deref() != Some(computed) {
        return Err(modified());
    }
    if row.event.at > chained_until {
        return Ok(());
    }
    let Some(stored_chain) = &row.chain_hash else {
        return Err(Finding::NotInChain {
            position: row.event.at.position,
            stream: stream(),
            sequence: row.event.sequence,
        });
    };
    *chain = chain_hash(chain, row.event.at.position, computed);
    *chained += 1;
    if *stored_chain != *chain {
        return Err(Finding::ChainDiverges {
            position: row.event.at.position,
            stream: stream(),
            sequence: row.event.sequence,
        });
    }
    if let Some(digest) = digests.get(&row.event.at.position) {
        *reached += 1;
        if digest.chain_hash != *chain || digest.event_count != *chained {
            return Err(Finding::DigestBroken {
                digest_seq: digest.digest_seq,
                reason: format!(
                    "it does not match the chain recomputed up to position {}",
                    row.event.at.position
                ),
            });
        }
    }
    Ok(())
}

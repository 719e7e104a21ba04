//! `audit export`: the events (with their hashes) and digests, in a versioned format a third party
//! can re-verify without caseledger (`scripts/verify-audit-export.py`; format in
//! docs/AUDIT.md).
//!
//! NDJSON, format `caseledger-audit-export` version 1: a header line
//! `{"kind":"header","format":"caseledger-audit-export","version":1,"filters":{…},"complete":bool}`,
//! then one `{"kind":"event",…}` line per event in feed order, then one `{"kind":"digest",…}`
//! line per digest. CSV carries the same event fields (payload and metadata as canonical JSON) and
//! no header or digest lines.

use std::io::Write;

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use caseledger_domain::csv_export::{Cell, CsvWriter, LineEnd};

use crate::audit::hash::canonical_json;
use crate::db::{Bind, Database, StoreError};
use crate::feed::FeedPosition;

/// The export format's name.
pub const FORMAT: &str = "caseledger-audit-export";
/// The export format's version.
pub const VERSION: u32 = 1;

/// Which events to export.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportFilter {
    /// Recorded at or after (RFC 3339, UTC, milliseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Recorded before (RFC 3339, UTC, milliseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Only this aggregate type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregate_type: Option<String>,
}

impl ExportFilter {
    fn is_empty(&self) -> bool {
        self.since.is_none() && self.until.is_none() && self.aggregate_type.is_none()
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Newline-delimited JSON with header and digests.
    Ndjson,
    /// Comma-separated values, one row per event.
    Csv,
}

/// One exported event.
#[derive(Debug, Clone, Serialize)]
pub struct ExportEvent {
    /// Always `event`.
    pub kind: &'static str,
    /// Feed position.
    pub position: i64,
    /// Writing transaction (PostgreSQL), 0 on SQLite.
    pub transaction_id: i64,
    /// Aggregate type.
    pub aggregate_type: String,
    /// Aggregate id.
    pub aggregate_id: String,
    /// Sequence in the stream.
    pub sequence: i64,
    /// Event type.
    pub event_type: String,
    /// Event type version.
    pub event_version: String,
    /// Payload.
    pub payload: Value,
    /// Metadata.
    pub metadata: Value,
    /// When the store recorded it.
    pub recorded_at: String,
    /// The stream's previous event hash (the genesis hash for sequence 1).
    pub previous_hash: Option<String>,
    /// This event's hash.
    pub event_hash: Option<String>,
    /// The global chain after this event, if the chain covers it.
    pub chain_hash: Option<String>,
    /// Events in the chain up to and including this one.
    pub chain_count: Option<i64>,
}

const CSV_COLUMNS: [&str; 14] = [
    "position",
    "transaction_id",
    "aggregate_type",
    "aggregate_id",
    "sequence",
    "event_type",
    "event_version",
    "payload",
    "metadata",
    "recorded_at",
    "previous_hash",
    "event_hash",
    "chain_hash",
    "chain_count",
];

/// Where the export's lines go.
enum Sink<'o> {
    Ndjson(&'o mut (dyn Write + Send)),
    Csv(Box<CsvWriter<&'o mut (dyn Write + Send)>>),
}

impl Database {
    async fn export_batch(
        &self,
        filter: &ExportFilter,
        after: FeedPosition,
    ) -> Result<Vec<ExportEvent>, StoreError> {
        let postgres = matches!(self, Database::Postgres(_));
        // Binds in order: the keyset (two on PostgreSQL, one on SQLite), then the filters, then
        // the limit; placeholders are numbered as they are pushed.
        let mut binds: Vec<Bind> = Vec::new();
        let placeholder = |bind: Bind, binds: &mut Vec<Bind>| {
            binds.push(bind);
            format!("${}", binds.len())
        };
        let mut sql = String::from(if postgres {
            "SELECT e.transaction_id::text::bigint AS transaction_id, e.position, e.aggregate_type, e.aggregate_id, \
                    e.sequence, e.event_type, e.event_version, e.payload::text AS payload, e.metadata::text AS metadata, \
                    to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS recorded_at, \
                    e.event_hash, p.event_hash AS previous_hash, c.chain_hash, c.event_count AS chain_count"
        } else {
            "SELECT 0 AS transaction_id, e.position, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, \
                    e.event_version, e.payload, e.metadata, e.recorded_at, e.event_hash, \
                    p.event_hash AS previous_hash, c.chain_hash, c.event_count AS chain_count"
        });
        sql.push_str(
            " FROM events e \
              LEFT JOIN events p ON p.aggregate_type = e.aggregate_type AND p.aggregate_id = e.aggregate_id \
                                AND p.sequence = e.sequence - 1 \
              LEFT JOIN audit_chain c ON c.position = e.position",
        );
        if postgres {
            let transaction_id =
                placeholder(Bind::Text(after.transaction_id.to_string()), &mut binds);
            let position = placeholder(Bind::Int(after.position), &mut binds);
            sql.push_str(&format!(
                " WHERE (e.transaction_id, e.position) > ({transaction_id}::xid8, {position})"
            ));
        } else {
            let position = placeholder(Bind::Int(after.position), &mut binds);
            sql.push_str(&format!(" WHERE e.position > {position}"));
        }
        let cast = if postgres { "::timestamptz" } else { "" };
        if let Some(since) = &filter.since {
            sql.push_str(&format!(
                " AND e.recorded_at >= {}{cast}",
                placeholder(Bind::Text(since.clone()), &mut binds)
            ));
        }
        if let Some(until) = &filter.until {
            sql.push_str(&format!(
                " AND e.recorded_at < {}{cast}",
                placeholder(Bind::Text(until.clone()), &mut binds)
            ));
        }
        if let Some(aggregate_type) = &filter.aggregate_type {
            sql.push_str(&format!(
                " AND e.aggregate_type = {}",
                placeholder(Bind::Text(aggregate_type.clone()), &mut binds)
            ));
        }
        let order = if postgres {
            "e.transaction_id, e.position"
        } else {
            "e.position"
        };
        let limit = placeholder(Bind::Int(5_000), &mut binds);
        sql.push_str(&format!(" ORDER BY {order} LIMIT {limit}"));
        let rows = with_pool!(self, |pool| {
            let query = bind_all!(sqlx::query(&sql), &binds);
            let rows = query.fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    let sequence: i64 = row.try_get("sequence")?;
                    let previous: Option<String> = row.try_get("previous_hash")?;
                    Ok::<_, sqlx::Error>(ExportEvent {
                        kind: "event",
                        position: row.try_get("position")?,
                        transaction_id: row.try_get("transaction_id")?,
                        aggregate_type: row.try_get("aggregate_type")?,
                        aggregate_id: row.try_get("aggregate_id")?,
                        sequence,
                        event_type: row.try_get("event_type")?,
                        event_version: row.try_get("event_version")?,
                        payload: serde_json::from_str(&row.try_get::<String, _>("payload")?)
                            .unwrap_or(Value::Null),
                        metadata: serde_json::from_str(&row.try_get::<String, _>("metadata")?)
                            .unwrap_or(Value::Null),
                        recorded_at: row.try_get("recorded_at")?,
                        previous_hash: if sequence == 1 {
                            Some(super::hash::GENESIS.to_owned())
                        } else {
                            previous
                        },
                        event_hash: row.try_get("event_hash")?,
                        chain_hash: row.try_get("chain_hash")?,
                        chain_count: row.try_get("chain_count")?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(rows)
    }

    /// Writes the export to `out`; returns the number of events written.
    pub async fn export_audit_trail(
        &self,
        filter: &ExportFilter,
        format: ExportFormat,
        exported_at: &str,
        out: &mut (dyn Write + Send),
    ) -> Result<u64, ExportError> {
        // CSV text cells are guarded against formula injection (a leading `'` before `=`, `+`,
        // `-`, `@`, tab or carriage return; only a slug id starting with `-` can meet it here),
        // which `scripts/verify-audit-export.py` removes again before hashing.
        let mut sink = match format {
            ExportFormat::Ndjson => {
                let header = serde_json::json!({
                    "kind": "header",
                    "format": FORMAT,
                    "version": VERSION,
                    "exported_at": exported_at,
                    "filters": filter,
                    "complete": filter.is_empty(),
                    "hashing": "see docs/AUDIT.md: canonical JSON, SHA-256, caseledger-event-v1 / chain-v1 / digest-v1",
                });
                writeln!(out, "{header}")?;
                Sink::Ndjson(out)
            }
            ExportFormat::Csv => {
                let mut csv = CsvWriter::new(out, LineEnd::Lf);
                csv.row(&CSV_COLUMNS.map(Cell::Text))?;
                Sink::Csv(Box::new(csv))
            }
        };
        let mut after = FeedPosition::BEFORE_ALL;
        let mut written = 0;
        loop {
            let events = self.export_batch(filter, after).await?;
            let Some(last) = events.last() else { break };
            after = FeedPosition {
                transaction_id: last.transaction_id,
                position: last.position,
            };
            for event in &events {
                match &mut sink {
                    Sink::Ndjson(out) => writeln!(
                        out,
                        "{}",
                        serde_json::to_string(event).map_err(StoreError::from)?
                    )?,
                    Sink::Csv(csv) => {
                        let optional = |value: &Option<String>| value.clone().unwrap_or_default();
                        let position = event.position.to_string();
                        let transaction_id = event.transaction_id.to_string();
                        let sequence = event.sequence.to_string();
                        let payload = canonical_json(&event.payload);
                        let metadata = canonical_json(&event.metadata);
                        let previous_hash = optional(&event.previous_hash);
                        let event_hash = optional(&event.event_hash);
                        let chain_hash = optional(&event.chain_hash);
                        let chain_count =
                            event.chain_count.map(|n| n.to_string()).unwrap_or_default();
                        csv.row(&[
                            Cell::Number(&position),
                            Cell::Number(&transaction_id),
                            Cell::Text(&event.aggregate_type),
                            Cell::Text(&event.aggregate_id),
                            Cell::Number(&sequence),
                            Cell::Text(&event.event_type),
                            Cell::Text(&event.event_version),
                            Cell::Text(&payload),
                            Cell::Text(&metadata),
                            Cell::Text(&event.recorded_at),
                            Cell::Text(&previous_hash),
                            Cell::Text(&event_hash),
                            Cell::Text(&chain_hash),
                            Cell::Number(&chain_count),
                        ])?;
                    }
                }
                written += 1;
            }
        }
        match sink {
            Sink::Ndjson(out) => {
                for digest in self.all_audit_digests().await? {
                    let mut line = serde_json::to_value(&digest).map_err(StoreError::from)?;
                    line["kind"] = Value::from("digest");
                    writeln!(out, "{line}")?;
                }
                out.flush()?;
            }
            Sink::Csv(csv) => csv.finish()?.flush()?,
        }
        Ok(written)
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the output failed.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for ExportError {
    fn from(error: sqlx::Error) -> Self {
        ExportError::Store(StoreError::Sql(error))
    }
}

//! Bulk event generation: case streams written straight into the events table, much faster than
//! through the API, with valid payloads (serialised from the domain's own `CaseEvent`, so the
//! aggregate and the projections read them like any other) and valid event hashes (the store's
//! `event_hash`, chained per stream, so `caseledger audit verify` accepts them). `position` is
//! left to the database (a bigserial on PostgreSQL, the trigger on SQLite).

use anyhow::{anyhow, Context, Result};
use caseledger_domain::case::{CaseEvent, CaseSource, Resolution, Satisfaction, Urgency};
use caseledger_domain::{CaseId, DepartmentId, Role, SubjectId, UserId};
use caseledger_store::audit::hash::{event_hash, EventFields, GENESIS};
use caseledger_store::{Database, PgStore};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

const AGGREGATE_TYPE: &str = "EnterpriseCase";
/// Rows per INSERT statement (8 parameters each, far below both backends' limits).
const ROWS_PER_STATEMENT: usize = 500;
/// Rows per transaction.
const ROWS_PER_TRANSACTION: usize = 20_000;

/// One event row, hashed.
pub struct EventRow {
    aggregate_type: &'static str,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    payload: Value,
    metadata: Value,
    hash: String,
}

#[cfg(test)]
impl EventRow {
    /// The stream type.
    pub fn aggregate_type(&self) -> &str {
        self.aggregate_type
    }

    /// The serialised event.
    pub fn payload(&self) -> &Value {
        &self.payload
    }
}

fn user(name: &str) -> Result<UserId> {
    UserId::parse(name).ok_or_else(|| anyhow!("invalid user id {name:?}"))
}

/// Metadata as the server writes it for an actor (`roles` comma-separated, `org` the department
/// or enterprise acted for).
pub fn metadata(actor: &str, roles: &str, org: Option<&str>, at: DateTime<Utc>) -> Value {
    let mut metadata = json!({
        "actor_sub": actor,
        "actor_roles": roles,
        "occurred_at": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    });
    if let (Some(org), Some(object)) = (org, metadata.as_object_mut()) {
        object.insert("actor_org".into(), json!(org));
    }
    metadata
}

/// The events of one case: registered, dispatched, accepted, `n_notes` internal notes, and, when
/// `finish`, responded, rated and closed. Returns the case id and its rows.
pub fn case_stream(
    n_notes: usize,
    finish: bool,
    at: DateTime<Utc>,
) -> Result<(String, Vec<EventRow>)> {
    let case_id = CaseId::from_uuid(uuid::Uuid::now_v7());
    let lead = DepartmentId::parse("dept-commerce").context("department id")?;
    let mut events: Vec<(CaseEvent, Value)> = vec![
        (
            CaseEvent::CaseRegistered {
                case_id,
                enterprise_id: SubjectId::parse("ent-0001").context("enterprise id")?,
                title: "贷款贴息兑现慢".into(),
                description: "企业反映贴息资金迟迟未到账，影响下一季度的设备采购计划。".into(),
                category: "financing".into(),
                urgency: Urgency::Normal,
                source: CaseSource::LiaisonVisit,
                registered_by: user("bench-liaison")?,
                registered_at: at,
                case_number: None,
                verifier_sha256: None,
            },
            metadata("bench-liaison", "liaison_officer", None, at),
        ),
        (
            CaseEvent::CaseDispatched {
                lead_department: lead.clone(),
                co_departments: vec![DepartmentId::parse("dept-finance").context("department id")?],
                note: None,
                sla_policy_version: "bench".into(),
                accept_due: at + Duration::hours(24),
                respond_due: at + Duration::hours(240),
                dispatched_by: user("bench-dispatcher")?,
                dispatched_at: at,
                first_contact_due: None,
                resolve_due: None,
                sla_rule: None,
            },
            metadata("bench-dispatcher", "dispatcher", None, at),
        ),
        (
            CaseEvent::CaseAccepted {
                department: lead.clone(),
                accepted_by: user("bench-handler")?,
                accepted_at: at,
            },
            metadata(
                "bench-handler",
                "department_handler",
                Some("dept-commerce"),
                at,
            ),
        ),
    ];
    for note in 0..n_notes {
        events.push((
            CaseEvent::InternalNoteAdded {
                text: format!("第{note}次跟进：已电话联系企业，财政局正在走拨付流程。"),
                author: user("bench-dispatcher")?,
                author_org: None,
                added_at: at,
            },
            metadata("bench-dispatcher", "dispatcher", None, at),
        ));
    }
    if finish {
        events.push((
            CaseEvent::CaseResponded {
                department: lead,
                resolution: Resolution::Resolved,
                text: "已协调财政局完成拨付。".into(),
                basis: None,
                responded_by: user("bench-handler")?,
                responded_at: at,
                evidence: Vec::new(),
            },
            metadata(
                "bench-handler",
                "department_handler",
                Some("dept-commerce"),
                at,
            ),
        ));
        events.push((
            CaseEvent::CaseRated {
                satisfaction: Satisfaction::new(5).context("satisfaction")?,
                resolved: true,
                comment: None,
                rated_by: user("bench-enterprise")?,
                rated_as: Role::Enterprise,
                rated_at: at,
            },
            metadata("bench-enterprise", "enterprise", Some("ent-0001"), at),
        ));
        events.push((
            CaseEvent::CaseClosed {
                closed_by: user("bench-dispatcher")?,
                closed_at: at,
            },
            metadata("bench-dispatcher", "dispatcher", None, at),
        ));
    }
    let aggregate_id = case_id.to_string();
    let events = events
        .into_iter()
        .map(|(event, metadata)| {
            let payload = serde_json::to_value(&event).context("serialising an event")?;
            Ok((event.name(), payload, metadata))
        })
        .collect::<Result<Vec<_>>>()?;
    let rows = hashed_stream(AGGREGATE_TYPE, &aggregate_id, events);
    Ok((aggregate_id, rows))
}

/// The rows of one stream of `aggregate_type` from its events in order, as (event type,
/// serialised payload, metadata): sequence numbers from 1 and each event hash chained to the
/// previous one exactly as the server's event store does.
pub fn hashed_stream(
    aggregate_type: &'static str,
    aggregate_id: &str,
    events: Vec<(&str, Value, Value)>,
) -> Vec<EventRow> {
    let mut previous = GENESIS.to_owned();
    let mut rows = Vec::with_capacity(events.len());
    for (sequence, (event_type, payload, metadata)) in (1i64..).zip(events) {
        let hash = event_hash(
            &previous,
            EventFields {
                aggregate_type,
                aggregate_id,
                sequence,
                event_type,
                event_version: "1",
                payload: &payload,
                metadata: &metadata,
            },
        );
        previous.clone_from(&hash);
        rows.push(EventRow {
            aggregate_type,
            aggregate_id: aggregate_id.to_owned(),
            sequence,
            event_type: event_type.to_owned(),
            payload,
            metadata,
            hash,
        });
    }
    rows
}

/// Writes finished case lifecycles of 10 events each (3 notes) until `n_events` are stored
/// (the last case may be cut short, still valid: a prefix of a lifecycle).
pub async fn lifecycles(db: &Database, n_events: usize) -> Result<()> {
    let at = Utc::now();
    let mut pending = Vec::with_capacity(ROWS_PER_TRANSACTION + 10);
    let mut written = 0;
    while written < n_events {
        let (_, mut rows) = case_stream(3, true, at)?;
        rows.truncate(n_events - written);
        written += rows.len();
        pending.append(&mut rows);
        if pending.len() >= ROWS_PER_TRANSACTION {
            insert(db, &pending).await?;
            pending.clear();
        }
    }
    insert(db, &pending).await
}

/// Inserts `rows` in one transaction.
pub async fn insert(db: &Database, rows: &[EventRow]) -> Result<()> {
    const COLUMNS: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_hash) ";
    match db {
        Database::Postgres(PgStore { write: pool, .. }) => {
            let mut tx = pool.begin().await.context("beginning a transaction")?;
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                let mut query = sqlx::QueryBuilder::<sqlx::Postgres>::new(COLUMNS);
                query.push_values(chunk, |mut values, row| {
                    values
                        .push_bind(row.aggregate_type)
                        .push_bind(&row.aggregate_id)
                        .push_bind(row.sequence)
                        .push_bind(&row.event_type)
                        .push_bind("1")
                        .push_bind(&row.payload)
                        .push_bind(&row.metadata)
                        .push_bind(&row.hash);
                });
                query
                    .build()
                    .execute(&mut *tx)
                    .await
                    .context("inserting events")?;
            }
            tx.commit().await.context("committing events")?;
        }
        Database::Sqlite(caseledger_store::SqliteStore { write: pool, .. }) => {
            let mut tx = pool.begin().await.context("beginning a transaction")?;
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(COLUMNS);
                query.push_values(chunk, |mut values, row| {
                    values
                        .push_bind(row.aggregate_type)
                        .push_bind(row.aggregate_id.clone())
                        .push_bind(row.sequence)
                        .push_bind(row.event_type.clone())
                        .push_bind("1")
                        .push_bind(row.payload.to_string())
                        .push_bind(row.metadata.to_string())
                        .push_bind(row.hash.clone());
                });
                query
                    .build()
                    .execute(&mut *tx)
                    .await
                    .context("inserting events")?;
            }
            tx.commit().await.context("committing events")?;
        }
    }
    Ok(())
}

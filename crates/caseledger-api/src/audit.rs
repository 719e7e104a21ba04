//! Audit endpoints: the public digests outsiders pin, the auditor's event listing, and the
//! recording of private reads in the tamper-evident log.

use axum::extract::State;
use axum::Json;
use caseledger_domain::access::{AccessLog, RecordAccess};
use caseledger_domain::{Actor, Authored, Role};
use caseledger_store::audit::AuditEventFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::commands::{event_metadata, CommandHeaders};
use crate::error::{ApiError, Problem};
use crate::json::ApiQuery;
use crate::state::AppState;

/// Records that `actor` read private data, before the data is returned. If the record cannot be
/// written the read is refused: no private read goes unrecorded.
pub async fn record_access(
    state: &AppState,
    actor: &Actor,
    resource: &str,
    subject: &str,
    purpose: Option<String>,
) -> Result<(), ApiError> {
    let now = state.now();
    let access_id = uuid::Uuid::now_v7().to_string();
    let metadata = event_metadata(actor, now, &CommandHeaders::default());
    let command = Authored {
        actor: actor.clone(),
        at: now,
        command: RecordAccess {
            resource: resource.to_owned(),
            subject: subject.to_owned(),
            purpose,
        },
    };
    state
        .db
        .execute_cached::<AccessLog>(&state.aggregates, &access_id, command, None, metadata, &())
        .await
        .map_err(|error| match error {
            // A database outage refuses the read as unavailable (503, retry), like any other
            // storage failure; only a fault of the server's own is a 500.
            caseledger_store::ExecuteError::Store(error) => ApiError::from(error),
            error => ApiError::internal(format!("recording a private read: {error}")),
        })?;
    state.projector.wake();
    Ok(())
}

/// A published digest of the audit chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct DigestBody {
    /// 1, 2, 3, …
    pub digest_seq: i64,
    /// The previous digest's hash (64 zeros for the first).
    pub previous_digest_hash: String,
    /// The feed position of the last event it seals.
    pub up_to_position: i64,
    /// Events sealed from the start of the log.
    pub event_count: i64,
    /// The global chain hash after that event.
    pub chain_hash: String,
    /// When it was sealed.
    pub sealed_at: String,
    /// SHA-256 over the fields above (docs/AUDIT.md): the value to pin.
    pub digest_hash: String,
}

/// Digest paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DigestQuery {
    /// Only digests after this number.
    pub after: Option<i64>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// The audit chain's digests. Public: pin one, and `caseledger audit verify --pin SEQ:HASH` later
/// proves nothing before it changed.
#[utoipa::path(
    get, path = "/api/v1/public/audit/digests", tag = "audit",
    params(DigestQuery),
    responses((status = 200, description = "Digests, oldest first", body = [DigestBody]))
)]
pub async fn public_digests(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DigestQuery>,
) -> Result<Json<Vec<DigestBody>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "limit must be 1 to 1000",
        ));
    }
    let digests = state
        .db
        .audit_digests(query.after.unwrap_or(0), limit)
        .await?;
    Ok(Json(
        digests
            .into_iter()
            .map(|digest| DigestBody {
                digest_seq: digest.digest_seq,
                previous_digest_hash: digest.previous_digest_hash,
                up_to_position: digest.up_to_position,
                event_count: digest.event_count,
                chain_hash: digest.chain_hash,
                sealed_at: digest.sealed_at,
                digest_hash: digest.digest_hash,
            })
            .collect(),
    ))
}

/// Filters of the auditor's listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditEventsQuery {
    /// The acting user's id.
    pub actor: Option<String>,
    /// The organisation the actor acted for.
    pub department: Option<String>,
    /// `EnterpriseCase`, `AccessLog`, …
    pub aggregate_type: Option<String>,
    /// e.g. `CaseDispatched`.
    pub event_type: Option<String>,
    /// Recorded at or after (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Recorded before (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Why you read this (recorded in the access log).
    pub purpose: Option<String>,
}

/// One event for the auditor.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventBody {
    /// Feed position.
    pub position: i64,
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
    /// Who (`sub`), in which roles, for which organisation.
    pub actor: crate::cases::HistoryActorBody,
    /// When it happened (from the command).
    pub occurred_at: Option<String>,
    /// When the store recorded it.
    #[schema(format = DateTime)]
    pub recorded_at: String,
    /// The request that caused it.
    pub request_id: Option<String>,
    /// The event's data (the why: reasons, bases, comments).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// The event's hash in its stream's chain.
    pub event_hash: Option<String>,
}

/// A page of audit events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventsBody {
    /// Events in position order.
    pub items: Vec<AuditEventBody>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn timestamp(field: &str, text: &str) -> Result<String, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidQuery,
                format!("{field} must be an RFC 3339 time"),
            )
        })
}

/// Every event, filtered: who, what, when, why. Auditors and admins; each read is recorded.
#[utoipa::path(
    get, path = "/api/v1/audit/events", tag = "audit",
    params(AuditEventsQuery),
    responses(
        (status = 200, description = "A page of events", body = AuditEventsBody),
        (status = 400, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an auditor or admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn audit_events(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<AuditEventsQuery>,
) -> Result<Json<AuditEventsBody>, ApiError> {
    if !actor.has_any(&[Role::Auditor, Role::Admin]) {
        return Err(ApiError::new(
            ErrorCode::RoleNotAllowed,
            "the audit log is for auditors and admins",
        ));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "limit must be 1 to 500",
        ));
    }
    let after_position = query
        .cursor
        .as_deref()
        .map(|cursor| {
            cursor.parse::<i64>().map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidCursor,
                    "the cursor is not one this server gave",
                )
            })
        })
        .transpose()?;
    let filter = AuditEventFilter {
        actor: query.actor,
        department: query.department,
        aggregate_type: query.aggregate_type,
        event_type: query.event_type,
        from: query
            .from
            .as_deref()
            .map(|from| timestamp("from", from))
            .transpose()?,
        to: query
            .to
            .as_deref()
            .map(|to| timestamp("to", to))
            .transpose()?,
        after_position,
        limit,
    };
    let subject = format!("{filter:?}");
    record_access(&state, &actor, "audit_events", &subject, query.purpose).await?;
    let events = state.db.audit_events(&filter).await?;
    let next_cursor = (events.len() as i64 == limit)
        .then(|| events.last().map(|event| event.at.position.to_string()))
        .flatten();
    let items = events
        .into_iter()
        .map(|event| {
            let metadata = crate::cases::EventMetadata::parse(&event.metadata);
            AuditEventBody {
                position: event.at.position,
                aggregate_type: event.aggregate_type,
                aggregate_id: event.aggregate_id,
                sequence: event.sequence,
                event_type: event.event_type,
                event_version: event.event_version,
                actor: metadata.actor(),
                occurred_at: metadata.text("occurred_at"),
                recorded_at: event.recorded_at,
                request_id: metadata.text("request_id"),
                payload: serde_json::from_str(&event.payload).unwrap_or(serde_json::Value::Null),
                event_hash: event.event_hash,
            }
        })
        .collect();
    Ok(Json(AuditEventsBody { items, next_cursor }))
}

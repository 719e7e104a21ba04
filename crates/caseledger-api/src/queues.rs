//! Work queues over the `cases` projection: a department's queue sorted by due time, the
//! dispatcher's unassigned and overdue lists, and the public status lookup by case number and
//! verifier code.

use axum::extract::{Path, State};
use axum::Json;
use caseledger_app::facts::verifier_hash;
use caseledger_domain::case::CaseStatus;
use caseledger_domain::{Actor, Role};
use caseledger_store::cases::{CaseView, QueueFilter, OPEN_STATUSES};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::cases::{time, CaseBody};
use crate::codes::ErrorCode;
use crate::error::{ApiError, Problem};
use crate::json::{ApiJson, ApiQuery};
use crate::reads::wait_for_projection;
use crate::state::AppState;

/// Roles that see every queue.
const DISTRICT_READERS: &[Role] = &[
    Role::Dispatcher,
    Role::DistrictLeader,
    Role::LiaisonOfficer,
    Role::Auditor,
    Role::Admin,
];

/// Queue parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// At most this many cases (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Only cases with a passed open deadline.
    #[serde(default)]
    pub overdue_only: bool,
    /// Wait (up to 5 s) until the queue includes the event at this position (from a command
    /// answer).
    pub min_position: Option<i64>,
}

/// Overdue-list parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OverdueQuery {
    /// Only cases this department leads.
    #[param(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub department: Option<String>,
    /// At most this many cases (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Wait (up to 5 s) until the list includes the event at this position (from a command
    /// answer).
    pub min_position: Option<i64>,
}

/// A queue of cases, the most urgent first.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueBody {
    /// What the queue holds, e.g. `department:dept-commerce`, `unassigned`, `overdue`.
    pub queue: String,
    /// The time the queue was computed at (overdue is relative to it).
    pub as_of: String,
    /// Cases with a passed open deadline among `items`.
    pub overdue_count: usize,
    /// Cases sorted by their earliest open deadline, then by registration; cases without a
    /// running deadline last.
    pub items: Vec<CaseBody>,
}

fn limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(100);
    if (1..=500).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "limit must be 1 to 500",
        ))
    }
}

fn require_district_reader(actor: &Actor) -> Result<(), ApiError> {
    if actor.has_any(DISTRICT_READERS) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::RoleNotAllowed,
            "this list is for the dispatcher and district staff",
        ))
    }
}

fn queue_body(state: &AppState, queue: String, views: Vec<CaseView>) -> QueueBody {
    let now = state.now();
    let items: Vec<CaseBody> = views
        .into_iter()
        .map(|view| CaseBody::from_view(view, true, now))
        .collect();
    QueueBody {
        queue,
        as_of: time(now),
        overdue_count: items.iter().filter(|item| !item.overdue.is_empty()).count(),
        items,
    }
}

/// A department's queue: the open cases it leads, the most urgent first. Department staff see
/// only their own department's queue.
#[utoipa::path(
    get, path = "/api/v1/queues/department/{department_id}", tag = "queues",
    params(("department_id" = String, Path, description = "The department"), QueueQuery),
    responses(
        (status = 200, description = "The queue", body = QueueBody),
        (status = 403, description = "Another department's queue, or a role without case access", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown department", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`projection_behind`: min_position not reached in time", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn department_queue(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(department_id): Path<String>,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<Json<QueueBody>, ApiError> {
    let limit = limit(query.limit)?;
    let known = caseledger_domain::DepartmentId::parse(department_id.as_str())
        .ok()
        .and_then(|id| state.reference.department(&id).map(|_| id));
    let Some(department) = known else {
        return Err(ApiError::new(
            ErrorCode::DepartmentNotFound,
            "no department with this id",
        ));
    };
    let own_department = actor.has_any(&[Role::DepartmentHandler, Role::DepartmentHead])
        && actor.acts_for(department.as_str());
    if !own_department {
        require_district_reader(&actor).map_err(|_| {
            ApiError::new(
                ErrorCode::DepartmentNotAllowed,
                "you may see only your own department's queue",
            )
        })?;
    }
    let filter = QueueFilter {
        lead_department: Some(department.to_string()),
        statuses: vec![
            CaseStatus::Dispatched,
            CaseStatus::Accepted,
            CaseStatus::Paused,
            CaseStatus::Responded,
        ],
        due_by: query.overdue_only.then(|| state.now()),
        limit,
        ..QueueFilter::default()
    };
    wait_for_projection(&state, "cases", query.min_position).await?;
    let views = state.db.case_queue(&filter).await?;
    Ok(Json(queue_body(
        &state,
        format!("department:{department}"),
        views,
    )))
}

/// The dispatcher's unassigned list: registered cases (new, or returned to the dispatcher)
/// waiting for dispatch, the most urgent first.
#[utoipa::path(
    get, path = "/api/v1/queues/unassigned", tag = "queues",
    params(QueueQuery),
    responses(
        (status = 200, description = "The list", body = QueueBody),
        (status = 403, description = "Not district staff", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`projection_behind`: min_position not reached in time", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn unassigned_queue(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<Json<QueueBody>, ApiError> {
    require_district_reader(&actor)?;
    let filter = QueueFilter {
        statuses: vec![CaseStatus::Registered],
        due_by: query.overdue_only.then(|| state.now()),
        limit: limit(query.limit)?,
        ..QueueFilter::default()
    };
    wait_for_projection(&state, "cases", query.min_position).await?;
    let views = state.db.case_queue(&filter).await?;
    Ok(Json(queue_body(&state, "unassigned".into(), views)))
}

/// The dispatcher's overdue list: open cases with a passed open deadline, the most overdue first.
#[utoipa::path(
    get, path = "/api/v1/queues/overdue", tag = "queues",
    params(OverdueQuery),
    responses(
        (status = 200, description = "The list", body = QueueBody),
        (status = 403, description = "Not district staff", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`projection_behind`: min_position not reached in time", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn overdue_queue(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<OverdueQuery>,
) -> Result<Json<QueueBody>, ApiError> {
    require_district_reader(&actor)?;
    let filter = QueueFilter {
        lead_department: query.department.clone(),
        statuses: OPEN_STATUSES.to_vec(),
        due_by: Some(state.now()),
        limit: limit(query.limit)?,
        ..QueueFilter::default()
    };
    wait_for_projection(&state, "cases", query.min_position).await?;
    let views = state.db.case_queue(&filter).await?;
    Ok(Json(queue_body(&state, "overdue".into(), views)))
}

// ---------------------------------------------------------------------------------------------
// Public status lookup

/// A status lookup: the case number and the verifier code handed to the enterprise.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusLookupRequest {
    /// The case number, e.g. `C20261124-123456`.
    pub case_number: String,
    /// The verifier code from the registration (case-insensitive).
    pub verifier: String,
}

/// An update as the public sees it: under the department's name, never an officer's.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicUpdateEntry {
    /// The department's name.
    pub department: String,
    /// The update.
    pub text: String,
    /// When (RFC 3339).
    #[schema(format = DateTime)]
    pub posted_at: String,
}

/// What the public may know of a case: its status and public updates, nothing else.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicStatusBody {
    /// The case number.
    pub case_number: String,
    /// `registered`, `dispatched`, `accepted`, `paused`, `responded`, `closed`, `declined`,
    /// `withdrawn` or `merged`.
    #[schema(value_type = crate::schema::CaseStatus)]
    pub status: String,
    /// The date the case was registered (China Standard Time).
    #[schema(format = Date)]
    pub registered_on: String,
    /// When it last changed (RFC 3339).
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Updates posted under the departments' names.
    pub public_updates: Vec<PublicUpdateEntry>,
}

fn lookup_failed() -> ApiError {
    ApiError::new(
        ErrorCode::CaseNotFound,
        "no case with this number and verifier code",
    )
}

/// Compares two hex digests without an early exit.
fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Public status of a case by its number and verifier code, without login. A wrong number and a
/// wrong code get the same 404, so the lookup reveals nothing about which cases exist. The code
/// travels in the body, not the URL, so it stays out of access logs.
#[utoipa::path(
    post, path = "/api/v1/public/case-status", tag = "public",
    request_body = StatusLookupRequest,
    responses(
        (status = 200, description = "Status and public updates", body = PublicStatusBody),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No case with this number and code", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn public_case_status(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<StatusLookupRequest>,
) -> Result<Json<PublicStatusBody>, ApiError> {
    let number = body.case_number.trim();
    if number.is_empty() || number.len() > 64 || body.verifier.len() > 64 {
        return Err(lookup_failed());
    }
    let hash = verifier_hash(&body.verifier);
    let view = state
        .db
        .cases_by_number(number)
        .await?
        .into_iter()
        .find(|view| {
            view.verifier_sha256
                .as_deref()
                .is_some_and(|stored| same_digest(stored, &hash))
        })
        .ok_or_else(lookup_failed)?;
    let cst = chrono::FixedOffset::east_opt(8 * 3600).expect("a valid offset");
    Ok(Json(PublicStatusBody {
        case_number: number.to_owned(),
        status: view.status.as_str().to_owned(),
        registered_on: view
            .registered_at
            .with_timezone(&cst)
            .format("%Y-%m-%d")
            .to_string(),
        updated_at: time(view.updated_at),
        public_updates: view
            .public_updates
            .iter()
            .map(|update| PublicUpdateEntry {
                department: caseledger_domain::DepartmentId::parse(update.department.as_str())
                    .ok()
                    .and_then(|id| state.reference.department(&id))
                    .map_or_else(|| update.department.clone(), |d| d.name.clone()),
                text: caseledger_domain::privacy::mask_personal_data(&update.text),
                posted_at: time(update.posted_at),
            })
            .collect(),
    }))
}

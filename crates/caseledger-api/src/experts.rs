//! `/api/v1/experts`: the expert advisory pool (优秀专家顾问团). The panel secretary adds,
//! updates, suspends, reinstates and removes experts; every change is an event of the expert's
//! stream. The secretary, the auditor and district leaders read the pool; an expert reads their
//! own record and workload.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use caseledger_domain::expert::{Expert, ExpertCommand};
use caseledger_domain::subject::PersonName;
use caseledger_domain::text::LongText;
use caseledger_domain::{Actor, Discipline, ExpertId, Role, UnitId};
use caseledger_store::consultations::ExpertView;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::commands::{self};
use crate::error::{ApiError, Problem};
use crate::fields::Fields;
use crate::json::{ApiJson, ApiQuery};
use crate::reads::{time, wait_for_projection};
use crate::state::AppState;

const COLLECTION: &str = "/api/v1/experts";

/// Roles that read the whole pool.
const POOL_READERS: &[Role] = &[Role::PanelSecretary, Role::Auditor, Role::DistrictLeader];

/// An expert's profile: every field is given on add and on update (absent lists are empty).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpertProfileRequest {
    /// The expert's user id (add only; a lowercase slug, the `sub` of their `expert` token).
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub expert_id: Option<String>,
    /// Name (1 to 100 characters).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Disciplines (slugs such as `finance`), at least one.
    #[schema(min_items = 1)]
    pub disciplines: Vec<String>,
    /// The unit the expert works for (a slug: a department id, a subject id, any unit).
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub employer_unit: String,
    /// Requesting units (departments) the employer unit is subordinate to.
    #[serde(default)]
    pub subordinate_to: Vec<String>,
    /// Units the expert declared a conflict of interest with.
    #[serde(default)]
    pub conflicts: Vec<String>,
}

/// A reason.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// Why (1 to 20,000 characters).
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
}

/// No fields.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyRequest {}

/// One expert.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpertBody {
    /// The expert's user id.
    pub id: String,
    /// The stream's version (also the `ETag`).
    pub version: i64,
    /// `active`, `suspended` or `removed`.
    #[schema(value_type = crate::schema::ExpertStatus)]
    pub status: String,
    /// Why suspended or removed.
    pub status_reason: Option<String>,
    /// Name.
    pub name: String,
    /// Disciplines.
    pub disciplines: Vec<String>,
    /// Employer unit.
    pub employer_unit: String,
    /// Requesting units the employer is subordinate to.
    pub subordinate_to: Vec<String>,
    /// Declared conflicts.
    pub conflicts: Vec<String>,
    /// Added at.
    pub added_at: String,
    /// Last change.
    pub updated_at: String,
}

impl From<ExpertView> for ExpertBody {
    fn from(view: ExpertView) -> Self {
        let names = |set: &BTreeSet<UnitId>| set.iter().map(ToString::to_string).collect();
        Self {
            id: view.expert_id,
            version: view.version,
            status: view.status.as_str().to_owned(),
            status_reason: view.status_reason,
            name: view.profile.name,
            disciplines: view
                .profile
                .disciplines
                .iter()
                .map(ToString::to_string)
                .collect(),
            employer_unit: view.profile.employer_unit.to_string(),
            subordinate_to: names(&view.profile.subordinate_to),
            conflicts: names(&view.profile.conflicts),
            added_at: time(view.added_at),
            updated_at: time(view.updated_at),
        }
    }
}

/// The pool.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpertListBody {
    /// Experts by id.
    pub items: Vec<ExpertBody>,
}

/// An expert's workload.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkloadBody {
    /// The expert.
    pub expert_id: String,
    /// Seats waiting for the expert's answer (accept with the pledge, or decline).
    pub invited: i64,
    /// Accepted seats whose request is still open and which have no opinion of the expert.
    pub opinion_due: i64,
    /// Accepted seats whose request is still open, with an opinion.
    pub opinion_given: i64,
    /// Accepted seats on concluded, reported or closed requests.
    pub completed: i64,
    /// Declined seats.
    pub declined: i64,
    /// Recused seats (conflicts).
    pub recused: i64,
}

/// Pool filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExpertListQuery {
    /// `active`, `suspended` or `removed`.
    #[param(value_type = Option<crate::schema::ListedExpertStatus>)]
    pub status: Option<String>,
    /// Wait (up to 5 s) until the view includes the event at this position.
    pub min_position: Option<i64>,
}

/// Read-your-writes only.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MinPositionQuery {
    /// Wait (up to 5 s) until the view includes the event at this position.
    pub min_position: Option<i64>,
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::ExpertNotFound, "expert not found")
}

fn parse_expert_id(text: &str) -> Result<ExpertId, ApiError> {
    ExpertId::parse(text).map_err(|_| not_found())
}

/// Whether `actor` may read `expert_id`'s record: pool readers, and the expert themselves.
fn check_readable(actor: &Actor, expert_id: &ExpertId) -> Result<(), ApiError> {
    if actor.has_any(POOL_READERS) || actor.sub.as_str() == expert_id.as_str() {
        return Ok(());
    }
    if actor.has(Role::Expert) {
        return Err(not_found());
    }
    Err(ApiError::new(
        ErrorCode::RoleNotAllowed,
        "the expert pool is kept by the panel secretary",
    ))
}

async fn command_on_expert(
    state: &AppState,
    actor: Actor,
    headers: &HeaderMap,
    expert_id: &ExpertId,
    success_status: StatusCode,
    body: &impl Serialize,
    command: ExpertCommand,
) -> Result<Response, ApiError> {
    let path = match &command {
        ExpertCommand::Add { .. } => COLLECTION.to_owned(),
        other => format!("{COLLECTION}/{expert_id}/{}", other.name()),
    };
    let name = command.name();
    commands::execute::<Expert, _>(
        state,
        actor,
        headers,
        commands::Target {
            collection: COLLECTION,
            path,
            aggregate_id: expert_id.to_string(),
            name,
            success_status,
            created_id: None,
            receipt: None,
        },
        body,
        command,
    )
    .await
}

/// The parsed profile fields: name, disciplines, employer, subordinate-to, conflicts.
type Profile = (
    PersonName,
    BTreeSet<Discipline>,
    UnitId,
    BTreeSet<UnitId>,
    BTreeSet<UnitId>,
);

fn parse_profile(fields: &mut Fields, body: &ExpertProfileRequest) -> Option<Profile> {
    let name = fields.take("name", PersonName::parse(&body.name));
    if body.disciplines.is_empty() {
        fields.push("disciplines", "at least one discipline is required");
    }
    let mut disciplines = BTreeSet::new();
    for (i, text) in body.disciplines.iter().enumerate() {
        if let Some(discipline) = fields.take(
            &format!("disciplines[{i}]"),
            Discipline::parse(text.as_str()),
        ) {
            disciplines.insert(discipline);
        }
    }
    let employer_unit = fields.take("employer_unit", UnitId::parse(body.employer_unit.as_str()));
    let mut units = |field: &str, list: &[String]| {
        let mut set = BTreeSet::new();
        for (i, text) in list.iter().enumerate() {
            if let Some(unit) = fields.take(&format!("{field}[{i}]"), UnitId::parse(text.as_str()))
            {
                set.insert(unit);
            }
        }
        set
    };
    let subordinate_to = units("subordinate_to", &body.subordinate_to);
    let conflicts = units("conflicts", &body.conflicts);
    Some((
        name?,
        disciplines,
        employer_unit?,
        subordinate_to,
        conflicts,
    ))
}

fn missing() -> ApiError {
    ApiError::internal("validated fields missing")
}

/// Add an expert to the pool (panel secretary).
#[utoipa::path(
    post, path = "/api/v1/experts", tag = "consultations",
    request_body = ExpertProfileRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry safely")),
    responses(
        (status = 201, description = "Added", body = crate::commands::CommandAccepted),
        (status = 400, description = "Malformed JSON or an unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`expert_already_exists`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn add_expert(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ExpertProfileRequest>,
) -> Result<Response, ApiError> {
    let mut fields = Fields::default();
    let expert_id = match body.expert_id.as_deref() {
        Some(id) => fields.take("expert_id", ExpertId::parse(id)),
        None => {
            fields.push("expert_id", "required");
            None
        }
    };
    let profile = parse_profile(&mut fields, &body);
    fields.finish()?;
    let (Some(expert_id), Some((name, disciplines, employer_unit, subordinate_to, conflicts))) =
        (expert_id, profile)
    else {
        return Err(missing());
    };
    command_on_expert(
        &state,
        actor,
        &headers,
        &expert_id.clone(),
        StatusCode::CREATED,
        &body,
        ExpertCommand::Add {
            expert_id,
            name,
            disciplines,
            employer_unit,
            subordinate_to,
            conflicts,
        },
    )
    .await
}

/// Replace an expert's profile (panel secretary).
#[utoipa::path(
    post, path = "/api/v1/experts/{expert_id}/update", tag = "consultations",
    request_body = ExpertProfileRequest,
    params(("expert_id" = String, Path, description = "The expert's user id")),
    responses(
        (status = 200, description = "Updated", body = crate::commands::CommandAccepted),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`expert_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`, `expert_removed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update_expert(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(expert_id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ExpertProfileRequest>,
) -> Result<Response, ApiError> {
    let expert_id = parse_expert_id(&expert_id)?;
    let mut fields = Fields::default();
    if body.expert_id.is_some() {
        fields.push("expert_id", "the id is in the path and cannot change");
    }
    let profile = parse_profile(&mut fields, &body);
    fields.finish()?;
    let Some((name, disciplines, employer_unit, subordinate_to, conflicts)) = profile else {
        return Err(missing());
    };
    command_on_expert(
        &state,
        actor,
        &headers,
        &expert_id,
        StatusCode::OK,
        &body,
        ExpertCommand::Update {
            name,
            disciplines,
            employer_unit,
            subordinate_to,
            conflicts,
        },
    )
    .await
}

/// Suspend an expert: not drawn until reinstated (panel secretary).
#[utoipa::path(
    post, path = "/api/v1/experts/{expert_id}/suspend", tag = "consultations",
    request_body = ReasonRequest,
    params(("expert_id" = String, Path, description = "The expert's user id")),
    responses(
        (status = 200, description = "Suspended", body = crate::commands::CommandAccepted),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`expert_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`, `expert_not_active`, `expert_removed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn suspend_expert(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(expert_id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Response, ApiError> {
    let expert_id = parse_expert_id(&expert_id)?;
    let mut fields = Fields::default();
    let reason = fields.take("reason", LongText::parse(&body.reason));
    fields.finish()?;
    let reason = reason.ok_or_else(missing)?;
    command_on_expert(
        &state,
        actor,
        &headers,
        &expert_id,
        StatusCode::OK,
        &body,
        ExpertCommand::Suspend { reason },
    )
    .await
}

/// Reinstate a suspended expert (panel secretary). No body.
#[utoipa::path(
    post, path = "/api/v1/experts/{expert_id}/reinstate", tag = "consultations",
    params(("expert_id" = String, Path, description = "The expert's user id")),
    responses(
        (status = 200, description = "Reinstated", body = crate::commands::CommandAccepted),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`expert_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`expert_not_suspended`, `expert_removed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn reinstate_expert(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(expert_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expert_id = parse_expert_id(&expert_id)?;
    command_on_expert(
        &state,
        actor,
        &headers,
        &expert_id,
        StatusCode::OK,
        &EmptyRequest {},
        ExpertCommand::Reinstate,
    )
    .await
}

/// Remove an expert from the pool for good (panel secretary).
#[utoipa::path(
    post, path = "/api/v1/experts/{expert_id}/remove", tag = "consultations",
    request_body = ReasonRequest,
    params(("expert_id" = String, Path, description = "The expert's user id")),
    responses(
        (status = 200, description = "Removed", body = crate::commands::CommandAccepted),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`expert_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`, `expert_removed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn remove_expert(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(expert_id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Response, ApiError> {
    let expert_id = parse_expert_id(&expert_id)?;
    let mut fields = Fields::default();
    let reason = fields.take("reason", LongText::parse(&body.reason));
    fields.finish()?;
    let reason = reason.ok_or_else(missing)?;
    command_on_expert(
        &state,
        actor,
        &headers,
        &expert_id,
        StatusCode::OK,
        &body,
        ExpertCommand::Remove { reason },
    )
    .await
}

/// The pool (panel secretary, auditor, district leaders).
#[utoipa::path(
    get, path = "/api/v1/experts", tag = "consultations",
    params(ExpertListQuery),
    responses(
        (status = 200, description = "Experts by id", body = ExpertListBody),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_experts(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<ExpertListQuery>,
) -> Result<Json<ExpertListBody>, ApiError> {
    if !actor.has_any(POOL_READERS) {
        return Err(ApiError::new(
            ErrorCode::RoleNotAllowed,
            "the expert pool is read by the panel secretary, auditors and district leaders",
        ));
    }
    if let Some(status) = query.status.as_deref() {
        if !matches!(status, "active" | "suspended" | "removed") {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                "status must be active, suspended or removed",
            ));
        }
    }
    wait_for_projection(&state, "experts", query.min_position).await?;
    let experts = state.db.list_experts(query.status.as_deref()).await?;
    Ok(Json(ExpertListBody {
        items: experts.into_iter().map(ExpertBody::from).collect(),
    }))
}

/// One expert (pool readers, and the expert themselves).
#[utoipa::path(
    get, path = "/api/v1/experts/{expert_id}", tag = "consultations",
    params(("expert_id" = String, Path, description = "The expert's user id"), MinPositionQuery),
    responses(
        (status = 200, description = "The expert", body = ExpertBody),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`expert_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_expert(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(expert_id): Path<String>,
    ApiQuery(query): ApiQuery<MinPositionQuery>,
) -> Result<Json<ExpertBody>, ApiError> {
    let expert_id = parse_expert_id(&expert_id)?;
    check_readable(&actor, &expert_id)?;
    wait_for_projection(&state, "experts", query.min_position).await?;
    let view = state
        .db
        .expert_view(expert_id.as_str())
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(view.into()))
}

/// An expert's workload: invitations to answer, opinions due and given, completed requests.
#[utoipa::path(
    get, path = "/api/v1/experts/{expert_id}/workload", tag = "consultations",
    params(("expert_id" = String, Path, description = "The expert's user id"), MinPositionQuery),
    responses(
        (status = 200, description = "The workload", body = WorkloadBody),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`expert_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn expert_workload(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(expert_id): Path<String>,
    ApiQuery(query): ApiQuery<MinPositionQuery>,
) -> Result<Json<WorkloadBody>, ApiError> {
    let expert_id = parse_expert_id(&expert_id)?;
    check_readable(&actor, &expert_id)?;
    wait_for_projection(&state, "consultations", query.min_position).await?;
    if state.db.expert_view(expert_id.as_str()).await?.is_none() {
        return Err(not_found());
    }
    let workload = state.db.expert_workload(expert_id.as_str()).await?;
    Ok(Json(WorkloadBody {
        expert_id: expert_id.to_string(),
        invited: workload.invited,
        opinion_due: workload.opinion_due,
        opinion_given: workload.opinion_given,
        completed: workload.completed,
        declined: workload.declined,
        recused: workload.recused,
    }))
}

//! `/api/v1/experts`: the expert advisory pool (优秀专家顾问团). The panel secretary adds,
//! updates, suspends, reinstates and removes experts; every change is an event of the expert's
//! stream. The secretary, the auditor and district leaders read the pool; an expert reads their
//! own record and workload.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::Json;
use caseledger_domain::expert::{Expert, ExpertCommand};
use caseledger_domain::subject::PersonName;
use caseledger_domain::{Actor, Discipline, ExpertId, Role, UnitId};
use caseledger_store::consultations::ExpertView;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::endpoint::{command, CommandEndpoint, Input, NoBody, Prepared, ReasonRequest, Route};
use crate::error::{ApiError, Problem};
use crate::fields::Fields;
use crate::json::ApiQuery;
use crate::reads::{time, wait_for_projection};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

// ---------------------------------------------------------------------------------------------
// Commands: each one a [`CommandEndpoint`], run by the shared handler in `endpoint.rs`.

/// The route of a command on the pool.
const fn on_expert(path: &'static str, operation_id: &'static str, summary: &'static str) -> Route {
    Route {
        path,
        operation_id,
        tag: "consultations",
        summary,
    }
}

const NOT_FOUND: (u16, &str) = (404, "`expert_not_found`");

/// Add an expert.
pub struct AddExpert;

impl CommandEndpoint for AddExpert {
    type Aggregate = Expert;
    type Body = ExpertProfileRequest;
    const ROUTE: Route = on_expert(
        "/api/v1/experts",
        "add_expert",
        "Add an expert to the pool (panel secretary)",
    );
    const CREATES: bool = true;
    const REFUSALS: &'static [(u16, &'static str)] = &[(409, "`expert_already_exists`")];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<ExpertCommand>, ApiError> {
        let body = input.body;
        let (expert_id, command) = input.parse(|fields| {
            let expert_id = match body.expert_id.as_deref() {
                Some(id) => fields.take("expert_id", ExpertId::parse(id)),
                None => {
                    fields.push("expert_id", "required");
                    None
                }
            };
            let (name, disciplines, employer_unit, subordinate_to, conflicts) =
                parse_profile(fields, body)?;
            let expert_id = expert_id?;
            Some((
                expert_id.clone(),
                ExpertCommand::Add {
                    expert_id,
                    name,
                    disciplines,
                    employer_unit,
                    subordinate_to,
                    conflicts,
                },
            ))
        })?;
        Ok(Prepared::on(expert_id, command))
    }
}

/// Update an expert's profile.
pub struct UpdateExpert;

impl CommandEndpoint for UpdateExpert {
    type Aggregate = Expert;
    type Body = ExpertProfileRequest;
    const ROUTE: Route = on_expert(
        "/api/v1/experts/{expert_id}/update",
        "update_expert",
        "Replace an expert's profile (panel secretary)",
    );
    const REFUSALS: &'static [(u16, &'static str)] =
        &[NOT_FOUND, (422, "`validation_failed`, `expert_removed`")];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<ExpertCommand>, ApiError> {
        input.command(parse_expert_id, |fields, body| {
            if body.expert_id.is_some() {
                fields.push("expert_id", "the id is in the path and cannot change");
            }
            let (name, disciplines, employer_unit, subordinate_to, conflicts) =
                parse_profile(fields, body)?;
            Some(ExpertCommand::Update {
                name,
                disciplines,
                employer_unit,
                subordinate_to,
                conflicts,
            })
        })
    }
}

/// Suspend an expert.
pub struct SuspendExpert;

impl CommandEndpoint for SuspendExpert {
    type Aggregate = Expert;
    type Body = ReasonRequest;
    const ROUTE: Route = on_expert(
        "/api/v1/experts/{expert_id}/suspend",
        "suspend_expert",
        "Suspend an expert: not drawn until reinstated (panel secretary)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        NOT_FOUND,
        (
            422,
            "`validation_failed`, `expert_not_active`, `expert_removed`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<ExpertCommand>, ApiError> {
        input.reason(parse_expert_id, |reason| ExpertCommand::Suspend { reason })
    }
}

/// Reinstate an expert.
pub struct ReinstateExpert;

impl CommandEndpoint for ReinstateExpert {
    type Aggregate = Expert;
    type Body = NoBody;
    const ROUTE: Route = on_expert(
        "/api/v1/experts/{expert_id}/reinstate",
        "reinstate_expert",
        "Reinstate a suspended expert (panel secretary). No body",
    );
    const REFUSALS: &'static [(u16, &'static str)] =
        &[NOT_FOUND, (422, "`expert_not_suspended`, `expert_removed`")];

    async fn prepare(input: Input<'_, NoBody>) -> Result<Prepared<ExpertCommand>, ApiError> {
        input.on(parse_expert_id, ExpertCommand::Reinstate)
    }
}

/// Remove an expert.
pub struct RemoveExpert;

impl CommandEndpoint for RemoveExpert {
    type Aggregate = Expert;
    type Body = ReasonRequest;
    const ROUTE: Route = on_expert(
        "/api/v1/experts/{expert_id}/remove",
        "remove_expert",
        "Remove an expert from the pool for good (panel secretary)",
    );
    const REFUSALS: &'static [(u16, &'static str)] =
        &[NOT_FOUND, (422, "`validation_failed`, `expert_removed`")];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<ExpertCommand>, ApiError> {
        input.reason(parse_expert_id, |reason| ExpertCommand::Remove { reason })
    }
}

/// The expert-pool routes: every command once, and the reads.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(command::<AddExpert>())
        .routes(routes!(list_experts))
        .routes(routes!(get_expert))
        .routes(routes!(expert_workload))
        .routes(command::<UpdateExpert>())
        .routes(command::<SuspendExpert>())
        .routes(command::<ReinstateExpert>())
        .routes(command::<RemoveExpert>())
}

// ---------------------------------------------------------------------------------------------
// Reads

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

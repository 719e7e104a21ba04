//! `/api/v1/portfolios`: liaison portfolios (包联/挂点) of district leaders and departments:
//! assignments with a visit obligation, visits and the cases raised from them, and the visits
//! due and overdue as of a date.
//!
//! Handlers parse at the edge into domain types, look up what the domain cannot (whether a
//! subject is registered, which subject a case belongs to), and run commands through the shared
//! command path. Due and overdue are computed with the domain's `visit_status` from the facts
//! the store returns.
//!
//! Reads: district staff and auditors see every portfolio; department handlers and heads only
//! their department's (other portfolios are 404); everyone else gets 403.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use caseledger_domain::portfolio::{
    visit_status, LiaisonPortfolio, LinkedCase, PortfolioCommand, PortfolioOwner, VisitObligation,
    VisitStatus,
};
use caseledger_domain::subject::PersonName;
use caseledger_domain::text::Title;
use caseledger_domain::{Actor, CaseId, LeaderId, PortfolioId, Role, SubjectId, VisitId};
use caseledger_store::portfolios::{AssignmentFacts, AssignmentFilter, PortfolioView, VisitView};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::endpoint::{command, CommandEndpoint, Input, Prepared, Route};
use crate::error::{ApiError, Problem};
use crate::fields::{parse_date, Fields};
use crate::json::ApiQuery;
use crate::reads::{as_of, china_today, time, wait_for_projection};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where portfolios live.
const COLLECTION: &str = "/api/v1/portfolios";

/// Roles that read every portfolio.
const DISTRICT_READERS: &[Role] = &[
    Role::DistrictLeader,
    Role::LiaisonOfficer,
    Role::Dispatcher,
    Role::Auditor,
    Role::Admin,
];
const DEPARTMENT_ROLES: &[Role] = &[Role::DepartmentHandler, Role::DepartmentHead];

// ---------------------------------------------------------------------------------------------
// Request shapes

/// Create the portfolio of a leader or a department.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePortfolioRequest {
    /// `leader` or `department`.
    #[schema(value_type = crate::schema::OwnerKind, example = "leader")]
    pub owner_kind: String,
    /// The leader's user id (a lowercase slug, the token's `sub`) or a department id.
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub owner_id: String,
    /// The owner's display name (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub owner_name: String,
}

/// Assign a subject with a visit obligation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignSubjectRequest {
    /// A registered subject id.
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub subject_id: String,
    /// `monthly`, `quarterly`, `half_yearly` or `yearly`.
    #[schema(value_type = crate::schema::VisitObligation, example = "quarterly")]
    pub obligation: String,
    /// Since when the obligation runs (`YYYY-MM-DD`, China time, not in the future); default
    /// today.
    #[serde(default)]
    #[schema(format = Date)]
    pub assigned_on: Option<String>,
}

/// Take a subject out of the portfolio.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnassignSubjectRequest {
    /// The subject id.
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub subject_id: String,
    /// Why (1 to 20,000 characters).
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
}

/// Record a visit. The server chooses the visit id and returns it as `created_id`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordVisitRequest {
    /// The subject visited (must be assigned).
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub subject_id: String,
    /// The day of the visit (`YYYY-MM-DD`, China time, not in the future).
    #[schema(format = Date)]
    pub visited_on: String,
    /// Who took part: names or user ids (at least one, each 1 to 100 characters).
    #[schema(min_items = 1)]
    pub participants: Vec<String>,
    /// What was learned (1 to 20,000 characters).
    #[schema(min_length = 1, max_length = 20000)]
    pub learned: String,
    /// Cases raised at the visit and registered already (with `source: leader_visit` or
    /// `liaison_visit`); each must belong to the visited subject.
    #[serde(default)]
    pub case_ids: Vec<String>,
}

/// Link a case to an earlier visit.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkCaseRequest {
    /// The visit (its `created_id`).
    #[schema(format = Uuid)]
    pub visit_id: String,
    /// The case.
    #[schema(format = Uuid)]
    pub case_id: String,
}

// ---------------------------------------------------------------------------------------------
// Response shapes

/// One assigned subject and where it stands on `as_of`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentBody {
    /// The subject.
    pub subject_id: String,
    /// Its name (absent while the subjects view has not caught up).
    pub subject_name: Option<String>,
    /// `monthly`, `quarterly`, `half_yearly` or `yearly`.
    #[schema(value_type = crate::schema::VisitObligation)]
    pub obligation: String,
    /// Since when the obligation runs.
    #[schema(format = Date)]
    pub assigned_on: String,
    /// The latest visit on or before `as_of`.
    pub last_visit_on: Option<String>,
    /// First day of the obligation period containing `as_of`.
    #[schema(format = Date)]
    pub current_period_start: String,
    /// Last day of that period.
    #[schema(format = Date)]
    pub current_period_end: String,
    /// When the next required visit is due.
    #[schema(format = Date)]
    pub due_on: String,
    /// Whether a required visit is missing (docs/DECISIONS.md).
    pub overdue: bool,
    /// When overdue: the required period that ended without a visit, first day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missed_period_start: Option<String>,
    /// When overdue: its last day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missed_period_end: Option<String>,
}

impl AssignmentBody {
    fn from_facts(facts: &AssignmentFacts, status: &VisitStatus) -> Self {
        Self {
            subject_id: facts.subject_id.clone(),
            subject_name: facts.subject_name.clone(),
            obligation: facts.obligation.as_str().to_owned(),
            assigned_on: facts.assigned_on.to_string(),
            last_visit_on: facts.last_visit_on.map(|date| date.to_string()),
            current_period_start: status.current_period.start.to_string(),
            current_period_end: status.current_period.end.to_string(),
            due_on: status.due_on.to_string(),
            overdue: status.overdue,
            missed_period_start: status.missed_period.map(|period| period.start.to_string()),
            missed_period_end: status.missed_period.map(|period| period.end.to_string()),
        }
    }
}

/// A portfolio with its assignments on `as_of`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortfolioBody {
    /// The portfolio id (`leader.<user id>` or `department.<department id>`).
    pub id: String,
    /// The portfolio's version (also the `ETag`).
    pub version: i64,
    /// `leader` or `department`.
    #[schema(value_type = crate::schema::OwnerKind)]
    pub owner_kind: String,
    /// The leader's user id or the department id.
    pub owner_id: String,
    /// The owner's display name.
    pub owner_name: String,
    /// Visits recorded so far.
    pub visit_count: u32,
    /// Created at (RFC 3339).
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Last change (RFC 3339).
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// The reference date of `subjects`.
    #[schema(format = Date)]
    pub as_of: String,
    /// Assigned subjects, by id.
    pub subjects: Vec<AssignmentBody>,
}

/// One portfolio in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortfolioSummaryBody {
    /// The portfolio id.
    pub id: String,
    /// The portfolio's version.
    pub version: i64,
    /// `leader` or `department`.
    #[schema(value_type = crate::schema::OwnerKind)]
    pub owner_kind: String,
    /// The leader's user id or the department id.
    pub owner_id: String,
    /// The owner's display name.
    pub owner_name: String,
    /// Subjects assigned now.
    pub subject_count: usize,
    /// Subjects overdue on `as_of`.
    pub overdue_count: usize,
    /// Visits recorded so far.
    pub visit_count: u32,
}

/// The portfolios.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortfolioListBody {
    /// The reference date of the overdue counts.
    #[schema(format = Date)]
    pub as_of: String,
    /// Portfolios by id.
    pub items: Vec<PortfolioSummaryBody>,
}

/// The overdue subjects of one leader or department.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueOwnerBody {
    /// The portfolio id.
    pub portfolio_id: String,
    /// `leader` or `department`.
    #[schema(value_type = crate::schema::OwnerKind)]
    pub owner_kind: String,
    /// The leader's user id or the department id.
    pub owner_id: String,
    /// The owner's display name.
    pub owner_name: String,
    /// The overdue subjects, by id.
    pub overdue: Vec<AssignmentBody>,
}

/// Overdue visits per leader and department.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueVisitsBody {
    /// The reference date.
    #[schema(format = Date)]
    pub as_of: String,
    /// Owners with at least one overdue subject, leaders first, then by portfolio id.
    pub owners: Vec<OverdueOwnerBody>,
}

/// One visit.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitBody {
    /// The visit id.
    #[schema(format = Uuid)]
    pub id: String,
    /// The subject visited.
    pub subject_id: String,
    /// The day of the visit.
    #[schema(format = Date)]
    pub visited_on: String,
    /// Who took part.
    pub participants: Vec<String>,
    /// What was learned.
    pub learned: String,
    /// Cases raised from it.
    pub case_ids: Vec<String>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When (RFC 3339).
    #[schema(format = DateTime)]
    pub recorded_at: String,
}

impl From<VisitView> for VisitBody {
    fn from(visit: VisitView) -> Self {
        Self {
            id: visit.visit_id,
            subject_id: visit.subject_id,
            visited_on: visit.visited_on.to_string(),
            participants: visit.participants,
            learned: visit.learned,
            case_ids: visit.case_ids,
            recorded_by: visit.recorded_by,
            recorded_at: time(visit.recorded_at),
        }
    }
}

/// The visits of a portfolio.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitListBody {
    /// The portfolio id.
    pub portfolio_id: String,
    /// Visits, latest visit date first.
    pub items: Vec<VisitBody>,
}

// ---------------------------------------------------------------------------------------------
// Visibility and look-ups

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::PortfolioNotFound, "portfolio not found")
}

fn parse_portfolio_id(text: &str) -> Result<PortfolioId, ApiError> {
    PortfolioId::parse(text).map_err(|_| not_found())
}

/// The one portfolio a reader is limited to (`None`: all), or 403 for a role without access.
fn readable_scope(actor: &Actor) -> Result<Option<String>, ApiError> {
    if actor.has_any(DISTRICT_READERS) {
        return Ok(None);
    }
    if actor.has_any(DEPARTMENT_ROLES) {
        let org = actor.org.as_deref().ok_or_else(|| {
            ApiError::new(ErrorCode::NoDepartment, "your token names no department")
        })?;
        return Ok(Some(format!("department.{org}")));
    }
    Err(ApiError::new(
        ErrorCode::RoleNotAllowed,
        "this role has no access to liaison portfolios",
    ))
}

/// Whether `actor` may read `portfolio_id`: 404 when not (department staff do not learn which
/// other portfolios exist), 403 for a role without access.
fn check_readable(actor: &Actor, portfolio_id: &PortfolioId) -> Result<(), ApiError> {
    match readable_scope(actor)? {
        Some(own) if own != portfolio_id.as_str() => Err(not_found()),
        _ => Ok(()),
    }
}

fn parse_owner_kind(text: Option<&str>) -> Result<Option<String>, ApiError> {
    match text {
        None => Ok(None),
        Some(kind @ ("leader" | "department")) => Ok(Some(kind.to_owned())),
        Some(other) => Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("owner_kind must be leader or department, not {other:?}"),
        )),
    }
}

/// Parses a case id and looks up its subject; problems are field errors.
async fn linked_case(
    state: &AppState,
    fields: &mut Fields,
    field: &str,
    text: &str,
) -> Result<Option<LinkedCase>, ApiError> {
    let Some(case_id) = fields.take(field, CaseId::parse(text.trim())) else {
        return Ok(None);
    };
    match state.case_subject(&case_id).await? {
        Some(enterprise_id) => Ok(Some(LinkedCase {
            case_id,
            enterprise_id,
        })),
        None => {
            fields.push(field, format!("unknown case {case_id}"));
            Ok(None)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Commands: each one a [`CommandEndpoint`], run by the shared handler in `endpoint.rs`.

const fn on_portfolio(
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        path,
        operation_id,
        tag: "portfolios",
        summary,
    }
}

fn missing() -> ApiError {
    ApiError::internal("validated fields missing")
}

/// Create a portfolio.
pub struct CreatePortfolio;

impl CommandEndpoint for CreatePortfolio {
    type Aggregate = LiaisonPortfolio;
    type Body = CreatePortfolioRequest;
    const ROUTE: Route = on_portfolio(
        COLLECTION,
        "create_portfolio",
        "Create the portfolio of a leader or a department (dispatchers; a leader only their own); `Location` names the derived id",
    );
    const CREATES: bool = true;
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (403, "`role_not_allowed` or `not_own_portfolio`"),
        (409, "`portfolio_already_exists`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<PortfolioCommand>, ApiError> {
        let (state, body) = (input.state, input.body);
        let (owner, owner_name) = input.parse(|fields| {
            let owner = match body.owner_kind.as_str() {
                "leader" => fields
                    .take("owner_id", LeaderId::parse(body.owner_id.as_str()))
                    .map(|user_id| PortfolioOwner::Leader { user_id }),
                "department" => fields
                    .department("owner_id", state, &body.owner_id)
                    .map(|department_id| PortfolioOwner::Department { department_id }),
                _ => {
                    fields.push("owner_kind", "must be leader or department");
                    None
                }
            };
            let owner_name = fields.take("owner_name", Title::parse(&body.owner_name));
            Some((owner?, owner_name?))
        })?;
        Ok(Prepared::on(
            owner.portfolio_id(),
            PortfolioCommand::Create { owner, owner_name },
        ))
    }
}

/// Assign a subject.
pub struct AssignSubject;

impl CommandEndpoint for AssignSubject {
    type Aggregate = LiaisonPortfolio;
    type Body = AssignSubjectRequest;
    const ROUTE: Route = on_portfolio(
        "/api/v1/portfolios/{portfolio_id}/assign-subject",
        "assign_subject",
        "Assign a registered subject with a visit obligation",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (403, "`not_portfolio_member` or `role_not_allowed`"),
        (404, "`portfolio_not_found`"),
        (
            422,
            "`validation_failed` (also an unknown subject), `subject_already_assigned`, `assignment_date_in_future`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<PortfolioCommand>, ApiError> {
        let (state, body) = (input.state, input.body);
        let portfolio_id = parse_portfolio_id(input.id())?;
        let mut fields = Fields::default();
        let subject_id = fields.take("subject_id", SubjectId::parse(body.subject_id.as_str()));
        if let Some(id) = &subject_id {
            if !state.subject_exists(id).await? {
                fields.push("subject_id", format!("unknown subject {id}"));
            }
        }
        let obligation = fields.take(
            "obligation",
            VisitObligation::parse(&body.obligation)
                .ok_or("must be monthly, quarterly, half_yearly or yearly"),
        );
        let assigned_on = match body.assigned_on.as_deref() {
            None => Some(china_today(state.now())),
            Some(text) => fields.take("assigned_on", parse_date(text)),
        };
        fields.finish()?;
        let (Some(subject_id), Some(obligation), Some(assigned_on)) =
            (subject_id, obligation, assigned_on)
        else {
            return Err(missing());
        };
        Ok(Prepared::on(
            portfolio_id,
            PortfolioCommand::AssignSubject {
                subject_id,
                obligation,
                assigned_on,
            },
        ))
    }
}

/// Take a subject out of a portfolio.
pub struct UnassignSubject;

impl CommandEndpoint for UnassignSubject {
    type Aggregate = LiaisonPortfolio;
    type Body = UnassignSubjectRequest;
    const ROUTE: Route = on_portfolio(
        "/api/v1/portfolios/{portfolio_id}/unassign-subject",
        "unassign_subject",
        "Take a subject out of the portfolio, with a reason",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (403, "`not_portfolio_member` or `role_not_allowed`"),
        (404, "`portfolio_not_found`"),
        (422, "`validation_failed` or `subject_not_assigned`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<PortfolioCommand>, ApiError> {
        let body = input.body;
        let portfolio_id = parse_portfolio_id(input.id())?;
        let command = input.parse(|fields| {
            let subject_id = fields.take("subject_id", SubjectId::parse(body.subject_id.as_str()));
            let reason = fields.long("reason", &body.reason);
            Some(PortfolioCommand::UnassignSubject {
                subject_id: subject_id?,
                reason: reason?,
            })
        })?;
        Ok(Prepared::on(portfolio_id, command))
    }
}

/// Record a visit.
pub struct RecordVisit;

impl CommandEndpoint for RecordVisit {
    type Aggregate = LiaisonPortfolio;
    type Body = RecordVisitRequest;
    const ROUTE: Route = on_portfolio(
        "/api/v1/portfolios/{portfolio_id}/record-visit",
        "record_visit",
        "Record a visit to an assigned subject, with the cases raised at it. The answer's `created_id` is the visit id",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (403, "`not_portfolio_member` or `role_not_allowed`"),
        (404, "`portfolio_not_found`"),
        (
            422,
            "`validation_failed` (also an unknown case), `subject_not_assigned`, `visit_date_in_future`, `visit_before_assignment`, `case_of_another_subject`, `case_already_linked`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<PortfolioCommand>, ApiError> {
        let (state, body) = (input.state, input.body);
        let portfolio_id = parse_portfolio_id(input.id())?;
        let mut fields = Fields::default();
        let subject_id = fields.take("subject_id", SubjectId::parse(body.subject_id.as_str()));
        let visited_on = fields.take("visited_on", parse_date(&body.visited_on));
        if body.participants.is_empty() {
            fields.push("participants", "at least one participant is required");
        }
        let mut participants = Vec::with_capacity(body.participants.len());
        for (i, participant) in body.participants.iter().enumerate() {
            if let Some(name) = fields.take(
                &format!("participants[{i}]"),
                PersonName::parse(participant),
            ) {
                participants.push(name);
            }
        }
        let learned = fields.long("learned", &body.learned);
        let mut cases = Vec::with_capacity(body.case_ids.len());
        for (i, case_id) in body.case_ids.iter().enumerate() {
            if let Some(case) =
                linked_case(state, &mut fields, &format!("case_ids[{i}]"), case_id).await?
            {
                cases.push(case);
            }
        }
        fields.finish()?;
        let (Some(subject_id), Some(visited_on), Some(learned)) = (subject_id, visited_on, learned)
        else {
            return Err(missing());
        };
        let visit_id = VisitId::from_uuid(uuid::Uuid::now_v7());
        let command = PortfolioCommand::RecordVisit {
            visit_id,
            subject_id,
            visited_on,
            participants,
            learned,
            cases,
        };
        Ok(Prepared::on(portfolio_id, command).created(visit_id))
    }
}

/// Link a case to an earlier visit.
pub struct LinkCase;

impl CommandEndpoint for LinkCase {
    type Aggregate = LiaisonPortfolio;
    type Body = LinkCaseRequest;
    const ROUTE: Route = on_portfolio(
        "/api/v1/portfolios/{portfolio_id}/link-case",
        "link_case",
        "Link a case raised from an earlier visit",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (403, "`not_portfolio_member` or `role_not_allowed`"),
        (404, "`portfolio_not_found` or `visit_not_found`"),
        (
            422,
            "`validation_failed` (also an unknown case), `case_of_another_subject`, `case_already_linked`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<PortfolioCommand>, ApiError> {
        let (state, body) = (input.state, input.body);
        let portfolio_id = parse_portfolio_id(input.id())?;
        let mut fields = Fields::default();
        let visit_id = fields.take("visit_id", VisitId::parse(body.visit_id.trim()));
        let case = linked_case(state, &mut fields, "case_id", &body.case_id).await?;
        fields.finish()?;
        let (Some(visit_id), Some(case)) = (visit_id, case) else {
            return Err(missing());
        };
        Ok(Prepared::on(
            portfolio_id,
            PortfolioCommand::LinkCase { visit_id, case },
        ))
    }
}

/// The portfolio routes: every command once, and the reads.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(command::<CreatePortfolio>())
        .routes(routes!(list_portfolios))
        .routes(routes!(overdue_visits))
        .routes(routes!(get_portfolio))
        .routes(routes!(portfolio_overview))
        .routes(routes!(list_visits))
        .routes(command::<AssignSubject>())
        .routes(command::<UnassignSubject>())
        .routes(command::<RecordVisit>())
        .routes(command::<LinkCase>())
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Read parameters of one portfolio.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PortfolioReadQuery {
    /// The reference date for due and overdue (`YYYY-MM-DD`); default today in China (UTC+8).
    #[param(format = Date)]
    pub as_of: Option<String>,
    /// Wait (up to 5 s) until the view includes the event at this position.
    pub min_position: Option<i64>,
}

/// List and overdue filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PortfolioListQuery {
    /// `leader` or `department`.
    #[param(value_type = Option<crate::schema::OwnerKind>)]
    pub owner_kind: Option<String>,
    /// The reference date (`YYYY-MM-DD`); default today in China (UTC+8).
    #[param(format = Date)]
    pub as_of: Option<String>,
    /// Read-your-writes.
    pub min_position: Option<i64>,
}

/// Visit list parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VisitListQuery {
    /// Only visits to this subject.
    pub subject_id: Option<String>,
    /// Read-your-writes.
    pub min_position: Option<i64>,
}

fn statuses(facts: &[AssignmentFacts], as_of: NaiveDate) -> Vec<(&AssignmentFacts, VisitStatus)> {
    facts
        .iter()
        .map(|facts| {
            let status = visit_status(
                facts.obligation,
                facts.assigned_on,
                facts.last_visit_on,
                as_of,
            );
            (facts, status)
        })
        .collect()
}

/// One portfolio with its subjects, their last visit, the current period's due date and
/// whether they are overdue on `as_of`.
#[utoipa::path(
    get, path = "/api/v1/portfolios/{portfolio_id}", tag = "portfolios",
    params(("portfolio_id" = String, Path, description = "The portfolio id"), PortfolioReadQuery),
    responses(
        (status = 200, description = "The portfolio", body = PortfolioBody),
        (status = 400, description = "`invalid_query` (e.g. a bad as_of)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`portfolio_not_found` (also another department's)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_portfolio(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(portfolio_id): Path<String>,
    ApiQuery(query): ApiQuery<PortfolioReadQuery>,
) -> Result<Response, ApiError> {
    let portfolio_id = parse_portfolio_id(&portfolio_id)?;
    check_readable(&actor, &portfolio_id)?;
    let as_of = as_of(query.as_of.as_deref(), state.now())?;
    wait_for_projection(&state, "portfolios", query.min_position).await?;
    let view = state
        .db
        .portfolio_view(portfolio_id.as_str())
        .await?
        .ok_or_else(not_found)?;
    let facts = state
        .db
        .assignment_facts(&AssignmentFilter {
            portfolio_id: Some(portfolio_id.to_string()),
            owner_kind: None,
            as_of,
        })
        .await?;
    let subjects = statuses(&facts, as_of)
        .into_iter()
        .map(|(facts, status)| AssignmentBody::from_facts(facts, &status))
        .collect();
    let version = view.version;
    let body = portfolio_body(view, as_of, subjects);
    let mut response = Json(body).into_response();
    if let Ok(etag) = axum::http::HeaderValue::from_str(&format!("\"{version}\"")) {
        response
            .headers_mut()
            .insert(axum::http::header::ETAG, etag);
    }
    Ok(response)
}

fn portfolio_body(
    view: PortfolioView,
    as_of: NaiveDate,
    subjects: Vec<AssignmentBody>,
) -> PortfolioBody {
    PortfolioBody {
        id: view.portfolio_id,
        version: view.version,
        owner_kind: view.owner.kind().to_owned(),
        owner_id: view.owner.id().to_owned(),
        owner_name: view.owner_name,
        visit_count: view.visit_count,
        created_at: time(view.created_at),
        updated_at: time(view.updated_at),
        as_of: as_of.to_string(),
        subjects,
    }
}

/// The portfolios (department staff: their department's), with counts on `as_of`.
#[utoipa::path(
    get, path = "/api/v1/portfolios", tag = "portfolios",
    params(PortfolioListQuery),
    responses(
        (status = 200, description = "The portfolios", body = PortfolioListBody),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_portfolios(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<PortfolioListQuery>,
) -> Result<Json<PortfolioListBody>, ApiError> {
    let scope = readable_scope(&actor)?;
    let owner_kind = parse_owner_kind(query.owner_kind.as_deref())?;
    let as_of = as_of(query.as_of.as_deref(), state.now())?;
    wait_for_projection(&state, "portfolios", query.min_position).await?;
    let views = state.db.list_portfolios(owner_kind.as_deref()).await?;
    let facts = state
        .db
        .assignment_facts(&AssignmentFilter {
            portfolio_id: scope.clone(),
            owner_kind,
            as_of,
        })
        .await?;
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (facts, status) in statuses(&facts, as_of) {
        let entry = counts.entry(facts.portfolio_id.as_str()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(status.overdue);
    }
    let items = views
        .into_iter()
        .filter(|view| scope.as_deref().is_none_or(|own| own == view.portfolio_id))
        .map(|view| {
            let (subject_count, overdue_count) = counts
                .get(view.portfolio_id.as_str())
                .copied()
                .unwrap_or_default();
            PortfolioSummaryBody {
                owner_kind: view.owner.kind().to_owned(),
                owner_id: view.owner.id().to_owned(),
                id: view.portfolio_id,
                version: view.version,
                owner_name: view.owner_name,
                subject_count,
                overdue_count,
                visit_count: view.visit_count,
            }
        })
        .collect();
    Ok(Json(PortfolioListBody {
        as_of: as_of.to_string(),
        items,
    }))
}

/// Overdue visits on `as_of`, listed per leader and department.
#[utoipa::path(
    get, path = "/api/v1/portfolios/overdue-visits", tag = "portfolios",
    params(PortfolioListQuery),
    responses(
        (status = 200, description = "Owners with overdue subjects", body = OverdueVisitsBody),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn overdue_visits(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<PortfolioListQuery>,
) -> Result<Json<OverdueVisitsBody>, ApiError> {
    let scope = readable_scope(&actor)?;
    let owner_kind = parse_owner_kind(query.owner_kind.as_deref())?;
    let as_of = as_of(query.as_of.as_deref(), state.now())?;
    wait_for_projection(&state, "portfolios", query.min_position).await?;
    let facts = state
        .db
        .assignment_facts(&AssignmentFilter {
            portfolio_id: scope,
            owner_kind,
            as_of,
        })
        .await?;
    // The facts come ordered by owner kind ("department" < "leader") and portfolio; leaders are
    // listed first because escalations go to them.
    let mut owners: Vec<OverdueOwnerBody> = Vec::new();
    for (facts, status) in statuses(&facts, as_of) {
        if !status.overdue {
            continue;
        }
        let body = AssignmentBody::from_facts(facts, &status);
        match owners.last_mut() {
            Some(owner) if owner.portfolio_id == facts.portfolio_id => owner.overdue.push(body),
            _ => owners.push(OverdueOwnerBody {
                portfolio_id: facts.portfolio_id.clone(),
                owner_kind: facts.owner_kind.clone(),
                owner_id: facts.owner_id.clone(),
                owner_name: facts.owner_name.clone(),
                overdue: vec![body],
            }),
        }
    }
    owners.sort_by(|a, b| {
        (a.owner_kind != "leader", &a.portfolio_id)
            .cmp(&(b.owner_kind != "leader", &b.portfolio_id))
    });
    Ok(Json(OverdueVisitsBody {
        as_of: as_of.to_string(),
        owners,
    }))
}

/// The visits of a portfolio with the cases raised from each.
#[utoipa::path(
    get, path = "/api/v1/portfolios/{portfolio_id}/visits", tag = "portfolios",
    params(("portfolio_id" = String, Path, description = "The portfolio id"), VisitListQuery),
    responses(
        (status = 200, description = "Visits, latest first", body = VisitListBody),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`portfolio_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_visits(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(portfolio_id): Path<String>,
    ApiQuery(query): ApiQuery<VisitListQuery>,
) -> Result<Json<VisitListBody>, ApiError> {
    let portfolio_id = parse_portfolio_id(&portfolio_id)?;
    check_readable(&actor, &portfolio_id)?;
    let subject_id = query
        .subject_id
        .as_deref()
        .map(|id| {
            SubjectId::parse(id)
                .map_err(|error| ApiError::new(ErrorCode::InvalidQuery, error.to_string()))
        })
        .transpose()?;
    wait_for_projection(&state, "portfolios", query.min_position).await?;
    if state
        .db
        .portfolio_view(portfolio_id.as_str())
        .await?
        .is_none()
    {
        return Err(not_found());
    }
    let visits = state
        .db
        .portfolio_visits(
            portfolio_id.as_str(),
            subject_id.as_ref().map(SubjectId::as_str),
        )
        .await?;
    Ok(Json(VisitListBody {
        portfolio_id: portfolio_id.to_string(),
        items: visits.into_iter().map(VisitBody::from).collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Overview

/// One case in an overview.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewCaseBody {
    /// The case id.
    #[schema(format = Uuid)]
    pub id: String,
    /// The public case number.
    pub case_number: Option<String>,
    /// The subject.
    pub enterprise_id: String,
    /// Title.
    pub title: String,
    /// Status.
    #[schema(value_type = crate::schema::CaseStatus)]
    pub status: String,
    /// The lead department.
    pub lead_department: Option<String>,
    /// The earliest open deadline.
    pub next_due: Option<String>,
    /// Open deadlines passed on the server's clock now.
    #[schema(value_type = Vec<crate::schema::DeadlineKind>)]
    pub overdue: Vec<String>,
    /// Whether the case was escalated (督办) in its current cycle.
    pub escalated: bool,
    /// The satisfaction grade, when rated.
    #[schema(minimum = 1, maximum = 5)]
    pub satisfaction: Option<u8>,
}

/// A liaison's overview: visits due, open cases of the subjects in the portfolio (the most
/// urgent first), which of them are overdue or escalated, and recently closed ones.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortfolioOverviewBody {
    /// The portfolio with every assignment's visit status on `as_of`.
    pub portfolio: PortfolioBody,
    /// Assignments whose current period has no visit yet, or that are overdue.
    pub visits_due: Vec<AssignmentBody>,
    /// How many of those are overdue.
    pub visits_overdue: usize,
    /// Open cases of the portfolio's subjects, by earliest open deadline.
    pub open_cases: Vec<OverviewCaseBody>,
    /// How many open cases have a passed deadline.
    pub overdue_cases: usize,
    /// How many open cases were escalated.
    pub escalated_cases: usize,
    /// The latest closed cases of the portfolio's subjects (at most 50).
    pub closed_cases: Vec<OverviewCaseBody>,
}

fn overview_case(
    view: caseledger_store::cases::CaseView,
    now: chrono::DateTime<chrono::Utc>,
) -> OverviewCaseBody {
    let cycle = view.cycle;
    OverviewCaseBody {
        overdue: view
            .overdue_at(now)
            .into_iter()
            .map(|kind| kind.as_str().to_owned())
            .collect(),
        escalated: view
            .alerts
            .iter()
            .any(|alert| alert.kind == "escalation" && alert.cycle == cycle),
        satisfaction: view.rating.as_ref().map(|rating| rating.satisfaction),
        id: view.case_id,
        case_number: view.case_number,
        enterprise_id: view.enterprise_id,
        title: view.title,
        status: view.status.as_str().to_owned(),
        lead_department: view.lead_department,
        next_due: view.next_due.map(time),
    }
}

/// A leader's or department's overview of its portfolio: visits due, open cases, overdue and
/// escalated cases.
#[utoipa::path(
    get, path = "/api/v1/portfolios/{portfolio_id}/overview", tag = "portfolios",
    params(("portfolio_id" = String, Path, description = "The portfolio id"), PortfolioReadQuery),
    responses(
        (status = 200, description = "The overview", body = PortfolioOverviewBody),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`portfolio_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn portfolio_overview(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(portfolio_id): Path<String>,
    ApiQuery(query): ApiQuery<PortfolioReadQuery>,
) -> Result<Json<PortfolioOverviewBody>, ApiError> {
    let portfolio_id = parse_portfolio_id(&portfolio_id)?;
    check_readable(&actor, &portfolio_id)?;
    let now = state.now();
    let as_of = as_of(query.as_of.as_deref(), now)?;
    wait_for_projection(&state, "portfolios", query.min_position).await?;
    wait_for_projection(&state, "cases", query.min_position).await?;
    let view = state
        .db
        .portfolio_view(portfolio_id.as_str())
        .await?
        .ok_or_else(not_found)?;
    let facts = state
        .db
        .assignment_facts(&AssignmentFilter {
            portfolio_id: Some(portfolio_id.to_string()),
            owner_kind: None,
            as_of,
        })
        .await?;
    let assignments: Vec<AssignmentBody> = statuses(&facts, as_of)
        .into_iter()
        .map(|(facts, status)| AssignmentBody::from_facts(facts, &status))
        .collect();
    let visits_due: Vec<AssignmentBody> = statuses(&facts, as_of)
        .into_iter()
        .filter(|(facts, status)| {
            status.overdue
                || facts
                    .last_visit_on
                    .is_none_or(|last| last < status.current_period.start)
        })
        .map(|(facts, status)| AssignmentBody::from_facts(facts, &status))
        .collect();
    let subjects: Vec<String> = facts.iter().map(|facts| facts.subject_id.clone()).collect();
    let open = state
        .db
        .case_queue(&caseledger_store::cases::QueueFilter {
            enterprise_ids: Some(subjects.clone()),
            statuses: caseledger_store::cases::OPEN_STATUSES.to_vec(),
            limit: 500,
            ..Default::default()
        })
        .await?;
    let closed = state
        .db
        .case_queue(&caseledger_store::cases::QueueFilter {
            enterprise_ids: Some(subjects),
            statuses: vec![caseledger_domain::case::CaseStatus::Closed],
            limit: 50,
            ..Default::default()
        })
        .await?;
    let open_cases: Vec<OverviewCaseBody> = open
        .into_iter()
        .map(|view| overview_case(view, now))
        .collect();
    Ok(Json(PortfolioOverviewBody {
        portfolio: portfolio_body(view, as_of, assignments),
        visits_overdue: visits_due.iter().filter(|due| due.overdue).count(),
        visits_due,
        overdue_cases: open_cases
            .iter()
            .filter(|case| !case.overdue.is_empty())
            .count(),
        escalated_cases: open_cases.iter().filter(|case| case.escalated).count(),
        open_cases,
        closed_cases: closed
            .into_iter()
            .map(|view| overview_case(view, now))
            .collect(),
    }))
}

//! `/api/v1/consultations`: expert consultation requests (专家咨询论证). A department submits;
//! the panel secretary accepts, draws the panel (the server chooses the seed with the operating
//! system's CSPRNG and reads the pool from the log) or proposes a manual selection that a second
//! person approves; seated experts accept with the confidentiality pledge, decline or declare a
//! conflict; opinions come in; the secretary records the conclusion; the department reports
//! adoption; the request closes.
//!
//! Who sees what (docs/DECISIONS.md, "Expert consultations"):
//! - the panel secretary, auditors and district leaders read every request;
//! - the requesting department's staff read their own requests (others: 404);
//! - an expert reads only requests they hold a seat on, in full only after accepting the pledge
//!   (before it: the invitation without questions and materials; not seated: 404);
//! - individual opinions are private until the conclusion: before it only the secretary and the
//!   auditor read them, attributed; after it the requesting department reads them anonymised;
//!   an expert reads their own. Every read of opinions is recorded in the access log first.
//! - a manual selection is flagged (`selection.manual = true`, with its reason and approver) in
//!   every request body and in the draw verification.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use caseledger_domain::consultation::{
    AdoptionItem, AdoptionOutcome, Confidentiality, ConsultationCommand, ConsultationRequest,
    SeatState, SelectionMethod, Stance, TopicType, PLEDGE_VERSION,
};
use caseledger_domain::subject::PersonName;
use caseledger_domain::text::{LongText, Title};
use caseledger_domain::{Actor, ConsultationId, Discipline, ExpertId, Role, UnitId};
use caseledger_store::consultations::{
    ConsultationFilter, ConsultationView, DrawVerification, CONSULTATION_TYPE,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::record_access;
use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::endpoint::ReasonRequest;
use crate::endpoint::{command, CommandEndpoint, Input, NoBody, Prepared, Route};
use crate::error::{ApiError, Problem};
use crate::experts::MinPositionQuery;
use crate::fields::parse_date;
use crate::json::ApiQuery;
use crate::reads::{time, wait_for_projection};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Roles that read every request.
const OVERSIGHT: &[Role] = &[Role::PanelSecretary, Role::Auditor, Role::DistrictLeader];
const DEPARTMENT_STAFF: &[Role] = &[Role::DepartmentHandler, Role::DepartmentHead];

// ---------------------------------------------------------------------------------------------
// Request shapes

/// Submit a request for consultation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitConsultationRequest {
    /// `strategic_policy`, `key_project`, `sci_tech_plan` or `investment_project`.
    #[schema(value_type = crate::schema::TopicType, example = "investment_project")]
    pub topic_type: String,
    /// Title (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// The questions put to the panel, at least one.
    #[schema(min_items = 1)]
    pub questions: Vec<String>,
    /// Where the materials are (document number or file reference).
    #[serde(default)]
    pub materials_ref: Option<String>,
    /// `public`, `internal` or `confidential`.
    #[schema(value_type = crate::schema::Confidentiality)]
    pub confidentiality: String,
    /// Disciplines needed (slugs), at least one.
    #[schema(min_items = 1)]
    pub disciplines: Vec<String>,
    /// Seats, 3 to 15.
    #[schema(minimum = 3, maximum = 15)]
    pub panel_size: u32,
    /// Opinions due by (`YYYY-MM-DD`, China time, after today).
    #[schema(format = Date)]
    pub deadline: String,
    /// Units involved in the matter (applicant, investor): experts conflicted with them are not
    /// drawn.
    #[serde(default)]
    pub parties: Vec<String>,
}

/// Draw the panel.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawRequest {
    /// Alternates to name, 0 to 10 (default 2).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10)]
    pub alternates: Option<u32>,
}

/// Propose a panel chosen by hand.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeSelectionRequest {
    /// The seated experts, exactly the panel size.
    pub panel: Vec<String>,
    /// Alternates in order.
    #[serde(default)]
    pub alternates: Vec<String>,
    /// Why not a random draw (1 to 20,000 characters).
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
}

/// Accept a seat.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptSeatRequest {
    /// Must be true: you accept the confidentiality pledge (version in `pledge_version`).
    pub pledge_accepted: bool,
}

/// Recuse a seated expert.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecuseRequest {
    /// The expert.
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub expert_id: String,
    /// Why.
    pub reason: String,
}

/// Submit or amend an opinion.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpinionRequest {
    /// `support`, `conditional` or `oppose`.
    #[schema(value_type = crate::schema::Stance)]
    pub stance: String,
    /// The reasoning.
    pub rationale: String,
    /// Conditions (required for `conditional`).
    #[serde(default)]
    pub conditions: Option<String>,
    /// Your signature (your name as signed).
    pub signature: String,
}

/// Record the conclusion.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcludeRequest {
    /// The majority view.
    pub majority_view: String,
    /// The dissent (required when any expert's latest stance differs from the majority).
    #[serde(default)]
    pub dissent: Option<String>,
    /// Recommendations, at least one; numbered from 1 in this order.
    #[schema(min_items = 1)]
    pub recommendations: Vec<String>,
}

/// One recommendation's adoption.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdoptionItemRequest {
    /// The recommendation's number (from 1).
    #[schema(minimum = 1)]
    pub recommendation: u32,
    /// `adopted`, `partly` or `not_adopted`.
    #[schema(value_type = crate::schema::AdoptionOutcome)]
    pub outcome: String,
    /// Why (required for `not_adopted`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Report adoption.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportAdoptionRequest {
    /// One item per recommendation.
    pub items: Vec<AdoptionItemRequest>,
}

// ---------------------------------------------------------------------------------------------
// Response shapes

/// One seat.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeatBody {
    /// The expert.
    pub expert_id: String,
    /// `invited`, `accepted`, `declined` or `recused`.
    #[schema(value_type = crate::schema::SeatState)]
    pub state: String,
    /// `draw`, `alternate` or `manual`.
    #[schema(value_type = crate::schema::SeatedVia)]
    pub via: String,
    /// From a unit subordinate to the requester.
    pub subordinate: bool,
    /// When the pledge was accepted.
    pub pledged_at: Option<String>,
    /// Whether the expert has submitted an opinion (never its content).
    pub has_opinion: bool,
}

/// How the panel was chosen.
#[derive(Debug, Serialize, ToSchema)]
pub struct SelectionBody {
    /// `draw` or `manual`.
    #[schema(value_type = crate::schema::SelectionMethod)]
    pub method: String,
    /// True for a manual selection: flagged in every view.
    pub manual: bool,
    /// The pool snapshot's hash.
    pub pool_hash: String,
    /// The draw's seed (hex).
    pub seed: Option<String>,
    /// The draw's proof (hex).
    pub proof: Option<String>,
    /// Why selected by hand.
    pub reason: Option<String>,
    /// Who drew or proposed.
    pub selected_by: String,
    /// Who approved the manual selection.
    pub approved_by: Option<String>,
    /// When the panel was seated.
    pub seated_at: String,
}

/// A manual selection waiting for approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingSelectionBody {
    /// The proposed seats.
    pub panel: Vec<String>,
    /// Alternates.
    pub alternates: Vec<String>,
    /// Why.
    pub reason: String,
    /// Who proposed.
    pub proposed_by: String,
    /// When.
    pub proposed_at: String,
}

/// The conclusion.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConclusionBody {
    /// The majority stance.
    #[schema(value_type = crate::schema::Stance)]
    pub majority: String,
    /// Support count.
    pub support: u32,
    /// Conditional count.
    pub conditional: u32,
    /// Oppose count.
    pub oppose: u32,
    /// The majority view.
    pub majority_view: String,
    /// How many dissent.
    pub dissent_count: usize,
    /// Who dissents (secretary, auditor and district leaders only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dissenters: Option<Vec<String>>,
    /// The dissent.
    pub dissent: Option<String>,
    /// Recommendations, numbered from 1.
    pub recommendations: Vec<String>,
    /// When.
    pub recorded_at: String,
}

/// One reported recommendation.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdoptionBody {
    /// The recommendation's number.
    pub recommendation: u32,
    /// `adopted`, `partly` or `not_adopted`.
    #[schema(value_type = crate::schema::AdoptionOutcome)]
    pub outcome: String,
    /// Why.
    pub reason: Option<String>,
}

/// A consultation request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationBody {
    /// The request id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Version (also the `ETag`).
    pub version: i64,
    /// Status.
    #[schema(value_type = crate::schema::ConsultationStatus)]
    pub status: String,
    /// The requesting department.
    pub requesting_unit: String,
    /// Topic type.
    #[schema(value_type = crate::schema::TopicType)]
    pub topic_type: String,
    /// Title.
    pub title: String,
    /// Questions (absent for an expert before the pledge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub questions: Option<Vec<String>>,
    /// Materials reference (absent for an expert before the pledge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub materials_ref: Option<String>,
    /// Whether questions and materials are withheld until you accept the pledge.
    pub pledge_required: bool,
    /// The pledge text version an expert accepts.
    pub pledge_version: String,
    /// Confidentiality.
    #[schema(value_type = crate::schema::Confidentiality)]
    pub confidentiality: String,
    /// Disciplines.
    pub disciplines: Vec<String>,
    /// Units involved.
    pub parties: Vec<String>,
    /// Seats.
    pub panel_size: u32,
    /// Opinions needed before a conclusion.
    pub quorum: u32,
    /// Opinions due by.
    #[schema(format = Date)]
    pub deadline: String,
    /// Who submitted.
    pub submitted_by: String,
    /// When.
    pub submitted_at: String,
    /// Why rejected or cancelled.
    pub closing_reason: Option<String>,
    /// How the panel was chosen.
    pub selection: Option<SelectionBody>,
    /// A manual selection waiting for approval.
    pub pending_selection: Option<PendingSelectionBody>,
    /// Seats, in the order they were filled (experts see only their own).
    pub seats: Vec<SeatBody>,
    /// Alternates not yet used (oversight only).
    pub alternates: Vec<String>,
    /// Opinions counted so far.
    pub opinion_count: usize,
    /// The conclusion.
    pub conclusion: Option<ConclusionBody>,
    /// The adoption report.
    pub adoption: Option<Vec<AdoptionBody>>,
    /// Last change.
    pub updated_at: Option<String>,
}

/// A page of requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsultationListBody {
    /// Requests, newest first.
    pub items: Vec<ConsultationBody>,
}

/// One opinion version.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpinionBody {
    /// The expert (attributed views), or `expert-1`, `expert-2`… (anonymised views).
    pub expert: String,
    /// 1, 2, … (amendments are new versions).
    pub version: u32,
    /// The stance.
    #[schema(value_type = crate::schema::Stance)]
    pub stance: String,
    /// The reasoning.
    pub rationale: String,
    /// Conditions.
    pub conditions: Option<String>,
    /// The signature (attributed views only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// SHA-256 of the signed content.
    pub content_sha256: String,
    /// Whether it counts (its expert's latest version, seat still accepted).
    pub counted: bool,
    /// When.
    pub submitted_at: String,
}

/// The opinions of a request.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpinionListBody {
    /// The request.
    pub consultation_id: String,
    /// Whether experts are named.
    pub attributed: bool,
    /// Opinion versions by expert and version.
    pub items: Vec<OpinionBody>,
}

/// One check of a draw verification.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckBody {
    /// `pool_hash`, `pool_at_draw`, `algorithm`, `panel` or `proof`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was compared.
    pub detail: String,
}

/// The result of re-checking a draw.
#[derive(Debug, Serialize, ToSchema)]
pub struct DrawVerificationBody {
    /// The request.
    pub consultation_id: String,
    /// `draw` or `manual`; absent before any selection.
    #[schema(value_type = Option<crate::schema::SelectionMethod>)]
    pub method: Option<String>,
    /// True only for a random draw whose every check passed.
    pub matches: bool,
    /// True when the panel was selected by hand.
    pub manual: bool,
    /// The first failed check, the manual flag, or why there is nothing to verify.
    pub finding: Option<String>,
    /// The recorded pool hash.
    pub pool_hash: Option<String>,
    /// The recorded proof.
    pub proof: Option<String>,
    /// The feed position of the selection event.
    pub position: Option<i64>,
    /// Every check made.
    pub checks: Vec<CheckBody>,
}

impl From<DrawVerification> for DrawVerificationBody {
    fn from(verification: DrawVerification) -> Self {
        Self {
            consultation_id: verification.consultation_id,
            method: verification.method.map(|m| m.as_str().to_owned()),
            matches: verification.matches,
            manual: verification.method == Some(SelectionMethod::Manual),
            finding: verification.finding,
            pool_hash: verification.pool_hash,
            proof: verification.proof,
            position: verification.position,
            checks: verification
                .checks
                .into_iter()
                .map(|check| CheckBody {
                    name: check.name.to_owned(),
                    ok: check.ok,
                    detail: check.detail,
                })
                .collect(),
        }
    }
}

/// Adoption per requesting department.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdoptionRateBody {
    /// The department.
    pub requesting_unit: String,
    /// Requests with an adoption report.
    pub reported_requests: i64,
    /// Recommendations reported on.
    pub recommendations: i64,
    /// Adopted.
    pub adopted: i64,
    /// Partly adopted.
    pub partly: i64,
    /// Not adopted.
    pub not_adopted: i64,
    /// adopted / recommendations.
    pub adoption_rate: f64,
    /// (adopted + partly) / recommendations.
    pub adopted_or_partly_rate: f64,
}

/// Adoption rates.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdoptionRatesBody {
    /// Per department, by id.
    pub items: Vec<AdoptionRateBody>,
}

/// List filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConsultationListQuery {
    /// Only this status.
    #[param(value_type = Option<crate::schema::ConsultationStatus>)]
    pub status: Option<String>,
    /// Only this requesting department (oversight roles).
    pub requesting_unit: Option<String>,
    /// At most this many, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Wait (up to 5 s) until the view includes the event at this position.
    pub min_position: Option<i64>,
}

/// Opinion reads.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OpinionsQuery {
    /// Why you read them (recorded in the access log).
    pub purpose: Option<String>,
    /// Wait (up to 5 s) until the view includes the event at this position.
    pub min_position: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Visibility

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::ConsultationNotFound, "consultation not found")
}

fn parse_id(text: &str) -> Result<ConsultationId, ApiError> {
    ConsultationId::parse(text).map_err(|_| not_found())
}

/// What a reader may see of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sight {
    /// Secretary, auditor, district leader.
    Oversight,
    /// The requesting department.
    Requester,
    /// A seated expert who accepted the pledge.
    PledgedExpert,
    /// A seated expert before the pledge (or after declining or recusal).
    InvitedExpert,
}

fn role_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::RoleNotAllowed,
        "this role has no access to consultation requests",
    )
}

fn sight(actor: &Actor, state: &ConsultationRequest) -> Result<Sight, ApiError> {
    if actor.has_any(OVERSIGHT) {
        return Ok(Sight::Oversight);
    }
    if actor.has_any(DEPARTMENT_STAFF) {
        let own = state
            .requesting_unit
            .as_ref()
            .is_some_and(|unit| actor.acts_for(unit.as_str()));
        return if own {
            Ok(Sight::Requester)
        } else {
            Err(not_found())
        };
    }
    if actor.has(Role::Expert) {
        return match state
            .seats
            .iter()
            .find(|seat| seat.expert_id.as_str() == actor.sub.as_str())
        {
            Some(seat) if seat.state == SeatState::Accepted => Ok(Sight::PledgedExpert),
            Some(_) => Ok(Sight::InvitedExpert),
            None => Err(not_found()),
        };
    }
    Err(role_not_allowed())
}

fn body(view: ConsultationView, sight: Sight, actor: &Actor) -> ConsultationBody {
    let state = view.state;
    let full = sight != Sight::InvitedExpert;
    let oversight = sight == Sight::Oversight;
    let is_expert = matches!(sight, Sight::PledgedExpert | Sight::InvitedExpert);
    let seats = state
        .seats
        .iter()
        .filter(|seat| !is_expert || seat.expert_id.as_str() == actor.sub.as_str())
        .map(|seat| SeatBody {
            expert_id: seat.expert_id.to_string(),
            state: seat.state.as_str().to_owned(),
            via: seat.via.as_str().to_owned(),
            subordinate: seat.subordinate,
            pledged_at: seat.pledged_at.map(time),
            has_opinion: state.opinions.contains_key(&seat.expert_id),
        })
        .collect();
    let opinion_count = state.counted_opinions().len();
    ConsultationBody {
        id: view.consultation_id,
        version: view.version,
        status: state.status.as_str().to_owned(),
        requesting_unit: state
            .requesting_unit
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        topic_type: state
            .topic_type
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        title: state.title.clone(),
        questions: full.then(|| state.questions.clone()),
        materials_ref: if full {
            state.materials_ref.clone()
        } else {
            None
        },
        pledge_required: !full,
        pledge_version: PLEDGE_VERSION.to_owned(),
        confidentiality: state
            .confidentiality
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        disciplines: state.disciplines.iter().map(ToString::to_string).collect(),
        parties: state.parties.iter().map(ToString::to_string).collect(),
        panel_size: state.panel_size,
        quorum: caseledger_domain::consultation::quorum(state.panel_size),
        deadline: state.deadline.map(|d| d.to_string()).unwrap_or_default(),
        submitted_by: state
            .submitted_by
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        submitted_at: state.submitted_at.map(time).unwrap_or_default(),
        closing_reason: state.closing_reason.clone(),
        selection: state.selection.as_ref().map(|selection| SelectionBody {
            method: selection.method.as_str().to_owned(),
            manual: selection.method == SelectionMethod::Manual,
            pool_hash: selection.pool_hash.clone(),
            seed: selection.seed.clone(),
            proof: selection.proof.clone(),
            reason: selection.reason.clone(),
            selected_by: selection.selected_by.to_string(),
            approved_by: selection.approved_by.as_ref().map(ToString::to_string),
            seated_at: time(selection.seated_at),
        }),
        pending_selection: state
            .pending_selection
            .as_ref()
            .filter(|_| oversight)
            .map(|pending| PendingSelectionBody {
                panel: pending
                    .panel
                    .iter()
                    .map(|c| c.expert_id.to_string())
                    .collect(),
                alternates: pending
                    .alternates
                    .iter()
                    .map(|c| c.expert_id.to_string())
                    .collect(),
                reason: pending.reason.clone(),
                proposed_by: pending.proposed_by.to_string(),
                proposed_at: time(pending.proposed_at),
            }),
        seats,
        alternates: if oversight {
            state
                .alternates
                .iter()
                .map(|c| c.expert_id.to_string())
                .collect()
        } else {
            Vec::new()
        },
        opinion_count,
        conclusion: state
            .conclusion
            .as_ref()
            .filter(|_| full)
            .map(|c| ConclusionBody {
                majority: c.majority.as_str().to_owned(),
                support: c.tally.support,
                conditional: c.tally.conditional,
                oppose: c.tally.oppose,
                majority_view: c.majority_view.clone(),
                dissent_count: c.dissenters.len(),
                dissenters: oversight
                    .then(|| c.dissenters.iter().map(ToString::to_string).collect()),
                dissent: c.dissent.clone(),
                recommendations: c.recommendations.clone(),
                recorded_at: time(c.recorded_at),
            }),
        adoption: state.adoption.as_ref().map(|items| {
            items
                .iter()
                .map(|item| AdoptionBody {
                    recommendation: item.recommendation,
                    outcome: item.outcome.as_str().to_owned(),
                    reason: item.reason.clone(),
                })
                .collect()
        }),
        updated_at: state.updated_at.map(time),
    }
}

async fn load(
    state: &AppState,
    id: &ConsultationId,
    min_position: Option<i64>,
) -> Result<ConsultationView, ApiError> {
    wait_for_projection(state, "consultations", min_position).await?;
    state
        .db
        .consultation_view(&id.to_string())
        .await?
        .ok_or_else(not_found)
}

// ---------------------------------------------------------------------------------------------
// Commands: each one a [`CommandEndpoint`], run by the shared handler in `endpoint.rs`.

/// The route of a consultation command.
const fn on_request(
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        path,
        operation_id,
        tag: "consultations",
        summary,
    }
}

/// What the `prepare` of a consultation command answers.
type Prepare = Result<Prepared<ConsultationCommand>, ApiError>;

const NOT_FOUND: (u16, &str) = (404, "`consultation_not_found`");
/// Who may not send a command with a body.
const FORBIDDEN: (u16, &str) = (
    403,
    "`role_not_allowed`, `not_requesting_department`, `not_seated`, `approver_is_proposer`",
);
/// Who may not send a command without a body.
const FORBIDDEN_WITHOUT_BODY: (u16, &str) = (
    403,
    "`role_not_allowed`, `not_requesting_department`, `approver_is_proposer`",
);

/// Submit a request.
pub struct SubmitConsultation;

impl CommandEndpoint for SubmitConsultation {
    type Aggregate = ConsultationRequest;
    type Body = SubmitConsultationRequest;
    const ROUTE: Route = on_request(
        "/api/v1/consultations",
        "submit_consultation",
        "Submit a request (department head or handler; the requesting department is the token's `org`)",
    );
    const CREATES: bool = true;
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (403, "`role_not_allowed` or `no_department`"),
        (
            422,
            "`validation_failed`, `panel_size_out_of_range`, `deadline_not_in_future`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        let body = input.body;
        let id = ConsultationId::from_uuid(uuid::Uuid::now_v7());
        let command = input.parse(|fields| {
            let topic_type = fields.take(
                "topic_type",
                TopicType::parse(&body.topic_type).ok_or(
                    "must be strategic_policy, key_project, sci_tech_plan or investment_project",
                ),
            );
            let title = fields.take("title", Title::parse(&body.title));
            if body.questions.is_empty() {
                fields.push("questions", "at least one question is required");
            }
            let questions: Vec<LongText> = body
                .questions
                .iter()
                .enumerate()
                .filter_map(|(i, q)| fields.take(&format!("questions[{i}]"), LongText::parse(q)))
                .collect();
            let materials_ref =
                fields.optional::<200>("materials_ref", body.materials_ref.as_deref());
            let confidentiality = fields.take(
                "confidentiality",
                Confidentiality::parse(&body.confidentiality)
                    .ok_or("must be public, internal or confidential"),
            );
            if body.disciplines.is_empty() {
                fields.push("disciplines", "at least one discipline is required");
            }
            let disciplines =
                fields.each("disciplines", &body.disciplines, |t| Discipline::parse(t));
            let parties = fields.each("parties", &body.parties, |t| UnitId::parse(t));
            let deadline = fields.take("deadline", parse_date(&body.deadline));
            Some(ConsultationCommand::Submit {
                consultation_id: id,
                topic_type: topic_type?,
                title: title?,
                questions,
                materials_ref,
                confidentiality: confidentiality?,
                disciplines: disciplines.into_iter().collect(),
                panel_size: body.panel_size,
                deadline: deadline?,
                parties: parties.into_iter().collect(),
            })
        })?;
        Ok(Prepared::on(id, command))
    }
}

/// Accept a request.
pub struct AcceptConsultation;

impl CommandEndpoint for AcceptConsultation {
    type Aggregate = ConsultationRequest;
    type Body = NoBody;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/accept",
        "accept_consultation",
        "Accept the request (panel secretary). No body",
    );
    const REFUSALS: &'static [(u16, &'static str)] =
        &[FORBIDDEN_WITHOUT_BODY, NOT_FOUND, (422, "`invalid_status`")];

    async fn prepare(input: Input<'_, NoBody>) -> Prepare {
        input.on(parse_id, ConsultationCommand::Accept)
    }
}

/// Reject a request.
pub struct RejectConsultation;

impl CommandEndpoint for RejectConsultation {
    type Aggregate = ConsultationRequest;
    type Body = ReasonRequest;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/reject",
        "reject_consultation",
        "Reject the request with a reason (panel secretary)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        (422, "`validation_failed`, `invalid_status`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.reason(parse_id, |reason| ConsultationCommand::Reject { reason })
    }
}

/// Draw the panel.
pub struct DrawPanel;

impl CommandEndpoint for DrawPanel {
    type Aggregate = ConsultationRequest;
    type Body = DrawRequest;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/draw",
        "draw_panel",
        "Draw the panel at random (panel secretary). The server draws a 32-byte seed from the operating system's CSPRNG and reads the pool (active experts) from the log; the event records both, with the filters, the pool hash and the proof",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        NOT_FOUND,
        (
            422,
            "`invalid_status`, `selection_pending`, `too_many_alternates`, `insufficient_pool`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        let id = parse_id(input.id())?;
        let pool = input.state.expert_pool().await?;
        let command = ConsultationCommand::DrawPanel {
            seed: input.state.draw_seed(),
            pool,
            alternates: input.body.alternates.unwrap_or(2),
        };
        Ok(Prepared::on(id, command))
    }
}

/// Propose a manual selection.
pub struct ProposeSelection;

impl CommandEndpoint for ProposeSelection {
    type Aggregate = ConsultationRequest;
    type Body = ProposeSelectionRequest;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/propose-selection",
        "propose_selection",
        "Propose a panel chosen by hand, with a reason (panel secretary). It is seated only when someone else approves it, and is flagged in every view",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        NOT_FOUND,
        (
            422,
            "`validation_failed`, `selection_size_mismatch`, `expert_not_in_pool`, `expert_conflicted`, `subordinate_cap_exceeded`, `duplicate_expert`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        let id = parse_id(input.id())?;
        let body = input.body;
        let (panel, alternates, reason) = input.parse(|fields| {
            let panel = fields.each("panel", &body.panel, |t| ExpertId::parse(t));
            let alternates = fields.each("alternates", &body.alternates, |t| ExpertId::parse(t));
            let reason = fields.long("reason", &body.reason);
            Some((panel, alternates, reason?))
        })?;
        let pool = input.state.expert_pool().await?;
        let command = ConsultationCommand::ProposeSelection {
            panel,
            alternates,
            reason,
            pool,
        };
        Ok(Prepared::on(id, command))
    }
}

/// Approve the manual selection.
pub struct ApproveSelection;

impl CommandEndpoint for ApproveSelection {
    type Aggregate = ConsultationRequest;
    type Body = NoBody;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/approve-selection",
        "approve_selection",
        "Approve the pending manual selection (a district leader, or a panel secretary other than the proposer). No body",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN_WITHOUT_BODY,
        NOT_FOUND,
        (422, "`no_selection_pending`"),
    ];

    async fn prepare(input: Input<'_, NoBody>) -> Prepare {
        input.on(parse_id, ConsultationCommand::ApproveSelection)
    }
}

/// Accept a seat.
pub struct AcceptSeat;

impl CommandEndpoint for AcceptSeat {
    type Aggregate = ConsultationRequest;
    type Body = AcceptSeatRequest;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/accept-seat",
        "accept_seat",
        "Accept your seat and the confidentiality pledge (the seated expert)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        (422, "`seat_not_open`, `pledge_required`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.command(parse_id, |_, body| {
            Some(ConsultationCommand::AcceptSeat {
                pledge_accepted: body.pledge_accepted,
            })
        })
    }
}

/// Decline a seat.
pub struct DeclineSeat;

impl CommandEndpoint for DeclineSeat {
    type Aggregate = ConsultationRequest;
    type Body = ReasonRequest;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/decline-seat",
        "decline_seat",
        "Decline your seat before accepting it (the seated expert); the next alternate is seated",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        (422, "`validation_failed`, `seat_not_open`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.reason(parse_id, |reason| ConsultationCommand::DeclineSeat {
            reason,
        })
    }
}

/// Declare a conflict of interest.
pub struct DeclareConflict;

impl CommandEndpoint for DeclareConflict {
    type Aggregate = ConsultationRequest;
    type Body = ReasonRequest;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/declare-conflict",
        "declare_conflict",
        "Declare a conflict of interest (the seated expert): you are recused and the next alternate that keeps the subordinate-unit cap is seated",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        (422, "`validation_failed`, `seat_not_open`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.reason(parse_id, |reason| ConsultationCommand::DeclareConflict {
            reason,
        })
    }
}

/// Recuse a seated expert.
pub struct RecuseExpert;

impl CommandEndpoint for RecuseExpert {
    type Aggregate = ConsultationRequest;
    type Body = RecuseRequest;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/recuse",
        "recuse_expert",
        "Recuse a seated expert (panel secretary): a conflict reported by others, or no answer",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        (422, "`validation_failed`, `seat_not_open`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.command(parse_id, |fields, body| {
            let expert_id = fields.take("expert_id", ExpertId::parse(body.expert_id.as_str()));
            let reason = fields.long("reason", &body.reason);
            Some(ConsultationCommand::Recuse {
                expert_id: expert_id?,
                reason: reason?,
            })
        })
    }
}

/// Submit or amend an opinion.
pub struct SubmitOpinion;

impl CommandEndpoint for SubmitOpinion {
    type Aggregate = ConsultationRequest;
    type Body = OpinionRequest;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/submit-opinion",
        "submit_opinion",
        "Submit or amend your opinion (the seated expert, after the pledge). An amendment is a new version; earlier versions are kept",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        (
            422,
            "`validation_failed`, `seat_not_accepted`, `panel_not_confirmed`, `expert_conflicted`, `conditions_required`, `invalid_status`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.command(parse_id, |fields, body| {
            let stance = fields.take(
                "stance",
                Stance::parse(&body.stance).ok_or("must be support, conditional or oppose"),
            );
            let rationale = fields.long("rationale", &body.rationale);
            let conditions = fields.optional::<20_000>("conditions", body.conditions.as_deref());
            let signature = fields.take("signature", PersonName::parse(&body.signature));
            Some(ConsultationCommand::SubmitOpinion {
                stance: stance?,
                rationale: rationale?,
                conditions,
                signature: signature?,
            })
        })
    }
}

/// Record the conclusion.
pub struct Conclude;

impl CommandEndpoint for Conclude {
    type Aggregate = ConsultationRequest;
    type Body = ConcludeRequest;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/conclude",
        "conclude",
        "Record the conclusion: the majority view and the dissent (panel secretary)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        (
            422,
            "`validation_failed`, `quorum_not_reached`, `no_majority`, `dissent_required`, `no_dissent`, `no_recommendations`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.command(parse_id, |fields, body| {
            let majority_view = fields.long("majority_view", &body.majority_view);
            let dissent = fields.optional::<20_000>("dissent", body.dissent.as_deref());
            let recommendations: Vec<LongText> = body
                .recommendations
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    fields.take(&format!("recommendations[{i}]"), LongText::parse(r))
                })
                .collect();
            Some(ConsultationCommand::Conclude {
                majority_view: majority_view?,
                dissent,
                recommendations,
            })
        })
    }
}

/// Report adoption.
pub struct ReportAdoption;

impl CommandEndpoint for ReportAdoption {
    type Aggregate = ConsultationRequest;
    type Body = ReportAdoptionRequest;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/report-adoption",
        "report_adoption",
        "Report, per recommendation, adopted / partly / not adopted with a reason (the requesting department)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        (
            422,
            "`validation_failed`, `adoption_incomplete`, `adoption_reason_required`, `invalid_status`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.command(parse_id, |fields, body| {
            let mut items = Vec::with_capacity(body.items.len());
            for (i, item) in body.items.iter().enumerate() {
                let outcome = fields.take(
                    &format!("items[{i}].outcome"),
                    AdoptionOutcome::parse(&item.outcome)
                        .ok_or("must be adopted, partly or not_adopted"),
                );
                let reason = fields
                    .optional::<20_000>(&format!("items[{i}].reason"), item.reason.as_deref());
                if let Some(outcome) = outcome {
                    items.push(AdoptionItem {
                        recommendation: item.recommendation,
                        outcome,
                        reason,
                    });
                }
            }
            Some(ConsultationCommand::ReportAdoption { items })
        })
    }
}

/// Close a request.
pub struct CloseConsultation;

impl CommandEndpoint for CloseConsultation {
    type Aggregate = ConsultationRequest;
    type Body = NoBody;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/close",
        "close_consultation",
        "Close the request after the adoption report (panel secretary or the requesting department). No body",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN_WITHOUT_BODY,
        NOT_FOUND,
        (422, "`adoption_not_reported`, `invalid_status`"),
    ];

    async fn prepare(input: Input<'_, NoBody>) -> Prepare {
        input.on(parse_id, ConsultationCommand::Close)
    }
}

/// Cancel a request.
pub struct CancelConsultation;

impl CommandEndpoint for CancelConsultation {
    type Aggregate = ConsultationRequest;
    type Body = ReasonRequest;
    const ROUTE: Route = on_request(
        "/api/v1/consultations/{consultation_id}/cancel",
        "cancel_consultation",
        "Cancel the request before its conclusion (panel secretary or the requesting department)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        (422, "`validation_failed`, `invalid_status`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.reason(parse_id, |reason| ConsultationCommand::Cancel { reason })
    }
}

/// The consultation routes: every command once, and the reads.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(command::<SubmitConsultation>())
        .routes(routes!(list_consultations))
        .routes(routes!(adoption_rates))
        .routes(routes!(get_consultation))
        .routes(routes!(list_opinions))
        .routes(routes!(verify_draw))
        .routes(command::<AcceptConsultation>())
        .routes(command::<RejectConsultation>())
        .routes(command::<DrawPanel>())
        .routes(command::<ProposeSelection>())
        .routes(command::<ApproveSelection>())
        .routes(command::<AcceptSeat>())
        .routes(command::<DeclineSeat>())
        .routes(command::<DeclareConflict>())
        .routes(command::<RecuseExpert>())
        .routes(command::<SubmitOpinion>())
        .routes(command::<Conclude>())
        .routes(command::<ReportAdoption>())
        .routes(command::<CloseConsultation>())
        .routes(command::<CancelConsultation>())
}

// ---------------------------------------------------------------------------------------------
// Reads

/// One request, as the reader may see it.
#[utoipa::path(
    get, path = "/api/v1/consultations/{consultation_id}", tag = "consultations",
    params(("consultation_id" = String, Path, description = "The request id"), MinPositionQuery),
    responses(
        (status = 200, description = "The request", body = ConsultationBody),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`consultation_not_found` (also: not yours to see)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_consultation(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(consultation_id): Path<String>,
    ApiQuery(query): ApiQuery<MinPositionQuery>,
) -> Result<Response, ApiError> {
    let id = parse_id(&consultation_id)?;
    if !actor.has_any(OVERSIGHT) && !actor.has_any(DEPARTMENT_STAFF) && !actor.has(Role::Expert) {
        return Err(role_not_allowed());
    }
    let view = load(&state, &id, query.min_position).await?;
    let sight = sight(&actor, &view.state)?;
    let version = view.version;
    let mut response = Json(body(view, sight, &actor)).into_response();
    if let Ok(etag) = axum::http::HeaderValue::from_str(&format!("\"{version}\"")) {
        response
            .headers_mut()
            .insert(axum::http::header::ETAG, etag);
    }
    Ok(response)
}

/// The requests the reader may see, newest first: oversight roles every request, department
/// staff their department's, experts those they hold a seat on.
#[utoipa::path(
    get, path = "/api/v1/consultations", tag = "consultations",
    params(ConsultationListQuery),
    responses(
        (status = 200, description = "Requests", body = ConsultationListBody),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_consultations(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<ConsultationListQuery>,
) -> Result<Json<ConsultationListBody>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "limit must be 1 to 500",
        ));
    }
    if let Some(status) = query.status.as_deref() {
        if caseledger_domain::consultation::ConsultationStatus::parse(status).is_none() {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!("unknown status {status:?}"),
            ));
        }
    }
    let mut filter = ConsultationFilter {
        requesting_unit: query.requesting_unit.clone(),
        status: query.status.clone(),
        seated_expert: None,
        limit,
    };
    if actor.has_any(OVERSIGHT) {
    } else if actor.has_any(DEPARTMENT_STAFF) {
        let org = actor.org.clone().ok_or_else(|| {
            ApiError::new(ErrorCode::NoDepartment, "your token names no department")
        })?;
        filter.requesting_unit = Some(org);
    } else if actor.has(Role::Expert) {
        filter.seated_expert = Some(actor.sub.to_string());
    } else {
        return Err(role_not_allowed());
    }
    wait_for_projection(&state, "consultations", query.min_position).await?;
    let views = state.db.list_consultations(&filter).await?;
    let mut items = Vec::with_capacity(views.len());
    for view in views {
        if let Ok(sight) = sight(&actor, &view.state) {
            items.push(body(view, sight, &actor));
        }
    }
    Ok(Json(ConsultationListBody { items }))
}

/// The opinions of a request. Private until the conclusion: before it, the panel secretary and
/// the auditor read them attributed; after it, the requesting department reads them anonymised;
/// an expert reads their own. Every read is recorded in the access log first.
#[utoipa::path(
    get, path = "/api/v1/consultations/{consultation_id}/opinions", tag = "consultations",
    params(("consultation_id" = String, Path, description = "The request id"), OpinionsQuery),
    responses(
        (status = 200, description = "Opinion versions", body = OpinionListBody),
        (status = 403, description = "`role_not_allowed`, `opinions_private_until_conclusion`, `pledge_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`consultation_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_opinions(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(consultation_id): Path<String>,
    ApiQuery(query): ApiQuery<OpinionsQuery>,
) -> Result<Json<OpinionListBody>, ApiError> {
    let id = parse_id(&consultation_id)?;
    if !actor.has_any(OVERSIGHT) && !actor.has_any(DEPARTMENT_STAFF) && !actor.has(Role::Expert) {
        return Err(role_not_allowed());
    }
    let view = load(&state, &id, query.min_position).await?;
    let sight = sight(&actor, &view.state)?;
    let concluded = view.state.conclusion.is_some();
    let attributed = match sight {
        Sight::Oversight if actor.has_any(&[Role::PanelSecretary, Role::Auditor]) => true,
        Sight::Oversight | Sight::Requester if concluded => false,
        Sight::Oversight | Sight::Requester => {
            return Err(ApiError::new(
                ErrorCode::OpinionsPrivateUntilConclusion,
                "individual opinions are private until the conclusion",
            ))
        }
        Sight::PledgedExpert => true,
        Sight::InvitedExpert => {
            return Err(ApiError::new(
                ErrorCode::PledgeRequired,
                "accept the seat and the confidentiality pledge first",
            )
            .with_status(StatusCode::FORBIDDEN))
        }
    };
    let own_only = sight == Sight::PledgedExpert;
    record_access(
        &state,
        &actor,
        "consultation_opinions",
        &id.to_string(),
        query.purpose,
    )
    .await?;
    let opinions = state.db.consultation_opinions(&id.to_string()).await?;
    let counted: Vec<(String, u32)> = view
        .state
        .counted_opinions()
        .into_iter()
        .map(|(expert_id, _)| {
            let version = view.state.opinions[expert_id].version;
            (expert_id.to_string(), version)
        })
        .collect();
    let mut labels: Vec<String> = opinions.iter().map(|o| o.expert_id.clone()).collect();
    labels.dedup();
    let items = opinions
        .into_iter()
        .filter(|o| !own_only || o.expert_id == actor.sub.as_str())
        .map(|o| OpinionBody {
            counted: counted.contains(&(o.expert_id.clone(), o.version)),
            expert: if attributed {
                o.expert_id.clone()
            } else {
                let n = labels.iter().position(|l| *l == o.expert_id).unwrap_or(0) + 1;
                format!("expert-{n}")
            },
            version: o.version,
            stance: o.stance,
            rationale: o.rationale,
            conditions: o.conditions,
            signature: attributed.then_some(o.signature),
            content_sha256: o.content_sha256,
            submitted_at: time(o.submitted_at),
        })
        .collect();
    Ok(Json(OpinionListBody {
        consultation_id: id.to_string(),
        attributed,
        items,
    }))
}

/// Re-check the panel selection from the log: the recorded snapshot against its recorded hash,
/// the snapshot against the expert pool as the log held it at the draw, and the draw re-run
/// from the recorded seed, filters, panel size and alternates against the recorded panel and
/// proof. A manual selection never `matches` and is flagged.
#[utoipa::path(
    get, path = "/api/v1/consultations/{consultation_id}/draw/verify", tag = "consultations",
    params(("consultation_id" = String, Path, description = "The request id")),
    responses(
        (status = 200, description = "The verification (see `matches` and `finding`)", body = DrawVerificationBody),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`consultation_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn verify_draw(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(consultation_id): Path<String>,
) -> Result<Json<DrawVerificationBody>, ApiError> {
    let id = parse_id(&consultation_id)?;
    if !actor.has_any(OVERSIGHT) && !actor.has_any(DEPARTMENT_STAFF) {
        return Err(role_not_allowed());
    }
    if !actor.has_any(OVERSIGHT) {
        // Department staff verify their own requests only; the view may lag a fresh request,
        // so the log decides whether it is theirs.
        let history = state
            .db
            .stream_history(CONSULTATION_TYPE, &id.to_string())
            .await?;
        let mut request = ConsultationRequest::default();
        for event in &history {
            let event = serde_json::from_str(&event.payload)
                .map_err(|error| ApiError::internal(format!("reading {id}: {error}")))?;
            request.evolve(&event);
        }
        if request.consultation_id.is_none() || sight(&actor, &request)? != Sight::Requester {
            return Err(not_found());
        }
    }
    let verification = state
        .db
        .verify_draw(&id.to_string())
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(verification.into()))
}

/// Adoption of recommendations per requesting department (requests with an adoption report).
#[utoipa::path(
    get, path = "/api/v1/consultations/adoption-rates", tag = "consultations",
    params(MinPositionQuery),
    responses(
        (status = 200, description = "Per department", body = AdoptionRatesBody),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn adoption_rates(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<MinPositionQuery>,
) -> Result<Json<AdoptionRatesBody>, ApiError> {
    if actor.has_any(&[Role::Enterprise, Role::Expert]) && !actor.has_any(OVERSIGHT) {
        return Err(role_not_allowed());
    }
    wait_for_projection(&state, "consultations", query.min_position).await?;
    let rate = |part: i64, whole: i64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        }
    };
    let items = state
        .db
        .adoption_rates()
        .await?
        .into_iter()
        .map(|r| AdoptionRateBody {
            adoption_rate: rate(r.adopted, r.recommendations),
            adopted_or_partly_rate: rate(r.adopted + r.partly, r.recommendations),
            requesting_unit: r.requesting_unit,
            reported_requests: r.reported_requests,
            recommendations: r.recommendations,
            adopted: r.adopted,
            partly: r.partly,
            not_adopted: r.not_adopted,
        })
        .collect();
    Ok(Json(AdoptionRatesBody { items }))
}

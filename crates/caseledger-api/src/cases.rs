//! `/api/v1/cases`: the enterprise case endpoints. Handlers parse at the edge into domain types,
//! call the store, and map the result; visibility rules for reads live here.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use caseledger_domain::case::{
    CaseCommand, CaseSource, CaseStatus, ContactChannel, DeclineReason, EnterpriseCase, Evidence,
    ExemptionReason, Resolution, Satisfaction, Urgency,
};
use caseledger_domain::text::{Label, LongText, Title};
use caseledger_domain::{Actor, CaseId, DepartmentId, Role, SubjectId};
use caseledger_store::cases::{CaseFilter, CaseView, AGGREGATE_TYPE};
use caseledger_store::projector::CatchUp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::record_access;
use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::endpoint::{command, CommandEndpoint, Input, NoBody, Prepared, ReasonRequest, Route};
use crate::error::{ApiError, Problem};
use crate::fields::Fields;
use crate::json::ApiQuery;
use crate::state::AppState;
use caseledger_app::facts::{new_verifier, verifier_hash, Receipt};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Roles that see every case.
const DISTRICT_READERS: &[Role] = &[
    Role::Dispatcher,
    Role::DistrictLeader,
    Role::LiaisonOfficer,
    Role::Auditor,
    Role::Admin,
];
const DEPARTMENT_ROLES: &[Role] = &[Role::DepartmentHandler, Role::DepartmentHead];

/// How long a read with `min_position` waits for the projection at most.
const READ_YOUR_WRITES_TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Request shapes

/// Register a case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterCaseRequest {
    /// The enterprise or talent raising the problem (a lowercase slug id).
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub enterprise_id: String,
    /// A short title (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// The problem in full (1 to 20,000 characters).
    #[schema(min_length = 1, max_length = 20000)]
    pub description: String,
    /// A category label (1 to 64 characters), e.g. `financing`.
    #[schema(min_length = 1, max_length = 64)]
    pub category: String,
    /// `normal` or `urgent`.
    #[schema(value_type = crate::schema::Urgency, example = "normal")]
    pub urgency: Urgency,
    /// `liaison_visit`, `leader_visit`, `hotline`, `platform` or `letter`.
    #[schema(value_type = crate::schema::CaseSource, example = "liaison_visit")]
    pub source: CaseSource,
}

/// Dispatch a case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchCaseRequest {
    /// The one department responsible for the answer.
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub lead_department: String,
    /// Departments that assist.
    #[serde(default)]
    pub co_departments: Vec<String>,
    /// A note for the departments.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub note: Option<String>,
}

/// Respond to a case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RespondCaseRequest {
    /// `resolved`, `partially_resolved`, `explained` or `referred`.
    #[schema(value_type = crate::schema::Resolution, example = "resolved")]
    pub resolution: Resolution,
    /// The answer.
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
    /// The legal or policy basis; required for `explained`.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub basis: Option<String>,
    /// Supporting documents, pinned by hash.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub evidence: Vec<EvidenceBody>,
}

/// Rate the handling of a case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateCaseRequest {
    /// 1 (very dissatisfied) to 5 (very satisfied).
    #[schema(minimum = 1, maximum = 5)]
    pub satisfaction: u8,
    /// Whether the problem is resolved in the enterprise's view.
    pub resolved: bool,
    /// An optional comment.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub comment: Option<String>,
}

/// Add an internal note.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddNoteRequest {
    /// The note (never shown to the enterprise or the public).
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
}

/// A dispatcher's decision on a pending request (extension or pause).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// Grant (`true`) or refuse (`false`).
    pub approve: bool,
    /// Why.
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
}

/// Decline a case before dispatch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineRequest {
    /// `out_of_scope`, `unlawful_request`, `insufficient_information` or `in_other_proceedings`.
    #[schema(value_type = crate::schema::DeclineReason, example = "out_of_scope")]
    pub reason: DeclineReason,
    /// The explanation given to the enterprise.
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
}

/// Return a case before accepting it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    /// Why.
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
    /// The competent department, if known: a first return naming one moves the case there.
    #[serde(default)]
    pub suggested_department: Option<String>,
}

/// Move a case to another lead department.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassignRequest {
    /// The new lead department.
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub lead_department: String,
    /// Why.
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
}

/// Log a contact with the enterprise.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogContactRequest {
    /// `phone`, `visit`, `meeting` or `online`.
    #[schema(value_type = crate::schema::ContactChannel, example = "phone")]
    pub channel: ContactChannel,
    /// What was discussed.
    #[schema(min_length = 1, max_length = 20000)]
    pub summary: String,
}

/// Post an update the enterprise and the public lookup see, under your department's name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicUpdateRequest {
    /// The update (never name officers here).
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
}

/// Ask for more time.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    /// How much, in the unit of the policy's extension cap (see the case's `sla_rule`).
    pub amount: u32,
    /// Why.
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
}

/// Record a follow-up attempt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    /// Whether the enterprise was reached.
    pub reached: bool,
    /// What happened.
    #[serde(default)]
    pub note: Option<String>,
}

/// Decide an appeal against a rating.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealDecisionRequest {
    /// Upheld: the rating stays but no longer counts in scoring.
    pub upheld: bool,
    /// Why.
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
}

/// Exempt a case from scoring.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExemptionRequest {
    /// `unreasonable_request`, `outside_competence`, `force_majeure`, `enterprise_unreachable`
    /// or `repeated_complaint`.
    #[schema(value_type = crate::schema::ExemptionReason, example = "unreasonable_request")]
    pub reason: ExemptionReason,
    /// The justification.
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
}

/// Merge this case into another as a duplicate.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The id of the case that continues.
    #[schema(format = Uuid)]
    pub into: String,
    /// Why.
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
}

/// A supporting document of a response.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBody {
    /// The document's name (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Lowercase hex SHA-256 of the document (64 characters).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
}

// ---------------------------------------------------------------------------------------------
// Response shapes

/// The lead department's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseResponseBody {
    /// The department that answered.
    pub department: String,
    /// How it was resolved.
    #[schema(value_type = crate::schema::Resolution)]
    pub resolution: String,
    /// The answer.
    pub text: String,
    /// The legal or policy basis.
    pub basis: Option<String>,
    /// When (RFC 3339).
    #[schema(format = DateTime)]
    pub responded_at: String,
    /// Supporting documents.
    pub evidence: Vec<EvidenceBody>,
}

/// An update shown under a department's name.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicUpdateBody {
    /// The department.
    pub department: String,
    /// The update.
    pub text: String,
    /// When (RFC 3339).
    #[schema(format = DateTime)]
    pub posted_at: String,
}

/// A warning, breach or escalation that fired.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertBody {
    /// `warn50`, `warn80`, `breach` or `escalation`.
    #[schema(value_type = crate::schema::AlertKind)]
    pub kind: String,
    /// `accept`, `first_contact`, `respond` or `resolve`.
    #[schema(value_type = crate::schema::DeadlineKind)]
    pub deadline: String,
    /// The handling cycle.
    pub cycle: u32,
    /// When (RFC 3339).
    #[schema(format = DateTime)]
    pub at: String,
    /// For an escalation: the leaders it went to (empty: the dispatch office).
    pub leaders: Vec<String>,
}

/// Staff-only detail of the handling: every count a score could be gamed with.
#[derive(Debug, Serialize, ToSchema)]
pub struct HandlingBody {
    /// Returns (退单).
    pub returns: u32,
    /// Reassignments (改派).
    pub reassignments: u32,
    /// Contacts logged.
    pub contacts: u32,
    /// Follow-up attempts in this cycle.
    pub follow_up_attempts: u32,
    /// Extensions granted.
    pub extensions_granted: u32,
    /// An extension request waits for the dispatcher.
    pub extension_pending: bool,
    /// A pause request waits for the dispatcher.
    pub pause_pending: bool,
    /// Exempted from scoring, with the reason code.
    #[schema(value_type = Option<crate::schema::ExemptionReason>)]
    pub exemption: Option<String>,
    /// A withdrawal after dispatch waits for a quality check.
    pub quality_check: bool,
    /// The appeal against the rating: `pending`, `upheld` or `rejected`.
    #[schema(value_type = Option<crate::schema::AppealStatus>)]
    pub appeal: Option<String>,
    /// Warnings, breaches and escalations.
    pub alerts: Vec<AlertBody>,
    /// The SLA rule the case runs under.
    #[schema(value_type = Option<Object>)]
    pub sla_rule: Option<serde_json::Value>,
}

/// The rating.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseRatingBody {
    /// 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    pub satisfaction: u8,
    /// Whether the problem is resolved in the enterprise's view.
    pub resolved: bool,
    /// Comment.
    pub comment: Option<String>,
    /// `enterprise` or `dispatcher`.
    #[schema(value_type = crate::schema::Role)]
    pub rated_as: String,
    /// When (RFC 3339).
    #[schema(format = DateTime)]
    pub rated_at: String,
}

/// The current state of a case. Staff-only fields are absent for an enterprise.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseBody {
    /// The case id.
    #[schema(format = Uuid)]
    pub id: String,
    /// The case's version (also the `ETag`).
    pub version: i64,
    /// `registered`, `dispatched`, `accepted`, `responded` or `closed`.
    #[schema(value_type = crate::schema::CaseStatus)]
    pub status: String,
    /// The enterprise or talent.
    pub enterprise_id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Category label.
    pub category: String,
    /// `normal` or `urgent`.
    #[schema(value_type = crate::schema::Urgency)]
    pub urgency: String,
    /// Where it came from.
    #[schema(value_type = crate::schema::CaseSource)]
    pub source: String,
    /// Responsible department.
    pub lead_department: Option<String>,
    /// Assisting departments.
    pub co_departments: Vec<String>,
    /// SLA policy version of the due dates.
    pub sla_policy_version: Option<String>,
    /// Acceptance due (RFC 3339).
    pub accept_due: Option<String>,
    /// Response due (RFC 3339).
    pub respond_due: Option<String>,
    /// First contact due (RFC 3339).
    pub first_contact_due: Option<String>,
    /// Closing due (RFC 3339).
    pub resolve_due: Option<String>,
    /// The earliest open deadline; absent while the clock is paused or the case has ended.
    pub next_due: Option<String>,
    /// The open deadlines that have passed now.
    #[schema(value_type = Vec<crate::schema::DeadlineKind>)]
    pub overdue: Vec<String>,
    /// The public case number.
    pub case_number: Option<String>,
    /// The handling cycle (1 after dispatch; each reopen adds one).
    pub cycle: u32,
    /// Updates posted under the departments' names.
    pub public_updates: Vec<PublicUpdateBody>,
    /// First contact with the enterprise in this cycle.
    pub first_contact_at: Option<String>,
    /// Why the case ended (declined, withdrawn or merged).
    pub ended_reason: Option<String>,
    /// The case this one was merged into.
    pub merged_into: Option<String>,
    /// Registered at.
    #[schema(format = DateTime)]
    pub registered_at: String,
    /// Dispatched at.
    pub dispatched_at: Option<String>,
    /// Accepted at.
    pub accepted_at: Option<String>,
    /// Closed at.
    pub closed_at: Option<String>,
    /// The answer.
    pub response: Option<CaseResponseBody>,
    /// The rating.
    pub rating: Option<CaseRatingBody>,
    /// Last change.
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Staff only: who registered the case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_by: Option<String>,
    /// Staff only: who accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<String>,
    /// Staff only: who responded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responded_by: Option<String>,
    /// Staff only: the dispatcher's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatch_note: Option<String>,
    /// Staff only: number of internal notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_notes: Option<u32>,
    /// Staff only: counts, alerts, appeal and exemption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handling: Option<HandlingBody>,
}

pub(crate) fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn wire<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl CaseBody {
    /// The answer for `view`: staff see the handling detail, an enterprise does not.
    pub fn from_view(view: CaseView, staff: bool, now: chrono::DateTime<chrono::Utc>) -> Self {
        let overdue = view
            .overdue_at(now)
            .into_iter()
            .map(|kind| kind.as_str().to_owned())
            .collect();
        let handling = staff.then(|| HandlingBody {
            returns: view.returns,
            reassignments: view.reassignments,
            contacts: view.contacts,
            follow_up_attempts: view.follow_up_attempts,
            extensions_granted: view.extensions_granted,
            extension_pending: view.extension_pending,
            pause_pending: view.pause_pending,
            exemption: view.exemption.clone(),
            quality_check: view.quality_check,
            appeal: view.appeal.as_ref().map(|appeal| appeal.status.clone()),
            alerts: view
                .alerts
                .iter()
                .map(|alert| AlertBody {
                    kind: alert.kind.clone(),
                    deadline: alert.deadline.as_str().to_owned(),
                    cycle: alert.cycle,
                    at: time(alert.at),
                    leaders: alert.leaders.clone(),
                })
                .collect(),
            sla_rule: view
                .state
                .clock
                .rule
                .as_ref()
                .and_then(|rule| serde_json::to_value(rule).ok()),
        });
        Self {
            first_contact_due: view.first_contact_due.map(time),
            resolve_due: view.resolve_due.map(time),
            next_due: view.next_due.map(time),
            overdue,
            case_number: view.case_number.clone(),
            cycle: view.cycle,
            public_updates: view
                .public_updates
                .iter()
                .map(|update| PublicUpdateBody {
                    department: update.department.clone(),
                    text: update.text.clone(),
                    posted_at: time(update.posted_at),
                })
                .collect(),
            first_contact_at: view.first_contact_at.map(time),
            ended_reason: view.ended_reason.clone(),
            merged_into: view.merged_into.clone(),
            handling,
            id: view.case_id,
            version: view.version,
            status: view.status.as_str().to_owned(),
            enterprise_id: view.enterprise_id,
            title: view.title,
            description: view.description,
            category: view.category,
            urgency: wire(&view.urgency),
            source: wire(&view.source),
            lead_department: view.lead_department,
            co_departments: view.co_departments,
            sla_policy_version: view.sla_policy_version,
            accept_due: view.accept_due.map(time),
            respond_due: view.respond_due.map(time),
            registered_at: time(view.registered_at),
            dispatched_at: view.dispatched_at.map(time),
            accepted_at: view.accepted_at.map(time),
            closed_at: view.closed_at.map(time),
            response: view.response.map(|response| CaseResponseBody {
                department: response.department,
                resolution: wire(&response.resolution),
                text: response.text,
                basis: response.basis,
                responded_at: time(response.responded_at),
                evidence: response
                    .evidence
                    .into_iter()
                    .map(|evidence| EvidenceBody {
                        name: evidence.name,
                        sha256: evidence.sha256,
                    })
                    .collect(),
            }),
            rating: view.rating.map(|rating| CaseRatingBody {
                satisfaction: rating.satisfaction,
                resolved: rating.resolved,
                comment: rating.comment,
                rated_as: rating.rated_as.as_str().to_owned(),
                rated_at: time(rating.rated_at),
            }),
            updated_at: time(view.updated_at),
            registered_by: staff.then_some(view.registered_by),
            accepted_by: if staff { view.accepted_by } else { None },
            responded_by: if staff { view.responded_by } else { None },
            dispatch_note: if staff { view.dispatch_note } else { None },
            internal_notes: staff.then_some(view.internal_notes),
        }
    }
}

/// A page of cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseListBody {
    /// The cases, newest registration first.
    pub items: Vec<CaseBody>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One event of a case's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEventBody {
    /// Position in the global feed.
    pub position: i64,
    /// Sequence within the case, from 1.
    pub sequence: i64,
    /// The event type, e.g. `CaseDispatched`.
    pub event_type: String,
    /// The event type's version.
    pub event_version: String,
    /// When it happened (from the command).
    pub occurred_at: Option<String>,
    /// When the store recorded it.
    #[schema(format = DateTime)]
    pub recorded_at: String,
    /// Who acted.
    pub actor: HistoryActorBody,
    /// The request that caused it.
    pub request_id: Option<String>,
    /// The event's data.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// The actor of a history event, from the token.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryActorBody {
    /// User id.
    pub sub: Option<String>,
    /// Roles.
    #[schema(value_type = Vec<crate::schema::Role>)]
    pub roles: Vec<String>,
    /// Organisation.
    pub org: Option<String>,
}

/// A case's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryBody {
    /// The case id.
    pub id: String,
    /// Every event, in sequence order.
    pub events: Vec<HistoryEventBody>,
}

// ---------------------------------------------------------------------------------------------
// Visibility

enum Visibility {
    Staff,
    Enterprise,
}

/// Who may read `view`. Handlers see only their department's cases and enterprises only their
/// own: to anyone else the case does not exist (404), so its existence does not leak.
fn visibility(actor: &Actor, view: &CaseView) -> Result<Visibility, ApiError> {
    if actor.has_any(DISTRICT_READERS) {
        return Ok(Visibility::Staff);
    }
    if actor.has_any(DEPARTMENT_ROLES) {
        if view
            .departments()
            .any(|department| actor.acts_for(department))
        {
            return Ok(Visibility::Staff);
        }
        return Err(not_found());
    }
    if actor.has(Role::Enterprise) {
        if actor.acts_for(&view.enterprise_id) {
            return Ok(Visibility::Enterprise);
        }
        return Err(not_found());
    }
    Err(ApiError::new(
        ErrorCode::RoleNotAllowed,
        "this role has no access to enterprise cases",
    ))
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::CaseNotFound, "case not found")
}

fn parse_case_id(text: &str) -> Result<CaseId, ApiError> {
    CaseId::parse(text).map_err(|_| not_found())
}

/// Read-your-writes: wait until the `cases` projection has applied `min_position`.
async fn wait_for_position(state: &AppState, min_position: Option<i64>) -> Result<(), ApiError> {
    let Some(position) = min_position else {
        return Ok(());
    };
    match state
        .projector
        .wait_for("cases", position, READ_YOUR_WRITES_TIMEOUT)
        .await?
    {
        CatchUp::Reached => Ok(()),
        CatchUp::UnknownPosition => Err(ApiError::new(
            ErrorCode::UnknownPosition,
            format!("no event has position {position}"),
        )),
        CatchUp::TimedOut => Err(ApiError::unavailable(
            ErrorCode::ProjectionBehind,
            "the view has not caught up with that position yet; retry shortly",
            1,
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Commands: each one an [`CommandEndpoint`], run by the shared handler in `endpoint.rs`.

/// The route of a command on one case.
const fn on_case(path: &'static str, operation_id: &'static str, summary: &'static str) -> Route {
    Route {
        path,
        operation_id,
        tag: "cases",
        summary,
    }
}

/// The supporting documents of a response, pinned by hash.
fn evidence(fields: &mut Fields, items: &[EvidenceBody]) -> Option<Vec<Evidence>> {
    if items.len() > 50 {
        fields.push("evidence", "at most 50 documents");
        return None;
    }
    let mut evidence = Vec::with_capacity(items.len());
    let mut ok = true;
    for (index, item) in items.iter().enumerate() {
        let name = fields.take(&format!("evidence[{index}].name"), Title::parse(&item.name));
        let hash_ok = item.sha256.len() == 64
            && item
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hash_ok {
            fields.push(
                &format!("evidence[{index}].sha256"),
                "must be 64 lowercase hex characters",
            );
        }
        match name {
            Some(name) if hash_ok => evidence.push(Evidence {
                name: name.into(),
                sha256: item.sha256.clone(),
            }),
            _ => ok = false,
        }
    }
    ok.then_some(evidence)
}

/// Register a case.
pub struct RegisterCase;

impl CommandEndpoint for RegisterCase {
    type Aggregate = EnterpriseCase;
    type Body = RegisterCaseRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases",
        "register_case",
        "Register a case (district staff, or the enterprise itself); the answer carries its public number and, once, the verifier code",
    );
    const CREATES: bool = true;

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        let body = input.body;
        let case_id = CaseId::from_uuid(uuid::Uuid::now_v7());
        let receipt = input.state.new_receipt();
        let verifier_sha256 = verifier_hash(&receipt.verifier);
        let case_number = receipt.case_number.clone();
        let command = input.parse(|fields| {
            let enterprise_id = fields.take(
                "enterprise_id",
                SubjectId::parse(body.enterprise_id.as_str()),
            );
            let title = fields.take("title", Title::parse(&body.title));
            let description = fields.take("description", LongText::parse(&body.description));
            let category = fields.take("category", Label::parse(&body.category));
            Some(CaseCommand::Register {
                case_id,
                enterprise_id: enterprise_id?,
                title: title?,
                description: description?,
                category: category?,
                urgency: body.urgency,
                source: body.source,
                case_number: Some(case_number),
                verifier_sha256: Some(verifier_sha256),
            })
        })?;
        let mut prepared = Prepared::on(case_id, command);
        prepared.receipt = Some(receipt);
        Ok(prepared)
    }
}

/// Dispatch a case.
pub struct DispatchCase;

impl CommandEndpoint for DispatchCase {
    type Aggregate = EnterpriseCase;
    type Body = DispatchCaseRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/dispatch",
        "dispatch_case",
        "Dispatch a case to a lead department (dispatcher)",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        let (state, body) = (input.state, input.body);
        let case_id = parse_case_id(input.id())?;
        let command = input.parse(|fields| {
            let lead_department =
                fields.department("lead_department", state, &body.lead_department);
            let co_departments: Vec<Option<DepartmentId>> = body
                .co_departments
                .iter()
                .enumerate()
                .map(|(index, id)| {
                    fields.department(&format!("co_departments[{index}]"), state, id)
                })
                .collect();
            let note = fields.optional::<20_000>("note", body.note.as_deref());
            Some(CaseCommand::Dispatch {
                lead_department: lead_department?,
                co_departments: co_departments.into_iter().collect::<Option<Vec<_>>>()?,
                note,
                sla: state.sla_context(),
            })
        })?;
        Ok(Prepared::on(case_id, command))
    }
}

/// Accept a case.
pub struct AcceptCase;

impl CommandEndpoint for AcceptCase {
    type Aggregate = EnterpriseCase;
    type Body = NoBody;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/accept",
        "accept_case",
        "Accept a case (lead department)",
    );

    async fn prepare(input: Input<'_, NoBody>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.on(parse_case_id, CaseCommand::Accept)
    }
}

/// Respond to a case.
pub struct RespondCase;

impl CommandEndpoint for RespondCase {
    type Aggregate = EnterpriseCase;
    type Body = RespondCaseRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/respond",
        "respond_case",
        "Respond to a case (lead department)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[(
        422,
        "`validation_failed`, a wrong state, or `basis_required` (an `explained` answer needs its basis)",
    )];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.command(parse_case_id, |fields, body| {
            let text = fields.long("text", &body.text);
            let basis = fields.optional::<20_000>("basis", body.basis.as_deref());
            let evidence = evidence(fields, &body.evidence);
            Some(CaseCommand::Respond {
                resolution: body.resolution,
                text: text?,
                basis,
                evidence: evidence?,
            })
        })
    }
}

/// Rate the handling.
pub struct RateCase;

impl CommandEndpoint for RateCase {
    type Aggregate = EnterpriseCase;
    type Body = RateCaseRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/rate",
        "rate_case",
        "Rate the handling (the enterprise, or a dispatcher recording a follow-up call)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (
            403,
            "`role_not_allowed`, or `rater_conflict`: the rater handled the case or is in the lead department",
        ),
        (
            422,
            "An invalid grade, no response yet, or `rating_is_final`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.command(parse_case_id, |fields, body| {
            let satisfaction = fields.take(
                "satisfaction",
                Satisfaction::new(body.satisfaction).ok_or("must be 1 to 5"),
            );
            let comment = fields.optional::<20_000>("comment", body.comment.as_deref());
            Some(CaseCommand::Rate {
                satisfaction: satisfaction?,
                resolved: body.resolved,
                comment,
            })
        })
    }
}

/// Add an internal note.
pub struct AddNote;

impl CommandEndpoint for AddNote {
    type Aggregate = EnterpriseCase;
    type Body = AddNoteRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/add-note",
        "add_note",
        "Add an internal note (never shown to the enterprise or the public)",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.command(parse_case_id, |fields, body| {
            Some(CaseCommand::AddNote {
                text: fields.long("text", &body.text)?,
            })
        })
    }
}

/// Close a case.
pub struct CloseCase;

impl CommandEndpoint for CloseCase {
    type Aggregate = EnterpriseCase;
    type Body = NoBody;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/close",
        "close_case",
        "Close a case (dispatcher): needs a response and a rating",
    );
    const REFUSALS: &'static [(u16, &'static str)] =
        &[(422, "`no_response_yet` or `no_rating_yet`")];

    async fn prepare(input: Input<'_, NoBody>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.on(parse_case_id, CaseCommand::Close)
    }
}

/// Decline a case.
pub struct DeclineCase;

impl CommandEndpoint for DeclineCase {
    type Aggregate = EnterpriseCase;
    type Body = DeclineRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/decline",
        "decline_case",
        "Decline a registered case before dispatch (dispatcher), with a reason code",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.command(parse_case_id, |fields, body| {
            let text = fields.long("text", &body.text);
            Some(CaseCommand::Decline {
                reason: body.reason,
                text: text?,
            })
        })
    }
}

/// Return a case.
pub struct ReturnCase;

impl CommandEndpoint for ReturnCase {
    type Aggregate = EnterpriseCase;
    type Body = ReturnRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/return",
        "return_case",
        "Return a case before accepting it (lead department). A first return naming the competent department moves the case there; otherwise it goes back to the dispatcher",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        let state = input.state;
        input.command(parse_case_id, |fields, body| {
            let reason = fields.long("reason", &body.reason);
            let suggested = body
                .suggested_department
                .as_deref()
                .map(|id| fields.department("suggested_department", state, id));
            let suggested_department = match suggested {
                Some(department) => Some(department?),
                None => None,
            };
            Some(CaseCommand::Return {
                reason: reason?,
                suggested_department,
                sla: state.sla_context(),
            })
        })
    }
}

/// Reassign a case.
pub struct ReassignCase;

impl CommandEndpoint for ReassignCase {
    type Aggregate = EnterpriseCase;
    type Body = ReassignRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/reassign",
        "reassign_case",
        "Move a case to another lead department (dispatcher); acceptance restarts, response and closing deadlines stay",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        let state = input.state;
        input.command(parse_case_id, |fields, body| {
            let lead_department =
                fields.department("lead_department", state, &body.lead_department);
            let reason = fields.long("reason", &body.reason);
            Some(CaseCommand::Reassign {
                lead_department: lead_department?,
                reason: reason?,
                sla: state.sla_context(),
            })
        })
    }
}

/// Log a contact.
pub struct LogContact;

impl CommandEndpoint for LogContact {
    type Aggregate = EnterpriseCase;
    type Body = LogContactRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/log-contact",
        "log_contact",
        "Log a contact with the enterprise (lead department); the first sets the first-contact time",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.command(parse_case_id, |fields, body| {
            let summary = fields.long("summary", &body.summary);
            Some(CaseCommand::LogContact {
                channel: body.channel,
                summary: summary?,
            })
        })
    }
}

/// Post a public update.
pub struct PostUpdate;

impl CommandEndpoint for PostUpdate {
    type Aggregate = EnterpriseCase;
    type Body = PublicUpdateRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/post-update",
        "post_update",
        "Post an update shown to the enterprise and in the public lookup under your department's name (lead or co-department)",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.command(parse_case_id, |fields, body| {
            Some(CaseCommand::PostPublicUpdate {
                text: fields.long("text", &body.text)?,
            })
        })
    }
}

/// Ask for an extension.
pub struct RequestExtension;

impl CommandEndpoint for RequestExtension {
    type Aggregate = EnterpriseCase;
    type Body = ExtensionRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/request-extension",
        "request_extension",
        "Ask for more time before the response is due (lead department), within the policy's cap",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.command(parse_case_id, |fields, body| {
            let reason = fields.long("reason", &body.reason);
            Some(CaseCommand::RequestExtension {
                amount: body.amount,
                reason: reason?,
            })
        })
    }
}

/// Decide an extension request.
pub struct DecideExtension;

impl CommandEndpoint for DecideExtension {
    type Aggregate = EnterpriseCase;
    type Body = DecisionRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/decide-extension",
        "decide_extension",
        "Grant or refuse the pending extension request (dispatcher)",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        let state = input.state;
        input.command(parse_case_id, |fields, body| {
            let reason = fields.long("reason", &body.reason);
            Some(CaseCommand::DecideExtension {
                approve: body.approve,
                reason: reason?,
                sla: state.sla_context(),
            })
        })
    }
}

/// Ask to pause the clock.
pub struct RequestPause;

impl CommandEndpoint for RequestPause {
    type Aggregate = EnterpriseCase;
    type Body = ReasonRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/request-pause",
        "request_pause",
        "Ask to stop the clock while waiting for the enterprise (lead department)",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.reason(parse_case_id, |reason| CaseCommand::RequestPause { reason })
    }
}

/// Decide a pause request.
pub struct DecidePause;

impl CommandEndpoint for DecidePause {
    type Aggregate = EnterpriseCase;
    type Body = DecisionRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/decide-pause",
        "decide_pause",
        "Grant or refuse the pending pause request (dispatcher); a grant stops the clock now",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.command(parse_case_id, |fields, body| {
            let reason = fields.long("reason", &body.reason);
            Some(CaseCommand::DecidePause {
                approve: body.approve,
                reason: reason?,
            })
        })
    }
}

/// Resume the clock.
pub struct ResumeCase;

impl CommandEndpoint for ResumeCase {
    type Aggregate = EnterpriseCase;
    type Body = NoBody;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/resume",
        "resume_case",
        "Restart the clock (lead department or dispatcher); open deadlines move by the paused time",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[(422, "`clock_not_paused`")];

    async fn prepare(input: Input<'_, NoBody>) -> Result<Prepared<CaseCommand>, ApiError> {
        let sla = input.state.sla_context();
        input.on(parse_case_id, CaseCommand::Resume { sla })
    }
}

/// Record a follow-up attempt.
pub struct RecordFollowUp;

impl CommandEndpoint for RecordFollowUp {
    type Aggregate = EnterpriseCase;
    type Body = FollowUpRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/follow-up",
        "record_follow_up",
        "Record a follow-up attempt (dispatcher). Three failed attempts allow closing unrated",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.command(parse_case_id, |fields, body| {
            let note = fields.optional::<20_000>("note", body.note.as_deref());
            Some(CaseCommand::RecordFollowUp {
                reached: body.reached,
                note,
            })
        })
    }
}

/// Appeal the rating.
pub struct AppealRating;

impl CommandEndpoint for AppealRating {
    type Aggregate = EnterpriseCase;
    type Body = ReasonRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/appeal",
        "appeal_rating",
        "Appeal the rating (head of the lead department). The rating never changes",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.reason(parse_case_id, |reason| CaseCommand::AppealRating { reason })
    }
}

/// Decide an appeal.
pub struct DecideAppeal;

impl CommandEndpoint for DecideAppeal {
    type Aggregate = EnterpriseCase;
    type Body = AppealDecisionRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/decide-appeal",
        "decide_appeal",
        "Decide the pending appeal (dispatcher); an upheld appeal excludes the rating from scoring",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.command(parse_case_id, |fields, body| {
            let reason = fields.long("reason", &body.reason);
            Some(CaseCommand::DecideAppeal {
                upheld: body.upheld,
                reason: reason?,
            })
        })
    }
}

/// Reopen a case.
pub struct ReopenCase;

impl CommandEndpoint for ReopenCase {
    type Aggregate = EnterpriseCase;
    type Body = ReasonRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/reopen",
        "reopen_case",
        "Reopen a responded or closed case (dispatcher): a new cycle with new deadlines",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        let state = input.state;
        input.command(parse_case_id, |fields, body| {
            Some(CaseCommand::Reopen {
                reason: fields.long("reason", &body.reason)?,
                sla: state.sla_context(),
            })
        })
    }
}

/// Withdraw a case.
pub struct WithdrawCase;

impl CommandEndpoint for WithdrawCase {
    type Aggregate = EnterpriseCase;
    type Body = ReasonRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/withdraw",
        "withdraw_case",
        "Withdraw the case (the enterprise, or district staff on its behalf). After dispatch the withdrawal is flagged for a quality check",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.reason(parse_case_id, |reason| CaseCommand::Withdraw { reason })
    }
}

/// Exempt a case from scoring.
pub struct GrantExemption;

impl CommandEndpoint for GrantExemption {
    type Aggregate = EnterpriseCase;
    type Body = ExemptionRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/grant-exemption",
        "grant_exemption",
        "Exempt the case from scoring (a dispatcher who neither dispatched nor closed it)",
    );

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        input.command(parse_case_id, |fields, body| {
            let text = fields.long("text", &body.text);
            Some(CaseCommand::GrantExemption {
                reason: body.reason,
                text: text?,
            })
        })
    }
}

/// Merge a case into another.
pub struct MergeCase;

impl CommandEndpoint for MergeCase {
    type Aggregate = EnterpriseCase;
    type Body = MergeRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/merge",
        "merge_case",
        "Merge this case into another as a duplicate (dispatcher). The other case must exist",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[(
        422,
        "An unknown target (`validation_failed`), `merge_into_self` or a rule",
    )];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        let state = input.state;
        let into = CaseId::parse(&input.body.into).ok();
        let case_id = parse_case_id(input.id())?;
        // A case registered a moment ago may not be in the view yet: the log decides (as for a
        // visit's linked case), so a case the 201 said exists can be merged into at once.
        let target_exists = match &into {
            Some(into) => state.case_exists(into).await?,
            None => false,
        };
        let command = input.parse(|fields| {
            let reason = fields.long("reason", &input.body.reason);
            if !target_exists {
                fields.push("into", "no case with this id");
            }
            Some(CaseCommand::Merge {
                into: into?,
                reason: reason?,
            })
        })?;
        Ok(Prepared::on(case_id, command))
    }
}

/// Re-issue the verifier code.
pub struct ReissueVerifier;

impl CommandEndpoint for ReissueVerifier {
    type Aggregate = EnterpriseCase;
    type Body = ReasonRequest;
    const ROUTE: Route = on_case(
        "/api/v1/cases/{case_id}/reissue-verifier",
        "reissue_verifier",
        "Issue a new verifier code for the public status lookup (dispatcher), when the enterprise has lost its own. The code is shown once, in this answer (`case_number` and `verifier`; a replay omits it); only its hash is recorded, and the earlier code stops working",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (403, "`role_not_allowed`: dispatchers only"),
        (
            422,
            "Invalid fields, or `no_case_number` (registered without a public number)",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<CaseCommand>, ApiError> {
        let case_id = parse_case_id(input.id())?;
        let receipt = input
            .state
            .case_number(&case_id)
            .await?
            .map(|case_number| Receipt {
                case_number,
                verifier: new_verifier(),
            });
        // Without a number the domain refuses (`no_case_number`) before the hash is looked at.
        let verifier_sha256 = receipt
            .as_ref()
            .map(|receipt| verifier_hash(&receipt.verifier))
            .unwrap_or_default();
        let command = input.parse(|fields| {
            Some(CaseCommand::ReissueVerifier {
                verifier_sha256,
                reason: fields.long("reason", &input.body.reason)?,
            })
        })?;
        let mut prepared = Prepared::on(case_id, command);
        prepared.receipt = receipt;
        Ok(prepared)
    }
}

/// The case routes: every command once, and the reads.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(command::<RegisterCase>())
        .routes(routes!(list_cases))
        .routes(routes!(get_case))
        .routes(routes!(case_history))
        .routes(command::<DispatchCase>())
        .routes(command::<AcceptCase>())
        .routes(command::<RespondCase>())
        .routes(command::<RateCase>())
        .routes(command::<AddNote>())
        .routes(command::<CloseCase>())
        .routes(command::<DeclineCase>())
        .routes(command::<ReturnCase>())
        .routes(command::<ReassignCase>())
        .routes(command::<LogContact>())
        .routes(command::<PostUpdate>())
        .routes(command::<RequestExtension>())
        .routes(command::<DecideExtension>())
        .routes(command::<RequestPause>())
        .routes(command::<DecidePause>())
        .routes(command::<ResumeCase>())
        .routes(command::<RecordFollowUp>())
        .routes(command::<AppealRating>())
        .routes(command::<DecideAppeal>())
        .routes(command::<ReopenCase>())
        .routes(command::<WithdrawCase>())
        .routes(command::<GrantExemption>())
        .routes(command::<MergeCase>())
        .routes(command::<ReissueVerifier>())
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Read-your-writes parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    /// Wait (up to 5 s) until the view includes the event at this position (from a command
    /// answer).
    pub min_position: Option<i64>,
}

/// History parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Accepted for symmetry with other reads; the history reads the log and is always current.
    pub min_position: Option<i64>,
    /// Why you read this (recorded in the access log with your identity).
    pub purpose: Option<String>,
}

/// The metadata stored beside an event, as read back from the log.
pub struct EventMetadata(serde_json::Map<String, serde_json::Value>);

impl EventMetadata {
    /// Parses stored metadata; unreadable metadata reads as empty.
    pub fn parse(text: &str) -> Self {
        Self(serde_json::from_str(text).unwrap_or_default())
    }

    /// One text field.
    pub fn text(&self, key: &str) -> Option<String> {
        self.0
            .get(key)
            .and_then(|value| value.as_str())
            .map(str::to_owned)
    }

    /// The actor recorded from the token.
    pub fn actor(&self) -> HistoryActorBody {
        HistoryActorBody {
            sub: self.text("actor_sub"),
            roles: self
                .text("actor_roles")
                .map(|roles| {
                    roles
                        .split(',')
                        .filter(|role| !role.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            org: self.text("actor_org"),
        }
    }
}

/// List filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only cases in this status.
    #[param(value_type = Option<crate::schema::CaseStatus>)]
    pub status: Option<String>,
    /// Only cases this department leads or assists.
    pub department: Option<String>,
    /// Only cases of this enterprise.
    pub enterprise_id: Option<String>,
    /// Only the case with this public number (e.g. `C20261124-123456`, any letter case), within
    /// what you may see.
    pub case_number: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Read-your-writes, as for a single case.
    pub min_position: Option<i64>,
}

/// One case's current state.
#[utoipa::path(
    get, path = "/api/v1/cases/{case_id}", tag = "cases",
    params(("case_id" = String, Path, description = "The case id"), ReadQuery),
    responses(
        (status = 200, description = "The case", body = CaseBody),
        (status = 404, description = "Unknown or not visible to you", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`projection_behind`: min_position not reached in time", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_case(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(case_id): Path<String>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Response, ApiError> {
    let case_id = parse_case_id(&case_id)?;
    wait_for_position(&state, query.min_position).await?;
    let view = state
        .db
        .case_view(&case_id.to_string())
        .await?
        .ok_or_else(not_found)?;
    let staff = matches!(visibility(&actor, &view)?, Visibility::Staff);
    let version = view.version;
    let mut response = Json(CaseBody::from_view(view, staff, state.now())).into_response();
    if let Ok(etag) = axum::http::HeaderValue::from_str(&format!("\"{version}\"")) {
        response
            .headers_mut()
            .insert(axum::http::header::ETAG, etag);
    }
    Ok(response)
}

/// Narrows a list filter to what `actor` may see: district readers everything, department staff
/// their department's cases, an enterprise its own. Asking for more is a 403.
fn narrow_to_visible(actor: &Actor, filter: &mut CaseFilter) -> Result<(), ApiError> {
    if actor.has_any(DISTRICT_READERS) {
        return Ok(());
    }
    if actor.has_any(DEPARTMENT_ROLES) {
        let org = actor.org.clone().ok_or_else(|| {
            ApiError::new(ErrorCode::NoDepartment, "your token names no department")
        })?;
        if filter
            .department
            .as_ref()
            .is_some_and(|department| *department != org)
        {
            return Err(ApiError::new(
                ErrorCode::DepartmentNotAllowed,
                "you may list only your department's cases",
            ));
        }
        filter.department = Some(org);
        return Ok(());
    }
    if actor.has(Role::Enterprise) {
        let own = actor
            .org
            .as_deref()
            .and_then(|org| SubjectId::parse(org).ok())
            .ok_or_else(|| {
                ApiError::new(ErrorCode::NoEnterprise, "your token names no enterprise")
            })?;
        if filter.enterprise_id.as_ref().is_some_and(|id| *id != own) {
            return Err(ApiError::new(
                ErrorCode::EnterpriseNotAllowed,
                "you may list only your own cases",
            ));
        }
        filter.enterprise_id = Some(own);
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::RoleNotAllowed,
        "this role has no access to enterprise cases",
    ))
}

/// List cases, newest first, filtered to what you may see.
#[utoipa::path(
    get, path = "/api/v1/cases", tag = "cases",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of cases", body = CaseListBody),
        (status = 400, description = "Invalid filter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role without case access, or another department", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_cases(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<CaseListBody>, ApiError> {
    let status = query
        .status
        .as_deref()
        .map(|status| {
            serde_json::from_value::<CaseStatus>(serde_json::Value::String(status.to_owned()))
                .map_err(|_| {
                    ApiError::new(
                        ErrorCode::InvalidQuery,
                        format!("unknown status {status:?}"),
                    )
                })
        })
        .transpose()?;
    let enterprise_id = query
        .enterprise_id
        .as_deref()
        .map(|id| {
            SubjectId::parse(id)
                .map_err(|error| ApiError::new(ErrorCode::InvalidQuery, error.to_string()))
        })
        .transpose()?;
    let case_number = query
        .case_number
        .as_deref()
        .map(|number| {
            let number = number.trim().to_ascii_uppercase();
            if number.is_empty() || number.len() > 64 {
                Err(ApiError::new(
                    ErrorCode::InvalidQuery,
                    "case_number must be 1 to 64 characters",
                ))
            } else {
                Ok(number)
            }
        })
        .transpose()?;
    let before = query
        .cursor
        .as_deref()
        .map(|cursor| {
            cursor
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidCursor,
                        "the cursor is not one this server gave",
                    )
                })
        })
        .transpose()?;
    let mut filter = CaseFilter {
        status,
        department: query.department.clone(),
        enterprise_id,
        case_number,
        before,
        limit: query.limit.unwrap_or(50),
    };
    if !(1..=200).contains(&filter.limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "limit must be 1 to 200",
        ));
    }
    narrow_to_visible(&actor, &mut filter)?;
    wait_for_position(&state, query.min_position).await?;
    let page = state.db.list_cases(&filter).await?;
    let now = state.now();
    let staff = !actor.has(Role::Enterprise)
        || actor.has_any(DISTRICT_READERS)
        || actor.has_any(DEPARTMENT_ROLES);
    Ok(Json(CaseListBody {
        items: page
            .cases
            .into_iter()
            .map(|view| CaseBody::from_view(view, staff, now))
            .collect(),
        next_cursor: page.next_before.map(|n| n.to_string()),
    }))
}

/// Every event of a case, with who did it and in which request. Staff and auditors only; each
/// read is recorded in the access log (it names officers and shows internal notes).
#[utoipa::path(
    get, path = "/api/v1/cases/{case_id}/history", tag = "cases",
    params(("case_id" = String, Path, description = "The case id"), HistoryQuery),
    responses(
        (status = 200, description = "The history", body = HistoryBody),
        (status = 403, description = "Enterprises and roles without case access", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown or not visible to you", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn case_history(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(case_id): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryBody>, ApiError> {
    let case_id = parse_case_id(&case_id)?.to_string();
    wait_for_position(&state, query.min_position).await?;
    let events = state.db.stream_history(AGGREGATE_TYPE, &case_id).await?;
    if events.is_empty() {
        return Err(not_found());
    }
    // Visibility is decided on the view when there is one; before the projection has the case,
    // only district readers may see the raw history.
    match state.db.case_view(&case_id).await? {
        Some(view) => {
            if let Visibility::Enterprise = visibility(&actor, &view)? {
                return Err(ApiError::new(
                    ErrorCode::HistoryNotAvailable,
                    "the full history is for staff; your case's status and answer are at /api/v1/cases/{id}",
                ));
            }
        }
        None if actor.has_any(DISTRICT_READERS) => {}
        None => return Err(not_found()),
    }
    record_access(&state, &actor, "case_history", &case_id, query.purpose).await?;
    let events = events
        .into_iter()
        .map(|event| {
            let metadata = EventMetadata::parse(&event.metadata);
            HistoryEventBody {
                position: event.at.position,
                sequence: event.sequence,
                event_type: event.event_type,
                event_version: event.event_version,
                occurred_at: metadata.text("occurred_at"),
                recorded_at: event.recorded_at,
                actor: metadata.actor(),
                request_id: metadata.text("request_id"),
                payload: serde_json::from_str(&event.payload).unwrap_or(serde_json::Value::Null),
            }
        })
        .collect();
    Ok(Json(HistoryBody {
        id: case_id,
        events,
    }))
}

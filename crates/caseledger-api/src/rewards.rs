//! `/api/v1/reward-programs` and `/api/v1/nominations`: reward programs and nominations
//! (评选表彰 / 重奖), the public notice and award lists, public objections and the reward
//! decision audit.
//!
//! Who does what (docs/DECISIONS.md, "Rewards"): the reward office defines programs, checks
//! eligibility, draws reviewers (the server picks the seed with the OS CSPRNG and folds the
//! pool from the log), recuses, aggregates, tallies, runs the notice, announces, withdraws and
//! disqualifies; the approving authority approves programs and awards and revokes its own
//! awards; seated experts score; committee members vote; the auditor resolves objections and
//! reads everything; anyone may object during the notice, without login.
//!
//! Who sees what: staff reads never show an objection filer's identity; only
//! `GET /nominations/{id}/objections` does, to the reward office and the auditor, after a
//! `PrivateDataRead` is recorded. The nominee's ID number and phone are shown to the reward
//! office and the auditor only; individual scores to the auditor (and each expert their own).
//! Public answers are built field by field from name, unit, summary, tier, amount, decision
//! numbers and dates.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use caseledger_domain::reward::audit::to_csv;
use caseledger_domain::reward::nomination::{
    ChecklistItem, Contribution, NominationCommand, NominationStatus, Nominee, NomineeKind,
    ProgramSnapshot, RewardNomination,
};
use caseledger_domain::reward::program::{ProgramCommand, RewardProgram};
use caseledger_domain::reward::{
    format_hundredths, AggregationRule, Criterion, CriterionScore, ProgramTerms, Tier,
    AGGREGATION_VERSION,
};
use caseledger_domain::text::{Label, LongText};
use caseledger_domain::{
    Actor, Discipline, ExpertId, NominationId, ObjectionId, RewardProgramId, Role, UnitId, UserId,
};
use caseledger_store::rewards::{NominationView, ProgramView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::record_access;
use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::endpoint::{command, CommandEndpoint, Input, NoBody, Prepared, Route};
use crate::error::{ApiError, Problem};
use crate::experts::MinPositionQuery;
use crate::fields::Fields;
use crate::json::ApiQuery;
use crate::reads::{time, wait_for_projection};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const PROJECTION: &str = "rewards";

/// Roles that read programs and nominations.
const STAFF: &[Role] = &[
    Role::RewardOffice,
    Role::CommitteeMember,
    Role::ApprovingAuthority,
    Role::Auditor,
];
/// Roles that see the nominee's private data and read objection filers (recorded).
const PRIVATE_READERS: &[Role] = &[Role::RewardOffice, Role::Auditor];
/// Roles that read the reward decision audit.
const AUDIT_READERS: &[Role] = &[Role::Auditor, Role::RewardOffice, Role::ApprovingAuthority];

// ---------------------------------------------------------------------------------------------
// Request shapes

/// A tier and its amounts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierRequest {
    /// Slug (`first`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Smallest amount, yuan.
    pub min_amount: u64,
    /// Largest amount, yuan.
    pub max_amount: u64,
}

/// A criterion.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CriterionRequest {
    /// Slug (`contribution`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Relative weight (positive).
    pub weight: u32,
    /// Lowest score.
    pub min_score: i32,
    /// Highest score.
    pub max_score: i32,
}

/// Define a reward program.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProgramRequest {
    /// Title.
    pub title: String,
    /// Cycle (`2026`).
    pub cycle: String,
    /// Awards the program may make.
    pub quota: u32,
    /// Tiers and amounts.
    pub tiers: Vec<TierRequest>,
    /// Criteria with weights and ranges.
    pub criteria: Vec<CriterionRequest>,
    /// Scores left out at each end per criterion (trimmed mean, `reward-aggregation.v1`).
    pub trim: u32,
    /// Public notice in working days (at least 5).
    #[schema(minimum = 5)]
    pub notice_working_days: u32,
    /// Reviewers per nomination (3 to 15).
    #[schema(minimum = 3, maximum = 15)]
    pub reviewers: u32,
    /// Alternates per nomination (default 2).
    #[serde(default)]
    pub alternates: Option<u32>,
    /// Disciplines reviewers are drawn from.
    pub disciplines: Vec<String>,
    /// Committee members.
    pub committee_size: u32,
    /// Votes needed (more than half the committee).
    pub committee_quorum: u32,
    /// The reward office's unit (its employees are never drawn).
    pub reward_office_unit: String,
    /// Reward office staff user ids (never drawn, never scoring).
    #[serde(default)]
    pub reward_office_staff: Vec<String>,
    /// The committee roster: `committee_size` distinct user ids; only they vote.
    #[serde(default)]
    pub committee: Vec<String>,
}

/// Replace a program's committee roster.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeCommitteeRequest {
    /// The new roster (user ids); the program's quorum must stay more than half of it.
    pub members: Vec<String>,
    /// Why the roster changes.
    pub reason: String,
}

/// Approve a program.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveProgramRequest {
    /// The approval document number (批准文号).
    pub document_number: String,
}

/// The nominee.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NomineeRequest {
    /// `unit` or `person`.
    #[schema(value_type = crate::schema::NomineeKind)]
    pub kind: String,
    /// Name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// The unit's id (experts conflicted with it are not drawn).
    #[serde(default)]
    pub unit_id: Option<String>,
    /// ID number (private).
    #[serde(default)]
    pub id_number: Option<String>,
    /// Phone (private).
    #[serde(default)]
    pub phone: Option<String>,
}

/// A quantified contribution.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContributionRequest {
    /// What.
    pub description: String,
    /// How much.
    pub quantity: i64,
    /// In what.
    pub unit: String,
}

/// Submit a nomination.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitNominationRequest {
    /// The program.
    #[schema(format = Uuid)]
    pub program_id: String,
    /// Who.
    pub nominee: NomineeRequest,
    /// Summary of deeds (public during the notice).
    pub summary: String,
    /// Quantified contributions.
    #[serde(default)]
    pub contributions: Vec<ContributionRequest>,
    /// Evidence references.
    #[serde(default)]
    pub evidence: Vec<String>,
    /// Why.
    pub reason: String,
}

/// One checklist line.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistRequest {
    /// The requirement.
    pub item: String,
    /// Met or not.
    pub passed: bool,
}

/// Decide eligibility.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityRequest {
    /// Eligible or not (must agree with the checklist).
    pub eligible: bool,
    /// The checklist.
    pub checklist: Vec<ChecklistRequest>,
    /// Why.
    pub reason: String,
}

/// Recuse a reviewer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecuseReviewerRequest {
    /// The reviewer.
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub expert_id: String,
    /// Why.
    pub reason: String,
}

/// One criterion's score.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// The score.
    pub score: i32,
    /// Comment (required at either end of the range).
    #[serde(default)]
    pub comment: Option<String>,
}

/// Submit scores.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoresRequest {
    /// Per criterion code.
    pub scores: BTreeMap<String, ScoreRequest>,
}

/// Cast a vote.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteRequest {
    /// For shortlisting or against.
    pub in_favour: bool,
}

/// File an objection (no login).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionRequest {
    /// Your real name (required for the objection to be accepted).
    #[serde(default)]
    pub name: Option<String>,
    /// How to reach you (required for the objection to be accepted).
    #[serde(default)]
    pub contact: Option<String>,
    /// The grounds.
    pub grounds: String,
}

/// Resolve an objection.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveObjectionRequest {
    /// The objection.
    #[schema(format = Uuid)]
    pub objection_id: String,
    /// Upheld or dismissed.
    pub upheld: bool,
    /// The finding.
    pub finding: String,
}

/// Approve an award.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveAwardRequest {
    /// The decision number.
    pub decision_number: String,
    /// The tier code.
    pub tier: String,
    /// The amount in yuan, within the tier.
    pub amount: u64,
    /// Why.
    pub reason: String,
}

/// Withdraw or disqualify.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroundsRequest {
    /// Why (reason or grounds; 1 to 20,000 characters).
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
}

impl crate::endpoint::Reasoned for GroundsRequest {
    fn reason(&self) -> &str {
        &self.reason
    }
}

/// Revoke an award.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// The revocation decision number.
    pub decision_number: String,
    /// Grounds.
    pub grounds: String,
}

// ---------------------------------------------------------------------------------------------
// Answer shapes

/// A program.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramBody {
    /// Id.
    #[schema(format = Uuid)]
    pub id: String,
    /// `draft` or `approved`.
    #[schema(value_type = crate::schema::ProgramStatus)]
    pub status: String,
    /// Approval document.
    pub approval_document: Option<String>,
    /// Title.
    pub title: String,
    /// Cycle.
    pub cycle: String,
    /// Quota.
    pub quota: u32,
    /// Tiers as `{code, name, min_amount, max_amount}`.
    #[schema(value_type = Vec<Object>)]
    pub tiers: Vec<Tier>,
    /// Criteria as `{code, name, weight, min_score, max_score}`.
    #[schema(value_type = Vec<Object>)]
    pub criteria: Vec<Criterion>,
    /// `trimmed_mean`.
    pub aggregation_method: String,
    /// Trim per end.
    pub aggregation_trim: u32,
    /// `reward-aggregation.v1`.
    pub aggregation_version: String,
    /// Notice in working days.
    pub notice_working_days: u32,
    /// Reviewers per nomination.
    pub reviewers: u32,
    /// Alternates drawn per nomination.
    pub alternates: u32,
    /// Disciplines reviewers are drawn from.
    pub disciplines: Vec<String>,
    /// Committee size.
    pub committee_size: u32,
    /// Committee quorum.
    pub committee_quorum: u32,
    /// The committee roster: the user ids of the members who vote (changed only by
    /// `change-committee`).
    pub committee: Vec<String>,
    /// The reward office's unit (its employees are never drawn).
    pub reward_office_unit: String,
    /// Reward office staff user ids (never drawn, never scoring).
    pub reward_office_staff: Vec<String>,
    /// Version.
    pub version: i64,
}

/// One line of an audit timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditTimelineEntryBody {
    /// Sequence in the stream.
    pub sequence: i64,
    /// Feed position.
    pub position: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Who (user id).
    pub actor: String,
    /// The event type.
    pub event: String,
    /// What it says, in one line (no private data).
    pub detail: String,
}

/// An anomaly flag of the audit.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditFlagBody {
    /// `approval_inside_notice_window`, `unresolved_objection_at_approval`,
    /// `upheld_objection_at_approval`, `conflicted_scorer`, `missing_reason`,
    /// `amount_outside_tier`, `recomputation_mismatch`, `draw_not_reproducible`,
    /// `quota_exceeded`, `program_not_approved`, `revoked_by_other_authority`.
    pub code: String,
    /// What was found.
    pub detail: String,
}

/// A reviewer on a nomination's roster, in the audit.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRosterEntryBody {
    /// The expert.
    pub expert_id: String,
    /// `drawn` or `alternate`.
    #[schema(value_type = crate::schema::SeatedAs)]
    pub seated_as: String,
    /// Recusal reason.
    pub recused: Option<String>,
    /// Whether they scored.
    pub scored: bool,
    /// Whether their scores were voided.
    pub voided: bool,
}

/// The notice window, in the audit.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditNoticeBody {
    /// Start (RFC 3339).
    pub starts_at: String,
    /// End (RFC 3339).
    pub ends_at: String,
    /// Working days.
    pub working_days: u32,
}

/// An objection without its filer, in the audit.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditObjectionBody {
    /// The objection.
    pub objection_id: String,
    /// Filed at (RFC 3339).
    pub filed_at: String,
    /// Accepted for resolution.
    pub accepted: bool,
    /// Why not.
    pub not_accepted_reason: Option<String>,
    /// Upheld (`true`), dismissed (`false`), or open (`null`).
    pub upheld: Option<bool>,
    /// The finding.
    pub finding: Option<String>,
}

/// The audit of one nomination.
#[derive(Debug, Serialize, ToSchema)]
pub struct NominationAuditBody {
    /// The nomination.
    pub nomination_id: String,
    /// The nominee's public name.
    pub nominee: String,
    /// The nominee's unit.
    pub unit: String,
    /// Final status.
    #[schema(value_type = crate::schema::NominationStatus)]
    pub status: String,
    /// `[eligible, reason]`, or `null` before the decision.
    #[schema(value_type = Option<Vec<Value>>)]
    pub eligibility: Option<Vec<serde_json::Value>>,
    /// Whether the draw re-runs to the recorded result (`null` without a draw).
    pub draw_reproducible: Option<bool>,
    /// The roster.
    pub roster: Vec<AuditRosterEntryBody>,
    /// Every score sheet as `{expert_id, scores: {criterion: {score, comment}}, voided}`.
    #[schema(value_type = Vec<Object>)]
    pub sheets: Vec<serde_json::Value>,
    /// Aggregations in order as `{rule_version, sheets, recorded, recomputed, recorded_total,
    /// matches}` (a voided one is followed by another).
    #[schema(value_type = Vec<Object>)]
    pub aggregations: Vec<serde_json::Value>,
    /// `[for, against, quorum, passed]`, or `null` before the tally.
    #[schema(value_type = Option<Vec<Value>>)]
    pub tally: Option<Vec<serde_json::Value>>,
    /// The notice.
    pub notice: Option<AuditNoticeBody>,
    /// Objections.
    pub objections: Vec<AuditObjectionBody>,
    /// `[decision number, tier, amount, approved by, approved at]`, or `null`.
    #[schema(value_type = Option<Vec<Value>>)]
    pub approval: Option<Vec<serde_json::Value>>,
    /// When announced (RFC 3339).
    pub announced_at: Option<String>,
    /// `[decision number, grounds, revoked by, revoked at]`, or `null`.
    #[schema(value_type = Option<Vec<Value>>)]
    pub revocation: Option<Vec<serde_json::Value>>,
    /// Everything in order.
    pub timeline: Vec<AuditTimelineEntryBody>,
    /// Anomalies.
    pub flags: Vec<AuditFlagBody>,
}

/// The reward decision audit of a program (the JSON the audit endpoint answers; the same
/// shape `caseledger rewards audit` prints).
#[derive(Debug, Serialize, ToSchema)]
pub struct RewardAuditBody {
    /// The program.
    pub program_id: String,
    /// Title.
    pub title: String,
    /// Cycle.
    pub cycle: String,
    /// Quota.
    pub quota: u32,
    /// Approval document.
    pub approval_document: Option<String>,
    /// The aggregation version of its terms.
    pub aggregation_version: String,
    /// Notice period in working days.
    pub notice_working_days: u32,
    /// Approvals made (revoked ones included).
    pub approvals: u32,
    /// Approvals revoked.
    pub revocations: u32,
    /// The program's own events.
    pub timeline: Vec<AuditTimelineEntryBody>,
    /// Each nomination, in submission order.
    pub nominations: Vec<NominationAuditBody>,
    /// Program-level anomalies.
    pub flags: Vec<AuditFlagBody>,
    /// Every flag of the program and its nominations.
    pub flag_count: usize,
}

/// A reviewer seat.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewerBody {
    /// The expert.
    pub expert_id: String,
    /// Whose seat an alternate took.
    pub replaces: Option<String>,
    /// Recusal reason.
    pub recused: Option<String>,
    /// Whether a sheet from them counts.
    pub scored: bool,
}

/// One score sheet (auditor, or the expert's own).
#[derive(Debug, Serialize, ToSchema)]
pub struct SheetBody {
    /// The reviewer.
    pub expert_id: String,
    /// Voided after recusal.
    pub voided: bool,
    /// Scores per criterion.
    pub scores: BTreeMap<String, i32>,
    /// Comments per criterion.
    pub comments: BTreeMap<String, String>,
}

/// An objection without its filer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectionBody {
    /// Id.
    pub objection_id: String,
    /// Filed at.
    pub filed_at: String,
    /// Accepted for resolution.
    pub accepted: bool,
    /// Why not accepted.
    pub not_accepted_reason: Option<String>,
    /// Grounds.
    pub grounds: String,
    /// Upheld (true), dismissed (false), open (null).
    pub upheld: Option<bool>,
    /// The finding.
    pub finding: Option<String>,
}

/// An objection with its filer (recorded read).
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectionFilerBody {
    /// Id.
    pub objection_id: String,
    /// The filer's name.
    pub filer_name: Option<String>,
    /// The filer's contact.
    pub filer_contact: Option<String>,
    /// Accepted.
    pub accepted: bool,
    /// Grounds.
    pub grounds: String,
}

/// The award.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwardBody {
    /// Decision number.
    pub decision_number: String,
    /// Tier code.
    pub tier: String,
    /// Amount, yuan.
    pub amount: u64,
    /// Reason.
    pub reason: String,
    /// Who approved.
    pub approved_by: String,
    /// When.
    pub approved_at: String,
    /// When announced.
    pub announced_at: Option<String>,
    /// Revocation decision number.
    pub revocation_number: Option<String>,
    /// Revocation grounds.
    pub revocation_grounds: Option<String>,
    /// When revoked.
    pub revoked_at: Option<String>,
}

/// A nomination (staff).
#[derive(Debug, Serialize, ToSchema)]
pub struct NominationBody {
    /// Id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Program.
    #[schema(format = Uuid)]
    pub program_id: String,
    /// Status.
    #[schema(value_type = crate::schema::NominationStatus)]
    pub status: String,
    /// `unit` or `person`.
    #[schema(value_type = crate::schema::NomineeKind)]
    pub nominee_kind: String,
    /// Name.
    pub nominee_name: String,
    /// Unit.
    pub nominee_unit: String,
    /// ID number (reward office and auditor only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nominee_id_number: Option<String>,
    /// Phone (reward office and auditor only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nominee_phone: Option<String>,
    /// Summary of deeds.
    pub summary: String,
    /// Contributions as `{description, quantity, unit}`.
    #[schema(value_type = Vec<Object>)]
    pub contributions: Vec<Contribution>,
    /// Evidence.
    pub evidence: Vec<String>,
    /// Reason.
    pub reason: String,
    /// Eligibility checklist as `{item, passed}`.
    #[schema(value_type = Vec<Object>)]
    pub checklist: Vec<ChecklistItem>,
    /// Eligibility reason.
    pub eligibility_reason: Option<String>,
    /// Reviewers.
    pub reviewers: Vec<ReviewerBody>,
    /// The draw's proof.
    pub draw_proof: Option<String>,
    /// Counted score sheets.
    pub sheets_counted: usize,
    /// Individual sheets (auditor; an expert sees their own).
    pub sheets: Vec<SheetBody>,
    /// Aggregated total, e.g. `"78.50"`.
    pub total_score: Option<String>,
    /// Criterion means.
    pub criterion_means: BTreeMap<String, String>,
    /// Votes cast.
    pub votes_cast: usize,
    /// Votes for and against once tallied.
    pub tally: Option<(u32, u32)>,
    /// Notice start.
    pub notice_starts_at: Option<String>,
    /// Notice end.
    pub notice_ends_at: Option<String>,
    /// Objections (never the filer).
    pub objections: Vec<ObjectionBody>,
    /// The award.
    pub award: Option<AwardBody>,
    /// Withdrawal or disqualification reason.
    pub ended_reason: Option<String>,
    /// Version.
    pub version: i64,
}

/// A nomination in public notice (no login).
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicNoticeBody {
    /// Nomination id (to object).
    pub nomination_id: String,
    /// Program title.
    pub program: String,
    /// Cycle.
    pub cycle: String,
    /// Name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// Summary of deeds.
    pub summary: String,
    /// Notice start.
    pub notice_starts_at: String,
    /// Notice end.
    pub notice_ends_at: String,
}

/// A final award or a revocation (no login).
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicAwardBody {
    /// Nomination id.
    pub nomination_id: String,
    /// Program title.
    pub program: String,
    /// Cycle.
    pub cycle: String,
    /// Name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// Summary of deeds.
    pub summary: String,
    /// Tier name.
    pub tier: String,
    /// Amount, yuan.
    pub amount: u64,
    /// Decision number.
    pub decision_number: String,
    /// When announced.
    pub announced_at: Option<String>,
    /// Revoked.
    pub revoked: bool,
    /// Revocation decision number.
    pub revocation_number: Option<String>,
    /// Revocation grounds.
    pub revocation_grounds: Option<String>,
    /// When revoked.
    pub revoked_at: Option<String>,
}

/// Public lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicAwardsBody {
    /// Final awards (announced, not revoked).
    pub awards: Vec<PublicAwardBody>,
    /// Revoked awards.
    pub revocations: Vec<PublicAwardBody>,
}

/// Filter nominations.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NominationQuery {
    /// Only this program.
    #[param(format = Uuid)]
    pub program_id: Option<String>,
    /// Only this status.
    #[param(value_type = Option<crate::schema::NominationStatus>)]
    pub status: Option<String>,
    /// Wait for this position.
    pub min_position: Option<i64>,
}

/// Audit format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// `json` (default) or `csv`.
    #[param(value_type = Option<crate::schema::AuditFormat>)]
    pub format: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn program_not_found() -> ApiError {
    ApiError::new(ErrorCode::ProgramNotFound, "reward program not found")
}
fn nomination_not_found() -> ApiError {
    ApiError::new(ErrorCode::NominationNotFound, "nomination not found")
}
fn role_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::RoleNotAllowed, "your role may not read this")
}

fn parse_program_id(text: &str) -> Result<RewardProgramId, ApiError> {
    RewardProgramId::parse(text).map_err(|_| program_not_found())
}
fn parse_nomination_id(text: &str) -> Result<NominationId, ApiError> {
    NominationId::parse(text).map_err(|_| nomination_not_found())
}

fn program_body(view: ProgramView) -> Result<ProgramBody, ApiError> {
    let state = view.state;
    let terms = state.terms.clone().ok_or_else(program_not_found)?;
    Ok(ProgramBody {
        id: view.program_id,
        status: if state.approved() {
            "approved"
        } else {
            "draft"
        }
        .into(),
        approval_document: state.approval_document,
        title: terms.title,
        cycle: terms.cycle,
        quota: terms.quota,
        tiers: terms.tiers,
        criteria: terms.criteria,
        aggregation_method: terms.aggregation.method,
        aggregation_trim: terms.aggregation.trim,
        aggregation_version: terms.aggregation.version,
        notice_working_days: terms.notice_working_days,
        reviewers: terms.reviewers,
        alternates: terms.alternates,
        disciplines: terms.disciplines.iter().map(|d| d.to_string()).collect(),
        committee_size: terms.committee_size,
        committee_quorum: terms.committee_quorum,
        committee: terms
            .committee
            .iter()
            .map(|member| member.to_string())
            .collect(),
        reward_office_unit: terms.reward_office_unit.to_string(),
        reward_office_staff: terms
            .reward_office_staff
            .iter()
            .map(|staff| staff.to_string())
            .collect(),
        version: view.version,
    })
}

/// Whether `actor` is an expert holding an active reviewer seat: a recused reviewer has lost
/// access to the file, as a recused expert has to a consultation.
fn is_reviewer(actor: &Actor, state: &RewardNomination) -> bool {
    actor.has(Role::Expert)
        && state
            .active_reviewers()
            .any(|expert_id| expert_id.as_str() == actor.sub.as_str())
}

/// The access-log resource of a read that shows a nominee's ID number or phone.
const NOMINEE_PERSONAL_DATA: &str = "nominee_personal_data";

/// Whether the answer for `actor` shows personal data of this nomination's nominee (what
/// `nomination_body` lets through), so the read must be recorded first.
fn shows_personal_data(actor: &Actor, state: &RewardNomination) -> bool {
    actor.has_any(PRIVATE_READERS)
        && state
            .nominee
            .as_ref()
            .is_some_and(|nominee| nominee.id_number.is_some() || nominee.phone.is_some())
}

fn nomination_body(view: NominationView, actor: &Actor) -> NominationBody {
    let state = view.state;
    let private = actor.has_any(PRIVATE_READERS);
    let all_sheets = actor.has(Role::Auditor);
    let nominee = state.nominee.clone().unwrap_or(Nominee {
        kind: NomineeKind::Unit,
        name: String::new(),
        unit: String::new(),
        unit_id: None,
        id_number: None,
        phone: None,
    });
    let counted: BTreeSet<&ExpertId> = state
        .counted_sheets()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let sheets = state
        .sheets
        .iter()
        .filter(|(id, _)| all_sheets || id.as_str() == actor.sub.as_str())
        .map(|(id, sheet)| SheetBody {
            expert_id: id.to_string(),
            voided: sheet.voided,
            scores: sheet
                .scores
                .iter()
                .map(|(c, s)| (c.clone(), s.score))
                .collect(),
            comments: sheet
                .scores
                .iter()
                .filter_map(|(c, s)| s.comment.clone().map(|comment| (c.clone(), comment)))
                .collect(),
        })
        .collect();
    NominationBody {
        id: view.nomination_id,
        program_id: state.program_id.map(|p| p.to_string()).unwrap_or_default(),
        status: state.status.as_str().to_owned(),
        nominee_kind: match nominee.kind {
            NomineeKind::Unit => "unit",
            NomineeKind::Person => "person",
        }
        .into(),
        nominee_name: nominee.name,
        nominee_unit: nominee.unit,
        nominee_id_number: nominee.id_number.filter(|_| private),
        nominee_phone: nominee.phone.filter(|_| private),
        summary: state.summary.clone(),
        contributions: state.contributions.clone(),
        evidence: state.evidence.clone(),
        reason: state.reason.clone(),
        checklist: state.checklist.clone(),
        eligibility_reason: state.eligibility_reason.clone(),
        reviewers: state
            .reviewers
            .iter()
            .map(|seat| ReviewerBody {
                expert_id: seat.expert_id.to_string(),
                replaces: seat.replaces.as_ref().map(ToString::to_string),
                recused: seat.recused.clone(),
                scored: counted.contains(&seat.expert_id),
            })
            .collect(),
        draw_proof: state.draw_proof.clone(),
        sheets_counted: counted.len(),
        sheets,
        total_score: state
            .aggregation
            .as_ref()
            .map(|a| format_hundredths(a.total_x100)),
        criterion_means: state
            .aggregation
            .as_ref()
            .map(|a| {
                a.criterion_means_x100
                    .iter()
                    .map(|(c, m)| (c.clone(), format_hundredths(*m)))
                    .collect()
            })
            .unwrap_or_default(),
        votes_cast: state.votes.len(),
        tally: state.tally,
        notice_starts_at: state.notice_starts_at.map(time),
        notice_ends_at: state.notice_ends_at.map(time),
        objections: state
            .objections
            .iter()
            .map(|o| ObjectionBody {
                objection_id: o.objection_id.to_string(),
                filed_at: time(o.filed_at),
                accepted: o.accepted,
                not_accepted_reason: o.not_accepted_reason.clone(),
                grounds: o.grounds.clone(),
                upheld: o.upheld,
                finding: o.finding.clone(),
            })
            .collect(),
        award: state.award.as_ref().map(|a| AwardBody {
            decision_number: a.decision_number.clone(),
            tier: a.tier.clone(),
            amount: a.amount,
            reason: a.reason.clone(),
            approved_by: a.approved_by.to_string(),
            approved_at: time(a.approved_at),
            announced_at: a.announced_at.map(time),
            revocation_number: a.revocation_number.clone(),
            revocation_grounds: a.revocation_grounds.clone(),
            revoked_at: a.revoked_at.map(time),
        }),
        ended_reason: state.ended_reason.clone(),
        version: view.version,
    }
}

/// A committee roster: user ids, each valid and named once.
fn user_ids(fields: &mut Fields, field: &str, list: &[String]) -> BTreeSet<UserId> {
    let mut roster = BTreeSet::new();
    for (i, text) in list.iter().enumerate() {
        match UserId::parse(text.as_str()) {
            Some(user_id) => {
                if !roster.insert(user_id) {
                    fields.push(&format!("{field}[{i}]"), "named twice");
                }
            }
            None => fields.push(&format!("{field}[{i}]"), "not a user id"),
        }
    }
    roster
}

fn is_code(text: &str) -> bool {
    Discipline::parse(text).is_ok()
}

// ---------------------------------------------------------------------------------------------
// Program commands: each one a [`CommandEndpoint`], run by the shared handler in `endpoint.rs`.

/// The route of a reward command.
const fn on_rewards(
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        path,
        operation_id,
        tag: "rewards",
        summary,
    }
}

const PROGRAM_NOT_FOUND: (u16, &str) = (404, "`program_not_found`");

/// Define a program.
pub struct CreateProgram;

impl CommandEndpoint for CreateProgram {
    type Aggregate = RewardProgram;
    type Body = CreateProgramRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/reward-programs",
        "create_program",
        "Define a reward program (reward office)",
    );
    const CREATES: bool = true;
    const REFUSALS: &'static [(u16, &'static str)] = &[(
        422,
        "`validation_failed`, `notice_period_too_short`, `invalid_program_terms`",
    )];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<ProgramCommand>, ApiError> {
        let body = input.body;
        let program_id = RewardProgramId::from_uuid(uuid::Uuid::now_v7());
        let command = input.parse(|fields| {
            let title = fields.take("title", Label::parse(&body.title));
            let cycle = fields.take("cycle", Label::parse(&body.cycle));
            for (i, tier) in body.tiers.iter().enumerate() {
                if !is_code(&tier.code) {
                    fields.push(&format!("tiers[{i}].code"), "must be a slug");
                }
            }
            for (i, criterion) in body.criteria.iter().enumerate() {
                if !is_code(&criterion.code) {
                    fields.push(&format!("criteria[{i}].code"), "must be a slug");
                }
            }
            let disciplines =
                fields.each("disciplines", &body.disciplines, |t| Discipline::parse(t));
            let unit = fields.take(
                "reward_office_unit",
                UnitId::parse(&body.reward_office_unit),
            );
            let staff = fields.each("reward_office_staff", &body.reward_office_staff, |t| {
                ExpertId::parse(t)
            });
            let committee = user_ids(fields, "committee", &body.committee);
            let terms = ProgramTerms {
                title: title?.as_str().to_owned(),
                cycle: cycle?.as_str().to_owned(),
                quota: body.quota,
                tiers: body
                    .tiers
                    .iter()
                    .map(|t| Tier {
                        code: t.code.clone(),
                        name: t.name.clone(),
                        min_amount: t.min_amount,
                        max_amount: t.max_amount,
                    })
                    .collect(),
                criteria: body
                    .criteria
                    .iter()
                    .map(|c| Criterion {
                        code: c.code.clone(),
                        name: c.name.clone(),
                        weight: c.weight,
                        min_score: c.min_score,
                        max_score: c.max_score,
                    })
                    .collect(),
                aggregation: AggregationRule {
                    method: "trimmed_mean".into(),
                    trim: body.trim,
                    version: AGGREGATION_VERSION.into(),
                },
                notice_working_days: body.notice_working_days,
                reviewers: body.reviewers,
                alternates: body.alternates.unwrap_or(2),
                disciplines: disciplines.into_iter().collect(),
                committee_size: body.committee_size,
                committee_quorum: body.committee_quorum,
                committee,
                reward_office_unit: unit?,
                reward_office_staff: staff.into_iter().collect(),
            };
            Some(ProgramCommand::Create { program_id, terms })
        })?;
        Ok(Prepared::on(program_id, command))
    }
}

/// Approve a program.
pub struct ApproveProgram;

impl CommandEndpoint for ApproveProgram {
    type Aggregate = RewardProgram;
    type Body = ApproveProgramRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/reward-programs/{program_id}/approve",
        "approve_program",
        "Approve a program under its approval document number (approving authority)",
    );
    const REFUSALS: &'static [(u16, &'static str)] =
        &[PROGRAM_NOT_FOUND, (409, "`program_already_approved`")];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<ProgramCommand>, ApiError> {
        input.command(parse_program_id, |fields, body| {
            Some(ProgramCommand::Approve {
                document_number: fields
                    .take("document_number", Label::parse(&body.document_number))?,
            })
        })
    }
}

/// Replace a program's committee roster.
pub struct ChangeCommittee;

impl CommandEndpoint for ChangeCommittee {
    type Aggregate = RewardProgram;
    type Body = ChangeCommitteeRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/reward-programs/{program_id}/change-committee",
        "change_committee",
        "Replace the committee roster of a program (reward office), with a reason. Nominations of the program count votes of the members on the roster when they vote and tally",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        PROGRAM_NOT_FOUND,
        (422, "`validation_failed`, `invalid_program_terms`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<ProgramCommand>, ApiError> {
        input.command(parse_program_id, |fields, body| {
            let members = user_ids(fields, "members", &body.members);
            let reason = fields.long("reason", &body.reason);
            Some(ProgramCommand::ChangeCommittee {
                members,
                reason: reason?,
            })
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Program reads

/// One program (reward staff and the auditor).
#[utoipa::path(
    get, path = "/api/v1/reward-programs/{program_id}", tag = "rewards",
    params(("program_id" = String, Path, description = "The program"), MinPositionQuery),
    responses(
        (status = 200, description = "The program", body = ProgramBody),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`program_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_program(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(program_id): Path<String>,
    ApiQuery(query): ApiQuery<MinPositionQuery>,
) -> Result<Json<ProgramBody>, ApiError> {
    if !actor.has_any(STAFF) {
        return Err(role_not_allowed());
    }
    let id = parse_program_id(&program_id)?;
    wait_for_projection(&state, PROJECTION, query.min_position).await?;
    let view = state
        .db
        .reward_program_view(&id.to_string())
        .await?
        .ok_or_else(program_not_found)?;
    Ok(Json(program_body(view)?))
}

/// Every program, newest first (reward staff and the auditor).
#[utoipa::path(
    get, path = "/api/v1/reward-programs", tag = "rewards",
    params(MinPositionQuery),
    responses(
        (status = 200, description = "Programs", body = Vec<ProgramBody>),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_programs(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<MinPositionQuery>,
) -> Result<Json<Vec<ProgramBody>>, ApiError> {
    if !actor.has_any(STAFF) {
        return Err(role_not_allowed());
    }
    wait_for_projection(&state, PROJECTION, query.min_position).await?;
    let views = state.db.list_reward_programs().await?;
    Ok(Json(
        views
            .into_iter()
            .filter_map(|v| program_body(v).ok())
            .collect(),
    ))
}

/// The reward decision audit of a program, computed from the event log: every event of the
/// program and its nominations in order, the reviewer draws re-run, each aggregation recomputed
/// from the recorded sheets and compared, and anomaly flags (auditor, reward office,
/// approving authority). `?format=csv` gives one row per event and per flag.
#[utoipa::path(
    get, path = "/api/v1/reward-programs/{program_id}/audit", tag = "rewards",
    params(("program_id" = String, Path, description = "The program"), AuditQuery),
    responses(
        (status = 200, description = "The audit (JSON object: program, nominations with timeline, roster, sheets, aggregations recorded and recomputed, tally, notice, objections without filers, approval, revocation, flags)", body = RewardAuditBody),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`program_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn program_audit(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(program_id): Path<String>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    if !actor.has_any(AUDIT_READERS) {
        return Err(role_not_allowed());
    }
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                "format must be json or csv",
            ))
        }
    };
    let id = parse_program_id(&program_id)?;
    let audit = state
        .db
        .reward_audit(&id.to_string())
        .await?
        .ok_or_else(program_not_found)?;
    if csv {
        Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            to_csv(&audit),
        )
            .into_response())
    } else {
        Ok(Json(audit).into_response())
    }
}

// ---------------------------------------------------------------------------------------------
// Nomination commands

/// What the `prepare` of a nomination command answers.
type Prepare = Result<Prepared<NominationCommand>, ApiError>;

const NOMINATION_NOT_FOUND: (u16, &str) = (404, "`nomination_not_found`");
/// Who may not send a nomination command with a body.
const FORBIDDEN: (u16, &str) = (
    403,
    "`role_not_allowed`, `not_seated`, `reviewer_recused`, `scorer_is_reward_office`, `voter_is_reviewer`, `not_original_authority`",
);
/// What a nomination command with a body may not find.
const NOT_FOUND: (u16, &str) = (404, "`nomination_not_found`, `objection_not_found`");
/// What a nomination command with a body may conflict with.
const CONFLICT: (u16, &str) = (
    409,
    "`concurrent_modification`, `already_scored`, `already_voted`, `objection_already_resolved`",
);

/// Submit a nomination.
pub struct SubmitNomination;

impl CommandEndpoint for SubmitNomination {
    type Aggregate = RewardNomination;
    type Body = SubmitNominationRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations",
        "submit_nomination",
        "Submit a nomination (reward office or department staff) to an approved program",
    );
    const CREATES: bool = true;
    const REFUSALS: &'static [(u16, &'static str)] = &[(
        422,
        "`validation_failed` (also an unknown program), `program_not_approved`",
    )];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        let body = input.body;
        let program = match RewardProgramId::parse(&body.program_id) {
            Err(_) => None,
            Ok(program_id) => input
                .state
                .db
                .reward_program_from_log(&program_id.to_string())
                .await?
                .map(|program| (program_id, program)),
        };
        let nomination_id = NominationId::from_uuid(uuid::Uuid::now_v7());
        let command = input.parse(|fields| {
            let kind = fields.take(
                "nominee.kind",
                match body.nominee.kind.as_str() {
                    "unit" => Ok(NomineeKind::Unit),
                    "person" => Ok(NomineeKind::Person),
                    _ => Err("must be unit or person"),
                },
            );
            let name = fields.take("nominee.name", Label::parse(&body.nominee.name));
            let unit = fields.take("nominee.unit", LongText::parse(&body.nominee.unit));
            let unit_id =
                fields.optional_with("nominee.unit_id", body.nominee.unit_id.as_deref(), |t| {
                    UnitId::parse(t)
                });
            let id_number =
                fields.optional::<64>("nominee.id_number", body.nominee.id_number.as_deref());
            let phone = fields.optional::<64>("nominee.phone", body.nominee.phone.as_deref());
            let summary = fields.long("summary", &body.summary);
            let reason = fields.long("reason", &body.reason);
            let evidence: Vec<Label> = body
                .evidence
                .iter()
                .enumerate()
                .filter_map(|(i, e)| fields.take(&format!("evidence[{i}]"), Label::parse(e)))
                .collect();
            let mut contributions = Vec::new();
            for (i, c) in body.contributions.iter().enumerate() {
                let description = fields.take(
                    &format!("contributions[{i}].description"),
                    LongText::parse(&c.description),
                );
                let unit = fields.take(&format!("contributions[{i}].unit"), Label::parse(&c.unit));
                if let (Some(description), Some(unit)) = (description, unit) {
                    contributions.push(Contribution {
                        description: description.as_str().to_owned(),
                        quantity: c.quantity,
                        unit: unit.as_str().to_owned(),
                    });
                }
            }
            if program.is_none() {
                fields.push("program_id", "unknown reward program");
            }
            let (program_id, program) = program?;
            Some(NominationCommand::Submit {
                nomination_id,
                program: ProgramSnapshot {
                    program_id,
                    terms: program.terms?,
                    approval_document: program.approval_document,
                },
                nominee: Nominee {
                    kind: kind?,
                    name: name?.as_str().to_owned(),
                    unit: unit?.as_str().to_owned(),
                    unit_id,
                    id_number: id_number.map(|t| t.as_str().to_owned()),
                    phone: phone.map(|t| t.as_str().to_owned()),
                },
                summary: summary?,
                contributions,
                evidence,
                reason: reason?,
            })
        })?;
        Ok(Prepared::on(nomination_id, command))
    }
}

/// Decide eligibility.
pub struct DecideEligibility;

impl CommandEndpoint for DecideEligibility {
    type Aggregate = RewardNomination;
    type Body = EligibilityRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/decide-eligibility",
        "decide_eligibility",
        "Decide eligibility with a checklist and a reason (reward office)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        CONFLICT,
        (
            422,
            "`validation_failed`, `invalid_status`, `checklist_empty`, `checklist_contradiction`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.command(parse_nomination_id, |fields, body| {
            Some(NominationCommand::DecideEligibility {
                eligible: body.eligible,
                checklist: body
                    .checklist
                    .iter()
                    .map(|i| ChecklistItem {
                        item: i.item.clone(),
                        passed: i.passed,
                    })
                    .collect(),
                reason: fields.long("reason", &body.reason)?,
            })
        })
    }
}

/// Draw the reviewers.
pub struct DrawReviewers;

impl CommandEndpoint for DrawReviewers {
    type Aggregate = RewardNomination;
    type Body = NoBody;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/draw-reviewers",
        "draw_reviewers",
        "Draw the reviewers with `caseledger-draw-v1` (reward office). The server draws a 32-byte seed from the OS CSPRNG and folds the pool from the log; reward-office staff and employees are excluded in the recorded filters. No body",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        NOMINATION_NOT_FOUND,
        (422, "`invalid_status`, `insufficient_pool`"),
    ];

    async fn prepare(input: Input<'_, NoBody>) -> Prepare {
        let id = parse_nomination_id(input.id())?;
        let pool = input.state.expert_pool().await?;
        let command = NominationCommand::DrawReviewers {
            seed: input.state.draw_seed(),
            pool,
        };
        Ok(Prepared::on(id, command))
    }
}

/// Recuse a reviewer.
pub struct RecuseReviewer;

impl CommandEndpoint for RecuseReviewer {
    type Aggregate = RewardNomination;
    type Body = RecuseReviewerRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/recuse-reviewer",
        "recuse_reviewer",
        "Recuse a reviewer (reward office, or the reviewer declaring a conflict). Their scores are voided, an aggregation made with them too, and the next alternate is seated",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        CONFLICT,
        (422, "`validation_failed`, `invalid_status`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.command(parse_nomination_id, |fields, body| {
            let expert_id = fields.take("expert_id", ExpertId::parse(&body.expert_id));
            let reason = fields.long("reason", &body.reason);
            Some(NominationCommand::RecuseReviewer {
                expert_id: expert_id?,
                reason: reason?,
            })
        })
    }
}

/// Submit scores.
pub struct SubmitScores;

impl CommandEndpoint for SubmitScores {
    type Aggregate = RewardNomination;
    type Body = ScoresRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/submit-scores",
        "submit_scores",
        "Submit your scores, every criterion once (a seated reviewer; never reward-office staff). A score at either end of a range needs a comment",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        CONFLICT,
        (
            422,
            "`invalid_status`, `unknown_criterion`, `scores_incomplete`, `score_out_of_range`, `comment_required`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.command(parse_nomination_id, |_, body| {
            Some(NominationCommand::SubmitScores {
                scores: body
                    .scores
                    .iter()
                    .map(|(code, s)| {
                        let score = CriterionScore {
                            score: s.score,
                            comment: s.comment.clone(),
                        };
                        (code.clone(), score)
                    })
                    .collect(),
            })
        })
    }
}

/// Aggregate the scores.
pub struct AggregateScores;

impl CommandEndpoint for AggregateScores {
    type Aggregate = RewardNomination;
    type Body = NoBody;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/aggregate-scores",
        "aggregate_scores",
        "Aggregate the scores with the program's rule (reward office). No body",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        NOMINATION_NOT_FOUND,
        (422, "`invalid_status`, `scores_missing`, `too_few_scores`"),
    ];

    async fn prepare(input: Input<'_, NoBody>) -> Prepare {
        input.on(parse_nomination_id, NominationCommand::AggregateScores)
    }
}

/// Cast a committee vote.
pub struct CastVote;

impl CommandEndpoint for CastVote {
    type Aggregate = RewardNomination;
    type Body = VoteRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/cast-vote",
        "cast_vote",
        "Cast your committee vote (a member of the program's committee roster, once). `not_committee_member` (403) for anyone else holding the role",
    );
    const REFUSALS: &'static [(u16, &'static str)] =
        &[FORBIDDEN, NOT_FOUND, CONFLICT, (422, "`invalid_status`")];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        let id = parse_nomination_id(input.id())?;
        let committee = input.state.committee_of_nomination(&id.to_string()).await?;
        let command = NominationCommand::CastVote {
            in_favour: input.body.in_favour,
            committee,
        };
        Ok(Prepared::on(id, command))
    }
}

/// Tally the committee vote.
pub struct TallyVote;

impl CommandEndpoint for TallyVote {
    type Aggregate = RewardNomination;
    type Body = NoBody;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/tally-vote",
        "tally_vote",
        "Tally the committee vote (reward office): counts the votes of members on the program's roster, needs the quorum over that roster; shortlisted with more votes for than against. No body",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        NOMINATION_NOT_FOUND,
        (422, "`invalid_status`, `quorum_not_reached`"),
    ];

    async fn prepare(input: Input<'_, NoBody>) -> Prepare {
        let id = parse_nomination_id(input.id())?;
        let committee = input.state.committee_of_nomination(&id.to_string()).await?;
        Ok(Prepared::on(id, NominationCommand::TallyVote { committee }))
    }
}

/// Start the public notice.
pub struct StartNotice;

impl CommandEndpoint for StartNotice {
    type Aggregate = RewardNomination;
    type Body = NoBody;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/start-notice",
        "start_notice",
        "Start the public notice (reward office) on a working day; its end is computed on the district's working-day calendar and recorded. No body",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        NOMINATION_NOT_FOUND,
        (422, "`invalid_status`, `notice_start_not_working_day`"),
    ];

    async fn prepare(input: Input<'_, NoBody>) -> Prepare {
        let calendar = input.state.reference.calendar().clone();
        input.on(
            parse_nomination_id,
            NominationCommand::StartNotice { calendar },
        )
    }
}

/// Resolve an objection.
pub struct ResolveObjection;

impl CommandEndpoint for ResolveObjection {
    type Aggregate = RewardNomination;
    type Body = ResolveObjectionRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/resolve-objection",
        "resolve_objection",
        "Resolve an accepted objection (the auditor)",
    );
    const REFUSALS: &'static [(u16, &'static str)] =
        &[FORBIDDEN, NOT_FOUND, CONFLICT, (422, "`validation_failed`")];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.command(parse_nomination_id, |fields, body| {
            let objection_id = fields.take("objection_id", ObjectionId::parse(&body.objection_id));
            let finding = fields.long("finding", &body.finding);
            Some(NominationCommand::ResolveObjection {
                objection_id: objection_id?,
                upheld: body.upheld,
                finding: finding?,
            })
        })
    }
}

/// Close the notice.
pub struct CloseNotice;

impl CommandEndpoint for CloseNotice {
    type Aggregate = RewardNomination;
    type Body = NoBody;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/close-notice",
        "close_notice",
        "Close the notice after its end (reward office). No body",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        NOMINATION_NOT_FOUND,
        (422, "`invalid_status`, `notice_period_running`"),
    ];

    async fn prepare(input: Input<'_, NoBody>) -> Prepare {
        input.on(parse_nomination_id, NominationCommand::CloseNotice)
    }
}

/// Approve the award.
pub struct ApproveAward;

impl CommandEndpoint for ApproveAward {
    type Aggregate = RewardNomination;
    type Body = ApproveAwardRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/approve",
        "approve_award",
        "Approve the award (approving authority): only after the notice, without unresolved or upheld objections, within the program's quota, a tier of the program and an amount within the tier",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        NOMINATION_NOT_FOUND,
        (
            409,
            "`concurrent_modification`: with If-Match only, when the nomination changed or another approval of the program committed first (without If-Match the approval is decided again on the new count)",
        ),
        (
            422,
            "`validation_failed`, `invalid_status`, `notice_period_running`, `unresolved_objection`, `objection_upheld`, `quota_exceeded`, `unknown_tier`, `amount_outside_tier`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        // The quota counts approvals recorded in the log (not the view, which may lag):
        // `conditions` reads the count for each attempt and checks it again at the append.
        input.command(parse_nomination_id, |fields, body| {
            let decision_number =
                fields.take("decision_number", Label::parse(&body.decision_number));
            let reason = fields.long("reason", &body.reason);
            Some(NominationCommand::Approve {
                decision_number: decision_number?,
                tier: body.tier.clone(),
                amount: body.amount,
                reason: reason?,
                awards_in_program: 0,
            })
        })
    }
}

/// Announce the award.
pub struct AnnounceAward;

impl CommandEndpoint for AnnounceAward {
    type Aggregate = RewardNomination;
    type Body = NoBody;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/announce",
        "announce_award",
        "Announce the approved award (reward office). No body",
    );
    const REFUSALS: &'static [(u16, &'static str)] =
        &[NOMINATION_NOT_FOUND, (422, "`invalid_status`")];

    async fn prepare(input: Input<'_, NoBody>) -> Prepare {
        input.on(parse_nomination_id, NominationCommand::Announce)
    }
}

/// Withdraw a nomination.
pub struct WithdrawNomination;

impl CommandEndpoint for WithdrawNomination {
    type Aggregate = RewardNomination;
    type Body = GroundsRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/withdraw",
        "withdraw_nomination",
        "Withdraw before approval (reward office or the submitter)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        CONFLICT,
        (422, "`validation_failed`, `invalid_status`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.reason(parse_nomination_id, |reason| NominationCommand::Withdraw {
            reason,
        })
    }
}

/// Disqualify a nomination.
pub struct DisqualifyNomination;

impl CommandEndpoint for DisqualifyNomination {
    type Aggregate = RewardNomination;
    type Body = GroundsRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/disqualify",
        "disqualify_nomination",
        "Disqualify before approval, with grounds (reward office)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        CONFLICT,
        (422, "`validation_failed`, `invalid_status`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.reason(parse_nomination_id, |grounds| {
            NominationCommand::Disqualify { grounds }
        })
    }
}

/// Revoke an award.
pub struct RevokeAward;

impl CommandEndpoint for RevokeAward {
    type Aggregate = RewardNomination;
    type Body = RevokeRequest;
    const ROUTE: Route = on_rewards(
        "/api/v1/nominations/{nomination_id}/revoke",
        "revoke_award",
        "Revoke an award with grounds (only the approving authority who approved it)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        FORBIDDEN,
        NOT_FOUND,
        CONFLICT,
        (422, "`validation_failed`, `invalid_status`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        input.command(parse_nomination_id, |fields, body| {
            let decision_number =
                fields.take("decision_number", Label::parse(&body.decision_number));
            let grounds = fields.long("grounds", &body.grounds);
            Some(NominationCommand::Revoke {
                decision_number: decision_number?,
                grounds: grounds?,
            })
        })
    }
}

/// File an objection: a public command (no login).
pub struct FileObjection;

impl CommandEndpoint for FileObjection {
    type Aggregate = RewardNomination;
    type Body = ObjectionRequest;
    const ROUTE: Route = Route {
        path: "/api/v1/public/nominations/{nomination_id}/objections",
        operation_id: "file_objection",
        tag: "public",
        summary: "File an objection during the public notice. No login. An objection without a real name and a contact is recorded as not accepted (logged); the filer's identity is never shown to the nominee or the public. The answer's `created_id` is the objection id",
    };
    // The public has no user id and idempotency keys are per user, so they are not honoured here.
    const PUBLIC: bool = true;
    const REFUSALS: &'static [(u16, &'static str)] = &[
        NOMINATION_NOT_FOUND,
        (422, "`validation_failed`, `notice_not_open`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Prepare {
        let objection_id = ObjectionId::from_uuid(uuid::Uuid::now_v7());
        let prepared = input.command(parse_nomination_id, |fields, body| {
            let name = fields.optional::<64>("name", body.name.as_deref());
            let contact = fields.optional::<64>("contact", body.contact.as_deref());
            Some(NominationCommand::FileObjection {
                objection_id,
                filer_name: name,
                filer_contact: contact,
                grounds: fields.long("grounds", &body.grounds)?,
            })
        })?;
        Ok(prepared.created(objection_id))
    }
}

/// The reward routes: every command once, and the reads.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(command::<CreateProgram>())
        .routes(routes!(list_programs))
        .routes(routes!(get_program))
        .routes(command::<ApproveProgram>())
        .routes(command::<ChangeCommittee>())
        .routes(routes!(program_audit))
        .routes(command::<SubmitNomination>())
        .routes(routes!(list_nominations))
        .routes(routes!(get_nomination))
        .routes(command::<DecideEligibility>())
        .routes(command::<DrawReviewers>())
        .routes(command::<RecuseReviewer>())
        .routes(command::<SubmitScores>())
        .routes(command::<AggregateScores>())
        .routes(command::<CastVote>())
        .routes(command::<TallyVote>())
        .routes(command::<StartNotice>())
        .routes(command::<ResolveObjection>())
        .routes(command::<CloseNotice>())
        .routes(command::<ApproveAward>())
        .routes(command::<AnnounceAward>())
        .routes(command::<WithdrawNomination>())
        .routes(command::<DisqualifyNomination>())
        .routes(command::<RevokeAward>())
        .routes(routes!(objection_filers))
        .routes(command::<FileObjection>())
        .routes(routes!(public_notices))
        .routes(routes!(public_awards))
}

// ---------------------------------------------------------------------------------------------
// Nomination reads

async fn load(
    state: &AppState,
    id: &NominationId,
    min_position: Option<i64>,
) -> Result<NominationView, ApiError> {
    wait_for_projection(state, PROJECTION, min_position).await?;
    state
        .db
        .nomination_view(&id.to_string())
        .await?
        .ok_or_else(nomination_not_found)
}

/// One nomination (reward staff, the auditor; an expert seated on it and not recused: a
/// recused reviewer gets 404). Never an objection filer; the nominee's ID number and phone
/// only for the reward office and the auditor, each such read recorded first as a
/// `PrivateDataRead` (resource `nominee_personal_data`).
#[utoipa::path(
    get, path = "/api/v1/nominations/{nomination_id}", tag = "rewards",
    params(("nomination_id" = String, Path, description = "The nomination"), MinPositionQuery),
    responses(
        (status = 200, description = "The nomination", body = NominationBody),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`nomination_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_nomination(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(nomination_id): Path<String>,
    ApiQuery(query): ApiQuery<MinPositionQuery>,
) -> Result<Json<NominationBody>, ApiError> {
    if !actor.has_any(STAFF) && !actor.has(Role::Expert) {
        return Err(role_not_allowed());
    }
    let id = parse_nomination_id(&nomination_id)?;
    let view = load(&state, &id, query.min_position).await?;
    if !actor.has_any(STAFF) && !is_reviewer(&actor, &view.state) {
        return Err(nomination_not_found());
    }
    if shows_personal_data(&actor, &view.state) {
        record_access(
            &state,
            &actor,
            NOMINEE_PERSONAL_DATA,
            &view.nomination_id,
            None,
        )
        .await?;
    }
    Ok(Json(nomination_body(view, &actor)))
}

/// Nominations in submission order (reward staff and the auditor). Each nominee whose ID
/// number or phone is shown leaves a `PrivateDataRead` (resource `nominee_personal_data`).
#[utoipa::path(
    get, path = "/api/v1/nominations", tag = "rewards",
    params(NominationQuery),
    responses(
        (status = 200, description = "Nominations", body = Vec<NominationBody>),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_nominations(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<NominationQuery>,
) -> Result<Json<Vec<NominationBody>>, ApiError> {
    if !actor.has_any(STAFF) {
        return Err(role_not_allowed());
    }
    wait_for_projection(&state, PROJECTION, query.min_position).await?;
    let statuses: Vec<&str> = query.status.as_deref().into_iter().collect();
    let views = state
        .db
        .list_nominations(query.program_id.as_deref(), &statuses)
        .await?;
    // One access record per nominee whose ID number or phone the list shows, each written
    // before anything is answered (a failed record refuses the whole read).
    for view in &views {
        if shows_personal_data(&actor, &view.state) {
            record_access(
                &state,
                &actor,
                NOMINEE_PERSONAL_DATA,
                &view.nomination_id,
                None,
            )
            .await?;
        }
    }
    Ok(Json(
        views
            .into_iter()
            .map(|v| nomination_body(v, &actor))
            .collect(),
    ))
}

/// The objections with their filers' names and contacts (reward office and the auditor). Each
/// read is recorded in the access log first (resource `objection_filers`).
#[utoipa::path(
    get, path = "/api/v1/nominations/{nomination_id}/objections", tag = "rewards",
    params(("nomination_id" = String, Path, description = "The nomination"), MinPositionQuery),
    responses(
        (status = 200, description = "Objections with filers", body = Vec<ObjectionFilerBody>),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`nomination_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn objection_filers(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(nomination_id): Path<String>,
    ApiQuery(query): ApiQuery<MinPositionQuery>,
) -> Result<Json<Vec<ObjectionFilerBody>>, ApiError> {
    if !actor.has_any(PRIVATE_READERS) {
        return Err(role_not_allowed());
    }
    let id = parse_nomination_id(&nomination_id)?;
    let view = load(&state, &id, query.min_position).await?;
    record_access(&state, &actor, "objection_filers", &id.to_string(), None).await?;
    Ok(Json(
        view.state
            .objections
            .iter()
            .map(|o| ObjectionFilerBody {
                objection_id: o.objection_id.to_string(),
                filer_name: o.filer_name.clone(),
                filer_contact: o.filer_contact.clone(),
                accepted: o.accepted,
                grounds: o.grounds.clone(),
            })
            .collect(),
    ))
}

/// Nominations in public notice: name, unit, summary of deeds and the notice window. No login.
#[utoipa::path(
    get, path = "/api/v1/public/nominations", tag = "public",
    params(MinPositionQuery),
    responses((status = 200, description = "In notice", body = Vec<PublicNoticeBody>))
)]
pub async fn public_notices(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<MinPositionQuery>,
) -> Result<Json<Vec<PublicNoticeBody>>, ApiError> {
    wait_for_projection(&state, PROJECTION, query.min_position).await?;
    let views = state
        .db
        .list_nominations(None, &[NominationStatus::InNotice.as_str()])
        .await?;
    Ok(Json(
        views
            .into_iter()
            .filter_map(|view| {
                let s = view.state;
                let terms = s.terms.as_ref()?;
                let nominee = s.nominee.as_ref()?;
                Some(PublicNoticeBody {
                    nomination_id: view.nomination_id,
                    program: terms.title.clone(),
                    cycle: terms.cycle.clone(),
                    name: caseledger_domain::privacy::mask_contact_data(&nominee.name),
                    unit: caseledger_domain::privacy::mask_contact_data(&nominee.unit),
                    summary: caseledger_domain::privacy::mask_contact_data(&s.summary),
                    notice_starts_at: time(s.notice_starts_at?),
                    notice_ends_at: time(s.notice_ends_at?),
                })
            })
            .collect(),
    ))
}

/// Final awards (announced) and revocations: name, unit, summary, tier, amount, decision
/// numbers and dates. No login.
#[utoipa::path(
    get, path = "/api/v1/public/awards", tag = "public",
    params(MinPositionQuery),
    responses((status = 200, description = "Awards and revocations", body = PublicAwardsBody))
)]
pub async fn public_awards(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<MinPositionQuery>,
) -> Result<Json<PublicAwardsBody>, ApiError> {
    wait_for_projection(&state, PROJECTION, query.min_position).await?;
    let views = state
        .db
        .list_nominations(
            None,
            &[
                NominationStatus::Announced.as_str(),
                NominationStatus::Revoked.as_str(),
            ],
        )
        .await?;
    let mut body = PublicAwardsBody {
        awards: Vec::new(),
        revocations: Vec::new(),
    };
    for view in views {
        let s = view.state;
        let (Some(terms), Some(nominee), Some(award)) = (&s.terms, &s.nominee, &s.award) else {
            continue;
        };
        let public = PublicAwardBody {
            nomination_id: view.nomination_id,
            program: terms.title.clone(),
            cycle: terms.cycle.clone(),
            name: caseledger_domain::privacy::mask_contact_data(&nominee.name),
            unit: caseledger_domain::privacy::mask_contact_data(&nominee.unit),
            summary: caseledger_domain::privacy::mask_contact_data(&s.summary),
            tier: terms
                .tier(&award.tier)
                .map_or(award.tier.clone(), |t| t.name.clone()),
            amount: award.amount,
            decision_number: award.decision_number.clone(),
            announced_at: award.announced_at.map(time),
            revoked: award.revoked_at.is_some(),
            revocation_number: award.revocation_number.clone(),
            revocation_grounds: award
                .revocation_grounds
                .as_deref()
                .map(caseledger_domain::privacy::mask_personal_data),
            revoked_at: award.revoked_at.map(time),
        };
        if public.revoked {
            body.revocations.push(public);
        } else {
            body.awards.push(public);
        }
    }
    Ok(Json(body))
}

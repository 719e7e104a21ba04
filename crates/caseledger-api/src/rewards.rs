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
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use caseledger_domain::consultation::DrawSeed;
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
    Actor, Authored, Discipline, ExpertId, NominationId, ObjectionId, RewardProgramId, Role,
    UnitId, UserId,
};
use caseledger_store::rewards::{NominationView, ProgramView};
use caseledger_store::AppendCondition;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::record_access;
use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::commands::{self, event_metadata, fingerprint, CommandHeaders, CommandRequest};
use crate::error::{ApiError, Problem};
use crate::experts::{EmptyRequest, MinPositionQuery};
use crate::fields::Fields;
use crate::json::{ApiJson, ApiQuery};
use crate::reads::{time, wait_for_projection};
use crate::state::AppState;

const PROGRAMS: &str = "/api/v1/reward-programs";
const NOMINATIONS: &str = "/api/v1/nominations";
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
    /// Why (reason or grounds).
    pub reason: String,
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
    #[schema(value_type = Option<Vec<Object>>)]
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
    #[schema(value_type = Option<Vec<Object>>)]
    pub tally: Option<Vec<serde_json::Value>>,
    /// The notice.
    pub notice: Option<AuditNoticeBody>,
    /// Objections.
    pub objections: Vec<AuditObjectionBody>,
    /// `[decision number, tier, amount, approved by, approved at]`, or `null`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub approval: Option<Vec<serde_json::Value>>,
    /// When announced (RFC 3339).
    pub announced_at: Option<String>,
    /// `[decision number, grounds, revoked by, revoked at]`, or `null`.
    #[schema(value_type = Option<Vec<Object>>)]
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
fn missing() -> ApiError {
    ApiError::internal("validated fields missing")
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

async fn run_program(
    state: &AppState,
    actor: Actor,
    headers: &HeaderMap,
    id: &RewardProgramId,
    success_status: StatusCode,
    body: &impl Serialize,
    command: ProgramCommand,
) -> Result<Response, ApiError> {
    let path = match &command {
        ProgramCommand::Create { .. } => PROGRAMS.to_owned(),
        other => format!("{PROGRAMS}/{id}/{}", other.name()),
    };
    let name = command.name();
    commands::execute::<RewardProgram, _>(
        state,
        actor,
        headers,
        commands::Target {
            collection: PROGRAMS,
            path,
            aggregate_id: id.to_string(),
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

#[allow(clippy::too_many_arguments)]
async fn run_nomination(
    state: &AppState,
    actor: Actor,
    headers: CommandHeaders,
    id: &NominationId,
    success_status: StatusCode,
    body: &impl Serialize,
    command: NominationCommand,
    created_id: Option<String>,
) -> Result<Response, ApiError> {
    let path = match &command {
        NominationCommand::Submit { .. } => NOMINATIONS.to_owned(),
        other => format!("{NOMINATIONS}/{id}/{}", other.name()),
    };
    let fingerprint = fingerprint("POST", &path, body);
    let now = state.now();
    let metadata = event_metadata(&actor, now, &headers);
    let request = CommandRequest {
        name: command.name(),
        actor: &actor,
        headers: &headers,
        fingerprint,
        success_status,
        receipt: None,
    };
    let authored = Authored {
        actor: actor.clone(),
        at: now,
        command,
    };
    let aggregate_id = id.to_string();
    let expected = headers.if_match;
    // An approval is decided on the number of awards its program has made (the quota). The
    // count is read from the log for each attempt and read again in the transaction that
    // appends the approval; when another approval of the program committed in between, the
    // append is refused as a conflict and the approval decided again on the new count.
    let quota_program = match &authored.command {
        NominationCommand::Approve { .. } => program_of_nomination(state, &aggregate_id).await?,
        _ => None,
    };
    commands::run_in(state, NOMINATIONS, created_id, request, |mut terms| {
        let (mut authored, metadata) = (authored.clone(), metadata.clone());
        let (aggregate_id, quota_program) = (&aggregate_id, &quota_program);
        async move {
            if let (
                Some(program_id),
                NominationCommand::Approve {
                    awards_in_program, ..
                },
            ) = (quota_program, &mut authored.command)
            {
                let awards = state.db.program_awards(program_id).await?;
                *awards_in_program = awards;
                terms.conditions.push(AppendCondition::ProgramAwards {
                    program_id: program_id.clone(),
                    awards,
                });
            }
            state
                .db
                .execute_cached_with::<RewardNomination>(
                    &state.aggregates,
                    aggregate_id,
                    authored,
                    expected,
                    metadata,
                    &(),
                    &terms,
                )
                .await
        }
    })
    .await
}

/// The program a nomination belongs to, from its first event in the log (`None` for an
/// unknown nomination, which the aggregate then refuses).
async fn program_of_nomination(
    state: &AppState,
    nomination_id: &str,
) -> Result<Option<String>, ApiError> {
    let history = state
        .db
        .stream_history(caseledger_store::rewards::NOMINATION_TYPE, nomination_id)
        .await?;
    Ok(history
        .first()
        .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.payload).ok())
        .and_then(|v| {
            v["NominationSubmitted"]["program_id"]
                .as_str()
                .map(str::to_owned)
        }))
}

fn slugs<T>(
    fields: &mut Fields,
    field: &str,
    list: &[String],
    parse: impl Fn(&str) -> Result<T, caseledger_domain::IdError>,
) -> Vec<T> {
    list.iter()
        .enumerate()
        .filter_map(|(i, text)| fields.take(&format!("{field}[{i}]"), parse(text)))
        .collect()
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
// Program handlers

/// Define a reward program (reward office).
#[utoipa::path(
    post, path = "/api/v1/reward-programs", tag = "rewards",
    request_body = CreateProgramRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry safely")),
    responses(
        (status = 201, description = "Created", body = crate::commands::CommandAccepted),
        (status = 400, description = "Malformed JSON or an unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`, `notice_period_too_short`, `invalid_program_terms`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_program(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateProgramRequest>,
) -> Result<Response, ApiError> {
    let mut fields = Fields::default();
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
    let disciplines = slugs(&mut fields, "disciplines", &body.disciplines, |t| {
        Discipline::parse(t)
    });
    let unit = fields.take(
        "reward_office_unit",
        UnitId::parse(&body.reward_office_unit),
    );
    let staff = slugs(
        &mut fields,
        "reward_office_staff",
        &body.reward_office_staff,
        |t| ExpertId::parse(t),
    );
    let committee = user_ids(&mut fields, "committee", &body.committee);
    fields.finish()?;
    let (Some(title), Some(cycle), Some(unit)) = (title, cycle, unit) else {
        return Err(missing());
    };
    let terms = ProgramTerms {
        title: title.as_str().to_owned(),
        cycle: cycle.as_str().to_owned(),
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
        reward_office_unit: unit,
        reward_office_staff: staff.into_iter().collect(),
    };
    let id = RewardProgramId::from_uuid(uuid::Uuid::now_v7());
    run_program(
        &state,
        actor,
        &headers,
        &id,
        StatusCode::CREATED,
        &body,
        ProgramCommand::Create {
            program_id: id,
            terms,
        },
    )
    .await
}

/// Approve a program under its approval document number (approving authority).
#[utoipa::path(
    post, path = "/api/v1/reward-programs/{program_id}/approve", tag = "rewards",
    request_body = ApproveProgramRequest,
    params(("program_id" = String, Path, description = "The program")),
    responses(
        (status = 200, description = "Approved", body = crate::commands::CommandAccepted),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`program_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`program_already_approved`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn approve_program(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(program_id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ApproveProgramRequest>,
) -> Result<Response, ApiError> {
    let id = parse_program_id(&program_id)?;
    let mut fields = Fields::default();
    let document_number = fields.take("document_number", Label::parse(&body.document_number));
    fields.finish()?;
    let document_number = document_number.ok_or_else(missing)?;
    run_program(
        &state,
        actor,
        &headers,
        &id,
        StatusCode::OK,
        &body,
        ProgramCommand::Approve { document_number },
    )
    .await
}

/// Replace the committee roster of a program (reward office), with a reason. Nominations of
/// the program count votes of the members on the roster when they vote and tally.
#[utoipa::path(
    post, path = "/api/v1/reward-programs/{program_id}/change-committee", tag = "rewards",
    request_body = ChangeCommitteeRequest,
    params(("program_id" = String, Path, description = "The program")),
    responses(
        (status = 200, description = "Recorded", body = crate::commands::CommandAccepted),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`program_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`, `invalid_program_terms`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn change_committee(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(program_id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ChangeCommitteeRequest>,
) -> Result<Response, ApiError> {
    let id = parse_program_id(&program_id)?;
    let mut fields = Fields::default();
    let members = user_ids(&mut fields, "members", &body.members);
    let reason = fields.take("reason", LongText::parse(&body.reason));
    fields.finish()?;
    let reason = reason.ok_or_else(missing)?;
    run_program(
        &state,
        actor,
        &headers,
        &id,
        StatusCode::OK,
        &body,
        ProgramCommand::ChangeCommittee { members, reason },
    )
    .await
}

/// The committee roster of a nomination's program now, folded from the program's log (the
/// view may lag a roster change made a moment ago). Empty when the nomination is unknown: the
/// nomination itself then answers `nomination_not_found`.
async fn current_committee(
    state: &AppState,
    id: &NominationId,
) -> Result<BTreeSet<UserId>, ApiError> {
    let Some(program_id) = program_of_nomination(state, &id.to_string()).await? else {
        return Ok(BTreeSet::new());
    };
    Ok(state
        .db
        .reward_program_from_log(&program_id)
        .await?
        .and_then(|program| program.terms)
        .map(|terms| terms.committee)
        .unwrap_or_default())
}

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
// Nomination handlers

/// Submit a nomination (reward office or department staff) to an approved program.
#[utoipa::path(
    post, path = "/api/v1/nominations", tag = "rewards",
    request_body = SubmitNominationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry safely")),
    responses(
        (status = 201, description = "Submitted", body = crate::commands::CommandAccepted),
        (status = 400, description = "Malformed JSON or an unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (also an unknown program), `program_not_approved`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn submit_nomination(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SubmitNominationRequest>,
) -> Result<Response, ApiError> {
    let mut fields = Fields::default();
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
    let unit_id = fields.optional_with("nominee.unit_id", body.nominee.unit_id.as_deref(), |t| {
        UnitId::parse(t)
    });
    let id_number = fields.optional::<64>("nominee.id_number", body.nominee.id_number.as_deref());
    let phone = fields.optional::<64>("nominee.phone", body.nominee.phone.as_deref());
    let summary = fields.take("summary", LongText::parse(&body.summary));
    let reason = fields.take("reason", LongText::parse(&body.reason));
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
    let program = match RewardProgramId::parse(&body.program_id) {
        Err(_) => {
            fields.push("program_id", "unknown reward program");
            None
        }
        Ok(program_id) => {
            match state
                .db
                .reward_program_from_log(&program_id.to_string())
                .await?
            {
                Some(program) => Some((program_id, program)),
                None => {
                    fields.push("program_id", "unknown reward program");
                    None
                }
            }
        }
    };
    fields.finish()?;
    let (
        Some(kind),
        Some(name),
        Some(unit),
        Some(summary),
        Some(reason),
        Some((program_id, program)),
    ) = (kind, name, unit, summary, reason, program)
    else {
        return Err(missing());
    };
    let terms = program.terms.clone().ok_or_else(missing)?;
    let id = NominationId::from_uuid(uuid::Uuid::now_v7());
    let command = NominationCommand::Submit {
        nomination_id: id,
        program: ProgramSnapshot {
            program_id,
            terms,
            approval_document: program.approval_document.clone(),
        },
        nominee: Nominee {
            kind,
            name: name.as_str().to_owned(),
            unit: unit.as_str().to_owned(),
            unit_id,
            id_number: id_number.map(|t| t.as_str().to_owned()),
            phone: phone.map(|t| t.as_str().to_owned()),
        },
        summary,
        contributions,
        evidence,
        reason,
    };
    let headers = commands::parse_headers(&headers)?;
    run_nomination(
        &state,
        actor,
        headers,
        &id,
        StatusCode::CREATED,
        &body,
        command,
        None,
    )
    .await
}

macro_rules! nomination_command {
    ($(#[$doc:meta])* $name:ident, $path:literal, $body:ty, $rules:literal,
     |$state:ident, $actor:ident, $id:ident, $b:ident| $make:block) => {
        $(#[$doc])*
        #[utoipa::path(
            post, path = $path, tag = "rewards",
            request_body = $body,
            params(
                ("nomination_id" = String, Path, description = "The nomination"),
                ("If-Match" = Option<String>, Header, description = "Run only if the nomination is at this version"),
                ("Idempotency-Key" = Option<String>, Header, description = "Retry safely"),
            ),
            responses(
                (status = 200, description = "Recorded", body = crate::commands::CommandAccepted),
                (status = 400, description = "Malformed JSON or an unknown field", body = Problem, content_type = "application/problem+json"),
                (status = 403, description = "`role_not_allowed`, `not_seated`, `reviewer_recused`, `scorer_is_reward_office`, `voter_is_reviewer`, `not_original_authority`", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "`nomination_not_found`, `objection_not_found`", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "`concurrent_modification`, `already_scored`, `already_voted`, `objection_already_resolved`", body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "`version_mismatch`", body = Problem, content_type = "application/problem+json"),
                (status = 422, description = $rules, body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = []))
        )]
        pub async fn $name(
            State($state): State<AppState>,
            Authenticated($actor): Authenticated,
            Path(nomination_id): Path<String>,
            headers: HeaderMap,
            ApiJson($b): ApiJson<$body>,
        ) -> Result<Response, ApiError> {
            let $id = parse_nomination_id(&nomination_id)?;
            let command: NominationCommand = $make;
            let headers = commands::parse_headers(&headers)?;
            run_nomination(&$state, $actor, headers, &$id, StatusCode::OK, &$b, command, None).await
        }
    };
}

macro_rules! nomination_command_without_body {
    ($(#[$doc:meta])* $name:ident, $path:literal, $rules:literal,
     |$state:ident, $id:ident| $make:block) => {
        $(#[$doc])*
        #[utoipa::path(
            post, path = $path, tag = "rewards",
            params(
                ("nomination_id" = String, Path, description = "The nomination"),
                ("If-Match" = Option<String>, Header, description = "Run only if the nomination is at this version"),
                ("Idempotency-Key" = Option<String>, Header, description = "Retry safely"),
            ),
            responses(
                (status = 200, description = "Recorded", body = crate::commands::CommandAccepted),
                (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "`nomination_not_found`", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "`concurrent_modification`", body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "`version_mismatch`", body = Problem, content_type = "application/problem+json"),
                (status = 422, description = $rules, body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = []))
        )]
        pub async fn $name(
            State($state): State<AppState>,
            Authenticated(actor): Authenticated,
            Path(nomination_id): Path<String>,
            headers: HeaderMap,
        ) -> Result<Response, ApiError> {
            let $id = parse_nomination_id(&nomination_id)?;
            let command: NominationCommand = $make;
            let headers = commands::parse_headers(&headers)?;
            run_nomination(&$state, actor, headers, &$id, StatusCode::OK, &EmptyRequest {}, command, None)
                .await
        }
    };
}

fn long(field: &str, text: &str) -> Result<LongText, ApiError> {
    let mut fields = Fields::default();
    let value = fields.take(field, LongText::parse(text));
    fields.finish()?;
    value.ok_or_else(missing)
}

nomination_command!(
    /// Decide eligibility with a checklist and a reason (reward office).
    decide_eligibility, "/api/v1/nominations/{nomination_id}/decide-eligibility", EligibilityRequest,
    "`validation_failed`, `invalid_status`, `checklist_empty`, `checklist_contradiction`",
    |state, actor, id, body| {
        let reason = long("reason", &body.reason)?;
        NominationCommand::DecideEligibility {
            eligible: body.eligible,
            checklist: body
                .checklist
                .iter()
                .map(|i| ChecklistItem { item: i.item.clone(), passed: i.passed })
                .collect(),
            reason,
        }
    }
);

nomination_command_without_body!(
    /// Draw the reviewers with `caseledger-draw-v1` (reward office). The server draws a 32-byte
    /// seed from the OS CSPRNG and folds the pool from the log; reward-office staff and
    /// employees are excluded in the recorded filters. No body.
    draw_reviewers, "/api/v1/nominations/{nomination_id}/draw-reviewers",
    "`invalid_status`, `insufficient_pool`",
    |state, id| {
        let mut seed = [0_u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        let pool = state.db.expert_pool(None).await?;
        NominationCommand::DrawReviewers { seed: DrawSeed::from_bytes(seed), pool }
    }
);

nomination_command!(
    /// Recuse a reviewer (reward office, or the reviewer declaring a conflict). Their scores
    /// are voided, an aggregation made with them too, and the next alternate is seated.
    recuse_reviewer, "/api/v1/nominations/{nomination_id}/recuse-reviewer", RecuseReviewerRequest,
    "`validation_failed`, `invalid_status`",
    |state, actor, id, body| {
        let mut fields = Fields::default();
        let expert_id = fields.take("expert_id", ExpertId::parse(&body.expert_id));
        let reason = fields.take("reason", LongText::parse(&body.reason));
        fields.finish()?;
        let (Some(expert_id), Some(reason)) = (expert_id, reason) else { return Err(missing()) };
        NominationCommand::RecuseReviewer { expert_id, reason }
    }
);

nomination_command!(
    /// Submit your scores, every criterion once (a seated reviewer; never reward-office
    /// staff). A score at either end of a range needs a comment.
    submit_scores, "/api/v1/nominations/{nomination_id}/submit-scores", ScoresRequest,
    "`invalid_status`, `unknown_criterion`, `scores_incomplete`, `score_out_of_range`, `comment_required`",
    |state, actor, id, body| {
        NominationCommand::SubmitScores {
            scores: body
                .scores
                .iter()
                .map(|(code, s)| {
                    (code.clone(), CriterionScore { score: s.score, comment: s.comment.clone() })
                })
                .collect(),
        }
    }
);

nomination_command_without_body!(
    /// Aggregate the scores with the program's rule (reward office). No body.
    aggregate_scores, "/api/v1/nominations/{nomination_id}/aggregate-scores",
    "`invalid_status`, `scores_missing`, `too_few_scores`",
    |state, id| { NominationCommand::AggregateScores }
);

nomination_command!(
    /// Cast your committee vote (a member of the program's committee roster, once).
    /// `not_committee_member` (403) for anyone else holding the role.
    cast_vote, "/api/v1/nominations/{nomination_id}/cast-vote", VoteRequest,
    "`invalid_status`",
    |state, actor, id, body| {
        let committee = current_committee(&state, &id).await?;
        NominationCommand::CastVote { in_favour: body.in_favour, committee }
    }
);

nomination_command_without_body!(
    /// Tally the committee vote (reward office): counts the votes of members on the program's
    /// roster, needs the quorum over that roster; shortlisted with more votes for than
    /// against. No body.
    tally_vote, "/api/v1/nominations/{nomination_id}/tally-vote",
    "`invalid_status`, `quorum_not_reached`",
    |state, id| {
        let committee = current_committee(&state, &id).await?;
        NominationCommand::TallyVote { committee }
    }
);

nomination_command_without_body!(
    /// Start the public notice (reward office) on a working day; its end is computed on the
    /// district's working-day calendar and recorded. No body.
    start_notice, "/api/v1/nominations/{nomination_id}/start-notice",
    "`invalid_status`, `notice_start_not_working_day`",
    |state, id| { NominationCommand::StartNotice { calendar: state.reference.calendar().clone() } }
);

nomination_command!(
    /// Resolve an accepted objection (the auditor).
    resolve_objection, "/api/v1/nominations/{nomination_id}/resolve-objection", ResolveObjectionRequest,
    "`validation_failed`",
    |state, actor, id, body| {
        let mut fields = Fields::default();
        let objection_id = fields.take("objection_id", ObjectionId::parse(&body.objection_id));
        let finding = fields.take("finding", LongText::parse(&body.finding));
        fields.finish()?;
        let (Some(objection_id), Some(finding)) = (objection_id, finding) else { return Err(missing()) };
        NominationCommand::ResolveObjection { objection_id, upheld: body.upheld, finding }
    }
);

nomination_command_without_body!(
    /// Close the notice after its end (reward office). No body.
    close_notice, "/api/v1/nominations/{nomination_id}/close-notice",
    "`invalid_status`, `notice_period_running`",
    |state, id| { NominationCommand::CloseNotice }
);

/// Approve the award (approving authority): only after the notice, without unresolved or
/// upheld objections, within the program's quota, a tier of the program and an amount within
/// the tier.
#[utoipa::path(
    post, path = "/api/v1/nominations/{nomination_id}/approve", tag = "rewards",
    request_body = ApproveAwardRequest,
    params(
        ("nomination_id" = String, Path, description = "The nomination"),
        ("If-Match" = Option<String>, Header, description = "Run only if the nomination is at this version"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry safely"),
    ),
    responses(
        (status = 200, description = "Approved", body = crate::commands::CommandAccepted),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`nomination_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`concurrent_modification`: with If-Match only, when the nomination changed or another approval of the program committed first (without If-Match the approval is decided again on the new count)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`version_mismatch`: If-Match does not match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`, `invalid_status`, `notice_period_running`, `unresolved_objection`, `objection_upheld`, `quota_exceeded`, `unknown_tier`, `amount_outside_tier`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn approve_award(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(nomination_id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ApproveAwardRequest>,
) -> Result<Response, ApiError> {
    let id = parse_nomination_id(&nomination_id)?;
    let mut fields = Fields::default();
    let decision_number = fields.take("decision_number", Label::parse(&body.decision_number));
    let reason = fields.take("reason", LongText::parse(&body.reason));
    fields.finish()?;
    let (Some(decision_number), Some(reason)) = (decision_number, reason) else {
        return Err(missing());
    };
    // The quota counts approvals recorded in the log (not the view, which may lag):
    // `run_nomination` reads the count for each attempt and checks it again at the append.
    let command = NominationCommand::Approve {
        decision_number,
        tier: body.tier.clone(),
        amount: body.amount,
        reason,
        awards_in_program: 0,
    };
    let headers = commands::parse_headers(&headers)?;
    run_nomination(
        &state,
        actor,
        headers,
        &id,
        StatusCode::OK,
        &body,
        command,
        None,
    )
    .await
}

nomination_command_without_body!(
    /// Announce the approved award (reward office). No body.
    announce_award, "/api/v1/nominations/{nomination_id}/announce",
    "`invalid_status`",
    |state, id| { NominationCommand::Announce }
);

nomination_command!(
    /// Withdraw before approval (reward office or the submitter).
    withdraw_nomination, "/api/v1/nominations/{nomination_id}/withdraw", GroundsRequest,
    "`validation_failed`, `invalid_status`",
    |state, actor, id, body| { NominationCommand::Withdraw { reason: long("reason", &body.reason)? } }
);

nomination_command!(
    /// Disqualify before approval, with grounds (reward office).
    disqualify_nomination, "/api/v1/nominations/{nomination_id}/disqualify", GroundsRequest,
    "`validation_failed`, `invalid_status`",
    |state, actor, id, body| { NominationCommand::Disqualify { grounds: long("reason", &body.reason)? } }
);

nomination_command!(
    /// Revoke an award with grounds (only the approving authority who approved it).
    revoke_award, "/api/v1/nominations/{nomination_id}/revoke", RevokeRequest,
    "`validation_failed`, `invalid_status`",
    |state, actor, id, body| {
        let mut fields = Fields::default();
        let decision_number = fields.take("decision_number", Label::parse(&body.decision_number));
        let grounds = fields.take("grounds", LongText::parse(&body.grounds));
        fields.finish()?;
        let (Some(decision_number), Some(grounds)) = (decision_number, grounds) else { return Err(missing()) };
        NominationCommand::Revoke { decision_number, grounds }
    }
);

/// File an objection during the public notice. No login. An objection without a real name and
/// a contact is recorded as not accepted (logged); the filer's identity is never shown to the
/// nominee or the public.
#[utoipa::path(
    post, path = "/api/v1/public/nominations/{nomination_id}/objections", tag = "public",
    request_body = ObjectionRequest,
    params(("nomination_id" = String, Path, description = "The nomination")),
    responses(
        (status = 200, description = "Recorded; `created_id` is the objection id", body = crate::commands::CommandAccepted),
        (status = 404, description = "`nomination_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`, `notice_not_open`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn file_objection(
    State(state): State<AppState>,
    Path(nomination_id): Path<String>,
    ApiJson(body): ApiJson<ObjectionRequest>,
) -> Result<Response, ApiError> {
    let id = parse_nomination_id(&nomination_id)?;
    let mut fields = Fields::default();
    let name = fields.optional::<64>("name", body.name.as_deref());
    let contact = fields.optional::<64>("contact", body.contact.as_deref());
    let grounds = fields.take("grounds", LongText::parse(&body.grounds));
    fields.finish()?;
    let grounds = grounds.ok_or_else(missing)?;
    // The public has no user id; idempotency keys are per user, so they are not honoured here.
    let actor = Actor {
        sub: UserId::parse("public").ok_or_else(missing)?,
        roles: vec![],
        org: None,
    };
    let objection_id = ObjectionId::from_uuid(uuid::Uuid::now_v7());
    let command = NominationCommand::FileObjection {
        objection_id,
        filer_name: name,
        filer_contact: contact,
        grounds,
    };
    run_nomination(
        &state,
        actor,
        CommandHeaders::default(),
        &id,
        StatusCode::OK,
        &body,
        command,
        Some(objection_id.to_string()),
    )
    .await
}

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

//! The `RewardNomination` stream (评选表彰 / 重奖): one nominee in one program.
//!
//! States: submitted → eligible | ineligible → under review (reviewers drawn) → scored
//! (aggregated) → shortlisted | not shortlisted (committee vote) → in notice → notice closed →
//! approved → announced; side exits withdrawn, disqualified, revoked.
//!
//! Rules (docs/DECISIONS.md, "Rewards"):
//! - the program must be approved when the nomination is submitted; its terms are recorded;
//! - reviewers are drawn with `caseledger-draw-v1` from the seed and pool snapshot in the
//!   command; the reward office's staff and experts employed by the reward office's unit are
//!   *filtered out* (listed in the draw's `excluded`, so the draw stays verifiable), and an
//!   actor holding the `reward_office` role is refused when scoring;
//! - a recused reviewer cannot score; scores they gave before are voided by an event, the next
//!   alternate is seated and an aggregation made before is void (the nomination goes back
//!   under review);
//! - scores cover every criterion once, within range; a score at either end of the range
//!   needs a comment;
//! - aggregation needs a sheet from every seated reviewer (at least three) and records the
//!   rule and its version with the result of [`super::aggregate_scores`];
//! - the committee vote needs a quorum and passes with more votes for than against;
//! - the public notice starts on a working day and ends after the program's working days on
//!   the calendar carried by the command; objections are taken only while it runs; an
//!   objection without a real name and a contact is logged as not accepted;
//! - the auditor resolves accepted objections;
//! - approval only after the notice is closed, with no unresolved or upheld objection, within
//!   the quota, with a tier of the program and an amount within the tier;
//! - only the approving authority who approved revokes, with grounds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::{aggregate_scores, AggregationResult, CriterionScore, ProgramTerms};
use crate::actor::{Actor, Authored, Role};
use crate::calendar::WorkCalendar;
use crate::case::RefusalKind;
use crate::consultation::draw::{self, Candidate, DrawFilters, DrawSeed, PoolEntry};
use crate::ids::{ExpertId, NominationId, ObjectionId, RewardProgramId, UnitId, UserId};
use crate::portfolio::china_date;
use crate::sla::{Limit, LimitUnit};
use crate::text::{Label, LongText};

/// Whether a unit or a person is nominated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NomineeKind {
    /// A unit (enterprise, institute, team).
    Unit,
    /// A person.
    Person,
}

/// Who is nominated. `id_number` and `phone` are private: never public, never in the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nominee {
    /// Unit or person.
    pub kind: NomineeKind,
    /// The nominee's name (the unit's name for a unit).
    pub name: String,
    /// The unit (a person's employer; the unit itself for a unit).
    pub unit: String,
    /// The unit's id when it is a known unit: experts conflicted with it are not drawn.
    #[serde(default)]
    pub unit_id: Option<UnitId>,
    /// A person's ID number (private).
    #[serde(default)]
    pub id_number: Option<String>,
    /// A contact phone (private).
    #[serde(default)]
    pub phone: Option<String>,
}

/// One quantified contribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    /// What was achieved.
    pub description: String,
    /// How much.
    pub quantity: i64,
    /// In what (`万元产值`, `patents`).
    pub unit: String,
}

/// One line of the eligibility checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    /// The requirement.
    pub item: String,
    /// Whether it is met.
    pub passed: bool,
}

/// The program as the application read it when the nomination is submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramSnapshot {
    /// The program.
    pub program_id: RewardProgramId,
    /// Its terms.
    pub terms: ProgramTerms,
    /// Its approval document number; `None` while not approved.
    pub approval_document: Option<String>,
}

/// What can be asked of a nomination.
#[derive(Debug, Clone, PartialEq)]
// Commands and events are built once and applied once; boxing the terms would change nothing
// stored (serde is transparent to `Box`) but add noise to every match.
#[allow(clippy::large_enum_variant)]
pub enum NominationCommand {
    /// Submit a nomination (reward office or department staff).
    Submit {
        /// The id the application chose.
        nomination_id: NominationId,
        /// The program, read by the application.
        program: ProgramSnapshot,
        /// Who is nominated.
        nominee: Nominee,
        /// Summary of deeds (public during the notice).
        summary: LongText,
        /// Quantified contributions.
        contributions: Vec<Contribution>,
        /// Evidence references (document numbers, file references).
        evidence: Vec<Label>,
        /// Why the nominee deserves the reward.
        reason: LongText,
    },
    /// Decide eligibility (reward office).
    DecideEligibility {
        /// Eligible or not.
        eligible: bool,
        /// The checklist.
        checklist: Vec<ChecklistItem>,
        /// Why.
        reason: LongText,
    },
    /// Draw the reviewers (reward office); seed and pool come from the application.
    DrawReviewers {
        /// The CSPRNG seed.
        seed: DrawSeed,
        /// The active experts, folded from the log.
        pool: Vec<PoolEntry>,
    },
    /// Recuse a reviewer (reward office, or the reviewer declaring a conflict).
    RecuseReviewer {
        /// The reviewer.
        expert_id: ExpertId,
        /// Why.
        reason: LongText,
    },
    /// Submit one reviewer's scores (the seated reviewer).
    SubmitScores {
        /// Per criterion code.
        scores: BTreeMap<String, CriterionScore>,
    },
    /// Aggregate the scores (reward office).
    AggregateScores,
    /// Cast a committee vote (a committee member).
    CastVote {
        /// For shortlisting or against.
        in_favour: bool,
        /// The program's committee roster now, read from the program's log by the application:
        /// only its members vote.
        committee: BTreeSet<UserId>,
    },
    /// Tally the committee vote (reward office).
    TallyVote {
        /// The program's committee roster now (as for `CastVote`): only its members' votes
        /// count, and the quorum is taken over it.
        committee: BTreeSet<UserId>,
    },
    /// Start the public notice (reward office). The end is computed on the calendar.
    StartNotice {
        /// The working-day calendar.
        calendar: Arc<WorkCalendar>,
    },
    /// File an objection during the notice (anyone, also without login).
    FileObjection {
        /// The id the application chose.
        objection_id: ObjectionId,
        /// The filer's real name.
        filer_name: Option<Label>,
        /// The filer's contact.
        filer_contact: Option<Label>,
        /// The grounds.
        grounds: LongText,
    },
    /// Resolve an accepted objection (the auditor).
    ResolveObjection {
        /// The objection.
        objection_id: ObjectionId,
        /// Upheld or dismissed.
        upheld: bool,
        /// The finding.
        finding: LongText,
    },
    /// Close the notice after its end (reward office).
    CloseNotice,
    /// Approve the award (approving authority).
    Approve {
        /// The decision document number.
        decision_number: Label,
        /// The tier code.
        tier: String,
        /// The amount in yuan.
        amount: u64,
        /// Why.
        reason: LongText,
        /// Awards the program has made so far (counted by the application from the log).
        awards_in_program: u32,
    },
    /// Announce the approved award (reward office).
    Announce,
    /// Withdraw before approval (reward office or the submitter).
    Withdraw {
        /// Why.
        reason: LongText,
    },
    /// Disqualify before approval (reward office).
    Disqualify {
        /// Grounds.
        grounds: LongText,
    },
    /// Revoke an award (only the approving authority who approved it).
    Revoke {
        /// The revocation decision number.
        decision_number: Label,
        /// Grounds.
        grounds: LongText,
    },
}

impl NominationCommand {
    /// The command's name in paths and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            NominationCommand::Submit { .. } => "submit",
            NominationCommand::DecideEligibility { .. } => "decide-eligibility",
            NominationCommand::DrawReviewers { .. } => "draw-reviewers",
            NominationCommand::RecuseReviewer { .. } => "recuse-reviewer",
            NominationCommand::SubmitScores { .. } => "submit-scores",
            NominationCommand::AggregateScores => "aggregate-scores",
            NominationCommand::CastVote { .. } => "cast-vote",
            NominationCommand::TallyVote { .. } => "tally-vote",
            NominationCommand::StartNotice { .. } => "start-notice",
            NominationCommand::FileObjection { .. } => "objections",
            NominationCommand::ResolveObjection { .. } => "resolve-objection",
            NominationCommand::CloseNotice => "close-notice",
            NominationCommand::Approve { .. } => "approve",
            NominationCommand::Announce => "announce",
            NominationCommand::Withdraw { .. } => "withdraw",
            NominationCommand::Disqualify { .. } => "disqualify",
            NominationCommand::Revoke { .. } => "revoke",
        }
    }
}

/// What happened to a nomination. A stored contract: add variants or `#[serde(default)]`
/// fields, never rename or remove.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// Commands and events are built once and applied once; boxing the terms would change nothing
// stored (serde is transparent to `Box`) but add noise to every match.
#[allow(clippy::large_enum_variant)]
pub enum NominationEvent {
    /// Submitted, with the program's terms as approved.
    NominationSubmitted {
        /// The nomination.
        nomination_id: NominationId,
        /// The program.
        program_id: RewardProgramId,
        /// The program's approval document.
        program_approval_document: String,
        /// The program's terms.
        terms: ProgramTerms,
        /// Who is nominated.
        nominee: Nominee,
        /// Summary of deeds.
        summary: String,
        /// Quantified contributions.
        contributions: Vec<Contribution>,
        /// Evidence references.
        evidence: Vec<String>,
        /// Why.
        reason: String,
        /// Who.
        submitted_by: UserId,
        /// When.
        submitted_at: DateTime<Utc>,
    },
    /// Eligibility decided.
    EligibilityDecided {
        /// Eligible or not.
        eligible: bool,
        /// The checklist.
        checklist: Vec<ChecklistItem>,
        /// Why.
        reason: String,
        /// Who.
        decided_by: UserId,
        /// When.
        decided_at: DateTime<Utc>,
    },
    /// Reviewers drawn; everything needed to re-run the draw is here.
    ReviewersDrawn {
        /// `caseledger-draw-v1`.
        algorithm: String,
        /// The seed.
        seed: DrawSeed,
        /// The canonical pool snapshot.
        pool: Vec<PoolEntry>,
        /// Its hash.
        pool_hash: String,
        /// The filters (reward-office staff and employees in `excluded`).
        filters: DrawFilters,
        /// Reviewers.
        panel_size: u32,
        /// Alternates asked for.
        alternates_requested: u32,
        /// Eligible experts in draw order.
        order: Vec<ExpertId>,
        /// The seated reviewers.
        panel: Vec<Candidate>,
        /// The alternates in order.
        alternates: Vec<Candidate>,
        /// The proof.
        proof: String,
        /// Who.
        drawn_by: UserId,
        /// When.
        drawn_at: DateTime<Utc>,
    },
    /// A reviewer was recused.
    ReviewerRecused {
        /// The reviewer.
        expert_id: ExpertId,
        /// Why.
        reason: String,
        /// Who.
        recused_by: UserId,
        /// When.
        recused_at: DateTime<Utc>,
    },
    /// A recused reviewer's earlier scores no longer count.
    ScoresVoided {
        /// The reviewer.
        expert_id: ExpertId,
        /// Why.
        reason: String,
        /// When.
        voided_at: DateTime<Utc>,
    },
    /// An earlier aggregation no longer holds (its sheets changed).
    AggregationVoided {
        /// Why.
        reason: String,
        /// When.
        voided_at: DateTime<Utc>,
    },
    /// An alternate took a recused reviewer's seat.
    AlternateSeated {
        /// The alternate.
        expert_id: ExpertId,
        /// Whose seat.
        replaces: ExpertId,
        /// When.
        seated_at: DateTime<Utc>,
    },
    /// A reviewer's scores.
    ScoresSubmitted {
        /// The reviewer.
        expert_id: ExpertId,
        /// Per criterion.
        scores: BTreeMap<String, CriterionScore>,
        /// When.
        submitted_at: DateTime<Utc>,
    },
    /// The scores were aggregated.
    ScoresAggregated {
        /// The method (`trimmed_mean`).
        method: String,
        /// The trim.
        trim: u32,
        /// The rule's version.
        rule_version: String,
        /// The sheets combined, by reviewer.
        sheets: Vec<ExpertId>,
        /// The result.
        result: AggregationResult,
        /// Who.
        aggregated_by: UserId,
        /// When.
        aggregated_at: DateTime<Utc>,
    },
    /// A committee member voted.
    VoteCast {
        /// The member.
        member: UserId,
        /// For or against.
        in_favour: bool,
        /// When.
        cast_at: DateTime<Utc>,
    },
    /// The committee vote was tallied.
    VoteTallied {
        /// Votes for.
        votes_for: u32,
        /// Votes against.
        votes_against: u32,
        /// The quorum.
        quorum: u32,
        /// The committee's size.
        committee_size: u32,
        /// The roster the tally counted over (absent in tallies recorded before rosters).
        #[serde(default)]
        committee: BTreeSet<UserId>,
        /// Whether the nomination is shortlisted.
        passed: bool,
        /// Who.
        tallied_by: UserId,
        /// When.
        tallied_at: DateTime<Utc>,
    },
    /// The public notice started.
    NoticeStarted {
        /// When.
        starts_at: DateTime<Utc>,
        /// When it ends (computed on the working-day calendar).
        ends_at: DateTime<Utc>,
        /// Its length.
        working_days: u32,
        /// Who.
        started_by: UserId,
    },
    /// An objection was filed (accepted or logged as not accepted).
    ObjectionFiled {
        /// The objection.
        objection_id: ObjectionId,
        /// Whether it was accepted for resolution.
        accepted: bool,
        /// Why not, when not.
        not_accepted_reason: Option<String>,
        /// The filer's name (private).
        filer_name: Option<String>,
        /// The filer's contact (private).
        filer_contact: Option<String>,
        /// The grounds.
        grounds: String,
        /// When.
        filed_at: DateTime<Utc>,
    },
    /// An objection was resolved.
    ObjectionResolved {
        /// The objection.
        objection_id: ObjectionId,
        /// Upheld or dismissed.
        upheld: bool,
        /// The finding.
        finding: String,
        /// Who.
        resolved_by: UserId,
        /// When.
        resolved_at: DateTime<Utc>,
    },
    /// The notice was closed.
    NoticeClosed {
        /// Who.
        closed_by: UserId,
        /// When.
        closed_at: DateTime<Utc>,
    },
    /// The award was approved.
    NominationApproved {
        /// The decision number.
        decision_number: String,
        /// The tier.
        tier: String,
        /// The amount in yuan.
        amount: u64,
        /// Why.
        reason: String,
        /// Awards the program had made before this one.
        awards_before: u32,
        /// Who.
        approved_by: UserId,
        /// When.
        approved_at: DateTime<Utc>,
    },
    /// The award was announced.
    AwardAnnounced {
        /// Who.
        announced_by: UserId,
        /// When.
        announced_at: DateTime<Utc>,
    },
    /// Withdrawn.
    NominationWithdrawn {
        /// Why.
        reason: String,
        /// Who.
        withdrawn_by: UserId,
        /// When.
        withdrawn_at: DateTime<Utc>,
    },
    /// Disqualified.
    NominationDisqualified {
        /// Grounds.
        grounds: String,
        /// Who.
        disqualified_by: UserId,
        /// When.
        disqualified_at: DateTime<Utc>,
    },
    /// The award was revoked.
    AwardRevoked {
        /// The revocation decision number.
        decision_number: String,
        /// Grounds.
        grounds: String,
        /// Who.
        revoked_by: UserId,
        /// When.
        revoked_at: DateTime<Utc>,
    },
}

impl NominationEvent {
    /// The event's name.
    pub fn name(&self) -> &'static str {
        match self {
            NominationEvent::NominationSubmitted { .. } => "NominationSubmitted",
            NominationEvent::EligibilityDecided { .. } => "EligibilityDecided",
            NominationEvent::ReviewersDrawn { .. } => "ReviewersDrawn",
            NominationEvent::ReviewerRecused { .. } => "ReviewerRecused",
            NominationEvent::ScoresVoided { .. } => "ScoresVoided",
            NominationEvent::AggregationVoided { .. } => "AggregationVoided",
            NominationEvent::AlternateSeated { .. } => "AlternateSeated",
            NominationEvent::ScoresSubmitted { .. } => "ScoresSubmitted",
            NominationEvent::ScoresAggregated { .. } => "ScoresAggregated",
            NominationEvent::VoteCast { .. } => "VoteCast",
            NominationEvent::VoteTallied { .. } => "VoteTallied",
            NominationEvent::NoticeStarted { .. } => "NoticeStarted",
            NominationEvent::ObjectionFiled { .. } => "ObjectionFiled",
            NominationEvent::ObjectionResolved { .. } => "ObjectionResolved",
            NominationEvent::NoticeClosed { .. } => "NoticeClosed",
            NominationEvent::NominationApproved { .. } => "NominationApproved",
            NominationEvent::AwardAnnounced { .. } => "AwardAnnounced",
            NominationEvent::NominationWithdrawn { .. } => "NominationWithdrawn",
            NominationEvent::NominationDisqualified { .. } => "NominationDisqualified",
            NominationEvent::AwardRevoked { .. } => "AwardRevoked",
        }
    }
}

impl DomainEvent for NominationEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Where a nomination stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NominationStatus {
    /// Not submitted (no events).
    #[default]
    New,
    /// Submitted.
    Submitted,
    /// Passed the eligibility check.
    Eligible,
    /// Failed it (final).
    Ineligible,
    /// Reviewers drawn, scores coming in.
    UnderReview,
    /// Scores aggregated.
    Scored,
    /// The committee voted for it.
    Shortlisted,
    /// The committee voted against it (final).
    NotShortlisted,
    /// In public notice.
    InNotice,
    /// Notice over.
    NoticeClosed,
    /// Approved.
    Approved,
    /// Announced.
    Announced,
    /// Withdrawn (final).
    Withdrawn,
    /// Disqualified (final).
    Disqualified,
    /// Revoked (final).
    Revoked,
}

impl NominationStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NominationStatus::New => "new",
            NominationStatus::Submitted => "submitted",
            NominationStatus::Eligible => "eligible",
            NominationStatus::Ineligible => "ineligible",
            NominationStatus::UnderReview => "under_review",
            NominationStatus::Scored => "scored",
            NominationStatus::Shortlisted => "shortlisted",
            NominationStatus::NotShortlisted => "not_shortlisted",
            NominationStatus::InNotice => "in_notice",
            NominationStatus::NoticeClosed => "notice_closed",
            NominationStatus::Approved => "approved",
            NominationStatus::Announced => "announced",
            NominationStatus::Withdrawn => "withdrawn",
            NominationStatus::Disqualified => "disqualified",
            NominationStatus::Revoked => "revoked",
        }
    }

    /// Whether the nomination can no longer move before approval (or was approved).
    fn before_approval_open(self) -> bool {
        matches!(
            self,
            NominationStatus::Submitted
                | NominationStatus::Eligible
                | NominationStatus::UnderReview
                | NominationStatus::Scored
                | NominationStatus::Shortlisted
                | NominationStatus::InNotice
                | NominationStatus::NoticeClosed
        )
    }
}

/// Why a nomination command was refused. Codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NominationError {
    /// No such nomination.
    #[error("nomination not found")]
    NominationNotFound,
    /// The id is taken.
    #[error("nomination already exists")]
    NominationAlreadyExists,
    /// The role does not allow the command.
    #[error("role not allowed to {command}")]
    RoleNotAllowed {
        /// The command.
        command: &'static str,
    },
    /// The program is not approved.
    #[error("the reward program is not approved")]
    ProgramNotApproved,
    /// Not in a status that allows the command.
    #[error("cannot {command} a nomination that is {status}")]
    InvalidStatus {
        /// The command.
        command: &'static str,
        /// The status.
        status: &'static str,
    },
    /// The checklist is empty.
    #[error("the eligibility checklist is empty")]
    ChecklistEmpty,
    /// An eligible decision with a failed checklist item, or ineligible with none failed.
    #[error("the eligibility decision contradicts the checklist")]
    ChecklistContradiction,
    /// Not enough eligible experts.
    #[error("the reviewer draw failed: {0}")]
    InsufficientPool(String),
    /// Not a seated reviewer.
    #[error("not a seated reviewer of this nomination")]
    NotSeated,
    /// A recused reviewer cannot score.
    #[error("the reviewer is recused from this nomination")]
    ReviewerRecused,
    /// Reward office staff never score.
    #[error("reward office staff may not score nominations")]
    ScorerIsRewardOffice,
    /// Scored already.
    #[error("this reviewer has scored already")]
    AlreadyScored,
    /// A criterion the program does not have.
    #[error("unknown criterion {0}")]
    UnknownCriterion(String),
    /// Not every criterion scored.
    #[error("every criterion must be scored once; missing {0}")]
    ScoresIncomplete(String),
    /// Outside the range.
    #[error("score {score} for {criterion} is outside {min}..={max}")]
    ScoreOutOfRange {
        /// The criterion.
        criterion: String,
        /// The score.
        score: i32,
        /// The minimum.
        min: i32,
        /// The maximum.
        max: i32,
    },
    /// An extreme score without a comment.
    #[error("a score at the end of the range needs a comment ({0})")]
    CommentRequired(String),
    /// Seated reviewers have not all scored.
    #[error("seated reviewers have not all scored: {0}")]
    ScoresMissing(String),
    /// Fewer than three sheets.
    #[error("at least three score sheets are needed")]
    TooFewScores,
    /// Voted already.
    #[error("this committee member has voted already")]
    AlreadyVoted,
    /// A reviewer of this nomination votes on it.
    #[error("a reviewer of this nomination may not vote on it")]
    VoterIsReviewer,
    /// The voter is not on the program's committee roster.
    #[error("only members of the program's committee vote")]
    NotCommitteeMember,
    /// Too few votes.
    #[error("{cast} votes cast, the quorum is {quorum}")]
    QuorumNotReached {
        /// Votes cast.
        cast: u32,
        /// The quorum.
        quorum: u32,
    },
    /// The notice must start on a working day.
    #[error("the public notice must start on a working day")]
    NoticeStartNotWorkingDay,
    /// Objections only while the notice runs.
    #[error("objections are taken only while the public notice runs")]
    NoticeNotOpen,
    /// The notice period has not ended.
    #[error("the public notice runs until {0}")]
    NoticePeriodRunning(String),
    /// The notice has ended but the reward office has not closed it yet.
    #[error("the public notice ended at {0} but has not been closed")]
    NoticeNotClosed(String),
    /// No such objection, or one that was not accepted.
    #[error("no accepted objection with this id")]
    ObjectionNotFound,
    /// Resolved already.
    #[error("the objection is resolved already")]
    ObjectionAlreadyResolved,
    /// An accepted objection is unresolved.
    #[error("an objection is still unresolved")]
    UnresolvedObjection,
    /// An objection was upheld.
    #[error("an objection against this nomination was upheld")]
    ObjectionUpheld,
    /// The quota is used up.
    #[error("the program's quota of {quota} awards is used up")]
    QuotaExceeded {
        /// The quota.
        quota: u32,
    },
    /// Not a tier of the program.
    #[error("unknown tier {0}")]
    UnknownTier(String),
    /// The amount is not within the tier.
    #[error("the amount must be within {min}..={max} yuan for this tier")]
    AmountOutsideTier {
        /// The minimum.
        min: u64,
        /// The maximum.
        max: u64,
    },
    /// Only the approving authority who approved may revoke.
    #[error("only the approving authority who approved the award may revoke it")]
    NotOriginalAuthority,
}

impl NominationError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        use NominationError as E;
        match self {
            E::NominationNotFound => "nomination_not_found",
            E::NominationAlreadyExists => "nomination_already_exists",
            E::RoleNotAllowed { .. } => "role_not_allowed",
            E::ProgramNotApproved => "program_not_approved",
            E::InvalidStatus { .. } => "invalid_status",
            E::ChecklistEmpty => "checklist_empty",
            E::ChecklistContradiction => "checklist_contradiction",
            E::InsufficientPool(_) => "insufficient_pool",
            E::NotSeated => "not_seated",
            E::ReviewerRecused => "reviewer_recused",
            E::ScorerIsRewardOffice => "scorer_is_reward_office",
            E::AlreadyScored => "already_scored",
            E::UnknownCriterion(_) => "unknown_criterion",
            E::ScoresIncomplete(_) => "scores_incomplete",
            E::ScoreOutOfRange { .. } => "score_out_of_range",
            E::CommentRequired(_) => "comment_required",
            E::ScoresMissing(_) => "scores_missing",
            E::TooFewScores => "too_few_scores",
            E::AlreadyVoted => "already_voted",
            E::VoterIsReviewer => "voter_is_reviewer",
            E::NotCommitteeMember => "not_committee_member",
            E::QuorumNotReached { .. } => "quorum_not_reached",
            E::NoticeStartNotWorkingDay => "notice_start_not_working_day",
            E::NoticeNotOpen => "notice_not_open",
            E::NoticePeriodRunning(_) => "notice_period_running",
            E::NoticeNotClosed(_) => "notice_not_closed",
            E::ObjectionNotFound => "objection_not_found",
            E::ObjectionAlreadyResolved => "objection_already_resolved",
            E::UnresolvedObjection => "unresolved_objection",
            E::ObjectionUpheld => "objection_upheld",
            E::QuotaExceeded { .. } => "quota_exceeded",
            E::UnknownTier(_) => "unknown_tier",
            E::AmountOutsideTier { .. } => "amount_outside_tier",
            E::NotOriginalAuthority => "not_original_authority",
        }
    }

    /// How to understand it.
    pub fn kind(&self) -> RefusalKind {
        use NominationError as E;
        match self {
            E::NominationNotFound | E::ObjectionNotFound => RefusalKind::NotFound,
            E::NominationAlreadyExists
            | E::AlreadyScored
            | E::AlreadyVoted
            | E::ObjectionAlreadyResolved => RefusalKind::Conflict,
            E::RoleNotAllowed { .. }
            | E::NotSeated
            | E::ReviewerRecused
            | E::ScorerIsRewardOffice
            | E::VoterIsReviewer
            | E::NotCommitteeMember
            | E::NotOriginalAuthority => RefusalKind::Forbidden,
            _ => RefusalKind::Rule,
        }
    }
}

/// A reviewer's seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerSeat {
    /// The expert.
    pub expert_id: ExpertId,
    /// Seated from the alternates (replacing whom).
    pub replaces: Option<ExpertId>,
    /// Recused, with the reason.
    pub recused: Option<String>,
}

/// One reviewer's score sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreSheet {
    /// The scores.
    pub scores: BTreeMap<String, CriterionScore>,
    /// Voided after a recusal.
    pub voided: bool,
    /// When submitted.
    pub submitted_at: DateTime<Utc>,
}

/// One objection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objection {
    /// The objection.
    pub objection_id: ObjectionId,
    /// Accepted for resolution.
    pub accepted: bool,
    /// Why not accepted.
    pub not_accepted_reason: Option<String>,
    /// The filer (private).
    pub filer_name: Option<String>,
    /// The filer's contact (private).
    pub filer_contact: Option<String>,
    /// The grounds.
    pub grounds: String,
    /// When.
    pub filed_at: DateTime<Utc>,
    /// Upheld or dismissed, once resolved.
    pub upheld: Option<bool>,
    /// The finding.
    pub finding: Option<String>,
    /// When resolved.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// The award.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Award {
    /// The decision number.
    pub decision_number: String,
    /// The tier code.
    pub tier: String,
    /// The amount in yuan.
    pub amount: u64,
    /// Why.
    pub reason: String,
    /// Who approved.
    pub approved_by: UserId,
    /// When.
    pub approved_at: DateTime<Utc>,
    /// When announced.
    pub announced_at: Option<DateTime<Utc>>,
    /// The revocation decision number.
    pub revocation_number: Option<String>,
    /// Revocation grounds.
    pub revocation_grounds: Option<String>,
    /// When revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A nomination's state: the fold of its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RewardNomination {
    /// The nomination.
    pub nomination_id: Option<NominationId>,
    /// The program.
    pub program_id: Option<RewardProgramId>,
    /// The program's approval document.
    pub program_approval_document: Option<String>,
    /// The program's terms as recorded.
    pub terms: Option<ProgramTerms>,
    /// Where it stands.
    pub status: NominationStatus,
    /// Who is nominated.
    pub nominee: Option<Nominee>,
    /// Summary of deeds.
    pub summary: String,
    /// Contributions.
    pub contributions: Vec<Contribution>,
    /// Evidence references.
    pub evidence: Vec<String>,
    /// Why.
    pub reason: String,
    /// Who submitted.
    pub submitted_by: Option<UserId>,
    /// When.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Eligibility checklist.
    pub checklist: Vec<ChecklistItem>,
    /// Eligibility reason.
    pub eligibility_reason: Option<String>,
    /// The draw's proof.
    pub draw_proof: Option<String>,
    /// Seats in order (drawn, then alternates as they step in).
    pub reviewers: Vec<ReviewerSeat>,
    /// Alternates not yet used, in order.
    pub alternates: Vec<ExpertId>,
    /// Score sheets by reviewer.
    pub sheets: BTreeMap<ExpertId, ScoreSheet>,
    /// The current aggregation.
    pub aggregation: Option<AggregationResult>,
    /// Committee votes by member.
    pub votes: BTreeMap<UserId, bool>,
    /// (for, against) once tallied.
    pub tally: Option<(u32, u32)>,
    /// Notice start.
    pub notice_starts_at: Option<DateTime<Utc>>,
    /// Notice end.
    pub notice_ends_at: Option<DateTime<Utc>>,
    /// Objections.
    pub objections: Vec<Objection>,
    /// The award.
    pub award: Option<Award>,
    /// Withdrawal or disqualification reason.
    pub ended_reason: Option<String>,
    /// When the last event happened.
    pub updated_at: Option<DateTime<Utc>>,
}

fn list(ids: impl IntoIterator<Item = impl std::fmt::Display>) -> String {
    ids.into_iter()
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl RewardNomination {
    fn invalid(&self, command: &'static str) -> NominationError {
        NominationError::InvalidStatus {
            command,
            status: self.status.as_str(),
        }
    }

    fn require(
        &self,
        allowed: &[NominationStatus],
        command: &'static str,
    ) -> Result<(), NominationError> {
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(self.invalid(command))
        }
    }

    fn terms(&self) -> Result<&ProgramTerms, NominationError> {
        self.terms
            .as_ref()
            .ok_or(NominationError::NominationNotFound)
    }

    /// The reviewers whose seats count (seated and not recused).
    pub fn active_reviewers(&self) -> impl Iterator<Item = &ExpertId> {
        self.reviewers
            .iter()
            .filter(|seat| seat.recused.is_none())
            .map(|seat| &seat.expert_id)
    }

    /// The sheets that count: from active reviewers, not voided.
    pub fn counted_sheets(&self) -> Vec<(&ExpertId, &ScoreSheet)> {
        let active: BTreeSet<&ExpertId> = self.active_reviewers().collect();
        self.sheets
            .iter()
            .filter(|(expert, sheet)| !sheet.voided && active.contains(expert))
            .collect()
    }

    /// Whether an accepted objection is unresolved.
    pub fn unresolved_objection(&self) -> bool {
        self.objections
            .iter()
            .any(|o| o.accepted && o.upheld.is_none())
    }

    fn role(actor: &Actor, roles: &[Role], command: &'static str) -> Result<(), NominationError> {
        if actor.has_any(roles) {
            Ok(())
        } else {
            Err(NominationError::RoleNotAllowed { command })
        }
    }

    /// Decides a command.
    pub fn decide(
        &self,
        command: Authored<NominationCommand>,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationCommand as C;
        use NominationEvent as E;
        use NominationStatus as S;
        let Authored { actor, at, command } = command;
        let name = command.name();
        if !matches!(command, C::Submit { .. }) && self.nomination_id.is_none() {
            return Err(NominationError::NominationNotFound);
        }
        match command {
            C::Submit {
                nomination_id,
                program,
                nominee,
                summary,
                contributions,
                evidence,
                reason,
            } => {
                Self::role(
                    &actor,
                    &[
                        Role::RewardOffice,
                        Role::DepartmentHead,
                        Role::DepartmentHandler,
                    ],
                    name,
                )?;
                if self.nomination_id.is_some() {
                    return Err(NominationError::NominationAlreadyExists);
                }
                let Some(approval_document) = program.approval_document else {
                    return Err(NominationError::ProgramNotApproved);
                };
                Ok(vec![E::NominationSubmitted {
                    nomination_id,
                    program_id: program.program_id,
                    program_approval_document: approval_document,
                    terms: program.terms,
                    nominee,
                    summary: summary.as_str().to_owned(),
                    contributions,
                    evidence: evidence.iter().map(|e| e.as_str().to_owned()).collect(),
                    reason: reason.as_str().to_owned(),
                    submitted_by: actor.sub,
                    submitted_at: at,
                }])
            }
            C::DecideEligibility {
                eligible,
                checklist,
                reason,
            } => {
                Self::role(&actor, &[Role::RewardOffice], name)?;
                self.require(&[S::Submitted], name)?;
                if checklist.is_empty() {
                    return Err(NominationError::ChecklistEmpty);
                }
                let all_passed = checklist.iter().all(|item| item.passed);
                if eligible != all_passed {
                    return Err(NominationError::ChecklistContradiction);
                }
                Ok(vec![E::EligibilityDecided {
                    eligible,
                    checklist,
                    reason: reason.as_str().to_owned(),
                    decided_by: actor.sub,
                    decided_at: at,
                }])
            }
            C::DrawReviewers { seed, pool } => {
                Self::role(&actor, &[Role::RewardOffice], name)?;
                self.require(&[S::Eligible], name)?;
                let terms = self.terms()?;
                let nominee = self.nominee.as_ref().expect("submitted");
                // Reward office staff and the reward office's employees are filtered out in
                // the draw itself, so the exclusion is part of the verifiable filters.
                let mut excluded: BTreeSet<ExpertId> = terms.reward_office_staff.clone();
                excluded.extend(
                    pool.iter()
                        .filter(|entry| entry.employer_unit == terms.reward_office_unit)
                        .map(|entry| entry.expert_id.clone()),
                );
                let filters = DrawFilters {
                    disciplines: terms.disciplines.clone(),
                    excluded,
                    parties: nominee.unit_id.iter().cloned().collect(),
                    requesting_unit: terms.reward_office_unit.clone(),
                };
                let outcome = draw::draw(&seed, &pool, &filters, terms.reviewers, terms.alternates)
                    .map_err(|error| NominationError::InsufficientPool(error.to_string()))?;
                let pool = draw::canonical_pool(&pool)
                    .map_err(|error| NominationError::InsufficientPool(error.to_string()))?;
                Ok(vec![E::ReviewersDrawn {
                    algorithm: draw::ALGORITHM.to_owned(),
                    seed,
                    pool,
                    pool_hash: outcome.pool_hash,
                    filters,
                    panel_size: terms.reviewers,
                    alternates_requested: terms.alternates,
                    order: outcome.order,
                    panel: outcome.panel,
                    alternates: outcome.alternates,
                    proof: outcome.proof,
                    drawn_by: actor.sub,
                    drawn_at: at,
                }])
            }
            C::RecuseReviewer { expert_id, reason } => {
                let own = actor.has(Role::Expert) && actor.sub.as_str() == expert_id.as_str();
                if !own {
                    Self::role(&actor, &[Role::RewardOffice], name)?;
                }
                self.require(&[S::UnderReview, S::Scored], name)?;
                let seat = self
                    .reviewers
                    .iter()
                    .find(|seat| seat.expert_id == expert_id)
                    .ok_or(NominationError::NotSeated)?;
                if seat.recused.is_some() {
                    return Err(NominationError::ReviewerRecused);
                }
                let mut events = vec![E::ReviewerRecused {
                    expert_id: expert_id.clone(),
                    reason: reason.as_str().to_owned(),
                    recused_by: actor.sub,
                    recused_at: at,
                }];
                if self.sheets.get(&expert_id).is_some_and(|s| !s.voided) {
                    events.push(E::ScoresVoided {
                        expert_id: expert_id.clone(),
                        reason: format!("reviewer recused: {}", reason.as_str()),
                        voided_at: at,
                    });
                    if self.status == S::Scored {
                        events.push(E::AggregationVoided {
                            reason: format!("scores of {expert_id} voided"),
                            voided_at: at,
                        });
                    }
                }
                if let Some(alternate) = self.alternates.first() {
                    events.push(E::AlternateSeated {
                        expert_id: alternate.clone(),
                        replaces: expert_id,
                        seated_at: at,
                    });
                }
                Ok(events)
            }
            C::SubmitScores { scores } => {
                if actor.has(Role::RewardOffice) {
                    return Err(NominationError::ScorerIsRewardOffice);
                }
                Self::role(&actor, &[Role::Expert], name)?;
                let terms = self.terms()?;
                let expert_id =
                    ExpertId::parse(actor.sub.as_str()).map_err(|_| NominationError::NotSeated)?;
                if terms.reward_office_staff.contains(&expert_id) {
                    return Err(NominationError::ScorerIsRewardOffice);
                }
                let seat = self
                    .reviewers
                    .iter()
                    .find(|seat| seat.expert_id == expert_id)
                    .ok_or(NominationError::NotSeated)?;
                if seat.recused.is_some() {
                    return Err(NominationError::ReviewerRecused);
                }
                self.require(&[S::UnderReview], name)?;
                if self.sheets.contains_key(&expert_id) {
                    return Err(NominationError::AlreadyScored);
                }
                if let Some(unknown) = scores.keys().find(|code| terms.criterion(code).is_none()) {
                    return Err(NominationError::UnknownCriterion(unknown.clone()));
                }
                let missing: Vec<&str> = terms
                    .criteria
                    .iter()
                    .filter(|c| !scores.contains_key(&c.code))
                    .map(|c| c.code.as_str())
                    .collect();
                if !missing.is_empty() {
                    return Err(NominationError::ScoresIncomplete(missing.join(", ")));
                }
                for criterion in &terms.criteria {
                    let score = &scores[&criterion.code];
                    if score.score < criterion.min_score || score.score > criterion.max_score {
                        return Err(NominationError::ScoreOutOfRange {
                            criterion: criterion.code.clone(),
                            score: score.score,
                            min: criterion.min_score,
                            max: criterion.max_score,
                        });
                    }
                    let extreme =
                        score.score == criterion.min_score || score.score == criterion.max_score;
                    let commented = score
                        .comment
                        .as_deref()
                        .is_some_and(|c| !c.trim().is_empty());
                    if extreme && !commented {
                        return Err(NominationError::CommentRequired(criterion.code.clone()));
                    }
                }
                Ok(vec![E::ScoresSubmitted {
                    expert_id,
                    scores,
                    submitted_at: at,
                }])
            }
            C::AggregateScores => {
                Self::role(&actor, &[Role::RewardOffice], name)?;
                self.require(&[S::UnderReview], name)?;
                let terms = self.terms()?;
                let missing: Vec<&ExpertId> = self
                    .active_reviewers()
                    .filter(|expert| self.sheets.get(*expert).is_none_or(|s| s.voided))
                    .collect();
                if !missing.is_empty() {
                    return Err(NominationError::ScoresMissing(list(missing)));
                }
                let counted = self.counted_sheets();
                if counted.len() < 3 {
                    return Err(NominationError::TooFewScores);
                }
                let sheets: Vec<&BTreeMap<String, CriterionScore>> =
                    counted.iter().map(|(_, sheet)| &sheet.scores).collect();
                let result = aggregate_scores(&terms.criteria, &terms.aggregation, &sheets)
                    .ok_or(NominationError::TooFewScores)?;
                Ok(vec![E::ScoresAggregated {
                    method: terms.aggregation.method.clone(),
                    trim: terms.aggregation.trim,
                    rule_version: terms.aggregation.version.clone(),
                    sheets: counted.iter().map(|(id, _)| (*id).clone()).collect(),
                    result,
                    aggregated_by: actor.sub,
                    aggregated_at: at,
                }])
            }
            C::CastVote {
                in_favour,
                committee,
            } => {
                Self::role(&actor, &[Role::CommitteeMember], name)?;
                self.require(&[S::Scored], name)?;
                if !committee.contains(&actor.sub) {
                    return Err(NominationError::NotCommitteeMember);
                }
                if self
                    .reviewers
                    .iter()
                    .any(|seat| seat.expert_id.as_str() == actor.sub.as_str())
                {
                    return Err(NominationError::VoterIsReviewer);
                }
                if self.votes.contains_key(&actor.sub) {
                    return Err(NominationError::AlreadyVoted);
                }
                Ok(vec![E::VoteCast {
                    member: actor.sub,
                    in_favour,
                    cast_at: at,
                }])
            }
            C::TallyVote { committee } => {
                Self::role(&actor, &[Role::RewardOffice], name)?;
                self.require(&[S::Scored], name)?;
                let terms = self.terms()?;
                // Only votes of members on the roster now count (a member removed by a
                // reasoned roster change no longer does), and the quorum is over the roster:
                // the program's quorum, and never half the roster or less.
                let counted: Vec<bool> = self
                    .votes
                    .iter()
                    .filter(|(member, _)| committee.contains(*member))
                    .map(|(_, in_favour)| *in_favour)
                    .collect();
                let cast = counted.len() as u32;
                let quorum = terms.committee_quorum.max(committee.len() as u32 / 2 + 1);
                if cast < quorum {
                    return Err(NominationError::QuorumNotReached { cast, quorum });
                }
                let votes_for = counted.iter().filter(|v| **v).count() as u32;
                let votes_against = cast - votes_for;
                Ok(vec![E::VoteTallied {
                    votes_for,
                    votes_against,
                    quorum,
                    committee_size: committee.len() as u32,
                    committee,
                    passed: votes_for > votes_against,
                    tallied_by: actor.sub,
                    tallied_at: at,
                }])
            }
            C::StartNotice { calendar } => {
                Self::role(&actor, &[Role::RewardOffice], name)?;
                self.require(&[S::Shortlisted], name)?;
                if !calendar.is_working_day(china_date(at)) {
                    return Err(NominationError::NoticeStartNotWorkingDay);
                }
                let working_days = self.terms()?.notice_working_days;
                let ends_at = calendar.add(at, Limit::new(working_days, LimitUnit::WorkingDays));
                Ok(vec![E::NoticeStarted {
                    starts_at: at,
                    ends_at,
                    working_days,
                    started_by: actor.sub,
                }])
            }
            C::FileObjection {
                objection_id,
                filer_name,
                filer_contact,
                grounds,
            } => {
                let open = self.status == S::InNotice
                    && self.notice_ends_at.is_some_and(|ends_at| at < ends_at);
                if !open {
                    return Err(NominationError::NoticeNotOpen);
                }
                let not_accepted_reason = match (&filer_name, &filer_contact) {
                    (Some(_), Some(_)) => None,
                    (None, None) => Some("anonymous: no real name and no contact".to_owned()),
                    (None, Some(_)) => Some("no real name".to_owned()),
                    (Some(_), None) => Some("no contact".to_owned()),
                };
                Ok(vec![E::ObjectionFiled {
                    objection_id,
                    accepted: not_accepted_reason.is_none(),
                    not_accepted_reason,
                    filer_name: filer_name.map(|n| n.as_str().to_owned()),
                    filer_contact: filer_contact.map(|c| c.as_str().to_owned()),
                    grounds: grounds.as_str().to_owned(),
                    filed_at: at,
                }])
            }
            C::ResolveObjection {
                objection_id,
                upheld,
                finding,
            } => {
                Self::role(&actor, &[Role::Auditor], name)?;
                let objection = self
                    .objections
                    .iter()
                    .find(|o| o.objection_id == objection_id && o.accepted)
                    .ok_or(NominationError::ObjectionNotFound)?;
                if objection.upheld.is_some() {
                    return Err(NominationError::ObjectionAlreadyResolved);
                }
                Ok(vec![E::ObjectionResolved {
                    objection_id,
                    upheld,
                    finding: finding.as_str().to_owned(),
                    resolved_by: actor.sub,
                    resolved_at: at,
                }])
            }
            C::CloseNotice => {
                Self::role(&actor, &[Role::RewardOffice], name)?;
                self.require(&[S::InNotice], name)?;
                let ends_at = self.notice_ends_at.expect("in notice");
                if at < ends_at {
                    return Err(NominationError::NoticePeriodRunning(ends_at.to_rfc3339()));
                }
                Ok(vec![E::NoticeClosed {
                    closed_by: actor.sub,
                    closed_at: at,
                }])
            }
            C::Approve {
                decision_number,
                tier,
                amount,
                reason,
                awards_in_program,
            } => {
                Self::role(&actor, &[Role::ApprovingAuthority], name)?;
                if self.status == S::InNotice {
                    let ends_at = self.notice_ends_at.expect("in notice");
                    // Answer the state the nomination is in: a notice that has ended but was
                    // not closed is not "running".
                    return Err(if at < ends_at {
                        NominationError::NoticePeriodRunning(ends_at.to_rfc3339())
                    } else {
                        NominationError::NoticeNotClosed(ends_at.to_rfc3339())
                    });
                }
                self.require(&[S::NoticeClosed], name)?;
                if self.unresolved_objection() {
                    return Err(NominationError::UnresolvedObjection);
                }
                if self.objections.iter().any(|o| o.upheld == Some(true)) {
                    return Err(NominationError::ObjectionUpheld);
                }
                let terms = self.terms()?;
                if awards_in_program >= terms.quota {
                    return Err(NominationError::QuotaExceeded { quota: terms.quota });
                }
                let the_tier = terms
                    .tier(&tier)
                    .ok_or_else(|| NominationError::UnknownTier(tier.clone()))?;
                if amount < the_tier.min_amount || amount > the_tier.max_amount {
                    return Err(NominationError::AmountOutsideTier {
                        min: the_tier.min_amount,
                        max: the_tier.max_amount,
                    });
                }
                Ok(vec![E::NominationApproved {
                    decision_number: decision_number.as_str().to_owned(),
                    tier,
                    amount,
                    reason: reason.as_str().to_owned(),
                    awards_before: awards_in_program,
                    approved_by: actor.sub,
                    approved_at: at,
                }])
            }
            C::Announce => {
                Self::role(&actor, &[Role::RewardOffice], name)?;
                self.require(&[S::Approved], name)?;
                Ok(vec![E::AwardAnnounced {
                    announced_by: actor.sub,
                    announced_at: at,
                }])
            }
            C::Withdraw { reason } => {
                let submitter = self.submitted_by.as_ref() == Some(&actor.sub);
                if !submitter {
                    Self::role(&actor, &[Role::RewardOffice], name)?;
                }
                // "Before approval" includes the two refusals before it (ineligible, not
                // shortlisted): the nominator may still withdraw such a nomination on record.
                let refused_before_approval =
                    matches!(self.status, S::Ineligible | S::NotShortlisted);
                if !(self.status.before_approval_open() || refused_before_approval) {
                    return Err(self.invalid(name));
                }
                Ok(vec![E::NominationWithdrawn {
                    reason: reason.as_str().to_owned(),
                    withdrawn_by: actor.sub,
                    withdrawn_at: at,
                }])
            }
            C::Disqualify { grounds } => {
                Self::role(&actor, &[Role::RewardOffice], name)?;
                if !self.status.before_approval_open() {
                    return Err(self.invalid(name));
                }
                Ok(vec![E::NominationDisqualified {
                    grounds: grounds.as_str().to_owned(),
                    disqualified_by: actor.sub,
                    disqualified_at: at,
                }])
            }
            C::Revoke {
                decision_number,
                grounds,
            } => {
                Self::role(&actor, &[Role::ApprovingAuthority], name)?;
                self.require(&[S::Approved, S::Announced], name)?;
                let award = self.award.as_ref().expect("approved");
                if award.approved_by != actor.sub {
                    return Err(NominationError::NotOriginalAuthority);
                }
                Ok(vec![E::AwardRevoked {
                    decision_number: decision_number.as_str().to_owned(),
                    grounds: grounds.as_str().to_owned(),
                    revoked_by: actor.sub,
                    revoked_at: at,
                }])
            }
        }
    }

    /// Applies a recorded event.
    pub fn evolve(&mut self, event: &NominationEvent) {
        use NominationEvent as E;
        use NominationStatus as S;
        match event {
            E::NominationSubmitted {
                nomination_id,
                program_id,
                program_approval_document,
                terms,
                nominee,
                summary,
                contributions,
                evidence,
                reason,
                submitted_by,
                submitted_at,
            } => {
                self.nomination_id = Some(*nomination_id);
                self.program_id = Some(*program_id);
                self.program_approval_document = Some(program_approval_document.clone());
                self.terms = Some(terms.clone());
                self.nominee = Some(nominee.clone());
                self.summary = summary.clone();
                self.contributions = contributions.clone();
                self.evidence = evidence.clone();
                self.reason = reason.clone();
                self.submitted_by = Some(submitted_by.clone());
                self.submitted_at = Some(*submitted_at);
                self.status = S::Submitted;
                self.updated_at = Some(*submitted_at);
            }
            E::EligibilityDecided {
                eligible,
                checklist,
                reason,
                decided_at,
                ..
            } => {
                self.checklist = checklist.clone();
                self.eligibility_reason = Some(reason.clone());
                self.status = if *eligible {
                    S::Eligible
                } else {
                    S::Ineligible
                };
                self.updated_at = Some(*decided_at);
            }
            E::ReviewersDrawn {
                panel,
                alternates,
                proof,
                drawn_at,
                ..
            } => {
                self.reviewers = panel
                    .iter()
                    .map(|c| ReviewerSeat {
                        expert_id: c.expert_id.clone(),
                        replaces: None,
                        recused: None,
                    })
                    .collect();
                self.alternates = alternates.iter().map(|c| c.expert_id.clone()).collect();
                self.draw_proof = Some(proof.clone());
                self.status = S::UnderReview;
                self.updated_at = Some(*drawn_at);
            }
            E::ReviewerRecused {
                expert_id,
                reason,
                recused_at,
                ..
            } => {
                if let Some(seat) = self
                    .reviewers
                    .iter_mut()
                    .find(|s| &s.expert_id == expert_id)
                {
                    seat.recused = Some(reason.clone());
                }
                self.updated_at = Some(*recused_at);
            }
            E::ScoresVoided {
                expert_id,
                voided_at,
                ..
            } => {
                if let Some(sheet) = self.sheets.get_mut(expert_id) {
                    sheet.voided = true;
                }
                self.updated_at = Some(*voided_at);
            }
            E::AggregationVoided { voided_at, .. } => {
                self.aggregation = None;
                self.status = S::UnderReview;
                self.updated_at = Some(*voided_at);
            }
            E::AlternateSeated {
                expert_id,
                replaces,
                seated_at,
            } => {
                self.alternates.retain(|a| a != expert_id);
                self.reviewers.push(ReviewerSeat {
                    expert_id: expert_id.clone(),
                    replaces: Some(replaces.clone()),
                    recused: None,
                });
                self.updated_at = Some(*seated_at);
            }
            E::ScoresSubmitted {
                expert_id,
                scores,
                submitted_at,
            } => {
                self.sheets.insert(
                    expert_id.clone(),
                    ScoreSheet {
                        scores: scores.clone(),
                        voided: false,
                        submitted_at: *submitted_at,
                    },
                );
                self.updated_at = Some(*submitted_at);
            }
            E::ScoresAggregated {
                result,
                aggregated_at,
                ..
            } => {
                self.aggregation = Some(result.clone());
                self.status = S::Scored;
                self.updated_at = Some(*aggregated_at);
            }
            E::VoteCast {
                member,
                in_favour,
                cast_at,
            } => {
                self.votes.insert(member.clone(), *in_favour);
                self.updated_at = Some(*cast_at);
            }
            E::VoteTallied {
                votes_for,
                votes_against,
                passed,
                tallied_at,
                ..
            } => {
                self.tally = Some((*votes_for, *votes_against));
                self.status = if *passed {
                    S::Shortlisted
                } else {
                    S::NotShortlisted
                };
                self.updated_at = Some(*tallied_at);
            }
            E::NoticeStarted {
                starts_at, ends_at, ..
            } => {
                self.notice_starts_at = Some(*starts_at);
                self.notice_ends_at = Some(*ends_at);
                self.status = S::InNotice;
                self.updated_at = Some(*starts_at);
            }
            E::ObjectionFiled {
                objection_id,
                accepted,
                not_accepted_reason,
                filer_name,
                filer_contact,
                grounds,
                filed_at,
            } => {
                self.objections.push(Objection {
                    objection_id: *objection_id,
                    accepted: *accepted,
                    not_accepted_reason: not_accepted_reason.clone(),
                    filer_name: filer_name.clone(),
                    filer_contact: filer_contact.clone(),
                    grounds: grounds.clone(),
                    filed_at: *filed_at,
                    upheld: None,
                    finding: None,
                    resolved_at: None,
                });
                self.updated_at = Some(*filed_at);
            }
            E::ObjectionResolved {
                objection_id,
                upheld,
                finding,
                resolved_at,
                ..
            } => {
                if let Some(o) = self
                    .objections
                    .iter_mut()
                    .find(|o| &o.objection_id == objection_id)
                {
                    o.upheld = Some(*upheld);
                    o.finding = Some(finding.clone());
                    o.resolved_at = Some(*resolved_at);
                }
                self.updated_at = Some(*resolved_at);
            }
            E::NoticeClosed { closed_at, .. } => {
                self.status = S::NoticeClosed;
                self.updated_at = Some(*closed_at);
            }
            E::NominationApproved {
                decision_number,
                tier,
                amount,
                reason,
                approved_by,
                approved_at,
                ..
            } => {
                self.award = Some(Award {
                    decision_number: decision_number.clone(),
                    tier: tier.clone(),
                    amount: *amount,
                    reason: reason.clone(),
                    approved_by: approved_by.clone(),
                    approved_at: *approved_at,
                    announced_at: None,
                    revocation_number: None,
                    revocation_grounds: None,
                    revoked_at: None,
                });
                self.status = S::Approved;
                self.updated_at = Some(*approved_at);
            }
            E::AwardAnnounced { announced_at, .. } => {
                if let Some(award) = &mut self.award {
                    award.announced_at = Some(*announced_at);
                }
                self.status = S::Announced;
                self.updated_at = Some(*announced_at);
            }
            E::NominationWithdrawn {
                reason,
                withdrawn_at,
                ..
            } => {
                self.ended_reason = Some(reason.clone());
                self.status = S::Withdrawn;
                self.updated_at = Some(*withdrawn_at);
            }
            E::NominationDisqualified {
                grounds,
                disqualified_at,
                ..
            } => {
                self.ended_reason = Some(grounds.clone());
                self.status = S::Disqualified;
                self.updated_at = Some(*disqualified_at);
            }
            E::AwardRevoked {
                decision_number,
                grounds,
                revoked_at,
                ..
            } => {
                if let Some(award) = &mut self.award {
                    award.revocation_number = Some(decision_number.clone());
                    award.revocation_grounds = Some(grounds.clone());
                    award.revoked_at = Some(*revoked_at);
                }
                self.status = S::Revoked;
                self.updated_at = Some(*revoked_at);
            }
        }
    }
}

impl Aggregate for RewardNomination {
    const TYPE: &'static str = "RewardNomination";
    type Command = Authored<NominationCommand>;
    type Event = NominationEvent;
    type Error = NominationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), NominationError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: NominationEvent) {
        self.evolve(&event);
    }
}

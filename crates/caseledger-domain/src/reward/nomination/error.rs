//! Why a nomination command was refused: [`NominationError`], its stable codes and how a
//! caller should understand each refusal.

use crate::case::RefusalKind;

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

//! What can be asked of a nomination: [`NominationCommand`] and the program snapshot the
//! application reads for a submission.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::calendar::WorkCalendar;
use crate::consultation::draw::{DrawSeed, PoolEntry};
use crate::ids::{ExpertId, NominationId, ObjectionId, RewardProgramId, UserId};
use crate::reward::{CriterionScore, ProgramTerms};
use crate::text::{Label, LongText};

use super::types::{ChecklistItem, Contribution, Nominee};

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

//! What happened to a nomination. A stored contract: fields are added with
//! `#[serde(default)]` and variants are added, never renamed or removed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::consultation::draw::{Candidate, DrawFilters, DrawSeed, PoolEntry};
use crate::ids::{ExpertId, NominationId, ObjectionId, RewardProgramId, UserId};
use crate::reward::{AggregationResult, CriterionScore, ProgramTerms};

use super::types::{ChecklistItem, Contribution, Nominee};

/// What happened to a nomination. A stored contract: add variants or `#[serde(default)]`
/// fields, never rename or remove.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
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

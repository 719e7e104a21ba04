//! The parts of a nomination's state (reviewer seats, score sheets, objections, the award) and
//! `evolve`, which applies one recorded event to the state and never fails.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ExpertId, ObjectionId, UserId};
use crate::reward::CriterionScore;

use super::event::NominationEvent;
use super::types::NominationStatus;
use super::RewardNomination;

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

impl RewardNomination {
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

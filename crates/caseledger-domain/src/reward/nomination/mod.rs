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
//!
//! `decide` checks what every command shares (a nomination exists, except for `Submit`) and
//! hands each command to one function of its own; `evolve` only applies a recorded event.
//!
//! Where things live: `command.rs` what can be asked, `event.rs` what is recorded, `error.rs`
//! why a command is refused, `types.rs` the nominee and the status, `state.rs` the parts of the
//! state and `evolve`; the rules per command are in `eligibility.rs` (submission, eligibility),
//! `review.rs` (reviewer draw, recusal, scores, aggregation), `committee.rs` (vote, tally),
//! `notice.rs` (public notice, objections) and `decision.rs` (approval, announcement,
//! revocation, withdrawal, disqualification).

mod command;
mod committee;
mod decision;
mod eligibility;
mod error;
mod event;
mod notice;
mod review;
mod state;
mod types;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::{AggregationResult, ProgramTerms};
use crate::actor::{Actor, Authored, Role};
use crate::ids::{ExpertId, NominationId, RewardProgramId, UserId};

pub use command::{NominationCommand, ProgramSnapshot};
pub use error::NominationError;
pub use event::NominationEvent;
pub use state::{Award, Objection, ReviewerSeat, ScoreSheet};
pub use types::{ChecklistItem, Contribution, NominationStatus, Nominee, NomineeKind};

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

/// Who issues a command, when, and the command's name for refusals: what every per-command
/// rule reads besides the command's own fields.
struct Issued {
    actor: Actor,
    at: DateTime<Utc>,
    name: &'static str,
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

    /// Decides which events `command` records, or why it is refused. Pure.
    pub fn decide(
        &self,
        command: Authored<NominationCommand>,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationCommand as C;
        let Authored { actor, at, command } = command;
        let issued = Issued {
            name: command.name(),
            actor,
            at,
        };
        if !matches!(command, C::Submit { .. }) && self.nomination_id.is_none() {
            return Err(NominationError::NominationNotFound);
        }
        match command {
            C::Submit { .. } => self.submit(issued, command),
            C::DecideEligibility {
                eligible,
                checklist,
                reason,
            } => self.decide_eligibility(issued, eligible, checklist, reason),
            C::DrawReviewers { seed, pool } => self.draw_reviewers(issued, seed, pool),
            C::RecuseReviewer { expert_id, reason } => {
                self.recuse_reviewer(issued, expert_id, reason)
            }
            C::SubmitScores { scores } => self.submit_scores(issued, scores),
            C::AggregateScores => self.aggregate(issued),
            C::CastVote {
                in_favour,
                committee,
            } => self.cast_vote(issued, in_favour, committee),
            C::TallyVote { committee } => self.tally_vote(issued, committee),
            C::StartNotice { calendar } => self.start_notice(issued, calendar),
            C::FileObjection {
                objection_id,
                filer_name,
                filer_contact,
                grounds,
            } => self.file_objection(issued, objection_id, filer_name, filer_contact, grounds),
            C::ResolveObjection {
                objection_id,
                upheld,
                finding,
            } => self.resolve_objection(issued, objection_id, upheld, finding),
            C::CloseNotice => self.close_notice(issued),
            C::Approve {
                decision_number,
                tier,
                amount,
                reason,
                awards_in_program,
            } => self.approve(
                issued,
                decision_number,
                tier,
                amount,
                reason,
                awards_in_program,
            ),
            C::Announce => self.announce(issued),
            C::Withdraw { reason } => self.withdraw(issued, reason),
            C::Disqualify { grounds } => self.disqualify(issued, grounds),
            C::Revoke {
                decision_number,
                grounds,
            } => self.revoke(issued, decision_number, grounds),
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

//! The `ConsultationRequest` stream (专家咨询论证): a department asks the expert advisory panel
//! about a strategic policy, key project, S&T plan or investment project.
//!
//! States: submitted → accepted → panel drawn → panel confirmed → collecting opinions →
//! concluded → adoption reported → closed; side exits rejected and cancelled.
//!
//! Rules (docs/DECISIONS.md, "Expert consultations"):
//! - a panel has at least 3 seats; it is drawn at random with [`draw::draw`] from the seed and
//!   the pool snapshot that arrive in the command (the application chooses the seed with a
//!   CSPRNG and reads the pool from the log), or selected by hand with a reason and the approval
//!   of a second person (a district leader or another panel secretary), and then flagged;
//! - conflicted experts are never seated (the draw excludes them, a manual selection refuses
//!   them) and never submit (a recused expert's seat is closed and their opinions no longer
//!   count); a recusal or a declined seat seats the next alternate that keeps the cap;
//! - experts from units subordinate to the requester hold at most half the seats
//!   (floor(panel size / 2)), in the draw, in a manual selection and when alternates step in;
//! - an expert acts only on a seat of their own, and submits only after accepting the
//!   confidentiality pledge; an amended opinion is a new version, never an edit;
//! - the conclusion needs a quorum of opinions (more than half the panel size, counting each
//!   seated expert's latest version once); its majority is the most frequent stance and a tie
//!   cannot be concluded; every other stance is dissent and needs a dissent summary;
//! - the requesting department reports adoption for every recommendation exactly once, with a
//!   reason for each one not adopted; no close without that report.
//!
//! `decide` checks what every command shares (a request exists, except for `Submit`) and hands
//! each command to one function of its own; `evolve` only applies a recorded event. Events are
//! a stored contract: fields are added with `#[serde(default)]` and variants are added, never
//! renamed or removed.
//!
//! Where things live: `command.rs` what can be asked, `event.rs` what is recorded, `error.rs`
//! why a command is refused, `types.rs` the value types with their wire names, `state.rs` the
//! parts of the state and `evolve`; the rules per command are in `request.rs` (submission,
//! acceptance, adoption report, close, cancel), `panel.rs` (draw, manual selection, seats,
//! recusal, alternates, confirmation) and `opinion.rs` (opinions and the conclusion);
//! [`draw`] is the panel draw `caseledger-draw-v1`.

mod command;
pub mod draw;
mod error;
mod event;
mod opinion;
mod panel;
mod request;
mod state;
mod types;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Authored, Role};
use crate::ids::{ConsultationId, Discipline, ExpertId, UnitId, UserId};

pub use command::{AdoptionItem, ConsultationCommand};
pub use draw::{Candidate, DrawError, DrawFilters, DrawOutcome, DrawSeed, PoolEntry};
pub use error::ConsultationError;
pub use event::ConsultationEvent;
pub use opinion::opinion_digest;
pub use state::{Conclusion, LatestOpinion, PendingSelection, Seat, Selection};
pub use types::{
    AdoptionOutcome, AdoptionRecord, Confidentiality, ConsultationStatus, SeatState, SeatedVia,
    SelectionMethod, Stance, Tally, TopicType,
};

/// The version of the confidentiality pledge text an expert accepts (README, "Consultations").
pub const PLEDGE_VERSION: &str = "2026.1";
/// The smallest panel.
pub const MIN_PANEL_SIZE: u32 = 3;
/// The largest panel.
pub const MAX_PANEL_SIZE: u32 = 15;
/// The most alternates a draw may name.
pub const MAX_ALTERNATES: u32 = 10;

/// The state of one consultation request, rebuilt from its events. The `consultations`
/// projection stores it (without opinion texts) as the request's view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsultationRequest {
    /// The id; `None` before submission.
    pub consultation_id: Option<ConsultationId>,
    /// Where it stands.
    pub status: ConsultationStatus,
    /// The requesting department.
    pub requesting_unit: Option<UnitId>,
    /// Topic.
    pub topic_type: Option<TopicType>,
    /// Title.
    pub title: String,
    /// Questions.
    pub questions: Vec<String>,
    /// Materials reference.
    pub materials_ref: Option<String>,
    /// Confidentiality.
    pub confidentiality: Option<Confidentiality>,
    /// Disciplines.
    pub disciplines: BTreeSet<Discipline>,
    /// Units involved.
    pub parties: BTreeSet<UnitId>,
    /// Seats.
    pub panel_size: u32,
    /// Opinions due by.
    pub deadline: Option<NaiveDate>,
    /// Who submitted.
    pub submitted_by: Option<UserId>,
    /// When.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Why rejected or cancelled.
    pub closing_reason: Option<String>,
    /// How the panel was chosen.
    pub selection: Option<Selection>,
    /// A manual selection waiting for approval.
    pub pending_selection: Option<PendingSelection>,
    /// Seats in the order they were filled.
    pub seats: Vec<Seat>,
    /// Alternates not yet used, in order.
    pub alternates: Vec<Candidate>,
    /// Latest opinion per expert (of every expert who submitted, recused ones included).
    pub opinions: BTreeMap<ExpertId, LatestOpinion>,
    /// The conclusion.
    pub conclusion: Option<Conclusion>,
    /// The adoption report.
    pub adoption: Option<Vec<AdoptionRecord>>,
    /// When the last event happened.
    pub updated_at: Option<DateTime<Utc>>,
}

const DEPARTMENT_STAFF: &[Role] = &[Role::DepartmentHandler, Role::DepartmentHead];

/// More than half of the panel size.
pub fn quorum(panel_size: u32) -> u32 {
    panel_size / 2 + 1
}

/// Who issues a command, when, and the command's name for refusals: what every per-command
/// rule reads besides the command's own fields.
struct Issued {
    actor: Actor,
    at: DateTime<Utc>,
    name: &'static str,
}

impl ConsultationRequest {
    /// The most seats experts from subordinate units may hold.
    pub fn subordinate_cap(&self) -> u32 {
        self.panel_size / 2
    }

    /// The seat of `expert_id`, if any.
    pub fn seat(&self, expert_id: &ExpertId) -> Option<&Seat> {
        self.seats.iter().find(|seat| &seat.expert_id == expert_id)
    }

    /// The counted opinions: the latest stance of each expert whose seat is accepted.
    pub fn counted_opinions(&self) -> Vec<(&ExpertId, Stance)> {
        self.opinions
            .iter()
            .filter(|(expert_id, _)| {
                self.seat(expert_id)
                    .is_some_and(|seat| seat.state == SeatState::Accepted)
            })
            .map(|(expert_id, opinion)| (expert_id, opinion.stance))
            .collect()
    }

    /// The filters a draw for this request uses over `pool`. Employees of the requesting unit
    /// are never drawn onto the panel that advises it (回避): they are listed in `excluded`, so
    /// the exclusion is part of the recorded, verifiable filters and `caseledger-draw-v1` stays
    /// unchanged. (Employees of a party are already conflicted by the algorithm itself.)
    pub fn draw_filters(&self, pool: &[PoolEntry]) -> Option<DrawFilters> {
        let requesting_unit = self.requesting_unit.clone()?;
        Some(DrawFilters {
            disciplines: self.disciplines.clone(),
            excluded: pool
                .iter()
                .filter(|entry| entry.employer_unit == requesting_unit)
                .map(|entry| entry.expert_id.clone())
                .collect(),
            parties: self.parties.clone(),
            requesting_unit,
        })
    }

    fn invalid(&self) -> ConsultationError {
        ConsultationError::InvalidStatus {
            status: self.status.as_str(),
        }
    }

    fn is_requesting_staff(&self, actor: &Actor) -> bool {
        actor.has_any(DEPARTMENT_STAFF)
            && self
                .requesting_unit
                .as_ref()
                .is_some_and(|unit| actor.acts_for(unit.as_str()))
    }

    /// Department staff of the requester; other department staff `not_requesting_department`.
    fn check_requester(
        &self,
        actor: &Actor,
        command: &'static str,
    ) -> Result<(), ConsultationError> {
        if self.is_requesting_staff(actor) {
            Ok(())
        } else if actor.has_any(DEPARTMENT_STAFF) {
            Err(ConsultationError::NotRequestingDepartment)
        } else {
            Err(ConsultationError::RoleNotAllowed { command })
        }
    }

    fn check_secretary(actor: &Actor, command: &'static str) -> Result<(), ConsultationError> {
        if actor.has(Role::PanelSecretary) {
            Ok(())
        } else {
            Err(ConsultationError::RoleNotAllowed { command })
        }
    }

    /// The seated expert acting, or why not.
    fn own_seat(&self, actor: &Actor, command: &'static str) -> Result<&Seat, ConsultationError> {
        if !actor.has(Role::Expert) {
            return Err(ConsultationError::RoleNotAllowed { command });
        }
        self.seats
            .iter()
            .find(|seat| seat.expert_id.as_str() == actor.sub.as_str())
            .ok_or(ConsultationError::NotSeated)
    }

    /// Decides which events `command` records, or why it is refused. Pure.
    pub fn decide(
        &self,
        command: Authored<ConsultationCommand>,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        use ConsultationCommand as C;
        let Authored { actor, at, command } = command;
        let issued = Issued {
            name: command.name(),
            actor,
            at,
        };
        if let C::Submit { .. } = command {
            return self.submit(issued, command);
        }
        if self.status == ConsultationStatus::New {
            return Err(ConsultationError::ConsultationNotFound);
        }
        let mut events = match command {
            C::Submit { .. } => unreachable!("handled above"),
            C::Accept => self.accept(issued)?,
            C::Reject { reason } => self.reject(issued, reason)?,
            C::DrawPanel {
                seed,
                pool,
                alternates,
            } => self.draw_panel(issued, seed, pool, alternates)?,
            C::ProposeSelection {
                panel,
                alternates,
                reason,
                pool,
            } => self.propose_selection(issued, panel, alternates, reason, pool)?,
            C::ApproveSelection => self.approve_selection(issued)?,
            C::AcceptSeat { pledge_accepted } => self.accept_seat(issued, pledge_accepted)?,
            C::DeclineSeat { reason } => self.decline_seat(issued, reason)?,
            C::DeclareConflict { reason } => self.declare_conflict(issued, reason)?,
            C::Recuse { expert_id, reason } => self.recuse(issued, expert_id, reason)?,
            C::SubmitOpinion {
                stance,
                rationale,
                conditions,
                signature,
            } => self.submit_opinion(issued, stance, rationale, conditions, signature)?,
            C::Conclude {
                majority_view,
                dissent,
                recommendations,
            } => self.conclude(issued, majority_view, dissent, recommendations)?,
            C::ReportAdoption { items } => self.report_adoption(issued, items)?,
            C::Close => self.close(issued)?,
            C::Cancel { reason } => self.cancel(issued, reason)?,
        };
        events.extend(self.confirmation(&events, at));
        Ok(events)
    }

    fn is_concluded_or_ended(&self) -> bool {
        use ConsultationStatus as S;
        matches!(
            self.status,
            S::Concluded | S::AdoptionReported | S::Closed | S::Rejected | S::Cancelled
        )
    }
}

impl Aggregate for ConsultationRequest {
    const TYPE: &'static str = "ConsultationRequest";
    type Command = Authored<ConsultationCommand>;
    type Event = ConsultationEvent;
    type Error = ConsultationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ConsultationError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ConsultationEvent) {
        self.evolve(&event);
    }
}

//! The parts of a request's state (seats, how the panel was chosen, a pending manual
//! selection, the latest opinion per expert, the conclusion) and `evolve`, which applies one
//! recorded event to the state and never fails.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ExpertId, UserId};

use super::draw::Candidate;
use super::event::ConsultationEvent;
use super::types::{ConsultationStatus, SeatState, SeatedVia, SelectionMethod, Stance, Tally};
use super::ConsultationRequest;

/// One seat of the panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seat {
    /// The expert.
    pub expert_id: ExpertId,
    /// Whether the expert is from a unit subordinate to the requester.
    pub subordinate: bool,
    /// Where the seat stands.
    pub state: SeatState,
    /// How the expert came to it.
    pub via: SeatedVia,
    /// When the pledge was accepted.
    pub pledged_at: Option<DateTime<Utc>>,
    /// Why the seat was declined or recused.
    pub reason: Option<String>,
}

impl Seat {
    /// Whether the seat counts (invited or accepted).
    pub fn is_active(&self) -> bool {
        matches!(self.state, SeatState::Invited | SeatState::Accepted)
    }
}

/// How the panel was chosen, for every audit view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// Draw or manual.
    pub method: SelectionMethod,
    /// The pool snapshot's hash.
    pub pool_hash: String,
    /// The draw's seed (draws only).
    pub seed: Option<String>,
    /// The draw's proof (draws only).
    pub proof: Option<String>,
    /// Why it was chosen by hand (manual only).
    pub reason: Option<String>,
    /// Who drew or proposed.
    pub selected_by: UserId,
    /// Who approved (manual only).
    pub approved_by: Option<UserId>,
    /// When the panel was seated.
    pub seated_at: DateTime<Utc>,
}

/// A manual selection waiting for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSelection {
    /// The seats.
    pub panel: Vec<Candidate>,
    /// Alternates.
    pub alternates: Vec<Candidate>,
    /// Why.
    pub reason: String,
    /// The snapshot's hash.
    pub pool_hash: String,
    /// Who proposed.
    pub proposed_by: UserId,
    /// When.
    pub proposed_at: DateTime<Utc>,
}

/// An expert's latest opinion, as the aggregate needs it (the texts live in the events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestOpinion {
    /// The latest version.
    pub version: u32,
    /// Its stance.
    pub stance: Stance,
}

/// The recorded conclusion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conclusion {
    /// The majority stance.
    pub majority: Stance,
    /// The count.
    pub tally: Tally,
    /// The majority view.
    pub majority_view: String,
    /// The dissenters.
    pub dissenters: Vec<ExpertId>,
    /// The dissent.
    pub dissent: Option<String>,
    /// Recommendations, numbered from 1.
    pub recommendations: Vec<String>,
    /// Who recorded it.
    pub recorded_by: UserId,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

impl ConsultationRequest {
    /// Evolves the state by one recorded event. Never fails.
    pub fn evolve(&mut self, event: &ConsultationEvent) {
        use ConsultationEvent as E;
        use ConsultationStatus as S;
        self.updated_at = Some(event.at());
        match event {
            E::ConsultationSubmitted {
                consultation_id,
                requesting_unit,
                topic_type,
                title,
                questions,
                materials_ref,
                confidentiality,
                disciplines,
                panel_size,
                deadline,
                parties,
                submitted_by,
                submitted_at,
            } => {
                self.consultation_id = Some(*consultation_id);
                self.status = S::Submitted;
                self.requesting_unit = Some(requesting_unit.clone());
                self.topic_type = Some(*topic_type);
                self.title = title.clone();
                self.questions = questions.clone();
                self.materials_ref = materials_ref.clone();
                self.confidentiality = Some(*confidentiality);
                self.disciplines = disciplines.clone();
                self.parties = parties.clone();
                self.panel_size = *panel_size;
                self.deadline = Some(*deadline);
                self.submitted_by = Some(submitted_by.clone());
                self.submitted_at = Some(*submitted_at);
            }
            E::ConsultationAccepted { .. } => self.status = S::Accepted,
            E::ConsultationRejected { reason, .. } => {
                self.status = S::Rejected;
                self.closing_reason = Some(reason.clone());
            }
            E::PanelDrawn {
                seed,
                pool_hash,
                panel,
                alternates,
                proof,
                drawn_by,
                drawn_at,
                ..
            } => {
                self.status = S::PanelDrawn;
                self.seat_panel(panel, SeatedVia::Draw);
                self.alternates = alternates.clone();
                self.selection = Some(Selection {
                    method: SelectionMethod::Draw,
                    pool_hash: pool_hash.clone(),
                    seed: Some(seed.to_hex()),
                    proof: Some(proof.clone()),
                    reason: None,
                    selected_by: drawn_by.clone(),
                    approved_by: None,
                    seated_at: *drawn_at,
                });
            }
            E::SelectionProposed {
                panel,
                alternates,
                reason,
                pool_hash,
                proposed_by,
                proposed_at,
                ..
            } => {
                self.pending_selection = Some(PendingSelection {
                    panel: panel.clone(),
                    alternates: alternates.clone(),
                    reason: reason.clone(),
                    pool_hash: pool_hash.clone(),
                    proposed_by: proposed_by.clone(),
                    proposed_at: *proposed_at,
                });
            }
            E::SelectionApproved {
                approved_by,
                approved_at,
            } => {
                if let Some(pending) = self.pending_selection.take() {
                    self.status = S::PanelDrawn;
                    self.seat_panel(&pending.panel, SeatedVia::Manual);
                    self.alternates = pending.alternates;
                    self.selection = Some(Selection {
                        method: SelectionMethod::Manual,
                        pool_hash: pending.pool_hash,
                        seed: None,
                        proof: None,
                        reason: Some(pending.reason),
                        selected_by: pending.proposed_by,
                        approved_by: Some(approved_by.clone()),
                        seated_at: *approved_at,
                    });
                }
            }
            E::SeatAccepted {
                expert_id,
                accepted_at,
                ..
            } => {
                if let Some(seat) = self.seat_mut(expert_id) {
                    seat.state = SeatState::Accepted;
                    seat.pledged_at = Some(*accepted_at);
                }
            }
            // Confirmed again after an alternate pledged: collection resumes where it stopped
            // (opinions already given still count).
            E::PanelConfirmed { .. } => {
                self.status = if self.opinions.is_empty() {
                    S::PanelConfirmed
                } else {
                    S::CollectingOpinions
                }
            }
            E::SeatDeclined {
                expert_id, reason, ..
            } => {
                if let Some(seat) = self.seat_mut(expert_id) {
                    seat.state = SeatState::Declined;
                    seat.reason = Some(reason.clone());
                }
            }
            E::ExpertRecused {
                expert_id, reason, ..
            } => {
                if let Some(seat) = self.seat_mut(expert_id) {
                    seat.state = SeatState::Recused;
                    seat.reason = Some(reason.clone());
                }
            }
            E::AlternateSeated {
                expert_id,
                subordinate,
                ..
            } => {
                self.alternates
                    .retain(|candidate| &candidate.expert_id != expert_id);
                self.seats.push(Seat {
                    expert_id: expert_id.clone(),
                    subordinate: *subordinate,
                    state: SeatState::Invited,
                    via: SeatedVia::Alternate,
                    pledged_at: None,
                    reason: None,
                });
                // A new seat waits for its pledge: the panel is not confirmed until it answers,
                // and no opinion is taken meanwhile, also when opinions were being collected.
                if matches!(self.status, S::PanelConfirmed | S::CollectingOpinions) {
                    self.status = S::PanelDrawn;
                }
            }
            E::OpinionSubmitted {
                expert_id,
                version,
                stance,
                ..
            } => {
                self.opinions.insert(
                    expert_id.clone(),
                    LatestOpinion {
                        version: *version,
                        stance: *stance,
                    },
                );
                self.status = S::CollectingOpinions;
            }
            E::ConclusionRecorded {
                majority,
                tally,
                majority_view,
                dissenters,
                dissent,
                recommendations,
                recorded_by,
                recorded_at,
            } => {
                self.status = S::Concluded;
                self.conclusion = Some(Conclusion {
                    majority: *majority,
                    tally: *tally,
                    majority_view: majority_view.clone(),
                    dissenters: dissenters.clone(),
                    dissent: dissent.clone(),
                    recommendations: recommendations.clone(),
                    recorded_by: recorded_by.clone(),
                    recorded_at: *recorded_at,
                });
            }
            E::AdoptionReported { items, .. } => {
                self.status = S::AdoptionReported;
                self.adoption = Some(items.clone());
            }
            E::ConsultationClosed { .. } => self.status = S::Closed,
            E::ConsultationCancelled { reason, .. } => {
                self.status = S::Cancelled;
                self.closing_reason = Some(reason.clone());
            }
        }
    }

    fn seat_panel(&mut self, panel: &[Candidate], via: SeatedVia) {
        self.seats = panel
            .iter()
            .map(|candidate| Seat {
                expert_id: candidate.expert_id.clone(),
                subordinate: candidate.subordinate,
                state: SeatState::Invited,
                via,
                pledged_at: None,
                reason: None,
            })
            .collect();
    }

    fn seat_mut(&mut self, expert_id: &ExpertId) -> Option<&mut Seat> {
        self.seats
            .iter_mut()
            .find(|seat| &seat.expert_id == expert_id)
    }
}

//! What happened to a consultation request. A stored contract: fields are added with
//! `#[serde(default)]` and variants are added, never renamed or removed.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::ids::{ConsultationId, Discipline, ExpertId, UnitId, UserId};

use super::draw::{Candidate, DrawFilters, DrawSeed, PoolEntry};
use super::types::{AdoptionRecord, Confidentiality, Stance, Tally, TopicType};

/// What happened to a consultation request. A stored contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum ConsultationEvent {
    /// The request was submitted.
    ConsultationSubmitted {
        /// The request.
        consultation_id: ConsultationId,
        /// The requesting department.
        requesting_unit: UnitId,
        /// What kind of matter.
        topic_type: TopicType,
        /// Title.
        title: String,
        /// Questions.
        questions: Vec<String>,
        /// Materials reference.
        materials_ref: Option<String>,
        /// Confidentiality.
        confidentiality: Confidentiality,
        /// Disciplines.
        disciplines: BTreeSet<Discipline>,
        /// Seats.
        panel_size: u32,
        /// Opinions due by.
        deadline: NaiveDate,
        /// Units involved.
        parties: BTreeSet<UnitId>,
        /// Who.
        submitted_by: UserId,
        /// When.
        submitted_at: DateTime<Utc>,
    },
    /// Accepted by the panel secretary.
    ConsultationAccepted {
        /// Who.
        accepted_by: UserId,
        /// When.
        accepted_at: DateTime<Utc>,
    },
    /// Rejected by the panel secretary.
    ConsultationRejected {
        /// Why.
        reason: String,
        /// Who.
        rejected_by: UserId,
        /// When.
        rejected_at: DateTime<Utc>,
    },
    /// The panel was drawn. Everything needed to re-run the draw is here.
    PanelDrawn {
        /// [`draw::ALGORITHM`].
        algorithm: String,
        /// The seed.
        seed: DrawSeed,
        /// The canonical pool snapshot.
        pool: Vec<PoolEntry>,
        /// Its hash.
        pool_hash: String,
        /// The filters.
        filters: DrawFilters,
        /// Seats.
        panel_size: u32,
        /// Alternates asked for.
        alternates_requested: u32,
        /// Eligible experts in draw order.
        order: Vec<ExpertId>,
        /// The seated experts.
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
    /// A panel chosen by hand was proposed.
    SelectionProposed {
        /// The seats.
        panel: Vec<Candidate>,
        /// Alternates in order.
        alternates: Vec<Candidate>,
        /// Why not a draw.
        reason: String,
        /// The canonical pool snapshot.
        pool: Vec<PoolEntry>,
        /// Its hash.
        pool_hash: String,
        /// Who.
        proposed_by: UserId,
        /// When.
        proposed_at: DateTime<Utc>,
    },
    /// The manual selection was approved and its panel seated.
    SelectionApproved {
        /// Who.
        approved_by: UserId,
        /// When.
        approved_at: DateTime<Utc>,
    },
    /// A seated expert accepted with the pledge.
    SeatAccepted {
        /// The expert.
        expert_id: ExpertId,
        /// The pledge text's version.
        pledge_version: String,
        /// When.
        accepted_at: DateTime<Utc>,
    },
    /// Every seated expert accepted.
    PanelConfirmed {
        /// When.
        confirmed_at: DateTime<Utc>,
    },
    /// A seated expert declined.
    SeatDeclined {
        /// The expert.
        expert_id: ExpertId,
        /// Why.
        reason: String,
        /// When.
        declined_at: DateTime<Utc>,
    },
    /// A seated expert was recused for a conflict (declared by the expert or the secretary).
    ExpertRecused {
        /// The expert.
        expert_id: ExpertId,
        /// The conflict.
        reason: String,
        /// Whether the expert declared it.
        self_declared: bool,
        /// Who recorded it.
        recused_by: UserId,
        /// When.
        recused_at: DateTime<Utc>,
    },
    /// The next alternate took a vacated seat.
    AlternateSeated {
        /// The alternate.
        expert_id: ExpertId,
        /// Whose seat.
        replaces: ExpertId,
        /// Whether the alternate is from a subordinate unit.
        subordinate: bool,
        /// When.
        seated_at: DateTime<Utc>,
    },
    /// An opinion (or an amendment: a higher version) was submitted.
    OpinionSubmitted {
        /// The expert.
        expert_id: ExpertId,
        /// 1 for the first, then 2, 3… for amendments.
        version: u32,
        /// The stance.
        stance: Stance,
        /// The reasoning.
        rationale: String,
        /// Conditions.
        conditions: Option<String>,
        /// The signature.
        signature: String,
        /// SHA-256 over the signed content (see [`opinion_digest`]).
        content_sha256: String,
        /// When.
        submitted_at: DateTime<Utc>,
    },
    /// The conclusion was recorded.
    ConclusionRecorded {
        /// The majority stance.
        majority: Stance,
        /// The latest stances counted.
        tally: Tally,
        /// The majority view.
        majority_view: String,
        /// Experts whose latest stance differs from the majority.
        dissenters: Vec<ExpertId>,
        /// The dissent.
        dissent: Option<String>,
        /// Recommendations, numbered from 1 in this order.
        recommendations: Vec<String>,
        /// Who.
        recorded_by: UserId,
        /// When.
        recorded_at: DateTime<Utc>,
    },
    /// The requester reported adoption.
    AdoptionReported {
        /// One item per recommendation, by number.
        items: Vec<AdoptionRecord>,
        /// Who.
        reported_by: UserId,
        /// When.
        reported_at: DateTime<Utc>,
    },
    /// Closed.
    ConsultationClosed {
        /// Who.
        closed_by: UserId,
        /// When.
        closed_at: DateTime<Utc>,
    },
    /// Cancelled.
    ConsultationCancelled {
        /// Why.
        reason: String,
        /// Who.
        cancelled_by: UserId,
        /// When.
        cancelled_at: DateTime<Utc>,
    },
}

impl ConsultationEvent {
    /// The variant name, stored as the event type.
    pub fn name(&self) -> &'static str {
        match self {
            ConsultationEvent::ConsultationSubmitted { .. } => "ConsultationSubmitted",
            ConsultationEvent::ConsultationAccepted { .. } => "ConsultationAccepted",
            ConsultationEvent::ConsultationRejected { .. } => "ConsultationRejected",
            ConsultationEvent::PanelDrawn { .. } => "PanelDrawn",
            ConsultationEvent::SelectionProposed { .. } => "SelectionProposed",
            ConsultationEvent::SelectionApproved { .. } => "SelectionApproved",
            ConsultationEvent::SeatAccepted { .. } => "SeatAccepted",
            ConsultationEvent::PanelConfirmed { .. } => "PanelConfirmed",
            ConsultationEvent::SeatDeclined { .. } => "SeatDeclined",
            ConsultationEvent::ExpertRecused { .. } => "ExpertRecused",
            ConsultationEvent::AlternateSeated { .. } => "AlternateSeated",
            ConsultationEvent::OpinionSubmitted { .. } => "OpinionSubmitted",
            ConsultationEvent::ConclusionRecorded { .. } => "ConclusionRecorded",
            ConsultationEvent::AdoptionReported { .. } => "AdoptionReported",
            ConsultationEvent::ConsultationClosed { .. } => "ConsultationClosed",
            ConsultationEvent::ConsultationCancelled { .. } => "ConsultationCancelled",
        }
    }

    /// When the event happened.
    pub fn at(&self) -> DateTime<Utc> {
        use ConsultationEvent as E;
        match self {
            E::ConsultationSubmitted {
                submitted_at: at, ..
            }
            | E::ConsultationAccepted {
                accepted_at: at, ..
            }
            | E::ConsultationRejected {
                rejected_at: at, ..
            }
            | E::PanelDrawn { drawn_at: at, .. }
            | E::SelectionProposed {
                proposed_at: at, ..
            }
            | E::SelectionApproved {
                approved_at: at, ..
            }
            | E::SeatAccepted {
                accepted_at: at, ..
            }
            | E::PanelConfirmed { confirmed_at: at }
            | E::SeatDeclined {
                declined_at: at, ..
            }
            | E::ExpertRecused { recused_at: at, .. }
            | E::AlternateSeated { seated_at: at, .. }
            | E::OpinionSubmitted {
                submitted_at: at, ..
            }
            | E::ConclusionRecorded {
                recorded_at: at, ..
            }
            | E::AdoptionReported {
                reported_at: at, ..
            }
            | E::ConsultationClosed { closed_at: at, .. }
            | E::ConsultationCancelled {
                cancelled_at: at, ..
            } => *at,
        }
    }
}

impl DomainEvent for ConsultationEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

//! What can be asked of a consultation request: [`ConsultationCommand`] and the adoption item
//! it carries.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::ids::{ConsultationId, Discipline, ExpertId, UnitId};
use crate::subject::PersonName;
use crate::text::{LongText, Title};

use super::draw::{DrawSeed, PoolEntry};
use super::types::{AdoptionOutcome, Confidentiality, Stance, TopicType};

/// One recommendation's adoption, as the command gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdoptionItem {
    /// The recommendation's number, from 1.
    pub recommendation: u32,
    /// What was done with it.
    pub outcome: AdoptionOutcome,
    /// Why (required when not adopted).
    pub reason: Option<LongText>,
}

/// What can be asked of a consultation request.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsultationCommand {
    /// A department submits a request. The stream id must be `consultation_id`; the requesting
    /// department is the actor's `org`.
    Submit {
        /// The id the application chose.
        consultation_id: ConsultationId,
        /// What kind of matter.
        topic_type: TopicType,
        /// A title.
        title: Title,
        /// The questions put to the panel, at least one.
        questions: Vec<LongText>,
        /// Where the materials are (a document number or file reference).
        materials_ref: Option<Title>,
        /// How confidential the materials are.
        confidentiality: Confidentiality,
        /// The disciplines needed, at least one.
        disciplines: BTreeSet<Discipline>,
        /// Seats, at least 3.
        panel_size: u32,
        /// Opinions are due by this day (China time), after today.
        deadline: NaiveDate,
        /// Units involved in the matter (applicant, investor, contractor): experts conflicted
        /// with them are not drawn.
        parties: BTreeSet<UnitId>,
    },
    /// The panel secretary accepts the request.
    Accept,
    /// The panel secretary rejects it.
    Reject {
        /// Why.
        reason: LongText,
    },
    /// Draw the panel at random.
    DrawPanel {
        /// The seed the application drew with a CSPRNG.
        seed: DrawSeed,
        /// The pool as it stands (active experts).
        pool: Vec<PoolEntry>,
        /// How many alternates to name.
        alternates: u32,
    },
    /// Propose a panel chosen by hand.
    ProposeSelection {
        /// The seats, exactly the panel size.
        panel: Vec<ExpertId>,
        /// Alternates in order.
        alternates: Vec<ExpertId>,
        /// Why not a draw.
        reason: LongText,
        /// The pool as it stands.
        pool: Vec<PoolEntry>,
    },
    /// Approve the pending manual selection (someone other than the proposer).
    ApproveSelection,
    /// A seated expert accepts the seat and the confidentiality pledge.
    AcceptSeat {
        /// Must be true: the expert accepts pledge [`PLEDGE_VERSION`].
        pledge_accepted: bool,
    },
    /// A seated expert declines before accepting.
    DeclineSeat {
        /// Why.
        reason: LongText,
    },
    /// A seated expert declares a conflict of interest and steps down.
    DeclareConflict {
        /// The conflict.
        reason: LongText,
    },
    /// The panel secretary recuses a seated expert (a conflict found by others, no answer).
    Recuse {
        /// The expert.
        expert_id: ExpertId,
        /// Why.
        reason: LongText,
    },
    /// A seated expert submits (or amends) an opinion.
    SubmitOpinion {
        /// The stance.
        stance: Stance,
        /// The reasoning.
        rationale: LongText,
        /// The conditions (required for `conditional`).
        conditions: Option<LongText>,
        /// The expert's signature (their name as signed).
        signature: PersonName,
    },
    /// The panel secretary records the conclusion.
    Conclude {
        /// The majority view, summarised.
        majority_view: LongText,
        /// The dissent, summarised (required when any expert dissents).
        dissent: Option<LongText>,
        /// Recommendations to the requester, at least one.
        recommendations: Vec<LongText>,
    },
    /// The requesting department reports adoption per recommendation.
    ReportAdoption {
        /// One item per recommendation.
        items: Vec<AdoptionItem>,
    },
    /// Close the request.
    Close,
    /// Cancel the request before its conclusion.
    Cancel {
        /// Why.
        reason: LongText,
    },
}

impl ConsultationCommand {
    /// The command's kebab-case name, as used in URLs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            ConsultationCommand::Submit { .. } => "submit-consultation",
            ConsultationCommand::Accept => "accept",
            ConsultationCommand::Reject { .. } => "reject",
            ConsultationCommand::DrawPanel { .. } => "draw",
            ConsultationCommand::ProposeSelection { .. } => "propose-selection",
            ConsultationCommand::ApproveSelection => "approve-selection",
            ConsultationCommand::AcceptSeat { .. } => "accept-seat",
            ConsultationCommand::DeclineSeat { .. } => "decline-seat",
            ConsultationCommand::DeclareConflict { .. } => "declare-conflict",
            ConsultationCommand::Recuse { .. } => "recuse",
            ConsultationCommand::SubmitOpinion { .. } => "submit-opinion",
            ConsultationCommand::Conclude { .. } => "conclude",
            ConsultationCommand::ReportAdoption { .. } => "report-adoption",
            ConsultationCommand::Close => "close",
            ConsultationCommand::Cancel { .. } => "cancel",
        }
    }
}

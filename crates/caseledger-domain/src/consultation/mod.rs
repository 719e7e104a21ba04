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
//! `decide` holds every rule; `evolve` only applies a recorded event. Events are a stored
//! contract: fields are added with `#[serde(default)]` and variants are added, never renamed or
//! removed.

pub mod draw;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::actor::{Actor, Authored, Role};
use crate::case::RefusalKind;
use crate::ids::{ConsultationId, Discipline, ExpertId, UnitId, UserId};
use crate::portfolio::china_date;
use crate::subject::PersonName;
use crate::text::{LongText, Title};

pub use draw::{Candidate, DrawError, DrawFilters, DrawOutcome, DrawSeed, PoolEntry};

/// The version of the confidentiality pledge text an expert accepts (README, "Consultations").
pub const PLEDGE_VERSION: &str = "2026.1";
/// The smallest panel.
pub const MIN_PANEL_SIZE: u32 = 3;
/// The largest panel.
pub const MAX_PANEL_SIZE: u32 = 15;
/// The most alternates a draw may name.
pub const MAX_ALTERNATES: u32 = 10;

/// What the consultation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopicType {
    /// A strategic policy.
    StrategicPolicy,
    /// A key project.
    KeyProject,
    /// A science and technology plan.
    SciTechPlan,
    /// An investment project.
    InvestmentProject,
}

/// How confidential the materials are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidentiality {
    /// May be published.
    Public,
    /// For government use.
    Internal,
    /// Confidential (商业秘密, undisclosed plans).
    Confidential,
}

/// An expert's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stance {
    /// In favour.
    Support,
    /// In favour under conditions.
    Conditional,
    /// Against.
    Oppose,
}

/// What the requester did with a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdoptionOutcome {
    /// Adopted.
    Adopted,
    /// Partly adopted.
    Partly,
    /// Not adopted (a reason is required).
    NotAdopted,
}

macro_rules! wire_names {
    ($type:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $type {
            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $(<$type>::$variant => $name),* }
            }
            /// Parses a wire name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($name => Some(<$type>::$variant),)* _ => None }
            }
        }
    };
}

wire_names!(TopicType {
    StrategicPolicy => "strategic_policy",
    KeyProject => "key_project",
    SciTechPlan => "sci_tech_plan",
    InvestmentProject => "investment_project",
});
wire_names!(Confidentiality {
    Public => "public",
    Internal => "internal",
    Confidential => "confidential",
});
wire_names!(Stance {
    Support => "support",
    Conditional => "conditional",
    Oppose => "oppose",
});
wire_names!(AdoptionOutcome {
    Adopted => "adopted",
    Partly => "partly",
    NotAdopted => "not_adopted",
});

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConsultationStatus {
    /// Not submitted yet (no stream).
    #[default]
    New,
    /// Submitted, waiting for the panel secretary.
    Submitted,
    /// Accepted; the panel is to be drawn (or a manual selection is pending).
    Accepted,
    /// Rejected with a reason.
    Rejected,
    /// Panel seated; waiting for every seated expert's pledge.
    PanelDrawn,
    /// Every seated expert accepted with the pledge.
    PanelConfirmed,
    /// Opinions are coming in.
    CollectingOpinions,
    /// The conclusion is recorded.
    Concluded,
    /// The requester reported adoption.
    AdoptionReported,
    /// Closed.
    Closed,
    /// Cancelled.
    Cancelled,
}

wire_names!(ConsultationStatus {
    New => "new",
    Submitted => "submitted",
    Accepted => "accepted",
    Rejected => "rejected",
    PanelDrawn => "panel_drawn",
    PanelConfirmed => "panel_confirmed",
    CollectingOpinions => "collecting_opinions",
    Concluded => "concluded",
    AdoptionReported => "adoption_reported",
    Closed => "closed",
    Cancelled => "cancelled",
});

/// Where a seat stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatState {
    /// Seated, pledge not yet accepted.
    Invited,
    /// Accepted with the pledge.
    Accepted,
    /// Declined before accepting.
    Declined,
    /// Recused for a conflict of interest.
    Recused,
}

wire_names!(SeatState {
    Invited => "invited",
    Accepted => "accepted",
    Declined => "declined",
    Recused => "recused",
});

/// How an expert came to a seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatedVia {
    /// The random draw.
    Draw,
    /// An alternate of the draw (or of the manual selection) replacing a seat.
    Alternate,
    /// A manual selection.
    Manual,
}

wire_names!(SeatedVia {
    Draw => "draw",
    Alternate => "alternate",
    Manual => "manual",
});

/// How the panel was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionMethod {
    /// The random draw.
    Draw,
    /// By hand, with a reason and an approval.
    Manual,
}

wire_names!(SelectionMethod {
    Draw => "draw",
    Manual => "manual",
});

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

/// One recommendation's adoption, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptionRecord {
    /// The recommendation's number, from 1.
    pub recommendation: u32,
    /// What was done with it.
    pub outcome: AdoptionOutcome,
    /// Why.
    pub reason: Option<String>,
}

/// The count of latest stances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Support.
    pub support: u32,
    /// Conditional support.
    pub conditional: u32,
    /// Opposition.
    pub oppose: u32,
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

/// What happened to a consultation request. A stored contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// SHA-256 (hex) over what an expert signs: the canonical JSON of `{"conditions", "expert_id",
/// "rationale", "signature", "stance", "version"}` (keys in this order, no white space).
pub fn opinion_digest(
    expert_id: &ExpertId,
    version: u32,
    stance: Stance,
    rationale: &str,
    conditions: Option<&str>,
    signature: &str,
) -> String {
    #[derive(Serialize)]
    struct Signed<'a> {
        conditions: Option<&'a str>,
        expert_id: &'a ExpertId,
        rationale: &'a str,
        signature: &'a str,
        stance: Stance,
        version: u32,
    }
    let bytes = serde_json::to_vec(&Signed {
        conditions,
        expert_id,
        rationale,
        signature,
        stance,
        version,
    })
    .expect("an opinion always serialises");
    hex::encode(Sha256::digest(bytes))
}

/// Why a consultation command was refused. Each variant has a stable `code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsultationError {
    /// No such request, or the actor may not know it exists.
    #[error("consultation not found")]
    ConsultationNotFound,
    /// The id is taken.
    #[error("consultation already exists")]
    ConsultationAlreadyExists,
    /// The actor's role does not allow this command.
    #[error("role not allowed to {command}")]
    RoleNotAllowed {
        /// The command's name.
        command: &'static str,
    },
    /// The token names no department to submit for.
    #[error("your token names no department")]
    NoDepartment,
    /// Department staff of another department.
    #[error("only the requesting department may do this")]
    NotRequestingDepartment,
    /// The expert holds no seat on this request.
    #[error("you hold no seat on this request")]
    NotSeated,
    /// The approver proposed the selection.
    #[error("a manual selection must be approved by someone other than its proposer")]
    ApproverIsProposer,
    /// The command does not fit the request's state.
    #[error("not possible while the request is {status}")]
    InvalidStatus {
        /// The current status.
        status: &'static str,
    },
    /// Fewer than 3 (or more than 15) seats.
    #[error("a panel has 3 to 15 seats")]
    PanelSizeOutOfRange,
    /// Too many alternates.
    #[error("at most 10 alternates")]
    TooManyAlternates,
    /// No question.
    #[error("a request needs at least one question")]
    NoQuestions,
    /// No discipline.
    #[error("a request needs at least one discipline")]
    NoDiscipline,
    /// The deadline is not after today.
    #[error("the deadline must be after today")]
    DeadlineNotInFuture,
    /// The draw failed.
    #[error("{0}")]
    Draw(DrawError),
    /// The selection names a different number of seats than the panel size.
    #[error("the selection must fill exactly the panel size")]
    SelectionSizeMismatch,
    /// An expert is named twice.
    #[error("expert {0} is named twice")]
    DuplicateExpert(ExpertId),
    /// The expert is not active in the pool snapshot.
    #[error("expert {0} is not in the pool")]
    ExpertNotInPool(ExpertId),
    /// A conflicted expert may not be seated, nor submit.
    #[error("expert {0} has a conflict of interest on this request")]
    ExpertConflicted(ExpertId),
    /// More than half of the seats from units subordinate to the requester.
    #[error("experts from units subordinate to the requester may hold at most {cap} seats")]
    SubordinateCapExceeded {
        /// The cap.
        cap: u32,
    },
    /// No manual selection is waiting for approval.
    #[error("no manual selection is pending")]
    NoSelectionPending,
    /// A manual selection is waiting already.
    #[error("a manual selection is pending approval")]
    SelectionPending,
    /// The seat is not waiting for an answer.
    #[error("the seat is not waiting for your answer")]
    SeatNotOpen,
    /// The pledge was not accepted.
    #[error("accept the confidentiality pledge to take the seat")]
    PledgeRequired,
    /// The expert has not accepted the seat with the pledge.
    #[error("accept the seat and the pledge first")]
    SeatNotAccepted,
    /// Opinions wait for the whole panel to confirm.
    #[error("the panel is not confirmed yet")]
    PanelNotConfirmed,
    /// A conditional opinion without conditions.
    #[error("a conditional opinion states its conditions")]
    ConditionsRequired,
    /// Fewer opinions than the quorum.
    #[error("{opinions} of the {quorum} opinions needed for a conclusion")]
    QuorumNotReached {
        /// Counted opinions.
        opinions: u32,
        /// The quorum.
        quorum: u32,
    },
    /// The stances tie.
    #[error("the opinions are tied: no majority")]
    NoMajority,
    /// Dissent without a summary.
    #[error("some experts dissent: summarise the dissent")]
    DissentRequired,
    /// No dissent but a summary.
    #[error("no expert dissents")]
    NoDissent,
    /// A conclusion without recommendations.
    #[error("a conclusion makes at least one recommendation")]
    NoRecommendations,
    /// The report misses, repeats or invents recommendations.
    #[error("report each recommendation 1 to {count} exactly once")]
    AdoptionIncomplete {
        /// The number of recommendations.
        count: u32,
    },
    /// Not adopted without a reason.
    #[error("recommendation {0} is not adopted: give the reason")]
    AdoptionReasonRequired(u32),
    /// Close before the adoption report.
    #[error("the adoption report is missing")]
    AdoptionNotReported,
}

impl ConsultationError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        use ConsultationError as E;
        match self {
            E::ConsultationNotFound => "consultation_not_found",
            E::ConsultationAlreadyExists => "consultation_already_exists",
            E::RoleNotAllowed { .. } => "role_not_allowed",
            E::NoDepartment => "no_department",
            E::NotRequestingDepartment => "not_requesting_department",
            E::NotSeated => "not_seated",
            E::ApproverIsProposer => "approver_is_proposer",
            E::InvalidStatus { .. } => "invalid_status",
            E::PanelSizeOutOfRange => "panel_size_out_of_range",
            E::TooManyAlternates => "too_many_alternates",
            E::NoQuestions => "no_questions",
            E::NoDiscipline => "no_discipline",
            E::DeadlineNotInFuture => "deadline_not_in_future",
            E::Draw(DrawError::InsufficientPool { .. }) => "insufficient_pool",
            E::Draw(DrawError::DuplicateExpert(_)) => "duplicate_pool_entry",
            E::Draw(DrawError::BadSeed) => "bad_seed",
            E::SelectionSizeMismatch => "selection_size_mismatch",
            E::DuplicateExpert(_) => "duplicate_expert",
            E::ExpertNotInPool(_) => "expert_not_in_pool",
            E::ExpertConflicted(_) => "expert_conflicted",
            E::SubordinateCapExceeded { .. } => "subordinate_cap_exceeded",
            E::NoSelectionPending => "no_selection_pending",
            E::SelectionPending => "selection_pending",
            E::SeatNotOpen => "seat_not_open",
            E::PledgeRequired => "pledge_required",
            E::SeatNotAccepted => "seat_not_accepted",
            E::PanelNotConfirmed => "panel_not_confirmed",
            E::ConditionsRequired => "conditions_required",
            E::QuorumNotReached { .. } => "quorum_not_reached",
            E::NoMajority => "no_majority",
            E::DissentRequired => "dissent_required",
            E::NoDissent => "no_dissent",
            E::NoRecommendations => "no_recommendations",
            E::AdoptionIncomplete { .. } => "adoption_incomplete",
            E::AdoptionReasonRequired(_) => "adoption_reason_required",
            E::AdoptionNotReported => "adoption_not_reported",
        }
    }

    /// How the refusal should be understood.
    pub fn kind(&self) -> RefusalKind {
        use ConsultationError as E;
        match self {
            E::ConsultationNotFound => RefusalKind::NotFound,
            E::ConsultationAlreadyExists => RefusalKind::Conflict,
            E::RoleNotAllowed { .. }
            | E::NoDepartment
            | E::NotRequestingDepartment
            | E::NotSeated
            | E::ApproverIsProposer => RefusalKind::Forbidden,
            _ => RefusalKind::Rule,
        }
    }
}

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
        let Authored { actor, at, command } = command;
        let name = command.name();
        if let ConsultationCommand::Submit {
            consultation_id,
            topic_type,
            title,
            questions,
            materials_ref,
            confidentiality,
            disciplines,
            panel_size,
            deadline,
            parties,
        } = command
        {
            if !actor.has_any(DEPARTMENT_STAFF) {
                return Err(ConsultationError::RoleNotAllowed { command: name });
            }
            let requesting_unit = actor
                .org
                .as_deref()
                .and_then(|org| UnitId::parse(org).ok())
                .ok_or(ConsultationError::NoDepartment)?;
            if self.status != ConsultationStatus::New {
                return Err(ConsultationError::ConsultationAlreadyExists);
            }
            if !(MIN_PANEL_SIZE..=MAX_PANEL_SIZE).contains(&panel_size) {
                return Err(ConsultationError::PanelSizeOutOfRange);
            }
            if questions.is_empty() {
                return Err(ConsultationError::NoQuestions);
            }
            if disciplines.is_empty() {
                return Err(ConsultationError::NoDiscipline);
            }
            if deadline <= china_date(at) {
                return Err(ConsultationError::DeadlineNotInFuture);
            }
            return Ok(vec![ConsultationEvent::ConsultationSubmitted {
                consultation_id,
                requesting_unit,
                topic_type,
                title: title.into(),
                questions: questions.into_iter().map(Into::into).collect(),
                materials_ref: materials_ref.map(Into::into),
                confidentiality,
                disciplines,
                panel_size,
                deadline,
                parties,
                submitted_by: actor.sub,
                submitted_at: at,
            }]);
        }
        if self.status == ConsultationStatus::New {
            return Err(ConsultationError::ConsultationNotFound);
        }
        use ConsultationStatus as S;
        let mut events = match command {
            ConsultationCommand::Submit { .. } => unreachable!("handled above"),
            ConsultationCommand::Accept => {
                Self::check_secretary(&actor, name)?;
                if self.status != S::Submitted {
                    return Err(self.invalid());
                }
                vec![ConsultationEvent::ConsultationAccepted {
                    accepted_by: actor.sub,
                    accepted_at: at,
                }]
            }
            ConsultationCommand::Reject { reason } => {
                Self::check_secretary(&actor, name)?;
                if self.status != S::Submitted {
                    return Err(self.invalid());
                }
                vec![ConsultationEvent::ConsultationRejected {
                    reason: reason.into(),
                    rejected_by: actor.sub,
                    rejected_at: at,
                }]
            }
            ConsultationCommand::DrawPanel {
                seed,
                pool,
                alternates,
            } => {
                Self::check_secretary(&actor, name)?;
                if self.status != S::Accepted {
                    return Err(self.invalid());
                }
                if self.pending_selection.is_some() {
                    return Err(ConsultationError::SelectionPending);
                }
                if alternates > MAX_ALTERNATES {
                    return Err(ConsultationError::TooManyAlternates);
                }
                let pool = draw::canonical_pool(&pool).map_err(ConsultationError::Draw)?;
                let filters = self.draw_filters(&pool).ok_or_else(|| self.invalid())?;
                let outcome = draw::draw(&seed, &pool, &filters, self.panel_size, alternates)
                    .map_err(ConsultationError::Draw)?;
                vec![ConsultationEvent::PanelDrawn {
                    algorithm: draw::ALGORITHM.to_owned(),
                    seed,
                    pool,
                    pool_hash: outcome.pool_hash,
                    filters,
                    panel_size: self.panel_size,
                    alternates_requested: alternates,
                    order: outcome.order,
                    panel: outcome.panel,
                    alternates: outcome.alternates,
                    proof: outcome.proof,
                    drawn_by: actor.sub,
                    drawn_at: at,
                }]
            }
            ConsultationCommand::ProposeSelection {
                panel,
                alternates,
                reason,
                pool,
            } => {
                Self::check_secretary(&actor, name)?;
                if self.status != S::Accepted {
                    return Err(self.invalid());
                }
                if self.pending_selection.is_some() {
                    return Err(ConsultationError::SelectionPending);
                }
                if alternates.len() > MAX_ALTERNATES as usize {
                    return Err(ConsultationError::TooManyAlternates);
                }
                if panel.len() != self.panel_size as usize {
                    return Err(ConsultationError::SelectionSizeMismatch);
                }
                let pool = draw::canonical_pool(&pool).map_err(ConsultationError::Draw)?;
                let pool_hash = draw::pool_hash(&pool).map_err(ConsultationError::Draw)?;
                let requesting_unit = self.requesting_unit.clone().ok_or_else(|| self.invalid())?;
                let mut named = BTreeSet::new();
                let mut candidates = |ids: Vec<ExpertId>| {
                    ids.into_iter()
                        .map(|expert_id| {
                            if !named.insert(expert_id.clone()) {
                                return Err(ConsultationError::DuplicateExpert(expert_id));
                            }
                            let entry = pool
                                .iter()
                                .find(|entry| entry.expert_id == expert_id)
                                .ok_or_else(|| {
                                    ConsultationError::ExpertNotInPool(expert_id.clone())
                                })?;
                            // An employee of the requesting unit is recused (回避) like a
                            // conflicted expert: the draw excludes them too.
                            if entry.conflicted(&requesting_unit, &self.parties)
                                || entry.employer_unit == requesting_unit
                            {
                                return Err(ConsultationError::ExpertConflicted(expert_id));
                            }
                            Ok(Candidate {
                                subordinate: entry.subordinate_to_requester(&requesting_unit),
                                expert_id,
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                };
                let panel = candidates(panel)?;
                let alternates = candidates(alternates)?;
                let subordinates = panel.iter().filter(|c| c.subordinate).count() as u32;
                if subordinates > self.subordinate_cap() {
                    return Err(ConsultationError::SubordinateCapExceeded {
                        cap: self.subordinate_cap(),
                    });
                }
                vec![ConsultationEvent::SelectionProposed {
                    panel,
                    alternates,
                    reason: reason.into(),
                    pool,
                    pool_hash,
                    proposed_by: actor.sub,
                    proposed_at: at,
                }]
            }
            ConsultationCommand::ApproveSelection => {
                if !actor.has_any(&[Role::PanelSecretary, Role::DistrictLeader]) {
                    return Err(ConsultationError::RoleNotAllowed { command: name });
                }
                let pending = self
                    .pending_selection
                    .as_ref()
                    .ok_or(ConsultationError::NoSelectionPending)?;
                if pending.proposed_by == actor.sub {
                    return Err(ConsultationError::ApproverIsProposer);
                }
                vec![ConsultationEvent::SelectionApproved {
                    approved_by: actor.sub,
                    approved_at: at,
                }]
            }
            ConsultationCommand::AcceptSeat { pledge_accepted } => {
                let seat = self.own_seat(&actor, name)?;
                if seat.state != SeatState::Invited || self.is_concluded_or_ended() {
                    return Err(ConsultationError::SeatNotOpen);
                }
                if !pledge_accepted {
                    return Err(ConsultationError::PledgeRequired);
                }
                vec![ConsultationEvent::SeatAccepted {
                    expert_id: seat.expert_id.clone(),
                    pledge_version: PLEDGE_VERSION.to_owned(),
                    accepted_at: at,
                }]
            }
            ConsultationCommand::DeclineSeat { reason } => {
                let seat = self.own_seat(&actor, name)?;
                if seat.state != SeatState::Invited || self.is_concluded_or_ended() {
                    return Err(ConsultationError::SeatNotOpen);
                }
                let expert_id = seat.expert_id.clone();
                let mut events = vec![ConsultationEvent::SeatDeclined {
                    expert_id: expert_id.clone(),
                    reason: reason.into(),
                    declined_at: at,
                }];
                events.extend(self.next_alternate(&expert_id, at));
                events
            }
            ConsultationCommand::DeclareConflict { reason } => {
                let seat = self.own_seat(&actor, name)?;
                if !seat.is_active() || self.is_concluded_or_ended() {
                    return Err(ConsultationError::SeatNotOpen);
                }
                let expert_id = seat.expert_id.clone();
                let mut events = vec![ConsultationEvent::ExpertRecused {
                    expert_id: expert_id.clone(),
                    reason: reason.into(),
                    self_declared: true,
                    recused_by: actor.sub,
                    recused_at: at,
                }];
                events.extend(self.next_alternate(&expert_id, at));
                events
            }
            ConsultationCommand::Recuse { expert_id, reason } => {
                Self::check_secretary(&actor, name)?;
                let seat = self.seat(&expert_id).ok_or(ConsultationError::NotSeated)?;
                if !seat.is_active() || self.is_concluded_or_ended() {
                    return Err(ConsultationError::SeatNotOpen);
                }
                let mut events = vec![ConsultationEvent::ExpertRecused {
                    expert_id: expert_id.clone(),
                    reason: reason.into(),
                    self_declared: false,
                    recused_by: actor.sub,
                    recused_at: at,
                }];
                events.extend(self.next_alternate(&expert_id, at));
                events
            }
            ConsultationCommand::SubmitOpinion {
                stance,
                rationale,
                conditions,
                signature,
            } => {
                let seat = self.own_seat(&actor, name)?;
                match seat.state {
                    SeatState::Recused => {
                        return Err(ConsultationError::ExpertConflicted(seat.expert_id.clone()))
                    }
                    SeatState::Declined => return Err(ConsultationError::SeatNotOpen),
                    SeatState::Invited => return Err(ConsultationError::SeatNotAccepted),
                    SeatState::Accepted => {}
                }
                match self.status {
                    S::PanelConfirmed | S::CollectingOpinions => {}
                    S::PanelDrawn => return Err(ConsultationError::PanelNotConfirmed),
                    _ => return Err(self.invalid()),
                }
                if stance == Stance::Conditional && conditions.is_none() {
                    return Err(ConsultationError::ConditionsRequired);
                }
                let version = self
                    .opinions
                    .get(&seat.expert_id)
                    .map_or(1, |latest| latest.version + 1);
                let rationale: String = rationale.into();
                let conditions: Option<String> = conditions.map(Into::into);
                let signature: String = signature.into();
                vec![ConsultationEvent::OpinionSubmitted {
                    content_sha256: opinion_digest(
                        &seat.expert_id,
                        version,
                        stance,
                        &rationale,
                        conditions.as_deref(),
                        &signature,
                    ),
                    expert_id: seat.expert_id.clone(),
                    version,
                    stance,
                    rationale,
                    conditions,
                    signature,
                    submitted_at: at,
                }]
            }
            ConsultationCommand::Conclude {
                majority_view,
                dissent,
                recommendations,
            } => {
                Self::check_secretary(&actor, name)?;
                match self.status {
                    S::CollectingOpinions => {}
                    // Opinions were being collected when a seat changed: the new expert must
                    // pledge before anything is concluded.
                    S::PanelDrawn if !self.opinions.is_empty() => {
                        return Err(ConsultationError::PanelNotConfirmed)
                    }
                    S::PanelDrawn | S::PanelConfirmed => {
                        return Err(ConsultationError::QuorumNotReached {
                            opinions: self.counted_opinions().len() as u32,
                            quorum: quorum(self.panel_size),
                        })
                    }
                    _ => return Err(self.invalid()),
                }
                let counted = self.counted_opinions();
                let quorum = quorum(self.panel_size);
                if (counted.len() as u32) < quorum {
                    return Err(ConsultationError::QuorumNotReached {
                        opinions: counted.len() as u32,
                        quorum,
                    });
                }
                let mut tally = Tally::default();
                for (_, stance) in &counted {
                    match stance {
                        Stance::Support => tally.support += 1,
                        Stance::Conditional => tally.conditional += 1,
                        Stance::Oppose => tally.oppose += 1,
                    }
                }
                let counts = [
                    (Stance::Support, tally.support),
                    (Stance::Conditional, tally.conditional),
                    (Stance::Oppose, tally.oppose),
                ];
                let top = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
                let leaders: Vec<Stance> = counts
                    .iter()
                    .filter(|(_, n)| *n == top)
                    .map(|(stance, _)| *stance)
                    .collect();
                let [majority] = leaders[..] else {
                    return Err(ConsultationError::NoMajority);
                };
                let dissenters: Vec<ExpertId> = counted
                    .iter()
                    .filter(|(_, stance)| *stance != majority)
                    .map(|(expert_id, _)| (*expert_id).clone())
                    .collect();
                match (&dissent, dissenters.is_empty()) {
                    (None, false) => return Err(ConsultationError::DissentRequired),
                    (Some(_), true) => return Err(ConsultationError::NoDissent),
                    _ => {}
                }
                if recommendations.is_empty() {
                    return Err(ConsultationError::NoRecommendations);
                }
                vec![ConsultationEvent::ConclusionRecorded {
                    majority,
                    tally,
                    majority_view: majority_view.into(),
                    dissenters,
                    dissent: dissent.map(Into::into),
                    recommendations: recommendations.into_iter().map(Into::into).collect(),
                    recorded_by: actor.sub,
                    recorded_at: at,
                }]
            }
            ConsultationCommand::ReportAdoption { items } => {
                self.check_requester(&actor, name)?;
                if self.status != S::Concluded {
                    return Err(self.invalid());
                }
                let count = self
                    .conclusion
                    .as_ref()
                    .map_or(0, |conclusion| conclusion.recommendations.len() as u32);
                let numbers: BTreeSet<u32> = items.iter().map(|item| item.recommendation).collect();
                if items.len() != count as usize
                    || numbers.len() != items.len()
                    || numbers.iter().any(|n| !(1..=count).contains(n))
                {
                    return Err(ConsultationError::AdoptionIncomplete { count });
                }
                let mut records: Vec<AdoptionRecord> = Vec::with_capacity(items.len());
                for item in items {
                    if item.outcome == AdoptionOutcome::NotAdopted && item.reason.is_none() {
                        return Err(ConsultationError::AdoptionReasonRequired(
                            item.recommendation,
                        ));
                    }
                    records.push(AdoptionRecord {
                        recommendation: item.recommendation,
                        outcome: item.outcome,
                        reason: item.reason.map(Into::into),
                    });
                }
                records.sort_by_key(|record| record.recommendation);
                vec![ConsultationEvent::AdoptionReported {
                    items: records,
                    reported_by: actor.sub,
                    reported_at: at,
                }]
            }
            ConsultationCommand::Close => {
                if !actor.has(Role::PanelSecretary) {
                    self.check_requester(&actor, name)?;
                }
                match self.status {
                    S::AdoptionReported => {}
                    S::Concluded => return Err(ConsultationError::AdoptionNotReported),
                    _ => return Err(self.invalid()),
                }
                vec![ConsultationEvent::ConsultationClosed {
                    closed_by: actor.sub,
                    closed_at: at,
                }]
            }
            ConsultationCommand::Cancel { reason } => {
                if !actor.has(Role::PanelSecretary) {
                    self.check_requester(&actor, name)?;
                }
                if self.is_concluded_or_ended() {
                    return Err(self.invalid());
                }
                vec![ConsultationEvent::ConsultationCancelled {
                    reason: reason.into(),
                    cancelled_by: actor.sub,
                    cancelled_at: at,
                }]
            }
        };
        // The panel is confirmed by the answer that leaves no seat waiting.
        let mut after = self.clone();
        for event in &events {
            after.evolve(event);
        }
        let active: Vec<&Seat> = after.seats.iter().filter(|seat| seat.is_active()).collect();
        if after.status == S::PanelDrawn
            && active.iter().all(|seat| seat.state == SeatState::Accepted)
            && active.len() as u32 >= quorum(after.panel_size)
        {
            events.push(ConsultationEvent::PanelConfirmed { confirmed_at: at });
        }
        Ok(events)
    }

    fn is_concluded_or_ended(&self) -> bool {
        use ConsultationStatus as S;
        matches!(
            self.status,
            S::Concluded | S::AdoptionReported | S::Closed | S::Rejected | S::Cancelled
        )
    }

    /// The first unused alternate whose seating keeps the subordinate cap, replacing `vacated`.
    fn next_alternate(&self, vacated: &ExpertId, at: DateTime<Utc>) -> Option<ConsultationEvent> {
        let subordinates = self
            .seats
            .iter()
            .filter(|seat| seat.is_active() && seat.subordinate && &seat.expert_id != vacated)
            .count() as u32;
        self.alternates
            .iter()
            .find(|candidate| !candidate.subordinate || subordinates < self.subordinate_cap())
            .map(|candidate| ConsultationEvent::AlternateSeated {
                expert_id: candidate.expert_id.clone(),
                replaces: vacated.clone(),
                subordinate: candidate.subordinate,
                seated_at: at,
            })
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

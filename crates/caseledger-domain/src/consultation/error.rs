//! Why a consultation command was refused: [`ConsultationError`], its stable codes and how a
//! caller should understand each refusal.

use crate::case::RefusalKind;
use crate::ids::ExpertId;

use super::draw::DrawError;

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

//! Why a case command was refused.

/// How a refusal should be understood by a caller; the HTTP layer maps it to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The case does not exist, or the actor may not know it exists.
    NotFound,
    /// The actor's role or organisation does not allow the command.
    Forbidden,
    /// The case already exists.
    Conflict,
    /// A business rule forbids the command in the case's current state.
    Rule,
}

/// Why a case command was refused. Each variant has a stable `code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// No such case, or the actor may not see it.
    #[error("case not found")]
    CaseNotFound,
    /// A case with this id exists already.
    #[error("case already exists")]
    CaseAlreadyExists,
    /// The actor's role does not allow this command.
    #[error("role not allowed to {command}")]
    RoleNotAllowed {
        /// The command's name.
        command: &'static str,
    },
    /// An enterprise may act only on its own cases.
    #[error("an enterprise may register cases only for itself")]
    NotOwnEnterprise,
    /// Only handlers of the lead department may do this.
    #[error("only the lead department may {command} this case")]
    NotLeadDepartment {
        /// The command's name.
        command: &'static str,
    },
    /// The actor's department neither leads nor assists on the case.
    #[error("your department neither leads nor assists on this case")]
    DepartmentNotInvolved,
    /// The rater handled the case or works in the lead department.
    #[error("the rater must not be the handler or in the lead department")]
    RaterConflict,
    /// The case has been dispatched already.
    #[error("case already dispatched")]
    AlreadyDispatched,
    /// The case has not been dispatched yet.
    #[error("case not dispatched yet")]
    NotDispatched,
    /// The case has been accepted already.
    #[error("case already accepted")]
    AlreadyAccepted,
    /// The case has not been accepted yet.
    #[error("case not accepted yet")]
    NotAccepted,
    /// The case has a response already.
    #[error("case already responded")]
    AlreadyResponded,
    /// There is no response yet.
    #[error("case has no response yet")]
    NoResponseYet,
    /// There is no rating yet (closing needs one, or enough failed follow-up attempts).
    #[error("case has no rating yet (and too few failed follow-up attempts to close without one)")]
    NoRatingYet,
    /// The case has been rated; ratings are final.
    #[error("the rating is final")]
    RatingIsFinal,
    /// The case is closed.
    #[error("case is closed")]
    CaseClosed,
    /// The case was declined, withdrawn or merged; nothing more can happen to it.
    #[error("case has ended ({status})")]
    CaseEnded {
        /// The final status.
        status: &'static str,
    },
    /// An `explained` response needs a legal or policy basis.
    #[error("an explained response needs a legal or policy basis")]
    BasisRequired,
    /// The lead department is listed among the co-departments, or a co-department twice.
    #[error("co-departments must be distinct and exclude the lead department")]
    InvalidCoDepartments,
    /// The new or suggested department is the current lead department.
    #[error("the case is already with that department")]
    SameDepartment,
    /// The deadline this request is about has passed.
    #[error("an extension must be requested before the response is due")]
    ExtensionTooLate,
    /// The extension would exceed the policy's cap.
    #[error("the extension exceeds the policy's cap; at most {remaining} more may be granted")]
    ExtensionOverCap {
        /// What may still be granted, e.g. `5 working_days`.
        remaining: String,
    },
    /// An extension request is already waiting for a decision.
    #[error("an extension request is already pending")]
    ExtensionPending,
    /// There is no extension request to decide.
    #[error("no extension request is pending")]
    NoExtensionPending,
    /// A pause request is already waiting for a decision.
    #[error("a pause request is already pending")]
    PausePending,
    /// There is no pause request to decide.
    #[error("no pause request is pending")]
    NoPausePending,
    /// The clock is stopped; resume it first.
    #[error("the clock is paused; resume it first")]
    ClockPaused,
    /// The clock is running.
    #[error("the clock is not paused")]
    ClockNotPaused,
    /// The rating has been appealed already in this cycle.
    #[error("the rating has been appealed already")]
    AppealExists,
    /// There is no appeal to decide.
    #[error("no appeal is pending")]
    NoAppealPending,
    /// Only a responded or closed case can be reopened.
    #[error("only a responded or closed case can be reopened")]
    CannotReopen,
    /// The dispatcher who dispatched or closed the case may not exempt it.
    #[error("the dispatcher who decided the case may not exempt it from scoring")]
    ExemptionByDecider,
    /// The case is exempted already.
    #[error("the case is exempted from scoring already")]
    AlreadyExempted,
    /// A case cannot be merged into itself.
    #[error("a case cannot be merged into itself")]
    MergeIntoSelf,
    /// The case was registered without a public case number: a verifier would open nothing.
    #[error("the case has no public case number, so it has no verifier to re-issue")]
    NoCaseNumber,
}

impl CaseError {
    /// The stable machine-readable code, e.g. `no_response_yet`.
    pub fn code(&self) -> &'static str {
        match self {
            CaseError::CaseNotFound => "case_not_found",
            CaseError::CaseAlreadyExists => "case_already_exists",
            CaseError::RoleNotAllowed { .. } => "role_not_allowed",
            CaseError::NotOwnEnterprise => "not_own_enterprise",
            CaseError::NotLeadDepartment { .. } => "not_lead_department",
            CaseError::DepartmentNotInvolved => "department_not_involved",
            CaseError::RaterConflict => "rater_conflict",
            CaseError::AlreadyDispatched => "case_already_dispatched",
            CaseError::NotDispatched => "case_not_dispatched",
            CaseError::AlreadyAccepted => "case_already_accepted",
            CaseError::NotAccepted => "case_not_accepted",
            CaseError::AlreadyResponded => "case_already_responded",
            CaseError::NoResponseYet => "no_response_yet",
            CaseError::NoRatingYet => "no_rating_yet",
            CaseError::RatingIsFinal => "rating_is_final",
            CaseError::CaseClosed => "case_closed",
            CaseError::CaseEnded { .. } => "case_ended",
            CaseError::BasisRequired => "basis_required",
            CaseError::InvalidCoDepartments => "invalid_co_departments",
            CaseError::SameDepartment => "same_department",
            CaseError::ExtensionTooLate => "extension_too_late",
            CaseError::ExtensionOverCap { .. } => "extension_over_cap",
            CaseError::ExtensionPending => "extension_pending",
            CaseError::NoExtensionPending => "no_extension_pending",
            CaseError::PausePending => "pause_pending",
            CaseError::NoPausePending => "no_pause_pending",
            CaseError::ClockPaused => "clock_paused",
            CaseError::ClockNotPaused => "clock_not_paused",
            CaseError::AppealExists => "appeal_exists",
            CaseError::NoAppealPending => "no_appeal_pending",
            CaseError::CannotReopen => "cannot_reopen",
            CaseError::ExemptionByDecider => "exemption_by_decider",
            CaseError::AlreadyExempted => "already_exempted",
            CaseError::MergeIntoSelf => "merge_into_self",
            CaseError::NoCaseNumber => "no_case_number",
        }
    }

    /// How the refusal should be understood.
    pub fn kind(&self) -> RefusalKind {
        match self {
            CaseError::CaseNotFound => RefusalKind::NotFound,
            CaseError::CaseAlreadyExists => RefusalKind::Conflict,
            CaseError::RoleNotAllowed { .. }
            | CaseError::NotOwnEnterprise
            | CaseError::NotLeadDepartment { .. }
            | CaseError::DepartmentNotInvolved
            | CaseError::RaterConflict
            | CaseError::ExemptionByDecider => RefusalKind::Forbidden,
            _ => RefusalKind::Rule,
        }
    }
}

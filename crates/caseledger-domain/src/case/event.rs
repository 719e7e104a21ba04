//! What happened to a case. A stored contract: fields are added with `#[serde(default)]` and
//! variants are added, never renamed or removed.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::actor::Role;
use crate::ids::{CaseId, DepartmentId, SubjectId, UserId};
use crate::sla::{Limit, SlaRule};

use super::types::{
    CaseSource, ContactChannel, DeadlineKind, DeclineReason, Evidence, ExemptionReason, Resolution,
    Satisfaction, Threshold, Urgency,
};

/// What happened to a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum CaseEvent {
    /// The case was registered.
    CaseRegistered {
        /// The case id.
        case_id: CaseId,
        /// The enterprise or talent that raised it.
        enterprise_id: SubjectId,
        /// A short title.
        title: String,
        /// The problem in full.
        description: String,
        /// A category label.
        category: String,
        /// Normal or urgent.
        urgency: Urgency,
        /// Where it came from.
        source: CaseSource,
        /// Who registered it.
        registered_by: UserId,
        /// When.
        registered_at: DateTime<Utc>,
        /// The public case number.
        #[serde(default)]
        case_number: Option<String>,
        /// SHA-256 (hex) of the enterprise's verifier code.
        #[serde(default)]
        verifier_sha256: Option<String>,
    },
    /// The case was declined before dispatch.
    CaseDeclined {
        /// Why.
        reason: DeclineReason,
        /// The explanation.
        text: String,
        /// Who declined it.
        declined_by: UserId,
        /// When.
        declined_at: DateTime<Utc>,
    },
    /// The case was dispatched.
    CaseDispatched {
        /// The responsible department.
        lead_department: DepartmentId,
        /// Assisting departments.
        co_departments: Vec<DepartmentId>,
        /// A note for the departments.
        note: Option<String>,
        /// The SLA policy version the due dates come from.
        sla_policy_version: String,
        /// Acceptance due.
        accept_due: DateTime<Utc>,
        /// Response due.
        respond_due: DateTime<Utc>,
        /// Who dispatched it.
        dispatched_by: UserId,
        /// When.
        dispatched_at: DateTime<Utc>,
        /// First contact due.
        #[serde(default)]
        first_contact_due: Option<DateTime<Utc>>,
        /// Closing due.
        #[serde(default)]
        resolve_due: Option<DateTime<Utc>>,
        /// The rule of the policy the due dates come from, recorded whole so that later
        /// extensions, pauses and reopens never depend on a policy file that may have changed.
        #[serde(default)]
        sla_rule: Option<SlaRule>,
    },
    /// The lead department accepted the case.
    CaseAccepted {
        /// The department that accepted.
        department: DepartmentId,
        /// The handler who accepted.
        accepted_by: UserId,
        /// When.
        accepted_at: DateTime<Utc>,
    },
    /// The lead department gave the case back before accepting it.
    CaseReturned {
        /// The department that returned it.
        department: DepartmentId,
        /// Why.
        reason: String,
        /// The department it suggested.
        suggested_department: Option<DepartmentId>,
        /// Where the case went: the suggested department (a first return naming one), or
        /// `None` = back to the dispatcher.
        rerouted_to: Option<DepartmentId>,
        /// The new acceptance deadline when rerouted.
        accept_due: Option<DateTime<Utc>>,
        /// How many times this case has been returned, this one included.
        return_count: u32,
        /// Who returned it.
        returned_by: UserId,
        /// When.
        returned_at: DateTime<Utc>,
    },
    /// The dispatcher moved the case to another lead department.
    CaseReassigned {
        /// The previous lead department.
        from_department: DepartmentId,
        /// The new one.
        lead_department: DepartmentId,
        /// Why.
        reason: String,
        /// The new acceptance deadline.
        accept_due: DateTime<Utc>,
        /// Who reassigned it.
        reassigned_by: UserId,
        /// When.
        reassigned_at: DateTime<Utc>,
    },
    /// The lead department contacted the enterprise.
    ContactLogged {
        /// The department.
        department: DepartmentId,
        /// How.
        channel: ContactChannel,
        /// What was discussed.
        summary: String,
        /// Whether this is the first contact of the cycle.
        first: bool,
        /// Who made contact.
        contacted_by: UserId,
        /// When.
        contacted_at: DateTime<Utc>,
    },
    /// An internal note was added.
    InternalNoteAdded {
        /// The note.
        text: String,
        /// Who wrote it.
        author: UserId,
        /// The organisation the author acted for.
        author_org: Option<String>,
        /// When.
        added_at: DateTime<Utc>,
    },
    /// A public update was posted under a department's name.
    PublicUpdatePosted {
        /// The department it is shown under.
        department: DepartmentId,
        /// The update.
        text: String,
        /// Who wrote it (never shown publicly).
        posted_by: UserId,
        /// When.
        posted_at: DateTime<Utc>,
    },
    /// The lead department asked for more time.
    ExtensionRequested {
        /// The department.
        department: DepartmentId,
        /// How much.
        amount: Limit,
        /// Why.
        reason: String,
        /// Who asked.
        requested_by: UserId,
        /// When.
        requested_at: DateTime<Utc>,
    },
    /// The dispatcher decided an extension request.
    ExtensionDecided {
        /// Granted or refused.
        approved: bool,
        /// Why.
        reason: String,
        /// The new response due date, when granted.
        respond_due: Option<DateTime<Utc>>,
        /// The new closing due date, when granted.
        resolve_due: Option<DateTime<Utc>>,
        /// Who decided.
        decided_by: UserId,
        /// When.
        decided_at: DateTime<Utc>,
    },
    /// The lead department asked to stop the clock.
    PauseRequested {
        /// What it waits for.
        reason: String,
        /// Who asked.
        requested_by: UserId,
        /// When.
        requested_at: DateTime<Utc>,
    },
    /// The dispatcher decided a pause request; approval stopped the clock at `decided_at`.
    PauseDecided {
        /// Granted or refused.
        approved: bool,
        /// Why.
        reason: String,
        /// Who decided.
        decided_by: UserId,
        /// When.
        decided_at: DateTime<Utc>,
    },
    /// The clock restarted; open deadlines moved.
    ClockResumed {
        /// The moved deadlines (only those still open).
        moved: Vec<MovedDeadline>,
        /// Who resumed it.
        resumed_by: UserId,
        /// When.
        resumed_at: DateTime<Utc>,
    },
    /// The lead department responded.
    CaseResponded {
        /// The department that answered.
        department: DepartmentId,
        /// How it was resolved.
        resolution: Resolution,
        /// The answer.
        text: String,
        /// The legal or policy basis.
        basis: Option<String>,
        /// The handler who answered.
        responded_by: UserId,
        /// When.
        responded_at: DateTime<Utc>,
        /// Supporting documents.
        #[serde(default)]
        evidence: Vec<Evidence>,
    },
    /// A follow-up attempt was recorded.
    FollowUpRecorded {
        /// Whether the enterprise was reached.
        reached: bool,
        /// What happened.
        note: Option<String>,
        /// The attempt's number in this cycle.
        attempt: u32,
        /// Who recorded it.
        recorded_by: UserId,
        /// When.
        recorded_at: DateTime<Utc>,
    },
    /// The handling was rated. Ratings are final.
    CaseRated {
        /// Satisfaction grade.
        satisfaction: Satisfaction,
        /// Whether the enterprise considers the problem resolved.
        resolved: bool,
        /// An optional comment.
        comment: Option<String>,
        /// Who recorded the rating.
        rated_by: UserId,
        /// In which capacity: `enterprise` or `dispatcher` (follow-up call).
        rated_as: Role,
        /// When.
        rated_at: DateTime<Utc>,
    },
    /// The lead department appealed the rating.
    RatingAppealed {
        /// Why.
        reason: String,
        /// Who appealed.
        appealed_by: UserId,
        /// When.
        appealed_at: DateTime<Utc>,
    },
    /// The dispatcher decided the appeal. The rating is unchanged either way; an upheld appeal
    /// excludes it from scoring.
    AppealDecided {
        /// Whether upheld.
        upheld: bool,
        /// Why.
        reason: String,
        /// Who decided.
        decided_by: UserId,
        /// When.
        decided_at: DateTime<Utc>,
    },
    /// The case was reopened: a new cycle with new deadlines.
    CaseReopened {
        /// Why.
        reason: String,
        /// The new cycle's number.
        cycle: u32,
        /// Response due in the new cycle.
        respond_due: DateTime<Utc>,
        /// Closing due in the new cycle.
        resolve_due: DateTime<Utc>,
        /// Who reopened it.
        reopened_by: UserId,
        /// When.
        reopened_at: DateTime<Utc>,
    },
    /// The case was withdrawn.
    CaseWithdrawn {
        /// Why.
        reason: String,
        /// Whether it had been dispatched (then it is checked for quality: withdrawals must not
        /// hide bad handling).
        quality_check: bool,
        /// Who withdrew it.
        withdrawn_by: UserId,
        /// In which capacity.
        withdrawn_as: Role,
        /// When.
        withdrawn_at: DateTime<Utc>,
    },
    /// The case was exempted from scoring.
    ExemptionGranted {
        /// Why.
        reason: ExemptionReason,
        /// The justification.
        text: String,
        /// Who granted it.
        granted_by: UserId,
        /// When.
        granted_at: DateTime<Utc>,
    },
    /// The case was merged into another as a duplicate.
    CaseMerged {
        /// The case that continues.
        into: CaseId,
        /// Why.
        reason: String,
        /// Who merged it.
        merged_by: UserId,
        /// When.
        merged_at: DateTime<Utc>,
    },
    /// The case was closed.
    CaseClosed {
        /// Who closed it.
        closed_by: UserId,
        /// When.
        closed_at: DateTime<Utc>,
    },
    /// A share of a deadline's time passed (50% or 80%).
    DeadlineWarning {
        /// Which deadline.
        deadline: DeadlineKind,
        /// Which threshold.
        threshold: Threshold,
        /// The cycle.
        cycle: u32,
        /// The deadline's due time.
        due: DateTime<Utc>,
        /// When the warning fired.
        fired_at: DateTime<Utc>,
    },
    /// A deadline passed unmet.
    DeadlineBreached {
        /// Which deadline.
        deadline: DeadlineKind,
        /// The cycle.
        cycle: u32,
        /// The deadline's due time.
        due: DateTime<Utc>,
        /// When the breach was recorded.
        fired_at: DateTime<Utc>,
    },
    /// The case was escalated to the leaders in charge (督办) after a breach.
    CaseEscalated {
        /// The breached deadline.
        deadline: DeadlineKind,
        /// The cycle.
        cycle: u32,
        /// The leaders who liaise with the enterprise; empty means the district's dispatch office
        /// (no leader liaises with it).
        leaders: Vec<UserId>,
        /// When.
        escalated_at: DateTime<Utc>,
    },
    /// A new verifier code was issued for the public status lookup; the earlier one no longer
    /// works.
    VerifierReissued {
        /// SHA-256 (hex) of the new code.
        verifier_sha256: String,
        /// Why.
        reason: String,
        /// Who re-issued it.
        reissued_by: UserId,
        /// When.
        reissued_at: DateTime<Utc>,
    },
}

/// A deadline moved by a resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedDeadline {
    /// Which deadline.
    pub deadline: DeadlineKind,
    /// Its new due time.
    pub due: DateTime<Utc>,
}

impl CaseEvent {
    /// The variant name, stored as the event type.
    pub fn name(&self) -> &'static str {
        match self {
            CaseEvent::CaseRegistered { .. } => "CaseRegistered",
            CaseEvent::CaseDeclined { .. } => "CaseDeclined",
            CaseEvent::CaseDispatched { .. } => "CaseDispatched",
            CaseEvent::CaseAccepted { .. } => "CaseAccepted",
            CaseEvent::CaseReturned { .. } => "CaseReturned",
            CaseEvent::CaseReassigned { .. } => "CaseReassigned",
            CaseEvent::ContactLogged { .. } => "ContactLogged",
            CaseEvent::InternalNoteAdded { .. } => "InternalNoteAdded",
            CaseEvent::PublicUpdatePosted { .. } => "PublicUpdatePosted",
            CaseEvent::ExtensionRequested { .. } => "ExtensionRequested",
            CaseEvent::ExtensionDecided { .. } => "ExtensionDecided",
            CaseEvent::PauseRequested { .. } => "PauseRequested",
            CaseEvent::PauseDecided { .. } => "PauseDecided",
            CaseEvent::ClockResumed { .. } => "ClockResumed",
            CaseEvent::CaseResponded { .. } => "CaseResponded",
            CaseEvent::FollowUpRecorded { .. } => "FollowUpRecorded",
            CaseEvent::CaseRated { .. } => "CaseRated",
            CaseEvent::RatingAppealed { .. } => "RatingAppealed",
            CaseEvent::AppealDecided { .. } => "AppealDecided",
            CaseEvent::CaseReopened { .. } => "CaseReopened",
            CaseEvent::CaseWithdrawn { .. } => "CaseWithdrawn",
            CaseEvent::ExemptionGranted { .. } => "ExemptionGranted",
            CaseEvent::CaseMerged { .. } => "CaseMerged",
            CaseEvent::CaseClosed { .. } => "CaseClosed",
            CaseEvent::DeadlineWarning { .. } => "DeadlineWarning",
            CaseEvent::DeadlineBreached { .. } => "DeadlineBreached",
            CaseEvent::CaseEscalated { .. } => "CaseEscalated",
            CaseEvent::VerifierReissued { .. } => "VerifierReissued",
        }
    }
}

impl CaseEvent {
    /// When it happened (the command's time).
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            CaseEvent::CaseRegistered {
                registered_at: at, ..
            }
            | CaseEvent::CaseDeclined {
                declined_at: at, ..
            }
            | CaseEvent::CaseDispatched {
                dispatched_at: at, ..
            }
            | CaseEvent::CaseAccepted {
                accepted_at: at, ..
            }
            | CaseEvent::CaseReturned {
                returned_at: at, ..
            }
            | CaseEvent::CaseReassigned {
                reassigned_at: at, ..
            }
            | CaseEvent::ContactLogged {
                contacted_at: at, ..
            }
            | CaseEvent::InternalNoteAdded { added_at: at, .. }
            | CaseEvent::PublicUpdatePosted { posted_at: at, .. }
            | CaseEvent::ExtensionRequested {
                requested_at: at, ..
            }
            | CaseEvent::ExtensionDecided { decided_at: at, .. }
            | CaseEvent::PauseRequested {
                requested_at: at, ..
            }
            | CaseEvent::PauseDecided { decided_at: at, .. }
            | CaseEvent::ClockResumed { resumed_at: at, .. }
            | CaseEvent::CaseResponded {
                responded_at: at, ..
            }
            | CaseEvent::FollowUpRecorded {
                recorded_at: at, ..
            }
            | CaseEvent::CaseRated { rated_at: at, .. }
            | CaseEvent::RatingAppealed {
                appealed_at: at, ..
            }
            | CaseEvent::AppealDecided { decided_at: at, .. }
            | CaseEvent::CaseReopened {
                reopened_at: at, ..
            }
            | CaseEvent::CaseWithdrawn {
                withdrawn_at: at, ..
            }
            | CaseEvent::ExemptionGranted { granted_at: at, .. }
            | CaseEvent::CaseMerged { merged_at: at, .. }
            | CaseEvent::CaseClosed { closed_at: at, .. }
            | CaseEvent::DeadlineWarning { fired_at: at, .. }
            | CaseEvent::DeadlineBreached { fired_at: at, .. }
            | CaseEvent::CaseEscalated {
                escalated_at: at, ..
            }
            | CaseEvent::VerifierReissued {
                reissued_at: at, ..
            } => *at,
        }
    }
}

impl DomainEvent for CaseEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

//! What can be asked of a case.

use std::sync::Arc;

use crate::calendar::WorkCalendar;
use crate::ids::{CaseId, DepartmentId, SubjectId, UserId};
use crate::sla::SlaPolicy;
use crate::text::{Label, LongText, Title};

use super::types::{
    CaseSource, ContactChannel, DeclineReason, Evidence, ExemptionReason, Resolution, Satisfaction,
    Timer, Urgency,
};

/// The time rules a command needs: the SLA policy in force now and the working-day calendar.
/// Commands that set or move deadlines carry it, so the decision stays a pure function.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaContext {
    /// The policy in force when the command is issued.
    pub policy: Arc<SlaPolicy>,
    /// The working-day calendar.
    pub calendar: Arc<WorkCalendar>,
}

/// What can be asked of a case.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseCommand {
    /// Register a new problem (受理).
    Register {
        /// The id the application chose for the new case.
        case_id: CaseId,
        /// The enterprise or talent that raised it.
        enterprise_id: SubjectId,
        /// A short title.
        title: Title,
        /// The problem in full.
        description: LongText,
        /// A category label, e.g. `financing`.
        category: Label,
        /// Normal or urgent.
        urgency: Urgency,
        /// Where it came from.
        source: CaseSource,
        /// The public case number the application allocated (for the status lookup).
        case_number: Option<String>,
        /// SHA-256 (hex) of the verifier code handed to the enterprise; the code itself is never
        /// stored.
        verifier_sha256: Option<String>,
    },
    /// Decline before dispatch (不予受理), with a reason code.
    Decline {
        /// Why.
        reason: DeclineReason,
        /// The explanation given to the enterprise.
        text: LongText,
    },
    /// Dispatch to exactly one lead department and optional co-departments (交办).
    Dispatch {
        /// The department responsible for the answer.
        lead_department: DepartmentId,
        /// Departments that assist.
        co_departments: Vec<DepartmentId>,
        /// A note for the departments.
        note: Option<LongText>,
        /// The policy and calendar in force now; the case records the rule and due dates.
        sla: SlaContext,
    },
    /// The lead department takes the case on (签收).
    Accept,
    /// The lead department gives the case back before accepting it (退单).
    Return {
        /// Why.
        reason: LongText,
        /// The department the returning department considers competent. A first return naming
        /// one moves the case straight there; otherwise the case goes back to the dispatcher.
        suggested_department: Option<DepartmentId>,
        /// Time rules, for the new department's acceptance deadline.
        sla: SlaContext,
    },
    /// The dispatcher moves the case to another lead department (改派).
    Reassign {
        /// The new lead department.
        lead_department: DepartmentId,
        /// Why.
        reason: LongText,
        /// Time rules, for the new department's acceptance deadline.
        sla: SlaContext,
    },
    /// The lead department records a contact with the enterprise; the first sets the
    /// first-contact time.
    LogContact {
        /// How.
        channel: ContactChannel,
        /// What was discussed.
        summary: LongText,
    },
    /// Add an internal note, never shown to the enterprise or the public.
    AddNote {
        /// The note.
        text: LongText,
    },
    /// Post an update the enterprise and the public lookup see, under the department's name.
    PostPublicUpdate {
        /// The update.
        text: LongText,
    },
    /// The lead department asks for more time (only before the response is due).
    RequestExtension {
        /// How much, in the unit of the policy's extension cap.
        amount: u32,
        /// Why.
        reason: LongText,
    },
    /// The dispatcher decides the pending extension request.
    DecideExtension {
        /// Granted or refused.
        approve: bool,
        /// Why.
        reason: LongText,
        /// Time rules, to move the deadlines.
        sla: SlaContext,
    },
    /// The lead department asks to stop the clock while it waits for the enterprise.
    RequestPause {
        /// What the department waits for.
        reason: LongText,
    },
    /// The dispatcher decides the pending pause request; approval stops the clock now.
    DecidePause {
        /// Granted or refused.
        approve: bool,
        /// Why.
        reason: LongText,
    },
    /// Restart the clock; open deadlines move by the clock time that passed while paused.
    Resume {
        /// Time rules, to move the deadlines.
        sla: SlaContext,
    },
    /// The lead department answers (答复).
    Respond {
        /// How it was resolved.
        resolution: Resolution,
        /// The answer.
        text: LongText,
        /// The legal or policy basis; required when the resolution is `explained`.
        basis: Option<LongText>,
        /// Supporting documents.
        evidence: Vec<Evidence>,
    },
    /// The dispatcher records a follow-up attempt (回访).
    RecordFollowUp {
        /// Whether the enterprise was reached.
        reached: bool,
        /// What happened.
        note: Option<LongText>,
    },
    /// The enterprise, or a dispatcher recording a follow-up call, rates the handling (评价).
    Rate {
        /// Satisfaction grade.
        satisfaction: Satisfaction,
        /// Whether the enterprise considers the problem resolved.
        resolved: bool,
        /// An optional comment.
        comment: Option<LongText>,
    },
    /// The lead department's head appeals the rating (申诉). The rating itself never changes.
    AppealRating {
        /// Why the rating should not count.
        reason: LongText,
    },
    /// The dispatcher decides the pending appeal.
    DecideAppeal {
        /// Whether the appeal is upheld (the rating is then excluded from scoring).
        upheld: bool,
        /// Why.
        reason: LongText,
    },
    /// Reopen after a response or a close: a new cycle with new deadlines.
    Reopen {
        /// Why.
        reason: LongText,
        /// Time rules, for the new cycle's deadlines.
        sla: SlaContext,
    },
    /// Withdraw the case (撤单). After dispatch it is flagged for a quality check.
    Withdraw {
        /// Why.
        reason: LongText,
    },
    /// Exempt the case from scoring (核减), never by the dispatcher who decided it.
    GrantExemption {
        /// Why.
        reason: ExemptionReason,
        /// The justification.
        text: LongText,
    },
    /// Merge this case into another as a duplicate.
    Merge {
        /// The case that continues.
        into: CaseId,
        /// Why.
        reason: LongText,
    },
    /// Issue a new verifier code for the public status lookup (the enterprise lost its own);
    /// the earlier code stops working.
    ReissueVerifier {
        /// SHA-256 (hex) of the new code, drawn by the application; the code is never stored.
        verifier_sha256: String,
        /// Why (e.g. how the caller was recognised as the enterprise).
        reason: LongText,
    },
    /// Close the case (办结).
    Close,
    /// Fire a deadline timer. Issued only by the timer runner, never over HTTP.
    FireTimer {
        /// Which timer.
        timer: Timer,
        /// The leaders an escalation goes to (from the liaison portfolios).
        leaders: Vec<UserId>,
    },
}

impl CaseCommand {
    /// The command's kebab-case name, as used in URLs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            CaseCommand::Register { .. } => "register",
            CaseCommand::Decline { .. } => "decline",
            CaseCommand::Dispatch { .. } => "dispatch",
            CaseCommand::Accept => "accept",
            CaseCommand::Return { .. } => "return",
            CaseCommand::Reassign { .. } => "reassign",
            CaseCommand::LogContact { .. } => "log-contact",
            CaseCommand::AddNote { .. } => "add-note",
            CaseCommand::PostPublicUpdate { .. } => "post-update",
            CaseCommand::RequestExtension { .. } => "request-extension",
            CaseCommand::DecideExtension { .. } => "decide-extension",
            CaseCommand::RequestPause { .. } => "request-pause",
            CaseCommand::DecidePause { .. } => "decide-pause",
            CaseCommand::Resume { .. } => "resume",
            CaseCommand::Respond { .. } => "respond",
            CaseCommand::RecordFollowUp { .. } => "follow-up",
            CaseCommand::Rate { .. } => "rate",
            CaseCommand::AppealRating { .. } => "appeal",
            CaseCommand::DecideAppeal { .. } => "decide-appeal",
            CaseCommand::Reopen { .. } => "reopen",
            CaseCommand::Withdraw { .. } => "withdraw",
            CaseCommand::GrantExemption { .. } => "grant-exemption",
            CaseCommand::Merge { .. } => "merge",
            CaseCommand::ReissueVerifier { .. } => "reissue-verifier",
            CaseCommand::Close => "close",
            CaseCommand::FireTimer { .. } => "fire-timer",
        }
    }
}

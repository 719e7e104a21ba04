//! The `EnterpriseCase` stream (企业/人才诉求): a problem raised by an enterprise or talent, from
//! registration (受理) through dispatch (交办), acceptance (签收), contact, response (答复),
//! follow-up (回访) and rating (评价) to closing, with every way to game a score (returns,
//! withdrawals, exemptions, appeals) an explicit, reasoned event.
//!
//! `decide` holds every rule and returns the events to record; `evolve` only evolves state and
//! never fails. The `cqrs-es` `Aggregate::handle` just writes what `decide` returned.
//!
//! Deadlines are derived from events and the calendar only: dispatch records the SLA rule and
//! the due dates; extensions, pauses, reassignments and reopens record the moved dates.
//! [`EnterpriseCase::pending_timers`] says which warnings, breaches and escalations are still to
//! fire; a timer fires by the [`CaseCommand::FireTimer`] command, which records its event at most
//! once per deadline, threshold and cycle.

mod command;
mod error;
mod event;
mod types;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

pub use command::{CaseCommand, SlaContext};
pub use error::{CaseError, RefusalKind};
pub use event::{CaseEvent, MovedDeadline};
pub use types::{
    CaseSource, CaseStatus, ContactChannel, DeadlineKind, DeclineReason, Evidence, ExemptionReason,
    Resolution, Satisfaction, Threshold, Timer, Urgency,
};

use crate::actor::{Actor, Authored, Role};
use crate::ids::{CaseId, DepartmentId, SubjectId, UserId};
use crate::sla::{Limit, LimitUnit, SlaRule};
pub use types::Deadline;

/// Follow-up attempts that failed to reach the enterprise after which a case may close unrated.
pub const FOLLOW_UP_ATTEMPTS_BEFORE_CLOSE: u32 = 3;

/// The lead department's handling so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Handling {
    /// The responsible department.
    pub lead_department: Option<DepartmentId>,
    /// Assisting departments.
    pub co_departments: Vec<DepartmentId>,
    /// Who dispatched (or last re-dispatched) the case.
    pub dispatched_by: Option<UserId>,
    /// Who accepted in the current cycle.
    pub accepted_by: Option<UserId>,
    /// Who responded in the current cycle.
    pub responded_by: Option<UserId>,
    /// Everyone who ever accepted or responded: never a rater.
    pub handlers: BTreeSet<UserId>,
    /// The resolution given in the current cycle.
    pub resolution: Option<Resolution>,
    /// How many times the case was returned.
    pub returns: u32,
}

/// The case's clock: the SLA rule it runs under, the current cycle's deadlines and which
/// timers already fired.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Clock {
    /// The handling cycle: 1 from dispatch, one more per reopen (0 before dispatch).
    pub cycle: u32,
    /// The SLA rule recorded at dispatch (absent on cases dispatched before rules were recorded).
    pub rule: Option<SlaRule>,
    /// The current cycle's deadlines.
    pub deadlines: BTreeMap<DeadlineKind, Deadline>,
    /// Deadlines met in the current cycle.
    pub met: BTreeSet<DeadlineKind>,
    /// Timers fired in the current cycle.
    pub fired: BTreeSet<(DeadlineKind, Threshold)>,
    /// When the clock was stopped, while paused.
    pub paused_at: Option<DateTime<Utc>>,
    /// Total extension granted, in the unit of the rule's extension cap.
    pub extended: u32,
}

/// Requests waiting for a dispatcher's decision, and the appeal state of the current rating.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// An extension request's amount.
    pub extension: Option<Limit>,
    /// A pause request.
    pub pause: bool,
    /// An appeal against the current cycle's rating waits for a decision.
    pub appeal: bool,
    /// The current cycle's rating has been appealed (pending or decided).
    pub appealed: bool,
}

/// The state of one case, rebuilt from its events. `status` is `None` before registration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnterpriseCase {
    /// Where the case stands; `None` until registered.
    pub status: Option<CaseStatus>,
    /// The case's own id.
    pub case_id: Option<CaseId>,
    /// The enterprise or talent that raised it.
    pub enterprise_id: Option<SubjectId>,
    /// The category label.
    pub category: Option<String>,
    /// Normal or urgent.
    pub urgency: Option<Urgency>,
    /// The lead department's handling.
    pub handling: Handling,
    /// Deadlines and timers.
    pub clock: Clock,
    /// Requests and appeals waiting for a decision.
    pub pending: Pending,
    /// Whether the current cycle has been rated.
    pub rated: bool,
    /// Failed follow-up attempts in the current cycle.
    pub follow_up_failures: u32,
    /// Follow-up attempts in the current cycle.
    pub follow_up_attempts: u32,
    /// Who closed the case last.
    pub closed_by: Option<UserId>,
    /// Whether the case is exempted from scoring.
    pub exempted: bool,
    /// The public case number, if the case was registered with one.
    #[serde(default)]
    pub case_number: Option<String>,
}

const REGISTRARS: &[Role] = &[Role::LiaisonOfficer, Role::DistrictLeader, Role::Dispatcher];
const HANDLERS: &[Role] = &[Role::DepartmentHandler, Role::DepartmentHead];
const DISTRICT_STAFF: &[Role] = &[Role::Dispatcher, Role::DistrictLeader, Role::LiaisonOfficer];

impl EnterpriseCase {
    /// Decides which events `command` records, or why it is refused. Pure: the same state and
    /// command always give the same answer.
    pub fn decide(&self, command: Authored<CaseCommand>) -> Result<Vec<CaseEvent>, CaseError> {
        let Authored { actor, at, command } = command;
        let name = command.name();
        if let CaseCommand::Register { .. } = command {
            if self.status.is_some() {
                return Err(CaseError::CaseAlreadyExists);
            }
        } else {
            self.check_visible_to(&actor)?;
        }
        if let CaseCommand::FireTimer { timer, leaders } = command {
            return Ok(self.fire_timer(timer, leaders, at));
        }
        if actor.has(Role::Enterprise)
            && !matches!(
                command,
                CaseCommand::Register { .. }
                    | CaseCommand::Rate { .. }
                    | CaseCommand::Withdraw { .. }
            )
        {
            return Err(CaseError::RoleNotAllowed { command: name });
        }
        // The public lookup stays useful after the end: a lost verifier may be re-issued then.
        let reissue = matches!(command, CaseCommand::ReissueVerifier { .. });
        match self.status {
            Some(status @ (CaseStatus::Declined | CaseStatus::Withdrawn | CaseStatus::Merged))
                if !reissue =>
            {
                return Err(CaseError::CaseEnded {
                    status: status.as_str(),
                })
            }
            Some(CaseStatus::Closed)
                if !reissue
                    && !matches!(
                        command,
                        CaseCommand::Reopen { .. }
                            | CaseCommand::AppealRating { .. }
                            | CaseCommand::DecideAppeal { .. }
                            | CaseCommand::GrantExemption { .. }
                    ) =>
            {
                return Err(CaseError::CaseClosed)
            }
            _ => {}
        }
        match command {
            CaseCommand::Register {
                case_id,
                enterprise_id,
                title,
                description,
                category,
                urgency,
                source,
                case_number,
                verifier_sha256,
            } => {
                if actor.has(Role::Enterprise) {
                    if !actor.acts_for(enterprise_id.as_str()) {
                        return Err(CaseError::NotOwnEnterprise);
                    }
                } else if !actor.has_any(REGISTRARS) {
                    return Err(CaseError::RoleNotAllowed { command: name });
                }
                Ok(vec![CaseEvent::CaseRegistered {
                    case_id,
                    enterprise_id,
                    title: title.into(),
                    description: description.into(),
                    category: category.into(),
                    urgency,
                    source,
                    registered_by: actor.sub,
                    registered_at: at,
                    case_number,
                    verifier_sha256,
                }])
            }
            CaseCommand::Decline { reason, text } => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                if self.status != Some(CaseStatus::Registered) {
                    return Err(CaseError::AlreadyDispatched);
                }
                Ok(vec![CaseEvent::CaseDeclined {
                    reason,
                    text: text.into(),
                    declined_by: actor.sub,
                    declined_at: at,
                }])
            }
            CaseCommand::Dispatch {
                lead_department,
                co_departments,
                note,
                sla,
            } => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                if self.status != Some(CaseStatus::Registered) {
                    return Err(CaseError::AlreadyDispatched);
                }
                let mut seen = vec![&lead_department];
                for department in &co_departments {
                    if seen.contains(&department) {
                        return Err(CaseError::InvalidCoDepartments);
                    }
                    seen.push(department);
                }
                // A case back from a return keeps the rule and the response deadlines it first
                // got: returning must not reset the clock. Only acceptance restarts.
                let rule = match &self.clock.rule {
                    Some(rule) if self.clock.cycle > 0 => rule.clone(),
                    _ => sla
                        .policy
                        .rule(
                            self.category.as_deref().unwrap_or_default(),
                            self.urgency.unwrap_or(Urgency::Normal),
                        )
                        .clone(),
                };
                let fresh = rule.deadlines(at, &sla.calendar);
                let kept = |kind| self.clock.deadlines.get(&kind).map(|d: &Deadline| d.due);
                let (first_contact_due, respond_due, resolve_due) = if self.clock.cycle > 0 {
                    (
                        kept(DeadlineKind::FirstContact).unwrap_or(fresh.first_contact_due),
                        kept(DeadlineKind::Respond).unwrap_or(fresh.respond_due),
                        kept(DeadlineKind::Resolve).unwrap_or(fresh.resolve_due),
                    )
                } else {
                    (
                        fresh.first_contact_due,
                        fresh.respond_due,
                        fresh.resolve_due,
                    )
                };
                Ok(vec![CaseEvent::CaseDispatched {
                    lead_department,
                    co_departments,
                    note: note.map(Into::into),
                    sla_policy_version: sla.policy.version.clone(),
                    accept_due: fresh.accept_due,
                    respond_due,
                    dispatched_by: actor.sub,
                    dispatched_at: at,
                    first_contact_due: Some(first_contact_due),
                    resolve_due: Some(resolve_due),
                    sla_rule: Some(rule),
                }])
            }
            CaseCommand::Accept => {
                let department = self.require_lead_handler(&actor, name)?;
                match self.status {
                    Some(CaseStatus::Registered) => Err(CaseError::NotDispatched),
                    Some(CaseStatus::Dispatched) => Ok(vec![CaseEvent::CaseAccepted {
                        department,
                        accepted_by: actor.sub,
                        accepted_at: at,
                    }]),
                    _ => Err(CaseError::AlreadyAccepted),
                }
            }
            CaseCommand::Return {
                reason,
                suggested_department,
                sla,
            } => {
                let department = self.require_lead_handler(&actor, name)?;
                match self.status {
                    Some(CaseStatus::Registered) => return Err(CaseError::NotDispatched),
                    Some(CaseStatus::Dispatched) => {}
                    _ => return Err(CaseError::AlreadyAccepted),
                }
                if suggested_department.as_ref() == Some(&department) {
                    return Err(CaseError::SameDepartment);
                }
                let return_count = self.handling.returns + 1;
                // A first return that names the competent department goes straight there; a
                // second return, or one naming none, goes to the dispatcher.
                let rerouted_to = suggested_department.clone().filter(|_| return_count == 1);
                let accept_due = rerouted_to.as_ref().map(|_| self.restart_accept(at, &sla));
                Ok(vec![CaseEvent::CaseReturned {
                    department,
                    reason: reason.into(),
                    suggested_department,
                    rerouted_to,
                    accept_due,
                    return_count,
                    returned_by: actor.sub,
                    returned_at: at,
                }])
            }
            CaseCommand::Reassign {
                lead_department,
                reason,
                sla,
            } => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                let from_department = match self.status {
                    Some(CaseStatus::Registered) => return Err(CaseError::NotDispatched),
                    Some(CaseStatus::Dispatched | CaseStatus::Accepted) => self
                        .handling
                        .lead_department
                        .clone()
                        .ok_or(CaseError::NotDispatched)?,
                    Some(CaseStatus::Paused) => return Err(CaseError::ClockPaused),
                    _ => return Err(CaseError::AlreadyResponded),
                };
                if from_department == lead_department {
                    return Err(CaseError::SameDepartment);
                }
                Ok(vec![CaseEvent::CaseReassigned {
                    from_department,
                    lead_department,
                    reason: reason.into(),
                    accept_due: self.restart_accept(at, &sla),
                    reassigned_by: actor.sub,
                    reassigned_at: at,
                }])
            }
            CaseCommand::LogContact { channel, summary } => {
                let department = self.require_lead_handler(&actor, name)?;
                match self.status {
                    Some(CaseStatus::Registered) => return Err(CaseError::NotDispatched),
                    Some(CaseStatus::Dispatched) => return Err(CaseError::NotAccepted),
                    _ => {}
                }
                Ok(vec![CaseEvent::ContactLogged {
                    department,
                    channel,
                    summary: summary.into(),
                    first: !self.clock.met.contains(&DeadlineKind::FirstContact),
                    contacted_by: actor.sub,
                    contacted_at: at,
                }])
            }
            CaseCommand::AddNote { text } => {
                // District staff may note any case; department staff only cases their
                // department leads or assists.
                if !actor.has_any(DISTRICT_STAFF) {
                    require_role(&actor, HANDLERS, name)?;
                    if !self.involves(&actor) {
                        return Err(CaseError::DepartmentNotInvolved);
                    }
                }
                Ok(vec![CaseEvent::InternalNoteAdded {
                    text: text.into(),
                    author: actor.sub,
                    author_org: actor.org,
                    added_at: at,
                }])
            }
            CaseCommand::PostPublicUpdate { text } => {
                require_role(&actor, HANDLERS, name)?;
                if self.status == Some(CaseStatus::Registered) {
                    return Err(CaseError::NotDispatched);
                }
                let department = self
                    .involved_department(&actor)
                    .ok_or(CaseError::DepartmentNotInvolved)?;
                Ok(vec![CaseEvent::PublicUpdatePosted {
                    department,
                    text: text.into(),
                    posted_by: actor.sub,
                    posted_at: at,
                }])
            }
            CaseCommand::RequestExtension { amount, reason } => {
                let department = self.require_lead_handler(&actor, name)?;
                self.require_handling()?;
                if self.pending.extension.is_some() {
                    return Err(CaseError::ExtensionPending);
                }
                let respond_due = self
                    .clock
                    .deadlines
                    .get(&DeadlineKind::Respond)
                    .map(|deadline| deadline.due);
                if respond_due.is_none_or(|due| at >= due) {
                    return Err(CaseError::ExtensionTooLate);
                }
                let cap = self
                    .clock
                    .rule
                    .as_ref()
                    .map(|rule| rule.extension_cap)
                    .unwrap_or(Limit {
                        amount: 0,
                        unit: LimitUnit::WorkingDays,
                    });
                let remaining = cap.amount.saturating_sub(self.clock.extended);
                if amount == 0 || amount > remaining {
                    return Err(CaseError::ExtensionOverCap {
                        remaining: format!("{remaining} {}", unit_name(cap.unit)),
                    });
                }
                Ok(vec![CaseEvent::ExtensionRequested {
                    department,
                    amount: Limit {
                        amount,
                        unit: cap.unit,
                    },
                    reason: reason.into(),
                    requested_by: actor.sub,
                    requested_at: at,
                }])
            }
            CaseCommand::DecideExtension {
                approve,
                reason,
                sla,
            } => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                let Some(amount) = self.pending.extension else {
                    return Err(CaseError::NoExtensionPending);
                };
                let moved = |kind| {
                    approve
                        .then(|| self.open_deadline(kind))
                        .flatten()
                        .map(|deadline| sla.calendar.add(deadline.due, amount))
                };
                Ok(vec![CaseEvent::ExtensionDecided {
                    approved: approve,
                    reason: reason.into(),
                    respond_due: moved(DeadlineKind::Respond),
                    resolve_due: moved(DeadlineKind::Resolve),
                    decided_by: actor.sub,
                    decided_at: at,
                }])
            }
            CaseCommand::RequestPause { reason } => {
                self.require_lead_handler(&actor, name)?;
                self.require_handling()?;
                if self.pending.pause {
                    return Err(CaseError::PausePending);
                }
                Ok(vec![CaseEvent::PauseRequested {
                    reason: reason.into(),
                    requested_by: actor.sub,
                    requested_at: at,
                }])
            }
            CaseCommand::DecidePause { approve, reason } => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                if !self.pending.pause {
                    return Err(CaseError::NoPausePending);
                }
                if approve {
                    self.require_handling()?;
                }
                Ok(vec![CaseEvent::PauseDecided {
                    approved: approve,
                    reason: reason.into(),
                    decided_by: actor.sub,
                    decided_at: at,
                }])
            }
            CaseCommand::Resume { sla } => {
                if !actor.has(Role::Dispatcher) {
                    self.require_lead_handler(&actor, name)?;
                }
                let (Some(CaseStatus::Paused), Some(paused_at)) =
                    (self.status, self.clock.paused_at)
                else {
                    return Err(CaseError::ClockNotPaused);
                };
                let moved = DeadlineKind::ALL
                    .into_iter()
                    .filter_map(|kind| {
                        let deadline = self.open_deadline(kind)?;
                        Some(MovedDeadline {
                            deadline: kind,
                            due: sla.calendar.shift(
                                deadline.due,
                                paused_at,
                                at,
                                self.unit_of(kind),
                            ),
                        })
                    })
                    .collect();
                Ok(vec![CaseEvent::ClockResumed {
                    moved,
                    resumed_by: actor.sub,
                    resumed_at: at,
                }])
            }
            CaseCommand::Respond {
                resolution,
                text,
                basis,
                evidence,
            } => {
                let department = self.require_lead_handler(&actor, name)?;
                self.require_handling()?;
                if resolution == Resolution::Explained && basis.is_none() {
                    return Err(CaseError::BasisRequired);
                }
                Ok(vec![CaseEvent::CaseResponded {
                    department,
                    resolution,
                    text: text.into(),
                    basis: basis.map(Into::into),
                    responded_by: actor.sub,
                    responded_at: at,
                    evidence,
                }])
            }
            CaseCommand::RecordFollowUp { reached, note } => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                if self.status != Some(CaseStatus::Responded) {
                    return Err(CaseError::NoResponseYet);
                }
                if self.rated {
                    return Err(CaseError::RatingIsFinal);
                }
                Ok(vec![CaseEvent::FollowUpRecorded {
                    reached,
                    note: note.map(Into::into),
                    attempt: self.follow_up_attempts + 1,
                    recorded_by: actor.sub,
                    recorded_at: at,
                }])
            }
            CaseCommand::Rate {
                satisfaction,
                resolved,
                comment,
            } => {
                let rated_as = if actor.has(Role::Enterprise) {
                    Role::Enterprise
                } else {
                    require_role(&actor, &[Role::Dispatcher], name)?;
                    Role::Dispatcher
                };
                if self.rated {
                    return Err(CaseError::RatingIsFinal);
                }
                if self.status != Some(CaseStatus::Responded) {
                    return Err(CaseError::NoResponseYet);
                }
                let handled_it = self.handling.handlers.contains(&actor.sub);
                let in_lead_department = self
                    .handling
                    .lead_department
                    .as_ref()
                    .is_some_and(|lead| actor.acts_for(lead.as_str()));
                if handled_it || in_lead_department {
                    return Err(CaseError::RaterConflict);
                }
                Ok(vec![CaseEvent::CaseRated {
                    satisfaction,
                    resolved,
                    comment: comment.map(Into::into),
                    rated_by: actor.sub,
                    rated_as,
                    rated_at: at,
                }])
            }
            CaseCommand::AppealRating { reason } => {
                require_role(&actor, &[Role::DepartmentHead], name)?;
                self.require_lead_handler(&actor, name)?;
                if !self.rated {
                    return Err(CaseError::NoRatingYet);
                }
                if self.pending.appealed {
                    return Err(CaseError::AppealExists);
                }
                Ok(vec![CaseEvent::RatingAppealed {
                    reason: reason.into(),
                    appealed_by: actor.sub,
                    appealed_at: at,
                }])
            }
            CaseCommand::DecideAppeal { upheld, reason } => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                if !self.pending.appeal {
                    return Err(CaseError::NoAppealPending);
                }
                Ok(vec![CaseEvent::AppealDecided {
                    upheld,
                    reason: reason.into(),
                    decided_by: actor.sub,
                    decided_at: at,
                }])
            }
            CaseCommand::Reopen { reason, sla } => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                if !matches!(
                    self.status,
                    Some(CaseStatus::Responded | CaseStatus::Closed)
                ) {
                    return Err(CaseError::CannotReopen);
                }
                let rule = self.rule_or(&sla);
                let deadlines = rule.deadlines(at, &sla.calendar);
                Ok(vec![CaseEvent::CaseReopened {
                    reason: reason.into(),
                    cycle: self.clock.cycle + 1,
                    respond_due: deadlines.respond_due,
                    resolve_due: deadlines.resolve_due,
                    reopened_by: actor.sub,
                    reopened_at: at,
                }])
            }
            CaseCommand::Withdraw { reason } => {
                let withdrawn_as = if actor.has(Role::Enterprise) {
                    Role::Enterprise
                } else {
                    require_role(&actor, REGISTRARS, name)?;
                    if actor.has(Role::Dispatcher) {
                        Role::Dispatcher
                    } else if actor.has(Role::DistrictLeader) {
                        Role::DistrictLeader
                    } else {
                        Role::LiaisonOfficer
                    }
                };
                Ok(vec![CaseEvent::CaseWithdrawn {
                    reason: reason.into(),
                    quality_check: self.status != Some(CaseStatus::Registered),
                    withdrawn_by: actor.sub,
                    withdrawn_as,
                    withdrawn_at: at,
                }])
            }
            CaseCommand::GrantExemption { reason, text } => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                if self.status == Some(CaseStatus::Registered) {
                    return Err(CaseError::NotDispatched);
                }
                let decided_it = [&self.handling.dispatched_by, &self.closed_by]
                    .into_iter()
                    .any(|decider| decider.as_ref() == Some(&actor.sub));
                if decided_it {
                    return Err(CaseError::ExemptionByDecider);
                }
                if self.exempted {
                    return Err(CaseError::AlreadyExempted);
                }
                Ok(vec![CaseEvent::ExemptionGranted {
                    reason,
                    text: text.into(),
                    granted_by: actor.sub,
                    granted_at: at,
                }])
            }
            CaseCommand::Merge { into, reason } => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                if self.case_id == Some(into) {
                    return Err(CaseError::MergeIntoSelf);
                }
                if self.status == Some(CaseStatus::Responded) {
                    return Err(CaseError::AlreadyResponded);
                }
                Ok(vec![CaseEvent::CaseMerged {
                    into,
                    reason: reason.into(),
                    merged_by: actor.sub,
                    merged_at: at,
                }])
            }
            CaseCommand::ReissueVerifier {
                verifier_sha256,
                reason,
            } => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                if self.case_number.is_none() {
                    return Err(CaseError::NoCaseNumber);
                }
                Ok(vec![CaseEvent::VerifierReissued {
                    verifier_sha256,
                    reason: reason.into(),
                    reissued_by: actor.sub,
                    reissued_at: at,
                }])
            }
            CaseCommand::Close => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                if !matches!(self.status, Some(CaseStatus::Responded)) {
                    return Err(CaseError::NoResponseYet);
                }
                if !self.rated && self.follow_up_failures < FOLLOW_UP_ATTEMPTS_BEFORE_CLOSE {
                    return Err(CaseError::NoRatingYet);
                }
                Ok(vec![CaseEvent::CaseClosed {
                    closed_by: actor.sub,
                    closed_at: at,
                }])
            }
            CaseCommand::FireTimer { .. } => Ok(Vec::new()),
        }
    }

    /// Evolves the state by one recorded event. Never fails: a recorded event is a fact.
    pub fn evolve(&mut self, event: &CaseEvent) {
        match event {
            CaseEvent::CaseRegistered {
                case_id,
                enterprise_id,
                category,
                urgency,
                case_number,
                ..
            } => {
                self.case_number = case_number.clone();
                self.status = Some(CaseStatus::Registered);
                self.case_id = Some(*case_id);
                self.enterprise_id = Some(enterprise_id.clone());
                self.category = Some(category.clone());
                self.urgency = Some(*urgency);
            }
            CaseEvent::CaseDeclined { .. } => self.status = Some(CaseStatus::Declined),
            CaseEvent::CaseDispatched {
                lead_department,
                co_departments,
                accept_due,
                respond_due,
                dispatched_by,
                dispatched_at,
                first_contact_due,
                resolve_due,
                sla_rule,
                ..
            } => {
                self.status = Some(CaseStatus::Dispatched);
                self.handling.lead_department = Some(lead_department.clone());
                self.handling.co_departments = co_departments.clone();
                self.handling.dispatched_by = Some(dispatched_by.clone());
                let first_dispatch = self.clock.cycle == 0;
                if first_dispatch {
                    self.clock.cycle = 1;
                    self.clock.rule = sla_rule.clone();
                }
                let start = *dispatched_at;
                self.clock.set(DeadlineKind::Accept, start, *accept_due);
                let mut keep_or_set = |kind, due: Option<DateTime<Utc>>| {
                    if let Some(due) = due {
                        match self.clock.deadlines.get(&kind) {
                            Some(existing) if !first_dispatch && existing.due == due => {}
                            _ => self.clock.set(kind, start, due),
                        }
                    }
                };
                keep_or_set(DeadlineKind::FirstContact, *first_contact_due);
                keep_or_set(DeadlineKind::Respond, Some(*respond_due));
                keep_or_set(DeadlineKind::Resolve, *resolve_due);
            }
            CaseEvent::CaseAccepted { accepted_by, .. } => {
                self.status = Some(CaseStatus::Accepted);
                self.handling.accepted_by = Some(accepted_by.clone());
                self.handling.handlers.insert(accepted_by.clone());
                self.clock.met.insert(DeadlineKind::Accept);
            }
            CaseEvent::CaseReturned {
                rerouted_to,
                accept_due,
                return_count,
                returned_at,
                ..
            } => {
                self.handling.returns = *return_count;
                match (rerouted_to, accept_due) {
                    (Some(department), Some(due)) => {
                        self.move_to(department);
                        self.clock.set(DeadlineKind::Accept, *returned_at, *due);
                    }
                    _ => {
                        self.status = Some(CaseStatus::Registered);
                        self.handling.lead_department = None;
                        self.handling.co_departments.clear();
                        self.clock.remove(DeadlineKind::Accept);
                    }
                }
            }
            CaseEvent::CaseReassigned {
                lead_department,
                accept_due,
                reassigned_at,
                ..
            } => {
                self.move_to(lead_department);
                self.clock
                    .set(DeadlineKind::Accept, *reassigned_at, *accept_due);
            }
            CaseEvent::ContactLogged { .. } => {
                self.clock.met.insert(DeadlineKind::FirstContact);
            }
            CaseEvent::InternalNoteAdded { .. } | CaseEvent::PublicUpdatePosted { .. } => {}
            CaseEvent::ExtensionRequested { amount, .. } => {
                self.pending.extension = Some(*amount);
            }
            CaseEvent::ExtensionDecided {
                approved,
                respond_due,
                resolve_due,
                ..
            } => {
                if let (true, Some(amount)) = (*approved, self.pending.extension) {
                    self.clock.extended += amount.amount;
                }
                self.pending.extension = None;
                for (kind, due) in [
                    (DeadlineKind::Respond, respond_due),
                    (DeadlineKind::Resolve, resolve_due),
                ] {
                    if let (Some(due), Some(deadline)) = (due, self.clock.deadlines.get_mut(&kind))
                    {
                        deadline.due = *due;
                    }
                }
            }
            CaseEvent::PauseRequested { .. } => self.pending.pause = true,
            CaseEvent::PauseDecided {
                approved,
                decided_at,
                ..
            } => {
                self.pending.pause = false;
                if *approved {
                    self.status = Some(CaseStatus::Paused);
                    self.clock.paused_at = Some(*decided_at);
                }
            }
            CaseEvent::ClockResumed { moved, .. } => {
                self.status = Some(CaseStatus::Accepted);
                self.clock.paused_at = None;
                for MovedDeadline { deadline, due } in moved {
                    if let Some(current) = self.clock.deadlines.get_mut(deadline) {
                        // Keep the interval's length: the start moves with the due time.
                        let delta = *due - current.due;
                        current.start += delta;
                        current.due = *due;
                    }
                }
            }
            CaseEvent::CaseResponded {
                resolution,
                responded_by,
                ..
            } => {
                self.status = Some(CaseStatus::Responded);
                self.handling.resolution = Some(*resolution);
                self.handling.responded_by = Some(responded_by.clone());
                self.handling.handlers.insert(responded_by.clone());
                self.clock.met.insert(DeadlineKind::Respond);
            }
            CaseEvent::FollowUpRecorded { reached, .. } => {
                self.follow_up_attempts += 1;
                if !reached {
                    self.follow_up_failures += 1;
                }
            }
            CaseEvent::CaseRated { .. } => self.rated = true,
            CaseEvent::RatingAppealed { .. } => {
                self.pending.appeal = true;
                self.pending.appealed = true;
            }
            CaseEvent::AppealDecided { .. } => self.pending.appeal = false,
            CaseEvent::CaseReopened {
                cycle,
                respond_due,
                resolve_due,
                reopened_at,
                ..
            } => {
                self.status = Some(CaseStatus::Accepted);
                self.clock.cycle = *cycle;
                self.clock.deadlines.clear();
                self.clock.met.clear();
                self.clock.fired.clear();
                // Acceptance and first contact belong to the first cycle.
                self.clock.met.insert(DeadlineKind::Accept);
                self.clock.met.insert(DeadlineKind::FirstContact);
                self.clock
                    .set(DeadlineKind::Respond, *reopened_at, *respond_due);
                self.clock
                    .set(DeadlineKind::Resolve, *reopened_at, *resolve_due);
                self.clock.extended = 0;
                self.handling.responded_by = None;
                self.handling.resolution = None;
                self.rated = false;
                self.follow_up_attempts = 0;
                self.follow_up_failures = 0;
                self.pending = Pending::default();
                self.closed_by = None;
            }
            CaseEvent::CaseWithdrawn { .. } => self.status = Some(CaseStatus::Withdrawn),
            CaseEvent::ExemptionGranted { .. } => self.exempted = true,
            CaseEvent::CaseMerged { .. } => self.status = Some(CaseStatus::Merged),
            CaseEvent::CaseClosed { closed_by, .. } => {
                self.status = Some(CaseStatus::Closed);
                self.closed_by = Some(closed_by.clone());
                self.clock.met.insert(DeadlineKind::Resolve);
            }
            CaseEvent::DeadlineWarning {
                deadline,
                threshold,
                ..
            } => {
                self.clock.fired.insert((*deadline, *threshold));
            }
            CaseEvent::DeadlineBreached { deadline, .. } => {
                self.clock.fired.insert((*deadline, Threshold::Breach));
            }
            CaseEvent::CaseEscalated { .. } | CaseEvent::VerifierReissued { .. } => {}
        }
    }

    /// The timers still to fire, with when each is due: for every open deadline of the current
    /// cycle, each threshold not yet fired. None while the clock is paused or the case ended.
    pub fn pending_timers(&self) -> Vec<(Timer, DateTime<Utc>)> {
        let Some(status) = self.status else {
            return Vec::new();
        };
        if status.is_final() || status == CaseStatus::Paused {
            return Vec::new();
        }
        let mut timers = Vec::new();
        for kind in DeadlineKind::ALL {
            let Some(deadline) = self.open_deadline(kind) else {
                continue;
            };
            for threshold in Threshold::ALL {
                if !self.clock.fired.contains(&(kind, threshold)) {
                    let timer = Timer {
                        deadline: kind,
                        threshold,
                        cycle: self.clock.cycle,
                    };
                    timers.push((timer, deadline.fire_at(threshold)));
                }
            }
        }
        timers
    }

    /// The earliest due time among open deadlines (for queues sorted by urgency), if the clock
    /// runs.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        if self
            .status
            .is_none_or(|status| status.is_final() || status == CaseStatus::Paused)
        {
            return None;
        }
        DeadlineKind::ALL
            .into_iter()
            .filter_map(|kind| self.open_deadline(kind))
            .map(|deadline| deadline.due)
            .min()
    }

    /// Records a timer's event if it is still pending and due at `at`; otherwise nothing (it
    /// fired already, its deadline was met or moved, or another process fired it first).
    fn fire_timer(&self, timer: Timer, leaders: Vec<UserId>, at: DateTime<Utc>) -> Vec<CaseEvent> {
        let due = self
            .pending_timers()
            .into_iter()
            .find(|(pending, fire_at)| *pending == timer && *fire_at <= at);
        let Some(deadline) = due.and_then(|_| self.open_deadline(timer.deadline)) else {
            return Vec::new();
        };
        let cycle = self.clock.cycle;
        match timer.threshold {
            Threshold::Warn50 | Threshold::Warn80 => vec![CaseEvent::DeadlineWarning {
                deadline: timer.deadline,
                threshold: timer.threshold,
                cycle,
                due: deadline.due,
                fired_at: at,
            }],
            Threshold::Breach => {
                let mut events = vec![CaseEvent::DeadlineBreached {
                    deadline: timer.deadline,
                    cycle,
                    due: deadline.due,
                    fired_at: at,
                }];
                // 督办: a missed response or closing goes to the leaders in charge.
                if matches!(
                    timer.deadline,
                    DeadlineKind::Respond | DeadlineKind::Resolve
                ) {
                    events.push(CaseEvent::CaseEscalated {
                        deadline: timer.deadline,
                        cycle,
                        leaders,
                        escalated_at: at,
                    });
                }
                events
            }
        }
    }

    /// A deadline of the current cycle that is not met yet. Acceptance runs only while the case
    /// waits at a department.
    pub fn open_deadline(&self, kind: DeadlineKind) -> Option<Deadline> {
        if self.clock.met.contains(&kind) {
            return None;
        }
        if kind == DeadlineKind::Accept && self.status != Some(CaseStatus::Dispatched) {
            return None;
        }
        self.clock.deadlines.get(&kind).copied()
    }

    fn unit_of(&self, kind: DeadlineKind) -> LimitUnit {
        self.clock.rule.as_ref().map_or(LimitUnit::Hours, |rule| {
            match kind {
                DeadlineKind::Accept => rule.accept,
                DeadlineKind::FirstContact => rule.first_contact,
                DeadlineKind::Respond => rule.respond,
                DeadlineKind::Resolve => rule.resolve,
            }
            .unit
        })
    }

    fn rule_or(&self, sla: &SlaContext) -> SlaRule {
        self.clock.rule.clone().unwrap_or_else(|| {
            sla.policy
                .rule(
                    self.category.as_deref().unwrap_or_default(),
                    self.urgency.unwrap_or(Urgency::Normal),
                )
                .clone()
        })
    }

    /// A new department's acceptance deadline, counted from `at` by the case's rule.
    fn restart_accept(&self, at: DateTime<Utc>, sla: &SlaContext) -> DateTime<Utc> {
        sla.calendar.add(at, self.rule_or(sla).accept)
    }

    fn move_to(&mut self, department: &DepartmentId) {
        self.status = Some(CaseStatus::Dispatched);
        self.handling
            .co_departments
            .retain(|co_department| co_department != department);
        self.handling.lead_department = Some(department.clone());
        self.handling.accepted_by = None;
        self.clock.met.remove(&DeadlineKind::Accept);
        self.clock
            .fired
            .retain(|(kind, _)| *kind != DeadlineKind::Accept);
    }

    /// The case must be accepted, running and not yet responded.
    fn require_handling(&self) -> Result<(), CaseError> {
        match self.status {
            Some(CaseStatus::Registered) => Err(CaseError::NotDispatched),
            Some(CaseStatus::Dispatched) => Err(CaseError::NotAccepted),
            Some(CaseStatus::Accepted) => Ok(()),
            Some(CaseStatus::Paused) => Err(CaseError::ClockPaused),
            _ => Err(CaseError::AlreadyResponded),
        }
    }

    /// An enterprise may only know of its own cases; to anyone else's question about an
    /// unregistered case, the answer is "not found".
    fn check_visible_to(&self, actor: &Actor) -> Result<(), CaseError> {
        let Some(enterprise_id) = &self.enterprise_id else {
            return Err(CaseError::CaseNotFound);
        };
        if actor.has(Role::Enterprise) && !actor.acts_for(enterprise_id.as_str()) {
            return Err(CaseError::CaseNotFound);
        }
        Ok(())
    }

    /// Whether the actor's organisation is the lead or a co-department.
    fn involves(&self, actor: &Actor) -> bool {
        self.involved_department(actor).is_some()
    }

    fn involved_department(&self, actor: &Actor) -> Option<DepartmentId> {
        self.handling
            .lead_department
            .iter()
            .chain(&self.handling.co_departments)
            .find(|department| actor.acts_for(department.as_str()))
            .cloned()
    }

    /// The lead department, if the actor is a handler or head acting for it.
    fn require_lead_handler(
        &self,
        actor: &Actor,
        command: &'static str,
    ) -> Result<DepartmentId, CaseError> {
        require_role(actor, HANDLERS, command)?;
        match &self.handling.lead_department {
            Some(lead) if actor.acts_for(lead.as_str()) => Ok(lead.clone()),
            Some(_) => Err(CaseError::NotLeadDepartment { command }),
            None => Err(CaseError::NotDispatched),
        }
    }
}

impl Clock {
    fn set(&mut self, kind: DeadlineKind, start: DateTime<Utc>, due: DateTime<Utc>) {
        self.deadlines.insert(kind, Deadline { start, due });
    }

    fn remove(&mut self, kind: DeadlineKind) {
        self.deadlines.remove(&kind);
        self.fired.retain(|(fired, _)| *fired != kind);
    }
}

fn unit_name(unit: LimitUnit) -> String {
    serde_json::to_value(unit)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn require_role(actor: &Actor, allowed: &[Role], command: &'static str) -> Result<(), CaseError> {
    if actor.has_any(allowed) {
        Ok(())
    } else {
        Err(CaseError::RoleNotAllowed { command })
    }
}

impl Aggregate for EnterpriseCase {
    const TYPE: &'static str = "EnterpriseCase";
    type Command = Authored<CaseCommand>;
    type Event = CaseEvent;
    type Error = CaseError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), CaseError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CaseEvent) {
        self.evolve(&event);
    }
}

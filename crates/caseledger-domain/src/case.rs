//! The `EnterpriseCase` stream (企业/人才诉求): a problem raised by an enterprise or talent, from
//! registration (受理) through dispatch (交办), acceptance (签收), response (答复) and rating
//! (评价) to closing.
//!
//! `decide` holds every rule and returns the events to record; `apply` only evolves state and
//! never fails. The `cqrs-es` `Aggregate::handle` just writes what `decide` returned.
//!
//! Events are a stored contract: fields are added with `#[serde(default)]` and variants are
//! added, never renamed or removed.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Authored, Role};
use crate::calendar::WorkCalendar;
use crate::ids::{CaseId, DepartmentId, SubjectId, UserId};
use crate::sla::SlaPolicy;
use crate::text::{Label, LongText, Title};

/// How pressing a case is; selects the SLA limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Ordinary time limits.
    Normal,
    /// Short time limits.
    Urgent,
}

/// Where a case came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseSource {
    /// Raised during a liaison officer's visit.
    LiaisonVisit,
    /// Raised during a district leader's visit.
    LeaderVisit,
    /// Raised on the hotline.
    Hotline,
    /// Raised on the online platform.
    Platform,
    /// Raised by letter.
    Letter,
}

/// How the lead department answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The problem is solved.
    Resolved,
    /// Part of the problem is solved.
    PartiallyResolved,
    /// The request cannot be met; the answer explains why, citing a legal or policy basis.
    Explained,
    /// Referred to another competent body.
    Referred,
}

/// A satisfaction grade from 1 (very dissatisfied) to 5 (very satisfied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Satisfaction(u8);

impl Satisfaction {
    /// Accepts 1 to 5.
    pub fn new(grade: u8) -> Option<Self> {
        (1..=5).contains(&grade).then_some(Self(grade))
    }

    /// The grade.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Satisfaction {
    type Error = String;
    fn try_from(grade: u8) -> Result<Self, String> {
        Self::new(grade).ok_or_else(|| format!("satisfaction must be 1 to 5, not {grade}"))
    }
}

impl From<Satisfaction> for u8 {
    fn from(satisfaction: Satisfaction) -> u8 {
        satisfaction.0
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Registered, waiting for dispatch.
    Registered,
    /// Dispatched to a lead department, waiting for acceptance.
    Dispatched,
    /// Accepted by the lead department, being handled.
    Accepted,
    /// The lead department has responded.
    Responded,
    /// Closed; no further changes.
    Closed,
}

impl CaseStatus {
    /// The status's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Registered => "registered",
            CaseStatus::Dispatched => "dispatched",
            CaseStatus::Accepted => "accepted",
            CaseStatus::Responded => "responded",
            CaseStatus::Closed => "closed",
        }
    }
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
    },
    /// Dispatch to exactly one lead department and optional co-departments (交办).
    Dispatch {
        /// The department responsible for the answer.
        lead_department: DepartmentId,
        /// Departments that assist.
        co_departments: Vec<DepartmentId>,
        /// A note for the departments.
        note: Option<LongText>,
        /// The policy in force now; the case records its version and due dates.
        sla_policy: SlaPolicy,
    },
    /// The lead department takes the case on (签收).
    Accept,
    /// The lead department answers (答复).
    Respond {
        /// How it was resolved.
        resolution: Resolution,
        /// The answer.
        text: LongText,
        /// The legal or policy basis; required when the resolution is `explained`.
        basis: Option<LongText>,
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
    /// Add an internal note, never shown to the enterprise or the public.
    AddNote {
        /// The note.
        text: LongText,
    },
    /// Close the case (办结).
    Close,
}

impl CaseCommand {
    /// The command's kebab-case name, as used in URLs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            CaseCommand::Register { .. } => "register",
            CaseCommand::Dispatch { .. } => "dispatch",
            CaseCommand::Accept => "accept",
            CaseCommand::Respond { .. } => "respond",
            CaseCommand::Rate { .. } => "rate",
            CaseCommand::AddNote { .. } => "add-note",
            CaseCommand::Close => "close",
        }
    }
}

/// What happened to a case. A stored contract: see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The case was closed.
    CaseClosed {
        /// Who closed it.
        closed_by: UserId,
        /// When.
        closed_at: DateTime<Utc>,
    },
}

impl CaseEvent {
    /// The variant name, stored as the event type.
    pub fn name(&self) -> &'static str {
        match self {
            CaseEvent::CaseRegistered { .. } => "CaseRegistered",
            CaseEvent::CaseDispatched { .. } => "CaseDispatched",
            CaseEvent::CaseAccepted { .. } => "CaseAccepted",
            CaseEvent::CaseResponded { .. } => "CaseResponded",
            CaseEvent::CaseRated { .. } => "CaseRated",
            CaseEvent::InternalNoteAdded { .. } => "InternalNoteAdded",
            CaseEvent::CaseClosed { .. } => "CaseClosed",
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
    /// An enterprise may register cases only for itself.
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
    /// There is no rating yet.
    #[error("case has no rating yet")]
    NoRatingYet,
    /// The case has been rated; ratings are final.
    #[error("the rating is final")]
    RatingIsFinal,
    /// The case is closed.
    #[error("case is closed")]
    CaseClosed,
    /// An `explained` response needs a legal or policy basis.
    #[error("an explained response needs a legal or policy basis")]
    BasisRequired,
    /// The lead department is listed among the co-departments, or a co-department twice.
    #[error("co-departments must be distinct and exclude the lead department")]
    InvalidCoDepartments,
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
            CaseError::BasisRequired => "basis_required",
            CaseError::InvalidCoDepartments => "invalid_co_departments",
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
            | CaseError::RaterConflict => RefusalKind::Forbidden,
            _ => RefusalKind::Rule,
        }
    }
}

/// The due times recorded when the case was dispatched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueDates {
    /// Acceptance is due by then.
    pub accept_due: DateTime<Utc>,
    /// The response is due by then.
    pub respond_due: DateTime<Utc>,
}

/// The lead department's handling so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Handling {
    /// The responsible department.
    pub lead_department: Option<DepartmentId>,
    /// Assisting departments.
    pub co_departments: Vec<DepartmentId>,
    /// Due dates from the SLA policy.
    pub due: Option<DueDates>,
    /// Who accepted.
    pub accepted_by: Option<UserId>,
    /// Who responded.
    pub responded_by: Option<UserId>,
    /// The resolution given.
    pub resolution: Option<Resolution>,
}

/// The state of one case, rebuilt from its events. `status` is `None` before registration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnterpriseCase {
    /// Where the case stands; `None` until registered.
    pub status: Option<CaseStatus>,
    /// The enterprise or talent that raised it.
    pub enterprise_id: Option<SubjectId>,
    /// Normal or urgent.
    pub urgency: Option<Urgency>,
    /// The category label; selects the SLA rule.
    #[serde(default)]
    pub category: Option<String>,
    /// The lead department's handling.
    pub handling: Handling,
    /// Whether the case has been rated.
    pub rated: bool,
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
        if actor.has(Role::Enterprise)
            && !matches!(
                command,
                CaseCommand::Register { .. } | CaseCommand::Rate { .. }
            )
        {
            return Err(CaseError::RoleNotAllowed { command: name });
        }
        if self.status == Some(CaseStatus::Closed) {
            return Err(CaseError::CaseClosed);
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
                }])
            }
            CaseCommand::Dispatch {
                lead_department,
                co_departments,
                note,
                sla_policy,
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
                let urgency = self.urgency.unwrap_or(Urgency::Normal);
                // Working days are counted Monday to Friday here until the dispatch command
                // carries the district calendar.
                let category = self.category.as_deref().unwrap_or_default();
                let due = sla_policy
                    .rule(category, urgency)
                    .deadlines(at, &WorkCalendar::default());
                Ok(vec![CaseEvent::CaseDispatched {
                    lead_department,
                    co_departments,
                    note: note.map(Into::into),
                    sla_policy_version: sla_policy.version,
                    accept_due: due.accept_due,
                    respond_due: due.respond_due,
                    dispatched_by: actor.sub,
                    dispatched_at: at,
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
            CaseCommand::Respond {
                resolution,
                text,
                basis,
            } => {
                let department = self.require_lead_handler(&actor, name)?;
                match self.status {
                    Some(CaseStatus::Registered) => return Err(CaseError::NotDispatched),
                    Some(CaseStatus::Dispatched) => return Err(CaseError::NotAccepted),
                    Some(CaseStatus::Accepted) => {}
                    _ => return Err(CaseError::AlreadyResponded),
                }
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
                let handled_it = [&self.handling.accepted_by, &self.handling.responded_by]
                    .into_iter()
                    .any(|handler| handler.as_ref() == Some(&actor.sub));
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
            CaseCommand::Close => {
                require_role(&actor, &[Role::Dispatcher], name)?;
                if !matches!(self.status, Some(CaseStatus::Responded)) {
                    return Err(CaseError::NoResponseYet);
                }
                if !self.rated {
                    return Err(CaseError::NoRatingYet);
                }
                Ok(vec![CaseEvent::CaseClosed {
                    closed_by: actor.sub,
                    closed_at: at,
                }])
            }
        }
    }

    /// Evolves the state by one recorded event. Never fails: a recorded event is a fact.
    pub fn evolve(&mut self, event: &CaseEvent) {
        match event {
            CaseEvent::CaseRegistered {
                enterprise_id,
                urgency,
                category,
                ..
            } => {
                self.status = Some(CaseStatus::Registered);
                self.enterprise_id = Some(enterprise_id.clone());
                self.urgency = Some(*urgency);
                self.category = Some(category.clone());
            }
            CaseEvent::CaseDispatched {
                lead_department,
                co_departments,
                accept_due,
                respond_due,
                ..
            } => {
                self.status = Some(CaseStatus::Dispatched);
                self.handling.lead_department = Some(lead_department.clone());
                self.handling.co_departments = co_departments.clone();
                self.handling.due = Some(DueDates {
                    accept_due: *accept_due,
                    respond_due: *respond_due,
                });
            }
            CaseEvent::CaseAccepted { accepted_by, .. } => {
                self.status = Some(CaseStatus::Accepted);
                self.handling.accepted_by = Some(accepted_by.clone());
            }
            CaseEvent::CaseResponded {
                resolution,
                responded_by,
                ..
            } => {
                self.status = Some(CaseStatus::Responded);
                self.handling.resolution = Some(*resolution);
                self.handling.responded_by = Some(responded_by.clone());
            }
            CaseEvent::CaseRated { .. } => self.rated = true,
            CaseEvent::InternalNoteAdded { .. } => {}
            CaseEvent::CaseClosed { .. } => self.status = Some(CaseStatus::Closed),
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
        self.handling
            .lead_department
            .iter()
            .chain(&self.handling.co_departments)
            .any(|department| actor.acts_for(department.as_str()))
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

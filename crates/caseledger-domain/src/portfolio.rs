//! The `LiaisonPortfolio` stream (包联/挂点): which subjects one district leader or one department
//! liaises with, how often each must be visited, and the visits made (date, who, what was learned,
//! which cases were raised from it).
//!
//! One portfolio per owner: its id is derived from the owner ([`PortfolioId::of_leader`],
//! [`PortfolioId::of_department`]), so a second portfolio for the same owner is a conflict.
//!
//! The visit-period rule ([`visit_status`]) is a pure function of the obligation, the assignment
//! date, the latest visit and the reference date; it lives here so that every reader computes it
//! the same way. Dates are calendar dates in China Standard Time (UTC+8, no daylight saving):
//! [`china_date`] converts a command's instant.
//!
//! `decide` holds every rule; `evolve` only applies a recorded event. Events are a stored
//! contract: fields are added with `#[serde(default)]` and variants are added, never renamed or
//! removed.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Authored, Role};
use crate::case::RefusalKind;
use crate::ids::{CaseId, DepartmentId, LeaderId, PortfolioId, SubjectId, UserId, VisitId};
use crate::subject::PersonName;
use crate::text::{LongText, Title};

/// The calendar date of `at` in China Standard Time (UTC+8). The district's dates (visit dates,
/// assignment dates, `as_of`) are all in this zone.
pub fn china_date(at: DateTime<Utc>) -> NaiveDate {
    let cst = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    at.with_timezone(&cst).date_naive()
}

/// How often an assigned subject must be visited: at least once in every calendar period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum VisitObligation {
    /// Every calendar month.
    Monthly,
    /// Every calendar quarter (January–March, April–June, …).
    Quarterly,
    /// Every half year (January–June, July–December).
    HalfYearly,
    /// Every calendar year.
    Yearly,
}

impl VisitObligation {
    /// Every obligation, shortest period first.
    pub const ALL: [VisitObligation; 4] = [
        VisitObligation::Monthly,
        VisitObligation::Quarterly,
        VisitObligation::HalfYearly,
        VisitObligation::Yearly,
    ];

    /// The wire name (`half_yearly`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }

    fn months(self) -> u32 {
        match self {
            VisitObligation::Monthly => 1,
            VisitObligation::Quarterly => 3,
            VisitObligation::HalfYearly => 6,
            VisitObligation::Yearly => 12,
        }
    }

    /// The calendar period of this obligation that contains `date`.
    pub fn period_containing(self, date: NaiveDate) -> Period {
        let months = self.months();
        let first_month = (date.month0() / months) * months + 1;
        let start = NaiveDate::from_ymd_opt(date.year(), first_month, 1)
            .expect("the first day of a month exists");
        let end = start
            .checked_add_months(Months::new(months))
            .and_then(|next| next.checked_sub_days(Days::new(1)))
            .unwrap_or(NaiveDate::MAX);
        Period { start, end }
    }
}

/// A calendar period, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
}

impl Period {
    /// Whether `date` falls in the period.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date <= self.end
    }
}

/// Where one assigned subject stands on a reference date (`as_of`). See [`visit_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitStatus {
    /// The obligation's period containing `as_of`.
    pub current_period: Period,
    /// The first period in which a visit is required: the first period that starts on or after
    /// the assignment date.
    pub first_required_period: Period,
    /// The date by which the next required visit is due.
    pub due_on: NaiveDate,
    /// Whether a required visit is missing: the period before the current one was required and
    /// no visit has been made from its start up to `as_of`.
    pub overdue: bool,
    /// When overdue: the required period that ended without a visit.
    pub missed_period: Option<Period>,
}

/// The visit-period rule (docs/DECISIONS.md, "Visit obligations").
///
/// A subject assigned on date A with obligation P must be visited at least once in every
/// calendar period of P that starts on or after A (the partial period in which it was assigned
/// is a grace period). On a reference date D, with `last_visit_on` the latest visit on or before
/// D:
/// - it is **overdue** when the period just before D's period is a required period and no visit
///   was made from that period's first day up to D (a visit made late, in the current period,
///   clears it);
/// - it is **due on** the last day of D's period when that period is required and has no visit
///   yet; otherwise on the last day of the next period that still needs one (the first required
///   period while in the grace period, the next period when the current one is already visited).
pub fn visit_status(
    obligation: VisitObligation,
    assigned_on: NaiveDate,
    last_visit_on: Option<NaiveDate>,
    as_of: NaiveDate,
) -> VisitStatus {
    let assigned_period = obligation.period_containing(assigned_on);
    let first_required_period = if assigned_period.start == assigned_on {
        assigned_period
    } else {
        next_period(obligation, &assigned_period)
    };
    let required = |period: &Period| period.start >= first_required_period.start;
    let visited_since = |day: NaiveDate| last_visit_on.is_some_and(|visit| visit >= day);
    let current_period = obligation.period_containing(as_of);
    let previous_period = previous_period(obligation, &current_period);
    let overdue = previous_period
        .is_some_and(|previous| required(&previous) && !visited_since(previous.start));
    let due_on = if !required(&current_period) {
        first_required_period.end
    } else if visited_since(current_period.start) {
        next_period(obligation, &current_period).end
    } else {
        current_period.end
    };
    VisitStatus {
        current_period,
        first_required_period,
        due_on,
        overdue,
        missed_period: if overdue { previous_period } else { None },
    }
}

fn next_period(obligation: VisitObligation, period: &Period) -> Period {
    match period.end.checked_add_days(Days::new(1)) {
        Some(day) => obligation.period_containing(day),
        None => *period,
    }
}

fn previous_period(obligation: VisitObligation, period: &Period) -> Option<Period> {
    period
        .start
        .checked_sub_days(Days::new(1))
        .map(|day| obligation.period_containing(day))
}

/// Who liaises through a portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum PortfolioOwner {
    /// A district leader, by user id (the token's `sub`).
    Leader {
        /// The leader's user id.
        user_id: LeaderId,
    },
    /// A department.
    Department {
        /// The department.
        department_id: DepartmentId,
    },
}

impl PortfolioOwner {
    /// The portfolio id derived from the owner.
    pub fn portfolio_id(&self) -> PortfolioId {
        match self {
            PortfolioOwner::Leader { user_id } => PortfolioId::of_leader(user_id),
            PortfolioOwner::Department { department_id } => {
                PortfolioId::of_department(department_id)
            }
        }
    }

    /// `leader` or `department`.
    pub fn kind(&self) -> &'static str {
        self.into()
    }

    /// The owner's id as text.
    pub fn id(&self) -> &str {
        match self {
            PortfolioOwner::Leader { user_id } => user_id.as_str(),
            PortfolioOwner::Department { department_id } => department_id.as_str(),
        }
    }
}

/// A case referred to by a visit, with the subject it was raised for. The application looks the
/// case up; the domain checks that it belongs to the visited subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedCase {
    /// The case.
    pub case_id: CaseId,
    /// The case's enterprise (its subject).
    pub enterprise_id: SubjectId,
}

/// What can be asked of a portfolio.
#[derive(Debug, Clone, PartialEq)]
pub enum PortfolioCommand {
    /// Create the portfolio of an owner. The stream id must be `owner.portfolio_id()`.
    Create {
        /// The leader or department.
        owner: PortfolioOwner,
        /// The owner's display name (e.g. 王副区长, 区商务局).
        owner_name: Title,
    },
    /// Put a subject in the portfolio with a visit obligation.
    AssignSubject {
        /// The subject.
        subject_id: SubjectId,
        /// How often it must be visited.
        obligation: VisitObligation,
        /// Since when the obligation runs (not in the future; usually today).
        assigned_on: NaiveDate,
    },
    /// Take a subject out of the portfolio.
    UnassignSubject {
        /// The subject.
        subject_id: SubjectId,
        /// Why.
        reason: LongText,
    },
    /// Record a visit to an assigned subject.
    RecordVisit {
        /// The id the application chose for the visit.
        visit_id: VisitId,
        /// The subject visited.
        subject_id: SubjectId,
        /// The day of the visit (not in the future, not before the assignment).
        visited_on: NaiveDate,
        /// Who took part (names or user ids), at least one.
        participants: Vec<PersonName>,
        /// What was learned.
        learned: LongText,
        /// Cases raised from the visit and registered already.
        cases: Vec<LinkedCase>,
    },
    /// Link a case raised from an earlier visit.
    LinkCase {
        /// The visit.
        visit_id: VisitId,
        /// The case.
        case: LinkedCase,
    },
}

impl PortfolioCommand {
    /// The command's kebab-case name, as used in URLs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            PortfolioCommand::Create { .. } => "create-portfolio",
            PortfolioCommand::AssignSubject { .. } => "assign-subject",
            PortfolioCommand::UnassignSubject { .. } => "unassign-subject",
            PortfolioCommand::RecordVisit { .. } => "record-visit",
            PortfolioCommand::LinkCase { .. } => "link-case",
        }
    }
}

/// What happened to a portfolio. A stored contract: see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum PortfolioEvent {
    /// The portfolio was created.
    PortfolioCreated {
        /// The portfolio id (derived from the owner).
        portfolio_id: PortfolioId,
        /// The owner.
        owner: PortfolioOwner,
        /// The owner's display name.
        owner_name: String,
        /// Who created it.
        created_by: UserId,
        /// When.
        created_at: DateTime<Utc>,
    },
    /// A subject was assigned.
    SubjectAssigned {
        /// The subject.
        subject_id: SubjectId,
        /// The visit obligation.
        obligation: VisitObligation,
        /// Since when the obligation runs.
        assigned_on: NaiveDate,
        /// Who assigned it.
        assigned_by: UserId,
        /// When.
        assigned_at: DateTime<Utc>,
    },
    /// A subject was taken out.
    SubjectUnassigned {
        /// The subject.
        subject_id: SubjectId,
        /// Why.
        reason: String,
        /// Who.
        unassigned_by: UserId,
        /// When.
        unassigned_at: DateTime<Utc>,
    },
    /// A visit was recorded.
    VisitRecorded {
        /// The visit id.
        visit_id: VisitId,
        /// The subject visited.
        subject_id: SubjectId,
        /// The day of the visit.
        visited_on: NaiveDate,
        /// Who took part.
        participants: Vec<String>,
        /// What was learned.
        learned: String,
        /// Cases raised from it.
        case_ids: Vec<CaseId>,
        /// Who recorded it.
        recorded_by: UserId,
        /// When.
        recorded_at: DateTime<Utc>,
    },
    /// A case was linked to an earlier visit.
    VisitCaseLinked {
        /// The visit.
        visit_id: VisitId,
        /// The case.
        case_id: CaseId,
        /// Who linked it.
        linked_by: UserId,
        /// When.
        linked_at: DateTime<Utc>,
    },
}

impl PortfolioEvent {
    /// The variant name, stored as the event type.
    pub fn name(&self) -> &'static str {
        match self {
            PortfolioEvent::PortfolioCreated { .. } => "PortfolioCreated",
            PortfolioEvent::SubjectAssigned { .. } => "SubjectAssigned",
            PortfolioEvent::SubjectUnassigned { .. } => "SubjectUnassigned",
            PortfolioEvent::VisitRecorded { .. } => "VisitRecorded",
            PortfolioEvent::VisitCaseLinked { .. } => "VisitCaseLinked",
        }
    }
}

impl DomainEvent for PortfolioEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a portfolio command was refused. Each variant has a stable `code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortfolioError {
    /// No such portfolio.
    #[error("portfolio not found")]
    PortfolioNotFound,
    /// The owner has a portfolio already.
    #[error("this owner has a portfolio already")]
    PortfolioAlreadyExists,
    /// The actor's role does not allow this command.
    #[error("role not allowed to {command}")]
    RoleNotAllowed {
        /// The command's name.
        command: &'static str,
    },
    /// A district leader may create only their own portfolio.
    #[error("a district leader may create only their own portfolio")]
    NotOwnPortfolio,
    /// The actor neither owns the portfolio nor works for its owner.
    #[error("you do not work on this portfolio")]
    NotPortfolioMember,
    /// The subject is in the portfolio already.
    #[error("subject already assigned to this portfolio")]
    SubjectAlreadyAssigned,
    /// The subject is not in the portfolio.
    #[error("subject not assigned to this portfolio")]
    SubjectNotAssigned,
    /// The assignment date is after the command's date.
    #[error("the assignment date is in the future")]
    AssignmentDateInFuture,
    /// The visit date is after the command's date.
    #[error("the visit date is in the future")]
    VisitDateInFuture,
    /// The visit date is before the subject's assignment.
    #[error("the visit date is before the subject was assigned")]
    VisitBeforeAssignment,
    /// A visit needs at least one participant.
    #[error("a visit needs at least one participant")]
    NoParticipants,
    /// No such visit in this portfolio.
    #[error("visit not found")]
    VisitNotFound,
    /// A visit with this id exists already.
    #[error("visit already recorded")]
    VisitAlreadyRecorded,
    /// The case is linked to this visit already (or listed twice).
    #[error("case already linked to this visit")]
    CaseAlreadyLinked,
    /// The case was raised for another subject than the one visited.
    #[error("the case belongs to another subject than the visited one")]
    CaseOfAnotherSubject,
}

impl PortfolioError {
    /// The stable machine-readable code, e.g. `subject_not_assigned`.
    pub fn code(&self) -> &'static str {
        match self {
            PortfolioError::PortfolioNotFound => "portfolio_not_found",
            PortfolioError::PortfolioAlreadyExists => "portfolio_already_exists",
            PortfolioError::RoleNotAllowed { .. } => "role_not_allowed",
            PortfolioError::NotOwnPortfolio => "not_own_portfolio",
            PortfolioError::NotPortfolioMember => "not_portfolio_member",
            PortfolioError::SubjectAlreadyAssigned => "subject_already_assigned",
            PortfolioError::SubjectNotAssigned => "subject_not_assigned",
            PortfolioError::AssignmentDateInFuture => "assignment_date_in_future",
            PortfolioError::VisitDateInFuture => "visit_date_in_future",
            PortfolioError::VisitBeforeAssignment => "visit_before_assignment",
            PortfolioError::NoParticipants => "no_participants",
            PortfolioError::VisitNotFound => "visit_not_found",
            PortfolioError::VisitAlreadyRecorded => "visit_already_recorded",
            PortfolioError::CaseAlreadyLinked => "case_already_linked",
            PortfolioError::CaseOfAnotherSubject => "case_of_another_subject",
        }
    }

    /// How the refusal should be understood.
    pub fn kind(&self) -> RefusalKind {
        match self {
            PortfolioError::PortfolioNotFound | PortfolioError::VisitNotFound => {
                RefusalKind::NotFound
            }
            PortfolioError::PortfolioAlreadyExists | PortfolioError::VisitAlreadyRecorded => {
                RefusalKind::Conflict
            }
            PortfolioError::RoleNotAllowed { .. }
            | PortfolioError::NotOwnPortfolio
            | PortfolioError::NotPortfolioMember => RefusalKind::Forbidden,
            _ => RefusalKind::Rule,
        }
    }
}

/// One current assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The visit obligation.
    pub obligation: VisitObligation,
    /// Since when it runs.
    pub assigned_on: NaiveDate,
}

/// What the aggregate remembers of a visit: enough to link cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitState {
    /// The subject visited.
    pub subject_id: SubjectId,
    /// Cases linked so far.
    pub case_ids: Vec<CaseId>,
}

/// The state of one portfolio, rebuilt from its events. `owner` is `None` before creation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiaisonPortfolio {
    /// The owner; `None` until created.
    pub owner: Option<PortfolioOwner>,
    /// Current assignments by subject.
    pub assignments: BTreeMap<SubjectId, Assignment>,
    /// Recorded visits.
    pub visits: BTreeMap<VisitId, VisitState>,
}

const DEPARTMENT_STAFF: &[Role] = &[Role::DepartmentHandler, Role::DepartmentHead];

impl LiaisonPortfolio {
    /// Decides which events `command` records, or why it is refused. Pure.
    pub fn decide(
        &self,
        command: Authored<PortfolioCommand>,
    ) -> Result<Vec<PortfolioEvent>, PortfolioError> {
        let Authored { actor, at, command } = command;
        let name = command.name();
        let today = china_date(at);
        if let PortfolioCommand::Create { owner, owner_name } = command {
            match &owner {
                _ if actor.has(Role::Dispatcher) => {}
                PortfolioOwner::Leader { user_id } if actor.has(Role::DistrictLeader) => {
                    if actor.sub.as_str() != user_id.as_str() {
                        return Err(PortfolioError::NotOwnPortfolio);
                    }
                }
                _ if actor.has(Role::DistrictLeader) => {
                    return Err(PortfolioError::NotOwnPortfolio)
                }
                _ => return Err(PortfolioError::RoleNotAllowed { command: name }),
            }
            if self.owner.is_some() {
                return Err(PortfolioError::PortfolioAlreadyExists);
            }
            return Ok(vec![PortfolioEvent::PortfolioCreated {
                portfolio_id: owner.portfolio_id(),
                owner,
                owner_name: owner_name.into(),
                created_by: actor.sub,
                created_at: at,
            }]);
        }
        let owner = self
            .owner
            .as_ref()
            .ok_or(PortfolioError::PortfolioNotFound)?;
        check_member(owner, &actor, name)?;
        match command {
            PortfolioCommand::Create { .. } => unreachable!("handled above"),
            PortfolioCommand::AssignSubject {
                subject_id,
                obligation,
                assigned_on,
            } => {
                if self.assignments.contains_key(&subject_id) {
                    return Err(PortfolioError::SubjectAlreadyAssigned);
                }
                if assigned_on > today {
                    return Err(PortfolioError::AssignmentDateInFuture);
                }
                Ok(vec![PortfolioEvent::SubjectAssigned {
                    subject_id,
                    obligation,
                    assigned_on,
                    assigned_by: actor.sub,
                    assigned_at: at,
                }])
            }
            PortfolioCommand::UnassignSubject { subject_id, reason } => {
                if !self.assignments.contains_key(&subject_id) {
                    return Err(PortfolioError::SubjectNotAssigned);
                }
                Ok(vec![PortfolioEvent::SubjectUnassigned {
                    subject_id,
                    reason: reason.into(),
                    unassigned_by: actor.sub,
                    unassigned_at: at,
                }])
            }
            PortfolioCommand::RecordVisit {
                visit_id,
                subject_id,
                visited_on,
                participants,
                learned,
                cases,
            } => {
                if self.visits.contains_key(&visit_id) {
                    return Err(PortfolioError::VisitAlreadyRecorded);
                }
                let assignment = self
                    .assignments
                    .get(&subject_id)
                    .ok_or(PortfolioError::SubjectNotAssigned)?;
                if visited_on > today {
                    return Err(PortfolioError::VisitDateInFuture);
                }
                if visited_on < assignment.assigned_on {
                    return Err(PortfolioError::VisitBeforeAssignment);
                }
                if participants.is_empty() {
                    return Err(PortfolioError::NoParticipants);
                }
                let mut case_ids: Vec<CaseId> = Vec::with_capacity(cases.len());
                for case in cases {
                    if case.enterprise_id != subject_id {
                        return Err(PortfolioError::CaseOfAnotherSubject);
                    }
                    if case_ids.contains(&case.case_id) {
                        return Err(PortfolioError::CaseAlreadyLinked);
                    }
                    case_ids.push(case.case_id);
                }
                Ok(vec![PortfolioEvent::VisitRecorded {
                    visit_id,
                    subject_id,
                    visited_on,
                    participants: participants.into_iter().map(Into::into).collect(),
                    learned: learned.into(),
                    case_ids,
                    recorded_by: actor.sub,
                    recorded_at: at,
                }])
            }
            PortfolioCommand::LinkCase { visit_id, case } => {
                let visit = self
                    .visits
                    .get(&visit_id)
                    .ok_or(PortfolioError::VisitNotFound)?;
                if case.enterprise_id != visit.subject_id {
                    return Err(PortfolioError::CaseOfAnotherSubject);
                }
                if visit.case_ids.contains(&case.case_id) {
                    return Err(PortfolioError::CaseAlreadyLinked);
                }
                Ok(vec![PortfolioEvent::VisitCaseLinked {
                    visit_id,
                    case_id: case.case_id,
                    linked_by: actor.sub,
                    linked_at: at,
                }])
            }
        }
    }

    /// Evolves the state by one recorded event. Never fails.
    pub fn evolve(&mut self, event: &PortfolioEvent) {
        match event {
            PortfolioEvent::PortfolioCreated { owner, .. } => self.owner = Some(owner.clone()),
            PortfolioEvent::SubjectAssigned {
                subject_id,
                obligation,
                assigned_on,
                ..
            } => {
                self.assignments.insert(
                    subject_id.clone(),
                    Assignment {
                        obligation: *obligation,
                        assigned_on: *assigned_on,
                    },
                );
            }
            PortfolioEvent::SubjectUnassigned { subject_id, .. } => {
                self.assignments.remove(subject_id);
            }
            PortfolioEvent::VisitRecorded {
                visit_id,
                subject_id,
                case_ids,
                ..
            } => {
                self.visits.insert(
                    *visit_id,
                    VisitState {
                        subject_id: subject_id.clone(),
                        case_ids: case_ids.clone(),
                    },
                );
            }
            PortfolioEvent::VisitCaseLinked {
                visit_id, case_id, ..
            } => {
                if let Some(visit) = self.visits.get_mut(visit_id) {
                    visit.case_ids.push(*case_id);
                }
            }
        }
    }
}

/// Who works on a portfolio: dispatchers on every one; for a leader's portfolio the leader and
/// the liaison officers; for a department's, that department's handlers and head.
fn check_member(
    owner: &PortfolioOwner,
    actor: &Actor,
    command: &'static str,
) -> Result<(), PortfolioError> {
    if actor.has(Role::Dispatcher) {
        return Ok(());
    }
    match owner {
        PortfolioOwner::Leader { user_id } => {
            if actor.has(Role::LiaisonOfficer)
                || (actor.has(Role::DistrictLeader) && actor.sub.as_str() == user_id.as_str())
            {
                return Ok(());
            }
        }
        PortfolioOwner::Department { department_id } => {
            if actor.has_any(DEPARTMENT_STAFF) && actor.acts_for(department_id.as_str()) {
                return Ok(());
            }
        }
    }
    if actor.has_any(&[
        Role::DistrictLeader,
        Role::LiaisonOfficer,
        Role::DepartmentHandler,
        Role::DepartmentHead,
    ]) {
        Err(PortfolioError::NotPortfolioMember)
    } else {
        Err(PortfolioError::RoleNotAllowed { command })
    }
}

impl Aggregate for LiaisonPortfolio {
    const TYPE: &'static str = "LiaisonPortfolio";
    type Command = Authored<PortfolioCommand>;
    type Event = PortfolioEvent;
    type Error = PortfolioError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), PortfolioError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: PortfolioEvent) {
        self.evolve(&event);
    }
}

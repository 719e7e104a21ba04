//! Projection `cases`: the current state of every enterprise case, with list and filter queries.
//!
//! Rows: `case_view` (one per case, the whole [`CaseView`] as a JSON document beside the columns
//! lists filter on) and `case_departments` (which departments a case involves, for handler
//! visibility). `list_order` numbers cases in the order the feed registered them, so a rebuild
//! numbers them identically.

use caseledger_domain::case::{
    CaseEvent, CaseSource, CaseStatus, DeadlineKind, EnterpriseCase, Evidence, Resolution,
    Threshold, Timer, Urgency,
};
use caseledger_domain::{Role, SubjectId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Bind, Database, StoreError};
use crate::documents::{Column, Document, DocumentProjection, Row, Rows, Table};
use crate::feed::FeedEvent;

/// The aggregate type name of enterprise cases in the events table.
pub const AGGREGATE_TYPE: &str = "EnterpriseCase";

/// The lead department's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseView {
    /// The department that answered.
    pub department: String,
    /// How it was resolved.
    pub resolution: Resolution,
    /// The answer.
    pub text: String,
    /// The legal or policy basis.
    pub basis: Option<String>,
    /// When.
    pub responded_at: DateTime<Utc>,
    /// Supporting documents.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

/// The rating of the handling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingView {
    /// Satisfaction 1 to 5.
    pub satisfaction: u8,
    /// Whether the enterprise considers the problem resolved.
    pub resolved: bool,
    /// An optional comment.
    pub comment: Option<String>,
    /// `enterprise` or `dispatcher` (follow-up call).
    pub rated_as: Role,
    /// When.
    pub rated_at: DateTime<Utc>,
}

/// An update shown to the enterprise and the public, under a department's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicUpdateView {
    /// The department it is shown under.
    pub department: String,
    /// The update.
    pub text: String,
    /// When.
    pub posted_at: DateTime<Utc>,
}

/// A timer that fired: a warning, a breach or an escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    /// `warn50`, `warn80`, `breach` or `escalation`.
    pub kind: String,
    /// Which deadline.
    pub deadline: DeadlineKind,
    /// The cycle.
    pub cycle: u32,
    /// When.
    pub at: DateTime<Utc>,
    /// For an escalation, the leaders it went to.
    #[serde(default)]
    pub leaders: Vec<String>,
}

/// The appeal against the current rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppealView {
    /// `pending`, `upheld` or `rejected`.
    pub status: String,
    /// Why the department appealed.
    pub reason: String,
    /// The decision's reason.
    pub decision: Option<String>,
}

/// The current state of one case, as stored in the `cases` projection. Handler ids are kept for
/// staff; the HTTP layer decides who sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseView {
    /// The case id.
    pub case_id: String,
    /// The public case number.
    #[serde(default)]
    pub case_number: Option<String>,
    /// The enterprise or talent.
    pub enterprise_id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Category label.
    pub category: String,
    /// Normal or urgent.
    pub urgency: Urgency,
    /// Where it came from.
    pub source: CaseSource,
    /// Current status.
    pub status: CaseStatus,
    /// Responsible department.
    pub lead_department: Option<String>,
    /// Assisting departments.
    pub co_departments: Vec<String>,
    /// The dispatcher's note to the departments.
    pub dispatch_note: Option<String>,
    /// The SLA policy version the due dates come from.
    pub sla_policy_version: Option<String>,
    /// Acceptance due.
    pub accept_due: Option<DateTime<Utc>>,
    /// Response due.
    pub respond_due: Option<DateTime<Utc>>,
    /// First contact due.
    #[serde(default)]
    pub first_contact_due: Option<DateTime<Utc>>,
    /// Closing due.
    #[serde(default)]
    pub resolve_due: Option<DateTime<Utc>>,
    /// The earliest open deadline (none while paused or ended).
    #[serde(default)]
    pub next_due: Option<DateTime<Utc>>,
    /// Registered at.
    pub registered_at: DateTime<Utc>,
    /// Registered by (user id).
    pub registered_by: String,
    /// Dispatched at.
    pub dispatched_at: Option<DateTime<Utc>>,
    /// Accepted at.
    pub accepted_at: Option<DateTime<Utc>>,
    /// Accepted by (handler id; private to staff).
    pub accepted_by: Option<String>,
    /// First contact of the current cycle.
    #[serde(default)]
    pub first_contact_at: Option<DateTime<Utc>>,
    /// Responded by (handler id; private to staff).
    pub responded_by: Option<String>,
    /// The answer.
    pub response: Option<ResponseView>,
    /// The rating.
    pub rating: Option<RatingView>,
    /// The appeal against the rating.
    #[serde(default)]
    pub appeal: Option<AppealView>,
    /// Closed at.
    pub closed_at: Option<DateTime<Utc>>,
    /// Number of internal notes.
    pub internal_notes: u32,
    /// Updates shown to the enterprise and the public.
    #[serde(default)]
    pub public_updates: Vec<PublicUpdateView>,
    /// Warnings, breaches and escalations that fired.
    #[serde(default)]
    pub alerts: Vec<AlertView>,
    /// How many times the case was returned.
    #[serde(default)]
    pub returns: u32,
    /// How many times the dispatcher moved it to another department.
    #[serde(default)]
    pub reassignments: u32,
    /// Contacts logged.
    #[serde(default)]
    pub contacts: u32,
    /// Follow-up attempts in the current cycle.
    #[serde(default)]
    pub follow_up_attempts: u32,
    /// An extension request waits for a decision.
    #[serde(default)]
    pub extension_pending: bool,
    /// Extensions granted.
    #[serde(default)]
    pub extensions_granted: u32,
    /// A pause request waits for a decision.
    #[serde(default)]
    pub pause_pending: bool,
    /// The handling cycle (reopens add one).
    #[serde(default)]
    pub cycle: u32,
    /// Exempted from scoring, with the reason code.
    #[serde(default)]
    pub exemption: Option<String>,
    /// Why it ended, for declined, withdrawn and merged cases.
    #[serde(default)]
    pub ended_reason: Option<String>,
    /// A withdrawal after dispatch waits for a quality check.
    #[serde(default)]
    pub quality_check: bool,
    /// The case this one was merged into.
    #[serde(default)]
    pub merged_into: Option<String>,
    /// The case's version (sequence of its last event).
    pub version: i64,
    /// When the last event happened.
    pub updated_at: DateTime<Utc>,
    /// The aggregate's own state, evolved by the same code as the command side: the source of
    /// timers and due dates, so the view and the rules can never disagree.
    #[serde(default)]
    pub state: EnterpriseCase,
    /// SHA-256 of the enterprise's verifier code (never shown).
    #[serde(default)]
    pub verifier_sha256: Option<String>,
}

fn wire<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The `cases` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct CasesProjection;

impl DocumentProjection for CasesProjection {
    const NAME: &'static str = "cases";
    type Documents = CaseView;
}

impl Document for CaseView {
    type Event = CaseEvent;
    const AGGREGATE_TYPE: &'static str = AGGREGATE_TYPE;
    const TABLE: Table = Table::new("case_view", "case_id")
        .numbered()
        .versioned()
        .with_columns(&[
            Column::new("status"),
            Column::fixed("enterprise_id"),
            Column::new("lead_department"),
            Column::fixed("category"),
            Column::new("next_due_ms"),
            Column::fixed("case_number"),
            Column::new("verifier_sha256"),
        ])
        .with_derived(&[
            // Which departments a case involves, for lists and handler visibility.
            Rows::new(
                "case_departments",
                "case_id",
                &["department_id", "case_id", "list_order"],
            ),
            // The timers still to fire, from the aggregate state: one row per deadline and
            // threshold. The timer runner reads them; firing one removes it here.
            Rows::new(
                "case_timers",
                "case_id",
                &["case_id", "deadline", "threshold", "cycle", "fire_at_ms"],
            ),
        ]);

    fn create(_: &FeedEvent, event: &CaseEvent) -> Result<Self, &'static str> {
        let CaseEvent::CaseRegistered {
            case_id,
            enterprise_id,
            title,
            description,
            category,
            urgency,
            source,
            registered_by,
            registered_at,
            case_number,
            verifier_sha256,
        } = event
        else {
            return Err("event for a case that was never registered");
        };
        Ok(Self {
            case_id: case_id.to_string(),
            case_number: case_number.clone(),
            enterprise_id: enterprise_id.to_string(),
            title: title.clone(),
            description: description.clone(),
            category: category.clone(),
            urgency: *urgency,
            source: *source,
            status: CaseStatus::Registered,
            lead_department: None,
            co_departments: Vec::new(),
            dispatch_note: None,
            sla_policy_version: None,
            accept_due: None,
            respond_due: None,
            first_contact_due: None,
            resolve_due: None,
            next_due: None,
            registered_at: *registered_at,
            registered_by: registered_by.to_string(),
            dispatched_at: None,
            accepted_at: None,
            accepted_by: None,
            first_contact_at: None,
            responded_by: None,
            response: None,
            rating: None,
            appeal: None,
            closed_at: None,
            internal_notes: 0,
            public_updates: Vec::new(),
            alerts: Vec::new(),
            returns: 0,
            reassignments: 0,
            contacts: 0,
            follow_up_attempts: 0,
            extension_pending: false,
            extensions_granted: 0,
            pause_pending: false,
            cycle: 0,
            exemption: None,
            ended_reason: None,
            quality_check: false,
            merged_into: None,
            version: 0,
            updated_at: *registered_at,
            state: EnterpriseCase::default(),
            verifier_sha256: verifier_sha256.clone(),
        })
    }

    fn evolve(&mut self, feed: &FeedEvent, event: &CaseEvent) {
        self.version = feed.sequence;
        self.state.evolve(event);
        self.updated_at = event.at();
        match event {
            CaseEvent::CaseRegistered { .. } => {}
            CaseEvent::CaseDeclined { reason, text, .. } => {
                self.ended_reason = Some(format!("{}: {text}", wire(reason)));
            }
            CaseEvent::CaseDispatched {
                lead_department,
                co_departments,
                note,
                sla_policy_version,
                dispatched_at,
                ..
            } => {
                self.lead_department = Some(lead_department.to_string());
                self.co_departments = co_departments.iter().map(ToString::to_string).collect();
                self.dispatch_note = note.clone();
                if self.sla_policy_version.is_none() {
                    self.sla_policy_version = Some(sla_policy_version.clone());
                }
                self.dispatched_at = Some(*dispatched_at);
            }
            CaseEvent::CaseAccepted {
                accepted_by,
                accepted_at,
                ..
            } => {
                self.accepted_at = Some(*accepted_at);
                self.accepted_by = Some(accepted_by.to_string());
            }
            CaseEvent::CaseReturned { .. } => self.returns += 1,
            CaseEvent::CaseReassigned { .. } => {
                self.reassignments += 1;
                self.accepted_at = None;
                self.accepted_by = None;
            }
            CaseEvent::ContactLogged {
                first,
                contacted_at,
                ..
            } => {
                self.contacts += 1;
                if *first {
                    self.first_contact_at = Some(*contacted_at);
                }
            }
            CaseEvent::InternalNoteAdded { .. } => self.internal_notes += 1,
            CaseEvent::PublicUpdatePosted {
                department,
                text,
                posted_at,
                ..
            } => self.public_updates.push(PublicUpdateView {
                department: department.to_string(),
                text: text.clone(),
                posted_at: *posted_at,
            }),
            CaseEvent::ExtensionRequested { .. } => self.extension_pending = true,
            CaseEvent::ExtensionDecided { approved, .. } => {
                self.extension_pending = false;
                if *approved {
                    self.extensions_granted += 1;
                }
            }
            CaseEvent::PauseRequested { .. } => self.pause_pending = true,
            CaseEvent::PauseDecided { .. } => self.pause_pending = false,
            CaseEvent::ClockResumed { .. } => {}
            CaseEvent::CaseResponded {
                department,
                resolution,
                text,
                basis,
                responded_by,
                responded_at,
                evidence,
            } => {
                self.responded_by = Some(responded_by.to_string());
                self.response = Some(ResponseView {
                    department: department.to_string(),
                    resolution: *resolution,
                    text: text.clone(),
                    basis: basis.clone(),
                    responded_at: *responded_at,
                    evidence: evidence.clone(),
                });
            }
            CaseEvent::FollowUpRecorded { attempt, .. } => self.follow_up_attempts = *attempt,
            CaseEvent::CaseRated {
                satisfaction,
                resolved,
                comment,
                rated_as,
                rated_at,
                ..
            } => {
                self.rating = Some(RatingView {
                    satisfaction: satisfaction.get(),
                    resolved: *resolved,
                    comment: comment.clone(),
                    rated_as: *rated_as,
                    rated_at: *rated_at,
                });
            }
            CaseEvent::RatingAppealed { reason, .. } => {
                self.appeal = Some(AppealView {
                    status: "pending".into(),
                    reason: reason.clone(),
                    decision: None,
                });
            }
            CaseEvent::AppealDecided { upheld, reason, .. } => {
                if let Some(appeal) = &mut self.appeal {
                    appeal.status = if *upheld { "upheld" } else { "rejected" }.into();
                    appeal.decision = Some(reason.clone());
                }
            }
            CaseEvent::CaseReopened { .. } => {
                // The earlier cycle's answer and rating stay in the history; the view shows the
                // current cycle.
                self.responded_by = None;
                self.response = None;
                self.rating = None;
                self.appeal = None;
                self.closed_at = None;
                self.follow_up_attempts = 0;
            }
            CaseEvent::CaseWithdrawn {
                reason,
                quality_check,
                ..
            } => {
                self.ended_reason = Some(reason.clone());
                self.quality_check = *quality_check;
            }
            CaseEvent::ExemptionGranted { reason, .. } => self.exemption = Some(wire(reason)),
            CaseEvent::CaseMerged { into, reason, .. } => {
                self.merged_into = Some(into.to_string());
                self.ended_reason = Some(reason.clone());
            }
            CaseEvent::CaseClosed { closed_at, .. } => self.closed_at = Some(*closed_at),
            // Only the newest code opens the public lookup.
            CaseEvent::VerifierReissued {
                verifier_sha256, ..
            } => self.verifier_sha256 = Some(verifier_sha256.clone()),
            CaseEvent::DeadlineWarning {
                deadline,
                threshold,
                cycle,
                fired_at,
                ..
            } => self.alerts.push(AlertView {
                kind: threshold.as_str().into(),
                deadline: *deadline,
                cycle: *cycle,
                at: *fired_at,
                leaders: Vec::new(),
            }),
            CaseEvent::DeadlineBreached {
                deadline,
                cycle,
                fired_at,
                ..
            } => self.alerts.push(AlertView {
                kind: "breach".into(),
                deadline: *deadline,
                cycle: *cycle,
                at: *fired_at,
                leaders: Vec::new(),
            }),
            CaseEvent::CaseEscalated {
                deadline,
                cycle,
                leaders,
                escalated_at,
            } => self.alerts.push(AlertView {
                kind: "escalation".into(),
                deadline: *deadline,
                cycle: *cycle,
                at: *escalated_at,
                leaders: leaders.iter().map(ToString::to_string).collect(),
            }),
        }
        self.sync_clock();
    }

    fn columns(&self, row: &mut Vec<Bind>) {
        row.extend([
            Bind::Text(self.status.as_str().to_owned()),
            Bind::Text(self.enterprise_id.clone()),
            Bind::OptionalText(self.lead_department.clone()),
            Bind::Text(self.category.clone()),
            Bind::OptionalInt(self.next_due.map(|due| due.timestamp_millis())),
            Bind::OptionalText(self.case_number.clone()),
            Bind::OptionalText(self.verifier_sha256.clone()),
        ]);
    }

    fn derived(row: &Row<Self>, tables: &mut [Vec<Bind>]) {
        let [departments, timers] = tables else {
            return;
        };
        for department in row.view.departments() {
            departments.extend([
                Bind::Text(department.to_owned()),
                Bind::Text(row.key.clone()),
                Bind::Int(row.list_order),
            ]);
        }
        for (timer, fire_at) in row.view.state.pending_timers() {
            timers.extend([
                Bind::Text(row.key.clone()),
                Bind::Text(timer.deadline.as_str().to_owned()),
                Bind::Text(timer.threshold.as_str().to_owned()),
                Bind::Int(i64::from(timer.cycle)),
                Bind::Int(fire_at.timestamp_millis()),
            ]);
        }
    }
}

impl CaseView {
    /// Status, departments and due dates come from the aggregate state, so they follow the same
    /// rules: a reassignment or a rerouting return moves the lead (and with it the queues and
    /// who may read the case), a return to the dispatcher leaves the case with no department.
    fn sync_clock(&mut self) {
        if let Some(status) = self.state.status {
            self.status = status;
        }
        self.lead_department = self
            .state
            .handling
            .lead_department
            .as_ref()
            .map(ToString::to_string);
        self.co_departments = self
            .state
            .handling
            .co_departments
            .iter()
            .map(ToString::to_string)
            .collect();
        self.cycle = self.state.clock.cycle;
        let due = |kind| self.state.clock.deadlines.get(&kind).map(|d| d.due);
        self.accept_due = due(DeadlineKind::Accept).or(self.accept_due);
        self.first_contact_due = due(DeadlineKind::FirstContact);
        self.respond_due = due(DeadlineKind::Respond);
        self.resolve_due = due(DeadlineKind::Resolve);
        self.next_due = self.state.next_due();
    }

    /// The departments the case involves: the lead first, then co-departments.
    pub fn departments(&self) -> impl Iterator<Item = &str> {
        self.lead_department
            .iter()
            .chain(&self.co_departments)
            .map(String::as_str)
    }

    /// The open deadlines that have passed at `now`.
    pub fn overdue_at(&self, now: DateTime<Utc>) -> Vec<DeadlineKind> {
        DeadlineKind::ALL
            .into_iter()
            .filter(|kind| {
                self.state
                    .open_deadline(*kind)
                    .is_some_and(|deadline| deadline.due <= now)
            })
            .filter(|_| {
                self.state
                    .status
                    .is_some_and(|status| !status.is_final() && status != CaseStatus::Paused)
            })
            .collect()
    }
}

/// Filters of the case list. All are optional and combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// Only cases in this status.
    pub status: Option<CaseStatus>,
    /// Only cases this department leads or assists.
    pub department: Option<String>,
    /// Only cases of this enterprise.
    pub enterprise_id: Option<SubjectId>,
    /// Only the case with this public case number.
    pub case_number: Option<String>,
    /// Only cases registered before this list position (the cursor of the previous page).
    pub before: Option<i64>,
    /// At most this many (1 to 200).
    pub limit: i64,
}

/// One page of cases, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePage {
    /// The cases.
    pub cases: Vec<CaseView>,
    /// The cursor of the next page, if there is one.
    pub next_before: Option<i64>,
}

impl Database {
    /// One case from the `cases` projection.
    pub async fn case_view(&self, case_id: &str) -> Result<Option<CaseView>, StoreError> {
        self.document(case_id).await
    }

    /// A page of cases matching `filter`, newest registration first.
    pub async fn list_cases(&self, filter: &CaseFilter) -> Result<CasePage, StoreError> {
        let mut sql = String::from("SELECT v.document, v.list_order FROM case_view v");
        let mut conditions: Vec<String> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        if let Some(department) = &filter.department {
            sql.push_str(" JOIN case_departments d ON d.case_id = v.case_id");
            binds.push(Bind::Text(department.clone()));
            conditions.push(format!("d.department_id = ${}", binds.len()));
        }
        if let Some(status) = filter.status {
            binds.push(Bind::Text(status.as_str().to_owned()));
            conditions.push(format!("v.status = ${}", binds.len()));
        }
        if let Some(enterprise_id) = &filter.enterprise_id {
            binds.push(Bind::Text(enterprise_id.to_string()));
            conditions.push(format!("v.enterprise_id = ${}", binds.len()));
        }
        if let Some(case_number) = &filter.case_number {
            binds.push(Bind::Text(case_number.clone()));
            conditions.push(format!("v.case_number = ${}", binds.len()));
        }
        if let Some(before) = filter.before {
            binds.push(Bind::Int(before));
            conditions.push(format!("v.list_order < ${}", binds.len()));
        }
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        let (cases, next_before) = self
            .document_page(&sql, "v.list_order", binds, filter.limit)
            .await?;
        Ok(CasePage { cases, next_before })
    }
}

/// A timer whose time has come, from the `case_timers` rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    /// The case.
    pub case_id: String,
    /// The case's enterprise (escalations go to the leaders who liaise with it).
    pub enterprise_id: String,
    /// Which timer.
    pub timer: Timer,
    /// When it was due to fire.
    pub fire_at: DateTime<Utc>,
}

/// Which cases a queue holds. Queues are sorted by the earliest open deadline, then by
/// registration; cases without a running deadline come last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    /// Only cases this department leads.
    pub lead_department: Option<String>,
    /// Only cases in one of these statuses (empty = any).
    pub statuses: Vec<CaseStatus>,
    /// Only cases of these enterprises (`Some(empty)` = none).
    pub enterprise_ids: Option<Vec<String>>,
    /// Only cases with an open deadline at or before this instant (overdue).
    pub due_by: Option<DateTime<Utc>>,
    /// At most this many (1 to 500).
    pub limit: i64,
}

/// The statuses in which a case still needs work from someone.
pub const OPEN_STATUSES: [CaseStatus; 5] = [
    CaseStatus::Registered,
    CaseStatus::Dispatched,
    CaseStatus::Accepted,
    CaseStatus::Paused,
    CaseStatus::Responded,
];

fn parse_deadline(text: &str) -> Option<DeadlineKind> {
    DeadlineKind::ALL
        .into_iter()
        .find(|kind| kind.as_str() == text)
}

fn parse_threshold(text: &str) -> Option<Threshold> {
    Threshold::ALL
        .into_iter()
        .find(|threshold| threshold.as_str() == text)
}

impl Database {
    /// Timers due at `now`, earliest first, at most `limit`.
    pub async fn due_timers(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueTimer>, StoreError> {
        const SQL: &str =
            "SELECT t.case_id, v.enterprise_id, t.deadline, t.threshold, t.cycle, t.fire_at_ms \
             FROM case_timers t JOIN case_view v ON v.case_id = t.case_id \
             WHERE t.fire_at_ms <= $1 ORDER BY t.fire_at_ms, t.case_id LIMIT $2";
        let rows: Vec<(String, String, String, String, i64, i64)> =
            with_pool!(self, |pool| sqlx::query_as(SQL)
                .bind(now.timestamp_millis())
                .bind(limit)
                .fetch_all(pool)
                .await)?;
        Ok(rows
            .into_iter()
            .filter_map(
                |(case_id, enterprise_id, deadline, threshold, cycle, fire_at)| {
                    Some(DueTimer {
                        case_id,
                        enterprise_id,
                        timer: Timer {
                            deadline: parse_deadline(&deadline)?,
                            threshold: parse_threshold(&threshold)?,
                            cycle: u32::try_from(cycle).ok()?,
                        },
                        fire_at: DateTime::from_timestamp_millis(fire_at)?,
                    })
                },
            )
            .collect())
    }

    /// The earliest time any timer is due, if any is pending.
    pub async fn next_timer_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<i64> = with_pool!(self, |pool| sqlx::query_scalar(
            "SELECT min(fire_at_ms) FROM case_timers"
        )
        .fetch_one(pool)
        .await)?;
        Ok(next.and_then(DateTime::from_timestamp_millis))
    }

    /// Cases with this public case number (normally one).
    pub async fn cases_by_number(&self, case_number: &str) -> Result<Vec<CaseView>, StoreError> {
        self.documents(
            "SELECT document FROM case_view WHERE case_number = $1 LIMIT 10",
            &[Bind::Text(case_number.to_owned())],
        )
        .await
    }

    /// A queue of cases, by earliest open deadline. Any number of enterprise ids: beyond one
    /// statement's worth they are queried in chunks and merged in the same order.
    pub async fn case_queue(&self, filter: &QueueFilter) -> Result<Vec<CaseView>, StoreError> {
        const IDS_PER_QUERY: usize = 500;
        let Some(ids) = filter
            .enterprise_ids
            .as_ref()
            .filter(|ids| ids.len() > IDS_PER_QUERY)
        else {
            return self.case_queue_once(filter).await;
        };
        let mut views = Vec::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let part = QueueFilter {
                enterprise_ids: Some(chunk.to_vec()),
                ..filter.clone()
            };
            views.extend(self.case_queue_once(&part).await?);
        }
        views.sort_by(|a, b| {
            (
                a.next_due.is_none(),
                a.next_due,
                a.registered_at,
                &a.case_id,
            )
                .cmp(&(
                    b.next_due.is_none(),
                    b.next_due,
                    b.registered_at,
                    &b.case_id,
                ))
        });
        views.truncate(usize::try_from(filter.limit.clamp(1, 500)).unwrap_or(500));
        Ok(views)
    }

    async fn case_queue_once(&self, filter: &QueueFilter) -> Result<Vec<CaseView>, StoreError> {
        let mut conditions: Vec<String> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        if let Some(department) = &filter.lead_department {
            binds.push(Bind::Text(department.clone()));
            conditions.push(format!("lead_department = ${}", binds.len()));
        }
        if !filter.statuses.is_empty() {
            let first = binds.len() + 1;
            for status in &filter.statuses {
                binds.push(Bind::Text(status.as_str().to_owned()));
            }
            let placeholders: Vec<String> =
                (first..=binds.len()).map(|n| format!("${n}")).collect();
            conditions.push(format!("status IN ({})", placeholders.join(", ")));
        }
        if let Some(enterprise_ids) = &filter.enterprise_ids {
            if enterprise_ids.is_empty() {
                return Ok(Vec::new());
            }
            let first = binds.len() + 1;
            for id in enterprise_ids {
                binds.push(Bind::Text(id.clone()));
            }
            let placeholders: Vec<String> =
                (first..=binds.len()).map(|n| format!("${n}")).collect();
            conditions.push(format!("enterprise_id IN ({})", placeholders.join(", ")));
        }
        if let Some(due_by) = filter.due_by {
            binds.push(Bind::Int(due_by.timestamp_millis()));
            conditions.push(format!("next_due_ms <= ${}", binds.len()));
        }
        let mut sql = String::from("SELECT document FROM case_view");
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        binds.push(Bind::Int(filter.limit.clamp(1, 500)));
        sql.push_str(&format!(
            " ORDER BY CASE WHEN next_due_ms IS NULL THEN 1 ELSE 0 END, next_due_ms, list_order LIMIT ${}",
            binds.len()
        ));
        self.documents(&sql, &binds).await
    }
}

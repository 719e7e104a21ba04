//! Projection `cases`: the current state of every enterprise case, with list and filter queries.
//!
//! Rows: `case_view` (one per case, the whole [`CaseView`] as a JSON document beside the columns
//! lists filter on) and `case_departments` (which departments a case involves, for handler
//! visibility). `list_order` numbers cases in the order the feed registered them, so a rebuild
//! numbers them identically.

use std::collections::HashMap;

use async_trait::async_trait;
use caseledger_domain::case::{CaseEvent, CaseSource, CaseStatus, Resolution, Urgency};
use caseledger_domain::{Role, SubjectId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{
    list_placeholders, values_placeholders, Bind, Database, StoreError, Tx, ROWS_PER_STATEMENT,
};
use crate::feed::FeedEvent;
use crate::projector::{Projection, ProjectionError};

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

/// The current state of one case, as stored in the `cases` projection. Handler ids are kept for
/// staff; the HTTP layer decides who sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseView {
    /// The case id.
    pub case_id: String,
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
    /// Responded by (handler id; private to staff).
    pub responded_by: Option<String>,
    /// The answer.
    pub response: Option<ResponseView>,
    /// The rating.
    pub rating: Option<RatingView>,
    /// Closed at.
    pub closed_at: Option<DateTime<Utc>>,
    /// Number of internal notes.
    pub internal_notes: u32,
    /// The case's version (sequence of its last event).
    pub version: i64,
    /// When the last event happened.
    pub updated_at: DateTime<Utc>,
}

impl CaseView {
    fn registered(event: &CaseEvent) -> Option<Self> {
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
        } = event
        else {
            return None;
        };
        Some(Self {
            case_id: case_id.to_string(),
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
            registered_at: *registered_at,
            registered_by: registered_by.to_string(),
            dispatched_at: None,
            accepted_at: None,
            accepted_by: None,
            responded_by: None,
            response: None,
            rating: None,
            closed_at: None,
            internal_notes: 0,
            version: 0,
            updated_at: *registered_at,
        })
    }

    fn evolve(&mut self, event: &CaseEvent) {
        match event {
            CaseEvent::CaseRegistered { .. } => {}
            CaseEvent::CaseDispatched {
                lead_department,
                co_departments,
                note,
                sla_policy_version,
                accept_due,
                respond_due,
                dispatched_at,
                ..
            } => {
                self.status = CaseStatus::Dispatched;
                self.lead_department = Some(lead_department.to_string());
                self.co_departments = co_departments.iter().map(ToString::to_string).collect();
                self.dispatch_note = note.clone();
                self.sla_policy_version = Some(sla_policy_version.clone());
                self.accept_due = Some(*accept_due);
                self.respond_due = Some(*respond_due);
                self.dispatched_at = Some(*dispatched_at);
                self.updated_at = *dispatched_at;
            }
            CaseEvent::CaseAccepted {
                accepted_by,
                accepted_at,
                ..
            } => {
                self.status = CaseStatus::Accepted;
                self.accepted_at = Some(*accepted_at);
                self.accepted_by = Some(accepted_by.to_string());
                self.updated_at = *accepted_at;
            }
            CaseEvent::CaseResponded {
                department,
                resolution,
                text,
                basis,
                responded_by,
                responded_at,
            } => {
                self.status = CaseStatus::Responded;
                self.responded_by = Some(responded_by.to_string());
                self.response = Some(ResponseView {
                    department: department.to_string(),
                    resolution: *resolution,
                    text: text.clone(),
                    basis: basis.clone(),
                    responded_at: *responded_at,
                });
                self.updated_at = *responded_at;
            }
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
                self.updated_at = *rated_at;
            }
            CaseEvent::InternalNoteAdded { added_at, .. } => {
                self.internal_notes += 1;
                self.updated_at = *added_at;
            }
            CaseEvent::CaseClosed { closed_at, .. } => {
                self.status = CaseStatus::Closed;
                self.closed_at = Some(*closed_at);
                self.updated_at = *closed_at;
            }
        }
    }

    /// The departments the case involves: the lead first, then co-departments.
    pub fn departments(&self) -> impl Iterator<Item = &str> {
        self.lead_department
            .iter()
            .chain(&self.co_departments)
            .map(String::as_str)
    }
}

/// The `cases` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct CasesProjection;

struct Touched {
    view: CaseView,
    list_order: i64,
}

#[async_trait]
impl Projection for CasesProjection {
    fn name(&self) -> &'static str {
        "cases"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["case_view", "case_departments"]
    }

    async fn apply(&self, tx: &mut Tx, events: &[FeedEvent]) -> Result<(), ProjectionError> {
        // Read every touched case once, evolve in memory, write each once: a handful of
        // statements per batch instead of several per event.
        let mut parsed = Vec::new();
        let mut order: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for event in events
            .iter()
            .filter(|event| event.aggregate_type == AGGREGATE_TYPE)
        {
            let case_event: CaseEvent = serde_json::from_str(&event.payload)
                .map_err(|error| ProjectionError::event(event, error))?;
            if seen.insert(event.aggregate_id.as_str()) {
                order.push(event.aggregate_id.clone());
            }
            parsed.push((event, case_event));
        }
        if parsed.is_empty() {
            return Ok(());
        }
        let mut touched = load_many(tx, &order).await?;
        let mut next_list_order: Option<i64> = None;
        for (event, case_event) in parsed {
            if !touched.contains_key(&event.aggregate_id) {
                let Some(view) = CaseView::registered(&case_event) else {
                    return Err(ProjectionError::event(
                        event,
                        "event for a case that was never registered",
                    ));
                };
                let list_order = match next_list_order {
                    Some(n) => n,
                    None => max_list_order(tx).await? + 1,
                };
                next_list_order = Some(list_order + 1);
                touched.insert(event.aggregate_id.clone(), Touched { view, list_order });
            }
            let entry = touched
                .get_mut(&event.aggregate_id)
                .expect("inserted above");
            entry.view.evolve(&case_event);
            entry.view.version = event.sequence;
        }
        let entries: Vec<&Touched> = order
            .iter()
            .filter_map(|case_id| touched.get(case_id))
            .collect();
        store_many(tx, &entries).await
    }

    fn checksum_sql(&self) -> &'static str {
        "SELECT case_id || '|' || list_order || '|' || status || '|' || version || '|' || document AS row \
           FROM case_view ORDER BY case_id"
    }
}

/// The stored views of `case_ids` (those that exist).
async fn load_many(
    tx: &mut Tx,
    case_ids: &[String],
) -> Result<HashMap<String, Touched>, ProjectionError> {
    let mut found = HashMap::with_capacity(case_ids.len());
    for chunk in case_ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT case_id, document, list_order FROM case_view WHERE case_id IN ({})",
            list_placeholders(chunk.len())
        );
        let binds: Vec<Bind> = chunk.iter().map(|id| Bind::Text(id.clone())).collect();
        let rows: Vec<(String, String, i64)> =
            with_tx!(tx, |conn| bind_all!(sqlx::query_as(&sql), &binds)
                .fetch_all(&mut *conn)
                .await)?;
        for (case_id, document, list_order) in rows {
            let view = serde_json::from_str(&document).map_err(StoreError::from)?;
            found.insert(case_id, Touched { view, list_order });
        }
    }
    Ok(found)
}

async fn max_list_order(tx: &mut Tx) -> Result<i64, ProjectionError> {
    let max: Option<i64> = with_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT max(list_order) FROM case_view"
    )
    .fetch_one(&mut *conn)
    .await)?;
    Ok(max.unwrap_or(0))
}

/// Upserts the views and replaces their department rows, a chunk of rows per statement.
async fn store_many(tx: &mut Tx, entries: &[&Touched]) -> Result<(), ProjectionError> {
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let mut binds = Vec::with_capacity(chunk.len() * 8);
        for entry in chunk {
            let view = &entry.view;
            binds.extend([
                Bind::Text(view.case_id.clone()),
                Bind::Int(entry.list_order),
                Bind::Text(view.status.as_str().to_owned()),
                Bind::Text(view.enterprise_id.clone()),
                Bind::OptionalText(view.lead_department.clone()),
                Bind::Text(view.category.clone()),
                Bind::Int(view.version),
                Bind::Text(serde_json::to_string(view).map_err(StoreError::from)?),
            ]);
        }
        let sql = format!(
            "INSERT INTO case_view (case_id, list_order, status, enterprise_id, lead_department, category, version, document) \
             VALUES {} ON CONFLICT (case_id) DO UPDATE SET status = excluded.status, \
                 lead_department = excluded.lead_department, version = excluded.version, document = excluded.document",
            values_placeholders(chunk.len(), 8)
        );
        tx.execute_with(&sql, &binds).await?;

        let ids: Vec<Bind> = chunk
            .iter()
            .map(|entry| Bind::Text(entry.view.case_id.clone()))
            .collect();
        let sql = format!(
            "DELETE FROM case_departments WHERE case_id IN ({})",
            list_placeholders(ids.len())
        );
        tx.execute_with(&sql, &ids).await?;

        let mut binds = Vec::new();
        for entry in chunk {
            for department in entry.view.departments() {
                binds.extend([
                    Bind::Text(department.to_owned()),
                    Bind::Text(entry.view.case_id.clone()),
                    Bind::Int(entry.list_order),
                ]);
            }
        }
        // Each case involves a handful of departments; keep statements within the bind limit.
        for rows in binds.chunks(3 * ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO case_departments (department_id, case_id, list_order) VALUES {}",
                values_placeholders(rows.len() / 3, 3)
            );
            tx.execute_with(&sql, rows).await?;
        }
    }
    Ok(())
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
    /// Only cases registered before this list position (the cursor of the previous page).
    pub before: Option<i64>,
    /// At most this many (1 to 200).
    pub limit: i64,
}

/// One page of cases, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasePage {
    /// The cases.
    pub cases: Vec<CaseView>,
    /// The cursor of the next page, if there is one.
    pub next_before: Option<i64>,
}

impl Database {
    /// One case from the `cases` projection.
    pub async fn case_view(&self, case_id: &str) -> Result<Option<CaseView>, StoreError> {
        let document: Option<String> = with_pool!(self, |pool| sqlx::query_scalar(
            "SELECT document FROM case_view WHERE case_id = $1"
        )
        .bind(case_id)
        .fetch_optional(pool)
        .await)?;
        Ok(document
            .map(|document| serde_json::from_str(&document))
            .transpose()?)
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
        if let Some(before) = filter.before {
            binds.push(Bind::Int(before));
            conditions.push(format!("v.list_order < ${}", binds.len()));
        }
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        let limit = filter.limit.clamp(1, 200);
        binds.push(Bind::Int(limit + 1));
        sql.push_str(&format!(
            " ORDER BY v.list_order DESC LIMIT ${}",
            binds.len()
        ));
        let rows: Vec<(String, i64)> = with_pool!(self, |pool| {
            let query = bind_all!(sqlx::query_as(&sql), &binds);
            query.fetch_all(pool).await
        })?;
        let has_more = rows.len() as i64 > limit;
        let mut cases = Vec::with_capacity(rows.len());
        let mut last_order = None;
        for (document, list_order) in rows.into_iter().take(limit as usize) {
            cases.push(serde_json::from_str(&document)?);
            last_order = Some(list_order);
        }
        Ok(CasePage {
            cases,
            next_before: if has_more { last_order } else { None },
        })
    }
}

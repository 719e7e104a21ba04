//! Projection `subjects`: the current record of every enterprise, institute, university and
//! talent, with list and filter queries.
//!
//! Rows: `subject_view` (one per subject, the whole [`SubjectView`] as a JSON document beside the
//! columns lists filter on). The document includes the private contact data: this crate does not
//! decide who may read it (the HTTP layer does). `list_order` numbers subjects in the order the
//! feed registered them, so a rebuild numbers them identically.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use caseledger_domain::subject::{ContactRecord, SubjectEvent, SubjectKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{
    list_placeholders, values_placeholders, Bind, Database, StoreError, Tx, ROWS_PER_STATEMENT,
};
use crate::feed::FeedEvent;
use crate::projector::{Projection, ProjectionError};

/// The aggregate type name of subjects in the events table.
pub const AGGREGATE_TYPE: &str = "Subject";

/// The current record of one subject, as stored in the `subjects` projection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectView {
    /// The subject id (what cases store as `enterprise_id`).
    pub subject_id: String,
    /// Current name.
    pub name: String,
    /// Kind.
    pub kind: SubjectKind,
    /// Industry label.
    pub industry: Option<String>,
    /// District area.
    pub district_area: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// Private contact data.
    pub contact: ContactRecord,
    /// Registered at.
    pub registered_at: DateTime<Utc>,
    /// Registered by (user id).
    pub registered_by: String,
    /// The subject's version (sequence of its last event).
    pub version: i64,
    /// When the last event happened.
    pub updated_at: DateTime<Utc>,
}

impl SubjectView {
    fn registered(event: &SubjectEvent) -> Option<Self> {
        let SubjectEvent::SubjectRegistered {
            subject_id,
            name,
            kind,
            industry,
            district_area,
            street,
            contact,
            registered_by,
            registered_at,
        } = event
        else {
            return None;
        };
        Some(Self {
            subject_id: subject_id.to_string(),
            name: name.clone(),
            kind: *kind,
            industry: industry.clone(),
            district_area: district_area.clone(),
            street: street.clone(),
            contact: contact.clone(),
            registered_at: *registered_at,
            registered_by: registered_by.to_string(),
            version: 0,
            updated_at: *registered_at,
        })
    }

    fn evolve(&mut self, event: &SubjectEvent) {
        match event {
            SubjectEvent::SubjectRegistered { .. } => {}
            SubjectEvent::SubjectContactUpdated {
                contact,
                updated_at,
                ..
            } => {
                self.contact = contact.clone();
                self.updated_at = *updated_at;
            }
            SubjectEvent::SubjectRenamed {
                name, renamed_at, ..
            } => {
                self.name = name.clone();
                self.updated_at = *renamed_at;
            }
        }
    }
}

/// The `subjects` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct SubjectsProjection;

struct Touched {
    view: SubjectView,
    list_order: i64,
}

#[async_trait]
impl Projection for SubjectsProjection {
    fn name(&self) -> &'static str {
        "subjects"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["subject_view"]
    }

    async fn apply(&self, tx: &mut Tx, events: &[FeedEvent]) -> Result<(), ProjectionError> {
        // As in `cases`: read every touched subject once, evolve in memory, write each once.
        let mut parsed = Vec::new();
        let mut order: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for event in events
            .iter()
            .filter(|event| event.aggregate_type == AGGREGATE_TYPE)
        {
            let subject_event: SubjectEvent = serde_json::from_str(&event.payload)
                .map_err(|error| ProjectionError::event(event, error))?;
            if seen.insert(event.aggregate_id.as_str()) {
                order.push(event.aggregate_id.clone());
            }
            parsed.push((event, subject_event));
        }
        if parsed.is_empty() {
            return Ok(());
        }
        let mut touched = load_many(tx, &order).await?;
        let mut next_list_order: Option<i64> = None;
        for (event, subject_event) in parsed {
            if !touched.contains_key(&event.aggregate_id) {
                let Some(view) = SubjectView::registered(&subject_event) else {
                    return Err(ProjectionError::event(
                        event,
                        "event for a subject that was never registered",
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
            entry.view.evolve(&subject_event);
            entry.view.version = event.sequence;
        }
        let entries: Vec<&Touched> = order.iter().filter_map(|id| touched.get(id)).collect();
        store_many(tx, &entries).await
    }

    fn checksum_sql(&self) -> &'static str {
        "SELECT subject_id || '|' || list_order || '|' || version || '|' || document AS row \
           FROM subject_view ORDER BY subject_id"
    }
}

async fn load_many(
    tx: &mut Tx,
    subject_ids: &[String],
) -> Result<HashMap<String, Touched>, ProjectionError> {
    let mut found = HashMap::with_capacity(subject_ids.len());
    for chunk in subject_ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT subject_id, document, list_order FROM subject_view WHERE subject_id IN ({})",
            list_placeholders(chunk.len())
        );
        let binds: Vec<Bind> = chunk.iter().map(|id| Bind::Text(id.clone())).collect();
        let rows: Vec<(String, String, i64)> =
            with_tx!(tx, |conn| bind_all!(sqlx::query_as(&sql), &binds)
                .fetch_all(&mut *conn)
                .await)?;
        for (subject_id, document, list_order) in rows {
            let view = serde_json::from_str(&document).map_err(StoreError::from)?;
            found.insert(subject_id, Touched { view, list_order });
        }
    }
    Ok(found)
}

async fn max_list_order(tx: &mut Tx) -> Result<i64, ProjectionError> {
    let max: Option<i64> = with_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT max(list_order) FROM subject_view"
    )
    .fetch_one(&mut *conn)
    .await)?;
    Ok(max.unwrap_or(0))
}

async fn store_many(tx: &mut Tx, entries: &[&Touched]) -> Result<(), ProjectionError> {
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let mut binds = Vec::with_capacity(chunk.len() * 6);
        for entry in chunk {
            let view = &entry.view;
            binds.extend([
                Bind::Text(view.subject_id.clone()),
                Bind::Int(entry.list_order),
                Bind::Text(view.kind.as_str().to_owned()),
                Bind::Text(view.name.clone()),
                Bind::Int(view.version),
                Bind::Text(serde_json::to_string(view).map_err(StoreError::from)?),
            ]);
        }
        let sql = format!(
            "INSERT INTO subject_view (subject_id, list_order, kind, name, version, document) \
             VALUES {} ON CONFLICT (subject_id) DO UPDATE SET name = excluded.name, \
                 version = excluded.version, document = excluded.document",
            values_placeholders(chunk.len(), 6)
        );
        tx.execute_with(&sql, &binds).await?;
    }
    Ok(())
}

/// Filters of the subject list. All are optional and combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectFilter {
    /// Only subjects of this kind.
    pub kind: Option<SubjectKind>,
    /// Only this subject (an enterprise listing itself).
    pub subject_id: Option<String>,
    /// Only subjects registered before this list position (the cursor of the previous page).
    pub before: Option<i64>,
    /// At most this many (1 to 200).
    pub limit: i64,
}

/// One page of subjects, newest registration first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectPage {
    /// The subjects.
    pub subjects: Vec<SubjectView>,
    /// The cursor of the next page, if there is one.
    pub next_before: Option<i64>,
}

impl Database {
    /// One subject from the `subjects` projection.
    pub async fn subject_view(&self, subject_id: &str) -> Result<Option<SubjectView>, StoreError> {
        let document: Option<String> = with_pool!(self, |pool| sqlx::query_scalar(
            "SELECT document FROM subject_view WHERE subject_id = $1"
        )
        .bind(subject_id)
        .fetch_optional(pool)
        .await)?;
        Ok(document
            .map(|document| serde_json::from_str(&document))
            .transpose()?)
    }

    /// A page of subjects matching `filter`, newest registration first.
    pub async fn list_subjects(&self, filter: &SubjectFilter) -> Result<SubjectPage, StoreError> {
        let mut sql = String::from("SELECT document, list_order FROM subject_view");
        let mut conditions: Vec<String> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        if let Some(kind) = filter.kind {
            binds.push(Bind::Text(kind.as_str().to_owned()));
            conditions.push(format!("kind = ${}", binds.len()));
        }
        if let Some(subject_id) = &filter.subject_id {
            binds.push(Bind::Text(subject_id.clone()));
            conditions.push(format!("subject_id = ${}", binds.len()));
        }
        if let Some(before) = filter.before {
            binds.push(Bind::Int(before));
            conditions.push(format!("list_order < ${}", binds.len()));
        }
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        let limit = filter.limit.clamp(1, 200);
        binds.push(Bind::Int(limit + 1));
        sql.push_str(&format!(" ORDER BY list_order DESC LIMIT ${}", binds.len()));
        let rows: Vec<(String, i64)> = with_pool!(self, |pool| {
            let query = bind_all!(sqlx::query_as(&sql), &binds);
            query.fetch_all(pool).await
        })?;
        let has_more = rows.len() as i64 > limit;
        let mut subjects = Vec::with_capacity(rows.len());
        let mut last_order = None;
        for (document, list_order) in rows.into_iter().take(limit as usize) {
            subjects.push(serde_json::from_str(&document)?);
            last_order = Some(list_order);
        }
        Ok(SubjectPage {
            subjects,
            next_before: if has_more { last_order } else { None },
        })
    }
}

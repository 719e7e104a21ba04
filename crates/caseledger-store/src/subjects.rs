//! Projection `subjects`: the current record of every enterprise, institute, university and
//! talent, with list and filter queries.
//!
//! Rows: `subject_view` (one per subject, the whole [`SubjectView`] as a JSON document beside the
//! columns lists filter on). The document includes the private contact data: this crate does not
//! decide who may read it (the HTTP layer does). `list_order` numbers subjects in the order the
//! feed registered them, so a rebuild numbers them identically.

use caseledger_domain::subject::{ContactRecord, SubjectEvent, SubjectKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Bind, Database, StoreError};
use crate::documents::{Column, Document, DocumentProjection, Table};
use crate::feed::FeedEvent;

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

/// The `subjects` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct SubjectsProjection;

impl DocumentProjection for SubjectsProjection {
    const NAME: &'static str = "subjects";
    type Documents = SubjectView;
}

impl Document for SubjectView {
    type Event = SubjectEvent;
    const AGGREGATE_TYPE: &'static str = AGGREGATE_TYPE;
    const TABLE: Table = Table::new("subject_view", "subject_id")
        .numbered()
        .versioned()
        .with_columns(&[Column::fixed("kind"), Column::new("name")]);

    fn create(_: &FeedEvent, event: &SubjectEvent) -> Result<Self, &'static str> {
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
            return Err("event for a subject that was never registered");
        };
        Ok(Self {
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

    fn evolve(&mut self, feed: &FeedEvent, event: &SubjectEvent) {
        self.version = feed.sequence;
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

    fn columns(&self, row: &mut Vec<Bind>) {
        row.extend([
            Bind::Text(self.kind.as_str().to_owned()),
            Bind::Text(self.name.clone()),
        ]);
    }
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
        self.document(subject_id).await
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
        let (subjects, next_before) = self
            .document_page(&sql, "list_order", binds, filter.limit)
            .await?;
        Ok(SubjectPage {
            subjects,
            next_before,
        })
    }
}

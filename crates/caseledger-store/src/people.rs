//! Projection `people`: the people directory, one row per listed person (`sub`), folded from the
//! `Person` stream. The name, roles, organisation and whether the person is active are beside
//! the document for the listing's filters; the contact record (e-mail, mobile) is only in the
//! document, and the API records every read of it.
//!
//! Rows: `people` (one per `sub`: `list_order`, `version`, `organisation`, `active` (0 or 1),
//! `roles` (the role names between commas, `,department_head,expert,`, so a role filter is one
//! `LIKE`), and the [`PersonView`] as a JSON document).

use caseledger_domain::person::{PersonContact, PersonEntry, PersonEvent};
use caseledger_domain::Role;
use serde::{Deserialize, Serialize};

use crate::db::{Bind, Database, StoreError};
use crate::documents::{Column, Document, DocumentProjection, Table};
use crate::feed::FeedEvent;

/// The aggregate type of directory entries in the events table.
pub const AGGREGATE_TYPE: &str = "Person";

/// One person of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonView {
    /// Whose entry.
    pub sub: String,
    /// The name.
    pub name: String,
    /// The roles (sorted).
    pub roles: Vec<Role>,
    /// The organisation.
    pub organisation: Option<String>,
    /// How to reach them (personal data).
    pub contact: PersonContact,
    /// Whether they receive notifications.
    pub active: bool,
    /// The latest change: who and when.
    pub changed_by: String,
    /// When (RFC 3339).
    pub changed_at: String,
    /// The stream's version.
    pub version: i64,
}

/// The `people` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct PeopleProjection;

impl DocumentProjection for PeopleProjection {
    const NAME: &'static str = "people";
    type Documents = PersonView;
}

impl PersonView {
    fn take(&mut self, entry: &PersonEntry) {
        self.name = entry.name.as_str().to_owned();
        self.roles = entry.roles.clone();
        self.organisation = entry
            .organisation
            .as_ref()
            .map(|organisation| organisation.as_str().to_owned());
        self.contact = entry.contact.clone();
    }
}

impl Document for PersonView {
    type Event = PersonEvent;
    const AGGREGATE_TYPE: &'static str = AGGREGATE_TYPE;
    const TABLE: Table = Table::new("people", "sub")
        .numbered()
        .versioned()
        .with_columns(&[
            Column::new("organisation"),
            Column::new("active"),
            Column::new("roles"),
        ]);

    fn create(_: &FeedEvent, event: &PersonEvent) -> Result<Self, &'static str> {
        match event {
            PersonEvent::PersonRegistered { sub, .. } => Ok(Self {
                sub: sub.to_string(),
                name: String::new(),
                roles: Vec::new(),
                organisation: None,
                contact: PersonContact::default(),
                active: false,
                changed_by: String::new(),
                changed_at: String::new(),
                version: 0,
            }),
            _ => Err("a directory entry starts with PersonRegistered"),
        }
    }

    fn evolve(&mut self, feed: &FeedEvent, event: &PersonEvent) {
        self.version = feed.sequence;
        let (by, at) = match event {
            PersonEvent::PersonRegistered { entry, by, at, .. }
            | PersonEvent::PersonUpdated { entry, by, at } => {
                self.take(entry);
                self.active = true;
                (by, at)
            }
            PersonEvent::PersonDeactivated { by, at, .. } => {
                self.active = false;
                (by, at)
            }
        };
        self.changed_by = by.to_string();
        self.changed_at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    }

    fn columns(&self, row: &mut Vec<Bind>) {
        let roles: String = self.roles.iter().map(|role| format!("{role},")).collect();
        row.extend([
            Bind::OptionalText(self.organisation.clone()),
            Bind::Int(i64::from(self.active)),
            Bind::Text(format!(",{roles}")),
        ]);
    }
}

/// Which people to list.
#[derive(Debug, Clone, Default)]
pub struct PeopleFilter {
    /// Only this organisation.
    pub organisation: Option<String>,
    /// Only people with this role.
    pub role: Option<Role>,
    /// Inactive people too.
    pub include_inactive: bool,
}

impl Database {
    /// One person's entry.
    pub async fn person(&self, sub: &str) -> Result<Option<PersonView>, StoreError> {
        self.document::<PersonView>(sub).await
    }

    /// A page of people, newest entry first, and the cursor of the next page.
    pub async fn people(
        &self,
        filter: &PeopleFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<PersonView>, Option<i64>), StoreError> {
        let mut binds = Vec::new();
        let mut conditions = vec!["1 = 1".to_owned()];
        if let Some(organisation) = &filter.organisation {
            binds.push(Bind::Text(organisation.clone()));
            conditions.push(format!("organisation = ${}", binds.len()));
        }
        if let Some(role) = filter.role {
            binds.push(Bind::Text(format!("%,{role},%")));
            conditions.push(format!("roles LIKE ${}", binds.len()));
        }
        if !filter.include_inactive {
            conditions.push("active = 1".to_owned());
        }
        if let Some(before) = before {
            binds.push(Bind::Int(before));
            conditions.push(format!("list_order < ${}", binds.len()));
        }
        let select = format!(
            "SELECT document, list_order FROM people WHERE {}",
            conditions.join(" AND ")
        );
        self.document_page(&select, "list_order", binds, limit)
            .await
    }
}

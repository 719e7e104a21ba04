//! Projection `portfolios`: liaison portfolios, their current assignments and their visits.
//!
//! Rows: `portfolio_view` (one per portfolio, the whole [`PortfolioView`] as a JSON document),
//! `portfolio_subjects` (one per current assignment, rewritten whenever its portfolio changes)
//! and `portfolio_visits` (one per visit, its linked cases in the document). Dates are calendar
//! days in China Standard Time stored as `YYYY-MM-DD` text, so text order is date order on both
//! backends.
//!
//! The reads here return facts (assignment dates, the latest visit on or before a date); whether
//! a visit is due or overdue is the domain's [`caseledger_domain::portfolio::visit_status`],
//! applied by the caller, so the rule has one definition.

use std::collections::BTreeMap;

use caseledger_domain::portfolio::{PortfolioEvent, PortfolioOwner, VisitObligation};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Bind, Database, StoreError};
use crate::documents::{Column, Document, DocumentProjection, Row, Rows, Table};
use crate::feed::FeedEvent;

/// The aggregate type name of liaison portfolios in the events table.
pub const AGGREGATE_TYPE: &str = "LiaisonPortfolio";

/// One current assignment of a portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentView {
    /// The subject.
    pub subject_id: String,
    /// The visit obligation.
    pub obligation: VisitObligation,
    /// Since when it runs.
    pub assigned_on: NaiveDate,
    /// Who assigned it.
    pub assigned_by: String,
    /// When.
    pub assigned_at: DateTime<Utc>,
}

/// The current state of one portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortfolioView {
    /// The portfolio id.
    pub portfolio_id: String,
    /// The owner.
    pub owner: PortfolioOwner,
    /// The owner's display name.
    pub owner_name: String,
    /// Current assignments by subject id.
    pub assignments: BTreeMap<String, AssignmentView>,
    /// Visits recorded so far.
    pub visit_count: u32,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// The portfolio's version (sequence of its last event).
    pub version: i64,
    /// When the last event happened.
    pub updated_at: DateTime<Utc>,
}

/// One recorded visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitView {
    /// The visit id.
    pub visit_id: String,
    /// The portfolio.
    pub portfolio_id: String,
    /// The subject visited.
    pub subject_id: String,
    /// The day of the visit.
    pub visited_on: NaiveDate,
    /// Who took part.
    pub participants: Vec<String>,
    /// What was learned.
    pub learned: String,
    /// Cases raised from it, in the order they were linked.
    pub case_ids: Vec<String>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// The `portfolios` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct PortfoliosProjection;

impl DocumentProjection for PortfoliosProjection {
    const NAME: &'static str = "portfolios";
    type Documents = (PortfolioView, VisitView);
}

impl Document for PortfolioView {
    type Event = PortfolioEvent;
    const AGGREGATE_TYPE: &'static str = AGGREGATE_TYPE;
    const TABLE: Table = Table::new("portfolio_view", "portfolio_id")
        .versioned()
        .with_columns(&[
            Column::fixed("owner_kind"),
            Column::fixed("owner_id"),
            Column::new("owner_name"),
        ])
        // The current assignments, rewritten whenever the portfolio changes.
        .with_derived(&[Rows::new(
            "portfolio_subjects",
            "portfolio_id",
            &["portfolio_id", "subject_id", "obligation", "assigned_on"],
        )]);

    fn create(feed: &FeedEvent, event: &PortfolioEvent) -> Result<Self, &'static str> {
        let PortfolioEvent::PortfolioCreated {
            owner,
            owner_name,
            created_at,
            ..
        } = event
        else {
            return Err("event for a portfolio that was never created");
        };
        Ok(Self {
            portfolio_id: feed.aggregate_id.clone(),
            owner: owner.clone(),
            owner_name: owner_name.clone(),
            assignments: BTreeMap::new(),
            visit_count: 0,
            created_at: *created_at,
            version: 0,
            updated_at: *created_at,
        })
    }

    fn evolve(&mut self, feed: &FeedEvent, event: &PortfolioEvent) {
        self.version = feed.sequence;
        match event {
            PortfolioEvent::PortfolioCreated { .. } => {}
            PortfolioEvent::SubjectAssigned {
                subject_id,
                obligation,
                assigned_on,
                assigned_by,
                assigned_at,
            } => {
                self.assignments.insert(
                    subject_id.to_string(),
                    AssignmentView {
                        subject_id: subject_id.to_string(),
                        obligation: *obligation,
                        assigned_on: *assigned_on,
                        assigned_by: assigned_by.to_string(),
                        assigned_at: *assigned_at,
                    },
                );
                self.updated_at = *assigned_at;
            }
            PortfolioEvent::SubjectUnassigned {
                subject_id,
                unassigned_at,
                ..
            } => {
                self.assignments.remove(subject_id.as_str());
                self.updated_at = *unassigned_at;
            }
            PortfolioEvent::VisitRecorded { recorded_at, .. } => {
                self.visit_count += 1;
                self.updated_at = *recorded_at;
            }
            PortfolioEvent::VisitCaseLinked { linked_at, .. } => self.updated_at = *linked_at,
        }
    }

    fn columns(&self, row: &mut Vec<Bind>) {
        row.extend([
            Bind::Text(self.owner.kind().to_owned()),
            Bind::Text(self.owner.id().to_owned()),
            Bind::Text(self.owner_name.clone()),
        ]);
    }

    fn derived(row: &Row<Self>, tables: &mut [Vec<Bind>]) {
        let [subjects] = tables else {
            return;
        };
        for assignment in row.view.assignments.values() {
            subjects.extend([
                Bind::Text(row.key.clone()),
                Bind::Text(assignment.subject_id.clone()),
                Bind::Text(assignment.obligation.as_str().to_owned()),
                Bind::Text(assignment.assigned_on.to_string()),
            ]);
        }
    }
}

/// Visits are rows of their own, keyed by visit id: recorded by one event of their portfolio,
/// linked to cases by later ones.
impl Document for VisitView {
    type Event = PortfolioEvent;
    const AGGREGATE_TYPE: &'static str = AGGREGATE_TYPE;
    const TABLE: Table = Table::new("portfolio_visits", "visit_id").with_columns(&[
        Column::fixed("portfolio_id"),
        Column::fixed("subject_id"),
        Column::fixed("visited_on"),
    ]);

    fn key(_: &FeedEvent, event: &PortfolioEvent) -> Option<String> {
        match event {
            PortfolioEvent::VisitRecorded { visit_id, .. }
            | PortfolioEvent::VisitCaseLinked { visit_id, .. } => Some(visit_id.to_string()),
            _ => None,
        }
    }

    fn create(feed: &FeedEvent, event: &PortfolioEvent) -> Result<Self, &'static str> {
        VisitView::recorded(&feed.aggregate_id, event).ok_or("link to an unknown visit")
    }

    fn evolve(&mut self, feed: &FeedEvent, event: &PortfolioEvent) {
        match event {
            PortfolioEvent::VisitCaseLinked { case_id, .. } => {
                self.case_ids.push(case_id.to_string());
            }
            // A visit recorded again under its id replaces it.
            _ => {
                if let Some(visit) = VisitView::recorded(&feed.aggregate_id, event) {
                    *self = visit;
                }
            }
        }
    }

    fn columns(&self, row: &mut Vec<Bind>) {
        row.extend([
            Bind::Text(self.portfolio_id.clone()),
            Bind::Text(self.subject_id.clone()),
            Bind::Text(self.visited_on.to_string()),
        ]);
    }
}

impl VisitView {
    fn recorded(portfolio_id: &str, event: &PortfolioEvent) -> Option<Self> {
        let PortfolioEvent::VisitRecorded {
            visit_id,
            subject_id,
            visited_on,
            participants,
            learned,
            case_ids,
            recorded_by,
            recorded_at,
        } = event
        else {
            return None;
        };
        Some(Self {
            visit_id: visit_id.to_string(),
            portfolio_id: portfolio_id.to_owned(),
            subject_id: subject_id.to_string(),
            visited_on: *visited_on,
            participants: participants.clone(),
            learned: learned.clone(),
            case_ids: case_ids.iter().map(ToString::to_string).collect(),
            recorded_by: recorded_by.to_string(),
            recorded_at: *recorded_at,
        })
    }
}

/// Which assignments to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentFilter {
    /// Only this portfolio.
    pub portfolio_id: Option<String>,
    /// Only portfolios of this owner kind (`leader` or `department`).
    pub owner_kind: Option<String>,
    /// The reference date: the latest visit on or before it is reported.
    pub as_of: NaiveDate,
}

/// One current assignment with the facts the visit-period rule needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentFacts {
    /// The portfolio.
    pub portfolio_id: String,
    /// `leader` or `department`.
    pub owner_kind: String,
    /// The leader's user id or the department id.
    pub owner_id: String,
    /// The owner's display name.
    pub owner_name: String,
    /// The subject.
    pub subject_id: String,
    /// The subject's name, when the `subjects` projection has it.
    pub subject_name: Option<String>,
    /// The visit obligation.
    pub obligation: VisitObligation,
    /// Since when it runs.
    pub assigned_on: NaiveDate,
    /// The latest visit to the subject under this portfolio on or before `as_of`.
    pub last_visit_on: Option<NaiveDate>,
}

fn parse_date(text: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|error| {
        StoreError::Json(serde::de::Error::custom(format!(
            "stored date {text:?}: {error}"
        )))
    })
}

impl Database {
    /// One portfolio from the `portfolios` projection.
    pub async fn portfolio_view(
        &self,
        portfolio_id: &str,
    ) -> Result<Option<PortfolioView>, StoreError> {
        self.document(portfolio_id).await
    }

    /// Every portfolio, optionally of one owner kind, by id. (A district has one portfolio per
    /// leader and per department: tens, not thousands, so there is no paging.)
    pub async fn list_portfolios(
        &self,
        owner_kind: Option<&str>,
    ) -> Result<Vec<PortfolioView>, StoreError> {
        self.documents(
            "SELECT document FROM portfolio_view WHERE ($1 IS NULL OR owner_kind = $1) \
              ORDER BY portfolio_id",
            &[Bind::OptionalText(owner_kind.map(str::to_owned))],
        )
        .await
    }

    /// The current assignments matching `filter`, with the latest visit on or before
    /// `filter.as_of`, ordered by owner kind, portfolio and subject.
    pub async fn assignment_facts(
        &self,
        filter: &AssignmentFilter,
    ) -> Result<Vec<AssignmentFacts>, StoreError> {
        let mut binds = vec![Bind::Text(filter.as_of.to_string())];
        let mut conditions = Vec::new();
        if let Some(portfolio_id) = &filter.portfolio_id {
            binds.push(Bind::Text(portfolio_id.clone()));
            conditions.push(format!("s.portfolio_id = ${}", binds.len()));
        }
        if let Some(owner_kind) = &filter.owner_kind {
            binds.push(Bind::Text(owner_kind.clone()));
            conditions.push(format!("p.owner_kind = ${}", binds.len()));
        }
        let mut sql = String::from(
            "SELECT s.portfolio_id, p.owner_kind, p.owner_id, p.owner_name, s.subject_id, sv.name, \
                    s.obligation, s.assigned_on, \
                    (SELECT max(v.visited_on) FROM portfolio_visits v \
                      WHERE v.portfolio_id = s.portfolio_id AND v.subject_id = s.subject_id \
                        AND v.visited_on <= $1) AS last_visit_on \
               FROM portfolio_subjects s \
               JOIN portfolio_view p ON p.portfolio_id = s.portfolio_id \
               LEFT JOIN subject_view sv ON sv.subject_id = s.subject_id",
        );
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(" ORDER BY p.owner_kind, s.portfolio_id, s.subject_id");
        type Row = (
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = with_pool!(self, |pool| {
            let query = bind_all!(sqlx::query_as(&sql), &binds);
            query.fetch_all(pool).await
        })?;
        rows.into_iter()
            .map(
                |(
                    portfolio_id,
                    owner_kind,
                    owner_id,
                    owner_name,
                    subject_id,
                    subject_name,
                    obligation,
                    assigned_on,
                    last_visit_on,
                )| {
                    Ok(AssignmentFacts {
                        portfolio_id,
                        owner_kind,
                        owner_id,
                        owner_name,
                        subject_id,
                        subject_name,
                        obligation: VisitObligation::parse(&obligation).ok_or_else(|| {
                            StoreError::Json(serde::de::Error::custom(format!(
                                "stored obligation {obligation:?}"
                            )))
                        })?,
                        assigned_on: parse_date(&assigned_on)?,
                        last_visit_on: last_visit_on.as_deref().map(parse_date).transpose()?,
                    })
                },
            )
            .collect()
    }

    /// The visits of a portfolio (optionally to one subject), latest visit date first.
    pub async fn portfolio_visits(
        &self,
        portfolio_id: &str,
        subject_id: Option<&str>,
    ) -> Result<Vec<VisitView>, StoreError> {
        self.documents(
            "SELECT document FROM portfolio_visits \
              WHERE portfolio_id = $1 AND ($2 IS NULL OR subject_id = $2) \
              ORDER BY visited_on DESC, visit_id DESC",
            &[
                Bind::Text(portfolio_id.to_owned()),
                Bind::OptionalText(subject_id.map(str::to_owned)),
            ],
        )
        .await
    }

    /// The user ids of the district leaders whose portfolio currently has `subject_id`
    /// assigned, sorted: the people an overdue case of that subject is escalated to.
    pub async fn leaders_of_subject(&self, subject_id: &str) -> Result<Vec<String>, StoreError> {
        let leaders: Vec<String> = with_pool!(self, |pool| sqlx::query_scalar(
            "SELECT p.owner_id FROM portfolio_subjects s \
               JOIN portfolio_view p ON p.portfolio_id = s.portfolio_id \
              WHERE s.subject_id = $1 AND p.owner_kind = 'leader' ORDER BY p.owner_id"
        )
        .bind(subject_id)
        .fetch_all(pool)
        .await)?;
        Ok(leaders)
    }

    /// The subject ids currently assigned to a portfolio, sorted.
    pub async fn subjects_of_portfolio(
        &self,
        portfolio_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let subjects: Vec<String> = with_pool!(self, |pool| {
            sqlx::query_scalar(
            "SELECT subject_id FROM portfolio_subjects WHERE portfolio_id = $1 ORDER BY subject_id"
        )
        .bind(portfolio_id)
        .fetch_all(pool)
        .await
        })?;
        Ok(subjects)
    }
}

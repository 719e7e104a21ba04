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

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use caseledger_domain::portfolio::{PortfolioEvent, PortfolioOwner, VisitObligation};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{
    list_placeholders, values_placeholders, Bind, Database, StoreError, Tx, ROWS_PER_STATEMENT,
};
use crate::feed::FeedEvent;
use crate::projector::{Projection, ProjectionError};

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

impl PortfolioView {
    fn created(portfolio_id: &str, event: &PortfolioEvent) -> Option<Self> {
        let PortfolioEvent::PortfolioCreated {
            owner,
            owner_name,
            created_at,
            ..
        } = event
        else {
            return None;
        };
        Some(Self {
            portfolio_id: portfolio_id.to_owned(),
            owner: owner.clone(),
            owner_name: owner_name.clone(),
            assignments: BTreeMap::new(),
            visit_count: 0,
            created_at: *created_at,
            version: 0,
            updated_at: *created_at,
        })
    }

    /// Applies one event; a new visit is returned for the caller to store.
    fn evolve(&mut self, event: &PortfolioEvent) -> Option<VisitView> {
        match event {
            PortfolioEvent::PortfolioCreated { .. } => None,
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
                None
            }
            PortfolioEvent::SubjectUnassigned {
                subject_id,
                unassigned_at,
                ..
            } => {
                self.assignments.remove(subject_id.as_str());
                self.updated_at = *unassigned_at;
                None
            }
            PortfolioEvent::VisitRecorded {
                visit_id,
                subject_id,
                visited_on,
                participants,
                learned,
                case_ids,
                recorded_by,
                recorded_at,
            } => {
                self.visit_count += 1;
                self.updated_at = *recorded_at;
                Some(VisitView {
                    visit_id: visit_id.to_string(),
                    portfolio_id: self.portfolio_id.clone(),
                    subject_id: subject_id.to_string(),
                    visited_on: *visited_on,
                    participants: participants.clone(),
                    learned: learned.clone(),
                    case_ids: case_ids.iter().map(ToString::to_string).collect(),
                    recorded_by: recorded_by.to_string(),
                    recorded_at: *recorded_at,
                })
            }
            PortfolioEvent::VisitCaseLinked { linked_at, .. } => {
                self.updated_at = *linked_at;
                None
            }
        }
    }
}

/// The `portfolios` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct PortfoliosProjection;

#[async_trait]
impl Projection for PortfoliosProjection {
    fn name(&self) -> &'static str {
        "portfolios"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["portfolio_view", "portfolio_subjects", "portfolio_visits"]
    }

    async fn apply(&self, tx: &mut Tx, events: &[FeedEvent]) -> Result<(), ProjectionError> {
        // Read every touched portfolio and every earlier visit a link refers to once, evolve in
        // memory, write each row once.
        let mut parsed = Vec::new();
        let mut order: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        let mut linked_visits: Vec<String> = Vec::new();
        for event in events
            .iter()
            .filter(|event| event.aggregate_type == AGGREGATE_TYPE)
        {
            let portfolio_event: PortfolioEvent = serde_json::from_str(&event.payload)
                .map_err(|error| ProjectionError::event(event, error))?;
            if seen.insert(event.aggregate_id.as_str()) {
                order.push(event.aggregate_id.clone());
            }
            if let PortfolioEvent::VisitCaseLinked { visit_id, .. } = &portfolio_event {
                linked_visits.push(visit_id.to_string());
            }
            parsed.push((event, portfolio_event));
        }
        if parsed.is_empty() {
            return Ok(());
        }
        let mut portfolios = load_portfolios(tx, &order).await?;
        let mut visits = load_visits(tx, &linked_visits).await?;
        let mut visit_order: Vec<String> = Vec::new();
        for (event, portfolio_event) in parsed {
            if !portfolios.contains_key(&event.aggregate_id) {
                let Some(view) = PortfolioView::created(&event.aggregate_id, &portfolio_event)
                else {
                    return Err(ProjectionError::event(
                        event,
                        "event for a portfolio that was never created",
                    ));
                };
                portfolios.insert(event.aggregate_id.clone(), view);
            }
            let view = portfolios
                .get_mut(&event.aggregate_id)
                .expect("inserted above");
            if let Some(visit) = view.evolve(&portfolio_event) {
                visit_order.push(visit.visit_id.clone());
                visits.insert(visit.visit_id.clone(), visit);
            }
            if let PortfolioEvent::VisitCaseLinked {
                visit_id, case_id, ..
            } = &portfolio_event
            {
                let Some(visit) = visits.get_mut(&visit_id.to_string()) else {
                    return Err(ProjectionError::event(event, "link to an unknown visit"));
                };
                visit.case_ids.push(case_id.to_string());
                if !visit_order.contains(&visit.visit_id) {
                    visit_order.push(visit.visit_id.clone());
                }
            }
            view.version = event.sequence;
        }
        let views: Vec<&PortfolioView> = order.iter().filter_map(|id| portfolios.get(id)).collect();
        store_portfolios(tx, &views).await?;
        let visits: Vec<&VisitView> = visit_order.iter().filter_map(|id| visits.get(id)).collect();
        store_visits(tx, &visits).await
    }

    fn checksum_sql(&self) -> &'static str {
        "SELECT row FROM ( \
           SELECT 'p|' || portfolio_id || '|' || version || '|' || document AS row FROM portfolio_view \
           UNION ALL \
           SELECT 's|' || portfolio_id || '|' || subject_id || '|' || obligation || '|' || assigned_on AS row \
             FROM portfolio_subjects \
           UNION ALL \
           SELECT 'v|' || visit_id || '|' || document AS row FROM portfolio_visits \
         ) AS rows ORDER BY row"
    }
}

async fn load_portfolios(
    tx: &mut Tx,
    portfolio_ids: &[String],
) -> Result<HashMap<String, PortfolioView>, ProjectionError> {
    let mut found = HashMap::with_capacity(portfolio_ids.len());
    for chunk in portfolio_ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT portfolio_id, document FROM portfolio_view WHERE portfolio_id IN ({})",
            list_placeholders(chunk.len())
        );
        let binds: Vec<Bind> = chunk.iter().map(|id| Bind::Text(id.clone())).collect();
        let rows: Vec<(String, String)> =
            with_tx!(tx, |conn| bind_all!(sqlx::query_as(&sql), &binds)
                .fetch_all(&mut *conn)
                .await)?;
        for (portfolio_id, document) in rows {
            let view = serde_json::from_str(&document).map_err(StoreError::from)?;
            found.insert(portfolio_id, view);
        }
    }
    Ok(found)
}

async fn load_visits(
    tx: &mut Tx,
    visit_ids: &[String],
) -> Result<HashMap<String, VisitView>, ProjectionError> {
    let mut found = HashMap::with_capacity(visit_ids.len());
    for chunk in visit_ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT visit_id, document FROM portfolio_visits WHERE visit_id IN ({})",
            list_placeholders(chunk.len())
        );
        let binds: Vec<Bind> = chunk.iter().map(|id| Bind::Text(id.clone())).collect();
        let rows: Vec<(String, String)> =
            with_tx!(tx, |conn| bind_all!(sqlx::query_as(&sql), &binds)
                .fetch_all(&mut *conn)
                .await)?;
        for (visit_id, document) in rows {
            let view = serde_json::from_str(&document).map_err(StoreError::from)?;
            found.insert(visit_id, view);
        }
    }
    Ok(found)
}

/// Upserts the portfolios and replaces their assignment rows.
async fn store_portfolios(tx: &mut Tx, views: &[&PortfolioView]) -> Result<(), ProjectionError> {
    for chunk in views.chunks(ROWS_PER_STATEMENT) {
        let mut binds = Vec::with_capacity(chunk.len() * 6);
        for view in chunk {
            binds.extend([
                Bind::Text(view.portfolio_id.clone()),
                Bind::Text(view.owner.kind().to_owned()),
                Bind::Text(view.owner.id().to_owned()),
                Bind::Text(view.owner_name.clone()),
                Bind::Int(view.version),
                Bind::Text(serde_json::to_string(view).map_err(StoreError::from)?),
            ]);
        }
        let sql = format!(
            "INSERT INTO portfolio_view (portfolio_id, owner_kind, owner_id, owner_name, version, document) \
             VALUES {} ON CONFLICT (portfolio_id) DO UPDATE SET owner_name = excluded.owner_name, \
                 version = excluded.version, document = excluded.document",
            values_placeholders(chunk.len(), 6)
        );
        tx.execute_with(&sql, &binds).await?;

        let ids: Vec<Bind> = chunk
            .iter()
            .map(|view| Bind::Text(view.portfolio_id.clone()))
            .collect();
        let sql = format!(
            "DELETE FROM portfolio_subjects WHERE portfolio_id IN ({})",
            list_placeholders(ids.len())
        );
        tx.execute_with(&sql, &ids).await?;

        let mut binds = Vec::new();
        for view in chunk {
            for assignment in view.assignments.values() {
                binds.extend([
                    Bind::Text(view.portfolio_id.clone()),
                    Bind::Text(assignment.subject_id.clone()),
                    Bind::Text(assignment.obligation.as_str().to_owned()),
                    Bind::Text(assignment.assigned_on.to_string()),
                ]);
            }
        }
        for rows in binds.chunks(4 * ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO portfolio_subjects (portfolio_id, subject_id, obligation, assigned_on) VALUES {}",
                values_placeholders(rows.len() / 4, 4)
            );
            tx.execute_with(&sql, rows).await?;
        }
    }
    Ok(())
}

async fn store_visits(tx: &mut Tx, visits: &[&VisitView]) -> Result<(), ProjectionError> {
    for chunk in visits.chunks(ROWS_PER_STATEMENT) {
        let mut binds = Vec::with_capacity(chunk.len() * 5);
        for visit in chunk {
            binds.extend([
                Bind::Text(visit.visit_id.clone()),
                Bind::Text(visit.portfolio_id.clone()),
                Bind::Text(visit.subject_id.clone()),
                Bind::Text(visit.visited_on.to_string()),
                Bind::Text(serde_json::to_string(visit).map_err(StoreError::from)?),
            ]);
        }
        let sql = format!(
            "INSERT INTO portfolio_visits (visit_id, portfolio_id, subject_id, visited_on, document) \
             VALUES {} ON CONFLICT (visit_id) DO UPDATE SET document = excluded.document",
            values_placeholders(chunk.len(), 5)
        );
        tx.execute_with(&sql, &binds).await?;
    }
    Ok(())
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
        let document: Option<String> = with_pool!(self, |pool| sqlx::query_scalar(
            "SELECT document FROM portfolio_view WHERE portfolio_id = $1"
        )
        .bind(portfolio_id)
        .fetch_optional(pool)
        .await)?;
        Ok(document
            .map(|document| serde_json::from_str(&document))
            .transpose()?)
    }

    /// Every portfolio, optionally of one owner kind, by id. (A district has one portfolio per
    /// leader and per department: tens, not thousands, so there is no paging.)
    pub async fn list_portfolios(
        &self,
        owner_kind: Option<&str>,
    ) -> Result<Vec<PortfolioView>, StoreError> {
        let documents: Vec<String> = with_pool!(self, |pool| {
            sqlx::query_scalar(
            "SELECT document FROM portfolio_view WHERE ($1 IS NULL OR owner_kind = $1) ORDER BY portfolio_id"
        )
        .bind(owner_kind)
        .fetch_all(pool)
        .await
        })?;
        documents
            .iter()
            .map(|document| Ok(serde_json::from_str(document)?))
            .collect()
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
        let documents: Vec<String> = with_pool!(self, |pool| sqlx::query_scalar(
            "SELECT document FROM portfolio_visits \
              WHERE portfolio_id = $1 AND ($2 IS NULL OR subject_id = $2) \
              ORDER BY visited_on DESC, visit_id DESC"
        )
        .bind(portfolio_id)
        .bind(subject_id)
        .fetch_all(pool)
        .await)?;
        documents
            .iter()
            .map(|document| Ok(serde_json::from_str(document)?))
            .collect()
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

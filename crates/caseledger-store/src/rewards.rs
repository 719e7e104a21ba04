//! Projection `rewards` (`reward_program_view`, `reward_nomination_view`): each reward program
//! and each nomination as the domain folds it, with the columns lists filter on; and the reads
//! that must come from the log instead: a program's state when a nomination is submitted, the
//! awards a program has made (the quota check) and the reward decision audit.
//!
//! The nomination document holds private data (the nominee's ID number and phone, objection
//! filers' identities, individual scores): this crate does not decide who reads it; the API
//! builds every answer field by field.
//!
//! Invariant: the audit reads only the events table (never a view), so an edited view cannot
//! change it.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use caseledger_domain::reward::audit::{audit_program, ProgramAudit, Recorded};
use caseledger_domain::reward::nomination::{NominationEvent, RewardNomination};
use caseledger_domain::reward::program::{ProgramEvent, RewardProgram};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{
    list_placeholders, values_placeholders, Bind, Database, StoreError, Tx, ROWS_PER_STATEMENT,
};
use crate::feed::{columns, decode_event, FeedEvent};
use crate::projector::{Projection, ProjectionError};

/// The aggregate type of programs in the events table.
pub const PROGRAM_TYPE: &str = "RewardProgram";
/// The aggregate type of nominations in the events table.
pub const NOMINATION_TYPE: &str = "RewardNomination";

/// A program as the view keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramView {
    /// The program id.
    pub program_id: String,
    /// The domain's fold.
    pub state: RewardProgram,
    /// Its version.
    pub version: i64,
}

/// A nomination as the view keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NominationView {
    /// The nomination id.
    pub nomination_id: String,
    /// The domain's fold (private fields included).
    pub state: RewardNomination,
    /// Its version.
    pub version: i64,
}

/// The `rewards` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct RewardsProjection;

#[async_trait]
impl Projection for RewardsProjection {
    fn name(&self) -> &'static str {
        "rewards"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["reward_program_view", "reward_nomination_view"]
    }

    async fn apply(&self, tx: &mut Tx, events: &[FeedEvent]) -> Result<(), ProjectionError> {
        let programs: Vec<&FeedEvent> = events
            .iter()
            .filter(|e| e.aggregate_type == PROGRAM_TYPE)
            .collect();
        let nominations: Vec<&FeedEvent> = events
            .iter()
            .filter(|e| e.aggregate_type == NOMINATION_TYPE)
            .collect();
        if !programs.is_empty() {
            apply_stream::<ProgramEvent, RewardProgram>(
                tx,
                &programs,
                "reward_program_view",
                "program_id",
                |state: &RewardProgram| {
                    let status = if state.approved() {
                        "approved"
                    } else {
                        "draft"
                    };
                    (status.to_owned(), None)
                },
            )
            .await?;
        }
        if !nominations.is_empty() {
            apply_stream::<NominationEvent, RewardNomination>(
                tx,
                &nominations,
                "reward_nomination_view",
                "nomination_id",
                |state: &RewardNomination| {
                    (
                        state.status.as_str().to_owned(),
                        state.program_id.map(|id| id.to_string()),
                    )
                },
            )
            .await?;
        }
        Ok(())
    }

    fn checksum_sql(&self) -> &'static str {
        "SELECT row FROM (\
           SELECT 'p|' || program_id || '|' || list_order || '|' || status || '|' || version || '|' || document AS row \
             FROM reward_program_view \
           UNION ALL \
           SELECT 'n|' || nomination_id || '|' || list_order || '|' || coalesce(program_id, '') || '|' || status || '|' || version || '|' || document AS row \
             FROM reward_nomination_view) AS rows ORDER BY row"
    }
}

/// A state the view keeps: evolved by its domain events.
trait Folded<E>: Default + Serialize + for<'de> Deserialize<'de> {
    fn fold(&mut self, event: &E);
}

impl Folded<ProgramEvent> for RewardProgram {
    fn fold(&mut self, event: &ProgramEvent) {
        self.evolve(event);
    }
}

impl Folded<NominationEvent> for RewardNomination {
    fn fold(&mut self, event: &NominationEvent) {
        self.evolve(event);
    }
}

#[derive(Serialize, Deserialize)]
struct Stored<S> {
    state: S,
    version: i64,
}

/// Loads every touched row, evolves it in memory and writes all back in multi-row statements.
/// `columns_of` gives the status and (for nominations) the program id of a state.
async fn apply_stream<E, S>(
    tx: &mut Tx,
    events: &[&FeedEvent],
    table: &'static str,
    key: &'static str,
    columns_of: impl Fn(&S) -> (String, Option<String>),
) -> Result<(), ProjectionError>
where
    E: for<'de> Deserialize<'de>,
    S: Folded<E>,
{
    let mut order: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    let mut parsed = Vec::with_capacity(events.len());
    for event in events {
        let domain_event: E = serde_json::from_str(&event.payload)
            .map_err(|error| ProjectionError::event(event, error))?;
        if seen.insert(event.aggregate_id.as_str()) {
            order.push(event.aggregate_id.clone());
        }
        parsed.push((*event, domain_event));
    }
    let mut touched: HashMap<String, (Stored<S>, i64)> = HashMap::new();
    for chunk in order.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT {key}, document, list_order FROM {table} WHERE {key} IN ({})",
            list_placeholders(chunk.len())
        );
        let binds: Vec<Bind> = chunk.iter().map(|id| Bind::Text(id.clone())).collect();
        let rows: Vec<(String, String, i64)> =
            with_tx!(tx, |conn| bind_all!(sqlx::query_as(&sql), &binds)
                .fetch_all(&mut *conn)
                .await)?;
        for (id, document, list_order) in rows {
            let stored: Stored<S> = serde_json::from_str(&document).map_err(StoreError::from)?;
            touched.insert(id, (stored, list_order));
        }
    }
    let mut next_list_order: Option<i64> = None;
    for (event, domain_event) in parsed {
        if !touched.contains_key(&event.aggregate_id) {
            let list_order = match next_list_order {
                Some(n) => n,
                None => {
                    let sql = format!("SELECT max(list_order) FROM {table}");
                    let max: Option<i64> = with_tx!(tx, |conn| sqlx::query_scalar(&sql)
                        .fetch_one(&mut *conn)
                        .await)?;
                    max.unwrap_or(0) + 1
                }
            };
            next_list_order = Some(list_order + 1);
            touched.insert(
                event.aggregate_id.clone(),
                (
                    Stored {
                        state: S::default(),
                        version: 0,
                    },
                    list_order,
                ),
            );
        }
        let (stored, _) = touched
            .get_mut(&event.aggregate_id)
            .expect("inserted above");
        stored.state.fold(&domain_event);
        stored.version = event.sequence;
    }
    let nominations = table == "reward_nomination_view";
    let width = if nominations { 6 } else { 5 };
    for chunk in order.chunks(ROWS_PER_STATEMENT) {
        let mut binds = Vec::with_capacity(chunk.len() * width);
        for id in chunk {
            let (stored, list_order) = &touched[id];
            let (status, program_id) = columns_of(&stored.state);
            binds.extend([
                Bind::Text(id.clone()),
                Bind::Int(*list_order),
                Bind::Text(status),
                Bind::Int(stored.version),
                Bind::Text(serde_json::to_string(stored).map_err(StoreError::from)?),
            ]);
            if nominations {
                binds.push(Bind::OptionalText(program_id));
            }
        }
        let sql = if nominations {
            format!(
                "INSERT INTO reward_nomination_view \
                     (nomination_id, list_order, status, version, document, program_id) \
                 VALUES {} ON CONFLICT (nomination_id) DO UPDATE SET status = excluded.status, \
                     version = excluded.version, document = excluded.document, \
                     program_id = excluded.program_id",
                values_placeholders(chunk.len(), width)
            )
        } else {
            format!(
                "INSERT INTO reward_program_view (program_id, list_order, status, version, document) \
                 VALUES {} ON CONFLICT (program_id) DO UPDATE SET status = excluded.status, \
                     version = excluded.version, document = excluded.document",
                values_placeholders(chunk.len(), width)
            )
        };
        tx.execute_with(&sql, &binds).await?;
    }
    Ok(())
}

fn nomination_view(id: String, document: &str) -> Result<NominationView, StoreError> {
    let stored: Stored<RewardNomination> = serde_json::from_str(document)?;
    Ok(NominationView {
        nomination_id: id,
        state: stored.state,
        version: stored.version,
    })
}

fn program_view(id: String, document: &str) -> Result<ProgramView, StoreError> {
    let stored: Stored<RewardProgram> = serde_json::from_str(document)?;
    Ok(ProgramView {
        program_id: id,
        state: stored.state,
        version: stored.version,
    })
}

fn recorded<E: for<'de> Deserialize<'de>>(event: &FeedEvent) -> Result<Recorded<E>, StoreError> {
    let metadata: BTreeMap<String, String> =
        serde_json::from_str(&event.metadata).unwrap_or_default();
    let at = metadata
        .get("occurred_at")
        .or(Some(&event.recorded_at))
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|at| at.to_utc())
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    Ok(Recorded {
        sequence: event.sequence,
        position: event.at.position,
        at,
        actor: metadata.get("actor_sub").cloned().unwrap_or_default(),
        roles: metadata
            .get("actor_roles")
            .map(|roles| roles.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        event: serde_json::from_str(&event.payload)?,
    })
}

impl Database {
    /// One program from the view.
    pub async fn reward_program_view(
        &self,
        program_id: &str,
    ) -> Result<Option<ProgramView>, StoreError> {
        let document: Option<String> = with_pool!(self, |pool| sqlx::query_scalar(
            "SELECT document FROM reward_program_view WHERE program_id = $1"
        )
        .bind(program_id)
        .fetch_optional(pool)
        .await)?;
        document
            .map(|d| program_view(program_id.to_owned(), &d))
            .transpose()
    }

    /// Every program, newest first (at most 200).
    pub async fn list_reward_programs(&self) -> Result<Vec<ProgramView>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT program_id, document FROM reward_program_view ORDER BY list_order DESC LIMIT 200"
        )
        .fetch_all(pool)
        .await
        })?;
        rows.into_iter()
            .map(|(id, document)| program_view(id, &document))
            .collect()
    }

    /// One nomination from the view.
    pub async fn nomination_view(
        &self,
        nomination_id: &str,
    ) -> Result<Option<NominationView>, StoreError> {
        let document: Option<String> = with_pool!(self, |pool| sqlx::query_scalar(
            "SELECT document FROM reward_nomination_view WHERE nomination_id = $1"
        )
        .bind(nomination_id)
        .fetch_optional(pool)
        .await)?;
        document
            .map(|d| nomination_view(nomination_id.to_owned(), &d))
            .transpose()
    }

    /// Nominations, optionally of one program and in some statuses, in submission order (at
    /// most 500).
    pub async fn list_nominations(
        &self,
        program_id: Option<&str>,
        statuses: &[&str],
    ) -> Result<Vec<NominationView>, StoreError> {
        let rows: Vec<(String, String, String, Option<String>)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT nomination_id, document, status, program_id FROM reward_nomination_view \
                  WHERE ($1 IS NULL OR program_id = $1) ORDER BY list_order LIMIT 500",
            )
            .bind(program_id)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .filter(|(_, _, status, _)| statuses.is_empty() || statuses.contains(&status.as_str()))
            .map(|(id, document, _, _)| nomination_view(id, &document))
            .collect()
    }

    /// A program's state folded from the log (what a submission records: the view may lag an
    /// approval made a moment ago).
    pub async fn reward_program_from_log(
        &self,
        program_id: &str,
    ) -> Result<Option<RewardProgram>, StoreError> {
        let history = self.stream_history(PROGRAM_TYPE, program_id).await?;
        if history.is_empty() {
            return Ok(None);
        }
        let mut program = RewardProgram::default();
        for event in &history {
            program.evolve(&serde_json::from_str(&event.payload)?);
        }
        Ok(Some(program))
    }

    /// Every nomination event of a program from the log, grouped by nomination in submission
    /// order, each in sequence order.
    async fn program_nomination_events(
        &self,
        program_id: &str,
    ) -> Result<Vec<(String, Vec<FeedEvent>)>, StoreError> {
        let sql = format!(
            "SELECT {} FROM events WHERE aggregate_type = $1 ORDER BY position",
            columns(self)
        );
        let events = with_pool!(self, |pool| {
            let rows = sqlx::query(&sql)
                .bind(NOMINATION_TYPE)
                .fetch_all(pool)
                .await?;
            rows.iter().map(decode_event).collect::<Result<Vec<_>, _>>()
        })?;
        let mut groups: Vec<(String, Vec<FeedEvent>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for event in events {
            if let Some(i) = index.get(&event.aggregate_id) {
                groups[*i].1.push(event);
                continue;
            }
            // A nomination's first event names its program.
            let first: NominationEvent = serde_json::from_str(&event.payload)?;
            let NominationEvent::NominationSubmitted {
                program_id: of_program,
                ..
            } = first
            else {
                continue;
            };
            if of_program.to_string() == program_id {
                index.insert(event.aggregate_id.clone(), groups.len());
                groups.push((event.aggregate_id.clone(), vec![event]));
            }
        }
        for (_, events) in &mut groups {
            events.sort_by_key(|e| e.sequence);
        }
        Ok(groups)
    }

    /// How many awards a program has approved (revoked ones included), from the log: the same
    /// count an approval's [`crate::AppendCondition::ProgramAwards`] checks again when it is
    /// appended.
    pub async fn program_awards(&self, program_id: &str) -> Result<u32, StoreError> {
        let sql = match self {
            Database::Postgres(_) => crate::conditions::PROGRAM_AWARDS_POSTGRES,
            Database::Sqlite(_) => crate::conditions::PROGRAM_AWARDS_SQLITE,
        };
        let awards: i64 = with_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(program_id)
            .fetch_one(pool)
            .await)?;
        Ok(u32::try_from(awards).unwrap_or(u32::MAX))
    }

    /// The reward decision audit of a program, from the events table only. `None` for an
    /// unknown program.
    pub async fn reward_audit(&self, program_id: &str) -> Result<Option<ProgramAudit>, StoreError> {
        let history = self.stream_history(PROGRAM_TYPE, program_id).await?;
        if history.is_empty() {
            return Ok(None);
        }
        let program_events = history
            .iter()
            .map(recorded::<ProgramEvent>)
            .collect::<Result<Vec<_>, _>>()?;
        let mut nominations = Vec::new();
        for (id, events) in self.program_nomination_events(program_id).await? {
            let events = events
                .iter()
                .map(recorded::<NominationEvent>)
                .collect::<Result<Vec<_>, _>>()?;
            nominations.push((id, events));
        }
        Ok(Some(audit_program(
            program_id,
            &program_events,
            &nominations,
        )))
    }
}

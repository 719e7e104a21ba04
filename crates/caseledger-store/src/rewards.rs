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

use std::collections::{BTreeMap, HashMap};

use caseledger_domain::reward::audit::{audit_program, ProgramAudit, Recorded};
use caseledger_domain::reward::nomination::{NominationEvent, RewardNomination};
use caseledger_domain::reward::program::{ProgramEvent, RewardProgram};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Bind, Database, StoreError};
use crate::documents::{Column, Document, DocumentProjection, Table};
use crate::feed::{columns, decode_event, FeedEvent};

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

impl DocumentProjection for RewardsProjection {
    const NAME: &'static str = "rewards";
    type Documents = (Stored<RewardProgram>, Stored<RewardNomination>);
}

mod stored {
    use serde::{Deserialize, Serialize};

    /// The document of a program or nomination row: the domain's fold and its version.
    #[derive(Serialize, Deserialize)]
    pub struct Stored<S> {
        pub(super) state: S,
        pub(super) version: i64,
    }
}
use stored::Stored;

impl Document for Stored<RewardProgram> {
    type Event = ProgramEvent;
    const AGGREGATE_TYPE: &'static str = PROGRAM_TYPE;
    const TABLE: Table = Table::new("reward_program_view", "program_id")
        .numbered()
        .versioned()
        .with_columns(&[Column::new("status")]);

    fn create(_: &FeedEvent, _: &ProgramEvent) -> Result<Self, &'static str> {
        Ok(Self {
            state: RewardProgram::default(),
            version: 0,
        })
    }

    fn evolve(&mut self, feed: &FeedEvent, event: &ProgramEvent) {
        self.state.evolve(event);
        self.version = feed.sequence;
    }

    fn columns(&self, row: &mut Vec<Bind>) {
        let status = if self.state.approved() {
            "approved"
        } else {
            "draft"
        };
        row.push(Bind::Text(status.to_owned()));
    }
}

impl Document for Stored<RewardNomination> {
    type Event = NominationEvent;
    const AGGREGATE_TYPE: &'static str = NOMINATION_TYPE;
    const TABLE: Table = Table::new("reward_nomination_view", "nomination_id")
        .numbered()
        .versioned()
        .with_columns(&[Column::new("status"), Column::new("program_id")]);

    fn create(_: &FeedEvent, _: &NominationEvent) -> Result<Self, &'static str> {
        Ok(Self {
            state: RewardNomination::default(),
            version: 0,
        })
    }

    fn evolve(&mut self, feed: &FeedEvent, event: &NominationEvent) {
        self.state.evolve(event);
        self.version = feed.sequence;
    }

    fn columns(&self, row: &mut Vec<Bind>) {
        row.extend([
            Bind::Text(self.state.status.as_str().to_owned()),
            Bind::OptionalText(self.state.program_id.map(|id| id.to_string())),
        ]);
    }
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
        let stored: Option<Stored<RewardProgram>> = self.document(program_id).await?;
        Ok(stored.map(|stored| ProgramView {
            program_id: program_id.to_owned(),
            state: stored.state,
            version: stored.version,
        }))
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
        let stored: Option<Stored<RewardNomination>> = self.document(nomination_id).await?;
        Ok(stored.map(|stored| NominationView {
            nomination_id: nomination_id.to_owned(),
            state: stored.state,
            version: stored.version,
        }))
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

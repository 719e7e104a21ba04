//! Projection `kpi`: one [`CaseFacts`] per case (`kpi_case_facts`), folded from the case events
//! by the domain's own code, with the month of the first dispatch (China Standard Time) and the
//! current lead department beside the document.
//!
//! The per-department, per-period figures are computed at read time by
//! [`caseledger_domain::kpi::department_kpi`] over the facts of the period's months: quarters
//! and years are then exact sums of the same facts, a formula version is a function rather than
//! stored rows, and this projection needs no calendar (timeliness uses the due dates recorded on
//! the case). It never reads another projection's tables.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use caseledger_domain::case::CaseEvent;
use caseledger_domain::kpi::{CaseFacts, KpiPeriod};

use crate::db::{
    list_placeholders, values_placeholders, Bind, Database, StoreError, Tx, ROWS_PER_STATEMENT,
};
use crate::feed::FeedEvent;
use crate::projector::{Projection, ProjectionError};

/// The `kpi` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct KpiProjection;

#[async_trait]
impl Projection for KpiProjection {
    fn name(&self) -> &'static str {
        "kpi"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["kpi_case_facts"]
    }

    async fn apply(&self, tx: &mut Tx, events: &[FeedEvent]) -> Result<(), ProjectionError> {
        // Read every touched case once, fold in memory, write each once.
        let mut parsed = Vec::new();
        let mut order: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for event in events
            .iter()
            .filter(|event| event.aggregate_type == crate::cases::AGGREGATE_TYPE)
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
        for (event, case_event) in parsed {
            let entry = touched
                .entry(event.aggregate_id.clone())
                .or_insert_with(|| (CaseFacts::default(), 0));
            entry.0.evolve(&case_event);
            entry.1 = event.sequence;
        }
        for chunk in order.chunks(ROWS_PER_STATEMENT) {
            let mut binds = Vec::with_capacity(chunk.len() * 5);
            for case_id in chunk {
                let (facts, version) = &touched[case_id];
                binds.extend([
                    Bind::Text(case_id.clone()),
                    Bind::OptionalText(facts.dispatched_month.clone()),
                    Bind::OptionalText(facts.lead_department.as_ref().map(ToString::to_string)),
                    Bind::Int(*version),
                    Bind::Text(serde_json::to_string(facts).map_err(StoreError::from)?),
                ]);
            }
            let sql = format!(
                "INSERT INTO kpi_case_facts (case_id, dispatched_month, lead_department, version, document) \
                 VALUES {} ON CONFLICT (case_id) DO UPDATE SET dispatched_month = excluded.dispatched_month, \
                     lead_department = excluded.lead_department, version = excluded.version, \
                     document = excluded.document",
                values_placeholders(chunk.len(), 5)
            );
            tx.execute_with(&sql, &binds).await?;
        }
        Ok(())
    }

    fn checksum_sql(&self) -> &'static str {
        "SELECT case_id || '|' || coalesce(dispatched_month, '') || '|' || coalesce(lead_department, '') \
                || '|' || version || '|' || document AS row \
           FROM kpi_case_facts ORDER BY case_id"
    }
}

async fn load_many(
    tx: &mut Tx,
    case_ids: &[String],
) -> Result<HashMap<String, (CaseFacts, i64)>, ProjectionError> {
    let mut found = HashMap::with_capacity(case_ids.len());
    for chunk in case_ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT case_id, document, version FROM kpi_case_facts WHERE case_id IN ({})",
            list_placeholders(chunk.len())
        );
        let binds: Vec<Bind> = chunk.iter().map(|id| Bind::Text(id.clone())).collect();
        let rows: Vec<(String, String, i64)> =
            with_tx!(tx, |conn| bind_all!(sqlx::query_as(&sql), &binds)
                .fetch_all(&mut *conn)
                .await)?;
        for (case_id, document, version) in rows {
            let facts = serde_json::from_str(&document).map_err(StoreError::from)?;
            found.insert(case_id, (facts, version));
        }
    }
    Ok(found)
}

impl Database {
    /// The facts of every case first dispatched in one of `periods`' months.
    pub async fn kpi_facts(&self, periods: &[KpiPeriod]) -> Result<Vec<CaseFacts>, StoreError> {
        let mut months: Vec<String> = periods.iter().flat_map(KpiPeriod::months).collect();
        months.sort();
        months.dedup();
        let mut facts = Vec::new();
        for chunk in months.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT document FROM kpi_case_facts WHERE dispatched_month IN ({}) ORDER BY case_id",
                list_placeholders(chunk.len())
            );
            let binds: Vec<Bind> = chunk
                .iter()
                .map(|month| Bind::Text(month.clone()))
                .collect();
            let documents: Vec<String> = with_pool!(self, |pool| {
                let query = bind_all!(sqlx::query_scalar(&sql), &binds);
                query.fetch_all(pool).await
            })?;
            for document in documents {
                facts.push(serde_json::from_str(&document)?);
            }
        }
        Ok(facts)
    }
}

impl Database {
    /// The position of the latest event in the log, if any (to wait for a projection to have
    /// every event written so far).
    pub async fn latest_event_position(&self) -> Result<Option<i64>, StoreError> {
        let position: Option<i64> = with_pool!(self, |pool| sqlx::query_scalar(
            "SELECT max(position) FROM events"
        )
        .fetch_one(pool)
        .await)?;
        Ok(position)
    }
}

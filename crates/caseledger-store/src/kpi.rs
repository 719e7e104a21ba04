//! Projection `kpi`: one [`CaseFacts`] per case (`kpi_case_facts`), folded from the case events
//! by the domain's own code, with the month of the first dispatch (China Standard Time) and the
//! current lead department beside the document.
//!
//! The per-department, per-period figures are computed at read time by
//! [`caseledger_domain::kpi::department_kpi`] over the facts of the period's months: quarters
//! and years are then exact sums of the same facts, a formula version is a function rather than
//! stored rows, and this projection needs no calendar (timeliness uses the due dates recorded on
//! the case). It never reads another projection's tables.

use caseledger_domain::case::CaseEvent;
use caseledger_domain::kpi::{CaseFacts, KpiPeriod};

use crate::db::{list_placeholders, Bind, Database, StoreError, ROWS_PER_STATEMENT};
use crate::documents::{Column, Document, DocumentProjection, Table};
use crate::feed::FeedEvent;

/// The `kpi` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct KpiProjection;

impl DocumentProjection for KpiProjection {
    const NAME: &'static str = "kpi";
    type Documents = CaseFacts;
}

impl Document for CaseFacts {
    type Event = CaseEvent;
    const AGGREGATE_TYPE: &'static str = crate::cases::AGGREGATE_TYPE;
    const TABLE: Table = Table::new("kpi_case_facts", "case_id")
        .versioned()
        .with_columns(&[
            Column::new("dispatched_month"),
            Column::new("lead_department"),
        ]);

    fn create(_: &FeedEvent, _: &CaseEvent) -> Result<Self, &'static str> {
        Ok(CaseFacts::default())
    }

    fn evolve(&mut self, _: &FeedEvent, event: &CaseEvent) {
        // The domain's own fold (the inherent method).
        CaseFacts::evolve(self, event);
    }

    fn columns(&self, row: &mut Vec<Bind>) {
        row.extend([
            Bind::OptionalText(self.dispatched_month.clone()),
            Bind::OptionalText(self.lead_department.as_ref().map(ToString::to_string)),
        ]);
    }
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
            facts.extend(self.documents::<CaseFacts>(&sql, &binds).await?);
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

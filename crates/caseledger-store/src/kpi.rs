//! Projection `kpi`: one [`CaseFacts`] per case (`kpi_case_facts`), folded from the case events
//! by the domain's own code, with the month of the first dispatch (China Standard Time) and the
//! current lead department beside the document; and, derived from each, what the case adds to
//! each department's KPIs in that month (`kpi_case_tallies`, [`CaseFacts::tallies`]).
//!
//! The per-department, per-period figures are sums of those tallies, computed at read time
//! ([`Database::kpi_tallies`], then [`caseledger_domain::kpi::DepartmentKpi::of`]): quarters
//! and years are exact sums of the same months, and this projection needs no calendar
//! (timeliness uses the due dates recorded on the case). It never reads another projection's
//! tables.

use std::collections::BTreeMap;

use caseledger_domain::case::CaseEvent;
use caseledger_domain::kpi::{CaseFacts, KpiPeriod, KpiTally};
use sqlx::Row as _;

use crate::db::{list_placeholders, Bind, Database, StoreError, ROWS_PER_STATEMENT};
use crate::documents::{Column, Document, DocumentProjection, Row, Rows, Table};
use crate::feed::FeedEvent;

/// The `kpi` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct KpiProjection;

impl DocumentProjection for KpiProjection {
    const NAME: &'static str = "kpi";
    type Documents = CaseFacts;
}

/// The columns of `kpi_case_tallies`: the case, the department, the month, then
/// [`KpiTally::FIELDS`] in that order.
const TALLY_COLUMNS: [&str; 20] = [
    "case_id",
    "department",
    "month",
    "volume",
    "exempted",
    "scored",
    "accepted_on_time",
    "responded",
    "on_time",
    "late",
    "ratings",
    "satisfied",
    "resolved",
    "reopened",
    "extensions",
    "appeals",
    "appeals_upheld",
    "withdrawals_after_dispatch",
    "received",
    "returned",
];

impl Document for CaseFacts {
    type Event = CaseEvent;
    const AGGREGATE_TYPE: &'static str = crate::cases::AGGREGATE_TYPE;
    const TABLE: Table = Table::new("kpi_case_facts", "case_id")
        .versioned()
        .with_columns(&[
            Column::new("dispatched_month"),
            Column::new("lead_department"),
        ])
        .with_derived(&[Rows::new("kpi_case_tallies", "case_id", &TALLY_COLUMNS)]);

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

    fn derived(row: &Row<Self>, tables: &mut [Vec<Bind>]) {
        let Some(month) = &row.view.dispatched_month else {
            return;
        };
        for (department, tally) in row.view.tallies() {
            tables[0].extend([
                Bind::Text(row.key.clone()),
                Bind::Text(department.to_string()),
                Bind::Text(month.clone()),
            ]);
            tables[0].extend(
                tally
                    .counts()
                    .into_iter()
                    .map(|count| Bind::Int(i64::from(count))),
            );
        }
    }
}

/// The summed tallies of one department in one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthTally {
    /// The department.
    pub department: String,
    /// `YYYY-MM`.
    pub month: String,
    /// The sum over the department's cases first dispatched in that month.
    pub tally: KpiTally,
}

impl Database {
    /// The summed tallies of every department (or only `department`) for each month of
    /// `periods` that has any, by department and month.
    pub async fn kpi_tallies(
        &self,
        periods: &[KpiPeriod],
        department: Option<&str>,
    ) -> Result<Vec<MonthTally>, StoreError> {
        let mut months: Vec<String> = periods.iter().flat_map(KpiPeriod::months).collect();
        months.sort();
        months.dedup();
        let sums: Vec<String> = KpiTally::FIELDS
            .iter()
            .map(|field| format!("CAST(sum({field}) AS BIGINT)"))
            .collect();
        let mut found = BTreeMap::new();
        for chunk in months.chunks(ROWS_PER_STATEMENT) {
            let mut binds: Vec<Bind> = chunk
                .iter()
                .map(|month| Bind::Text(month.clone()))
                .collect();
            let mut sql = format!(
                "SELECT department, month, {} FROM kpi_case_tallies WHERE month IN ({})",
                sums.join(", "),
                list_placeholders(chunk.len())
            );
            if let Some(department) = department {
                binds.push(Bind::Text(department.to_owned()));
                sql.push_str(&format!(" AND department = ${}", binds.len()));
            }
            sql.push_str(" GROUP BY department, month");
            let rows = with_pool!(self, |pool| {
                let rows = bind_all!(sqlx::query(&sql), &binds).fetch_all(pool).await?;
                rows.iter()
                    .map(|row| {
                        let mut counts = [0u32; 17];
                        for (index, count) in counts.iter_mut().enumerate() {
                            let sum: i64 = row.try_get(index + 2)?;
                            *count = u32::try_from(sum).unwrap_or(u32::MAX);
                        }
                        Ok::<_, sqlx::Error>((
                            (row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?),
                            KpiTally::from_counts(counts),
                        ))
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })?;
            found.extend(rows);
        }
        Ok(found
            .into_iter()
            .map(|((department, month), tally)| MonthTally {
                department,
                month,
                tally,
            })
            .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tally_columns_are_the_domain_fields_in_order() {
        assert_eq!(TALLY_COLUMNS[3..], KpiTally::FIELDS);
    }
}

//! Department KPIs (部门考核指标) derived from the case log, formula version [`KPI_FORMULA_VERSION`].
//!
//! Two steps, both pure:
//! 1. [`CaseFacts::evolve`] folds one case's events into the facts the formulas need (who led
//!    it, whether each step met the due date recorded on the case, the latest rating and whether
//!    an upheld appeal excludes it, exemption, withdrawal, reopens…). The store keeps one
//!    [`CaseFacts`] per case as its `kpi` projection.
//! 2. [`CaseFacts::tallies`] says what the case adds to each department it concerns, in the
//!    month of its first dispatch: a [`KpiTally`] of counts. Every figure of [`DepartmentKpi`]
//!    is a count, so the KPIs of a month, a quarter or a year are [`DepartmentKpi::of`] the sum
//!    of the tallies of its months ([`department_kpi`] does exactly that over facts). The store
//!    keeps each case's tallies beside its facts and sums them in SQL.
//!
//! Attribution: a case belongs to the period (month, quarter, year) that contains the China
//! Standard Time date of its **first dispatch**, and to its **current lead department** (after
//! returns and reassignments). Returns are counted for every department that returned it.
//!
//! Timeliness compares an event's time with the due date recorded on the case when it happened
//! (dispatch, rerouting, extensions, the pause shift and reopen record them, computed in working
//! days by the calendar at the time). No calendar is needed here, so a later edit of a calendar
//! file never changes a past KPI, and a rebuild gives the same facts.
//!
//! The definitions are in docs/DECISIONS.md ("Department KPIs, kpi.v1") and in [`FORMULAS`],
//! which every KPI answer carries. A change of any definition is a new version.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::case::{CaseEvent, DeadlineKind, EnterpriseCase};
use crate::ids::DepartmentId;
use crate::portfolio::china_date;

/// The version of the KPI formulas below.
pub const KPI_FORMULA_VERSION: &str = "kpi.v1";

/// Satisfaction grades that count as satisfied (满意 and 比较满意 of five grades).
pub const SATISFIED_FROM: u8 = 4;

/// The weights (percent) of the rates in the KPI score. A rate without cases drops out and the
/// others are re-weighted.
pub const SCORE_WEIGHTS: [(&str, u32); 5] = [
    ("timely_acceptance", 15),
    ("response", 15),
    ("on_time_completion", 30),
    ("satisfaction", 25),
    ("resolution", 15),
];

/// Every metric and its definition (kpi.v1), as returned with each KPI answer.
pub const FORMULAS: [(&str, &str); 16] = [
    ("period", "a case belongs to the period containing the China Standard Time date of its first dispatch"),
    ("department", "a case belongs to its current lead department (after returns and reassignments)"),
    ("volume", "cases of the department in the period"),
    ("exempted", "cases granted a scoring exemption; they count in volume and nowhere else"),
    ("scored", "volume minus exempted, withdrawn and merged cases"),
    ("timely_acceptance", "scored cases the department accepted at or before the acceptance due recorded when it received them / scored"),
    ("response", "scored cases with a response / scored"),
    ("on_time_completion", "scored cases responded and never late / scored; late = a response or closing after the due recorded on the case for that cycle (extensions and pauses move it), or a recorded respond or resolve breach"),
    ("overdue", "scored cases that were late"),
    ("satisfaction", "scorable ratings of 4 or 5 / scorable ratings; scorable = the latest rating of a scored case, unless an appeal against it was upheld"),
    ("resolution", "scorable ratings saying resolved / scorable ratings"),
    ("returns", "non-exempted cases of the period the department returned / non-exempted cases of the period it ever received as lead"),
    ("redo", "scored cases reopened at least once / scored cases with a response"),
    ("extensions", "extensions granted on scored cases (count)"),
    ("appeals", "rating appeals filed on scored cases (count), and how many were upheld"),
    ("score", "100 x weighted mean of the rates with a denominator: timely_acceptance 15, response 15, on_time_completion 30, satisfaction 25, resolution 15; two decimals"),
];

/// The calendar month (China Standard Time) of an instant, as `YYYY-MM`.
pub fn month_of(at: DateTime<Utc>) -> String {
    let date = china_date(at);
    format!("{:04}-{:02}", date.year(), date.month())
}

/// A KPI period: a month (`2026-11`), a quarter (`2026-Q4`) or a year (`2026`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KpiPeriod {
    year: i32,
    /// First month (1–12) and number of months (1, 3 or 12).
    first_month: u32,
    months: u32,
}

/// The text is not a period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("period must be a month (2026-11), a quarter (2026-Q4) or a year (2026), not {0:?}")]
pub struct PeriodError(pub String);

impl KpiPeriod {
    /// Parses `2026-11`, `2026-Q4` or `2026` (years 2000 to 2999).
    pub fn parse(text: &str) -> Result<Self, PeriodError> {
        let error = || PeriodError(text.to_owned());
        let text = text.trim();
        let year_of = |year: &str| {
            (year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()))
                .then(|| year.parse::<i32>().ok())
                .flatten()
                .filter(|year| (2000..3000).contains(year))
        };
        if let Some(year) = year_of(text) {
            return Ok(Self {
                year,
                first_month: 1,
                months: 12,
            });
        }
        let (year, rest) = text.split_once('-').ok_or_else(error)?;
        let year = year_of(year).ok_or_else(error)?;
        if let Some(quarter) = rest.strip_prefix('Q').or_else(|| rest.strip_prefix('q')) {
            let quarter: u32 = match quarter {
                "1" => 1,
                "2" => 2,
                "3" => 3,
                "4" => 4,
                _ => return Err(error()),
            };
            return Ok(Self {
                year,
                first_month: (quarter - 1) * 3 + 1,
                months: 3,
            });
        }
        if rest.len() != 2 || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error());
        }
        let month: u32 = rest.parse().map_err(|_| error())?;
        if !(1..=12).contains(&month) {
            return Err(error());
        }
        Ok(Self {
            year,
            first_month: month,
            months: 1,
        })
    }

    /// The period of one month.
    pub fn month(year: i32, month: u32) -> Option<Self> {
        Self::parse(&format!("{year:04}-{month:02}")).ok()
    }

    /// The canonical label: `2026-11`, `2026-Q4` or `2026`.
    pub fn label(&self) -> String {
        match self.months {
            12 => format!("{:04}", self.year),
            3 => format!("{:04}-Q{}", self.year, (self.first_month - 1) / 3 + 1),
            _ => format!("{:04}-{:02}", self.year, self.first_month),
        }
    }

    /// `month`, `quarter` or `year`.
    pub fn granularity(&self) -> &'static str {
        match self.months {
            12 => "year",
            3 => "quarter",
            _ => "month",
        }
    }

    /// The months of the period as `YYYY-MM`.
    pub fn months(&self) -> Vec<String> {
        (self.first_month..self.first_month + self.months)
            .map(|month| format!("{:04}-{:02}", self.year, month))
            .collect()
    }

    /// First day.
    pub fn start(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.first_month, 1).expect("valid by construction")
    }

    /// The next period of the same length.
    pub fn next(&self) -> Self {
        let index = self.first_month - 1 + self.months;
        Self {
            year: self.year + (index / 12) as i32,
            first_month: index % 12 + 1,
            months: self.months,
        }
    }

    /// Whether the month `YYYY-MM` lies in the period.
    pub fn contains_month(&self, month: &str) -> bool {
        self.months().iter().any(|own| own == month)
    }
}

impl TryFrom<String> for KpiPeriod {
    type Error = PeriodError;
    fn try_from(text: String) -> Result<Self, PeriodError> {
        Self::parse(&text)
    }
}

impl From<KpiPeriod> for String {
    fn from(period: KpiPeriod) -> String {
        period.label()
    }
}

/// The latest rating of a case as the formulas see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingFact {
    /// 1 to 5.
    pub satisfaction: u8,
    /// Whether the enterprise considers the problem resolved.
    pub resolved: bool,
    /// An appeal against it was upheld: it stays on record but is not scored.
    pub excluded: bool,
}

/// What the KPI formulas need to know about one case, folded from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseFacts {
    /// The case's own state, evolved by the aggregate's code: the due dates in force.
    pub state: EnterpriseCase,
    /// The month (`YYYY-MM`, China time) of the first dispatch.
    pub dispatched_month: Option<String>,
    /// The current lead department.
    pub lead_department: Option<DepartmentId>,
    /// Every department that was ever the lead (received the case).
    pub received_by: BTreeSet<DepartmentId>,
    /// Every department that returned the case.
    pub returned_by: BTreeSet<DepartmentId>,
    /// Whether the current lead accepted in time (`None`: not accepted yet).
    pub accepted_on_time: Option<bool>,
    /// A response was given (in any cycle).
    pub responded: bool,
    /// A response or closing came after its due, or a respond/resolve breach was recorded.
    pub late: bool,
    /// Reopens (redo).
    pub reopens: u32,
    /// Extensions granted.
    pub extensions: u32,
    /// Appeals filed against ratings.
    pub appeals: u32,
    /// Appeals upheld.
    pub appeals_upheld: u32,
    /// The latest rating.
    pub rating: Option<RatingFact>,
    /// Exempted from scoring.
    pub exempted: bool,
    /// Withdrawn.
    pub withdrawn: bool,
    /// Withdrawn after dispatch (flagged for a quality check).
    pub withdrawn_after_dispatch: bool,
    /// Merged into another case.
    pub merged: bool,
}

impl CaseFacts {
    /// Folds one event. Never fails: a recorded event is a fact.
    pub fn evolve(&mut self, event: &CaseEvent) {
        let due = |kind| self.state.clock.deadlines.get(&kind).map(|d| d.due);
        match event {
            CaseEvent::CaseDispatched {
                lead_department,
                dispatched_at,
                ..
            } => {
                if self.dispatched_month.is_none() {
                    self.dispatched_month = Some(month_of(*dispatched_at));
                }
                self.receive(lead_department);
            }
            CaseEvent::CaseReturned {
                department,
                rerouted_to,
                ..
            } => {
                self.returned_by.insert(department.clone());
                match rerouted_to {
                    Some(next) => self.receive(next),
                    None => {
                        self.lead_department = None;
                        self.accepted_on_time = None;
                    }
                }
            }
            CaseEvent::CaseReassigned {
                lead_department, ..
            } => self.receive(lead_department),
            CaseEvent::CaseAccepted { accepted_at, .. } => {
                let on_time = due(DeadlineKind::Accept).is_none_or(|due| *accepted_at <= due);
                self.accepted_on_time = Some(on_time);
            }
            CaseEvent::CaseResponded { responded_at, .. } => {
                self.responded = true;
                if due(DeadlineKind::Respond).is_some_and(|due| *responded_at > due) {
                    self.late = true;
                }
            }
            CaseEvent::CaseClosed { closed_at, .. }
                if due(DeadlineKind::Resolve).is_some_and(|due| *closed_at > due) =>
            {
                self.late = true;
            }
            CaseEvent::DeadlineBreached {
                deadline: DeadlineKind::Respond | DeadlineKind::Resolve,
                ..
            } => self.late = true,
            CaseEvent::ExtensionDecided { approved: true, .. } => self.extensions += 1,
            CaseEvent::CaseRated {
                satisfaction,
                resolved,
                ..
            } => {
                self.rating = Some(RatingFact {
                    satisfaction: satisfaction.get(),
                    resolved: *resolved,
                    excluded: false,
                });
            }
            CaseEvent::RatingAppealed { .. } => self.appeals += 1,
            CaseEvent::AppealDecided { upheld: true, .. } => {
                self.appeals_upheld += 1;
                if let Some(rating) = &mut self.rating {
                    rating.excluded = true;
                }
            }
            CaseEvent::CaseReopened { .. } => self.reopens += 1,
            CaseEvent::CaseWithdrawn { quality_check, .. } => {
                self.withdrawn = true;
                self.withdrawn_after_dispatch = *quality_check;
            }
            CaseEvent::ExemptionGranted { .. } => self.exempted = true,
            CaseEvent::CaseMerged { .. } => self.merged = true,
            _ => {}
        }
        self.state.evolve(event);
    }

    fn receive(&mut self, department: &DepartmentId) {
        self.lead_department = Some(department.clone());
        self.received_by.insert(department.clone());
        self.accepted_on_time = None;
    }

    fn scored(&self) -> bool {
        !(self.exempted || self.withdrawn || self.merged)
    }

    fn scorable_rating(&self) -> Option<RatingFact> {
        self.rating.filter(|rating| !rating.excluded)
    }

    /// What this case adds to the KPIs of each department it concerns (its current lead and
    /// every department that received it), in the month of its first dispatch. Nothing before
    /// a dispatch; departments it adds nothing to are left out.
    pub fn tallies(&self) -> Vec<(DepartmentId, KpiTally)> {
        if self.dispatched_month.is_none() {
            return Vec::new();
        }
        let mut departments: BTreeSet<&DepartmentId> = self.received_by.iter().collect();
        departments.extend(self.lead_department.as_ref());
        departments
            .into_iter()
            .map(|department| (department.clone(), self.tally(department)))
            .filter(|(_, tally)| *tally != KpiTally::default())
            .collect()
    }

    /// What this case adds to `department`'s KPIs (the definitions of [`FORMULAS`]).
    fn tally(&self, department: &DepartmentId) -> KpiTally {
        let own = self.lead_department.as_ref() == Some(department);
        let scored = own && self.scored();
        let rating = self.scorable_rating().filter(|_| scored);
        let received = !self.exempted && self.received_by.contains(department);
        let count = |yes: bool| u32::from(yes);
        let scored_sum = |n: u32| if scored { n } else { 0 };
        KpiTally {
            volume: count(own),
            exempted: count(own && self.exempted),
            scored: count(scored),
            accepted_on_time: count(scored && self.accepted_on_time == Some(true)),
            responded: count(scored && self.responded),
            on_time: count(scored && self.responded && !self.late),
            late: count(scored && self.late),
            ratings: count(rating.is_some()),
            satisfied: count(rating.is_some_and(|rating| rating.satisfaction >= SATISFIED_FROM)),
            resolved: count(rating.is_some_and(|rating| rating.resolved)),
            reopened: count(scored && self.reopens > 0),
            extensions: scored_sum(self.extensions),
            appeals: scored_sum(self.appeals),
            appeals_upheld: scored_sum(self.appeals_upheld),
            withdrawals_after_dispatch: count(
                own && self.withdrawn_after_dispatch && !self.exempted,
            ),
            received: count(received),
            returned: count(received && self.returned_by.contains(department)),
        }
    }
}

/// The counts behind one department's KPIs (kpi.v1), from one case or summed over many: every
/// figure of [`DepartmentKpi`] is one of these or a ratio of two ([`DepartmentKpi::of`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KpiTally {
    /// Cases led by the department (volume).
    pub volume: u32,
    /// Of those, exempted.
    pub exempted: u32,
    /// Of those, scored.
    pub scored: u32,
    /// Scored cases accepted at or before the acceptance due.
    pub accepted_on_time: u32,
    /// Scored cases with a response.
    pub responded: u32,
    /// Scored cases responded and never late.
    pub on_time: u32,
    /// Scored cases that were late.
    pub late: u32,
    /// Scorable ratings of scored cases.
    pub ratings: u32,
    /// Of those, satisfied (4 or 5).
    pub satisfied: u32,
    /// Of those, saying resolved.
    pub resolved: u32,
    /// Scored cases reopened at least once.
    pub reopened: u32,
    /// Extensions granted on scored cases.
    pub extensions: u32,
    /// Appeals filed on scored cases.
    pub appeals: u32,
    /// Appeals upheld on scored cases.
    pub appeals_upheld: u32,
    /// Non-exempted cases led by the department withdrawn after dispatch.
    pub withdrawals_after_dispatch: u32,
    /// Non-exempted cases the department ever received as lead.
    pub received: u32,
    /// Of those, returned by the department.
    pub returned: u32,
}

impl KpiTally {
    /// The names of the counts, in the order of [`KpiTally::counts`] (the store's columns).
    pub const FIELDS: [&'static str; 17] = [
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

    /// The counts, in the order of [`KpiTally::FIELDS`].
    pub fn counts(&self) -> [u32; 17] {
        [
            self.volume,
            self.exempted,
            self.scored,
            self.accepted_on_time,
            self.responded,
            self.on_time,
            self.late,
            self.ratings,
            self.satisfied,
            self.resolved,
            self.reopened,
            self.extensions,
            self.appeals,
            self.appeals_upheld,
            self.withdrawals_after_dispatch,
            self.received,
            self.returned,
        ]
    }

    /// The tally of `counts`, in the order of [`KpiTally::FIELDS`].
    pub fn from_counts(counts: [u32; 17]) -> Self {
        let [volume, exempted, scored, accepted_on_time, responded, on_time, late, ratings, satisfied, resolved, reopened, extensions, appeals, appeals_upheld, withdrawals_after_dispatch, received, returned] =
            counts;
        Self {
            volume,
            exempted,
            scored,
            accepted_on_time,
            responded,
            on_time,
            late,
            ratings,
            satisfied,
            resolved,
            reopened,
            extensions,
            appeals,
            appeals_upheld,
            withdrawals_after_dispatch,
            received,
            returned,
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &KpiTally) {
        let mut counts = self.counts();
        for (count, more) in counts.iter_mut().zip(other.counts()) {
            *count = count.saturating_add(more);
        }
        *self = Self::from_counts(counts);
    }
}

/// A rate with its parts, so every figure can be checked by hand.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// Cases counted.
    pub numerator: u32,
    /// Cases considered.
    pub denominator: u32,
    /// numerator / denominator, four decimals; `None` without cases.
    pub rate: Option<f64>,
}

impl Ratio {
    fn of(numerator: u32, denominator: u32) -> Self {
        Self {
            numerator,
            denominator,
            rate: (denominator > 0)
                .then(|| round_to(f64::from(numerator) / f64::from(denominator), 4)),
        }
    }

    fn exact(&self) -> Option<f64> {
        (self.denominator > 0).then(|| f64::from(self.numerator) / f64::from(self.denominator))
    }
}

/// Rounds half away from zero to `decimals` places.
pub fn round_to(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

/// One department's KPIs for one period (kpi.v1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepartmentKpi {
    /// `kpi.v1`.
    pub formula_version: String,
    /// The department.
    pub department: DepartmentId,
    /// The period label.
    pub period: String,
    /// Cases of the department in the period.
    pub volume: u32,
    /// Of those, exempted.
    pub exempted: u32,
    /// Of those, scored.
    pub scored: u32,
    /// Timely acceptance.
    pub timely_acceptance: Ratio,
    /// Response rate.
    pub response: Ratio,
    /// On-time completion.
    pub on_time_completion: Ratio,
    /// Resolution rate (of scorable ratings).
    pub resolution: Ratio,
    /// Satisfaction rate (of scorable ratings).
    pub satisfaction: Ratio,
    /// Late cases.
    pub overdue: u32,
    /// Return rate.
    pub returns: Ratio,
    /// Redo rate.
    pub redo: Ratio,
    /// Extensions granted.
    pub extensions: u32,
    /// Appeals filed.
    pub appeals: u32,
    /// Appeals upheld.
    pub appeals_upheld: u32,
    /// Withdrawals after dispatch.
    pub withdrawals_after_dispatch: u32,
    /// The KPI score 0–100 (two decimals); `None` without scored cases.
    pub score: Option<f64>,
}

/// The KPIs of `department` over `facts` (any cases; those outside `period` are ignored): the
/// sum of their tallies ([`CaseFacts::tallies`]) for that department.
pub fn department_kpi<'a>(
    department: &DepartmentId,
    period: &KpiPeriod,
    facts: impl IntoIterator<Item = &'a CaseFacts>,
) -> DepartmentKpi {
    let mut total = KpiTally::default();
    for case in facts.into_iter().filter(|case| {
        case.dispatched_month
            .as_deref()
            .is_some_and(|month| period.contains_month(month))
    }) {
        for (_, tally) in case
            .tallies()
            .iter()
            .filter(|(owner, _)| owner == department)
        {
            total.add(tally);
        }
    }
    DepartmentKpi::of(department, period, &total)
}

impl DepartmentKpi {
    /// The KPIs (kpi.v1) of `department` for `period` from the sum of its cases' tallies.
    pub fn of(department: &DepartmentId, period: &KpiPeriod, tally: &KpiTally) -> Self {
        let timely_acceptance = Ratio::of(tally.accepted_on_time, tally.scored);
        let response = Ratio::of(tally.responded, tally.scored);
        let on_time_completion = Ratio::of(tally.on_time, tally.scored);
        let satisfaction = Ratio::of(tally.satisfied, tally.ratings);
        let resolution = Ratio::of(tally.resolved, tally.ratings);
        let rates = [
            &timely_acceptance,
            &response,
            &on_time_completion,
            &satisfaction,
            &resolution,
        ];
        let mut weighted = 0.0;
        let mut weights = 0u32;
        for (ratio, (_, weight)) in rates.iter().zip(SCORE_WEIGHTS) {
            if let Some(rate) = ratio.exact() {
                weighted += rate * f64::from(weight);
                weights += weight;
            }
        }
        let score = (weights > 0).then(|| round_to(100.0 * weighted / f64::from(weights), 2));
        Self {
            formula_version: KPI_FORMULA_VERSION.to_owned(),
            department: department.clone(),
            period: period.label(),
            volume: tally.volume,
            exempted: tally.exempted,
            scored: tally.scored,
            timely_acceptance,
            response,
            on_time_completion,
            resolution,
            satisfaction,
            overdue: tally.late,
            returns: Ratio::of(tally.returned, tally.received),
            redo: Ratio::of(tally.reopened, tally.responded),
            extensions: tally.extensions,
            appeals: tally.appeals,
            appeals_upheld: tally.appeals_upheld,
            withdrawals_after_dispatch: tally.withdrawals_after_dispatch,
            score,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_list_their_months() {
        let quarter = KpiPeriod::parse("2026-Q4").unwrap();
        assert_eq!(quarter.months(), ["2026-10", "2026-11", "2026-12"]);
        assert_eq!(quarter.label(), "2026-Q4");
        assert_eq!(quarter.next().label(), "2027-Q1");
        assert_eq!(KpiPeriod::parse("2026").unwrap().months().len(), 12);
        assert_eq!(KpiPeriod::parse("2026-02").unwrap().label(), "2026-02");
        assert_eq!(
            KpiPeriod::parse("2026-12").unwrap().next().label(),
            "2027-01"
        );
        for bad in [
            "2026-Q5", "2026-13", "26-01", "2026-1", "", "2026-Q", "abcd",
        ] {
            assert!(KpiPeriod::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_dispatch_late_on_the_last_evening_of_a_month_belongs_to_the_next_month_in_china() {
        let at = DateTime::parse_from_rfc3339("2026-09-30T17:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(month_of(at), "2026-10");
    }
}

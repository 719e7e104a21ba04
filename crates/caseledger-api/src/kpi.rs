//! Department KPIs (kpi.v1) from the `kpi` projection: one department and period, every
//! department for a period, and a department's trend over consecutive periods. Every answer
//! carries the formula version and the definitions.
//!
//! Who reads: district staff, auditors and admins every department; department handlers and
//! heads their own department (its trend included); everyone else 403. A running period's
//! figures are provisional (exemptions and appeals may still be decided); the public reads the
//! KPI snapshot of a published appraisal instead.

use axum::extract::{Path, State};
use axum::Json;
use caseledger_domain::kpi::{
    DepartmentKpi, KpiPeriod, KpiTally, Ratio, FORMULAS, KPI_FORMULA_VERSION,
};
use caseledger_domain::{Actor, DepartmentId, Role};
use caseledger_store::kpi::MonthTally;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::error::{ApiError, Problem};
use crate::json::ApiQuery;
use crate::reads::wait_for_projection;
use crate::state::AppState;

const DISTRICT_READERS: &[Role] = &[
    Role::DistrictLeader,
    Role::LiaisonOfficer,
    Role::Dispatcher,
    Role::Auditor,
    Role::Admin,
];
const DEPARTMENT_ROLES: &[Role] = &[Role::DepartmentHandler, Role::DepartmentHead];

/// The most periods a trend answers.
const MAX_TREND_PERIODS: usize = 36;

/// A rate with its parts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RatioBody {
    /// Cases counted.
    pub numerator: u32,
    /// Cases considered.
    pub denominator: u32,
    /// numerator / denominator (four decimals); null without cases.
    pub rate: Option<f64>,
}

impl From<Ratio> for RatioBody {
    fn from(ratio: Ratio) -> Self {
        Self {
            numerator: ratio.numerator,
            denominator: ratio.denominator,
            rate: ratio.rate,
        }
    }
}

/// One department's KPIs for one period; see `formulas` for each definition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KpiBody {
    /// The department id.
    pub department: String,
    /// Its Chinese name.
    pub department_name: String,
    /// Its English name.
    pub department_name_en: Option<String>,
    /// `2026-11`, `2026-Q4` or `2026`.
    #[schema(pattern = "^2[0-9]{3}(-(0[1-9]|1[0-2])|-[Qq][1-4])?$")]
    pub period: String,
    /// `kpi.v1`.
    pub formula_version: String,
    /// Cases of the department in the period.
    pub volume: u32,
    /// Exempted cases.
    pub exempted: u32,
    /// Scored cases.
    pub scored: u32,
    /// Timely acceptance.
    pub timely_acceptance: RatioBody,
    /// Response rate.
    pub response: RatioBody,
    /// On-time completion.
    pub on_time_completion: RatioBody,
    /// Resolution rate.
    pub resolution: RatioBody,
    /// Satisfaction rate.
    pub satisfaction: RatioBody,
    /// Late cases.
    pub overdue: u32,
    /// Return rate.
    pub returns: RatioBody,
    /// Redo rate.
    pub redo: RatioBody,
    /// Extensions granted.
    pub extensions: u32,
    /// Appeals filed.
    pub appeals: u32,
    /// Appeals upheld.
    pub appeals_upheld: u32,
    /// Withdrawals after dispatch.
    pub withdrawals_after_dispatch: u32,
    /// KPI score 0–100; null without scored cases.
    pub score: Option<f64>,
}

/// One formula.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FormulaBody {
    /// The metric.
    pub metric: String,
    /// Its definition.
    pub definition: String,
}

/// The definitions of the formula version in force.
pub fn formulas() -> Vec<FormulaBody> {
    FORMULAS
        .iter()
        .map(|(metric, definition)| FormulaBody {
            metric: (*metric).to_owned(),
            definition: (*definition).to_owned(),
        })
        .collect()
}

/// One department's KPIs.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentKpiAnswer {
    /// `kpi.v1`.
    pub formula_version: String,
    /// Every metric's definition.
    pub formulas: Vec<FormulaBody>,
    /// The figures.
    pub kpi: KpiBody,
}

/// Every department's KPIs for one period.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiListAnswer {
    /// `kpi.v1`.
    pub formula_version: String,
    /// Every metric's definition.
    pub formulas: Vec<FormulaBody>,
    /// The period.
    pub period: String,
    /// Departments by id.
    pub items: Vec<KpiBody>,
}

/// A department's KPIs over consecutive periods.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiTrendAnswer {
    /// `kpi.v1`.
    pub formula_version: String,
    /// Every metric's definition.
    pub formulas: Vec<FormulaBody>,
    /// The department.
    pub department: String,
    /// `month`, `quarter` or `year`.
    #[schema(value_type = crate::schema::KpiGranularity)]
    pub granularity: String,
    /// One entry per period, oldest first.
    pub items: Vec<KpiBody>,
}

/// `?period=2026-Q4`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// A month (`2026-11`), quarter (`2026-Q4`) or year (`2026`), China Standard Time.
    #[param(pattern = "^2[0-9]{3}(-(0[1-9]|1[0-2])|-[Qq][1-4])?$")]
    pub period: String,
    /// Wait until the KPI view has applied this feed position (read your writes).
    pub min_position: Option<i64>,
}

/// `?from=2026-01&to=2026-12`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiTrendQuery {
    /// The first period (month, quarter or year).
    #[param(pattern = "^2[0-9]{3}(-(0[1-9]|1[0-2])|-[Qq][1-4])?$")]
    pub from: String,
    /// The last period, of the same kind (at most 36 periods).
    #[param(pattern = "^2[0-9]{3}(-(0[1-9]|1[0-2])|-[Qq][1-4])?$")]
    pub to: String,
    /// Wait until the KPI view has applied this feed position (read your writes).
    pub min_position: Option<i64>,
}

/// Converts the domain figures into the answer's shape, with the department's names.
pub fn kpi_body(state: &AppState, kpi: &DepartmentKpi) -> KpiBody {
    let department = state.reference.department(&kpi.department);
    KpiBody {
        department: kpi.department.to_string(),
        department_name: department.map_or_else(|| kpi.department.to_string(), |d| d.name.clone()),
        department_name_en: department.and_then(|d| d.name_en.clone()),
        period: kpi.period.clone(),
        formula_version: kpi.formula_version.clone(),
        volume: kpi.volume,
        exempted: kpi.exempted,
        scored: kpi.scored,
        timely_acceptance: kpi.timely_acceptance.into(),
        response: kpi.response.into(),
        on_time_completion: kpi.on_time_completion.into(),
        resolution: kpi.resolution.into(),
        satisfaction: kpi.satisfaction.into(),
        overdue: kpi.overdue,
        returns: kpi.returns.into(),
        redo: kpi.redo.into(),
        extensions: kpi.extensions,
        appeals: kpi.appeals,
        appeals_upheld: kpi.appeals_upheld,
        withdrawals_after_dispatch: kpi.withdrawals_after_dispatch,
        score: kpi.score,
    }
}

fn parse_period(text: &str, name: &str) -> Result<KpiPeriod, ApiError> {
    KpiPeriod::parse(text)
        .map_err(|error| ApiError::new(ErrorCode::InvalidQuery, format!("{name}: {error}")))
}

/// 404 for a department the reference data does not know.
pub fn known_department(state: &AppState, id: &str) -> Result<DepartmentId, ApiError> {
    let not_found = || ApiError::new(ErrorCode::DepartmentNotFound, "department not found");
    let id = DepartmentId::parse(id).map_err(|_| not_found())?;
    state.reference.department(&id).ok_or_else(not_found)?;
    Ok(id)
}

/// May `actor` read `department`'s KPIs?
fn check_department_reader(actor: &Actor, department: &DepartmentId) -> Result<(), ApiError> {
    if actor.has_any(DISTRICT_READERS) {
        return Ok(());
    }
    if actor.has_any(DEPARTMENT_ROLES) {
        if actor.acts_for(department.as_str()) {
            return Ok(());
        }
        return Err(ApiError::new(
            ErrorCode::NotOwnDepartment,
            "department staff read their own department's KPIs only",
        ));
    }
    Err(ApiError::new(
        ErrorCode::RoleNotAllowed,
        "this role has no access to department KPIs",
    ))
}

/// The KPIs of every given department for `period`, summed from the `kpi` projection's tallies.
pub async fn kpis_for(
    state: &AppState,
    departments: &[DepartmentId],
    period: &KpiPeriod,
) -> Result<Vec<DepartmentKpi>, ApiError> {
    let only = match departments {
        [one] => Some(one.as_str()),
        _ => None,
    };
    let tallies = state.db.kpi_tallies(&[*period], only).await?;
    Ok(departments
        .iter()
        .map(|department| sum_kpi(&tallies, department, period))
        .collect())
}

/// `department`'s KPIs for `period`: the sum of its months' tallies among `tallies`.
fn sum_kpi(tallies: &[MonthTally], department: &DepartmentId, period: &KpiPeriod) -> DepartmentKpi {
    let mut total = KpiTally::default();
    for month in tallies.iter().filter(|month| {
        month.department == department.as_str() && period.contains_month(&month.month)
    }) {
        total.add(&month.tally);
    }
    DepartmentKpi::of(department, period, &total)
}

/// One department's KPIs for a month, quarter or year.
#[utoipa::path(
    get, path = "/api/v1/departments/{department_id}/kpi", tag = "kpi",
    params(("department_id" = String, Path, description = "The department id"), KpiQuery),
    responses(
        (status = 200, description = "The figures, the formula version and the definitions", body = DepartmentKpiAnswer),
        (status = 400, description = "`invalid_query` (a bad period)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed` or `not_own_department`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`department_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn department_kpi_handler(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(department_id): Path<String>,
    ApiQuery(query): ApiQuery<KpiQuery>,
) -> Result<Json<DepartmentKpiAnswer>, ApiError> {
    let department = known_department(&state, &department_id)?;
    check_department_reader(&actor, &department)?;
    let period = parse_period(&query.period, "period")?;
    wait_for_projection(&state, "kpi", query.min_position).await?;
    let kpi = kpis_for(&state, std::slice::from_ref(&department), &period).await?;
    Ok(Json(DepartmentKpiAnswer {
        formula_version: KPI_FORMULA_VERSION.to_owned(),
        formulas: formulas(),
        kpi: kpi_body(&state, &kpi[0]),
    }))
}

/// Every department's KPIs for a month, quarter or year (district staff and auditors).
#[utoipa::path(
    get, path = "/api/v1/kpi", tag = "kpi",
    params(KpiQuery),
    responses(
        (status = 200, description = "Every department, by id", body = KpiListAnswer),
        (status = 400, description = "`invalid_query` (a bad period)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn kpi_list(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<KpiQuery>,
) -> Result<Json<KpiListAnswer>, ApiError> {
    if !actor.has_any(DISTRICT_READERS) {
        return Err(ApiError::new(
            ErrorCode::RoleNotAllowed,
            "the KPI list across departments is for district staff and auditors",
        ));
    }
    Ok(Json(every_department(&state, &query).await?))
}

/// Every department's figures for the query's period, by department id.
async fn every_department(state: &AppState, query: &KpiQuery) -> Result<KpiListAnswer, ApiError> {
    let period = parse_period(&query.period, "period")?;
    wait_for_projection(state, "kpi", query.min_position).await?;
    let mut departments: Vec<DepartmentId> = state
        .reference
        .departments()
        .map(|department| department.id.clone())
        .collect();
    departments.sort();
    let items = kpis_for(state, &departments, &period)
        .await?
        .iter()
        .map(|kpi| kpi_body(state, kpi))
        .collect();
    Ok(KpiListAnswer {
        formula_version: KPI_FORMULA_VERSION.to_owned(),
        formulas: formulas(),
        period: period.label(),
        items,
    })
}

/// Public, no login: every department's KPIs for a period, ranked by score (highest first;
/// departments without scored cases last, by id). Only department-level counts and rates:
/// nothing about a case, an enterprise or an officer.
#[utoipa::path(
    get, path = "/api/v1/public/kpi", tag = "public",
    params(KpiQuery),
    responses(
        (status = 200, description = "Every department, ranked by score", body = KpiListAnswer),
        (status = 400, description = "`invalid_query` (a bad period)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn public_kpi(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<KpiQuery>,
) -> Result<Json<KpiListAnswer>, ApiError> {
    let mut answer = every_department(&state, &query).await?;
    answer.items.sort_by(|a, b| {
        b.score
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.score.unwrap_or(f64::NEG_INFINITY))
            .then_with(|| a.department.cmp(&b.department))
    });
    Ok(Json(answer))
}

/// A department's KPI trend over consecutive months, quarters or years (the staff view of
/// their own department over time).
#[utoipa::path(
    get, path = "/api/v1/departments/{department_id}/kpi/trend", tag = "kpi",
    params(("department_id" = String, Path, description = "The department id"), KpiTrendQuery),
    responses(
        (status = 200, description = "One entry per period, oldest first", body = KpiTrendAnswer),
        (status = 400, description = "`invalid_query` (bad or mixed periods, more than 36, from after to)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed` or `not_own_department`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`department_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn kpi_trend(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(department_id): Path<String>,
    ApiQuery(query): ApiQuery<KpiTrendQuery>,
) -> Result<Json<KpiTrendAnswer>, ApiError> {
    let department = known_department(&state, &department_id)?;
    check_department_reader(&actor, &department)?;
    let from = parse_period(&query.from, "from")?;
    let to = parse_period(&query.to, "to")?;
    if from.granularity() != to.granularity() {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "from and to must be periods of the same kind",
        ));
    }
    if from > to {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "from must not be after to",
        ));
    }
    let mut periods = vec![from];
    while *periods.last().expect("not empty") < to {
        if periods.len() >= MAX_TREND_PERIODS {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!("a trend spans at most {MAX_TREND_PERIODS} periods"),
            ));
        }
        let next = periods.last().expect("not empty").next();
        periods.push(next);
    }
    wait_for_projection(&state, "kpi", query.min_position).await?;
    let tallies = state
        .db
        .kpi_tallies(&periods, Some(department.as_str()))
        .await?;
    let items = periods
        .iter()
        .map(|period| kpi_body(&state, &sum_kpi(&tallies, &department, period)))
        .collect();
    Ok(Json(KpiTrendAnswer {
        formula_version: KPI_FORMULA_VERSION.to_owned(),
        formulas: formulas(),
        department: department.to_string(),
        granularity: from.granularity().to_owned(),
        items,
    }))
}

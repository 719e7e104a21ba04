//! `/api/v1/appraisals`: appraisal campaigns (公开评议) — create, open, ballots, close, compute,
//! publish, rectification items — and their staff read; `/api/v1/public/appraisals/{id}`: the
//! published report as JSON and CSV, without login (the HTML page is in [`crate::appraisal_page`]).
//!
//! Privacy: a ballot's rater is reduced to a key (SHA-256 of the campaign id and the token's
//! `sub`) before it reaches the domain; no answer here ever contains that key, a raw comment,
//! an officer's id or the names masked in comments. Public answers exist only for published
//! campaigns (404 otherwise, so drafts are not revealed).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use caseledger_domain::appraisal::{
    AppraisalCampaign, AppraisalCommand, CampaignDefinition, CampaignStatus, DepartmentResult,
    Dimension, GradeRule, RaterGroup, RectificationStatus,
};
use caseledger_domain::csv_export::{self, Cell, LineEnd};
use caseledger_domain::kpi::{KpiPeriod, KPI_FORMULA_VERSION};
use caseledger_domain::portfolio::china_date;
use caseledger_domain::{Actor, AppraisalId, DepartmentId, RectificationId, Role};
use caseledger_store::appraisals::CampaignView;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::endpoint::{command, CommandEndpoint, Input, NoBody, Prepared, Route};
use crate::error::{ApiError, Problem};
use crate::fields::{parse_date, Fields};
use crate::json::ApiQuery;
use crate::kpi::{kpi_body, kpis_for, KpiBody};
use crate::reads::{time, wait_for_projection};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where campaigns live.
const COLLECTION: &str = "/api/v1/appraisals";

const STAFF_READERS: &[Role] = &[
    Role::DistrictLeader,
    Role::LiaisonOfficer,
    Role::Dispatcher,
    Role::DepartmentHandler,
    Role::DepartmentHead,
    Role::Auditor,
    Role::Admin,
];

// ---------------------------------------------------------------------------------------------
// Request shapes

/// A rater group.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaterGroupRequest {
    /// A slug, e.g. `enterprises`.
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub id: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Weight in percent; the groups sum to 100.
    pub weight: u32,
    /// Roles whose tokens may rate in this group (e.g. `enterprise`).
    #[schema(value_type = Vec<crate::schema::Role>)]
    pub roles: Vec<String>,
}

/// A dimension.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DimensionRequest {
    /// A slug, e.g. `lawful`.
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub id: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
}

/// Grade thresholds (default 75 and top 30 % advanced, 60 pass).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradesRequest {
    /// Minimum total for advanced.
    pub advanced_min: u32,
    /// Share of departments that may be advanced, percent.
    pub advanced_top_percent: u32,
    /// Minimum total for pass.
    pub pass_min: u32,
}

/// Create a campaign. The server chooses the id (`id` and `Location` of the answer).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppraisalRequest {
    /// Chinese title.
    pub title: String,
    /// English title.
    pub title_en: String,
    /// The KPI period appraised: `2026-Q4`, `2026-11` or `2026`.
    #[schema(pattern = "^2[0-9]{3}(-(0[1-9]|1[0-2])|-[Qq][1-4])?$")]
    pub period: String,
    /// The departments appraised.
    pub departments: Vec<String>,
    /// Rater groups and weights.
    pub rater_groups: Vec<RaterGroupRequest>,
    /// Dimensions.
    pub dimensions: Vec<DimensionRequest>,
    /// Grade thresholds; default 75/30 %/60.
    #[serde(default)]
    pub grades: Option<GradesRequest>,
    /// Weight of the KPI score in the total, percent; the ballots carry the rest.
    pub kpi_weight: u32,
}

/// One ballot for one department. The rater is the token's user; the group must list one of
/// the token's roles.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CastBallotRequest {
    /// The department rated.
    pub department: String,
    /// The rater group.
    pub rater_group: String,
    /// Every dimension: a score 0–100, or null for "don't know".
    #[schema(value_type = Object)]
    pub scores: BTreeMap<String, Option<u8>>,
    /// An optional comment (published only desensitised), at most 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// Compute the results from the ballots and the KPI snapshot of the period taken now.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComputeRequest {
    /// Names to mask in published comments (officers, enterprises, contact persons).
    #[serde(default)]
    pub redact_names: Vec<String>,
}

/// Add a rectification item.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddRectificationRequest {
    /// The department.
    pub department: String,
    /// What is to be rectified (1 to 200 characters; public).
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// By when (`YYYY-MM-DD`, China time).
    #[schema(format = Date)]
    pub due_on: String,
}

/// The department reports an item done.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRectificationRequest {
    /// What was done (1 to 2,000 characters; staff only).
    #[schema(min_length = 1, max_length = 2000)]
    pub note: String,
}

/// The re-check of a reported item.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecheckRequest {
    /// Confirmed (verified) or not (open again).
    pub passed: bool,
    /// The finding (1 to 2,000 characters; staff only).
    #[schema(min_length = 1, max_length = 2000)]
    pub note: String,
}

// ---------------------------------------------------------------------------------------------
// Response shapes

/// A rater group in an answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RaterGroupBody {
    /// The slug.
    pub id: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Weight, percent.
    pub weight: u32,
}

/// A dimension in an answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DimensionBody {
    /// The slug.
    pub id: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
}

/// Grade thresholds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GradesBody {
    /// Minimum total for advanced.
    pub advanced_min: u32,
    /// Share of departments that may be advanced, percent.
    pub advanced_top_percent: u32,
    /// Minimum total for pass.
    pub pass_min: u32,
}

/// One dimension of a department's result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DimensionScoreBody {
    /// The dimension id.
    pub dimension: String,
    /// Group-weighted mean (two decimals).
    pub score: Option<f64>,
    /// Ballots scoring it.
    pub scored: u32,
    /// Ballots answering "don't know".
    pub dont_know: u32,
}

/// One rater group of a department's result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupScoreBody {
    /// The group id.
    pub group: String,
    /// Ballots from the group.
    pub ballots: u32,
    /// The group's score (two decimals).
    pub score: Option<f64>,
}

/// A rectification item as the public sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RectificationBody {
    /// The item id.
    #[schema(format = Uuid)]
    pub id: String,
    /// The department.
    pub department: String,
    /// What is to be rectified.
    pub title: String,
    /// By when.
    #[schema(format = Date)]
    pub due_on: String,
    /// `open`, `reported` or `verified`.
    #[schema(value_type = crate::schema::RectificationStatus)]
    pub status: String,
    /// Not verified and past its due date (China today).
    pub overdue: bool,
    /// Re-checks so far.
    pub rechecks: u32,
}

/// One department in the report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentResultBody {
    /// Competition rank (ties share it); null when not rated.
    pub rank: Option<u32>,
    /// The department id.
    pub department: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: Option<String>,
    /// `advanced`, `pass`, `fail` or `not_rated`.
    #[schema(value_type = crate::schema::Grade)]
    pub grade: String,
    /// Total score (two decimals).
    pub total: Option<f64>,
    /// KPI score from the recorded snapshot.
    pub kpi_score: Option<f64>,
    /// Weighted ballot score.
    pub ballot_score: Option<f64>,
    /// Ballots received.
    pub ballots: u32,
    /// Per dimension.
    pub dimensions: Vec<DimensionScoreBody>,
    /// Per rater group.
    pub groups: Vec<GroupScoreBody>,
    /// Desensitised comments.
    pub comments: Vec<String>,
    /// The KPI snapshot the score comes from.
    pub kpi: Option<KpiBody>,
    /// Rectification items.
    pub rectifications: Vec<RectificationBody>,
}

/// The published report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicAppraisalBody {
    /// The campaign id.
    pub id: String,
    /// Chinese title.
    pub title: String,
    /// English title.
    pub title_en: String,
    /// The period appraised.
    pub period: String,
    /// When published (RFC 3339).
    pub published_at: Option<String>,
    /// `appraisal.v1`.
    pub method_version: String,
    /// The rule the comments shown were masked with (`desensitise.v2`, applied when shown).
    pub desensitise_version: String,
    /// `kpi.v1`.
    pub kpi_formula_version: String,
    /// Weight of the KPI score, percent.
    pub kpi_weight: u32,
    /// Grade thresholds.
    pub grades: GradesBody,
    /// Dimensions.
    pub dimensions: Vec<DimensionBody>,
    /// Rater groups and weights.
    pub rater_groups: Vec<RaterGroupBody>,
    /// Departments by rank.
    pub departments: Vec<DepartmentResultBody>,
}

/// A campaign as staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppraisalBody {
    /// The campaign id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Its version (also the `ETag`).
    pub version: i64,
    /// `draft`, `open`, `closed`, `computed` or `published`.
    #[schema(value_type = crate::schema::CampaignStatus)]
    pub status: String,
    /// Chinese title.
    pub title: String,
    /// English title.
    pub title_en: String,
    /// The period.
    pub period: String,
    /// Departments appraised.
    pub departments: Vec<String>,
    /// Rater groups, with the roles that rate in each.
    #[schema(value_type = Vec<Object>)]
    pub rater_groups: serde_json::Value,
    /// Dimensions.
    pub dimensions: Vec<DimensionBody>,
    /// Grade thresholds.
    pub grades: GradesBody,
    /// KPI weight, percent.
    pub kpi_weight: u32,
    /// Ballots by department and group.
    #[schema(value_type = Object)]
    pub ballots: BTreeMap<String, BTreeMap<String, u32>>,
    /// The computed report (same shape as the public one), once computed.
    pub results: Option<PublicAppraisalBody>,
    /// Rectification items with the department's report and the re-check finding.
    #[schema(value_type = Vec<Object>)]
    pub rectifications: serde_json::Value,
    /// Created, opened, closed, computed, published (RFC 3339).
    #[schema(value_type = Object)]
    pub timeline: BTreeMap<String, String>,
}

/// The campaigns.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppraisalListBody {
    /// Newest first.
    pub items: Vec<AppraisalSummaryBody>,
}

/// One campaign in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppraisalSummaryBody {
    /// The campaign id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Status.
    #[schema(value_type = crate::schema::CampaignStatus)]
    pub status: String,
    /// Chinese title.
    pub title: String,
    /// The period.
    pub period: String,
    /// Ballots cast.
    pub ballots: u32,
}

/// `?min_position=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppraisalReadQuery {
    /// Wait until the view has applied this feed position (read your writes).
    pub min_position: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Shapes from the view

fn grades_body(grades: &GradeRule) -> GradesBody {
    GradesBody {
        advanced_min: grades.advanced_min,
        advanced_top_percent: grades.advanced_top_percent,
        pass_min: grades.pass_min,
    }
}

fn dimension_bodies(definition: &CampaignDefinition) -> Vec<DimensionBody> {
    definition
        .dimensions
        .iter()
        .map(|d| DimensionBody {
            id: d.id.clone(),
            name: d.name.clone(),
            name_en: d.name_en.clone(),
        })
        .collect()
}

fn rectification_body(
    item: &caseledger_store::appraisals::RectificationView,
    today: chrono::NaiveDate,
) -> RectificationBody {
    RectificationBody {
        id: item.item_id.clone(),
        department: item.department.clone(),
        title: item.title.clone(),
        due_on: item.due_on.to_string(),
        status: item.status.as_str().to_owned(),
        overdue: item.status != RectificationStatus::Verified && today > item.due_on,
        rechecks: item.rechecks,
    }
}

fn result_body(
    state: &AppState,
    view: &CampaignView,
    result: &DepartmentResult,
    today: chrono::NaiveDate,
) -> DepartmentResultBody {
    let department = state.reference.department(&result.department);
    DepartmentResultBody {
        rank: result.rank,
        department: result.department.to_string(),
        name: department.map_or_else(|| result.department.to_string(), |d| d.name.clone()),
        name_en: department.and_then(|d| d.name_en.clone()),
        grade: result.grade.as_str().to_owned(),
        total: result.total,
        kpi_score: result.kpi_score,
        ballot_score: result.ballot_score,
        ballots: result.ballots,
        dimensions: result
            .dimensions
            .iter()
            .map(|d| DimensionScoreBody {
                dimension: d.dimension.clone(),
                score: d.score,
                scored: d.scored,
                dont_know: d.dont_know,
            })
            .collect(),
        groups: result
            .groups
            .iter()
            .map(|g| GroupScoreBody {
                group: g.group.clone(),
                ballots: g.ballots,
                score: g.score,
            })
            .collect(),
        // Masked again at read time, so results recorded under an older rule are covered too.
        comments: result
            .comments
            .iter()
            .map(|comment| caseledger_domain::privacy::mask_personal_data(comment))
            .collect(),
        kpi: view
            .kpi
            .get(result.department.as_str())
            .map(|kpi| kpi_body(state, kpi)),
        rectifications: view
            .rectifications
            .iter()
            .filter(|item| item.department == result.department.as_str())
            .map(|item| rectification_body(item, today))
            .collect(),
    }
}

/// The report of a computed campaign, in the public shape.
pub fn report_body(state: &AppState, view: &CampaignView) -> Option<PublicAppraisalBody> {
    let results = view.results.as_ref()?;
    let definition = &view.definition;
    let today = china_date(state.now());
    Some(PublicAppraisalBody {
        id: view.campaign_id.clone(),
        title: definition.title.clone(),
        title_en: definition.title_en.clone(),
        period: definition.period.label(),
        published_at: view.published_at.map(time),
        method_version: results.method_version.clone(),
        desensitise_version: caseledger_domain::privacy::MASK_RULE_VERSION.to_owned(),
        kpi_formula_version: view.kpi.values().next().map_or_else(
            || KPI_FORMULA_VERSION.to_owned(),
            |kpi| kpi.formula_version.clone(),
        ),
        kpi_weight: definition.kpi_weight,
        grades: grades_body(&definition.grades),
        dimensions: dimension_bodies(definition),
        rater_groups: definition
            .rater_groups
            .iter()
            .map(|g| RaterGroupBody {
                id: g.id.clone(),
                name: g.name.clone(),
                name_en: g.name_en.clone(),
                weight: g.weight,
            })
            .collect(),
        departments: results
            .departments
            .iter()
            .map(|result| result_body(state, view, result, today))
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Commands: each one a [`CommandEndpoint`], run by the shared handler in `endpoint.rs`.

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::AppraisalNotFound, "appraisal campaign not found")
}

fn parse_campaign_id(text: &str) -> Result<AppraisalId, ApiError> {
    AppraisalId::parse(text).map_err(|_| not_found())
}

fn missing() -> ApiError {
    ApiError::internal("validated fields missing")
}

/// The key a ballot records instead of the rater: HMAC-SHA-256 under the server's rater-key
/// secret (never in the log) over the campaign id and the user id, so keys of one rater differ
/// between campaigns and nobody holding only the log can recompute them from a user id.
pub fn rater_key(secret: &[u8; 32], campaign_id: &AppraisalId, actor: &Actor) -> String {
    let message = format!(
        "caseledger-appraisal-rater\n{campaign_id}\n{}",
        actor.sub.as_str()
    );
    hex::encode(crate::auth::hmac_sha256(secret, message.as_bytes()))
}

const fn on_campaign(
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        path,
        operation_id,
        tag: "appraisals",
        summary,
    }
}

/// Create a campaign.
pub struct CreateAppraisal;

impl CommandEndpoint for CreateAppraisal {
    type Aggregate = AppraisalCampaign;
    type Body = CreateAppraisalRequest;
    const ROUTE: Route = on_campaign(
        COLLECTION,
        "create_appraisal",
        "Create a campaign (business-environment office: `dispatcher`); `Location` names it",
    );
    const CREATES: bool = true;

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<AppraisalCommand>, ApiError> {
        let (state, body) = (input.state, input.body);
        let mut fields = Fields::default();
        let period = fields.take("period", KpiPeriod::parse(&body.period));
        let mut departments = Vec::new();
        for (i, id) in body.departments.iter().enumerate() {
            if let Some(id) = fields.department(&format!("departments[{i}]"), state, id) {
                departments.push(id);
            }
        }
        let mut rater_groups = Vec::new();
        for (i, group) in body.rater_groups.iter().enumerate() {
            let mut roles = Vec::new();
            for (j, role) in group.roles.iter().enumerate() {
                if let Some(role) = fields.take(
                    &format!("rater_groups[{i}].roles[{j}]"),
                    role.parse::<Role>(),
                ) {
                    roles.push(role);
                }
            }
            rater_groups.push(RaterGroup {
                id: group.id.trim().to_owned(),
                name: group.name.trim().to_owned(),
                name_en: group.name_en.trim().to_owned(),
                weight: group.weight,
                roles,
            });
        }
        let grades = body
            .grades
            .as_ref()
            .map_or_else(GradeRule::default, |g| GradeRule {
                advanced_min: g.advanced_min,
                advanced_top_percent: g.advanced_top_percent,
                pass_min: g.pass_min,
            });
        let definition = period.map(|period| CampaignDefinition {
            title: body.title.trim().to_owned(),
            title_en: body.title_en.trim().to_owned(),
            period,
            departments,
            rater_groups,
            dimensions: body
                .dimensions
                .iter()
                .map(|d| Dimension {
                    id: d.id.trim().to_owned(),
                    name: d.name.trim().to_owned(),
                    name_en: d.name_en.trim().to_owned(),
                })
                .collect(),
            grades,
            kpi_weight: body.kpi_weight,
        });
        if let Some(definition) = &definition {
            for (field, message) in definition.problems() {
                // An unknown department was reported above with its index.
                if field == "departments" && body.departments.len() != definition.departments.len()
                {
                    continue;
                }
                fields.push(&field, message);
            }
        }
        fields.finish()?;
        let definition = definition.ok_or_else(missing)?;
        let campaign_id = AppraisalId::from_uuid(uuid::Uuid::now_v7());
        Ok(Prepared::on(
            campaign_id,
            AppraisalCommand::Create {
                campaign_id,
                definition,
            },
        ))
    }
}

/// Open a campaign.
pub struct OpenAppraisal;

impl CommandEndpoint for OpenAppraisal {
    type Aggregate = AppraisalCampaign;
    type Body = NoBody;
    const ROUTE: Route = on_campaign(
        "/api/v1/appraisals/{appraisal_id}/open",
        "open_appraisal",
        "Open a draft campaign for ballots",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (404, "`appraisal_not_found`"),
        (422, "`wrong_campaign_status`"),
    ];

    async fn prepare(input: Input<'_, NoBody>) -> Result<Prepared<AppraisalCommand>, ApiError> {
        input.on(parse_campaign_id, AppraisalCommand::Open)
    }
}

/// Close a campaign.
pub struct CloseAppraisal;

impl CommandEndpoint for CloseAppraisal {
    type Aggregate = AppraisalCampaign;
    type Body = NoBody;
    const ROUTE: Route = on_campaign(
        "/api/v1/appraisals/{appraisal_id}/close",
        "close_appraisal",
        "Close an open campaign: no more ballots",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (404, "`appraisal_not_found`"),
        (422, "`wrong_campaign_status`"),
    ];

    async fn prepare(input: Input<'_, NoBody>) -> Result<Prepared<AppraisalCommand>, ApiError> {
        input.on(parse_campaign_id, AppraisalCommand::Close)
    }
}

/// Publish the results.
pub struct PublishAppraisal;

impl CommandEndpoint for PublishAppraisal {
    type Aggregate = AppraisalCampaign;
    type Body = NoBody;
    const ROUTE: Route = on_campaign(
        "/api/v1/appraisals/{appraisal_id}/publish",
        "publish_appraisal",
        "Publish the computed results: the public report and page appear",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (404, "`appraisal_not_found`"),
        (422, "`wrong_campaign_status` (compute first)"),
    ];

    async fn prepare(input: Input<'_, NoBody>) -> Result<Prepared<AppraisalCommand>, ApiError> {
        input.on(parse_campaign_id, AppraisalCommand::Publish)
    }
}

/// Cast a ballot.
pub struct CastBallot;

impl CommandEndpoint for CastBallot {
    type Aggregate = AppraisalCampaign;
    type Body = CastBallotRequest;
    const ROUTE: Route = on_campaign(
        "/api/v1/appraisals/{appraisal_id}/ballots",
        "cast_ballot",
        "Cast one ballot for one department (one per rater per department; the rater stays private)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (403, "`not_in_rater_group` or `rater_conflict` (own department)"),
        (404, "`appraisal_not_found`"),
        (409, "`ballot_already_cast`"),
        (
            422,
            "`wrong_campaign_status`, `department_not_in_campaign`, `unknown_rater_group`, `invalid_scores`, `validation_failed`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<AppraisalCommand>, ApiError> {
        let (state, body) = (input.state, input.body);
        let campaign_id = parse_campaign_id(input.id())?;
        let comment = body
            .comment
            .as_deref()
            .map(str::trim)
            .filter(|comment| !comment.is_empty());
        let department = input.parse(|fields| {
            let department =
                fields.take("department", DepartmentId::parse(body.department.as_str()));
            if comment.is_some_and(|comment| comment.chars().count() > 2000) {
                fields.push("comment", "must be at most 2000 characters");
            }
            department
        })?;
        let command = AppraisalCommand::CastBallot {
            rater_key: rater_key(state.keys.rater_key_secret(), &campaign_id, input.actor),
            rater_group: body.rater_group.clone(),
            department,
            scores: body.scores.clone(),
            comment: comment.map(str::to_owned),
        };
        Ok(Prepared::on(campaign_id, command))
    }
}

/// Compute the results.
pub struct ComputeAppraisal;

impl CommandEndpoint for ComputeAppraisal {
    type Aggregate = AppraisalCampaign;
    type Body = ComputeRequest;
    const ROUTE: Route = on_campaign(
        "/api/v1/appraisals/{appraisal_id}/compute",
        "compute_appraisal",
        "Compute the results from the recorded ballots and the KPI snapshot of the campaign's period taken now (recorded in the event); may be repeated until published. 503 `projection_behind` when the KPI view has not caught up",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (404, "`appraisal_not_found`"),
        (
            422,
            "`wrong_campaign_status` (close first, not after publishing)",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<AppraisalCommand>, ApiError> {
        let (state, body) = (input.state, input.body);
        let campaign_id = parse_campaign_id(input.id())?;
        input.parse(|fields| {
            for (i, name) in body.redact_names.iter().enumerate() {
                if name.trim().is_empty() || name.chars().count() > 100 {
                    fields.push(&format!("redact_names[{i}]"), "must be 1 to 100 characters");
                }
            }
            Some(())
        })?;
        // The definition comes from the log (always complete), the KPIs from the `kpi` view
        // once it has every event written so far.
        let history = state
            .db
            .stream_history(
                caseledger_store::appraisals::AGGREGATE_TYPE,
                &campaign_id.to_string(),
            )
            .await?;
        let definition = history
            .first()
            .and_then(|first| serde_json::from_str(&first.payload).ok())
            .and_then(|event| match event {
                caseledger_domain::appraisal::AppraisalEvent::CampaignCreated {
                    definition,
                    ..
                } => Some(definition),
                _ => None,
            })
            .ok_or_else(not_found)?;
        let latest = state.db.latest_event_position().await?;
        wait_for_projection(state, "kpi", latest).await?;
        let kpi = kpis_for(state, &definition.departments, &definition.period)
            .await?
            .into_iter()
            .map(|kpi| (kpi.department.clone(), kpi))
            .collect();
        let command = AppraisalCommand::ComputeResults {
            kpi,
            redact_names: body
                .redact_names
                .iter()
                .map(|name| name.trim().to_owned())
                .collect(),
        };
        Ok(Prepared::on(campaign_id, command))
    }
}

/// Add a rectification item.
pub struct AddRectification;

impl CommandEndpoint for AddRectification {
    type Aggregate = AppraisalCampaign;
    type Body = AddRectificationRequest;
    const ROUTE: Route = on_campaign(
        "/api/v1/appraisals/{appraisal_id}/rectifications",
        "add_rectification",
        "Add a rectification item for a department of a published campaign; `created_id` is the item id",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (404, "`appraisal_not_found`"),
        (
            422,
            "`validation_failed`, `wrong_campaign_status`, `department_not_in_campaign`, `due_date_in_past`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<AppraisalCommand>, ApiError> {
        let (state, body) = (input.state, input.body);
        let campaign_id = parse_campaign_id(input.id())?;
        let (department, title, due_on) = input.parse(|fields| {
            let department = fields.department("department", state, &body.department);
            let title = fields.take("title", caseledger_domain::text::Title::parse(&body.title));
            let due_on = fields.take("due_on", parse_date(&body.due_on));
            Some((department?, title?, due_on?))
        })?;
        let item_id = RectificationId::from_uuid(uuid::Uuid::now_v7());
        let command = AppraisalCommand::AddRectification {
            item_id,
            department,
            title: title.into(),
            due_on,
        };
        Ok(Prepared::on(campaign_id, command).created(item_id))
    }
}

fn note(fields: &mut Fields, text: &str) -> Option<String> {
    fields
        .take(
            "note",
            caseledger_domain::text::BoundedText::<2000>::parse(text),
        )
        .map(Into::into)
}

fn parse_item_id(text: &str) -> Result<RectificationId, ApiError> {
    RectificationId::parse(text).map_err(|_| {
        ApiError::new(
            ErrorCode::RectificationNotFound,
            "rectification item not found",
        )
    })
}

/// The campaign and the item a rectification command names.
fn item_of<B>(input: &Input<'_, B>) -> Result<(AppraisalId, RectificationId), ApiError> {
    let campaign_id = parse_campaign_id(input.id())?;
    let item_id = parse_item_id(input.params.get(1).map_or("", String::as_str))?;
    Ok((campaign_id, item_id))
}

/// Report a rectification item done.
pub struct ReportRectification;

impl CommandEndpoint for ReportRectification {
    type Aggregate = AppraisalCampaign;
    type Body = ReportRectificationRequest;
    const ROUTE: Route = on_campaign(
        "/api/v1/appraisals/{appraisal_id}/rectifications/{item_id}/report",
        "report_rectification",
        "The department reports a rectification item done (its handlers and head)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (403, "`role_not_allowed` or `not_own_department`"),
        (404, "`appraisal_not_found` or `rectification_not_found`"),
        (
            422,
            "`validation_failed` or `rectification_already_verified`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<AppraisalCommand>, ApiError> {
        let (campaign_id, item_id) = item_of(&input)?;
        let note = input.parse(|fields| note(fields, &input.body.note))?;
        Ok(Prepared::on(
            campaign_id,
            AppraisalCommand::ReportRectification { item_id, note },
        ))
    }
}

/// Re-check a rectification item.
pub struct RecheckRectification;

impl CommandEndpoint for RecheckRectification {
    type Aggregate = AppraisalCampaign;
    type Body = RecheckRequest;
    const ROUTE: Route = on_campaign(
        "/api/v1/appraisals/{appraisal_id}/rectifications/{item_id}/recheck",
        "recheck_rectification",
        "Re-check a reported rectification item: passed → verified, otherwise open again",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (404, "`appraisal_not_found` or `rectification_not_found`"),
        (
            422,
            "`validation_failed`, `rectification_not_reported`, `rectification_already_verified`",
        ),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<AppraisalCommand>, ApiError> {
        let (campaign_id, item_id) = item_of(&input)?;
        let note = input.parse(|fields| note(fields, &input.body.note))?;
        Ok(Prepared::on(
            campaign_id,
            AppraisalCommand::RecheckRectification {
                item_id,
                passed: input.body.passed,
                note,
            },
        ))
    }
}

/// The appraisal routes: every command once, and the reads.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(command::<CreateAppraisal>())
        .routes(routes!(list_appraisals))
        .routes(routes!(get_appraisal))
        .routes(command::<OpenAppraisal>())
        .routes(command::<CastBallot>())
        .routes(command::<CloseAppraisal>())
        .routes(command::<ComputeAppraisal>())
        .routes(command::<PublishAppraisal>())
        .routes(command::<AddRectification>())
        .routes(command::<ReportRectification>())
        .routes(command::<RecheckRectification>())
        .routes(routes!(public_appraisal))
        .routes(routes!(public_appraisal_csv))
}

// ---------------------------------------------------------------------------------------------
// Reads

fn check_staff(actor: &Actor) -> Result<(), ApiError> {
    if actor.has_any(STAFF_READERS) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::RoleNotAllowed,
            "this role has no access to appraisal campaigns; the public report is at /api/v1/public/appraisals/{id}",
        ))
    }
}

/// One campaign as staff see it: status, ballot counts, computed results, rectification notes.
#[utoipa::path(
    get, path = "/api/v1/appraisals/{appraisal_id}", tag = "appraisals",
    params(("appraisal_id" = String, Path, description = "The campaign id"), AppraisalReadQuery),
    responses(
        (status = 200, description = "The campaign", body = AppraisalBody),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`appraisal_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_appraisal(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(campaign_id): Path<String>,
    ApiQuery(query): ApiQuery<AppraisalReadQuery>,
) -> Result<Response, ApiError> {
    check_staff(&actor)?;
    let campaign_id = parse_campaign_id(&campaign_id)?;
    wait_for_projection(&state, "appraisals", query.min_position).await?;
    let view = state
        .db
        .campaign_view(&campaign_id.to_string())
        .await?
        .ok_or_else(not_found)?;
    let definition = &view.definition;
    let mut timeline = BTreeMap::from([("created_at".to_owned(), time(view.created_at))]);
    for (name, at) in [
        ("opened_at", view.opened_at),
        ("closed_at", view.closed_at),
        ("computed_at", view.computed_at),
        ("published_at", view.published_at),
    ] {
        if let Some(at) = at {
            timeline.insert(name.to_owned(), time(at));
        }
    }
    let body = AppraisalBody {
        id: view.campaign_id.clone(),
        version: view.version,
        status: view.status.as_str().to_owned(),
        title: definition.title.clone(),
        title_en: definition.title_en.clone(),
        period: definition.period.label(),
        departments: definition
            .departments
            .iter()
            .map(ToString::to_string)
            .collect(),
        rater_groups: serde_json::to_value(&definition.rater_groups).map_err(ApiError::internal)?,
        dimensions: dimension_bodies(definition),
        grades: grades_body(&definition.grades),
        kpi_weight: definition.kpi_weight,
        ballots: view.ballots.clone(),
        results: report_body(&state, &view),
        rectifications: serde_json::to_value(&view.rectifications).map_err(ApiError::internal)?,
        timeline,
    };
    let version = view.version;
    let mut response = Json(body).into_response();
    if let Ok(etag) = axum::http::HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

/// The campaigns, newest first.
#[utoipa::path(
    get, path = "/api/v1/appraisals", tag = "appraisals",
    params(AppraisalReadQuery),
    responses(
        (status = 200, description = "The campaigns", body = AppraisalListBody),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_appraisals(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<AppraisalReadQuery>,
) -> Result<Json<AppraisalListBody>, ApiError> {
    check_staff(&actor)?;
    wait_for_projection(&state, "appraisals", query.min_position).await?;
    let items = state
        .db
        .list_campaigns()
        .await?
        .into_iter()
        .map(|view| AppraisalSummaryBody {
            id: view.campaign_id,
            status: view.status.as_str().to_owned(),
            title: view.definition.title,
            period: view.definition.period.label(),
            ballots: view
                .ballots
                .values()
                .flat_map(|groups| groups.values())
                .sum(),
        })
        .collect();
    Ok(Json(AppraisalListBody { items }))
}

/// The published report of a campaign, from the view; 404 unless published.
pub async fn published_report(
    state: &AppState,
    campaign_id: &str,
) -> Result<PublicAppraisalBody, ApiError> {
    let campaign_id = parse_campaign_id(campaign_id)?;
    let view = state
        .db
        .campaign_view(&campaign_id.to_string())
        .await?
        .filter(|view| view.status == CampaignStatus::Published)
        .ok_or_else(not_found)?;
    report_body(state, &view).ok_or_else(not_found)
}

/// The published report: rankings, grades, per-dimension and per-group breakdown, the KPI
/// snapshot, desensitised comments and rectification status. No login.
#[utoipa::path(
    get, path = "/api/v1/public/appraisals/{appraisal_id}", tag = "public",
    params(("appraisal_id" = String, Path, description = "The campaign id"), AppraisalReadQuery),
    responses(
        (status = 200, description = "The report", body = PublicAppraisalBody),
        (status = 400, description = "`unknown_position` or a malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`appraisal_not_found` (also while not published)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`projection_behind`: `min_position` not reached in time", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn public_appraisal(
    State(state): State<AppState>,
    Path(campaign_id): Path<String>,
    ApiQuery(query): ApiQuery<AppraisalReadQuery>,
) -> Result<Json<PublicAppraisalBody>, ApiError> {
    wait_for_projection(&state, "appraisals", query.min_position).await?;
    Ok(Json(published_report(&state, &campaign_id).await?))
}

/// The report as CSV (UTF-8 with BOM, one row per department by rank). No login.
#[utoipa::path(
    get, path = "/api/v1/public/appraisals/{appraisal_id}/export.csv", tag = "public",
    params(("appraisal_id" = String, Path, description = "The campaign id"), AppraisalReadQuery),
    responses(
        (status = 200, description = "rank, department, names, grade, total, kpi_score, ballot_score, ballots, then one column per dimension (`dimension:<id>`) and per rater group (`group:<id>`)", body = String, content_type = "text/csv"),
        (status = 404, description = "`appraisal_not_found` (also while not published)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn public_appraisal_csv(
    State(state): State<AppState>,
    Path(campaign_id): Path<String>,
    ApiQuery(query): ApiQuery<AppraisalReadQuery>,
) -> Result<Response, ApiError> {
    wait_for_projection(&state, "appraisals", query.min_position).await?;
    let report = published_report(&state, &campaign_id).await?;
    let mut header_row: Vec<String> = [
        "rank",
        "department",
        "name",
        "name_en",
        "grade",
        "total",
        "kpi_score",
        "ballot_score",
        "ballots",
    ]
    .map(str::to_owned)
    .to_vec();
    header_row.extend(
        report
            .dimensions
            .iter()
            .map(|d| format!("dimension:{}", d.id)),
    );
    header_row.extend(
        report
            .rater_groups
            .iter()
            .map(|g| format!("group:{}", g.id)),
    );
    let number = |value: Option<f64>| value.map_or_else(String::new, |v| format!("{v:.2}"));
    // Text cells are guarded against formula injection; numbers are written as they are.
    let text = |value: String| (true, value);
    let numeric = |value: String| (false, value);
    let rows: Vec<Vec<(bool, String)>> = report
        .departments
        .iter()
        .map(|department| {
            let mut row = vec![
                numeric(
                    department
                        .rank
                        .map_or_else(String::new, |rank| rank.to_string()),
                ),
                text(department.department.clone()),
                text(department.name.clone()),
                text(department.name_en.clone().unwrap_or_default()),
                text(department.grade.clone()),
                numeric(number(department.total)),
                numeric(number(department.kpi_score)),
                numeric(number(department.ballot_score)),
                numeric(department.ballots.to_string()),
            ];
            row.extend(
                department
                    .dimensions
                    .iter()
                    .map(|d| numeric(number(d.score))),
            );
            row.extend(department.groups.iter().map(|g| numeric(number(g.score))));
            row
        })
        .collect();
    let lines = std::iter::once(header_row.iter().map(|h| Cell::Text(h)).collect()).chain(
        rows.iter().map(|row| {
            row.iter()
                .map(|(is_text, value)| {
                    if *is_text {
                        Cell::Text(value)
                    } else {
                        Cell::Number(value)
                    }
                })
                .collect()
        }),
    );
    let csv = format!("\u{feff}{}", csv_export::to_string(lines, LineEnd::CrLf));
    let disposition = format!("attachment; filename=\"appraisal-{}.csv\"", report.id);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}

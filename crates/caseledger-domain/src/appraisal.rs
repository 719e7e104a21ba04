//! The `AppraisalCampaign` stream (公开评议): the public appraisal of administrative
//! law-enforcement departments for one period. A campaign names the departments, the rater
//! groups with their weights and the roles that may rate in each, the dimensions, the grade
//! thresholds and the weight of the case-derived KPI score against the ballots.
//!
//! Lifecycle: created (draft) → opened → ballots → closed → results computed (may be recomputed
//! until published) → published; then rectification items per department (due date, report,
//! re-check).
//!
//! The results are [`compute_results`], a pure function of the definition, the ballots recorded
//! in this stream and the KPI snapshot recorded in the `ResultsComputed` event (method version
//! [`APPRAISAL_METHOD_VERSION`]), so anyone holding the events can recompute the published
//! figures. Comments are published only through [`desensitise`].
//!
//! Rater identity is private: a ballot records a `rater_key` (an HMAC the application derives
//! under a server secret from the campaign and the rater's user id) only to allow one ballot
//! per rater per department.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Authored, Role};
use crate::case::RefusalKind;
use crate::ids::{AppraisalId, DepartmentId, RectificationId, UserId};
use crate::kpi::{round_to, DepartmentKpi, KpiPeriod};
use crate::portfolio::china_date;

/// The version of the aggregation in [`compute_results`].
pub const APPRAISAL_METHOD_VERSION: &str = "appraisal.v1";

/// The version of the comment rule in [`desensitise`] (the rule of [`crate::privacy`]).
/// Results recorded under `desensitise.v1` were masked by [`desensitise_v1`].
pub const DESENSITISE_VERSION: &str = crate::privacy::MASK_RULE_VERSION;

/// A group of raters (enterprises, people served, NPC deputies, …) and its weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaterGroup {
    /// A slug, e.g. `enterprises`.
    pub id: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Weight in percent; the groups' weights sum to 100.
    pub weight: u32,
    /// The roles whose tokens may cast ballots in this group.
    pub roles: Vec<Role>,
}

/// A dimension rated on each ballot (lawful administration, fair enforcement, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimension {
    /// A slug, e.g. `lawful`.
    pub id: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
}

/// Grade thresholds: advanced needs `advanced_min` and a place in the top `advanced_top_percent`
/// of departments; pass needs `pass_min`; below is fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeRule {
    /// Minimum total for advanced (e.g. 75).
    pub advanced_min: u32,
    /// Share of departments that may be advanced, in percent (e.g. 30).
    pub advanced_top_percent: u32,
    /// Minimum total for pass (e.g. 60).
    pub pass_min: u32,
}

impl Default for GradeRule {
    fn default() -> Self {
        Self {
            advanced_min: 75,
            advanced_top_percent: 30,
            pass_min: 60,
        }
    }
}

/// Everything a campaign is created with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignDefinition {
    /// Chinese title.
    pub title: String,
    /// English title.
    pub title_en: String,
    /// The KPI period appraised.
    pub period: KpiPeriod,
    /// The departments appraised.
    pub departments: Vec<DepartmentId>,
    /// Rater groups and weights.
    pub rater_groups: Vec<RaterGroup>,
    /// Dimensions.
    pub dimensions: Vec<Dimension>,
    /// Grade thresholds.
    pub grades: GradeRule,
    /// Weight of the KPI score in the total, percent (the ballots carry the rest).
    pub kpi_weight: u32,
}

fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
}

impl CampaignDefinition {
    /// Every problem with the definition, as (field, message); empty when valid.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut push = |field: &str, message: &str| problems.push((field.into(), message.into()));
        if self.title.trim().is_empty() || self.title.chars().count() > 200 {
            push("title", "must be 1 to 200 characters");
        }
        if self.title_en.trim().is_empty() || self.title_en.chars().count() > 200 {
            push("title_en", "must be 1 to 200 characters");
        }
        let departments: BTreeSet<_> = self.departments.iter().collect();
        if self.departments.is_empty() || departments.len() != self.departments.len() {
            push(
                "departments",
                "must list at least one department, each once",
            );
        }
        if self.rater_groups.is_empty() {
            push("rater_groups", "must list at least one group");
        }
        let mut group_ids = BTreeSet::new();
        for (i, group) in self.rater_groups.iter().enumerate() {
            if !is_slug(&group.id) || !group_ids.insert(group.id.as_str()) {
                push(
                    &format!("rater_groups[{i}].id"),
                    "must be a unique slug of a-z, 0-9, '-' or '_'",
                );
            }
            if group.name.trim().is_empty() || group.name_en.trim().is_empty() {
                push(
                    &format!("rater_groups[{i}].name"),
                    "names must not be blank",
                );
            }
            if group.weight == 0 {
                push(&format!("rater_groups[{i}].weight"), "must be 1 to 100");
            }
            if group.roles.is_empty() {
                push(&format!("rater_groups[{i}].roles"), "must list a role");
            }
            if group
                .roles
                .iter()
                .any(|role| matches!(role, Role::Auditor | Role::Admin))
            {
                push(
                    &format!("rater_groups[{i}].roles"),
                    "auditors and admins change no business state and cannot rate",
                );
            }
        }
        if !self.rater_groups.is_empty()
            && self.rater_groups.iter().map(|g| g.weight).sum::<u32>() != 100
        {
            push("rater_groups", "weights must sum to 100");
        }
        if self.dimensions.is_empty() {
            push("dimensions", "must list at least one dimension");
        }
        let mut dimension_ids = BTreeSet::new();
        for (i, dimension) in self.dimensions.iter().enumerate() {
            if !is_slug(&dimension.id) || !dimension_ids.insert(dimension.id.as_str()) {
                push(
                    &format!("dimensions[{i}].id"),
                    "must be a unique slug of a-z, 0-9, '-' or '_'",
                );
            }
            if dimension.name.trim().is_empty() || dimension.name_en.trim().is_empty() {
                push(&format!("dimensions[{i}].name"), "names must not be blank");
            }
        }
        let grades = self.grades;
        if grades.pass_min > grades.advanced_min || grades.advanced_min > 100 {
            push("grades", "need pass_min <= advanced_min <= 100");
        }
        if !(1..=100).contains(&grades.advanced_top_percent) {
            push("grades.advanced_top_percent", "must be 1 to 100");
        }
        if self.kpi_weight > 100 {
            push("kpi_weight", "must be 0 to 100");
        }
        problems
    }

    fn group(&self, id: &str) -> Option<&RaterGroup> {
        self.rater_groups.iter().find(|group| group.id == id)
    }
}

/// One dimension's score on a ballot: 0–100, or `None` for "don't know".
pub type DimensionScores = BTreeMap<String, Option<u8>>;

/// A ballot as the results see it: no rater identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ballot {
    /// The department rated.
    pub department: DepartmentId,
    /// The rater's group.
    pub rater_group: String,
    /// Scores by dimension id.
    pub scores: DimensionScores,
    /// The raw comment (private; published only desensitised).
    pub comment: Option<String>,
}

/// Where a campaign stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum CampaignStatus {
    /// Created, not yet open for ballots.
    Draft,
    /// Taking ballots.
    Open,
    /// Ballots closed.
    Closed,
    /// Results computed (may be recomputed until published).
    Computed,
    /// Results published.
    Published,
}

impl CampaignStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Where a rectification item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum RectificationStatus {
    /// To be done by the department.
    Open,
    /// The department reported it done; waiting for the re-check.
    Reported,
    /// The re-check confirmed it.
    Verified,
}

impl RectificationStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Grade {
    /// 先进: at least `advanced_min` and in the top share.
    Advanced,
    /// 合格.
    Pass,
    /// 不合格.
    Fail,
    /// Neither ballots nor a KPI score.
    NotRated,
}

impl Grade {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One dimension of one department's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DimensionResult {
    /// The dimension id.
    pub dimension: String,
    /// Group-weighted mean score (two decimals), `None` when nobody scored it.
    pub score: Option<f64>,
    /// Ballots scoring it.
    pub scored: u32,
    /// Ballots answering "don't know".
    pub dont_know: u32,
}

/// One rater group of one department's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupResult {
    /// The group id.
    pub group: String,
    /// Ballots from this group.
    pub ballots: u32,
    /// Mean of the group's dimension means (two decimals).
    pub score: Option<f64>,
}

/// One department's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepartmentResult {
    /// The department.
    pub department: DepartmentId,
    /// Competition rank by total (1, 1, 3); `None` when not rated.
    pub rank: Option<u32>,
    /// The grade.
    pub grade: Grade,
    /// Total score (two decimals).
    pub total: Option<f64>,
    /// KPI score from the snapshot.
    pub kpi_score: Option<f64>,
    /// Weighted ballot score (two decimals).
    pub ballot_score: Option<f64>,
    /// Ballots received.
    pub ballots: u32,
    /// Per dimension, in the campaign's order.
    pub dimensions: Vec<DimensionResult>,
    /// Per rater group, in the campaign's order.
    pub groups: Vec<GroupResult>,
    /// Desensitised comments, in ballot order.
    pub comments: Vec<String>,
}

/// The results of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppraisalResults {
    /// `appraisal.v1`.
    pub method_version: String,
    /// `desensitise.v1`.
    pub desensitise_version: String,
    /// Departments by rank, then id; not rated last.
    pub departments: Vec<DepartmentResult>,
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Weighted mean of `(weight, value)` pairs that have a value.
fn weighted_mean(pairs: &[(u32, Option<f64>)]) -> Option<f64> {
    let mut sum = 0.0;
    let mut weights = 0u32;
    for (weight, value) in pairs {
        if let Some(value) = value {
            sum += f64::from(*weight) * value;
            weights += weight;
        }
    }
    (weights > 0).then(|| sum / f64::from(weights))
}

/// The results (appraisal.v1) from the definition, the ballots, the KPI snapshot and the names
/// to redact from comments. Pure and deterministic:
/// - per department, group g and dimension k: the mean of the scores (don't know left out);
/// - group score: the mean of its dimension means;
/// - ballot score: the mean of the group scores weighted by the group weights (groups without
///   ballots drop out and the others are re-weighted);
/// - dimension score (breakdown): the group-weighted mean of the group's dimension means;
/// - total: `kpi_weight`% KPI score + the rest ballot score; a missing part leaves the other
///   alone; rounded to two decimals;
/// - rank: by rounded total, ties share a rank; grade: advanced when the total ≥ `advanced_min`
///   and the rank ≤ max(1, ⌊rated departments × `advanced_top_percent` / 100⌋), pass when ≥
///   `pass_min`, else fail.
pub fn compute_results(
    definition: &CampaignDefinition,
    ballots: &[Ballot],
    kpi: &BTreeMap<DepartmentId, DepartmentKpi>,
    redact_names: &[String],
) -> AppraisalResults {
    let mut departments: Vec<DepartmentResult> = definition
        .departments
        .iter()
        .map(|department| {
            let own: Vec<&Ballot> = ballots
                .iter()
                .filter(|ballot| &ballot.department == department)
                .collect();
            // group id -> dimension id -> scores
            let score_list = |group: &str, dimension: &str| -> Vec<f64> {
                own.iter()
                    .filter(|ballot| ballot.rater_group == group)
                    .filter_map(|ballot| ballot.scores.get(dimension).copied().flatten())
                    .map(f64::from)
                    .collect()
            };
            let group_dimension =
                |group: &str, dimension: &str| mean(&score_list(group, dimension));
            let groups: Vec<(u32, GroupResult, Option<f64>)> = definition
                .rater_groups
                .iter()
                .map(|group| {
                    let means: Vec<f64> = definition
                        .dimensions
                        .iter()
                        .filter_map(|dimension| group_dimension(&group.id, &dimension.id))
                        .collect();
                    let score = mean(&means);
                    (
                        group.weight,
                        GroupResult {
                            group: group.id.clone(),
                            ballots: own
                                .iter()
                                .filter(|ballot| ballot.rater_group == group.id)
                                .count() as u32,
                            score: score.map(|score| round_to(score, 2)),
                        },
                        score,
                    )
                })
                .collect();
            let ballot_score = weighted_mean(
                &groups
                    .iter()
                    .map(|(weight, _, score)| (*weight, *score))
                    .collect::<Vec<_>>(),
            );
            let dimensions = definition
                .dimensions
                .iter()
                .map(|dimension| {
                    let pairs: Vec<(u32, Option<f64>)> = definition
                        .rater_groups
                        .iter()
                        .map(|group| (group.weight, group_dimension(&group.id, &dimension.id)))
                        .collect();
                    let answers = own
                        .iter()
                        .filter_map(|ballot| ballot.scores.get(&dimension.id));
                    let (scored, dont_know) =
                        answers.fold((0, 0), |(scored, dont_know), answer| match answer {
                            Some(_) => (scored + 1, dont_know),
                            None => (scored, dont_know + 1),
                        });
                    DimensionResult {
                        dimension: dimension.id.clone(),
                        score: weighted_mean(&pairs).map(|score| round_to(score, 2)),
                        scored,
                        dont_know,
                    }
                })
                .collect();
            let kpi_score = kpi.get(department).and_then(|kpi| kpi.score);
            let kpi_weight = definition.kpi_weight.min(100);
            let total = match (kpi_score, ballot_score) {
                (Some(kpi), Some(ballots)) => Some(
                    (f64::from(kpi_weight) * kpi + f64::from(100 - kpi_weight) * ballots) / 100.0,
                ),
                (Some(kpi), None) => Some(kpi),
                (None, Some(ballots)) => Some(ballots),
                (None, None) => None,
            };
            DepartmentResult {
                department: department.clone(),
                rank: None,
                grade: Grade::NotRated,
                total: total.map(|total| round_to(total, 2)),
                kpi_score,
                ballot_score: ballot_score.map(|score| round_to(score, 2)),
                ballots: own.len() as u32,
                dimensions,
                groups: groups.into_iter().map(|(_, group, _)| group).collect(),
                comments: own
                    .iter()
                    .filter_map(|ballot| ballot.comment.as_deref())
                    .map(|comment| desensitise(comment, redact_names))
                    .filter(|comment| !comment.trim().is_empty())
                    .collect(),
            }
        })
        .collect();
    // Rank by rounded total (what is published), ties share the rank; then the grades.
    let totals: Vec<f64> = departments.iter().filter_map(|d| d.total).collect();
    let rated = totals.len() as u32;
    let grades = definition.grades;
    let advanced_places = (rated * grades.advanced_top_percent / 100).max(1);
    for result in &mut departments {
        let Some(total) = result.total else { continue };
        let rank = 1 + totals.iter().filter(|other| **other > total).count() as u32;
        result.rank = Some(rank);
        result.grade = if total >= f64::from(grades.advanced_min) && rank <= advanced_places {
            Grade::Advanced
        } else if total >= f64::from(grades.pass_min) {
            Grade::Pass
        } else {
            Grade::Fail
        };
    }
    departments.sort_by(|a, b| {
        (a.rank.is_none(), a.rank, &a.department).cmp(&(b.rank.is_none(), b.rank, &b.department))
    });
    AppraisalResults {
        method_version: APPRAISAL_METHOD_VERSION.to_owned(),
        desensitise_version: DESENSITISE_VERSION.to_owned(),
        departments,
    }
}

/// The mask that replaces private data in published comments.
pub const MASK: &str = crate::privacy::MASK;

/// Removes personal data from a comment before publication: the one public masking rule,
/// [`crate::privacy::mask_personal_data_and_names`] (desensitise.v2).
pub fn desensitise(text: &str, names: &[String]) -> String {
    crate::privacy::mask_personal_data_and_names(text, names)
}

/// The comment rule of results recorded as `desensitise.v1`, kept so that such an event can
/// still be recomputed exactly. Public surfaces mask those comments again with the current
/// rule when they show them:
/// - every name in `names` (e.g. officers, enterprises, contact persons) is masked;
/// - every e-mail address (a run of non-space, non-CJK characters around an `@`) is masked;
/// - every run of 6 or more digits, counting digits separated by single spaces, hyphens or
///   plus signs (mobile and landline numbers, ID card numbers with a final `X`, licence and
///   account numbers) is masked, the final `X`/`x` of an ID number included.
///
/// The result never contains a masked name, address or number; shorter numbers (dates, counts,
/// amounts under a million) stay readable.
pub fn desensitise_v1(text: &str, names: &[String]) -> String {
    let mut text = text.to_owned();
    let mut names: Vec<&String> = names
        .iter()
        .filter(|name| !name.trim().is_empty())
        .collect();
    // Longest first, so a full name is masked before a shorter name inside it.
    names.sort_by_key(|name| std::cmp::Reverse(name.chars().count()));
    for name in names {
        text = text.replace(name.trim(), MASK);
    }
    mask_emails(&mask_numbers(&text))
}

fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // Extend over digits joined by single separators.
        let start = i;
        let mut end = i;
        let mut digits = 0;
        let mut j = i;
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                digits += 1;
                j += 1;
                end = j;
            } else if matches!(chars[j], ' ' | '-' | '+')
                && chars.get(j + 1).is_some_and(char::is_ascii_digit)
            {
                j += 1;
            } else {
                break;
            }
        }
        if digits >= 6 {
            if matches!(chars.get(end), Some('X' | 'x')) {
                end += 1;
            }
            out.push_str(MASK);
        } else {
            out.extend(&chars[start..end]);
        }
        i = end;
    }
    out
}

fn is_address_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '%')
}

fn mask_emails(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '@' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut start = i;
        while start > 0 && is_address_char(chars[start - 1]) {
            start -= 1;
        }
        let mut end = i + 1;
        while end < chars.len() && is_address_char(chars[end]) {
            end += 1;
        }
        if start < i && end > i + 1 {
            // Drop the local part already written.
            for _ in start..i {
                out.pop();
            }
            out.push_str(MASK);
        } else {
            out.push('@');
            end = i + 1;
        }
        i = end;
    }
    out
}

/// A rectification item (整改事项) of one department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rectification {
    /// The department.
    pub department: DepartmentId,
    /// Where it stands.
    pub status: RectificationStatus,
}

/// What can be asked of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub enum AppraisalCommand {
    /// Create the campaign.
    Create {
        /// The id the application chose (the stream id).
        campaign_id: AppraisalId,
        /// Its definition.
        definition: CampaignDefinition,
    },
    /// Start taking ballots.
    Open,
    /// Cast one ballot for one department.
    CastBallot {
        /// A key derived by the application from the campaign and the rater's user id.
        rater_key: String,
        /// The rater's group.
        rater_group: String,
        /// The department rated.
        department: DepartmentId,
        /// A score 0–100 or `None` ("don't know") for every dimension.
        scores: DimensionScores,
        /// An optional comment (1 to 2,000 characters).
        comment: Option<String>,
    },
    /// Stop taking ballots.
    Close,
    /// Compute the results from the ballots and the KPI snapshot looked up by the application.
    ComputeResults {
        /// KPIs of every campaign department for the campaign's period.
        kpi: BTreeMap<DepartmentId, DepartmentKpi>,
        /// Names to mask in comments.
        redact_names: Vec<String>,
    },
    /// Publish the computed results.
    Publish,
    /// Add a rectification item for a department (after publication).
    AddRectification {
        /// The id the application chose.
        item_id: RectificationId,
        /// The department.
        department: DepartmentId,
        /// What is to be rectified.
        title: String,
        /// By when (China date).
        due_on: NaiveDate,
    },
    /// The department reports the item done.
    ReportRectification {
        /// The item.
        item_id: RectificationId,
        /// What was done.
        note: String,
    },
    /// The re-check of a reported item.
    RecheckRectification {
        /// The item.
        item_id: RectificationId,
        /// Whether the rectification is confirmed.
        passed: bool,
        /// The finding.
        note: String,
    },
}

impl AppraisalCommand {
    /// The command's kebab-case name, as used in URLs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            AppraisalCommand::Create { .. } => "create-appraisal",
            AppraisalCommand::Open => "open",
            AppraisalCommand::CastBallot { .. } => "ballots",
            AppraisalCommand::Close => "close",
            AppraisalCommand::ComputeResults { .. } => "compute",
            AppraisalCommand::Publish => "publish",
            AppraisalCommand::AddRectification { .. } => "rectifications",
            AppraisalCommand::ReportRectification { .. } => "report",
            AppraisalCommand::RecheckRectification { .. } => "recheck",
        }
    }
}

/// What happened to a campaign. A stored contract: fields are added with `#[serde(default)]`
/// and variants are added, never renamed or removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum AppraisalEvent {
    /// The campaign was created.
    CampaignCreated {
        /// The campaign id.
        campaign_id: AppraisalId,
        /// Its definition.
        definition: CampaignDefinition,
        /// Who created it.
        created_by: UserId,
        /// When.
        created_at: DateTime<Utc>,
    },
    /// Ballots may be cast.
    CampaignOpened {
        /// Who opened it.
        opened_by: UserId,
        /// When.
        opened_at: DateTime<Utc>,
    },
    /// A ballot was cast. Holds no rater identity beyond the key.
    BallotCast {
        /// The application's key for the rater (one ballot per key and department).
        rater_key: String,
        /// The rater's group.
        rater_group: String,
        /// The department rated.
        department: DepartmentId,
        /// Scores by dimension; `None` = don't know.
        scores: DimensionScores,
        /// The raw comment (private).
        comment: Option<String>,
        /// When.
        cast_at: DateTime<Utc>,
    },
    /// Ballots closed.
    CampaignClosed {
        /// Who closed it.
        closed_by: UserId,
        /// When.
        closed_at: DateTime<Utc>,
    },
    /// The results were computed. `results` equals
    /// `compute_results(definition, ballots, kpi, redact_names)`.
    ResultsComputed {
        /// The KPI snapshot used.
        kpi: BTreeMap<DepartmentId, DepartmentKpi>,
        /// Names masked in comments.
        redact_names: Vec<String>,
        /// The results.
        results: AppraisalResults,
        /// Who computed them.
        computed_by: UserId,
        /// When.
        computed_at: DateTime<Utc>,
    },
    /// The results were published.
    ResultsPublished {
        /// Who published them.
        published_by: UserId,
        /// When.
        published_at: DateTime<Utc>,
    },
    /// A rectification item was added.
    RectificationAdded {
        /// The item.
        item_id: RectificationId,
        /// The department.
        department: DepartmentId,
        /// What is to be rectified.
        title: String,
        /// By when (China date).
        due_on: NaiveDate,
        /// Who added it.
        added_by: UserId,
        /// When.
        added_at: DateTime<Utc>,
    },
    /// The department reported an item done.
    RectificationReported {
        /// The item.
        item_id: RectificationId,
        /// What was done.
        note: String,
        /// Who reported.
        reported_by: UserId,
        /// When.
        reported_at: DateTime<Utc>,
    },
    /// An item was re-checked.
    RectificationRechecked {
        /// The item.
        item_id: RectificationId,
        /// Confirmed (verified) or not (open again).
        passed: bool,
        /// The finding.
        note: String,
        /// Who checked.
        checked_by: UserId,
        /// When.
        checked_at: DateTime<Utc>,
    },
}

impl AppraisalEvent {
    /// The variant name, stored as the event type.
    pub fn name(&self) -> &'static str {
        match self {
            AppraisalEvent::CampaignCreated { .. } => "CampaignCreated",
            AppraisalEvent::CampaignOpened { .. } => "CampaignOpened",
            AppraisalEvent::BallotCast { .. } => "BallotCast",
            AppraisalEvent::CampaignClosed { .. } => "CampaignClosed",
            AppraisalEvent::ResultsComputed { .. } => "ResultsComputed",
            AppraisalEvent::ResultsPublished { .. } => "ResultsPublished",
            AppraisalEvent::RectificationAdded { .. } => "RectificationAdded",
            AppraisalEvent::RectificationReported { .. } => "RectificationReported",
            AppraisalEvent::RectificationRechecked { .. } => "RectificationRechecked",
        }
    }
}

impl DomainEvent for AppraisalEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a campaign command was refused. Each variant has a stable `code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppraisalError {
    /// No such campaign.
    #[error("appraisal campaign not found")]
    CampaignNotFound,
    /// The id is taken.
    #[error("appraisal campaign already exists")]
    CampaignAlreadyExists,
    /// The actor's role does not allow this command.
    #[error("role not allowed to {command}")]
    RoleNotAllowed {
        /// The command's name.
        command: &'static str,
    },
    /// The definition is invalid.
    #[error("invalid campaign definition: {0}")]
    InvalidDefinition(String),
    /// The command needs another status.
    #[error("the campaign is {status}; {command} needs it {needed}")]
    WrongStatus {
        /// The command.
        command: &'static str,
        /// The current status.
        status: &'static str,
        /// The status needed.
        needed: &'static str,
    },
    /// The department is not appraised in this campaign.
    #[error("department {0} is not appraised in this campaign")]
    DepartmentNotInCampaign(String),
    /// No such rater group.
    #[error("unknown rater group {0}")]
    UnknownRaterGroup(String),
    /// The rater's role is not one of the group's.
    #[error("your role may not rate in group {0}")]
    NotInRaterGroup(String),
    /// A rater may not rate their own department.
    #[error("a rater may not rate their own department")]
    RaterConflict,
    /// One ballot per rater per department.
    #[error("you have already rated this department in this campaign")]
    BallotAlreadyCast,
    /// The scores do not match the dimensions.
    #[error("invalid scores: {0}")]
    InvalidScores(String),
    /// The KPI snapshot lacks a department.
    #[error("the KPI snapshot lacks department {0}")]
    KpiSnapshotIncomplete(String),
    /// No such rectification item.
    #[error("rectification item not found")]
    RectificationNotFound,
    /// The item id is taken.
    #[error("rectification item already exists")]
    RectificationAlreadyExists,
    /// Department staff act only for their own department.
    #[error("you do not act for this department")]
    NotOwnDepartment,
    /// The due date is before today.
    #[error("the due date is in the past")]
    DueDateInPast,
    /// The item is not waiting for a re-check.
    #[error("the item has not been reported done")]
    RectificationNotReported,
    /// The item is verified already.
    #[error("the item is verified already")]
    RectificationVerified,
}

impl AppraisalError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppraisalError::CampaignNotFound => "appraisal_not_found",
            AppraisalError::CampaignAlreadyExists => "appraisal_already_exists",
            AppraisalError::RoleNotAllowed { .. } => "role_not_allowed",
            AppraisalError::InvalidDefinition(_) => "invalid_campaign_definition",
            AppraisalError::WrongStatus { .. } => "wrong_campaign_status",
            AppraisalError::DepartmentNotInCampaign(_) => "department_not_in_campaign",
            AppraisalError::UnknownRaterGroup(_) => "unknown_rater_group",
            AppraisalError::NotInRaterGroup(_) => "not_in_rater_group",
            AppraisalError::RaterConflict => "rater_conflict",
            AppraisalError::BallotAlreadyCast => "ballot_already_cast",
            AppraisalError::InvalidScores(_) => "invalid_scores",
            AppraisalError::KpiSnapshotIncomplete(_) => "kpi_snapshot_incomplete",
            AppraisalError::RectificationNotFound => "rectification_not_found",
            AppraisalError::RectificationAlreadyExists => "rectification_already_exists",
            AppraisalError::NotOwnDepartment => "not_own_department",
            AppraisalError::DueDateInPast => "due_date_in_past",
            AppraisalError::RectificationNotReported => "rectification_not_reported",
            AppraisalError::RectificationVerified => "rectification_already_verified",
        }
    }

    /// How the refusal should be understood.
    pub fn kind(&self) -> RefusalKind {
        match self {
            AppraisalError::CampaignNotFound | AppraisalError::RectificationNotFound => {
                RefusalKind::NotFound
            }
            AppraisalError::CampaignAlreadyExists
            | AppraisalError::BallotAlreadyCast
            | AppraisalError::RectificationAlreadyExists => RefusalKind::Conflict,
            AppraisalError::RoleNotAllowed { .. }
            | AppraisalError::NotInRaterGroup(_)
            | AppraisalError::RaterConflict
            | AppraisalError::NotOwnDepartment => RefusalKind::Forbidden,
            _ => RefusalKind::Rule,
        }
    }
}

/// The state of one campaign, rebuilt from its events. `definition` is `None` before creation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppraisalCampaign {
    /// The definition; `None` until created.
    pub definition: Option<CampaignDefinition>,
    /// The status (meaningful once created).
    pub status: Option<CampaignStatus>,
    /// Ballots in the order cast (no rater identity).
    pub ballots: Vec<Ballot>,
    /// (rater key, department) pairs that have voted.
    pub voted: BTreeSet<(String, DepartmentId)>,
    /// The last computed results.
    pub results: Option<AppraisalResults>,
    /// Rectification items.
    pub rectifications: BTreeMap<RectificationId, Rectification>,
}

/// The office that runs campaigns: the business-environment office's dispatchers.
const ORGANISERS: &[Role] = &[Role::Dispatcher];
const DEPARTMENT_STAFF: &[Role] = &[Role::DepartmentHandler, Role::DepartmentHead];

impl AppraisalCampaign {
    /// Decides which events `command` records, or why it is refused. Pure.
    pub fn decide(
        &self,
        command: Authored<AppraisalCommand>,
    ) -> Result<Vec<AppraisalEvent>, AppraisalError> {
        let Authored { actor, at, command } = command;
        let name = command.name();
        if let AppraisalCommand::Create {
            campaign_id,
            definition,
        } = command
        {
            require(&actor, ORGANISERS, name)?;
            if self.definition.is_some() {
                return Err(AppraisalError::CampaignAlreadyExists);
            }
            let problems = definition.problems();
            if let Some((field, message)) = problems.first() {
                return Err(AppraisalError::InvalidDefinition(format!(
                    "{field} {message}"
                )));
            }
            return Ok(vec![AppraisalEvent::CampaignCreated {
                campaign_id,
                definition,
                created_by: actor.sub,
                created_at: at,
            }]);
        }
        let (Some(definition), Some(status)) = (&self.definition, self.status) else {
            return Err(AppraisalError::CampaignNotFound);
        };
        let needs = |needed: CampaignStatus| {
            if status == needed {
                Ok(())
            } else {
                Err(AppraisalError::WrongStatus {
                    command: name,
                    status: status.as_str(),
                    needed: needed.as_str(),
                })
            }
        };
        match command {
            AppraisalCommand::Create { .. } => unreachable!("handled above"),
            AppraisalCommand::Open => {
                require(&actor, ORGANISERS, name)?;
                needs(CampaignStatus::Draft)?;
                Ok(vec![AppraisalEvent::CampaignOpened {
                    opened_by: actor.sub,
                    opened_at: at,
                }])
            }
            AppraisalCommand::CastBallot {
                rater_key,
                rater_group,
                department,
                scores,
                comment,
            } => {
                let group = definition
                    .group(&rater_group)
                    .ok_or_else(|| AppraisalError::UnknownRaterGroup(rater_group.clone()))?;
                if !actor.has_any(&group.roles) {
                    return Err(AppraisalError::NotInRaterGroup(rater_group));
                }
                needs(CampaignStatus::Open)?;
                if !definition.departments.contains(&department) {
                    return Err(AppraisalError::DepartmentNotInCampaign(
                        department.to_string(),
                    ));
                }
                if actor.acts_for(department.as_str()) {
                    return Err(AppraisalError::RaterConflict);
                }
                check_scores(definition, &scores)?;
                if comment
                    .as_ref()
                    .is_some_and(|comment| comment.chars().count() > 2000)
                {
                    return Err(AppraisalError::InvalidScores(
                        "comment must be at most 2000 characters".into(),
                    ));
                }
                if self
                    .voted
                    .contains(&(rater_key.clone(), department.clone()))
                {
                    return Err(AppraisalError::BallotAlreadyCast);
                }
                Ok(vec![AppraisalEvent::BallotCast {
                    rater_key,
                    rater_group,
                    department,
                    scores,
                    comment: comment.filter(|comment| !comment.trim().is_empty()),
                    cast_at: at,
                }])
            }
            AppraisalCommand::Close => {
                require(&actor, ORGANISERS, name)?;
                needs(CampaignStatus::Open)?;
                Ok(vec![AppraisalEvent::CampaignClosed {
                    closed_by: actor.sub,
                    closed_at: at,
                }])
            }
            AppraisalCommand::ComputeResults { kpi, redact_names } => {
                require(&actor, ORGANISERS, name)?;
                if status != CampaignStatus::Computed {
                    needs(CampaignStatus::Closed)?;
                }
                if let Some(missing) = definition
                    .departments
                    .iter()
                    .find(|department| !kpi.contains_key(*department))
                {
                    return Err(AppraisalError::KpiSnapshotIncomplete(missing.to_string()));
                }
                let kpi: BTreeMap<DepartmentId, DepartmentKpi> = kpi
                    .into_iter()
                    .filter(|(department, _)| definition.departments.contains(department))
                    .collect();
                let results = compute_results(definition, &self.ballots, &kpi, &redact_names);
                Ok(vec![AppraisalEvent::ResultsComputed {
                    kpi,
                    redact_names,
                    results,
                    computed_by: actor.sub,
                    computed_at: at,
                }])
            }
            AppraisalCommand::Publish => {
                require(&actor, ORGANISERS, name)?;
                needs(CampaignStatus::Computed)?;
                Ok(vec![AppraisalEvent::ResultsPublished {
                    published_by: actor.sub,
                    published_at: at,
                }])
            }
            AppraisalCommand::AddRectification {
                item_id,
                department,
                title,
                due_on,
            } => {
                require(&actor, ORGANISERS, name)?;
                needs(CampaignStatus::Published)?;
                if !definition.departments.contains(&department) {
                    return Err(AppraisalError::DepartmentNotInCampaign(
                        department.to_string(),
                    ));
                }
                if self.rectifications.contains_key(&item_id) {
                    return Err(AppraisalError::RectificationAlreadyExists);
                }
                if due_on < china_date(at) {
                    return Err(AppraisalError::DueDateInPast);
                }
                Ok(vec![AppraisalEvent::RectificationAdded {
                    item_id,
                    department,
                    title,
                    due_on,
                    added_by: actor.sub,
                    added_at: at,
                }])
            }
            AppraisalCommand::ReportRectification { item_id, note } => {
                require(&actor, DEPARTMENT_STAFF, name)?;
                let item = self
                    .rectifications
                    .get(&item_id)
                    .ok_or(AppraisalError::RectificationNotFound)?;
                if !actor.acts_for(item.department.as_str()) {
                    return Err(AppraisalError::NotOwnDepartment);
                }
                if item.status == RectificationStatus::Verified {
                    return Err(AppraisalError::RectificationVerified);
                }
                Ok(vec![AppraisalEvent::RectificationReported {
                    item_id,
                    note,
                    reported_by: actor.sub,
                    reported_at: at,
                }])
            }
            AppraisalCommand::RecheckRectification {
                item_id,
                passed,
                note,
            } => {
                require(&actor, ORGANISERS, name)?;
                let item = self
                    .rectifications
                    .get(&item_id)
                    .ok_or(AppraisalError::RectificationNotFound)?;
                match item.status {
                    RectificationStatus::Reported => {}
                    RectificationStatus::Open => {
                        return Err(AppraisalError::RectificationNotReported)
                    }
                    RectificationStatus::Verified => {
                        return Err(AppraisalError::RectificationVerified)
                    }
                }
                Ok(vec![AppraisalEvent::RectificationRechecked {
                    item_id,
                    passed,
                    note,
                    checked_by: actor.sub,
                    checked_at: at,
                }])
            }
        }
    }

    /// Evolves the state by one recorded event. Never fails.
    pub fn evolve(&mut self, event: &AppraisalEvent) {
        match event {
            AppraisalEvent::CampaignCreated { definition, .. } => {
                self.definition = Some(definition.clone());
                self.status = Some(CampaignStatus::Draft);
            }
            AppraisalEvent::CampaignOpened { .. } => self.status = Some(CampaignStatus::Open),
            AppraisalEvent::BallotCast {
                rater_key,
                rater_group,
                department,
                scores,
                comment,
                ..
            } => {
                self.voted.insert((rater_key.clone(), department.clone()));
                self.ballots.push(Ballot {
                    department: department.clone(),
                    rater_group: rater_group.clone(),
                    scores: scores.clone(),
                    comment: comment.clone(),
                });
            }
            AppraisalEvent::CampaignClosed { .. } => self.status = Some(CampaignStatus::Closed),
            AppraisalEvent::ResultsComputed { results, .. } => {
                self.results = Some(results.clone());
                self.status = Some(CampaignStatus::Computed);
            }
            AppraisalEvent::ResultsPublished { .. } => {
                self.status = Some(CampaignStatus::Published)
            }
            AppraisalEvent::RectificationAdded {
                item_id,
                department,
                ..
            } => {
                self.rectifications.insert(
                    *item_id,
                    Rectification {
                        department: department.clone(),
                        status: RectificationStatus::Open,
                    },
                );
            }
            AppraisalEvent::RectificationReported { item_id, .. } => {
                if let Some(item) = self.rectifications.get_mut(item_id) {
                    item.status = RectificationStatus::Reported;
                }
            }
            AppraisalEvent::RectificationRechecked {
                item_id, passed, ..
            } => {
                if let Some(item) = self.rectifications.get_mut(item_id) {
                    item.status = if *passed {
                        RectificationStatus::Verified
                    } else {
                        RectificationStatus::Open
                    };
                }
            }
        }
    }
}

/// Every dimension answered exactly once, each score 0–100 or don't know.
fn check_scores(
    definition: &CampaignDefinition,
    scores: &DimensionScores,
) -> Result<(), AppraisalError> {
    for dimension in &definition.dimensions {
        match scores.get(&dimension.id) {
            None => {
                return Err(AppraisalError::InvalidScores(format!(
                    "dimension {} needs a score or null (don't know)",
                    dimension.id
                )))
            }
            Some(Some(score)) if *score > 100 => {
                return Err(AppraisalError::InvalidScores(format!(
                    "dimension {} must be 0 to 100",
                    dimension.id
                )))
            }
            _ => {}
        }
    }
    if let Some(unknown) = scores
        .keys()
        .find(|id| !definition.dimensions.iter().any(|d| &d.id == *id))
    {
        return Err(AppraisalError::InvalidScores(format!(
            "unknown dimension {unknown}"
        )));
    }
    Ok(())
}

fn require(actor: &Actor, allowed: &[Role], command: &'static str) -> Result<(), AppraisalError> {
    if actor.has_any(allowed) {
        Ok(())
    } else {
        Err(AppraisalError::RoleNotAllowed { command })
    }
}

impl Aggregate for AppraisalCampaign {
    const TYPE: &'static str = "AppraisalCampaign";
    type Command = Authored<AppraisalCommand>;
    type Event = AppraisalEvent;
    type Error = AppraisalError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), AppraisalError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: AppraisalEvent) {
        self.evolve(&event);
    }
}

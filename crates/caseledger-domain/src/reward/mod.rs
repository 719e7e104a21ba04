//! Rewards (评选表彰 / 重奖): the `RewardProgram` stream ([`program`]), the `RewardNomination`
//! stream ([`nomination`]), the score aggregation `reward-aggregation.v1` ([`aggregate_scores`])
//! and the reward decision audit ([`audit`]).
//!
//! A program states its terms once (approval document, cycle, quota, tiers and amounts,
//! criteria with weights and score ranges, the aggregation rule and its version, the notice
//! period in working days, the committee, the reward office whose staff never score). A
//! nomination records those terms when it is submitted, so every later rule and the audit
//! read them from the nomination's own events.
//!
//! Architecture invariants: no IO, clock or RNG (the draw's seed and pool snapshot, the
//! calendar and the number of awards already made arrive in commands); `aggregate_scores` is a
//! pure function of what the events record, so the audit recomputes it; this module depends on
//! `consultation::draw` for the reviewer draw (`caseledger-draw-v1`, unchanged) and on
//! `case::RefusalKind`, nothing else of other streams.

pub mod audit;
pub mod nomination;
pub mod program;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ids::{Discipline, ExpertId, UnitId, UserId};

/// The version of the score aggregation implemented by [`aggregate_scores`].
pub const AGGREGATION_VERSION: &str = "reward-aggregation.v1";
/// The shortest public notice, in working days (DOMAIN.md: "usually at least 5").
pub const MIN_NOTICE_WORKING_DAYS: u32 = 5;
/// The smallest reviewer panel.
pub const MIN_REVIEWERS: u32 = 3;
/// The largest reviewer panel.
pub const MAX_REVIEWERS: u32 = 15;

/// An award tier (一等奖, 二等奖…) with the range of amounts it may carry, in yuan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// A slug naming the tier (`first`, `second`).
    pub code: String,
    /// Its display name.
    pub name: String,
    /// The smallest amount, in yuan.
    pub min_amount: u64,
    /// The largest amount, in yuan.
    pub max_amount: u64,
}

/// A scoring criterion with its weight and the range of a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    /// A slug naming the criterion (`economic-contribution`).
    pub code: String,
    /// Its display name.
    pub name: String,
    /// Its weight (a positive integer; weights are relative).
    pub weight: u32,
    /// The lowest score.
    pub min_score: i32,
    /// The highest score.
    pub max_score: i32,
}

/// How per-criterion scores of several reviewers are combined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregationRule {
    /// Always `trimmed_mean` in `reward-aggregation.v1`.
    pub method: String,
    /// How many of the lowest and of the highest scores are left out per criterion (when more
    /// than twice this many scores exist).
    pub trim: u32,
    /// [`AGGREGATION_VERSION`].
    pub version: String,
}

/// The terms of a program, recorded when it is created and copied into each nomination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramTerms {
    /// Title.
    pub title: String,
    /// The cycle (`2026`, `2026-H1`).
    pub cycle: String,
    /// How many awards the program may make in the cycle.
    pub quota: u32,
    /// Tiers and amounts.
    pub tiers: Vec<Tier>,
    /// Criteria with weights and ranges.
    pub criteria: Vec<Criterion>,
    /// The aggregation rule and its version.
    pub aggregation: AggregationRule,
    /// The public notice period in working days (at least 5).
    pub notice_working_days: u32,
    /// Reviewers drawn per nomination.
    pub reviewers: u32,
    /// Alternates drawn per nomination.
    pub alternates: u32,
    /// Disciplines reviewers are drawn from.
    pub disciplines: BTreeSet<Discipline>,
    /// Members of the reward committee.
    pub committee_size: u32,
    /// The committee roster (user ids of the members): only they vote, once each. Changed only
    /// by a reasoned `CommitteeChanged` on the program. Empty in programs created before the
    /// roster existed: nobody votes there until the reward office names it.
    #[serde(default)]
    pub committee: BTreeSet<UserId>,
    /// Votes needed for a valid committee vote.
    pub committee_quorum: u32,
    /// The reward office's unit: experts employed there are never drawn.
    pub reward_office_unit: UnitId,
    /// The reward office's staff (their user ids): never drawn, never scoring.
    pub reward_office_staff: BTreeSet<ExpertId>,
}

impl ProgramTerms {
    /// The tier named `code`.
    pub fn tier(&self, code: &str) -> Option<&Tier> {
        self.tiers.iter().find(|tier| tier.code == code)
    }

    /// The criterion named `code`.
    pub fn criterion(&self, code: &str) -> Option<&Criterion> {
        self.criteria
            .iter()
            .find(|criterion| criterion.code == code)
    }

    /// Why these terms cannot be used, if they cannot.
    pub fn problem(&self) -> Option<String> {
        if self.quota == 0 {
            return Some("the quota must be at least 1".into());
        }
        if self.tiers.is_empty() {
            return Some("at least one tier is required".into());
        }
        if let Some(tier) = self
            .tiers
            .iter()
            .find(|tier| tier.min_amount > tier.max_amount)
        {
            return Some(format!(
                "tier {} has min_amount above max_amount",
                tier.code
            ));
        }
        if self.criteria.is_empty() {
            return Some("at least one criterion is required".into());
        }
        if let Some(criterion) = self
            .criteria
            .iter()
            .find(|c| c.weight == 0 || c.min_score >= c.max_score)
        {
            return Some(format!(
                "criterion {} needs a positive weight and min_score below max_score",
                criterion.code
            ));
        }
        let codes: BTreeSet<&str> = self.criteria.iter().map(|c| c.code.as_str()).collect();
        let tier_codes: BTreeSet<&str> = self.tiers.iter().map(|t| t.code.as_str()).collect();
        if codes.len() != self.criteria.len() || tier_codes.len() != self.tiers.len() {
            return Some("criterion and tier codes must be unique".into());
        }
        if self.aggregation.method != "trimmed_mean"
            || self.aggregation.version != AGGREGATION_VERSION
        {
            return Some(format!(
                "the aggregation must be trimmed_mean version {AGGREGATION_VERSION}"
            ));
        }
        if !(MIN_REVIEWERS..=MAX_REVIEWERS).contains(&self.reviewers) {
            return Some(format!(
                "reviewers must be {MIN_REVIEWERS} to {MAX_REVIEWERS}"
            ));
        }
        if self.alternates > crate::consultation::MAX_ALTERNATES {
            return Some("at most 10 alternates".into());
        }
        if self.disciplines.is_empty() {
            return Some("at least one discipline is required".into());
        }
        if self.committee_size == 0
            || self.committee_quorum * 2 <= self.committee_size
            || self.committee_quorum > self.committee_size
        {
            return Some(
                "the committee quorum must be more than half the committee and at most its size"
                    .into(),
            );
        }
        if self.committee.len() != self.committee_size as usize {
            return Some("the committee roster must name committee_size distinct members".into());
        }
        None
    }
}

/// One reviewer's score on one criterion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriterionScore {
    /// The score, within the criterion's range.
    pub score: i32,
    /// Why (required on a score at either end of the range).
    #[serde(default)]
    pub comment: Option<String>,
}

/// The result of [`aggregate_scores`]: figures in hundredths (8333 = 83.33), so that a
/// recorded result and a recomputation compare exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregationResult {
    /// Per criterion, the trimmed mean of the raw scores, in hundredths.
    pub criterion_means_x100: BTreeMap<String, i64>,
    /// The total on a 0–100 scale, in hundredths.
    pub total_x100: i64,
    /// How many score sheets were combined.
    pub sheets: u32,
}

/// Aggregation `reward-aggregation.v1` (docs/DECISIONS.md, "Rewards"):
///
/// 1. per criterion, take the score of every counted sheet (a sheet missing a criterion is an
///    error the domain never records) and sort them;
/// 2. when there are more than 2 × `trim` scores, leave out the `trim` lowest and the `trim`
///    highest; the criterion mean is the arithmetic mean of the rest;
/// 3. the criterion's share is (mean − min) / (max − min) of its range;
/// 4. total = 100 × Σ weight × share / Σ weight;
/// 5. means and the total are rounded to hundredths, half away from zero, and stated as
///    integers (hundredths). The total is computed from the unrounded means.
///
/// Returns `None` without sheets.
pub fn aggregate_scores(
    criteria: &[Criterion],
    rule: &AggregationRule,
    sheets: &[&BTreeMap<String, CriterionScore>],
) -> Option<AggregationResult> {
    if sheets.is_empty() {
        return None;
    }
    let trim = rule.trim as usize;
    let mut means = BTreeMap::new();
    let mut weighted = 0.0_f64;
    let mut weights = 0.0_f64;
    for criterion in criteria {
        let mut scores: Vec<i32> = sheets
            .iter()
            .filter_map(|sheet| sheet.get(&criterion.code).map(|s| s.score))
            .collect();
        if scores.is_empty() {
            return None;
        }
        scores.sort_unstable();
        let kept: &[i32] = if scores.len() > 2 * trim {
            &scores[trim..scores.len() - trim]
        } else {
            &scores
        };
        let mean = kept.iter().map(|s| f64::from(*s)).sum::<f64>() / kept.len() as f64;
        means.insert(criterion.code.clone(), hundredths(mean));
        let range = f64::from(criterion.max_score - criterion.min_score);
        let share = (mean - f64::from(criterion.min_score)) / range;
        weighted += f64::from(criterion.weight) * share;
        weights += f64::from(criterion.weight);
    }
    Some(AggregationResult {
        criterion_means_x100: means,
        total_x100: hundredths(100.0 * weighted / weights),
        sheets: sheets.len() as u32,
    })
}

fn hundredths(value: f64) -> i64 {
    (value * 100.0).round() as i64
}

/// Formats hundredths as a decimal (`8333` → `"83.33"`).
pub fn format_hundredths(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let value = value.unsigned_abs();
    format!("{sign}{}.{:02}", value / 100, value % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criterion(code: &str, weight: u32) -> Criterion {
        Criterion {
            code: code.into(),
            name: code.into(),
            weight,
            min_score: 0,
            max_score: 100,
        }
    }

    fn sheet(a: i32, b: i32) -> BTreeMap<String, CriterionScore> {
        [("a", a), ("b", b)]
            .into_iter()
            .map(|(code, score)| {
                (
                    code.to_owned(),
                    CriterionScore {
                        score,
                        comment: None,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn trimmed_mean_leaves_out_the_extremes_and_weights_the_criteria() {
        let rule = AggregationRule {
            method: "trimmed_mean".into(),
            trim: 1,
            version: AGGREGATION_VERSION.into(),
        };
        let criteria = [criterion("a", 3), criterion("b", 1)];
        let sheets = [sheet(10, 50), sheet(80, 60), sheet(90, 70), sheet(100, 80)];
        let refs: Vec<_> = sheets.iter().collect();
        let result = aggregate_scores(&criteria, &rule, &refs).unwrap();
        // a: 80 and 90 kept → 85; b: 60 and 70 kept → 65; total = (3×85 + 65) / 4 = 80.
        assert_eq!(result.criterion_means_x100["a"], 8500);
        assert_eq!(result.criterion_means_x100["b"], 6500);
        assert_eq!(result.total_x100, 8000);
        // With two sheets nothing is trimmed.
        let result = aggregate_scores(&criteria, &rule, &refs[..2]).unwrap();
        assert_eq!(result.criterion_means_x100["a"], 4500);
        // a: 45, b: 55 → (3×45 + 55) / 4 = 47.5.
        assert_eq!(format_hundredths(result.total_x100), "47.50");
    }
}

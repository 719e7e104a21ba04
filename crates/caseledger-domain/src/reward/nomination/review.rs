//! The review: reviewers drawn with `caseledger-draw-v1` (reward office staff and employees of
//! the reward office's unit filtered out), recusal with voided scores, a void aggregation and
//! the next alternate, score sheets checked against the criteria, and the aggregation with its
//! rule and version.

use std::collections::{BTreeMap, BTreeSet};

use crate::actor::Role;
use crate::consultation::draw::{self, DrawFilters, DrawSeed, PoolEntry};
use crate::ids::ExpertId;
use crate::reward::{aggregate_scores, CriterionScore};
use crate::text::LongText;

use super::error::NominationError;
use super::event::NominationEvent;
use super::types::NominationStatus;
use super::{Issued, RewardNomination};

/// The ids, comma-separated, for a refusal's message.
fn list(ids: impl IntoIterator<Item = impl std::fmt::Display>) -> String {
    ids.into_iter()
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl RewardNomination {
    /// The reward office draws the reviewers from the seed and pool snapshot in the command.
    pub(super) fn draw_reviewers(
        &self,
        issued: Issued,
        seed: DrawSeed,
        pool: Vec<PoolEntry>,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::role(&actor, &[Role::RewardOffice], name)?;
        self.require(&[S::Eligible], name)?;
        let terms = self.terms()?;
        let nominee = self.nominee.as_ref().expect("submitted");
        // Reward office staff and the reward office's employees are filtered out in
        // the draw itself, so the exclusion is part of the verifiable filters.
        let mut excluded: BTreeSet<ExpertId> = terms.reward_office_staff.clone();
        excluded.extend(
            pool.iter()
                .filter(|entry| entry.employer_unit == terms.reward_office_unit)
                .map(|entry| entry.expert_id.clone()),
        );
        let filters = DrawFilters {
            disciplines: terms.disciplines.clone(),
            excluded,
            parties: nominee.unit_id.iter().cloned().collect(),
            requesting_unit: terms.reward_office_unit.clone(),
        };
        let outcome = draw::draw(&seed, &pool, &filters, terms.reviewers, terms.alternates)
            .map_err(|error| NominationError::InsufficientPool(error.to_string()))?;
        let pool = draw::canonical_pool(&pool)
            .map_err(|error| NominationError::InsufficientPool(error.to_string()))?;
        Ok(vec![E::ReviewersDrawn {
            algorithm: draw::ALGORITHM.to_owned(),
            seed,
            pool,
            pool_hash: outcome.pool_hash,
            filters,
            panel_size: terms.reviewers,
            alternates_requested: terms.alternates,
            order: outcome.order,
            panel: outcome.panel,
            alternates: outcome.alternates,
            proof: outcome.proof,
            drawn_by: actor.sub,
            drawn_at: at,
        }])
    }

    /// A reviewer (or the reward office) recuses; their scores and an aggregation made with them are voided and the next alternate is seated.
    pub(super) fn recuse_reviewer(
        &self,
        issued: Issued,
        expert_id: ExpertId,
        reason: LongText,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        let own = actor.has(Role::Expert) && actor.sub.as_str() == expert_id.as_str();
        if !own {
            Self::role(&actor, &[Role::RewardOffice], name)?;
        }
        self.require(&[S::UnderReview, S::Scored], name)?;
        let seat = self
            .reviewers
            .iter()
            .find(|seat| seat.expert_id == expert_id)
            .ok_or(NominationError::NotSeated)?;
        if seat.recused.is_some() {
            return Err(NominationError::ReviewerRecused);
        }
        let mut events = vec![E::ReviewerRecused {
            expert_id: expert_id.clone(),
            reason: reason.as_str().to_owned(),
            recused_by: actor.sub,
            recused_at: at,
        }];
        if self.sheets.get(&expert_id).is_some_and(|s| !s.voided) {
            events.push(E::ScoresVoided {
                expert_id: expert_id.clone(),
                reason: format!("reviewer recused: {}", reason.as_str()),
                voided_at: at,
            });
            if self.status == S::Scored {
                events.push(E::AggregationVoided {
                    reason: format!("scores of {expert_id} voided"),
                    voided_at: at,
                });
            }
        }
        if let Some(alternate) = self.alternates.first() {
            events.push(E::AlternateSeated {
                expert_id: alternate.clone(),
                replaces: expert_id,
                seated_at: at,
            });
        }
        Ok(events)
    }

    /// A seated reviewer, never of the reward office, scores every criterion once, in range, with a comment on an extreme score.
    pub(super) fn submit_scores(
        &self,
        issued: Issued,
        scores: BTreeMap<String, CriterionScore>,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        if actor.has(Role::RewardOffice) {
            return Err(NominationError::ScorerIsRewardOffice);
        }
        Self::role(&actor, &[Role::Expert], name)?;
        let terms = self.terms()?;
        let expert_id =
            ExpertId::parse(actor.sub.as_str()).map_err(|_| NominationError::NotSeated)?;
        if terms.reward_office_staff.contains(&expert_id) {
            return Err(NominationError::ScorerIsRewardOffice);
        }
        let seat = self
            .reviewers
            .iter()
            .find(|seat| seat.expert_id == expert_id)
            .ok_or(NominationError::NotSeated)?;
        if seat.recused.is_some() {
            return Err(NominationError::ReviewerRecused);
        }
        self.require(&[S::UnderReview], name)?;
        if self.sheets.contains_key(&expert_id) {
            return Err(NominationError::AlreadyScored);
        }
        if let Some(unknown) = scores.keys().find(|code| terms.criterion(code).is_none()) {
            return Err(NominationError::UnknownCriterion(unknown.clone()));
        }
        let missing: Vec<&str> = terms
            .criteria
            .iter()
            .filter(|c| !scores.contains_key(&c.code))
            .map(|c| c.code.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(NominationError::ScoresIncomplete(missing.join(", ")));
        }
        for criterion in &terms.criteria {
            let score = &scores[&criterion.code];
            if score.score < criterion.min_score || score.score > criterion.max_score {
                return Err(NominationError::ScoreOutOfRange {
                    criterion: criterion.code.clone(),
                    score: score.score,
                    min: criterion.min_score,
                    max: criterion.max_score,
                });
            }
            let extreme = score.score == criterion.min_score || score.score == criterion.max_score;
            let commented = score
                .comment
                .as_deref()
                .is_some_and(|c| !c.trim().is_empty());
            if extreme && !commented {
                return Err(NominationError::CommentRequired(criterion.code.clone()));
            }
        }
        Ok(vec![E::ScoresSubmitted {
            expert_id,
            scores,
            submitted_at: at,
        }])
    }

    /// The reward office aggregates the sheets of every active reviewer with the recorded rule.
    pub(super) fn aggregate(
        &self,
        issued: Issued,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::role(&actor, &[Role::RewardOffice], name)?;
        self.require(&[S::UnderReview], name)?;
        let terms = self.terms()?;
        let missing: Vec<&ExpertId> = self
            .active_reviewers()
            .filter(|expert| self.sheets.get(*expert).is_none_or(|s| s.voided))
            .collect();
        if !missing.is_empty() {
            return Err(NominationError::ScoresMissing(list(missing)));
        }
        let counted = self.counted_sheets();
        if counted.len() < 3 {
            return Err(NominationError::TooFewScores);
        }
        let sheets: Vec<&BTreeMap<String, CriterionScore>> =
            counted.iter().map(|(_, sheet)| &sheet.scores).collect();
        let result = aggregate_scores(&terms.criteria, &terms.aggregation, &sheets)
            .ok_or(NominationError::TooFewScores)?;
        Ok(vec![E::ScoresAggregated {
            method: terms.aggregation.method.clone(),
            trim: terms.aggregation.trim,
            rule_version: terms.aggregation.version.clone(),
            sheets: counted.iter().map(|(id, _)| (*id).clone()).collect(),
            result,
            aggregated_by: actor.sub,
            aggregated_at: at,
        }])
    }
}

//! The experts' opinions and the conclusion: a signed opinion is a new version each time
//! (with the digest of what the expert signed), never an edit; the conclusion counts each
//! accepted seat's latest opinion once, needs a quorum and a majority, and records the dissent.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::ids::ExpertId;
use crate::subject::PersonName;
use crate::text::LongText;

use super::error::ConsultationError;
use super::event::ConsultationEvent;
use super::types::{ConsultationStatus, SeatState, Stance, Tally};
use super::{quorum, ConsultationRequest, Issued};

/// SHA-256 (hex) over what an expert signs: the canonical JSON of `{"conditions", "expert_id",
/// "rationale", "signature", "stance", "version"}` (keys in this order, no white space).
pub fn opinion_digest(
    expert_id: &ExpertId,
    version: u32,
    stance: Stance,
    rationale: &str,
    conditions: Option<&str>,
    signature: &str,
) -> String {
    #[derive(Serialize)]
    struct Signed<'a> {
        conditions: Option<&'a str>,
        expert_id: &'a ExpertId,
        rationale: &'a str,
        signature: &'a str,
        stance: Stance,
        version: u32,
    }
    let bytes = serde_json::to_vec(&Signed {
        conditions,
        expert_id,
        rationale,
        signature,
        stance,
        version,
    })
    .expect("an opinion always serialises");
    hex::encode(Sha256::digest(bytes))
}

impl ConsultationRequest {
    /// A seated expert who accepted with the pledge submits an opinion, as a new version.
    pub(super) fn submit_opinion(
        &self,
        issued: Issued,
        stance: Stance,
        rationale: LongText,
        conditions: Option<LongText>,
        signature: PersonName,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        use ConsultationStatus as S;
        let Issued { actor, at, name } = issued;
        let seat = self.own_seat(&actor, name)?;
        match seat.state {
            SeatState::Recused => {
                return Err(ConsultationError::ExpertConflicted(seat.expert_id.clone()))
            }
            SeatState::Declined => return Err(ConsultationError::SeatNotOpen),
            SeatState::Invited => return Err(ConsultationError::SeatNotAccepted),
            SeatState::Accepted => {}
        }
        match self.status {
            S::PanelConfirmed | S::CollectingOpinions => {}
            S::PanelDrawn => return Err(ConsultationError::PanelNotConfirmed),
            _ => return Err(self.invalid()),
        }
        if stance == Stance::Conditional && conditions.is_none() {
            return Err(ConsultationError::ConditionsRequired);
        }
        let version = self
            .opinions
            .get(&seat.expert_id)
            .map_or(1, |latest| latest.version + 1);
        let rationale: String = rationale.into();
        let conditions: Option<String> = conditions.map(Into::into);
        let signature: String = signature.into();
        Ok(vec![ConsultationEvent::OpinionSubmitted {
            content_sha256: opinion_digest(
                &seat.expert_id,
                version,
                stance,
                &rationale,
                conditions.as_deref(),
                &signature,
            ),
            expert_id: seat.expert_id.clone(),
            version,
            stance,
            rationale,
            conditions,
            signature,
            submitted_at: at,
        }])
    }

    /// Records the conclusion: quorum, the majority stance (a tie cannot conclude) and the dissent.
    pub(super) fn conclude(
        &self,
        issued: Issued,
        majority_view: LongText,
        dissent: Option<LongText>,
        recommendations: Vec<LongText>,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        use ConsultationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::check_secretary(&actor, name)?;
        match self.status {
            S::CollectingOpinions => {}
            // Opinions were being collected when a seat changed: the new expert must
            // pledge before anything is concluded.
            S::PanelDrawn if !self.opinions.is_empty() => {
                return Err(ConsultationError::PanelNotConfirmed)
            }
            S::PanelDrawn | S::PanelConfirmed => {
                return Err(ConsultationError::QuorumNotReached {
                    opinions: self.counted_opinions().len() as u32,
                    quorum: quorum(self.panel_size),
                })
            }
            _ => return Err(self.invalid()),
        }
        let counted = self.counted_opinions();
        let quorum = quorum(self.panel_size);
        if (counted.len() as u32) < quorum {
            return Err(ConsultationError::QuorumNotReached {
                opinions: counted.len() as u32,
                quorum,
            });
        }
        let mut tally = Tally::default();
        for (_, stance) in &counted {
            match stance {
                Stance::Support => tally.support += 1,
                Stance::Conditional => tally.conditional += 1,
                Stance::Oppose => tally.oppose += 1,
            }
        }
        let counts = [
            (Stance::Support, tally.support),
            (Stance::Conditional, tally.conditional),
            (Stance::Oppose, tally.oppose),
        ];
        let top = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let leaders: Vec<Stance> = counts
            .iter()
            .filter(|(_, n)| *n == top)
            .map(|(stance, _)| *stance)
            .collect();
        let [majority] = leaders[..] else {
            return Err(ConsultationError::NoMajority);
        };
        let dissenters: Vec<ExpertId> = counted
            .iter()
            .filter(|(_, stance)| *stance != majority)
            .map(|(expert_id, _)| (*expert_id).clone())
            .collect();
        match (&dissent, dissenters.is_empty()) {
            (None, false) => return Err(ConsultationError::DissentRequired),
            (Some(_), true) => return Err(ConsultationError::NoDissent),
            _ => {}
        }
        if recommendations.is_empty() {
            return Err(ConsultationError::NoRecommendations);
        }
        Ok(vec![ConsultationEvent::ConclusionRecorded {
            majority,
            tally,
            majority_view: majority_view.into(),
            dissenters,
            dissent: dissent.map(Into::into),
            recommendations: recommendations.into_iter().map(Into::into).collect(),
            recorded_by: actor.sub,
            recorded_at: at,
        }])
    }
}

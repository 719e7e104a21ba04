//! The committee: one vote per member of the roster the command carries (never a reviewer of
//! the nomination), and the tally over the roster with its quorum.

use std::collections::BTreeSet;

use crate::actor::Role;
use crate::ids::UserId;

use super::error::NominationError;
use super::event::NominationEvent;
use super::types::NominationStatus;
use super::{Issued, RewardNomination};

impl RewardNomination {
    /// A committee member on the roster votes once.
    pub(super) fn cast_vote(
        &self,
        issued: Issued,
        in_favour: bool,
        committee: BTreeSet<UserId>,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::role(&actor, &[Role::CommitteeMember], name)?;
        self.require(&[S::Scored], name)?;
        if !committee.contains(&actor.sub) {
            return Err(NominationError::NotCommitteeMember);
        }
        if self
            .reviewers
            .iter()
            .any(|seat| seat.expert_id.as_str() == actor.sub.as_str())
        {
            return Err(NominationError::VoterIsReviewer);
        }
        if self.votes.contains_key(&actor.sub) {
            return Err(NominationError::AlreadyVoted);
        }
        Ok(vec![E::VoteCast {
            member: actor.sub,
            in_favour,
            cast_at: at,
        }])
    }

    /// The reward office tallies the votes of the roster's members against the quorum.
    pub(super) fn tally_vote(
        &self,
        issued: Issued,
        committee: BTreeSet<UserId>,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::role(&actor, &[Role::RewardOffice], name)?;
        self.require(&[S::Scored], name)?;
        let terms = self.terms()?;
        // Only votes of members on the roster now count (a member removed by a
        // reasoned roster change no longer does), and the quorum is over the roster:
        // the program's quorum, and never half the roster or less.
        let counted: Vec<bool> = self
            .votes
            .iter()
            .filter(|(member, _)| committee.contains(*member))
            .map(|(_, in_favour)| *in_favour)
            .collect();
        let cast = counted.len() as u32;
        let quorum = terms.committee_quorum.max(committee.len() as u32 / 2 + 1);
        if cast < quorum {
            return Err(NominationError::QuorumNotReached { cast, quorum });
        }
        let votes_for = counted.iter().filter(|v| **v).count() as u32;
        let votes_against = cast - votes_for;
        Ok(vec![E::VoteTallied {
            votes_for,
            votes_against,
            quorum,
            committee_size: committee.len() as u32,
            committee,
            passed: votes_for > votes_against,
            tallied_by: actor.sub,
            tallied_at: at,
        }])
    }
}

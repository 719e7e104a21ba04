//! The decision and the exits: approval (after the notice is closed, with no unresolved or
//! upheld objection, within the quota, with a tier of the program and an amount within it),
//! announcement, revocation by the approving authority who approved, and withdrawal or
//! disqualification before approval.

use crate::actor::Role;
use crate::text::{Label, LongText};

use super::error::NominationError;
use super::event::NominationEvent;
use super::types::NominationStatus;
use super::{Issued, RewardNomination};

impl RewardNomination {
    /// The approving authority approves a nomination whose notice is closed, within quota and tier.
    pub(super) fn approve(
        &self,
        issued: Issued,
        decision_number: Label,
        tier: String,
        amount: u64,
        reason: LongText,
        awards_in_program: u32,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::role(&actor, &[Role::ApprovingAuthority], name)?;
        if self.status == S::InNotice {
            let ends_at = self.notice_ends_at.expect("in notice");
            // Answer the state the nomination is in: a notice that has ended but was
            // not closed is not "running".
            return Err(if at < ends_at {
                NominationError::NoticePeriodRunning(ends_at.to_rfc3339())
            } else {
                NominationError::NoticeNotClosed(ends_at.to_rfc3339())
            });
        }
        self.require(&[S::NoticeClosed], name)?;
        if self.unresolved_objection() {
            return Err(NominationError::UnresolvedObjection);
        }
        if self.objections.iter().any(|o| o.upheld == Some(true)) {
            return Err(NominationError::ObjectionUpheld);
        }
        let terms = self.terms()?;
        if awards_in_program >= terms.quota {
            return Err(NominationError::QuotaExceeded { quota: terms.quota });
        }
        let the_tier = terms
            .tier(&tier)
            .ok_or_else(|| NominationError::UnknownTier(tier.clone()))?;
        if amount < the_tier.min_amount || amount > the_tier.max_amount {
            return Err(NominationError::AmountOutsideTier {
                min: the_tier.min_amount,
                max: the_tier.max_amount,
            });
        }
        Ok(vec![E::NominationApproved {
            decision_number: decision_number.as_str().to_owned(),
            tier,
            amount,
            reason: reason.as_str().to_owned(),
            awards_before: awards_in_program,
            approved_by: actor.sub,
            approved_at: at,
        }])
    }

    /// The reward office announces an approved award.
    pub(super) fn announce(&self, issued: Issued) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::role(&actor, &[Role::RewardOffice], name)?;
        self.require(&[S::Approved], name)?;
        Ok(vec![E::AwardAnnounced {
            announced_by: actor.sub,
            announced_at: at,
        }])
    }

    /// The submitter (or the reward office) withdraws before approval, a refused nomination included.
    pub(super) fn withdraw(
        &self,
        issued: Issued,
        reason: LongText,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        let submitter = self.submitted_by.as_ref() == Some(&actor.sub);
        if !submitter {
            Self::role(&actor, &[Role::RewardOffice], name)?;
        }
        // "Before approval" includes the two refusals before it (ineligible, not
        // shortlisted): the nominator may still withdraw such a nomination on record.
        let refused_before_approval = matches!(self.status, S::Ineligible | S::NotShortlisted);
        if !(self.status.before_approval_open() || refused_before_approval) {
            return Err(self.invalid(name));
        }
        Ok(vec![E::NominationWithdrawn {
            reason: reason.as_str().to_owned(),
            withdrawn_by: actor.sub,
            withdrawn_at: at,
        }])
    }

    /// The reward office disqualifies before approval.
    pub(super) fn disqualify(
        &self,
        issued: Issued,
        grounds: LongText,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        let Issued { actor, at, name } = issued;
        Self::role(&actor, &[Role::RewardOffice], name)?;
        if !self.status.before_approval_open() {
            return Err(self.invalid(name));
        }
        Ok(vec![E::NominationDisqualified {
            grounds: grounds.as_str().to_owned(),
            disqualified_by: actor.sub,
            disqualified_at: at,
        }])
    }

    /// The approving authority who approved revokes the award, with grounds.
    pub(super) fn revoke(
        &self,
        issued: Issued,
        decision_number: Label,
        grounds: LongText,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::role(&actor, &[Role::ApprovingAuthority], name)?;
        self.require(&[S::Approved, S::Announced], name)?;
        let award = self.award.as_ref().expect("approved");
        if award.approved_by != actor.sub {
            return Err(NominationError::NotOriginalAuthority);
        }
        Ok(vec![E::AwardRevoked {
            decision_number: decision_number.as_str().to_owned(),
            grounds: grounds.as_str().to_owned(),
            revoked_by: actor.sub,
            revoked_at: at,
        }])
    }
}

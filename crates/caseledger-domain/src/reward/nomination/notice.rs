//! The public notice (公示): it starts on a working day and ends after the program's working
//! days on the calendar the command carries; objections are taken while it runs (one without
//! a real name and a contact is logged as not accepted), the auditor resolves accepted ones,
//! and the reward office closes the notice once it has ended.

use std::sync::Arc;

use crate::actor::Role;
use crate::calendar::WorkCalendar;
use crate::ids::ObjectionId;
use crate::portfolio::china_date;
use crate::sla::{Limit, LimitUnit};
use crate::text::{Label, LongText};

use super::error::NominationError;
use super::event::NominationEvent;
use super::types::NominationStatus;
use super::{Issued, RewardNomination};

impl RewardNomination {
    /// The reward office starts the notice of a shortlisted nomination on a working day.
    pub(super) fn start_notice(
        &self,
        issued: Issued,
        calendar: Arc<WorkCalendar>,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::role(&actor, &[Role::RewardOffice], name)?;
        self.require(&[S::Shortlisted], name)?;
        if !calendar.is_working_day(china_date(at)) {
            return Err(NominationError::NoticeStartNotWorkingDay);
        }
        let working_days = self.terms()?.notice_working_days;
        let ends_at = calendar.add(at, Limit::new(working_days, LimitUnit::WorkingDays));
        Ok(vec![E::NoticeStarted {
            starts_at: at,
            ends_at,
            working_days,
            started_by: actor.sub,
        }])
    }

    /// Anyone files an objection while the notice runs; an anonymous or vague one is logged as not accepted.
    pub(super) fn file_objection(
        &self,
        issued: Issued,
        objection_id: ObjectionId,
        filer_name: Option<Label>,
        filer_contact: Option<Label>,
        grounds: LongText,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { at, .. } = issued;
        let open =
            self.status == S::InNotice && self.notice_ends_at.is_some_and(|ends_at| at < ends_at);
        if !open {
            return Err(NominationError::NoticeNotOpen);
        }
        let not_accepted_reason = match (&filer_name, &filer_contact) {
            (Some(_), Some(_)) => None,
            (None, None) => Some("anonymous: no real name and no contact".to_owned()),
            (None, Some(_)) => Some("no real name".to_owned()),
            (Some(_), None) => Some("no contact".to_owned()),
        };
        Ok(vec![E::ObjectionFiled {
            objection_id,
            accepted: not_accepted_reason.is_none(),
            not_accepted_reason,
            filer_name: filer_name.map(|n| n.as_str().to_owned()),
            filer_contact: filer_contact.map(|c| c.as_str().to_owned()),
            grounds: grounds.as_str().to_owned(),
            filed_at: at,
        }])
    }

    /// The auditor resolves an accepted objection, once.
    pub(super) fn resolve_objection(
        &self,
        issued: Issued,
        objection_id: ObjectionId,
        upheld: bool,
        finding: LongText,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        let Issued { actor, at, name } = issued;
        Self::role(&actor, &[Role::Auditor], name)?;
        let objection = self
            .objections
            .iter()
            .find(|o| o.objection_id == objection_id && o.accepted)
            .ok_or(NominationError::ObjectionNotFound)?;
        if objection.upheld.is_some() {
            return Err(NominationError::ObjectionAlreadyResolved);
        }
        Ok(vec![E::ObjectionResolved {
            objection_id,
            upheld,
            finding: finding.as_str().to_owned(),
            resolved_by: actor.sub,
            resolved_at: at,
        }])
    }

    /// The reward office closes a notice that has ended.
    pub(super) fn close_notice(
        &self,
        issued: Issued,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::role(&actor, &[Role::RewardOffice], name)?;
        self.require(&[S::InNotice], name)?;
        let ends_at = self.notice_ends_at.expect("in notice");
        if at < ends_at {
            return Err(NominationError::NoticePeriodRunning(ends_at.to_rfc3339()));
        }
        Ok(vec![E::NoticeClosed {
            closed_by: actor.sub,
            closed_at: at,
        }])
    }
}

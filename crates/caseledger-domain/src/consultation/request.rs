//! The request's own course, outside the panel: the requesting department submits; the panel
//! secretary accepts or rejects; the requester reports adoption of every recommendation; the
//! request is closed after that report or cancelled before the conclusion.

use std::collections::BTreeSet;

use crate::actor::Role;
use crate::ids::UnitId;
use crate::portfolio::china_date;
use crate::text::LongText;

use super::command::{AdoptionItem, ConsultationCommand};
use super::error::ConsultationError;
use super::event::ConsultationEvent;
use super::types::{AdoptionOutcome, AdoptionRecord, ConsultationStatus};
use super::{ConsultationRequest, Issued, DEPARTMENT_STAFF, MAX_PANEL_SIZE, MIN_PANEL_SIZE};

impl ConsultationRequest {
    /// A department submits a request; `command` is the `Submit` that `decide` routes here (a
    /// request's first command, the only one taken before the stream exists).
    pub(super) fn submit(
        &self,
        issued: Issued,
        command: ConsultationCommand,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        let Issued { actor, at, name } = issued;
        let ConsultationCommand::Submit {
            consultation_id,
            topic_type,
            title,
            questions,
            materials_ref,
            confidentiality,
            disciplines,
            panel_size,
            deadline,
            parties,
        } = command
        else {
            unreachable!("decide routes only Submit here")
        };
        if !actor.has_any(DEPARTMENT_STAFF) {
            return Err(ConsultationError::RoleNotAllowed { command: name });
        }
        let requesting_unit = actor
            .org
            .as_deref()
            .and_then(|org| UnitId::parse(org).ok())
            .ok_or(ConsultationError::NoDepartment)?;
        if self.status != ConsultationStatus::New {
            return Err(ConsultationError::ConsultationAlreadyExists);
        }
        if !(MIN_PANEL_SIZE..=MAX_PANEL_SIZE).contains(&panel_size) {
            return Err(ConsultationError::PanelSizeOutOfRange);
        }
        if questions.is_empty() {
            return Err(ConsultationError::NoQuestions);
        }
        if disciplines.is_empty() {
            return Err(ConsultationError::NoDiscipline);
        }
        if deadline <= china_date(at) {
            return Err(ConsultationError::DeadlineNotInFuture);
        }
        Ok(vec![ConsultationEvent::ConsultationSubmitted {
            consultation_id,
            requesting_unit,
            topic_type,
            title: title.into(),
            questions: questions.into_iter().map(Into::into).collect(),
            materials_ref: materials_ref.map(Into::into),
            confidentiality,
            disciplines,
            panel_size,
            deadline,
            parties,
            submitted_by: actor.sub,
            submitted_at: at,
        }])
    }

    /// The panel secretary accepts a submitted request.
    pub(super) fn accept(
        &self,
        issued: Issued,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        use ConsultationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::check_secretary(&actor, name)?;
        if self.status != S::Submitted {
            return Err(self.invalid());
        }
        Ok(vec![ConsultationEvent::ConsultationAccepted {
            accepted_by: actor.sub,
            accepted_at: at,
        }])
    }

    /// The panel secretary rejects a submitted request with a reason.
    pub(super) fn reject(
        &self,
        issued: Issued,
        reason: LongText,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        use ConsultationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::check_secretary(&actor, name)?;
        if self.status != S::Submitted {
            return Err(self.invalid());
        }
        Ok(vec![ConsultationEvent::ConsultationRejected {
            reason: reason.into(),
            rejected_by: actor.sub,
            rejected_at: at,
        }])
    }

    /// The requesting department reports adoption of every recommendation exactly once.
    pub(super) fn report_adoption(
        &self,
        issued: Issued,
        items: Vec<AdoptionItem>,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        use ConsultationStatus as S;
        let Issued { actor, at, name } = issued;
        self.check_requester(&actor, name)?;
        if self.status != S::Concluded {
            return Err(self.invalid());
        }
        let count = self
            .conclusion
            .as_ref()
            .map_or(0, |conclusion| conclusion.recommendations.len() as u32);
        let numbers: BTreeSet<u32> = items.iter().map(|item| item.recommendation).collect();
        if items.len() != count as usize
            || numbers.len() != items.len()
            || numbers.iter().any(|n| !(1..=count).contains(n))
        {
            return Err(ConsultationError::AdoptionIncomplete { count });
        }
        let mut records: Vec<AdoptionRecord> = Vec::with_capacity(items.len());
        for item in items {
            if item.outcome == AdoptionOutcome::NotAdopted && item.reason.is_none() {
                return Err(ConsultationError::AdoptionReasonRequired(
                    item.recommendation,
                ));
            }
            records.push(AdoptionRecord {
                recommendation: item.recommendation,
                outcome: item.outcome,
                reason: item.reason.map(Into::into),
            });
        }
        records.sort_by_key(|record| record.recommendation);
        Ok(vec![ConsultationEvent::AdoptionReported {
            items: records,
            reported_by: actor.sub,
            reported_at: at,
        }])
    }

    /// Closes a request whose adoption is reported.
    pub(super) fn close(
        &self,
        issued: Issued,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        use ConsultationStatus as S;
        let Issued { actor, at, name } = issued;
        if !actor.has(Role::PanelSecretary) {
            self.check_requester(&actor, name)?;
        }
        match self.status {
            S::AdoptionReported => {}
            S::Concluded => return Err(ConsultationError::AdoptionNotReported),
            _ => return Err(self.invalid()),
        }
        Ok(vec![ConsultationEvent::ConsultationClosed {
            closed_by: actor.sub,
            closed_at: at,
        }])
    }

    /// Cancels a request before its conclusion.
    pub(super) fn cancel(
        &self,
        issued: Issued,
        reason: LongText,
    ) -> Result<Vec<ConsultationEvent>, ConsultationError> {
        let Issued { actor, at, name } = issued;
        if !actor.has(Role::PanelSecretary) {
            self.check_requester(&actor, name)?;
        }
        if self.is_concluded_or_ended() {
            return Err(self.invalid());
        }
        Ok(vec![ConsultationEvent::ConsultationCancelled {
            reason: reason.into(),
            cancelled_by: actor.sub,
            cancelled_at: at,
        }])
    }
}

//! The nomination's entry: submission with the program's terms recorded (the program must be
//! approved), and the reward office's eligibility decision with its checklist.

use crate::actor::Role;
use crate::text::LongText;

use super::command::NominationCommand;
use super::error::NominationError;
use super::event::NominationEvent;
use super::types::{ChecklistItem, NominationStatus};
use super::{Issued, RewardNomination};

impl RewardNomination {
    /// Submits a nomination with the program's terms recorded; `command` is the `Submit` that
    /// `decide` routes here (a nomination's first command, the only one taken before the stream
    /// exists).
    pub(super) fn submit(
        &self,
        issued: Issued,
        command: NominationCommand,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        let Issued { actor, at, name } = issued;
        let NominationCommand::Submit {
            nomination_id,
            program,
            nominee,
            summary,
            contributions,
            evidence,
            reason,
        } = command
        else {
            unreachable!("decide routes only Submit here")
        };
        Self::role(
            &actor,
            &[
                Role::RewardOffice,
                Role::DepartmentHead,
                Role::DepartmentHandler,
            ],
            name,
        )?;
        if self.nomination_id.is_some() {
            return Err(NominationError::NominationAlreadyExists);
        }
        let Some(approval_document) = program.approval_document else {
            return Err(NominationError::ProgramNotApproved);
        };
        Ok(vec![E::NominationSubmitted {
            nomination_id,
            program_id: program.program_id,
            program_approval_document: approval_document,
            terms: program.terms,
            nominee,
            summary: summary.as_str().to_owned(),
            contributions,
            evidence: evidence.iter().map(|e| e.as_str().to_owned()).collect(),
            reason: reason.as_str().to_owned(),
            submitted_by: actor.sub,
            submitted_at: at,
        }])
    }

    /// The reward office decides eligibility; the decision must agree with the checklist.
    pub(super) fn decide_eligibility(
        &self,
        issued: Issued,
        eligible: bool,
        checklist: Vec<ChecklistItem>,
        reason: LongText,
    ) -> Result<Vec<NominationEvent>, NominationError> {
        use NominationEvent as E;
        use NominationStatus as S;
        let Issued { actor, at, name } = issued;
        Self::role(&actor, &[Role::RewardOffice], name)?;
        self.require(&[S::Submitted], name)?;
        if checklist.is_empty() {
            return Err(NominationError::ChecklistEmpty);
        }
        let all_passed = checklist.iter().all(|item| item.passed);
        if eligible != all_passed {
            return Err(NominationError::ChecklistContradiction);
        }
        Ok(vec![E::EligibilityDecided {
            eligible,
            checklist,
            reason: reason.as_str().to_owned(),
            decided_by: actor.sub,
            decided_at: at,
        }])
    }
}

//! The `RewardProgram` stream: the reward office defines a program's terms, the approving
//! authority approves it under a document number. Only an approved program takes nominations
//! (the nomination records the approved terms when it is submitted).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::{ProgramTerms, MIN_NOTICE_WORKING_DAYS};
use crate::actor::{Authored, Role};
use crate::case::RefusalKind;
use crate::ids::{RewardProgramId, UserId};
use crate::text::{Label, LongText};

/// What can be asked of a program.
#[derive(Debug, Clone, PartialEq)]
// Commands and events are built once and applied once; boxing the terms would change nothing
// stored (serde is transparent to `Box`) but add noise to every match.
#[allow(clippy::large_enum_variant)]
pub enum ProgramCommand {
    /// Define a program (reward office).
    Create {
        /// The id the application chose.
        program_id: RewardProgramId,
        /// The terms.
        terms: ProgramTerms,
    },
    /// Approve it (approving authority) under an approval document number.
    Approve {
        /// The approval document (批准文号).
        document_number: Label,
    },
    /// Replace the committee roster (reward office), with a reason. The quorum stays; it must
    /// still be more than half of the new roster.
    ChangeCommittee {
        /// The new roster (user ids).
        members: BTreeSet<UserId>,
        /// Why.
        reason: LongText,
    },
}

impl ProgramCommand {
    /// The command's name in paths and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            ProgramCommand::Create { .. } => "create",
            ProgramCommand::Approve { .. } => "approve",
            ProgramCommand::ChangeCommittee { .. } => "change-committee",
        }
    }
}

/// What happened to a program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
// Commands and events are built once and applied once; boxing the terms would change nothing
// stored (serde is transparent to `Box`) but add noise to every match.
#[allow(clippy::large_enum_variant)]
pub enum ProgramEvent {
    /// The program was defined.
    ProgramCreated {
        /// The program.
        program_id: RewardProgramId,
        /// Its terms.
        terms: ProgramTerms,
        /// Who.
        created_by: UserId,
        /// When.
        created_at: DateTime<Utc>,
    },
    /// The program was approved.
    ProgramApproved {
        /// The approval document number.
        document_number: String,
        /// Who.
        approved_by: UserId,
        /// When.
        approved_at: DateTime<Utc>,
    },
    /// The committee roster was replaced.
    CommitteeChanged {
        /// The new roster.
        members: BTreeSet<UserId>,
        /// Why.
        reason: String,
        /// Who.
        changed_by: UserId,
        /// When.
        changed_at: DateTime<Utc>,
    },
}

impl DomainEvent for ProgramEvent {
    fn event_type(&self) -> String {
        match self {
            ProgramEvent::ProgramCreated { .. } => "ProgramCreated",
            ProgramEvent::ProgramApproved { .. } => "ProgramApproved",
            ProgramEvent::CommitteeChanged { .. } => "CommitteeChanged",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a program command was refused. Codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    /// No such program.
    #[error("reward program not found")]
    ProgramNotFound,
    /// The id is taken.
    #[error("reward program already exists")]
    ProgramAlreadyExists,
    /// The role does not allow the command.
    #[error("role not allowed to {command} a reward program")]
    RoleNotAllowed {
        /// The command.
        command: &'static str,
    },
    /// The notice period is shorter than five working days.
    #[error("the public notice must last at least {MIN_NOTICE_WORKING_DAYS} working days")]
    NoticePeriodTooShort,
    /// The terms do not hold together.
    #[error("invalid program terms: {0}")]
    InvalidTerms(String),
    /// Approved already.
    #[error("the program is approved already")]
    AlreadyApproved,
}

impl ProgramError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProgramError::ProgramNotFound => "program_not_found",
            ProgramError::ProgramAlreadyExists => "program_already_exists",
            ProgramError::RoleNotAllowed { .. } => "role_not_allowed",
            ProgramError::NoticePeriodTooShort => "notice_period_too_short",
            ProgramError::InvalidTerms(_) => "invalid_program_terms",
            ProgramError::AlreadyApproved => "program_already_approved",
        }
    }

    /// How to understand it.
    pub fn kind(&self) -> RefusalKind {
        match self {
            ProgramError::ProgramNotFound => RefusalKind::NotFound,
            ProgramError::ProgramAlreadyExists | ProgramError::AlreadyApproved => {
                RefusalKind::Conflict
            }
            ProgramError::RoleNotAllowed { .. } => RefusalKind::Forbidden,
            _ => RefusalKind::Rule,
        }
    }
}

/// A program's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RewardProgram {
    /// The program.
    pub program_id: Option<RewardProgramId>,
    /// Its terms.
    pub terms: Option<ProgramTerms>,
    /// The approval document number, once approved.
    pub approval_document: Option<String>,
    /// Who approved it.
    pub approved_by: Option<UserId>,
    /// When.
    pub approved_at: Option<DateTime<Utc>>,
    /// Who created it.
    pub created_by: Option<UserId>,
    /// When.
    pub created_at: Option<DateTime<Utc>>,
}

impl RewardProgram {
    /// Whether the program is approved.
    pub fn approved(&self) -> bool {
        self.approval_document.is_some()
    }

    /// Decides a command.
    pub fn decide(
        &self,
        command: Authored<ProgramCommand>,
    ) -> Result<Vec<ProgramEvent>, ProgramError> {
        let Authored { actor, at, command } = command;
        let name = command.name();
        match command {
            ProgramCommand::Create { program_id, terms } => {
                if !actor.has(Role::RewardOffice) {
                    return Err(ProgramError::RoleNotAllowed { command: name });
                }
                if self.program_id.is_some() {
                    return Err(ProgramError::ProgramAlreadyExists);
                }
                if terms.notice_working_days < MIN_NOTICE_WORKING_DAYS {
                    return Err(ProgramError::NoticePeriodTooShort);
                }
                if let Some(problem) = terms.problem() {
                    return Err(ProgramError::InvalidTerms(problem));
                }
                Ok(vec![ProgramEvent::ProgramCreated {
                    program_id,
                    terms,
                    created_by: actor.sub,
                    created_at: at,
                }])
            }
            ProgramCommand::Approve { document_number } => {
                if !actor.has(Role::ApprovingAuthority) {
                    return Err(ProgramError::RoleNotAllowed { command: name });
                }
                if self.program_id.is_none() {
                    return Err(ProgramError::ProgramNotFound);
                }
                if self.approved() {
                    return Err(ProgramError::AlreadyApproved);
                }
                Ok(vec![ProgramEvent::ProgramApproved {
                    document_number: document_number.as_str().to_owned(),
                    approved_by: actor.sub,
                    approved_at: at,
                }])
            }
            ProgramCommand::ChangeCommittee { members, reason } => {
                if !actor.has(Role::RewardOffice) {
                    return Err(ProgramError::RoleNotAllowed { command: name });
                }
                let Some(terms) = &self.terms else {
                    return Err(ProgramError::ProgramNotFound);
                };
                let mut changed = terms.clone();
                changed.committee_size = members.len() as u32;
                changed.committee = members.clone();
                if let Some(problem) = changed.problem() {
                    return Err(ProgramError::InvalidTerms(problem));
                }
                Ok(vec![ProgramEvent::CommitteeChanged {
                    members,
                    reason: reason.into(),
                    changed_by: actor.sub,
                    changed_at: at,
                }])
            }
        }
    }

    /// Applies a recorded event.
    pub fn evolve(&mut self, event: &ProgramEvent) {
        match event {
            ProgramEvent::ProgramCreated {
                program_id,
                terms,
                created_by,
                created_at,
            } => {
                self.program_id = Some(*program_id);
                self.terms = Some(terms.clone());
                self.created_by = Some(created_by.clone());
                self.created_at = Some(*created_at);
            }
            ProgramEvent::ProgramApproved {
                document_number,
                approved_by,
                approved_at,
            } => {
                self.approval_document = Some(document_number.clone());
                self.approved_by = Some(approved_by.clone());
                self.approved_at = Some(*approved_at);
            }
            ProgramEvent::CommitteeChanged { members, .. } => {
                if let Some(terms) = &mut self.terms {
                    terms.committee_size = members.len() as u32;
                    terms.committee = members.clone();
                }
            }
        }
    }
}

impl Aggregate for RewardProgram {
    const TYPE: &'static str = "RewardProgram";
    type Command = Authored<ProgramCommand>;
    type Event = ProgramEvent;
    type Error = ProgramError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ProgramError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ProgramEvent) {
        self.evolve(&event);
    }
}

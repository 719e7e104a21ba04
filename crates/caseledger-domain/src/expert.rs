//! The `Expert` stream: one member of the expert advisory pool (优秀专家顾问团). The pool is the
//! set of all `Expert` streams; each records the expert's disciplines, employer unit, the
//! requesting units that unit is subordinate to, and the conflicts the expert declared.
//!
//! Only the panel secretary keeps the pool (add, update, suspend, reinstate, remove). The stream
//! id is the expert's user id ([`ExpertId`]), the `sub` of their `expert` token.
//!
//! [`PoolEntry::of`] turns an expert's state into the entry of a pool snapshot: what the panel
//! draw ([`crate::consultation::draw`]) reads. The snapshot leaves out names and anything else
//! the draw does not use.
//!
//! `decide` holds every rule; `evolve` only applies a recorded event. Events are a stored
//! contract: fields are added with `#[serde(default)]` and variants are added, never renamed or
//! removed.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::{Authored, Role};
use crate::case::RefusalKind;
use crate::consultation::draw::PoolEntry;
use crate::ids::{Discipline, ExpertId, UnitId, UserId};
use crate::subject::PersonName;
use crate::text::LongText;

/// The facts of an expert the panel secretary records (all of them, on add and on update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpertProfile {
    /// The expert's name.
    pub name: String,
    /// Disciplines, at least one.
    pub disciplines: BTreeSet<Discipline>,
    /// The unit the expert works for.
    pub employer_unit: UnitId,
    /// The requesting units (departments) the employer unit is subordinate to (e.g. a
    /// state-owned platform under the commerce bureau). The employer unit itself always counts.
    #[serde(default)]
    pub subordinate_to: BTreeSet<UnitId>,
    /// Units the expert declared a conflict of interest with (employers of relatives, firms they
    /// hold shares in, former employers within the cooling-off period).
    #[serde(default)]
    pub conflicts: BTreeSet<UnitId>,
}

/// Where an expert stands in the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum ExpertStatus {
    /// Not added yet.
    #[default]
    Unknown,
    /// In the pool and drawable.
    Active,
    /// Temporarily not drawable.
    Suspended,
    /// Out of the pool for good.
    Removed,
}

impl ExpertStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What can be asked of an expert's record.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpertCommand {
    /// Add the expert to the pool. The stream id must be `expert_id`.
    Add {
        /// The expert's user id.
        expert_id: ExpertId,
        /// The expert's name.
        name: PersonName,
        /// Disciplines, at least one.
        disciplines: BTreeSet<Discipline>,
        /// The employer unit.
        employer_unit: UnitId,
        /// Requesting units the employer is subordinate to.
        subordinate_to: BTreeSet<UnitId>,
        /// Declared conflicts.
        conflicts: BTreeSet<UnitId>,
    },
    /// Replace the profile (every field; absent lists become empty).
    Update {
        /// The expert's name.
        name: PersonName,
        /// Disciplines.
        disciplines: BTreeSet<Discipline>,
        /// The employer unit.
        employer_unit: UnitId,
        /// Requesting units the employer is subordinate to.
        subordinate_to: BTreeSet<UnitId>,
        /// Declared conflicts.
        conflicts: BTreeSet<UnitId>,
    },
    /// Take the expert out of future draws for now.
    Suspend {
        /// Why.
        reason: LongText,
    },
    /// Make a suspended expert drawable again.
    Reinstate,
    /// Remove the expert from the pool for good (the record stays in the log).
    Remove {
        /// Why.
        reason: LongText,
    },
}

impl ExpertCommand {
    /// The command's kebab-case name, as used in URLs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            ExpertCommand::Add { .. } => "add-expert",
            ExpertCommand::Update { .. } => "update",
            ExpertCommand::Suspend { .. } => "suspend",
            ExpertCommand::Reinstate => "reinstate",
            ExpertCommand::Remove { .. } => "remove",
        }
    }
}

/// What happened to an expert's record. A stored contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum ExpertEvent {
    /// The expert joined the pool.
    ExpertAdded {
        /// The expert.
        expert_id: ExpertId,
        /// The profile.
        profile: ExpertProfile,
        /// Who added them.
        added_by: UserId,
        /// When.
        added_at: DateTime<Utc>,
    },
    /// The profile was replaced.
    ExpertUpdated {
        /// The new profile.
        profile: ExpertProfile,
        /// Who.
        updated_by: UserId,
        /// When.
        updated_at: DateTime<Utc>,
    },
    /// The expert was suspended.
    ExpertSuspended {
        /// Why.
        reason: String,
        /// Who.
        suspended_by: UserId,
        /// When.
        suspended_at: DateTime<Utc>,
    },
    /// The expert was reinstated.
    ExpertReinstated {
        /// Who.
        reinstated_by: UserId,
        /// When.
        reinstated_at: DateTime<Utc>,
    },
    /// The expert left the pool.
    ExpertRemoved {
        /// Why.
        reason: String,
        /// Who.
        removed_by: UserId,
        /// When.
        removed_at: DateTime<Utc>,
    },
}

impl ExpertEvent {
    /// The variant name, stored as the event type.
    pub fn name(&self) -> &'static str {
        match self {
            ExpertEvent::ExpertAdded { .. } => "ExpertAdded",
            ExpertEvent::ExpertUpdated { .. } => "ExpertUpdated",
            ExpertEvent::ExpertSuspended { .. } => "ExpertSuspended",
            ExpertEvent::ExpertReinstated { .. } => "ExpertReinstated",
            ExpertEvent::ExpertRemoved { .. } => "ExpertRemoved",
        }
    }

    /// When the event happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            ExpertEvent::ExpertAdded { added_at: at, .. }
            | ExpertEvent::ExpertUpdated { updated_at: at, .. }
            | ExpertEvent::ExpertSuspended {
                suspended_at: at, ..
            }
            | ExpertEvent::ExpertReinstated {
                reinstated_at: at, ..
            }
            | ExpertEvent::ExpertRemoved { removed_at: at, .. } => *at,
        }
    }
}

impl DomainEvent for ExpertEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why an expert command was refused. Each variant has a stable `code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpertError {
    /// No such expert.
    #[error("expert not found")]
    ExpertNotFound,
    /// The expert is in the pool already.
    #[error("expert already in the pool")]
    ExpertAlreadyExists,
    /// Only the panel secretary keeps the pool.
    #[error("role not allowed to {command}")]
    RoleNotAllowed {
        /// The command's name.
        command: &'static str,
    },
    /// An expert needs at least one discipline.
    #[error("an expert needs at least one discipline")]
    NoDiscipline,
    /// The expert is not active.
    #[error("the expert is not active")]
    NotActive,
    /// The expert is not suspended.
    #[error("the expert is not suspended")]
    NotSuspended,
    /// The expert was removed from the pool.
    #[error("the expert was removed from the pool")]
    Removed,
}

impl ExpertError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ExpertError::ExpertNotFound => "expert_not_found",
            ExpertError::ExpertAlreadyExists => "expert_already_exists",
            ExpertError::RoleNotAllowed { .. } => "role_not_allowed",
            ExpertError::NoDiscipline => "no_discipline",
            ExpertError::NotActive => "expert_not_active",
            ExpertError::NotSuspended => "expert_not_suspended",
            ExpertError::Removed => "expert_removed",
        }
    }

    /// How the refusal should be understood.
    pub fn kind(&self) -> RefusalKind {
        match self {
            ExpertError::ExpertNotFound => RefusalKind::NotFound,
            ExpertError::ExpertAlreadyExists => RefusalKind::Conflict,
            ExpertError::RoleNotAllowed { .. } => RefusalKind::Forbidden,
            _ => RefusalKind::Rule,
        }
    }
}

/// The state of one expert's record, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Expert {
    /// The expert; `None` before the add.
    pub expert_id: Option<ExpertId>,
    /// The current profile.
    pub profile: Option<ExpertProfile>,
    /// Where the expert stands.
    pub status: ExpertStatus,
    /// How many events the stream holds (the version a pool snapshot records).
    pub version: u64,
}

impl Expert {
    /// Decides which events `command` records, or why it is refused. Pure.
    pub fn decide(
        &self,
        command: Authored<ExpertCommand>,
    ) -> Result<Vec<ExpertEvent>, ExpertError> {
        let Authored { actor, at, command } = command;
        if !actor.has(Role::PanelSecretary) {
            return Err(ExpertError::RoleNotAllowed {
                command: command.name(),
            });
        }
        let profile = |name: PersonName,
                       disciplines: BTreeSet<Discipline>,
                       employer_unit: UnitId,
                       subordinate_to: BTreeSet<UnitId>,
                       conflicts: BTreeSet<UnitId>| {
            if disciplines.is_empty() {
                return Err(ExpertError::NoDiscipline);
            }
            Ok(ExpertProfile {
                name: name.into(),
                disciplines,
                employer_unit,
                subordinate_to,
                conflicts,
            })
        };
        if let ExpertCommand::Add {
            expert_id,
            name,
            disciplines,
            employer_unit,
            subordinate_to,
            conflicts,
        } = command
        {
            if self.status != ExpertStatus::Unknown {
                return Err(ExpertError::ExpertAlreadyExists);
            }
            return Ok(vec![ExpertEvent::ExpertAdded {
                expert_id,
                profile: profile(name, disciplines, employer_unit, subordinate_to, conflicts)?,
                added_by: actor.sub,
                added_at: at,
            }]);
        }
        match self.status {
            ExpertStatus::Unknown => return Err(ExpertError::ExpertNotFound),
            ExpertStatus::Removed => return Err(ExpertError::Removed),
            ExpertStatus::Active | ExpertStatus::Suspended => {}
        }
        match command {
            ExpertCommand::Add { .. } => unreachable!("handled above"),
            ExpertCommand::Update {
                name,
                disciplines,
                employer_unit,
                subordinate_to,
                conflicts,
            } => Ok(vec![ExpertEvent::ExpertUpdated {
                profile: profile(name, disciplines, employer_unit, subordinate_to, conflicts)?,
                updated_by: actor.sub,
                updated_at: at,
            }]),
            ExpertCommand::Suspend { reason } => {
                if self.status != ExpertStatus::Active {
                    return Err(ExpertError::NotActive);
                }
                Ok(vec![ExpertEvent::ExpertSuspended {
                    reason: reason.into(),
                    suspended_by: actor.sub,
                    suspended_at: at,
                }])
            }
            ExpertCommand::Reinstate => {
                if self.status != ExpertStatus::Suspended {
                    return Err(ExpertError::NotSuspended);
                }
                Ok(vec![ExpertEvent::ExpertReinstated {
                    reinstated_by: actor.sub,
                    reinstated_at: at,
                }])
            }
            ExpertCommand::Remove { reason } => Ok(vec![ExpertEvent::ExpertRemoved {
                reason: reason.into(),
                removed_by: actor.sub,
                removed_at: at,
            }]),
        }
    }

    /// Evolves the state by one recorded event. Never fails.
    pub fn evolve(&mut self, event: &ExpertEvent) {
        self.version += 1;
        match event {
            ExpertEvent::ExpertAdded {
                expert_id, profile, ..
            } => {
                self.expert_id = Some(expert_id.clone());
                self.profile = Some(profile.clone());
                self.status = ExpertStatus::Active;
            }
            ExpertEvent::ExpertUpdated { profile, .. } => self.profile = Some(profile.clone()),
            ExpertEvent::ExpertSuspended { .. } => self.status = ExpertStatus::Suspended,
            ExpertEvent::ExpertReinstated { .. } => self.status = ExpertStatus::Active,
            ExpertEvent::ExpertRemoved { .. } => self.status = ExpertStatus::Removed,
        }
    }
}

impl PoolEntry {
    /// The snapshot entry of an expert who is active in the pool; `None` for anyone else
    /// (suspended and removed experts are not in the snapshot).
    pub fn of(expert: &Expert) -> Option<PoolEntry> {
        let (Some(expert_id), Some(profile)) = (&expert.expert_id, &expert.profile) else {
            return None;
        };
        (expert.status == ExpertStatus::Active).then(|| PoolEntry {
            conflicts: profile.conflicts.clone(),
            disciplines: profile.disciplines.clone(),
            employer_unit: profile.employer_unit.clone(),
            expert_id: expert_id.clone(),
            subordinate_to: profile.subordinate_to.clone(),
            version: expert.version,
        })
    }
}

impl Aggregate for Expert {
    const TYPE: &'static str = "Expert";
    type Command = Authored<ExpertCommand>;
    type Event = ExpertEvent;
    type Error = ExpertError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ExpertError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ExpertEvent) {
        self.evolve(&event);
    }
}

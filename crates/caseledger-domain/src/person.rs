//! The `Person` stream: one entry of the people directory (人员名录), kept by an administrator.
//! A person is a signed-in user (`sub`, the subject of their tokens) with a name, the roles and
//! organisation they work in, and a contact record (e-mail, mobile) that notifications use.
//! One stream per `sub`; every change is an event, so who changed whose entry, when and why is
//! in the tamper-evident log.
//!
//! The directory never grants anything: access still comes from the token's roles and `org`.
//! It says how to reach people (issue 17: notifications resolve recipients here).
//! The contact record is personal data: it lives under the `contact` key of the events, which
//! the feed strips for callers who may not read it (`streams::PERSONAL_FIELDS`).

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::{Authored, Role};
use crate::case::RefusalKind;
use crate::ids::UserId;
use crate::subject::{Email, PersonName, Phone};
use crate::text::BoundedText;

/// An organisation a person works in: a department id, a subject id, or another unit's name
/// (1 to 100 characters).
pub type Organisation = BoundedText<100>;

/// How to reach a person. Personal data: never on a public surface, and every read by staff is
/// access-logged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonContact {
    /// E-mail address (notifications by e-mail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// Mobile number (notifications by SMS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<Phone>,
}

/// A person's directory entry as an administrator writes it (every field, each time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonEntry {
    /// The name.
    pub name: PersonName,
    /// The roles the person works in (as their tokens carry them).
    pub roles: Vec<Role>,
    /// The organisation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<Organisation>,
    /// How to reach them.
    pub contact: PersonContact,
}

/// What can be done to a directory entry (administrators only).
#[derive(Debug, Clone, PartialEq)]
pub enum PersonCommand {
    /// Enter a person in the directory.
    Register {
        /// Whose entry.
        sub: UserId,
        /// The entry.
        entry: PersonEntry,
    },
    /// Replace the entry of a listed person (and make them active again if they were not).
    Update {
        /// The entry.
        entry: PersonEntry,
    },
    /// Take a person off the active directory: they receive nothing any more.
    Deactivate {
        /// Why (kept in the log).
        reason: BoundedText<2000>,
    },
}

impl PersonCommand {
    /// The command's name (metrics, idempotency fingerprints).
    pub fn name(&self) -> &'static str {
        match self {
            PersonCommand::Register { .. } => "register_person",
            PersonCommand::Update { .. } => "update_person",
            PersonCommand::Deactivate { .. } => "deactivate_person",
        }
    }
}

/// What the stream records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum PersonEvent {
    /// A person was entered in the directory.
    PersonRegistered {
        /// Whose entry.
        sub: UserId,
        /// The entry.
        #[serde(flatten)]
        entry: PersonEntry,
        /// The administrator.
        by: UserId,
        /// When.
        at: DateTime<Utc>,
    },
    /// A person's entry was replaced.
    PersonUpdated {
        /// The new entry.
        #[serde(flatten)]
        entry: PersonEntry,
        /// The administrator.
        by: UserId,
        /// When.
        at: DateTime<Utc>,
    },
    /// A person was taken off the active directory.
    PersonDeactivated {
        /// Why.
        reason: BoundedText<2000>,
        /// The administrator.
        by: UserId,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for PersonEvent {
    fn event_type(&self) -> String {
        let name = match self {
            PersonEvent::PersonRegistered { .. } => "PersonRegistered",
            PersonEvent::PersonUpdated { .. } => "PersonUpdated",
            PersonEvent::PersonDeactivated { .. } => "PersonDeactivated",
        };
        name.to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a directory command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonError {
    /// Only an administrator keeps the directory.
    #[error("only an admin keeps the people directory")]
    NotAdmin,
    /// The person is already listed.
    #[error("this person is already in the directory; update the entry instead")]
    AlreadyListed,
    /// The person is not listed.
    #[error("this person is not in the directory")]
    NotListed,
    /// The person is already inactive.
    #[error("this person is already deactivated")]
    AlreadyInactive,
    /// An entry without roles.
    #[error("a person needs at least one role")]
    NoRoles,
}

impl PersonError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PersonError::NotAdmin => "role_not_allowed",
            PersonError::AlreadyListed => "person_already_listed",
            PersonError::NotListed => "person_not_found",
            PersonError::AlreadyInactive => "person_inactive",
            PersonError::NoRoles => "person_without_roles",
        }
    }

    /// How the refusal is to be understood.
    pub fn kind(&self) -> RefusalKind {
        match self {
            PersonError::NotAdmin => RefusalKind::Forbidden,
            PersonError::NotListed => RefusalKind::NotFound,
            PersonError::NoRoles => RefusalKind::Rule,
            PersonError::AlreadyListed | PersonError::AlreadyInactive => RefusalKind::Conflict,
        }
    }
}

/// One directory entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// Whose entry (set when registered).
    pub sub: Option<UserId>,
    /// The current entry.
    pub entry: Option<PersonEntry>,
    /// Whether the person receives notifications.
    pub active: bool,
}

impl Person {
    /// Decides a command.
    pub fn decide(
        &self,
        command: Authored<PersonCommand>,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        let Authored { actor, at, command } = command;
        if !actor.has(Role::Admin) {
            return Err(PersonError::NotAdmin);
        }
        let by = actor.sub;
        match command {
            PersonCommand::Register { sub, entry } => {
                if self.sub.is_some() {
                    return Err(PersonError::AlreadyListed);
                }
                let entry = checked(entry)?;
                Ok(vec![PersonEvent::PersonRegistered { sub, entry, by, at }])
            }
            PersonCommand::Update { entry } => {
                if self.sub.is_none() {
                    return Err(PersonError::NotListed);
                }
                let entry = checked(entry)?;
                Ok(vec![PersonEvent::PersonUpdated { entry, by, at }])
            }
            PersonCommand::Deactivate { reason } => {
                if self.sub.is_none() {
                    return Err(PersonError::NotListed);
                }
                if !self.active {
                    return Err(PersonError::AlreadyInactive);
                }
                Ok(vec![PersonEvent::PersonDeactivated { reason, by, at }])
            }
        }
    }

    /// Applies a recorded event.
    pub fn evolve(&mut self, event: &PersonEvent) {
        match event {
            PersonEvent::PersonRegistered { sub, entry, .. } => {
                self.sub = Some(sub.clone());
                self.entry = Some(entry.clone());
                self.active = true;
            }
            PersonEvent::PersonUpdated { entry, .. } => {
                self.entry = Some(entry.clone());
                self.active = true;
            }
            PersonEvent::PersonDeactivated { .. } => self.active = false,
        }
    }
}

/// The entry with its roles sorted and deduplicated; at least one.
fn checked(mut entry: PersonEntry) -> Result<PersonEntry, PersonError> {
    entry.roles.sort();
    entry.roles.dedup();
    if entry.roles.is_empty() {
        return Err(PersonError::NoRoles);
    }
    Ok(entry)
}

impl Aggregate for Person {
    const TYPE: &'static str = "Person";
    type Command = Authored<PersonCommand>;
    type Event = PersonEvent;
    type Error = PersonError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), PersonError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: PersonEvent) {
        self.evolve(&event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Actor;

    fn by(role: Role, command: PersonCommand) -> Authored<PersonCommand> {
        Authored {
            actor: Actor {
                sub: UserId::parse("root-admin").unwrap(),
                roles: vec![role],
                org: None,
            },
            at: DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
                .unwrap()
                .to_utc(),
            command,
        }
    }

    fn entry(roles: Vec<Role>) -> PersonEntry {
        PersonEntry {
            name: PersonName::parse("王芳").unwrap(),
            roles,
            organisation: Some(Organisation::parse("dept-commerce").unwrap()),
            contact: PersonContact {
                email: Some(Email::parse("wang.fang@commerce.example.gov.cn").unwrap()),
                mobile: Some(Phone::parse("13800138000").unwrap()),
            },
        }
    }

    fn run(state: &mut Person, command: Authored<PersonCommand>) -> Result<(), PersonError> {
        for event in state.decide(command)? {
            state.evolve(&event);
        }
        Ok(())
    }

    #[test]
    fn an_admin_keeps_an_entry_through_its_life() {
        let mut person = Person::default();
        let register = PersonCommand::Register {
            sub: UserId::parse("handler-7").unwrap(),
            entry: entry(vec![
                Role::DepartmentHead,
                Role::DepartmentHandler,
                Role::DepartmentHead,
            ]),
        };
        assert_eq!(
            person.decide(by(Role::Auditor, register.clone())),
            Err(PersonError::NotAdmin)
        );
        run(&mut person, by(Role::Admin, register.clone())).unwrap();
        assert!(person.active);
        assert_eq!(
            person.entry.as_ref().unwrap().roles,
            [Role::DepartmentHandler, Role::DepartmentHead],
            "sorted and deduplicated"
        );
        assert_eq!(
            run(&mut person, by(Role::Admin, register)),
            Err(PersonError::AlreadyListed)
        );
        let deactivate = PersonCommand::Deactivate {
            reason: BoundedText::parse("transferred").unwrap(),
        };
        run(&mut person, by(Role::Admin, deactivate.clone())).unwrap();
        assert!(!person.active);
        assert_eq!(
            run(&mut person, by(Role::Admin, deactivate)),
            Err(PersonError::AlreadyInactive)
        );
        run(
            &mut person,
            by(
                Role::Admin,
                PersonCommand::Update {
                    entry: entry(vec![Role::Dispatcher]),
                },
            ),
        )
        .unwrap();
        assert!(person.active, "an update makes the entry active again");
        assert_eq!(
            run(
                &mut person,
                by(
                    Role::Admin,
                    PersonCommand::Update {
                        entry: entry(Vec::new())
                    }
                )
            ),
            Err(PersonError::NoRoles)
        );
    }

    #[test]
    fn an_unlisted_person_cannot_be_changed() {
        let person = Person::default();
        assert_eq!(
            person.decide(by(
                Role::Admin,
                PersonCommand::Update {
                    entry: entry(vec![Role::Expert])
                }
            )),
            Err(PersonError::NotListed)
        );
    }

    #[test]
    fn the_contact_sits_under_a_personal_key() {
        let event = PersonEvent::PersonRegistered {
            sub: UserId::parse("handler-7").unwrap(),
            entry: entry(vec![Role::DepartmentHandler]),
            by: UserId::parse("root-admin").unwrap(),
            at: DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
                .unwrap()
                .to_utc(),
        };
        let mut payload = serde_json::to_value(&event).unwrap();
        assert!(crate::streams::strip_personal_fields(&mut payload));
        let text = payload.to_string();
        assert!(
            !text.contains("13800138000") && !text.contains("wang.fang"),
            "{text}"
        );
        assert!(text.contains("王芳"), "the name stays: {text}");
    }
}

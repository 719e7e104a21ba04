//! The `Subject` stream: an enterprise, institute, university or top talent that the district
//! liaises with (联系厂院, 联系民营企业, 联系人才) and that raises cases. Its id is the
//! [`SubjectId`] that cases store as `enterprise_id` and that an `enterprise` token carries in
//! `org`.
//!
//! Public: id, name, kind, industry, district area and street. Private (DOMAIN.md "Public and
//! private"): the contact person, phone, email and, for a talent, the person's details. The
//! domain records both; who may read which is decided by the HTTP layer.
//!
//! `decide` holds every rule; `evolve` only applies a recorded event. Events are a stored
//! contract: fields are added with `#[serde(default)]` and variants are added, never renamed or
//! removed.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Authored, Role};
use crate::case::RefusalKind;
use crate::ids::{SubjectId, UserId};
use crate::text::{BoundedText, Label, LongText, Title};

/// What kind of subject this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum SubjectKind {
    /// A private enterprise (民营企业).
    PrivateEnterprise,
    /// A large enterprise (大企业).
    LargeEnterprise,
    /// A state-owned enterprise (国有企业).
    StateOwnedEnterprise,
    /// A research institute (科研院所).
    Institute,
    /// A university (高校).
    University,
    /// A top talent (高层次人才), a person.
    Talent,
}

impl SubjectKind {
    /// Every kind, in documentation order.
    pub const ALL: [SubjectKind; 6] = [
        SubjectKind::PrivateEnterprise,
        SubjectKind::LargeEnterprise,
        SubjectKind::StateOwnedEnterprise,
        SubjectKind::Institute,
        SubjectKind::University,
        SubjectKind::Talent,
    ];

    /// The kind's wire name (`state_owned_enterprise`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A person's name: 1 to 100 characters.
pub type PersonName = BoundedText<100>;

/// A telephone number: 3 to 32 characters of digits, spaces, `+`, `-` and parentheses, with at
/// least 3 digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

/// Why contact data was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    /// Not a telephone number.
    #[error("must be 3 to 32 characters of digits, spaces, '+', '-' or parentheses")]
    BadPhone,
    /// Not an email address.
    #[error("must be an email address of at most 254 characters")]
    BadEmail,
}

impl Phone {
    /// Trims and checks a telephone number.
    pub fn parse(text: &str) -> Result<Self, ContactError> {
        let text = text.trim();
        let digits = text.chars().filter(char::is_ascii_digit).count();
        let allowed = text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
        if allowed && digits >= 3 && text.chars().count() <= 32 {
            Ok(Self(text.to_owned()))
        } else {
            Err(ContactError::BadPhone)
        }
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = ContactError;
    fn try_from(text: String) -> Result<Self, ContactError> {
        Self::parse(&text)
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> String {
        phone.0
    }
}

/// An email address: one `@` with text on both sides, a dot in the domain, no white space, at
/// most 254 characters. (Deliverability is not the domain's concern.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Trims and checks an email address.
    pub fn parse(text: &str) -> Result<Self, ContactError> {
        let text = text.trim();
        let valid = text.chars().count() <= 254
            && !text.chars().any(char::is_whitespace)
            && match text.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(ContactError::BadEmail)
        }
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = ContactError;
    fn try_from(text: String) -> Result<Self, ContactError> {
        Self::parse(&text)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}

/// The private contact data of a subject, already validated. Every field is optional: an
/// empty contact is allowed (the data may be collected at the first visit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// The contact person (for a talent, usually the talent).
    pub person: Option<PersonName>,
    /// Telephone.
    pub phone: Option<Phone>,
    /// Email.
    pub email: Option<Email>,
    /// For a talent: the person's details (field, employer, title…). Private.
    pub personal_details: Option<LongText>,
}

/// Contact data as recorded in events. Private: see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRecord {
    /// The contact person.
    pub person: Option<String>,
    /// Telephone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// For a talent: the person's details.
    #[serde(default)]
    pub personal_details: Option<String>,
}

impl From<Contact> for ContactRecord {
    fn from(contact: Contact) -> Self {
        Self {
            person: contact.person.map(Into::into),
            phone: contact.phone.map(Into::into),
            email: contact.email.map(Into::into),
            personal_details: contact.personal_details.map(Into::into),
        }
    }
}

/// What can be asked of a subject.
#[derive(Debug, Clone, PartialEq)]
pub enum SubjectCommand {
    /// Register a new subject.
    Register {
        /// The id chosen by the registrar (a lowercase slug, e.g. `ent-0042`).
        subject_id: SubjectId,
        /// The subject's name (an enterprise's registered name, a talent's name).
        name: Title,
        /// What kind of subject.
        kind: SubjectKind,
        /// An industry label, e.g. `biomedicine`.
        industry: Option<Label>,
        /// The district area (片区 / 街道办) it belongs to.
        district_area: Option<Label>,
        /// The street.
        street: Option<Label>,
        /// Private contact data.
        contact: Contact,
    },
    /// Replace the contact data (all fields at once).
    UpdateContact {
        /// The new contact data.
        contact: Contact,
    },
    /// Change the subject's name (a renamed enterprise).
    Rename {
        /// The new name.
        name: Title,
    },
}

impl SubjectCommand {
    /// The command's kebab-case name, as used in URLs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            SubjectCommand::Register { .. } => "register-subject",
            SubjectCommand::UpdateContact { .. } => "update-contact",
            SubjectCommand::Rename { .. } => "rename",
        }
    }
}

/// What happened to a subject. A stored contract: see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum SubjectEvent {
    /// The subject was registered.
    SubjectRegistered {
        /// The subject id.
        subject_id: SubjectId,
        /// Its name.
        name: String,
        /// Its kind.
        kind: SubjectKind,
        /// Industry label.
        industry: Option<String>,
        /// District area.
        district_area: Option<String>,
        /// Street.
        street: Option<String>,
        /// Private contact data.
        contact: ContactRecord,
        /// Who registered it.
        registered_by: UserId,
        /// When.
        registered_at: DateTime<Utc>,
    },
    /// The contact data was replaced.
    SubjectContactUpdated {
        /// The new contact data.
        contact: ContactRecord,
        /// Who changed it.
        updated_by: UserId,
        /// When.
        updated_at: DateTime<Utc>,
    },
    /// The subject was renamed.
    SubjectRenamed {
        /// The new name.
        name: String,
        /// Who renamed it.
        renamed_by: UserId,
        /// When.
        renamed_at: DateTime<Utc>,
    },
}

impl SubjectEvent {
    /// The variant name, stored as the event type.
    pub fn name(&self) -> &'static str {
        match self {
            SubjectEvent::SubjectRegistered { .. } => "SubjectRegistered",
            SubjectEvent::SubjectContactUpdated { .. } => "SubjectContactUpdated",
            SubjectEvent::SubjectRenamed { .. } => "SubjectRenamed",
        }
    }
}

impl DomainEvent for SubjectEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a subject command was refused. Each variant has a stable `code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// No such subject.
    #[error("subject not found")]
    SubjectNotFound,
    /// A subject with this id exists already.
    #[error("subject already exists")]
    SubjectAlreadyExists,
    /// The actor's role does not allow this command.
    #[error("role not allowed to {command}")]
    RoleNotAllowed {
        /// The command's name.
        command: &'static str,
    },
    /// An enterprise representative may change only its own subject's contact data.
    #[error("an enterprise may change only its own contact data")]
    NotOwnSubject,
    /// The new name is the current name.
    #[error("the subject already has this name")]
    NameUnchanged,
}

impl SubjectError {
    /// The stable machine-readable code, e.g. `subject_not_found`.
    pub fn code(&self) -> &'static str {
        match self {
            SubjectError::SubjectNotFound => "subject_not_found",
            SubjectError::SubjectAlreadyExists => "subject_already_exists",
            SubjectError::RoleNotAllowed { .. } => "role_not_allowed",
            SubjectError::NotOwnSubject => "not_own_subject",
            SubjectError::NameUnchanged => "name_unchanged",
        }
    }

    /// How the refusal should be understood.
    pub fn kind(&self) -> RefusalKind {
        match self {
            SubjectError::SubjectNotFound => RefusalKind::NotFound,
            SubjectError::SubjectAlreadyExists => RefusalKind::Conflict,
            SubjectError::RoleNotAllowed { .. } | SubjectError::NotOwnSubject => {
                RefusalKind::Forbidden
            }
            SubjectError::NameUnchanged => RefusalKind::Rule,
        }
    }
}

/// The state of one subject, rebuilt from its events. `id` is `None` before registration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The subject id; `None` until registered.
    pub id: Option<SubjectId>,
    /// The current name.
    pub name: String,
    /// The kind.
    pub kind: Option<SubjectKind>,
}

/// District staff who keep the register of subjects.
const REGISTRARS: &[Role] = &[Role::Dispatcher, Role::LiaisonOfficer, Role::DistrictLeader];

impl Subject {
    /// Decides which events `command` records, or why it is refused. Pure.
    pub fn decide(
        &self,
        command: Authored<SubjectCommand>,
    ) -> Result<Vec<SubjectEvent>, SubjectError> {
        let Authored { actor, at, command } = command;
        let name = command.name();
        match command {
            SubjectCommand::Register {
                subject_id,
                name: subject_name,
                kind,
                industry,
                district_area,
                street,
                contact,
            } => {
                require_role(&actor, REGISTRARS, name)?;
                if self.id.is_some() {
                    return Err(SubjectError::SubjectAlreadyExists);
                }
                Ok(vec![SubjectEvent::SubjectRegistered {
                    subject_id,
                    name: subject_name.into(),
                    kind,
                    industry: industry.map(Into::into),
                    district_area: district_area.map(Into::into),
                    street: street.map(Into::into),
                    contact: contact.into(),
                    registered_by: actor.sub,
                    registered_at: at,
                }])
            }
            SubjectCommand::UpdateContact { contact } => {
                let id = self.id.as_ref().ok_or(SubjectError::SubjectNotFound)?;
                if !actor.has_any(REGISTRARS) {
                    require_role(&actor, &[Role::Enterprise], name)?;
                    if !actor.acts_for(id.as_str()) {
                        return Err(SubjectError::NotOwnSubject);
                    }
                }
                Ok(vec![SubjectEvent::SubjectContactUpdated {
                    contact: contact.into(),
                    updated_by: actor.sub,
                    updated_at: at,
                }])
            }
            SubjectCommand::Rename { name: new_name } => {
                if self.id.is_none() {
                    return Err(SubjectError::SubjectNotFound);
                }
                require_role(&actor, REGISTRARS, name)?;
                if new_name.as_str() == self.name {
                    return Err(SubjectError::NameUnchanged);
                }
                Ok(vec![SubjectEvent::SubjectRenamed {
                    name: new_name.into(),
                    renamed_by: actor.sub,
                    renamed_at: at,
                }])
            }
        }
    }

    /// Evolves the state by one recorded event. Never fails.
    pub fn evolve(&mut self, event: &SubjectEvent) {
        match event {
            SubjectEvent::SubjectRegistered {
                subject_id,
                name,
                kind,
                ..
            } => {
                self.id = Some(subject_id.clone());
                self.name = name.clone();
                self.kind = Some(*kind);
            }
            SubjectEvent::SubjectContactUpdated { .. } => {}
            SubjectEvent::SubjectRenamed { name, .. } => self.name = name.clone(),
        }
    }
}

fn require_role(
    actor: &Actor,
    allowed: &[Role],
    command: &'static str,
) -> Result<(), SubjectError> {
    if actor.has_any(allowed) {
        Ok(())
    } else {
        Err(SubjectError::RoleNotAllowed { command })
    }
}

impl Aggregate for Subject {
    const TYPE: &'static str = "Subject";
    type Command = Authored<SubjectCommand>;
    type Event = SubjectEvent;
    type Error = SubjectError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), SubjectError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: SubjectEvent) {
        self.evolve(&event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_emails_are_checked_loosely_but_surely() {
        assert!(Phone::parse(" +86 (10) 6512-3456 ").is_ok());
        assert_eq!(Phone::parse("call me"), Err(ContactError::BadPhone));
        assert_eq!(Phone::parse("12"), Err(ContactError::BadPhone));
        assert!(Email::parse("li.ming@example.cn").is_ok());
        assert_eq!(Email::parse("li@ming"), Err(ContactError::BadEmail));
        assert_eq!(Email::parse("a b@example.cn"), Err(ContactError::BadEmail));
        assert_eq!(Email::parse("@example.cn"), Err(ContactError::BadEmail));
    }

    #[test]
    fn kinds_round_trip_through_their_wire_names() {
        for kind in SubjectKind::ALL {
            assert_eq!(SubjectKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        assert_eq!(SubjectKind::parse("company"), None);
    }
}

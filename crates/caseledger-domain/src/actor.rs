//! Who acts: the roles of DOMAIN.md and the authenticated actor that every command carries.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::UserId;

/// A role from the domain model. Tokens carry these names in their `roles` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// A district leader who liaises with enterprises and talents.
    DistrictLeader,
    /// An officer who keeps in touch with assigned enterprises.
    LiaisonOfficer,
    /// The business-environment office / 12345 platform that routes cases.
    Dispatcher,
    /// A case handler inside a department.
    DepartmentHandler,
    /// The head of a department.
    DepartmentHead,
    /// A representative of one enterprise or talent; `org` is that subject's id.
    Enterprise,
    /// A member of the expert advisory panel.
    Expert,
    /// The secretary of the expert panel.
    PanelSecretary,
    /// Staff of the reward office.
    RewardOffice,
    /// A member of the reward committee.
    CommitteeMember,
    /// The authority that approves rewards.
    ApprovingAuthority,
    /// Discipline inspection: reads everything, changes no business state.
    Auditor,
    /// System administrator: reference data and operations, no business decisions.
    Admin,
    /// Another system following the log (the 12345 platform, the data warehouse): reads the
    /// feed without personal fields, changes nothing.
    Integration,
}

impl Role {
    /// Every role, in the order of DOMAIN.md.
    pub const ALL: [Role; 14] = [
        Role::DistrictLeader,
        Role::LiaisonOfficer,
        Role::Dispatcher,
        Role::DepartmentHandler,
        Role::DepartmentHead,
        Role::Enterprise,
        Role::Expert,
        Role::PanelSecretary,
        Role::RewardOffice,
        Role::CommitteeMember,
        Role::ApprovingAuthority,
        Role::Auditor,
        Role::Admin,
        Role::Integration,
    ];

    /// The role's wire name (`department_handler`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not one of the role names of DOMAIN.md.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(text: &str) -> Result<Self, UnknownRole> {
        use strum::VariantArray;
        Role::VARIANTS
            .iter()
            .copied()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

/// The authenticated actor behind a command. It always comes from the verified token, never
/// from a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The user id (`sub`).
    pub sub: UserId,
    /// The roles the token grants.
    pub roles: Vec<Role>,
    /// The department or enterprise the user acts for, if any.
    pub org: Option<String>,
}

impl Actor {
    /// Whether the actor holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the actor holds any of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|role| self.has(*role))
    }

    /// Whether the actor acts for the organisation `org`.
    pub fn acts_for(&self, org: &str) -> bool {
        self.org.as_deref() == Some(org)
    }
}

/// A command together with who issues it and when. The application fills `actor` from the token
/// and `at` from its clock; the domain never reads either itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Authored<C> {
    /// Who issues the command.
    pub actor: Actor,
    /// When the command is issued.
    pub at: DateTime<Utc>,
    /// What is asked.
    pub command: C,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip_through_text_and_json() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
        assert_eq!("root".parse::<Role>(), Err(UnknownRole("root".into())));
    }
}

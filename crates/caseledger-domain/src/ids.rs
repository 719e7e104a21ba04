//! Identifier newtypes. They are parsed once at the edge; inside the domain an id is always valid.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The text is empty, too long or uses characters outside `[a-z0-9_.-]`.
    #[error("{kind} must be 1 to 64 characters of a-z, 0-9, '-', '_' or '.'")]
    BadSlug {
        /// Which kind of identifier was being parsed.
        kind: &'static str,
    },
    /// The text is not a UUID.
    #[error("not a valid uuid")]
    BadUuid,
}

fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

/// Declares a lowercase slug identifier (`dept-commerce`, `ent-0042`).
macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses a slug: 1 to 64 characters of `a-z`, `0-9`, `-`, `_` or `.`.
            pub fn parse(text: impl Into<String>) -> Result<Self, IdError> {
                let text = text.into();
                if is_slug(&text) {
                    Ok(Self(text))
                } else {
                    Err(IdError::BadSlug { kind: $kind })
                }
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                Self::parse(text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_id!(
    /// A department of the district government (reference data), e.g. `dept-commerce`.
    DepartmentId,
    "department id"
);
slug_id!(
    /// An enterprise, institute, university or talent that raises problems (the case subject).
    SubjectId,
    "enterprise id"
);

slug_id!(
    /// A member of the expert pool: the expert's user id (the token's `sub`), a slug so that it
    /// can name the expert's stream and be compared byte for byte in the panel draw.
    ExpertId,
    "expert id"
);

slug_id!(
    /// An organisational unit an expert works for or may be conflicted with: a department id, a
    /// subject id, or any other unit's slug (`univ-tsinghua`, `soe-district-investment`).
    UnitId,
    "unit id"
);

slug_id!(
    /// An expert discipline (`finance`, `urban-planning`, `environmental-assessment`).
    Discipline,
    "discipline"
);

slug_id!(
    /// A district leader who owns a liaison portfolio: the leader's user id (the token's `sub`),
    /// which must be a slug so that the portfolio id can be derived from it.
    LeaderId,
    "leader id"
);

/// The identity of one liaison portfolio stream, derived from its owner: `leader.<user id>` or
/// `department.<department id>`. Deriving it makes a second portfolio for the same owner
/// impossible (the second create finds the stream taken).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortfolioId(String);

impl PortfolioId {
    /// The portfolio of a district leader.
    pub fn of_leader(leader: &LeaderId) -> Self {
        Self(format!("leader.{leader}"))
    }

    /// The portfolio of a department.
    pub fn of_department(department: &DepartmentId) -> Self {
        Self(format!("department.{department}"))
    }

    /// Parses `leader.<slug>` or `department.<slug>`.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let refused = IdError::BadSlug {
            kind: "portfolio id",
        };
        match text.split_once('.') {
            Some(("leader" | "department", owner)) if is_slug(owner) => Ok(Self(text.to_owned())),
            _ => Err(refused),
        }
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PortfolioId {
    type Error = IdError;
    fn try_from(text: String) -> Result<Self, IdError> {
        Self::parse(&text)
    }
}

impl From<PortfolioId> for String {
    fn from(id: PortfolioId) -> String {
        id.0
    }
}

impl fmt::Display for PortfolioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Declares a UUID identifier chosen by the application (the domain has no random numbers).
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID chosen by the caller.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// Parses the textual UUID form.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                Uuid::parse_str(text).map(Self).map_err(|_| IdError::BadUuid)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// One recorded liaison visit inside a portfolio. Chosen by the application.
    VisitId
);

uuid_id!(
    /// One appraisal campaign (公开评议). Chosen by the application.
    AppraisalId
);

uuid_id!(
    /// One rectification item (整改事项) of an appraisal campaign. Chosen by the application.
    RectificationId
);

uuid_id!(
    /// One expert consultation request (专家咨询论证). Chosen by the application (UUIDv7).
    ConsultationId
);

uuid_id!(
    /// One reward program (评选表彰 / 重奖 programme of a cycle). Chosen by the application.
    RewardProgramId
);

uuid_id!(
    /// One reward nomination inside a program. Chosen by the application (UUIDv7).
    NominationId
);

uuid_id!(
    /// One objection filed against a nomination during its public notice. Chosen by the
    /// application.
    ObjectionId
);

/// The authenticated user's id (the token's `sub`). Opaque text, 1 to 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// Accepts any non-blank text of at most 128 characters without control characters.
    pub fn parse(text: impl Into<String>) -> Option<Self> {
        let text = text.into();
        let valid = !text.trim().is_empty()
            && text.chars().count() <= 128
            && !text.chars().any(char::is_control);
        valid.then_some(Self(text))
    }

    /// The user id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity of one enterprise case stream. Generated by the application, never by the
/// domain (which has no random number generator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(Uuid);

impl CaseId {
    /// Wraps a UUID chosen by the caller.
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// Parses the textual UUID form.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        Uuid::parse_str(text)
            .map(Self)
            .map_err(|_| IdError::BadUuid)
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_accept_lowercase_digits_and_separators_only() {
        assert!(DepartmentId::parse("dept-commerce_2.0").is_ok());
        assert_eq!(
            DepartmentId::parse("Dept"),
            Err(IdError::BadSlug {
                kind: "department id"
            })
        );
        assert!(DepartmentId::parse("").is_err());
        assert!(DepartmentId::parse("a".repeat(65)).is_err());
        assert!(SubjectId::parse("ent 1").is_err());
    }

    #[test]
    fn portfolio_ids_name_their_owner() {
        let leader = LeaderId::parse("leader-wang").unwrap();
        assert_eq!(
            PortfolioId::of_leader(&leader).as_str(),
            "leader.leader-wang"
        );
        let department = DepartmentId::parse("dept-commerce").unwrap();
        let id = PortfolioId::of_department(&department);
        assert_eq!(PortfolioId::parse(id.as_str()), Ok(id));
        assert!(PortfolioId::parse("leader.").is_err());
        assert!(PortfolioId::parse("team.x").is_err());
        assert!(PortfolioId::parse("leader.Wang").is_err());
    }

    #[test]
    fn user_ids_refuse_blank_and_control_characters() {
        assert!(UserId::parse("alice").is_some());
        assert!(UserId::parse("  ").is_none());
        assert!(UserId::parse("a\nb").is_none());
    }
}

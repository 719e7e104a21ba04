//! Value types of the nomination stream: who is nominated (the private `id_number` and
//! `phone` included), contributions, eligibility checklist lines, and where a nomination
//! stands. All of them are part of stored events: variants are added, never renamed or removed.

use serde::{Deserialize, Serialize};

use crate::ids::UnitId;

/// Whether a unit or a person is nominated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum NomineeKind {
    /// A unit (enterprise, institute, team).
    Unit,
    /// A person.
    Person,
}

/// Who is nominated. `id_number` and `phone` are private: never public, never in the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nominee {
    /// Unit or person.
    pub kind: NomineeKind,
    /// The nominee's name (the unit's name for a unit).
    pub name: String,
    /// The unit (a person's employer; the unit itself for a unit).
    pub unit: String,
    /// The unit's id when it is a known unit: experts conflicted with it are not drawn.
    #[serde(default)]
    pub unit_id: Option<UnitId>,
    /// A person's ID number (private).
    #[serde(default)]
    pub id_number: Option<String>,
    /// A contact phone (private).
    #[serde(default)]
    pub phone: Option<String>,
}

/// One quantified contribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    /// What was achieved.
    pub description: String,
    /// How much.
    pub quantity: i64,
    /// In what (`万元产值`, `patents`).
    pub unit: String,
}

/// One line of the eligibility checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    /// The requirement.
    pub item: String,
    /// Whether it is met.
    pub passed: bool,
}

/// Where a nomination stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum NominationStatus {
    /// Not submitted (no events).
    #[default]
    New,
    /// Submitted.
    Submitted,
    /// Passed the eligibility check.
    Eligible,
    /// Failed it (final).
    Ineligible,
    /// Reviewers drawn, scores coming in.
    UnderReview,
    /// Scores aggregated.
    Scored,
    /// The committee voted for it.
    Shortlisted,
    /// The committee voted against it (final).
    NotShortlisted,
    /// In public notice.
    InNotice,
    /// Notice over.
    NoticeClosed,
    /// Approved.
    Approved,
    /// Announced.
    Announced,
    /// Withdrawn (final).
    Withdrawn,
    /// Disqualified (final).
    Disqualified,
    /// Revoked (final).
    Revoked,
}

impl NominationStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether the nomination can no longer move before approval (or was approved).
    pub(super) fn before_approval_open(self) -> bool {
        matches!(
            self,
            NominationStatus::Submitted
                | NominationStatus::Eligible
                | NominationStatus::UnderReview
                | NominationStatus::Scored
                | NominationStatus::Shortlisted
                | NominationStatus::InNotice
                | NominationStatus::NoticeClosed
        )
    }
}

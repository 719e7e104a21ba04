//! Value types of the consultation stream: the closed sets (topic, confidentiality, stance,
//! adoption outcome, request and seat states, how a seat or the panel was chosen) with their
//! wire names, and the adoption record and stance tally the events carry. All of them are part
//! of stored events: variants are added, never renamed or removed.

use serde::{Deserialize, Serialize};

/// What the consultation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum TopicType {
    /// A strategic policy.
    StrategicPolicy,
    /// A key project.
    KeyProject,
    /// A science and technology plan.
    SciTechPlan,
    /// An investment project.
    InvestmentProject,
}

/// How confidential the materials are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Confidentiality {
    /// May be published.
    Public,
    /// For government use.
    Internal,
    /// Confidential (商业秘密, undisclosed plans).
    Confidential,
}

/// An expert's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Stance {
    /// In favour.
    Support,
    /// In favour under conditions.
    Conditional,
    /// Against.
    Oppose,
}

/// What the requester did with a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum AdoptionOutcome {
    /// Adopted.
    Adopted,
    /// Partly adopted.
    Partly,
    /// Not adopted (a reason is required).
    NotAdopted,
}

macro_rules! wire_names {
    ($($type:ty),* $(,)?) => {
        $(impl $type {
            /// The wire name (strum's, the same as serde's).
            pub fn as_str(self) -> &'static str {
                self.into()
            }
            /// Parses a wire name.
            pub fn parse(text: &str) -> Option<Self> {
                text.parse().ok()
            }
        })*
    };
}

wire_names!(
    TopicType,
    Confidentiality,
    Stance,
    AdoptionOutcome,
    ConsultationStatus,
    SeatState,
    SeatedVia,
    SelectionMethod,
);

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum ConsultationStatus {
    /// Not submitted yet (no stream).
    #[default]
    New,
    /// Submitted, waiting for the panel secretary.
    Submitted,
    /// Accepted; the panel is to be drawn (or a manual selection is pending).
    Accepted,
    /// Rejected with a reason.
    Rejected,
    /// Panel seated; waiting for every seated expert's pledge.
    PanelDrawn,
    /// Every seated expert accepted with the pledge.
    PanelConfirmed,
    /// Opinions are coming in.
    CollectingOpinions,
    /// The conclusion is recorded.
    Concluded,
    /// The requester reported adoption.
    AdoptionReported,
    /// Closed.
    Closed,
    /// Cancelled.
    Cancelled,
}

/// Where a seat stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum SeatState {
    /// Seated, pledge not yet accepted.
    Invited,
    /// Accepted with the pledge.
    Accepted,
    /// Declined before accepting.
    Declined,
    /// Recused for a conflict of interest.
    Recused,
}

/// How an expert came to a seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum SeatedVia {
    /// The random draw.
    Draw,
    /// An alternate of the draw (or of the manual selection) replacing a seat.
    Alternate,
    /// A manual selection.
    Manual,
}

/// How the panel was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum SelectionMethod {
    /// The random draw.
    Draw,
    /// By hand, with a reason and an approval.
    Manual,
}

/// One recommendation's adoption, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptionRecord {
    /// The recommendation's number, from 1.
    pub recommendation: u32,
    /// What was done with it.
    pub outcome: AdoptionOutcome,
    /// Why.
    pub reason: Option<String>,
}

/// The count of latest stances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Support.
    pub support: u32,
    /// Conditional support.
    pub conditional: u32,
    /// Opposition.
    pub oppose: u32,
}

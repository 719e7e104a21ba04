//! Value types of the case stream. All of them are part of stored events: variants are added,
//! never renamed or removed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How pressing a case is; selects the SLA limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Urgency {
    /// Ordinary time limits.
    Normal,
    /// Short time limits.
    Urgent,
}

/// Where a case came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum CaseSource {
    /// Raised during a liaison officer's visit.
    LiaisonVisit,
    /// Raised during a district leader's visit.
    LeaderVisit,
    /// Raised on the hotline.
    Hotline,
    /// Raised on the online platform.
    Platform,
    /// Raised by letter.
    Letter,
}

/// How the lead department answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Resolution {
    /// The problem is solved.
    Resolved,
    /// Part of the problem is solved.
    PartiallyResolved,
    /// The request cannot be met; the answer explains why, citing a legal or policy basis.
    Explained,
    /// Referred to another competent body.
    Referred,
}

/// A satisfaction grade from 1 (very dissatisfied) to 5 (very satisfied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Satisfaction(u8);

impl Satisfaction {
    /// Accepts 1 to 5.
    pub fn new(grade: u8) -> Option<Self> {
        (1..=5).contains(&grade).then_some(Self(grade))
    }

    /// The grade.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Satisfaction {
    type Error = String;
    fn try_from(grade: u8) -> Result<Self, String> {
        Self::new(grade).ok_or_else(|| format!("satisfaction must be 1 to 5, not {grade}"))
    }
}

impl From<Satisfaction> for u8 {
    fn from(satisfaction: Satisfaction) -> u8 {
        satisfaction.0
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum CaseStatus {
    /// Registered, waiting for dispatch (also after a return to the dispatcher).
    Registered,
    /// Dispatched to a lead department, waiting for acceptance.
    Dispatched,
    /// Accepted by the lead department, being handled (also after a reopen).
    Accepted,
    /// The clock is stopped while the department waits for the enterprise (approved pause).
    Paused,
    /// The lead department has responded.
    Responded,
    /// Closed (办结).
    Closed,
    /// Declined before dispatch, with a reason code. Final.
    Declined,
    /// Withdrawn by the enterprise or on its behalf. Final.
    Withdrawn,
    /// Merged into another case as a duplicate. Final.
    Merged,
}

impl CaseStatus {
    /// Every status, for documentation and filters.
    pub const ALL: [CaseStatus; 9] = [
        CaseStatus::Registered,
        CaseStatus::Dispatched,
        CaseStatus::Accepted,
        CaseStatus::Paused,
        CaseStatus::Responded,
        CaseStatus::Closed,
        CaseStatus::Declined,
        CaseStatus::Withdrawn,
        CaseStatus::Merged,
    ];

    /// The status's wire name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether nothing more can happen to the case except a reopen (closed) or nothing at all.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CaseStatus::Closed | CaseStatus::Declined | CaseStatus::Withdrawn | CaseStatus::Merged
        )
    }
}

/// Why a case was declined before dispatch (不予受理).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum DeclineReason {
    /// Not a matter for the district government.
    OutOfScope,
    /// The request asks for something unlawful.
    UnlawfulRequest,
    /// Not enough information to act on, and the enterprise could not supply it.
    InsufficientInformation,
    /// Already pending in litigation, arbitration or administrative review.
    InOtherProceedings,
}

/// How a department reached the enterprise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum ContactChannel {
    /// A phone call.
    Phone,
    /// An on-site visit.
    Visit,
    /// A meeting at the department.
    Meeting,
    /// Online (message, email, platform).
    Online,
}

/// Why a case is exempted from scoring (核减).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum ExemptionReason {
    /// The request is unreasonable (不合理诉求).
    UnreasonableRequest,
    /// The matter is outside the department's legal competence.
    OutsideCompetence,
    /// Force majeure prevented timely handling.
    ForceMajeure,
    /// The enterprise could not be reached despite documented attempts.
    EnterpriseUnreachable,
    /// The same complaint repeated after a lawful final answer.
    RepeatedComplaint,
}

/// A document supporting a response: named and pinned by its SHA-256, stored elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The document's name.
    pub name: String,
    /// Lowercase hex SHA-256 of the document.
    pub sha256: String,
}

/// The deadlines a case is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum DeadlineKind {
    /// Acceptance (签收).
    Accept,
    /// The first contact with the enterprise.
    FirstContact,
    /// The response (答复).
    Respond,
    /// Closing (办结).
    Resolve,
}

impl DeadlineKind {
    /// Every kind, in the order the loop meets them.
    pub const ALL: [DeadlineKind; 4] = [
        DeadlineKind::Accept,
        DeadlineKind::FirstContact,
        DeadlineKind::Respond,
        DeadlineKind::Resolve,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// When a timer fires, as a share of the time from a deadline's start to the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::VariantNames, strum::VariantArray, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Threshold {
    /// Half the time has passed.
    Warn50,
    /// 80% of the time has passed.
    Warn80,
    /// The deadline has passed.
    Breach,
}

impl Threshold {
    /// Every threshold, earliest first.
    pub const ALL: [Threshold; 3] = [Threshold::Warn50, Threshold::Warn80, Threshold::Breach];

    /// The share of the interval, in percent.
    pub fn percent(self) -> i64 {
        match self {
            Threshold::Warn50 => 50,
            Threshold::Warn80 => 80,
            Threshold::Breach => 100,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One deadline of the current cycle: from when it runs, and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// When the clock for it started.
    pub start: DateTime<Utc>,
    /// When it is due.
    pub due: DateTime<Utc>,
}

impl Deadline {
    /// The instant `threshold` is reached: `start + (due - start) * percent / 100`.
    pub fn fire_at(&self, threshold: Threshold) -> DateTime<Utc> {
        if threshold == Threshold::Breach {
            return self.due;
        }
        let span = (self.due - self.start).num_milliseconds().max(0);
        self.start + chrono::Duration::milliseconds(span / 100 * threshold.percent())
    }
}

/// A timer that is due to fire on a case: which deadline, which threshold, in which cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timer {
    /// The deadline watched.
    pub deadline: DeadlineKind,
    /// The threshold.
    pub threshold: Threshold,
    /// The handling cycle (1, then one more per reopen).
    pub cycle: u32,
}

//! Service-level policies: time limits are data, not code.
//!
//! A policy has a version; a case records the version it was dispatched under, so a later change of
//! policy never moves an existing case's deadlines. This first policy model counts elapsed hours;
//! working-day limits with a holiday calendar extend it without changing recorded events.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::case::Urgency;

/// The limits that apply to one urgency class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaLimits {
    /// Hours from dispatch until the lead department must accept (签收).
    pub accept_within_hours: u32,
    /// Hours from dispatch until the lead department must respond (答复).
    pub respond_within_hours: u32,
}

/// A versioned set of limits, loaded from the SLA policy data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaPolicy {
    /// The version recorded on every case dispatched under this policy, e.g. `2026.1`.
    pub version: String,
    /// Limits for `normal` cases.
    pub normal: SlaLimits,
    /// Limits for `urgent` cases.
    pub urgent: SlaLimits,
}

/// The due times a case receives when it is dispatched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueDates {
    /// Acceptance is due by then.
    pub accept_due: DateTime<Utc>,
    /// The response is due by then.
    pub respond_due: DateTime<Utc>,
}

/// Why a policy was refused when loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaPolicyError {
    /// The version is blank.
    #[error("policy version must not be blank")]
    BlankVersion,
    /// A limit is zero or acceptance is not due before the response.
    #[error("{urgency}: limits must be positive and acceptance due no later than the response")]
    InconsistentLimits {
        /// Which urgency class is wrong.
        urgency: &'static str,
    },
}

impl SlaPolicy {
    /// Checks the policy is usable: a version, and positive, ordered limits.
    pub fn validate(&self) -> Result<(), SlaPolicyError> {
        if self.version.trim().is_empty() {
            return Err(SlaPolicyError::BlankVersion);
        }
        for (urgency, limits) in [("normal", &self.normal), ("urgent", &self.urgent)] {
            if limits.accept_within_hours == 0
                || limits.respond_within_hours == 0
                || limits.accept_within_hours > limits.respond_within_hours
            {
                return Err(SlaPolicyError::InconsistentLimits { urgency });
            }
        }
        Ok(())
    }

    /// The limits for `urgency`.
    pub fn limits(&self, urgency: Urgency) -> &SlaLimits {
        match urgency {
            Urgency::Normal => &self.normal,
            Urgency::Urgent => &self.urgent,
        }
    }

    /// The due dates of a case of `urgency` dispatched at `dispatched_at`.
    pub fn due_dates(&self, urgency: Urgency, dispatched_at: DateTime<Utc>) -> DueDates {
        let limits = self.limits(urgency);
        DueDates {
            accept_due: dispatched_at + Duration::hours(i64::from(limits.accept_within_hours)),
            respond_due: dispatched_at + Duration::hours(i64::from(limits.respond_within_hours)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SlaPolicy {
        SlaPolicy {
            version: "test.1".into(),
            normal: SlaLimits {
                accept_within_hours: 24,
                respond_within_hours: 72,
            },
            urgent: SlaLimits {
                accept_within_hours: 2,
                respond_within_hours: 24,
            },
        }
    }

    #[test]
    fn due_dates_count_from_dispatch_by_urgency() {
        let at = DateTime::parse_from_rfc3339("2026-11-02T09:00:00Z")
            .unwrap()
            .to_utc();
        let due = policy().due_dates(Urgency::Urgent, at);
        assert_eq!(due.accept_due.to_rfc3339(), "2026-11-02T11:00:00+00:00");
        assert_eq!(due.respond_due.to_rfc3339(), "2026-11-03T09:00:00+00:00");
    }

    #[test]
    fn acceptance_due_after_response_is_refused() {
        let mut bad = policy();
        bad.normal.accept_within_hours = 100;
        assert_eq!(
            bad.validate(),
            Err(SlaPolicyError::InconsistentLimits { urgency: "normal" })
        );
        assert_eq!(policy().validate(), Ok(()));
    }
}

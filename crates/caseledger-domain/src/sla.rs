//! Service-level policies: time limits are data, not code.
//!
//! A policy has a version; a case records the version it was dispatched under, so a later change of
//! policy never moves an existing case's deadlines. A policy holds one rule per (category,
//! urgency): the rule with no category is the default for its urgency. Each limit is an amount
//! and a unit (seconds, minutes, hours or working days); working days are counted on the
//! [`WorkCalendar`]. Seconds and minutes exist for drills and tests.
//!
//! Architecture invariant: pure data and arithmetic; the policy and calendar arrive from the caller.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::calendar::WorkCalendar;
use crate::case::Urgency;

/// The unit of a time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitUnit {
    /// Wall-clock seconds (drills and tests).
    Seconds,
    /// Wall-clock minutes (drills and tests).
    Minutes,
    /// Wall-clock hours.
    Hours,
    /// Working days on the district's calendar: 24 h of working-day time each.
    WorkingDays,
}

impl LimitUnit {
    /// The unit's plural name as written in policy files.
    pub fn plural(self) -> &'static str {
        match self {
            LimitUnit::Seconds => "seconds",
            LimitUnit::Minutes => "minutes",
            LimitUnit::Hours => "hours",
            LimitUnit::WorkingDays => "working_days",
        }
    }

    /// The unit's singular name, used when the amount is 1.
    pub fn singular(self) -> &'static str {
        match self {
            LimitUnit::Seconds => "second",
            LimitUnit::Minutes => "minute",
            LimitUnit::Hours => "hour",
            LimitUnit::WorkingDays => "working_day",
        }
    }

    /// Whether the unit counts plain elapsed time rather than working-day time.
    pub fn is_wall_clock(self) -> bool {
        !matches!(self, LimitUnit::WorkingDays)
    }
}

/// A time limit such as `3 working_days` or `24 hours`. Written in files as that string; the
/// singular (`1 hour`) is accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// How many units.
    pub amount: u32,
    /// Which unit.
    pub unit: LimitUnit,
}

impl Limit {
    /// A limit of `amount` `unit`s.
    pub const fn new(amount: u32, unit: LimitUnit) -> Self {
        Self { amount, unit }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.amount == 1 {
            self.unit.singular()
        } else {
            self.unit.plural()
        };
        write!(f, "{} {unit}", self.amount)
    }
}

/// Why a limit string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitParseError {
    /// Not two words.
    #[error("limit {0:?}: expected an amount and a unit, e.g. \"3 working_days\" or \"24 hours\"")]
    Shape(String),
    /// The amount is not a whole number from 0 to 4294967295.
    #[error("limit {0:?}: the amount must be a whole number")]
    Amount(String),
    /// The unit is unknown.
    #[error(
        "limit {text:?}: unknown unit {unit:?}, expected seconds, minutes, hours or working_days"
    )]
    Unit {
        /// The whole limit.
        text: String,
        /// The unit given.
        unit: String,
    },
}

impl FromStr for Limit {
    type Err = LimitParseError;

    fn from_str(text: &str) -> Result<Self, LimitParseError> {
        let mut words = text.split_whitespace();
        let (Some(amount), Some(unit), None) = (words.next(), words.next(), words.next()) else {
            return Err(LimitParseError::Shape(text.to_owned()));
        };
        let amount: u32 = amount
            .parse()
            .map_err(|_| LimitParseError::Amount(text.to_owned()))?;
        let unit = [
            LimitUnit::Seconds,
            LimitUnit::Minutes,
            LimitUnit::Hours,
            LimitUnit::WorkingDays,
        ]
        .into_iter()
        .find(|candidate| unit == candidate.plural() || unit == candidate.singular())
        .ok_or_else(|| LimitParseError::Unit {
            text: text.to_owned(),
            unit: unit.to_owned(),
        })?;
        Ok(Self { amount, unit })
    }
}

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The limits for one category and urgency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaRule {
    /// The case category the rule is for; `None` is the default rule for its urgency.
    #[serde(default)]
    pub category: Option<String>,
    /// Normal or urgent.
    pub urgency: Urgency,
    /// From dispatch to acceptance (签收).
    pub accept: Limit,
    /// From dispatch to the first contact with the enterprise (首次联系).
    pub first_contact: Limit,
    /// From dispatch to the response (答复).
    pub respond: Limit,
    /// From dispatch to completion (办结).
    pub resolve: Limit,
    /// The most total extension of the respond and resolve limits; its unit is the unit
    /// extensions are requested in. Zero means no extensions.
    pub extension_cap: Limit,
}

/// A versioned set of rules, loaded from the SLA policy data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    /// The version recorded on every case dispatched under this policy, e.g. `2026.2`.
    pub version: String,
    /// One rule per (category, urgency); at least the default rule of each urgency.
    #[serde(rename = "rule")]
    pub rules: Vec<SlaRule>,
}

/// The due times a case receives when its clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// Acceptance (签收) is due by then.
    pub accept_due: DateTime<Utc>,
    /// The first contact (首次联系) is due by then.
    pub first_contact_due: DateTime<Utc>,
    /// The response (答复) is due by then.
    pub respond_due: DateTime<Utc>,
    /// Completion (办结) is due by then.
    pub resolve_due: DateTime<Utc>,
}

/// Why a policy was refused when loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaPolicyError {
    /// The version is blank.
    #[error("policy version must not be blank")]
    BlankVersion,
    /// There is no default rule (without category) for an urgency.
    #[error("no default rule (without category) for {} cases", urgency_name(.urgency))]
    MissingDefault {
        /// The urgency without a default.
        urgency: Urgency,
    },
    /// A rule's category is blank; leave it out for the default rule.
    #[error("a {} rule has a blank category; omit category for the default rule", urgency_name(.urgency))]
    BlankCategory {
        /// The rule's urgency.
        urgency: Urgency,
    },
    /// Two rules share a category and urgency.
    #[error("rule {rule}: listed twice")]
    DuplicateRule {
        /// The rule, e.g. `financing/urgent` or `default/normal`.
        rule: String,
    },
    /// A limit other than the extension cap is zero.
    #[error("rule {rule}: {limit} must be more than zero")]
    ZeroLimit {
        /// The rule.
        rule: String,
        /// Which limit.
        limit: &'static str,
    },
    /// A limit falls due before an earlier step's.
    #[error("rule {rule}: {earlier} must fall due no later than {later}")]
    UnorderedLimits {
        /// The rule.
        rule: String,
        /// The step that must come first.
        earlier: &'static str,
        /// The step that falls due too early.
        later: &'static str,
    },
}

fn urgency_name(urgency: &Urgency) -> &'static str {
    match urgency {
        Urgency::Normal => "normal",
        Urgency::Urgent => "urgent",
    }
}

/// Used only when [`SlaPolicy::rule`] is asked of a policy that never passed
/// [`SlaPolicy::validate`] and lacks a default: the 2026 district defaults.
static UNVALIDATED_FALLBACK_NORMAL: SlaRule = SlaRule {
    category: None,
    urgency: Urgency::Normal,
    accept: Limit::new(1, LimitUnit::WorkingDays),
    first_contact: Limit::new(1, LimitUnit::WorkingDays),
    respond: Limit::new(3, LimitUnit::WorkingDays),
    resolve: Limit::new(15, LimitUnit::WorkingDays),
    extension_cap: Limit::new(15, LimitUnit::WorkingDays),
};

/// See [`UNVALIDATED_FALLBACK_NORMAL`].
static UNVALIDATED_FALLBACK_URGENT: SlaRule = SlaRule {
    category: None,
    urgency: Urgency::Urgent,
    accept: Limit::new(2, LimitUnit::Hours),
    first_contact: Limit::new(2, LimitUnit::Hours),
    respond: Limit::new(24, LimitUnit::Hours),
    resolve: Limit::new(3, LimitUnit::WorkingDays),
    extension_cap: Limit::new(2, LimitUnit::WorkingDays),
};

impl SlaRule {
    /// `category/urgency`, or `default/urgency` for a default rule.
    pub fn name(&self) -> String {
        format!(
            "{}/{}",
            self.category.as_deref().unwrap_or("default"),
            urgency_name(&self.urgency)
        )
    }

    /// The deadlines of a case whose clock starts at `start`, each limit counted from `start`.
    pub fn deadlines(&self, start: DateTime<Utc>, calendar: &WorkCalendar) -> Deadlines {
        Deadlines {
            accept_due: calendar.add(start, self.accept),
            first_contact_due: calendar.add(start, self.first_contact),
            respond_due: calendar.add(start, self.respond),
            resolve_due: calendar.add(start, self.resolve),
        }
    }
}

impl SlaPolicy {
    /// Checks the policy is usable: a version; a default rule for each urgency; no duplicate
    /// (category, urgency); positive limits (the extension cap may be zero); and, within a rule,
    /// accept ≤ first contact ≤ respond ≤ resolve when computed from Monday 2026-01-05 09:00 CST
    /// on a calendar without holidays.
    pub fn validate(&self) -> Result<(), SlaPolicyError> {
        if self.version.trim().is_empty() {
            return Err(SlaPolicyError::BlankVersion);
        }
        let mut seen: Vec<(Option<&str>, Urgency)> = Vec::new();
        for rule in &self.rules {
            if rule
                .category
                .as_deref()
                .is_some_and(|c| c.trim().is_empty())
            {
                return Err(SlaPolicyError::BlankCategory {
                    urgency: rule.urgency,
                });
            }
            let key = (rule.category.as_deref(), rule.urgency);
            if seen.contains(&key) {
                return Err(SlaPolicyError::DuplicateRule { rule: rule.name() });
            }
            seen.push(key);
            validate_rule(rule)?;
        }
        for urgency in [Urgency::Normal, Urgency::Urgent] {
            if !seen.contains(&(None, urgency)) {
                return Err(SlaPolicyError::MissingDefault { urgency });
            }
        }
        Ok(())
    }

    /// The rule for `category` and `urgency`, else the default rule for `urgency`.
    pub fn rule(&self, category: &str, urgency: Urgency) -> &SlaRule {
        let find = |category: Option<&str>| {
            self.rules
                .iter()
                .find(|rule| rule.urgency == urgency && rule.category.as_deref() == category)
        };
        find(Some(category))
            .or_else(|| find(None))
            .unwrap_or(match urgency {
                Urgency::Normal => &UNVALIDATED_FALLBACK_NORMAL,
                Urgency::Urgent => &UNVALIDATED_FALLBACK_URGENT,
            })
    }
}

fn validate_rule(rule: &SlaRule) -> Result<(), SlaPolicyError> {
    let steps = [
        ("accept", rule.accept),
        ("first_contact", rule.first_contact),
        ("respond", rule.respond),
        ("resolve", rule.resolve),
    ];
    for (limit, value) in steps {
        if value.amount == 0 {
            return Err(SlaPolicyError::ZeroLimit {
                rule: rule.name(),
                limit,
            });
        }
    }
    // Monday 2026-01-05 09:00 CST (01:00 UTC).
    let reference = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(1_767_574_800);
    let calendar = WorkCalendar::default();
    for pair in steps.windows(2) {
        let [(earlier, first), (later, second)] = pair else {
            continue;
        };
        if calendar.add(reference, *first) > calendar.add(reference, *second) {
            return Err(SlaPolicyError::UnorderedLimits {
                rule: rule.name(),
                earlier,
                later,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;
    use crate::calendar::CalendarYear;

    fn limit(text: &str) -> Limit {
        text.parse().unwrap()
    }

    fn rule(category: Option<&str>, urgency: Urgency) -> SlaRule {
        SlaRule {
            category: category.map(Into::into),
            urgency,
            accept: limit("1 working_day"),
            first_contact: limit("1 working_day"),
            respond: limit("3 working_days"),
            resolve: limit("15 working_days"),
            extension_cap: limit("15 working_days"),
        }
    }

    fn policy() -> SlaPolicy {
        SlaPolicy {
            version: "test.1".into(),
            rules: vec![
                rule(None, Urgency::Normal),
                rule(None, Urgency::Urgent),
                SlaRule {
                    respond: limit("5 working_days"),
                    ..rule(Some("financing"), Urgency::Normal)
                },
            ],
        }
    }

    /// An instant given as CST wall-clock time.
    fn cst(year: i32, month: u32, day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, month, day, hour, 0, 0).unwrap() - TimeDelta::hours(8)
    }

    #[test]
    fn limits_parse_and_print_as_amount_and_unit() {
        assert_eq!(
            limit("3 working_days"),
            Limit::new(3, LimitUnit::WorkingDays)
        );
        assert_eq!(limit("24 hours"), Limit::new(24, LimitUnit::Hours));
        assert_eq!(limit("90 seconds"), Limit::new(90, LimitUnit::Seconds));
        assert_eq!(limit("1 minute"), Limit::new(1, LimitUnit::Minutes));
        assert_eq!(
            limit(" 1  working_day "),
            Limit::new(1, LimitUnit::WorkingDays)
        );
        assert_eq!(limit("0 hours"), Limit::new(0, LimitUnit::Hours));
        assert_eq!(
            Limit::new(1, LimitUnit::WorkingDays).to_string(),
            "1 working_day"
        );
        assert_eq!(
            Limit::new(15, LimitUnit::WorkingDays).to_string(),
            "15 working_days"
        );
        let json = serde_json::to_string(&Limit::new(2, LimitUnit::Hours)).unwrap();
        assert_eq!(json, "\"2 hours\"");
        assert_eq!(
            serde_json::from_str::<Limit>(&json).unwrap(),
            limit("2 hours")
        );
    }

    #[test]
    fn unknown_units_and_bad_amounts_are_refused_with_a_clear_message() {
        let error = "3 fortnights".parse::<Limit>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "limit \"3 fortnights\": unknown unit \"fortnights\", expected seconds, minutes, hours or working_days"
        );
        assert!(matches!(
            "-1 hours".parse::<Limit>(),
            Err(LimitParseError::Amount(_))
        ));
        assert!(matches!(
            "3".parse::<Limit>(),
            Err(LimitParseError::Shape(_))
        ));
        assert!(matches!(
            "3 working days".parse::<Limit>(),
            Err(LimitParseError::Shape(_))
        ));
        let from_json = serde_json::from_str::<Limit>("\"3 fortnights\"").unwrap_err();
        assert!(from_json
            .to_string()
            .contains("unknown unit \"fortnights\""));
    }

    #[test]
    fn a_valid_policy_passes() {
        assert_eq!(policy().validate(), Ok(()));
    }

    #[test]
    fn a_blank_version_is_refused() {
        let mut bad = policy();
        bad.version = "  ".into();
        assert_eq!(bad.validate(), Err(SlaPolicyError::BlankVersion));
    }

    #[test]
    fn each_urgency_needs_a_default_rule() {
        let mut bad = policy();
        bad.rules.remove(1);
        assert_eq!(
            bad.validate(),
            Err(SlaPolicyError::MissingDefault {
                urgency: Urgency::Urgent
            })
        );
    }

    #[test]
    fn a_rule_listed_twice_is_refused() {
        let mut bad = policy();
        bad.rules.push(rule(Some("financing"), Urgency::Normal));
        assert_eq!(
            bad.validate(),
            Err(SlaPolicyError::DuplicateRule {
                rule: "financing/normal".into()
            })
        );
    }

    #[test]
    fn a_blank_category_is_refused() {
        let mut bad = policy();
        bad.rules.push(rule(Some(" "), Urgency::Urgent));
        assert_eq!(
            bad.validate(),
            Err(SlaPolicyError::BlankCategory {
                urgency: Urgency::Urgent
            })
        );
    }

    #[test]
    fn zero_limits_are_refused_but_a_zero_extension_cap_is_allowed() {
        let mut bad = policy();
        bad.rules[0].accept = limit("0 hours");
        assert_eq!(
            bad.validate(),
            Err(SlaPolicyError::ZeroLimit {
                rule: "default/normal".into(),
                limit: "accept"
            })
        );
        let mut no_extensions = policy();
        no_extensions.rules[0].extension_cap = limit("0 working_days");
        assert_eq!(no_extensions.validate(), Ok(()));
    }

    #[test]
    fn limits_must_fall_due_in_order_across_units() {
        // 30 hours from Monday 09:00 is Tuesday 15:00, after 1 working day (Tuesday 09:00).
        let mut bad = policy();
        bad.rules[2].accept = limit("30 hours");
        assert_eq!(
            bad.validate(),
            Err(SlaPolicyError::UnorderedLimits {
                rule: "financing/normal".into(),
                earlier: "accept",
                later: "first_contact"
            })
        );
        let mut good = policy();
        good.rules[2].accept = limit("24 hours");
        assert_eq!(good.validate(), Ok(()));
    }

    #[test]
    fn a_category_without_its_own_rule_gets_the_default() {
        let policy = policy();
        assert_eq!(
            policy.rule("financing", Urgency::Normal).respond,
            limit("5 working_days")
        );
        assert_eq!(
            policy.rule("permits", Urgency::Normal).category,
            None,
            "no permits rule: default"
        );
        assert_eq!(
            policy.rule("financing", Urgency::Urgent),
            &rule(None, Urgency::Urgent),
            "financing has no urgent rule: urgent default"
        );
    }

    #[test]
    fn deadlines_count_working_days_across_a_holiday() {
        // Qingming 2026: Saturday 4 April to Monday 6 April off.
        let year = CalendarYear {
            year: 2026,
            source: "test".into(),
            provisional: false,
            holiday: vec![crate::calendar::Holiday {
                name: "清明节".into(),
                dates: ["2026-04-04", "2026-04-05", "2026-04-06"]
                    .iter()
                    .map(|text| text.parse::<NaiveDate>().unwrap())
                    .collect(),
            }],
            makeup_workday: vec![],
        };
        let calendar = WorkCalendar::from_years(vec![year]).unwrap();
        let rule = SlaRule {
            accept: limit("2 hours"),
            first_contact: limit("2 hours"),
            respond: limit("24 hours"),
            resolve: limit("3 working_days"),
            ..rule(None, Urgency::Urgent)
        };
        // Friday 3 April 10:00: 14 h Friday, then Tuesday and Wednesday, 10 h on Thursday.
        let deadlines = rule.deadlines(cst(2026, 4, 3, 10), &calendar);
        assert_eq!(
            deadlines,
            Deadlines {
                accept_due: cst(2026, 4, 3, 12),
                first_contact_due: cst(2026, 4, 3, 12),
                respond_due: cst(2026, 4, 4, 10),
                resolve_due: cst(2026, 4, 9, 10),
            }
        );
    }

    #[test]
    fn a_policy_file_reads_rules_with_limit_strings() {
        let text = r#"{"version":"x","rule":[{"urgency":"urgent","accept":"2 hours",
            "first_contact":"2 hours","respond":"24 hours","resolve":"3 working_days",
            "extension_cap":"2 working_days"}]}"#;
        let policy: SlaPolicy = serde_json::from_str(text).unwrap();
        assert_eq!(policy.rules[0].category, None);
        assert_eq!(policy.rules[0].resolve, limit("3 working_days"));
    }
}

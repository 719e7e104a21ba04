//! Reference data loaded from editable files: the departments, the SLA policy and the working-day
//! calendar (one file per year). The defaults ship inside the binary (`config/` in the
//! repository) and are written to the data directory on first start, where an operator can edit
//! them. Everything is validated at load, so a bad file stops the start with an error naming it.

use std::collections::BTreeMap;
use std::sync::Arc;

use caseledger_domain::calendar::{CalendarError, WorkCalendar};
use caseledger_domain::reference::Department;
use caseledger_domain::sla::SlaPolicy;
use caseledger_domain::DepartmentId;
use serde::Deserialize;

/// The departments file shipped with caseledger.
pub const DEFAULT_DEPARTMENTS: &str = include_str!("../../../config/departments.toml");
/// The SLA policy file shipped with caseledger.
pub const DEFAULT_SLA_POLICY: &str = include_str!("../../../config/sla-policy.toml");
/// The calendar year files shipped with caseledger, as (file name, contents). Each file is named
/// after the year it describes.
pub const DEFAULT_CALENDAR_YEARS: &[(&str, &str)] = &[
    (
        "2026.toml",
        include_str!("../../../config/calendar/2026.toml"),
    ),
    (
        "2027.toml",
        include_str!("../../../config/calendar/2027.toml"),
    ),
];

/// Why reference data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The file is not valid TOML of the expected shape.
    #[error("{file}: {source}")]
    Parse {
        /// Which file.
        file: &'static str,
        /// The parser's message.
        source: toml::de::Error,
    },
    /// Two departments share an id.
    #[error("departments file: duplicate id {0}")]
    DuplicateDepartment(String),
    /// No department is listed.
    #[error("departments file lists no department")]
    NoDepartments,
    /// The SLA policy is inconsistent.
    #[error("sla policy file: {0}")]
    Sla(#[from] caseledger_domain::sla::SlaPolicyError),
    /// A calendar year file is malformed or inconsistent.
    #[error("calendar file {file}: {source}")]
    Calendar {
        /// Which file.
        file: String,
        /// What is wrong with it.
        source: CalendarError,
    },
    /// A calendar year file is not named after the year it describes.
    #[error("calendar file {file}: describes the year {year}, so it must be named {year}.toml")]
    CalendarFileName {
        /// Which file.
        file: String,
        /// The year inside it.
        year: i32,
    },
    /// The calendar files do not fit together (a year twice).
    #[error("calendar files: {0}")]
    CalendarYears(CalendarError),
}

#[derive(Deserialize)]
struct DepartmentsFile {
    department: Vec<Department>,
}

/// Departments by id, the SLA policy in force and the working-day calendar.
#[derive(Debug, Clone)]
pub struct ReferenceData {
    departments: BTreeMap<DepartmentId, Department>,
    order: Vec<DepartmentId>,
    sla_policy: SlaPolicy,
    calendar: Arc<WorkCalendar>,
}

impl ReferenceData {
    /// Parses the files' contents: departments, SLA policy and the calendar year files given as
    /// (file name, contents), where each file must be named `<year>.toml`.
    pub fn parse(
        departments_toml: &str,
        sla_policy_toml: &str,
        calendar_files: &[(&str, &str)],
    ) -> Result<Self, ReferenceError> {
        let file: DepartmentsFile =
            toml::from_str(departments_toml).map_err(|source| ReferenceError::Parse {
                file: "departments file",
                source,
            })?;
        if file.department.is_empty() {
            return Err(ReferenceError::NoDepartments);
        }
        let mut departments = BTreeMap::new();
        let mut order = Vec::new();
        for department in file.department {
            order.push(department.id.clone());
            if departments
                .insert(department.id.clone(), department)
                .is_some()
            {
                return Err(ReferenceError::DuplicateDepartment(
                    order.pop().map(String::from).unwrap_or_default(),
                ));
            }
        }
        let sla_policy: SlaPolicy =
            toml::from_str(sla_policy_toml).map_err(|source| ReferenceError::Parse {
                file: "sla policy file",
                source,
            })?;
        sla_policy.validate()?;
        let calendar = parse_calendar(calendar_files)?;
        Ok(Self {
            departments,
            order,
            sla_policy,
            calendar: Arc::new(calendar),
        })
    }

    /// The shipped defaults.
    pub fn defaults() -> Self {
        Self::parse(
            DEFAULT_DEPARTMENTS,
            DEFAULT_SLA_POLICY,
            DEFAULT_CALENDAR_YEARS,
        )
        .expect("the shipped reference data is valid")
    }

    /// One department.
    pub fn department(&self, id: &DepartmentId) -> Option<&Department> {
        self.departments.get(id)
    }

    /// Every department, in file order.
    pub fn departments(&self) -> impl Iterator<Item = &Department> {
        self.order.iter().filter_map(|id| self.departments.get(id))
    }

    /// The SLA policy in force.
    pub fn sla_policy(&self) -> &SlaPolicy {
        &self.sla_policy
    }

    /// The working-day calendar. Years without a file count Monday to Friday; see
    /// [`WorkCalendar::covers`].
    pub fn calendar(&self) -> &Arc<WorkCalendar> {
        &self.calendar
    }
}

/// Parses and validates each calendar file on its own (so an error names the file), checks it is
/// named after its year, then combines them.
fn parse_calendar(calendar_files: &[(&str, &str)]) -> Result<WorkCalendar, ReferenceError> {
    let mut years = Vec::with_capacity(calendar_files.len());
    for &(file, text) in calendar_files {
        let calendar_error = |source| ReferenceError::Calendar {
            file: file.to_owned(),
            source,
        };
        let year = WorkCalendar::parse_year(text).map_err(calendar_error)?;
        year.validate().map_err(calendar_error)?;
        if file != format!("{}.toml", year.year) {
            return Err(ReferenceError::CalendarFileName {
                file: file.to_owned(),
                year: year.year,
            });
        }
        years.push(year);
    }
    WorkCalendar::from_years(years).map_err(ReferenceError::CalendarYears)
}

#[cfg(test)]
mod tests {
    use caseledger_domain::case::Urgency;
    use caseledger_domain::sla::SlaPolicyError;

    use super::*;

    #[test]
    fn shipped_defaults_load() {
        let reference = ReferenceData::defaults();
        assert!(reference.departments().count() >= 10);
        assert_eq!(reference.sla_policy().version, "2026.2");
        assert!(reference.calendar().covers(2026));
        assert!(reference.calendar().covers(2027));
    }

    #[test]
    fn shipped_policy_has_category_rules() {
        let reference = ReferenceData::defaults();
        let policy = reference.sla_policy();
        assert_eq!(
            policy
                .rule("financing", Urgency::Normal)
                .category
                .as_deref(),
            Some("financing")
        );
        assert_eq!(
            policy.rule("permits", Urgency::Normal).category.as_deref(),
            Some("permits")
        );
        assert_eq!(
            policy.rule("land", Urgency::Normal).category.as_deref(),
            Some("land")
        );
        assert_eq!(policy.rule("other", Urgency::Urgent).category, None);
    }

    #[test]
    fn a_bad_calendar_file_is_an_error_naming_the_file() {
        let bad = "year = 2026\nsource = \"x\"\n[[makeup_workday]]\ndate = \"2026-02-13\"\nfor = \"春节\"\n";
        let error = ReferenceData::parse(
            DEFAULT_DEPARTMENTS,
            DEFAULT_SLA_POLICY,
            &[("2026.toml", bad)],
        )
        .unwrap_err();
        assert!(matches!(&error, ReferenceError::Calendar { file, .. } if file == "2026.toml"));
        assert!(error.to_string().starts_with("calendar file 2026.toml: "));
        let unparsable = ReferenceData::parse(
            DEFAULT_DEPARTMENTS,
            DEFAULT_SLA_POLICY,
            &[("2026.toml", "year = \"twenty\"")],
        );
        assert!(
            matches!(unparsable, Err(ReferenceError::Calendar { file, .. }) if file == "2026.toml")
        );
    }

    #[test]
    fn a_calendar_file_must_be_named_after_its_year() {
        let result = ReferenceData::parse(
            DEFAULT_DEPARTMENTS,
            DEFAULT_SLA_POLICY,
            &[("2027.toml", DEFAULT_CALENDAR_YEARS[0].1)],
        );
        assert!(matches!(
            result,
            Err(ReferenceError::CalendarFileName { file, year: 2026 }) if file == "2027.toml"
        ));
    }

    #[test]
    fn an_invalid_policy_file_is_refused() {
        let policy = DEFAULT_SLA_POLICY.replace("version = \"2026.2\"", "version = \" \"");
        assert!(matches!(
            ReferenceData::parse(DEFAULT_DEPARTMENTS, &policy, DEFAULT_CALENDAR_YEARS),
            Err(ReferenceError::Sla(SlaPolicyError::BlankVersion))
        ));
        let policy = DEFAULT_SLA_POLICY.replace("\"3 working_days\"", "\"3 fortnights\"");
        let error =
            ReferenceData::parse(DEFAULT_DEPARTMENTS, &policy, DEFAULT_CALENDAR_YEARS).unwrap_err();
        assert!(
            error.to_string().contains("unknown unit \"fortnights\""),
            "{error}"
        );
    }

    #[test]
    fn duplicate_department_ids_are_refused() {
        let file =
            "[[department]]\nid = \"a\"\nname = \"A\"\n[[department]]\nid = \"a\"\nname = \"B\"\n";
        assert!(matches!(
            ReferenceData::parse(file, DEFAULT_SLA_POLICY, DEFAULT_CALENDAR_YEARS),
            Err(ReferenceError::DuplicateDepartment(id)) if id == "a"
        ));
    }
}

//! Reference data loaded from editable files: the departments and the SLA policy. The defaults
//! ship inside the binary (`config/` in the repository) and are written to the data directory on
//! first start, where an operator can edit them.

use std::collections::BTreeMap;

use caseledger_domain::reference::Department;
use caseledger_domain::sla::SlaPolicy;
use caseledger_domain::DepartmentId;
use serde::Deserialize;

/// The departments file shipped with caseledger.
pub const DEFAULT_DEPARTMENTS: &str = include_str!("../../../config/departments.toml");
/// The SLA policy file shipped with caseledger.
pub const DEFAULT_SLA_POLICY: &str = include_str!("../../../config/sla-policy.toml");

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
}

#[derive(Deserialize)]
struct DepartmentsFile {
    department: Vec<Department>,
}

/// Departments by id, and the SLA policy in force.
#[derive(Debug, Clone)]
pub struct ReferenceData {
    departments: BTreeMap<DepartmentId, Department>,
    order: Vec<DepartmentId>,
    sla_policy: SlaPolicy,
}

impl ReferenceData {
    /// Parses the two files' contents.
    pub fn parse(departments_toml: &str, sla_policy_toml: &str) -> Result<Self, ReferenceError> {
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
        Ok(Self {
            departments,
            order,
            sla_policy,
        })
    }

    /// The shipped defaults.
    pub fn defaults() -> Self {
        Self::parse(DEFAULT_DEPARTMENTS, DEFAULT_SLA_POLICY)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_defaults_load() {
        let reference = ReferenceData::defaults();
        assert!(reference.departments().count() >= 10);
        assert_eq!(reference.sla_policy().version, "2026.1");
    }

    #[test]
    fn duplicate_department_ids_are_refused() {
        let file =
            "[[department]]\nid = \"a\"\nname = \"A\"\n[[department]]\nid = \"a\"\nname = \"B\"\n";
        assert!(matches!(
            ReferenceData::parse(file, DEFAULT_SLA_POLICY),
            Err(ReferenceError::DuplicateDepartment(id)) if id == "a"
        ));
    }
}

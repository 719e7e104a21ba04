//! Reference data the domain reasons about but does not own: departments.

use serde::{Deserialize, Serialize};

use crate::ids::DepartmentId;

/// A department of the district government, as listed in the departments data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// Stable id, e.g. `dept-commerce`.
    pub id: DepartmentId,
    /// Display name (Chinese).
    pub name: String,
    /// Display name (English), if given.
    #[serde(default)]
    pub name_en: Option<String>,
    /// Whether it is an administrative law-enforcement department (appraised in public).
    #[serde(default)]
    pub law_enforcement: bool,
}

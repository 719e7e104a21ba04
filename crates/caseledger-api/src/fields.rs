//! Parsing a request body into domain types while collecting every field error, so that a 422
//! `validation_failed` lists all bad fields at once.

use caseledger_domain::text::{BoundedText, LongText};
use caseledger_domain::DepartmentId;

use crate::error::{ApiError, FieldError};
use crate::state::AppState;

/// The field errors found so far.
#[derive(Debug, Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    /// The value of `result`, or `None` after recording its error against `field`.
    pub fn take<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        result.map_err(|error| self.push(field, error)).ok()
    }

    /// Optional text: absent or blank is `None`; otherwise it must fit `MAX` characters.
    pub fn optional<const MAX: usize>(
        &mut self,
        field: &str,
        text: Option<&str>,
    ) -> Option<BoundedText<MAX>> {
        let text = text.filter(|text| !text.trim().is_empty())?;
        self.take(field, BoundedText::<MAX>::parse(text))
    }

    /// Required long text (1 to 20,000 characters).
    pub fn long(&mut self, field: &str, text: &str) -> Option<LongText> {
        self.take(field, LongText::parse(text))
    }

    /// An optional value parsed by `parse`: absent or blank is `None`.
    pub fn optional_with<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        text: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let text = text.filter(|text| !text.trim().is_empty())?;
        self.take(field, parse(text))
    }

    /// Every item of `list` that `parse` accepts; each refused one is recorded against
    /// `field[index]`.
    pub fn each<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        list: &[String],
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Vec<T> {
        list.iter()
            .enumerate()
            .filter_map(|(index, text)| self.take(&format!("{field}[{index}]"), parse(text)))
            .collect()
    }

    /// A department id that the reference data knows.
    pub fn department(&mut self, field: &str, state: &AppState, id: &str) -> Option<DepartmentId> {
        let id = self.take(field, DepartmentId::parse(id))?;
        if state.reference.department(&id).is_none() {
            self.push(field, format!("unknown department {id}"));
            return None;
        }
        Some(id)
    }

    /// Records an error against `field`.
    pub fn push(&mut self, field: &str, message: impl std::fmt::Display) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.to_string(),
        });
    }

    /// `Ok` when no field was refused, else 422 `validation_failed` listing them.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.0))
        }
    }
}

/// Parses a calendar date `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<chrono::NaiveDate, &'static str> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| "must be a date YYYY-MM-DD")
}

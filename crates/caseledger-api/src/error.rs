//! The one HTTP error type. Every failure leaves as `application/problem+json` (RFC 9457) with a
//! stable `code`; internal errors are logged (with the request id, through the request's tracing
//! span) and never echoed.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::codes::ErrorCode;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's name in the request (`title`, `co_departments[1]`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:caseledger:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
    /// The stable machine-readable code, e.g. `no_response_yet`: one of the registry's codes.
    #[schema(value_type = ErrorCode)]
    pub code: String,
    /// The invalid fields, for `validation_failed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after_seconds: Option<u32>,
}

impl ApiError {
    /// An answer with a registered `code` (and the status the registry gives it) and a
    /// human-readable `detail`.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code: code.code(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_seconds: None,
        }
    }

    /// The same answer with another status: only for the registry's documented exceptions
    /// (`request_rejected` carries the status axum chose; `pledge_required` is 403 on a read).
    pub(crate) fn with_status(self, status: StatusCode) -> Self {
        Self { status, ..self }
    }

    /// An aggregate's refusal: its `code()` string with the status its kind maps to. Every such
    /// code is in the registry with that status (`codes` tests read the domain's sources).
    pub(crate) fn refusal(status: StatusCode, code: &'static str, detail: String) -> Self {
        Self {
            status,
            code,
            detail,
            errors: Vec::new(),
            retry_after_seconds: None,
        }
    }

    /// 422 `validation_failed` listing the invalid fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|error| format!("{}: {}", error.field, error.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            errors,
            ..Self::new(ErrorCode::ValidationFailed, detail)
        }
    }

    /// A 503 answer with `code`, to be retried after `seconds`.
    pub fn unavailable(code: ErrorCode, detail: impl Into<String>, seconds: u32) -> Self {
        Self {
            retry_after_seconds: Some(seconds),
            ..Self::new(code, detail)
        }
    }

    /// The same answer with `Retry-After: seconds` (a 429 tells when the limit has room again).
    pub fn with_retry_after(self, seconds: u32) -> Self {
        Self {
            retry_after_seconds: Some(seconds),
            ..self
        }
    }

    /// 500. The cause is logged here and never sent to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            ErrorCode::InternalError,
            "an internal error occurred; it has been logged",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The problem document this error answers with.
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:caseledger:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            errors: self.errors.clone(),
        }
    }
}

/// The media type of error answers.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Builds a problem+json response from a status and an already serialised problem body.
pub(crate) fn problem_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self.problem()).unwrap_or_default();
        let mut response = problem_response(self.status, body);
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<caseledger_store::StoreError> for ApiError {
    fn from(error: caseledger_store::StoreError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(%error, "database busy or unreachable");
            ApiError::unavailable(
                ErrorCode::StorageUnavailable,
                "the database is busy or unreachable; retry shortly",
                1,
            )
        } else {
            ApiError::internal(error)
        }
    }
}

//! The HTTP side of the write path: reading `If-Match` and `Idempotency-Key`, and mapping what
//! the application's write path ([`caseledger_app::commands`]: idempotency, retries, metadata)
//! reports to answers. A refusal is mapped by its [`Refusal`] code and kind.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
pub use caseledger_app::commands::{event_metadata, fingerprint, CommandOptions, Refusal};
use caseledger_app::commands::{Accepted, Failure, Report, Settled};
pub use caseledger_app::facts::Receipt;
use caseledger_domain::case::{CaseError, RefusalKind};
use caseledger_store::ExecuteError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::codes::ErrorCode;
use crate::error::{problem_response, ApiError};
use crate::state::AppState;

/// The answer to a successful command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CommandAccepted {
    /// The aggregate's id.
    pub id: String,
    /// Its version after the command; also sent as `ETag: "N"`.
    pub version: u64,
    /// The feed position of the last event written; pass it as `min_position` to read your write.
    pub position: i64,
    /// The id of what the command created inside the aggregate, when the server chose it (the
    /// visit id of `record-visit`). Absent for other commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_id: Option<String>,
    /// A new case's public number (registration only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_number: Option<String>,
    /// A new case's verifier code for the public status lookup (registration only). Shown in
    /// this answer once: only its hash is stored, and a replayed answer omits it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
}

impl From<Accepted> for CommandAccepted {
    fn from(accepted: Accepted) -> Self {
        Self {
            id: accepted.id,
            version: accepted.version,
            position: accepted.position,
            created_id: accepted.created_id,
            case_number: accepted.case_number,
            verifier: accepted.verifier,
        }
    }
}

/// Headers that shape a command: `If-Match`, `Idempotency-Key` and the request id.
pub type CommandHeaders = CommandOptions;

/// Reads the headers; a malformed `If-Match` or `Idempotency-Key` is a 400.
pub fn parse_headers(headers: &HeaderMap) -> Result<CommandHeaders, ApiError> {
    let if_match = match headers.get(header::IF_MATCH) {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or_default().trim();
            let text = text.strip_prefix("W/").unwrap_or(text);
            let number = text.trim_matches('"');
            Some(number.parse::<u64>().map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidIfMatch,
                    "If-Match must be a version in quotes, e.g. \"3\"",
                )
            })?)
        }
    };
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value.to_str().unwrap_or_default().trim();
            if key.is_empty() || key.len() > 255 {
                return Err(ApiError::new(
                    ErrorCode::InvalidIdempotencyKey,
                    "Idempotency-Key must be 1 to 255 visible ASCII characters",
                ));
            }
            Some(key.to_owned())
        }
    };
    let request_id = headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    Ok(CommandHeaders {
        if_match,
        idempotency_key,
        request_id,
    })
}

/// Maps a refusal to its answer: not found 404, forbidden 403, conflict 409, rule 422.
pub fn refusal_error<E: Refusal>(error: &E) -> ApiError {
    let detail = error.to_string();
    ApiError::refusal(refusal_status(error.kind()), error.code(), detail)
}

/// The status of a refusal's kind; the registry gives every domain code this status.
pub fn refusal_status(kind: RefusalKind) -> StatusCode {
    match kind {
        RefusalKind::NotFound => StatusCode::NOT_FOUND,
        RefusalKind::Forbidden => StatusCode::FORBIDDEN,
        RefusalKind::Conflict => StatusCode::CONFLICT,
        RefusalKind::Rule => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// Maps a case refusal to its answer.
pub fn case_error(error: &CaseError) -> ApiError {
    refusal_error(error)
}

fn execute_error<E: Refusal>(error: ExecuteError<E>) -> ApiError {
    match error {
        ExecuteError::Rejected(error) => refusal_error(&error),
        ExecuteError::VersionMismatch { expected, current } => ApiError::new(
            ErrorCode::VersionMismatch,
            format!("If-Match expected version {expected}, the current version is {current}"),
        ),
        ExecuteError::Conflict => ApiError::new(
            ErrorCode::ConcurrentModification,
            "another change was committed first; read it again and retry",
        ),
        ExecuteError::Store(error) => ApiError::from(error),
        ExecuteError::EventStore(message) => ApiError::internal(message),
    }
}

/// The answer a failed command records for its idempotency key: a refusal's problem (final), or
/// a status that is not final (the key is released and the body not kept).
pub fn key_answer<E: Refusal>(error: &ExecuteError<E>) -> (u16, String) {
    let error = match error {
        ExecuteError::Rejected(error) => refusal_error(error),
        ExecuteError::VersionMismatch { expected, current } => {
            execute_error::<E>(ExecuteError::VersionMismatch {
                expected: *expected,
                current: *current,
            })
        }
        ExecuteError::Conflict => execute_error::<E>(ExecuteError::Conflict),
        ExecuteError::Store(_) | ExecuteError::EventStore(_) => {
            return (StatusCode::INTERNAL_SERVER_ERROR.as_u16(), String::new())
        }
    };
    let body = serde_json::to_string(&error.problem()).unwrap_or_default();
    (error.status().as_u16(), body)
}

fn accepted_response(
    status: StatusCode,
    accepted: &CommandAccepted,
    body: String,
    replayed: bool,
    collection: &str,
) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    let version = accepted.version;
    if status == StatusCode::CREATED {
        if let Ok(location) = HeaderValue::from_str(&format!("{collection}/{}", accepted.id)) {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn replay(status: u16, body: String, collection: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    match serde_json::from_str::<CommandAccepted>(&body) {
        Ok(accepted) if status.is_success() => {
            accepted_response(status, &accepted, body, true, collection)
        }
        _ => {
            let mut response = problem_response(status, body);
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
    }
}

/// Maps what the application's write path ([`caseledger_app::App::execute`]) reports to the
/// answer, recording metrics. `collection` is where a created aggregate lives (the 201's
/// `Location`); a registration's `receipt` hands its verifier out in the live answer only.
pub fn answer<E: Refusal>(
    state: &AppState,
    name: &'static str,
    report: Report<E>,
    success_status: StatusCode,
    receipt: Option<Receipt>,
    collection: &str,
) -> Result<Response, ApiError> {
    for _ in 0..report.retries {
        state.metrics.observe_retry(name);
    }
    match report.outcome {
        Ok(Settled::Committed(accepted)) => {
            state.metrics.observe_command(name, "ok");
            let mut accepted = CommandAccepted::from(accepted);
            // The recorded answer (for replays) never holds the verifier; the live one does.
            accepted.verifier = receipt.map(|r| r.verifier);
            let body = serde_json::to_string(&accepted).unwrap_or_default();
            Ok(accepted_response(
                success_status,
                &accepted,
                body,
                false,
                collection,
            ))
        }
        Ok(Settled::Recovered(accepted)) => {
            let accepted = CommandAccepted::from(accepted);
            let body = serde_json::to_string(&accepted).unwrap_or_default();
            Ok(accepted_response(
                success_status,
                &accepted,
                body,
                true,
                collection,
            ))
        }
        Ok(Settled::Replayed { status, body }) => Ok(replay(status, body, collection)),
        Err(Failure::KeyReused) => Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was used for a different request",
        )),
        Err(Failure::KeyInProgress) => Err(ApiError::new(
            ErrorCode::IdempotencyKeyInProgress,
            "a request with this Idempotency-Key is still being processed",
        )),
        Err(Failure::Store(error)) => Err(ApiError::from(error)),
        Err(Failure::Execute(error)) => {
            let error = execute_error(error);
            state.metrics.observe_command(name, error.code());
            Err(error)
        }
    }
}

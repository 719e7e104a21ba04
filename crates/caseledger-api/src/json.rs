//! Body and query extractors whose rejections are problem+json like every other error, and the
//! edge's refusal of the NUL character (U+0000) in any text: PostgreSQL's `text` and `jsonb`
//! cannot store it, so it is refused with 400 `invalid_text` before anything reads or writes.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::codes::ErrorCode;
use crate::error::ApiError;

/// `Json<T>` with caseledger's error answers: 400 for malformed JSON or a wrong type, 413 for a
/// body over the limit, 415 without a JSON content type.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        // The content type first, as `axum::Json` checks it before reading the body.
        if !has_json_content_type(request.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    payload_too_large()
                } else {
                    ApiError::new(ErrorCode::UnreadableBody, rejection.body_text())
                }
            })?;
        reject_nul_in_json(&bytes)?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(rejection_to_problem(rejection)),
        }
    }
}

/// Whether the request says its body is JSON (`application/json` or `application/*+json`), the
/// test `axum::Json` applies.
fn has_json_content_type(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => subtype == "json" || subtype.ends_with("+json"),
        _ => false,
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedMediaType,
        "send the body as application/json",
    )
}

fn payload_too_large() -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, "the body exceeds 1 MiB")
}

/// The 400 answer to a NUL character in the text of a request.
fn nul_refused(place: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidText,
        format!("{place} contains the NUL character (U+0000), which no text may contain"),
    )
}

/// Refuses a JSON body with a NUL character in any string or key. JSON can carry one only as the
/// escape `\u0000` (a raw control character is a syntax error), so a body without that sequence
/// is passed without a second parse; one with it is parsed and walked, so that an escaped
/// backslash followed by `u0000` (plain text) is not mistaken for it. A body that does not parse
/// is left to the typed parse, which reports the syntax error.
fn reject_nul_in_json(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(6).any(|window| window == b"\\u0000") {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    match nul_in_value(&value, "") {
        None => Ok(()),
        Some(pointer) if pointer.is_empty() => Err(nul_refused("the body")),
        Some(pointer) => Err(nul_refused(&format!("field `{pointer}`"))),
    }
}

/// The path (`title`, `contacts[0].phone`) of the first string or key holding a NUL character.
fn nul_in_value(value: &serde_json::Value, path: &str) -> Option<String> {
    match value {
        serde_json::Value::String(text) => text.contains('\0').then(|| path.to_owned()),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| nul_in_value(item, &format!("{path}[{index}]"))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let field = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if key.contains('\0') {
                Some(field)
            } else {
                nul_in_value(item, &field)
            }
        }),
        _ => None,
    }
}

/// Whether a raw (percent-encoded) URI component decodes to text with a NUL character: only
/// `%00` decodes to it, and a raw NUL byte cannot appear in a parsed URI.
fn has_encoded_nul(component: &str) -> bool {
    component
        .as_bytes()
        .windows(3)
        .any(|window| window == b"%00")
}

/// Middleware: refuses a request whose path or query string carries a NUL character (`%00`)
/// with 400 `invalid_text`, before any extractor decodes a path parameter or query field, on
/// every route (the public ones included).
pub async fn reject_nul_in_uri(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if has_encoded_nul(uri.path()) {
        return nul_refused("the path").into_response();
    }
    if uri.query().is_some_and(has_encoded_nul) {
        return nul_refused("the query string").into_response();
    }
    next.run(request).await
}

fn rejection_to_problem(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonSyntaxError(error) => {
            ApiError::new(ErrorCode::MalformedJson, error.body_text())
        }
        JsonRejection::JsonDataError(error) => {
            ApiError::new(ErrorCode::InvalidBody, error.body_text())
        }
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
        other => ApiError::new(ErrorCode::UnreadableBody, other.body_text()),
    }
}

/// `Query<T>` with caseledger's error answers: 400 `invalid_query` naming the bad parameter.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::new(
                ErrorCode::InvalidQuery,
                rejection.body_text(),
            )),
        }
    }
}

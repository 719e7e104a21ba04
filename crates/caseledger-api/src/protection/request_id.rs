//! The client's `X-Request-Id`, kept only when it is fit to log and to store.
//!
//! A request id ends up in log lines, in the answer and in the metadata of every event the
//! request appends (the audit trail keeps it forever). A client may send its own, so that its
//! logs and ours can be matched; it is kept only when it is at most [`MAX_REQUEST_ID`]
//! printable ASCII characters without spaces. Anything else (too long, control characters,
//! spaces, non-ASCII, several values) is dropped, and the server makes a new id, as it does
//! when none was sent.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The longest client request id kept.
pub const MAX_REQUEST_ID: usize = 64;

/// Whether `value` may serve as a request id.
pub fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID
        && bytes.iter().all(|byte| byte.is_ascii_graphic())
}

/// Removes an unacceptable client `X-Request-Id` before the id layer looks for one.
pub async fn drop_unacceptable(mut request: Request, next: Next) -> Response {
    let headers = request.headers_mut();
    let mut values = headers.get_all("x-request-id").iter();
    let keep = match (values.next(), values.next()) {
        (None, _) => true,
        (Some(value), None) => acceptable(value),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        tracing::debug!("replacing a client request id that is not short printable ASCII");
        headers.remove("x-request-id");
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_printable_ids_are_acceptable() {
        let id = |text: &[u8]| HeaderValue::from_bytes(text).unwrap();
        assert!(acceptable(&id(b"req-42_ABC.x:y/z")));
        assert!(acceptable(&id("a".repeat(64).as_bytes())));
        assert!(!acceptable(&id("a".repeat(65).as_bytes())));
        assert!(!acceptable(&id(b"")));
        assert!(!acceptable(&id(b"two words")));
        assert!(!acceptable(&id(b"tab\there")));
        // (Other control characters never reach us: HTTP parsers refuse them in headers.)
        assert!(!acceptable(&id("caf\u{e9}".as_bytes())));
    }
}

//! Security headers on every answer, and CORS.
//!
//! - Every answer: `X-Content-Type-Options: nosniff`.
//! - Private answers (any route that is not public, and any request that carried credentials):
//!   `Cache-Control: no-store`, so neither a shared cache nor the browser's disk keeps them.
//! - HTML pages: a strict CSP; a page's own policy is kept and completed with
//!   `frame-ancestors 'none'`, `base-uri 'none'` and `form-action 'none'` when it lacks them
//!   (no page of ours is framed, has a `<base>` or a form), plus `X-Frame-Options: DENY` for
//!   browsers without CSP 2 and `Referrer-Policy: no-referrer` (a page's URL carries a
//!   campaign id; no other site needs it).
//! - CORS: closed (no `Access-Control-*` answer at all) unless origins are configured; then
//!   those origins, and only those, may call with the headers the API reads.

use axum::extract::Request;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::Origin;

/// The policy of an HTML page that sets none.
const DEFAULT_HTML_POLICY: &str = "default-src 'none'";

/// Directives every HTML page's policy must have, with the value used when it lacks them.
const REQUIRED_DIRECTIVES: [(&str, &str); 3] = [
    ("frame-ancestors", "frame-ancestors 'none'"),
    ("base-uri", "base-uri 'none'"),
    ("form-action", "form-action 'none'"),
];

/// Routes that answer the same to everyone and carry nothing private: the public endpoints, the
/// API reference and the probes.
pub fn is_open_route(path: &str) -> bool {
    super::rate_limit::is_public_route(path)
        || matches!(path, "/docs" | "/openapi.json" | "/healthz" | "/readyz")
}

/// The middleware that adds the headers described in the module documentation.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let private = request.headers().contains_key(header::AUTHORIZATION)
        || !is_open_route(request.uri().path());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if private {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if html {
        let policy = headers
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|value| value.to_str().ok())
            .unwrap_or(DEFAULT_HTML_POLICY);
        let policy = completed_policy(policy);
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}

/// `policy` with every [`REQUIRED_DIRECTIVES`] it lacks appended.
fn completed_policy(policy: &str) -> String {
    let present: Vec<&str> = policy
        .split(';')
        .filter_map(|directive| directive.split_whitespace().next())
        .collect();
    let mut completed = policy.trim().trim_end_matches(';').to_owned();
    for (name, directive) in REQUIRED_DIRECTIVES {
        if !present.iter().any(|given| given.eq_ignore_ascii_case(name)) {
            completed.push_str("; ");
            completed.push_str(directive);
        }
    }
    completed
}

/// The CORS layer for `origins`, or none when no origin is configured (then a browser on
/// another origin gets no `Access-Control-Allow-Origin` and may not read an answer).
pub fn cors_layer(origins: &[Origin]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin.as_str()).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                header::RETRY_AFTER,
                HeaderName::from_static("x-request-id"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_policy_is_kept_and_completed() {
        assert_eq!(
            completed_policy("default-src 'none'; style-src 'unsafe-inline'"),
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; \
             base-uri 'none'; form-action 'none'"
        );
        let strict =
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
        assert_eq!(completed_policy(strict), strict);
        assert_eq!(
            completed_policy(DEFAULT_HTML_POLICY),
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        );
    }
}

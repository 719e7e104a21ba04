//! Operations endpoints: liveness, readiness, metrics, the OpenAPI document and its reference
//! page (rendered by `reference_page`), and the departments list.

mod reference_page;

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// A projection's state in the readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionReadiness {
    /// The projection's name.
    pub name: String,
    /// Events recorded but not yet applied.
    pub backlog: i64,
    /// The error stopping it, if any.
    pub last_error: Option<String>,
}

/// The readiness answer: the status for anyone (probes); the database and each projection
/// only for an admin's token on the public port, or on the admin listener.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    #[schema(value_type = crate::schema::ReadinessStatus)]
    pub status: String,
    /// Whether the database answered (detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<bool>,
    /// Each projection (detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projections: Option<Vec<ProjectionReadiness>>,
}

/// Liveness: the process answers and can write. On SQLite a write that changes nothing is
/// committed, so a full disk or an I/O error shows here (503 `storage_unavailable`) until it is
/// gone; the server recovers by itself once it is (the writer connection is replaced).
#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses(
        (status = 200, description = "Alive"),
        (status = 503, description = "The database cannot be written (disk full, I/O error)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.probe_write().await {
        Ok(()) => "ok\n".into_response(),
        Err(error) => {
            tracing::warn!(%error, "liveness: the database cannot be written");
            ApiError::unavailable(
                ErrorCode::StorageUnavailable,
                "the database cannot be written (disk full or I/O error); retry shortly",
                1,
            )
            .into_response()
        }
    }
}

/// How long a projection may have a backlog without advancing before it counts as stalled.
const STALL_AFTER_SECONDS: i64 = 60;

/// A projection is stalled when an error stops it, or when an event has waited for it for over a
/// minute and it has not advanced for a minute either (e.g. a long-open transaction holds the
/// PostgreSQL horizon back).
fn is_stalled(
    status: &caseledger_store::ProjectionStatus,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    if status.last_error.is_some() {
        return true;
    }
    let older_than_limit = |at: Option<&str>| {
        at.and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .is_some_and(|at| (now - at.to_utc()).num_seconds() > STALL_AFTER_SECONDS)
    };
    // A long catch-up is not a stall as long as the projection keeps advancing.
    older_than_limit(status.oldest_pending_at.as_deref())
        && older_than_limit(Some(&status.updated_at))
}

/// Readiness: the database answers and no projection is stalled (stopped by an error, or events
/// waiting for it for over a minute). Anyone gets the status (200 `ready` or 503 `not_ready`);
/// the detail (the database, each projection's backlog and error) is for an `admin` token, and
/// never on the public port when an admin listener (`CASELEDGER_ADMIN_LISTEN`) serves it.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready (with the detail for an admin's token)", body = Readiness),
        (status = 401, description = "A token was sent and is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A token was sent and is not an admin's (`role_not_allowed`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Not ready", body = Readiness),
    )
)]
pub async fn readyz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let detail = if state.ops_listener || !crate::auth::has_authorization(&headers) {
        false
    } else {
        match crate::auth::bearer(&headers, &state).await {
            Ok(actor) if actor.has(caseledger_domain::Role::Admin) => true,
            Ok(_) => return not_admin().into_response(),
            Err(error) => return error.into_response(),
        }
    };
    readiness(&state, detail).await
}

/// The readiness answer, with or without the detail.
pub async fn readiness(state: &AppState, detail: bool) -> Response {
    let database = state.db.ping().await.is_ok();
    let statuses = if database {
        state.projector.status().await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let now = chrono::Utc::now();
    let stalled = statuses.iter().any(|status| is_stalled(status, now));
    let ready = database && !stalled;
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" }.to_owned(),
        database: detail.then_some(database),
        projections: detail.then(|| {
            statuses
                .into_iter()
                .map(|status| ProjectionReadiness {
                    name: status.name,
                    backlog: status.backlog,
                    last_error: status.last_error,
                })
                .collect()
        }),
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

fn not_admin() -> ApiError {
    ApiError::new(
        ErrorCode::RoleNotAllowed,
        "the operations detail is for the admin role",
    )
}

/// Prometheus metrics, for an `admin` token; not served on the public port at all when an admin
/// listener (`CASELEDGER_ADMIN_LISTEN`) serves them (404 there).
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin (`role_not_allowed`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Served on the admin listener instead (`route_not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.ops_listener {
        return fallback().await.into_response();
    }
    match crate::auth::bearer(&headers, &state).await {
        Ok(actor) if actor.has(caseledger_domain::Role::Admin) => render_metrics(&state).await,
        Ok(_) => not_admin().into_response(),
        Err(error) => error.into_response(),
    }
}

/// The Prometheus text.
pub async fn render_metrics(state: &AppState) -> Response {
    let statuses = state.projector.status().await.unwrap_or_default();
    let body = state.metrics.render(
        &statuses,
        state.aggregates.stats(),
        state.revocations.stats(),
        chrono::Utc::now(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// The admin listener's router (`CASELEDGER_ADMIN_LISTEN`): `/metrics` and the detailed
/// `/readyz` without a token (the listener is meant for an operations network only), and
/// `/healthz`.
pub fn admin_router(state: AppState) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/metrics",
            get(|State(state): State<AppState>| async move { render_metrics(&state).await }),
        )
        .route(
            "/readyz",
            get(|State(state): State<AppState>| async move { readiness(&state, true).await }),
        )
        .route("/healthz", get(healthz))
        .fallback(fallback)
        .with_state(state)
}

/// A department.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentBody {
    /// Stable id.
    pub id: String,
    /// Name (Chinese).
    pub name: String,
    /// Name (English).
    pub name_en: Option<String>,
    /// Whether it is an administrative law-enforcement department.
    pub law_enforcement: bool,
}

/// The departments (reference data), for any authenticated user.
#[utoipa::path(
    get, path = "/api/v1/departments", tag = "reference",
    responses((status = 200, description = "Every department", body = [DepartmentBody]), (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []))
)]
pub async fn departments(
    State(state): State<AppState>,
    _actor: Authenticated,
) -> Json<Vec<DepartmentBody>> {
    Json(
        state
            .reference
            .departments()
            .map(|department| DepartmentBody {
                id: department.id.to_string(),
                name: department.name.clone(),
                name_en: department.name_en.clone(),
                law_enforcement: department.law_enforcement,
            })
            .collect(),
    )
}

/// The OpenAPI 3.1 document, generated from the routes as registered.
pub async fn openapi_json() -> Response {
    match crate::openapi::document().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(error) => ApiError::internal(error).into_response(),
    }
}

/// The API reference page, rendered on the server from the OpenAPI document with navigation by
/// tag: no script, no network access needed. The document is fixed at build time, so the page is
/// rendered once.
pub async fn docs() -> Response {
    static PAGE: OnceLock<String> = OnceLock::new();
    let page = PAGE.get_or_init(|| reference_page::render(&crate::openapi::document()));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        page.as_str(),
    )
        .into_response()
}

/// A known path with a method it does not serve.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not serve that method; see /docs",
    )
}

/// Any unknown path.
pub async fn fallback() -> ApiError {
    ApiError::new(ErrorCode::RouteNotFound, "no such endpoint; see /docs")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(
        last_error: Option<&str>,
        oldest_pending_at: Option<&str>,
        updated_at: &str,
    ) -> caseledger_store::ProjectionStatus {
        caseledger_store::ProjectionStatus {
            name: "cases".into(),
            checkpoint: Default::default(),
            events_applied: 0,
            updated_at: updated_at.into(),
            last_error: last_error.map(Into::into),
            backlog: i64::from(oldest_pending_at.is_some()),
            oldest_pending_at: oldest_pending_at.map(Into::into),
        }
    }

    #[test]
    fn a_projection_is_stalled_by_an_error_or_by_waiting_events_without_progress() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .unwrap()
            .to_utc();
        let long_ago = "2026-11-24T11:00:00Z";
        let just_now = "2026-11-24T11:59:59Z";
        assert!(
            !is_stalled(&status(None, None, long_ago), now),
            "idle is fine"
        );
        assert!(is_stalled(&status(Some("boom"), None, just_now), now));
        assert!(is_stalled(&status(None, Some(long_ago), long_ago), now));
        assert!(
            !is_stalled(&status(None, Some(long_ago), just_now), now),
            "catching up is fine"
        );
        assert!(
            !is_stalled(&status(None, Some(just_now), long_ago), now),
            "a fresh event is fine"
        );
    }
}

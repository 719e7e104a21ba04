//! The caseledger HTTP API: authentication, command and read endpoints, operations endpoints.
//!
//! Architecture invariants:
//! - HTTP shapes live here; domain aggregates and store views are never serialised directly.
//! - Handlers extract, call one store method (or the shared command path in [`commands`]), and
//!   map the result. No SQL here.
//! - Every error leaves as problem+json with a stable code ([`error::ApiError`]); internal errors
//!   are logged with the request id and never echoed.
//! - The actor on events comes from the verified token only.

pub mod appraisal_page;
pub mod appraisals;
pub mod audit;
pub mod auth;
pub mod cases;
pub mod codes;
pub mod commands;
pub mod consultations;
pub mod endpoint;
pub mod error;
pub mod experts;
pub mod feed;
pub mod fields;
pub mod json;
pub mod kpi;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod ops;
pub mod people;
pub mod portfolios;
pub mod protection;
pub mod queues;
pub mod reads;
pub mod revocations;
pub mod rewards;
pub mod schema;
pub mod state;
pub mod subjects;

use crate::codes::ErrorCode;
use std::future::Future;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::JwtKeys;
pub use caseledger_app::{reference, ReferenceData};
pub use protection::Protection;
pub use state::AppState;

/// The largest request body accepted (1 MiB); larger bodies get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Every documented route, registered once: the route and its OpenAPI operation together.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(cases::routes())
        .merge(subjects::routes())
        .merge(portfolios::routes())
        .merge(appraisals::routes())
        .routes(routes!(queues::department_queue))
        .routes(routes!(queues::unassigned_queue))
        .routes(routes!(queues::overdue_queue))
        .routes(routes!(queues::public_case_status))
        .merge(experts::routes())
        .merge(consultations::routes())
        .merge(rewards::routes())
        .merge(revocations::routes())
        .merge(people::routes())
        .routes(routes!(ops::departments))
        .routes(routes!(kpi::department_kpi_handler))
        .routes(routes!(kpi::kpi_trend))
        .routes(routes!(kpi::kpi_list))
        .routes(routes!(kpi::public_kpi))
        .routes(routes!(appraisal_page::public_appraisal_page))
        .routes(routes!(audit::audit_events))
        .routes(routes!(audit::public_digests))
        .merge(feed::routes())
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
}

/// The full router with the default [`Protection`].
pub fn router(state: AppState) -> Router {
    router_with(state, &Protection::default())
}

/// The full router: API, operations endpoints, request ids, tracing, metrics, body limit, and
/// the protection of the edge (`protection`: headers, CORS, rate limits, request timeout).
pub fn router_with(state: AppState, protection: &Protection) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let (api, _) = api_routes().split_for_parts();
    let rate_limits = std::sync::Arc::new(protection::rate_limit::RateLimits::new(protection));
    let api = api
        .route("/openapi.json", get(ops::openapi_json))
        .route("/docs", get(ops::docs))
        .fallback(ops::fallback)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(json::reject_nul_in_uri))
        .layer(middleware::from_fn(plain_errors_as_problems))
        // Inside the metrics, so limited and timed-out requests are counted too.
        .layer(middleware::from_fn_with_state(
            rate_limits,
            protection::rate_limit::limit,
        ))
        .layer(middleware::from_fn_with_state(
            protection.request_timeout.0,
            protection::server::request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .with_state(state);
    let api = match protection::headers::cors_layer(&protection.cors_origins) {
        Some(cors) => api.layer(cors),
        None => api,
    };
    api.layer(middleware::from_fn(protection::headers::security_headers))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let request_id = request
                .headers()
                .get("x-request-id")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id)
        })
        .on_request(())
        .on_response(
            tower_http::trace::DefaultOnResponse::new()
                .level(tracing::Level::INFO)
                .latency_unit(tower_http::LatencyUnit::Millis),
        ))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn(protection::request_id::drop_unacceptable))
}

/// Every error is problem+json: an error answered in plain text (or without a body type) by
/// axum itself — a path parameter that is not valid UTF-8 or not of its type, a route's missing
/// parameters — is answered again as a problem with a stable code. Errors the handlers
/// produce are problems already, and the public HTML page keeps its HTML 404.
async fn plain_errors_as_problems(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| value.starts_with("text/plain"));
    if !plain {
        return response;
    }
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let error = match status {
        StatusCode::BAD_REQUEST => error::ApiError::new(
            ErrorCode::InvalidPath,
            "a path segment is not valid: not UTF-8, or not of the expected type",
        ),
        StatusCode::NOT_FOUND => ops::fallback().await,
        StatusCode::METHOD_NOT_ALLOWED => ops::method_not_allowed().await,
        StatusCode::PAYLOAD_TOO_LARGE => {
            error::ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
        }
        status if status.is_server_error() => {
            let body = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap_or_default();
            error::ApiError::internal(String::from_utf8_lossy(&body))
        }
        status => error::ApiError::new(
            ErrorCode::RequestRejected,
            status
                .canonical_reason()
                .unwrap_or("the request was rejected"),
        )
        .with_status(status),
    };
    error.into_response()
}

async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    state.metrics.observe_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Serves the API on `listener` with the application's runners beside it until `shutdown`
/// completes; then stops accepting, finishes open requests, and stops the runners, which brings
/// every projection (the audit chain included) up to the last commit for at most
/// [`caseledger_app::SHUTDOWN_DRAIN`].
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, None, state, Protection::default(), shutdown).await
}

/// [`serve`] with the edge's settings (`protection`: the connection cap and header-read timeout
/// of the accept loop in `protection::server`, and what [`router_with`] applies), and, when
/// `admin` is given, the operations endpoints (`/metrics`, the detailed `/readyz`, `/healthz`)
/// on that listener without a token; the public port then serves no metrics and only the bare
/// readiness status (`ops::admin_router`).
pub async fn serve_with(
    listener: TcpListener,
    admin: Option<TcpListener>,
    mut state: AppState,
    protection: Protection,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.ops_listener = admin.is_some();
    let app = router_with(state.clone(), &protection);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let admin_server = admin.map(|admin| {
        let mut stopped = stopped.clone();
        let router = ops::admin_router(state.clone());
        tokio::spawn(async move {
            axum::serve(admin, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await
        })
    });
    let mut public_stopped = stopped;
    let stop = std::sync::Arc::new(stop);
    let signal = {
        let stop = stop.clone();
        // Open event streams end when the stop begins; the graceful stop waits for every
        // connection.
        let closing = state.app.closing.clone();
        tokio::spawn(async move {
            shutdown.await;
            closing.close();
            let _ = stop.send(true);
        })
    };
    let result = caseledger_app::with_runners(&state.app, async {
        protection::server::serve(listener, app, &protection, async move {
            let _ = public_stopped.wait_for(|stop| *stop).await;
        })
        .await
    })
    .await;
    // However the public server ended, the admin listener ends with it.
    let _ = stop.send(true);
    signal.abort();
    let result = result.map_err(std::io::Error::other)?;
    if let Some(admin_server) = admin_server {
        admin_server.await.map_err(std::io::Error::other)??;
    }
    result
}

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
pub mod fields;
pub mod json;
pub mod kpi;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod portfolios;
pub mod queues;
pub mod reads;
pub mod reference;
pub mod rewards;
pub mod state;
pub mod subjects;
pub mod timers;

use crate::codes::ErrorCode;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use caseledger_store::Projection;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::JwtKeys;
pub use reference::ReferenceData;
pub use state::AppState;

/// The largest request body accepted (1 MiB); larger bodies get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The projections the server keeps up to date.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(caseledger_store::cases::CasesProjection),
        Arc::new(caseledger_store::subjects::SubjectsProjection),
        Arc::new(caseledger_store::portfolios::PortfoliosProjection),
        Arc::new(caseledger_store::kpi::KpiProjection),
        Arc::new(caseledger_store::appraisals::AppraisalsProjection),
        Arc::new(caseledger_store::consultations::ExpertsProjection),
        Arc::new(caseledger_store::consultations::ConsultationsProjection),
        Arc::new(caseledger_store::rewards::RewardsProjection),
        Arc::new(caseledger_store::audit::AuditChainProjection::default()),
    ]
}

/// Every documented route, registered once: the route and its OpenAPI operation together.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(cases::routes())
        .routes(routes!(queues::department_queue))
        .routes(routes!(queues::unassigned_queue))
        .routes(routes!(queues::overdue_queue))
        .routes(routes!(queues::public_case_status))
        .routes(routes!(subjects::register_subject))
        .routes(routes!(subjects::list_subjects))
        .routes(routes!(subjects::get_subject))
        .routes(routes!(subjects::update_contact))
        .routes(routes!(subjects::rename_subject))
        .routes(routes!(portfolios::create_portfolio))
        .routes(routes!(portfolios::list_portfolios))
        .routes(routes!(portfolios::overdue_visits))
        .routes(routes!(portfolios::get_portfolio))
        .routes(routes!(portfolios::portfolio_overview))
        .routes(routes!(portfolios::list_visits))
        .routes(routes!(portfolios::assign_subject))
        .routes(routes!(portfolios::unassign_subject))
        .routes(routes!(portfolios::record_visit))
        .routes(routes!(portfolios::link_case))
        .merge(experts::routes())
        .merge(consultations::routes())
        .merge(rewards::routes())
        .routes(routes!(ops::departments))
        .routes(routes!(kpi::department_kpi_handler))
        .routes(routes!(kpi::kpi_trend))
        .routes(routes!(kpi::kpi_list))
        .routes(routes!(kpi::public_kpi))
        .routes(routes!(appraisals::create_appraisal))
        .routes(routes!(appraisals::list_appraisals))
        .routes(routes!(appraisals::get_appraisal))
        .routes(routes!(appraisals::open_appraisal))
        .routes(routes!(appraisals::cast_ballot))
        .routes(routes!(appraisals::close_appraisal))
        .routes(routes!(appraisals::compute_appraisal))
        .routes(routes!(appraisals::publish_appraisal))
        .routes(routes!(appraisals::add_rectification))
        .routes(routes!(appraisals::report_rectification))
        .routes(routes!(appraisals::recheck_rectification))
        .routes(routes!(appraisals::public_appraisal))
        .routes(routes!(appraisals::public_appraisal_csv))
        .routes(routes!(appraisal_page::public_appraisal_page))
        .routes(routes!(audit::audit_events))
        .routes(routes!(audit::public_digests))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
}

/// The full router: API, operations endpoints, request ids, tracing, metrics and body limit.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let (api, _) = api_routes().split_for_parts();
    let api = api
        .route("/openapi.json", get(ops::openapi_json))
        .route("/docs", get(ops::docs))
        .fallback(ops::fallback)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(json::reject_nul_in_uri))
        .layer(middleware::from_fn(plain_errors_as_problems))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .with_state(state);
    api.layer(PropagateRequestIdLayer::new(request_id.clone()))
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

/// Serves the API on `listener` and runs the projector beside it until `shutdown` completes;
/// then stops accepting, finishes open requests, stops the timer runner and brings every
/// projection (the audit chain included) up to the last commit, for at most [`SHUTDOWN_DRAIN`].
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state
        .projector
        .ensure_checkpoints()
        .await
        .map_err(std::io::Error::other)?;
    let (stop_projector, projector_stopped) = tokio::sync::oneshot::channel::<()>();
    let projector = tokio::spawn(state.projector.clone().run(async {
        let _ = projector_stopped.await;
    }));
    // Seal the audit chain at least hourly while events arrive, even in a quiet hour.
    let sealer = tokio::spawn(seal_periodically(state.db.clone()));
    // Fire deadline warnings, breaches and escalations as they fall due.
    let (stop_timers, timers_stopped) = tokio::sync::oneshot::channel::<()>();
    let timers = tokio::spawn(timers::run(state.clone(), async {
        let _ = timers_stopped.await;
    }));
    let app = router(state.clone());
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_timers.send(());
    let _ = timers.await;
    let _ = stop_projector.send(());
    let _ = projector.await;
    // Every request has finished and nothing writes any more: bring every projection, the
    // audit chain included, up to the last commit before exiting, so that a command answered
    // just before a SIGTERM is not left unchained until the next start (where deleting it would
    // go unnoticed). Bounded, so a stuck database cannot hold the shutdown forever.
    drain_projections(&state.projector, SHUTDOWN_DRAIN).await;
    sealer.abort();
    result
}

/// How long a shutdown waits for the projections to reach the last commit.
pub const SHUTDOWN_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the projector until every projection has applied every committed event, for at most
/// `limit`; logs what it did.
async fn drain_projections(projector: &caseledger_store::Projector, limit: std::time::Duration) {
    match tokio::time::timeout(limit, projector.catch_up()).await {
        Ok(Ok(applied)) => tracing::info!(applied, "projections drained before exit"),
        Ok(Err(error)) => {
            tracing::error!(%error, "draining the projections before exit failed")
        }
        Err(_) => tracing::error!(
            seconds = limit.as_secs(),
            "the projections did not reach the last commit before the shutdown deadline"
        ),
    }
}

async fn seal_periodically(db: caseledger_store::Database) {
    let policy = caseledger_store::audit::SealPolicy::default();
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        interval.tick().await;
        if let Err(error) = db.seal_audit_if_due(policy).await {
            tracing::warn!(%error, "sealing the audit chain failed");
        }
    }
}

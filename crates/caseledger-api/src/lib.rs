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
pub mod schema;
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
use axum::routing::{get, post};
use axum::Router;
use caseledger_store::Projection;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

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

/// The full router: API, operations endpoints, request ids, tracing, metrics and body limit.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let api = Router::new()
        .route(
            "/api/v1/cases",
            post(cases::register_case).get(cases::list_cases),
        )
        .route("/api/v1/cases/{case_id}", get(cases::get_case))
        .route("/api/v1/cases/{case_id}/history", get(cases::case_history))
        .route(
            "/api/v1/cases/{case_id}/dispatch",
            post(cases::dispatch_case),
        )
        .route("/api/v1/cases/{case_id}/accept", post(cases::accept_case))
        .route("/api/v1/cases/{case_id}/respond", post(cases::respond_case))
        .route("/api/v1/cases/{case_id}/rate", post(cases::rate_case))
        .route("/api/v1/cases/{case_id}/add-note", post(cases::add_note))
        .route("/api/v1/cases/{case_id}/close", post(cases::close_case))
        .route("/api/v1/cases/{case_id}/decline", post(cases::decline_case))
        .route("/api/v1/cases/{case_id}/return", post(cases::return_case))
        .route(
            "/api/v1/cases/{case_id}/reassign",
            post(cases::reassign_case),
        )
        .route(
            "/api/v1/cases/{case_id}/log-contact",
            post(cases::log_contact),
        )
        .route(
            "/api/v1/cases/{case_id}/post-update",
            post(cases::post_update),
        )
        .route(
            "/api/v1/cases/{case_id}/request-extension",
            post(cases::request_extension),
        )
        .route(
            "/api/v1/cases/{case_id}/decide-extension",
            post(cases::decide_extension),
        )
        .route(
            "/api/v1/cases/{case_id}/request-pause",
            post(cases::request_pause),
        )
        .route(
            "/api/v1/cases/{case_id}/decide-pause",
            post(cases::decide_pause),
        )
        .route("/api/v1/cases/{case_id}/resume", post(cases::resume_case))
        .route(
            "/api/v1/cases/{case_id}/follow-up",
            post(cases::record_follow_up),
        )
        .route("/api/v1/cases/{case_id}/appeal", post(cases::appeal_rating))
        .route(
            "/api/v1/cases/{case_id}/decide-appeal",
            post(cases::decide_appeal),
        )
        .route("/api/v1/cases/{case_id}/reopen", post(cases::reopen_case))
        .route(
            "/api/v1/cases/{case_id}/withdraw",
            post(cases::withdraw_case),
        )
        .route(
            "/api/v1/cases/{case_id}/grant-exemption",
            post(cases::grant_exemption),
        )
        .route("/api/v1/cases/{case_id}/merge", post(cases::merge_case))
        .route(
            "/api/v1/cases/{case_id}/reissue-verifier",
            post(cases::reissue_verifier),
        )
        .route(
            "/api/v1/queues/department/{department_id}",
            get(queues::department_queue),
        )
        .route("/api/v1/queues/unassigned", get(queues::unassigned_queue))
        .route("/api/v1/queues/overdue", get(queues::overdue_queue))
        .route(
            "/api/v1/public/case-status",
            post(queues::public_case_status),
        )
        .route(
            "/api/v1/subjects",
            post(subjects::register_subject).get(subjects::list_subjects),
        )
        .route("/api/v1/subjects/{subject_id}", get(subjects::get_subject))
        .route(
            "/api/v1/subjects/{subject_id}/update-contact",
            post(subjects::update_contact),
        )
        .route(
            "/api/v1/subjects/{subject_id}/rename",
            post(subjects::rename_subject),
        )
        .route(
            "/api/v1/portfolios",
            post(portfolios::create_portfolio).get(portfolios::list_portfolios),
        )
        .route(
            "/api/v1/portfolios/overdue-visits",
            get(portfolios::overdue_visits),
        )
        .route(
            "/api/v1/portfolios/{portfolio_id}",
            get(portfolios::get_portfolio),
        )
        .route(
            "/api/v1/portfolios/{portfolio_id}/overview",
            get(portfolios::portfolio_overview),
        )
        .route(
            "/api/v1/portfolios/{portfolio_id}/visits",
            get(portfolios::list_visits),
        )
        .route(
            "/api/v1/portfolios/{portfolio_id}/assign-subject",
            post(portfolios::assign_subject),
        )
        .route(
            "/api/v1/portfolios/{portfolio_id}/unassign-subject",
            post(portfolios::unassign_subject),
        )
        .route(
            "/api/v1/portfolios/{portfolio_id}/record-visit",
            post(portfolios::record_visit),
        )
        .route(
            "/api/v1/portfolios/{portfolio_id}/link-case",
            post(portfolios::link_case),
        )
        .route(
            "/api/v1/experts",
            post(experts::add_expert).get(experts::list_experts),
        )
        .route("/api/v1/experts/{expert_id}", get(experts::get_expert))
        .route(
            "/api/v1/experts/{expert_id}/workload",
            get(experts::expert_workload),
        )
        .route(
            "/api/v1/experts/{expert_id}/update",
            post(experts::update_expert),
        )
        .route(
            "/api/v1/experts/{expert_id}/suspend",
            post(experts::suspend_expert),
        )
        .route(
            "/api/v1/experts/{expert_id}/reinstate",
            post(experts::reinstate_expert),
        )
        .route(
            "/api/v1/experts/{expert_id}/remove",
            post(experts::remove_expert),
        )
        .route(
            "/api/v1/consultations",
            post(consultations::submit_consultation).get(consultations::list_consultations),
        )
        .route(
            "/api/v1/consultations/adoption-rates",
            get(consultations::adoption_rates),
        )
        .route(
            "/api/v1/consultations/{consultation_id}",
            get(consultations::get_consultation),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/opinions",
            get(consultations::list_opinions),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/draw/verify",
            get(consultations::verify_draw),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/accept",
            post(consultations::accept_consultation),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/reject",
            post(consultations::reject_consultation),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/draw",
            post(consultations::draw_panel),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/propose-selection",
            post(consultations::propose_selection),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/approve-selection",
            post(consultations::approve_selection),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/accept-seat",
            post(consultations::accept_seat),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/decline-seat",
            post(consultations::decline_seat),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/declare-conflict",
            post(consultations::declare_conflict),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/recuse",
            post(consultations::recuse_expert),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/submit-opinion",
            post(consultations::submit_opinion),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/conclude",
            post(consultations::conclude),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/report-adoption",
            post(consultations::report_adoption),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/close",
            post(consultations::close_consultation),
        )
        .route(
            "/api/v1/consultations/{consultation_id}/cancel",
            post(consultations::cancel_consultation),
        )
        .route(
            "/api/v1/reward-programs",
            post(rewards::create_program).get(rewards::list_programs),
        )
        .route(
            "/api/v1/reward-programs/{program_id}",
            get(rewards::get_program),
        )
        .route(
            "/api/v1/reward-programs/{program_id}/approve",
            post(rewards::approve_program),
        )
        .route(
            "/api/v1/reward-programs/{program_id}/change-committee",
            post(rewards::change_committee),
        )
        .route(
            "/api/v1/reward-programs/{program_id}/audit",
            get(rewards::program_audit),
        )
        .route(
            "/api/v1/nominations",
            post(rewards::submit_nomination).get(rewards::list_nominations),
        )
        .route(
            "/api/v1/nominations/{nomination_id}",
            get(rewards::get_nomination),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/decide-eligibility",
            post(rewards::decide_eligibility),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/draw-reviewers",
            post(rewards::draw_reviewers),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/recuse-reviewer",
            post(rewards::recuse_reviewer),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/submit-scores",
            post(rewards::submit_scores),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/aggregate-scores",
            post(rewards::aggregate_scores),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/cast-vote",
            post(rewards::cast_vote),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/tally-vote",
            post(rewards::tally_vote),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/start-notice",
            post(rewards::start_notice),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/resolve-objection",
            post(rewards::resolve_objection),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/close-notice",
            post(rewards::close_notice),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/approve",
            post(rewards::approve_award),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/announce",
            post(rewards::announce_award),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/withdraw",
            post(rewards::withdraw_nomination),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/disqualify",
            post(rewards::disqualify_nomination),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/revoke",
            post(rewards::revoke_award),
        )
        .route(
            "/api/v1/nominations/{nomination_id}/objections",
            get(rewards::objection_filers),
        )
        .route(
            "/api/v1/public/nominations/{nomination_id}/objections",
            post(rewards::file_objection),
        )
        .route("/api/v1/public/nominations", get(rewards::public_notices))
        .route("/api/v1/public/awards", get(rewards::public_awards))
        .route("/api/v1/departments", get(ops::departments))
        .route(
            "/api/v1/departments/{department_id}/kpi",
            get(kpi::department_kpi_handler),
        )
        .route(
            "/api/v1/departments/{department_id}/kpi/trend",
            get(kpi::kpi_trend),
        )
        .route("/api/v1/kpi", get(kpi::kpi_list))
        .route("/api/v1/public/kpi", get(kpi::public_kpi))
        .route(
            "/api/v1/appraisals",
            post(appraisals::create_appraisal).get(appraisals::list_appraisals),
        )
        .route(
            "/api/v1/appraisals/{appraisal_id}",
            get(appraisals::get_appraisal),
        )
        .route(
            "/api/v1/appraisals/{appraisal_id}/open",
            post(appraisals::open_appraisal),
        )
        .route(
            "/api/v1/appraisals/{appraisal_id}/ballots",
            post(appraisals::cast_ballot),
        )
        .route(
            "/api/v1/appraisals/{appraisal_id}/close",
            post(appraisals::close_appraisal),
        )
        .route(
            "/api/v1/appraisals/{appraisal_id}/compute",
            post(appraisals::compute_appraisal),
        )
        .route(
            "/api/v1/appraisals/{appraisal_id}/publish",
            post(appraisals::publish_appraisal),
        )
        .route(
            "/api/v1/appraisals/{appraisal_id}/rectifications",
            post(appraisals::add_rectification),
        )
        .route(
            "/api/v1/appraisals/{appraisal_id}/rectifications/{item_id}/report",
            post(appraisals::report_rectification),
        )
        .route(
            "/api/v1/appraisals/{appraisal_id}/rectifications/{item_id}/recheck",
            post(appraisals::recheck_rectification),
        )
        .route(
            "/api/v1/public/appraisals/{appraisal_id}",
            get(appraisals::public_appraisal),
        )
        .route(
            "/api/v1/public/appraisals/{appraisal_id}/export.csv",
            get(appraisals::public_appraisal_csv),
        )
        .route(
            "/public/appraisals/{appraisal_id}",
            get(appraisal_page::public_appraisal_page),
        )
        .route("/api/v1/audit/events", get(audit::audit_events))
        .route("/api/v1/public/audit/digests", get(audit::public_digests))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
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

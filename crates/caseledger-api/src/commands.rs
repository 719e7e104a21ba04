//! The write path shared by every command endpoint: idempotency keys, `If-Match`, execution
//! through the store, and the mapping of outcomes to answers. It serves every aggregate: a
//! refusal is mapped by its [`Refusal`] code and kind, and [`run_in`] names the collection the
//! created aggregates live in.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use caseledger_domain::appraisal::AppraisalError;
use caseledger_domain::case::{CaseError, RefusalKind};
use caseledger_domain::consultation::ConsultationError;
use caseledger_domain::expert::ExpertError;
use caseledger_domain::portfolio::PortfolioError;
use caseledger_domain::reward::nomination::NominationError;
use caseledger_domain::reward::program::ProgramError;
use caseledger_domain::subject::SubjectError;
use caseledger_domain::Actor;
use caseledger_store::idempotency::Claim;
use caseledger_store::{AppendTerms, Committed, ExecuteError, KeyAnswer, Metadata};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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

/// What a registration hands to the registrant beside the ids: the public case number and the
/// verifier code, which is never stored in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The public case number.
    pub case_number: String,
    /// The verifier code.
    pub verifier: String,
}

/// Headers that shape a command: `If-Match`, `Idempotency-Key` and the request id.
#[derive(Debug, Clone, Default)]
pub struct CommandHeaders {
    /// The version the client expects (`If-Match: "N"`).
    pub if_match: Option<u64>,
    /// The client's idempotency key.
    pub idempotency_key: Option<String>,
    /// The request id (`X-Request-Id`).
    pub request_id: Option<String>,
}

impl CommandHeaders {
    /// Reads the headers; a malformed `If-Match` or `Idempotency-Key` is a 400.
    pub fn parse(headers: &HeaderMap) -> Result<Self, ApiError> {
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
        Ok(Self {
            if_match,
            idempotency_key,
            request_id,
        })
    }
}

/// The metadata stored beside every event of a command: who acted, for whom, in which request.
pub fn event_metadata(
    actor: &Actor,
    at: chrono::DateTime<chrono::Utc>,
    headers: &CommandHeaders,
) -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert("actor_sub".into(), actor.sub.to_string());
    metadata.insert(
        "actor_roles".into(),
        actor
            .roles
            .iter()
            .map(|role| role.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    if let Some(org) = &actor.org {
        metadata.insert("actor_org".into(), org.clone());
    }
    metadata.insert(
        "occurred_at".into(),
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    );
    if let Some(request_id) = &headers.request_id {
        metadata.insert("request_id".into(), request_id.clone());
    }
    if let Some(key) = &headers.idempotency_key {
        metadata.insert("idempotency_key".into(), key.clone());
    }
    metadata
}

/// A hash identifying a request for idempotency: method, path and the parsed body re-serialised
/// (so white space and key order do not matter).
pub fn fingerprint(method: &str, path: &str, body: &impl Serialize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    hex::encode(hasher.finalize())
}

/// A refusal of an aggregate's `decide`: a stable code and how to understand it.
pub trait Refusal: std::error::Error {
    /// The stable machine-readable code.
    fn code(&self) -> &'static str;
    /// How the refusal should be understood.
    fn kind(&self) -> RefusalKind;
}

macro_rules! refusal {
    ($($error:ty),*) => {$(
        impl Refusal for $error {
            fn code(&self) -> &'static str {
                <$error>::code(self)
            }
            fn kind(&self) -> RefusalKind {
                <$error>::kind(self)
            }
        }
    )*};
}

refusal!(
    CaseError,
    SubjectError,
    PortfolioError,
    AppraisalError,
    ExpertError,
    ConsultationError,
    ProgramError,
    NominationError
);

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

/// Whether an answer is final for its idempotency key. Conflicts, failed preconditions and
/// server-side failures are not: the client is expected to retry those with the same key.
fn is_final(status: StatusCode) -> bool {
    status.is_success()
        || (status.is_client_error()
            && status != StatusCode::CONFLICT
            && status != StatusCode::PRECONDITION_FAILED)
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

/// The answer stored for an idempotency key (and replayed): never the verifier.
fn stored_answer(
    committed: &Committed,
    created_id: Option<String>,
    case_number: Option<String>,
) -> CommandAccepted {
    CommandAccepted {
        id: committed.aggregate_id.clone(),
        version: committed.version,
        position: committed.position,
        created_id,
        case_number,
        verifier: None,
    }
}

/// One command on the way to the store.
pub struct CommandRequest<'a> {
    /// The command's name (for metrics).
    pub name: &'static str,
    /// The acting user.
    pub actor: &'a Actor,
    /// The command's headers.
    pub headers: &'a CommandHeaders,
    /// The request fingerprint (see [`fingerprint`]).
    pub fingerprint: String,
    /// 201 for a create, 200 otherwise.
    pub success_status: StatusCode,
    /// For a registration: the case number and verifier to hand out once.
    pub receipt: Option<Receipt>,
}

fn in_progress() -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyKeyInProgress,
        "a request with this Idempotency-Key is still being processed",
    )
}

/// Where a command goes and what its answer carries besides the ids.
pub struct Target {
    /// The collection (the base of a 201's `Location`), e.g. `/api/v1/subjects`.
    pub collection: &'static str,
    /// The request's path, for the idempotency fingerprint.
    pub path: String,
    /// The aggregate's id.
    pub aggregate_id: String,
    /// The command's name (metrics).
    pub name: &'static str,
    /// 201 for a create, 200 otherwise.
    pub success_status: StatusCode,
    /// What the command created inside the aggregate, when the server chose it.
    pub created_id: Option<String>,
    /// A registration receipt to hand out once.
    pub receipt: Option<Receipt>,
}

/// The whole write path of one HTTP command on an aggregate of type `A`: fingerprint the
/// request, read `If-Match` and `Idempotency-Key`, stamp the actor and the state's clock, and
/// [`run_in`] the command through the store.
pub async fn execute<A, C>(
    state: &AppState,
    actor: Actor,
    headers: &HeaderMap,
    target: Target,
    body: &impl Serialize,
    command: C,
) -> Result<Response, ApiError>
where
    A: cqrs_es::Aggregate<Command = caseledger_domain::Authored<C>, Services = ()> + 'static,
    A::Error: Refusal,
    C: Clone,
{
    let fingerprint = fingerprint("POST", &target.path, body);
    let headers = CommandHeaders::parse(headers)?;
    let now = state.now();
    let metadata = event_metadata(&actor, now, &headers);
    let request = CommandRequest {
        name: target.name,
        actor: &actor,
        headers: &headers,
        fingerprint,
        success_status: target.success_status,
        receipt: target.receipt,
    };
    let authored = caseledger_domain::Authored {
        actor: actor.clone(),
        at: now,
        command,
    };
    let expected = headers.if_match;
    let aggregate_id = target.aggregate_id;
    run_in(
        state,
        target.collection,
        target.created_id,
        request,
        |terms| {
            let (authored, metadata) = (authored.clone(), metadata.clone());
            let aggregate_id = &aggregate_id;
            async move {
                state
                    .db
                    .execute_cached_with::<A>(
                        &state.aggregates,
                        aggregate_id,
                        authored,
                        expected,
                        metadata,
                        &(),
                        &terms,
                    )
                    .await
            }
        },
    )
    .await
}

/// How many times an unconditional command is decided: the first attempt and the retries after
/// losing to a concurrent append on its aggregate. Each loss is a different commit that landed
/// between the attempt's load and its write, so this many commands sent at once on one aggregate
/// all commit.
pub const COMMAND_ATTEMPTS: u32 = 8;

/// A short random pause before retrying a command that lost a race (at most 2^attempt ms,
/// capped at 32 ms), so that the losers of one race do not meet again in the next.
async fn backoff(attempt: u32) {
    let ceiling_micros = 1_000u64 << attempt.min(5);
    let micros = rand::Rng::gen_range(&mut rand::thread_rng(), 0..=ceiling_micros);
    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
}

/// Runs `execute` under the request's idempotency key, maps the outcome and records metrics.
/// `collection` is where a created aggregate lives (the 201's `Location`); `created_id` is
/// reported in the answer as [`CommandAccepted::created_id`].
///
/// A command without `If-Match` that loses to a concurrent append on its aggregate
/// ([`ExecuteError::Conflict`]) is run again, up to [`COMMAND_ATTEMPTS`] times: `execute` decides
/// it again from the log (the store's cache does not hold an aggregate whose write failed).
/// The client did not state a version, so the new state is the one it asks to change; a
/// command with `If-Match` did, and gets its 409 or 412. Retries are counted in `/metrics`
/// (`caseledger_command_retries_total`).
///
/// `created_id` is lost in one case: a retry that finds the first attempt's claim stale and
/// its command committed answers from the log, which has the aggregate's version and position
/// but not what the lost attempt chose.
pub async fn run_in<F, Fut, E>(
    state: &AppState,
    collection: &str,
    created_id: Option<String>,
    request: CommandRequest<'_>,
    mut execute: F,
) -> Result<Response, ApiError>
where
    F: FnMut(AppendTerms) -> Fut,
    Fut: std::future::Future<Output = Result<Committed, ExecuteError<E>>>,
    E: Refusal,
{
    let principal = request.actor.sub.as_str();
    if let Some(key) = &request.headers.idempotency_key {
        match state
            .db
            .claim_idempotency_key(principal, key, &request.fingerprint)
            .await?
        {
            Claim::Claimed => {}
            Claim::Replay { status, body } => return Ok(replay(status, body, collection)),
            Claim::Mismatch => {
                return Err(ApiError::new(
                    ErrorCode::IdempotencyKeyReused,
                    "this Idempotency-Key was used for a different request",
                ))
            }
            Claim::InProgress => return Err(in_progress()),
            Claim::Stale => {
                // The first request's process died before answering. The log says whether its
                // command committed: if so, answer as it would have; if not, run it now.
                if let Some((id, version, position)) =
                    state.db.committed_with_key(principal, key).await?
                {
                    let accepted = CommandAccepted {
                        id,
                        version: version.max(0) as u64,
                        position,
                        created_id: None,
                        // This request's receipt is not the committed one; the case's number
                        // is on the case itself.
                        case_number: None,
                        verifier: None,
                    };
                    let body = serde_json::to_string(&accepted).map_err(ApiError::internal)?;
                    // The command is in the log: its answer is this 2xx even if recording it
                    // fails (the next retry answers from the log again).
                    if let Err(error) = state
                        .db
                        .complete_idempotency_key(
                            principal,
                            key,
                            request.success_status.as_u16(),
                            &body,
                        )
                        .await
                    {
                        tracing::warn!(%error, "recording a recovered idempotency answer failed");
                    }
                    return Ok(accepted_response(
                        request.success_status,
                        &accepted,
                        body,
                        true,
                        collection,
                    ));
                }
                if !state.db.take_over_idempotency_key(principal, key).await? {
                    return Err(in_progress());
                }
            }
        }
    }
    // A command that commits records its key's answer in the transaction that appends its
    // events: once it is in the log, a retry with the key replays that answer, whatever fails
    // after the commit.
    let case_number = request.receipt.as_ref().map(|r| r.case_number.clone());
    let terms = AppendTerms {
        answer: request
            .headers
            .idempotency_key
            .as_ref()
            .map(|key| KeyAnswer {
                principal: principal.to_owned(),
                key: key.clone(),
                status: request.success_status.as_u16(),
                body: {
                    let (created_id, case_number) = (created_id.clone(), case_number.clone());
                    Arc::new(move |committed: &Committed| {
                        let answer =
                            stored_answer(committed, created_id.clone(), case_number.clone());
                        // A struct of strings and integers always serialises.
                        serde_json::to_string(&answer).unwrap_or_default()
                    })
                },
            }),
        conditions: Vec::new(),
    };
    let mut attempt = 1;
    let outcome = loop {
        let outcome = execute(terms.clone()).await;
        match outcome {
            Err(ExecuteError::Conflict)
                if request.headers.if_match.is_none() && attempt < COMMAND_ATTEMPTS =>
            {
                state.metrics.observe_retry(request.name);
                backoff(attempt).await;
                attempt += 1;
            }
            outcome => break outcome,
        }
    };
    let (status, body, result) = match outcome {
        Ok(committed) => {
            state.projector.wake();
            state.metrics.observe_command(request.name, "ok");
            // Events written means the key's answer was written with them.
            let answered_in_commit = !committed.event_types.is_empty();
            let mut accepted = stored_answer(&committed, created_id, case_number);
            // The stored answer (for replays) never holds the verifier; the live one does.
            let body = serde_json::to_string(&accepted).unwrap_or_default();
            accepted.verifier = request.receipt.as_ref().map(|r| r.verifier.clone());
            let live_body = serde_json::to_string(&accepted).unwrap_or_default();
            let response = accepted_response(
                request.success_status,
                &accepted,
                live_body,
                false,
                collection,
            );
            if answered_in_commit {
                return Ok(response);
            }
            (request.success_status, body, Ok(response))
        }
        Err(error) => {
            let error = execute_error(error);
            state.metrics.observe_command(request.name, error.code());
            let body = serde_json::to_string(&error.problem()).map_err(ApiError::internal)?;
            (error.status(), body, Err(error))
        }
    };
    // Only answers that committed nothing get here: a refusal, a command that changed nothing,
    // a conflict or a failure.
    if let Some(key) = &request.headers.idempotency_key {
        if is_final(status) {
            state
                .db
                .complete_idempotency_key(principal, key, status.as_u16(), &body)
                .await?;
        } else {
            state.db.release_idempotency_key(principal, key).await?;
        }
    }
    result
}

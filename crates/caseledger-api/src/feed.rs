//! The log for other systems: every event in global commit order (the projector's order, which
//! never skips and never reorders), as pages (`GET /api/v1/feed`) and as Server-Sent Events
//! (`GET /api/v1/feed/stream`). A reader names the last position it saw; the server finds where
//! that event stands in the feed (on PostgreSQL its transaction and position) and goes on right
//! after it, so a position is a complete cursor.
//!
//! Who may follow: `integration`, `auditor`, `admin`. Personal fields
//! ([`caseledger_domain::streams::PERSONAL_FIELDS`]) are left out of every payload unless the
//! caller is an auditor, and a page (or a stream's batch) that hands personal fields to an
//! auditor is recorded in the access log first, naming the positions. Pages without personal
//! data are not: the access events would themselves be the next page's news, so a follower that
//! polls would never see the feed go quiet.

use std::collections::{BTreeSet, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use caseledger_domain::streams::{is_known_type, strip_personal_fields};
use caseledger_domain::{Actor, Role};
use caseledger_store::{FeedEvent, FeedPosition};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::record_access;
use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::error::{ApiError, Problem};
use crate::json::ApiQuery;
use crate::state::AppState;

/// At most this many events are looked at for one page, matching or not, so a narrow filter
/// over a long log answers in bounded time; `next` then points past what was looked at.
const SCAN_LIMIT: usize = 10_000;
/// How many events one read of the store fetches.
const BATCH: i64 = 500;
/// How often an open stream looks for new events when it has caught up.
const STREAM_POLL: Duration = Duration::from_millis(250);

/// Where to start and what to keep.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The position of the last event you have (`next` of the previous page); 0 or absent for
    /// the start of the log.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Stream types (`EnterpriseCase`) and event types (`CaseDispatched`), comma-separated; an
    /// event matches when its stream or its type is named. Absent: every event.
    pub types: Option<String>,
    /// At most this many events (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Why you read this (recorded in the access log).
    pub purpose: Option<String>,
}

/// Where a stream starts and what it keeps.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedStreamQuery {
    /// The position of the last event you have; the `Last-Event-ID` header, when sent, wins.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// As for the page: stream and event types, comma-separated.
    pub types: Option<String>,
    /// Seconds between heartbeats (comment lines) while nothing happens (1 to 60, default 15).
    #[param(minimum = 1, maximum = 60)]
    pub heartbeat_seconds: Option<u64>,
    /// Why you read this (recorded in the access log).
    pub purpose: Option<String>,
}

/// One event of the log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedItem {
    /// Its position: pass the last one you processed as `after`.
    pub position: i64,
    /// The stream type, e.g. `EnterpriseCase`.
    pub stream: String,
    /// The stream's id.
    pub stream_id: String,
    /// Its sequence in the stream, from 1.
    pub sequence: i64,
    /// The event type, e.g. `CaseDispatched`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event type's version.
    pub version: String,
    /// When the store recorded it.
    #[schema(format = DateTime)]
    pub time: String,
    /// The event's data, without personal fields unless you are an auditor.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Whether personal fields were left out of `payload`.
    pub redacted: bool,
    /// The event's hash in its stream's chain (see `caseledger audit verify`).
    pub hash: Option<String>,
}

/// A page of the feed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedPage {
    /// Events in commit order.
    pub items: Vec<FeedItem>,
    /// Pass as `after` for the next page: the last event looked at (it may be past the last
    /// item when a filter skipped events). Equal to `after` when nothing new has committed.
    pub next: i64,
}

/// Which events a reader keeps.
struct Filter(BTreeSet<String>);

impl Filter {
    fn parse(types: Option<&str>) -> Result<Self, ApiError> {
        let mut names = BTreeSet::new();
        for name in types.unwrap_or_default().split(',').map(str::trim) {
            if name.is_empty() {
                continue;
            }
            if !is_known_type(name) {
                return Err(ApiError::new(
                    ErrorCode::InvalidQuery,
                    format!("types: {name:?} is neither a stream type nor an event type"),
                ));
            }
            names.insert(name.to_owned());
        }
        Ok(Self(names))
    }

    fn keeps(&self, event: &FeedEvent) -> bool {
        self.0.is_empty()
            || self.0.contains(&event.aggregate_type)
            || self.0.contains(&event.event_type)
    }
}

/// The roles that may follow the log, and whether `actor` sees personal fields.
fn may_follow(actor: &Actor) -> Result<bool, ApiError> {
    if !actor.has_any(&[Role::Integration, Role::Auditor, Role::Admin]) {
        return Err(ApiError::new(
            ErrorCode::RoleNotAllowed,
            "the feed is for integrations, auditors and admins",
        ));
    }
    Ok(actor.has_any(&[Role::Auditor]))
}

/// Where the feed goes on after the event at `position`.
async fn resume_after(state: &AppState, position: i64) -> Result<FeedPosition, ApiError> {
    if position < 0 {
        return Err(invalid_after());
    }
    state
        .db
        .feed_position_at(position)
        .await?
        .ok_or_else(invalid_after)
}

fn invalid_after() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidCursor,
        "after must be 0 or the position of an event this feed gave",
    )
}

/// The item of `event`, with its personal fields unless `personal`, and whether it carries any.
fn item(event: FeedEvent, personal: bool) -> (FeedItem, bool) {
    let mut payload = serde_json::from_str(&event.payload).unwrap_or(serde_json::Value::Null);
    let carries = strip_personal_fields(&mut payload.clone());
    let redacted = !personal && strip_personal_fields(&mut payload);
    let item = FeedItem {
        position: event.at.position,
        stream: event.aggregate_type,
        stream_id: event.aggregate_id,
        sequence: event.sequence,
        event_type: event.event_type,
        version: event.event_version,
        time: event.recorded_at,
        payload,
        redacted,
        hash: event.event_hash,
    };
    (item, carries && personal)
}

/// A page of items read by `actor`: when any of them hands over personal data, the read is
/// recorded first (and refused if it cannot be).
struct Page {
    items: Vec<FeedItem>,
    /// Positions of items that carry personal data.
    personal: Vec<i64>,
    last: FeedPosition,
}

impl Page {
    async fn record(
        &self,
        state: &AppState,
        actor: &Actor,
        purpose: Option<String>,
    ) -> Result<(), ApiError> {
        if self.personal.is_empty() {
            return Ok(());
        }
        let subject = format!("positions {:?}", self.personal);
        record_access(state, actor, "feed", &subject, purpose).await
    }
}

/// Up to `limit` kept events after `from`, looking at no more than [`SCAN_LIMIT`], and the place
/// of the last event looked at.
async fn read_page(
    state: &AppState,
    mut from: FeedPosition,
    filter: &Filter,
    limit: usize,
    personal: bool,
) -> Result<Page, ApiError> {
    let mut items = Vec::new();
    let mut carrying = Vec::new();
    let mut scanned = 0;
    while items.len() < limit && scanned < SCAN_LIMIT {
        let batch = state.db.read_feed(from, BATCH).await?;
        let complete = (batch.len() as i64) < BATCH;
        for event in batch {
            scanned += 1;
            from = event.at;
            if filter.keeps(&event) {
                let (item, carries) = item(event, personal);
                if carries {
                    carrying.push(item.position);
                }
                items.push(item);
                if items.len() == limit {
                    break;
                }
            }
        }
        if complete {
            break;
        }
    }
    Ok(Page {
        items,
        personal: carrying,
        last: from,
    })
}

/// The log in commit order, a page at a time, for integrations and admins (without personal
/// fields) and auditors (with them; such a page is recorded in the access log first).
#[utoipa::path(
    get, path = "/api/v1/feed", tag = "feed",
    params(FeedQuery),
    responses(
        (status = 200, description = "Events after `after`, oldest first", body = FeedPage),
        (status = 400, description = "`invalid_query` (an unknown type, a limit out of range) or `invalid_cursor` (an `after` this feed never gave)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`: integrations, auditors and admins only", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn feed(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<FeedQuery>,
) -> Result<Json<FeedPage>, ApiError> {
    let personal = may_follow(&actor)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "limit must be 1 to 1000",
        ));
    }
    let filter = Filter::parse(query.types.as_deref())?;
    let after = query.after.unwrap_or(0);
    let from = resume_after(&state, after).await?;
    let page = read_page(&state, from, &filter, limit as usize, personal).await?;
    page.record(&state, &actor, query.purpose).await?;
    let next = if page.last == from {
        after
    } else {
        page.last.position
    };
    Ok(Json(FeedPage {
        items: page.items,
        next,
    }))
}

/// What an open stream holds between polls.
struct Follower {
    state: AppState,
    actor: Actor,
    purpose: Option<String>,
    filter: Filter,
    personal: bool,
    from: FeedPosition,
    ready: VecDeque<FeedItem>,
}

impl Follower {
    /// The next kept event, waiting for one to commit; `None` (the stream ends) once the server
    /// is stopping.
    async fn next(self) -> Option<(Result<Event, Infallible>, Self)> {
        let closing = self.state.app.closing.clone();
        tokio::select! {
            () = closing.closed() => None,
            next = self.wait() => Some(next),
        }
    }

    /// The next kept event, waiting for one to commit. A store fault is logged and retried: the
    /// stream stays open and loses nothing.
    async fn wait(mut self) -> (Result<Event, Infallible>, Self) {
        loop {
            if let Some(item) = self.ready.pop_front() {
                let event = Event::default()
                    .id(item.position.to_string())
                    .event(item.event_type.clone())
                    .json_data(&item)
                    .unwrap_or_else(|_| Event::default().comment("unencodable event"));
                return (Ok(event), self);
            }
            let read =
                match read_page(&self.state, self.from, &self.filter, 100, self.personal).await {
                    Ok(page) => page
                        .record(&self.state, &self.actor, self.purpose.clone())
                        .await
                        .map(|()| page),
                    Err(error) => Err(error),
                };
            match read {
                Ok(page) => {
                    self.from = page.last;
                    if page.items.is_empty() {
                        tokio::time::sleep(STREAM_POLL).await;
                    }
                    self.ready.extend(page.items);
                }
                Err(error) => {
                    tracing::warn!(
                        code = error.code(),
                        "the feed stream could not read the log; retrying"
                    );
                    tokio::time::sleep(STREAM_POLL * 4).await;
                }
            }
        }
    }
}

/// The log in commit order as Server-Sent Events: `id:` is the position, `event:` the event
/// type, `data:` the same object as a page item. Resume with `Last-Event-ID` (or `after`);
/// heartbeats keep idle connections open; the stream ends when the server stops. Personal data
/// handed to an auditor is recorded in the access log before it is sent.
#[utoipa::path(
    get, path = "/api/v1/feed/stream", tag = "feed",
    params(
        FeedStreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The position of the last event you have, as sent in `id:`"),
    ),
    responses(
        (status = 200, description = "A stream of events (`text/event-stream`), each `data:` a feed item", content_type = "text/event-stream", body = String),
        (status = 400, description = "`invalid_query` or `invalid_cursor`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`: integrations, auditors and admins only", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn feed_stream(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<FeedStreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let personal = may_follow(&actor)?;
    let heartbeat = query.heartbeat_seconds.unwrap_or(15);
    if !(1..=60).contains(&heartbeat) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "heartbeat_seconds must be 1 to 60",
        ));
    }
    let filter = Filter::parse(query.types.as_deref())?;
    let after = match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .ok_or_else(invalid_after)?,
        None => query.after.unwrap_or(0),
    };
    let from = resume_after(&state, after).await?;
    let follower = Follower {
        state,
        actor,
        purpose: query.purpose,
        filter,
        personal,
        from,
        ready: VecDeque::new(),
    };
    let events = futures_util::stream::unfold(follower, Follower::next);
    Ok(Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(heartbeat))
            .text("heartbeat"),
    ))
}

/// The feed routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(feed))
        .routes(routes!(feed_stream))
}

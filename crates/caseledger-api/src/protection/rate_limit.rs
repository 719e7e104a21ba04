//! Rate limits: per client address on the public endpoints, per nomination on public
//! objections, and per client address on failed authentications.
//!
//! Each limit is a GCRA (`governor`) keyed by client ([`ClientKey`]) or nomination: `n` per
//! period with bursts of `burst`. A refused request is answered 429 `rate_limited` with
//! `Retry-After` before it reaches a handler, so it writes nothing.
//!
//! Failed authentications: every 401 answer spends one unit of the client's budget. When the
//! budget is spent, that answer becomes a 429, and until the budget has room again every request
//! of that client that carries credentials is answered 429 without being looked at (a guessed
//! token is then never checked), and one without credentials to a private route still gets its
//! 401 turned into a 429. Public routes, `/docs`, `/openapi.json` and the probes stay open to it
//! (public routes under their own limit).
//!
//! Invariants: memory is bounded. Keys whose state is as good as new are dropped every
//! [`SWEEP_EVERY`] checks; if a limiter still holds more than [`MAX_KEYS`] keys after that (a
//! flood from very many addresses), it starts afresh, which forgets everyone's spending rather
//! than refusing clients it has never seen. Limits are per process: two servers behind one
//! balancer each allow the full rate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::DefaultKeyedRateLimiter;

use super::client_address::{client_key, ClientKey};
use super::{Protection, Rate, TrustedProxy};
use crate::codes::ErrorCode;
use crate::error::ApiError;

/// Most keys one limiter keeps (see the module documentation).
pub const MAX_KEYS: usize = 65_536;

/// How many checks pass between two sweeps of keys that are as good as new.
pub const SWEEP_EVERY: u64 = 1024;

/// Whether `path` is a public endpoint (no token): the JSON and CSV under `/api/v1/public/`
/// and the HTML pages under `/public/`.
pub fn is_public_route(path: &str) -> bool {
    path.starts_with("/api/v1/public/") || path.starts_with("/public/")
}

/// The nomination a public objection is filed against, when `request` is one.
fn objection_nomination(method: &Method, path: &str) -> Option<uuid::Uuid> {
    if method != Method::POST {
        return None;
    }
    let id = path
        .strip_prefix("/api/v1/public/nominations/")?
        .strip_suffix("/objections")?;
    // The handler reads the id percent-decoded and in any form `Uuid` parses, so the key is
    // the UUID itself: another spelling of the same nomination shares its budget. An id that is
    // no UUID is refused by the handler, writing nothing.
    uuid::Uuid::parse_str(&percent_decoded(id)?).ok()
}

fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// One keyed limit with bounded memory.
struct Keyed<K: std::hash::Hash + Eq + Clone> {
    quota: governor::Quota,
    limiter: RwLock<Arc<DefaultKeyedRateLimiter<K>>>,
    checks: AtomicU64,
}

impl<K: std::hash::Hash + Eq + Clone> Keyed<K> {
    fn new(rate: Rate) -> Self {
        let quota = rate.quota();
        Self {
            quota,
            limiter: RwLock::new(Arc::new(DefaultKeyedRateLimiter::dashmap(quota))),
            checks: AtomicU64::new(0),
        }
    }

    fn current(&self) -> Arc<DefaultKeyedRateLimiter<K>> {
        self.limiter
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Spends one unit of `key`'s budget; `Err(wait)` when there is none until `wait` passed.
    fn check(&self, key: &K) -> Result<(), Duration> {
        let limiter = self.current();
        let outcome = limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(Instant::now()));
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
            if limiter.len() > MAX_KEYS {
                tracing::warn!(
                    keys = limiter.len(),
                    "a rate limit holds too many keys; starting it afresh"
                );
                *self
                    .limiter
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) =
                    Arc::new(DefaultKeyedRateLimiter::dashmap(self.quota));
            }
        }
        outcome
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.current().len()
    }
}

/// The clients whose failed-authentication budget is spent, until when. Bounded like the
/// limiters: expired entries go first; when it is still full, the entry is not kept (the client
/// still got its 429).
#[derive(Default)]
struct Blocked(Mutex<HashMap<ClientKey, Instant>>);

impl Blocked {
    fn until(&self, key: &ClientKey) -> Option<Duration> {
        let blocked = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let until = *blocked.get(key)?;
        until.checked_duration_since(Instant::now())
    }

    fn block(&self, key: ClientKey, wait: Duration) {
        let now = Instant::now();
        let mut blocked = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if blocked.len() >= MAX_KEYS {
            blocked.retain(|_, until| *until > now);
        }
        if blocked.len() < MAX_KEYS {
            blocked.insert(key, now + wait);
        }
    }
}

/// Every limit of one server.
pub struct RateLimits {
    trusted_proxies: Vec<TrustedProxy>,
    public: Option<Keyed<ClientKey>>,
    objections: Option<Keyed<uuid::Uuid>>,
    auth_failures: Option<Keyed<ClientKey>>,
    blocked: Blocked,
}

impl RateLimits {
    /// The limits `protection` configures.
    pub fn new(protection: &Protection) -> Self {
        Self {
            trusted_proxies: protection.trusted_proxies.clone(),
            public: protection.rate_public.0.map(Keyed::new),
            objections: protection.rate_objections.0.map(Keyed::new),
            auth_failures: protection.rate_auth_failures.0.map(Keyed::new),
            blocked: Blocked::default(),
        }
    }
}

/// The 429 answer, `Retry-After` rounded up to whole seconds (at least 1).
fn too_many(detail: &str, wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = u32::try_from(seconds.max(1)).unwrap_or(u32::MAX);
    ApiError::new(ErrorCode::RateLimited, detail)
        .with_retry_after(seconds)
        .into_response()
}

/// The middleware that applies [`RateLimits`].
pub async fn limit(
    State(limits): State<Arc<RateLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let client = client_key(&request, &limits.trusted_proxies);
    let path = request.uri().path();
    let public = is_public_route(path);
    let with_credentials = request.headers().contains_key(header::AUTHORIZATION);
    if with_credentials && !super::headers::is_open_route(path) {
        if let Some(wait) = limits.blocked.until(&client) {
            return too_many(
                "too many failed authentications from your address; retry after Retry-After",
                wait,
            );
        }
    }
    if public {
        if let Some(limit) = &limits.public {
            if let Err(wait) = limit.check(&client) {
                tracing::info!(%client, "public rate limit reached");
                return too_many(
                    "too many requests to public endpoints from your address; retry after Retry-After",
                    wait,
                );
            }
        }
        if let (Some(limit), Some(nomination)) = (
            &limits.objections,
            objection_nomination(request.method(), path),
        ) {
            if let Err(wait) = limit.check(&nomination) {
                tracing::info!(%nomination, "objection rate limit reached");
                return too_many(
                    "too many objections to this nomination just now; retry after Retry-After",
                    wait,
                );
            }
        }
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        if let Some(limit) = &limits.auth_failures {
            if let Err(wait) = limit.check(&client) {
                tracing::warn!(%client, "failed-authentication limit reached");
                limits.blocked.block(client, wait);
                return too_many(
                    "too many failed authentications from your address; retry after Retry-After",
                    wait,
                );
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    #[test]
    fn objections_are_keyed_by_the_nomination_however_it_is_spelt() {
        let id = "0190a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b";
        let plain = objection_nomination(
            &Method::POST,
            &format!("/api/v1/public/nominations/{id}/objections"),
        );
        assert!(plain.is_some());
        for spelling in [
            id.to_uppercase(),
            id.replace('-', ""),
            id.replacen('0', "%30", 1),
        ] {
            assert_eq!(
                objection_nomination(
                    &Method::POST,
                    &format!("/api/v1/public/nominations/{spelling}/objections")
                ),
                plain,
                "{spelling}"
            );
        }
        assert_eq!(
            objection_nomination(
                &Method::GET,
                &format!("/api/v1/public/nominations/{id}/objections")
            ),
            None
        );
        assert_eq!(
            objection_nomination(&Method::POST, "/api/v1/public/nominations/x/objections"),
            None
        );
    }

    #[test]
    fn a_limit_refuses_past_its_burst_and_tells_how_long_to_wait() {
        let limit = Keyed::new(Rate::per(2, Duration::from_secs(60)));
        let key = ClientKey::of("192.0.2.1".parse().unwrap());
        assert!(limit.check(&key).is_ok());
        assert!(limit.check(&key).is_ok());
        let wait = limit.check(&key).unwrap_err();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        let other = ClientKey::of("192.0.2.2".parse().unwrap());
        assert!(limit.check(&other).is_ok(), "each key has its own budget");
    }

    #[test]
    fn memory_stays_bounded_under_many_keys() {
        // A fast rate: every key is as good as new a moment after its one request.
        let limit = Keyed::new(Rate {
            count: std::num::NonZeroU32::new(1000).unwrap(),
            period: Duration::from_millis(1),
            burst: std::num::NonZeroU32::new(1).unwrap(),
        });
        for n in 0..(3 * SWEEP_EVERY as u32) {
            let key = ClientKey::of(IpAddr::from(n.to_be_bytes()));
            assert!(limit.check(&key).is_ok());
            std::thread::sleep(Duration::from_micros(2));
        }
        assert!(
            limit.len() < 2 * SWEEP_EVERY as usize,
            "idle keys are swept: {}",
            limit.len()
        );
        // A slow rate keeps its keys until the cap, then starts afresh.
        let slow = Keyed::new(Rate::per(1, Duration::from_secs(3600)));
        for n in 0..(MAX_KEYS as u32 + 2 * SWEEP_EVERY as u32) {
            let _ = slow.check(&ClientKey::of(IpAddr::from(n.to_be_bytes())));
        }
        assert!(slow.len() <= MAX_KEYS, "{}", slow.len());
    }
}

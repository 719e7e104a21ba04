//! Sign-in through an OpenID Connect issuer: the issuer's signing keys (JWKS) and the
//! verification of its access or ID tokens (RS256, ES256).
//!
//! The keys come from the issuer's discovery document
//! (`<issuer>/.well-known/openid-configuration`, its `jwks_uri`) and are kept in memory. They are
//! fetched again when a token names a key id (`kid`) the cache does not hold (the issuer rotated
//! its keys) and when they are older than [`OidcSettings::refresh_every`]. Fetches are
//! rate-limited: at most one every [`OidcSettings::min_refresh_interval`], whatever arrives, so
//! a flood of tokens with made-up key ids costs the issuer one request per interval. A failed
//! fetch keeps the keys already held.
//!
//! A token is accepted when its signature verifies with the key its `kid` names (and the
//! algorithm that key is for: an RSA key verifies RS256 only, a P-256 key ES256 only; `none`
//! and HMAC are never accepted here), `iss` is the configured issuer, `aud` holds the configured
//! audience, `exp` is in the future and `nbf` (when present) in the past, both with
//! [`OidcSettings::leeway`]. Roles are read at a dotted claim path (`roles`,
//! `realm_access.roles`); names caseledger does not know are ignored (and logged once per name),
//! and a token with no known role is refused with 403 `no_known_role`. The organisation is read
//! at another dotted path (`org`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use caseledger_domain::{Actor, Role, UserId};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{token_error, Verified};
use crate::codes::ErrorCode;
use crate::error::ApiError;

/// What the server needs to know about its OIDC issuer.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer URL, exactly as tokens carry it in `iss` (e.g.
    /// `https://sso.example.gov.cn/realms/district`).
    pub issuer: String,
    /// The audience tokens must carry in `aud` (the client id registered for caseledger).
    pub audience: String,
    /// The dotted path of the roles claim (`roles`; `realm_access.roles` for Keycloak).
    pub roles_claim: String,
    /// The dotted path of the organisation claim (`org`).
    pub org_claim: String,
    /// The clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway: u64,
    /// Keys older than this are fetched again.
    pub refresh_every: Duration,
    /// At most one fetch of the issuer's documents per this interval.
    pub min_refresh_interval: Duration,
    /// How long one fetch may take.
    pub fetch_timeout: Duration,
}

impl OidcSettings {
    /// Settings with the defaults: roles at `roles`, the organisation at `org`, 60 s of clock
    /// skew, keys refreshed every 10 minutes, at most one fetch every 10 seconds.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            roles_claim: "roles".to_owned(),
            org_claim: "org".to_owned(),
            leeway: 60,
            refresh_every: Duration::from_secs(600),
            min_refresh_interval: Duration::from_secs(10),
            fetch_timeout: Duration::from_secs(10),
        }
    }
}

/// A verification key and the one algorithm it verifies.
struct Key {
    decoding: DecodingKey,
    algorithm: Algorithm,
}

/// The keys held, and when they were fetched.
#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, Arc<Key>>,
    fetched_at: Option<Instant>,
}

/// The state of fetching: the `jwks_uri` found by discovery and when the last fetch started.
#[derive(Default)]
struct Fetching {
    jwks_uri: Option<String>,
    last_attempt: Option<Instant>,
    /// Fetches made (discovery and JWKS documents), for tests and metrics.
    requests: u64,
}

/// Verifies the tokens of one OIDC issuer.
pub struct OidcVerifier {
    settings: OidcSettings,
    client: reqwest::Client,
    keys: RwLock<Keys>,
    fetching: tokio::sync::Mutex<Fetching>,
    /// Role names already logged as unknown (each is logged once).
    unknown_roles: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.settings.issuer)
            .field("audience", &self.settings.audience)
            .finish()
    }
}

/// The part of the discovery document used here.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// A JWKS document, each key parsed on its own (a key of a type this crate cannot read is
/// skipped instead of failing the whole set).
#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<Value>,
}

impl OidcVerifier {
    /// A verifier for `settings`; nothing is fetched until [`Self::refresh`] or the first token.
    pub fn new(settings: OidcSettings) -> Result<Self, String> {
        if settings.issuer.trim().is_empty() {
            return Err("the OIDC issuer is empty".to_owned());
        }
        if settings.audience.trim().is_empty() {
            return Err("the OIDC audience is empty (CASELEDGER_OIDC_AUDIENCE)".to_owned());
        }
        let client = reqwest::Client::builder()
            .timeout(settings.fetch_timeout)
            .connect_timeout(settings.fetch_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|error| format!("building the HTTP client: {error}"))?;
        Ok(Self {
            settings,
            client,
            keys: RwLock::default(),
            fetching: tokio::sync::Mutex::default(),
            unknown_roles: Mutex::default(),
        })
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// How many documents (discovery and JWKS) were fetched so far.
    pub async fn fetches(&self) -> u64 {
        self.fetching.lock().await.requests
    }

    /// Fetches the keys now unless a fetch started less than
    /// [`OidcSettings::min_refresh_interval`] ago. Returns whether a fetch was made and
    /// succeeded; a failure is logged and keeps the keys held.
    pub async fn refresh(&self) -> bool {
        let mut fetching = self.fetching.lock().await;
        if fetching
            .last_attempt
            .is_some_and(|at| at.elapsed() < self.settings.min_refresh_interval)
        {
            return false;
        }
        fetching.last_attempt = Some(Instant::now());
        match self.fetch(&mut fetching).await {
            Ok(count) => {
                tracing::info!(issuer = %self.settings.issuer, keys = count, "fetched the OIDC signing keys");
                true
            }
            Err(error) => {
                tracing::warn!(issuer = %self.settings.issuer, %error, "fetching the OIDC signing keys failed; keeping the keys held");
                false
            }
        }
    }

    async fn fetch(&self, fetching: &mut Fetching) -> Result<usize, String> {
        let jwks_uri = match &fetching.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.trim_end_matches('/')
                );
                fetching.requests += 1;
                let discovery: Discovery = self.get_json(&url).await?;
                if discovery.issuer != self.settings.issuer {
                    return Err(format!(
                        "the discovery document names the issuer {:?}, not {:?}",
                        discovery.issuer, self.settings.issuer
                    ));
                }
                fetching.jwks_uri = Some(discovery.jwks_uri.clone());
                discovery.jwks_uri
            }
        };
        fetching.requests += 1;
        let set: RawKeySet = match self.get_json(&jwks_uri).await {
            Ok(set) => set,
            Err(error) => {
                // Discover again next time: the issuer may have moved its keys.
                fetching.jwks_uri = None;
                return Err(error);
            }
        };
        let mut by_kid = HashMap::new();
        for raw in set.keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else {
                continue;
            };
            if let Some((kid, key)) = verification_key(&jwk) {
                by_kid.insert(kid, Arc::new(key));
            }
        }
        let count = by_kid.len();
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        keys.by_kid = by_kid;
        keys.fetched_at = Some(Instant::now());
        Ok(count)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: {}", response.status()));
        }
        response
            .json()
            .await
            .map_err(|error| format!("GET {url}: {error}"))
    }

    fn key(&self, kid: &str) -> (Option<Arc<Key>>, bool) {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let stale = keys
            .fetched_at
            .is_none_or(|at| at.elapsed() > self.settings.refresh_every);
        (keys.by_kid.get(kid).cloned(), stale)
    }

    /// Verifies a token of this issuer whose header was already read.
    pub async fn verify(
        self: &Arc<Self>,
        token: &str,
        header: &Header,
    ) -> Result<Verified, ApiError> {
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(ApiError::new(
                ErrorCode::InvalidToken,
                "the token's algorithm is not accepted (RS256 or ES256)",
            ));
        }
        let kid = header.kid.as_deref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidToken,
                "the token's header names no key (kid)",
            )
        })?;
        let (mut key, stale) = self.key(kid);
        if key.is_none() {
            // An unknown key (the issuer rotated): fetch again now, rate-limited.
            self.refresh().await;
            key = self.key(kid).0;
        } else if stale {
            // Old keys: fetch again beside this request (rate-limited), which goes on with the
            // key held, so a slow issuer never holds up requests.
            let verifier = Arc::clone(self);
            tokio::spawn(async move { verifier.refresh().await });
        }
        let key = key.ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidToken,
                "the token is signed with a key the issuer does not publish",
            )
        })?;
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = self.settings.leeway;
        validation.validate_nbf = true;
        let claims = jsonwebtoken::decode::<Value>(token, &key.decoding, &validation)
            .map_err(token_error)?
            .claims;
        self.actor(&claims)
    }

    /// The actor of verified claims.
    fn actor(&self, claims: &Value) -> Result<Verified, ApiError> {
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .and_then(UserId::parse)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidToken,
                    "the token's sub is not a valid user id",
                )
            })?;
        let names: Vec<&str> = match claim_at(claims, &self.settings.roles_claim) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(text)) => text.split_whitespace().collect(),
            _ => Vec::new(),
        };
        let mut roles = Vec::new();
        for name in names {
            match name.parse::<Role>() {
                Ok(role) if !roles.contains(&role) => roles.push(role),
                Ok(_) => {}
                Err(_) => self.note_unknown_role(name),
            }
        }
        if roles.is_empty() {
            return Err(ApiError::new(
                ErrorCode::NoKnownRole,
                format!(
                    "the token is valid but its {} claim grants no caseledger role",
                    self.settings.roles_claim
                ),
            ));
        }
        let org = match claim_at(claims, &self.settings.org_claim) {
            Some(Value::String(org)) => Some(org.clone()),
            // A group mapper may send a list: the first entry is the organisation.
            Some(Value::Array(items)) => items.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        }
        .filter(|org| !org.is_empty());
        let issued_at = claims.get("iat").and_then(Value::as_u64);
        Ok(Verified {
            actor: Actor { sub, roles, org },
            issued_at,
        })
    }

    fn note_unknown_role(&self, name: &str) {
        let mut seen = self
            .unknown_roles
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        // Bounded: a hostile issuer cannot grow the set without limit.
        if seen.len() < 1024 && seen.insert(name.to_owned()) {
            tracing::info!(role = %name, "ignoring a role name caseledger does not know (logged once)");
        }
    }
}

/// The value at a dotted path (`realm_access.roles`) of the claims.
fn claim_at<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(claims, |value, segment| value.get(segment))
}

/// The key id and verification key of a JWK, when it is a signing key this server accepts: RSA
/// for RS256, EC P-256 for ES256. Encryption keys, symmetric keys, other curves and keys without
/// a `kid` are skipped.
fn verification_key(jwk: &Jwk) -> Option<(String, Key)> {
    let kid = jwk.common.key_id.clone()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(params), None | Some(KeyAlgorithm::ES256))
            if params.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        _ => return None,
    };
    let decoding = DecodingKey::from_jwk(jwk).ok()?;
    Some((
        kid,
        Key {
            decoding,
            algorithm,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_at_dotted_paths() {
        let claims = serde_json::json!({"realm_access": {"roles": ["admin"]}, "org": "x"});
        assert_eq!(
            claim_at(&claims, "realm_access.roles"),
            Some(&serde_json::json!(["admin"]))
        );
        assert_eq!(claim_at(&claims, "org"), Some(&serde_json::json!("x")));
        assert_eq!(claim_at(&claims, "realm_access.nothing"), None);
        assert_eq!(claim_at(&claims, "org.deeper"), None);
    }

    #[test]
    fn only_rsa_and_p256_signing_keys_are_kept() {
        let symmetric: Jwk =
            serde_json::from_value(serde_json::json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}))
                .unwrap();
        assert!(verification_key(&symmetric).is_none());
    }
}

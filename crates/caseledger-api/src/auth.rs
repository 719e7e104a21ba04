//! Authentication: `Authorization: Bearer <JWT>`. Two kinds of token are understood
//! (docs/DECISIONS.md, "Identity and access"):
//!
//! - **local tokens**, HS256 with the server's secret (`caseledger token`), for the embedded
//!   default and for tests: `iat` is required, `exp − iat` may not exceed the maximum lifetime
//!   ([`DEFAULT_MAX_TTL`] unless configured), `nbf` is honoured, and every role must be known;
//! - **OIDC tokens** (RS256 or ES256) of the configured issuer, verified by [`crate::oidc`].
//!
//! When OIDC is configured, local tokens are refused unless explicitly allowed. Whatever the
//! kind, a token issued at or before an administrator's revocation of its `sub`
//! ([`crate::revocations`]) is refused. The claims become the [`Actor`] stored on events; nothing
//! in a request body can change who acts.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use caseledger_domain::{Actor, Role, UserId};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;
use crate::error::ApiError;
use crate::oidc::OidcVerifier;
use crate::state::AppState;

/// The default maximum lifetime of a local token (`exp − iat`): 12 hours.
pub const DEFAULT_MAX_TTL: u64 = 12 * 3600;

/// The shortest server secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// The clock skew allowed on `exp`, `nbf` and `iat` of a local token, in seconds.
const LOCAL_LEEWAY: u64 = 5;

/// The claims of a caseledger token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// Role names from DOMAIN.md.
    pub roles: Vec<String>,
    /// The department or enterprise the user acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch (required when verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

/// A verified token: who acts, and when the token was issued (what a revocation compares).
#[derive(Debug, Clone)]
pub struct Verified {
    /// The actor the token names.
    pub actor: Actor,
    /// `iat`, seconds since the epoch, when the token has one.
    pub issued_at: Option<u64>,
}

/// Whether tokens signed with the server's own secret are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTokens {
    /// Accepted (the default without OIDC; with OIDC only when `CASELEDGER_LOCAL_TOKENS=allow`).
    Allow,
    /// Refused with 401 `local_tokens_refused` (the default with OIDC).
    Refuse,
}

/// How this server signs people in: local tokens, an OIDC issuer, or both.
pub struct Identity {
    /// Whether local tokens are accepted.
    pub local: LocalTokens,
    /// The OIDC issuer, when configured.
    pub oidc: Option<Arc<OidcVerifier>>,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            local: LocalTokens::Allow,
            oidc: None,
        }
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("local", &self.local)
            .field(
                "oidc",
                &self.oidc.as_ref().map(|oidc| oidc.issuer().to_owned()),
            )
            .finish()
    }
}

/// The HS256 keys made from the server secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The key of ballot rater keys: HMAC-SHA-256 of a fixed label under the server secret, so
    /// it is never in the log and differs from the token key itself.
    rater_key_secret: [u8; 32],
    /// The longest `exp − iat` accepted (and minted), in seconds.
    max_ttl: u64,
}

/// The label of the rater-key secret derived from the server secret.
const RATER_KEY_LABEL: &[u8] = b"caseledger appraisal rater-key secret v1";

/// HMAC-SHA-256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A role name is not one of DOMAIN.md's.
    #[error(transparent)]
    UnknownRole(#[from] caseledger_domain::actor::UnknownRole),
    /// The user id is blank or too long.
    #[error("sub must be 1 to 128 characters without control characters")]
    BadSub,
    /// At least one role is required.
    #[error("at least one role is required")]
    NoRole,
    /// The lifetime asked for exceeds the maximum.
    #[error("a token may live at most {max} seconds (CASELEDGER_TOKEN_MAX_TTL); {asked} asked")]
    TooLong {
        /// The lifetime asked for, in seconds.
        asked: u64,
        /// The maximum, in seconds.
        max: u64,
    },
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

impl JwtKeys {
    /// Keys from a secret (the binary refuses one shorter than [`MIN_SECRET_BYTES`]), with the
    /// default maximum lifetime.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            rater_key_secret: hmac_sha256(secret, RATER_KEY_LABEL),
            max_ttl: DEFAULT_MAX_TTL,
        }
    }

    /// These keys with another maximum lifetime, in seconds.
    pub fn with_max_ttl(mut self, seconds: u64) -> Self {
        self.max_ttl = seconds;
        self
    }

    /// The longest lifetime a token may have, in seconds.
    pub fn max_ttl(&self) -> u64 {
        self.max_ttl
    }

    /// These keys with the rater-key secret derived from `secret` instead of the token secret
    /// (what `serve` uses: a secret of its own, so rotating the token secret leaves the rater
    /// keys of an open campaign unchanged).
    pub fn with_rater_key_secret(mut self, secret: &[u8]) -> Self {
        self.rater_key_secret = hmac_sha256(secret, RATER_KEY_LABEL);
        self
    }

    /// The secret that keys ballot rater keys (see `appraisals::rater_key`), derived from the
    /// server secret with its own label.
    pub fn rater_key_secret(&self) -> &[u8; 32] {
        &self.rater_key_secret
    }

    /// Mints a token for `sub` with `roles` and `org`, valid for `ttl_seconds` from `now`.
    pub fn mint(
        &self,
        sub: &str,
        roles: &[String],
        org: Option<&str>,
        now: u64,
        ttl_seconds: u64,
    ) -> Result<String, TokenError> {
        UserId::parse(sub).ok_or(TokenError::BadSub)?;
        if roles.is_empty() {
            return Err(TokenError::NoRole);
        }
        for role in roles {
            role.parse::<Role>()?;
        }
        if ttl_seconds > self.max_ttl {
            return Err(TokenError::TooLong {
                asked: ttl_seconds,
                max: self.max_ttl,
            });
        }
        let claims = Claims {
            sub: sub.to_owned(),
            roles: roles.to_vec(),
            org: org.map(str::to_owned),
            exp: now + ttl_seconds,
            iat: Some(now),
            nbf: None,
        };
        self.sign(&claims)
    }

    /// Signs any claims with the server secret (tests use it for tokens `mint` refuses to make).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.encoding,
        )?)
    }

    /// Verifies a local token and returns its actor, as of `now` (seconds since the epoch).
    pub fn verify(&self, token: &str) -> Result<Actor, ApiError> {
        self.verify_at(token, unix_now())
            .map(|verified| verified.actor)
    }

    /// Verifies a local token as of `now`: signature, `exp`, `nbf`, `iat` present and not in the
    /// future, `exp − iat` within the maximum lifetime, a valid `sub` and only known roles.
    pub fn verify_at(&self, token: &str, now: u64) -> Result<Verified, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = LOCAL_LEEWAY;
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(token_error)?;
        let claims = data.claims;
        let Some(iat) = claims.iat else {
            return Err(ApiError::new(
                ErrorCode::InvalidToken,
                "the token has no iat (issued at)",
            ));
        };
        if iat > now + LOCAL_LEEWAY {
            return Err(ApiError::new(
                ErrorCode::InvalidToken,
                "the token's iat (issued at) is in the future",
            ));
        }
        if claims.exp.saturating_sub(iat) > self.max_ttl {
            return Err(ApiError::new(
                ErrorCode::InvalidToken,
                format!(
                    "the token lives longer than the {} seconds this server allows",
                    self.max_ttl
                ),
            ));
        }
        let sub = UserId::parse(claims.sub).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidToken,
                "the token's sub is not a valid user id",
            )
        })?;
        let roles = claims
            .roles
            .iter()
            .map(|role| role.parse::<Role>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| {
                ApiError::new(
                    ErrorCode::InvalidToken,
                    format!("the token names an {error}"),
                )
            })?;
        if roles.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidToken,
                "the token grants no role",
            ));
        }
        Ok(Verified {
            actor: Actor {
                sub,
                roles,
                org: claims.org.filter(|org| !org.is_empty()),
            },
            issued_at: Some(iat),
        })
    }
}

/// Seconds since the epoch, by the system clock (token times are wall-clock times, whatever
/// clock the application runs on).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The answer to a token `jsonwebtoken` refused.
pub(crate) fn token_error(error: jsonwebtoken::errors::Error) -> ApiError {
    match error.kind() {
        ErrorKind::ExpiredSignature => {
            ApiError::new(ErrorCode::TokenExpired, "the token has expired")
        }
        ErrorKind::ImmatureSignature => {
            ApiError::new(ErrorCode::InvalidToken, "the token is not valid yet (nbf)")
        }
        ErrorKind::InvalidIssuer => ApiError::new(
            ErrorCode::InvalidToken,
            "the token's issuer (iss) is not accepted",
        ),
        ErrorKind::InvalidAudience => ApiError::new(
            ErrorCode::InvalidToken,
            "the token's audience (aud) is not this server",
        ),
        ErrorKind::MissingRequiredClaim(claim) => ApiError::new(
            ErrorCode::InvalidToken,
            format!("the token has no {claim} claim"),
        ),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => ApiError::new(
            ErrorCode::InvalidToken,
            "the token's algorithm is not accepted",
        ),
        _ => ApiError::new(
            ErrorCode::InvalidToken,
            "the token is malformed or its signature is wrong",
        ),
    }
}

impl AppState {
    /// Verifies a bearer token: a local token (HS256) with the server keys when local tokens
    /// are accepted, any other with the OIDC issuer; then refuses it when its `sub`'s sessions
    /// were revoked at or after its `iat`.
    pub async fn authenticate(&self, token: &str) -> Result<Actor, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(token_error)?;
        let verified = match (header.alg, &self.identity.oidc) {
            (Algorithm::HS256, _) => {
                if self.identity.local == LocalTokens::Refuse {
                    return Err(ApiError::new(
                        ErrorCode::LocalTokensRefused,
                        "this server signs in through its OIDC issuer; tokens signed with the \
                         server secret are refused",
                    ));
                }
                self.keys.verify_at(token, unix_now())?
            }
            (_, Some(oidc)) => oidc.verify(token, &header).await?,
            (_, None) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidToken,
                    "the token's algorithm is not accepted",
                ))
            }
        };
        crate::revocations::check(self, &verified).await?;
        Ok(verified.actor)
    }
}

/// The authenticated actor of a request.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        bearer(&parts.headers, state).await.map(Authenticated)
    }
}

/// Whether the request carries an `Authorization` header at all.
pub fn has_authorization(headers: &HeaderMap) -> bool {
    headers.contains_key(AUTHORIZATION)
}

/// The actor of the request's `Authorization: Bearer` token.
pub async fn bearer(headers: &HeaderMap, state: &AppState) -> Result<Actor, ApiError> {
    let header = headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingToken,
            "send Authorization: Bearer <token>",
        )
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidToken,
                "the Authorization header is not a Bearer token",
            )
        })?;
    state.authenticate(token).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::from_secret(b"0123456789abcdef0123456789abcdef")
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn minted_token_verifies_to_the_same_actor() {
        let token = keys()
            .mint("alice", &["dispatcher".into()], Some("dept-x"), now(), 60)
            .unwrap();
        let actor = keys().verify(&token).unwrap();
        assert_eq!(actor.sub.as_str(), "alice");
        assert_eq!(actor.roles, vec![Role::Dispatcher]);
        assert_eq!(actor.org.as_deref(), Some("dept-x"));
    }

    #[test]
    fn expired_and_foreign_tokens_are_refused_with_their_codes() {
        let expired = keys()
            .mint("alice", &["dispatcher".into()], None, now() - 3600, 60)
            .unwrap();
        assert_eq!(keys().verify(&expired).unwrap_err().code(), "token_expired");
        let foreign = JwtKeys::from_secret(b"another secret of thirty-two byte")
            .mint("alice", &["dispatcher".into()], None, now(), 60)
            .unwrap();
        assert_eq!(keys().verify(&foreign).unwrap_err().code(), "invalid_token");
    }

    #[test]
    fn the_lifetime_is_bounded_and_iat_required() {
        let keys = keys().with_max_ttl(3600);
        let now = now();
        assert!(matches!(
            keys.mint("alice", &["dispatcher".into()], None, now, 3601),
            Err(TokenError::TooLong {
                asked: 3601,
                max: 3600
            })
        ));
        let claims = |iat: Option<u64>, exp: u64| Claims {
            sub: "alice".into(),
            roles: vec!["dispatcher".into()],
            org: None,
            exp,
            iat,
            nbf: None,
        };
        let too_long = keys.sign(&claims(Some(now), now + 3601)).unwrap();
        assert_eq!(keys.verify(&too_long).unwrap_err().code(), "invalid_token");
        let no_iat = keys.sign(&claims(None, now + 60)).unwrap();
        assert_eq!(keys.verify(&no_iat).unwrap_err().code(), "invalid_token");
        let fine = keys.sign(&claims(Some(now), now + 3600)).unwrap();
        assert_eq!(keys.verify_at(&fine, now).unwrap().issued_at, Some(now));
    }

    #[test]
    fn unknown_roles_cannot_be_minted() {
        assert!(matches!(
            keys().mint("alice", &["root".into()], None, now(), 60),
            Err(TokenError::UnknownRole(_))
        ));
    }
}

//! Authentication: `Authorization: Bearer <JWT>`, HS256 with the server's secret. The token's
//! claims become the [`Actor`] stored on events; nothing in a request body can change who acts.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use caseledger_domain::{Actor, Role, UserId};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;
use crate::error::ApiError;
use crate::state::AppState;

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
    /// Issued at, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// The HS256 keys made from the server secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The key of ballot rater keys: HMAC-SHA-256 of a fixed label under the server secret, so
    /// it is never in the log and differs from the token key itself.
    rater_key_secret: [u8; 32],
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
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

impl JwtKeys {
    /// Keys from a secret of any length (at least 32 bytes recommended).
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            rater_key_secret: hmac_sha256(secret, RATER_KEY_LABEL),
        }
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
        let claims = Claims {
            sub: sub.to_owned(),
            roles: roles.to_vec(),
            org: org.map(str::to_owned),
            exp: now + ttl_seconds,
            iat: Some(now),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Verifies a token and returns its actor.
    pub fn verify(&self, token: &str) -> Result<Actor, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(
            |error| match error.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::new(ErrorCode::TokenExpired, "the token has expired")
                }
                _ => ApiError::new(
                    ErrorCode::InvalidToken,
                    "the token is malformed or its signature is wrong",
                ),
            },
        )?;
        let claims = data.claims;
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
        Ok(Actor {
            sub,
            roles,
            org: claims.org.filter(|org| !org.is_empty()),
        })
    }
}

/// The authenticated actor of a request.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
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
        state.keys.verify(token).map(Authenticated)
    }
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
    fn unknown_roles_cannot_be_minted() {
        assert!(matches!(
            keys().mint("alice", &["root".into()], None, now(), 60),
            Err(TokenError::UnknownRole(_))
        ));
    }
}

//! `/api/v1/admin/revocations`: an administrator revokes the sessions of a signed-in subject
//! (`sub`); every token of that `sub` issued at or before the revocation is then refused with
//! 401 `token_revoked`, in every process serving the same database (the check reads the log,
//! one read shared by the requests checked at the same time: `App::revoked_before`). A new
//! token issued afterwards works. Each revocation is an event of the subject's
//! `SessionRevocation` stream, so it is in the audit trail with who, when and why.

use axum::extract::{Path, State};
use axum::Json;
use caseledger_domain::revocation::{RevocationCommand, SessionRevocation};
use caseledger_domain::{Actor, Role, UserId};
use caseledger_store::revocations::RevocationView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authenticated, Verified};
use crate::codes::ErrorCode;
use crate::endpoint::{command, CommandEndpoint, Input, Prepared, Route};
use crate::error::{ApiError, Problem};
use crate::reads::time;
use crate::state::AppState;

/// Refuses a verified token when its subject's sessions were revoked at or after its `iat`
/// (compared in whole seconds, `iat` ≤ the revocation's second: a token minted in the same
/// second as the revocation is refused too). A token without `iat` of a revoked subject is
/// refused: nothing shows it is newer.
pub async fn check(state: &AppState, verified: &Verified) -> Result<(), ApiError> {
    let Some(revoked_at) = state.revoked_before(verified.actor.sub.as_str()).await? else {
        return Ok(());
    };
    let revoked = match verified.issued_at {
        Some(iat) => i64::try_from(iat).unwrap_or(i64::MAX) <= revoked_at.timestamp(),
        None => true,
    };
    if revoked {
        return Err(ApiError::new(
            ErrorCode::TokenRevoked,
            "an administrator revoked this user's sessions after the token was issued; sign in again",
        ));
    }
    Ok(())
}

/// A revocation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequest {
    /// Whose sessions: the `sub` of the tokens to refuse (1 to 128 characters).
    #[schema(min_length = 1, max_length = 128)]
    pub sub: String,
    /// Why (1 to 20,000 characters; kept in the audit trail).
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
}

/// Revoke every session of a subject (admin).
pub struct RevokeSessions;

impl CommandEndpoint for RevokeSessions {
    type Aggregate = SessionRevocation;
    type Body = RevocationRequest;
    const ROUTE: Route = Route {
        path: "/api/v1/admin/revocations",
        operation_id: "revoke_sessions",
        tag: "identity",
        summary: "Revoke every session of a subject: tokens of that sub issued until now are refused with 401 `token_revoked` (admin)",
    };
    const CREATES: bool = true;

    async fn prepare(
        input: Input<'_, Self::Body>,
    ) -> Result<Prepared<RevocationCommand>, ApiError> {
        require_admin(input.actor)?;
        let body = input.body;
        let (sub, command) = input.parse(|fields| {
            let sub = fields.take(
                "sub",
                UserId::parse(&body.sub)
                    .ok_or("must be 1 to 128 characters without control characters"),
            );
            let reason = fields.long("reason", &body.reason);
            let sub = sub?;
            Some((
                sub.clone(),
                RevocationCommand::Revoke {
                    sub,
                    reason: reason?,
                },
            ))
        })?;
        Ok(Prepared::on(sub, command))
    }
}

fn require_admin(actor: &Actor) -> Result<(), ApiError> {
    if actor.has(Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::RoleNotAllowed,
            "only an admin revokes or lists sessions revocations",
        ))
    }
}

/// A subject's revocation.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevocationBody {
    /// Whose sessions.
    pub sub: String,
    /// Tokens of this sub issued at or before this time are refused.
    pub revoked_before: String,
    /// Why (the latest revocation).
    pub reason: String,
    /// Who revoked (the latest revocation).
    pub revoked_by: String,
    /// How many times this sub's sessions were revoked.
    pub revocations: i64,
    /// The stream's version.
    pub version: i64,
}

impl From<RevocationView> for RevocationBody {
    fn from(view: RevocationView) -> Self {
        Self {
            sub: view.sub,
            revoked_before: time(view.revoked_before),
            reason: view.reason,
            revoked_by: view.revoked_by,
            revocations: view.revocations,
            version: view.version,
        }
    }
}

/// The revocations.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevocationListBody {
    /// One per revoked subject, the most recently first revoked first.
    pub items: Vec<RevocationBody>,
}

/// Every subject whose sessions were revoked (admin).
#[utoipa::path(
    get, path = "/api/v1/admin/revocations", tag = "identity",
    responses(
        (status = 200, description = "The revocations", body = RevocationListBody),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin (`role_not_allowed`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_revocations(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<RevocationListBody>, ApiError> {
    require_admin(&actor)?;
    let items = state
        .db
        .revocations()
        .await?
        .into_iter()
        .map(RevocationBody::from)
        .collect();
    Ok(Json(RevocationListBody { items }))
}

/// One subject's revocation (admin).
#[utoipa::path(
    get, path = "/api/v1/admin/revocations/{sub}", tag = "identity",
    params(("sub" = String, Path, description = "The subject")),
    responses(
        (status = 200, description = "The subject's revocation", body = RevocationBody),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin (`role_not_allowed`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Never revoked (`revocation_not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_revocation(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(sub): Path<String>,
) -> Result<Json<RevocationBody>, ApiError> {
    require_admin(&actor)?;
    state
        .db
        .revocations()
        .await?
        .into_iter()
        .find(|view| view.sub == sub)
        .map(|view| Json(RevocationBody::from(view)))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::RevocationNotFound,
                "this subject's sessions were never revoked (or the revocation is not listed yet)",
            )
        })
}

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(command::<RevokeSessions>())
        .routes(routes!(list_revocations))
        .routes(routes!(get_revocation))
}

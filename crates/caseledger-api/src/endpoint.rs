//! One endpoint for every command. A command is declared once, as a type implementing
//! [`CommandEndpoint`]: its route, the aggregate it runs on, its body and how the body parses into
//! the domain's command. [`command`] turns that declaration into the route *and* its OpenAPI
//! operation, and [`handle`] is the one handler all commands share: authenticate (a
//! [`CommandEndpoint::PUBLIC`] command goes through [`handle_public`] instead), read the path
//! and the body, prepare the command, and run it through [`commands::run_in`] (idempotency,
//! `If-Match`, metadata, the clock, retries, metrics).

use std::future::Future;

use axum::extract::{FromRequest, RawPathParams, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use caseledger_app::commands::{Call, CommandOptions};
pub use caseledger_app::commands::{DomainCommand, Envelope, Stream};
use caseledger_domain::{Actor, UserId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, Required, ResponseBuilder, Type};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::UtoipaMethodRouter;

use crate::auth::Authenticated;
use crate::commands::{self, Receipt};
use crate::error::ApiError;
use crate::fields::Fields;
use crate::json::ApiJson;
use crate::state::AppState;

/// The body of a command whose only content is its reason (request-pause, appeal, reopen,
/// withdraw, reject …).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// Why (1 to 20,000 characters).
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
}

/// A body that carries a reason, for [`Input::reason`].
pub trait Reasoned {
    /// The reason as sent.
    fn reason(&self) -> &str;
}

impl Reasoned for ReasonRequest {
    fn reason(&self) -> &str {
        &self.reason
    }
}

/// The body of a command that takes none; the request's body is not read.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
pub struct NoBody;

/// What an endpoint is given to prepare its command.
pub struct Input<'a, B> {
    /// The server's state (reference data, the clock, the store for look-ups).
    pub state: &'a AppState,
    /// Who sends the command.
    pub actor: &'a Actor,
    /// The path parameters' values, in the order of the route's placeholders.
    pub params: &'a [String],
    /// The parsed body.
    pub body: &'a B,
}

impl<B> Input<'_, B> {
    /// The first path parameter (the aggregate's id on every route but a create).
    pub fn id(&self) -> &str {
        self.params.first().map_or("", String::as_str)
    }

    /// Parses the body with `parse`, collecting every field error into one 422
    /// `validation_failed`.
    pub fn parse<T>(&self, parse: impl FnOnce(&mut Fields) -> Option<T>) -> Result<T, ApiError> {
        let mut fields = Fields::default();
        let value = parse(&mut fields);
        fields.finish()?;
        value.ok_or_else(|| ApiError::internal("validated fields missing"))
    }

    /// `command` on the aggregate `id` reads from the first path parameter.
    pub fn on<I: ToString, C>(
        &self,
        id: impl FnOnce(&str) -> Result<I, ApiError>,
        command: C,
    ) -> Result<Prepared<C>, ApiError> {
        Ok(Prepared::on(id(self.id())?, command))
    }

    /// The command `parse` makes of the body, on the aggregate `id` reads from the first path
    /// parameter (first, so an unknown id answers 404 before any field error).
    pub fn command<I: ToString, C>(
        &self,
        id: impl FnOnce(&str) -> Result<I, ApiError>,
        parse: impl FnOnce(&mut Fields, &B) -> Option<C>,
    ) -> Result<Prepared<C>, ApiError> {
        let id = id(self.id())?;
        let command = self.parse(|fields| parse(fields, self.body))?;
        Ok(Prepared::on(id, command))
    }
}

impl<B: Reasoned> Input<'_, B> {
    /// The command `command` makes of the body's reason (checked as long text: 1 to 20,000
    /// characters), on the aggregate `id` reads from the first path parameter.
    pub fn reason<I: ToString, C>(
        &self,
        id: impl FnOnce(&str) -> Result<I, ApiError>,
        command: impl FnOnce(caseledger_domain::text::LongText) -> C,
    ) -> Result<Prepared<C>, ApiError> {
        self.command(id, |fields, body| {
            Some(command(fields.long("reason", body.reason())?))
        })
    }
}

/// A command ready to run: the aggregate it goes to and what the answer carries besides the ids.
pub struct Prepared<C> {
    /// The aggregate's id.
    pub aggregate_id: String,
    /// The domain command.
    pub command: C,
    /// What the command creates inside the aggregate when the server chose its id.
    pub created_id: Option<String>,
    /// A registration receipt to hand out once.
    pub receipt: Option<Receipt>,
}

impl<C> Prepared<C> {
    /// `command` on the aggregate `aggregate_id`.
    pub fn on(aggregate_id: impl ToString, command: C) -> Self {
        Self {
            aggregate_id: aggregate_id.to_string(),
            command,
            created_id: None,
            receipt: None,
        }
    }

    /// Reports `created_id` in the answer.
    pub fn created(mut self, created_id: impl ToString) -> Self {
        self.created_id = Some(created_id.to_string());
        self
    }
}

/// The domain command an endpoint's aggregate takes (inside its [`Authored`] envelope).
pub type CommandOf<E> = caseledger_app::commands::CommandOf<<E as CommandEndpoint>::Aggregate>;

/// Where a command endpoint lives and how it reads in the reference.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The path, with `{placeholders}`; the first one names the aggregate (but for a create).
    pub path: &'static str,
    /// The OpenAPI operation id.
    pub operation_id: &'static str,
    /// The OpenAPI tag.
    pub tag: &'static str,
    /// One line: what the command does and who may send it.
    pub summary: &'static str,
}

/// One command endpoint: the declaration [`command`] registers.
pub trait CommandEndpoint: Send + Sync + 'static {
    /// The aggregate the command runs on.
    type Aggregate: Stream;
    /// The JSON body ([`NoBody`] for a command without one).
    type Body: DeserializeOwned + Serialize + ToSchema + Send + Sync + 'static;
    /// Where it lives.
    const ROUTE: Route;
    /// Whether it creates the aggregate (201 with `Location`, no `If-Match`).
    const CREATES: bool = false;
    /// Whether anyone may send it without a token. It then runs as the [`public_actor`], and
    /// neither `If-Match` nor `Idempotency-Key` is read: keys are kept per user, and the
    /// public is not one (one caller's key would replay another's answer).
    const PUBLIC: bool = false;
    /// Refusals worth naming in the reference, `(status, description)`; the answers every
    /// command can give are documented for all of them.
    const REFUSALS: &'static [(u16, &'static str)] = &[];

    /// Parses the path and the body into the command and the aggregate it goes to.
    fn prepare(
        input: Input<'_, Self::Body>,
    ) -> impl Future<Output = Result<Prepared<CommandOf<Self>>, ApiError>> + Send;
}

fn has_body<E: CommandEndpoint>() -> bool {
    E::Body::name() != NoBody::name()
}

/// The handler every command shares.
pub async fn handle<E: CommandEndpoint>(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    params: RawPathParams,
    request: Request,
) -> Result<Response, ApiError> {
    run::<E>(state, actor, params, request).await
}

/// The handler of a [`CommandEndpoint::PUBLIC`] command: no token.
pub async fn handle_public<E: CommandEndpoint>(
    State(state): State<AppState>,
    params: RawPathParams,
    request: Request,
) -> Result<Response, ApiError> {
    run::<E>(state, public_actor()?, params, request).await
}

/// Who sends a public command: the user `public`, without roles or organisation.
pub fn public_actor() -> Result<Actor, ApiError> {
    Ok(Actor {
        sub: UserId::parse("public").ok_or_else(|| ApiError::internal("the public user id"))?,
        roles: Vec::new(),
        org: None,
    })
}

async fn run<E: CommandEndpoint>(
    state: AppState,
    actor: Actor,
    params: RawPathParams,
    request: Request,
) -> Result<Response, ApiError> {
    let params: Vec<String> = params.iter().map(|(_, value)| value.to_owned()).collect();
    let headers = request.headers().clone();
    let body: E::Body = if has_body::<E>() {
        ApiJson::<E::Body>::from_request(request, &state).await?.0
    } else {
        serde_json::from_value(serde_json::Value::Null).map_err(ApiError::internal)?
    };
    let prepared = E::prepare(Input {
        state: &state,
        actor: &actor,
        params: &params,
        body: &body,
    })
    .await?;
    // The fingerprint names the aggregate in its canonical form.
    let mut path = E::ROUTE.path.to_owned();
    for (index, name) in placeholders(E::ROUTE.path).enumerate() {
        let value = if index == 0 {
            prepared.aggregate_id.as_str()
        } else {
            params.get(index).map_or("", String::as_str)
        };
        path = path.replace(&format!("{{{name}}}"), value);
    }
    let success_status = if E::CREATES {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let options = if E::PUBLIC {
        CommandOptions::default()
    } else {
        commands::parse_headers(&headers)?
    };
    let call = Call::<E::Aggregate> {
        actor,
        aggregate_id: prepared.aggregate_id,
        command: prepared.command,
        options,
        fingerprint: commands::fingerprint("POST", &path, &body),
        success_status: success_status.as_u16(),
        created_id: prepared.created_id,
        case_number: prepared.receipt.as_ref().map(|r| r.case_number.clone()),
    };
    let name = call.command.name();
    let report = state.execute(call, commands::key_answer).await;
    commands::answer(
        &state,
        name,
        report,
        success_status,
        prepared.receipt,
        collection(E::ROUTE.path),
    )
}

/// The names of a path's `{placeholders}`, in order.
fn placeholders(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

/// The collection a created aggregate lives in: the path up to its first placeholder.
fn collection(path: &'static str) -> &'static str {
    path.find("/{").map_or(path, |end| &path[..end])
}

/// The route of `E` and its OpenAPI operation, for `OpenApiRouter::routes`.
pub fn command<E: CommandEndpoint>() -> UtoipaMethodRouter<AppState> {
    let route = E::ROUTE;
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let mut operation = OperationBuilder::new()
        .operation_id(Some(route.operation_id))
        .tag(route.tag)
        .summary(Some(route.summary));
    if !E::PUBLIC {
        operation = operation.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
    }
    for name in placeholders(route.path) {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(format!("The {}", name.replace('_', " "))))
                .schema(Some(string())),
        );
    }
    if !E::CREATES && !E::PUBLIC {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name("If-Match")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Run only if the aggregate is at this version, e.g. \"3\"",
                ))
                .schema(Some(string())),
        );
    }
    if !E::PUBLIC {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Retry safely: the same key and body return the first answer",
                ))
                .schema(Some(string())),
        );
    }
    let mut schemas = Vec::new();
    if has_body::<E>() {
        E::Body::schemas(&mut schemas);
        schemas.push((E::Body::name().into_owned(), E::Body::schema()));
        operation = operation.request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(E::Body::name())))
                        .build(),
                )
                .required(Some(Required::True))
                .build(),
        ));
    }
    let accepted = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("CommandAccepted")))
        .build();
    let (status, description) = if E::CREATES {
        ("201", "Created; `Location` names it")
    } else {
        ("200", "Recorded; `ETag` is the new version")
    };
    operation = operation.response(
        status,
        ResponseBuilder::new()
            .description(description)
            .content("application/json", accepted),
    );
    let problem = |description: &str| {
        ResponseBuilder::new().description(description).content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
    };
    let named = |status: u16| E::REFUSALS.iter().any(|(named, _)| *named == status);
    for (status, description) in E::REFUSALS {
        operation = operation.response(status.to_string(), problem(description));
    }
    if !E::PUBLIC && !named(403) {
        operation = operation.response(
            "403",
            problem("`role_not_allowed`, or the organisation may not act here"),
        );
    }
    if !E::CREATES && !named(404) {
        operation = operation.response("404", problem("Unknown, or not visible to you"));
    }
    if !named(422) {
        operation = operation.response(
            "422",
            problem("`validation_failed` listing every bad field, or a rule of the process"),
        );
    }
    let paths = PathsBuilder::new()
        .path(
            route.path,
            PathItem::new(HttpMethod::Post, operation.build()),
        )
        .build();
    let handler = if E::PUBLIC {
        post(handle_public::<E>)
    } else {
        post(handle::<E>)
    };
    (schemas, paths, handler)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_collections_come_from_the_path() {
        let path = "/api/v1/appraisals/{appraisal_id}/rectifications/{item_id}/report";
        assert_eq!(
            placeholders(path).collect::<Vec<_>>(),
            ["appraisal_id", "item_id"]
        );
        assert_eq!(collection(path), "/api/v1/appraisals");
        assert_eq!(collection("/api/v1/cases"), "/api/v1/cases");
        assert_eq!(placeholders("/api/v1/cases").count(), 0);
    }
}

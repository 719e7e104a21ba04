//! The OpenAPI document; `/docs` renders it (`ops::reference_page`). The operations come from the
//! routes as they are registered ([`crate::api_routes`]: reads by their annotations, commands by
//! their [`crate::endpoint::CommandEndpoint`] declarations); this file adds what they all share.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDocument, RefOr};
use utoipa::{Modify, OpenApi};

use crate::{commands, error, schema};

/// The caseledger HTTP API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "caseledger",
        description = "Event-sourced case management for a district's enterprise-service and talent work. \
            Errors are application/problem+json with a stable `code`. Commands answer `{id, version, position}` \
            with `ETag: \"version\"`; send `If-Match` for a conditional command and `Idempotency-Key` to retry safely. \
            Reads take `min_position` to wait for your own write."
    ),
    components(schemas(error::Problem, error::FieldError, error::ErrorCode, commands::CommandAccepted)),
    tags(
        (name = "cases", description = "Enterprise and talent cases (企业/人才诉求)"),
        (name = "queues", description = "Work queues: a department's queue by due time, the dispatcher's unassigned and overdue lists"),
        (name = "public", description = "Without login: a case's status by case number and verifier code; published appraisal reports (JSON, CSV and the HTML page); reward nominations in notice, objections, final awards and revocations"),
        (name = "kpi", description = "Department KPIs (kpi.v1) from the case log, by month, quarter or year, with their formulas"),
        (name = "appraisals", description = "Appraisal campaigns (公开评议): ballots, results, publication, rectification"),
        (name = "subjects", description = "Enterprises, institutes, universities and talents the district liaises with; contact data is private"),
        (name = "portfolios", description = "Liaison portfolios (包联/挂点) of leaders and departments: assignments, visits, overdue visits"),
        (name = "consultations", description = "The expert pool and expert consultation requests (专家咨询论证): provable random panel draws with recusal, private opinions, conclusion, adoption"),
        (name = "rewards", description = "Reward programs and nominations (评选表彰 / 重奖): eligibility, drawn reviewers with recusal, scores and the reproducible aggregation, committee vote, public notice with objections, approval, announcement, revocation, and the reward decision audit"),
        (name = "reference", description = "Reference data"),
        (name = "audit", description = "Tamper-evident audit trail: digests (public) and the auditor's event listing"),
        (name = "feed", description = "The log in commit order for other systems (integrations, auditors, admins): pages and Server-Sent Events"),
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "identity", description = "Sign-in and sessions: an administrator revokes a subject's sessions (every token issued to that sub until then is refused)"),
        (name = "people", description = "The people directory (人员名录), kept by administrators: roles, organisation and how to reach each user (notifications resolve recipients here); every read of the contact records is access-logged"),
    )
)]
pub struct ApiDoc;

/// The served document: every registered route's operation, the bearer scheme and the answers
/// every route shares. Built once.
pub fn document() -> OpenApiDocument {
    static DOCUMENT: std::sync::OnceLock<OpenApiDocument> = std::sync::OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let mut document = crate::api_routes().into_openapi();
            for modifier in [
                &BearerAuth as &dyn Modify,
                &CommonAnswers,
                &PathFormats,
                &OtherFormats,
            ] {
                modifier.modify(&mut document);
            }
            document
        })
        .clone()
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The answers every route can give whatever its handler does, documented once here instead of
/// in every annotation: a bearer-protected operation can answer 401; every route can answer 400
/// (a NUL character or invalid UTF-8 in its path or query is refused before any handler) and 503
/// (storage unavailable); an operation with a body can answer 413 and 415; a command can answer
/// 409 and 412 (`If-Match`, `Idempotency-Key`), and, since every command's refusal is mapped by
/// its kind (`commands::refusal_status`), 403, 422 and, with an id in its path, 404. An
/// operation that documents one of these statuses itself keeps its own, more specific
/// description.
struct CommonAnswers;

/// `(status, component name, description, applies to)`.
const COMMON_ANSWERS: [(&str, &str, &str, Applies); 11] = [
    (
        "400",
        "BadRequest",
        "A malformed request: `invalid_text` (a NUL character), `invalid_path`, `invalid_query`, \
         `malformed_json`, `invalid_body` …",
        Applies::Every,
    ),
    (
        "401",
        "Unauthorized",
        "`missing_token`, `invalid_token` or `token_expired`: send a valid bearer token",
        Applies::Authenticated,
    ),
    (
        "413",
        "PayloadTooLarge",
        "`payload_too_large`: the body is over 1 MiB",
        Applies::WithBody,
    ),
    (
        "415",
        "UnsupportedMediaType",
        "`unsupported_media_type`: send `Content-Type: application/json`",
        Applies::WithBody,
    ),
    (
        "409",
        "CommandConflict",
        "`concurrent_modification` (with `If-Match`: another change was committed first) or \
         `idempotency_key_in_progress` (the same key is still running)",
        Applies::Command,
    ),
    (
        "412",
        "VersionMismatch",
        "`version_mismatch`: `If-Match` does not name the current version",
        Applies::Command,
    ),
    (
        "403",
        "Forbidden",
        "`role_not_allowed`, or another refusal of who you are (`not_own_enterprise`, \
         `not_lead_department` …)",
        Applies::Command,
    ),
    (
        "404",
        "NotFound",
        "The id in the path names nothing you may see",
        Applies::CommandOnPathId,
    ),
    (
        "422",
        "Refused",
        "`validation_failed` listing every bad field, or a business rule that refuses the command \
         in the current state",
        Applies::Command,
    ),
    (
        "503",
        "Unavailable",
        "`storage_unavailable` (retry after `Retry-After` seconds), `request_timeout` (the \
         request took longer than the server's request timeout) or, for a read with \
         `min_position`, `projection_behind`",
        Applies::Every,
    ),
    (
        "429",
        "RateLimited",
        "`rate_limited`: too many requests to public endpoints from your address, too many \
         failed authentications from it, or too many objections to one nomination; retry after \
         `Retry-After` seconds",
        Applies::Limited,
    ),
];

#[derive(Clone, Copy)]
enum Applies {
    Every,
    Authenticated,
    WithBody,
    /// A command endpoint (it answers `CommandAccepted`): every one runs through
    /// `endpoint::handle`, which honours `If-Match` and `Idempotency-Key`.
    Command,
    /// A command on an aggregate named in its path.
    CommandOnPathId,
    /// An operation under a rate limit (`protection::rate_limit`): a public one, or one that
    /// takes a token (failed authentications are limited).
    Limited,
}

/// Whether an operation's success answer is a `CommandAccepted`.
fn is_command(operation: &utoipa::openapi::path::Operation) -> bool {
    operation
        .responses
        .responses
        .iter()
        .filter(|(status, _)| status.starts_with('2'))
        .any(|(_, response)| match response {
            RefOr::T(response) => response.content.values().any(|content| {
                matches!(&content.schema, Some(RefOr::Ref(schema))
                    if schema.ref_location.ends_with("/CommandAccepted"))
            }),
            RefOr::Ref(_) => false,
        })
}

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description, _) in COMMON_ANSWERS {
            let problem = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build();
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/problem+json", problem)
                .build();
            components
                .responses
                .insert(name.to_owned(), RefOr::T(response));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let public = crate::protection::rate_limit::is_public_route(path);
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let authenticated = operation
                    .security
                    .as_ref()
                    .is_some_and(|requirements| !requirements.is_empty());
                let with_body = operation.request_body.is_some();
                let command = is_command(operation);
                let with_path_id = operation.parameters.iter().flatten().any(|parameter| {
                    matches!(
                        parameter.parameter_in,
                        utoipa::openapi::path::ParameterIn::Path
                    )
                });
                for (status, name, _, applies) in COMMON_ANSWERS {
                    let applies = match applies {
                        Applies::Every => true,
                        Applies::Authenticated => authenticated,
                        Applies::WithBody => with_body,
                        Applies::Command => command,
                        Applies::CommandOnPathId => command && with_path_id,
                        Applies::Limited => authenticated || public,
                    };
                    if applies {
                        operation
                            .responses
                            .responses
                            .entry(status.to_owned())
                            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                    }
                }
            }
        }
    }
}

/// The closed sets' schemas (`schema::register`) and the formats and patterns of path
/// parameters (`case_id` is a UUID, `subject_id` a slug …), declared once by name in
/// `schema::PATH_PARAMETERS` instead of in every annotation.
struct PathFormats;

impl Modify for PathFormats {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::schema::Schema;
        schema::register(openapi.components.get_or_insert_with(Default::default));
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if !matches!(parameter.parameter_in, ParameterIn::Path) {
                        continue;
                    }
                    let format = schema::PATH_PARAMETERS
                        .iter()
                        .find(|(name, _)| *name == parameter.name)
                        .map(|(_, format)| *format);
                    if let (Some(format), Some(RefOr::T(Schema::Object(object)))) =
                        (format, parameter.schema.as_mut())
                    {
                        format.apply(object);
                    }
                }
            }
        }
    }
}

/// Answers an operation gives in a second media type, chosen by a query parameter, that its
/// annotation does not list: `(operation id, status, media type)`.
const OTHER_FORMATS: [(&str, &str, &str); 1] = [
    // `?format=csv`: one row per event and per flag.
    ("program_audit", "200", "text/csv"),
];

struct OtherFormats;

impl Modify for OtherFormats {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::ContentBuilder;
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for (id, status, media_type) in OTHER_FORMATS {
                    if operation.operation_id.as_deref() != Some(id) {
                        continue;
                    }
                    if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(status)
                    {
                        let text = ObjectBuilder::new().schema_type(Type::String).build();
                        response.content.insert(
                            media_type.to_owned(),
                            ContentBuilder::new().schema(Some(text)).build(),
                        );
                    }
                }
            }
        }
    }
}

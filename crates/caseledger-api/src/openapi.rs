//! The OpenAPI document (derived from handler annotations) and its offline reference page.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDocument, RefOr};
use utoipa::{Modify, OpenApi};

use crate::{
    appraisal_page, appraisals, audit, cases, commands, consultations, error, experts, kpi, ops,
    portfolios, queues, rewards, schema, subjects,
};

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
    paths(
        cases::register_case, cases::dispatch_case, cases::accept_case, cases::respond_case, cases::rate_case,
        cases::add_note, cases::close_case, cases::get_case, cases::list_cases, cases::case_history,
        cases::decline_case, cases::return_case, cases::reassign_case, cases::log_contact,
        cases::post_update, cases::request_extension, cases::decide_extension, cases::request_pause,
        cases::decide_pause, cases::resume_case, cases::record_follow_up, cases::appeal_rating,
        cases::decide_appeal, cases::reopen_case, cases::withdraw_case, cases::grant_exemption,
        cases::merge_case, cases::reissue_verifier,
        queues::department_queue, queues::unassigned_queue, queues::overdue_queue,
        queues::public_case_status,
        subjects::register_subject, subjects::update_contact, subjects::rename_subject,
        subjects::get_subject, subjects::list_subjects,
        portfolios::create_portfolio, portfolios::assign_subject, portfolios::unassign_subject,
        portfolios::record_visit, portfolios::link_case, portfolios::get_portfolio,
        portfolios::list_portfolios, portfolios::overdue_visits, portfolios::list_visits,
        portfolios::portfolio_overview,
        experts::add_expert, experts::update_expert, experts::suspend_expert,
        experts::reinstate_expert, experts::remove_expert, experts::list_experts,
        experts::get_expert, experts::expert_workload,
        consultations::submit_consultation, consultations::accept_consultation,
        consultations::reject_consultation, consultations::draw_panel,
        consultations::propose_selection, consultations::approve_selection,
        consultations::accept_seat, consultations::decline_seat, consultations::declare_conflict,
        consultations::recuse_expert, consultations::submit_opinion, consultations::conclude,
        consultations::report_adoption, consultations::close_consultation,
        consultations::cancel_consultation, consultations::get_consultation,
        consultations::list_consultations, consultations::list_opinions,
        consultations::verify_draw, consultations::adoption_rates,
        ops::departments, ops::healthz, ops::readyz, ops::metrics,
        audit::public_digests, audit::audit_events,
        kpi::department_kpi_handler, kpi::kpi_list, kpi::kpi_trend, kpi::public_kpi,
        appraisals::create_appraisal, appraisals::open_appraisal, appraisals::cast_ballot,
        appraisals::close_appraisal, appraisals::compute_appraisal, appraisals::publish_appraisal,
        appraisals::add_rectification, appraisals::report_rectification,
        appraisals::recheck_rectification, appraisals::get_appraisal, appraisals::list_appraisals,
        appraisals::public_appraisal, appraisals::public_appraisal_csv,
        appraisal_page::public_appraisal_page,
        rewards::create_program, rewards::approve_program, rewards::change_committee,
        rewards::get_program,
        rewards::list_programs, rewards::program_audit, rewards::submit_nomination,
        rewards::decide_eligibility, rewards::draw_reviewers, rewards::recuse_reviewer,
        rewards::submit_scores, rewards::aggregate_scores, rewards::cast_vote,
        rewards::tally_vote, rewards::start_notice, rewards::resolve_objection,
        rewards::close_notice, rewards::approve_award, rewards::announce_award,
        rewards::withdraw_nomination, rewards::disqualify_nomination, rewards::revoke_award,
        rewards::file_objection, rewards::get_nomination, rewards::list_nominations,
        rewards::objection_filers, rewards::public_notices, rewards::public_awards,
    ),
    components(schemas(error::Problem, error::FieldError, error::ErrorCode, commands::CommandAccepted)),
    modifiers(&BearerAuth, &CommonAnswers, &PathFormats, &OtherFormats),
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
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

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
const COMMON_ANSWERS: [(&str, &str, &str, Applies); 10] = [
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
        "`storage_unavailable` (retry after `Retry-After` seconds) or, for a read with \
         `min_position`, `projection_behind`",
        Applies::Every,
    ),
];

#[derive(Clone, Copy)]
enum Applies {
    Every,
    Authenticated,
    WithBody,
    /// A command endpoint (it answers `CommandAccepted`): every one runs through
    /// `commands::execute`, which honours `If-Match` and `Idempotency-Key`.
    Command,
    /// A command on an aggregate named in its path.
    CommandOnPathId,
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
        for item in openapi.paths.paths.values_mut() {
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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn schema_name(reference: &RefOr<utoipa::openapi::schema::Schema>) -> String {
    match reference {
        RefOr::Ref(reference) => reference
            .ref_location
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned(),
        RefOr::T(_) => "inline".to_owned(),
    }
}

/// Renders the document as one self-contained HTML page.
pub fn render_reference_page(document: &OpenApiDocument) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>caseledger API reference</title><style>\
         body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
         code,pre{font-family:ui-monospace,monospace;background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}\
         .op{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}\
         .m{font-weight:700;text-transform:uppercase;margin-right:.5rem}\
         table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}\
         </style></head><body>",
    );
    html.push_str(&format!(
        "<h1>{} API reference</h1>",
        escape(&document.info.title)
    ));
    if let Some(description) = &document.info.description {
        html.push_str(&format!("<p>{}</p>", escape(description)));
    }
    html.push_str("<p>Machine-readable: <a href=\"/openapi.json\"><code>/openapi.json</code></a> (OpenAPI 3.1).</p>");
    for (path, item) in document.paths.paths.iter() {
        let operations = [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("delete", &item.delete),
            ("patch", &item.patch),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            html.push_str("<div class=\"op\">");
            html.push_str(&format!(
                "<div><span class=\"m\">{method}</span><code>{}</code></div>",
                escape(path)
            ));
            if let Some(summary) = &operation.summary {
                html.push_str(&format!("<p>{}</p>", escape(summary)));
            }
            if let Some(parameters) = &operation.parameters {
                html.push_str("<table><tr><th>parameter</th><th>in</th><th>description</th></tr>");
                for parameter in parameters {
                    html.push_str(&format!(
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                        escape(&parameter.name),
                        serde_json::to_value(&parameter.parameter_in)
                            .ok()
                            .and_then(|value| value.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        escape(parameter.description.as_deref().unwrap_or(""))
                    ));
                }
                html.push_str("</table>");
            }
            if let Some(body) = &operation.request_body {
                for (media, content) in &body.content {
                    let schema = content.schema.as_ref().map(schema_name).unwrap_or_default();
                    html.push_str(&format!(
                        "<p>Body: <code>{}</code> {}</p>",
                        escape(media),
                        escape(&schema)
                    ));
                }
            }
            html.push_str("<ul>");
            for (status, response) in &operation.responses.responses {
                let description = match response {
                    RefOr::T(response) => response.description.clone(),
                    RefOr::Ref(reference) => reference.ref_location.clone(),
                };
                html.push_str(&format!(
                    "<li><code>{}</code> {}</li>",
                    escape(status),
                    escape(&description)
                ));
            }
            html.push_str("</ul></div>");
        }
    }
    if let Some(components) = &document.components {
        html.push_str("<h2>Schemas</h2>");
        for (name, schema) in &components.schemas {
            let json = serde_json::to_string_pretty(schema).unwrap_or_default();
            html.push_str(&format!(
                "<h3 id=\"{0}\">{0}</h3><pre>{1}</pre>",
                escape(name),
                escape(&json)
            ));
        }
    }
    html.push_str("</body></html>");
    html
}

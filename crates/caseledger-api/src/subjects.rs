//! `/api/v1/subjects`: the enterprises, institutes, universities and talents the district
//! liaises with. Handlers parse at the edge into domain types and run commands through the
//! shared command path; who sees the private contact data is decided here.
//!
//! Visibility (docs/DECISIONS.md): district staff and auditors see everything, and each read of
//! contact data is recorded in the access log; a subject's own `enterprise` token sees its own
//! record with contact (its own data, not recorded); department handlers and heads see public
//! fields only; everyone else gets 403.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use caseledger_domain::subject::{
    Contact, ContactRecord, Email, Phone, Subject, SubjectCommand, SubjectKind,
};
use caseledger_domain::text::Title;
use caseledger_domain::{Actor, Role, SubjectId};
use caseledger_store::subjects::{SubjectFilter, SubjectView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::record_access;
use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::endpoint::{command, CommandEndpoint, Input, Prepared, Route};
use crate::error::{ApiError, Problem};
use crate::fields::Fields;
use crate::json::ApiQuery;
use crate::reads::{time, wait_for_projection};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where subjects live.
const COLLECTION: &str = "/api/v1/subjects";

/// Roles that see every subject with its contact data.
const STAFF: &[Role] = &[
    Role::DistrictLeader,
    Role::LiaisonOfficer,
    Role::Dispatcher,
    Role::Auditor,
    Role::Admin,
];
const DEPARTMENT_ROLES: &[Role] = &[Role::DepartmentHandler, Role::DepartmentHead];

// ---------------------------------------------------------------------------------------------
// Request shapes

/// Private contact data. Every field is optional; blank counts as absent.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    /// The contact person (1 to 100 characters).
    #[serde(default)]
    #[schema(max_length = 100)]
    pub person: Option<String>,
    /// Telephone (digits, spaces, `+`, `-`, parentheses).
    #[serde(default)]
    pub phone: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// For a talent: the person's details (field, employer, title…), up to 20,000 characters.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub personal_details: Option<String>,
}

/// Register a subject.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterSubjectRequest {
    /// The subject id, a lowercase slug (`ent-0042`): what cases store as `enterprise_id` and an
    /// `enterprise` token carries in `org`.
    #[schema(pattern = "^[a-z0-9_.-]{1,64}$")]
    pub id: String,
    /// The name (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// `private_enterprise`, `large_enterprise`, `state_owned_enterprise`, `institute`,
    /// `university` or `talent`.
    #[schema(value_type = crate::schema::SubjectKind, example = "private_enterprise")]
    pub kind: String,
    /// Industry label (1 to 64 characters).
    #[serde(default)]
    #[schema(max_length = 64)]
    pub industry: Option<String>,
    /// District area (1 to 64 characters).
    #[serde(default)]
    #[schema(max_length = 64)]
    pub district_area: Option<String>,
    /// Street (1 to 64 characters).
    #[serde(default)]
    #[schema(max_length = 64)]
    pub street: Option<String>,
    /// Private contact data.
    #[serde(default)]
    pub contact: ContactRequest,
}

/// Rename a subject.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameSubjectRequest {
    /// The new name (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

fn parse_contact(fields: &mut Fields, prefix: &str, contact: &ContactRequest) -> Contact {
    Contact {
        person: fields.optional::<100>(&format!("{prefix}person"), contact.person.as_deref()),
        phone: fields.optional_with(
            &format!("{prefix}phone"),
            contact.phone.as_deref(),
            Phone::parse,
        ),
        email: fields.optional_with(
            &format!("{prefix}email"),
            contact.email.as_deref(),
            Email::parse,
        ),
        personal_details: fields.optional::<20_000>(
            &format!("{prefix}personal_details"),
            contact.personal_details.as_deref(),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Response shapes

/// Private contact data.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactBody {
    /// The contact person.
    pub person: Option<String>,
    /// Telephone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// For a talent: the person's details.
    pub personal_details: Option<String>,
}

impl From<ContactRecord> for ContactBody {
    fn from(contact: ContactRecord) -> Self {
        Self {
            person: contact.person,
            phone: contact.phone,
            email: contact.email,
            personal_details: contact.personal_details,
        }
    }
}

/// A subject. `contact` is present only for staff and for the subject itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectBody {
    /// The subject id.
    pub id: String,
    /// The subject's version (also the `ETag`).
    pub version: i64,
    /// Name.
    pub name: String,
    /// Kind.
    #[schema(value_type = crate::schema::SubjectKind)]
    pub kind: String,
    /// Industry label.
    pub industry: Option<String>,
    /// District area.
    pub district_area: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// Registered at (RFC 3339).
    #[schema(format = DateTime)]
    pub registered_at: String,
    /// Last change (RFC 3339).
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Private: contact data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactBody>,
}

impl SubjectBody {
    fn from_view(view: SubjectView, with_contact: bool) -> Self {
        Self {
            id: view.subject_id,
            version: view.version,
            name: view.name,
            kind: view.kind.as_str().to_owned(),
            industry: view.industry,
            district_area: view.district_area,
            street: view.street,
            registered_at: time(view.registered_at),
            updated_at: time(view.updated_at),
            contact: with_contact.then(|| view.contact.into()),
        }
    }
}

/// A page of subjects.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectListBody {
    /// The subjects, newest registration first.
    pub items: Vec<SubjectBody>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Visibility

/// What a reader may see of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Everything; reading contact data is recorded.
    Staff,
    /// The subject's own representative: everything about itself.
    Own,
    /// Public fields only.
    Public,
}

fn access(actor: &Actor, subject_id: &str) -> Result<Access, ApiError> {
    if actor.has_any(STAFF) {
        Ok(Access::Staff)
    } else if actor.has(Role::Enterprise) {
        if actor.acts_for(subject_id) {
            Ok(Access::Own)
        } else {
            // An enterprise does not learn which other subjects are registered.
            Err(not_found())
        }
    } else if actor.has_any(DEPARTMENT_ROLES) {
        Ok(Access::Public)
    } else {
        Err(ApiError::new(
            ErrorCode::RoleNotAllowed,
            "this role has no access to subjects",
        ))
    }
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::SubjectNotFound, "subject not found")
}

fn parse_subject_id(text: &str) -> Result<SubjectId, ApiError> {
    SubjectId::parse(text).map_err(|_| not_found())
}

// ---------------------------------------------------------------------------------------------
// Commands: each one a [`CommandEndpoint`], run by the shared handler in `endpoint.rs`.

const fn on_subject(
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        path,
        operation_id,
        tag: "subjects",
        summary,
    }
}

/// Register a subject.
pub struct RegisterSubject;

impl CommandEndpoint for RegisterSubject {
    type Aggregate = Subject;
    type Body = RegisterSubjectRequest;
    const ROUTE: Route = on_subject(
        COLLECTION,
        "register_subject",
        "Register a subject (dispatchers, liaison officers, district leaders)",
    );
    const CREATES: bool = true;
    const REFUSALS: &'static [(u16, &'static str)] = &[(409, "`subject_already_exists`")];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<SubjectCommand>, ApiError> {
        let body = input.body;
        let (subject_id, command) = input.parse(|fields| {
            let subject_id = fields.take("id", SubjectId::parse(body.id.as_str()));
            let name = fields.take("name", Title::parse(&body.name));
            let kind = fields.take(
                "kind",
                SubjectKind::parse(&body.kind).ok_or("must be private_enterprise, large_enterprise, state_owned_enterprise, institute, university or talent"),
            );
            let industry = fields.optional::<64>("industry", body.industry.as_deref());
            let district_area = fields.optional::<64>("district_area", body.district_area.as_deref());
            let street = fields.optional::<64>("street", body.street.as_deref());
            let contact = parse_contact(fields, "contact.", &body.contact);
            let subject_id = subject_id?;
            Some((
                subject_id.clone(),
                SubjectCommand::Register {
                    subject_id,
                    name: name?,
                    kind: kind?,
                    industry,
                    district_area,
                    street,
                    contact,
                },
            ))
        })?;
        Ok(Prepared::on(subject_id, command))
    }
}

/// Replace a subject's contact data.
pub struct UpdateContact;

impl CommandEndpoint for UpdateContact {
    type Aggregate = Subject;
    type Body = ContactRequest;
    const ROUTE: Route = on_subject(
        "/api/v1/subjects/{subject_id}/update-contact",
        "update_contact",
        "Replace a subject's contact data (staff, or the subject's own `enterprise` token)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (403, "`role_not_allowed` or `not_own_subject`"),
        (404, "`subject_not_found`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<SubjectCommand>, ApiError> {
        let subject_id = parse_subject_id(input.id())?;
        let contact = input.parse(|fields| Some(parse_contact(fields, "", input.body)))?;
        Ok(Prepared::on(
            subject_id,
            SubjectCommand::UpdateContact { contact },
        ))
    }
}

/// Rename a subject.
pub struct RenameSubject;

impl CommandEndpoint for RenameSubject {
    type Aggregate = Subject;
    type Body = RenameSubjectRequest;
    const ROUTE: Route = on_subject(
        "/api/v1/subjects/{subject_id}/rename",
        "rename_subject",
        "Rename a subject (staff)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (404, "`subject_not_found`"),
        (422, "`validation_failed` or `name_unchanged`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<SubjectCommand>, ApiError> {
        let subject_id = parse_subject_id(input.id())?;
        let name = input.parse(|fields| fields.take("name", Title::parse(&input.body.name)))?;
        Ok(Prepared::on(subject_id, SubjectCommand::Rename { name }))
    }
}

/// The subject routes: every command once, and the reads.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(command::<RegisterSubject>())
        .routes(routes!(list_subjects))
        .routes(routes!(get_subject))
        .routes(command::<UpdateContact>())
        .routes(command::<RenameSubject>())
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Read parameters of one subject.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SubjectReadQuery {
    /// Wait (up to 5 s) until the view includes the event at this position.
    pub min_position: Option<i64>,
    /// Why you read the contact data (recorded in the access log with your identity).
    pub purpose: Option<String>,
}

/// List filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SubjectListQuery {
    /// Only subjects of this kind.
    #[param(value_type = Option<crate::schema::SubjectKind>)]
    pub kind: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Read-your-writes.
    pub min_position: Option<i64>,
    /// Why you read the contact data (staff: recorded in the access log).
    pub purpose: Option<String>,
}

/// One subject. Staff reads of the contact data are recorded in the access log.
#[utoipa::path(
    get, path = "/api/v1/subjects/{subject_id}", tag = "subjects",
    params(("subject_id" = String, Path, description = "The subject id"), SubjectReadQuery),
    responses(
        (status = 200, description = "The subject; `contact` for staff and the subject itself", body = SubjectBody),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`subject_not_found` (also another enterprise's record)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_subject(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(subject_id): Path<String>,
    ApiQuery(query): ApiQuery<SubjectReadQuery>,
) -> Result<Response, ApiError> {
    let subject_id = parse_subject_id(&subject_id)?;
    let access = access(&actor, subject_id.as_str())?;
    wait_for_projection(&state, "subjects", query.min_position).await?;
    let view = state
        .db
        .subject_view(subject_id.as_str())
        .await?
        .ok_or_else(not_found)?;
    if access == Access::Staff {
        record_access(
            &state,
            &actor,
            "subject_contact",
            subject_id.as_str(),
            query.purpose,
        )
        .await?;
    }
    let version = view.version;
    let mut response = Json(SubjectBody::from_view(view, access != Access::Public)).into_response();
    if let Ok(etag) = axum::http::HeaderValue::from_str(&format!("\"{version}\"")) {
        response
            .headers_mut()
            .insert(axum::http::header::ETAG, etag);
    }
    Ok(response)
}

/// List subjects, newest first. Staff get contact data (the listing is recorded in the access
/// log); department staff public fields; an enterprise only itself.
#[utoipa::path(
    get, path = "/api/v1/subjects", tag = "subjects",
    params(SubjectListQuery),
    responses(
        (status = 200, description = "A page of subjects", body = SubjectListBody),
        (status = 400, description = "Invalid filter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`role_not_allowed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_subjects(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<SubjectListQuery>,
) -> Result<Json<SubjectListBody>, ApiError> {
    let kind = query
        .kind
        .as_deref()
        .map(|kind| {
            SubjectKind::parse(kind).ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidQuery, format!("unknown kind {kind:?}"))
            })
        })
        .transpose()?;
    let before = query
        .cursor
        .as_deref()
        .map(|cursor| {
            cursor
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidCursor,
                        "the cursor is not one this server gave",
                    )
                })
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "limit must be 1 to 200",
        ));
    }
    let mut filter = SubjectFilter {
        kind,
        subject_id: None,
        before,
        limit,
    };
    let with_contact = if actor.has_any(STAFF) {
        true
    } else if actor.has(Role::Enterprise) {
        let own = actor.org.clone().ok_or_else(|| {
            ApiError::new(ErrorCode::NoEnterprise, "your token names no enterprise")
        })?;
        filter.subject_id = Some(own);
        true
    } else if actor.has_any(DEPARTMENT_ROLES) {
        false
    } else {
        return Err(ApiError::new(
            ErrorCode::RoleNotAllowed,
            "this role has no access to subjects",
        ));
    };
    wait_for_projection(&state, "subjects", query.min_position).await?;
    let page = state.db.list_subjects(&filter).await?;
    if actor.has_any(STAFF) && !page.subjects.is_empty() {
        let listed = format!(
            "kind={} cursor={}",
            query.kind.as_deref().unwrap_or("*"),
            query.cursor.as_deref().unwrap_or("-")
        );
        record_access(&state, &actor, "subject_contacts", &listed, query.purpose).await?;
    }
    Ok(Json(SubjectListBody {
        items: page
            .subjects
            .into_iter()
            .map(|view| SubjectBody::from_view(view, with_contact))
            .collect(),
        next_cursor: page.next_before.map(|n| n.to_string()),
    }))
}

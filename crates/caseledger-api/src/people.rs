//! `/api/v1/people`: the people directory (人员名录), kept by administrators. An entry names a
//! signed-in user (`sub`), their roles and organisation, and how to reach them (e-mail,
//! mobile); notifications resolve recipients here. Every change is an event of the person's
//! `Person` stream (who changed whose entry, when). The contact record is personal data: only
//! administrators read it, and every read is recorded in the access log first.

use axum::extract::{Path, State};
use axum::Json;
use caseledger_domain::person::{Person, PersonCommand, PersonContact, PersonEntry};
use caseledger_domain::subject::{Email, PersonName, Phone};
use caseledger_domain::text::BoundedText;
use caseledger_domain::{Actor, Role, UserId};
use caseledger_store::people::{PeopleFilter, PersonView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::record_access;
use crate::auth::Authenticated;
use crate::codes::ErrorCode;
use crate::endpoint::{command, CommandEndpoint, Input, Prepared, Route};
use crate::error::{ApiError, Problem};
use crate::fields::Fields;
use crate::json::ApiQuery;
use crate::reads::wait_for_projection;
use crate::state::AppState;

/// A directory entry as an administrator writes it (every field, each time).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonEntryRequest {
    /// The name (1 to 100 characters).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// The roles the person works in, as their tokens carry them (at least one).
    #[schema(value_type = Vec<crate::schema::Role>)]
    pub roles: Vec<String>,
    /// The organisation: a department id, a subject id or another unit (1 to 100 characters).
    #[serde(default)]
    #[schema(max_length = 100)]
    pub organisation: Option<String>,
    /// E-mail address (notifications by e-mail).
    #[serde(default)]
    pub email: Option<String>,
    /// Mobile number (notifications by SMS).
    #[serde(default)]
    pub mobile: Option<String>,
}

/// Enter a person in the directory: the `sub`, then the fields of an entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPersonRequest {
    /// Whose entry: the `sub` of the person's tokens (1 to 128 characters).
    #[schema(min_length = 1, max_length = 128)]
    pub sub: String,
    /// The name (1 to 100 characters).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// The roles the person works in, as their tokens carry them (at least one).
    #[schema(value_type = Vec<crate::schema::Role>)]
    pub roles: Vec<String>,
    /// The organisation: a department id, a subject id or another unit (1 to 100 characters).
    #[serde(default)]
    #[schema(max_length = 100)]
    pub organisation: Option<String>,
    /// E-mail address (notifications by e-mail).
    #[serde(default)]
    pub email: Option<String>,
    /// Mobile number (notifications by SMS).
    #[serde(default)]
    pub mobile: Option<String>,
}

impl RegisterPersonRequest {
    /// The entry's fields.
    fn entry(&self) -> PersonEntryRequest {
        PersonEntryRequest {
            name: self.name.clone(),
            roles: self.roles.clone(),
            organisation: self.organisation.clone(),
            email: self.email.clone(),
            mobile: self.mobile.clone(),
        }
    }
}

/// Take a person off the active directory.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeactivatePersonRequest {
    /// Why (1 to 2,000 characters; kept in the audit trail).
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

fn parse_entry(fields: &mut Fields, body: &PersonEntryRequest) -> Option<PersonEntry> {
    let name = fields.take("name", PersonName::parse(&body.name));
    let roles = fields.each("roles", &body.roles, |role| {
        role.parse::<Role>()
            .ok()
            .ok_or_else(|| format!("unknown role {role:?}"))
    });
    if body.roles.is_empty() {
        fields.push("roles", "at least one role");
    }
    let organisation = fields.optional::<100>("organisation", body.organisation.as_deref());
    let email = fields.optional_with("email", body.email.as_deref(), Email::parse);
    let mobile = fields.optional_with("mobile", body.mobile.as_deref(), Phone::parse);
    Some(PersonEntry {
        name: name?,
        roles,
        organisation,
        contact: PersonContact { email, mobile },
    })
}

fn parse_sub(text: &str) -> Result<UserId, ApiError> {
    UserId::parse(text).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidPath,
            "a sub is 1 to 128 characters without control characters",
        )
    })
}

const fn on_person(path: &'static str, operation_id: &'static str, summary: &'static str) -> Route {
    Route {
        path,
        operation_id,
        tag: "people",
        summary,
    }
}

/// Enter a person in the directory (admin).
pub struct RegisterPerson;

impl CommandEndpoint for RegisterPerson {
    type Aggregate = Person;
    type Body = RegisterPersonRequest;
    const ROUTE: Route = on_person(
        "/api/v1/people",
        "register_person",
        "Enter a person in the people directory: roles, organisation, e-mail and mobile (admin)",
    );
    const CREATES: bool = true;
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (403, "`role_not_allowed`"),
        (409, "`person_already_listed`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<PersonCommand>, ApiError> {
        require_admin(input.actor)?;
        let body = input.body;
        let (sub, command) = input.parse(|fields| {
            let sub = fields.take(
                "sub",
                UserId::parse(&body.sub)
                    .ok_or("must be 1 to 128 characters without control characters"),
            );
            let entry = parse_entry(fields, &body.entry());
            let sub = sub?;
            Some((sub.clone(), PersonCommand::Register { sub, entry: entry? }))
        })?;
        Ok(Prepared::on(sub, command))
    }
}

/// Replace a person's entry (admin).
pub struct UpdatePerson;

impl CommandEndpoint for UpdatePerson {
    type Aggregate = Person;
    type Body = PersonEntryRequest;
    const ROUTE: Route = on_person(
        "/api/v1/people/{sub}/update",
        "update_person",
        "Replace a person's directory entry; a deactivated person becomes active again (admin)",
    );
    const REFUSALS: &'static [(u16, &'static str)] =
        &[(403, "`role_not_allowed`"), (404, "`person_not_found`")];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<PersonCommand>, ApiError> {
        require_admin(input.actor)?;
        let sub = parse_sub(input.id())?;
        let entry = input.parse(|fields| parse_entry(fields, input.body))?;
        Ok(Prepared::on(sub, PersonCommand::Update { entry }))
    }
}

/// Take a person off the active directory (admin).
pub struct DeactivatePerson;

impl CommandEndpoint for DeactivatePerson {
    type Aggregate = Person;
    type Body = DeactivatePersonRequest;
    const ROUTE: Route = on_person(
        "/api/v1/people/{sub}/deactivate",
        "deactivate_person",
        "Take a person off the active directory: they are notified of nothing any more (admin)",
    );
    const REFUSALS: &'static [(u16, &'static str)] = &[
        (403, "`role_not_allowed`"),
        (404, "`person_not_found`"),
        (409, "`person_inactive`"),
    ];

    async fn prepare(input: Input<'_, Self::Body>) -> Result<Prepared<PersonCommand>, ApiError> {
        require_admin(input.actor)?;
        let sub = parse_sub(input.id())?;
        let reason = input.parse(|fields| {
            fields.take("reason", BoundedText::<2000>::parse(&input.body.reason))
        })?;
        Ok(Prepared::on(sub, PersonCommand::Deactivate { reason }))
    }
}

fn require_admin(actor: &Actor) -> Result<(), ApiError> {
    if actor.has(Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::RoleNotAllowed,
            "only an admin keeps and reads the people directory",
        ))
    }
}

/// A person's contact record.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonContactBody {
    /// E-mail address.
    pub email: Option<String>,
    /// Mobile number.
    pub mobile: Option<String>,
}

/// One person of the directory.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonBody {
    /// Whose entry (the `sub` of their tokens).
    pub sub: String,
    /// The name.
    pub name: String,
    /// The roles.
    #[schema(value_type = Vec<crate::schema::Role>)]
    pub roles: Vec<String>,
    /// The organisation.
    pub organisation: Option<String>,
    /// How to reach them (personal data; its reading is access-logged).
    pub contact: PersonContactBody,
    /// Whether they receive notifications.
    pub active: bool,
    /// Who changed the entry last.
    pub changed_by: String,
    /// When.
    pub changed_at: String,
    /// The stream's version (for `If-Match`).
    pub version: i64,
}

impl From<PersonView> for PersonBody {
    fn from(view: PersonView) -> Self {
        Self {
            sub: view.sub,
            name: view.name,
            roles: view.roles.iter().map(ToString::to_string).collect(),
            organisation: view.organisation,
            contact: PersonContactBody {
                email: view.contact.email.map(String::from),
                mobile: view.contact.mobile.map(String::from),
            },
            active: view.active,
            changed_by: view.changed_by,
            changed_at: view.changed_at,
            version: view.version,
        }
    }
}

/// A page of people.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeopleListBody {
    /// Newest entry first.
    pub items: Vec<PersonBody>,
    /// The cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
}

/// Filters of the people listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeopleQuery {
    /// Only this organisation.
    pub organisation: Option<String>,
    /// Only people with this role.
    #[param(value_type = Option<crate::schema::Role>)]
    pub role: Option<String>,
    /// Deactivated people too (default false).
    pub include_inactive: Option<bool>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Read-your-writes.
    pub min_position: Option<i64>,
    /// Why you read the contact data (recorded in the access log).
    pub purpose: Option<String>,
}

/// Reading one entry.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PersonQuery {
    /// Read-your-writes.
    pub min_position: Option<i64>,
    /// Why you read the contact data (recorded in the access log).
    pub purpose: Option<String>,
}

/// The people directory, newest entry first (admin; the read is recorded in the access log).
#[utoipa::path(
    get, path = "/api/v1/people", tag = "people",
    params(PeopleQuery),
    responses(
        (status = 200, description = "A page of people, with their contact records", body = PeopleListBody),
        (status = 400, description = "`invalid_query` or `invalid_cursor`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin (`role_not_allowed`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_people(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<PeopleQuery>,
) -> Result<Json<PeopleListBody>, ApiError> {
    require_admin(&actor)?;
    let role = query
        .role
        .as_deref()
        .map(|role| {
            role.parse::<Role>().ok().ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidQuery, format!("unknown role {role:?}"))
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
    let filter = PeopleFilter {
        organisation: query.organisation.clone(),
        role,
        include_inactive: query.include_inactive.unwrap_or(false),
    };
    wait_for_projection(&state, "people", query.min_position).await?;
    let (people, next) = state.db.people(&filter, before, limit).await?;
    if !people.is_empty() {
        let listed = format!(
            "organisation={} role={} cursor={}",
            query.organisation.as_deref().unwrap_or("*"),
            query.role.as_deref().unwrap_or("*"),
            query.cursor.as_deref().unwrap_or("-")
        );
        record_access(&state, &actor, "people_contacts", &listed, query.purpose).await?;
    }
    Ok(Json(PeopleListBody {
        items: people.into_iter().map(PersonBody::from).collect(),
        next_cursor: next.map(|n| n.to_string()),
    }))
}

/// One person's entry (admin; the read is recorded in the access log).
#[utoipa::path(
    get, path = "/api/v1/people/{sub}", tag = "people",
    params(("sub" = String, Path, description = "Whose entry"), PersonQuery),
    responses(
        (status = 200, description = "The entry, with the contact record", body = PersonBody),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin (`role_not_allowed`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`person_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_person(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(sub): Path<String>,
    ApiQuery(query): ApiQuery<PersonQuery>,
) -> Result<Json<PersonBody>, ApiError> {
    require_admin(&actor)?;
    let sub = parse_sub(&sub)?;
    wait_for_projection(&state, "people", query.min_position).await?;
    let view = state.db.person(sub.as_str()).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::PersonNotFound,
            "this person is not in the people directory (or not listed yet)",
        )
    })?;
    record_access(
        &state,
        &actor,
        "person_contact",
        sub.as_str(),
        query.purpose,
    )
    .await?;
    Ok(Json(PersonBody::from(view)))
}

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(command::<RegisterPerson>())
        .routes(command::<UpdatePerson>())
        .routes(command::<DeactivatePerson>())
        .routes(routes!(list_people))
        .routes(routes!(get_person))
}

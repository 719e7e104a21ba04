//! OpenAPI schemas of the closed sets (issue 14 item 5): one named `enum` schema per set, built
//! from the domain enum's own variant list (`strum::VariantNames`, the same names serde writes),
//! so a variant added in the domain appears in the contract without an edit here. Request and
//! answer fields point at them with `#[schema(value_type = crate::schema::CaseStatus)]`, query
//! parameters with `#[param(value_type = ...)]`.
//!
//! Also the shared string formats of the edge: slugs, UUIDs, portfolio ids, RFC 3339 instants and
//! `YYYY-MM-DD` dates, as the handlers parse them (see [`PATH_PARAMETERS`], applied to every path
//! parameter by a modifier in `openapi.rs`).

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;

/// A slug id (`dept-commerce`, `ent-0042`): what `caseledger_domain`'s slug ids accept.
pub const SLUG_PATTERN: &str = "^[a-z0-9_.-]{1,64}$";
/// A portfolio id: `leader.<user id>` or `department.<department id>`.
pub const PORTFOLIO_ID_PATTERN: &str = "^(leader|department)\\.[a-z0-9_.-]{1,64}$";

/// A string schema listing `names`.
fn closed_set(names: &[&'static str], description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names.iter().copied()))
        .description(Some(description.trim()))
        .into()
}

/// Declares one schema type per closed set: `Name => domain type` takes the names from the
/// domain enum's `strum::VariantNames`; `Name = [..]` lists a set that has no domain enum (a
/// value computed at the edge or in a view).
macro_rules! closed_sets {
    ($($(#[doc = $doc:literal])+ $name:ident $(=> $domain:ty)? $(= [$($value:literal),+])?;)*) => {
        $(
            $(#[doc = $doc])+
            pub struct $name;

            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    closed_set($name::NAMES, concat!($($doc, "\n"),+))
                }
            }

            impl utoipa::ToSchema for $name {}

            impl $name {
                /// The set's names, in declaration order.
                pub const NAMES: &'static [&'static str] =
                    $(<$domain as strum::VariantNames>::VARIANTS)? $(&[$($value),+])?;
            }
        )*

        /// Every closed set as `(schema name, names)`.
        pub const CLOSED_SETS: &[(&str, &[&str])] = &[$((stringify!($name), $name::NAMES)),*];

        /// Adds every closed set's schema to the document's components: utoipa collects the
        /// schemas of body fields by itself, not those of query parameters.
        pub fn register(components: &mut utoipa::openapi::Components) {
            use utoipa::{PartialSchema, ToSchema};
            $(components.schemas.insert($name::name().into_owned(), $name::schema());)*
            components.schemas.insert(AlertKind::name().into_owned(), AlertKind::schema());
            components.schemas.insert(
                ListedExpertStatus::name().into_owned(),
                ListedExpertStatus::schema(),
            );
        }
    };
}

use caseledger_domain::{appraisal, case, consultation, expert, portfolio, reward, subject};

closed_sets! {
    /// How pressing a case is; selects the SLA limits.
    Urgency => case::Urgency;
    /// Where a case came from.
    CaseSource => case::CaseSource;
    /// How the lead department answered.
    Resolution => case::Resolution;
    /// Where a case stands.
    CaseStatus => case::CaseStatus;
    /// Why a case was declined before dispatch (不予受理).
    DeclineReason => case::DeclineReason;
    /// How a department reached the enterprise.
    ContactChannel => case::ContactChannel;
    /// Why a case is exempted from scoring (核减).
    ExemptionReason => case::ExemptionReason;
    /// A deadline a case is measured against.
    DeadlineKind => case::DeadlineKind;
    /// A role; tokens carry these names in their `roles` claim.
    Role => caseledger_domain::Role;
    /// What kind of subject (enterprise, institute, university, talent) this is.
    SubjectKind => subject::SubjectKind;
    /// How often an assigned subject must be visited.
    VisitObligation => portfolio::VisitObligation;
    /// Who owns a liaison portfolio: a district leader or a department.
    OwnerKind => portfolio::PortfolioOwner;
    /// Where an expert stands in the pool.
    ExpertStatus => expert::ExpertStatus;
    /// What a consultation is about.
    TopicType => consultation::TopicType;
    /// How confidential a consultation's materials are.
    Confidentiality => consultation::Confidentiality;
    /// An expert's position.
    Stance => consultation::Stance;
    /// What the requester did with a recommendation.
    AdoptionOutcome => consultation::AdoptionOutcome;
    /// Where a consultation request stands.
    ConsultationStatus => consultation::ConsultationStatus;
    /// Where a panel seat stands.
    SeatState => consultation::SeatState;
    /// How an expert came to a seat.
    SeatedVia => consultation::SeatedVia;
    /// How a panel was chosen.
    SelectionMethod => consultation::SelectionMethod;
    /// Whether a unit or a person is nominated.
    NomineeKind => reward::nomination::NomineeKind;
    /// Where a reward nomination stands.
    NominationStatus => reward::nomination::NominationStatus;
    /// Where an appraisal campaign stands.
    CampaignStatus => appraisal::CampaignStatus;
    /// Where a rectification item stands.
    RectificationStatus => appraisal::RectificationStatus;
    /// An appraisal grade.
    Grade => appraisal::Grade;
    /// Where a reward program stands (`approved` once its approval document is recorded).
    ProgramStatus = ["draft", "approved"];
    /// How a reviewer came to a nomination's roster: drawn, or an alternate taking a seat.
    SeatedAs = ["drawn", "alternate"];
    /// The length of a KPI period.
    KpiGranularity = ["month", "quarter", "year"];
    /// Whether the server is ready to take traffic.
    ReadinessStatus = ["ready", "not_ready"];
    /// Where an appeal against a rating stands.
    AppealStatus = ["pending", "upheld", "rejected"];
    /// The language of the public appraisal page (`zh-CN` is read as `zh`).
    PageLanguage = ["zh", "zh-CN", "en"];
    /// The format of the reward decision audit.
    AuditFormat = ["json", "csv"];
}

/// What fired on a case: a timer threshold (`warn50`, `warn80`, `breach`, the names of
/// `case::Threshold`) or an `escalation` (督办).
pub struct AlertKind;

impl AlertKind {
    /// The kind of an escalation.
    pub const ESCALATION: &'static str = "escalation";

    /// The thresholds' names, then `escalation`.
    pub fn names() -> Vec<&'static str> {
        let thresholds = <case::Threshold as strum::VariantNames>::VARIANTS;
        thresholds
            .iter()
            .copied()
            .chain([Self::ESCALATION])
            .collect()
    }
}

impl utoipa::PartialSchema for AlertKind {
    fn schema() -> RefOr<Schema> {
        closed_set(
            &Self::names(),
            "What fired on a case: a timer threshold or an escalation (督办).",
        )
    }
}

impl utoipa::ToSchema for AlertKind {}

/// The statuses the expert list filters by: every `expert::ExpertStatus` but the default one
/// (an expert not added yet is in no list).
pub struct ListedExpertStatus;

impl ListedExpertStatus {
    /// The statuses' names.
    pub fn names() -> Vec<&'static str> {
        let unlisted: &'static str = expert::ExpertStatus::default().into();
        <expert::ExpertStatus as strum::VariantNames>::VARIANTS
            .iter()
            .copied()
            .filter(|name| *name != unlisted)
            .collect()
    }
}

impl utoipa::PartialSchema for ListedExpertStatus {
    fn schema() -> RefOr<Schema> {
        closed_set(
            &Self::names(),
            "The statuses of experts in the pool's lists.",
        )
    }
}

impl utoipa::ToSchema for ListedExpertStatus {}

/// Formats and patterns of the path parameters, by name, as the handlers parse them (an id that
/// does not parse answers 404 or 400). Applied by the `PathFormats` modifier in `openapi.rs`.
pub const PATH_PARAMETERS: &[(&str, Format)] = &[
    ("case_id", Format::Uuid),
    ("consultation_id", Format::Uuid),
    ("appraisal_id", Format::Uuid),
    ("program_id", Format::Uuid),
    ("nomination_id", Format::Uuid),
    ("rectification_id", Format::Uuid),
    ("item_id", Format::Uuid),
    ("subject_id", Format::Slug),
    ("expert_id", Format::Slug),
    ("department_id", Format::Slug),
    ("department", Format::Slug),
    ("portfolio_id", Format::Pattern(PORTFOLIO_ID_PATTERN)),
];

/// A string format of the edge.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    /// A UUID.
    Uuid,
    /// A slug id.
    Slug,
    /// Any other pattern.
    Pattern(&'static str),
}

impl Format {
    /// Sets the format or pattern on a string schema.
    pub fn apply(self, schema: &mut utoipa::openapi::schema::Object) {
        match self {
            Format::Uuid => schema.format = Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)),
            Format::Slug => schema.pattern = Some(SLUG_PATTERN.to_owned()),
            Format::Pattern(pattern) => schema.pattern = Some(pattern.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    /// Serde's names of every variant of a domain enum (what a request must send and an answer
    /// holds).
    fn serde_names<T: VariantArray + serde::Serialize>() -> Vec<String> {
        T::VARIANTS
            .iter()
            .map(|variant| {
                serde_json::to_value(variant)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    /// The test the issue asks for: a variant added to a domain enum that the contract's enum
    /// lacks (a hand-written list, a serde rename strum does not know) fails here.
    #[test]
    fn every_closed_set_in_the_document_lists_every_variant_of_its_domain_enum() {
        let document = serde_json::to_value(crate::openapi::document()).unwrap();
        let schemas = &document["components"]["schemas"];
        let listed = |name: &str| -> Vec<String> {
            schemas[name]["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{name} is not an enum schema of the document"))
                .iter()
                .map(|value| value.as_str().unwrap().to_owned())
                .collect()
        };
        macro_rules! same {
            ($($name:ident => $domain:ty),* $(,)?) => {$(
                assert_eq!(listed(stringify!($name)), serde_names::<$domain>(), stringify!($name));
            )*};
        }
        same!(
            Urgency => case::Urgency,
            CaseSource => case::CaseSource,
            Resolution => case::Resolution,
            CaseStatus => case::CaseStatus,
            DeclineReason => case::DeclineReason,
            ContactChannel => case::ContactChannel,
            ExemptionReason => case::ExemptionReason,
            DeadlineKind => case::DeadlineKind,
            Role => caseledger_domain::Role,
            SubjectKind => subject::SubjectKind,
            VisitObligation => portfolio::VisitObligation,
            ExpertStatus => expert::ExpertStatus,
            TopicType => consultation::TopicType,
            Confidentiality => consultation::Confidentiality,
            Stance => consultation::Stance,
            AdoptionOutcome => consultation::AdoptionOutcome,
            ConsultationStatus => consultation::ConsultationStatus,
            SeatState => consultation::SeatState,
            SeatedVia => consultation::SeatedVia,
            SelectionMethod => consultation::SelectionMethod,
            NomineeKind => reward::nomination::NomineeKind,
            NominationStatus => reward::nomination::NominationStatus,
            CampaignStatus => appraisal::CampaignStatus,
            RectificationStatus => appraisal::RectificationStatus,
            Grade => appraisal::Grade,
        );
        let mut alerts = serde_names::<case::Threshold>();
        alerts.push("escalation".to_owned());
        assert_eq!(listed("AlertKind"), alerts);
        assert_eq!(
            listed("ListedExpertStatus"),
            ["active", "suspended", "removed"]
        );
        // Every declared set is used by some field or parameter of the document.
        for (name, names) in CLOSED_SETS {
            assert_eq!(listed(name), *names, "{name}");
        }
        assert_eq!(listed("OwnerKind"), ["leader", "department"]);
    }
}

//! The catalogue of what the log stores: every stream (aggregate) type, every event type, and
//! the event fields that hold personal data. Followers of the log (the feed over HTTP, webhooks)
//! validate what a caller names against it and leave personal fields out for callers whose role
//! may not read them.

use cqrs_es::Aggregate;
use strum::VariantNames;

/// Every stream type, as stored in `aggregate_type`.
pub fn aggregate_types() -> [&'static str; 11] {
    [
        crate::case::EnterpriseCase::TYPE,
        crate::subject::Subject::TYPE,
        crate::portfolio::LiaisonPortfolio::TYPE,
        crate::appraisal::AppraisalCampaign::TYPE,
        crate::expert::Expert::TYPE,
        crate::consultation::ConsultationRequest::TYPE,
        crate::reward::program::RewardProgram::TYPE,
        crate::reward::nomination::RewardNomination::TYPE,
        crate::access::AccessLog::TYPE,
        crate::revocation::SessionRevocation::TYPE,
        crate::person::Person::TYPE,
    ]
}

/// Every event type, as stored in `event_type` (the variant names of the event enums).
pub fn event_types() -> impl Iterator<Item = &'static str> {
    [
        crate::case::CaseEvent::VARIANTS,
        crate::subject::SubjectEvent::VARIANTS,
        crate::portfolio::PortfolioEvent::VARIANTS,
        crate::appraisal::AppraisalEvent::VARIANTS,
        crate::expert::ExpertEvent::VARIANTS,
        crate::consultation::ConsultationEvent::VARIANTS,
        crate::reward::program::ProgramEvent::VARIANTS,
        crate::reward::nomination::NominationEvent::VARIANTS,
        crate::access::AccessEvent::VARIANTS,
        crate::revocation::RevocationEvent::VARIANTS,
        crate::person::PersonEvent::VARIANTS,
    ]
    .into_iter()
    .flatten()
    .copied()
}

/// Whether `name` is a stream type or an event type.
pub fn is_known_type(name: &str) -> bool {
    aggregate_types().contains(&name) || event_types().any(|known| known == name)
}

/// The keys of event payloads that hold personal data: a subject's contact record (person,
/// phone, e-mail, a talent's details), a nominee's ID number and phone, an objection filer's
/// contact, a directory entry's contact (e-mail, mobile). Wherever they appear in a payload, at any depth.
pub const PERSONAL_FIELDS: [&str; 6] = [
    "contact",
    "phone",
    "email",
    "id_number",
    "filer_contact",
    "personal_details",
];

/// Removes every [`PERSONAL_FIELDS`] key from `payload`, at any depth. Returns whether anything
/// was removed.
pub fn strip_personal_fields(payload: &mut serde_json::Value) -> bool {
    match payload {
        serde_json::Value::Object(map) => {
            let before = map.len();
            map.retain(|key, _| !PERSONAL_FIELDS.contains(&key.as_str()));
            let mut removed = map.len() != before;
            for value in map.values_mut() {
                removed |= strip_personal_fields(value);
            }
            removed
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .fold(false, |removed, item| strip_personal_fields(item) | removed),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_fields_go_at_any_depth_and_the_rest_stays() {
        let mut payload = serde_json::json!({
            "SubjectRegistered": {
                "subject_id": "ent-1", "name": "某某科技有限公司",
                "contact": {"person": "张三", "phone": "13800000000"}
            }
        });
        assert!(strip_personal_fields(&mut payload));
        assert_eq!(
            payload,
            serde_json::json!({"SubjectRegistered": {"subject_id": "ent-1", "name": "某某科技有限公司"}})
        );
        let mut nominees = serde_json::json!([{"nominee": {"name": "王明", "id_number": "11010119900101123X", "phone": "13900000000"}}]);
        assert!(strip_personal_fields(&mut nominees));
        assert_eq!(nominees, serde_json::json!([{"nominee": {"name": "王明"}}]));
        let mut plain = serde_json::json!({"CaseDispatched": {"lead_department": "dept-a"}});
        assert!(!strip_personal_fields(&mut plain));
    }

    #[test]
    fn the_catalogue_knows_streams_and_events_and_nothing_else() {
        assert!(is_known_type("EnterpriseCase"));
        assert!(is_known_type("CaseDispatched"));
        assert!(is_known_type("NominationApproved"));
        assert!(is_known_type("PrivateDataRead"));
        assert!(!is_known_type("casedispatched"));
        assert!(!is_known_type("Dispatch"));
        // One name recurs across streams (`AlternateSeated`, of a consultation and of a
        // nomination); a filter by that event type matches both.
        assert!(event_types().count() > 80);
    }
}

//! Golden fixtures of stored events (issue 14 item 7): `tests/fixtures/events/<stream>.json`
//! holds, for every event variant of a stream, a payload as the events table stores it (with its
//! `event_type` and `event_version` columns). Events are a stored contract: these payloads were
//! written once and must read forever.
//!
//! Each payload must deserialise, name the same event type and version, and serialise again to a
//! JSON value that still holds every field of the fixture under the same name with the same value.
//! A renamed or removed field, a renamed variant or a changed encoding fails; a field added with
//! `#[serde(default)]` passes (the old payload reads, and the new field is simply extra). A new
//! variant needs a fixture here too (the list of variants below is checked against the file).

use cqrs_es::DomainEvent;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use caseledger_domain::access::AccessEvent;
use caseledger_domain::appraisal::AppraisalEvent;
use caseledger_domain::consultation::ConsultationEvent;
use caseledger_domain::expert::ExpertEvent;
use caseledger_domain::revocation::RevocationEvent;
use caseledger_domain::reward::nomination::NominationEvent;
use caseledger_domain::reward::program::ProgramEvent;

/// `Ok` when `actual` holds everything `stored` holds (objects may have extra keys; arrays and
/// scalars must be equal element by element); otherwise the JSON path of the first difference.
fn holds(stored: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (stored, actual) {
        (Value::Object(stored), Value::Object(actual)) => {
            for (key, value) in stored {
                let inner = format!("{path}.{key}");
                let Some(found) = actual.get(key) else {
                    return Err(format!("{inner} is no longer written"));
                };
                holds(value, found, &inner)?;
            }
            Ok(())
        }
        (Value::Array(stored), Value::Array(actual)) => {
            if stored.len() != actual.len() {
                return Err(format!(
                    "{path} has {} elements instead of {}",
                    actual.len(),
                    stored.len()
                ));
            }
            for (index, (stored, actual)) in stored.iter().zip(actual).enumerate() {
                holds(stored, actual, &format!("{path}[{index}]"))?;
            }
            Ok(())
        }
        (stored, actual) if stored == actual => Ok(()),
        (stored, actual) => Err(format!("{path} was {stored}, reads back as {actual}")),
    }
}

/// Checks one fixture file against the event type `E` and the variants it must cover.
fn check_stream<E>(fixture: &str, file: &str, variants: &[&str])
where
    E: DomainEvent + DeserializeOwned + Serialize,
{
    let entries: Vec<Value> = serde_json::from_str(fixture)
        .unwrap_or_else(|error| panic!("{file} is not a JSON array: {error}"));
    let mut covered: Vec<String> = Vec::new();
    for entry in &entries {
        let event_type = entry["event_type"].as_str().unwrap();
        let event_version = entry["event_version"].as_str().unwrap();
        let payload = &entry["payload"];
        let event: E = serde_json::from_value(payload.clone())
            .unwrap_or_else(|error| panic!("{file}: stored {event_type} no longer reads: {error}"));
        assert_eq!(event.event_type(), event_type, "{file}");
        assert_eq!(event.event_version(), event_version, "{file}: {event_type}");
        let written = serde_json::to_value(&event).unwrap();
        if let Err(difference) = holds(payload, &written, event_type) {
            panic!("{file}: {difference}\nstored: {payload}\nnow written: {written}");
        }
        covered.push(event_type.to_owned());
    }
    let mut expected: Vec<String> = variants.iter().map(|&name| name.to_owned()).collect();
    expected.sort();
    covered.sort();
    covered.dedup();
    assert_eq!(
        covered, expected,
        "{file} must hold every variant once or more"
    );
}

#[test]
fn stored_expert_events_still_read_and_write_the_same_fields() {
    check_stream::<ExpertEvent>(
        include_str!("../../../tests/fixtures/events/expert.json"),
        "tests/fixtures/events/expert.json",
        &[
            "ExpertAdded",
            "ExpertUpdated",
            "ExpertSuspended",
            "ExpertReinstated",
            "ExpertRemoved",
        ],
    );
}

#[test]
fn stored_consultation_events_still_read_and_write_the_same_fields() {
    check_stream::<ConsultationEvent>(
        include_str!("../../../tests/fixtures/events/consultation_request.json"),
        "tests/fixtures/events/consultation_request.json",
        &[
            "ConsultationSubmitted",
            "ConsultationAccepted",
            "ConsultationRejected",
            "PanelDrawn",
            "SelectionProposed",
            "SelectionApproved",
            "SeatAccepted",
            "PanelConfirmed",
            "SeatDeclined",
            "ExpertRecused",
            "AlternateSeated",
            "OpinionSubmitted",
            "ConclusionRecorded",
            "AdoptionReported",
            "ConsultationClosed",
            "ConsultationCancelled",
        ],
    );
}

#[test]
fn stored_reward_program_events_still_read_and_write_the_same_fields() {
    check_stream::<ProgramEvent>(
        include_str!("../../../tests/fixtures/events/reward_program.json"),
        "tests/fixtures/events/reward_program.json",
        &["ProgramCreated", "ProgramApproved"],
    );
}

#[test]
fn stored_reward_nomination_events_still_read_and_write_the_same_fields() {
    check_stream::<NominationEvent>(
        include_str!("../../../tests/fixtures/events/reward_nomination.json"),
        "tests/fixtures/events/reward_nomination.json",
        &[
            "NominationSubmitted",
            "EligibilityDecided",
            "ReviewersDrawn",
            "ReviewerRecused",
            "ScoresVoided",
            "AggregationVoided",
            "AlternateSeated",
            "ScoresSubmitted",
            "ScoresAggregated",
            "VoteCast",
            "VoteTallied",
            "NoticeStarted",
            "ObjectionFiled",
            "ObjectionResolved",
            "NoticeClosed",
            "NominationApproved",
            "AwardAnnounced",
            "NominationWithdrawn",
            "NominationDisqualified",
            "AwardRevoked",
        ],
    );
}

#[test]
fn stored_appraisal_events_still_read_and_write_the_same_fields() {
    check_stream::<AppraisalEvent>(
        include_str!("../../../tests/fixtures/events/appraisal_campaign.json"),
        "tests/fixtures/events/appraisal_campaign.json",
        &[
            "CampaignCreated",
            "CampaignOpened",
            "BallotCast",
            "CampaignClosed",
            "ResultsComputed",
            "ResultsPublished",
            "RectificationAdded",
            "RectificationReported",
            "RectificationRechecked",
        ],
    );
}

#[test]
fn stored_access_log_events_still_read_and_write_the_same_fields() {
    check_stream::<AccessEvent>(
        include_str!("../../../tests/fixtures/events/access_log.json"),
        "tests/fixtures/events/access_log.json",
        &["PrivateDataRead"],
    );
}

#[test]
fn stored_session_revocation_events_still_read_and_write_the_same_fields() {
    check_stream::<RevocationEvent>(
        include_str!("../../../tests/fixtures/events/session_revocation.json"),
        "tests/fixtures/events/session_revocation.json",
        &["SessionsRevoked"],
    );
}

/// The comparison itself can fail: a renamed field, a changed value and a shorter list are found.
#[test]
fn a_renamed_field_or_changed_value_is_found() {
    let stored = serde_json::json!({"A": {"reason": "x", "items": [1, 2], "n": 1}});
    assert!(holds(&stored, &stored, "A").is_ok());
    let renamed = serde_json::json!({"A": {"why": "x", "items": [1, 2], "n": 1}});
    assert_eq!(
        holds(&stored, &renamed, "A"),
        Err("A.A.reason is no longer written".to_owned())
    );
    let changed = serde_json::json!({"A": {"reason": "x", "items": [1, 2], "n": "1"}});
    assert!(holds(&stored, &changed, "A").is_err());
    let shorter = serde_json::json!({"A": {"reason": "x", "items": [1], "n": 1}});
    assert!(holds(&stored, &shorter, "A").is_err());
    let added = serde_json::json!({"A": {"reason": "x", "items": [1, 2], "n": 1, "new": null}});
    assert!(holds(&stored, &added, "A").is_ok());
}

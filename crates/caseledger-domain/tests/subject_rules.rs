//! Given/when/then rules of the `Subject` aggregate, one rule per test, plus the serde contract
//! of its events and the stable codes of its errors.
//!
//! The fixtures describe one subject: liaison officer Li registers `ent-0042`, a private
//! biomedicine enterprise in the Zhongguancun area, with its finance manager as contact.

use caseledger_domain::case::RefusalKind;
use caseledger_domain::subject::{
    Contact, ContactRecord, Email, PersonName, Phone, Subject, SubjectCommand, SubjectError,
    SubjectEvent, SubjectKind,
};
use caseledger_domain::text::{Label, Title};
use caseledger_domain::{Actor, Authored, Role, SubjectId, UserId};
use chrono::{DateTime, Utc};
use cqrs_es::test::TestFramework;
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn time(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn registered_at() -> DateTime<Utc> {
    time("2026-03-02T09:00:00Z")
}

fn later() -> DateTime<Utc> {
    time("2026-03-10T09:00:00Z")
}

fn user(sub: &str) -> UserId {
    UserId::parse(sub).unwrap()
}

fn actor(sub: &str, roles: &[Role], org: Option<&str>) -> Actor {
    Actor {
        sub: user(sub),
        roles: roles.to_vec(),
        org: org.map(Into::into),
    }
}

fn liaison_officer() -> Actor {
    actor(
        "liaison-li",
        &[Role::LiaisonOfficer],
        Some("district-office"),
    )
}

fn dispatcher() -> Actor {
    actor("disp-wang", &[Role::Dispatcher], Some("bizenv-office"))
}

fn leader() -> Actor {
    actor("leader-zhao", &[Role::DistrictLeader], None)
}

fn handler() -> Actor {
    actor(
        "handler-zhang",
        &[Role::DepartmentHandler],
        Some("dept-commerce"),
    )
}

fn own_enterprise() -> Actor {
    actor("rep-chen", &[Role::Enterprise], Some("ent-0042"))
}

fn other_enterprise() -> Actor {
    actor("rep-sun", &[Role::Enterprise], Some("ent-0099"))
}

fn auditor() -> Actor {
    actor("auditor-zhou", &[Role::Auditor], None)
}

fn by(actor: Actor, at: DateTime<Utc>, command: SubjectCommand) -> Authored<SubjectCommand> {
    Authored { actor, at, command }
}

fn contact() -> Contact {
    Contact {
        person: Some(PersonName::parse("陈财务").unwrap()),
        phone: Some(Phone::parse("010-6512 3456").unwrap()),
        email: Some(Email::parse("finance@ent-0042.example.cn").unwrap()),
        personal_details: None,
    }
}

fn contact_record() -> ContactRecord {
    ContactRecord {
        person: Some("陈财务".into()),
        phone: Some("010-6512 3456".into()),
        email: Some("finance@ent-0042.example.cn".into()),
        personal_details: None,
    }
}

fn new_contact() -> Contact {
    Contact {
        person: Some(PersonName::parse("孙经理").unwrap()),
        phone: Some(Phone::parse("+86 138 0000 0000").unwrap()),
        email: None,
        personal_details: None,
    }
}

fn new_contact_record() -> ContactRecord {
    ContactRecord {
        person: Some("孙经理".into()),
        phone: Some("+86 138 0000 0000".into()),
        email: None,
        personal_details: None,
    }
}

fn register_command() -> SubjectCommand {
    SubjectCommand::Register {
        subject_id: SubjectId::parse("ent-0042").unwrap(),
        name: Title::parse(" 北京某生物医药有限公司 ").unwrap(),
        kind: SubjectKind::PrivateEnterprise,
        industry: Some(Label::parse("biomedicine").unwrap()),
        district_area: Some(Label::parse("中关村片区").unwrap()),
        street: None,
        contact: contact(),
    }
}

fn registered() -> SubjectEvent {
    registered_by("liaison-li")
}

fn registered_by(sub: &str) -> SubjectEvent {
    SubjectEvent::SubjectRegistered {
        subject_id: SubjectId::parse("ent-0042").unwrap(),
        name: "北京某生物医药有限公司".into(),
        kind: SubjectKind::PrivateEnterprise,
        industry: Some("biomedicine".into()),
        district_area: Some("中关村片区".into()),
        street: None,
        contact: contact_record(),
        registered_by: user(sub),
        registered_at: registered_at(),
    }
}

fn update_contact() -> SubjectCommand {
    SubjectCommand::UpdateContact {
        contact: new_contact(),
    }
}

fn contact_updated_by(sub: &str) -> SubjectEvent {
    SubjectEvent::SubjectContactUpdated {
        contact: new_contact_record(),
        updated_by: user(sub),
        updated_at: later(),
    }
}

fn rename(name: &str) -> SubjectCommand {
    SubjectCommand::Rename {
        name: Title::parse(name).unwrap(),
    }
}

fn subject() -> TestFramework<Subject> {
    TestFramework::<Subject>::with(())
}

// ---------------------------------------------------------------------------------------------
// Register
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn liaison_officer_registers_a_subject() {
    subject()
        .given_no_previous_events()
        .when_async(by(liaison_officer(), registered_at(), register_command()))
        .await
        .then_expect_events(vec![registered()]);
}

#[tokio::test]
async fn dispatchers_and_leaders_register_too() {
    for (actor, sub) in [(dispatcher(), "disp-wang"), (leader(), "leader-zhao")] {
        subject()
            .given_no_previous_events()
            .when_async(by(actor, registered_at(), register_command()))
            .await
            .then_expect_events(vec![registered_by(sub)]);
    }
}

#[tokio::test]
async fn other_roles_cannot_register() {
    for actor in [handler(), own_enterprise(), auditor()] {
        subject()
            .given_no_previous_events()
            .when_async(by(actor, registered_at(), register_command()))
            .await
            .then_expect_error(SubjectError::RoleNotAllowed {
                command: "register-subject",
            });
    }
}

#[tokio::test]
async fn second_registration_conflicts() {
    subject()
        .given(vec![registered()])
        .when_async(by(dispatcher(), later(), register_command()))
        .await
        .then_expect_error(SubjectError::SubjectAlreadyExists);
}

// ---------------------------------------------------------------------------------------------
// Update contact
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn staff_update_the_contact() {
    subject()
        .given(vec![registered()])
        .when_async(by(dispatcher(), later(), update_contact()))
        .await
        .then_expect_events(vec![contact_updated_by("disp-wang")]);
}

#[tokio::test]
async fn the_subject_updates_its_own_contact() {
    subject()
        .given(vec![registered()])
        .when_async(by(own_enterprise(), later(), update_contact()))
        .await
        .then_expect_events(vec![contact_updated_by("rep-chen")]);
}

#[tokio::test]
async fn another_enterprise_cannot_update_the_contact() {
    subject()
        .given(vec![registered()])
        .when_async(by(other_enterprise(), later(), update_contact()))
        .await
        .then_expect_error(SubjectError::NotOwnSubject);
}

#[tokio::test]
async fn department_staff_and_auditors_cannot_update_the_contact() {
    for actor in [handler(), auditor()] {
        subject()
            .given(vec![registered()])
            .when_async(by(actor, later(), update_contact()))
            .await
            .then_expect_error(SubjectError::RoleNotAllowed {
                command: "update-contact",
            });
    }
}

#[tokio::test]
async fn commands_on_an_unregistered_subject_are_not_found() {
    for command in [update_contact(), rename("新名称")] {
        subject()
            .given_no_previous_events()
            .when_async(by(dispatcher(), later(), command))
            .await
            .then_expect_error(SubjectError::SubjectNotFound);
    }
}

// ---------------------------------------------------------------------------------------------
// Rename
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn staff_rename_a_subject() {
    subject()
        .given(vec![registered()])
        .when_async(by(leader(), later(), rename("北京某生物科技股份有限公司")))
        .await
        .then_expect_events(vec![SubjectEvent::SubjectRenamed {
            name: "北京某生物科技股份有限公司".into(),
            renamed_by: user("leader-zhao"),
            renamed_at: later(),
        }]);
}

#[tokio::test]
async fn the_enterprise_cannot_rename_itself() {
    subject()
        .given(vec![registered()])
        .when_async(by(own_enterprise(), later(), rename("新名称")))
        .await
        .then_expect_error(SubjectError::RoleNotAllowed { command: "rename" });
}

#[tokio::test]
async fn renaming_to_the_current_name_is_refused() {
    subject()
        .given(vec![registered()])
        .when_async(by(dispatcher(), later(), rename("北京某生物医药有限公司")))
        .await
        .then_expect_error(SubjectError::NameUnchanged);
}

#[tokio::test]
async fn a_rename_is_remembered() {
    let renamed = SubjectEvent::SubjectRenamed {
        name: "新名称".into(),
        renamed_by: user("disp-wang"),
        renamed_at: later(),
    };
    subject()
        .given(vec![registered(), renamed])
        .when_async(by(dispatcher(), later(), rename("新名称")))
        .await
        .then_expect_error(SubjectError::NameUnchanged);
}

// ---------------------------------------------------------------------------------------------
// Stored and wire contracts
// ---------------------------------------------------------------------------------------------

#[test]
fn subject_registered_serialises_externally_tagged_with_snake_case_values() {
    let json = serde_json::to_value(registered()).unwrap();
    assert_eq!(
        json,
        json!({
            "SubjectRegistered": {
                "subject_id": "ent-0042",
                "name": "北京某生物医药有限公司",
                "kind": "private_enterprise",
                "industry": "biomedicine",
                "district_area": "中关村片区",
                "street": null,
                "contact": {
                    "person": "陈财务",
                    "phone": "010-6512 3456",
                    "email": "finance@ent-0042.example.cn",
                    "personal_details": null
                },
                "registered_by": "liaison-li",
                "registered_at": "2026-03-02T09:00:00Z"
            }
        })
    );
    let back: SubjectEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, registered());
}

#[test]
fn contact_without_personal_details_still_reads() {
    let json = json!({"person": null, "phone": "12345", "email": null});
    let contact: ContactRecord = serde_json::from_value(json).unwrap();
    assert_eq!(contact.personal_details, None);
}

#[test]
fn error_codes_are_stable_and_classified() {
    let codes = [
        (
            SubjectError::SubjectNotFound,
            "subject_not_found",
            RefusalKind::NotFound,
        ),
        (
            SubjectError::SubjectAlreadyExists,
            "subject_already_exists",
            RefusalKind::Conflict,
        ),
        (
            SubjectError::RoleNotAllowed { command: "rename" },
            "role_not_allowed",
            RefusalKind::Forbidden,
        ),
        (
            SubjectError::NotOwnSubject,
            "not_own_subject",
            RefusalKind::Forbidden,
        ),
        (
            SubjectError::NameUnchanged,
            "name_unchanged",
            RefusalKind::Rule,
        ),
    ];
    for (error, code, kind) in codes {
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.kind(), kind, "{error:?}");
    }
}

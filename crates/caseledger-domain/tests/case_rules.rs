//! Given/when/then rules of the `EnterpriseCase` aggregate, one rule per test, plus the serde
//! contract of its events and the stable codes of its errors.
//!
//! Every test states a history (`given`), one authored command (`when_async`) and the exact
//! events or the exact refusal it must produce. The fixtures below describe one ordinary case:
//! `ent-0042` raises a financing problem, the business-environment office dispatches it to
//! `dept-commerce` with `dept-finance` assisting, a commerce handler accepts and answers, the
//! enterprise rates the answer and the dispatcher closes the case.

use caseledger_domain::case::{
    CaseCommand, CaseError, CaseEvent, CaseSource, EnterpriseCase, RefusalKind, Resolution,
    Satisfaction, Urgency,
};
use std::sync::Arc;

use caseledger_domain::calendar::WorkCalendar;
use caseledger_domain::case::SlaContext;
use caseledger_domain::sla::{Limit, LimitUnit, SlaPolicy, SlaRule};
use caseledger_domain::text::{Label, LongText, Title};
use caseledger_domain::{Actor, Authored, CaseId, DepartmentId, Role, SubjectId, UserId};
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
    time("2026-11-02T09:00:00Z")
}

fn dispatched_at() -> DateTime<Utc> {
    time("2026-11-02T10:00:00Z")
}

fn accepted_at() -> DateTime<Utc> {
    time("2026-11-02T14:30:00Z")
}

fn responded_at() -> DateTime<Utc> {
    time("2026-11-04T16:00:00Z")
}

fn rated_at() -> DateTime<Utc> {
    time("2026-11-06T10:00:00Z")
}

fn closed_at() -> DateTime<Utc> {
    time("2026-11-06T11:00:00Z")
}

/// Any later moment, for commands that are refused or that do not depend on the time.
fn later() -> DateTime<Utc> {
    time("2026-11-10T08:00:00Z")
}

fn case_id() -> CaseId {
    CaseId::parse("0193a0a2-7c4e-7d1a-9b8e-3f2a1c0d4e5f").unwrap()
}

fn enterprise_id() -> SubjectId {
    SubjectId::parse("ent-0042").unwrap()
}

fn lead_department() -> DepartmentId {
    DepartmentId::parse("dept-commerce").unwrap()
}

fn co_department() -> DepartmentId {
    DepartmentId::parse("dept-finance").unwrap()
}

fn user(sub: &str) -> UserId {
    UserId::parse(sub).unwrap()
}

fn actor(sub: &str, roles: &[Role], org: &str) -> Actor {
    Actor {
        sub: user(sub),
        roles: roles.to_vec(),
        org: Some(org.into()),
    }
}

/// The business-environment office that routes cases.
fn dispatcher() -> Actor {
    actor("disp-wang", &[Role::Dispatcher], "bizenv-office")
}

fn liaison_officer() -> Actor {
    actor("liaison-li", &[Role::LiaisonOfficer], "district-office")
}

/// The commerce handler who accepts and answers the case.
fn lead_handler() -> Actor {
    actor("handler-zhang", &[Role::DepartmentHandler], "dept-commerce")
}

fn lead_head() -> Actor {
    actor("head-liu", &[Role::DepartmentHead], "dept-commerce")
}

fn co_handler() -> Actor {
    actor("handler-zhao", &[Role::DepartmentHandler], "dept-finance")
}

/// A handler of a department that neither leads nor assists.
fn outside_handler() -> Actor {
    actor("handler-qian", &[Role::DepartmentHandler], "dept-tax")
}

/// The representative of `ent-0042`, the enterprise that raised the case.
fn enterprise() -> Actor {
    actor("rep-chen", &[Role::Enterprise], "ent-0042")
}

fn other_enterprise() -> Actor {
    actor("rep-sun", &[Role::Enterprise], "ent-0099")
}

fn auditor() -> Actor {
    actor("auditor-zhou", &[Role::Auditor], "discipline-office")
}

fn hours(amount: u32) -> Limit {
    Limit {
        amount,
        unit: LimitUnit::Hours,
    }
}

/// Normal cases: accept and first contact within 24 h, respond within 72 h, close within
/// 240 h, extensions up to 48 h. Urgent: 2 h, 4 h, 24 h, 72 h, no extension.
fn rule(urgency: Urgency) -> SlaRule {
    match urgency {
        Urgency::Normal => SlaRule {
            category: None,
            urgency,
            accept: hours(24),
            first_contact: hours(24),
            respond: hours(72),
            resolve: hours(240),
            extension_cap: hours(48),
        },
        Urgency::Urgent => SlaRule {
            category: None,
            urgency,
            accept: hours(2),
            first_contact: hours(4),
            respond: hours(24),
            resolve: hours(72),
            extension_cap: hours(0),
        },
    }
}

fn sla() -> SlaContext {
    SlaContext {
        policy: Arc::new(SlaPolicy {
            version: "2026.1".into(),
            rules: vec![rule(Urgency::Normal), rule(Urgency::Urgent)],
        }),
        calendar: Arc::new(WorkCalendar::default()),
    }
}

fn long_text(text: &str) -> LongText {
    LongText::parse(text).unwrap()
}

fn satisfaction(grade: u8) -> Satisfaction {
    Satisfaction::new(grade).unwrap()
}

fn by(actor: Actor, at: DateTime<Utc>, command: CaseCommand) -> Authored<CaseCommand> {
    Authored { actor, at, command }
}

// Commands -----------------------------------------------------------------------------------

fn register_command(urgency: Urgency) -> CaseCommand {
    CaseCommand::Register {
        case_id: case_id(),
        enterprise_id: enterprise_id(),
        title: Title::parse("  融资难  ").unwrap(),
        description: long_text("流动资金贷款审批周期过长"),
        category: Label::parse("financing").unwrap(),
        urgency,
        source: CaseSource::LiaisonVisit,
        case_number: Some("2026-0000042".into()),
        verifier_sha256: None,
    }
}

fn dispatch_command() -> CaseCommand {
    CaseCommand::Dispatch {
        lead_department: lead_department(),
        co_departments: vec![co_department()],
        note: Some(long_text("请商务局牵头，金融办配合")),
        sla: sla(),
    }
}

fn dispatch_with_co_departments(co_departments: Vec<DepartmentId>) -> CaseCommand {
    CaseCommand::Dispatch {
        lead_department: lead_department(),
        co_departments,
        note: None,
        sla: sla(),
    }
}

fn respond_command() -> CaseCommand {
    CaseCommand::Respond {
        resolution: Resolution::Resolved,
        text: long_text("已协调银行开辟绿色通道"),
        basis: None,
        evidence: Vec::new(),
    }
}

fn rate_command() -> CaseCommand {
    CaseCommand::Rate {
        satisfaction: satisfaction(5),
        resolved: true,
        comment: Some(long_text("办得很快")),
    }
}

fn note_command() -> CaseCommand {
    CaseCommand::AddNote {
        text: long_text("已电话联系企业财务负责人"),
    }
}

// Events -------------------------------------------------------------------------------------

fn registered() -> CaseEvent {
    registered_with(Urgency::Normal)
}

fn registered_with(urgency: Urgency) -> CaseEvent {
    CaseEvent::CaseRegistered {
        case_id: case_id(),
        enterprise_id: enterprise_id(),
        title: "融资难".into(),
        description: "流动资金贷款审批周期过长".into(),
        category: "financing".into(),
        urgency,
        source: CaseSource::LiaisonVisit,
        registered_by: user("liaison-li"),
        registered_at: registered_at(),
        case_number: Some("2026-0000042".into()),
        verifier_sha256: None,
    }
}

/// Dispatched under `sla_policy()` at 10:00 on 2 November: a normal case is due to be accepted
/// 24 hours later and answered 72 hours later.
fn dispatched() -> CaseEvent {
    CaseEvent::CaseDispatched {
        lead_department: lead_department(),
        co_departments: vec![co_department()],
        note: Some("请商务局牵头，金融办配合".into()),
        sla_policy_version: "2026.1".into(),
        accept_due: time("2026-11-03T10:00:00Z"),
        respond_due: time("2026-11-05T10:00:00Z"),
        dispatched_by: user("disp-wang"),
        dispatched_at: dispatched_at(),
        first_contact_due: Some(time("2026-11-03T10:00:00Z")),
        resolve_due: Some(time("2026-11-12T10:00:00Z")),
        sla_rule: Some(rule(Urgency::Normal)),
    }
}

fn accepted() -> CaseEvent {
    CaseEvent::CaseAccepted {
        department: lead_department(),
        accepted_by: user("handler-zhang"),
        accepted_at: accepted_at(),
    }
}

fn responded() -> CaseEvent {
    CaseEvent::CaseResponded {
        department: lead_department(),
        resolution: Resolution::Resolved,
        text: "已协调银行开辟绿色通道".into(),
        basis: None,
        responded_by: user("handler-zhang"),
        responded_at: responded_at(),
        evidence: Vec::new(),
    }
}

fn rated() -> CaseEvent {
    CaseEvent::CaseRated {
        satisfaction: satisfaction(5),
        resolved: true,
        comment: Some("办得很快".into()),
        rated_by: user("rep-chen"),
        rated_as: Role::Enterprise,
        rated_at: rated_at(),
    }
}

fn closed() -> CaseEvent {
    CaseEvent::CaseClosed {
        closed_by: user("disp-wang"),
        closed_at: closed_at(),
    }
}

fn noted() -> CaseEvent {
    CaseEvent::InternalNoteAdded {
        text: "已电话联系企业财务负责人".into(),
        author: user("handler-zhao"),
        author_org: Some("dept-finance".into()),
        added_at: accepted_at(),
    }
}

fn case() -> TestFramework<EnterpriseCase> {
    TestFramework::<EnterpriseCase>::with(())
}

// ---------------------------------------------------------------------------------------------
// Register (受理)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn liaison_officer_registers_a_case() {
    case()
        .given_no_previous_events()
        .when_async(by(
            liaison_officer(),
            registered_at(),
            register_command(Urgency::Normal),
        ))
        .await
        .then_expect_events(vec![registered()]);
}

#[tokio::test]
async fn enterprise_registers_its_own_case() {
    let mut expected = registered();
    if let CaseEvent::CaseRegistered { registered_by, .. } = &mut expected {
        *registered_by = user("rep-chen");
    }
    case()
        .given_no_previous_events()
        .when_async(by(
            enterprise(),
            registered_at(),
            register_command(Urgency::Normal),
        ))
        .await
        .then_expect_events(vec![expected]);
}

#[tokio::test]
async fn enterprise_registers_only_for_itself() {
    case()
        .given_no_previous_events()
        .when_async(by(
            other_enterprise(),
            registered_at(),
            register_command(Urgency::Normal),
        ))
        .await
        .then_expect_error(CaseError::NotOwnEnterprise);
}

#[tokio::test]
async fn department_handler_cannot_register() {
    case()
        .given_no_previous_events()
        .when_async(by(
            lead_handler(),
            registered_at(),
            register_command(Urgency::Normal),
        ))
        .await
        .then_expect_error(CaseError::RoleNotAllowed {
            command: "register",
        });
}

#[tokio::test]
async fn second_registration_conflicts() {
    case()
        .given(vec![registered()])
        .when_async(by(dispatcher(), later(), register_command(Urgency::Normal)))
        .await
        .then_expect_error(CaseError::CaseAlreadyExists);
}

#[tokio::test]
async fn commands_on_an_unregistered_case_are_not_found() {
    let commands = [
        (dispatcher(), dispatch_command()),
        (lead_handler(), CaseCommand::Accept),
        (lead_handler(), respond_command()),
        (enterprise(), rate_command()),
        (dispatcher(), rate_command()),
        (liaison_officer(), note_command()),
        (dispatcher(), CaseCommand::Close),
    ];
    for (actor, command) in commands {
        case()
            .given_no_previous_events()
            .when_async(by(actor, later(), command))
            .await
            .then_expect_error(CaseError::CaseNotFound);
    }
}

// ---------------------------------------------------------------------------------------------
// Visibility and roles
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn enterprise_cannot_see_another_enterprises_case() {
    case()
        .given(vec![registered(), dispatched(), accepted(), responded()])
        .when_async(by(other_enterprise(), rated_at(), rate_command()))
        .await
        .then_expect_error(CaseError::CaseNotFound);
}

#[tokio::test]
async fn enterprise_may_only_register_and_rate() {
    let attempts = [
        (vec![registered()], dispatch_command()),
        (vec![registered(), dispatched()], CaseCommand::Accept),
        (
            vec![registered(), dispatched(), accepted()],
            respond_command(),
        ),
        (vec![registered()], note_command()),
        (
            vec![registered(), dispatched(), accepted(), responded(), rated()],
            CaseCommand::Close,
        ),
    ];
    for (history, command) in attempts {
        let name = command.name();
        case()
            .given(history)
            .when_async(by(enterprise(), later(), command))
            .await
            .then_expect_error(CaseError::RoleNotAllowed { command: name });
    }
}

#[tokio::test]
async fn auditor_changes_no_business_state() {
    let attempts = [
        (vec![], register_command(Urgency::Normal)),
        (vec![registered()], dispatch_command()),
        (vec![registered(), dispatched()], CaseCommand::Accept),
        (
            vec![registered(), dispatched(), accepted()],
            respond_command(),
        ),
        (
            vec![registered(), dispatched(), accepted(), responded()],
            rate_command(),
        ),
        (vec![registered(), dispatched()], note_command()),
        (
            vec![registered(), dispatched(), accepted(), responded(), rated()],
            CaseCommand::Close,
        ),
    ];
    for (history, command) in attempts {
        let name = command.name();
        case()
            .given(history)
            .when_async(by(auditor(), later(), command))
            .await
            .then_expect_error(CaseError::RoleNotAllowed { command: name });
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch (交办)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn dispatch_records_policy_version_and_due_dates() {
    case()
        .given(vec![registered()])
        .when_async(by(dispatcher(), dispatched_at(), dispatch_command()))
        .await
        .then_expect_events(vec![CaseEvent::CaseDispatched {
            lead_department: lead_department(),
            co_departments: vec![co_department()],
            note: Some("请商务局牵头，金融办配合".into()),
            sla_policy_version: "2026.1".into(),
            accept_due: time("2026-11-03T10:00:00Z"),
            respond_due: time("2026-11-05T10:00:00Z"),
            dispatched_by: user("disp-wang"),
            dispatched_at: time("2026-11-02T10:00:00Z"),
            first_contact_due: Some(time("2026-11-03T10:00:00Z")),
            resolve_due: Some(time("2026-11-12T10:00:00Z")),
            sla_rule: Some(rule(Urgency::Normal)),
        }]);
}

#[tokio::test]
async fn urgent_case_gets_the_urgent_limits() {
    case()
        .given(vec![registered_with(Urgency::Urgent)])
        .when_async(by(
            dispatcher(),
            dispatched_at(),
            dispatch_with_co_departments(vec![]),
        ))
        .await
        .then_expect_events(vec![CaseEvent::CaseDispatched {
            lead_department: lead_department(),
            co_departments: vec![],
            note: None,
            sla_policy_version: "2026.1".into(),
            accept_due: time("2026-11-02T12:00:00Z"),
            respond_due: time("2026-11-03T10:00:00Z"),
            dispatched_by: user("disp-wang"),
            dispatched_at: dispatched_at(),
            first_contact_due: Some(time("2026-11-02T14:00:00Z")),
            resolve_due: Some(time("2026-11-05T10:00:00Z")),
            sla_rule: Some(rule(Urgency::Urgent)),
        }]);
}

#[tokio::test]
async fn only_a_dispatcher_dispatches() {
    case()
        .given(vec![registered()])
        .when_async(by(liaison_officer(), dispatched_at(), dispatch_command()))
        .await
        .then_expect_error(CaseError::RoleNotAllowed {
            command: "dispatch",
        });
}

#[tokio::test]
async fn second_dispatch_is_refused() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(dispatcher(), later(), dispatch_command()))
        .await
        .then_expect_error(CaseError::AlreadyDispatched);
}

#[tokio::test]
async fn co_departments_must_exclude_the_lead() {
    case()
        .given(vec![registered()])
        .when_async(by(
            dispatcher(),
            dispatched_at(),
            dispatch_with_co_departments(vec![co_department(), lead_department()]),
        ))
        .await
        .then_expect_error(CaseError::InvalidCoDepartments);
}

#[tokio::test]
async fn co_departments_must_be_distinct() {
    case()
        .given(vec![registered()])
        .when_async(by(
            dispatcher(),
            dispatched_at(),
            dispatch_with_co_departments(vec![co_department(), co_department()]),
        ))
        .await
        .then_expect_error(CaseError::InvalidCoDepartments);
}

// ---------------------------------------------------------------------------------------------
// Accept (签收)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn lead_handler_accepts_a_dispatched_case() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(lead_handler(), accepted_at(), CaseCommand::Accept))
        .await
        .then_expect_events(vec![accepted()]);
}

#[tokio::test]
async fn head_of_lead_department_may_accept() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(lead_head(), accepted_at(), CaseCommand::Accept))
        .await
        .then_expect_events(vec![CaseEvent::CaseAccepted {
            department: lead_department(),
            accepted_by: user("head-liu"),
            accepted_at: accepted_at(),
        }]);
}

#[tokio::test]
async fn handler_of_another_department_cannot_accept() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(outside_handler(), accepted_at(), CaseCommand::Accept))
        .await
        .then_expect_error(CaseError::NotLeadDepartment { command: "accept" });
}

#[tokio::test]
async fn co_department_cannot_accept() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(co_handler(), accepted_at(), CaseCommand::Accept))
        .await
        .then_expect_error(CaseError::NotLeadDepartment { command: "accept" });
}

#[tokio::test]
async fn only_department_staff_accept() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(dispatcher(), accepted_at(), CaseCommand::Accept))
        .await
        .then_expect_error(CaseError::RoleNotAllowed { command: "accept" });
}

#[tokio::test]
async fn accept_before_dispatch_is_refused() {
    case()
        .given(vec![registered()])
        .when_async(by(lead_handler(), accepted_at(), CaseCommand::Accept))
        .await
        .then_expect_error(CaseError::NotDispatched);
}

#[tokio::test]
async fn second_accept_is_refused() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(lead_handler(), later(), CaseCommand::Accept))
        .await
        .then_expect_error(CaseError::AlreadyAccepted);
}

// ---------------------------------------------------------------------------------------------
// Respond (答复)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn lead_handler_responds_to_an_accepted_case() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(lead_handler(), responded_at(), respond_command()))
        .await
        .then_expect_events(vec![responded()]);
}

#[tokio::test]
async fn explained_response_needs_a_basis() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(
            lead_handler(),
            responded_at(),
            CaseCommand::Respond {
                resolution: Resolution::Explained,
                text: long_text("该项补贴不适用于本企业"),
                basis: None,
                evidence: Vec::new(),
            },
        ))
        .await
        .then_expect_error(CaseError::BasisRequired);
}

#[tokio::test]
async fn explained_response_with_a_basis_is_recorded() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(
            lead_handler(),
            responded_at(),
            CaseCommand::Respond {
                resolution: Resolution::Explained,
                text: long_text("该项补贴不适用于本企业"),
                basis: Some(long_text("《区促进商贸发展若干措施》第五条")),
                evidence: Vec::new(),
            },
        ))
        .await
        .then_expect_events(vec![CaseEvent::CaseResponded {
            department: lead_department(),
            resolution: Resolution::Explained,
            text: "该项补贴不适用于本企业".into(),
            basis: Some("《区促进商贸发展若干措施》第五条".into()),
            responded_by: user("handler-zhang"),
            responded_at: responded_at(),
            evidence: Vec::new(),
        }]);
}

#[tokio::test]
async fn only_the_lead_department_responds() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(co_handler(), responded_at(), respond_command()))
        .await
        .then_expect_error(CaseError::NotLeadDepartment { command: "respond" });
}

#[tokio::test]
async fn respond_before_dispatch_is_refused() {
    case()
        .given(vec![registered()])
        .when_async(by(lead_handler(), responded_at(), respond_command()))
        .await
        .then_expect_error(CaseError::NotDispatched);
}

#[tokio::test]
async fn respond_before_accept_is_refused() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(lead_handler(), responded_at(), respond_command()))
        .await
        .then_expect_error(CaseError::NotAccepted);
}

#[tokio::test]
async fn second_response_is_refused() {
    case()
        .given(vec![registered(), dispatched(), accepted(), responded()])
        .when_async(by(lead_handler(), later(), respond_command()))
        .await
        .then_expect_error(CaseError::AlreadyResponded);
}

// ---------------------------------------------------------------------------------------------
// Rate (评价)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn enterprise_rates_its_answered_case() {
    case()
        .given(vec![registered(), dispatched(), accepted(), responded()])
        .when_async(by(enterprise(), rated_at(), rate_command()))
        .await
        .then_expect_events(vec![rated()]);
}

#[tokio::test]
async fn dispatcher_records_a_follow_up_rating() {
    case()
        .given(vec![registered(), dispatched(), accepted(), responded()])
        .when_async(by(
            dispatcher(),
            rated_at(),
            CaseCommand::Rate {
                satisfaction: satisfaction(2),
                resolved: false,
                comment: None,
            },
        ))
        .await
        .then_expect_events(vec![CaseEvent::CaseRated {
            satisfaction: satisfaction(2),
            resolved: false,
            comment: None,
            rated_by: user("disp-wang"),
            rated_as: Role::Dispatcher,
            rated_at: rated_at(),
        }]);
}

#[tokio::test]
async fn rating_before_a_response_is_refused() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(enterprise(), rated_at(), rate_command()))
        .await
        .then_expect_error(CaseError::NoResponseYet);
}

#[tokio::test]
async fn rating_is_final() {
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            responded(),
            rated(),
        ])
        .when_async(by(enterprise(), later(), rate_command()))
        .await
        .then_expect_error(CaseError::RatingIsFinal);
}

#[tokio::test]
async fn department_staff_cannot_rate() {
    case()
        .given(vec![registered(), dispatched(), accepted(), responded()])
        .when_async(by(outside_handler(), rated_at(), rate_command()))
        .await
        .then_expect_error(CaseError::RoleNotAllowed { command: "rate" });
}

#[tokio::test]
async fn rater_who_handled_the_case_is_refused() {
    // The handler also holds the dispatcher role, but acts for the business-environment office.
    let handler_as_dispatcher = actor("handler-zhang", &[Role::Dispatcher], "bizenv-office");
    case()
        .given(vec![registered(), dispatched(), accepted(), responded()])
        .when_async(by(handler_as_dispatcher, rated_at(), rate_command()))
        .await
        .then_expect_error(CaseError::RaterConflict);
}

#[tokio::test]
async fn rater_in_lead_department_is_refused() {
    let dispatcher_in_lead_department = actor("disp-ma", &[Role::Dispatcher], "dept-commerce");
    case()
        .given(vec![registered(), dispatched(), accepted(), responded()])
        .when_async(by(
            dispatcher_in_lead_department,
            rated_at(),
            rate_command(),
        ))
        .await
        .then_expect_error(CaseError::RaterConflict);
}

// ---------------------------------------------------------------------------------------------
// Internal notes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn district_staff_may_note_any_case() {
    case()
        .given(vec![registered()])
        .when_async(by(liaison_officer(), later(), note_command()))
        .await
        .then_expect_events(vec![CaseEvent::InternalNoteAdded {
            text: "已电话联系企业财务负责人".into(),
            author: user("liaison-li"),
            author_org: Some("district-office".into()),
            added_at: later(),
        }]);
}

#[tokio::test]
async fn co_department_may_add_a_note() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(co_handler(), accepted_at(), note_command()))
        .await
        .then_expect_events(vec![noted()]);
}

#[tokio::test]
async fn uninvolved_department_cannot_add_a_note() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(outside_handler(), later(), note_command()))
        .await
        .then_expect_error(CaseError::DepartmentNotInvolved);
}

#[tokio::test]
async fn internal_notes_do_not_advance_the_case() {
    case()
        .given(vec![registered(), dispatched(), noted()])
        .when_async(by(lead_handler(), accepted_at(), CaseCommand::Accept))
        .await
        .then_expect_events(vec![accepted()]);
}

// ---------------------------------------------------------------------------------------------
// Close (办结)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn dispatcher_closes_a_rated_case() {
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            responded(),
            rated(),
        ])
        .when_async(by(dispatcher(), closed_at(), CaseCommand::Close))
        .await
        .then_expect_events(vec![closed()]);
}

#[tokio::test]
async fn close_without_a_response_is_refused() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(dispatcher(), closed_at(), CaseCommand::Close))
        .await
        .then_expect_error(CaseError::NoResponseYet);
}

#[tokio::test]
async fn close_without_a_rating_is_refused() {
    case()
        .given(vec![registered(), dispatched(), accepted(), responded()])
        .when_async(by(dispatcher(), closed_at(), CaseCommand::Close))
        .await
        .then_expect_error(CaseError::NoRatingYet);
}

#[tokio::test]
async fn only_a_dispatcher_closes() {
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            responded(),
            rated(),
        ])
        .when_async(by(lead_head(), closed_at(), CaseCommand::Close))
        .await
        .then_expect_error(CaseError::RoleNotAllowed { command: "close" });
}

#[tokio::test]
async fn closed_case_refuses_further_commands() {
    let attempts = [
        (dispatcher(), dispatch_command()),
        (lead_handler(), CaseCommand::Accept),
        (lead_handler(), respond_command()),
        (enterprise(), rate_command()),
        (dispatcher(), note_command()),
        (co_handler(), note_command()),
        (dispatcher(), CaseCommand::Close),
    ];
    for (actor, command) in attempts {
        case()
            .given(vec![
                registered(),
                dispatched(),
                accepted(),
                responded(),
                rated(),
                closed(),
            ])
            .when_async(by(actor, later(), command))
            .await
            .then_expect_error(CaseError::CaseClosed);
    }
}

#[tokio::test]
async fn closed_case_cannot_be_registered_again() {
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            responded(),
            rated(),
            closed(),
        ])
        .when_async(by(
            liaison_officer(),
            later(),
            register_command(Urgency::Normal),
        ))
        .await
        .then_expect_error(CaseError::CaseAlreadyExists);
}

// ---------------------------------------------------------------------------------------------
// Stored and wire contracts
// ---------------------------------------------------------------------------------------------

#[test]
fn case_registered_serialises_externally_tagged_with_snake_case_values() {
    let json = serde_json::to_value(registered()).unwrap();
    assert_eq!(
        json,
        json!({
            "CaseRegistered": {
                "case_id": "0193a0a2-7c4e-7d1a-9b8e-3f2a1c0d4e5f",
                "enterprise_id": "ent-0042",
                "title": "融资难",
                "description": "流动资金贷款审批周期过长",
                "category": "financing",
                "urgency": "normal",
                "source": "liaison_visit",
                "registered_by": "liaison-li",
                "registered_at": "2026-11-02T09:00:00Z",
                "case_number": "2026-0000042",
                "verifier_sha256": null
            }
        })
    );
    let back: CaseEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, registered());
}

/// Events stored before fields were added still read, with the new fields empty.
#[test]
fn events_stored_before_the_liaison_fields_still_read() {
    let registered: CaseEvent = serde_json::from_value(json!({
        "CaseRegistered": {
            "case_id": "0193a0a2-7c4e-7d1a-9b8e-3f2a1c0d4e5f",
            "enterprise_id": "ent-0042",
            "title": "融资难",
            "description": "流动资金贷款审批周期过长",
            "category": "financing",
            "urgency": "normal",
            "source": "liaison_visit",
            "registered_by": "liaison-li",
            "registered_at": "2026-11-02T09:00:00Z"
        }
    }))
    .unwrap();
    assert!(matches!(
        registered,
        CaseEvent::CaseRegistered {
            case_number: None,
            verifier_sha256: None,
            ..
        }
    ));
    let dispatched: CaseEvent = serde_json::from_value(json!({
        "CaseDispatched": {
            "lead_department": "dept-commerce",
            "co_departments": [],
            "note": null,
            "sla_policy_version": "2026.1",
            "accept_due": "2026-11-03T10:00:00Z",
            "respond_due": "2026-11-05T10:00:00Z",
            "dispatched_by": "disp-wang",
            "dispatched_at": "2026-11-02T10:00:00Z"
        }
    }))
    .unwrap();
    let mut state = EnterpriseCase::default();
    state.evolve(&registered);
    state.evolve(&dispatched);
    // Without a recorded rule the clock still runs on the recorded due dates.
    assert_eq!(state.next_due(), Some(time("2026-11-03T10:00:00Z")));
}

#[test]
fn case_rated_serialises_grade_as_number_and_role_in_snake_case() {
    let json = serde_json::to_value(rated()).unwrap();
    assert_eq!(
        json,
        json!({
            "CaseRated": {
                "satisfaction": 5,
                "resolved": true,
                "comment": "办得很快",
                "rated_by": "rep-chen",
                "rated_as": "enterprise",
                "rated_at": "2026-11-06T10:00:00Z"
            }
        })
    );
}

#[test]
fn stored_rating_outside_one_to_five_is_refused() {
    let mut json = serde_json::to_value(rated()).unwrap();
    json["CaseRated"]["satisfaction"] = json!(6);
    assert!(serde_json::from_value::<CaseEvent>(json).is_err());
}

#[test]
fn error_codes_are_stable() {
    let codes = [
        (CaseError::CaseNotFound, "case_not_found"),
        (CaseError::CaseAlreadyExists, "case_already_exists"),
        (
            CaseError::RoleNotAllowed { command: "close" },
            "role_not_allowed",
        ),
        (CaseError::NotOwnEnterprise, "not_own_enterprise"),
        (
            CaseError::NotLeadDepartment { command: "respond" },
            "not_lead_department",
        ),
        (CaseError::DepartmentNotInvolved, "department_not_involved"),
        (CaseError::RaterConflict, "rater_conflict"),
        (CaseError::AlreadyDispatched, "case_already_dispatched"),
        (CaseError::NotDispatched, "case_not_dispatched"),
        (CaseError::AlreadyAccepted, "case_already_accepted"),
        (CaseError::NotAccepted, "case_not_accepted"),
        (CaseError::AlreadyResponded, "case_already_responded"),
        (CaseError::NoResponseYet, "no_response_yet"),
        (CaseError::NoRatingYet, "no_rating_yet"),
        (CaseError::RatingIsFinal, "rating_is_final"),
        (CaseError::CaseClosed, "case_closed"),
        (CaseError::BasisRequired, "basis_required"),
        (CaseError::InvalidCoDepartments, "invalid_co_departments"),
    ];
    for (error, code) in codes {
        assert_eq!(error.code(), code, "{error:?}");
    }
}

#[test]
fn refusals_are_classified_for_the_caller() {
    assert_eq!(CaseError::CaseNotFound.kind(), RefusalKind::NotFound);
    assert_eq!(CaseError::CaseAlreadyExists.kind(), RefusalKind::Conflict);
    assert_eq!(CaseError::RaterConflict.kind(), RefusalKind::Forbidden);
    assert_eq!(
        CaseError::NotLeadDepartment { command: "accept" }.kind(),
        RefusalKind::Forbidden
    );
    assert_eq!(CaseError::NoRatingYet.kind(), RefusalKind::Rule);
    assert_eq!(
        CaseError::RoleNotAllowed { command: "close" }.to_string(),
        "role not allowed to close"
    );
}

// ---------------------------------------------------------------------------------------------
// The whole loop (issue 4): decline, return, reassign, contact, public updates, extensions,
// pauses, follow-ups, appeals, reopen, withdraw, exemptions, merges and timers.
// ---------------------------------------------------------------------------------------------

fn other_department() -> DepartmentId {
    DepartmentId::parse("dept-market-regulation").unwrap()
}

fn other_handler() -> Actor {
    actor(
        "handler-wu",
        &[Role::DepartmentHandler],
        "dept-market-regulation",
    )
}

fn second_dispatcher() -> Actor {
    actor("disp-he", &[Role::Dispatcher], "bizenv-office")
}

fn text(value: &str) -> String {
    value.to_owned()
}

fn returned_to(rerouted: Option<DepartmentId>, count: u32, at: DateTime<Utc>) -> CaseEvent {
    CaseEvent::CaseReturned {
        department: lead_department(),
        reason: text("不属于本部门职责"),
        suggested_department: Some(other_department()),
        accept_due: rerouted.as_ref().map(|_| at + chrono::Duration::hours(24)),
        rerouted_to: rerouted,
        return_count: count,
        returned_by: user("handler-zhang"),
        returned_at: at,
    }
}

fn return_command() -> CaseCommand {
    CaseCommand::Return {
        reason: long_text("不属于本部门职责"),
        suggested_department: Some(other_department()),
        sla: sla(),
    }
}

fn contacted(first: bool) -> CaseEvent {
    CaseEvent::ContactLogged {
        department: lead_department(),
        channel: caseledger_domain::case::ContactChannel::Phone,
        summary: text("已电话联系"),
        first,
        contacted_by: user("handler-zhang"),
        contacted_at: accepted_at(),
    }
}

fn extension_requested(amount: u32) -> CaseEvent {
    CaseEvent::ExtensionRequested {
        department: lead_department(),
        amount: hours(amount),
        reason: text("需银行总行审批"),
        requested_by: user("handler-zhang"),
        requested_at: time("2026-11-03T09:00:00Z"),
    }
}

fn pause_requested() -> CaseEvent {
    CaseEvent::PauseRequested {
        reason: text("等待企业补充材料"),
        requested_by: user("handler-zhang"),
        requested_at: time("2026-11-03T09:00:00Z"),
    }
}

fn pause_approved() -> CaseEvent {
    CaseEvent::PauseDecided {
        approved: true,
        reason: text("同意"),
        decided_by: user("disp-wang"),
        decided_at: time("2026-11-03T10:00:00Z"),
    }
}

fn follow_up(reached: bool, attempt: u32) -> CaseEvent {
    CaseEvent::FollowUpRecorded {
        reached,
        note: None,
        attempt,
        recorded_by: user("disp-wang"),
        recorded_at: rated_at(),
    }
}

fn appealed() -> CaseEvent {
    CaseEvent::RatingAppealed {
        reason: text("企业不满意的是政策本身"),
        appealed_by: user("head-liu"),
        appealed_at: later(),
    }
}

fn lifecycle_to_rated() -> Vec<CaseEvent> {
    vec![registered(), dispatched(), accepted(), responded(), rated()]
}

fn timer(
    deadline: caseledger_domain::case::DeadlineKind,
    threshold: caseledger_domain::case::Threshold,
    cycle: u32,
) -> caseledger_domain::case::Timer {
    caseledger_domain::case::Timer {
        deadline,
        threshold,
        cycle,
    }
}

fn fire(
    deadline: caseledger_domain::case::DeadlineKind,
    threshold: caseledger_domain::case::Threshold,
) -> CaseCommand {
    CaseCommand::FireTimer {
        timer: timer(deadline, threshold, 1),
        leaders: vec![user("leader-sun")],
    }
}

fn system() -> Actor {
    Actor {
        sub: user("system:timers"),
        roles: vec![],
        org: None,
    }
}

fn state_after(events: &[CaseEvent]) -> EnterpriseCase {
    let mut state = EnterpriseCase::default();
    for event in events {
        state.evolve(event);
    }
    state
}

// Decline ------------------------------------------------------------------------------------

#[tokio::test]
async fn dispatcher_declines_before_dispatch_with_a_reason_code() {
    case()
        .given(vec![registered()])
        .when_async(by(
            dispatcher(),
            dispatched_at(),
            CaseCommand::Decline {
                reason: caseledger_domain::case::DeclineReason::InOtherProceedings,
                text: long_text("已进入诉讼程序"),
            },
        ))
        .await
        .then_expect_events(vec![CaseEvent::CaseDeclined {
            reason: caseledger_domain::case::DeclineReason::InOtherProceedings,
            text: text("已进入诉讼程序"),
            declined_by: user("disp-wang"),
            declined_at: dispatched_at(),
        }]);
}

#[tokio::test]
async fn a_dispatched_case_cannot_be_declined() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(
            dispatcher(),
            later(),
            CaseCommand::Decline {
                reason: caseledger_domain::case::DeclineReason::OutOfScope,
                text: long_text("不属于受理范围"),
            },
        ))
        .await
        .then_expect_error(CaseError::AlreadyDispatched);
}

#[tokio::test]
async fn a_declined_case_has_ended() {
    let declined = CaseEvent::CaseDeclined {
        reason: caseledger_domain::case::DeclineReason::OutOfScope,
        text: text("不属于受理范围"),
        declined_by: user("disp-wang"),
        declined_at: dispatched_at(),
    };
    case()
        .given(vec![registered(), declined])
        .when_async(by(dispatcher(), later(), dispatch_command()))
        .await
        .then_expect_error(CaseError::CaseEnded { status: "declined" });
}

// Return and reassign ------------------------------------------------------------------------

#[tokio::test]
async fn first_return_naming_a_department_moves_the_case_there() {
    let at = time("2026-11-02T12:00:00Z");
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(lead_handler(), at, return_command()))
        .await
        .then_expect_events(vec![returned_to(Some(other_department()), 1, at)]);
}

#[tokio::test]
async fn second_return_goes_to_the_dispatcher() {
    let first = time("2026-11-02T12:00:00Z");
    let second = time("2026-11-02T15:00:00Z");
    let mut expected = returned_to(None, 2, second);
    if let CaseEvent::CaseReturned {
        department,
        returned_by,
        suggested_department,
        ..
    } = &mut expected
    {
        *department = other_department();
        *returned_by = user("handler-wu");
        *suggested_department = Some(lead_department());
    }
    case()
        .given(vec![
            registered(),
            dispatched(),
            returned_to(Some(other_department()), 1, first),
        ])
        .when_async(by(
            other_handler(),
            second,
            CaseCommand::Return {
                reason: long_text("不属于本部门职责"),
                suggested_department: Some(lead_department()),
                sla: sla(),
            },
        ))
        .await
        .then_expect_events(vec![expected]);
}

#[tokio::test]
async fn returning_after_acceptance_is_refused() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(lead_handler(), later(), return_command()))
        .await
        .then_expect_error(CaseError::AlreadyAccepted);
}

#[tokio::test]
async fn only_the_lead_department_returns() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(co_handler(), later(), return_command()))
        .await
        .then_expect_error(CaseError::NotLeadDepartment { command: "return" });
}

#[tokio::test]
async fn redispatch_after_a_return_keeps_the_response_deadline() {
    let returned = returned_to(None, 1, time("2026-11-02T12:00:00Z"));
    let at = time("2026-11-03T09:00:00Z");
    let state = state_after(&[registered(), dispatched(), returned]);
    let events = state
        .decide(by(
            dispatcher(),
            at,
            CaseCommand::Dispatch {
                lead_department: other_department(),
                co_departments: vec![],
                note: None,
                sla: sla(),
            },
        ))
        .unwrap();
    let [CaseEvent::CaseDispatched {
        accept_due,
        respond_due,
        resolve_due,
        ..
    }] = events.as_slice()
    else {
        panic!("expected one dispatch, got {events:?}")
    };
    assert_eq!(*accept_due, time("2026-11-04T09:00:00Z"));
    assert_eq!(*respond_due, time("2026-11-05T10:00:00Z"));
    assert_eq!(*resolve_due, Some(time("2026-11-12T10:00:00Z")));
}

#[tokio::test]
async fn dispatcher_reassigns_and_acceptance_restarts() {
    let at = time("2026-11-03T08:00:00Z");
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(
            dispatcher(),
            at,
            CaseCommand::Reassign {
                lead_department: other_department(),
                reason: long_text("市场监管局为主管部门"),
                sla: sla(),
            },
        ))
        .await
        .then_expect_events(vec![CaseEvent::CaseReassigned {
            from_department: lead_department(),
            lead_department: other_department(),
            reason: text("市场监管局为主管部门"),
            accept_due: time("2026-11-04T08:00:00Z"),
            reassigned_by: user("disp-wang"),
            reassigned_at: at,
        }]);
}

#[tokio::test]
async fn reassigning_to_the_same_department_is_refused() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(
            dispatcher(),
            later(),
            CaseCommand::Reassign {
                lead_department: lead_department(),
                reason: long_text("重复"),
                sla: sla(),
            },
        ))
        .await
        .then_expect_error(CaseError::SameDepartment);
}

// Contact and public updates -----------------------------------------------------------------

#[tokio::test]
async fn first_contact_is_marked_first_and_later_ones_not() {
    let command = CaseCommand::LogContact {
        channel: caseledger_domain::case::ContactChannel::Phone,
        summary: long_text("已电话联系"),
    };
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(lead_handler(), accepted_at(), command.clone()))
        .await
        .then_expect_events(vec![contacted(true)]);
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            contacted(true),
        ])
        .when_async(by(lead_handler(), accepted_at(), command))
        .await
        .then_expect_events(vec![contacted(false)]);
}

#[tokio::test]
async fn contact_before_acceptance_is_refused() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(
            lead_handler(),
            later(),
            CaseCommand::LogContact {
                channel: caseledger_domain::case::ContactChannel::Visit,
                summary: long_text("上门"),
            },
        ))
        .await
        .then_expect_error(CaseError::NotAccepted);
}

#[tokio::test]
async fn a_co_department_posts_a_public_update_under_its_own_name() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(
            co_handler(),
            later(),
            CaseCommand::PostPublicUpdate {
                text: long_text("金融办已协调三家银行对接"),
            },
        ))
        .await
        .then_expect_events(vec![CaseEvent::PublicUpdatePosted {
            department: co_department(),
            text: text("金融办已协调三家银行对接"),
            posted_by: user("handler-zhao"),
            posted_at: later(),
        }]);
}

#[tokio::test]
async fn an_uninvolved_department_cannot_post_updates() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(
            outside_handler(),
            later(),
            CaseCommand::PostPublicUpdate {
                text: long_text("进展"),
            },
        ))
        .await
        .then_expect_error(CaseError::DepartmentNotInvolved);
}

// Extensions ---------------------------------------------------------------------------------

fn request_extension(amount: u32) -> CaseCommand {
    CaseCommand::RequestExtension {
        amount,
        reason: long_text("需银行总行审批"),
    }
}

#[tokio::test]
async fn extension_within_the_cap_before_the_due_date_is_requested() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(
            lead_handler(),
            time("2026-11-03T09:00:00Z"),
            request_extension(24),
        ))
        .await
        .then_expect_events(vec![extension_requested(24)]);
}

#[tokio::test]
async fn extension_over_the_cap_is_refused_with_what_remains() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(
            lead_handler(),
            time("2026-11-03T09:00:00Z"),
            request_extension(49),
        ))
        .await
        .then_expect_error(CaseError::ExtensionOverCap {
            remaining: "48 hours".into(),
        });
}

#[tokio::test]
async fn extension_after_the_response_is_due_is_refused() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(
            lead_handler(),
            time("2026-11-05T10:00:00Z"),
            request_extension(24),
        ))
        .await
        .then_expect_error(CaseError::ExtensionTooLate);
}

#[tokio::test]
async fn a_second_extension_request_waits_for_the_first_decision() {
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            extension_requested(24),
        ])
        .when_async(by(lead_handler(), later(), request_extension(8)))
        .await
        .then_expect_error(CaseError::ExtensionPending);
}

#[tokio::test]
async fn granted_extension_moves_response_and_closing_deadlines() {
    let at = time("2026-11-03T11:00:00Z");
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            extension_requested(24),
        ])
        .when_async(by(
            dispatcher(),
            at,
            CaseCommand::DecideExtension {
                approve: true,
                reason: long_text("理由充分"),
                sla: sla(),
            },
        ))
        .await
        .then_expect_events(vec![CaseEvent::ExtensionDecided {
            approved: true,
            reason: text("理由充分"),
            respond_due: Some(time("2026-11-06T10:00:00Z")),
            resolve_due: Some(time("2026-11-13T10:00:00Z")),
            decided_by: user("disp-wang"),
            decided_at: at,
        }]);
}

#[tokio::test]
async fn granted_extensions_count_against_the_cap() {
    let granted = CaseEvent::ExtensionDecided {
        approved: true,
        reason: text("理由充分"),
        respond_due: Some(time("2026-11-06T10:00:00Z")),
        resolve_due: Some(time("2026-11-13T10:00:00Z")),
        decided_by: user("disp-wang"),
        decided_at: time("2026-11-03T11:00:00Z"),
    };
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            extension_requested(24),
            granted,
        ])
        .when_async(by(
            lead_handler(),
            time("2026-11-04T09:00:00Z"),
            request_extension(25),
        ))
        .await
        .then_expect_error(CaseError::ExtensionOverCap {
            remaining: "24 hours".into(),
        });
}

#[tokio::test]
async fn only_a_dispatcher_decides_an_extension() {
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            extension_requested(24),
        ])
        .when_async(by(
            lead_head(),
            later(),
            CaseCommand::DecideExtension {
                approve: true,
                reason: long_text("同意"),
                sla: sla(),
            },
        ))
        .await
        .then_expect_error(CaseError::RoleNotAllowed {
            command: "decide-extension",
        });
}

// Pause and resume ---------------------------------------------------------------------------

#[tokio::test]
async fn approved_pause_stops_the_clock_and_blocks_the_response() {
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            pause_requested(),
            pause_approved(),
        ])
        .when_async(by(lead_handler(), later(), respond_command()))
        .await
        .then_expect_error(CaseError::ClockPaused);
    let paused = state_after(&[
        registered(),
        dispatched(),
        accepted(),
        pause_requested(),
        pause_approved(),
    ]);
    assert!(paused.pending_timers().is_empty());
    assert_eq!(paused.next_due(), None);
}

#[tokio::test]
async fn resume_moves_open_deadlines_by_the_paused_time() {
    let resumed_at = time("2026-11-04T10:00:00Z");
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            pause_requested(),
            pause_approved(),
        ])
        .when_async(by(
            lead_handler(),
            resumed_at,
            CaseCommand::Resume { sla: sla() },
        ))
        .await
        .then_expect_events(vec![CaseEvent::ClockResumed {
            moved: vec![
                caseledger_domain::case::MovedDeadline {
                    deadline: caseledger_domain::case::DeadlineKind::FirstContact,
                    due: time("2026-11-04T10:00:00Z"),
                },
                caseledger_domain::case::MovedDeadline {
                    deadline: caseledger_domain::case::DeadlineKind::Respond,
                    due: time("2026-11-06T10:00:00Z"),
                },
                caseledger_domain::case::MovedDeadline {
                    deadline: caseledger_domain::case::DeadlineKind::Resolve,
                    due: time("2026-11-13T10:00:00Z"),
                },
            ],
            resumed_by: user("handler-zhang"),
            resumed_at,
        }]);
}

#[tokio::test]
async fn a_pause_needs_a_pending_request() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(
            dispatcher(),
            later(),
            CaseCommand::DecidePause {
                approve: true,
                reason: long_text("同意"),
            },
        ))
        .await
        .then_expect_error(CaseError::NoPausePending);
}

#[tokio::test]
async fn resuming_a_running_clock_is_refused() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(
            dispatcher(),
            later(),
            CaseCommand::Resume { sla: sla() },
        ))
        .await
        .then_expect_error(CaseError::ClockNotPaused);
}

// Response with evidence, follow-ups, closing ------------------------------------------------

#[tokio::test]
async fn response_records_its_evidence() {
    let evidence = vec![caseledger_domain::case::Evidence {
        name: "银行授信批复.pdf".into(),
        sha256: "ab".repeat(32),
    }];
    let mut expected = responded();
    if let CaseEvent::CaseResponded { evidence: e, .. } = &mut expected {
        *e = evidence.clone();
    }
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(
            lead_handler(),
            responded_at(),
            CaseCommand::Respond {
                resolution: Resolution::Resolved,
                text: long_text("已协调银行开辟绿色通道"),
                basis: None,
                evidence,
            },
        ))
        .await
        .then_expect_events(vec![expected]);
}

#[tokio::test]
async fn three_failed_follow_ups_allow_closing_without_a_rating() {
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            responded(),
            follow_up(false, 1),
            follow_up(false, 2),
            follow_up(false, 3),
        ])
        .when_async(by(dispatcher(), closed_at(), CaseCommand::Close))
        .await
        .then_expect_events(vec![closed()]);
}

#[tokio::test]
async fn two_failed_follow_ups_are_not_enough_to_close() {
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            responded(),
            follow_up(false, 1),
            follow_up(true, 2),
            follow_up(false, 3),
        ])
        .when_async(by(dispatcher(), closed_at(), CaseCommand::Close))
        .await
        .then_expect_error(CaseError::NoRatingYet);
}

#[tokio::test]
async fn follow_up_numbers_its_attempts() {
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            responded(),
            follow_up(false, 1),
        ])
        .when_async(by(
            dispatcher(),
            rated_at(),
            CaseCommand::RecordFollowUp {
                reached: true,
                note: None,
            },
        ))
        .await
        .then_expect_events(vec![follow_up(true, 2)]);
}

// Appeals ------------------------------------------------------------------------------------

#[tokio::test]
async fn the_lead_department_head_appeals_a_rating() {
    case()
        .given(lifecycle_to_rated())
        .when_async(by(
            lead_head(),
            later(),
            CaseCommand::AppealRating {
                reason: long_text("企业不满意的是政策本身"),
            },
        ))
        .await
        .then_expect_events(vec![appealed()]);
}

#[tokio::test]
async fn a_handler_cannot_appeal() {
    case()
        .given(lifecycle_to_rated())
        .when_async(by(
            lead_handler(),
            later(),
            CaseCommand::AppealRating {
                reason: long_text("不服"),
            },
        ))
        .await
        .then_expect_error(CaseError::RoleNotAllowed { command: "appeal" });
}

#[tokio::test]
async fn a_rating_is_appealed_once() {
    let mut history = lifecycle_to_rated();
    history.push(appealed());
    case()
        .given(history)
        .when_async(by(
            lead_head(),
            later(),
            CaseCommand::AppealRating {
                reason: long_text("再次申诉"),
            },
        ))
        .await
        .then_expect_error(CaseError::AppealExists);
}

#[tokio::test]
async fn an_upheld_appeal_leaves_the_rating_and_is_decided_once() {
    let mut history = lifecycle_to_rated();
    history.push(appealed());
    let decided = CaseEvent::AppealDecided {
        upheld: true,
        reason: text("诉求超出政策范围"),
        decided_by: user("disp-wang"),
        decided_at: later(),
    };
    case()
        .given(history.clone())
        .when_async(by(
            dispatcher(),
            later(),
            CaseCommand::DecideAppeal {
                upheld: true,
                reason: long_text("诉求超出政策范围"),
            },
        ))
        .await
        .then_expect_events(vec![decided.clone()]);
    history.push(decided);
    let state = state_after(&history);
    assert!(state.rated, "the rating stands");
    case()
        .given(history)
        .when_async(by(
            dispatcher(),
            later(),
            CaseCommand::DecideAppeal {
                upheld: false,
                reason: long_text("改判"),
            },
        ))
        .await
        .then_expect_error(CaseError::NoAppealPending);
}

// Reopen -------------------------------------------------------------------------------------

#[tokio::test]
async fn reopen_starts_a_new_cycle_with_new_deadlines() {
    let mut history = lifecycle_to_rated();
    history.push(closed());
    let at = time("2026-11-09T10:00:00Z");
    case()
        .given(history.clone())
        .when_async(by(
            dispatcher(),
            at,
            CaseCommand::Reopen {
                reason: long_text("企业反映问题复发"),
                sla: sla(),
            },
        ))
        .await
        .then_expect_events(vec![CaseEvent::CaseReopened {
            reason: text("企业反映问题复发"),
            cycle: 2,
            respond_due: time("2026-11-12T10:00:00Z"),
            resolve_due: time("2026-11-19T10:00:00Z"),
            reopened_by: user("disp-wang"),
            reopened_at: at,
        }]);
}

#[tokio::test]
async fn a_reopened_case_is_answered_and_rated_again() {
    let mut history = lifecycle_to_rated();
    history.push(closed());
    history.push(CaseEvent::CaseReopened {
        reason: text("企业反映问题复发"),
        cycle: 2,
        respond_due: time("2026-11-12T10:00:00Z"),
        resolve_due: time("2026-11-19T10:00:00Z"),
        reopened_by: user("disp-wang"),
        reopened_at: time("2026-11-09T10:00:00Z"),
    });
    let state = state_after(&history);
    assert_eq!(state.clock.cycle, 2);
    assert!(!state.rated);
    assert_eq!(state.next_due(), Some(time("2026-11-12T10:00:00Z")));
    case()
        .given(history)
        .when_async(by(lead_handler(), later(), respond_command()))
        .await
        .then_expect_events(vec![{
            let mut event = responded();
            if let CaseEvent::CaseResponded { responded_at, .. } = &mut event {
                *responded_at = later();
            }
            event
        }]);
}

#[tokio::test]
async fn only_answered_cases_reopen() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(
            dispatcher(),
            later(),
            CaseCommand::Reopen {
                reason: long_text("复发"),
                sla: sla(),
            },
        ))
        .await
        .then_expect_error(CaseError::CannotReopen);
}

// Withdraw -----------------------------------------------------------------------------------

fn withdraw() -> CaseCommand {
    CaseCommand::Withdraw {
        reason: long_text("问题已自行解决"),
    }
}

#[tokio::test]
async fn withdrawal_before_dispatch_needs_no_quality_check() {
    case()
        .given(vec![registered()])
        .when_async(by(enterprise(), later(), withdraw()))
        .await
        .then_expect_events(vec![CaseEvent::CaseWithdrawn {
            reason: text("问题已自行解决"),
            quality_check: false,
            withdrawn_by: user("rep-chen"),
            withdrawn_as: Role::Enterprise,
            withdrawn_at: later(),
        }]);
}

#[tokio::test]
async fn withdrawal_after_dispatch_is_flagged_for_a_quality_check() {
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(enterprise(), later(), withdraw()))
        .await
        .then_expect_events(vec![CaseEvent::CaseWithdrawn {
            reason: text("问题已自行解决"),
            quality_check: true,
            withdrawn_by: user("rep-chen"),
            withdrawn_as: Role::Enterprise,
            withdrawn_at: later(),
        }]);
}

#[tokio::test]
async fn another_enterprise_cannot_withdraw() {
    case()
        .given(vec![registered()])
        .when_async(by(other_enterprise(), later(), withdraw()))
        .await
        .then_expect_error(CaseError::CaseNotFound);
}

#[tokio::test]
async fn a_department_cannot_withdraw_a_case() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(lead_handler(), later(), withdraw()))
        .await
        .then_expect_error(CaseError::RoleNotAllowed {
            command: "withdraw",
        });
}

// Exemptions ---------------------------------------------------------------------------------

fn exempt() -> CaseCommand {
    CaseCommand::GrantExemption {
        reason: caseledger_domain::case::ExemptionReason::UnreasonableRequest,
        text: long_text("诉求超出法定职责"),
    }
}

#[tokio::test]
async fn the_dispatcher_who_dispatched_may_not_exempt() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(dispatcher(), later(), exempt()))
        .await
        .then_expect_error(CaseError::ExemptionByDecider);
}

#[tokio::test]
async fn another_dispatcher_exempts_once() {
    let granted = CaseEvent::ExemptionGranted {
        reason: caseledger_domain::case::ExemptionReason::UnreasonableRequest,
        text: text("诉求超出法定职责"),
        granted_by: user("disp-he"),
        granted_at: later(),
    };
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(second_dispatcher(), later(), exempt()))
        .await
        .then_expect_events(vec![granted.clone()]);
    case()
        .given(vec![registered(), dispatched(), granted])
        .when_async(by(second_dispatcher(), later(), exempt()))
        .await
        .then_expect_error(CaseError::AlreadyExempted);
}

// Merge --------------------------------------------------------------------------------------

#[tokio::test]
async fn a_duplicate_is_merged_into_another_case() {
    let into = CaseId::parse("0193a0a2-7c4e-7d1a-9b8e-000000000001").unwrap();
    case()
        .given(vec![registered()])
        .when_async(by(
            dispatcher(),
            later(),
            CaseCommand::Merge {
                into,
                reason: long_text("同一企业同一诉求"),
            },
        ))
        .await
        .then_expect_events(vec![CaseEvent::CaseMerged {
            into,
            reason: text("同一企业同一诉求"),
            merged_by: user("disp-wang"),
            merged_at: later(),
        }]);
}

#[tokio::test]
async fn a_case_is_never_merged_into_itself() {
    case()
        .given(vec![registered()])
        .when_async(by(
            dispatcher(),
            later(),
            CaseCommand::Merge {
                into: case_id(),
                reason: long_text("重复"),
            },
        ))
        .await
        .then_expect_error(CaseError::MergeIntoSelf);
}

// Timers -------------------------------------------------------------------------------------

use caseledger_domain::case::{DeadlineKind, Threshold};

#[test]
fn dispatch_schedules_warnings_and_breaches_for_every_deadline() {
    let state = state_after(&[registered(), dispatched()]);
    let timers = state.pending_timers();
    assert_eq!(timers.len(), 12, "4 deadlines x 3 thresholds: {timers:?}");
    let accept_at = |threshold| {
        timers
            .iter()
            .find(|(timer, _)| {
                timer.deadline == DeadlineKind::Accept && timer.threshold == threshold
            })
            .map(|(_, at)| *at)
    };
    assert_eq!(
        accept_at(Threshold::Warn50),
        Some(time("2026-11-02T22:00:00Z"))
    );
    assert_eq!(
        accept_at(Threshold::Warn80),
        Some(time("2026-11-03T05:12:00Z"))
    );
    assert_eq!(
        accept_at(Threshold::Breach),
        Some(time("2026-11-03T10:00:00Z"))
    );
    let accepted = state_after(&[registered(), dispatched(), accepted()]);
    assert!(
        accepted
            .pending_timers()
            .iter()
            .all(|(timer, _)| timer.deadline != DeadlineKind::Accept),
        "a met deadline has no timers"
    );
}

#[tokio::test]
async fn a_warning_fires_once_when_due() {
    let at = time("2026-11-02T22:00:00Z");
    let warning = CaseEvent::DeadlineWarning {
        deadline: DeadlineKind::Accept,
        threshold: Threshold::Warn50,
        cycle: 1,
        due: time("2026-11-03T10:00:00Z"),
        fired_at: at,
    };
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(
            system(),
            at,
            fire(DeadlineKind::Accept, Threshold::Warn50),
        ))
        .await
        .then_expect_events(vec![warning.clone()]);
    case()
        .given(vec![registered(), dispatched(), warning])
        .when_async(by(
            system(),
            later(),
            fire(DeadlineKind::Accept, Threshold::Warn50),
        ))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn a_timer_does_not_fire_early_or_after_its_deadline_is_met() {
    case()
        .given(vec![registered(), dispatched()])
        .when_async(by(
            system(),
            time("2026-11-02T21:59:59Z"),
            fire(DeadlineKind::Accept, Threshold::Warn50),
        ))
        .await
        .then_expect_events(vec![]);
    case()
        .given(vec![registered(), dispatched(), accepted()])
        .when_async(by(
            system(),
            later(),
            fire(DeadlineKind::Accept, Threshold::Breach),
        ))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn a_missed_response_is_breached_and_escalated_to_the_leaders() {
    let at = time("2026-11-05T10:00:00Z");
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            contacted(true),
        ])
        .when_async(by(
            system(),
            at,
            fire(DeadlineKind::Respond, Threshold::Breach),
        ))
        .await
        .then_expect_events(vec![
            CaseEvent::DeadlineBreached {
                deadline: DeadlineKind::Respond,
                cycle: 1,
                due: at,
                fired_at: at,
            },
            CaseEvent::CaseEscalated {
                deadline: DeadlineKind::Respond,
                cycle: 1,
                leaders: vec![user("leader-sun")],
                escalated_at: at,
            },
        ]);
}

#[tokio::test]
async fn a_timer_of_an_earlier_cycle_never_fires() {
    let mut history = lifecycle_to_rated();
    history.push(closed());
    history.push(CaseEvent::CaseReopened {
        reason: text("复发"),
        cycle: 2,
        respond_due: time("2026-11-12T10:00:00Z"),
        resolve_due: time("2026-11-19T10:00:00Z"),
        reopened_by: user("disp-wang"),
        reopened_at: time("2026-11-09T10:00:00Z"),
    });
    case()
        .given(history)
        .when_async(by(
            system(),
            time("2026-12-01T00:00:00Z"),
            fire(DeadlineKind::Respond, Threshold::Breach),
        ))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn a_category_with_its_own_rule_gets_its_limits() {
    let mut financing = rule(Urgency::Normal);
    financing.category = Some("financing".into());
    financing.accept = hours(1);
    financing.first_contact = hours(2);
    let mut policy = (*sla().policy).clone();
    policy.rules.push(financing.clone());
    let context = SlaContext {
        policy: Arc::new(policy),
        calendar: Arc::new(WorkCalendar::default()),
    };
    let state = state_after(&[registered()]);
    let events = state
        .decide(by(
            dispatcher(),
            dispatched_at(),
            CaseCommand::Dispatch {
                lead_department: lead_department(),
                co_departments: vec![],
                note: None,
                sla: context,
            },
        ))
        .unwrap();
    let [CaseEvent::CaseDispatched {
        accept_due,
        first_contact_due,
        sla_rule,
        ..
    }] = events.as_slice()
    else {
        panic!("expected one dispatch, got {events:?}")
    };
    assert_eq!(*accept_due, time("2026-11-02T11:00:00Z"));
    assert_eq!(*first_contact_due, Some(time("2026-11-02T12:00:00Z")));
    assert_eq!(
        sla_rule.as_ref(),
        Some(&financing),
        "the rule is recorded whole"
    );
}

/// Working-day limits skip the National Day holiday and count the make-up Saturday after it.
#[tokio::test]
async fn working_day_deadlines_follow_the_holiday_calendar() {
    let year =
        WorkCalendar::parse_year(include_str!("../../../config/calendar/2026.toml")).unwrap();
    let calendar = WorkCalendar::from_years(vec![year]).unwrap();
    let working_days = |amount| Limit {
        amount,
        unit: LimitUnit::WorkingDays,
    };
    let mut normal = rule(Urgency::Normal);
    normal.accept = working_days(1);
    normal.first_contact = working_days(1);
    normal.respond = working_days(3);
    normal.resolve = working_days(15);
    let context = SlaContext {
        policy: Arc::new(SlaPolicy {
            version: "2026.2".into(),
            rules: vec![normal, rule(Urgency::Urgent)],
        }),
        calendar: Arc::new(calendar),
    };
    // Wednesday 30 September, 10:00 in Beijing.
    let at = time("2026-09-30T02:00:00Z");
    let events = state_after(&[registered()])
        .decide(by(
            dispatcher(),
            at,
            CaseCommand::Dispatch {
                lead_department: lead_department(),
                co_departments: vec![],
                note: None,
                sla: context,
            },
        ))
        .unwrap();
    let [CaseEvent::CaseDispatched {
        accept_due,
        respond_due,
        ..
    }] = events.as_slice()
    else {
        panic!("expected one dispatch, got {events:?}")
    };
    // 14 h left of 30 September, then 1 to 7 October off: acceptance is due 8 October 10:00.
    assert_eq!(*accept_due, time("2026-10-08T02:00:00Z"));
    // 14 h + 8 and 9 October (48 h) + 10 h of Saturday 10 October, a make-up working day.
    assert_eq!(*respond_due, time("2026-10-10T02:00:00Z"));
}

// ---------------------------------------------------------------------------------------------
// Verifier re-issue (issue 13)
// ---------------------------------------------------------------------------------------------

fn reissue_command() -> CaseCommand {
    CaseCommand::ReissueVerifier {
        verifier_sha256: "ab".repeat(32),
        reason: long_text("企业遗失验证码"),
    }
}

fn reissued() -> CaseEvent {
    CaseEvent::VerifierReissued {
        verifier_sha256: "ab".repeat(32),
        reason: "企业遗失验证码".into(),
        reissued_by: user("disp-wang"),
        reissued_at: later(),
    }
}

#[tokio::test]
async fn a_dispatcher_reissues_the_verifier() {
    case()
        .given(vec![registered()])
        .when_async(by(dispatcher(), later(), reissue_command()))
        .await
        .then_expect_events(vec![reissued()]);
}

#[tokio::test]
async fn only_a_dispatcher_reissues_the_verifier() {
    for actor in [lead_handler(), liaison_officer(), auditor()] {
        case()
            .given(vec![registered(), dispatched()])
            .when_async(by(actor, later(), reissue_command()))
            .await
            .then_expect_error(CaseError::RoleNotAllowed {
                command: "reissue-verifier",
            });
    }
}

#[tokio::test]
async fn the_verifier_is_reissued_after_the_case_closed() {
    case()
        .given(vec![
            registered(),
            dispatched(),
            accepted(),
            responded(),
            rated(),
            closed(),
        ])
        .when_async(by(dispatcher(), later(), reissue_command()))
        .await
        .then_expect_events(vec![reissued()]);
}

#[tokio::test]
async fn a_case_without_a_number_has_no_verifier_to_reissue() {
    let CaseEvent::CaseRegistered {
        case_id,
        enterprise_id,
        title,
        description,
        category,
        urgency,
        source,
        registered_by,
        registered_at,
        ..
    } = registered()
    else {
        unreachable!()
    };
    case()
        .given(vec![CaseEvent::CaseRegistered {
            case_id,
            enterprise_id,
            title,
            description,
            category,
            urgency,
            source,
            registered_by,
            registered_at,
            case_number: None,
            verifier_sha256: None,
        }])
        .when_async(by(dispatcher(), later(), reissue_command()))
        .await
        .then_expect_error(CaseError::NoCaseNumber);
}

/// The stored shape of the new event (a contract, like every event).
#[test]
fn the_reissue_event_keeps_its_stored_shape() {
    let stored = serde_json::json!({
        "VerifierReissued": {
            "verifier_sha256": "ab".repeat(32),
            "reason": "企业遗失验证码",
            "reissued_by": "disp-1",
            "reissued_at": "2026-11-05T02:00:00Z"
        }
    });
    let event: CaseEvent = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(event.name(), "VerifierReissued");
    assert_eq!(serde_json::to_value(&event).unwrap(), stored);
}

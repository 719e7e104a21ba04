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
use caseledger_domain::sla::{Limit, SlaPolicy, SlaRule};
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

fn limit(text: &str) -> Limit {
    text.parse().unwrap()
}

fn sla_rule(category: Option<&str>, urgency: Urgency, accept: &str, respond: &str) -> SlaRule {
    SlaRule {
        category: category.map(Into::into),
        urgency,
        accept: limit(accept),
        first_contact: limit(accept),
        respond: limit(respond),
        resolve: limit("15 working_days"),
        extension_cap: limit("15 working_days"),
    }
}

/// Wall-clock limits keep the fixtures' due dates easy to read: normal 24 h / 72 h, urgent
/// 2 h / 24 h, and a `permits` rule for normal cases: 1 h / 12 h.
fn sla_policy() -> SlaPolicy {
    SlaPolicy {
        version: "2026.1".into(),
        rules: vec![
            sla_rule(None, Urgency::Normal, "24 hours", "72 hours"),
            sla_rule(None, Urgency::Urgent, "2 hours", "24 hours"),
            sla_rule(Some("permits"), Urgency::Normal, "1 hour", "12 hours"),
        ],
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
    }
}

fn dispatch_command() -> CaseCommand {
    CaseCommand::Dispatch {
        lead_department: lead_department(),
        co_departments: vec![co_department()],
        note: Some(long_text("请商务局牵头，金融办配合")),
        sla_policy: sla_policy(),
    }
}

fn dispatch_with_co_departments(co_departments: Vec<DepartmentId>) -> CaseCommand {
    CaseCommand::Dispatch {
        lead_department: lead_department(),
        co_departments,
        note: None,
        sla_policy: sla_policy(),
    }
}

fn respond_command() -> CaseCommand {
    CaseCommand::Respond {
        resolution: Resolution::Resolved,
        text: long_text("已协调银行开辟绿色通道"),
        basis: None,
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
        }]);
}

#[tokio::test]
async fn a_category_with_its_own_rule_gets_its_limits() {
    let CaseEvent::CaseRegistered {
        case_id,
        enterprise_id,
        title,
        description,
        urgency,
        source,
        registered_by,
        registered_at,
        ..
    } = registered()
    else {
        unreachable!("registered() is a registration")
    };
    let permits_case = CaseEvent::CaseRegistered {
        case_id,
        enterprise_id,
        title,
        description,
        category: "permits".into(),
        urgency,
        source,
        registered_by,
        registered_at,
    };
    case()
        .given(vec![permits_case])
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
            accept_due: time("2026-11-02T11:00:00Z"),
            respond_due: time("2026-11-02T22:00:00Z"),
            dispatched_by: user("disp-wang"),
            dispatched_at: dispatched_at(),
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
                "registered_at": "2026-11-02T09:00:00Z"
            }
        })
    );
    let back: CaseEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, registered());
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

//! Given/when/then rules of the `LiaisonPortfolio` aggregate, one rule per test; the visit-period
//! rule (`visit_status`) on a calendar of cases; the serde contract of the events and the stable
//! codes of the errors.
//!
//! The fixtures describe district leader Wang's portfolio (`leader.leader-wang`), created by the
//! business-environment office in January 2026. `ent-0042` is assigned on 5 January with a
//! quarterly obligation; Wang and liaison officer Li visit it on 20 February and a financing
//! case is raised from the visit. Times are in UTC; dates are China Standard Time (UTC+8).

use caseledger_domain::case::RefusalKind;
use caseledger_domain::portfolio::{
    china_date, visit_status, LiaisonPortfolio, LinkedCase, Period, PortfolioCommand,
    PortfolioError, PortfolioEvent, PortfolioOwner, VisitObligation,
};
use caseledger_domain::subject::PersonName;
use caseledger_domain::text::{LongText, Title};
use caseledger_domain::{
    Actor, Authored, CaseId, DepartmentId, LeaderId, PortfolioId, Role, SubjectId, UserId, VisitId,
};
use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::test::TestFramework;
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn time(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn created_at() -> DateTime<Utc> {
    time("2026-01-05T01:00:00Z")
}

fn assigned_at() -> DateTime<Utc> {
    time("2026-01-05T02:00:00Z")
}

fn visit_recorded_at() -> DateTime<Utc> {
    time("2026-02-20T10:00:00Z")
}

fn later() -> DateTime<Utc> {
    time("2026-03-02T03:00:00Z")
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

fn dispatcher() -> Actor {
    actor("disp-wang", &[Role::Dispatcher], Some("bizenv-office"))
}

/// The owner of the leader portfolio.
fn leader_wang() -> Actor {
    actor("leader-wang", &[Role::DistrictLeader], None)
}

fn other_leader() -> Actor {
    actor("leader-zhao", &[Role::DistrictLeader], None)
}

fn liaison_officer() -> Actor {
    actor(
        "liaison-li",
        &[Role::LiaisonOfficer],
        Some("district-office"),
    )
}

fn commerce_handler() -> Actor {
    actor(
        "handler-zhang",
        &[Role::DepartmentHandler],
        Some("dept-commerce"),
    )
}

fn commerce_head() -> Actor {
    actor("head-liu", &[Role::DepartmentHead], Some("dept-commerce"))
}

fn tax_handler() -> Actor {
    actor("handler-qian", &[Role::DepartmentHandler], Some("dept-tax"))
}

fn auditor() -> Actor {
    actor("auditor-zhou", &[Role::Auditor], None)
}

fn enterprise() -> Actor {
    actor("rep-chen", &[Role::Enterprise], Some("ent-0042"))
}

fn by(actor: Actor, at: DateTime<Utc>, command: PortfolioCommand) -> Authored<PortfolioCommand> {
    Authored { actor, at, command }
}

fn leader_owner() -> PortfolioOwner {
    PortfolioOwner::Leader {
        user_id: LeaderId::parse("leader-wang").unwrap(),
    }
}

fn department_owner() -> PortfolioOwner {
    PortfolioOwner::Department {
        department_id: DepartmentId::parse("dept-commerce").unwrap(),
    }
}

fn subject_id() -> SubjectId {
    SubjectId::parse("ent-0042").unwrap()
}

fn other_subject_id() -> SubjectId {
    SubjectId::parse("ent-0099").unwrap()
}

fn visit_id() -> VisitId {
    VisitId::parse("0195f0a2-7c4e-7d1a-9b8e-3f2a1c0d4e01").unwrap()
}

fn case_id() -> CaseId {
    CaseId::parse("0195f0a2-7c4e-7d1a-9b8e-3f2a1c0d4e5f").unwrap()
}

fn second_case_id() -> CaseId {
    CaseId::parse("0195f0a2-7c4e-7d1a-9b8e-3f2a1c0d4e60").unwrap()
}

fn case_of(case_id: CaseId, subject: SubjectId) -> LinkedCase {
    LinkedCase {
        case_id,
        enterprise_id: subject,
    }
}

// Commands -----------------------------------------------------------------------------------

fn create(owner: PortfolioOwner) -> PortfolioCommand {
    PortfolioCommand::Create {
        owner,
        owner_name: Title::parse("王副区长").unwrap(),
    }
}

fn assign(assigned_on: &str) -> PortfolioCommand {
    PortfolioCommand::AssignSubject {
        subject_id: subject_id(),
        obligation: VisitObligation::Quarterly,
        assigned_on: date(assigned_on),
    }
}

fn unassign(subject: SubjectId) -> PortfolioCommand {
    PortfolioCommand::UnassignSubject {
        subject_id: subject,
        reason: LongText::parse("企业迁出本区").unwrap(),
    }
}

fn record_visit(visited_on: &str, cases: Vec<LinkedCase>) -> PortfolioCommand {
    PortfolioCommand::RecordVisit {
        visit_id: visit_id(),
        subject_id: subject_id(),
        visited_on: date(visited_on),
        participants: vec![
            PersonName::parse("王副区长").unwrap(),
            PersonName::parse("liaison-li").unwrap(),
        ],
        learned: LongText::parse("流动资金紧张，贷款贴息兑现慢").unwrap(),
        cases,
    }
}

fn link(case: LinkedCase) -> PortfolioCommand {
    PortfolioCommand::LinkCase {
        visit_id: visit_id(),
        case,
    }
}

// Events -------------------------------------------------------------------------------------

fn created() -> PortfolioEvent {
    created_by(leader_owner(), "disp-wang")
}

fn created_by(owner: PortfolioOwner, sub: &str) -> PortfolioEvent {
    PortfolioEvent::PortfolioCreated {
        portfolio_id: owner.portfolio_id(),
        owner,
        owner_name: "王副区长".into(),
        created_by: user(sub),
        created_at: created_at(),
    }
}

fn department_created() -> PortfolioEvent {
    created_by(department_owner(), "disp-wang")
}

fn assigned() -> PortfolioEvent {
    assigned_by("leader-wang")
}

fn assigned_by(sub: &str) -> PortfolioEvent {
    PortfolioEvent::SubjectAssigned {
        subject_id: subject_id(),
        obligation: VisitObligation::Quarterly,
        assigned_on: date("2026-01-05"),
        assigned_by: user(sub),
        assigned_at: assigned_at(),
    }
}

fn unassigned() -> PortfolioEvent {
    PortfolioEvent::SubjectUnassigned {
        subject_id: subject_id(),
        reason: "企业迁出本区".into(),
        unassigned_by: user("disp-wang"),
        unassigned_at: later(),
    }
}

fn visited(case_ids: Vec<CaseId>) -> PortfolioEvent {
    PortfolioEvent::VisitRecorded {
        visit_id: visit_id(),
        subject_id: subject_id(),
        visited_on: date("2026-02-20"),
        participants: vec!["王副区长".into(), "liaison-li".into()],
        learned: "流动资金紧张，贷款贴息兑现慢".into(),
        case_ids,
        recorded_by: user("liaison-li"),
        recorded_at: visit_recorded_at(),
    }
}

fn portfolio() -> TestFramework<LiaisonPortfolio> {
    TestFramework::<LiaisonPortfolio>::with(())
}

// ---------------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn dispatcher_creates_a_leader_portfolio() {
    portfolio()
        .given_no_previous_events()
        .when_async(by(dispatcher(), created_at(), create(leader_owner())))
        .await
        .then_expect_events(vec![created()]);
}

#[tokio::test]
async fn dispatcher_creates_a_department_portfolio() {
    portfolio()
        .given_no_previous_events()
        .when_async(by(dispatcher(), created_at(), create(department_owner())))
        .await
        .then_expect_events(vec![department_created()]);
}

#[tokio::test]
async fn a_leader_creates_their_own_portfolio() {
    portfolio()
        .given_no_previous_events()
        .when_async(by(leader_wang(), created_at(), create(leader_owner())))
        .await
        .then_expect_events(vec![created_by(leader_owner(), "leader-wang")]);
}

#[tokio::test]
async fn a_leader_creates_only_their_own_portfolio() {
    for owner in [leader_owner(), department_owner()] {
        portfolio()
            .given_no_previous_events()
            .when_async(by(other_leader(), created_at(), create(owner)))
            .await
            .then_expect_error(PortfolioError::NotOwnPortfolio);
    }
}

#[tokio::test]
async fn other_roles_cannot_create_portfolios() {
    for actor in [liaison_officer(), commerce_head(), auditor(), enterprise()] {
        portfolio()
            .given_no_previous_events()
            .when_async(by(actor, created_at(), create(department_owner())))
            .await
            .then_expect_error(PortfolioError::RoleNotAllowed {
                command: "create-portfolio",
            });
    }
}

#[tokio::test]
async fn second_create_for_an_owner_conflicts() {
    portfolio()
        .given(vec![created()])
        .when_async(by(dispatcher(), later(), create(leader_owner())))
        .await
        .then_expect_error(PortfolioError::PortfolioAlreadyExists);
}

#[tokio::test]
async fn commands_on_a_missing_portfolio_are_not_found() {
    let commands = [
        assign("2026-01-05"),
        unassign(subject_id()),
        record_visit("2026-02-20", vec![]),
        link(case_of(case_id(), subject_id())),
    ];
    for command in commands {
        portfolio()
            .given_no_previous_events()
            .when_async(by(dispatcher(), later(), command))
            .await
            .then_expect_error(PortfolioError::PortfolioNotFound);
    }
}

// ---------------------------------------------------------------------------------------------
// Who works on a portfolio
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_owner_leader_assigns_a_subject() {
    portfolio()
        .given(vec![created()])
        .when_async(by(leader_wang(), assigned_at(), assign("2026-01-05")))
        .await
        .then_expect_events(vec![assigned()]);
}

#[tokio::test]
async fn liaison_officers_and_dispatchers_work_on_leader_portfolios() {
    for (actor, sub) in [
        (liaison_officer(), "liaison-li"),
        (dispatcher(), "disp-wang"),
    ] {
        portfolio()
            .given(vec![created()])
            .when_async(by(actor, assigned_at(), assign("2026-01-05")))
            .await
            .then_expect_events(vec![assigned_by(sub)]);
    }
}

#[tokio::test]
async fn another_leader_does_not_work_on_the_portfolio() {
    portfolio()
        .given(vec![created()])
        .when_async(by(other_leader(), assigned_at(), assign("2026-01-05")))
        .await
        .then_expect_error(PortfolioError::NotPortfolioMember);
}

#[tokio::test]
async fn department_staff_work_on_their_departments_portfolio_only() {
    for (actor, sub) in [
        (commerce_handler(), "handler-zhang"),
        (commerce_head(), "head-liu"),
    ] {
        portfolio()
            .given(vec![department_created()])
            .when_async(by(actor, assigned_at(), assign("2026-01-05")))
            .await
            .then_expect_events(vec![assigned_by(sub)]);
    }
    for actor in [tax_handler(), liaison_officer(), leader_wang()] {
        portfolio()
            .given(vec![department_created()])
            .when_async(by(actor, assigned_at(), assign("2026-01-05")))
            .await
            .then_expect_error(PortfolioError::NotPortfolioMember);
    }
}

#[tokio::test]
async fn department_staff_do_not_work_on_leader_portfolios() {
    portfolio()
        .given(vec![created()])
        .when_async(by(commerce_handler(), assigned_at(), assign("2026-01-05")))
        .await
        .then_expect_error(PortfolioError::NotPortfolioMember);
}

#[tokio::test]
async fn auditors_and_enterprises_change_no_portfolio() {
    for actor in [auditor(), enterprise()] {
        portfolio()
            .given(vec![created()])
            .when_async(by(actor, assigned_at(), assign("2026-01-05")))
            .await
            .then_expect_error(PortfolioError::RoleNotAllowed {
                command: "assign-subject",
            });
    }
}

// ---------------------------------------------------------------------------------------------
// Assign and unassign
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_subject_is_assigned_once() {
    portfolio()
        .given(vec![created(), assigned()])
        .when_async(by(leader_wang(), later(), assign("2026-01-05")))
        .await
        .then_expect_error(PortfolioError::SubjectAlreadyAssigned);
}

#[tokio::test]
async fn the_assignment_date_may_be_today_in_china() {
    // 17:00 UTC on 31 March is already 1 April in Beijing.
    let mut expected = assigned();
    if let PortfolioEvent::SubjectAssigned {
        assigned_on,
        assigned_at,
        ..
    } = &mut expected
    {
        *assigned_on = date("2026-04-01");
        *assigned_at = time("2026-03-31T17:00:00Z");
    }
    portfolio()
        .given(vec![created()])
        .when_async(by(
            leader_wang(),
            time("2026-03-31T17:00:00Z"),
            assign("2026-04-01"),
        ))
        .await
        .then_expect_events(vec![expected]);
}

#[tokio::test]
async fn the_assignment_date_is_not_in_the_future() {
    portfolio()
        .given(vec![created()])
        .when_async(by(
            leader_wang(),
            time("2026-03-31T15:00:00Z"),
            assign("2026-04-01"),
        ))
        .await
        .then_expect_error(PortfolioError::AssignmentDateInFuture);
}

#[tokio::test]
async fn an_assigned_subject_is_unassigned_with_a_reason() {
    portfolio()
        .given(vec![created(), assigned()])
        .when_async(by(dispatcher(), later(), unassign(subject_id())))
        .await
        .then_expect_events(vec![unassigned()]);
}

#[tokio::test]
async fn only_an_assigned_subject_is_unassigned() {
    portfolio()
        .given(vec![created(), assigned()])
        .when_async(by(dispatcher(), later(), unassign(other_subject_id())))
        .await
        .then_expect_error(PortfolioError::SubjectNotAssigned);
}

#[tokio::test]
async fn an_unassigned_subject_may_be_assigned_again() {
    let mut expected = assigned();
    if let PortfolioEvent::SubjectAssigned {
        assigned_on,
        assigned_at,
        ..
    } = &mut expected
    {
        *assigned_on = date("2026-03-02");
        *assigned_at = later();
    }
    portfolio()
        .given(vec![created(), assigned(), unassigned()])
        .when_async(by(leader_wang(), later(), assign("2026-03-02")))
        .await
        .then_expect_events(vec![expected]);
}

// ---------------------------------------------------------------------------------------------
// Visits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_visit_to_an_assigned_subject_is_recorded_with_its_cases() {
    portfolio()
        .given(vec![created(), assigned()])
        .when_async(by(
            liaison_officer(),
            visit_recorded_at(),
            record_visit("2026-02-20", vec![case_of(case_id(), subject_id())]),
        ))
        .await
        .then_expect_events(vec![visited(vec![case_id()])]);
}

#[tokio::test]
async fn a_visit_needs_the_subject_assigned() {
    portfolio()
        .given(vec![created()])
        .when_async(by(
            liaison_officer(),
            visit_recorded_at(),
            record_visit("2026-02-20", vec![]),
        ))
        .await
        .then_expect_error(PortfolioError::SubjectNotAssigned);
}

#[tokio::test]
async fn no_visits_to_an_unassigned_subject() {
    portfolio()
        .given(vec![created(), assigned(), unassigned()])
        .when_async(by(
            liaison_officer(),
            later(),
            record_visit("2026-02-20", vec![]),
        ))
        .await
        .then_expect_error(PortfolioError::SubjectNotAssigned);
}

#[tokio::test]
async fn the_visit_date_is_not_in_the_future() {
    portfolio()
        .given(vec![created(), assigned()])
        .when_async(by(
            liaison_officer(),
            visit_recorded_at(),
            record_visit("2026-02-21", vec![]),
        ))
        .await
        .then_expect_error(PortfolioError::VisitDateInFuture);
}

#[tokio::test]
async fn the_visit_date_is_not_before_the_assignment() {
    portfolio()
        .given(vec![created(), assigned()])
        .when_async(by(
            liaison_officer(),
            visit_recorded_at(),
            record_visit("2026-01-04", vec![]),
        ))
        .await
        .then_expect_error(PortfolioError::VisitBeforeAssignment);
}

#[tokio::test]
async fn a_visit_needs_a_participant() {
    let mut command = record_visit("2026-02-20", vec![]);
    if let PortfolioCommand::RecordVisit { participants, .. } = &mut command {
        participants.clear();
    }
    portfolio()
        .given(vec![created(), assigned()])
        .when_async(by(liaison_officer(), visit_recorded_at(), command))
        .await
        .then_expect_error(PortfolioError::NoParticipants);
}

#[tokio::test]
async fn cases_raised_at_a_visit_belong_to_the_visited_subject() {
    portfolio()
        .given(vec![created(), assigned()])
        .when_async(by(
            liaison_officer(),
            visit_recorded_at(),
            record_visit("2026-02-20", vec![case_of(case_id(), other_subject_id())]),
        ))
        .await
        .then_expect_error(PortfolioError::CaseOfAnotherSubject);
}

#[tokio::test]
async fn a_case_is_listed_once_per_visit() {
    portfolio()
        .given(vec![created(), assigned()])
        .when_async(by(
            liaison_officer(),
            visit_recorded_at(),
            record_visit(
                "2026-02-20",
                vec![
                    case_of(case_id(), subject_id()),
                    case_of(case_id(), subject_id()),
                ],
            ),
        ))
        .await
        .then_expect_error(PortfolioError::CaseAlreadyLinked);
}

#[tokio::test]
async fn a_visit_id_is_used_once() {
    portfolio()
        .given(vec![created(), assigned(), visited(vec![])])
        .when_async(by(
            liaison_officer(),
            later(),
            record_visit("2026-02-20", vec![]),
        ))
        .await
        .then_expect_error(PortfolioError::VisitAlreadyRecorded);
}

// ---------------------------------------------------------------------------------------------
// Linking cases to earlier visits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_case_is_linked_to_an_earlier_visit() {
    portfolio()
        .given(vec![created(), assigned(), visited(vec![case_id()])])
        .when_async(by(
            leader_wang(),
            later(),
            link(case_of(second_case_id(), subject_id())),
        ))
        .await
        .then_expect_events(vec![PortfolioEvent::VisitCaseLinked {
            visit_id: visit_id(),
            case_id: second_case_id(),
            linked_by: user("leader-wang"),
            linked_at: later(),
        }]);
}

#[tokio::test]
async fn linking_to_an_unknown_visit_is_not_found() {
    portfolio()
        .given(vec![created(), assigned()])
        .when_async(by(
            leader_wang(),
            later(),
            link(case_of(case_id(), subject_id())),
        ))
        .await
        .then_expect_error(PortfolioError::VisitNotFound);
}

#[tokio::test]
async fn a_case_is_linked_to_a_visit_once() {
    portfolio()
        .given(vec![created(), assigned(), visited(vec![case_id()])])
        .when_async(by(
            leader_wang(),
            later(),
            link(case_of(case_id(), subject_id())),
        ))
        .await
        .then_expect_error(PortfolioError::CaseAlreadyLinked);
}

#[tokio::test]
async fn a_linked_case_belongs_to_the_visited_subject() {
    portfolio()
        .given(vec![created(), assigned(), visited(vec![])])
        .when_async(by(
            leader_wang(),
            later(),
            link(case_of(case_id(), other_subject_id())),
        ))
        .await
        .then_expect_error(PortfolioError::CaseOfAnotherSubject);
}

#[tokio::test]
async fn cases_may_be_linked_after_the_subject_left_the_portfolio() {
    portfolio()
        .given(vec![created(), assigned(), visited(vec![]), unassigned()])
        .when_async(by(
            dispatcher(),
            later(),
            link(case_of(case_id(), subject_id())),
        ))
        .await
        .then_expect_events(vec![PortfolioEvent::VisitCaseLinked {
            visit_id: visit_id(),
            case_id: case_id(),
            linked_by: user("disp-wang"),
            linked_at: later(),
        }]);
}

// ---------------------------------------------------------------------------------------------
// The visit-period rule
// ---------------------------------------------------------------------------------------------

fn period(start: &str, end: &str) -> Period {
    Period {
        start: date(start),
        end: date(end),
    }
}

#[test]
fn periods_are_calendar_months_quarters_halves_and_years() {
    let day = date("2026-08-17");
    let cases = [
        (VisitObligation::Monthly, period("2026-08-01", "2026-08-31")),
        (
            VisitObligation::Quarterly,
            period("2026-07-01", "2026-09-30"),
        ),
        (
            VisitObligation::HalfYearly,
            period("2026-07-01", "2026-12-31"),
        ),
        (VisitObligation::Yearly, period("2026-01-01", "2026-12-31")),
    ];
    for (obligation, expected) in cases {
        assert_eq!(
            obligation.period_containing(day),
            expected,
            "{obligation:?}"
        );
    }
    assert_eq!(
        VisitObligation::Monthly.period_containing(date("2028-02-10")),
        period("2028-02-01", "2028-02-29"),
        "leap February"
    );
}

#[test]
fn the_partial_period_of_the_assignment_is_a_grace_period() {
    // Assigned on 5 January: Q1 is a grace period, Q2 is the first required quarter.
    let status = visit_status(
        VisitObligation::Quarterly,
        date("2026-01-05"),
        None,
        date("2026-03-31"),
    );
    assert_eq!(
        status.first_required_period,
        period("2026-04-01", "2026-06-30")
    );
    assert_eq!(status.due_on, date("2026-06-30"));
    assert!(!status.overdue);
    // Still not overdue during Q2: Q1 was not required.
    let status = visit_status(
        VisitObligation::Quarterly,
        date("2026-01-05"),
        None,
        date("2026-05-15"),
    );
    assert_eq!(status.due_on, date("2026-06-30"));
    assert!(!status.overdue);
}

#[test]
fn an_assignment_on_the_first_day_of_a_period_requires_that_period() {
    let status = visit_status(
        VisitObligation::Quarterly,
        date("2026-04-01"),
        None,
        date("2026-07-01"),
    );
    assert_eq!(
        status.first_required_period,
        period("2026-04-01", "2026-06-30")
    );
    assert!(status.overdue);
    assert_eq!(
        status.missed_period,
        Some(period("2026-04-01", "2026-06-30"))
    );
}

#[test]
fn a_required_period_without_a_visit_makes_the_subject_overdue() {
    let status = visit_status(
        VisitObligation::Quarterly,
        date("2026-01-05"),
        Some(date("2026-02-20")),
        date("2026-07-01"),
    );
    assert!(
        status.overdue,
        "Q2 had no visit; the Q1 visit does not count"
    );
    assert_eq!(
        status.missed_period,
        Some(period("2026-04-01", "2026-06-30"))
    );
    assert_eq!(status.current_period, period("2026-07-01", "2026-09-30"));
    assert_eq!(status.due_on, date("2026-09-30"));
}

#[test]
fn a_visit_in_the_previous_period_keeps_the_subject_current() {
    let status = visit_status(
        VisitObligation::Quarterly,
        date("2026-01-05"),
        Some(date("2026-06-30")),
        date("2026-07-01"),
    );
    assert!(!status.overdue);
    assert_eq!(status.missed_period, None);
    assert_eq!(status.due_on, date("2026-09-30"));
}

#[test]
fn a_late_visit_in_the_current_period_clears_the_overdue_state() {
    let status = visit_status(
        VisitObligation::Quarterly,
        date("2026-01-05"),
        Some(date("2026-07-03")),
        date("2026-07-10"),
    );
    assert!(!status.overdue);
    assert_eq!(
        status.due_on,
        date("2026-12-31"),
        "the current quarter is visited: next due at the end of Q4"
    );
}

#[test]
fn only_the_period_just_ended_counts() {
    // Q2 was missed, Q3 was visited: on 1 October nothing is owed.
    let status = visit_status(
        VisitObligation::Quarterly,
        date("2026-01-05"),
        Some(date("2026-08-01")),
        date("2026-10-01"),
    );
    assert!(!status.overdue);
}

#[test]
fn before_the_assignment_nothing_is_owed() {
    let status = visit_status(
        VisitObligation::Monthly,
        date("2026-03-15"),
        None,
        date("2026-02-01"),
    );
    assert!(!status.overdue);
    assert_eq!(status.due_on, date("2026-04-30"));
}

#[test]
fn monthly_half_yearly_and_yearly_obligations_follow_the_same_rule() {
    let monthly = visit_status(
        VisitObligation::Monthly,
        date("2026-01-01"),
        Some(date("2026-01-31")),
        date("2026-03-01"),
    );
    assert!(monthly.overdue, "February had no visit");
    assert_eq!(
        monthly.missed_period,
        Some(period("2026-02-01", "2026-02-28"))
    );
    let half_yearly = visit_status(
        VisitObligation::HalfYearly,
        date("2026-01-01"),
        Some(date("2026-06-01")),
        date("2026-12-31"),
    );
    assert!(!half_yearly.overdue);
    assert_eq!(half_yearly.due_on, date("2026-12-31"));
    let yearly = visit_status(
        VisitObligation::Yearly,
        date("2026-01-01"),
        None,
        date("2027-01-01"),
    );
    assert!(yearly.overdue);
    assert_eq!(
        yearly.missed_period,
        Some(period("2026-01-01", "2026-12-31"))
    );
}

#[test]
fn dates_are_taken_in_china_standard_time() {
    assert_eq!(china_date(time("2026-03-31T15:59:59Z")), date("2026-03-31"));
    assert_eq!(china_date(time("2026-03-31T16:00:00Z")), date("2026-04-01"));
}

// ---------------------------------------------------------------------------------------------
// Stored and wire contracts
// ---------------------------------------------------------------------------------------------

#[test]
fn portfolio_created_records_the_derived_id_and_a_tagged_owner() {
    let json = serde_json::to_value(created()).unwrap();
    assert_eq!(
        json,
        json!({
            "PortfolioCreated": {
                "portfolio_id": "leader.leader-wang",
                "owner": {"kind": "leader", "user_id": "leader-wang"},
                "owner_name": "王副区长",
                "created_by": "disp-wang",
                "created_at": "2026-01-05T01:00:00Z"
            }
        })
    );
    assert_eq!(
        serde_json::to_value(department_owner()).unwrap(),
        json!({"kind": "department", "department_id": "dept-commerce"})
    );
    assert_eq!(
        department_owner().portfolio_id(),
        PortfolioId::parse("department.dept-commerce").unwrap()
    );
}

#[test]
fn visit_recorded_serialises_dates_as_calendar_days() {
    let json = serde_json::to_value(visited(vec![case_id()])).unwrap();
    assert_eq!(
        json,
        json!({
            "VisitRecorded": {
                "visit_id": "0195f0a2-7c4e-7d1a-9b8e-3f2a1c0d4e01",
                "subject_id": "ent-0042",
                "visited_on": "2026-02-20",
                "participants": ["王副区长", "liaison-li"],
                "learned": "流动资金紧张，贷款贴息兑现慢",
                "case_ids": ["0195f0a2-7c4e-7d1a-9b8e-3f2a1c0d4e5f"],
                "recorded_by": "liaison-li",
                "recorded_at": "2026-02-20T10:00:00Z"
            }
        })
    );
    let back: PortfolioEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, visited(vec![case_id()]));
    assert_eq!(
        serde_json::to_value(VisitObligation::HalfYearly).unwrap(),
        json!("half_yearly")
    );
}

#[test]
fn error_codes_are_stable_and_classified() {
    use PortfolioError as E;
    let codes = [
        (
            E::PortfolioNotFound,
            "portfolio_not_found",
            RefusalKind::NotFound,
        ),
        (
            E::PortfolioAlreadyExists,
            "portfolio_already_exists",
            RefusalKind::Conflict,
        ),
        (
            E::RoleNotAllowed {
                command: "link-case",
            },
            "role_not_allowed",
            RefusalKind::Forbidden,
        ),
        (
            E::NotOwnPortfolio,
            "not_own_portfolio",
            RefusalKind::Forbidden,
        ),
        (
            E::NotPortfolioMember,
            "not_portfolio_member",
            RefusalKind::Forbidden,
        ),
        (
            E::SubjectAlreadyAssigned,
            "subject_already_assigned",
            RefusalKind::Rule,
        ),
        (
            E::SubjectNotAssigned,
            "subject_not_assigned",
            RefusalKind::Rule,
        ),
        (
            E::AssignmentDateInFuture,
            "assignment_date_in_future",
            RefusalKind::Rule,
        ),
        (
            E::VisitDateInFuture,
            "visit_date_in_future",
            RefusalKind::Rule,
        ),
        (
            E::VisitBeforeAssignment,
            "visit_before_assignment",
            RefusalKind::Rule,
        ),
        (E::NoParticipants, "no_participants", RefusalKind::Rule),
        (E::VisitNotFound, "visit_not_found", RefusalKind::NotFound),
        (
            E::VisitAlreadyRecorded,
            "visit_already_recorded",
            RefusalKind::Conflict,
        ),
        (
            E::CaseAlreadyLinked,
            "case_already_linked",
            RefusalKind::Rule,
        ),
        (
            E::CaseOfAnotherSubject,
            "case_of_another_subject",
            RefusalKind::Rule,
        ),
    ];
    for (error, code, kind) in codes {
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.kind(), kind, "{error:?}");
    }
}

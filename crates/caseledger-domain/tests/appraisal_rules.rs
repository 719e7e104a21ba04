//! Given/when/then rules of the `AppraisalCampaign` aggregate, one rule per test; the result
//! computation (appraisal.v1) on a hand-computed fixture; the comment desensitisation; the KPI
//! formulas (kpi.v1) on hand-built case histories.
//!
//! The fixture campaign appraises two departments (commerce, market regulation) for 2026-Q4 with
//! two rater groups (enterprises 60 %, district staff 40 %), two dimensions and a KPI weight of
//! 40 %.

use std::collections::BTreeMap;

use caseledger_domain::appraisal::{
    compute_results, desensitise, AppraisalCampaign, AppraisalCommand, AppraisalError,
    AppraisalEvent, Ballot, CampaignDefinition, Dimension, Grade, GradeRule, RaterGroup,
};
use caseledger_domain::case::{CaseEvent, DeadlineKind, ExemptionReason, Resolution, Satisfaction};
use caseledger_domain::case::{CaseSource, Urgency};
use caseledger_domain::kpi::{department_kpi, CaseFacts, DepartmentKpi, KpiPeriod};
use caseledger_domain::{
    Actor, AppraisalId, Authored, CaseId, DepartmentId, RectificationId, Role, SubjectId, UserId,
};
use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::test::TestFramework;

fn time(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn department(id: &str) -> DepartmentId {
    DepartmentId::parse(id).unwrap()
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

fn organiser() -> Actor {
    actor("disp-wang", &[Role::Dispatcher], Some("bizenv-office"))
}

fn enterprise() -> Actor {
    actor("ent-user-1", &[Role::Enterprise], Some("ent-0001"))
}

fn commerce_head() -> Actor {
    actor("head-zhang", &[Role::DepartmentHead], Some("dept-commerce"))
}

fn campaign_id() -> AppraisalId {
    AppraisalId::parse("0193a0a2-7c4e-7d1a-9b8e-0000000000aa").unwrap()
}

fn item_id() -> RectificationId {
    RectificationId::parse("0193a0a2-7c4e-7d1a-9b8e-0000000000bb").unwrap()
}

fn definition() -> CampaignDefinition {
    CampaignDefinition {
        title: "2026年第四季度行政执法部门公开评议".into(),
        title_en: "Public appraisal of law-enforcement departments, 2026 Q4".into(),
        period: KpiPeriod::parse("2026-Q4").unwrap(),
        departments: vec![
            department("dept-commerce"),
            department("dept-market-regulation"),
        ],
        rater_groups: vec![
            RaterGroup {
                id: "enterprises".into(),
                name: "企业".into(),
                name_en: "Enterprises".into(),
                weight: 60,
                roles: vec![Role::Enterprise],
            },
            RaterGroup {
                id: "staff".into(),
                name: "区级机关".into(),
                name_en: "District staff".into(),
                weight: 40,
                roles: vec![Role::DistrictLeader, Role::DepartmentHead],
            },
        ],
        dimensions: vec![
            Dimension {
                id: "lawful".into(),
                name: "依法行政".into(),
                name_en: "Lawful administration".into(),
            },
            Dimension {
                id: "integrity".into(),
                name: "廉洁自律".into(),
                name_en: "Integrity".into(),
            },
        ],
        grades: GradeRule::default(),
        kpi_weight: 40,
    }
}

fn at() -> DateTime<Utc> {
    time("2027-01-05T02:00:00Z")
}

fn authored(actor: Actor, command: AppraisalCommand) -> Authored<AppraisalCommand> {
    Authored {
        actor,
        at: at(),
        command,
    }
}

fn created() -> AppraisalEvent {
    AppraisalEvent::CampaignCreated {
        campaign_id: campaign_id(),
        definition: definition(),
        created_by: user("disp-wang"),
        created_at: at(),
    }
}

fn opened() -> AppraisalEvent {
    AppraisalEvent::CampaignOpened {
        opened_by: user("disp-wang"),
        opened_at: at(),
    }
}

fn scores(lawful: Option<u8>, integrity: Option<u8>) -> BTreeMap<String, Option<u8>> {
    BTreeMap::from([("lawful".into(), lawful), ("integrity".into(), integrity)])
}

fn ballot_command(key: &str, group: &str, dept: &str) -> AppraisalCommand {
    AppraisalCommand::CastBallot {
        rater_key: key.into(),
        rater_group: group.into(),
        department: department(dept),
        scores: scores(Some(90), None),
        comment: None,
    }
}

fn cast(key: &str, group: &str, dept: &str) -> AppraisalEvent {
    AppraisalEvent::BallotCast {
        rater_key: key.into(),
        rater_group: group.into(),
        department: department(dept),
        scores: scores(Some(90), None),
        comment: None,
        cast_at: at(),
    }
}

fn closed() -> AppraisalEvent {
    AppraisalEvent::CampaignClosed {
        closed_by: user("disp-wang"),
        closed_at: at(),
    }
}

fn kpi_of(dept: &str, score: Option<f64>) -> DepartmentKpi {
    let mut kpi = department_kpi(&department(dept), &definition().period, []);
    kpi.score = score;
    kpi
}

fn kpi_snapshot() -> BTreeMap<DepartmentId, DepartmentKpi> {
    BTreeMap::from([
        (
            department("dept-commerce"),
            kpi_of("dept-commerce", Some(80.0)),
        ),
        (
            department("dept-market-regulation"),
            kpi_of("dept-market-regulation", Some(50.0)),
        ),
    ])
}

// ---------------------------------------------------------------------------------------------
// Rules

#[tokio::test]
async fn only_the_business_environment_office_creates_campaigns() {
    TestFramework::<AppraisalCampaign>::with(())
        .given_no_previous_events()
        .when_async(authored(
            commerce_head(),
            AppraisalCommand::Create {
                campaign_id: campaign_id(),
                definition: definition(),
            },
        ))
        .await
        .then_expect_error(AppraisalError::RoleNotAllowed {
            command: "create-appraisal",
        });
}

#[tokio::test]
async fn group_weights_must_sum_to_one_hundred() {
    let mut bad = definition();
    bad.rater_groups[0].weight = 50;
    TestFramework::<AppraisalCampaign>::with(())
        .given_no_previous_events()
        .when_async(authored(
            organiser(),
            AppraisalCommand::Create {
                campaign_id: campaign_id(),
                definition: bad,
            },
        ))
        .await
        .then_expect_error(AppraisalError::InvalidDefinition(
            "rater_groups weights must sum to 100".into(),
        ));
}

#[tokio::test]
async fn a_valid_campaign_is_created_as_a_draft() {
    TestFramework::<AppraisalCampaign>::with(())
        .given_no_previous_events()
        .when_async(authored(
            organiser(),
            AppraisalCommand::Create {
                campaign_id: campaign_id(),
                definition: definition(),
            },
        ))
        .await
        .then_expect_events(vec![created()]);
}

#[tokio::test]
async fn no_ballot_before_the_campaign_opens() {
    TestFramework::<AppraisalCampaign>::with(())
        .given(vec![created()])
        .when_async(authored(
            enterprise(),
            ballot_command("k1", "enterprises", "dept-commerce"),
        ))
        .await
        .then_expect_error(AppraisalError::WrongStatus {
            command: "ballots",
            status: "draft",
            needed: "open",
        });
}

#[tokio::test]
async fn a_rater_votes_only_in_a_group_of_their_role() {
    TestFramework::<AppraisalCampaign>::with(())
        .given(vec![created(), opened()])
        .when_async(authored(
            enterprise(),
            ballot_command("k1", "staff", "dept-commerce"),
        ))
        .await
        .then_expect_error(AppraisalError::NotInRaterGroup("staff".into()));
}

#[tokio::test]
async fn a_rater_never_rates_their_own_department() {
    TestFramework::<AppraisalCampaign>::with(())
        .given(vec![created(), opened()])
        .when_async(authored(
            commerce_head(),
            ballot_command("k2", "staff", "dept-commerce"),
        ))
        .await
        .then_expect_error(AppraisalError::RaterConflict);
}

#[tokio::test]
async fn one_ballot_per_rater_per_department() {
    TestFramework::<AppraisalCampaign>::with(())
        .given(vec![
            created(),
            opened(),
            cast("k1", "enterprises", "dept-commerce"),
        ])
        .when_async(authored(
            enterprise(),
            ballot_command("k1", "enterprises", "dept-commerce"),
        ))
        .await
        .then_expect_error(AppraisalError::BallotAlreadyCast);
}

#[tokio::test]
async fn the_same_rater_may_rate_another_department() {
    TestFramework::<AppraisalCampaign>::with(())
        .given(vec![
            created(),
            opened(),
            cast("k1", "enterprises", "dept-commerce"),
        ])
        .when_async(authored(
            enterprise(),
            ballot_command("k1", "enterprises", "dept-market-regulation"),
        ))
        .await
        .then_expect_events(vec![cast("k1", "enterprises", "dept-market-regulation")]);
}

#[tokio::test]
async fn every_dimension_needs_a_score_or_dont_know() {
    TestFramework::<AppraisalCampaign>::with(())
        .given(vec![created(), opened()])
        .when_async(authored(
            enterprise(),
            AppraisalCommand::CastBallot {
                rater_key: "k1".into(),
                rater_group: "enterprises".into(),
                department: department("dept-commerce"),
                scores: BTreeMap::from([("lawful".into(), Some(80))]),
                comment: None,
            },
        ))
        .await
        .then_expect_error(AppraisalError::InvalidScores(
            "dimension integrity needs a score or null (don't know)".into(),
        ));
}

#[tokio::test]
async fn results_are_computed_only_after_closing() {
    TestFramework::<AppraisalCampaign>::with(())
        .given(vec![created(), opened()])
        .when_async(authored(
            organiser(),
            AppraisalCommand::ComputeResults {
                kpi: kpi_snapshot(),
                redact_names: vec![],
            },
        ))
        .await
        .then_expect_error(AppraisalError::WrongStatus {
            command: "compute",
            status: "open",
            needed: "closed",
        });
}

#[tokio::test]
async fn the_kpi_snapshot_must_cover_every_department() {
    let mut kpi = kpi_snapshot();
    kpi.remove(&department("dept-market-regulation"));
    TestFramework::<AppraisalCampaign>::with(())
        .given(vec![created(), opened(), closed()])
        .when_async(authored(
            organiser(),
            AppraisalCommand::ComputeResults {
                kpi,
                redact_names: vec![],
            },
        ))
        .await
        .then_expect_error(AppraisalError::KpiSnapshotIncomplete(
            "dept-market-regulation".into(),
        ));
}

#[tokio::test]
async fn the_computed_event_records_what_compute_results_gives() {
    let ballots = vec![Ballot {
        department: department("dept-commerce"),
        rater_group: "enterprises".into(),
        scores: scores(Some(90), None),
        comment: None,
    }];
    let results = compute_results(&definition(), &ballots, &kpi_snapshot(), &[]);
    TestFramework::<AppraisalCampaign>::with(())
        .given(vec![
            created(),
            opened(),
            cast("k1", "enterprises", "dept-commerce"),
            closed(),
        ])
        .when_async(authored(
            organiser(),
            AppraisalCommand::ComputeResults {
                kpi: kpi_snapshot(),
                redact_names: vec![],
            },
        ))
        .await
        .then_expect_events(vec![AppraisalEvent::ResultsComputed {
            kpi: kpi_snapshot(),
            redact_names: vec![],
            results,
            computed_by: user("disp-wang"),
            computed_at: at(),
        }]);
}

#[tokio::test]
async fn rectification_items_only_after_publication() {
    TestFramework::<AppraisalCampaign>::with(())
        .given(vec![created(), opened(), closed()])
        .when_async(authored(
            organiser(),
            AppraisalCommand::AddRectification {
                item_id: item_id(),
                department: department("dept-market-regulation"),
                title: "执法公示不及时".into(),
                due_on: NaiveDate::from_ymd_opt(2027, 3, 31).unwrap(),
            },
        ))
        .await
        .then_expect_error(AppraisalError::WrongStatus {
            command: "rectifications",
            status: "closed",
            needed: "published",
        });
}

#[tokio::test]
async fn only_the_department_itself_reports_its_item_done() {
    TestFramework::<AppraisalCampaign>::with(())
        .given(vec![
            created(),
            AppraisalEvent::RectificationAdded {
                item_id: item_id(),
                department: department("dept-market-regulation"),
                title: "执法公示不及时".into(),
                due_on: NaiveDate::from_ymd_opt(2027, 3, 31).unwrap(),
                added_by: user("disp-wang"),
                added_at: at(),
            },
        ])
        .when_async(authored(
            commerce_head(),
            AppraisalCommand::ReportRectification {
                item_id: item_id(),
                note: "已整改".into(),
            },
        ))
        .await
        .then_expect_error(AppraisalError::NotOwnDepartment);
}

#[tokio::test]
async fn a_recheck_needs_a_report_first() {
    TestFramework::<AppraisalCampaign>::with(())
        .given(vec![
            created(),
            AppraisalEvent::RectificationAdded {
                item_id: item_id(),
                department: department("dept-market-regulation"),
                title: "执法公示不及时".into(),
                due_on: NaiveDate::from_ymd_opt(2027, 3, 31).unwrap(),
                added_by: user("disp-wang"),
                added_at: at(),
            },
        ])
        .when_async(authored(
            organiser(),
            AppraisalCommand::RecheckRectification {
                item_id: item_id(),
                passed: true,
                note: "复查通过".into(),
            },
        ))
        .await
        .then_expect_error(AppraisalError::RectificationNotReported);
}

#[test]
fn error_codes_are_stable() {
    assert_eq!(
        AppraisalError::BallotAlreadyCast.code(),
        "ballot_already_cast"
    );
    assert_eq!(AppraisalError::RaterConflict.code(), "rater_conflict");
    assert_eq!(
        AppraisalError::CampaignNotFound.code(),
        "appraisal_not_found"
    );
}

// ---------------------------------------------------------------------------------------------
// Results (appraisal.v1), by hand

#[test]
fn results_follow_the_documented_aggregation() {
    let ballot = |dept: &str, group: &str, lawful, integrity, comment: Option<&str>| Ballot {
        department: department(dept),
        rater_group: group.into(),
        scores: scores(lawful, integrity),
        comment: comment.map(Into::into),
    };
    let ballots = vec![
        ballot(
            "dept-commerce",
            "enterprises",
            Some(90),
            Some(80),
            Some("办事快，王科长电话13812345678"),
        ),
        ballot("dept-commerce", "enterprises", Some(70), None, None),
        ballot("dept-commerce", "staff", Some(60), Some(100), None),
        ballot(
            "dept-market-regulation",
            "enterprises",
            Some(50),
            Some(60),
            None,
        ),
    ];
    let results = compute_results(&definition(), &ballots, &kpi_snapshot(), &["王科长".into()]);
    // Commerce: enterprises lawful (90+70)/2 = 80, integrity 80 → group 80; staff lawful 60,
    // integrity 100 → group 80. Ballots 0.6×80 + 0.4×80 = 80. Total 0.4×80 + 0.6×80 = 80.
    // Dimensions: lawful 0.6×80 + 0.4×60 = 72; integrity 0.6×80 + 0.4×100 = 88.
    let commerce = &results.departments[0];
    assert_eq!(commerce.department.as_str(), "dept-commerce");
    assert_eq!(commerce.total, Some(80.0));
    assert_eq!(commerce.ballot_score, Some(80.0));
    assert_eq!(commerce.rank, Some(1));
    // Two departments × 30 % = 0.6 → one advanced place, taken by the first.
    assert_eq!(commerce.grade, Grade::Advanced);
    assert_eq!(commerce.dimensions[0].score, Some(72.0));
    assert_eq!(commerce.dimensions[1].score, Some(88.0));
    assert_eq!(commerce.dimensions[1].dont_know, 1);
    assert_eq!(commerce.groups[0].ballots, 2);
    assert_eq!(commerce.comments, vec!["办事快，***电话***".to_owned()]);
    // Market regulation: enterprises only, (50+60)/2 = 55 → ballots 55 (staff dropped out).
    // Total 0.4×50 + 0.6×55 = 53 → rank 2, fail.
    let market = &results.departments[1];
    assert_eq!(market.ballot_score, Some(55.0));
    assert_eq!(market.total, Some(53.0));
    assert_eq!(market.rank, Some(2));
    assert_eq!(market.grade, Grade::Fail);
    assert_eq!(market.groups[1].score, None);
}

#[test]
fn equal_totals_share_a_rank_and_pass_when_not_in_the_top_share() {
    let mut kpi = kpi_snapshot();
    kpi.get_mut(&department("dept-market-regulation"))
        .unwrap()
        .score = Some(80.0);
    let results = compute_results(&definition(), &[], &kpi, &[]);
    assert_eq!(results.departments[0].rank, Some(1));
    assert_eq!(results.departments[1].rank, Some(1));
    assert!(results
        .departments
        .iter()
        .all(|d| d.grade == Grade::Advanced));
}

#[test]
fn comments_lose_phones_ids_emails_and_listed_names() {
    let text = "张三说：电话 138 1234 5678，座机010-65123456，身份证11010519491231002X，邮箱 zhang.san@example.com，3天内办完，金额50000元。";
    let clean = desensitise(text, &["张三".into()]);
    assert_eq!(
        clean,
        "***说：电话 ***，座机***，身份证***，邮箱 ***，3天内办完，金额50000元。"
    );
    for leaked in ["张三", "1234", "65123456", "002X", "example.com", "@"] {
        assert!(!clean.contains(leaked), "{leaked} in {clean}");
    }
}

// ---------------------------------------------------------------------------------------------
// KPI formulas (kpi.v1) on hand-built histories

fn case_events(extra: Vec<CaseEvent>) -> Vec<CaseEvent> {
    let mut events = vec![
        CaseEvent::CaseRegistered {
            case_id: CaseId::parse("0193a0a2-7c4e-7d1a-9b8e-000000000001").unwrap(),
            enterprise_id: SubjectId::parse("ent-0001").unwrap(),
            title: "t".into(),
            description: "d".into(),
            category: "general".into(),
            urgency: Urgency::Normal,
            source: CaseSource::Hotline,
            registered_by: user("disp"),
            registered_at: time("2026-10-12T01:00:00Z"),
            case_number: None,
            verifier_sha256: None,
        },
        CaseEvent::CaseDispatched {
            lead_department: department("dept-commerce"),
            co_departments: vec![],
            note: None,
            sla_policy_version: "test".into(),
            accept_due: time("2026-10-13T01:00:00Z"),
            respond_due: time("2026-10-15T01:00:00Z"),
            dispatched_by: user("disp"),
            dispatched_at: time("2026-10-12T01:00:00Z"),
            first_contact_due: Some(time("2026-10-13T01:00:00Z")),
            resolve_due: Some(time("2026-11-02T01:00:00Z")),
            sla_rule: None,
        },
    ];
    events.extend(extra);
    events
}

fn facts(events: &[CaseEvent]) -> CaseFacts {
    let mut facts = CaseFacts::default();
    for event in events {
        facts.evolve(event);
    }
    facts
}

fn accepted(at: &str) -> CaseEvent {
    CaseEvent::CaseAccepted {
        department: department("dept-commerce"),
        accepted_by: user("h"),
        accepted_at: time(at),
    }
}

fn responded(at: &str) -> CaseEvent {
    CaseEvent::CaseResponded {
        department: department("dept-commerce"),
        resolution: Resolution::Resolved,
        text: "ok".into(),
        basis: None,
        responded_by: user("h"),
        responded_at: time(at),
        evidence: vec![],
    }
}

fn rated(grade: u8, resolved: bool) -> CaseEvent {
    CaseEvent::CaseRated {
        satisfaction: Satisfaction::new(grade).unwrap(),
        resolved,
        comment: None,
        rated_by: user("e"),
        rated_as: Role::Enterprise,
        rated_at: time("2026-10-16T01:00:00Z"),
    }
}

#[test]
fn kpi_formulas_on_four_hand_built_cases() {
    let on_time = facts(&case_events(vec![
        accepted("2026-10-12T05:00:00Z"),
        responded("2026-10-14T05:00:00Z"),
        rated(5, true),
    ]));
    // Late acceptance and a response after the due; rated 2, then an upheld appeal.
    let late = facts(&case_events(vec![
        accepted("2026-10-13T05:00:00Z"),
        responded("2026-10-16T05:00:00Z"),
        rated(2, false),
        CaseEvent::RatingAppealed {
            reason: "r".into(),
            appealed_by: user("head"),
            appealed_at: time("2026-10-17T01:00:00Z"),
        },
        CaseEvent::AppealDecided {
            upheld: true,
            reason: "r".into(),
            decided_by: user("disp2"),
            decided_at: time("2026-10-18T01:00:00Z"),
        },
    ]));
    // Exempted: counts in volume only.
    let exempted = facts(&case_events(vec![CaseEvent::ExemptionGranted {
        reason: ExemptionReason::UnreasonableRequest,
        text: "x".into(),
        granted_by: user("disp2"),
        granted_at: time("2026-10-13T01:00:00Z"),
    }]));
    // Accepted in time but the respond deadline breached: overdue, not responded.
    let breached = facts(&case_events(vec![
        accepted("2026-10-12T03:00:00Z"),
        CaseEvent::DeadlineBreached {
            deadline: DeadlineKind::Respond,
            cycle: 1,
            due: time("2026-10-15T01:00:00Z"),
            fired_at: time("2026-10-15T01:00:01Z"),
        },
    ]));
    let all = [on_time, late, exempted, breached];
    let kpi = department_kpi(
        &department("dept-commerce"),
        &KpiPeriod::parse("2026-Q4").unwrap(),
        &all,
    );
    assert_eq!(kpi.formula_version, "kpi.v1");
    assert_eq!((kpi.volume, kpi.exempted, kpi.scored), (4, 1, 3));
    assert_eq!(
        (
            kpi.timely_acceptance.numerator,
            kpi.timely_acceptance.denominator
        ),
        (2, 3)
    );
    assert_eq!((kpi.response.numerator, kpi.response.denominator), (2, 3));
    assert_eq!(
        (
            kpi.on_time_completion.numerator,
            kpi.on_time_completion.denominator
        ),
        (1, 3)
    );
    assert_eq!(kpi.overdue, 2);
    // The upheld appeal leaves one scorable rating: 5, resolved.
    assert_eq!(
        (kpi.satisfaction.numerator, kpi.satisfaction.denominator),
        (1, 1)
    );
    assert_eq!(
        (kpi.resolution.numerator, kpi.resolution.denominator),
        (1, 1)
    );
    assert_eq!((kpi.appeals, kpi.appeals_upheld), (1, 1));
    // Score: (15×2/3 + 15×2/3 + 30×1/3 + 25×1 + 15×1) / 100 × 100 = 70.
    assert_eq!(kpi.score, Some(70.0));
    // Another quarter sees none of them.
    let other = department_kpi(
        &department("dept-commerce"),
        &KpiPeriod::parse("2026-Q3").unwrap(),
        &all,
    );
    assert_eq!((other.volume, other.score), (0, None));
}

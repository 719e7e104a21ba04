//! Given/when/then rules of the `RewardProgram` and `RewardNomination` aggregates, one rule per
//! test, and the reward decision audit over recorded histories.
//!
//! Fixtures: a program with a quota of two, two tiers, two criteria (weights 3 and 2, 0–100),
//! a trimmed mean leaving out one score at each end, five working days of notice, three
//! reviewers and two alternates, a committee of five with a quorum of three. The pool has six
//! economists, one reward-office staff member who is also an expert (`ro-chen`) and one expert
//! employed by the reward office (`ro-employee`). Histories are built by running the
//! aggregate's own `decide`, so they are histories the rules allow.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use caseledger_domain::calendar::WorkCalendar;
use caseledger_domain::case::RefusalKind;
use caseledger_domain::consultation::draw::{self, DrawSeed, PoolEntry};
use caseledger_domain::reward::audit::{audit_program, Recorded};
use caseledger_domain::reward::nomination::{
    ChecklistItem, NominationCommand, NominationError, NominationEvent, NominationStatus, Nominee,
    NomineeKind, ProgramSnapshot, RewardNomination,
};
use caseledger_domain::reward::program::{
    ProgramCommand, ProgramError, ProgramEvent, RewardProgram,
};
use caseledger_domain::reward::{
    aggregate_scores, AggregationRule, Criterion, CriterionScore, ProgramTerms, Tier,
    AGGREGATION_VERSION,
};
use caseledger_domain::text::{Label, LongText};
use caseledger_domain::{
    Actor, Authored, Discipline, ExpertId, NominationId, ObjectionId, RewardProgramId, Role,
    UnitId, UserId,
};
use chrono::{DateTime, Duration, Utc};
use cqrs_es::test::TestFramework;

/// Monday 2 March 2026, 10:00 in Beijing.
fn monday() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T02:00:00Z")
        .unwrap()
        .to_utc()
}

fn actor(sub: &str, role: Role) -> Actor {
    Actor {
        sub: UserId::parse(sub).unwrap(),
        roles: vec![role],
        org: None,
    }
}
fn office() -> Actor {
    actor("ro-chen", Role::RewardOffice)
}
fn authority() -> Actor {
    actor("mayor-li", Role::ApprovingAuthority)
}
fn other_authority() -> Actor {
    actor("deputy-zhao", Role::ApprovingAuthority)
}
fn auditor() -> Actor {
    actor("inspector-sun", Role::Auditor)
}
/// The program's committee roster: `member-1` … `member-5`.
fn committee() -> BTreeSet<UserId> {
    (1..=5)
        .map(|n| UserId::parse(format!("member-{n}")).unwrap())
        .collect()
}
fn member(n: u32) -> Actor {
    actor(&format!("member-{n}"), Role::CommitteeMember)
}
fn expert(id: &str) -> Actor {
    actor(id, Role::Expert)
}

fn by<C>(actor: Actor, command: C) -> Authored<C> {
    Authored {
        actor,
        at: monday(),
        command,
    }
}
fn by_at<C>(actor: Actor, at: DateTime<Utc>, command: C) -> Authored<C> {
    Authored { actor, at, command }
}

fn text(t: &str) -> LongText {
    LongText::parse(t).unwrap()
}
fn label(t: &str) -> Label {
    Label::parse(t).unwrap()
}
fn unit(t: &str) -> UnitId {
    UnitId::parse(t).unwrap()
}
fn id(t: &str) -> ExpertId {
    ExpertId::parse(t).unwrap()
}

fn terms() -> ProgramTerms {
    ProgramTerms {
        title: "2026年度科技创新重奖".into(),
        cycle: "2026".into(),
        quota: 2,
        tiers: vec![
            Tier {
                code: "first".into(),
                name: "一等奖".into(),
                min_amount: 100_000,
                max_amount: 200_000,
            },
            Tier {
                code: "second".into(),
                name: "二等奖".into(),
                min_amount: 50_000,
                max_amount: 80_000,
            },
        ],
        criteria: vec![
            Criterion {
                code: "contribution".into(),
                name: "经济贡献".into(),
                weight: 3,
                min_score: 0,
                max_score: 100,
            },
            Criterion {
                code: "innovation".into(),
                name: "创新水平".into(),
                weight: 2,
                min_score: 0,
                max_score: 100,
            },
        ],
        aggregation: AggregationRule {
            method: "trimmed_mean".into(),
            trim: 1,
            version: AGGREGATION_VERSION.into(),
        },
        notice_working_days: 5,
        reviewers: 3,
        alternates: 2,
        disciplines: [Discipline::parse("economics").unwrap()].into(),
        committee_size: 5,
        committee_quorum: 3,
        committee: committee(),
        reward_office_unit: unit("district-reward-office"),
        reward_office_staff: [id("ro-chen")].into(),
    }
}

fn entry(expert_id: &str, employer: &str) -> PoolEntry {
    PoolEntry {
        conflicts: BTreeSet::new(),
        disciplines: [Discipline::parse("economics").unwrap()].into(),
        employer_unit: unit(employer),
        expert_id: id(expert_id),
        subordinate_to: BTreeSet::new(),
        version: 1,
    }
}

fn pool() -> Vec<PoolEntry> {
    let mut pool: Vec<PoolEntry> = (1..=6)
        .map(|i| entry(&format!("econ-{i}"), &format!("univ-{i}")))
        .collect();
    pool.push(entry("ro-chen", "univ-9"));
    pool.push(entry("ro-employee", "district-reward-office"));
    pool
}

fn seed() -> DrawSeed {
    DrawSeed::from_bytes([7; 32])
}

fn program_id() -> RewardProgramId {
    RewardProgramId::parse("0195f000-0000-7000-8000-000000000001").unwrap()
}

fn snapshot(approved: bool) -> ProgramSnapshot {
    ProgramSnapshot {
        program_id: program_id(),
        terms: terms(),
        approval_document: approved.then(|| "区委〔2026〕8号".to_owned()),
    }
}

fn nominee() -> Nominee {
    Nominee {
        kind: NomineeKind::Person,
        name: "张工".into(),
        unit: "区新材料研究院".into(),
        unit_id: Some(unit("inst-new-materials")),
        id_number: Some("110101199001011234".into()),
        phone: Some("13800138000".into()),
    }
}

fn submit() -> NominationCommand {
    NominationCommand::Submit {
        nomination_id: NominationId::parse("0195f000-0000-7000-8000-0000000000a1").unwrap(),
        program: snapshot(true),
        nominee: nominee(),
        summary: text("主持研发新型电池隔膜，年新增产值1.2亿元。"),
        contributions: vec![],
        evidence: vec![label("区科〔2025〕31号")],
        reason: text("贡献突出"),
    }
}

fn eligible() -> NominationCommand {
    NominationCommand::DecideEligibility {
        eligible: true,
        checklist: vec![ChecklistItem {
            item: "在本区工作满两年".into(),
            passed: true,
        }],
        reason: text("材料齐全，条件符合"),
    }
}

fn scores(contribution: i32, innovation: i32) -> NominationCommand {
    let comment = |score: i32| (score == 0 || score == 100).then(|| "理由充分".to_owned());
    NominationCommand::SubmitScores {
        scores: BTreeMap::from([
            (
                "contribution".to_owned(),
                CriterionScore {
                    score: contribution,
                    comment: comment(contribution),
                },
            ),
            (
                "innovation".to_owned(),
                CriterionScore {
                    score: innovation,
                    comment: comment(innovation),
                },
            ),
        ]),
    }
}

fn calendar() -> Arc<WorkCalendar> {
    Arc::new(WorkCalendar::default())
}

/// A history built by the aggregate's own decisions.
#[derive(Clone)]
struct History {
    events: Vec<NominationEvent>,
}

impl History {
    fn new() -> Self {
        Self { events: vec![] }
    }
    fn state(&self) -> RewardNomination {
        let mut state = RewardNomination::default();
        for event in &self.events {
            state.evolve(event);
        }
        state
    }
    fn step(mut self, command: Authored<NominationCommand>) -> Self {
        let events = self
            .state()
            .decide(command)
            .unwrap_or_else(|error| panic!("{error}"));
        self.events.extend(events);
        self
    }
    fn panel(&self) -> Vec<String> {
        self.state()
            .active_reviewers()
            .map(|e| e.to_string())
            .collect()
    }

    fn submitted() -> Self {
        Self::new().step(by(office(), submit()))
    }
    fn eligible() -> Self {
        Self::submitted().step(by(office(), eligible()))
    }
    fn drawn() -> Self {
        Self::eligible().step(by(
            office(),
            NominationCommand::DrawReviewers {
                seed: seed(),
                pool: pool(),
            },
        ))
    }
    fn scored_by_all(self) -> Self {
        let mut history = self;
        for (i, reviewer) in history.panel().into_iter().enumerate() {
            let score = 60 + 10 * i as i32;
            history = history.step(by(expert(&reviewer), scores(score, score - 5)));
        }
        history
    }
    fn aggregated() -> Self {
        Self::drawn()
            .scored_by_all()
            .step(by(office(), NominationCommand::AggregateScores))
    }
    fn shortlisted() -> Self {
        let mut history = Self::aggregated();
        for n in 1..=3 {
            history = history.step(by(
                member(n),
                NominationCommand::CastVote {
                    in_favour: true,
                    committee: committee(),
                },
            ));
        }
        history.step(by(
            office(),
            NominationCommand::TallyVote {
                committee: committee(),
            },
        ))
    }
    fn in_notice() -> Self {
        Self::shortlisted().step(by(
            office(),
            NominationCommand::StartNotice {
                calendar: calendar(),
            },
        ))
    }
    fn notice_closed() -> Self {
        Self::in_notice().step(by_at(
            office(),
            after_notice(),
            NominationCommand::CloseNotice,
        ))
    }
    fn approved() -> Self {
        Self::notice_closed().step(by_at(authority(), after_notice(), approve(0)))
    }
}

/// Five working days after Monday 10:00 (CST) is the next Monday 10:00.
fn notice_end() -> DateTime<Utc> {
    monday() + Duration::days(7)
}
fn after_notice() -> DateTime<Utc> {
    notice_end() + Duration::hours(1)
}

fn approve(awards_in_program: u32) -> NominationCommand {
    NominationCommand::Approve {
        decision_number: label("区政〔2026〕15号"),
        tier: "first".into(),
        amount: 150_000,
        reason: text("公示无异议，评审排名第一"),
        awards_in_program,
    }
}

fn objection(name: Option<&str>, contact: Option<&str>) -> NominationCommand {
    NominationCommand::FileObjection {
        objection_id: ObjectionId::parse("0195f000-0000-7000-8000-0000000000b1").unwrap(),
        filer_name: name.map(label),
        filer_contact: contact.map(label),
        grounds: text("该成果系团队集体完成，申报材料夸大个人作用，附项目合同为证。"),
    }
}

async fn refused(given: History, command: Authored<NominationCommand>, error: NominationError) {
    TestFramework::<RewardNomination>::with(())
        .given(given.events)
        .when_async(command)
        .await
        .then_expect_error(error);
}

async fn recorded(given: History, command: Authored<NominationCommand>) -> Vec<NominationEvent> {
    TestFramework::<RewardNomination>::with(())
        .given(given.events)
        .when_async(command)
        .await
        .inspect_result()
        .unwrap()
}

fn invalid(command: &'static str, status: &'static str) -> NominationError {
    NominationError::InvalidStatus { command, status }
}

// ---------------------------------------------------------------------------------------------
// Programs

#[tokio::test]
async fn a_program_needs_at_least_five_working_days_of_notice() {
    let mut short = terms();
    short.notice_working_days = 4;
    TestFramework::<RewardProgram>::with(())
        .given_no_previous_events()
        .when_async(by(
            office(),
            ProgramCommand::Create {
                program_id: program_id(),
                terms: short,
            },
        ))
        .await
        .then_expect_error(ProgramError::NoticePeriodTooShort);
}

#[tokio::test]
async fn only_the_reward_office_defines_and_only_the_approving_authority_approves_a_program() {
    let create = ProgramCommand::Create {
        program_id: program_id(),
        terms: terms(),
    };
    TestFramework::<RewardProgram>::with(())
        .given_no_previous_events()
        .when_async(by(authority(), create.clone()))
        .await
        .then_expect_error(ProgramError::RoleNotAllowed { command: "create" });
    let created = ProgramEvent::ProgramCreated {
        program_id: program_id(),
        terms: terms(),
        created_by: office().sub,
        created_at: monday(),
    };
    TestFramework::<RewardProgram>::with(())
        .given(vec![created.clone()])
        .when_async(by(
            office(),
            ProgramCommand::Approve {
                document_number: label("区委〔2026〕8号"),
            },
        ))
        .await
        .then_expect_error(ProgramError::RoleNotAllowed { command: "approve" });
    TestFramework::<RewardProgram>::with(())
        .given(vec![created])
        .when_async(by(
            authority(),
            ProgramCommand::Approve {
                document_number: label("区委〔2026〕8号"),
            },
        ))
        .await
        .then_expect_events(vec![ProgramEvent::ProgramApproved {
            document_number: "区委〔2026〕8号".into(),
            approved_by: authority().sub,
            approved_at: monday(),
        }]);
}

#[tokio::test]
async fn a_committee_quorum_must_be_a_majority_of_the_committee() {
    let mut bad = terms();
    bad.committee_quorum = 2;
    let error = RewardProgram::default()
        .decide(by(
            office(),
            ProgramCommand::Create {
                program_id: program_id(),
                terms: bad,
            },
        ))
        .unwrap_err();
    assert_eq!(error.code(), "invalid_program_terms");
}

// ---------------------------------------------------------------------------------------------
// Submission and eligibility

#[tokio::test]
async fn nominations_are_refused_for_a_program_not_approved() {
    let NominationCommand::Submit {
        nomination_id,
        nominee,
        summary,
        contributions,
        evidence,
        reason,
        ..
    } = submit()
    else {
        unreachable!()
    };
    let command = NominationCommand::Submit {
        nomination_id,
        program: snapshot(false),
        nominee,
        summary,
        contributions,
        evidence,
        reason,
    };
    refused(
        History::new(),
        by(office(), command),
        NominationError::ProgramNotApproved,
    )
    .await;
}

#[tokio::test]
async fn an_eligibility_decision_must_agree_with_its_checklist() {
    let command = NominationCommand::DecideEligibility {
        eligible: true,
        checklist: vec![ChecklistItem {
            item: "无违法违纪记录".into(),
            passed: false,
        }],
        reason: text("符合"),
    };
    refused(
        History::submitted(),
        by(office(), command),
        NominationError::ChecklistContradiction,
    )
    .await;
}

#[tokio::test]
async fn an_ineligible_nomination_goes_no_further() {
    let ineligible = History::submitted().step(by(
        office(),
        NominationCommand::DecideEligibility {
            eligible: false,
            checklist: vec![ChecklistItem {
                item: "在本区工作满两年".into(),
                passed: false,
            }],
            reason: text("在本区工作不满两年"),
        },
    ));
    assert_eq!(ineligible.state().status, NominationStatus::Ineligible);
    refused(
        ineligible,
        by(
            office(),
            NominationCommand::DrawReviewers {
                seed: seed(),
                pool: pool(),
            },
        ),
        invalid("draw-reviewers", "ineligible"),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The reviewer draw

#[tokio::test]
async fn reward_office_staff_and_employees_are_filtered_out_of_the_draw_which_stays_verifiable() {
    let events = recorded(
        History::eligible(),
        by(
            office(),
            NominationCommand::DrawReviewers {
                seed: seed(),
                pool: pool(),
            },
        ),
    )
    .await;
    let NominationEvent::ReviewersDrawn {
        seed,
        pool,
        filters,
        panel,
        alternates,
        order,
        proof,
        ..
    } = &events[0]
    else {
        panic!("{events:?}")
    };
    assert_eq!(
        filters.excluded,
        [id("ro-chen"), id("ro-employee")].into(),
        "both are excluded in the recorded filters"
    );
    assert!(!order.contains(&id("ro-chen")) && !order.contains(&id("ro-employee")));
    assert_eq!(panel.len(), 3);
    assert_eq!(alternates.len(), 2);
    let rerun = draw::draw(seed, pool, filters, 3, 2).unwrap();
    assert_eq!((&rerun.panel, &rerun.proof), (panel, proof));
}

#[tokio::test]
async fn experts_conflicted_with_the_nominee_unit_are_not_drawn() {
    let mut conflicted_pool = pool();
    conflicted_pool[0].conflicts = [unit("inst-new-materials")].into();
    conflicted_pool[1].employer_unit = unit("inst-new-materials");
    let events = recorded(
        History::eligible(),
        by(
            office(),
            NominationCommand::DrawReviewers {
                seed: seed(),
                pool: conflicted_pool,
            },
        ),
    )
    .await;
    let NominationEvent::ReviewersDrawn { order, .. } = &events[0] else {
        panic!()
    };
    assert!(!order.contains(&id("econ-1")) && !order.contains(&id("econ-2")));
}

// ---------------------------------------------------------------------------------------------
// Scores

#[tokio::test]
async fn reward_office_staff_never_score() {
    let history = History::drawn();
    let reviewer = history.panel()[0].clone();
    let both = Actor {
        roles: vec![Role::Expert, Role::RewardOffice],
        ..expert(&reviewer)
    };
    refused(
        history,
        by(both, scores(70, 70)),
        NominationError::ScorerIsRewardOffice,
    )
    .await;
}

#[tokio::test]
async fn only_a_seated_reviewer_scores() {
    let history = History::drawn();
    let outsider = ["econ-1", "econ-2", "econ-3", "econ-4", "econ-5", "econ-6"]
        .into_iter()
        .find(|e| !history.panel().contains(&e.to_string()))
        .unwrap();
    refused(
        history,
        by(expert(outsider), scores(70, 70)),
        NominationError::NotSeated,
    )
    .await;
}

#[tokio::test]
async fn scores_must_lie_within_the_criterion_range() {
    let history = History::drawn();
    let reviewer = history.panel()[0].clone();
    refused(
        history,
        by(expert(&reviewer), scores(101, 70)),
        NominationError::ScoreOutOfRange {
            criterion: "contribution".into(),
            score: 101,
            min: 0,
            max: 100,
        },
    )
    .await;
}

#[tokio::test]
async fn an_extreme_score_needs_a_comment() {
    let history = History::drawn();
    let reviewer = history.panel()[0].clone();
    let NominationCommand::SubmitScores { mut scores } = scores(100, 70) else {
        unreachable!()
    };
    scores.get_mut("contribution").unwrap().comment = Some("  ".into());
    refused(
        history,
        by(
            expert(&reviewer),
            NominationCommand::SubmitScores { scores },
        ),
        NominationError::CommentRequired("contribution".into()),
    )
    .await;
}

#[tokio::test]
async fn every_criterion_is_scored() {
    let history = History::drawn();
    let reviewer = history.panel()[0].clone();
    let NominationCommand::SubmitScores { mut scores } = scores(70, 70) else {
        unreachable!()
    };
    scores.remove("innovation");
    refused(
        history,
        by(
            expert(&reviewer),
            NominationCommand::SubmitScores { scores },
        ),
        NominationError::ScoresIncomplete("innovation".into()),
    )
    .await;
}

#[tokio::test]
async fn a_recused_reviewer_cannot_score() {
    let history = History::drawn();
    let reviewer = history.panel()[0].clone();
    let history = history.step(by(
        expert(&reviewer),
        NominationCommand::RecuseReviewer {
            expert_id: id(&reviewer),
            reason: text("曾与被提名人合作项目"),
        },
    ));
    refused(
        history,
        by(expert(&reviewer), scores(70, 70)),
        NominationError::ReviewerRecused,
    )
    .await;
}

#[tokio::test]
async fn recusing_a_reviewer_who_scored_voids_the_scores_and_the_aggregation_and_seats_an_alternate(
) {
    let history = History::aggregated();
    let reviewer = history.panel()[1].clone();
    let alternate = history.state().alternates[0].clone();
    let events = recorded(
        history,
        by(
            office(),
            NominationCommand::RecuseReviewer {
                expert_id: id(&reviewer),
                reason: text("后查明与被提名单位存在利害关系"),
            },
        ),
    )
    .await;
    let names: Vec<&str> = events.iter().map(|e| e.name()).collect();
    assert_eq!(
        names,
        [
            "ReviewerRecused",
            "ScoresVoided",
            "AggregationVoided",
            "AlternateSeated"
        ]
    );
    let NominationEvent::AlternateSeated { expert_id, .. } = &events[3] else {
        panic!()
    };
    assert_eq!(expert_id, &alternate);
}

#[tokio::test]
async fn aggregation_waits_for_every_seated_reviewer() {
    let history = History::drawn();
    let first = history.panel()[0].clone();
    let history = history.step(by(expert(&first), scores(80, 80)));
    let error = history
        .state()
        .decide(by(office(), NominationCommand::AggregateScores))
        .unwrap_err();
    assert_eq!(error.code(), "scores_missing");
    refused(
        history,
        by(office(), NominationCommand::AggregateScores),
        error,
    )
    .await;
}

#[tokio::test]
async fn the_aggregation_records_its_rule_version_and_the_reproducible_result() {
    let history = History::drawn().scored_by_all();
    let state = history.state();
    let sheets: Vec<_> = state
        .counted_sheets()
        .iter()
        .map(|(_, s)| &s.scores)
        .collect();
    let expected = aggregate_scores(&terms().criteria, &terms().aggregation, &sheets).unwrap();
    let events = recorded(history, by(office(), NominationCommand::AggregateScores)).await;
    let NominationEvent::ScoresAggregated {
        rule_version,
        result,
        sheets,
        ..
    } = &events[0]
    else {
        panic!()
    };
    assert_eq!(rule_version, AGGREGATION_VERSION);
    assert_eq!(result, &expected);
    assert_eq!(sheets.len(), 3);
    // Scores 60/55, 70/65, 80/75 trimmed by one at each end: 70 and 65 → 68.00.
    assert_eq!(result.total_x100, 6800);
}

// ---------------------------------------------------------------------------------------------
// The committee

#[tokio::test]
async fn a_committee_vote_needs_its_quorum() {
    let history = History::aggregated()
        .step(by(
            member(1),
            NominationCommand::CastVote {
                in_favour: true,
                committee: committee(),
            },
        ))
        .step(by(
            member(2),
            NominationCommand::CastVote {
                in_favour: true,
                committee: committee(),
            },
        ));
    refused(
        history,
        by(
            office(),
            NominationCommand::TallyVote {
                committee: committee(),
            },
        ),
        NominationError::QuorumNotReached { cast: 2, quorum: 3 },
    )
    .await;
}

#[tokio::test]
async fn a_member_votes_once() {
    let history = History::aggregated().step(by(
        member(1),
        NominationCommand::CastVote {
            in_favour: true,
            committee: committee(),
        },
    ));
    refused(
        history,
        by(
            member(1),
            NominationCommand::CastVote {
                in_favour: false,
                committee: committee(),
            },
        ),
        NominationError::AlreadyVoted,
    )
    .await;
}

#[tokio::test]
async fn a_vote_without_a_majority_for_does_not_shortlist() {
    let history = History::aggregated()
        .step(by(
            member(1),
            NominationCommand::CastVote {
                in_favour: true,
                committee: committee(),
            },
        ))
        .step(by(
            member(2),
            NominationCommand::CastVote {
                in_favour: false,
                committee: committee(),
            },
        ))
        .step(by(
            member(3),
            NominationCommand::CastVote {
                in_favour: false,
                committee: committee(),
            },
        ))
        .step(by(
            office(),
            NominationCommand::TallyVote {
                committee: committee(),
            },
        ));
    assert_eq!(history.state().status, NominationStatus::NotShortlisted);
    assert_eq!(history.state().tally, Some((1, 2)));
}

/// A committee roster of `members` (`member-n`).
fn roster(members: &[u32]) -> BTreeSet<UserId> {
    members
        .iter()
        .map(|n| UserId::parse(format!("member-{n}")).unwrap())
        .collect()
}

#[tokio::test]
async fn only_members_of_the_programs_committee_roster_vote() {
    // member-6 holds the committee_member role but is not on this program's roster.
    refused(
        History::aggregated(),
        by(
            member(6),
            NominationCommand::CastVote {
                in_favour: true,
                committee: committee(),
            },
        ),
        NominationError::NotCommitteeMember,
    )
    .await;
    assert_eq!(
        NominationError::NotCommitteeMember.kind(),
        RefusalKind::Forbidden
    );
    assert_eq!(
        NominationError::NotCommitteeMember.code(),
        "not_committee_member"
    );
}

#[tokio::test]
async fn the_tally_counts_only_members_still_on_the_roster() {
    // Three members voted; the roster then dropped member-3 (and member-5): two counted votes
    // of a roster of three miss the quorum of three.
    let mut history = History::aggregated();
    for n in 1..=3 {
        history = history.step(by(
            member(n),
            NominationCommand::CastVote {
                in_favour: true,
                committee: committee(),
            },
        ));
    }
    refused(
        history,
        by(
            office(),
            NominationCommand::TallyVote {
                committee: roster(&[1, 2, 4]),
            },
        ),
        NominationError::QuorumNotReached { cast: 2, quorum: 3 },
    )
    .await;
}

#[tokio::test]
async fn the_quorum_is_over_the_roster_and_the_tally_records_it() {
    // A roster grown to seven (by a reasoned change) needs four votes, not the program's three.
    let big = roster(&[1, 2, 3, 4, 5, 6, 7]);
    let mut history = History::aggregated();
    for n in 1..=3 {
        history = history.step(by(
            member(n),
            NominationCommand::CastVote {
                in_favour: true,
                committee: big.clone(),
            },
        ));
    }
    refused(
        history.clone(),
        by(
            office(),
            NominationCommand::TallyVote {
                committee: big.clone(),
            },
        ),
        NominationError::QuorumNotReached { cast: 3, quorum: 4 },
    )
    .await;
    let events = recorded(
        history.step(by(
            member(7),
            NominationCommand::CastVote {
                in_favour: false,
                committee: big.clone(),
            },
        )),
        by(
            office(),
            NominationCommand::TallyVote {
                committee: big.clone(),
            },
        ),
    )
    .await;
    assert!(
        matches!(&events[0], NominationEvent::VoteTallied { votes_for: 3, votes_against: 1, quorum: 4, committee_size: 7, committee, passed: true, .. } if *committee == big),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_program_names_a_roster_of_its_committee_size() {
    let mut bad = terms();
    bad.committee = roster(&[1, 2, 3, 4]);
    let error = RewardProgram::default()
        .decide(by(
            office(),
            ProgramCommand::Create {
                program_id: program_id(),
                terms: bad,
            },
        ))
        .unwrap_err();
    assert_eq!(error.code(), "invalid_program_terms");
}

#[tokio::test]
async fn the_roster_changes_only_by_the_reward_office_with_a_reason_keeping_the_quorum_a_majority()
{
    let created = ProgramEvent::ProgramCreated {
        program_id: program_id(),
        terms: terms(),
        created_by: office().sub,
        created_at: monday(),
    };
    let change = |members: &[u32]| ProgramCommand::ChangeCommittee {
        members: roster(members),
        reason: LongText::parse("成员调整：member-5 调离").unwrap(),
    };
    TestFramework::<RewardProgram>::with(())
        .given(vec![created.clone()])
        .when_async(by(member(1), change(&[1, 2, 3, 4])))
        .await
        .then_expect_error(ProgramError::RoleNotAllowed {
            command: "change-committee",
        });
    // Six members with a quorum of three: the quorum would no longer be a majority.
    let mut program = RewardProgram::default();
    program.evolve(&created);
    assert_eq!(
        program
            .decide(by(office(), change(&[1, 2, 3, 4, 5, 6])))
            .unwrap_err()
            .code(),
        "invalid_program_terms"
    );
    TestFramework::<RewardProgram>::with(())
        .given(vec![created])
        .when_async(by(office(), change(&[1, 2, 3, 4])))
        .await
        .then_expect_events(vec![ProgramEvent::CommitteeChanged {
            members: roster(&[1, 2, 3, 4]),
            reason: "成员调整：member-5 调离".into(),
            changed_by: office().sub,
            changed_at: monday(),
        }]);
    let mut program = RewardProgram::default();
    program.evolve(&ProgramEvent::ProgramCreated {
        program_id: program_id(),
        terms: terms(),
        created_by: office().sub,
        created_at: monday(),
    });
    program.evolve(&ProgramEvent::CommitteeChanged {
        members: roster(&[1, 2, 3, 4]),
        reason: "调整".into(),
        changed_by: office().sub,
        changed_at: monday(),
    });
    let terms = program.terms.unwrap();
    assert_eq!(terms.committee, roster(&[1, 2, 3, 4]));
    assert_eq!(terms.committee_size, 4);
}

// ---------------------------------------------------------------------------------------------
// The public notice and objections

#[tokio::test]
async fn the_notice_ends_after_its_working_days_on_the_calendar() {
    let events = recorded(
        History::shortlisted(),
        by(
            office(),
            NominationCommand::StartNotice {
                calendar: calendar(),
            },
        ),
    )
    .await;
    let NominationEvent::NoticeStarted {
        starts_at,
        ends_at,
        working_days,
        ..
    } = &events[0]
    else {
        panic!()
    };
    assert_eq!(
        (*starts_at, *ends_at, *working_days),
        (monday(), notice_end(), 5)
    );
}

#[tokio::test]
async fn the_notice_starts_on_a_working_day() {
    let saturday = monday() - Duration::days(2);
    refused(
        History::shortlisted(),
        by_at(
            office(),
            saturday,
            NominationCommand::StartNotice {
                calendar: calendar(),
            },
        ),
        NominationError::NoticeStartNotWorkingDay,
    )
    .await;
}

#[tokio::test]
async fn an_anonymous_objection_is_logged_as_not_accepted() {
    let events = recorded(History::in_notice(), by(office(), objection(None, None))).await;
    let NominationEvent::ObjectionFiled {
        accepted,
        not_accepted_reason,
        ..
    } = &events[0]
    else {
        panic!()
    };
    assert!(!accepted);
    assert!(not_accepted_reason
        .as_deref()
        .unwrap()
        .starts_with("anonymous"));
    // A logged objection does not hold up approval.
    let history = History {
        events: [History::in_notice().events, events].concat(),
    }
    .step(by_at(
        office(),
        after_notice(),
        NominationCommand::CloseNotice,
    ));
    recorded(history, by_at(authority(), after_notice(), approve(0))).await;
}

#[tokio::test]
async fn objections_are_taken_only_while_the_notice_runs() {
    refused(
        History::shortlisted(),
        by(office(), objection(Some("王五"), Some("13900000000"))),
        NominationError::NoticeNotOpen,
    )
    .await;
    refused(
        History::in_notice(),
        by_at(
            office(),
            after_notice(),
            objection(Some("王五"), Some("wang@example.cn")),
        ),
        NominationError::NoticeNotOpen,
    )
    .await;
}

#[tokio::test]
async fn only_the_auditor_resolves_an_objection() {
    let history = History::in_notice().step(by(
        office(),
        objection(Some("王五"), Some("wang@example.cn")),
    ));
    let resolve = NominationCommand::ResolveObjection {
        objection_id: ObjectionId::parse("0195f000-0000-7000-8000-0000000000b1").unwrap(),
        upheld: false,
        finding: text("经核查，申报材料属实"),
    };
    refused(
        history.clone(),
        by(office(), resolve.clone()),
        NominationError::RoleNotAllowed {
            command: "resolve-objection",
        },
    )
    .await;
    recorded(history, by(auditor(), resolve)).await;
}

// ---------------------------------------------------------------------------------------------
// Approval

#[tokio::test]
async fn no_approval_during_the_notice_period() {
    let error = NominationError::NoticePeriodRunning(notice_end().to_rfc3339());
    refused(
        History::in_notice(),
        by(authority(), approve(0)),
        error.clone(),
    )
    .await;
    refused(
        History::in_notice(),
        by(office(), NominationCommand::CloseNotice),
        error,
    )
    .await;
}

#[tokio::test]
async fn an_approval_after_the_notice_ended_but_before_it_is_closed_says_it_is_not_closed() {
    let error = NominationError::NoticeNotClosed(notice_end().to_rfc3339());
    assert_eq!(error.code(), "notice_not_closed");
    refused(
        History::in_notice(),
        by_at(authority(), after_notice(), approve(0)),
        error.clone(),
    )
    .await;
    // Exactly at the end the notice is over too (closing is allowed from that instant).
    refused(
        History::in_notice(),
        by_at(authority(), notice_end(), approve(0)),
        error,
    )
    .await;
}

#[tokio::test]
async fn no_approval_with_an_unresolved_objection() {
    let history = History::in_notice()
        .step(by(
            office(),
            objection(Some("王五"), Some("wang@example.cn")),
        ))
        .step(by_at(
            office(),
            after_notice(),
            NominationCommand::CloseNotice,
        ));
    refused(
        history,
        by_at(authority(), after_notice(), approve(0)),
        NominationError::UnresolvedObjection,
    )
    .await;
}

#[tokio::test]
async fn no_approval_after_an_upheld_objection() {
    let history = History::in_notice()
        .step(by(
            office(),
            objection(Some("王五"), Some("wang@example.cn")),
        ))
        .step(by(
            auditor(),
            NominationCommand::ResolveObjection {
                objection_id: ObjectionId::parse("0195f000-0000-7000-8000-0000000000b1").unwrap(),
                upheld: true,
                finding: text("成果为团队完成，申报夸大个人作用"),
            },
        ))
        .step(by_at(
            office(),
            after_notice(),
            NominationCommand::CloseNotice,
        ));
    refused(
        history,
        by_at(authority(), after_notice(), approve(0)),
        NominationError::ObjectionUpheld,
    )
    .await;
}

#[tokio::test]
async fn the_quota_is_not_exceeded() {
    refused(
        History::notice_closed(),
        by_at(authority(), after_notice(), approve(2)),
        NominationError::QuotaExceeded { quota: 2 },
    )
    .await;
}

#[tokio::test]
async fn the_amount_lies_within_the_tier() {
    let NominationCommand::Approve {
        decision_number,
        reason,
        ..
    } = approve(0)
    else {
        unreachable!()
    };
    let command = NominationCommand::Approve {
        decision_number,
        tier: "second".into(),
        amount: 100_000,
        reason,
        awards_in_program: 0,
    };
    refused(
        History::notice_closed(),
        by_at(authority(), after_notice(), command),
        NominationError::AmountOutsideTier {
            min: 50_000,
            max: 80_000,
        },
    )
    .await;
}

#[tokio::test]
async fn only_the_approving_authority_approves() {
    refused(
        History::notice_closed(),
        by_at(office(), after_notice(), approve(0)),
        NominationError::RoleNotAllowed { command: "approve" },
    )
    .await;
}

#[tokio::test]
async fn only_the_original_approving_authority_revokes() {
    let revoke = NominationCommand::Revoke {
        decision_number: label("区政〔2026〕21号"),
        grounds: text("经查获奖成果存在数据造假"),
    };
    refused(
        History::approved(),
        by(other_authority(), revoke.clone()),
        NominationError::NotOriginalAuthority,
    )
    .await;
    assert_eq!(
        NominationError::NotOriginalAuthority.kind(),
        RefusalKind::Forbidden
    );
    let events = recorded(History::approved(), by(authority(), revoke)).await;
    assert_eq!(events[0].name(), "AwardRevoked");
}

#[tokio::test]
async fn an_approved_nomination_can_no_longer_be_withdrawn_only_revoked() {
    refused(
        History::approved(),
        by(
            office(),
            NominationCommand::Withdraw {
                reason: text("申报单位撤回"),
            },
        ),
        invalid("withdraw", "approved"),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The audit

fn recorded_history(history: &History) -> Vec<Recorded<NominationEvent>> {
    history
        .events
        .iter()
        .enumerate()
        .map(|(i, event)| Recorded {
            sequence: i as i64 + 1,
            position: i as i64 + 10,
            at: monday(),
            actor: "someone".into(),
            roles: vec![],
            event: event.clone(),
        })
        .collect()
}

fn program_history() -> Vec<Recorded<ProgramEvent>> {
    vec![
        Recorded {
            sequence: 1,
            position: 1,
            at: monday() - Duration::days(30),
            actor: "ro-chen".into(),
            roles: vec!["reward_office".into()],
            event: ProgramEvent::ProgramCreated {
                program_id: program_id(),
                terms: terms(),
                created_by: office().sub,
                created_at: monday() - Duration::days(30),
            },
        },
        Recorded {
            sequence: 2,
            position: 2,
            at: monday() - Duration::days(29),
            actor: "mayor-li".into(),
            roles: vec!["approving_authority".into()],
            event: ProgramEvent::ProgramApproved {
                document_number: "区委〔2026〕8号".into(),
                approved_by: authority().sub,
                approved_at: monday() - Duration::days(29),
            },
        },
    ]
}

#[test]
fn the_audit_of_a_clean_history_flags_nothing() {
    let history = History::approved();
    let audit = audit_program(
        &program_id().to_string(),
        &program_history(),
        &[("n1".into(), recorded_history(&history))],
    );
    assert_eq!(audit.flag_count, 0, "{:#?}", audit.flags);
    let nomination = &audit.nominations[0];
    assert_eq!(nomination.status, "approved");
    assert_eq!(nomination.draw_reproducible, Some(true));
    assert!(nomination.aggregations[0].matches);
}

#[test]
fn the_audit_recomputes_the_aggregation_and_flags_a_changed_score() {
    let mut history = History::approved();
    for event in &mut history.events {
        if let NominationEvent::ScoresSubmitted { scores, .. } = event {
            scores.get_mut("contribution").unwrap().score = 99;
            break;
        }
    }
    let audit = audit_program(
        "p",
        &program_history(),
        &[("n1".into(), recorded_history(&history))],
    );
    let codes: Vec<&str> = audit.nominations[0]
        .flags
        .iter()
        .map(|f| f.code.as_str())
        .collect();
    assert_eq!(codes, ["recomputation_mismatch"]);
}

#[test]
fn the_audit_flags_an_approval_inside_the_notice_window_and_an_amount_outside_the_tier() {
    let mut history = History::approved();
    for event in &mut history.events {
        if let NominationEvent::NominationApproved {
            approved_at,
            amount,
            ..
        } = event
        {
            *approved_at = monday() + Duration::days(1);
            *amount = 999_999;
        }
    }
    let audit = audit_program(
        "p",
        &program_history(),
        &[("n1".into(), recorded_history(&history))],
    );
    let codes: BTreeSet<&str> = audit.nominations[0]
        .flags
        .iter()
        .map(|f| f.code.as_str())
        .collect();
    assert_eq!(
        codes,
        ["amount_outside_tier", "approval_inside_notice_window"].into()
    );
}

#[test]
fn the_audit_flags_a_conflicted_scorer_and_a_missing_reason() {
    let mut history = History::drawn();
    let recused = history.panel()[0].clone();
    history = history.step(by(
        office(),
        NominationCommand::RecuseReviewer {
            expert_id: id(&recused),
            reason: text("利害关系"),
        },
    ));
    // A score sheet by the recused reviewer, as if written around the rules.
    history.events.push(NominationEvent::ScoresSubmitted {
        expert_id: id(&recused),
        scores: BTreeMap::from([(
            "contribution".to_owned(),
            CriterionScore {
                score: 50,
                comment: None,
            },
        )]),
        submitted_at: monday(),
    });
    history
        .events
        .push(NominationEvent::NominationDisqualified {
            grounds: " ".into(),
            disqualified_by: office().sub,
            disqualified_at: monday(),
        });
    let audit = audit_program(
        "p",
        &program_history(),
        &[("n1".into(), recorded_history(&history))],
    );
    let codes: Vec<&str> = audit.nominations[0]
        .flags
        .iter()
        .map(|f| f.code.as_str())
        .collect();
    assert_eq!(codes, ["conflicted_scorer", "missing_reason"]);
}

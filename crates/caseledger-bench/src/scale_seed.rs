//! The district of `--scale`: ten years of a large district's work, generated straight into the
//! events table with the domain's own event types (serialised as the server serialises them),
//! server-like metadata and per-stream chained hashes (`seed::hashed_stream`), so the aggregates,
//! the projections and `caseledger audit verify` read them like any other events.
//!
//! At factor 1.0: 50 departments, 5,000 subjects (enterprises and talents, some with a changed
//! contact), 70 liaison portfolios (one per department, twenty leaders) with every subject
//! assigned and visited quarterly, 1,000,000 cases over ten years (most closed after a full
//! lifecycle, the last weeks' still open, a few stuck open and overdue), and 40 quarterly
//! appraisal campaigns with ballots, closed and waiting to be computed. Counts of subjects,
//! cases and ballots scale with the factor; departments, portfolios and campaigns do not.
//! Generation is deterministic (a counter-based mixer, no RNG state), apart from the case and
//! campaign ids (UUIDv7, as the server makes them).
//!
//! Events are generated on a thread of their own and written by the caller in large
//! transactions (`seed::insert`), so hashing and serialising overlap the database's work.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{anyhow, bail, Context, Result};
use caseledger_domain::appraisal::{
    AppraisalCampaign, AppraisalEvent, CampaignDefinition, Dimension, GradeRule, RaterGroup,
};
use caseledger_domain::case::{
    CaseEvent, CaseSource, ContactChannel, EnterpriseCase, Resolution, Satisfaction, Urgency,
};
use caseledger_domain::kpi::KpiPeriod;
use caseledger_domain::portfolio::{
    LiaisonPortfolio, PortfolioEvent, PortfolioOwner, VisitObligation,
};
use caseledger_domain::subject::{ContactRecord, Subject, SubjectEvent, SubjectKind};
use caseledger_domain::{
    AppraisalId, CaseId, DepartmentId, LeaderId, PortfolioId, Role, SubjectId, UserId, VisitId,
};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use cqrs_es::Aggregate;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::seed::{hashed_stream, metadata, EventRow};

/// Departments of the generated district.
pub const DEPARTMENTS: usize = 50;
/// District leaders who own a liaison portfolio.
const LEADERS: usize = 20;
/// Handlers per department.
const HANDLERS_PER_DEPARTMENT: usize = 4;
/// Dispatchers of the business-environment office.
const DISPATCHERS: usize = 8;
/// Liaison officers who register cases.
const LIAISON_OFFICERS: usize = 20;
/// Quarterly appraisal campaigns over the decade.
const CAMPAIGNS: usize = 40;
/// Days in the decade.
const DECADE_DAYS: i64 = 3_652;
/// Rows handed to the writer at a time (one transaction each).
pub const BATCH_ROWS: usize = 20_000;
/// A dispatcher who acts rarely: one case in this many is closed by them (the audit listing's
/// rare actor, whose page is found only by a long scan).
const RARE_ACTOR_EVERY: u64 = 100_000;

/// How big the district is.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Layout {
    /// The scale factor (1.0 = the decade).
    pub factor: f64,
    /// Cases.
    pub cases: u64,
    /// Subjects (enterprises and talents).
    pub subjects: u64,
    /// Visits per subject over the decade (quarterly).
    pub visits_per_subject: u64,
    /// Ballots per department, rater group and campaign.
    pub raters_per_group: u64,
}

impl Layout {
    /// The district at `factor` (1.0: 1,000,000 cases and 5,000 subjects).
    pub fn new(factor: f64) -> Self {
        let scaled = |n: f64, min: u64| ((n * factor).round() as u64).max(min);
        Layout {
            factor,
            cases: scaled(1_000_000.0, 100),
            subjects: scaled(5_000.0, 70),
            visits_per_subject: 40,
            raters_per_group: scaled(20.0, 2),
        }
    }
}

/// What was generated, and the ids the reads use.
#[derive(Debug, Default, Serialize)]
pub struct Generated {
    /// Events per aggregate type.
    pub events_by_type: BTreeMap<&'static str, u64>,
    /// Every event.
    pub events: u64,
    /// Cases still open at the end of the decade.
    pub open_cases: u64,
    /// Of those, stuck with a passed response deadline.
    pub overdue_cases: u64,
    /// Sample case ids (spread over the decade).
    #[serde(skip)]
    pub sample_cases: Vec<String>,
    /// Sample (case number, verifier code) pairs for the public lookup.
    #[serde(skip)]
    pub sample_lookups: Vec<(String, String)>,
    /// The campaign ids, oldest first.
    #[serde(skip)]
    pub campaigns: Vec<String>,
}

/// The department id of index `d` (0-based).
pub fn department(d: usize) -> String {
    format!("dept-{:02}", d + 1)
}

/// The first handler of department `d` (0-based).
pub fn handler(d: usize) -> String {
    format!("handler-{:02}-1", d + 1)
}

/// The dispatcher who acts rarely (see `RARE_ACTOR_EVERY`).
pub const RARE_ACTOR: &str = "dispatcher-night";

/// Whether department `d` is an administrative law-enforcement department (appraised).
fn law_enforcement(d: usize) -> bool {
    d % 2 == 0
}

/// `departments.toml` for the generated district, in the format of `config/departments.toml`.
pub fn departments_toml() -> String {
    let mut text = String::from("# The generated district of caseledger-bench --scale.\n");
    for d in 0..DEPARTMENTS {
        let _ = write!(
            text,
            "\n[[department]]\nid = \"{}\"\nname = \"区第{}局\"\nname_en = \"District Bureau {}\"\nlaw_enforcement = {}\n",
            department(d),
            d + 1,
            d + 1,
            law_enforcement(d)
        );
    }
    text
}

/// A counter-based mixer (SplitMix64's finaliser): the `n`th number of stream `seed`.
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(n)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn user(name: &str) -> Result<UserId> {
    UserId::parse(name).ok_or_else(|| anyhow!("invalid user id {name:?}"))
}

fn department_id(d: usize) -> Result<DepartmentId> {
    DepartmentId::parse(department(d)).context("department id")
}

fn subject_id(s: u64) -> String {
    if s % 10 == 0 {
        format!("tal-{s:05}")
    } else {
        format!("ent-{s:05}")
    }
}

/// Collects events of one stream, serialised, then hashes them into rows.
struct Stream {
    aggregate_type: &'static str,
    aggregate_id: String,
    events: Vec<(&'static str, Value, Value)>,
}

impl Stream {
    fn new(aggregate_type: &'static str, aggregate_id: String) -> Self {
        Stream {
            aggregate_type,
            aggregate_id,
            events: Vec::new(),
        }
    }

    fn push(&mut self, name: &'static str, event: &impl Serialize, metadata: Value) -> Result<()> {
        let payload = serde_json::to_value(event).context("serialising an event")?;
        self.events.push((name, payload, metadata));
        Ok(())
    }

    fn rows(self) -> Vec<EventRow> {
        hashed_stream(self.aggregate_type, &self.aggregate_id, self.events)
    }
}

/// Hands rows to the writer in batches of `BATCH_ROWS`.
struct Output<'a> {
    pending: Vec<EventRow>,
    send: &'a mut dyn FnMut(Vec<EventRow>) -> Result<()>,
    generated: Generated,
}

impl Output<'_> {
    fn stream(&mut self, stream: Stream) -> Result<()> {
        let kind = stream.aggregate_type;
        let mut rows = stream.rows();
        *self.generated.events_by_type.entry(kind).or_default() += rows.len() as u64;
        self.generated.events += rows.len() as u64;
        self.pending.append(&mut rows);
        if self.pending.len() >= BATCH_ROWS {
            let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH_ROWS + 64));
            (self.send)(batch)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Generated> {
        if !self.pending.is_empty() {
            let batch = std::mem::take(&mut self.pending);
            (self.send)(batch)?;
        }
        Ok(self.generated)
    }
}

/// Generates the district ending at `now`, handing each batch of rows to `send` in the order
/// they are to be stored: subjects, portfolios, cases (by registration time), campaigns.
pub fn generate(
    layout: &Layout,
    now: DateTime<Utc>,
    send: &mut dyn FnMut(Vec<EventRow>) -> Result<()>,
) -> Result<Generated> {
    let start = now - Duration::days(DECADE_DAYS);
    let mut output = Output {
        pending: Vec::with_capacity(BATCH_ROWS + 64),
        send,
        generated: Generated::default(),
    };
    subjects(layout, start, &mut output)?;
    portfolios(layout, start, now, &mut output)?;
    let sample_every = (layout.cases / 200).max(1);
    for i in 0..layout.cases {
        let stream = case(layout, i, start, now, &mut output.generated, sample_every)?;
        output.stream(stream)?;
    }
    campaigns(layout, now, &mut output)?;
    output.finish()
}

fn subjects(layout: &Layout, start: DateTime<Utc>, output: &mut Output<'_>) -> Result<()> {
    for s in 0..layout.subjects {
        let id = subject_id(s);
        let talent = s % 10 == 0;
        let at = start + Duration::minutes(s as i64);
        let kind = if talent {
            SubjectKind::Talent
        } else {
            [
                SubjectKind::PrivateEnterprise,
                SubjectKind::PrivateEnterprise,
                SubjectKind::LargeEnterprise,
                SubjectKind::StateOwnedEnterprise,
                SubjectKind::Institute,
                SubjectKind::University,
            ][(mix(1, s) % 6) as usize]
        };
        let contact = |n: u64| ContactRecord {
            person: Some(format!("联系人{n}")),
            phone: Some(format!("1380000{:04}", n % 10_000)),
            email: Some(format!("contact{n}@example.cn")),
            personal_details: talent.then(|| "材料科学，教授级高级工程师".to_owned()),
        };
        let mut stream = Stream::new(Subject::TYPE, id.clone());
        let registered = SubjectEvent::SubjectRegistered {
            subject_id: SubjectId::parse(id.as_str()).context("subject id")?,
            name: if talent {
                format!("人才{s:05}")
            } else {
                format!("企业{s:05}有限公司")
            },
            kind,
            industry: Some(["制造业", "软件", "生物医药", "新材料"][(s % 4) as usize].into()),
            district_area: Some(format!("片区{}", s % 8 + 1)),
            street: Some(format!("街道{}", s % 20 + 1)),
            contact: contact(s),
            registered_by: user("liaison-1")?,
            registered_at: at,
        };
        stream.push(
            registered.name(),
            &registered,
            metadata("liaison-1", "liaison_officer", None, at),
        )?;
        if s % 3 == 0 {
            let later = at + Duration::days(400 + (mix(2, s) % 2_000) as i64);
            let updated = SubjectEvent::SubjectContactUpdated {
                contact: contact(s + 50_000),
                updated_by: user("liaison-2")?,
                updated_at: later,
            };
            stream.push(
                updated.name(),
                &updated,
                metadata("liaison-2", "liaison_officer", None, later),
            )?;
        }
        output.stream(stream)?;
    }
    Ok(())
}

fn portfolios(
    layout: &Layout,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    output: &mut Output<'_>,
) -> Result<()> {
    let owners = DEPARTMENTS + LEADERS;
    for p in 0..owners {
        let (owner, owner_name, actor, roles, org) = if p < DEPARTMENTS {
            let department = department(p);
            (
                PortfolioOwner::Department {
                    department_id: department_id(p)?,
                },
                format!("区第{}局", p + 1),
                format!("head-{:02}", p + 1),
                "department_head",
                Some(department),
            )
        } else {
            let leader = format!("leader-{:02}", p - DEPARTMENTS + 1);
            (
                PortfolioOwner::Leader {
                    user_id: LeaderId::parse(leader.as_str()).context("leader id")?,
                },
                format!("区领导{:02}", p - DEPARTMENTS + 1),
                leader,
                "district_leader",
                None,
            )
        };
        let portfolio_id = match &owner {
            PortfolioOwner::Department { department_id } => {
                PortfolioId::of_department(department_id)
            }
            PortfolioOwner::Leader { user_id } => PortfolioId::of_leader(user_id),
        };
        let meta = |at| metadata(&actor, roles, org.as_deref(), at);
        let mut stream = Stream::new(LiaisonPortfolio::TYPE, portfolio_id.to_string());
        let created = PortfolioEvent::PortfolioCreated {
            portfolio_id: portfolio_id.clone(),
            owner,
            owner_name,
            created_by: user("admin-1")?,
            created_at: start,
        };
        stream.push(
            created.name(),
            &created,
            metadata("admin-1", "admin", None, start),
        )?;
        let members: Vec<u64> = (p as u64..layout.subjects).step_by(owners).collect();
        for &s in &members {
            let at = start + Duration::hours(1);
            let assigned = PortfolioEvent::SubjectAssigned {
                subject_id: SubjectId::parse(subject_id(s)).context("subject id")?,
                obligation: VisitObligation::Quarterly,
                assigned_on: at.date_naive(),
                assigned_by: user("admin-1")?,
                assigned_at: at,
            };
            stream.push(
                assigned.name(),
                &assigned,
                metadata("admin-1", "admin", None, at),
            )?;
        }
        // Visits quarter by quarter, every member once a quarter, while the quarter has begun.
        for quarter in 0..layout.visits_per_subject as i64 {
            for &s in &members {
                let at = start + Duration::days(quarter * 91 + (mix(3, s) % 80) as i64);
                if at > now {
                    continue;
                }
                let visit = PortfolioEvent::VisitRecorded {
                    visit_id: VisitId::from_uuid(uuid::Uuid::now_v7()),
                    subject_id: SubjectId::parse(subject_id(s)).context("subject id")?,
                    visited_on: at.date_naive(),
                    participants: vec![actor.clone()],
                    learned: "了解企业生产经营情况，企业反映融资和用工方面的困难。".into(),
                    case_ids: Vec::new(),
                    recorded_by: user(&actor)?,
                    recorded_at: at,
                };
                stream.push(visit.name(), &visit, meta(at))?;
            }
        }
        output.stream(stream)?;
    }
    Ok(())
}

/// One case: registered at a time spread evenly over the decade. Closed after a full
/// lifecycle of ten events unless it is recent (then as far as it got by `now`) or one of the
/// few left stuck after acceptance (overdue).
fn case(
    layout: &Layout,
    i: u64,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    generated: &mut Generated,
    sample_every: u64,
) -> Result<Stream> {
    let r = |n: u64| mix(i, n);
    let span_seconds = DECADE_DAYS * 86_400;
    let at = start
        + Duration::seconds((i as i128 * span_seconds as i128 / layout.cases as i128) as i64)
        + Duration::seconds((r(0) % 600) as i64);
    let d = (r(1) % DEPARTMENTS as u64) as usize;
    let lead = department_id(d)?;
    let org = department(d);
    let handler = format!(
        "handler-{:02}-{}",
        d + 1,
        r(2) % HANDLERS_PER_DEPARTMENT as u64 + 1
    );
    let dispatcher = format!("dispatcher-{}", r(3) % DISPATCHERS as u64 + 1);
    let liaison = format!("liaison-{}", r(4) % LIAISON_OFFICERS as u64 + 1);
    let subject = subject_id(r(5) % layout.subjects);
    let representative = format!("rep-{subject}");
    let case_id = CaseId::from_uuid(uuid::Uuid::now_v7());
    let cst = chrono::FixedOffset::east_opt(8 * 3600).context("offset")?;
    let case_number = format!(
        "C{}-{:06}",
        at.with_timezone(&cst).format("%Y%m%d"),
        i % 1_000_000
    );
    let verifier = format!("V{:010X}", r(6) & 0xFF_FFFF_FFFF);
    let verifier_sha256 = hex::encode(Sha256::digest(verifier.as_bytes()));
    if i % sample_every == 0 {
        generated.sample_cases.push(case_id.to_string());
        generated
            .sample_lookups
            .push((case_number.clone(), verifier.clone()));
    }

    let hours = Duration::hours;
    let accepted_at = at + hours(2 + (r(7) % 40) as i64);
    let responded_at = at + hours(72 + (r(8) % (18 * 24)) as i64);
    let stuck = r(9) % 500 == 0;
    let handler_meta = |t| metadata(&handler, "department_handler", Some(&org), t);
    let dispatcher_meta = |t| metadata(&dispatcher, "dispatcher", None, t);
    let mut events: Vec<(CaseEvent, Value)> = vec![
        (
            CaseEvent::CaseRegistered {
                case_id,
                enterprise_id: SubjectId::parse(subject.as_str()).context("subject id")?,
                title: "贷款贴息兑现慢".into(),
                description: "企业反映贴息资金迟迟未到账，影响下一季度的设备采购计划。".into(),
                category: ["financing", "permits", "land", "talent", "other"][(r(10) % 5) as usize]
                    .into(),
                urgency: if r(11) % 20 == 0 {
                    Urgency::Urgent
                } else {
                    Urgency::Normal
                },
                source: [
                    CaseSource::LiaisonVisit,
                    CaseSource::LeaderVisit,
                    CaseSource::Hotline,
                    CaseSource::Platform,
                    CaseSource::Letter,
                ][(r(12) % 5) as usize],
                registered_by: user(&liaison)?,
                registered_at: at,
                case_number: Some(case_number),
                verifier_sha256: Some(verifier_sha256),
            },
            metadata(&liaison, "liaison_officer", None, at),
        ),
        (
            CaseEvent::CaseDispatched {
                lead_department: lead.clone(),
                co_departments: if r(13) % 4 == 0 {
                    vec![department_id((d + 1) % DEPARTMENTS)?]
                } else {
                    Vec::new()
                },
                note: None,
                sla_policy_version: "scale".into(),
                accept_due: at + hours(24),
                respond_due: at + hours(15 * 24),
                dispatched_by: user(&dispatcher)?,
                dispatched_at: at + hours(1),
                first_contact_due: None,
                resolve_due: None,
                sla_rule: None,
            },
            dispatcher_meta(at + hours(1)),
        ),
        (
            CaseEvent::CaseAccepted {
                department: lead.clone(),
                accepted_by: user(&handler)?,
                accepted_at,
            },
            handler_meta(accepted_at),
        ),
        (
            CaseEvent::ContactLogged {
                department: lead.clone(),
                channel: [
                    ContactChannel::Phone,
                    ContactChannel::Visit,
                    ContactChannel::Meeting,
                    ContactChannel::Online,
                ][(r(14) % 4) as usize],
                summary: "已电话联系企业，了解具体情况。".into(),
                first: true,
                contacted_by: user(&handler)?,
                contacted_at: accepted_at + hours(3),
            },
            handler_meta(accepted_at + hours(3)),
        ),
    ];
    for note in 1..=2 {
        let t = accepted_at + hours(12 * note);
        events.push((
            CaseEvent::InternalNoteAdded {
                text: format!("第{note}次跟进：财政局正在走拨付流程。"),
                author: user(&dispatcher)?,
                author_org: None,
                added_at: t,
            },
            dispatcher_meta(t),
        ));
    }
    let posted_at = accepted_at + hours(36);
    events.push((
        CaseEvent::PublicUpdatePosted {
            department: lead.clone(),
            text: "已受理，正在协调相关部门办理。".into(),
            posted_by: user(&handler)?,
            posted_at,
        },
        handler_meta(posted_at),
    ));
    if !stuck {
        let responded_at = responded_at.max(posted_at + hours(1));
        let rated_at = responded_at + hours(30);
        let closed_at = rated_at + hours(20);
        let closer = if i % RARE_ACTOR_EVERY == 7 {
            RARE_ACTOR.to_owned()
        } else {
            dispatcher.clone()
        };
        events.push((
            CaseEvent::CaseResponded {
                department: lead,
                resolution: if r(15) % 5 == 0 {
                    Resolution::PartiallyResolved
                } else {
                    Resolution::Resolved
                },
                text: "已协调财政局完成拨付。".into(),
                basis: None,
                responded_by: user(&handler)?,
                responded_at,
                evidence: Vec::new(),
            },
            handler_meta(responded_at),
        ));
        events.push((
            CaseEvent::CaseRated {
                satisfaction: Satisfaction::new(3 + (r(16) % 3) as u8).context("satisfaction")?,
                resolved: r(17) % 10 != 0,
                comment: None,
                rated_by: user(&representative)?,
                rated_as: Role::Enterprise,
                rated_at,
            },
            metadata(&representative, "enterprise", Some(&subject), rated_at),
        ));
        events.push((
            CaseEvent::CaseClosed {
                closed_by: user(&closer)?,
                closed_at,
            },
            metadata(&closer, "dispatcher", None, closed_at),
        ));
    }
    // Only what had happened by now.
    events.retain(|(event, _)| event.at() <= now);
    let closed = events
        .last()
        .is_some_and(|(event, _)| matches!(event, CaseEvent::CaseClosed { .. }));
    if !closed {
        generated.open_cases += 1;
        if now > at + hours(15 * 24) {
            generated.overdue_cases += 1;
        }
    }
    let mut stream = Stream::new(EnterpriseCase::TYPE, case_id.to_string());
    for (event, meta) in events {
        stream.push(event.name(), &event, meta)?;
    }
    Ok(stream)
}

/// The campaign definition of one quarter: the law-enforcement departments, two rater groups,
/// five dimensions, the default grades, KPI weight 40%.
fn definition(period: KpiPeriod) -> Result<CampaignDefinition> {
    let group = |id: &str, name: &str, name_en: &str, weight, roles| RaterGroup {
        id: id.into(),
        name: name.into(),
        name_en: name_en.into(),
        weight,
        roles,
    };
    let dimension = |id: &str, name: &str, name_en: &str| Dimension {
        id: id.into(),
        name: name.into(),
        name_en: name_en.into(),
    };
    let definition = CampaignDefinition {
        title: format!("{} 行政执法部门公开评议", period.label()),
        title_en: format!("{} public appraisal", period.label()),
        period,
        departments: (0..DEPARTMENTS)
            .filter(|&d| law_enforcement(d))
            .map(department_id)
            .collect::<Result<_>>()?,
        rater_groups: vec![
            group(
                "enterprises",
                "企业",
                "Enterprises",
                60,
                vec![Role::Enterprise],
            ),
            group(
                "officials",
                "人大代表和政协委员",
                "Deputies and members",
                40,
                vec![Role::DistrictLeader],
            ),
        ],
        dimensions: vec![
            dimension("lawful", "依法行政", "Lawful administration"),
            dimension("fair", "公正执法", "Fair enforcement"),
            dimension("civil", "文明执法", "Civil enforcement"),
            dimension("transparent", "政务公开", "Transparency"),
            dimension("integrity", "廉洁自律", "Integrity"),
        ],
        grades: GradeRule::default(),
        kpi_weight: 40,
    };
    let problems = definition.problems();
    if !problems.is_empty() {
        bail!("the generated campaign definition is invalid: {problems:?}");
    }
    Ok(definition)
}

/// Forty quarterly campaigns, for the forty quarters before the current one: created three
/// days after the quarter, ballots over the next three weeks, closed after 25 days.
fn campaigns(layout: &Layout, now: DateTime<Utc>, output: &mut Output<'_>) -> Result<()> {
    let current_quarter_start =
        NaiveDate::from_ymd_opt(now.year(), (now.month() - 1) / 3 * 3 + 1, 1)
            .context("quarter start")?;
    for c in 0..CAMPAIGNS {
        let back = (CAMPAIGNS - c) as u32;
        let first = current_quarter_start
            .checked_sub_months(chrono::Months::new(3 * back))
            .context("quarter")?;
        let period = KpiPeriod::parse(&format!(
            "{}-Q{}",
            first.year(),
            (first.month() - 1) / 3 + 1
        ))
        .context("period")?;
        let quarter_end = first
            .checked_add_months(chrono::Months::new(3))
            .context("quarter end")?
            .and_hms_opt(2, 0, 0)
            .context("time")?
            .and_utc();
        let definition = definition(period)?;
        let campaign_id = AppraisalId::from_uuid(uuid::Uuid::now_v7());
        output.generated.campaigns.push(campaign_id.to_string());
        let organiser = "dispatcher-1";
        let meta = |t| metadata(organiser, "dispatcher", None, t);
        let mut stream = Stream::new(AppraisalCampaign::TYPE, campaign_id.to_string());
        let created_at = quarter_end + Duration::days(3);
        let departments = definition.departments.clone();
        let groups = definition.rater_groups.clone();
        let dimensions: Vec<String> = definition.dimensions.iter().map(|d| d.id.clone()).collect();
        let created = AppraisalEvent::CampaignCreated {
            campaign_id,
            definition,
            created_by: user(organiser)?,
            created_at,
        };
        stream.push(created.name(), &created, meta(created_at))?;
        let opened_at = created_at + Duration::days(1);
        let opened = AppraisalEvent::CampaignOpened {
            opened_by: user(organiser)?,
            opened_at,
        };
        stream.push(opened.name(), &opened, meta(opened_at))?;
        let mut n = 0u64;
        for department in &departments {
            for group in &groups {
                for k in 0..layout.raters_per_group {
                    n += 1;
                    let x = mix(c as u64 * 1_000_003 + n, 0);
                    let cast_at = opened_at + Duration::minutes((x % (20 * 24 * 60)) as i64);
                    let scores = dimensions
                        .iter()
                        .enumerate()
                        .map(|(j, dimension)| {
                            let y = mix(x, j as u64);
                            let score = (y % 20 != 0).then_some(60 + (y % 41) as u8);
                            (dimension.clone(), score)
                        })
                        .collect();
                    let (rater, role, org) = if group.id == "enterprises" {
                        let subject = subject_id((x >> 8) % layout.subjects);
                        (format!("rep-{subject}"), "enterprise", Some(subject))
                    } else {
                        (format!("deputy-{k}"), "district_leader", None)
                    };
                    let ballot = AppraisalEvent::BallotCast {
                        rater_key: format!("{:016x}", mix(x, 99)),
                        rater_group: group.id.clone(),
                        department: department.clone(),
                        scores,
                        comment: (x % 7 == 0).then(|| "执法规范，态度较好。".to_owned()),
                        cast_at,
                    };
                    stream.push(
                        ballot.name(),
                        &ballot,
                        metadata(&rater, role, org.as_deref(), cast_at),
                    )?;
                }
            }
        }
        let closed_at = opened_at + Duration::days(25);
        let closed = AppraisalEvent::CampaignClosed {
            closed_by: user(organiser)?,
            closed_at,
        };
        stream.push(closed.name(), &closed, meta(closed_at))?;
        output.stream(stream)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_district_has_every_kind_of_stream_and_case_payloads_read_back() {
        let layout = Layout::new(0.001);
        let now = Utc::now();
        let mut rows = Vec::new();
        let generated = generate(&layout, now, &mut |mut batch| {
            rows.append(&mut batch);
            Ok(())
        })
        .unwrap();
        assert_eq!(generated.events, rows.len() as u64);
        for kind in [
            EnterpriseCase::TYPE,
            Subject::TYPE,
            LiaisonPortfolio::TYPE,
            AppraisalCampaign::TYPE,
        ] {
            assert!(
                generated.events_by_type.get(kind).copied().unwrap_or(0) > 0,
                "{kind}"
            );
        }
        assert_eq!(generated.campaigns.len(), CAMPAIGNS);
        assert!(generated.open_cases > 0);
        // Every case payload reads back as a domain event.
        for row in rows
            .iter()
            .filter(|row| row.aggregate_type() == EnterpriseCase::TYPE)
        {
            let _: CaseEvent = serde_json::from_value(row.payload().clone()).unwrap();
        }
    }

    #[test]
    fn departments_toml_lists_fifty_departments() {
        assert_eq!(
            departments_toml().matches("[[department]]").count(),
            DEPARTMENTS
        );
    }
}

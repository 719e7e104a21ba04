//! The reward decision audit: for a program and each of its nominations, everything that
//! happened in order, the aggregation recomputed from the recorded score sheets and compared to
//! the recorded result, the reviewer draw re-run from its recorded inputs, and anomaly flags.
//!
//! A pure function of recorded events ([`audit_program`]): the store reads them from the
//! events table (never a view), so an edited view cannot hide anything and an edited event
//! shows as a recomputation mismatch (and, separately, breaks the hash chain that
//! `caseledger audit verify` checks).
//!
//! The audit never contains an objection filer's identity, a nominee's ID number or phone: it
//! states which objections were filed, accepted, upheld or dismissed, and why.
//!
//! Flags (docs/DECISIONS.md, "Rewards"): `approval_inside_notice_window`,
//! `unresolved_objection_at_approval`, `upheld_objection_at_approval`, `conflicted_scorer`,
//! `missing_reason`, `amount_outside_tier`, `recomputation_mismatch`, `draw_not_reproducible`,
//! `quota_exceeded`, `program_not_approved`, `revoked_by_other_authority`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::nomination::NominationEvent;
use super::program::ProgramEvent;
use super::{aggregate_scores, format_hundredths, AggregationResult, CriterionScore, ProgramTerms};
use crate::consultation::draw;
use crate::ids::ExpertId;

/// One event as recorded, with who caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded<E> {
    /// Its sequence in its stream.
    pub sequence: i64,
    /// Its global feed position.
    pub position: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The actor's user id.
    pub actor: String,
    /// The actor's roles.
    pub roles: Vec<String>,
    /// The event.
    pub event: E,
}

/// An anomaly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    /// The stable flag code.
    pub code: String,
    /// What was found.
    pub detail: String,
}

fn flag(code: &str, detail: impl Into<String>) -> Flag {
    Flag {
        code: code.to_owned(),
        detail: detail.into(),
    }
}

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Sequence in the stream.
    pub sequence: i64,
    /// Feed position.
    pub position: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (user id).
    pub actor: String,
    /// The event.
    pub event: String,
    /// What it says, in one line (no private data).
    pub detail: String,
}

/// A reviewer on the roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntry {
    /// The expert.
    pub expert_id: ExpertId,
    /// `drawn` or `alternate`.
    pub seated_as: String,
    /// Recusal reason.
    pub recused: Option<String>,
    /// Whether they scored.
    pub scored: bool,
    /// Whether their scores were voided.
    pub voided: bool,
}

/// One score sheet as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SheetEntry {
    /// The reviewer.
    pub expert_id: ExpertId,
    /// The scores.
    pub scores: BTreeMap<String, CriterionScore>,
    /// Voided later.
    pub voided: bool,
}

/// The aggregation, recorded and recomputed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregationCheck {
    /// The rule version recorded.
    pub rule_version: String,
    /// The sheets the recorded aggregation names.
    pub sheets: Vec<ExpertId>,
    /// The recorded result.
    pub recorded: AggregationResult,
    /// Recomputed from the recorded sheets.
    pub recomputed: Option<AggregationResult>,
    /// The recorded total as a decimal.
    pub recorded_total: String,
    /// Whether both agree.
    pub matches: bool,
}

/// The notice window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeWindow {
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Working days.
    pub working_days: u32,
}

/// An objection without its filer's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectionEntry {
    /// The objection.
    pub objection_id: String,
    /// Filed at.
    pub filed_at: DateTime<Utc>,
    /// Accepted for resolution.
    pub accepted: bool,
    /// Why not.
    pub not_accepted_reason: Option<String>,
    /// Upheld (`Some(true)`), dismissed (`Some(false)`), or open.
    pub upheld: Option<bool>,
    /// The finding.
    pub finding: Option<String>,
}

/// The audit of one nomination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NominationAudit {
    /// The nomination.
    pub nomination_id: String,
    /// The nominee's public name.
    pub nominee: String,
    /// The nominee's unit.
    pub unit: String,
    /// Final status.
    pub status: String,
    /// Eligibility (eligible, reason).
    pub eligibility: Option<(bool, String)>,
    /// Whether the draw re-runs to the recorded result.
    pub draw_reproducible: Option<bool>,
    /// The roster.
    pub roster: Vec<RosterEntry>,
    /// Every score sheet.
    pub sheets: Vec<SheetEntry>,
    /// Aggregations in order (a voided one is followed by another).
    pub aggregations: Vec<AggregationCheck>,
    /// (for, against, quorum, passed).
    pub tally: Option<(u32, u32, u32, bool)>,
    /// The notice.
    pub notice: Option<NoticeWindow>,
    /// Objections.
    pub objections: Vec<ObjectionEntry>,
    /// (decision number, tier, amount, approved by, approved at).
    pub approval: Option<(String, String, u64, String, DateTime<Utc>)>,
    /// When announced.
    pub announced_at: Option<DateTime<Utc>>,
    /// (decision number, grounds, revoked by, revoked at).
    pub revocation: Option<(String, String, String, DateTime<Utc>)>,
    /// Everything in order.
    pub timeline: Vec<TimelineEntry>,
    /// Anomalies.
    pub flags: Vec<Flag>,
}

/// The audit of a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramAudit {
    /// The program.
    pub program_id: String,
    /// Title.
    pub title: String,
    /// Cycle.
    pub cycle: String,
    /// Quota.
    pub quota: u32,
    /// Approval document.
    pub approval_document: Option<String>,
    /// The aggregation version of its terms.
    pub aggregation_version: String,
    /// Notice period.
    pub notice_working_days: u32,
    /// Approvals made (revoked ones included).
    pub approvals: u32,
    /// Approvals revoked.
    pub revocations: u32,
    /// The program's own events.
    pub timeline: Vec<TimelineEntry>,
    /// Each nomination, in submission order.
    pub nominations: Vec<NominationAudit>,
    /// Program-level anomalies.
    pub flags: Vec<Flag>,
    /// Every flag of the program and its nominations.
    pub flag_count: usize,
}

fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// Audits a program from its events and its nominations' events (each in sequence order,
/// nominations in submission order).
pub fn audit_program(
    program_id: &str,
    program_events: &[Recorded<ProgramEvent>],
    nominations: &[(String, Vec<Recorded<NominationEvent>>)],
) -> ProgramAudit {
    let mut terms: Option<ProgramTerms> = None;
    let mut approval_document = None;
    let mut approved_at = None;
    let mut timeline = Vec::new();
    for recorded in program_events {
        let (name, detail) = match &recorded.event {
            ProgramEvent::ProgramCreated { terms: t, .. } => {
                terms = Some(t.clone());
                (
                    "ProgramCreated",
                    format!(
                        "{} ({}), quota {}, notice {} working days, {} {}",
                        t.title,
                        t.cycle,
                        t.quota,
                        t.notice_working_days,
                        t.aggregation.method,
                        t.aggregation.version
                    ),
                )
            }
            ProgramEvent::ProgramApproved {
                document_number, ..
            } => {
                approval_document = Some(document_number.clone());
                approved_at = Some(recorded.at);
                ("ProgramApproved", format!("document {document_number}"))
            }
            ProgramEvent::CommitteeChanged {
                members, reason, ..
            } => {
                if let Some(terms) = &mut terms {
                    terms.committee_size = members.len() as u32;
                    terms.committee = members.clone();
                }
                let roster: Vec<&str> = members.iter().map(|m| m.as_str()).collect();
                (
                    "CommitteeChanged",
                    format!("roster [{}]: {reason}", roster.join(", ")),
                )
            }
        };
        timeline.push(entry(recorded, name, detail));
    }
    let mut flags = Vec::new();
    let mut audits = Vec::new();
    let mut approvals = 0;
    let mut revocations = 0;
    for (nomination_id, events) in nominations {
        let audit = audit_nomination(nomination_id, events, approved_at);
        approvals += u32::from(audit.approval.is_some());
        revocations += u32::from(audit.revocation.is_some());
        audits.push(audit);
    }
    if let Some(terms) = &terms {
        if approvals > terms.quota {
            flags.push(flag(
                "quota_exceeded",
                format!("{approvals} awards approved, the quota is {}", terms.quota),
            ));
        }
    }
    let flag_count = flags.len() + audits.iter().map(|a| a.flags.len()).sum::<usize>();
    ProgramAudit {
        program_id: program_id.to_owned(),
        title: terms.as_ref().map(|t| t.title.clone()).unwrap_or_default(),
        cycle: terms.as_ref().map(|t| t.cycle.clone()).unwrap_or_default(),
        quota: terms.as_ref().map_or(0, |t| t.quota),
        approval_document,
        aggregation_version: terms
            .as_ref()
            .map(|t| t.aggregation.version.clone())
            .unwrap_or_default(),
        notice_working_days: terms.as_ref().map_or(0, |t| t.notice_working_days),
        approvals,
        revocations,
        timeline,
        nominations: audits,
        flags,
        flag_count,
    }
}

fn entry<E>(recorded: &Recorded<E>, event: &str, detail: String) -> TimelineEntry {
    TimelineEntry {
        sequence: recorded.sequence,
        position: recorded.position,
        at: recorded.at,
        actor: recorded.actor.clone(),
        event: event.to_owned(),
        detail,
    }
}

/// Audits one nomination.
fn audit_nomination(
    nomination_id: &str,
    events: &[Recorded<NominationEvent>],
    program_approved_at: Option<DateTime<Utc>>,
) -> NominationAudit {
    use NominationEvent as E;
    let mut audit = NominationAudit {
        nomination_id: nomination_id.to_owned(),
        nominee: String::new(),
        unit: String::new(),
        status: String::new(),
        eligibility: None,
        draw_reproducible: None,
        roster: Vec::new(),
        sheets: Vec::new(),
        aggregations: Vec::new(),
        tally: None,
        notice: None,
        objections: Vec::new(),
        approval: None,
        announced_at: None,
        revocation: None,
        timeline: Vec::new(),
        flags: Vec::new(),
    };
    let mut terms: Option<ProgramTerms> = None;
    let mut state = super::nomination::RewardNomination::default();
    let mut excluded_at_draw: BTreeSet<ExpertId> = BTreeSet::new();
    let mut conflicted_at_draw: BTreeSet<ExpertId> = BTreeSet::new();
    for recorded in events {
        let detail = match &recorded.event {
            E::NominationSubmitted {
                terms: t,
                nominee,
                submitted_at,
                reason,
                ..
            } => {
                terms = Some(t.clone());
                audit.nominee = nominee.name.clone();
                audit.unit = nominee.unit.clone();
                if program_approved_at.is_none_or(|approved| approved > *submitted_at) {
                    audit.flags.push(flag(
                        "program_not_approved",
                        "submitted before the program's approval event",
                    ));
                }
                if blank(reason) {
                    audit
                        .flags
                        .push(flag("missing_reason", "the nomination states no reason"));
                }
                format!("{} ({}), {:?}", nominee.name, nominee.unit, nominee.kind)
            }
            E::EligibilityDecided {
                eligible,
                checklist,
                reason,
                ..
            } => {
                audit.eligibility = Some((*eligible, reason.clone()));
                if blank(reason) {
                    audit.flags.push(flag(
                        "missing_reason",
                        "eligibility decided without a reason",
                    ));
                }
                let failed: Vec<&str> = checklist
                    .iter()
                    .filter(|i| !i.passed)
                    .map(|i| i.item.as_str())
                    .collect();
                format!(
                    "{}; {} checklist items, failed: [{}]; reason: {reason}",
                    if *eligible { "eligible" } else { "ineligible" },
                    checklist.len(),
                    failed.join("; ")
                )
            }
            E::ReviewersDrawn {
                algorithm,
                seed,
                pool,
                pool_hash,
                filters,
                panel_size,
                alternates_requested,
                order,
                panel,
                alternates,
                proof,
                ..
            } => {
                let rerun = draw::draw(seed, pool, filters, *panel_size, *alternates_requested);
                let reproducible = algorithm == draw::ALGORITHM
                    && draw::pool_hash(pool).as_deref() == Ok(pool_hash.as_str())
                    && rerun.as_ref().is_ok_and(|outcome| {
                        &outcome.order == order
                            && &outcome.panel == panel
                            && &outcome.alternates == alternates
                            && &outcome.proof == proof
                    });
                audit.draw_reproducible = Some(reproducible);
                if !reproducible {
                    audit.flags.push(flag(
                        "draw_not_reproducible",
                        "re-running caseledger-draw-v1 from the recorded seed, snapshot and \
                         filters does not give the recorded reviewers and proof",
                    ));
                }
                excluded_at_draw = filters.excluded.clone();
                conflicted_at_draw = pool
                    .iter()
                    .filter(|e| e.conflicted(&filters.requesting_unit, &filters.parties))
                    .map(|e| e.expert_id.clone())
                    .collect();
                for candidate in panel {
                    audit.roster.push(RosterEntry {
                        expert_id: candidate.expert_id.clone(),
                        seated_as: "drawn".into(),
                        recused: None,
                        scored: false,
                        voided: false,
                    });
                }
                format!(
                    "{algorithm}; reviewers [{}]; alternates [{}]; excluded as reward office [{}]; proof {proof}",
                    ids(panel.iter().map(|c| &c.expert_id)),
                    ids(alternates.iter().map(|c| &c.expert_id)),
                    ids(filters.excluded.iter())
                )
            }
            E::ReviewerRecused {
                expert_id, reason, ..
            } => {
                if let Some(r) = audit.roster.iter_mut().find(|r| &r.expert_id == expert_id) {
                    r.recused = Some(reason.clone());
                }
                if blank(reason) {
                    audit
                        .flags
                        .push(flag("missing_reason", "recusal without a reason"));
                }
                format!("{expert_id} recused: {reason}")
            }
            E::ScoresVoided {
                expert_id, reason, ..
            } => {
                if let Some(r) = audit.roster.iter_mut().find(|r| &r.expert_id == expert_id) {
                    r.voided = true;
                }
                if let Some(s) = audit.sheets.iter_mut().find(|s| &s.expert_id == expert_id) {
                    s.voided = true;
                }
                format!("scores of {expert_id} voided: {reason}")
            }
            E::AggregationVoided { reason, .. } => format!("aggregation voided: {reason}"),
            E::AlternateSeated {
                expert_id,
                replaces,
                ..
            } => {
                audit.roster.push(RosterEntry {
                    expert_id: expert_id.clone(),
                    seated_as: "alternate".into(),
                    recused: None,
                    scored: false,
                    voided: false,
                });
                format!("{expert_id} replaces {replaces}")
            }
            E::ScoresSubmitted {
                expert_id, scores, ..
            } => {
                if let Some(r) = audit.roster.iter_mut().find(|r| &r.expert_id == expert_id) {
                    r.scored = true;
                }
                audit.sheets.push(SheetEntry {
                    expert_id: expert_id.clone(),
                    scores: scores.clone(),
                    voided: false,
                });
                let by_reward_office = recorded.roles.iter().any(|r| r == "reward_office")
                    || terms
                        .as_ref()
                        .is_some_and(|t| t.reward_office_staff.contains(expert_id));
                let seated = state
                    .active_reviewers()
                    .any(|reviewer| reviewer == expert_id);
                if by_reward_office
                    || !seated
                    || excluded_at_draw.contains(expert_id)
                    || conflicted_at_draw.contains(expert_id)
                {
                    audit.flags.push(flag(
                        "conflicted_scorer",
                        format!(
                            "{expert_id} scored while {}",
                            if by_reward_office {
                                "reward office staff"
                            } else if !seated {
                                "not holding an active seat (recused or never seated)"
                            } else {
                                "conflicted or excluded at the draw"
                            }
                        ),
                    ));
                }
                format!(
                    "{expert_id}: {}",
                    scores
                        .iter()
                        .map(|(code, s)| format!("{code}={}", s.score))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            E::ScoresAggregated {
                method,
                trim,
                rule_version,
                sheets,
                result,
                ..
            } => {
                let check = recompute(
                    terms.as_ref(),
                    &state,
                    method,
                    *trim,
                    rule_version,
                    sheets,
                    result,
                );
                if !check.matches {
                    audit.flags.push(flag(
                        "recomputation_mismatch",
                        format!(
                            "recorded total {}, recomputed from the recorded sheets {}",
                            check.recorded_total,
                            check
                                .recomputed
                                .as_ref()
                                .map_or("nothing".to_owned(), |r| format_hundredths(r.total_x100))
                        ),
                    ));
                }
                for sheet_owner in sheets {
                    let counted_sheet_conflicted =
                        state.sheets.get(sheet_owner).is_some_and(|s| s.voided)
                            || !state.active_reviewers().any(|r| r == sheet_owner);
                    if counted_sheet_conflicted {
                        audit.flags.push(flag(
                            "conflicted_scorer",
                            format!("the aggregation counts {sheet_owner}, whose seat or scores do not count"),
                        ));
                    }
                }
                let detail = format!(
                    "{method} trim {trim} ({rule_version}) over [{}]: total {}",
                    ids(sheets.iter()),
                    check.recorded_total
                );
                audit.aggregations.push(check);
                detail
            }
            E::VoteCast {
                member, in_favour, ..
            } => {
                format!(
                    "{member} votes {}",
                    if *in_favour { "for" } else { "against" }
                )
            }
            E::VoteTallied {
                votes_for,
                votes_against,
                quorum,
                passed,
                ..
            } => {
                audit.tally = Some((*votes_for, *votes_against, *quorum, *passed));
                format!(
                    "{votes_for} for, {votes_against} against, quorum {quorum}: {}",
                    if *passed {
                        "shortlisted"
                    } else {
                        "not shortlisted"
                    }
                )
            }
            E::NoticeStarted {
                starts_at,
                ends_at,
                working_days,
                ..
            } => {
                audit.notice = Some(NoticeWindow {
                    starts_at: *starts_at,
                    ends_at: *ends_at,
                    working_days: *working_days,
                });
                format!("{working_days} working days, {starts_at} to {ends_at}")
            }
            E::ObjectionFiled {
                objection_id,
                accepted,
                not_accepted_reason,
                filed_at,
                ..
            } => {
                audit.objections.push(ObjectionEntry {
                    objection_id: objection_id.to_string(),
                    filed_at: *filed_at,
                    accepted: *accepted,
                    not_accepted_reason: not_accepted_reason.clone(),
                    upheld: None,
                    finding: None,
                });
                match not_accepted_reason {
                    None => format!("objection {objection_id} accepted"),
                    Some(why) => format!("objection {objection_id} logged, not accepted: {why}"),
                }
            }
            E::ObjectionResolved {
                objection_id,
                upheld,
                finding,
                ..
            } => {
                if let Some(o) = audit
                    .objections
                    .iter_mut()
                    .find(|o| o.objection_id == objection_id.to_string())
                {
                    o.upheld = Some(*upheld);
                    o.finding = Some(finding.clone());
                }
                if blank(finding) {
                    audit.flags.push(flag(
                        "missing_reason",
                        "objection resolved without a finding",
                    ));
                }
                format!(
                    "objection {objection_id} {}: {finding}",
                    if *upheld { "upheld" } else { "dismissed" }
                )
            }
            E::NoticeClosed { .. } => "notice closed".to_owned(),
            E::NominationApproved {
                decision_number,
                tier,
                amount,
                reason,
                approved_by,
                approved_at,
                ..
            } => {
                audit.approval = Some((
                    decision_number.clone(),
                    tier.clone(),
                    *amount,
                    approved_by.to_string(),
                    *approved_at,
                ));
                match (state.notice_starts_at, state.notice_ends_at) {
                    (Some(_), Some(ends_at)) if *approved_at >= ends_at => {}
                    (Some(_), Some(ends_at)) => audit.flags.push(flag(
                        "approval_inside_notice_window",
                        format!("approved at {approved_at}, the notice ran until {ends_at}"),
                    )),
                    _ => audit.flags.push(flag(
                        "approval_inside_notice_window",
                        "approved without a public notice",
                    )),
                }
                if state.unresolved_objection() {
                    audit.flags.push(flag(
                        "unresolved_objection_at_approval",
                        "an accepted objection was unresolved at approval",
                    ));
                }
                if state.objections.iter().any(|o| o.upheld == Some(true)) {
                    audit.flags.push(flag(
                        "upheld_objection_at_approval",
                        "approved although an objection was upheld",
                    ));
                }
                if blank(reason) || blank(decision_number) {
                    audit.flags.push(flag(
                        "missing_reason",
                        "approval without a reason or decision number",
                    ));
                }
                match terms.as_ref().and_then(|t| t.tier(tier)) {
                    Some(t) if (t.min_amount..=t.max_amount).contains(amount) => {}
                    Some(t) => audit.flags.push(flag(
                        "amount_outside_tier",
                        format!(
                            "{amount} yuan is outside tier {tier} ({}..={})",
                            t.min_amount, t.max_amount
                        ),
                    )),
                    None => audit.flags.push(flag(
                        "amount_outside_tier",
                        format!("tier {tier} is not a tier of the program"),
                    )),
                }
                format!("{decision_number}: tier {tier}, {amount} yuan, by {approved_by}; reason: {reason}")
            }
            E::AwardAnnounced { announced_at, .. } => {
                audit.announced_at = Some(*announced_at);
                "announced".to_owned()
            }
            E::NominationWithdrawn { reason, .. } => {
                if blank(reason) {
                    audit
                        .flags
                        .push(flag("missing_reason", "withdrawn without a reason"));
                }
                format!("withdrawn: {reason}")
            }
            E::NominationDisqualified { grounds, .. } => {
                if blank(grounds) {
                    audit
                        .flags
                        .push(flag("missing_reason", "disqualified without grounds"));
                }
                format!("disqualified: {grounds}")
            }
            E::AwardRevoked {
                decision_number,
                grounds,
                revoked_by,
                revoked_at,
            } => {
                audit.revocation = Some((
                    decision_number.clone(),
                    grounds.clone(),
                    revoked_by.to_string(),
                    *revoked_at,
                ));
                if state
                    .award
                    .as_ref()
                    .is_some_and(|a| &a.approved_by != revoked_by)
                {
                    audit.flags.push(flag(
                        "revoked_by_other_authority",
                        format!("revoked by {revoked_by}, not by the approving authority"),
                    ));
                }
                if blank(grounds) {
                    audit
                        .flags
                        .push(flag("missing_reason", "revoked without grounds"));
                }
                format!("revoked by {decision_number}: {grounds}")
            }
        };
        audit
            .timeline
            .push(entry(recorded, recorded.event.name(), detail));
        state.evolve(&recorded.event);
    }
    audit.status = state.status.as_str().to_owned();
    audit
}

fn ids<'a>(ids: impl Iterator<Item = &'a ExpertId>) -> String {
    ids.map(ExpertId::as_str).collect::<Vec<_>>().join(", ")
}

/// Recomputes an aggregation from the sheets recorded before it (the state just before the
/// `ScoresAggregated` event): the recorded list of sheets must be exactly the sheets that
/// counted then, and the rule applied to them must give the recorded figures.
fn recompute(
    terms: Option<&ProgramTerms>,
    state: &super::nomination::RewardNomination,
    method: &str,
    trim: u32,
    rule_version: &str,
    sheets: &[ExpertId],
    recorded: &AggregationResult,
) -> AggregationCheck {
    let counted: BTreeSet<&ExpertId> = state
        .counted_sheets()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let named: BTreeSet<&ExpertId> = sheets.iter().collect();
    let recomputed = terms.and_then(|terms| {
        let rule = super::AggregationRule {
            method: method.to_owned(),
            trim,
            version: rule_version.to_owned(),
        };
        let score_sheets: Vec<&BTreeMap<String, CriterionScore>> = sheets
            .iter()
            .filter_map(|id| state.sheets.get(id).map(|s| &s.scores))
            .collect();
        if score_sheets.len() != sheets.len() {
            return None;
        }
        aggregate_scores(&terms.criteria, &rule, &score_sheets)
    });
    let rule_known = method == "trimmed_mean"
        && rule_version == super::AGGREGATION_VERSION
        && terms.is_some_and(|t| t.aggregation.trim == trim);
    let matches = rule_known && counted == named && recomputed.as_ref() == Some(recorded);
    AggregationCheck {
        rule_version: rule_version.to_owned(),
        sheets: sheets.to_vec(),
        recorded: recorded.clone(),
        recomputed,
        recorded_total: format_hundredths(recorded.total_x100),
        matches,
    }
}

/// The audit as CSV: one row per timeline entry (program first, then each nomination), then
/// one row per flag. Columns: `section, nomination_id, nominee, sequence, at, actor, event,
/// detail`. Text cells starting with `=`, `+`, `-`, `@`, a tab or a carriage return are prefixed
/// with an apostrophe ([`crate::csv_export`]).
pub fn to_csv(audit: &ProgramAudit) -> String {
    use crate::csv_export::{to_string, Cell, LineEnd};
    const HEADER: [&str; 8] = [
        "section",
        "nomination_id",
        "nominee",
        "sequence",
        "at",
        "actor",
        "event",
        "detail",
    ];
    struct Row<'a> {
        section: &'a str,
        nomination_id: &'a str,
        nominee: &'a str,
        sequence: String,
        at: String,
        actor: &'a str,
        event: &'a str,
        detail: &'a str,
    }
    let mut rows: Vec<Row<'_>> = Vec::new();
    for e in &audit.timeline {
        rows.push(Row {
            section: "program",
            nomination_id: "",
            nominee: "",
            sequence: e.sequence.to_string(),
            at: e.at.to_rfc3339(),
            actor: &e.actor,
            event: &e.event,
            detail: &e.detail,
        });
    }
    for n in &audit.nominations {
        for e in &n.timeline {
            rows.push(Row {
                section: "nomination",
                nomination_id: &n.nomination_id,
                nominee: &n.nominee,
                sequence: e.sequence.to_string(),
                at: e.at.to_rfc3339(),
                actor: &e.actor,
                event: &e.event,
                detail: &e.detail,
            });
        }
    }
    fn flag_row<'a>(nomination_id: &'a str, nominee: &'a str, f: &'a Flag) -> Row<'a> {
        Row {
            section: "flag",
            nomination_id,
            nominee,
            sequence: String::new(),
            at: String::new(),
            actor: "",
            event: &f.code,
            detail: &f.detail,
        }
    }
    for f in &audit.flags {
        rows.push(flag_row("", "", f));
    }
    for n in &audit.nominations {
        for f in &n.flags {
            rows.push(flag_row(&n.nomination_id, &n.nominee, f));
        }
    }
    let header = HEADER.iter().map(|h| Cell::Text(h)).collect();
    let body = rows.iter().map(|r| {
        vec![
            Cell::Text(r.section),
            Cell::Text(r.nomination_id),
            Cell::Text(r.nominee),
            Cell::Number(&r.sequence),
            Cell::Text(&r.at),
            Cell::Text(r.actor),
            Cell::Text(r.event),
            Cell::Text(r.detail),
        ]
    });
    to_string(std::iter::once(header).chain(body), LineEnd::Lf)
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    fn nomination(
        nominee: &str,
        timeline: Vec<TimelineEntry>,
        flags: Vec<Flag>,
    ) -> NominationAudit {
        NominationAudit {
            nomination_id: "0190c0de-0000-7000-8000-000000000001".to_owned(),
            nominee: nominee.to_owned(),
            unit: String::new(),
            status: "submitted".to_owned(),
            eligibility: None,
            draw_reproducible: None,
            roster: Vec::new(),
            sheets: Vec::new(),
            aggregations: Vec::new(),
            tally: None,
            notice: None,
            objections: Vec::new(),
            approval: None,
            announced_at: None,
            revocation: None,
            timeline,
            flags,
        }
    }

    /// Nominee names, actors and details are text a user typed: each nasty one comes out
    /// guarded and quoted; the sequence number and the timestamp are unchanged.
    #[test]
    fn csv_guards_every_text_cell_against_formula_injection() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
            .unwrap()
            .to_utc();
        let nasty = [
            (
                "=HYPERLINK(\"http://x.test\",\"x\")",
                "\"'=HYPERLINK(\"\"http://x.test\"\",\"\"x\"\")\"",
            ),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            ("he said \"no\"", "\"he said \"\"no\"\"\""),
            ("a, b", "\"a, b\""),
            ("two\nlines", "\"two\nlines\""),
            ("张三（区科技局）", "张三（区科技局）"),
        ];
        for (text, cell) in nasty {
            let mut audit = audit_program("p-1", &[], &[]);
            let entry = TimelineEntry {
                sequence: 1,
                position: 7,
                at,
                actor: text.to_owned(),
                event: "NominationSubmitted".to_owned(),
                detail: text.to_owned(),
            };
            let flag = Flag {
                code: "missing_reason".to_owned(),
                detail: text.to_owned(),
            };
            audit
                .nominations
                .push(nomination(text, vec![entry], vec![flag]));
            let csv = to_csv(&audit);
            let id = "0190c0de-0000-7000-8000-000000000001";
            assert_eq!(
                csv,
                format!(
                    "section,nomination_id,nominee,sequence,at,actor,event,detail\n\
                     nomination,{id},{cell},1,2026-12-01T08:00:00+00:00,{cell},NominationSubmitted,{cell}\n\
                     flag,{id},{cell},,,,missing_reason,{cell}\n"
                ),
                "{text:?}"
            );
        }
    }
}

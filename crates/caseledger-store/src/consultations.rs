//! Projections `experts` and `consultations`, the expert pool read from the log, and the
//! verification of a recorded panel draw.
//!
//! Rows: `expert_view` (one per expert), `consultation_view` (one per request: the domain's
//! [`ConsultationRequest`] state as a JSON document, plus adoption counts), `consultation_seats`
//! (one per seat, rewritten whenever the request changes) and `consultation_opinions` (one per
//! opinion version, texts included: the API decides who reads them and records each read).
//!
//! The pool a draw uses is never read from `expert_view`: [`Database::expert_pool`] folds the
//! `Expert` streams from the events table, the source of truth, so a lagging view cannot leave
//! an expert out and an edited view cannot change a panel. [`Database::verify_draw`] uses the
//! same fold, stopped at the draw's position, to check the snapshot recorded in the event.

use std::collections::BTreeMap;

use caseledger_domain::consultation::{
    draw, AdoptionOutcome, ConsultationEvent, ConsultationRequest, PoolEntry, SelectionMethod,
};
use caseledger_domain::expert::{Expert, ExpertEvent, ExpertProfile, ExpertStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Bind, Database, StoreError};
use crate::documents::{Column, Document, DocumentProjection, Row, Rows, Table};
use crate::feed::{columns, decode_event, FeedEvent};

/// The aggregate type name of experts in the events table.
pub const EXPERT_TYPE: &str = "Expert";
/// The aggregate type name of consultation requests in the events table.
pub const CONSULTATION_TYPE: &str = "ConsultationRequest";

// ---------------------------------------------------------------------------------------------
// Experts

/// One expert of the pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpertView {
    /// The expert (the token's `sub`).
    pub expert_id: String,
    /// `active`, `suspended` or `removed`.
    pub status: ExpertStatus,
    /// The current profile.
    pub profile: ExpertProfile,
    /// The stream's version.
    pub version: i64,
    /// When added.
    pub added_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// Why suspended or removed.
    pub status_reason: Option<String>,
}

/// The `experts` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExpertsProjection;

impl DocumentProjection for ExpertsProjection {
    const NAME: &'static str = "experts";
    type Documents = ExpertView;
}

impl Document for ExpertView {
    type Event = ExpertEvent;
    const AGGREGATE_TYPE: &'static str = EXPERT_TYPE;
    const TABLE: Table = Table::new("expert_view", "expert_id")
        .versioned()
        .with_columns(&[Column::new("status")]);

    fn create(feed: &FeedEvent, event: &ExpertEvent) -> Result<Self, &'static str> {
        let ExpertEvent::ExpertAdded {
            profile, added_at, ..
        } = event
        else {
            return Err("event for an expert that was never added");
        };
        Ok(Self {
            expert_id: feed.aggregate_id.clone(),
            status: ExpertStatus::Active,
            profile: profile.clone(),
            version: 0,
            added_at: *added_at,
            updated_at: *added_at,
            status_reason: None,
        })
    }

    fn evolve(&mut self, feed: &FeedEvent, event: &ExpertEvent) {
        self.version = feed.sequence;
        self.updated_at = event.at();
        match event {
            ExpertEvent::ExpertAdded { .. } => {}
            ExpertEvent::ExpertUpdated { profile, .. } => self.profile = profile.clone(),
            ExpertEvent::ExpertSuspended { reason, .. } => {
                self.status = ExpertStatus::Suspended;
                self.status_reason = Some(reason.clone());
            }
            ExpertEvent::ExpertReinstated { .. } => {
                self.status = ExpertStatus::Active;
                self.status_reason = None;
            }
            ExpertEvent::ExpertRemoved { reason, .. } => {
                self.status = ExpertStatus::Removed;
                self.status_reason = Some(reason.clone());
            }
        }
    }

    fn columns(&self, row: &mut Vec<Bind>) {
        row.push(Bind::Text(self.status.as_str().to_owned()));
    }
}

// ---------------------------------------------------------------------------------------------
// Consultations

/// One consultation request as the view holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsultationView {
    /// The request id.
    pub consultation_id: String,
    /// The feed position of its submission (list order).
    pub list_order: i64,
    /// The stream's version.
    pub version: i64,
    /// The request's state (the domain's own fold of its events).
    pub state: ConsultationRequest,
}

impl ConsultationView {
    fn counts(&self) -> [i64; 4] {
        let recommendations = self
            .state
            .conclusion
            .as_ref()
            .map_or(0, |c| c.recommendations.len() as i64);
        let count = |outcome: AdoptionOutcome| {
            self.state.adoption.as_ref().map_or(0, |items| {
                items.iter().filter(|item| item.outcome == outcome).count() as i64
            })
        };
        [
            recommendations,
            count(AdoptionOutcome::Adopted),
            count(AdoptionOutcome::Partly),
            count(AdoptionOutcome::NotAdopted),
        ]
    }
}

/// One opinion version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpinionView {
    /// The request.
    pub consultation_id: String,
    /// The expert.
    pub expert_id: String,
    /// 1, 2, … (amendments).
    pub version: u32,
    /// `support`, `conditional` or `oppose`.
    pub stance: String,
    /// The reasoning.
    pub rationale: String,
    /// Conditions.
    pub conditions: Option<String>,
    /// The signature.
    pub signature: String,
    /// SHA-256 of the signed content.
    pub content_sha256: String,
    /// When.
    pub submitted_at: DateTime<Utc>,
}

/// The `consultations` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsultationsProjection;

impl DocumentProjection for ConsultationsProjection {
    const NAME: &'static str = "consultations";
    type Documents = ConsultationView;
}

impl Document for ConsultationView {
    type Event = ConsultationEvent;
    const AGGREGATE_TYPE: &'static str = CONSULTATION_TYPE;
    const TABLE: Table = Table::new("consultation_view", "consultation_id")
        .versioned()
        .with_columns(&[
            Column::fixed("list_order"),
            Column::fixed("requesting_unit"),
            Column::new("status"),
            Column::new("recommendations"),
            Column::new("adopted"),
            Column::new("partly"),
            Column::new("not_adopted"),
        ])
        // The seats, rewritten whenever the request changes.
        .with_derived(&[Rows::new(
            "consultation_seats",
            "consultation_id",
            &["consultation_id", "expert_id", "state"],
        )])
        // Every opinion version, as submitted.
        .with_logged(Rows::new(
            "consultation_opinions",
            "consultation_id",
            &["consultation_id", "expert_id", "version", "document"],
        ));

    fn create(feed: &FeedEvent, event: &ConsultationEvent) -> Result<Self, &'static str> {
        if !matches!(event, ConsultationEvent::ConsultationSubmitted { .. }) {
            return Err("event for a consultation that was never submitted");
        }
        Ok(Self {
            consultation_id: feed.aggregate_id.clone(),
            list_order: feed.at.position,
            version: 0,
            state: ConsultationRequest::default(),
        })
    }

    fn evolve(&mut self, feed: &FeedEvent, event: &ConsultationEvent) {
        self.state.evolve(event);
        self.version = feed.sequence;
    }

    fn columns(&self, row: &mut Vec<Bind>) {
        let [recommendations, adopted, partly, not_adopted] = self.counts();
        row.extend([
            Bind::Int(self.list_order),
            Bind::Text(
                self.state
                    .requesting_unit
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            Bind::Text(self.state.status.as_str().to_owned()),
            Bind::Int(recommendations),
            Bind::Int(adopted),
            Bind::Int(partly),
            Bind::Int(not_adopted),
        ]);
    }

    fn derived(row: &Row<Self>, tables: &mut [Vec<Bind>]) {
        let [seats] = tables else {
            return;
        };
        for seat in &row.view.state.seats {
            seats.extend([
                Bind::Text(row.key.clone()),
                Bind::Text(seat.expert_id.to_string()),
                Bind::Text(seat.state.as_str().to_owned()),
            ]);
        }
    }

    fn logged(
        feed: &FeedEvent,
        event: &ConsultationEvent,
        rows: &mut Vec<Bind>,
    ) -> Result<(), StoreError> {
        let ConsultationEvent::OpinionSubmitted {
            expert_id,
            version,
            stance,
            rationale,
            conditions,
            signature,
            content_sha256,
            submitted_at,
        } = event
        else {
            return Ok(());
        };
        let opinion = OpinionView {
            consultation_id: feed.aggregate_id.clone(),
            expert_id: expert_id.to_string(),
            version: *version,
            stance: stance.as_str().to_owned(),
            rationale: rationale.clone(),
            conditions: conditions.clone(),
            signature: signature.clone(),
            content_sha256: content_sha256.clone(),
            submitted_at: *submitted_at,
        };
        rows.extend([
            Bind::Text(opinion.consultation_id.clone()),
            Bind::Text(opinion.expert_id.clone()),
            Bind::Int(i64::from(opinion.version)),
            Bind::Text(serde_json::to_string(&opinion)?),
        ]);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

/// Which requests to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsultationFilter {
    /// Only this requesting department.
    pub requesting_unit: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only requests where this expert holds a seat (any state).
    pub seated_expert: Option<String>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// An expert's workload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workload {
    /// Seats waiting for the expert's answer.
    pub invited: i64,
    /// Accepted seats on requests not concluded yet, without an opinion of the expert.
    pub opinion_due: i64,
    /// Accepted seats on requests not concluded yet, with an opinion.
    pub opinion_given: i64,
    /// Accepted seats on concluded, reported or closed requests.
    pub completed: i64,
    /// Declined seats.
    pub declined: i64,
    /// Recused seats.
    pub recused: i64,
}

/// Adoption per requesting department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdoptionRate {
    /// The requesting department.
    pub requesting_unit: String,
    /// Requests with an adoption report.
    pub reported_requests: i64,
    /// Recommendations reported on.
    pub recommendations: i64,
    /// Adopted.
    pub adopted: i64,
    /// Partly adopted.
    pub partly: i64,
    /// Not adopted.
    pub not_adopted: i64,
}

impl Database {
    /// One expert from the `experts` projection.
    pub async fn expert_view(&self, expert_id: &str) -> Result<Option<ExpertView>, StoreError> {
        self.document(expert_id).await
    }

    /// The experts, optionally of one status, by id. (A district's pool holds hundreds, not
    /// millions: no paging.)
    pub async fn list_experts(&self, status: Option<&str>) -> Result<Vec<ExpertView>, StoreError> {
        self.documents(
            "SELECT document FROM expert_view WHERE ($1 IS NULL OR status = $1) ORDER BY expert_id",
            &[Bind::OptionalText(status.map(str::to_owned))],
        )
        .await
    }

    /// One request from the `consultations` projection.
    pub async fn consultation_view(
        &self,
        consultation_id: &str,
    ) -> Result<Option<ConsultationView>, StoreError> {
        self.document(consultation_id).await
    }

    /// Requests matching `filter`, newest first.
    pub async fn list_consultations(
        &self,
        filter: &ConsultationFilter,
    ) -> Result<Vec<ConsultationView>, StoreError> {
        let mut binds = Vec::new();
        let mut conditions = Vec::new();
        if let Some(unit) = &filter.requesting_unit {
            binds.push(Bind::Text(unit.clone()));
            conditions.push(format!("v.requesting_unit = ${}", binds.len()));
        }
        if let Some(status) = &filter.status {
            binds.push(Bind::Text(status.clone()));
            conditions.push(format!("v.status = ${}", binds.len()));
        }
        if let Some(expert) = &filter.seated_expert {
            binds.push(Bind::Text(expert.clone()));
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM consultation_seats s WHERE s.consultation_id = v.consultation_id \
                   AND s.expert_id = ${})",
                binds.len()
            ));
        }
        let mut sql = String::from("SELECT v.document FROM consultation_view v");
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        binds.push(Bind::Int(filter.limit));
        sql.push_str(&format!(
            " ORDER BY v.list_order DESC LIMIT ${}",
            binds.len()
        ));
        self.documents(&sql, &binds).await
    }

    /// Every opinion version of a request, by expert and version.
    pub async fn consultation_opinions(
        &self,
        consultation_id: &str,
    ) -> Result<Vec<OpinionView>, StoreError> {
        self.documents(
            "SELECT document FROM consultation_opinions WHERE consultation_id = $1 \
              ORDER BY expert_id, version",
            &[Bind::Text(consultation_id.to_owned())],
        )
        .await
    }

    /// An expert's workload across requests.
    pub async fn expert_workload(&self, expert_id: &str) -> Result<Workload, StoreError> {
        let rows: Vec<(String, String, i64)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT s.state, v.status, \
                    (SELECT count(*) FROM consultation_opinions o \
                      WHERE o.consultation_id = s.consultation_id AND o.expert_id = s.expert_id) \
               FROM consultation_seats s \
               JOIN consultation_view v ON v.consultation_id = s.consultation_id \
              WHERE s.expert_id = $1"
        )
        .bind(expert_id)
        .fetch_all(pool)
        .await)?;
        let mut workload = Workload::default();
        for (seat, status, opinions) in rows {
            let open = matches!(
                status.as_str(),
                "panel_drawn" | "panel_confirmed" | "collecting_opinions"
            );
            let done = matches!(
                status.as_str(),
                "concluded" | "adoption_reported" | "closed"
            );
            match seat.as_str() {
                "invited" if open => workload.invited += 1,
                "accepted" if open && opinions == 0 => workload.opinion_due += 1,
                "accepted" if open => workload.opinion_given += 1,
                "accepted" if done => workload.completed += 1,
                "declined" => workload.declined += 1,
                "recused" => workload.recused += 1,
                _ => {}
            }
        }
        Ok(workload)
    }

    /// Adoption of recommendations per requesting department, over requests with a report.
    pub async fn adoption_rates(&self) -> Result<Vec<AdoptionRate>, StoreError> {
        type Row = (String, i64, i64, i64, i64, i64);
        let rows: Vec<Row> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT requesting_unit, count(*), \
                    CAST(sum(recommendations) AS bigint), CAST(sum(adopted) AS bigint), \
                    CAST(sum(partly) AS bigint), CAST(sum(not_adopted) AS bigint) \
               FROM consultation_view \
              WHERE status IN ('adoption_reported', 'closed') \
              GROUP BY requesting_unit ORDER BY requesting_unit"
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    requesting_unit,
                    reported_requests,
                    recommendations,
                    adopted,
                    partly,
                    not_adopted,
                )| {
                    AdoptionRate {
                        requesting_unit,
                        reported_requests,
                        recommendations,
                        adopted,
                        partly,
                        not_adopted,
                    }
                },
            )
            .collect())
    }

    /// The `Expert` events of the log before `before_position` (all when `None`), by expert
    /// and sequence.
    async fn expert_events(
        &self,
        before_position: Option<i64>,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let sql = format!(
            "SELECT {} FROM events WHERE aggregate_type = $1 AND position < $2 \
              ORDER BY aggregate_id, sequence",
            columns(self)
        );
        let events = with_pool!(self, |pool| {
            let rows = sqlx::query(&sql)
                .bind(EXPERT_TYPE)
                .bind(before_position.unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?;
            rows.iter().map(decode_event).collect::<Result<Vec<_>, _>>()
        })?;
        Ok(events)
    }

    /// The pool as the log holds it (before `before_position`, or now): every active expert's
    /// snapshot entry, in canonical order. Draws use this, never the `experts` view.
    pub async fn expert_pool(
        &self,
        before_position: Option<i64>,
    ) -> Result<Vec<PoolEntry>, StoreError> {
        let mut experts: BTreeMap<String, Expert> = BTreeMap::new();
        for event in self.expert_events(before_position).await? {
            let expert_event: ExpertEvent = serde_json::from_str(&event.payload)?;
            experts
                .entry(event.aggregate_id.clone())
                .or_default()
                .evolve(&expert_event);
        }
        Ok(experts.values().filter_map(PoolEntry::of).collect())
    }

    /// Re-checks the panel selection recorded for a request. `None` for an unknown request.
    pub async fn verify_draw(
        &self,
        consultation_id: &str,
    ) -> Result<Option<DrawVerification>, StoreError> {
        let history = self
            .stream_history(CONSULTATION_TYPE, consultation_id)
            .await?;
        if history.is_empty() {
            return Ok(None);
        }
        let mut parsed = Vec::with_capacity(history.len());
        for event in &history {
            let consultation_event: ConsultationEvent = serde_json::from_str(&event.payload)?;
            parsed.push((event, consultation_event));
        }
        let selection = parsed.iter().rev().find(|(_, e)| {
            matches!(
                e,
                ConsultationEvent::PanelDrawn { .. } | ConsultationEvent::SelectionProposed { .. }
            )
        });
        let Some((event, selection)) = selection else {
            return Ok(Some(DrawVerification {
                consultation_id: consultation_id.to_owned(),
                method: None,
                position: None,
                pool_hash: None,
                proof: None,
                manual_reason: None,
                checks: Vec::new(),
                matches: false,
                finding: Some("no panel has been selected yet".to_owned()),
            }));
        };
        let mut checks = Vec::new();
        let pool_at_draw = self.expert_pool(Some(event.at.position)).await?;
        let (recorded_pool, recorded_hash) = match selection {
            ConsultationEvent::PanelDrawn {
                pool, pool_hash, ..
            }
            | ConsultationEvent::SelectionProposed {
                pool, pool_hash, ..
            } => (pool, pool_hash),
            _ => unreachable!("found above"),
        };
        let recomputed_hash = draw::pool_hash(recorded_pool).unwrap_or_default();
        checks.push(Check::new(
            "pool_hash",
            &recomputed_hash == recorded_hash,
            format!(
                "the recorded snapshot hashes to {recomputed_hash}; the event records {recorded_hash}"
            ),
        ));
        checks.push(pool_check(recorded_pool, &pool_at_draw));
        let (method, proof, manual_reason) = match selection {
            ConsultationEvent::PanelDrawn {
                algorithm,
                seed,
                pool,
                filters,
                panel_size,
                alternates_requested,
                order,
                panel,
                alternates,
                proof,
                ..
            } => {
                let known = algorithm == draw::ALGORITHM;
                checks.push(Check::new(
                    "algorithm",
                    known,
                    format!("recorded algorithm {algorithm:?}"),
                ));
                match draw::draw(seed, pool, filters, *panel_size, *alternates_requested) {
                    Ok(outcome) => {
                        checks.push(Check::new(
                            "panel",
                            &outcome.order == order
                                && &outcome.panel == panel
                                && &outcome.alternates == alternates,
                            "re-running the draw from the recorded seed, snapshot, filters, panel \
                             size and alternates gives the recorded order, panel and alternates"
                                .to_owned(),
                        ));
                        checks.push(Check::new(
                            "proof",
                            &outcome.proof == proof,
                            format!("recomputed proof {}; recorded {proof}", outcome.proof),
                        ));
                    }
                    Err(error) => checks.push(Check::new(
                        "panel",
                        false,
                        format!("re-running the draw fails: {error}"),
                    )),
                }
                (SelectionMethod::Draw, Some(proof.clone()), None)
            }
            ConsultationEvent::SelectionProposed { reason, .. } => {
                (SelectionMethod::Manual, None, Some(reason.clone()))
            }
            _ => unreachable!("found above"),
        };
        let failed = checks.iter().find(|check| !check.ok);
        let finding = match (failed, method) {
            (Some(check), _) => Some(format!("{}: {}", check.name, check.detail)),
            (None, SelectionMethod::Manual) => Some(format!(
                "manual_selection: the panel was selected by hand, not drawn ({})",
                manual_reason.clone().unwrap_or_default()
            )),
            (None, SelectionMethod::Draw) => None,
        };
        Ok(Some(DrawVerification {
            consultation_id: consultation_id.to_owned(),
            method: Some(method),
            position: Some(event.at.position),
            pool_hash: Some(recorded_hash.clone()),
            proof,
            manual_reason,
            matches: finding.is_none(),
            checks,
            finding,
        }))
    }
}

/// Compares the recorded snapshot with the pool the log held just before the draw.
fn pool_check(recorded: &[PoolEntry], at_draw: &[PoolEntry]) -> Check {
    let recorded_by_id: BTreeMap<&str, &PoolEntry> = recorded
        .iter()
        .map(|entry| (entry.expert_id.as_str(), entry))
        .collect();
    let log_by_id: BTreeMap<&str, &PoolEntry> = at_draw
        .iter()
        .map(|entry| (entry.expert_id.as_str(), entry))
        .collect();
    let mut differences = Vec::new();
    for (id, entry) in &recorded_by_id {
        match log_by_id.get(id) {
            None => differences.push(format!("{id} is in the snapshot but was not active")),
            Some(logged) if logged != entry => {
                differences.push(format!("{id} differs from its record in the expert log"))
            }
            Some(_) => {}
        }
    }
    for id in log_by_id.keys() {
        if !recorded_by_id.contains_key(id) {
            differences.push(format!("{id} was active but is missing from the snapshot"));
        }
    }
    if differences.is_empty() {
        Check::new(
            "pool_at_draw",
            true,
            format!(
                "the snapshot's {} entries equal the active experts of the log at the draw",
                recorded.len()
            ),
        )
    } else {
        Check::new("pool_at_draw", false, differences.join("; "))
    }
}

/// One check of a draw verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `pool_hash`, `pool_at_draw`, `algorithm`, `panel` or `proof`.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was compared.
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, ok: bool, detail: String) -> Self {
        Self { name, ok, detail }
    }
}

/// The result of re-checking a request's panel selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrawVerification {
    /// The request.
    pub consultation_id: String,
    /// Draw or manual; `None` before any selection.
    pub method: Option<SelectionMethod>,
    /// The feed position of the selection event.
    pub position: Option<i64>,
    /// The recorded pool hash.
    pub pool_hash: Option<String>,
    /// The recorded proof (draws).
    pub proof: Option<String>,
    /// Why the panel was selected by hand (manual selections).
    pub manual_reason: Option<String>,
    /// Every check made.
    pub checks: Vec<Check>,
    /// True only for a random draw whose every check passed.
    pub matches: bool,
    /// The first failed check, the manual flag, or why there is nothing to verify.
    pub finding: Option<String>,
}

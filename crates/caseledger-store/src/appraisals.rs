//! Projection `appraisals`: one [`CampaignView`] per appraisal campaign (`appraisal_view`).
//!
//! The view keeps what staff and the public read: the definition, ballot counts per department
//! and group, the KPI snapshot and results of the last computation, and the rectification
//! items. It never keeps a rater key or a raw comment: those stay in the `BallotCast` events,
//! read only by the aggregate (one ballot per rater) and by `compute_results`.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use caseledger_domain::appraisal::{
    AppraisalEvent, AppraisalResults, CampaignDefinition, CampaignStatus, RectificationStatus,
};
use caseledger_domain::kpi::DepartmentKpi;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{
    list_placeholders, values_placeholders, Bind, Database, StoreError, Tx, ROWS_PER_STATEMENT,
};
use crate::feed::FeedEvent;
use crate::projector::{Projection, ProjectionError};

/// The aggregate type name of appraisal campaigns in the events table.
pub const AGGREGATE_TYPE: &str = "AppraisalCampaign";

/// One rectification item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RectificationView {
    /// The item id.
    pub item_id: String,
    /// The department.
    pub department: String,
    /// What is to be rectified.
    pub title: String,
    /// By when (China date).
    pub due_on: NaiveDate,
    /// Where it stands.
    pub status: RectificationStatus,
    /// The department's latest report (staff only).
    pub last_report: Option<String>,
    /// The latest re-check finding (staff only).
    pub last_recheck: Option<String>,
    /// Re-checks so far.
    pub rechecks: u32,
    /// When it was verified.
    pub verified_at: Option<DateTime<Utc>>,
}

/// The current state of one campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignView {
    /// The campaign id.
    pub campaign_id: String,
    /// The definition.
    pub definition: CampaignDefinition,
    /// Where it stands.
    pub status: CampaignStatus,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Opened at.
    pub opened_at: Option<DateTime<Utc>>,
    /// Closed at.
    pub closed_at: Option<DateTime<Utc>>,
    /// Last computed at.
    pub computed_at: Option<DateTime<Utc>>,
    /// Published at.
    pub published_at: Option<DateTime<Utc>>,
    /// Ballots cast, by department and rater group.
    pub ballots: BTreeMap<String, BTreeMap<String, u32>>,
    /// The KPI snapshot of the last computation, by department.
    pub kpi: BTreeMap<String, DepartmentKpi>,
    /// The last computed results.
    pub results: Option<AppraisalResults>,
    /// Rectification items, in the order added.
    pub rectifications: Vec<RectificationView>,
    /// The campaign's version (sequence of its last event).
    pub version: i64,
    /// When the last event happened.
    pub updated_at: DateTime<Utc>,
}

impl CampaignView {
    fn created(event: &AppraisalEvent) -> Option<Self> {
        let AppraisalEvent::CampaignCreated {
            campaign_id,
            definition,
            created_at,
            ..
        } = event
        else {
            return None;
        };
        Some(Self {
            campaign_id: campaign_id.to_string(),
            definition: definition.clone(),
            status: CampaignStatus::Draft,
            created_at: *created_at,
            opened_at: None,
            closed_at: None,
            computed_at: None,
            published_at: None,
            ballots: BTreeMap::new(),
            kpi: BTreeMap::new(),
            results: None,
            rectifications: Vec::new(),
            version: 0,
            updated_at: *created_at,
        })
    }

    fn evolve(&mut self, event: &AppraisalEvent) {
        match event {
            AppraisalEvent::CampaignCreated { .. } => {}
            AppraisalEvent::CampaignOpened { opened_at, .. } => {
                self.status = CampaignStatus::Open;
                self.opened_at = Some(*opened_at);
                self.updated_at = *opened_at;
            }
            AppraisalEvent::BallotCast {
                rater_group,
                department,
                cast_at,
                ..
            } => {
                *self
                    .ballots
                    .entry(department.to_string())
                    .or_default()
                    .entry(rater_group.clone())
                    .or_default() += 1;
                self.updated_at = *cast_at;
            }
            AppraisalEvent::CampaignClosed { closed_at, .. } => {
                self.status = CampaignStatus::Closed;
                self.closed_at = Some(*closed_at);
                self.updated_at = *closed_at;
            }
            AppraisalEvent::ResultsComputed {
                kpi,
                results,
                computed_at,
                ..
            } => {
                self.status = CampaignStatus::Computed;
                self.kpi = kpi
                    .iter()
                    .map(|(department, kpi)| (department.to_string(), kpi.clone()))
                    .collect();
                self.results = Some(results.clone());
                self.computed_at = Some(*computed_at);
                self.updated_at = *computed_at;
            }
            AppraisalEvent::ResultsPublished { published_at, .. } => {
                self.status = CampaignStatus::Published;
                self.published_at = Some(*published_at);
                self.updated_at = *published_at;
            }
            AppraisalEvent::RectificationAdded {
                item_id,
                department,
                title,
                due_on,
                added_at,
                ..
            } => {
                self.rectifications.push(RectificationView {
                    item_id: item_id.to_string(),
                    department: department.to_string(),
                    title: title.clone(),
                    due_on: *due_on,
                    status: RectificationStatus::Open,
                    last_report: None,
                    last_recheck: None,
                    rechecks: 0,
                    verified_at: None,
                });
                self.updated_at = *added_at;
            }
            AppraisalEvent::RectificationReported {
                item_id,
                note,
                reported_at,
                ..
            } => {
                if let Some(item) = self.item(&item_id.to_string()) {
                    item.status = RectificationStatus::Reported;
                    item.last_report = Some(note.clone());
                }
                self.updated_at = *reported_at;
            }
            AppraisalEvent::RectificationRechecked {
                item_id,
                passed,
                note,
                checked_at,
                ..
            } => {
                if let Some(item) = self.item(&item_id.to_string()) {
                    item.rechecks += 1;
                    item.last_recheck = Some(note.clone());
                    if *passed {
                        item.status = RectificationStatus::Verified;
                        item.verified_at = Some(*checked_at);
                    } else {
                        item.status = RectificationStatus::Open;
                    }
                }
                self.updated_at = *checked_at;
            }
        }
    }

    fn item(&mut self, item_id: &str) -> Option<&mut RectificationView> {
        self.rectifications
            .iter_mut()
            .find(|item| item.item_id == item_id)
    }
}

/// The `appraisals` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct AppraisalsProjection;

#[async_trait]
impl Projection for AppraisalsProjection {
    fn name(&self) -> &'static str {
        "appraisals"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["appraisal_view"]
    }

    async fn apply(&self, tx: &mut Tx, events: &[FeedEvent]) -> Result<(), ProjectionError> {
        let mut parsed = Vec::new();
        let mut order: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for event in events
            .iter()
            .filter(|event| event.aggregate_type == AGGREGATE_TYPE)
        {
            let appraisal_event: AppraisalEvent = serde_json::from_str(&event.payload)
                .map_err(|error| ProjectionError::event(event, error))?;
            if seen.insert(event.aggregate_id.as_str()) {
                order.push(event.aggregate_id.clone());
            }
            parsed.push((event, appraisal_event));
        }
        if parsed.is_empty() {
            return Ok(());
        }
        let mut touched = load_many(tx, &order).await?;
        let mut next_list_order: Option<i64> = None;
        for (event, appraisal_event) in parsed {
            if !touched.contains_key(&event.aggregate_id) {
                let Some(view) = CampaignView::created(&appraisal_event) else {
                    return Err(ProjectionError::event(
                        event,
                        "event for a campaign that was never created",
                    ));
                };
                let list_order = match next_list_order {
                    Some(n) => n,
                    None => max_list_order(tx).await? + 1,
                };
                next_list_order = Some(list_order + 1);
                touched.insert(event.aggregate_id.clone(), (view, list_order));
            }
            let (view, _) = touched
                .get_mut(&event.aggregate_id)
                .expect("inserted above");
            view.evolve(&appraisal_event);
            view.version = event.sequence;
        }
        for chunk in order.chunks(ROWS_PER_STATEMENT) {
            let mut binds = Vec::with_capacity(chunk.len() * 5);
            for campaign_id in chunk {
                let (view, list_order) = &touched[campaign_id];
                binds.extend([
                    Bind::Text(campaign_id.clone()),
                    Bind::Int(*list_order),
                    Bind::Text(view.status.as_str().to_owned()),
                    Bind::Int(view.version),
                    Bind::Text(serde_json::to_string(view).map_err(StoreError::from)?),
                ]);
            }
            let sql = format!(
                "INSERT INTO appraisal_view (campaign_id, list_order, status, version, document) \
                 VALUES {} ON CONFLICT (campaign_id) DO UPDATE SET status = excluded.status, \
                     version = excluded.version, document = excluded.document",
                values_placeholders(chunk.len(), 5)
            );
            tx.execute_with(&sql, &binds).await?;
        }
        Ok(())
    }

    fn checksum_sql(&self) -> &'static str {
        "SELECT campaign_id || '|' || list_order || '|' || status || '|' || version || '|' || document AS row \
           FROM appraisal_view ORDER BY campaign_id"
    }
}

async fn load_many(
    tx: &mut Tx,
    campaign_ids: &[String],
) -> Result<HashMap<String, (CampaignView, i64)>, ProjectionError> {
    let mut found = HashMap::with_capacity(campaign_ids.len());
    for chunk in campaign_ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT campaign_id, document, list_order FROM appraisal_view WHERE campaign_id IN ({})",
            list_placeholders(chunk.len())
        );
        let binds: Vec<Bind> = chunk.iter().map(|id| Bind::Text(id.clone())).collect();
        let rows: Vec<(String, String, i64)> =
            with_tx!(tx, |conn| bind_all!(sqlx::query_as(&sql), &binds)
                .fetch_all(&mut *conn)
                .await)?;
        for (campaign_id, document, list_order) in rows {
            let view = serde_json::from_str(&document).map_err(StoreError::from)?;
            found.insert(campaign_id, (view, list_order));
        }
    }
    Ok(found)
}

async fn max_list_order(tx: &mut Tx) -> Result<i64, ProjectionError> {
    let max: Option<i64> = with_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT max(list_order) FROM appraisal_view"
    )
    .fetch_one(&mut *conn)
    .await)?;
    Ok(max.unwrap_or(0))
}

impl Database {
    /// One campaign.
    pub async fn campaign_view(
        &self,
        campaign_id: &str,
    ) -> Result<Option<CampaignView>, StoreError> {
        let document: Option<String> = with_pool!(self, |pool| sqlx::query_scalar(
            "SELECT document FROM appraisal_view WHERE campaign_id = $1"
        )
        .bind(campaign_id)
        .fetch_optional(pool)
        .await)?;
        Ok(document
            .map(|document| serde_json::from_str(&document))
            .transpose()?)
    }

    /// Every campaign, newest first (at most 200).
    pub async fn list_campaigns(&self) -> Result<Vec<CampaignView>, StoreError> {
        let documents: Vec<String> = with_pool!(self, |pool| sqlx::query_scalar(
            "SELECT document FROM appraisal_view ORDER BY list_order DESC LIMIT 200"
        )
        .fetch_all(pool)
        .await)?;
        documents
            .iter()
            .map(|document| Ok(serde_json::from_str(document)?))
            .collect()
    }
}

//! Projection `appraisals`: one [`CampaignView`] per appraisal campaign (`appraisal_view`).
//!
//! The view keeps what staff and the public read: the definition, ballot counts per department
//! and group, the KPI snapshot and results of the last computation, and the rectification
//! items. It never keeps a rater key or a raw comment: those stay in the `BallotCast` events,
//! read only by the aggregate (one ballot per rater) and by `compute_results`.

use std::collections::BTreeMap;

use caseledger_domain::appraisal::{
    AppraisalEvent, AppraisalResults, CampaignDefinition, CampaignStatus, RectificationStatus,
};
use caseledger_domain::kpi::DepartmentKpi;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Bind, Database, StoreError};
use crate::documents::{Column, Document, DocumentProjection, Table};
use crate::feed::FeedEvent;

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

/// The `appraisals` projection.
#[derive(Debug, Default, Clone, Copy)]
pub struct AppraisalsProjection;

impl DocumentProjection for AppraisalsProjection {
    const NAME: &'static str = "appraisals";
    type Documents = CampaignView;
}

impl Document for CampaignView {
    type Event = AppraisalEvent;
    const AGGREGATE_TYPE: &'static str = AGGREGATE_TYPE;
    const TABLE: Table = Table::new("appraisal_view", "campaign_id")
        .numbered()
        .versioned()
        .with_columns(&[Column::new("status")]);

    fn create(_: &FeedEvent, event: &AppraisalEvent) -> Result<Self, &'static str> {
        let AppraisalEvent::CampaignCreated {
            campaign_id,
            definition,
            created_at,
            ..
        } = event
        else {
            return Err("event for a campaign that was never created");
        };
        Ok(Self {
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

    fn evolve(&mut self, feed: &FeedEvent, event: &AppraisalEvent) {
        self.version = feed.sequence;
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

    fn columns(&self, row: &mut Vec<Bind>) {
        row.push(Bind::Text(self.status.as_str().to_owned()));
    }
}

impl CampaignView {
    fn item(&mut self, item_id: &str) -> Option<&mut RectificationView> {
        self.rectifications
            .iter_mut()
            .find(|item| item.item_id == item_id)
    }
}

impl Database {
    /// One campaign.
    pub async fn campaign_view(
        &self,
        campaign_id: &str,
    ) -> Result<Option<CampaignView>, StoreError> {
        self.document(campaign_id).await
    }

    /// Every campaign, newest first (at most 200).
    pub async fn list_campaigns(&self) -> Result<Vec<CampaignView>, StoreError> {
        self.documents(
            "SELECT document FROM appraisal_view ORDER BY list_order DESC LIMIT 200",
            &[],
        )
        .await
    }
}

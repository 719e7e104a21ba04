//! The full history of one stream, read straight from the events table (no projection needed:
//! the log is the source of truth and is always complete).

use crate::db::{Database, StoreError};
use crate::feed::{columns, decode_event, FeedEvent};

impl Database {
    /// Every event of one aggregate, in sequence order.
    pub async fn stream_history(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let sql = format!(
            "SELECT {} FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
            columns(self)
        );
        let events = with_pool!(self, |pool| {
            let rows = sqlx::query(&sql)
                .bind(aggregate_type)
                .bind(aggregate_id)
                .fetch_all(pool)
                .await?;
            rows.iter().map(decode_event).collect::<Result<Vec<_>, _>>()
        })?;
        Ok(events)
    }
}

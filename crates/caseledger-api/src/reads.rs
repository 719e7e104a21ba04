//! Helpers shared by read endpoints: read-your-writes waits on a named projection, and times and
//! dates in their wire forms.

use std::time::Duration;

use caseledger_store::projector::CatchUp;
use chrono::{DateTime, NaiveDate, Utc};

use crate::codes::ErrorCode;
use crate::error::ApiError;
use crate::state::AppState;

/// How long a read with `min_position` waits for its projection at most.
const READ_YOUR_WRITES_TIMEOUT: Duration = Duration::from_secs(5);

/// Read-your-writes: wait until `projection` has applied `min_position` (400 for a position no
/// event has, 503 `projection_behind` when not reached in time).
pub async fn wait_for_projection(
    state: &AppState,
    projection: &str,
    min_position: Option<i64>,
) -> Result<(), ApiError> {
    let Some(position) = min_position else {
        return Ok(());
    };
    match state
        .projector
        .wait_for(projection, position, READ_YOUR_WRITES_TIMEOUT)
        .await?
    {
        CatchUp::Reached => Ok(()),
        CatchUp::UnknownPosition => Err(ApiError::new(
            ErrorCode::UnknownPosition,
            format!("no event has position {position}"),
        )),
        CatchUp::TimedOut => Err(ApiError::unavailable(
            ErrorCode::ProjectionBehind,
            "the view has not caught up with that position yet; retry shortly",
            1,
        )),
    }
}

/// An instant as RFC 3339 with microseconds, UTC.
pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Today in China Standard Time, the default reference date of portfolio reads.
pub fn china_today(now: DateTime<Utc>) -> NaiveDate {
    caseledger_domain::portfolio::china_date(now)
}

/// Parses an optional `as_of` query parameter (`YYYY-MM-DD`); absent means today in China.
pub fn as_of(text: Option<&str>, now: DateTime<Utc>) -> Result<NaiveDate, ApiError> {
    match text {
        None => Ok(china_today(now)),
        Some(text) => crate::fields::parse_date(text)
            .map_err(|message| ApiError::new(ErrorCode::InvalidQuery, format!("as_of {message}"))),
    }
}

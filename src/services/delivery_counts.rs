//! What `/metrics` reads from the database on each scrape: deliveries by status, the
//! queue's depth and the installations Slack stopped accepting; and how many stored values
//! could not be read back.

use super::Services;
use crate::db::models::delivery::Delivery;
use crate::db::models::installation::Installation;
use crate::db::DbError;

/// The database's figures at one moment.
pub struct DeliveryCounts {
    /// `(status, count)` for each status that has deliveries.
    pub by_status: Vec<(String, i64)>,
    pub pending: i64,
    pub failing_installations: i64,
}

/// Counts them (three small aggregate queries on one connection).
pub async fn count(services: &Services) -> Result<DeliveryCounts, DbError> {
    services
        .db
        .run(|conn| {
            Ok(DeliveryCounts {
                by_status: Delivery::count_by_status(conn)?,
                pending: Delivery::count_pending(conn)?,
                failing_installations: Installation::count_failing(conn)?,
            })
        })
        .await
}

/// Stored values that could not be read back or written, in this process so far
/// (`db::unreadable`).
pub fn unreadable_values() -> u64 {
    crate::db::unreadable::unreadable_count()
}

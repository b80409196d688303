//! Claiming what the sender may send now: the oldest pending delivery of each channel,
//! due and allowed by the channel's pacing, leased to this instance; superseded
//! intermediate reports are skipped first.

use super::SenderDeps;
use crate::db::models::delivery::Delivery;
use crate::db::{now, write_tx, DbConnection, DbError};

/// Claims what may be sent now (oldest per channel, paced), skipping superseded reports.
pub async fn claim(deps: &SenderDeps, limit: usize) -> Result<Vec<Delivery>, DbError> {
    let config = deps.config.clone();
    deps.db
        .run(move |conn| {
            let now = now();
            if Delivery::has_superseded(conn)? {
                write_tx(conn, |c| Delivery::skip_superseded(c, now))?;
            }
            let (lease, pacing, limit) = (config.lease, config.pacing, limit as i64);
            let claimed = match conn {
                // One instance: find candidates without holding the write lock, then claim.
                DbConnection::Sqlite(_) => {
                    let candidates = Delivery::claimable(conn, now, pacing, limit)?;
                    if candidates.is_empty() {
                        return Ok(candidates);
                    }
                    write_tx(conn, |c| {
                        Delivery::claim(c, candidates, now, lease, &config.instance, pacing)
                    })?
                }
                // Several instances: lock what we claim, skip what others are claiming.
                DbConnection::Postgresql(_) => write_tx(conn, |c| {
                    let candidates = Delivery::claimable(c, now, pacing, limit)?;
                    Delivery::claim(c, candidates, now, lease, &config.instance, pacing)
                })?,
            };
            Ok(claimed)
        })
        .await
}

//! The lifecycle of a delivery row, the one home of its status transitions: queued
//! `pending` (or `skipped` on arrival), claimed with a lease, then `sent`, rescheduled,
//! `failed`, or handed back. Each update names the status it expects and says whether it
//! applied: a row another path settled meanwhile is left alone, and the lost race logged.
//! No SQL outside this module (this file and its `claim`) names a status.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text, Timestamp};

use super::{Delivery, DeliveryStatus, NewDelivery};
use crate::db::schema::deliveries;
use crate::db::unreadable::note_unreadable;
use crate::db::{on_each_backend, CachedDsl, DbConnection};
use crate::domain::delivery_reason::DeliveryReason;

/// The stored text of `pending`, for hand-written SQL elsewhere (`concat!`-able).
macro_rules! pending_status {
    () => {
        "'pending'"
    };
}
pub(crate) use pending_status;

/// `status = 'pending'`, written as a literal: with a bound parameter SQLite re-prepares
/// the statement on every execution to decide whether the partial indexes on pending
/// deliveries apply (the profile of `xtc-slack-bench` showed a quarter of the server's
/// CPU in SQLite's parser before this).
pub(super) fn is_pending() -> diesel::expression::SqlLiteral<Bool> {
    diesel::dsl::sql::<Bool>(concat!("status = ", pending_status!()))
}

mod claim;
pub use claim::ClaimedHead;

/// Logs an update that found its row no longer in the state it expected.
fn applied(n: usize, id: i64, what: &str) -> bool {
    if n == 0 {
        tracing::warn!(
            delivery_id = id,
            what,
            "delivery already settled; left as it is"
        );
    }
    n > 0
}

/// `reason` as stored in the `reason` column (a reason that cannot be written is logged
/// and counted; its text still goes into `error`).
fn stored(reason: &DeliveryReason) -> Option<String> {
    reason
        .to_stored()
        .map_err(|e| note_unreadable("deliveries.reason", &e))
        .ok()
}

impl Delivery {
    /// Why this delivery is not sent (yet): its stored code and parameters, or for a row
    /// written before they were stored, its `error` text read the old way. An unreadable
    /// stored reason is logged and counted, and the text is read instead.
    pub fn why(&self) -> Option<DeliveryReason> {
        self.reason
            .as_deref()
            .and_then(|r| {
                DeliveryReason::from_stored(r)
                    .map_err(|e| note_unreadable("deliveries.reason", &e))
                    .ok()
            })
            .or_else(|| self.error.as_deref().map(DeliveryReason::parse))
    }
}

/// The columns of a row settled as `status` for `reason` (skipped or failed).
type SettledAs = (
    diesel::dsl::Eq<deliveries::status, DeliveryStatus>,
    diesel::dsl::Eq<deliveries::error, String>,
    diesel::dsl::Eq<deliveries::reason, Option<String>>,
);

fn settled_as(status: DeliveryStatus, reason: &DeliveryReason) -> SettledAs {
    (
        deliveries::status.eq(status),
        deliveries::error.eq(reason.to_string()),
        deliveries::reason.eq(stored(reason)),
    )
}

/// Updates the pending row `$id` with `$set`: whether it applied (a lost race is logged).
macro_rules! update_pending {
    ($conn:expr, $id:expr, $what:literal, $set:expr) => {{
        let n = diesel::update(deliveries::table.find($id).filter(is_pending()))
            .set($set)
            .returning(deliveries::id)
            .cached()
            .load::<i64>($conn)?
            .len();
        Ok(applied(n, $id, $what))
    }};
}

impl NewDelivery {
    /// Queues the row `pending` but held by `hold` (not claimable until the hold is settled),
    /// with `reason` saying why in the log.
    pub fn hold(&mut self, hold: i64, reason: &DeliveryReason) {
        self.hold_id = Some(hold);
        self.error = Some(reason.to_string());
        self.reason = stored(reason);
    }

    /// Queues the row as `skipped` for `reason` instead of `pending` (decided on arrival).
    pub fn skip(&mut self, reason: &DeliveryReason) {
        self.status = DeliveryStatus::Skipped;
        self.error = Some(reason.to_string());
        self.reason = stored(reason);
    }
}

impl Delivery {
    /// Skips intermediate reports that a newer pending one of the same load test in the
    /// same channel supersedes (only happens while the channel has a backlog).
    pub fn skip_superseded(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
        // Backend-specific SQL (placeholders differ); the statement itself is portable.
        const SQL: &str = concat!(
            "UPDATE deliveries SET status = 'skipped', error = {error}, reason = {reason} \
             WHERE status = ",
            pending_status!(),
            " AND event_type = 'intermediate_report' \
             AND (claimed_until IS NULL OR claimed_until < {now}) \
             AND EXISTS (SELECT 1 FROM deliveries n WHERE n.status = ",
            pending_status!(),
            " AND n.event_type = 'intermediate_report' AND n.subject_key = deliveries.subject_key \
               AND n.team_id = deliveries.team_id AND n.channel = deliveries.channel \
               AND n.id > deliveries.id)"
        );
        let error = DeliveryReason::Superseded.to_string();
        let reason = stored(&DeliveryReason::Superseded);
        let sql = |p: [&str; 3]| {
            SQL.replace("{error}", p[0])
                .replace("{reason}", p[1])
                .replace("{now}", p[2])
        };
        match conn {
            DbConnection::Sqlite(c) => diesel::sql_query(sql(["?1", "?2", "?3"]))
                .bind::<Text, _>(error)
                .bind::<Nullable<Text>, _>(reason)
                .bind::<Timestamp, _>(now)
                .execute(c),
            DbConnection::Postgresql(c) => diesel::sql_query(sql(["$1", "$2", "$3"]))
                .bind::<Text, _>(error)
                .bind::<Nullable<Text>, _>(reason)
                .bind::<Timestamp, _>(now)
                .execute(c),
        }
    }

    /// Whether some pending intermediate report is superseded by a newer one (a cheap
    /// read on a partial index, so [`Delivery::skip_superseded`] runs only when needed).
    pub fn has_superseded(conn: &mut DbConnection) -> QueryResult<bool> {
        diesel::select(diesel::dsl::sql::<Bool>(concat!(
            "EXISTS (SELECT 1 FROM deliveries o WHERE o.status = ",
            pending_status!(),
            " AND o.event_type = 'intermediate_report' AND EXISTS (SELECT 1 FROM deliveries n \
                 WHERE n.status = ",
            pending_status!(),
            " AND n.event_type = 'intermediate_report' \
                 AND n.subject_key = o.subject_key AND n.team_id = o.team_id \
                 AND n.channel = o.channel AND n.id > o.id))"
        )))
        .cached()
        .get_result(conn)
    }

    /// Marks the deliveries merged into a digest sent with the digest's `ts` (only those
    /// still pending).
    pub fn mark_sent_many(
        conn: &mut DbConnection,
        ids: &[i64],
        ts: &str,
        at: NaiveDateTime,
    ) -> QueryResult<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        diesel::update(
            deliveries::table
                .filter(deliveries::id.eq_any(ids))
                .filter(is_pending()),
        )
        .set((
            deliveries::status.eq(DeliveryStatus::Sent),
            deliveries::slack_ts.eq(ts),
            deliveries::sent_at.eq(at),
            deliveries::error.eq(None::<String>),
            deliveries::reason.eq(None::<String>),
            deliveries::attempts.eq(deliveries::attempts + 1),
        ))
        .execute(conn)
    }

    /// A claimed delivery went out as Slack message `ts`. Slack took it, so it is recorded
    /// as sent also when a concurrent path failed it while the post was in flight (an
    /// installation revoked meanwhile fails its pending deliveries): the log must not claim
    /// a failure for a message the channel shows. `false`: it was sent already (by another
    /// instance, after this claim's lease ran out) or skipped.
    pub fn mark_sent(
        conn: &mut DbConnection,
        id: i64,
        ts: &str,
        at: NaiveDateTime,
    ) -> QueryResult<bool> {
        let n = on_each_backend!(conn, c => diesel::update(
            deliveries::table
                .find(id)
                .filter(deliveries::status.ne(DeliveryStatus::Sent))
                .filter(deliveries::status.ne(DeliveryStatus::Skipped)),
        )
        .set((
            deliveries::status.eq(DeliveryStatus::Sent),
            deliveries::slack_ts.eq(ts),
            deliveries::sent_at.eq(at),
            deliveries::error.eq(None::<String>),
            deliveries::reason.eq(None::<String>),
            deliveries::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .returning(deliveries::id)
        .cached()
        .load::<i64>(c))?
        .len();
        Ok(applied(n, id, "mark sent"))
    }

    /// A claimed delivery failed for good. `false`: it was no longer pending.
    pub fn mark_failed(
        conn: &mut DbConnection,
        id: i64,
        reason: &DeliveryReason,
    ) -> QueryResult<bool> {
        update_pending!(
            conn,
            id,
            "mark failed",
            (
                deliveries::status.eq(DeliveryStatus::Failed),
                deliveries::error.eq(reason.to_string()),
                deliveries::reason.eq(stored(reason)),
                deliveries::claimed_until.eq(None::<NaiveDateTime>),
            )
        )
    }

    /// Puts a claimed delivery back with a new due time (retry later). `false`: it was no
    /// longer pending.
    pub fn reschedule(
        conn: &mut DbConnection,
        id: i64,
        at: NaiveDateTime,
        reason: &DeliveryReason,
    ) -> QueryResult<bool> {
        update_pending!(
            conn,
            id,
            "reschedule",
            (
                deliveries::next_attempt_at.eq(at),
                deliveries::error.eq(reason.to_string()),
                deliveries::reason.eq(stored(reason)),
                deliveries::claimed_until.eq(None::<NaiveDateTime>),
            )
        )
    }

    /// Settles the pending rows held by `hold` as sendable now: no longer held, due `at`,
    /// no reason. Returns how many.
    pub fn release_held(
        conn: &mut DbConnection,
        hold: i64,
        at: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            deliveries::table
                .filter(is_pending())
                .filter(deliveries::hold_id.eq(hold)),
        )
        .set((
            deliveries::hold_id.eq(None::<i64>),
            deliveries::next_attempt_at.eq(at),
            deliveries::error.eq(None::<String>),
            deliveries::reason.eq(None::<String>),
        ))
        .execute(conn)
    }

    /// Gives the pending rows held by `hold` a new `reason` (still pending, still held);
    /// rows that say so already are left alone. Returns how many changed.
    pub fn reword_held(
        conn: &mut DbConnection,
        hold: i64,
        reason: &DeliveryReason,
    ) -> QueryResult<usize> {
        let text = reason.to_string();
        diesel::update(
            deliveries::table
                .filter(is_pending())
                .filter(deliveries::hold_id.eq(hold))
                .filter(deliveries::error.ne(&text).or(deliveries::error.is_null())),
        )
        .set((
            deliveries::error.eq(&text),
            deliveries::reason.eq(stored(reason)),
        ))
        .execute(conn)
    }

    /// Settles the pending rows held by `hold` as `skipped` for `reason`. Returns how many.
    pub fn skip_held(
        conn: &mut DbConnection,
        hold: i64,
        reason: &DeliveryReason,
    ) -> QueryResult<usize> {
        diesel::update(
            deliveries::table
                .filter(is_pending())
                .filter(deliveries::hold_id.eq(hold)),
        )
        .set(settled_as(DeliveryStatus::Skipped, reason))
        .execute(conn)
    }

    /// Hands back a claim without counting the attempt (graceful shutdown).
    pub fn release(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
        diesel::update(deliveries::table.find(id).filter(is_pending()))
            .set((
                deliveries::claimed_until.eq(None::<NaiveDateTime>),
                deliveries::attempts.eq(deliveries::attempts - 1),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Hands back every claim (start-up of the single SQLite instance).
    pub fn release_all_claims(conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::update(
            deliveries::table
                .filter(is_pending())
                .filter(deliveries::claimed_until.is_not_null()),
        )
        .set(deliveries::claimed_until.eq(None::<NaiveDateTime>))
        .execute(conn)
    }

    /// Fails every pending delivery of a broken installation at once.
    pub fn fail_pending_for_installation(
        conn: &mut DbConnection,
        installation_id: &str,
        reason: &DeliveryReason,
    ) -> QueryResult<usize> {
        diesel::update(
            deliveries::table
                .filter(is_pending())
                .filter(deliveries::installation_id.eq(installation_id)),
        )
        .set((
            settled_as(DeliveryStatus::Failed, reason),
            deliveries::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
    }

    /// Fails the pending deliveries of one installation to one channel.
    pub fn fail_pending_in_channel(
        conn: &mut DbConnection,
        installation_id: &str,
        channel: &str,
        reason: &DeliveryReason,
    ) -> QueryResult<usize> {
        diesel::update(
            deliveries::table
                .filter(is_pending())
                .filter(deliveries::installation_id.eq(installation_id))
                .filter(deliveries::channel.eq(channel)),
        )
        .set((
            settled_as(DeliveryStatus::Failed, reason),
            deliveries::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
    }
}

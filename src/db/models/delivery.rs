//! `deliveries`: the outbox. One row per (event, target channel), written in the ingest
//! transaction; the SlackSender claims due rows, sends them, and records the outcome.
//!
//! Ordering: only the oldest pending delivery of a (workspace, channel) is ever claimed,
//! so messages of one channel go out in event order, across instances too.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Timestamp};

use crate::db::schema::{channel_pacing, deliveries};
use crate::db::{on_each_backend, CachedDsl, DbConnection, FirstRowDsl};

// The log's filter keeps its old path for the UI, which imports it from here.
pub use super::delivery_log::LogFilter;

/// Where a delivery stands. `pending` until it is sent, fails for good, or is skipped
/// (sending disabled, configuration incomplete, superseded report).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Sent,
    Failed,
    Skipped,
}

impl DeliveryStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::Sent, Self::Failed, Self::Skipped];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

crate::db::text_enum!(DeliveryStatus);

#[derive(Queryable, QueryableByName, Selectable, Debug, Clone)]
#[diesel(table_name = deliveries)]
pub struct Delivery {
    pub id: i64,
    pub event_id: String,
    pub org_id: String,
    pub project_id: String,
    pub subject_key: String,
    pub event_type: String,
    pub channel: String,
    pub channel_name: Option<String>,
    pub team_id: Option<String>,
    pub installation_id: Option<String>,
    pub threads: bool,
    pub compact: bool,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub error: Option<String>,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub claimed_by: Option<String>,
    pub slack_ts: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    /// Slack markup of who a notification rule pings in this message (first message of the
    /// event in this channel only).
    pub mention: Option<String>,
    /// The notification rule(s) that sent this delivery (`None`: a target channel).
    pub rule: Option<String>,
}

#[derive(Insertable, Debug, Clone)]
// None is a bound NULL, not DEFAULT: one SQL text per statement, so it stays prepared.
#[diesel(table_name = deliveries, treat_none_as_default_value = false)]
pub struct NewDelivery {
    pub event_id: String,
    pub org_id: String,
    pub project_id: String,
    pub subject_key: String,
    pub event_type: String,
    pub channel: String,
    pub channel_name: Option<String>,
    pub team_id: Option<String>,
    pub installation_id: Option<String>,
    pub threads: bool,
    pub compact: bool,
    pub status: DeliveryStatus,
    pub error: Option<String>,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub mention: Option<String>,
    pub rule: Option<String>,
}

/// How the sender paces one channel: a generic cell rate algorithm over
/// `channel_pacing.next_allowed_at` (the "theoretical arrival time").
#[derive(Clone, Copy, Debug)]
pub struct Pacing {
    /// Average spacing of messages in one channel.
    pub interval: chrono::Duration,
    /// How many messages may go out back to back after a quiet spell.
    pub burst: u32,
}

/// `status = 'pending'`, written as a literal: with a bound parameter SQLite re-prepares
/// the statement on every execution to decide whether the partial indexes on pending
/// deliveries apply (the profile of `xtc-slack-bench` showed a quarter of the server's
/// CPU in SQLite's parser before this).
fn is_pending() -> diesel::expression::SqlLiteral<Bool> {
    diesel::dsl::sql::<Bool>("status = 'pending'")
}

impl Pacing {
    fn tolerance(&self) -> chrono::Duration {
        self.interval * (self.burst.max(1) as i32 - 1)
    }
}

impl Delivery {
    pub fn insert_all(conn: &mut DbConnection, rows: &[NewDelivery]) -> QueryResult<()> {
        // One statement per row: MultiConnection has no portable batch insert.
        for row in rows {
            diesel::insert_into(deliveries::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(())
    }

    /// Inserts many outbox rows in as few statements as the backends' limits on bound
    /// values allow (one for a batch of ingested events).
    pub fn insert_many(conn: &mut DbConnection, rows: &[&NewDelivery]) -> QueryResult<()> {
        /// Rows per statement: about 20 values each, well within PostgreSQL's 65,535 and
        /// SQLite's 32,766 bound values per statement.
        const ROWS_PER_STATEMENT: usize = 1_000;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            on_each_backend!(conn, c => diesel::insert_into(deliveries::table)
                .values(chunk.iter().copied().cloned().collect::<Vec<_>>())
                .execute(c))?;
        }
        Ok(())
    }

    /// Number of deliveries waiting to be sent (the queue depth).
    pub fn count_pending(conn: &mut DbConnection) -> QueryResult<i64> {
        deliveries::table
            .filter(is_pending())
            .count()
            .cached()
            .get_result(conn)
    }

    /// Skips intermediate reports that a newer pending one of the same load test in the
    /// same channel supersedes (only happens while the channel has a backlog).
    pub fn skip_superseded(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
        // Backend-specific SQL (placeholders differ); the statement itself is portable.
        const SQL: &str = "UPDATE deliveries SET status = 'skipped', \
             error = 'superseded by a newer intermediate report' \
             WHERE status = 'pending' AND event_type = 'intermediate_report' \
             AND (claimed_until IS NULL OR claimed_until < {now}) \
             AND EXISTS (SELECT 1 FROM deliveries n WHERE n.status = 'pending' \
               AND n.event_type = 'intermediate_report' AND n.subject_key = deliveries.subject_key \
               AND n.team_id = deliveries.team_id AND n.channel = deliveries.channel \
               AND n.id > deliveries.id)";
        match conn {
            DbConnection::Sqlite(c) => diesel::sql_query(SQL.replace("{now}", "?"))
                .bind::<Timestamp, _>(now)
                .execute(c),
            DbConnection::Postgresql(c) => diesel::sql_query(SQL.replace("{now}", "$1"))
                .bind::<Timestamp, _>(now)
                .execute(c),
        }
    }

    /// Whether some pending intermediate report is superseded by a newer one (a cheap
    /// read on a partial index, so [`Delivery::skip_superseded`] runs only when needed).
    pub fn has_superseded(conn: &mut DbConnection) -> QueryResult<bool> {
        diesel::select(diesel::dsl::sql::<Bool>(
            "EXISTS (SELECT 1 FROM deliveries o WHERE o.status = 'pending' \
               AND o.event_type = 'intermediate_report' AND EXISTS (SELECT 1 FROM deliveries n \
                 WHERE n.status = 'pending' AND n.event_type = 'intermediate_report' \
                 AND n.subject_key = o.subject_key AND n.team_id = o.team_id \
                 AND n.channel = o.channel AND n.id > o.id))",
        ))
        .cached()
        .get_result(conn)
    }

    /// Up to `limit` deliveries that may be sent now: each the oldest pending one of its
    /// channel, due, not claimed by anyone, and allowed by the channel's pacing.
    ///
    /// Backend-specific SQL. SQLite (one instance): a plain read over the partial index of
    /// pending heads, outside any write transaction; [`Delivery::claim`] then re-checks each
    /// row. PostgreSQL (several instances): call inside `write_tx`; the rows are locked and
    /// rows another instance is claiming right now are skipped.
    pub fn claimable(
        conn: &mut DbConnection,
        now: NaiveDateTime,
        pacing: Pacing,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        let allowed_until = now + pacing.tolerance();
        match conn {
            DbConnection::Sqlite(c) => diesel::sql_query(
                "SELECT d.* FROM (SELECT MIN(id) AS head FROM deliveries WHERE status = 'pending' \
                   GROUP BY team_id, channel) h \
                 JOIN deliveries d ON d.id = h.head \
                 LEFT JOIN channel_pacing p ON p.team_id = d.team_id AND p.channel = d.channel \
                 WHERE d.next_attempt_at <= ?1 \
                 AND (d.claimed_until IS NULL OR d.claimed_until < ?1) \
                 AND (p.next_allowed_at IS NULL OR p.next_allowed_at <= ?2) \
                 ORDER BY d.id LIMIT ?3",
            )
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(allowed_until)
            .bind::<BigInt, _>(limit)
            .load(c),
            // The heads come from a skip scan of the partial index of pending deliveries:
            // one index probe per channel, where a correlated `MIN(id)` per pending row
            // cost O(backlog) per claim (137 ms each with 20,000 pending in the bench).
            // The rows are then locked by primary key (`= ANY(ARRAY(...))`), a plan that
            // does not depend on table statistics (a young table's made PostgreSQL hash
            // the whole backlog).
            DbConnection::Postgresql(c) => diesel::sql_query(
                "WITH RECURSIVE heads AS ( \
                   (SELECT id, team_id, channel, next_attempt_at, claimed_until FROM deliveries \
                    WHERE status = 'pending' ORDER BY team_id, channel, id LIMIT 1) \
                   UNION ALL \
                   SELECT n.* FROM heads h CROSS JOIN LATERAL \
                     (SELECT id, team_id, channel, next_attempt_at, claimed_until FROM deliveries \
                      WHERE status = 'pending' AND (team_id, channel) > (h.team_id, h.channel) \
                      ORDER BY team_id, channel, id LIMIT 1) n) \
                 SELECT d.* FROM deliveries d WHERE d.id = ANY(ARRAY( \
                   SELECT h.id FROM heads h \
                   LEFT JOIN channel_pacing p ON p.team_id = h.team_id AND p.channel = h.channel \
                   WHERE h.next_attempt_at <= $1 \
                   AND (h.claimed_until IS NULL OR h.claimed_until < $1) \
                   AND (p.next_allowed_at IS NULL OR p.next_allowed_at <= $2) \
                   ORDER BY h.id LIMIT $3)) \
                 AND d.status = 'pending' AND (d.claimed_until IS NULL OR d.claimed_until < $1) \
                 ORDER BY d.id FOR UPDATE OF d SKIP LOCKED",
            )
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(allowed_until)
            .bind::<BigInt, _>(limit)
            .load(c),
        }
    }

    /// Claims `candidates` (from [`Delivery::claimable`]) with a lease and moves each
    /// channel's pacing forward; a candidate someone else claimed meanwhile is left out.
    /// Call inside `write_tx`.
    pub fn claim(
        conn: &mut DbConnection,
        candidates: Vec<Self>,
        now: NaiveDateTime,
        lease: chrono::Duration,
        instance: &str,
        pacing: Pacing,
    ) -> QueryResult<Vec<Self>> {
        let mut claimed = Vec::with_capacity(candidates.len());
        for mut d in candidates {
            let n = diesel::update(
                deliveries::table.find(d.id).filter(is_pending()).filter(
                    deliveries::claimed_until
                        .is_null()
                        .or(deliveries::claimed_until.lt(now)),
                ),
            )
            .set((
                deliveries::claimed_until.eq(now + lease),
                deliveries::claimed_by.eq(instance),
                deliveries::attempts.eq(deliveries::attempts + 1),
            ))
            .returning(deliveries::id)
            .cached()
            .load::<i64>(conn)?
            .len();
            if n == 0 {
                continue;
            }
            let team = d.team_id.as_deref().unwrap_or_default();
            advance_pacing(conn, team, &d.channel, now, pacing.interval)?;
            d.attempts += 1;
            claimed.push(d);
        }
        Ok(claimed)
    }

    /// The pending deliveries queued behind `head` in its channel, due by `now`, oldest
    /// first, at most `limit`; stops at the first that is not due or claimed (so what is
    /// taken keeps the channel's order).
    pub fn pending_behind(
        conn: &mut DbConnection,
        head: &Self,
        now: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        let rows: Vec<Self> = deliveries::table
            .filter(is_pending())
            .filter(deliveries::team_id.eq(&head.team_id))
            .filter(deliveries::channel.eq(&head.channel))
            .filter(deliveries::id.gt(head.id))
            .order(deliveries::id.asc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)?;
        Ok(rows
            .into_iter()
            .take_while(|d| {
                d.next_attempt_at <= now && d.claimed_until.is_none_or(|until| until < now)
            })
            .collect())
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
            deliveries::attempts.eq(deliveries::attempts + 1),
        ))
        .execute(conn)
    }

    pub fn mark_sent(
        conn: &mut DbConnection,
        id: i64,
        ts: &str,
        at: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(deliveries::table.find(id))
            .set((
                deliveries::status.eq(DeliveryStatus::Sent),
                deliveries::slack_ts.eq(ts),
                deliveries::sent_at.eq(at),
                deliveries::error.eq(None::<String>),
                deliveries::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .returning(deliveries::id)
            .cached()
            .load::<i64>(conn)?;
        Ok(())
    }

    pub fn mark_failed(conn: &mut DbConnection, id: i64, error: &str) -> QueryResult<()> {
        diesel::update(deliveries::table.find(id))
            .set((
                deliveries::status.eq(DeliveryStatus::Failed),
                deliveries::error.eq(error),
                deliveries::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .returning(deliveries::id)
            .cached()
            .load::<i64>(conn)?;
        Ok(())
    }

    /// Puts a claimed delivery back with a new due time (retry later).
    pub fn reschedule(
        conn: &mut DbConnection,
        id: i64,
        at: NaiveDateTime,
        error: &str,
    ) -> QueryResult<()> {
        diesel::update(deliveries::table.find(id))
            .set((
                deliveries::next_attempt_at.eq(at),
                deliveries::error.eq(error),
                deliveries::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .returning(deliveries::id)
            .cached()
            .load::<i64>(conn)?;
        Ok(())
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
        reason: &str,
    ) -> QueryResult<usize> {
        diesel::update(
            deliveries::table
                .filter(is_pending())
                .filter(deliveries::installation_id.eq(installation_id)),
        )
        .set((
            deliveries::status.eq(DeliveryStatus::Failed),
            deliveries::error.eq(reason),
            deliveries::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
    }

    /// Hands the pending deliveries of installation `from` to its replacement `to` (in
    /// workspace `team`); with `readdress = (old, new address, new name)` only those to
    /// channel `old`, re-addressed. Claims in flight keep their lease.
    pub fn hand_over_pending(
        conn: &mut DbConnection,
        from: &str,
        to: &str,
        team: &str,
        readdress: Option<(&str, &str, &str)>,
    ) -> QueryResult<usize> {
        let pending = deliveries::table
            .filter(is_pending())
            .filter(deliveries::installation_id.eq(from));
        match readdress {
            None => diesel::update(pending)
                .set((
                    deliveries::installation_id.eq(to),
                    deliveries::team_id.eq(team),
                ))
                .execute(conn),
            Some((old, address, name)) => {
                diesel::update(pending.filter(deliveries::channel.eq(old)))
                    .set((
                        deliveries::installation_id.eq(to),
                        deliveries::team_id.eq(team),
                        deliveries::channel.eq(address),
                        deliveries::channel_name.eq(name),
                    ))
                    .execute(conn)
            }
        }
    }

    /// Makes an installation's waiting deliveries due now (Slack recovered from an outage).
    pub fn wake_pending_for_installation(
        conn: &mut DbConnection,
        installation_id: &str,
        at: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            deliveries::table
                .filter(is_pending())
                .filter(deliveries::installation_id.eq(installation_id))
                .filter(deliveries::next_attempt_at.gt(at)),
        )
        .set(deliveries::next_attempt_at.eq(at))
        .execute(conn)
    }

    /// The distinct channels (address, name) of an installation's pending deliveries.
    pub fn pending_channels_of(
        conn: &mut DbConnection,
        installation_id: &str,
    ) -> QueryResult<Vec<(String, Option<String>)>> {
        deliveries::table
            .filter(is_pending())
            .filter(deliveries::installation_id.eq(installation_id))
            .select((deliveries::channel, deliveries::channel_name))
            .distinct()
            .load(conn)
    }

    /// Fails the pending deliveries of one installation to one channel.
    pub fn fail_pending_in_channel(
        conn: &mut DbConnection,
        installation_id: &str,
        channel: &str,
        reason: &str,
    ) -> QueryResult<usize> {
        diesel::update(
            deliveries::table
                .filter(is_pending())
                .filter(deliveries::installation_id.eq(installation_id))
                .filter(deliveries::channel.eq(channel)),
        )
        .set((
            deliveries::status.eq(DeliveryStatus::Failed),
            deliveries::error.eq(reason),
            deliveries::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
    }

    /// Counts deliveries per status (for metrics).
    pub fn count_by_status(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
        deliveries::table
            .group_by(deliveries::status)
            .select((deliveries::status, diesel::dsl::count_star()))
            .load(conn)
    }
}

/// Moves a channel's theoretical arrival time one interval forward.
fn advance_pacing(
    conn: &mut DbConnection,
    team: &str,
    channel: &str,
    now: NaiveDateTime,
    interval: chrono::Duration,
) -> QueryResult<()> {
    let current: Option<NaiveDateTime> = channel_pacing::table
        .find((team, channel))
        .select(channel_pacing::next_allowed_at)
        .first_row(conn)
        .optional()?;
    let next = current.map_or(now, |t| t.max(now)) + interval;
    set_pacing(conn, team, channel, current.is_some(), next)
}

fn set_pacing(
    conn: &mut DbConnection,
    team: &str,
    channel: &str,
    exists: bool,
    next: NaiveDateTime,
) -> QueryResult<()> {
    if exists {
        diesel::update(channel_pacing::table.find((team, channel)))
            .set(channel_pacing::next_allowed_at.eq(next))
            .returning(channel_pacing::next_allowed_at)
            .cached()
            .load::<NaiveDateTime>(conn)?;
    } else {
        diesel::insert_into(channel_pacing::table)
            .values((
                channel_pacing::team_id.eq(team),
                channel_pacing::channel.eq(channel),
                channel_pacing::next_allowed_at.eq(next),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// After a 429: nothing more goes to this channel before `until` (no burst either).
pub fn block_channel(
    conn: &mut DbConnection,
    team: &str,
    channel: &str,
    until: NaiveDateTime,
    pacing: Pacing,
) -> QueryResult<()> {
    let exists = channel_pacing::table
        .find((team, channel))
        .select(channel_pacing::channel)
        .first::<String>(conn)
        .optional()?
        .is_some();
    set_pacing(conn, team, channel, exists, until + pacing.tolerance())
}

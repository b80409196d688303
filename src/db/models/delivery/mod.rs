//! `deliveries`: the outbox's rows and the reads of it. One row per (event, target
//! channel), written in the ingest transaction; the SlackSender claims due rows, sends them,
//! and records the outcome. Every change of a row's status goes through [`lifecycle`];
//! the pacing of channels is kept in `channel_pacing` ([`channel_pacing`]).
//!
//! Ordering: only the oldest pending delivery of a (workspace, channel) is ever claimed,
//! so messages of one channel go out in event order, across instances too.

mod channel_pacing;
mod lifecycle;
pub use lifecycle::ClaimedHead;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::deliveries;
use crate::db::{on_each_backend, CachedDsl, DbConnection, LimitLiteralDsl};

pub use channel_pacing::block_channel;
use lifecycle::is_pending;
pub(crate) use lifecycle::pending_status;

// The log's filter keeps its old path for the UI, which imports it from here.
pub use super::delivery_log::LogFilter;

pub use crate::domain::delivery_status::DeliveryStatus;

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
    /// Why it is not sent (yet): `DeliveryReason` as a code plus its parameters (JSON);
    /// `error` holds its text. `None` on sent rows and on rows older than the column.
    pub reason: Option<String>,
    /// The hold (`holds`) keeping this pending row from being sent until it is settled.
    pub hold_id: Option<i64>,
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
    /// See [`Delivery::reason`]; set with `error` by [`NewDelivery::skip`].
    pub reason: Option<String>,
    /// See [`Delivery::hold_id`]; set by [`NewDelivery::hold`].
    pub hold_id: Option<i64>,
}

/// What of an outbox row loading and rendering its message read: whose it is, where it
/// goes and how it looks. A claimed row's ([`Delivery::address`]), or that of a row its
/// event's transaction is about to write ([`NewDelivery::address`], for a message rendered
/// while the transaction still writes: `pipeline::deliver::prerender`).
#[derive(Debug, Clone, Copy)]
pub struct Address<'a> {
    pub org_id: &'a str,
    pub project_id: &'a str,
    pub installation_id: Option<&'a str>,
    pub subject_key: &'a str,
    pub channel: &'a str,
    pub threads: bool,
    pub compact: bool,
}

/// The [`Address`] of a row of either shape.
macro_rules! address_of {
    ($row:expr) => {
        Address {
            org_id: &$row.org_id,
            project_id: &$row.project_id,
            installation_id: $row.installation_id.as_deref(),
            subject_key: &$row.subject_key,
            channel: &$row.channel,
            threads: $row.threads,
            compact: $row.compact,
        }
    };
}

impl Delivery {
    /// See [`Address`].
    pub fn address(&self) -> Address<'_> {
        address_of!(self)
    }
}

impl NewDelivery {
    /// See [`Address`].
    pub fn address(&self) -> Address<'_> {
        address_of!(self)
    }
}

impl Delivery {
    pub fn insert_all(conn: &mut DbConnection, rows: &[NewDelivery]) -> QueryResult<()> {
        // One statement per row, on the backend's own connection (`db::on_each_backend`).
        for row in rows {
            on_each_backend!(conn, c => diesel::insert_into(deliveries::table)
                .values(row)
                .execute(c))?;
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

    /// The distinct targets (workspace, channel, shown name) of the pending rows held by
    /// `hold`.
    pub fn held_targets(
        conn: &mut DbConnection,
        hold: i64,
    ) -> QueryResult<Vec<(String, String, Option<String>)>> {
        let rows: Vec<(Option<String>, String, Option<String>)> = deliveries::table
            .filter(is_pending())
            .filter(deliveries::hold_id.eq(hold))
            .filter(deliveries::channel.ne(""))
            .select((
                deliveries::team_id,
                deliveries::channel,
                deliveries::channel_name,
            ))
            .distinct()
            .load(conn)?;
        let mut targets: Vec<(String, String, Option<String>)> = rows
            .into_iter()
            .map(|(team, channel, name)| (team.unwrap_or_default(), channel, name))
            .collect();
        targets.sort();
        targets.dedup_by(|a, b| (&a.0, &a.1) == (&b.0, &b.1));
        Ok(targets)
    }

    /// Number of deliveries waiting to be sent (the queue depth).
    pub fn count_pending(conn: &mut DbConnection) -> QueryResult<i64> {
        deliveries::table
            .filter(is_pending())
            .count()
            .cached()
            .get_result(conn)
    }

    /// The pending deliveries queued behind `head` in its channel, due by `now`, oldest
    /// first, at most `limit`; stops at the first that is not due or claimed (so what is
    /// taken keeps the channel's order). Looked at for every delivery sent: a prepared
    /// statement (PostgreSQL parsed and planned it on every call before).
    pub fn pending_behind(
        conn: &mut DbConnection,
        head: &Self,
        now: NaiveDateTime,
        limit: u32,
    ) -> QueryResult<Vec<Self>> {
        let rows: Vec<Self> = deliveries::table
            .filter(is_pending())
            .filter(deliveries::hold_id.is_null())
            .filter(deliveries::team_id.eq(&head.team_id))
            .filter(deliveries::channel.eq(&head.channel))
            .filter(deliveries::id.gt(head.id))
            .order(deliveries::id.asc())
            .select(Self::as_select())
            .limit_literal(limit)
            .cached()
            .load(conn)?;
        Ok(rows
            .into_iter()
            .take_while(|d| {
                d.next_attempt_at <= now && d.claimed_until.is_none_or(|until| until < now)
            })
            .collect())
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

    /// Counts deliveries per status (for metrics).
    pub fn count_by_status(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
        deliveries::table
            .group_by(deliveries::status)
            .select((deliveries::status, diesel::dsl::count_star()))
            .load(conn)
    }
}

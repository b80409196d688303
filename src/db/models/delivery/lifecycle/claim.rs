//! Claiming deliveries: which rows may go out now (each channel's oldest pending row that
//! is not held, due, unclaimed and within its channel's pace) and taking them with a lease,
//! by the sender's poll ([`Delivery::claimable`], [`Delivery::claim`]) or at commit by the
//! hand-off ([`Delivery::claim_heads`]). Part of the lifecycle: the statuses its SQL names
//! are the parent's.

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};

use super::super::{channel_pacing, Delivery};
use super::is_pending;
use crate::db::schema::deliveries;
use crate::db::{on_each_backend, CachedDsl, DbConnection};
use crate::domain::pacing::Pacing;

impl Delivery {
    /// Up to `limit` deliveries that may be sent now: each the oldest pending one of its
    /// channel that is not held, due, not claimed by anyone, and allowed by the channel's
    /// pacing. A held row (`hold_id`) is passed over, so it never blocks its channel; the
    /// heads come from the partial index `deliveries_sendable_head`, whose predicate the
    /// queries repeat word for word.
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
        let allowed_until = pacing.allowed_until(now);
        match conn {
            DbConnection::Sqlite(c) => diesel::sql_query(concat!(
                "SELECT d.* FROM (SELECT MIN(id) AS head FROM deliveries WHERE status = ",
                pending_status!(),
                " AND hold_id IS NULL GROUP BY team_id, channel) h \
                 JOIN deliveries d ON d.id = h.head \
                 LEFT JOIN channel_pacing p ON p.team_id = d.team_id AND p.channel = d.channel \
                 WHERE d.next_attempt_at <= ?1 \
                 AND (d.claimed_until IS NULL OR d.claimed_until < ?1) \
                 AND (p.next_allowed_at IS NULL OR p.next_allowed_at <= ?2) \
                 ORDER BY d.id LIMIT ?3"
            ))
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
            DbConnection::Postgresql(c) => diesel::sql_query(concat!(
                "WITH RECURSIVE heads AS ( \
                   (SELECT id, team_id, channel, next_attempt_at, claimed_until FROM deliveries \
                    WHERE status = ",
                pending_status!(),
                " AND hold_id IS NULL ORDER BY team_id, channel, id LIMIT 1) \
                   UNION ALL \
                   SELECT n.* FROM heads h CROSS JOIN LATERAL \
                     (SELECT id, team_id, channel, next_attempt_at, claimed_until FROM deliveries \
                      WHERE status = ",
                pending_status!(),
                " AND hold_id IS NULL AND (team_id, channel) > (h.team_id, h.channel) \
                      ORDER BY team_id, channel, id LIMIT 1) n) \
                 SELECT d.* FROM deliveries d WHERE d.id = ANY(ARRAY( \
                   SELECT h.id FROM heads h \
                   LEFT JOIN channel_pacing p ON p.team_id = h.team_id AND p.channel = h.channel \
                   WHERE h.next_attempt_at <= $1 \
                   AND (h.claimed_until IS NULL OR h.claimed_until < $1) \
                   AND (p.next_allowed_at IS NULL OR p.next_allowed_at <= $2) \
                   ORDER BY h.id LIMIT $3)) \
                 AND d.status = ",
                pending_status!(),
                " AND (d.claimed_until IS NULL OR d.claimed_until < $1) \
                 ORDER BY d.id FOR UPDATE OF d SKIP LOCKED"
            ))
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(allowed_until)
            .bind::<BigInt, _>(limit)
            .load(c),
        }
    }

    /// The hand-off (`pipeline::writer`): inside the ingest transaction that just queued
    /// deliveries into `channels` (workspace, channel), claims each channel's head the way
    /// [`Delivery::claimable`] and [`Delivery::claim`] would (oldest pending and not held,
    /// due, unclaimed, allowed by the channel's pacing), so the sender gets it in memory
    /// once the transaction commits instead of claiming it in a transaction of its own. A
    /// channel whose head is not claimable now (a backlog, a retry, pacing, an intermediate
    /// report a newer one supersedes) is left to the sender's claim.
    ///
    /// PostgreSQL (several instances): a channel is only looked at under a transaction-level
    /// advisory lock taken without waiting, and its head is locked with `SKIP LOCKED`, so two
    /// ingests into one idle channel never both claim (the one that does not get the lock
    /// leaves its row to the sender), and neither waits for the other or for a claimer.
    pub fn claim_heads(
        conn: &mut DbConnection,
        channels: &[(String, String)],
        now: NaiveDateTime,
        lease: chrono::Duration,
        instance: &str,
        pacing: Pacing,
    ) -> QueryResult<Vec<ClaimedHead>> {
        // `{p1}`..`{p4}`: workspace, channel, now, latest allowed pacing TAT. PostgreSQL
        // takes the channel's advisory lock in the same statement (`{lock}`, a CTE, so it is
        // evaluated once; a volatile function keeps it from being inlined).
        const SQL: &str = concat!(
            "{lock}SELECT d.*, p.next_allowed_at AS pacing_tat, EXISTS (SELECT 1 FROM deliveries b \
             WHERE b.status = ",
            pending_status!(),
            " AND b.hold_id IS NULL AND b.team_id = d.team_id AND b.channel = d.channel \
             AND b.id > d.id) AS queued_behind FROM {from} \
             LEFT JOIN channel_pacing p ON p.team_id = d.team_id AND p.channel = d.channel \
             WHERE {locked}d.id = (SELECT MIN(id) FROM deliveries WHERE status = ",
            pending_status!(),
            " AND hold_id IS NULL AND team_id = {p1} AND channel = {p2}) \
             AND d.next_attempt_at <= {p3} \
             AND (d.claimed_until IS NULL OR d.claimed_until < {p3}) \
             AND (p.next_allowed_at IS NULL OR p.next_allowed_at <= {p4}) \
             AND NOT (d.event_type = 'intermediate_report' AND EXISTS (SELECT 1 FROM deliveries n \
               WHERE n.status = ",
            pending_status!(),
            " AND n.event_type = 'intermediate_report' AND n.subject_key = d.subject_key \
               AND n.team_id = d.team_id AND n.channel = d.channel AND n.id > d.id))"
        );
        static SQLITE: LazyLock<String> = LazyLock::new(|| {
            SQL.replace("{lock}", "")
                .replace("{from}", "deliveries d")
                .replace("{locked}", "")
                .replace("{p1}", "?1")
                .replace("{p2}", "?2")
                .replace("{p3}", "?3")
                .replace("{p4}", "?4")
        });
        static POSTGRES: LazyLock<String> = LazyLock::new(|| {
            SQL.replace(
                "{lock}",
                "WITH l AS (SELECT pg_try_advisory_xact_lock(\
                 hashtextextended($1 || chr(31) || $2, 7245)) AS ok) ",
            )
            .replace("{from}", "l CROSS JOIN deliveries d")
            .replace("{locked}", "l.ok AND ")
            .replace("{p1}", "$1")
            .replace("{p2}", "$2")
            .replace("{p3}", "$3")
            .replace("{p4}", "$4")
                + " FOR UPDATE OF d SKIP LOCKED"
        });
        let allowed_until = pacing.allowed_until(now);
        let mut claimed: Vec<ClaimedHead> = Vec::new();
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for (team, channel) in channels {
            if team.is_empty() || seen.contains(&(team.as_str(), channel.as_str())) {
                continue;
            }
            seen.push((team.as_str(), channel.as_str()));
            let sql = match conn {
                DbConnection::Sqlite(_) => SQLITE.as_str(),
                DbConnection::Postgresql(_) => POSTGRES.as_str(),
            };
            let head: Option<Head> = on_each_backend!(conn, c => diesel::sql_query(sql)
                .bind::<Text, _>(team)
                .bind::<Text, _>(channel)
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(allowed_until)
                .cached()
                .get_result(c)
                .optional())?;
            if let Some(head) = head {
                let claim = Claim {
                    now,
                    lease,
                    instance,
                    pacing,
                };
                let queued_behind = head.queued_behind;
                let delivery = claim.paced(conn, head.delivery, head.pacing_tat)?;
                claimed.extend(delivery.map(|delivery| ClaimedHead {
                    delivery,
                    queued_behind,
                }));
            }
        }
        Ok(claimed)
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
        let claim = Claim {
            now,
            lease,
            instance,
            pacing,
        };
        let mut claimed = Vec::with_capacity(candidates.len());
        for mut d in candidates {
            if !claim.lease_one(conn, d.id)? {
                continue;
            }
            let team = d.team_id.as_deref().unwrap_or_default();
            channel_pacing::advance(conn, team, &d.channel, now, pacing)?;
            d.attempts += 1;
            claimed.push(d);
        }
        Ok(claimed)
    }
}

/// A channel's head as [`Delivery::claim_heads`] finds it, with the channel's pacing TAT
/// (`None`: the channel has no pacing row yet) and whether anything waits behind it, read in
/// the same statement.
#[derive(QueryableByName)]
struct Head {
    #[diesel(embed)]
    delivery: Delivery,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pacing_tat: Option<NaiveDateTime>,
    #[diesel(sql_type = Bool)]
    queued_behind: bool,
}

/// A head [`Delivery::claim_heads`] claimed.
#[derive(Debug)]
pub struct ClaimedHead {
    pub delivery: Delivery,
    /// Whether pending deliveries (not held) waited behind it in its channel when it was
    /// claimed: without any, it heads no digest, and the look behind it is spared.
    pub queued_behind: bool,
}

/// The ID an update claimed (`RETURNING id`).
#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = BigInt)]
    #[allow(dead_code, reason = "only counted")]
    id: i64,
}

/// A claim at `now` for `lease` by `instance`, paced by `pacing`.
struct Claim<'a> {
    now: NaiveDateTime,
    lease: chrono::Duration,
    instance: &'a str,
    pacing: Pacing,
}

impl Claim<'_> {
    /// Claims `d`, whose channel's TAT was read as `tat` in this transaction, and moves the
    /// TAT one send on (`domain::pacing`); `None`: someone claimed or settled it meanwhile.
    /// PostgreSQL does both in one statement (one round trip on the hot path of ingest).
    fn paced(
        &self,
        conn: &mut DbConnection,
        mut d: Delivery,
        tat: Option<NaiveDateTime>,
    ) -> QueryResult<Option<Delivery>> {
        const POSTGRES: &str = concat!(
            "WITH c AS (UPDATE deliveries SET claimed_until = $1, claimed_by = $2, \
             attempts = attempts + 1 WHERE id = $3 AND status = ",
            pending_status!(),
            " AND (claimed_until IS NULL OR claimed_until < $4) RETURNING id), \
             p AS (INSERT INTO channel_pacing (team_id, channel, next_allowed_at) \
             SELECT $5, $6, $7 FROM c ON CONFLICT (team_id, channel) \
             DO UPDATE SET next_allowed_at = EXCLUDED.next_allowed_at) \
             SELECT id FROM c"
        );
        let team = d.team_id.clone().unwrap_or_default();
        let applied = match conn {
            DbConnection::Postgresql(c) => {
                let next = self.pacing.after_send(tat, self.now);
                !diesel::sql_query(POSTGRES)
                    .bind::<Timestamp, _>(self.now + self.lease)
                    .bind::<Text, _>(self.instance)
                    .bind::<BigInt, _>(d.id)
                    .bind::<Timestamp, _>(self.now)
                    .bind::<Text, _>(&team)
                    .bind::<Text, _>(&d.channel)
                    .bind::<Timestamp, _>(next)
                    .cached()
                    .load::<ClaimedId>(c)?
                    .is_empty()
            }
            DbConnection::Sqlite(_) => {
                let applied = self.lease_one(conn, d.id)?;
                if applied {
                    channel_pacing::advance_from(
                        conn,
                        &team,
                        &d.channel,
                        tat,
                        self.now,
                        self.pacing,
                    )?;
                }
                applied
            }
        };
        Ok(applied.then(|| {
            d.attempts += 1;
            d
        }))
    }

    /// Leases delivery `id` if it is still pending and unclaimed; whether it was.
    fn lease_one(&self, conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
        let n = on_each_backend!(conn, c => diesel::update(
            deliveries::table.find(id).filter(is_pending()).filter(
                deliveries::claimed_until
                    .is_null()
                    .or(deliveries::claimed_until.lt(self.now)),
            ),
        )
        .set((
            deliveries::claimed_until.eq(self.now + self.lease),
            deliveries::claimed_by.eq(self.instance),
            deliveries::attempts.eq(deliveries::attempts + 1),
        ))
        .returning(deliveries::id)
        .cached()
        .load::<i64>(c))?
        .len();
        Ok(n > 0)
    }
}

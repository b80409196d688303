//! Deletes of history past its retention ([`crate::pipeline::retention`] decides when and
//! how often). Each function deletes at most `limit` rows in one statement, so that a
//! caller can keep every write transaction short, and returns how many it deleted.
//!
//! Never deleted here: a pending delivery, an event a delivery still references, and the
//! subject (load test, scenario) or thread parent (`slack_threads`) of something that is
//! still pending (a delivery or a run-card edit).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Timestamp;

use super::delivery::DeliveryStatus;
use crate::db::models::delivery::pending_status;
use crate::db::schema::deliveries;
use crate::db::DbConnection;

/// One statement of the form `DELETE … WHERE key IN (SELECT key … LIMIT {limit})` with one
/// bound time, `{cutoff}`: the same SQL on both backends but for the placeholder.
fn delete_batch(
    conn: &mut DbConnection,
    sql: &str,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let sql = sql.replace("{limit}", &limit.max(1).to_string());
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql.replace("{cutoff}", "?"))
            .bind::<Timestamp, _>(cutoff)
            .execute(c),
        DbConnection::Postgresql(c) => diesel::sql_query(sql.replace("{cutoff}", "$1"))
            .bind::<Timestamp, _>(cutoff)
            .execute(c),
    }
}

/// What one batch of [`prune_deliveries`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryBatch {
    pub deleted: usize,
    /// Where the next batch starts (the last id looked at); `None` once the scan reached
    /// deliveries newer than the cutoff or the end of the table.
    pub next: Option<i64>,
}

/// Deletes settled (sent, skipped, failed) deliveries created before `cutoff`, looking at
/// the `limit` deliveries after id `after` in id order. Ids grow with creation time, so the
/// walk stops at the first delivery that is young enough to keep: it reads the primary key
/// only, and old pending deliveries are stepped over rather than read again and again.
pub fn prune_deliveries(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    after: i64,
    limit: i64,
) -> QueryResult<DeliveryBatch> {
    let rows: Vec<(i64, DeliveryStatus, NaiveDateTime)> = deliveries::table
        .filter(deliveries::id.gt(after))
        .order(deliveries::id.asc())
        .limit(limit.max(1))
        .select((deliveries::id, deliveries::status, deliveries::created_at))
        .load(conn)?;
    let reached_young = rows.iter().any(|(_, _, created)| *created >= cutoff);
    let old: Vec<i64> = rows
        .iter()
        .filter(|(_, status, created)| *created < cutoff && *status != DeliveryStatus::Pending)
        .map(|(id, _, _)| *id)
        .collect();
    let deleted = if old.is_empty() {
        0
    } else {
        // The status is checked again: a claim may have changed it since the read.
        diesel::delete(
            deliveries::table
                .filter(deliveries::id.eq_any(&old))
                .filter(deliveries::status.ne(DeliveryStatus::Pending)),
        )
        .execute(conn)?
    };
    let next = match rows.last() {
        Some((id, _, _)) if !reached_young && rows.len() as i64 >= limit => Some(*id),
        _ => None,
    };
    Ok(DeliveryBatch { deleted, next })
}

/// Events received before `cutoff` that no delivery references any more (a referenced
/// event goes with its last delivery, in a later pass).
pub fn prune_events(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    delete_batch(
        conn,
        "DELETE FROM events WHERE event_id IN (SELECT e.event_id FROM events e \
         WHERE e.received_at < {cutoff} \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.event_id) \
         ORDER BY e.received_at LIMIT {limit})",
        cutoff,
        limit,
    )
}

/// Thread parents last touched before `cutoff` whose subject is over (a load test that is
/// `reported` or in `error`, or gone; an incident that is not its scenario's open one)
/// and that wait for nothing (no pending delivery, no pending run-card edit).
pub fn prune_threads(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    delete_batch(
        conn,
        concat!(
            "DELETE FROM slack_threads WHERE (subject_key, team_id, channel) IN ( \
         SELECT t.subject_key, t.team_id, t.channel FROM slack_threads t \
         WHERE t.updated_at < {cutoff} \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.status = ",
            pending_status!(),
            " \
             AND d.subject_key = t.subject_key) \
         AND NOT EXISTS (SELECT 1 FROM card_edits c WHERE c.subject_key = t.subject_key) \
         AND NOT EXISTS (SELECT 1 FROM load_tests l WHERE t.subject_key LIKE 'lt:%' \
             AND l.id = substr(t.subject_key, 4) AND l.state NOT IN ('reported', 'error')) \
         AND NOT EXISTS (SELECT 1 FROM scenarios s WHERE s.state <> 'ok' \
             AND t.subject_key = 'sc:' || s.id || ':' || s.incident) \
         LIMIT {limit})"
        ),
        cutoff,
        limit,
    )
}

/// Load tests in a final state (`reported`, `error`) last updated before `cutoff`, with
/// nothing pending about them.
pub fn prune_load_tests(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    delete_batch(
        conn,
        concat!(
            "DELETE FROM load_tests WHERE id IN (SELECT l.id FROM load_tests l \
         WHERE l.updated_at < {cutoff} AND l.state IN ('reported', 'error') \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.status = ",
            pending_status!(),
            " \
             AND d.subject_key = 'lt:' || l.id) \
         AND NOT EXISTS (SELECT 1 FROM card_edits c WHERE c.subject_key = 'lt:' || l.id) \
         LIMIT {limit})"
        ),
        cutoff,
        limit,
    )
}

/// Runs' final figures reported before `cutoff`, unless the run is a pinned baseline (later
/// runs keep being compared with it).
pub fn prune_run_reports(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    delete_batch(
        conn,
        "DELETE FROM run_reports WHERE load_test_id IN (SELECT r.load_test_id FROM run_reports r \
         WHERE r.reported_at < {cutoff} \
         AND NOT EXISTS (SELECT 1 FROM baselines b WHERE b.load_test_id = r.load_test_id) \
         LIMIT {limit})",
        cutoff,
        limit,
    )
}

/// Scenarios that are `ok` and were last updated before `cutoff`, with nothing pending
/// about any of their incidents. (`LIKE` treats `_` in an id as a wildcard: that can only
/// keep a scenario longer, never delete one that has pending work.)
pub fn prune_scenarios(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    delete_batch(
        conn,
        concat!(
            "DELETE FROM scenarios WHERE id IN (SELECT s.id FROM scenarios s \
         WHERE s.updated_at < {cutoff} AND s.state = 'ok' \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.status = ",
            pending_status!(),
            " \
             AND d.subject_key LIKE 'sc:' || s.id || ':%') \
         AND NOT EXISTS (SELECT 1 FROM card_edits c \
             WHERE c.subject_key LIKE 'sc:' || s.id || ':%') \
         LIMIT {limit})"
        ),
        cutoff,
        limit,
    )
}

/// "Send Test Message" results logged before `cutoff`.
pub fn prune_test_messages(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    delete_batch(
        conn,
        "DELETE FROM test_messages WHERE id IN (SELECT id FROM test_messages \
         WHERE created_at < {cutoff} ORDER BY id LIMIT {limit})",
        cutoff,
        limit,
    )
}

/// Audit rows written before `cutoff`.
pub fn prune_audit(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    delete_batch(
        conn,
        "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log \
         WHERE at < {cutoff} ORDER BY id LIMIT {limit})",
        cutoff,
        limit,
    )
}

/// OAuth install states that expired before `cutoff`.
pub fn prune_oauth_states(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    delete_batch(
        conn,
        "DELETE FROM oauth_states WHERE state_hash IN (SELECT state_hash FROM oauth_states \
         WHERE expires_at < {cutoff} LIMIT {limit})",
        cutoff,
        limit,
    )
}

/// Applied button clicks received before `cutoff` (kept only to recognise a replay).
pub fn prune_slack_actions(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    delete_batch(
        conn,
        "DELETE FROM slack_actions WHERE action_key IN (SELECT action_key FROM slack_actions \
         WHERE received_at < {cutoff} LIMIT {limit})",
        cutoff,
        limit,
    )
}

/// UI sign-ins that expired before `cutoff`.
pub fn prune_ui_sessions(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    delete_batch(
        conn,
        "DELETE FROM ui_sessions WHERE id_hash IN (SELECT id_hash FROM ui_sessions \
         WHERE expires_at < {cutoff} LIMIT {limit})",
        cutoff,
        limit,
    )
}

/// SQLite only: whether the file gives freed pages back (`auto_vacuum = INCREMENTAL`), and
/// how many free pages it holds. `None` on PostgreSQL (its own autovacuum reuses space).
pub fn sqlite_free_pages(conn: &mut DbConnection) -> QueryResult<Option<(bool, i64)>> {
    #[derive(QueryableByName)]
    struct Value {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        value: i64,
    }
    let DbConnection::Sqlite(c) = conn else {
        return Ok(None);
    };
    let mut read = |pragma: &str| -> QueryResult<i64> {
        Ok(
            diesel::sql_query(format!("SELECT {pragma} AS value FROM pragma_{pragma}"))
                .get_result::<Value>(c)?
                .value,
        )
    };
    // 2 = INCREMENTAL (0 = NONE, 1 = FULL).
    let incremental = read("auto_vacuum")? == 2;
    let free = read("freelist_count")?;
    Ok(Some((incremental, free)))
}

/// SQLite only: gives up to `pages` free pages back to the file system. Run inside a
/// write transaction (it writes the file like any other write).
pub fn sqlite_incremental_vacuum(conn: &mut DbConnection, pages: i64) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    if let DbConnection::Sqlite(c) = conn {
        c.batch_execute(&format!("PRAGMA incremental_vacuum({})", pages.max(1)))?;
    }
    Ok(())
}

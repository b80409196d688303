//! `summaries` (one row per weekly summary queued, the exactly-once key) and what a
//! summary reads: one scope's events of one period, through `events_org_occurred`.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::schema::{events, scenarios, summaries};
use crate::db::{on_each_backend, DbConnection};
use crate::domain::ids::SubjectKind;

/// A queued summary: (organization, project or `''`, end of its period).
#[derive(Queryable, Selectable, Insertable, Debug, Clone, PartialEq)]
#[diesel(table_name = summaries)]
pub struct SummaryRow {
    pub org_id: String,
    pub project_id: String,
    pub period_end: NaiveDateTime,
    pub period_start: NaiveDateTime,
    pub event_id: String,
    pub manual: bool,
    pub created_at: NaiveDateTime,
}

impl SummaryRow {
    /// Inserts the row unless one for the same scope and period exists (another instance,
    /// or this one before a restart, queued it): `false` then, and nothing is to be sent.
    pub fn insert_new(conn: &mut DbConnection, row: &Self) -> QueryResult<bool> {
        let n = on_each_backend!(conn, c => diesel::insert_into(summaries::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?);
        Ok(n == 1)
    }

    pub fn exists(
        conn: &mut DbConnection,
        (org, project): (&str, &str),
        period_end: NaiveDateTime,
    ) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            summaries::table.find((org, project, period_end)),
        ))
        .get_result(conn)
    }
}

/// The scope a query reads: an organization, or one of its projects.
pub type ScopeIds<'a> = (&'a str, Option<&'a str>);

/// An event of the period: a load test's state, a monitoring result, and the payload of
/// the few kinds a summary reads it of.
#[derive(Queryable, Debug, Clone)]
pub struct PeriodRow {
    pub subject_kind: SubjectKind,
    pub subject_id: String,
    pub occurred_at: NaiveDateTime,
    pub resulting_state: String,
    /// Only for `NOTABLE` event types: the other payloads are not read at all.
    pub payload: Option<String>,
    /// Which payload it is (each notable type has one kind of payload).
    pub event_type: String,
}

/// Events whose payload a summary reads (final reports, incidents opened and recovered,
/// acknowledgements and mutes).
const NOTABLE: &str = "'report_available', 'scenario_failing', 'scenario_recovered', \
                       'incident_acknowledged', 'incident_muted'";

/// Every event of the scope in `[from, to)` (stale monitoring results, older than what
/// their scenario had applied, left out), oldest first, each given to `each` as it is read:
/// one pass over `events_org_occurred`'s range, in the index's order (no sort), payloads
/// only where they are read, and none of them kept (a week's final reports are 100 MB of
/// JSON on the bench's history; `each` keeps what it needs of one and drops it).
pub fn period_events(
    conn: &mut DbConnection,
    scope: ScopeIds<'_>,
    range: (NaiveDateTime, NaiveDateTime),
    each: &mut dyn FnMut(PeriodRow),
) -> QueryResult<()> {
    match conn {
        // A day at a time, each its own statement and so its own read snapshot: one read of
        // the whole week kept every WAL frame written meanwhile from being checkpointed,
        // and with previews back to back the WAL only grew (ingest 25 % slower in the
        // bench). Between two days the checkpointer catches up.
        DbConnection::Sqlite(_) => {
            let (mut from, to) = range;
            while from < to {
                let until = (from + chrono::Duration::days(1)).min(to);
                read_period(conn, scope, (from, until), each)?;
                from = until;
            }
            Ok(())
        }
        // PostgreSQL only, for this read: a week is a quarter of a 30-day table, where its
        // planner costs a scan of the whole table (events with their payloads, 1 GB on the
        // bench's history) a little below the index range (300 MB): 1.5 s against 0.27 s.
        // Nor does a summary take a second core (parallel workers slowed ingest 3-fold on
        // two cores) or compile its plan (JIT: up to 50 ms for a query run once a week); nor
        // does a bitmap scan lose the index's order, which the summary reads in.
        DbConnection::Postgresql(_) => conn.transaction(|c| {
            c.batch_execute(
                "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; \
                 SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off",
            )?;
            read_period(c, scope, range, each)
        }),
    }
}

fn read_period(
    conn: &mut DbConnection,
    (org, project): ScopeIds<'_>,
    (from, to): (NaiveDateTime, NaiveDateTime),
    each: &mut dyn FnMut(PeriodRow),
) -> QueryResult<()> {
    let mut q = events::table
        .filter(events::org_id.eq(org))
        .filter(events::occurred_at.ge(from))
        .filter(events::occurred_at.lt(to))
        .filter(events::event_type.ne("scenario_stale"))
        .into_boxed();
    if let Some(p) = project {
        q = q.filter(events::project_id.eq(p));
    }
    q.select((
        events::subject_kind,
        events::subject_id,
        events::occurred_at,
        events::resulting_state,
        diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(&format!(
            "CASE WHEN event_type IN ({NOTABLE}) THEN payload END"
        )),
        events::event_type,
    ))
    .order(events::occurred_at)
    .load_iter::<PeriodRow, diesel::connection::DefaultLoadingMode>(conn)?
    .try_for_each(|row| row.map(&mut *each))
}

/// Names and links of the scope's scenarios: (id, name, url).
pub fn scenario_names(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<Vec<(String, String, Option<String>)>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            scenarios::table
                .filter(scenarios::id.eq_any(chunk))
                .select((scenarios::id, scenarios::name, scenarios::url))
                .load::<(String, String, Option<String>)>(conn)?,
        );
    }
    Ok(out)
}

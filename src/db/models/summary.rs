//! `summaries` (one row per weekly summary queued, the exactly-once key) and what a
//! summary reads: the tallies kept at ingest (`summary_tallies` says since when): runs
//! from `load_tests_org_last_event`, final reports from `run_reports_org_reported`, and
//! scenarios' changes from `events_scenario_changes`, each from the index alone; for a
//! period older than the tallies, one scope's events of the period through
//! `events_org_occurred`.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::schema::{events, load_tests, run_reports, scenarios, summaries, summary_tallies};
use crate::db::{on_each_backend, DbConnection, FirstRowDsl};
use crate::domain::ids::SubjectKind;
use crate::domain::lifecycle::LoadTestState;
use crate::domain::report::Metric;

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

/// The payload of the events a summary reads it of (final reports, incidents opened and
/// recovered, acknowledgements and mutes); NULL for every other event.
const NOTABLE_PAYLOAD: &str = "CASE WHEN event_type IN ('report_available', \
                               'scenario_failing', 'scenario_recovered', \
                               'incident_acknowledged', 'incident_muted') THEN payload END";

type PeriodColumns = (
    events::subject_kind,
    events::subject_id,
    events::occurred_at,
    events::resulting_state,
    diesel::expression::SqlLiteral<diesel::sql_types::Nullable<diesel::sql_types::Text>>,
    events::event_type,
);

/// What a [`PeriodRow`] reads.
fn period_columns() -> PeriodColumns {
    (
        events::subject_kind,
        events::subject_id,
        events::occurred_at,
        events::resulting_state,
        diesel::dsl::sql(NOTABLE_PAYLOAD),
        events::event_type,
    )
}

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
        DbConnection::Postgresql(_) => by_index(conn, |c| read_period(c, scope, range, each)),
    }
}

/// Runs a summary's reads `f` on PostgreSQL in a transaction of their own that reads by
/// index only (elsewhere: just runs them). A week is a quarter of a 30-day table, where
/// its planner costs a scan of the whole table (events with their payloads, 1 GB on the
/// bench's history) a little below the index range (300 MB): 1.5 s against 0.27 s. Nor
/// does a summary take a second core (parallel workers slowed ingest 3-fold on two cores)
/// or compile its plan (JIT: up to 50 ms for a query run once a week); nor does a bitmap
/// scan lose the index's order, which the events are read in.
pub fn by_index<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Sqlite(_) => f(conn),
        DbConnection::Postgresql(_) => conn.transaction(|c| {
            c.batch_execute(
                "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; \
                 SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off",
            )?;
            f(c)
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
    q.select(period_columns())
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

/// Since when the tallies are kept (`None`: from the first event on): a period starting
/// earlier is read from its events.
pub fn tallies_since(conn: &mut DbConnection) -> QueryResult<Option<NaiveDateTime>> {
    summary_tallies::table
        .select(summary_tallies::since)
        .first_row(conn)
        .optional()
}

/// The scope's load tests with an event in `[from, to)` (first event before `to`, latest
/// at or after `from`), counted by their latest state and whether they had ended by `to`:
/// (state, ended by then, count). From `load_tests_org_last_event` alone.
pub fn run_counts(
    conn: &mut DbConnection,
    (org, project): ScopeIds<'_>,
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<(LoadTestState, bool, i64)>> {
    let mut out = Vec::new();
    for ended in [true, false] {
        let mut q = load_tests::table
            .filter(load_tests::org_id.eq(org))
            .filter(load_tests::last_event_at.ge(from))
            .filter(load_tests::first_event_at.lt(to))
            .group_by(load_tests::state)
            .select((load_tests::state, diesel::dsl::count_star()))
            .into_boxed();
        if let Some(p) = project {
            q = q.filter(load_tests::project_id.eq(p));
        }
        q = if ended {
            q.filter(load_tests::ended_at.lt(to))
        } else {
            q.filter(
                load_tests::ended_at
                    .is_null()
                    .or(load_tests::ended_at.ge(to)),
            )
        };
        let rows: Vec<(LoadTestState, i64)> = q.load(conn)?;
        out.extend(rows.into_iter().map(|(state, n)| (state, ended, n)));
    }
    Ok(out)
}

/// A definition's final reports with a P95 in the period: how many, and the first and
/// last (time, P95, load test).
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionReports {
    pub definition: String,
    pub runs: i64,
    pub first: (NaiveDateTime, f64, String),
    pub last: (NaiveDateTime, f64, String),
}

/// Per definition, the scope's final reports with a P95 in `[from, to)`: counted in the
/// database (`run_reports_org_reported` alone), then the first and last report of each
/// looked up by their time.
pub fn definition_reports(
    conn: &mut DbConnection,
    (org, project): ScopeIds<'_>,
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<DefinitionReports>> {
    use diesel::dsl::{count_star, max, min};
    let mut q = run_reports::table
        .filter(run_reports::org_id.eq(org))
        .filter(run_reports::reported_at.ge(from))
        .filter(run_reports::reported_at.lt(to))
        .filter(run_reports::p95_ms.is_not_null())
        .group_by(run_reports::definition)
        .select((
            run_reports::definition,
            count_star(),
            min(run_reports::reported_at),
            max(run_reports::reported_at),
        ))
        .into_boxed();
    if let Some(p) = project {
        q = q.filter(run_reports::project_id.eq(p));
    }
    type Group = (String, i64, Option<NaiveDateTime>, Option<NaiveDateTime>);
    let groups: Vec<Group> = q.load(conn)?;
    let mut times: Vec<NaiveDateTime> = groups
        .iter()
        .flat_map(|(_, _, a, b)| [*a, *b])
        .flatten()
        .collect();
    times.sort_unstable();
    times.dedup();
    // (definition, time) -> (P95, load test): the lowest id where two share an instant.
    let mut at: std::collections::BTreeMap<(String, NaiveDateTime), (f64, String)> =
        std::collections::BTreeMap::new();
    for chunk in times.chunks(500) {
        let mut q = run_reports::table
            .filter(run_reports::org_id.eq(org))
            .filter(run_reports::reported_at.eq_any(chunk))
            .filter(run_reports::p95_ms.is_not_null())
            .select((
                run_reports::definition,
                run_reports::reported_at,
                run_reports::p95_ms.assume_not_null(),
                run_reports::load_test_id,
            ))
            .into_boxed();
        if let Some(p) = project {
            q = q.filter(run_reports::project_id.eq(p));
        }
        for (definition, t, p95, id) in q.load::<(String, NaiveDateTime, f64, String)>(conn)? {
            at.entry((definition, t))
                .and_modify(|v| {
                    if id < v.1 {
                        *v = (p95, id.clone());
                    }
                })
                .or_insert((p95, id));
        }
    }
    Ok(groups
        .into_iter()
        .filter_map(|(definition, runs, first, last)| {
            let pick = |t: Option<NaiveDateTime>| {
                let t = t?;
                let (p95, id) = at.get(&(definition.clone(), t))?.clone();
                Some((t, p95, id))
            };
            Some(DefinitionReports {
                first: pick(first)?,
                last: pick(last)?,
                definition: definition.clone(),
                runs,
            })
        })
        .collect())
}

/// A final report of the period that is a regression: the run's name, the link, and its
/// worst figure (metric, value, the baseline's value).
#[derive(Queryable, Debug, Clone, PartialEq)]
pub struct RegressedReport {
    pub name: String,
    pub url: Option<String>,
    pub metric: Metric,
    pub value: f64,
    pub baseline: Option<f64>,
}

/// The scope's final reports in `[from, to)` that are regressions, oldest first (the
/// index finds them; only those rows are read).
pub fn regressed_reports(
    conn: &mut DbConnection,
    (org, project): ScopeIds<'_>,
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<RegressedReport>> {
    let mut q = run_reports::table
        .filter(run_reports::org_id.eq(org))
        .filter(run_reports::reported_at.ge(from))
        .filter(run_reports::reported_at.lt(to))
        .filter(run_reports::regression_metric.is_not_null())
        .order((run_reports::reported_at, run_reports::load_test_id))
        .select((
            run_reports::name,
            run_reports::report_url,
            run_reports::regression_metric.assume_not_null(),
            run_reports::regression_value.assume_not_null(),
            run_reports::regression_baseline,
        ))
        .into_boxed();
    if let Some(p) = project {
        q = q.filter(run_reports::project_id.eq(p));
    }
    q.load(conn)
}

/// A scenario a summary looks at.
#[derive(Queryable, Debug, Clone, PartialEq)]
pub struct ScopeScenario {
    pub id: String,
    pub name: String,
    pub url: Option<String>,
    /// Its first result (or, in rows older than that column, when it was first seen).
    pub first_result_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

impl ScopeScenario {
    pub fn observed_since(&self) -> NaiveDateTime {
        self.first_result_at.unwrap_or(self.created_at)
    }
}

/// The scope's scenarios with a result at or after `from` (and one before `to`, in rows
/// that know their first).
pub fn scope_scenarios(
    conn: &mut DbConnection,
    (org, project): ScopeIds<'_>,
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<ScopeScenario>> {
    let mut q = scenarios::table
        .filter(scenarios::org_id.eq(org))
        .filter(scenarios::last_result_at.ge(from))
        .filter(
            scenarios::first_result_at
                .lt(to)
                .or(scenarios::first_result_at.is_null()),
        )
        .select((
            scenarios::id,
            scenarios::name,
            scenarios::url,
            scenarios::first_result_at,
            scenarios::created_at,
        ))
        .order(scenarios::id)
        .into_boxed();
    if let Some(p) = project {
        q = q.filter(scenarios::project_id.eq(p));
    }
    q.load(conn)
}

/// The predicate of the index `events_scenario_changes`, word for word (so both planners
/// can prove the partial index applies).
const SCENARIO_CHANGES: &str = "subject_kind = 'scenario' AND event_type NOT IN \
                                ('scenario_unchanged', 'scenario_stale')";

/// A scenario's health before `at`: the resulting state of its last change, incident
/// action or mute before then (`None`: none, so it was never anything but ok).
pub fn health_before(
    conn: &mut DbConnection,
    (org, scenario): (&str, &str),
    at: NaiveDateTime,
) -> QueryResult<Option<String>> {
    events::table
        .filter(events::org_id.eq(org))
        .filter(events::subject_id.eq(scenario))
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            SCENARIO_CHANGES,
        ))
        .filter(events::occurred_at.lt(at))
        .order(events::occurred_at.desc())
        .select(events::resulting_state)
        .first_row(conn)
        .optional()
}

/// A scenario's changes, incident actions and mutes in `[from, to)`, oldest first, with
/// the payloads a summary reads, as [`period_events`] gives them (one range of
/// `events_scenario_changes`).
pub fn scenario_changes(
    conn: &mut DbConnection,
    (org, scenario): (&str, &str),
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<PeriodRow>> {
    events::table
        .filter(events::org_id.eq(org))
        .filter(events::subject_id.eq(scenario))
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            SCENARIO_CHANGES,
        ))
        .filter(events::occurred_at.ge(from))
        .filter(events::occurred_at.lt(to))
        .select(period_columns())
        .order((events::occurred_at, events::event_id))
        .load(conn)
}

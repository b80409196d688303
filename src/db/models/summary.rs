//! `summaries` (one row per weekly summary queued, the exactly-once key) and what a
//! summary reads: one scope's events of one period, through `events_org_occurred`.

use chrono::NaiveDateTime;
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

/// A monitoring result, without its payload.
#[derive(Queryable, Debug, Clone)]
pub struct ResultRow {
    pub subject_id: String,
    pub occurred_at: NaiveDateTime,
    pub resulting_state: String,
}

/// Every monitoring result of the scope in `[from, to)`, oldest first (stale results,
/// older than what their scenario had applied, are left out).
pub fn scenario_results(
    conn: &mut DbConnection,
    scope: ScopeIds<'_>,
    range: (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<ResultRow>> {
    in_period(scope, range)
        .filter(events::subject_kind.eq(SubjectKind::Scenario))
        .filter(events::event_type.ne("scenario_stale"))
        .select((
            events::subject_id,
            events::occurred_at,
            events::resulting_state,
        ))
        .load(conn)
}

/// The scope's events of `[from, to)`, oldest first: one range of `events_org_occurred`.
fn in_period<'a>(
    (org, project): ScopeIds<'a>,
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> events::BoxedQuery<'a, <DbConnection as diesel::Connection>::Backend> {
    let mut q = events::table
        .filter(events::org_id.eq(org))
        .filter(events::occurred_at.ge(from))
        .filter(events::occurred_at.lt(to))
        .order((events::occurred_at.asc(), events::event_id.asc()))
        .into_boxed();
    if let Some(p) = project {
        q = q.filter(events::project_id.eq(p));
    }
    q
}

/// An event a summary reads the payload of.
#[derive(Queryable, Debug, Clone)]
pub struct NotableRow {
    pub subject_id: String,
    pub event_type: String,
    pub occurred_at: NaiveDateTime,
    pub resulting_state: String,
    pub payload: String,
}

/// The scope's events of `[from, to)` whose type is one of `types`, oldest first.
pub fn notable_events(
    conn: &mut DbConnection,
    scope: ScopeIds<'_>,
    range: (NaiveDateTime, NaiveDateTime),
    types: &[&str],
) -> QueryResult<Vec<NotableRow>> {
    in_period(scope, range)
        .filter(events::event_type.eq_any(types))
        .select((
            events::subject_id,
            events::event_type,
            events::occurred_at,
            events::resulting_state,
            events::payload,
        ))
        .load(conn)
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

//! `run_reports` (each run's final figures, what later runs of its definition are compared
//! with) and `baselines` (the run pinned as the baseline of a definition).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{baselines, run_reports};
use crate::db::{DbConnection, FirstRowDsl};
use crate::domain::report::Metric;

/// The stored column of a run's summary (JSON of `pipeline::events::ReportSummary`).
pub const SUMMARY_COLUMN: &str = "run_reports.summary";

#[derive(Queryable, Selectable, Insertable, AsChangeset, Debug, Clone, PartialEq)]
#[diesel(table_name = run_reports, treat_none_as_default_value = false)]
pub struct RunReport {
    pub load_test_id: String,
    pub org_id: String,
    pub project_id: String,
    /// The definition's id, or the run's name when it has none.
    pub definition: String,
    pub name: String,
    pub summary: String,
    pub reported_at: NaiveDateTime,
    /// What a weekly summary reads of it (`None` in rows written before they were kept,
    /// `summary_tallies.since`): its P95, the link to the report (else the run's) and its
    /// worst regressed figure (none: not a regression).
    pub p95_ms: Option<f64>,
    pub report_url: Option<String>,
    pub regression_metric: Option<Metric>,
    pub regression_value: Option<f64>,
    pub regression_baseline: Option<f64>,
}

impl RunReport {
    /// Stores a run's final report (a second final report of a run replaces the first).
    pub fn save(conn: &mut DbConnection, row: &Self) -> QueryResult<()> {
        let updated = diesel::update(run_reports::table.find(&row.load_test_id))
            .set(row)
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(run_reports::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(())
    }

    pub fn find(conn: &mut DbConnection, load_test_id: &str) -> QueryResult<Option<Self>> {
        run_reports::table
            .find(load_test_id)
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// The newest reported run of a definition other than `except`.
    pub fn latest(
        conn: &mut DbConnection,
        (org, project): (&str, &str),
        definition: &str,
        except: &str,
    ) -> QueryResult<Option<Self>> {
        run_reports::table
            .filter(run_reports::org_id.eq(org))
            .filter(run_reports::project_id.eq(project))
            .filter(run_reports::definition.eq(definition))
            .filter(run_reports::load_test_id.ne(except))
            .order((
                run_reports::reported_at.desc(),
                run_reports::load_test_id.desc(),
            ))
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// The newest `limit` reported runs of a project, newest first (the definitions page).
    pub fn recent(
        conn: &mut DbConnection,
        (org, project): (&str, &str),
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        run_reports::table
            .filter(run_reports::org_id.eq(org))
            .filter(run_reports::project_id.eq(project))
            .order((
                run_reports::reported_at.desc(),
                run_reports::load_test_id.desc(),
            ))
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset, Debug, Clone, PartialEq)]
#[diesel(table_name = baselines)]
pub struct BaselineRow {
    pub org_id: String,
    pub project_id: String,
    pub definition: String,
    pub load_test_id: String,
    pub set_by: String,
    pub set_at: NaiveDateTime,
}

impl BaselineRow {
    pub fn find(
        conn: &mut DbConnection,
        (org, project): (&str, &str),
        definition: &str,
    ) -> QueryResult<Option<Self>> {
        baselines::table
            .find((org, project, definition))
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// The baseline pinned to this run, if it is one.
    pub fn of_run(conn: &mut DbConnection, load_test_id: &str) -> QueryResult<Option<Self>> {
        baselines::table
            .filter(baselines::load_test_id.eq(load_test_id))
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    pub fn list(conn: &mut DbConnection, (org, project): (&str, &str)) -> QueryResult<Vec<Self>> {
        baselines::table
            .filter(baselines::org_id.eq(org))
            .filter(baselines::project_id.eq(project))
            .order(baselines::definition.asc())
            .select(Self::as_select())
            .load(conn)
    }

    pub fn save(conn: &mut DbConnection, row: &Self) -> QueryResult<()> {
        let updated =
            diesel::update(baselines::table.find((&row.org_id, &row.project_id, &row.definition)))
                .set(row)
                .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(baselines::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(())
    }

    /// Returns whether there was one.
    pub fn delete(
        conn: &mut DbConnection,
        (org, project): (&str, &str),
        definition: &str,
    ) -> QueryResult<bool> {
        Ok(diesel::delete(baselines::table.find((org, project, definition))).execute(conn)? > 0)
    }
}

//! `load_tests`: the lifecycle state of each load test (the LoadTest actor's memory).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::load_tests;
use crate::db::{on_each_backend, CachedDsl, DbConnection, FirstRowDsl};

/// The predicate of the index `load_tests_active`, word for word.
const ACTIVE_STATES: &str = "state IN ('started', 'running')";
use crate::domain::quiet::RunningLoadTest;

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
// None is a bound NULL, not DEFAULT: one SQL text per statement, so it stays prepared.
#[diesel(table_name = load_tests, treat_none_as_default_value = false)]
pub struct LoadTestRow {
    pub id: String,
    pub org_id: String,
    pub project_id: String,
    pub name: String,
    pub url: Option<String>,
    pub started_by: Option<String>,
    pub state: crate::domain::lifecycle::LoadTestState,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// `load_test.definition.id`, once the orchestrator named one.
    pub definition: Option<String>,
    pub definition_name: Option<String>,
    /// Event time of its first and latest event, and of the event that first ended it
    /// (finished, aborted or error): what a weekly summary counts its runs by. `None` in
    /// rows written before they were kept (`summary_tallies.since`).
    pub first_event_at: Option<NaiveDateTime>,
    pub last_event_at: Option<NaiveDateTime>,
    pub ended_at: Option<NaiveDateTime>,
}

impl LoadTestRow {
    /// What its runs are compared by: the definition's id, or else the run's name.
    pub fn definition_key(&self) -> &str {
        self.definition.as_deref().unwrap_or(&self.name)
    }

    /// The project's load tests that are `started` or `running` (the index
    /// `load_tests_active`), earliest first.
    pub fn active_in_project(
        conn: &mut DbConnection,
        org: &str,
        project: &str,
    ) -> QueryResult<Vec<Self>> {
        load_tests::table
            .filter(load_tests::org_id.eq(org))
            .filter(load_tests::project_id.eq(project))
            // Written out, so both planners can prove the partial index applies (a bound
            // list would not match its predicate).
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(ACTIVE_STATES))
            .order((load_tests::created_at.asc(), load_tests::id.asc()))
            .select(Self::as_select())
            .cached()
            .load(conn)
    }

    /// The load test as an incident names it.
    pub fn to_running(&self) -> RunningLoadTest {
        RunningLoadTest {
            id: self.id.clone(),
            name: self.name.clone(),
            url: self.url.clone(),
            started_by: self.started_by.clone(),
            since: self.created_at.and_utc(),
        }
    }

    pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Self>> {
        on_each_backend!(conn, c => load_tests::table
            .find(id)
            .select(Self::as_select())
            .first_row(c))
        .optional()
    }

    /// The load tests with these ids (missing ones are left out).
    ///
    /// Boxed, so never a prepared statement: PostgreSQL would plan a prepared
    /// `id = ANY($1)` once for any list and table size, and the plan it settled on while
    /// the table was small (a sequential scan) took 40-80 ms per batch once it was not.
    pub fn find_many(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<Vec<Self>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        load_tests::table
            .filter(load_tests::id.eq_any(ids))
            .select(Self::as_select())
            .into_boxed()
            .load(conn)
    }

    /// Saves many rows: a row of version 1 is inserted, any other replaces the stored row
    /// whose version is one less (the optimistic check of [`LoadTestRow::save_if_version`]).
    /// Returns the ids of the rows saved; a row left out lost a race with another
    /// instance. The ids must be distinct. One statement on PostgreSQL (where each is a
    /// round trip); one per row on SQLite, which has no multi-row upsert in diesel and
    /// where a statement is a function call.
    pub fn save_many(conn: &mut DbConnection, rows: &[&Self]) -> QueryResult<Vec<String>> {
        use diesel::query_dsl::methods::FilterDsl;
        use diesel::upsert::excluded;
        macro_rules! upsert {
            ($values:expr) => {
                diesel::insert_into(load_tests::table)
                    .values($values)
                    .on_conflict(load_tests::id)
                    .do_update()
                    .set((
                        load_tests::name.eq(excluded(load_tests::name)),
                        load_tests::url.eq(excluded(load_tests::url)),
                        load_tests::started_by.eq(excluded(load_tests::started_by)),
                        load_tests::state.eq(excluded(load_tests::state)),
                        load_tests::version.eq(excluded(load_tests::version)),
                        load_tests::updated_at.eq(excluded(load_tests::updated_at)),
                        load_tests::definition.eq(excluded(load_tests::definition)),
                        load_tests::definition_name.eq(excluded(load_tests::definition_name)),
                        load_tests::first_event_at.eq(excluded(load_tests::first_event_at)),
                        load_tests::last_event_at.eq(excluded(load_tests::last_event_at)),
                        load_tests::ended_at.eq(excluded(load_tests::ended_at)),
                    ))
                    .filter((load_tests::version + 1).eq(excluded(load_tests::version)))
                    .returning(load_tests::id)
            };
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        match conn {
            DbConnection::Postgresql(c) => {
                upsert!(rows.iter().copied().cloned().collect::<Vec<_>>()).load(c)
            }
            DbConnection::Sqlite(c) => {
                let mut saved = Vec::with_capacity(rows.len());
                for row in rows {
                    saved.extend(upsert!(*row).load::<String>(c)?);
                }
                Ok(saved)
            }
        }
    }

    pub fn insert(conn: &mut DbConnection, row: &Self) -> QueryResult<()> {
        on_each_backend!(conn, c => diesel::insert_into(load_tests::table)
            .values(row)
            .execute(c))?;
        Ok(())
    }

    /// Saves `self` if the stored version is still `expected_version` (optimistic
    /// concurrency between instances); returns whether it was saved.
    pub fn save_if_version(
        &self,
        conn: &mut DbConnection,
        expected_version: i64,
    ) -> QueryResult<bool> {
        let n = diesel::update(
            load_tests::table
                .filter(load_tests::id.eq(&self.id))
                .filter(load_tests::version.eq(expected_version)),
        )
        .set((
            load_tests::name.eq(&self.name),
            load_tests::url.eq(&self.url),
            load_tests::started_by.eq(&self.started_by),
            load_tests::state.eq(self.state),
            load_tests::version.eq(self.version),
            load_tests::updated_at.eq(self.updated_at),
            load_tests::definition.eq(&self.definition),
            load_tests::definition_name.eq(&self.definition_name),
            load_tests::first_event_at.eq(self.first_event_at),
            load_tests::last_event_at.eq(self.last_event_at),
            load_tests::ended_at.eq(self.ended_at),
        ))
        .returning(load_tests::version)
        .cached()
        .load::<i64>(conn)?
        .len();
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::ACTIVE_STATES;
    use crate::domain::lifecycle::LoadTestState;

    /// The literal predicate names exactly the states in which a load test counts.
    #[test]
    fn the_active_predicate_names_the_started_and_running_states() {
        let named: Vec<_> = LoadTestState::ALL
            .into_iter()
            .filter(|s| ACTIVE_STATES.contains(&format!("'{}'", s.as_str())))
            .collect();
        assert_eq!(named, [LoadTestState::Started, LoadTestState::Running]);
    }
}

//! `load_tests`: the lifecycle state of each load test (the LoadTest actor's memory).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::load_tests;
use crate::db::{CachedDsl, DbConnection, FirstRowDsl};

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
}

impl LoadTestRow {
    pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Self>> {
        load_tests::table
            .find(id)
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    pub fn insert(conn: &mut DbConnection, row: &Self) -> QueryResult<()> {
        diesel::insert_into(load_tests::table)
            .values(row)
            .execute(conn)?;
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
        ))
        .returning(load_tests::version)
        .cached()
        .load::<i64>(conn)?
        .len();
        Ok(n == 1)
    }
}

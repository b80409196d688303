//! `scenarios`: what each monitoring scenario last reported (the Scenario actor's memory).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::scenarios;
use crate::db::{CachedDsl, DbConnection, FirstRowDsl};

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
// None is a bound NULL, not DEFAULT: one SQL text per statement, so it stays prepared.
#[diesel(table_name = scenarios, treat_none_as_default_value = false)]
pub struct ScenarioRow {
    pub id: String,
    pub org_id: String,
    pub project_id: String,
    pub name: String,
    pub url: Option<String>,
    pub state: crate::domain::monitoring::Health,
    pub failing_since: Option<NaiveDateTime>,
    pub incident: i64,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// JSON array of RFC 3339 times: the state changes within the flap window.
    pub recent_changes: String,
    pub flapping_since: Option<NaiveDateTime>,
    pub flap_changes: i64,
    pub ok_since: Option<NaiveDateTime>,
    /// The `occurred_at` of the newest result applied (older ones change nothing).
    pub last_result_at: Option<NaiveDateTime>,
    /// The `occurred_at` of its first result (set once; `None` in rows written before it
    /// was kept, whose `created_at` stands in).
    pub first_result_at: Option<NaiveDateTime>,
}

impl ScenarioRow {
    pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Self>> {
        scenarios::table
            .find(id)
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    pub fn insert(conn: &mut DbConnection, row: &Self) -> QueryResult<()> {
        diesel::insert_into(scenarios::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// Saves `self` if the stored version is still `expected_version`.
    pub fn save_if_version(
        &self,
        conn: &mut DbConnection,
        expected_version: i64,
    ) -> QueryResult<bool> {
        let n = diesel::update(
            scenarios::table
                .filter(scenarios::id.eq(&self.id))
                .filter(scenarios::version.eq(expected_version)),
        )
        .set((
            scenarios::name.eq(&self.name),
            scenarios::url.eq(&self.url),
            scenarios::state.eq(self.state),
            scenarios::failing_since.eq(self.failing_since),
            scenarios::incident.eq(self.incident),
            scenarios::version.eq(self.version),
            scenarios::updated_at.eq(self.updated_at),
            scenarios::recent_changes.eq(&self.recent_changes),
            scenarios::flapping_since.eq(self.flapping_since),
            scenarios::flap_changes.eq(self.flap_changes),
            scenarios::ok_since.eq(self.ok_since),
            scenarios::last_result_at.eq(self.last_result_at),
        ))
        .returning(scenarios::version)
        .cached()
        .load::<i64>(conn)?
        .len();
        Ok(n == 1)
    }
}

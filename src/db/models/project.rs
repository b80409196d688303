//! `projects`: registered by the orchestrator, unique within their organization.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::projects;
use crate::db::{now, DbConnection, FirstRowDsl};

#[allow(dead_code, reason = "the row mirrors its table")]
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = projects)]
pub struct Project {
    pub org_id: String,
    pub id: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Project {
    pub fn find_by_id(conn: &mut DbConnection, org: &str, id: &str) -> QueryResult<Option<Self>> {
        projects::table
            .find((org, id))
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    pub fn exists(conn: &mut DbConnection, org: &str, id: &str) -> QueryResult<bool> {
        Ok(Self::find_by_id(conn, org, id)?.is_some())
    }

    /// Which of `ids` are registered projects of `org`.
    pub fn existing(conn: &mut DbConnection, org: &str, ids: &[&str]) -> QueryResult<Vec<String>> {
        projects::table
            .filter(projects::org_id.eq(org))
            .filter(projects::id.eq_any(ids))
            .select(projects::id)
            .load(conn)
    }

    pub fn list_by_org(conn: &mut DbConnection, org: &str) -> QueryResult<Vec<Self>> {
        projects::table
            .filter(projects::org_id.eq(org))
            .order(projects::id.asc())
            .select(Self::as_select())
            .load(conn)
    }

    /// Creates the project or renames it; returns whether it was created.
    pub fn save(conn: &mut DbConnection, org: &str, id: &str, name: &str) -> QueryResult<bool> {
        let now = now();
        let updated = diesel::update(projects::table.find((org, id)))
            .set((projects::name.eq(name), projects::updated_at.eq(now)))
            .execute(conn)?;
        if updated > 0 {
            return Ok(false);
        }
        diesel::insert_into(projects::table)
            .values((
                projects::org_id.eq(org),
                projects::id.eq(id),
                projects::name.eq(name),
                projects::created_at.eq(now),
                projects::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(true)
    }
}

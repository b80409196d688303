//! `organizations`: registered by the orchestrator.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{organizations, projects};
use crate::db::{now, DbConnection, FirstRowDsl};

#[allow(dead_code, reason = "the row mirrors its table")]
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Organization {
    pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Self>> {
        organizations::table
            .find(id)
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// The organization's name and its project `project`'s (`None`: no such project), in
    /// one statement; `None`: no such organization. What every message shows, read on the
    /// hot path of a delivery.
    pub fn names(
        conn: &mut DbConnection,
        id: &str,
        project: &str,
    ) -> QueryResult<Option<(String, Option<String>)>> {
        organizations::table
            .left_join(
                projects::table.on(projects::org_id
                    .eq(organizations::id)
                    .and(projects::id.eq(project))),
            )
            .filter(organizations::id.eq(id))
            .select((organizations::name, projects::name.nullable()))
            .first_row(conn)
            .optional()
    }

    pub fn exists(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
        Ok(Self::find_by_id(conn, id)?.is_some())
    }

    /// Creates the organization or renames it; returns whether it was created.
    pub fn save(conn: &mut DbConnection, id: &str, name: &str) -> QueryResult<bool> {
        let now = now();
        let updated = diesel::update(organizations::table.find(id))
            .set((
                organizations::name.eq(name),
                organizations::updated_at.eq(now),
            ))
            .execute(conn)?;
        if updated > 0 {
            return Ok(false);
        }
        diesel::insert_into(organizations::table)
            .values((
                organizations::id.eq(id),
                organizations::name.eq(name),
                organizations::created_at.eq(now),
                organizations::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(true)
    }
}

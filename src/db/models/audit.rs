//! `audit_log`: who changed what and when. Details never contain a secret.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::audit_log;
use crate::db::{now, DbConnection};

#[derive(Queryable, Selectable, Debug, Clone, serde::Serialize)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub org_id: String,
    pub project_id: Option<String>,
    pub action: String,
    pub details: String,
}

impl AuditEntry {
    /// Appends one entry; `details` is a JSON document describing the change.
    pub fn insert(
        conn: &mut DbConnection,
        actor: &str,
        org: &str,
        project: Option<&str>,
        action: &str,
        details: &serde_json::Value,
    ) -> QueryResult<()> {
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::at.eq(now()),
                audit_log::actor.eq(actor),
                audit_log::org_id.eq(org),
                audit_log::project_id.eq(project),
                audit_log::action.eq(action),
                audit_log::details.eq(details.to_string()),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// The newest entries of an organization (all its projects included).
    pub fn list_by_org(conn: &mut DbConnection, org: &str, limit: i64) -> QueryResult<Vec<Self>> {
        audit_log::table
            .filter(audit_log::org_id.eq(org))
            .order(audit_log::id.desc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
    }
}

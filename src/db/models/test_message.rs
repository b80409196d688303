//! `test_messages`: the results of "Send Test Message", one row per channel, which the
//! delivery logs list next to the deliveries of events (event type `test_message`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::test_messages;
use crate::db::DbConnection;

pub use super::delivery::DeliveryStatus;

/// One channel's result of a test message.
#[allow(dead_code, reason = "the row mirrors its table")]
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = test_messages)]
pub struct TestMessageRow {
    pub id: i64,
    pub org_id: String,
    /// `''` for the organization's own settings.
    pub project_id: String,
    pub channel: String,
    pub channel_name: Option<String>,
    pub team_id: Option<String>,
    /// `sent` or `failed`.
    pub status: DeliveryStatus,
    pub error: Option<String>,
    pub sent_by: String,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = test_messages, treat_none_as_default_value = false)]
pub struct NewTestMessage {
    pub org_id: String,
    pub project_id: String,
    pub channel: String,
    pub channel_name: Option<String>,
    pub team_id: Option<String>,
    /// `sent` or `failed`.
    pub status: DeliveryStatus,
    pub error: Option<String>,
    pub sent_by: String,
    pub created_at: NaiveDateTime,
}

impl TestMessageRow {
    pub fn insert_all(conn: &mut DbConnection, rows: &[NewTestMessage]) -> QueryResult<()> {
        for row in rows {
            diesel::insert_into(test_messages::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(())
    }

    /// The newest results of an organization, optionally of one project (`Some("")` is
    /// the organization's own settings) and one status.
    pub fn list(
        conn: &mut DbConnection,
        org: &str,
        project: Option<&str>,
        status: Option<DeliveryStatus>,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        let mut query = test_messages::table
            .filter(test_messages::org_id.eq(org))
            .into_boxed();
        if let Some(p) = project {
            query = query.filter(test_messages::project_id.eq(p));
        }
        if let Some(s) = status {
            query = query.filter(test_messages::status.eq(s));
        }
        query
            .order(test_messages::id.desc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
    }
}

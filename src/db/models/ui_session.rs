//! `ui_sessions`: the web UI's live sign-ins. The session cookie carries a random session
//! id; only its SHA-256 is stored here. Signing out deletes the row, so a copy of the
//! cookie taken before stops working at once (the cookie alone cannot be recalled).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::ui_sessions;
use crate::db::{now, DbConnection, FirstRowDsl};

/// A live sign-in.
#[allow(dead_code, reason = "the row mirrors its table")]
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = ui_sessions)]
pub struct UiSession {
    pub id_hash: String,
    pub token_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl UiSession {
    /// Records a sign-in that ends at `expires_at` at the latest.
    pub fn insert(
        conn: &mut DbConnection,
        id_hash: &str,
        token_id: &str,
        expires_at: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::insert_into(ui_sessions::table)
            .values((
                ui_sessions::id_hash.eq(id_hash),
                ui_sessions::token_id.eq(token_id),
                ui_sessions::created_at.eq(now()),
                ui_sessions::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// The sign-in with this id hash, if it has not ended or expired.
    pub fn find_live(conn: &mut DbConnection, id_hash: &str) -> QueryResult<Option<Self>> {
        ui_sessions::table
            .find(id_hash)
            .filter(ui_sessions::expires_at.gt(now()))
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// Ends a sign-in.
    pub fn delete(conn: &mut DbConnection, id_hash: &str) -> QueryResult<usize> {
        diesel::delete(ui_sessions::table.find(id_hash)).execute(conn)
    }

    /// Forgets sign-ins that have expired (called at each sign-in, so the table stays
    /// as small as the number of recent sign-ins).
    pub fn delete_expired(conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::delete(ui_sessions::table.filter(ui_sessions::expires_at.le(now()))).execute(conn)
    }
}

//! `events`: every accepted event, keyed by its `EventKey` (subject + the sender's
//! `event_id`), for idempotency.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::events;
use crate::db::{on_each_backend, CachedDsl, DbConnection, FirstRowDsl};
use crate::domain::ids::SubjectKind;

/// `events.payload`, as logged when it cannot be written or read.
pub const PAYLOAD_COLUMN: &str = "events.payload";

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub event_id: String,
    pub subject_kind: SubjectKind,
    pub subject_id: String,
    pub org_id: String,
    pub project_id: String,
    pub event_type: String,
    pub occurred_at: NaiveDateTime,
    /// The normalised event as JSON (what the message templates show).
    pub payload: String,
    pub resulting_state: String,
    pub received_at: NaiveDateTime,
    /// SHA-256 of the event's body (hex); `None` for events stored before it was kept.
    pub body_sha256: Option<String>,
}

impl EventRow {
    pub fn find_by_id(conn: &mut DbConnection, event_id: &str) -> QueryResult<Option<Self>> {
        events::table
            .find(event_id)
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// The events with these ids (in no particular order; missing ones are left out).
    pub fn find_many(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<Self>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        events::table
            .filter(events::event_id.eq_any(ids))
            .select(Self::as_select())
            .load(conn)
    }

    pub fn insert(conn: &mut DbConnection, row: &Self) -> QueryResult<()> {
        diesel::insert_into(events::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// Inserts the row unless its `event_id` is stored already; returns whether it did.
    pub fn insert_new(conn: &mut DbConnection, row: &Self) -> QueryResult<bool> {
        let inserted: Vec<String> = on_each_backend!(conn, c => diesel::insert_into(events::table)
            .values(row)
            .on_conflict_do_nothing()
            .returning(events::event_id)
            .cached()
            .load(c)?);
        Ok(!inserted.is_empty())
    }

    /// Inserts the rows whose `event_id` is not stored yet; returns the ids it inserted.
    /// The ids must be distinct. One statement on PostgreSQL, one per row on SQLite (see
    /// `LoadTestRow::save_many`).
    pub fn insert_new_many(conn: &mut DbConnection, rows: &[&Self]) -> QueryResult<Vec<String>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        match conn {
            DbConnection::Postgresql(c) => diesel::insert_into(events::table)
                .values(rows.iter().copied().cloned().collect::<Vec<_>>())
                .on_conflict_do_nothing()
                .returning(events::event_id)
                .load(c),
            DbConnection::Sqlite(_) => {
                let mut inserted = Vec::with_capacity(rows.len());
                for row in rows {
                    if Self::insert_new(conn, row)? {
                        inserted.push(row.event_id.clone());
                    }
                }
                Ok(inserted)
            }
        }
    }
}

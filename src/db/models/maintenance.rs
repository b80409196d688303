//! `maintenance_windows` (the windows of an organization or project) and
//! `maintenance_holds` (an incident whose changes a window skipped, until the window's
//! occurrence ends).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::models::installation::ORG_LEVEL;
use crate::db::schema::{maintenance_holds, maintenance_windows};
use crate::db::unreadable::{note_unreadable, read_json};
use crate::db::{on_each_backend, DbConnection, FirstRowDsl};
use crate::domain::maintenance::{
    day_name, parse_day, parse_hhmm, parse_zone, Schedule, Weekly, Window, WindowSpec,
};

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = maintenance_windows)]
pub struct WindowRow {
    pub id: i64,
    pub org_id: String,
    pub project_id: String,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub weekly_days: Option<String>,
    pub weekly_from: Option<String>,
    pub weekly_to: Option<String>,
    pub timezone: Option<String>,
    pub scenarios: Option<String>,
    pub reason: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable, Debug, Clone)]
#[diesel(
    table_name = maintenance_windows,
    treat_none_as_default_value = false,
    treat_none_as_null = true
)]
pub struct NewWindowRow {
    pub org_id: String,
    pub project_id: String,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub weekly_days: Option<String>,
    pub weekly_from: Option<String>,
    pub weekly_to: Option<String>,
    pub timezone: Option<String>,
    pub scenarios: Option<String>,
    pub reason: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

impl NewWindowRow {
    /// The row of `spec` for an organization (`project` `None`) or a project.
    pub fn of(
        (org, project): (&str, Option<&str>),
        spec: &WindowSpec,
        created_by: &str,
        now: NaiveDateTime,
    ) -> Self {
        let mut row = Self {
            org_id: org.to_owned(),
            project_id: project.unwrap_or(ORG_LEVEL).to_owned(),
            starts_at: None,
            ends_at: None,
            weekly_days: None,
            weekly_from: None,
            weekly_to: None,
            timezone: None,
            scenarios: spec
                .scenarios
                .as_ref()
                .and_then(|s| serde_json::to_string(s).ok()),
            reason: spec.reason.clone(),
            created_by: created_by.to_owned(),
            created_at: now,
        };
        match &spec.schedule {
            Schedule::Once { starts_at, ends_at } => {
                row.starts_at = Some(starts_at.naive_utc());
                row.ends_at = Some(ends_at.naive_utc());
            }
            Schedule::Weekly(w) => {
                let days: Vec<&str> = w.days.iter().map(|d| day_name(*d)).collect();
                row.weekly_days = Some(days.join(","));
                row.weekly_from = Some(w.from.format("%H:%M").to_string());
                row.weekly_to = Some(w.to.format("%H:%M").to_string());
                row.timezone = Some(w.timezone.name().to_owned());
            }
        }
        row
    }
}

impl WindowRow {
    /// The project it belongs to (`None`: the organization's).
    pub fn project(&self) -> Option<&str> {
        (self.project_id != ORG_LEVEL).then_some(self.project_id.as_str())
    }

    fn schedule(&self) -> Option<Schedule> {
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at) {
            return Some(Schedule::Once {
                starts_at: s.and_utc(),
                ends_at: e.and_utc(),
            });
        }
        let days = self
            .weekly_days
            .as_deref()?
            .split(',')
            .map(parse_day)
            .collect::<Option<Vec<_>>>()?;
        Some(Schedule::Weekly(Weekly {
            days,
            from: parse_hhmm(self.weekly_from.as_deref()?)?,
            to: parse_hhmm(self.weekly_to.as_deref()?)?,
            timezone: parse_zone(self.timezone.as_deref()?)?,
        }))
    }

    /// The domain window; `None` (logged) for a row this version cannot read (it then
    /// holds nothing).
    pub fn window(&self) -> Option<Window> {
        let Some(schedule) = self.schedule() else {
            note_unreadable(
                "maintenance_windows",
                &format!("window {} has no readable schedule", self.id),
            );
            return None;
        };
        let scenarios = self
            .scenarios
            .as_deref()
            .map(|s| read_json::<Vec<String>>("maintenance_windows.scenarios", s));
        Some(Window {
            id: self.id,
            spec: WindowSpec {
                schedule,
                scenarios,
                reason: self.reason.clone(),
            },
        })
    }

    pub fn insert(conn: &mut DbConnection, row: &NewWindowRow) -> QueryResult<Self> {
        let id: i64 = on_each_backend!(conn, c => diesel::insert_into(maintenance_windows::table)
            .values(row)
            .returning(maintenance_windows::id)
            .get_result(c))?;
        Self::find(conn, id)?.ok_or(diesel::result::Error::NotFound)
    }

    /// The windows of one scope (an organization's own, or a project's), oldest first.
    pub fn list(
        conn: &mut DbConnection,
        (org, project): (&str, Option<&str>),
    ) -> QueryResult<Vec<Self>> {
        maintenance_windows::table
            .filter(maintenance_windows::org_id.eq(org))
            .filter(maintenance_windows::project_id.eq(project.unwrap_or(ORG_LEVEL)))
            .order(maintenance_windows::id.asc())
            .select(Self::as_select())
            .load(conn)
    }

    /// The windows that apply to a project's scenarios: the organization's and its own.
    pub fn applying_to(
        conn: &mut DbConnection,
        (org, project): (&str, &str),
    ) -> QueryResult<Vec<Window>> {
        let rows: Vec<Self> = maintenance_windows::table
            .filter(maintenance_windows::org_id.eq(org))
            .filter(
                maintenance_windows::project_id
                    .eq(ORG_LEVEL)
                    .or(maintenance_windows::project_id.eq(project)),
            )
            .order(maintenance_windows::id.asc())
            .select(Self::as_select())
            .load(conn)?;
        Ok(rows.iter().filter_map(Self::window).collect())
    }

    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Self>> {
        maintenance_windows::table
            .find(id)
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// Deletes the window; whether it was there.
    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
        let n = diesel::delete(maintenance_windows::table.find(id)).execute(conn)?;
        Ok(n > 0)
    }
}

/// An incident held by a window until `until_at`.
#[derive(Queryable, Selectable, Insertable, Debug, Clone, PartialEq)]
#[diesel(
    table_name = maintenance_holds,
    treat_none_as_default_value = false,
    treat_none_as_null = true
)]
pub struct HoldRow {
    pub scenario_id: String,
    pub incident: i64,
    pub org_id: String,
    pub project_id: String,
    pub window_id: i64,
    pub reason: String,
    pub until_at: NaiveDateTime,
    pub opened_inside: bool,
    pub failing_since: Option<NaiveDateTime>,
    pub event_id: String,
    pub created_at: NaiveDateTime,
}

impl HoldRow {
    /// Records the hold, or moves an existing one of the incident to this window, its end
    /// and newest skipped change (it keeps whether the incident opened inside a window).
    pub fn upsert(conn: &mut DbConnection, row: &Self) -> QueryResult<()> {
        use diesel::upsert::excluded;
        on_each_backend!(conn, c => diesel::insert_into(maintenance_holds::table)
            .values(row)
            .on_conflict((maintenance_holds::scenario_id, maintenance_holds::incident))
            .do_update()
            .set((
                maintenance_holds::window_id.eq(excluded(maintenance_holds::window_id)),
                maintenance_holds::reason.eq(excluded(maintenance_holds::reason)),
                maintenance_holds::until_at.eq(excluded(maintenance_holds::until_at)),
                maintenance_holds::event_id.eq(excluded(maintenance_holds::event_id)),
            ))
            .execute(c))?;
        Ok(())
    }

    /// Holds whose window occurrence ended at or before `now`, oldest end first.
    pub fn due(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<Self>> {
        maintenance_holds::table
            .filter(maintenance_holds::until_at.le(now))
            .order((
                maintenance_holds::until_at.asc(),
                maintenance_holds::scenario_id.asc(),
            ))
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
    }

    /// The holds of one window.
    pub fn of_window(conn: &mut DbConnection, window_id: i64) -> QueryResult<Vec<Self>> {
        maintenance_holds::table
            .filter(maintenance_holds::window_id.eq(window_id))
            .select(Self::as_select())
            .load(conn)
    }

    /// Removes the hold as it was read; whether this call removed it (another instance,
    /// or a later change that moved it, makes it `false`: then someone else acts on it).
    pub fn take(conn: &mut DbConnection, row: &Self) -> QueryResult<bool> {
        let n = diesel::delete(
            maintenance_holds::table
                .find((&row.scenario_id, row.incident))
                .filter(maintenance_holds::until_at.eq(row.until_at))
                .filter(maintenance_holds::event_id.eq(&row.event_id)),
        )
        .execute(conn)?;
        Ok(n == 1)
    }
}

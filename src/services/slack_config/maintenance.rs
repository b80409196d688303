//! Maintenance windows as admins see them (API and web UI): created, listed and deleted
//! per organization or project (audited). Deleting a window releases what it holds now
//! (`pipeline::ingest::release_window`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ensure_exists, settled, ConfigError, Scope};
use crate::db::models::audit::AuditEntry;
use crate::db::models::maintenance::{NewWindowRow, WindowRow};
use crate::db::{write_tx, DbConnection};
use crate::domain::access::Principal;
use crate::domain::maintenance::{day_name, Schedule, WindowInput};
use crate::pipeline::ingest::release_window;
use crate::services::Services;

/// The most windows one scope keeps.
pub const MAX_WINDOWS: usize = 100;

/// A weekly window's times.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WeeklyView {
    pub days: Vec<String>,
    pub from: String,
    pub to: String,
    pub timezone: String,
}

/// A maintenance window (`GET …/slack/maintenance-windows`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WindowView {
    pub id: i64,
    pub org: String,
    /// `null`: the organization's window (all its projects).
    pub project: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub weekly: Option<WeeklyView>,
    /// `null`: every scenario.
    pub scenarios: Option<Vec<String>>,
    pub reason: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The end of the occurrence going on now (`null`: not active now).
    pub active_until: Option<DateTime<Utc>>,
}

/// A window of `scope` as the API shows it; `None` for a row this version cannot read.
pub fn view(row: &WindowRow, now: DateTime<Utc>) -> Option<WindowView> {
    let window = row.window()?;
    let (starts_at, ends_at, weekly) = match &window.spec.schedule {
        Schedule::Once { starts_at, ends_at } => (Some(*starts_at), Some(*ends_at), None),
        Schedule::Weekly(w) => (
            None,
            None,
            Some(WeeklyView {
                days: w.days.iter().map(|d| day_name(*d).to_owned()).collect(),
                from: w.from.format("%H:%M").to_string(),
                to: w.to.format("%H:%M").to_string(),
                timezone: w.timezone.name().to_owned(),
            }),
        ),
    };
    Some(WindowView {
        id: row.id,
        org: row.org_id.clone(),
        project: row.project().map(str::to_owned),
        starts_at,
        ends_at,
        weekly,
        active_until: window.spec.schedule.occurrence_at(now).map(|o| o.end),
        scenarios: window.spec.scenarios,
        reason: window.spec.reason,
        created_by: row.created_by.clone(),
        created_at: row.created_at.and_utc(),
    })
}

fn scope_key(scope: &Scope) -> (String, Option<String>) {
    (
        scope.org().to_string(),
        scope.project().map(ToString::to_string),
    )
}

fn list_in(conn: &mut DbConnection, scope: &Scope) -> Result<Vec<WindowView>, ConfigError> {
    let (org, project) = scope_key(scope);
    let now = Utc::now();
    Ok(WindowRow::list(conn, (&org, project.as_deref()))?
        .iter()
        .filter_map(|r| view(r, now))
        .collect())
}

/// The scope's own windows, oldest first.
pub async fn list_windows(
    services: &Services,
    scope: &Scope,
) -> Result<Vec<WindowView>, ConfigError> {
    let s = scope.clone();
    services
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            list_in(conn, &s)
        })
        .await
}

/// Creates a window (422 naming the field for bad times, zones, days, reason).
pub async fn create_window(
    services: &Services,
    admin: &Principal,
    scope: &Scope,
    input: WindowInput,
) -> Result<WindowView, ConfigError> {
    let now = Utc::now();
    let spec = input.validate(now).map_err(|e| ConfigError::Invalid {
        field: e.field,
        message: e.message,
    })?;
    let s = scope.clone();
    let (actor, name) = (admin.actor(), admin.name.clone());
    let result = services
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let (org, project) = scope_key(&s);
            write_tx(
                conn,
                |c| -> diesel::QueryResult<Result<WindowRow, ConfigError>> {
                    if WindowRow::list(c, (&org, project.as_deref()))?.len() >= MAX_WINDOWS {
                        return Ok(Err(ConfigError::Invalid {
                            field: "maintenance_windows".into(),
                            message: format!("at most {MAX_WINDOWS} maintenance windows per scope"),
                        }));
                    }
                    let row =
                        NewWindowRow::of((&org, project.as_deref()), &spec, &name, now.naive_utc());
                    let row = WindowRow::insert(c, &row)?;
                    AuditEntry::insert(
                        c,
                        &actor,
                        &org,
                        project.as_deref(),
                        "maintenance_window.create",
                        &serde_json::json!({"id": row.id, "reason": row.reason}),
                    )?;
                    Ok(Ok(row))
                },
            )
            .map_err(ConfigError::from)?
            .and_then(|row| {
                view(&row, now).ok_or_else(|| ConfigError::NotFound("window unreadable".into()))
            })
        })
        .await;
    settled(services, scope.org().as_str(), result)
}

/// Deletes a window of the scope; what it holds is released now (posted if still failing).
/// `NotFound` for another scope's window. Returns the channels (workspace, channel) of
/// what the release queued (the caller wakes the sender).
pub async fn delete_window(
    services: &Services,
    admin: &Principal,
    scope: &Scope,
    id: i64,
) -> Result<Vec<(String, String)>, ConfigError> {
    let s = scope.clone();
    let actor = admin.actor();
    let released = services
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let (org, project) = scope_key(&s);
            let found = WindowRow::find(conn, id)?
                .filter(|w| w.org_id == org && w.project().map(str::to_owned) == project);
            let Some(window) = found else {
                return Err(ConfigError::NotFound(format!(
                    "no maintenance window {id} here"
                )));
            };
            let released = write_tx(conn, |c| -> diesel::QueryResult<_> {
                if !WindowRow::delete(c, window.id)? {
                    return Ok(None);
                }
                AuditEntry::insert(
                    c,
                    &actor,
                    &org,
                    project.as_deref(),
                    "maintenance_window.delete",
                    &serde_json::json!({"id": window.id, "reason": window.reason}),
                )?;
                release_window(c, window.id, Utc::now()).map(Some)
            })?;
            released
                .ok_or_else(|| ConfigError::NotFound(format!("no maintenance window {id} here")))
        })
        .await?;
    Ok(released.channels)
}

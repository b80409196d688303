//! Maintenance windows in the pipeline (API.md "Maintenance windows"): a change of a
//! scenario a window covers is logged `skipped` and its incident held until the window's
//! occurrence ends ([`hold`], inside the ingest transaction); then the hold is released
//! once ([`release_due`]): an incident that opened inside the window and is still failing
//! is posted then, marked "failing since …, during maintenance"; one that recovered
//! inside sends nothing; an incident posted before the window gets its newest change.

use chrono::{DateTime, Utc};

use super::{naive, outbox_rows, pending_channels, IngestError};
use crate::db::models::delivery::{Delivery, DeliveryStatus, NewDelivery};
use crate::db::models::event::{EventRow, PAYLOAD_COLUMN};
use crate::db::models::maintenance::{HoldRow, WindowRow};
use crate::db::models::scenario::ScenarioRow;
use crate::db::unreadable::write_json;
use crate::db::DbConnection;
use crate::domain::delivery_reason::DeliveryReason;
use crate::domain::ids::{EventKey, SubjectKey, SubjectKind};
use crate::domain::maintenance::{holding, MaintenanceNote};
use crate::domain::monitoring::Change;
use crate::pipeline::effective::load_effective;
use crate::pipeline::events::{Payload, ScenarioPayload};

/// Holds released per call of [`release_due`] (the rest on the next).
const RELEASE_BATCH: i64 = 50;

/// A scenario's change whose outbox rows are being decided.
pub(super) struct ScenarioChange<'a> {
    pub org: &'a str,
    pub project: &'a str,
    pub scenario: &'a str,
    pub incident: i64,
    pub change: &'a Change,
    pub failing_since: Option<DateTime<Utc>>,
    /// The change's event key.
    pub event_id: &'a str,
    /// When it happened (what the windows are compared with).
    pub at: DateTime<Utc>,
}

/// Inside a window covering the scenario, the change's pending rows are skipped with the
/// window's reason and its incident is held until the occurrence ends. Call inside the
/// ingest transaction, before the rows are queued.
pub(super) fn hold(
    conn: &mut DbConnection,
    c: &ScenarioChange<'_>,
    rows: &mut [NewDelivery],
    now: DateTime<Utc>,
) -> Result<(), IngestError> {
    if !rows.iter().any(|r| r.status == DeliveryStatus::Pending) {
        return Ok(());
    }
    let windows = WindowRow::applying_to(conn, (c.org, c.project))?;
    let Some((window, occurrence)) = holding(&windows, c.scenario, c.at) else {
        return Ok(());
    };
    let reason = DeliveryReason::maintenance(&window.spec.reason, window.id, occurrence.end);
    for r in rows
        .iter_mut()
        .filter(|r| r.status == DeliveryStatus::Pending)
    {
        r.skip(&reason);
    }
    HoldRow::upsert(
        conn,
        &HoldRow {
            scenario_id: c.scenario.to_owned(),
            incident: c.incident,
            org_id: c.org.to_owned(),
            project_id: c.project.to_owned(),
            window_id: window.id,
            reason: window.spec.reason.clone(),
            until_at: naive(occurrence.end),
            // Kept from the first hold of the incident (the upsert does not change it).
            opened_inside: matches!(c.change, Change::Failing { .. }),
            failing_since: c.failing_since.map(naive),
            event_id: c.event_id.to_owned(),
            created_at: naive(now),
        },
    )?;
    Ok(())
}

/// What releasing holds did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Released {
    /// Holds released (by this call; another instance's are not counted).
    pub released: usize,
    /// Incidents posted (or changes re-sent); their pending channels.
    pub channels: Vec<(String, String)>,
}

/// Releases the holds whose window occurrence has ended by `now` (also after downtime:
/// each hold once, whenever the service is back). Each hold is taken by deleting its row
/// in the transaction that queues what it sends, so across instances one acts on it.
/// Call inside `write_tx`.
pub fn release_due(conn: &mut DbConnection, now: DateTime<Utc>) -> diesel::QueryResult<Released> {
    let due = HoldRow::due(conn, naive(now), RELEASE_BATCH)?;
    release(conn, &due, now)
}

/// Releases the holds of window `window_id` now: call inside `write_tx`, after deleting
/// the window (another window still covering a scenario keeps holding it).
pub fn release_window(
    conn: &mut DbConnection,
    window_id: i64,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Released> {
    let holds = HoldRow::of_window(conn, window_id)?;
    release(conn, &holds, now)
}

fn release(
    conn: &mut DbConnection,
    holds: &[HoldRow],
    now: DateTime<Utc>,
) -> diesel::QueryResult<Released> {
    let mut out = Released::default();
    for h in holds {
        if !HoldRow::take(conn, h)? {
            continue;
        }
        out.released += 1;
        // A window still covering the scenario now (another, or this one's next
        // occurrence) holds it on.
        let windows = WindowRow::applying_to(conn, (&h.org_id, &h.project_id))?;
        if let Some((w, o)) = holding(&windows, &h.scenario_id, now) {
            HoldRow::upsert(
                conn,
                &HoldRow {
                    window_id: w.id,
                    reason: w.spec.reason.clone(),
                    until_at: naive(o.end),
                    ..h.clone()
                },
            )?;
            continue;
        }
        out.channels.extend(send_after(conn, h, now)?);
    }
    Ok(out)
}

/// What a released hold sends: an incident that opened inside and is still failing is
/// posted (card and first message, marked); one posted before the window gets its newest
/// skipped change; an incident that opened and recovered inside sends nothing.
fn send_after(
    conn: &mut DbConnection,
    h: &HoldRow,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Vec<(String, String)>> {
    let Some(scenario) = ScenarioRow::find_by_id(conn, &h.scenario_id)? else {
        return Ok(Vec::new());
    };
    let Some(newest) = EventRow::find_by_id(conn, &h.event_id)? else {
        return Ok(Vec::new());
    };
    let Ok(Payload::Scenario(skipped)) = serde_json::from_str::<Payload>(&newest.payload) else {
        return Ok(Vec::new());
    };
    let still_failing = scenario.incident == h.incident && scenario.failing_since.is_some();
    let payload = if h.opened_inside {
        if !still_failing {
            return Ok(Vec::new());
        }
        let failing_since = h
            .failing_since
            .or(scenario.failing_since)
            .map_or(now, |t| t.and_utc());
        ScenarioPayload {
            change: Change::Failing {
                severity: scenario.state,
            },
            health: scenario.state,
            occurred_at: failing_since,
            incident: h.incident,
            maintenance: Some(MaintenanceNote {
                failing_since,
                reason: h.reason.clone(),
            }),
            ..skipped
        }
    } else {
        skipped
    };
    let until = h.until_at.and_utc().timestamp();
    let key = EventKey::generated(
        SubjectKind::Scenario,
        &h.scenario_id,
        &format!("maintenance end {} {until} {}", h.window_id, h.incident),
    );
    let kind = payload.change.kind();
    let event = EventRow {
        event_id: key.as_str().to_owned(),
        subject_kind: SubjectKind::Scenario,
        subject_id: h.scenario_id.clone(),
        org_id: h.org_id.clone(),
        project_id: h.project_id.clone(),
        event_type: kind.to_owned(),
        occurred_at: naive(payload.occurred_at),
        payload: write_json(PAYLOAD_COLUMN, &Payload::Scenario(payload.clone()), "null"),
        resulting_state: scenario.state.as_str().to_owned(),
        received_at: naive(now),
        body_sha256: None,
    };
    if !EventRow::insert_new(conn, &event)? {
        // Sent already (a hold taken twice cannot happen; this keeps it so regardless).
        return Ok(Vec::new());
    }
    let effective = load_effective(conn, &h.org_id, Some(&h.project_id))?;
    let rows = outbox_rows(
        &effective,
        key.as_str(),
        (&h.org_id, &h.project_id),
        SubjectKey::incident(&h.scenario_id, h.incident).as_str(),
        kind,
        false,
        naive(now),
    );
    Delivery::insert_all(conn, &rows)?;
    Ok(pending_channels(&rows))
}

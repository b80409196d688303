//! The ingest transaction of one monitoring result: the scenario's new state, its event
//! row and the outbox rows of the change it makes. A result older than the newest one
//! applied is only kept in the history.

use chrono::{DateTime, Utc};

use super::{
    maintenance, naive, outbox_rows, precheck, queue, record_event, refused, same_project,
    save_versioned, Identity, IngestError, IngestOutcome, Resolved, Stored,
};
use crate::db::models::delivery::DeliveryStatus;
use crate::db::models::delivery::NewDelivery;
use crate::db::models::event::{EventRow, PAYLOAD_COLUMN};
use crate::db::models::load_test::LoadTestRow;
use crate::db::models::scenario::ScenarioRow;
use crate::db::unreadable::{read_json, write_json};
use crate::db::DbConnection;
use crate::domain::delivery_reason::DeliveryReason;
use crate::domain::ids::{EventKey, SubjectKey, SubjectKind};
use crate::domain::monitoring::{self, ScenarioState};
use crate::domain::quiet::{naming_load_test, DuringLoadTests, QuietNote};
use crate::domain::settings::Effective;
use crate::pipeline::events::{MonitoringEvent, Payload, ScenarioPayload};
use crate::pipeline::holds::{self, HeldIncident};
use crate::pipeline::incidents;
/// Applies a monitoring event. Call inside `write_tx`.
pub fn monitoring_event(
    conn: &mut DbConnection,
    ev: &MonitoringEvent,
    resolved: &Resolved,
    flap: &monitoring::FlapRules,
    now: DateTime<Utc>,
) -> Result<IngestOutcome, IngestError> {
    let (org, project) = (ev.org.as_str(), ev.project.as_str());
    let effective = &resolved.effective;
    let key = EventKey::new(SubjectKind::Scenario, ev.scenario.as_str(), &ev.event_id);
    let id = Identity {
        key: &key,
        fingerprint: &ev.fingerprint,
    };
    if let Some(duplicate) = precheck(conn, &id, (org, project), resolved)? {
        return Ok(duplicate);
    }
    let existing = ScenarioRow::find_by_id(conn, ev.scenario.as_str())?;
    if let Some(row) = &existing {
        let checked = same_project(
            "scenario",
            &row.id,
            (&row.org_id, &row.project_id),
            (org, project),
        );
        if let Err(e) = checked {
            return refused(conn, &id, e);
        }
    }
    let prev = existing.as_ref().map_or(ScenarioState::NEW, state_of);
    if let Some(row) = existing.as_ref().filter(|r| is_stale(r, ev)) {
        return stale(conn, &id, ev, resolved, row, prev, flap, now);
    }
    let (next, change) = monitoring::apply_with(prev, ev.health, ev.occurred_at, flap);
    let now_naive = naive(now);
    let name = ev
        .info
        .name
        .clone()
        .or_else(|| existing.as_ref().map(|r| r.name.clone()))
        .unwrap_or_else(|| ev.scenario.to_string());
    let row = ScenarioRow {
        id: ev.scenario.to_string(),
        org_id: org.to_owned(),
        project_id: project.to_owned(),
        name: name.clone(),
        url: ev
            .info
            .url
            .clone()
            .or_else(|| existing.as_ref().and_then(|r| r.url.clone())),
        state: next.health,
        failing_since: next.failing_since.map(naive),
        incident: next.incident,
        version: existing.as_ref().map_or(1, |r| r.version + 1),
        created_at: existing.as_ref().map_or(now_naive, |r| r.created_at),
        updated_at: now_naive,
        recent_changes: write_json("scenarios.recent_changes", &next.recent_changes, "[]"),
        flapping_since: next.flapping_since.map(naive),
        flap_changes: next.flap_changes,
        ok_since: next.ok_since.map(naive),
        last_result_at: Some(naive(ev.occurred_at)),
        first_result_at: existing
            .as_ref()
            .map_or(Some(naive(ev.occurred_at)), |r| r.first_result_at),
    };
    let event_type = change.map_or("scenario_unchanged", |c| c.kind());
    let quiet = match change {
        Some(c) if ev.notify_slack => quiet_note(conn, effective, (org, project), &c)?,
        _ => None,
    };
    let payload = change.map(|c| {
        Payload::Scenario(ScenarioPayload {
            scenario_id: row.id.clone(),
            name: name.clone(),
            url: row.url.clone(),
            change: c,
            health: ev.health,
            occurred_at: ev.occurred_at,
            incident: next.incident,
            execution: ev.execution.clone(),
            failed_sensors: ev.failed_sensors.clone(),
            quiet: quiet.clone(),
            maintenance: None,
        })
    });
    let event = EventRow {
        event_id: key.as_str().to_owned(),
        subject_kind: SubjectKind::Scenario,
        subject_id: row.id.clone(),
        org_id: org.to_owned(),
        project_id: project.to_owned(),
        event_type: event_type.to_owned(),
        occurred_at: naive(ev.occurred_at),
        payload: payload.as_ref().map_or_else(
            || "null".to_owned(),
            |p| write_json(PAYLOAD_COLUMN, p, "null"),
        ),
        resulting_state: next.health.as_str().to_owned(),
        received_at: now_naive,
        body_sha256: Some(ev.fingerprint.clone()),
    };
    if let Some(duplicate) = record_event(conn, &id, &event)? {
        return Ok(duplicate);
    }
    save_versioned(
        conn,
        existing.as_ref().map(|r| r.version),
        |c, version| row.save_if_version(c, version),
        |c| ScenarioRow::insert(c, &row),
    )?;
    // Only changes of scenarios that notify via Slack become messages.
    let mut channels = Vec::new();
    if let (Some(change), true) = (change, ev.notify_slack) {
        let mut rows = outbox_rows(
            effective,
            key.as_str(),
            (org, project),
            SubjectKey::incident(&row.id, next.incident).as_str(),
            change.kind(),
            false,
            now_naive,
        );
        if change.card_only() {
            // A flapping scenario's later changes only update its incident card: nothing
            // where there is no card (threads off, or nothing to send).
            rows.retain(|r| r.threads && r.status == DeliveryStatus::Pending);
        } else if rows.iter().any(|r| r.status == DeliveryStatus::Pending) {
            // A muted incident's changes are logged as skipped, with who muted it until when.
            let recovery = matches!(change, monitoring::Change::Recovered { .. });
            let muted = incidents::mute_reason(conn, &row.id, next.incident, recovery, now)?;
            if let Some(reason) = muted {
                for r in rows
                    .iter_mut()
                    .filter(|r| r.status == DeliveryStatus::Pending)
                {
                    r.skip(&reason);
                }
            }
        }
        let held = maintenance::ScenarioChange {
            org,
            project,
            scenario: &row.id,
            incident: next.incident,
            change: &change,
            failing_since: next.failing_since,
            event_id: key.as_str(),
            at: ev.occurred_at,
        };
        maintenance::hold(conn, &held, &mut rows, now)?;
        // A maintenance window skips first; what is still pending may wait for a load test.
        if rows.iter().any(|r| r.status == DeliveryStatus::Pending) {
            hold(
                conn,
                &row,
                next.failing_since,
                change,
                quiet.as_ref(),
                &mut rows,
                ev,
                now,
            )?;
        }
        channels = queue(conn, &rows)?;
    }
    Ok(IngestOutcome::Accepted {
        state: next.health.as_str().to_owned(),
        channels,
        stored: Stored {
            event_id: event.event_id,
            payload: payload.map(std::sync::Arc::new),
        },
    })
}

/// `during_load_tests: hold`: the change that opens an incident during a load test opens
/// its hold; the later changes of a held incident join it (`pipeline::holds`).
#[allow(clippy::too_many_arguments)]
fn hold(
    conn: &mut DbConnection,
    row: &ScenarioRow,
    failing_since: Option<DateTime<Utc>>,
    change: monitoring::Change,
    quiet: Option<&QuietNote>,
    rows: &mut [NewDelivery],
    ev: &MonitoringEvent,
    now: DateTime<Utc>,
) -> Result<(), IngestError> {
    if let Some(QuietNote::HeldDuringLoadTest { load_test }) = quiet {
        let incident = HeldIncident {
            org: &row.org_id,
            project: &row.project_id,
            scenario_id: &row.id,
            incident: row.incident,
            failing_since: failing_since.unwrap_or(ev.occurred_at),
        };
        holds::open(conn, &incident, load_test, rows, now)?;
    } else {
        let recovered = matches!(change, monitoring::Change::Recovered { .. });
        let recovered_at = recovered.then_some(ev.occurred_at);
        holds::join(conn, &row.id, row.incident, recovered_at, rows)?;
    }
    Ok(())
}

/// What the change that opens an incident says about the quiet time it opens in: with
/// `during_load_tests` other than `notify`, the project's earliest load test that is
/// started or running. Later changes of the incident carry nothing (its card keeps it).
fn quiet_note(
    conn: &mut DbConnection,
    effective: &Effective,
    (org, project): (&str, &str),
    change: &monitoring::Change,
) -> Result<Option<QuietNote>, IngestError> {
    let opens = matches!(change, monitoring::Change::Failing { .. });
    if !opens || effective.during_load_tests.value == DuringLoadTests::Notify {
        return Ok(None);
    }
    let running = LoadTestRow::active_in_project(conn, org, project)?;
    let named = naming_load_test(running.iter().map(LoadTestRow::to_running).collect());
    Ok(
        named.map(|load_test| match effective.during_load_tests.value {
            DuringLoadTests::Hold => QuietNote::HeldDuringLoadTest { load_test },
            _ => QuietNote::DuringLoadTest { load_test },
        }),
    )
}

/// The scenario's remembered state.
fn state_of(r: &ScenarioRow) -> ScenarioState {
    ScenarioState {
        health: r.state,
        failing_since: r.failing_since.map(|t| t.and_utc()),
        incident: r.incident,
        recent_changes: read_json("scenarios.recent_changes", &r.recent_changes),
        flapping_since: r.flapping_since.map(|t| t.and_utc()),
        flap_changes: r.flap_changes,
        ok_since: r.ok_since.map(|t| t.and_utc()),
    }
}

/// Whether `ev` occurred before the newest result already applied to the scenario.
fn is_stale(row: &ScenarioRow, ev: &MonitoringEvent) -> bool {
    row.last_result_at
        .is_some_and(|newest| naive(ev.occurred_at) < newest)
}

/// A result older than the newest applied: kept in the history (its event row, with the
/// scenario's state as it is), nothing else changes. When it would have changed the
/// scenario had it been the newest, and the scenario notifies via Slack, the delivery log
/// gets a `skipped` row per channel saying so.
#[allow(clippy::too_many_arguments)]
fn stale(
    conn: &mut DbConnection,
    id: &Identity<'_>,
    ev: &MonitoringEvent,
    resolved: &Resolved,
    row: &ScenarioRow,
    prev: ScenarioState,
    flap: &monitoring::FlapRules,
    now: DateTime<Utc>,
) -> Result<IngestOutcome, IngestError> {
    let (org, project) = (ev.org.as_str(), ev.project.as_str());
    let state = row.state.as_str().to_owned();
    let event = EventRow {
        event_id: id.key.as_str().to_owned(),
        subject_kind: SubjectKind::Scenario,
        subject_id: row.id.clone(),
        org_id: org.to_owned(),
        project_id: project.to_owned(),
        event_type: "scenario_stale".to_owned(),
        occurred_at: naive(ev.occurred_at),
        payload: "null".to_owned(),
        resulting_state: state.clone(),
        received_at: naive(now),
        body_sha256: Some(ev.fingerprint.clone()),
    };
    if let Some(duplicate) = record_event(conn, id, &event)? {
        return Ok(duplicate);
    }
    let incident = prev.incident;
    let (_, would_change) = monitoring::apply_with(prev, ev.health, ev.occurred_at, flap);
    if let (Some(change), true) = (would_change, ev.notify_slack) {
        let newest = row.last_result_at.map(|t| t.and_utc()).unwrap_or(now);
        let reason = DeliveryReason::stale(ev.health, ev.occurred_at, newest);
        let mut rows = outbox_rows(
            &resolved.effective,
            id.key.as_str(),
            (org, project),
            SubjectKey::incident(&row.id, incident).as_str(),
            change.kind(),
            false,
            naive(now),
        );
        // A row already skipped keeps its own reason (sending disabled, ...).
        for r in rows
            .iter_mut()
            .filter(|r| r.status == DeliveryStatus::Pending)
        {
            r.skip(&reason);
        }
        queue(conn, &rows)?;
    }
    Ok(IngestOutcome::Stale { state })
}

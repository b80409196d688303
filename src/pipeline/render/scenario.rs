//! The context of monitoring messages: a scenario's change, its incident card with the
//! history of changes and the failed sensors.

use serde_json::{json, Value};

use super::change::change_title;
use super::incident::controls_context;
use super::shared::{event_info, fit, name_context, names_context};
use super::{
    color, Card, CardControls, IncidentEntry, MessageNames, MAX_LISTED_SENSORS, MAX_SHORT,
};
use crate::domain::monitoring::{human_duration, Change, Health};
use crate::domain::quiet::QuietNote;
use crate::pipeline::events::{FailedSensor, HoldRecoveredPayload, ScenarioPayload};
use crate::slack::text;

pub(super) fn sensors_context(sensors: &[FailedSensor]) -> Vec<Value> {
    sensors
        .iter()
        .take(MAX_LISTED_SENSORS)
        .map(|s| {
            json!({
                "name": fit(&s.name, MAX_SHORT),
                "message": s.message.as_deref().map(|m| fit(m, 300)),
            })
        })
        .collect()
}

pub(super) fn history_context(history: &[IncidentEntry]) -> Vec<Value> {
    history
        .iter()
        .map(|e| {
            let words = change_title(&e.change);
            json!({
                "ts": e.at.timestamp(),
                "at": e.at.format("%H:%M UTC").to_string(),
                "emoji": words.emoji,
                "title": words.history,
                "sensors": sensors_context(&e.sensors),
                "more_sensors": if e.more_sensors > 0 { Value::from(e.more_sensors) } else { Value::Null },
            })
        })
        .collect()
}

pub(super) fn scenario_context(
    sc: &ScenarioPayload,
    names: &MessageNames,
    card: Option<&Card>,
    controls: Option<&CardControls>,
) -> Value {
    let words = change_title(&sc.change);
    let (previous, down_for, color) = match sc.change {
        Change::Failing { .. } => (None, None, color::RED),
        // On a card the history shows the change; a message of its own says it here.
        Change::SeverityChanged { from, .. } => {
            (card.is_none().then(|| from.as_str()), None, color::RED)
        }
        Change::Recovered { down_seconds } => {
            (None, Some(human_duration(down_seconds)), color::GREEN)
        }
        Change::Flapping { .. } => (None, None, color::ORANGE),
    };
    let history = card
        .map(|c| history_context(&c.history))
        .unwrap_or_default();
    let since = card
        .and_then(|c| c.history.first())
        .map(|e| json!({"ts": e.at.timestamp(), "at": e.at.format("%H:%M UTC").to_string()}));
    let more = sc.failed_sensors.len().saturating_sub(MAX_LISTED_SENSORS);
    let (org, project) = names_context(names);
    let (name, header, name_cut) = name_context(&sc.name);
    let exec = sc.execution.as_ref();
    json!({
        "org": org,
        "project": project,
        "scenario": {
            "id": sc.scenario_id,
            "name": name,
            "header": header,
            "name_cut": name_cut,
            "url": sc.url.as_deref().and_then(text::safe_url),
        },
        "event": event_info(
            (words.title, &words.short, Some(&words.detail)),
            words.emoji,
            sc.change.kind(),
            sc.occurred_at,
        ),
        "color": color,
        "state": {
            "id": sc.health.as_str(),
            // The state in one line (compact cards, notifications): no change, the state.
            "label": match sc.change {
                Change::Failing { .. } | Change::SeverityChanged { .. } => {
                    format!("Failing, severity {}", sc.health.as_str())
                }
                _ => words.short.clone(),
            },
            "title": words.state,
            "emoji": words.emoji,
        },
        "severity": sc.health.as_str(),
        "worst": card.and_then(|c| c.worst).map(Health::as_str),
        "previous_severity": previous,
        "down_for": down_for,
        "since": since,
        "execution": {
            "id": exec.and_then(|e| e.id.as_deref()).map(|v| fit(v, MAX_SHORT)),
            "url": exec.and_then(|e| e.url.as_deref()).and_then(text::safe_url),
            "location": exec.and_then(|e| e.location.as_deref()).map(|v| fit(v, MAX_SHORT)),
        },
        "sensors": sensors_context(&sc.failed_sensors),
        "sensor_count": sc.failed_sensors.len(),
        "more_sensors": if more > 0 { Value::from(more) } else { Value::Null },
        "history": history,
        "controls": controls.map_or_else(
            || json!({"ack": null, "mute": null, "buttons": []}),
            |c| controls_context(c, !matches!(sc.change, Change::Recovered { .. })),
        ),
        "quiet": card
            .and_then(|c| c.quiet.as_ref())
            .or(sc.quiet.as_ref())
            .map(quiet_context),
        "maintenance": card
            .and_then(|c| c.maintenance.as_ref())
            .or(sc.maintenance.as_ref())
            .map(|m| json!({
                "reason": fit(&m.reason, MAX_SHORT),
                "since": {"ts": m.failing_since.timestamp(), "at": m.failing_since.format("%H:%M UTC").to_string()},
            })),
        "broadcast": false,
    })
}

/// The line naming the quiet time an incident opened in.
fn quiet_context(note: &QuietNote) -> Value {
    let (lt, held) = match note {
        QuietNote::DuringLoadTest { load_test } => (load_test, false),
        QuietNote::HeldDuringLoadTest { load_test } => (load_test, true),
    };
    {
        json!({
            "held": held,
            "name": fit(&lt.name, MAX_SHORT),
            "since": {"ts": lt.since.timestamp(), "at": lt.since.format("%H:%M UTC").to_string()},
            "by": lt.started_by.as_deref().map(|b| fit(b, MAX_SHORT)),
            "url": lt.url.as_deref().and_then(text::safe_url),
        })
    }
}

/// A held incident that recovered before its load test ended: which, for how long.
pub(super) fn hold_recovered_context(h: &HoldRecoveredPayload) -> Value {
    let seconds = (h.recovered_at - h.failing_since).num_seconds().max(0);
    json!({
        "name": fit(&h.name, MAX_SHORT),
        "load_test": fit(&h.load_test, MAX_SHORT),
        "failed_for": human_duration(seconds),
    })
}

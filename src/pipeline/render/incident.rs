//! What an incident card shows about people acting on it (acknowledgement, mute, buttons)
//! and the one-line replies about it.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{fit, name_context, names_context, MessageNames, MAX_SHORT};
use crate::domain::incident::{Action, Controls, MuteFor, MUTE_FOR_ACTION_ID, MUTE_FOR_LABEL};
use crate::pipeline::events::IncidentActionPayload;

/// Longest mute reason shown (escaped characters): the dialog takes 300 typed ones, and
/// escaping (`&amp;`) can make those longer.
const MAX_COMMENT: usize = 1_500;

/// What an incident card shows about people acting on it: its acknowledgement and mute,
/// and the opaque reference its buttons carry (`pipeline::incidents`).
#[derive(Debug, Clone, PartialEq)]
pub struct CardControls {
    pub controls: Controls,
    /// The button value: identifies the card without naming a tenant.
    pub reference: String,
    /// A mute that ended by now is not shown.
    pub now: DateTime<Utc>,
}

/// The `controls` context of an incident card: who acknowledged it and when, the mute, and
/// the buttons (none once the incident recovered).
pub(super) fn controls_context(c: &CardControls, open: bool) -> Value {
    let ack = c.controls.ack.as_ref().map(|a| {
        json!({
            "by": fit(&a.by.name, MAX_SHORT),
            "ts": a.at.timestamp(),
            "at": a.at.format("%H:%M UTC").to_string(),
        })
    });
    let mute = c.controls.active_mute(c.now).filter(|_| open).map(|m| {
        json!({
            "by": fit(&m.by.name, MAX_SHORT),
            "comment": m.comment.as_deref().map(|c| fit(c, MAX_COMMENT)),
            "until": m.until.map(|u| json!({
                "ts": u.timestamp(),
                "at": u.format("%Y-%m-%d %H:%M UTC").to_string(),
            })),
        })
    });
    let button = |action_id: &str, label: &str, primary: bool| {
        json!({
            "action_id": action_id,
            "label": label,
            "value": c.reference,
            "style": primary.then_some("primary"),
        })
    };
    let mut buttons: Vec<Value> = Vec::new();
    if open {
        for a in Action::ALL {
            let shown = match a {
                Action::Acknowledge => ack.is_none(),
                Action::Mute(_) => mute.is_none(),
                Action::Unmute => mute.is_some(),
            };
            if shown {
                buttons.push(button(a.action_id(), a.label(), a == Action::Acknowledge));
            }
            // "Mute for…" (a dialog) comes after the fixed mutes.
            if a == Action::Mute(MuteFor::UntilRecovered) && mute.is_none() {
                buttons.push(button(MUTE_FOR_ACTION_ID, MUTE_FOR_LABEL, false));
            }
        }
    }
    json!({"ack": ack, "mute": mute, "buttons": buttons})
}

/// A one-line reply: someone acknowledged, muted or unmuted the incident.
pub(super) fn action_context(a: &IncidentActionPayload, names: &MessageNames) -> Value {
    let (emoji, text) = match a.action {
        Action::Acknowledge => ("eyes", "Acknowledged by "),
        Action::Mute(MuteFor::UntilRecovered) => ("mute", "Muted until recovered by "),
        Action::Mute(_) => ("mute", "Muted by "),
        Action::Unmute => ("loud_sound", "Unmuted by "),
    };
    let (org, project) = names_context(names);
    let (name, _, _) = name_context(&a.name);
    json!({
        "org": org,
        "project": project,
        "scenario": {"id": a.scenario_id, "name": name},
        "emoji": emoji,
        "title": text,
        "by": fit(&a.by.name, MAX_SHORT),
        "comment": a.comment.as_deref().map(|c| fit(c, MAX_COMMENT)),
        "until": a.until.map(|u| json!({
            "ts": u.timestamp(),
            "at": u.format("%Y-%m-%d %H:%M UTC").to_string(),
        })),
        "broadcast": false,
    })
}

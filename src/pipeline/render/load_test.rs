//! The context of load-test messages: event, thread reply and run card (title, colour,
//! progress line, report figures).

use serde_json::{json, Value};

use super::report::report_context;
use super::shared::{event_info, fit, name_context, names_context, opt_fit};
use super::{color, Card, MessageNames, Step, MAX_ERROR, MAX_SHORT};
use crate::domain::event_kind::EventKind;
use crate::domain::lifecycle::{LoadTestEventType, LoadTestState};
use crate::domain::report::SET_BASELINE_ACTION;
use crate::pipeline::events::{LoadTestPayload, Payload};
use crate::slack::text;

/// (title, title in a thread, emoji name) of a load-test event. The title is the event
/// kind's label (`domain::event_kind`), the one name the UI and the delivery log use too.
pub(super) fn load_test_title(t: LoadTestEventType) -> (&'static str, &'static str, &'static str) {
    let (short, emoji) = match t {
        LoadTestEventType::Started => ("Started", "rocket"),
        LoadTestEventType::Running => ("Running", "runner"),
        LoadTestEventType::Finished => ("Finished", "checkered_flag"),
        LoadTestEventType::Aborted => ("Aborted", "octagonal_sign"),
        LoadTestEventType::Error => ("Failed", "x"),
        LoadTestEventType::IntermediateReport => ("Intermediate report", "bar_chart"),
        LoadTestEventType::ReportAvailable => ("Final report", "page_facing_up"),
    };
    (EventKind::of_load_test(t).label(), short, emoji)
}

pub(super) fn state_label(s: LoadTestState) -> &'static str {
    match s {
        LoadTestState::New => "New",
        LoadTestState::Started => "Started",
        LoadTestState::Running => "Running",
        LoadTestState::Finished => "Finished",
        LoadTestState::Aborted => "Aborted",
        LoadTestState::Error => "Failed",
        LoadTestState::Reported => "Report available",
    }
}

/// The colour of one event: red failure, orange abort, green success, neutral progress.
pub(super) fn load_test_color(t: LoadTestEventType, state: LoadTestState) -> &'static str {
    use LoadTestEventType as E;
    match (t, state) {
        (E::Error, _) | (E::ReportAvailable, LoadTestState::Error) => color::RED,
        (E::Aborted, _) | (E::ReportAvailable, LoadTestState::Aborted) => color::ORANGE,
        (E::Finished | E::ReportAvailable, _) => color::GREEN,
        _ => color::NEUTRAL,
    }
}

/// The colour of a run card: its worst outcome so far.
pub(super) fn card_color(path: &[Step]) -> &'static str {
    use LoadTestEventType as E;
    let has = |e: E| path.iter().any(|s| s.event == e);
    if has(E::Error) {
        color::RED
    } else if has(E::Aborted) {
        color::ORANGE
    } else if has(E::Finished) || has(E::ReportAvailable) {
        color::GREEN
    } else {
        color::NEUTRAL
    }
}

pub(super) fn load_test_context(
    lt: &LoadTestPayload,
    names: &MessageNames,
    card: Option<&Card>,
) -> Value {
    let (title, short, emoji) = load_test_title(lt.event_type);
    use LoadTestEventType as E;
    // A single event shows what belongs to it; a card shows everything so far.
    let (error, report, aborted_by, comparison, pinned) = match card {
        Some(c) => (
            c.error.clone(),
            c.report.clone(),
            c.aborted_by.clone(),
            c.comparison.as_ref(),
            c.pinned.as_ref(),
        ),
        None => (
            lt.error.clone().filter(|_| lt.event_type == E::Error),
            lt.report
                .clone()
                .filter(|_| matches!(lt.event_type, E::IntermediateReport | E::ReportAvailable)),
            lt.aborted_by
                .clone()
                .filter(|_| lt.event_type == E::Aborted),
            lt.comparison
                .as_ref()
                .filter(|_| matches!(lt.event_type, E::IntermediateReport | E::ReportAvailable)),
            None,
        ),
    };
    let report = report
        .as_ref()
        .map(|r| report_context(r, comparison, pinned, Some(&lt.name)));
    let regressed = comparison.is_some_and(|c| c.is_regression());
    let (progress, color) = match card {
        Some(c) if !c.path.is_empty() => (progress(&c.path), card_color(&c.path)),
        // A card stored before the path was recorded: its latest step only.
        Some(_) => {
            let mut c = Card::new(&Payload::LoadTest(lt.clone()));
            c.path.truncate(1);
            (progress(&c.path), card_color(&c.path))
        }
        None => (Vec::new(), load_test_color(lt.event_type, lt.state)),
    };
    // A regression is a failure of the run's purpose: red like one.
    let color = if regressed { color::RED } else { color };
    let part = |key: &str| report.as_ref().map_or(Value::Null, |r| r[key].clone());
    let (org, project) = names_context(names);
    let (name, header, name_cut) = name_context(&lt.name);
    json!({
        "org": org,
        "project": project,
        "load_test": {
            "id": lt.load_test_id,
            "name": name,
            "header": header,
            "name_cut": name_cut,
            "url": lt.url.as_deref().and_then(text::safe_url),
            "started_by": opt_fit(&lt.started_by, MAX_SHORT),
        },
        "event": event_info((title, short, None), emoji, lt.event_type.as_str(), lt.occurred_at),
        "color": color,
        "state": {"id": lt.state.as_str(), "label": state_label(lt.state)},
        "aborted_by": opt_fit(&aborted_by, MAX_SHORT),
        "error": error.map(|e| json!({
            "step": opt_fit(&e.step, MAX_SHORT),
            "message": fit(&e.message, MAX_ERROR),
            "summary": fit(e.message.lines().next().unwrap_or_default(), MAX_SHORT),
        })),
        "figures": report.as_ref().map_or_else(|| json!([]), |r| r["figures"].clone()),
        "report_url": report.as_ref().map_or(Value::Null, |r| r["url"].clone()),
        "verdict": part("verdict"),
        "baseline": part("baseline"),
        "caveats": report.as_ref().map_or_else(|| json!([]), |r| r["caveats"].clone()),
        "pinned": part("pinned"),
        "buttons": buttons(lt, report.as_ref()),
        "report": report,
        "progress": progress,
        "broadcast": false,
    })
}

/// The buttons under a load-test message: links to XTC and the report, and "Set as
/// baseline" on a run with final figures that is not the baseline already.
fn buttons(lt: &LoadTestPayload, report: Option<&Value>) -> Vec<Value> {
    let button = |action_id: &str, text: &str, href: Value, value: Value| json!({"action_id": action_id, "text": text, "href": href, "value": value});
    let mut out = Vec::new();
    if let Some(url) = lt.url.as_deref().and_then(text::safe_url) {
        out.push(button("open.xtc", "Open in XTC", json!(url), Value::Null));
    }
    if let Some(r) = report {
        if !r["url"].is_null() {
            out.push(button(
                "open.report",
                "Open report",
                r["url"].clone(),
                Value::Null,
            ));
        }
        if r["can_pin"] == json!(true) {
            out.push(button(
                SET_BASELINE_ACTION,
                "Set as baseline",
                Value::Null,
                json!(lt.load_test_id),
            ));
        }
    }
    out
}

/// The run card's progress line: only the steps that happened. Done ✓, still going ●,
/// failed ✗, aborted 🛑, report 📄.
pub(super) fn progress(path: &[Step]) -> Vec<Value> {
    use LoadTestEventType as E;
    path.iter()
        .enumerate()
        .map(|(i, step)| {
            let last = i + 1 == path.len();
            let detail = step.detail.as_deref().map(|d| fit(d, MAX_SHORT));
            let (mark, label) = match step.event {
                E::Started | E::Running if last => ("●", load_test_title(step.event).1.into()),
                E::Started | E::Running | E::Finished => {
                    ("✓", load_test_title(step.event).1.into())
                }
                E::Error => (
                    "✗",
                    match detail {
                        Some(d) => format!("Failed ({d})"),
                        None => "Failed".into(),
                    },
                ),
                E::Aborted => (
                    "🛑",
                    match detail {
                        Some(d) => format!("Aborted by {d}"),
                        None => "Aborted".into(),
                    },
                ),
                E::ReportAvailable => ("📄", "Report".into()),
                E::IntermediateReport => ("📊", "Intermediate report".into()),
            };
            json!({"mark": mark, "label": label, "current": last})
        })
        .collect()
}

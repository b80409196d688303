//! The context of a digest message (several waiting events of one channel in one; see
//! `pipeline::digest`): one line per event and the headline's wording.

use serde_json::{json, Value};

use super::{
    change_title, color, fit, load_test_color, load_test_title, Change, LoadTestEventType,
    MessageNames, MAX_SHORT,
};
use crate::pipeline::events::Payload;
use crate::slack::text;

/// How a digest of `n` events of one kind is headed ("12 load tests started").
pub(super) fn digest_plural(kind: &str) -> &'static str {
    match kind {
        "load_test_started" => "load tests started",
        "load_test_running" => "load tests running",
        "load_test_finished" => "load tests finished",
        "load_test_aborted" => "load tests aborted",
        "load_test_error" => "load tests failed",
        "load_test_intermediate_report" => "intermediate reports",
        "load_test_report_available" => "final reports available",
        "scenario_failing" => "scenarios failing",
        "scenario_severity_changed" => "severity changes",
        "scenario_recovered" => "scenarios recovered",
        "scenario_flapping" => "scenarios flapping",
        _ => "notifications",
    }
}

/// One line of a digest: (context, event kind, colour); `None` for what never goes into one.
pub(super) fn digest_item(
    p: &Payload,
    names: &MessageNames,
) -> Option<(Value, &'static str, &'static str)> {
    let project = fit(&names.project_name, MAX_SHORT);
    match p {
        Payload::LoadTest(lt) => {
            use LoadTestEventType as E;
            let (title, _, emoji) = load_test_title(lt.event_type);
            let detail = match lt.event_type {
                E::Started => lt.started_by.as_ref().map(|b| format!("started by {b}")),
                E::Aborted => lt.aborted_by.as_ref().map(|b| format!("aborted by {b}")),
                E::Error => lt.error.as_ref().map(|e| {
                    let first = e.message.lines().next().unwrap_or_default();
                    match &e.step {
                        Some(step) => format!("{step}: {first}"),
                        None => first.to_owned(),
                    }
                }),
                _ => None,
            };
            let url = match lt.event_type {
                E::IntermediateReport | E::ReportAvailable => lt
                    .report
                    .as_ref()
                    .and_then(|r| text::safe_url(&r.url))
                    .or_else(|| lt.url.as_deref().and_then(text::safe_url)),
                _ => lt.url.as_deref().and_then(text::safe_url),
            };
            let kind = match lt.event_type {
                E::Started => "load_test_started",
                E::Running => "load_test_running",
                E::Finished => "load_test_finished",
                E::Aborted => "load_test_aborted",
                E::Error => "load_test_error",
                E::IntermediateReport => "load_test_intermediate_report",
                E::ReportAvailable => "load_test_report_available",
            };
            Some((
                json!({
                    "emoji": emoji, "title": title, "name": fit(&lt.name, MAX_SHORT),
                    "project": project, "detail": detail.map(|d| fit(&d, MAX_SHORT)), "url": url,
                }),
                kind,
                load_test_color(lt.event_type, lt.state),
            ))
        }
        Payload::Scenario(sc) if !sc.change.card_only() => {
            let words = change_title(&sc.change);
            let colour = match sc.change {
                Change::Recovered { .. } => color::GREEN,
                Change::Flapping { .. } => color::ORANGE,
                _ => color::RED,
            };
            let url = sc
                .execution
                .as_ref()
                .and_then(|e| e.url.as_deref())
                .or(sc.url.as_deref())
                .and_then(text::safe_url);
            Some((
                json!({
                    "emoji": words.emoji, "title": words.title, "name": fit(&sc.name, MAX_SHORT),
                    "project": project, "detail": words.detail, "url": url,
                }),
                sc.change.kind(),
                colour,
            ))
        }
        Payload::Scenario(_)
        | Payload::IncidentAction(_)
        | Payload::BaselineSet(_)
        | Payload::HoldRecovered(_)
        | Payload::WeeklySummary(_) => None,
    }
}

//! Renders Slack messages from `message_templates/` with handlebars (strict mode).
//!
//! Templates are compiled in (`include_str!`); an optional directory overrides any of them
//! by file name. Every `{{value}}` is escaped for Slack *and* JSON by the escape function
//! registered here, so user text can neither ping anyone nor break the document; links
//! come from the `link` helper. The output is checked against Slack's size limits.

use std::path::Path;

use chrono::{DateTime, Utc};
use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::events::{LoadTestPayload, Payload, ReportInfo, ScenarioPayload};
use crate::domain::lifecycle::{LoadTestEventType, LoadTestState};
use crate::domain::monitoring::Change;
use crate::domain::monitoring::{human_duration, Health};
use crate::slack::text;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../message_templates/", $name, ".hbs")))),*]
    };
}

/// The compiled-in templates: (name, source). Names starting with `_` are partials.
const DEFAULT_TEMPLATES: &[(&str, &str)] = templates![
    "_lt_fields",
    "_lt_links",
    "_lt_report",
    "_lt_compact",
    "_sc_fields",
    "_sc_links",
    "_sc_compact",
    "load_test_started",
    "load_test_started.compact",
    "load_test_running",
    "load_test_running.compact",
    "load_test_finished",
    "load_test_finished.compact",
    "load_test_aborted",
    "load_test_aborted.compact",
    "load_test_error",
    "load_test_error.compact",
    "load_test_intermediate_report",
    "load_test_intermediate_report.compact",
    "load_test_report_available",
    "load_test_report_available.compact",
    "load_test_card",
    "load_test_card.compact",
    "scenario_failing",
    "scenario_failing.compact",
    "scenario_severity_changed",
    "scenario_severity_changed.compact",
    "scenario_recovered",
    "scenario_recovered.compact",
    "scenario_card",
    "scenario_card.compact",
];

/// Longest user text put into one element, well under Slack's per-element limits.
const MAX_USER_TEXT: usize = 1_500;
/// Failed sensors listed one by one; the rest are counted.
const MAX_LISTED_SENSORS: usize = 10;

/// A template that cannot be loaded or rendered (a bug or a bad override, never user input).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("template {name} did not produce a valid Slack message: {message}")]
    Output { name: String, message: String },
}

/// A message ready for `chat.postMessage` / `chat.update`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub text: String,
    pub blocks: Value,
}

/// Names of the organization and project (looked up at send time, so renames show).
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub org_id: String,
    pub org_name: String,
    pub project_id: String,
    pub project_name: String,
}

/// What a thread parent shows; updated with each event of its subject.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Card {
    /// The latest event of the subject.
    pub latest: Payload,
    /// The newest report seen (stays on the card after later events).
    #[serde(default)]
    pub report: Option<ReportInfo>,
    /// The error, once one happened.
    #[serde(default)]
    pub error: Option<super::events::ErrorInfo>,
    #[serde(default)]
    pub aborted_by: Option<String>,
    /// The worst severity of an incident.
    #[serde(default)]
    pub worst: Option<Health>,
}

impl Card {
    /// The card after its first event.
    pub fn new(first: &Payload) -> Self {
        let mut card = Self {
            latest: first.clone(),
            report: None,
            error: None,
            aborted_by: None,
            worst: None,
        };
        card.absorb(first);
        card
    }

    /// Takes in a later event of the same subject.
    pub fn absorb(&mut self, p: &Payload) {
        self.latest = p.clone();
        match p {
            Payload::LoadTest(lt) => {
                if lt.report.is_some() {
                    self.report = lt.report.clone();
                }
                if lt.error.is_some() {
                    self.error = lt.error.clone();
                }
                if lt.aborted_by.is_some() {
                    self.aborted_by = lt.aborted_by.clone();
                }
            }
            Payload::Scenario(sc) => {
                if sc.health.is_failing() {
                    self.worst = Some(self.worst.map_or(sc.health, |w| w.max(sc.health)));
                }
            }
        }
    }
}

/// The template registry.
pub struct Renderer {
    hb: Handlebars<'static>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderer")
    }
}

/// Escapes for Slack (`&`, `<`, `>`) and then for a JSON string literal.
pub fn escape_slack_json(s: &str) -> String {
    json_string_content(&text::escape(s))
}

fn json_string_content(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted[1..quoted.len().saturating_sub(1)].to_owned()
}

fn link_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let url = h
        .param(0)
        .and_then(|p| p.value().as_str())
        .unwrap_or_default();
    let label = h
        .param(1)
        .and_then(|p| p.value().as_str())
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("link", 1))?;
    out.write(&json_string_content(&text::link(url, label)))?;
    Ok(())
}

impl Renderer {
    /// Registers the compiled-in templates, then the overrides found in `override_dir`.
    pub fn new(override_dir: Option<&Path>) -> Result<Self, RenderError> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(escape_slack_json);
        hb.register_helper("link", Box::new(link_helper));
        for (name, source) in DEFAULT_TEMPLATES {
            let source = match override_dir {
                Some(dir) => match std::fs::read_to_string(dir.join(format!("{name}.hbs"))) {
                    Ok(custom) => {
                        tracing::info!(template = name, "using template override");
                        custom
                    }
                    Err(_) => (*source).to_owned(),
                },
                None => (*source).to_owned(),
            };
            let registered = if name.starts_with('_') {
                hb.register_partial(name, source)
            } else {
                hb.register_template_string(name, source)
            };
            registered.map_err(|e| RenderError::Template {
                name: (*name).to_owned(),
                message: e.to_string(),
            })?;
        }
        Ok(Self { hb })
    }

    /// The message for one event.
    pub fn render_event(
        &self,
        payload: &Payload,
        names: &Names,
        compact: bool,
    ) -> Result<Rendered, RenderError> {
        let (kind, ctx) = match payload {
            Payload::LoadTest(lt) => (
                format!("load_test_{}", lt.event_type.as_str()),
                load_test_context(lt, names, None),
            ),
            Payload::Scenario(sc) => (
                sc.change.kind().to_owned(),
                scenario_context(sc, names, None),
            ),
        };
        self.render(&kind, compact, &ctx)
    }

    /// The thread parent ("run card") showing the subject's current state.
    pub fn render_card(
        &self,
        card: &Card,
        names: &Names,
        compact: bool,
    ) -> Result<Rendered, RenderError> {
        let (kind, ctx) = match &card.latest {
            Payload::LoadTest(lt) => ("load_test_card", load_test_context(lt, names, Some(card))),
            Payload::Scenario(sc) => ("scenario_card", scenario_context(sc, names, Some(card))),
        };
        self.render(kind, compact, &ctx)
    }

    fn render(&self, kind: &str, compact: bool, ctx: &Value) -> Result<Rendered, RenderError> {
        let name = if compact {
            format!("{kind}.compact")
        } else {
            kind.to_owned()
        };
        let out = self
            .hb
            .render(&name, ctx)
            .map_err(|e| RenderError::Template {
                name: name.clone(),
                message: e.to_string(),
            })?;
        let doc: Value = serde_json::from_str(&out).map_err(|e| RenderError::Output {
            name: name.clone(),
            message: e.to_string(),
        })?;
        let text = doc.get("text").and_then(Value::as_str).unwrap_or_default();
        let blocks = doc.get("blocks").cloned().unwrap_or_else(|| json!([]));
        if text.is_empty() {
            return Err(RenderError::Output {
                name,
                message: "no `text` (the notification fallback)".into(),
            });
        }
        if !blocks.is_array() {
            return Err(RenderError::Output {
                name,
                message: "`blocks` is not an array".into(),
            });
        }
        Ok(Rendered {
            text: text::truncate(text, 3_000),
            blocks: enforce_limits(blocks),
        })
    }
}

/// Keeps a rendered message within Slack's Block Kit limits (defence in depth: the
/// context already bounds user text).
pub fn enforce_limits(mut blocks: Value) -> Value {
    fn cut(v: &mut Value, max: usize) {
        if let Some(s) = v.as_str() {
            if s.chars().count() > max {
                *v = Value::String(text::truncate(s, max));
            }
        }
    }
    if let Some(list) = blocks.as_array_mut() {
        list.truncate(text::MAX_BLOCKS);
        for block in list.iter_mut() {
            match block.get("type").and_then(Value::as_str) {
                Some("header") => cut(&mut block["text"]["text"], text::MAX_HEADER_TEXT),
                Some("section") => {
                    if block.get("text").is_some() {
                        cut(&mut block["text"]["text"], text::MAX_SECTION_TEXT);
                    }
                    if let Some(fields) = block.get_mut("fields").and_then(Value::as_array_mut) {
                        fields.truncate(text::MAX_SECTION_FIELDS);
                        for f in fields {
                            cut(&mut f["text"], text::MAX_FIELD_TEXT);
                        }
                    }
                }
                Some("context") => {
                    if let Some(elements) = block.get_mut("elements").and_then(Value::as_array_mut)
                    {
                        elements.truncate(text::MAX_CONTEXT_ELEMENTS);
                        for e in elements {
                            cut(&mut e["text"], text::MAX_FIELD_TEXT);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    blocks
}

fn user(s: &str) -> String {
    text::truncate(s, MAX_USER_TEXT)
}

fn opt_user(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::Null, |v| Value::String(user(v)))
}

fn event_info(title: &str, emoji: &str, kind: &str, at: DateTime<Utc>) -> Value {
    json!({
        "type": kind,
        "title": title,
        "emoji": emoji,
        "occurred_at": at.format("%Y-%m-%d %H:%M UTC").to_string(),
        "occurred_ts": at.timestamp(),
    })
}

fn load_test_title(t: LoadTestEventType) -> (&'static str, &'static str) {
    match t {
        LoadTestEventType::Started => ("Load test started", ":rocket:"),
        LoadTestEventType::Running => ("Load test running", ":runner:"),
        LoadTestEventType::Finished => ("Load test finished", ":checkered_flag:"),
        LoadTestEventType::Aborted => ("Load test aborted", ":octagonal_sign:"),
        LoadTestEventType::Error => ("Load test failed", ":x:"),
        LoadTestEventType::IntermediateReport => ("Intermediate report available", ":bar_chart:"),
        LoadTestEventType::ReportAvailable => ("Final report available", ":page_facing_up:"),
    }
}

fn state_label(s: LoadTestState) -> &'static str {
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

fn figure(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.2}")
    }
}

fn report_context(r: &ReportInfo) -> Value {
    let mut figures = Vec::new();
    if let Some(s) = &r.summary {
        if let Some(v) = s.throughput {
            figures.push(json!({"label": "Throughput", "value": format!("{} req/s", figure(v))}));
        }
        if let Some(v) = s.errors {
            figures.push(json!({"label": "Errors", "value": figure(v)}));
        }
        if let Some(v) = s.p95_ms {
            figures.push(json!({"label": "P95", "value": format!("{} ms", figure(v))}));
        }
        for (k, v) in s.extra.iter().take(7) {
            let shown = match v {
                Value::Number(n) => n.as_f64().map(figure).unwrap_or_else(|| n.to_string()),
                Value::String(s) => user(s),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            figures.push(
                json!({"label": text::truncate(k, 60), "value": text::truncate(&shown, 200)}),
            );
        }
    }
    json!({"url": r.url, "kind": r.kind, "figures": figures})
}

fn load_test_context(lt: &LoadTestPayload, names: &Names, card: Option<&Card>) -> Value {
    let (title, emoji) = load_test_title(lt.event_type);
    let (error, report, aborted_by) = match card {
        Some(c) => (c.error.clone(), c.report.clone(), c.aborted_by.clone()),
        None => (lt.error.clone(), lt.report.clone(), lt.aborted_by.clone()),
    };
    let progress = card.map(|_| progress(lt.state)).unwrap_or_default();
    json!({
        "org": {"id": names.org_id, "name": user(&names.org_name)},
        "project": {"id": names.project_id, "name": user(&names.project_name)},
        "load_test": {
            "id": lt.load_test_id,
            "name": user(&lt.name),
            "url": lt.url,
            "started_by": opt_user(&lt.started_by),
        },
        "event": event_info(title, emoji, lt.event_type.as_str(), lt.occurred_at),
        "state": {"id": lt.state.as_str(), "label": state_label(lt.state)},
        "aborted_by": opt_user(&aborted_by),
        "error": error.map(|e| json!({"step": opt_user(&e.step), "message": user(&e.message)})),
        "report": report.as_ref().map(report_context),
        "progress": progress,
    })
}

/// The run card's steps: done ✓, current ●, failed ✗, still to come ○.
fn progress(state: LoadTestState) -> Vec<Value> {
    use LoadTestState as S;
    let (steps, reached): (&[&str], usize) = match state {
        S::New => (&["Started", "Running", "Finished", "Report"], 0),
        S::Started => (&["Started", "Running", "Finished", "Report"], 1),
        S::Running => (&["Started", "Running", "Finished", "Report"], 2),
        S::Finished => (&["Started", "Running", "Finished", "Report"], 3),
        S::Reported => (&["Started", "Running", "Finished", "Report"], 4),
        S::Aborted => (&["Started", "Running", "Aborted", "Report"], 3),
        S::Error => (&["Started", "Running", "Failed"], 3),
    };
    steps
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let mark = if state == S::Error && i + 1 == steps.len() {
                "✗"
            } else if i + 1 < reached {
                "✓"
            } else if i + 1 == reached {
                "●"
            } else {
                "○"
            };
            json!({"label": label, "mark": mark})
        })
        .collect()
}

fn scenario_context(sc: &ScenarioPayload, names: &Names, card: Option<&Card>) -> Value {
    let (title, emoji, previous, down_for) = match sc.change {
        Change::Failing { .. } => ("Scenario failing", ":red_circle:", None, None),
        Change::SeverityChanged { from, .. } => (
            "Severity changed",
            ":large_orange_circle:",
            Some(from.as_str()),
            None,
        ),
        Change::Recovered { down_seconds } => (
            "Scenario recovered",
            ":large_green_circle:",
            None,
            Some(human_duration(down_seconds)),
        ),
    };
    let state_label = match (&sc.change, card.and_then(|c| c.worst)) {
        (Change::Recovered { .. }, _) => {
            format!("Recovered after {}", down_for.clone().unwrap_or_default())
        }
        (_, _) => format!("Failing ({})", sc.health.as_str()),
    };
    let sensors: Vec<Value> = sc
        .failed_sensors
        .iter()
        .take(MAX_LISTED_SENSORS)
        .map(|s| json!({"name": text::truncate(&s.name, 200), "message": s.message.as_deref().map(|m| text::truncate(m, 300))}))
        .collect();
    let more = sc.failed_sensors.len().saturating_sub(MAX_LISTED_SENSORS);
    json!({
        "org": {"id": names.org_id, "name": user(&names.org_name)},
        "project": {"id": names.project_id, "name": user(&names.project_name)},
        "scenario": {"id": sc.scenario_id, "name": user(&sc.name), "url": sc.url},
        "event": event_info(title, emoji, sc.change.kind(), sc.occurred_at),
        "state": {"id": sc.health.as_str(), "label": state_label},
        "severity": sc.health.as_str(),
        "previous_severity": previous,
        "down_for": down_for,
        "execution": sc.execution.as_ref().map(|e| json!({
            "id": opt_user(&e.id), "url": e.url, "location": opt_user(&e.location)
        })),
        "sensors": sensors,
        "more_sensors": if more > 0 { Value::from(more) } else { Value::Null },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::events::{ErrorInfo, ExecutionInfo, FailedSensor, ReportSummary};

    fn names(hostile: bool) -> Names {
        let n = if hostile {
            "<!channel> *Acme* & \"Co\" _x_ `y` ~z~ \\ \n"
        } else {
            "Acme Corp"
        };
        Names {
            org_id: "acme".into(),
            org_name: n.into(),
            project_id: "shop".into(),
            project_name: n.into(),
        }
    }

    fn lt(t: LoadTestEventType, name: &str) -> Payload {
        Payload::LoadTest(LoadTestPayload {
            load_test_id: "lt-1".into(),
            name: name.into(),
            url: Some("https://xtc.example/lt/1?a=1&b=<2>".into()),
            started_by: Some(format!("{name} jane")),
            event_type: t,
            state: LoadTestState::Running,
            occurred_at: Utc::now(),
            error: Some(ErrorInfo {
                step: Some(name.into()),
                message: format!("{name} boom"),
            }),
            report: Some(ReportInfo {
                url: "https://xtc.example/reports/9".into(),
                kind: Some("final".into()),
                summary: Some(ReportSummary {
                    throughput: Some(1234.5),
                    errors: Some(12.0),
                    p95_ms: Some(810.0),
                    extra: [("apdex".to_owned(), json!(0.93))].into_iter().collect(),
                }),
            }),
            aborted_by: Some(name.into()),
        })
    }

    fn sc(change: Change, name: &str, sensors: usize) -> Payload {
        Payload::Scenario(ScenarioPayload {
            scenario_id: "shop-checkout".into(),
            name: name.into(),
            url: Some("https://xtc.example/mon/77".into()),
            change,
            health: Health::Fatal,
            occurred_at: Utc::now(),
            incident: 1,
            execution: Some(ExecutionInfo {
                id: Some("e1".into()),
                url: Some("https://xtc.example/ex/1".into()),
                location: Some(name.into()),
            }),
            failed_sensors: (0..sensors)
                .map(|i| FailedSensor {
                    name: format!("{name} {i}"),
                    message: Some(name.into()),
                })
                .collect(),
        })
    }

    fn all_payloads(name: &str) -> Vec<Payload> {
        let mut v: Vec<Payload> = LoadTestEventType::ALL
            .into_iter()
            .map(|t| lt(t, name))
            .collect();
        v.push(sc(
            Change::Failing {
                severity: Health::Failure,
            },
            name,
            3,
        ));
        v.push(sc(
            Change::SeverityChanged {
                from: Health::Failure,
                to: Health::Fatal,
            },
            name,
            30,
        ));
        v.push(sc(Change::Recovered { down_seconds: 125 }, name, 0));
        v
    }

    fn check(r: &Rendered) {
        assert!(!r.text.is_empty());
        let blocks = r.blocks.as_array().unwrap();
        assert!(!blocks.is_empty() && blocks.len() <= text::MAX_BLOCKS);
        let all = serde_json::to_string(&r.blocks).unwrap() + &r.text;
        // The only `<` are our own markup: links and dates.
        for (i, _) in all.match_indices('<') {
            let rest = &all[i..];
            assert!(
                rest.starts_with("<https://") || rest.starts_with("<!date^"),
                "unexpected markup at {rest:.40}"
            );
        }
        assert!(!all.contains("<!channel>"));
    }

    #[test]
    fn renders_every_template_with_sample_data_in_both_variants() {
        let r = Renderer::new(None).unwrap();
        for p in all_payloads("Checkout peak 2000 users") {
            for compact in [false, true] {
                let out = r.render_event(&p, &names(false), compact).unwrap();
                check(&out);
                assert!(
                    out.text.contains("Checkout peak 2000 users") || out.text.contains("Acme Corp")
                );
                let card = r
                    .render_card(&Card::new(&p), &names(false), compact)
                    .unwrap();
                check(&card);
            }
        }
    }

    #[test]
    fn hostile_text_is_escaped_and_kept_whole() {
        let r = Renderer::new(None).unwrap();
        let hostile = "<!channel> x & <https://evil.example|click> *bold* _it_ `code` ~s~ \"q\" \\";
        for p in all_payloads(hostile) {
            for compact in [false, true] {
                let out = r.render_event(&p, &names(true), compact).unwrap();
                check(&out);
                let all = serde_json::to_string(&out.blocks).unwrap();
                assert!(
                    all.contains("&lt;!channel&gt; x &amp; &lt;https://evil.example|click&gt;"),
                    "{all}"
                );
                // No character is dropped (the current XTC product filters `_*`~`).
                assert!(all.contains("*bold* _it_ `code` ~s~"), "{all}");
            }
        }
    }

    #[test]
    fn long_text_stays_within_slack_limits() {
        let r = Renderer::new(None).unwrap();
        let long = "ä".repeat(10_000);
        for p in all_payloads(&long) {
            for compact in [false, true] {
                let out = r.render_event(&p, &names(false), compact).unwrap();
                check(&out);
                for block in out.blocks.as_array().unwrap() {
                    if block["type"] == "header" {
                        assert!(
                            block["text"]["text"].as_str().unwrap().chars().count()
                                <= text::MAX_HEADER_TEXT
                        );
                    }
                    if let Some(t) = block["text"]["text"].as_str() {
                        assert!(t.chars().count() <= text::MAX_SECTION_TEXT);
                    }
                }
            }
        }
    }

    #[test]
    fn cards_show_progress_and_keep_reports() {
        let r = Renderer::new(None).unwrap();
        let mut card = Card::new(&lt(LoadTestEventType::Started, "LT"));
        card.absorb(&lt(LoadTestEventType::ReportAvailable, "LT"));
        let out = r.render_card(&card, &names(false), false).unwrap();
        let all = serde_json::to_string(&out.blocks).unwrap();
        assert!(all.contains("Running"), "{all}");
        assert!(all.contains("https://xtc.example/reports/9"));
        assert!(all.contains("Throughput: 1234.50 req/s"));
    }

    #[test]
    fn overrides_replace_templates_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("load_test_started.hbs"),
            r#"{"text": "custom {{load_test.name}}", "blocks": [{"type": "section", "text": {"type": "plain_text", "text": "x"}}]}"#,
        )
        .unwrap();
        let r = Renderer::new(Some(dir.path())).unwrap();
        let out = r
            .render_event(&lt(LoadTestEventType::Started, "<b>"), &names(false), false)
            .unwrap();
        assert_eq!(out.text, "custom &lt;b&gt;");
        std::fs::write(dir.path().join("load_test_running.hbs"), "{{#if}}").unwrap();
        assert!(Renderer::new(Some(dir.path())).is_err());
    }
}

//! Renders Slack messages from `message_templates/` with handlebars (strict mode).
//!
//! Templates are compiled in (`include_str!`); an optional directory overrides any of them
//! by file name. Every `{{value}}` is escaped for Slack *and* JSON by the escape function
//! registered here, so user text can neither ping anyone nor break the document; links
//! come from the `link` (mrkdwn) and `url` (rich text) helpers. The design the templates
//! follow is written down in `message_templates/README.md`: a headline that says what
//! happened to which test, the facts in a colour-barred attachment, replies that carry only
//! what is new. The output is checked against Slack's size limits.

use std::path::Path;

use chrono::{DateTime, Utc};
use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::events::{FailedSensor, LoadTestPayload, Payload, ReportInfo, ScenarioPayload};
use crate::domain::lifecycle::{LoadTestEventType, LoadTestState};
use crate::domain::monitoring::Change;
use crate::domain::monitoring::{human_duration, Health};
use crate::slack::{limits, text};

mod change;
mod digest;
mod incident;

use change::change_title;
use digest::{digest_item, digest_plural};
pub use incident::CardControls;
use incident::{action_context, controls_context};

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../message_templates/", $name, ".hbs")))),*]
    };
}

/// The compiled-in templates: (name, source). Names starting with `_` are partials.
const DEFAULT_TEMPLATES: &[(&str, &str)] = templates![
    "_lt_headline",
    "_lt_facts",
    "_lt_error",
    "_lt_report",
    "_lt_links",
    "_lt_event",
    "_lt_compact",
    "_sc_headline",
    "_sc_facts",
    "_sc_sensors",
    "_sc_links",
    "_sc_event",
    "_sc_compact",
    "_sc_controls",
    "_sc_buttons",
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
    "load_test_reply",
    "scenario_failing",
    "scenario_failing.compact",
    "scenario_severity_changed",
    "scenario_severity_changed.compact",
    "scenario_recovered",
    "scenario_recovered.compact",
    "scenario_flapping",
    "scenario_flapping.compact",
    "scenario_card",
    "scenario_card.compact",
    "scenario_reply",
    "scenario_action_reply",
    "digest",
];

/// Longest name shown in a message body (escaped characters); the link to XTC has the rest.
const MAX_NAME: usize = 1_000;
/// Longest short user text (people, steps, locations) in a message (escaped characters).
const MAX_SHORT: usize = 200;
/// Longest error message shown (escaped characters), within one element's 3,000.
const MAX_ERROR: usize = 2_800;
/// Failed sensors listed one by one; the rest are counted.
const MAX_LISTED_SENSORS: usize = 10;
/// Entries an incident card keeps: the first failure and the latest changes.
const MAX_HISTORY: usize = 20;

/// The severity colours of the attachment bar.
pub mod color {
    pub const RED: &str = "#e01e5a";
    pub const ORANGE: &str = "#e8912d";
    pub const GREEN: &str = "#2eb67d";
    pub const NEUTRAL: &str = "#b5b5b5";
}

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
    /// The notification fallback (Slack shows the blocks instead).
    pub text: String,
    /// Top-level blocks: the headline.
    pub blocks: Value,
    /// `[{"color", "fallback", "blocks"}]`: the facts behind a severity colour bar.
    pub attachments: Option<Value>,
}

impl Rendered {
    /// A top-level `chat.postMessage` of this message into `channel`.
    pub fn post_to(self, channel: String) -> crate::slack::PostMessage {
        crate::slack::PostMessage {
            channel,
            text: self.text,
            blocks: Some(self.blocks),
            attachments: self.attachments,
            thread_ts: None,
            reply_broadcast: false,
        }
    }

    /// The whole message as Slack receives it (for snapshots and logs).
    pub fn to_json(&self) -> Value {
        let mut v = json!({"text": self.text, "blocks": self.blocks});
        if let Some(a) = &self.attachments {
            v["attachments"] = a.clone();
        }
        v
    }
}

/// Names of the organization and project (looked up at send time, so renames show).
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub org_id: String,
    pub org_name: String,
    pub project_id: String,
    pub project_name: String,
}

/// One step a load test actually went through (the card's progress line).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    pub event: LoadTestEventType,
    /// Who aborted, or the failed step.
    #[serde(default)]
    pub detail: Option<String>,
}

/// One change of an incident, kept on its card.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IncidentEntry {
    pub at: DateTime<Utc>,
    pub change: Change,
    pub health: Health,
    /// The failed sensors reported with this change (the first few).
    #[serde(default)]
    pub sensors: Vec<FailedSensor>,
    #[serde(default)]
    pub more_sensors: usize,
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
    /// Load tests: the steps that happened, in order (cards stored before this field
    /// show their latest state only).
    #[serde(default)]
    pub path: Vec<Step>,
    /// Incidents: the first failure and every change after it.
    #[serde(default)]
    pub history: Vec<IncidentEntry>,
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
            path: Vec::new(),
            history: Vec::new(),
        };
        card.absorb(first);
        card
    }

    /// Takes in a later event of the same subject. Someone acting on an incident does not
    /// change what the card holds (its acknowledgement and mute are rendered from
    /// [`CardControls`]).
    pub fn absorb(&mut self, p: &Payload) {
        if matches!(p, Payload::IncidentAction(_)) {
            return;
        }
        self.latest = p.clone();
        match p {
            Payload::IncidentAction(_) => {}
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
                self.push_step(lt);
            }
            Payload::Scenario(sc) => {
                if sc.health.is_failing() {
                    self.worst = Some(self.worst.map_or(sc.health, |w| w.max(sc.health)));
                }
                // A flapping incident's later changes update one line (count, latest state).
                if sc.change.card_only()
                    && self
                        .history
                        .last()
                        .is_some_and(|e| matches!(e.change, Change::Flapping { .. }))
                {
                    self.history.pop();
                }
                if self.history.len() >= MAX_HISTORY {
                    // The first failure stays; the oldest change after it goes.
                    self.history.remove(1);
                }
                self.history.push(IncidentEntry {
                    at: sc.occurred_at,
                    change: sc.change,
                    health: sc.health,
                    sensors: sc
                        .failed_sensors
                        .iter()
                        .take(MAX_LISTED_SENSORS)
                        .cloned()
                        .collect(),
                    more_sensors: sc.failed_sensors.len().saturating_sub(MAX_LISTED_SENSORS),
                });
            }
        }
    }

    fn push_step(&mut self, lt: &LoadTestPayload) {
        use LoadTestEventType as E;
        let detail = match lt.event_type {
            // Interim figures are on the card; they are not a step.
            E::IntermediateReport => return,
            E::Aborted => lt.aborted_by.clone(),
            E::Error => lt.error.as_ref().and_then(|e| e.step.clone()),
            _ => None,
        };
        let step = Step {
            event: lt.event_type,
            detail,
        };
        if self.path.last() != Some(&step) {
            self.path.push(step);
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

/// `{{{url value}}}`: a URL for a rich-text `link` element (only http/https; empty else).
fn url_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let url = h
        .param(0)
        .and_then(|p| p.value().as_str())
        .and_then(text::safe_url)
        .unwrap_or_default();
    out.write(&json_string_content(&url))?;
    Ok(())
}

impl Renderer {
    /// Registers the compiled-in templates, then the overrides found in `override_dir`.
    pub fn new(override_dir: Option<&Path>) -> Result<Self, RenderError> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(escape_slack_json);
        hb.register_helper("link", Box::new(link_helper));
        hb.register_helper("url", Box::new(url_helper));
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

    /// The message for one event (threads off).
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
                scenario_context(sc, names, None, None),
            ),
            Payload::IncidentAction(a) => {
                let mut ctx = action_context(a, names);
                ctx["broadcast"] = Value::Bool(true);
                return self.render("scenario_action_reply", false, &ctx);
            }
        };
        self.render(&kind, compact, &ctx)
    }

    /// The thread parent ("run card" / "incident card") showing the subject's current state;
    /// an incident card also shows `controls` (acknowledgement, mute, buttons).
    pub fn render_card(
        &self,
        card: &Card,
        names: &Names,
        compact: bool,
        controls: Option<&CardControls>,
    ) -> Result<Rendered, RenderError> {
        let (kind, ctx) = match &card.latest {
            Payload::LoadTest(lt) => ("load_test_card", load_test_context(lt, names, Some(card))),
            Payload::Scenario(sc) => (
                "scenario_card",
                scenario_context(sc, names, Some(card), controls),
            ),
            // Never the first event of a card (see `absorb`).
            Payload::IncidentAction(a) => ("scenario_action_reply", action_context(a, names)),
        };
        self.render(kind, compact, &ctx)
    }

    /// A thread reply: one line with only what is new (the card has the rest). With
    /// `broadcast` the line is also shown in the channel, so it names the test or scenario.
    /// Replies are one line in both modes, so `_compact` selects nothing (yet).
    pub fn render_reply(
        &self,
        payload: &Payload,
        card: &Card,
        names: &Names,
        _compact: bool,
        broadcast: bool,
    ) -> Result<Rendered, RenderError> {
        let (kind, mut ctx) = match payload {
            Payload::LoadTest(lt) => ("load_test_reply", load_test_context(lt, names, None)),
            Payload::Scenario(sc) => ("scenario_reply", scenario_context(sc, names, None, None)),
            Payload::IncidentAction(a) => ("scenario_action_reply", action_context(a, names)),
        };
        ctx["broadcast"] = Value::Bool(broadcast);
        let _ = card;
        self.render(kind, false, &ctx)
    }

    /// One message for several waiting events of one channel (a digest, see
    /// `pipeline::digest`): a headline ("12 load tests started") and one line per event
    /// with its name, project, key fact and link, in event order, coloured by the worst.
    pub fn render_digest(&self, entries: &[(&Payload, &Names)]) -> Result<Rendered, RenderError> {
        let items: Vec<(Value, &'static str, &'static str)> = entries
            .iter()
            .filter_map(|(p, n)| digest_item(p, n))
            .collect();
        let kinds: std::collections::BTreeSet<&str> = items.iter().map(|i| i.1).collect();
        let n = items.len();
        let (headline, emoji) = match kinds.iter().next() {
            Some(kind) if kinds.len() == 1 => (
                format!("{n} {}", digest_plural(kind)),
                items[0].0["emoji"].as_str().unwrap_or("bell").to_owned(),
            ),
            _ => (format!("{n} notifications"), "bell".to_owned()),
        };
        let rank = |c: &str| {
            [color::GREEN, color::NEUTRAL, color::ORANGE, color::RED]
                .iter()
                .position(|x| *x == c)
                .unwrap_or(0)
        };
        let worst = items
            .iter()
            .map(|i| i.2)
            .max_by_key(|c| rank(c))
            .unwrap_or(color::NEUTRAL);
        let ctx = json!({
            "headline": headline,
            "emoji": emoji,
            "color": worst,
            "items": items.into_iter().map(|i| i.0).collect::<Vec<_>>(),
        });
        self.render("digest", false, &ctx)
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
            // The offending line, so an override's author sees what went wrong.
            message: format!(
                "{e}: {}",
                out.lines()
                    .nth(e.line().saturating_sub(1))
                    .unwrap_or_default()
            ),
        })?;
        let bad = |message: &str| RenderError::Output {
            name: name.clone(),
            message: message.to_owned(),
        };
        let text = doc.get("text").and_then(Value::as_str).unwrap_or_default();
        if text.is_empty() {
            return Err(bad("no `text` (the notification fallback)"));
        }
        let mut text = text.to_owned();
        let mut blocks = match doc.get("blocks") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list.clone(),
            Some(_) => return Err(bad("`blocks` is not an array")),
        };
        let mut attachments = match doc.get("attachments") {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) => {
                if list.iter().any(|a| !a.is_object()) {
                    return Err(bad("an attachment is not an object"));
                }
                Some(list.clone())
            }
            Some(_) => return Err(bad("`attachments` is not an array")),
        };
        if blocks.is_empty() && attachments.is_none() {
            return Err(bad("neither `blocks` nor `attachments`"));
        }
        limits::fit(&mut text, &mut blocks, attachments.as_mut());
        for a in attachments.iter_mut().flatten() {
            if let Some(o) = a.as_object_mut() {
                o.entry("fallback")
                    .or_insert_with(|| Value::String(text.clone()));
            }
        }
        let rendered = Rendered {
            text,
            blocks: Value::Array(blocks),
            attachments: attachments.map(Value::Array),
        };
        // What fitting cannot mend (an unknown block type, a missing field: an override's
        // mistake) would be refused by Slack whole; say so here, where the template is known.
        let problems = limits::violations(&rendered.to_json());
        if !problems.is_empty() {
            return Err(bad(&problems.join("; ")));
        }
        Ok(rendered)
    }
}

/// User text cut so that its *escaped* form fits `max` characters (so an entity such as
/// `&amp;` is never split); `…` marks the cut.
fn fit(s: &str, max: usize) -> String {
    text::unescape(&text::escape_truncated(s, max))
}

fn opt_fit(s: &Option<String>, max: usize) -> Value {
    s.as_deref()
        .map_or(Value::Null, |v| Value::String(fit(v, max)))
}

/// A name for the body, the header (cut to Slack's 150) and whether the header was cut.
fn name_context(name: &str) -> (String, String, bool) {
    let header = fit(name, limits::MAX_HEADER_TEXT);
    let cut = header != name;
    (fit(name, MAX_NAME), header, cut)
}

fn names_context(names: &Names) -> (Value, Value) {
    (
        json!({"id": names.org_id, "name": fit(&names.org_name, MAX_SHORT)}),
        json!({"id": names.project_id, "name": fit(&names.project_name, MAX_SHORT)}),
    )
}

/// The `event` context: its title, its line in a thread, the fact the title leaves out
/// (`detail`), emoji and time.
fn event_info(
    (title, short, detail): (&str, &str, Option<&str>),
    emoji: &str,
    kind: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "type": kind,
        "title": title,
        "short": short,
        "detail": detail,
        "emoji": emoji,
        "occurred_at": at.format("%Y-%m-%d %H:%M UTC").to_string(),
        "occurred_ts": at.timestamp(),
    })
}

/// (title, title in a thread, emoji name) of a load-test event.
fn load_test_title(t: LoadTestEventType) -> (&'static str, &'static str, &'static str) {
    match t {
        LoadTestEventType::Started => ("Load test started", "Started", "rocket"),
        LoadTestEventType::Running => ("Load test running", "Running", "runner"),
        LoadTestEventType::Finished => ("Load test finished", "Finished", "checkered_flag"),
        LoadTestEventType::Aborted => ("Load test aborted", "Aborted", "octagonal_sign"),
        LoadTestEventType::Error => ("Load test failed", "Failed", "x"),
        LoadTestEventType::IntermediateReport => (
            "Intermediate report available",
            "Intermediate report",
            "bar_chart",
        ),
        LoadTestEventType::ReportAvailable => {
            ("Final report available", "Final report", "page_facing_up")
        }
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

/// The colour of one event: red failure, orange abort, green success, neutral progress.
fn load_test_color(t: LoadTestEventType, state: LoadTestState) -> &'static str {
    use LoadTestEventType as E;
    match (t, state) {
        (E::Error, _) | (E::ReportAvailable, LoadTestState::Error) => color::RED,
        (E::Aborted, _) | (E::ReportAvailable, LoadTestState::Aborted) => color::ORANGE,
        (E::Finished | E::ReportAvailable, _) => color::GREEN,
        _ => color::NEUTRAL,
    }
}

/// The colour of a run card: its worst outcome so far.
fn card_color(path: &[Step]) -> &'static str {
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
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            figures.push(json!({"label": fit(k, 60), "value": fit(&shown, MAX_SHORT)}));
        }
    }
    json!({"url": text::safe_url(&r.url), "kind": r.kind, "figures": figures})
}

fn load_test_context(lt: &LoadTestPayload, names: &Names, card: Option<&Card>) -> Value {
    let (title, short, emoji) = load_test_title(lt.event_type);
    use LoadTestEventType as E;
    // A single event shows what belongs to it; a card shows everything so far.
    let (error, report, aborted_by) = match card {
        Some(c) => (c.error.clone(), c.report.clone(), c.aborted_by.clone()),
        None => (
            lt.error.clone().filter(|_| lt.event_type == E::Error),
            lt.report
                .clone()
                .filter(|_| matches!(lt.event_type, E::IntermediateReport | E::ReportAvailable)),
            lt.aborted_by
                .clone()
                .filter(|_| lt.event_type == E::Aborted),
        ),
    };
    let report = report.as_ref().map(report_context);
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
        "report": report,
        "progress": progress,
        "broadcast": false,
    })
}

/// The run card's progress line: only the steps that happened. Done ✓, still going ●,
/// failed ✗, aborted 🛑, report 📄.
fn progress(path: &[Step]) -> Vec<Value> {
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

fn sensors_context(sensors: &[FailedSensor]) -> Vec<Value> {
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

fn history_context(history: &[IncidentEntry]) -> Vec<Value> {
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

fn scenario_context(
    sc: &ScenarioPayload,
    names: &Names,
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
        "broadcast": false,
    })
}

#[cfg(test)]
mod tests;

//! Renders Slack messages from `message_templates/` with handlebars (strict mode).
//!
//! Templates are compiled in (`include_str!`); an optional directory overrides any of them
//! by file name. Every `{{value}}` is escaped for Slack *and* JSON by the escape function
//! registered here, so user text can neither ping anyone nor break the document; links
//! come from the `link` (mrkdwn) and `url` (rich text) helpers. The design the templates
//! follow is written down in `message_templates/README.md`: a headline that says what
//! happened to which test, the facts in a colour-barred attachment, replies that carry only
//! what is new. The output is checked against Slack's size limits.
//!
//! This file registers the templates and turns a context into a checked message; each
//! kind of message builds its context in a file of its own: `load_test` (events, replies,
//! run cards), `scenario` (monitoring changes, incident cards), `incident` (actions on an
//! incident), `digest`; `card` holds what a thread parent remembers, `change` the wording
//! of a monitoring change, `shared` the helpers they all use.

use std::path::Path;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde_json::{json, Value};

use super::events::Payload;
use crate::domain::lifecycle::LoadTestEventType;
use crate::domain::monitoring::Change;
use crate::slack::{limits, text};

mod card;
mod change;
mod digest;
mod incident;
mod inline;
mod load_test;
pub mod mute_dialog;
mod report;
mod scenario;
mod shared;
mod summary;

pub use card::{Card, IncidentEntry, Pinned, Step};
use change::change_title;
use digest::{digest_item, digest_plural};
use incident::action_context;
pub use incident::CardControls;
use load_test::{load_test_color, load_test_context, load_test_title};
use report::baseline_set_context;
use scenario::{hold_recovered_context, scenario_context};
use shared::{fit, name_context, names_context};
use summary::summary_context;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../message_templates/", $name, ".hbs")))),*]
    };
}

/// The one line of a held incident that recovered before its load test ended.
const HOLD_RECOVERED: &str = "load_test_hold_recovered";

/// The compiled-in templates: (name, source). MessageNames starting with `_` are partials.
const DEFAULT_TEMPLATES: &[(&str, &str)] = templates![
    "_lt_headline",
    "_lt_facts",
    "_lt_error",
    "_lt_report",
    "_lt_verdict",
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
    "_sc_quiet",
    "_sc_maintenance",
    "load_test_baseline_set",
    "load_test_hold_recovered",
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
    "weekly_summary",
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageNames {
    pub org_id: String,
    pub org_name: String,
    pub project_id: String,
    pub project_name: String,
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
        // Each template's source: an override's when there is one, else the built-in.
        // (name, source, whether it is an override).
        let sources: Vec<(&str, String, bool)> = DEFAULT_TEMPLATES
            .iter()
            .map(|(name, source)| {
                let custom = override_dir
                    .and_then(|dir| std::fs::read_to_string(dir.join(format!("{name}.hbs"))).ok());
                match custom {
                    Some(custom) => {
                        tracing::info!(template = name, "using template override");
                        (*name, custom, true)
                    }
                    None => (*name, (*source).to_owned(), false),
                }
            })
            .collect();
        let partials: std::collections::HashMap<String, String> = sources
            .iter()
            .filter(|(name, ..)| name.starts_with('_'))
            .map(|(name, source, _)| ((*name).to_owned(), source.clone()))
            .collect();
        for (name, source, custom) in sources {
            let registered = if name.starts_with('_') {
                hb.register_partial(name, source)
            } else {
                // An override is checked as written first, so its errors name its own lines.
                let checked = if custom {
                    hb.register_template_string(name, &source)
                } else {
                    Ok(())
                };
                checked.and_then(|()| {
                    hb.register_template_string(name, inline::inline_partials(&source, &partials))
                })
            };
            registered.map_err(|e| RenderError::Template {
                name: name.to_owned(),
                message: e.to_string(),
            })?;
        }
        Ok(Self { hb })
    }

    /// The message for one event (threads off).
    pub fn render_event(
        &self,
        payload: &Payload,
        names: &MessageNames,
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
                return self.render("scenario_action_reply", false, ctx);
            }
            Payload::BaselineSet(b) => {
                return self.render("load_test_baseline_set", false, baseline_set_context(b))
            }
            Payload::HoldRecovered(h) => {
                let mut ctx = hold_recovered_context(h);
                ctx["broadcast"] = Value::Bool(true);
                return self.render(HOLD_RECOVERED, false, ctx);
            }
            Payload::WeeklySummary(s) => {
                return self.render("weekly_summary", false, summary_context(s, names))
            }
        };
        self.render(&kind, compact, ctx)
    }

    /// The thread parent ("run card" / "incident card") showing the subject's current state;
    /// an incident card also shows `controls` (acknowledgement, mute, buttons).
    pub fn render_card(
        &self,
        card: &Card,
        names: &MessageNames,
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
            Payload::BaselineSet(b) => ("load_test_baseline_set", baseline_set_context(b)),
            Payload::HoldRecovered(h) => (HOLD_RECOVERED, hold_recovered_context(h)),
            // Never a card (its deliveries are not threaded).
            Payload::WeeklySummary(s) => ("weekly_summary", summary_context(s, names)),
        };
        self.render(kind, compact, ctx)
    }

    /// A thread reply: one line with only what is new (the card has the rest). With
    /// `broadcast` the line is also shown in the channel, so it names the test or scenario.
    /// Replies are one line in both modes, so `_compact` selects nothing (yet).
    pub fn render_reply(
        &self,
        payload: &Payload,
        card: &Card,
        names: &MessageNames,
        _compact: bool,
        broadcast: bool,
    ) -> Result<Rendered, RenderError> {
        let (kind, mut ctx) = match payload {
            Payload::LoadTest(lt) => ("load_test_reply", load_test_context(lt, names, None)),
            Payload::Scenario(sc) => ("scenario_reply", scenario_context(sc, names, None, None)),
            Payload::IncidentAction(a) => ("scenario_action_reply", action_context(a, names)),
            Payload::BaselineSet(b) => ("load_test_baseline_set", baseline_set_context(b)),
            Payload::HoldRecovered(h) => (HOLD_RECOVERED, hold_recovered_context(h)),
            Payload::WeeklySummary(s) => ("weekly_summary", summary_context(s, names)),
        };
        ctx["broadcast"] = Value::Bool(broadcast);
        let _ = card;
        self.render(kind, false, ctx)
    }

    /// One message for several waiting events of one channel (a digest, see
    /// `pipeline::digest`): a headline ("12 load tests started") and one line per event
    /// with its name, project, key fact and link, in event order, coloured by the worst.
    pub fn render_digest(
        &self,
        entries: &[(&Payload, &MessageNames)],
    ) -> Result<Rendered, RenderError> {
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
        self.render("digest", false, ctx)
    }

    fn render(&self, kind: &str, compact: bool, ctx: Value) -> Result<Rendered, RenderError> {
        let name = if compact {
            format!("{kind}.compact")
        } else {
            kind.to_owned()
        };
        let out = self
            .hb
            // The context handed over, not serialized into a copy as `render` would.
            .render_with_context(&name, &Context::from(ctx))
            .map_err(|e| RenderError::Template {
                name: name.clone(),
                message: e.to_string(),
            })?;
        let mut doc: Value = serde_json::from_str(&out).map_err(|e| RenderError::Output {
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
        // Taken out of the document, not copied: the hot path renders every message.
        let mut blocks = match doc.get_mut("blocks").map(Value::take) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list,
            Some(_) => return Err(bad("`blocks` is not an array")),
        };
        let mut attachments = match doc.get_mut("attachments").map(Value::take) {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) => {
                if list.iter().any(|a| !a.is_object()) {
                    return Err(bad("an attachment is not an object"));
                }
                Some(list)
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
        let problems = limits::violations_of(
            &rendered.text,
            &rendered.blocks,
            rendered.attachments.as_ref(),
        );
        if !problems.is_empty() {
            return Err(bad(&problems.join("; ")));
        }
        Ok(rendered)
    }
}

#[cfg(test)]
mod tests;

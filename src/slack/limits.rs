//! Slack's Block Kit limits: fitting a rendered message into them ([`fit`]) and listing
//! what still breaks them ([`violations`]).
//!
//! A message that breaks one limit is refused whole (`invalid_blocks`, docs/slack-api.md
//! §7 and §10), so nothing the API accepts may reach Slack unfitted: texts are cut at a
//! whole grapheme (never inside an entity such as `&amp;`), a button that cannot fit (its
//! link too long) is dropped and the message says so, lists are shortened. Characters are
//! counted as Unicode scalar values of the string as sent, as Slack counts them.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::text;

/// Hard limit of a message's top-level `text` (Slack truncates beyond it).
pub const MAX_TEXT: usize = 40_000;
/// The top-level `text` we send: the notification line (Slack recommends at most 4,000).
pub const MAX_NOTIFICATION_TEXT: usize = 3_000;
/// Blocks in one message (and in one attachment).
pub const MAX_BLOCKS: usize = 50;
/// Attachments per message.
pub const MAX_ATTACHMENTS: usize = 100;
/// A section's `text`, and any text object's.
pub const MAX_SECTION_TEXT: usize = 3_000;
/// Items in a section's `fields`, and characters of one.
pub const MAX_SECTION_FIELDS: usize = 10;
pub const MAX_FIELD_TEXT: usize = 2_000;
/// A header block's `plain_text`.
pub const MAX_HEADER_TEXT: usize = 150;
/// Elements of a context block.
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
/// Elements of an actions block.
pub const MAX_ACTIONS_ELEMENTS: usize = 25;
/// A `block_id` and an `action_id`.
pub const MAX_ID: usize = 255;
/// A button's label.
pub const MAX_BUTTON_TEXT: usize = 75;
/// A button's `value`.
pub const MAX_BUTTON_VALUE: usize = 2_000;
/// A button's `url`, as sent (percent-encoded). Rich-text links are held to the same
/// bound: Slack documents none for them, and a link is no shorter than a button's.
pub const MAX_URL: usize = 3_000;
/// A `markdown` block's text.
pub const MAX_MARKDOWN: usize = 12_000;

fn len(s: &str) -> usize {
    s.chars().count()
}

/// A URL Slack takes in a link or a button: at most [`MAX_URL`] characters, ASCII only, no
/// spaces or angle brackets (what `text::safe_url` produces for a short enough link).
pub fn url_fits(url: &str) -> bool {
    !url.is_empty()
        && len(url) <= MAX_URL
        && url
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>')
}

/// Cuts a string value in place to `max` characters (see [`text::truncate`]).
fn cut(v: &mut Value, max: usize) {
    if let Some(s) = v.as_str() {
        if len(s) > max {
            *v = Value::String(text::truncate(s, max));
        }
    }
}

/// The line that replaces a link Slack would refuse.
fn too_long(label: &str, url: &str) -> String {
    format!(
        "{label}: the link is too long for Slack ({} characters)",
        len(url)
    )
}

fn note_block(lines: &[String]) -> Value {
    json!({"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": lines.join("; "), "style": {"italic": true}}]}]})
}

/// Fits a whole message (`text`, `blocks`, `attachments`) into Slack's limits.
pub fn fit(text_field: &mut String, blocks: &mut Vec<Value>, attachments: Option<&mut Vec<Value>>) {
    if len(text_field) > MAX_NOTIFICATION_TEXT {
        *text_field = text::truncate(text_field, MAX_NOTIFICATION_TEXT);
    }
    fit_blocks(blocks);
    if let Some(list) = attachments {
        list.truncate(MAX_ATTACHMENTS);
        for a in list.iter_mut() {
            if let Some(bs) = a.get_mut("blocks").and_then(Value::as_array_mut) {
                fit_blocks(bs);
            }
        }
    }
}

/// Fits one list of blocks (a message's or an attachment's).
pub fn fit_blocks(blocks: &mut Vec<Value>) {
    let mut out = Vec::with_capacity(blocks.len());
    for mut block in blocks.drain(..) {
        if let Some(id) = block.get("block_id").and_then(Value::as_str) {
            if len(id) > MAX_ID {
                // Slack makes one up; ours only names the block.
                if let Some(o) = block.as_object_mut() {
                    o.remove("block_id");
                }
            }
        }
        match block
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "header" => cut(&mut block["text"]["text"], MAX_HEADER_TEXT),
            "section" => {
                if block.get("text").is_some() {
                    cut(&mut block["text"]["text"], MAX_SECTION_TEXT);
                }
                if let Some(fields) = block.get_mut("fields").and_then(Value::as_array_mut) {
                    fields.truncate(MAX_SECTION_FIELDS);
                    fields
                        .iter_mut()
                        .for_each(|f| cut(&mut f["text"], MAX_FIELD_TEXT));
                }
                let dropped = block
                    .get_mut("accessory")
                    .map(fit_element)
                    .and_then(Result::err);
                if let Some(note) = dropped {
                    if let Some(o) = block.as_object_mut() {
                        o.remove("accessory");
                    }
                    out.push(block);
                    out.push(note_block(&[note]));
                    continue;
                }
            }
            "context" => {
                if let Some(elements) = block.get_mut("elements").and_then(Value::as_array_mut) {
                    elements.truncate(MAX_CONTEXT_ELEMENTS);
                    for e in elements {
                        if e.get("text").is_some() {
                            cut(&mut e["text"], MAX_SECTION_TEXT);
                        }
                    }
                }
            }
            "actions" => {
                let mut notes = Vec::new();
                if let Some(elements) = block.get_mut("elements").and_then(Value::as_array_mut) {
                    elements.retain_mut(|e| match fit_element(e) {
                        Ok(()) => true,
                        Err(note) => {
                            notes.push(note);
                            false
                        }
                    });
                    elements.truncate(MAX_ACTIONS_ELEMENTS);
                }
                let empty = block
                    .get("elements")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty);
                if !empty {
                    out.push(block);
                }
                if !notes.is_empty() {
                    out.push(note_block(&notes));
                }
                continue;
            }
            "rich_text" => fit_rich(&mut block),
            "markdown" => cut(&mut block["text"], MAX_MARKDOWN),
            _ => {}
        }
        out.push(block);
    }
    out.truncate(MAX_BLOCKS);
    *blocks = out;
}

/// Fits an interactive element; a button that cannot be fitted (a link, value or
/// `action_id` Slack would refuse) is `Err` with the line saying so.
fn fit_element(e: &mut Value) -> Result<(), String> {
    if e.get("type").and_then(Value::as_str) != Some("button") {
        return Ok(());
    }
    let label = e
        .pointer("/text/text")
        .and_then(Value::as_str)
        .unwrap_or("A button")
        .to_owned();
    if let Some(url) = e.get("url").and_then(Value::as_str) {
        if !url_fits(url) {
            return Err(too_long(&label, url));
        }
    }
    let too_big = |key: &str, max: usize| {
        e.get(key)
            .and_then(Value::as_str)
            .is_some_and(|s| len(s) > max)
    };
    if too_big("value", MAX_BUTTON_VALUE) || too_big("action_id", MAX_ID) {
        return Err(format!("{label}: not available in Slack"));
    }
    cut(&mut e["text"]["text"], MAX_BUTTON_TEXT);
    Ok(())
}

/// Rich text: texts cut like a section's (Slack documents no bound of its own), links
/// Slack would refuse replaced by a line saying so.
fn fit_rich(v: &mut Value) {
    match v {
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("text") => {
                if let Some(t) = o.get_mut("text") {
                    cut(t, MAX_SECTION_TEXT);
                }
            }
            Some("link") => {
                let url = o.get("url").and_then(Value::as_str).unwrap_or_default();
                if !url_fits(url) {
                    let label = o.get("text").and_then(Value::as_str).unwrap_or("Link");
                    *v = json!({"type": "text", "text": too_long(label, url)});
                }
            }
            _ => {
                if let Some(e) = o.get_mut("elements") {
                    fit_rich(e);
                }
            }
        },
        Value::Array(a) => a.iter_mut().for_each(fit_rich),
        _ => {}
    }
}

/// Every way a message (`{"text", "blocks", "attachments"}`) breaks Slack's documented
/// Block Kit limits, as `what [json-pointer:/where]`; empty when Slack would take it.
pub fn violations(message: &Value) -> Vec<String> {
    check(
        Text::of(message.get("text")),
        message.get("blocks"),
        message.get("attachments"),
    )
}

/// [`violations`] of a message given by its parts, without assembling (copying) it.
pub fn violations_of(text: &str, blocks: &Value, attachments: Option<&Value>) -> Vec<String> {
    check(Text::Str(text), Some(blocks), attachments)
}

/// A message's `text`, as [`check`] looks at it.
enum Text<'v> {
    Absent,
    Str(&'v str),
    NotAString,
}

impl<'v> Text<'v> {
    fn of(v: Option<&'v Value>) -> Self {
        match v {
            None | Some(Value::Null) => Self::Absent,
            Some(Value::String(t)) => Self::Str(t),
            Some(_) => Self::NotAString,
        }
    }
}

fn check(text: Text<'_>, blocks: Option<&Value>, attachments: Option<&Value>) -> Vec<String> {
    let mut c = Checker::default();
    match text {
        Text::Str(t) => c.length(t, 1, MAX_TEXT, At::Root("/text")),
        Text::Absent => {}
        Text::NotAString => c.push("must be a string", At::Root("/text")),
    }
    if let Some(bs) = blocks {
        c.blocks(bs, At::Root("/blocks"));
    }
    if let Some(atts) = attachments {
        let root = At::Root("/attachments");
        match atts.as_array() {
            Some(list) => {
                if list.len() > MAX_ATTACHMENTS {
                    c.push("too many attachments", root);
                }
                for (i, a) in list.iter().enumerate() {
                    if let Some(bs) = a.get("blocks") {
                        c.blocks(bs, root.index(i).key("blocks"));
                    }
                }
            }
            None => c.push("must be an array", root),
        }
    }
    c.errors
}

/// Where in the message a check looks, as a JSON pointer: written out only for a violation
/// (the checks run on every message sent; building each pointer up front was most of their
/// time).
#[derive(Clone, Copy)]
enum At<'a> {
    Root(&'static str),
    Key(&'a At<'a>, &'static str),
    Index(&'a At<'a>, usize),
}

impl<'a> At<'a> {
    fn key(&'a self, key: &'static str) -> At<'a> {
        At::Key(self, key)
    }

    fn index(&'a self, i: usize) -> At<'a> {
        At::Index(self, i)
    }
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Root(root) => f.write_str(root),
            At::Key(parent, key) => write!(f, "{parent}/{key}"),
            At::Index(parent, i) => write!(f, "{parent}/{i}"),
        }
    }
}

#[derive(Default)]
struct Checker<'v> {
    errors: Vec<String>,
    block_ids: HashSet<&'v str>,
}

impl<'v> Checker<'v> {
    fn push(&mut self, what: &str, at: At<'_>) {
        self.errors.push(format!("{what} [json-pointer:{at}]"));
    }

    fn length(&mut self, s: &str, min: usize, max: usize, at: At<'_>) {
        let n = len(s);
        if n < min {
            self.push(&format!("must be at least {min} characters"), at);
        } else if n > max {
            self.push(&format!("must be at most {max} characters, is {n}"), at);
        }
    }

    fn count(&mut self, v: Option<&'v Value>, min: usize, max: usize, at: At<'_>) -> &'v [Value] {
        let Some(list) = v.and_then(Value::as_array) else {
            self.push("must be an array", at);
            return &[];
        };
        if list.len() < min || list.len() > max {
            self.push(
                &format!("must hold {min} to {max} items, holds {}", list.len()),
                at,
            );
        }
        list
    }

    fn text_object(&mut self, t: Option<&Value>, max: usize, plain_only: bool, at: At<'_>) {
        let kind = t.and_then(|t| t.get("type")).and_then(Value::as_str);
        if !(kind == Some("plain_text") || (!plain_only && kind == Some("mrkdwn"))) {
            self.push("must be a valid text object type", at.key("type"));
        }
        match t.and_then(|t| t.get("text")).and_then(Value::as_str) {
            Some(s) => self.length(s, 1, max, at.key("text")),
            None => self.push("missing text", at),
        }
    }

    fn url(&mut self, url: Option<&Value>, at: At<'_>) {
        match url.and_then(Value::as_str) {
            Some(u) if !url_fits(u) => self.push(
                &format!(
                    "must be a valid URL of at most {MAX_URL} characters, is {}",
                    len(u)
                ),
                at,
            ),
            Some(_) => {}
            None => self.push("must be a string", at),
        }
    }

    fn blocks(&mut self, blocks: &'v Value, at: At<'_>) {
        for (i, b) in self
            .count(Some(blocks), 0, MAX_BLOCKS, at)
            .iter()
            .enumerate()
        {
            self.block(b, at.index(i));
        }
    }

    fn block(&mut self, b: &'v Value, at: At<'_>) {
        if let Some(id) = b.get("block_id").and_then(Value::as_str) {
            self.length(id, 1, MAX_ID, at.key("block_id"));
            if !self.block_ids.insert(id) {
                self.push("must be unique within the message", at.key("block_id"));
            }
        }
        match b.get("type").and_then(Value::as_str).unwrap_or_default() {
            "header" => self.text_object(b.get("text"), MAX_HEADER_TEXT, true, at.key("text")),
            "section" => {
                if b.get("text").is_none() && b.get("fields").is_none() {
                    self.push("must provide either text or fields", at);
                }
                if b.get("text").is_some() {
                    self.text_object(b.get("text"), MAX_SECTION_TEXT, false, at.key("text"));
                }
                if b.get("fields").is_some() {
                    let at_fields = at.key("fields");
                    let fields = self.count(b.get("fields"), 1, MAX_SECTION_FIELDS, at_fields);
                    for (i, f) in fields.iter().enumerate() {
                        self.text_object(Some(f), MAX_FIELD_TEXT, false, at_fields.index(i));
                    }
                }
                if let Some(acc) = b.get("accessory") {
                    self.element(acc, &mut HashSet::new(), at.key("accessory"));
                }
            }
            "context" => {
                let at_elements = at.key("elements");
                let elements = self.count(b.get("elements"), 1, MAX_CONTEXT_ELEMENTS, at_elements);
                for (i, e) in elements.iter().enumerate() {
                    if matches!(
                        e.get("type").and_then(Value::as_str),
                        Some("mrkdwn" | "plain_text")
                    ) {
                        self.text_object(Some(e), MAX_SECTION_TEXT, false, at_elements.index(i));
                    }
                }
            }
            "actions" => {
                let at_elements = at.key("elements");
                let elements = self.count(b.get("elements"), 1, MAX_ACTIONS_ELEMENTS, at_elements);
                let mut ids = HashSet::new();
                for (i, e) in elements.iter().enumerate() {
                    self.element(e, &mut ids, at_elements.index(i));
                }
            }
            "rich_text" => self.rich(b, at),
            "markdown" => match b.get("text").and_then(Value::as_str) {
                Some(t) => self.length(t, 1, MAX_MARKDOWN, at.key("text")),
                None => self.push("missing text", at),
            },
            "divider" | "image" | "video" | "file" | "input" => {}
            _ => self.push("unsupported block type", at.key("type")),
        }
    }

    fn element(&mut self, e: &'v Value, ids: &mut HashSet<&'v str>, at: At<'_>) {
        if let Some(id) = e.get("action_id").and_then(Value::as_str) {
            self.length(id, 1, MAX_ID, at.key("action_id"));
            if !ids.insert(id) {
                self.push("must be unique within the block", at.key("action_id"));
            }
        }
        if e.get("type").and_then(Value::as_str) != Some("button") {
            return;
        }
        self.text_object(e.get("text"), MAX_BUTTON_TEXT, true, at.key("text"));
        if let Some(v) = e.get("value") {
            let value = v.as_str().unwrap_or_default();
            self.length(value, 1, MAX_BUTTON_VALUE, at.key("value"));
        }
        if e.get("url").is_some() {
            self.url(e.get("url"), at.key("url"));
        }
        if let Some(style) = e.get("style") {
            if !matches!(style.as_str(), Some("primary" | "danger")) {
                self.push("must be primary or danger", at.key("style"));
            }
        }
    }

    /// Rich text: every `link` holds a URL Slack takes; every `text` is bounded like a
    /// section's.
    fn rich(&mut self, v: &Value, at: At<'_>) {
        match v.get("type").and_then(Value::as_str) {
            Some("link") => self.url(v.get("url"), at.key("url")),
            Some("text") => {
                let t = v.get("text").and_then(Value::as_str).unwrap_or_default();
                self.length(t, 0, MAX_SECTION_TEXT, at.key("text"));
            }
            _ => {
                if let Some(list) = v.get("elements").and_then(Value::as_array) {
                    let at_elements = at.key("elements");
                    for (i, e) in list.iter().enumerate() {
                        self.rich(e, at_elements.index(i));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

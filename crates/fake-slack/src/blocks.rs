//! Block Kit as Slack checks it and as the fake finds buttons in it: the limits that make
//! `chat.postMessage`, `chat.update` and `response_url` answer `invalid_blocks`
//! (docs/slack-api.md §7 and §9), and where a message's buttons are, with the IDs Slack
//! would report for them in a `block_actions` payload.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::state::Reply;

const MAX_BLOCKS: usize = 50;
const SECTION_TEXT_LIMIT: usize = 3000;
const SECTION_FIELDS_LIMIT: usize = 10;
const FIELD_TEXT_LIMIT: usize = 2000;
const HEADER_TEXT_LIMIT: usize = 150;
const CONTEXT_ELEMENTS_LIMIT: usize = 10;
const ACTIONS_ELEMENTS_LIMIT: usize = 25;
const BLOCK_ID_LIMIT: usize = 255;
const MARKDOWN_BLOCK_LIMIT: usize = 12_000;
/// Attachments per message; more is `too_many_attachments`.
const MAX_ATTACHMENTS: usize = 100;
/// A button's label (`plain_text` only).
const BUTTON_TEXT_LIMIT: usize = 75;
const ACTION_ID_LIMIT: usize = 255;
const BUTTON_VALUE_LIMIT: usize = 2000;
const BUTTON_URL_LIMIT: usize = 3000;

/// Checks a message's blocks and its attachments' blocks against Slack's limits:
/// `invalid_blocks` with `errors` (and `response_metadata.messages`) on violation,
/// `too_many_attachments` beyond 100 attachments.
pub(crate) fn check_message(
    blocks: Option<&[Value]>,
    attachments: Option<&[Value]>,
) -> Result<(), Reply> {
    if attachments.is_some_and(|a| a.len() > MAX_ATTACHMENTS) {
        return Err(Reply::error("too_many_attachments"));
    }
    let errors = message_errors(blocks, attachments);
    if errors.is_empty() {
        return Ok(());
    }
    let messages: Vec<String> = errors.iter().map(|e| format!("[ERROR] {e}")).collect();
    Err(Reply::error("invalid_blocks")
        .with("errors", json!(errors))
        .with("response_metadata", json!({"messages": messages})))
}

/// Every violation in a message's blocks (`/blocks/…`) and its attachments' blocks
/// (`/attachments/N/blocks/…`). `block_id`s and `action_id`s must be unique across the
/// whole message (Slack's documentation asks only for unique `action_id`s within a block;
/// the fake is stricter so that a click names one button).
pub(crate) fn message_errors(
    blocks: Option<&[Value]>,
    attachments: Option<&[Value]>,
) -> Vec<String> {
    let mut check = Checker::default();
    if let Some(blocks) = blocks {
        check.blocks(blocks, "/blocks");
    }
    for (i, a) in attachments.into_iter().flatten().enumerate() {
        if let Some(bs) = a.get("blocks").and_then(Value::as_array) {
            check.blocks(bs, &format!("/attachments/{i}/blocks"));
        }
    }
    check.errors
}

/// Slack-style messages (`must be less than 3001 characters [json-pointer:/blocks/0/text/text]`)
/// for top-level blocks alone.
#[cfg(test)]
pub(crate) fn block_errors(blocks: &[Value]) -> Vec<String> {
    message_errors(Some(blocks), None)
}

/// Collects errors and the IDs seen so far in one message.
#[derive(Debug, Default)]
struct Checker {
    errors: Vec<String>,
    block_ids: HashSet<String>,
    action_ids: HashSet<String>,
}

impl Checker {
    fn push(&mut self, e: String) {
        self.errors.push(e);
    }

    fn too_long(&mut self, s: &str, limit: usize, at: &str) {
        if s.chars().count() > limit {
            self.push(format!(
                "must be less than {} characters [json-pointer:{at}]",
                limit + 1
            ));
        }
    }

    fn blocks(&mut self, blocks: &[Value], base: &str) {
        if blocks.len() > MAX_BLOCKS {
            self.push(format!(
                "no more than {MAX_BLOCKS} items allowed [json-pointer:{base}]"
            ));
        }
        for (i, block) in blocks.iter().enumerate() {
            self.block(block, &format!("{base}/{i}"));
        }
    }

    fn block(&mut self, block: &Value, at: &str) {
        let Some(obj) = block.as_object() else {
            self.push(format!("must be an object [json-pointer:{at}]"));
            return;
        };
        if let Some(id) = obj.get("block_id").and_then(Value::as_str) {
            self.too_long(id, BLOCK_ID_LIMIT, &format!("{at}/block_id"));
            if !self.block_ids.insert(id.to_owned()) {
                self.push(format!(
                    "must be unique within the message [json-pointer:{at}/block_id]"
                ));
            }
        }
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "section" => {
                let text = obj.get("text");
                let fields = obj.get("fields").and_then(Value::as_array);
                if text.is_none() && fields.is_none() {
                    self.push(format!(
                        "must provide either text or fields [json-pointer:{at}]"
                    ));
                }
                if let Some(t) = text {
                    self.text_object(t, SECTION_TEXT_LIMIT, &format!("{at}/text"), false);
                }
                if let Some(fields) = fields {
                    if fields.len() > SECTION_FIELDS_LIMIT {
                        self.push(format!(
                            "no more than {SECTION_FIELDS_LIMIT} items allowed [json-pointer:{at}/fields]"
                        ));
                    }
                    for (j, f) in fields.iter().enumerate() {
                        self.text_object(f, FIELD_TEXT_LIMIT, &format!("{at}/fields/{j}"), false);
                    }
                }
                if let Some(acc) = obj.get("accessory") {
                    self.element(acc, &format!("{at}/accessory"));
                }
            }
            "header" => match obj.get("text") {
                Some(t) => self.text_object(t, HEADER_TEXT_LIMIT, &format!("{at}/text"), true),
                None => self.push(format!("missing required field: text [json-pointer:{at}]")),
            },
            "context" => match obj.get("elements").and_then(Value::as_array) {
                Some(e) if e.len() > CONTEXT_ELEMENTS_LIMIT => self.push(format!(
                    "no more than {CONTEXT_ELEMENTS_LIMIT} items allowed [json-pointer:{at}/elements]"
                )),
                Some(e) => {
                    // Text elements are text objects: at most 3,000 characters each.
                    for (j, el) in e.iter().enumerate() {
                        let kind = el.get("type").and_then(Value::as_str);
                        if matches!(kind, Some("mrkdwn" | "plain_text")) {
                            let text = el.get("text").and_then(Value::as_str).unwrap_or_default();
                            self.too_long(text, SECTION_TEXT_LIMIT, &format!("{at}/elements/{j}/text"));
                        }
                    }
                }
                None => self.push(format!(
                    "missing required field: elements [json-pointer:{at}]"
                )),
            },
            "actions" => match obj.get("elements").and_then(Value::as_array) {
                Some(e) if e.is_empty() => self.push(format!(
                    "must provide at least 1 items [json-pointer:{at}/elements]"
                )),
                Some(e) => {
                    if e.len() > ACTIONS_ELEMENTS_LIMIT {
                        self.push(format!(
                            "no more than {ACTIONS_ELEMENTS_LIMIT} items allowed [json-pointer:{at}/elements]"
                        ));
                    }
                    for (j, el) in e.iter().enumerate() {
                        self.element(el, &format!("{at}/elements/{j}"));
                    }
                }
                None => self.push(format!(
                    "missing required field: elements [json-pointer:{at}]"
                )),
            },
            "markdown" => {
                let text = obj.get("text").and_then(Value::as_str).unwrap_or_default();
                self.too_long(text, MARKDOWN_BLOCK_LIMIT, &format!("{at}/text"));
            }
            "divider" | "image" | "rich_text" | "video" | "file" | "input" => {}
            "" => self.push(format!("missing required field: type [json-pointer:{at}]")),
            other => self.push(format!(
                "unsupported type: {other} [json-pointer:{at}/type]"
            )),
        }
    }

    /// An interactive element (in an `actions` block or a section's `accessory`): its
    /// `action_id`, and for buttons their label, `value`, `url` and `style`.
    fn element(&mut self, e: &Value, at: &str) {
        let Some(obj) = e.as_object() else {
            self.push(format!("must be an object [json-pointer:{at}]"));
            return;
        };
        if let Some(id) = obj.get("action_id").and_then(Value::as_str) {
            self.too_long(id, ACTION_ID_LIMIT, &format!("{at}/action_id"));
            if !self.action_ids.insert(id.to_owned()) {
                self.push(format!(
                    "must be unique within the message [json-pointer:{at}/action_id]"
                ));
            }
        }
        if obj.get("type").and_then(Value::as_str) != Some("button") {
            return;
        }
        match obj.get("text") {
            Some(t) => self.text_object(t, BUTTON_TEXT_LIMIT, &format!("{at}/text"), true),
            None => self.push(format!("missing required field: text [json-pointer:{at}]")),
        }
        for (key, limit) in [("value", BUTTON_VALUE_LIMIT), ("url", BUTTON_URL_LIMIT)] {
            match obj.get(key) {
                None => {}
                Some(Value::String(s)) => self.too_long(s, limit, &format!("{at}/{key}")),
                Some(_) => self.push(format!("must be a string [json-pointer:{at}/{key}]")),
            }
        }
        // A link must be a valid URL: spaces and non-ASCII characters percent-encoded
        // (docs/slack-api.md §10).
        if let Some(url) = obj.get("url").and_then(Value::as_str) {
            if !url.chars().all(|c| c.is_ascii_graphic()) {
                self.push(format!("must be a valid URL [json-pointer:{at}/url]"));
            }
        }
        if let Some(style) = obj.get("style") {
            if !matches!(style.as_str(), Some("primary" | "danger")) {
                self.push(format!(
                    "must be a valid enum value [json-pointer:{at}/style]"
                ));
            }
        }
    }

    fn text_object(&mut self, t: &Value, limit: usize, at: &str, plain_only: bool) {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or_default();
        let allowed = if plain_only {
            &["plain_text"][..]
        } else {
            &["plain_text", "mrkdwn"][..]
        };
        if !allowed.contains(&kind) {
            self.push(format!(
                "must be a valid enum value [json-pointer:{at}/type]"
            ));
        }
        match t.get("text").and_then(Value::as_str) {
            Some("") => self.push(format!(
                "must be more than 0 characters [json-pointer:{at}/text]"
            )),
            Some(s) => self.too_long(s, limit, &format!("{at}/text")),
            None => self.push(format!("missing required field: text [json-pointer:{at}]")),
        }
    }
}

/// Where a button sits in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ButtonAt {
    /// Index in `attachments` when the button is inside one.
    pub attachment: Option<usize>,
    /// Index of the block (in the message's or the attachment's `blocks`).
    pub block: usize,
    /// Index in an `actions` block's `elements`; `None` for a section's accessory.
    pub element: Option<usize>,
}

/// A button of a message, with the IDs a click reports.
#[derive(Debug, Clone)]
pub(crate) struct Button {
    pub at: ButtonAt,
    /// The block's `block_id`, or the one the fake stands in for Slack's generated ID.
    pub block_id: String,
    /// The button's `action_id`, or a generated stand-in.
    pub action_id: String,
    /// The button element as posted.
    pub element: Value,
}

impl Button {
    /// The label as typed (the `text` of the `plain_text` object).
    pub(crate) fn label(&self) -> &str {
        self.element
            .pointer("/text/text")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// A short, stable stand-in for an ID Slack would generate (Slack stores random ones,
/// like `=qXel`; the fake derives them from the position so every click and every page
/// draw agree): five characters of an FNV-1a hash of `seed`.
fn generated_id(seed: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..5)
        .map(|i| {
            let n = usize::try_from((h >> (i * 8)) & 0xff).unwrap_or(0) % ALPHABET.len();
            char::from(ALPHABET[n])
        })
        .collect()
}

/// The `block_id` a click reports for a block: its own, or a generated stand-in.
pub(crate) fn block_id_of(block: &Value, attachment: Option<usize>, index: usize) -> String {
    match block.get("block_id").and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => generated_id(&format!("block:{attachment:?}:{index}")),
    }
}

/// The `action_id` a click reports for a button: its own, or a generated stand-in.
pub(crate) fn action_id_of(element: &Value, at: ButtonAt) -> String {
    match element.get("action_id").and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => generated_id(&format!(
            "action:{:?}:{}:{:?}",
            at.attachment, at.block, at.element
        )),
    }
}

fn buttons_in(blocks: &[Value], attachment: Option<usize>, out: &mut Vec<Button>) {
    for (bi, block) in blocks.iter().enumerate() {
        let block_id = block_id_of(block, attachment, bi);
        let mut add = |element: &Value, ei: Option<usize>| {
            if element.get("type").and_then(Value::as_str) == Some("button") {
                let at = ButtonAt {
                    attachment,
                    block: bi,
                    element: ei,
                };
                out.push(Button {
                    at,
                    block_id: block_id.clone(),
                    action_id: action_id_of(element, at),
                    element: element.clone(),
                });
            }
        };
        match block.get("type").and_then(Value::as_str) {
            Some("actions") => {
                for (ei, e) in block
                    .get("elements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    add(e, Some(ei));
                }
            }
            Some("section") => {
                if let Some(acc) = block.get("accessory") {
                    add(acc, None);
                }
            }
            _ => {}
        }
    }
}

/// Every button of a message, top-level blocks first, then each attachment's blocks.
pub(crate) fn buttons(blocks: Option<&[Value]>, attachments: Option<&[Value]>) -> Vec<Button> {
    let mut out = Vec::new();
    if let Some(bs) = blocks {
        buttons_in(bs, None, &mut out);
    }
    for (i, a) in attachments.into_iter().flatten().enumerate() {
        if let Some(bs) = a.get("blocks").and_then(Value::as_array) {
            buttons_in(bs, Some(i), &mut out);
        }
    }
    out
}

/// A copy of `blocks` where every block has a `block_id` and every button an `action_id`,
/// as Slack shows a stored message in a `block_actions` payload.
pub(crate) fn with_ids(blocks: &[Value], attachment: Option<usize>) -> Vec<Value> {
    blocks
        .iter()
        .enumerate()
        .map(|(bi, block)| {
            let mut b = block.clone();
            let Some(obj) = b.as_object_mut() else {
                return b;
            };
            if !obj.contains_key("block_id") {
                obj.insert("block_id".into(), json!(block_id_of(block, attachment, bi)));
            }
            let fill = |e: &mut Value, ei: Option<usize>| {
                if let Some(eo) = e.as_object_mut() {
                    let is_button = eo.get("type").and_then(Value::as_str) == Some("button");
                    if is_button && !eo.contains_key("action_id") {
                        let at = ButtonAt {
                            attachment,
                            block: bi,
                            element: ei,
                        };
                        eo.insert("action_id".into(), json!(action_id_of(&Value::Null, at)));
                    }
                }
            };
            if let Some(els) = obj.get_mut("elements").and_then(Value::as_array_mut) {
                if block.get("type").and_then(Value::as_str) == Some("actions") {
                    for (ei, e) in els.iter_mut().enumerate() {
                        fill(e, Some(ei));
                    }
                }
            }
            if let Some(acc) = obj.get_mut("accessory") {
                fill(acc, None);
            }
            b
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn button(text: &str, action_id: &str) -> Value {
        json!({"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id})
    }

    fn actions(elements: Vec<Value>) -> Value {
        json!({"type": "actions", "elements": elements})
    }

    #[test]
    fn block_limits() {
        let section = |n: usize| json!({"type": "section", "text": {"type": "mrkdwn", "text": "a".repeat(n)}});
        assert!(block_errors(&[section(3000)]).is_empty());
        assert_eq!(
            block_errors(&[section(3001)]),
            ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
        );
        let header = |n: usize| json!({"type": "header", "text": {"type": "plain_text", "text": "h".repeat(n)}});
        assert!(block_errors(&[header(150)]).is_empty());
        assert_eq!(
            block_errors(&[json!({"type": "divider"}), header(151)]),
            ["must be less than 151 characters [json-pointer:/blocks/1/text/text]"]
        );
        let many = vec![json!({"type": "divider"}); 51];
        assert_eq!(
            block_errors(&many),
            ["no more than 50 items allowed [json-pointer:/blocks]"]
        );
        assert!(block_errors(&vec![json!({"type": "divider"}); 50]).is_empty());
        assert_eq!(
            block_errors(&[json!({"type": "header", "text": {"type": "mrkdwn", "text": "x"}})])
                .len(),
            1
        );
    }

    #[test]
    fn button_limits() {
        let ok = actions(vec![
            json!({"type": "button", "text": {"type": "plain_text", "text": "A".repeat(75)},
                   "action_id": "a".repeat(255), "value": "v".repeat(2000), "style": "primary"}),
            json!({"type": "button", "text": {"type": "plain_text", "text": "Open"},
                   "url": format!("https://x.example/{}", "u".repeat(2980)), "style": "danger"}),
        ]);
        assert_eq!(message_errors(Some(&[ok]), None), Vec::<String>::new());
        let bad = actions(vec![
            json!({"type": "button", "text": {"type": "mrkdwn", "text": "A".repeat(76)},
                   "action_id": "a".repeat(256), "value": "v".repeat(2001),
                   "url": "u".repeat(3001), "style": "secondary"}),
        ]);
        let unencoded = actions(vec![
            json!({"type": "button", "text": {"type": "plain_text", "text": "Open"},
                   "url": "https://x.example/ä b"}),
        ]);
        assert_eq!(
            message_errors(Some(&[unencoded]), None),
            ["must be a valid URL [json-pointer:/blocks/0/elements/0/url]"]
        );
        let context = json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": "c".repeat(3000)}, {"type": "plain_text", "text": "c".repeat(3001)}]});
        assert_eq!(
            message_errors(Some(&[context]), None),
            ["must be less than 3001 characters [json-pointer:/blocks/0/elements/1/text]"]
        );
        assert_eq!(
            message_errors(Some(&[bad]), None),
            [
                "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
                "must be a valid enum value [json-pointer:/blocks/0/elements/0/text/type]",
                "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
                "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
                "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]",
                "must be a valid enum value [json-pointer:/blocks/0/elements/0/style]",
            ]
        );
        let many = actions((0..26).map(|i| button("x", &format!("a{i}"))).collect());
        assert_eq!(
            message_errors(Some(&[many]), None),
            ["no more than 25 items allowed [json-pointer:/blocks/0/elements]"]
        );
        assert_eq!(
            message_errors(Some(&[json!({"type": "actions"}), actions(vec![])]), None),
            [
                "missing required field: elements [json-pointer:/blocks/0]",
                "must provide at least 1 items [json-pointer:/blocks/1/elements]",
            ]
        );
    }

    #[test]
    fn ids_are_unique_across_blocks_and_attachments() {
        let top =
            vec![json!({"type": "actions", "block_id": "b1", "elements": [button("Ack", "ack")]})];
        let atts = vec![json!({"color": "#e01e5a", "blocks": [
            {"type": "actions", "block_id": "b1", "elements": [button("Ack again", "ack")]},
            {"type": "section", "text": {"type": "mrkdwn", "text": "x"},
             "accessory": {"type": "button", "text": {"type": "plain_text", "text": "y"}, "style": "blue"}},
        ]})];
        assert_eq!(
            message_errors(Some(&top), Some(&atts)),
            [
                "must be unique within the message [json-pointer:/attachments/0/blocks/0/block_id]",
                "must be unique within the message [json-pointer:/attachments/0/blocks/0/elements/0/action_id]",
                "must be a valid enum value [json-pointer:/attachments/0/blocks/1/accessory/style]",
            ]
        );
        let err = check_message(Some(&top), Some(&atts)).unwrap_err();
        assert_eq!(err.error_code(), Some("invalid_blocks"));
        assert_eq!(err.body["errors"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn buttons_are_found_with_their_ids() {
        let top = vec![
            json!({"type": "section", "text": {"type": "mrkdwn", "text": "x"}}),
            json!({"type": "actions", "block_id": "acts", "elements": [
                button("Acknowledge", "incident.ack"),
                {"type": "static_select", "action_id": "pick"},
                {"type": "button", "text": {"type": "plain_text", "text": "No id"}},
            ]}),
        ];
        let atts = vec![
            json!({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y"},
            "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Open"},
                          "url": "https://x.example", "action_id": "open.xtc"}}]}),
        ];
        let found = buttons(Some(&top), Some(&atts));
        let ids: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|b| (b.label(), b.action_id.as_str(), b.block_id.as_str()))
            .collect();
        assert_eq!(ids[0], ("Acknowledge", "incident.ack", "acts"));
        assert_eq!(ids[1].0, "No id");
        assert_eq!(ids[1].1.len(), 5);
        assert_eq!(ids[2].0, "Open");
        assert_eq!(ids[2].1, "open.xtc");
        assert_eq!(found[2].element["url"], "https://x.example");
        assert_eq!(
            found[2].at,
            ButtonAt {
                attachment: Some(0),
                block: 0,
                element: None
            }
        );
        // The generated IDs are stable and the same ones `with_ids` writes into the message.
        assert_eq!(buttons(Some(&top), Some(&atts))[1].action_id, ids[1].1);
        let filled = with_ids(&top, None);
        assert_eq!(filled[1]["elements"][2]["action_id"], ids[1].1);
        assert_eq!(filled[1]["block_id"], "acts");
        assert_eq!(filled[0]["block_id"].as_str().map(str::len), Some(5));
        assert!(filled[1]["elements"][1].get("block_id").is_none());
    }
}

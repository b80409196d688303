//! Helpers every message context uses: user text cut to fit, the names of the
//! organization and project, and the `event` block of a message.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{MessageNames, MAX_NAME, MAX_SHORT};
use crate::slack::{limits, text};

/// User text cut so that its *escaped* form fits `max` characters (so an entity such as
/// `&amp;` is never split); `…` marks the cut.
pub(super) fn fit(s: &str, max: usize) -> String {
    text::unescape(&text::escape_truncated(s, max))
}

pub(super) fn opt_fit(s: &Option<String>, max: usize) -> Value {
    s.as_deref()
        .map_or(Value::Null, |v| Value::String(fit(v, max)))
}

/// A name for the body, the header (cut to Slack's 150) and whether the header was cut.
pub(super) fn name_context(name: &str) -> (String, String, bool) {
    let header = fit(name, limits::MAX_HEADER_TEXT);
    let cut = header != name;
    (fit(name, MAX_NAME), header, cut)
}

pub(super) fn names_context(names: &MessageNames) -> (Value, Value) {
    (
        json!({"id": names.org_id, "name": fit(&names.org_name, MAX_SHORT)}),
        json!({"id": names.project_id, "name": fit(&names.project_name, MAX_SHORT)}),
    )
}

/// The `event` context: its title, its line in a thread, the fact the title leaves out
/// (`detail`), emoji and time.
pub(super) fn event_info(
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

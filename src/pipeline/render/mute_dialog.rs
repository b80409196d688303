//! The "Mute for…" dialog (a Slack modal, `views.open`): how long (`domain::incident::
//! MuteChoice`), until when for "Until a date and time", and an optional reason. Its
//! `private_metadata` names the card the click came from, as the click named it (the
//! card's opaque reference included), so the submission is checked like a click.

use serde_json::{json, Value};

use super::MAX_SHORT;
use crate::domain::incident::{MuteChoice, MAX_MUTE_COMMENT, MUTE_FOR_ACTION_ID};
use crate::pipeline::incidents::CardRef;

/// The dialog's `callback_id` (its submissions carry it).
pub const CALLBACK_ID: &str = MUTE_FOR_ACTION_ID;
/// The input block (and its element's `action_id`) of the duration.
pub const DURATION_BLOCK: &str = "mute_duration";
/// The input block of the date and time (for "Until a date and time").
pub const UNTIL_BLOCK: &str = "mute_until";
/// The input block of the reason.
pub const REASON_BLOCK: &str = "mute_reason";

/// The `view` of the dialog for the card `card` names, whose scenario is `scenario_name`.
pub fn mute_dialog(card: &CardRef, scenario_name: &str) -> Value {
    let option = |c: MuteChoice| json!({"text": {"type": "plain_text", "text": c.label(), "emoji": false}, "value": c.value()});
    let options: Vec<Value> = MuteChoice::ALL.into_iter().map(option).collect();
    // Slack shows plain_text as typed: no escaping, only the length limit.
    let name = fit_plain(scenario_name, MAX_SHORT);
    json!({
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": card.to_metadata(),
        "title": {"type": "plain_text", "text": "Mute incident", "emoji": false},
        "submit": {"type": "plain_text", "text": "Mute", "emoji": false},
        "close": {"type": "plain_text", "text": "Cancel", "emoji": false},
        "blocks": [
            {"type": "context", "elements": [
                {"type": "plain_text", "text": name, "emoji": false}]},
            {"type": "input", "block_id": DURATION_BLOCK,
             "label": {"type": "plain_text", "text": "Mute for", "emoji": false},
             "element": {"type": "static_select", "action_id": DURATION_BLOCK,
                         "placeholder": {"type": "plain_text", "text": "Pick a duration", "emoji": false},
                         "options": options}},
            {"type": "input", "block_id": UNTIL_BLOCK, "optional": true,
             "label": {"type": "plain_text", "text": "Until", "emoji": false},
             "hint": {"type": "plain_text", "text": "Only for “Until a date and time”: at most 30 days ahead.", "emoji": false},
             "element": {"type": "datetimepicker", "action_id": UNTIL_BLOCK}},
            {"type": "input", "block_id": REASON_BLOCK, "optional": true,
             "label": {"type": "plain_text", "text": "Reason", "emoji": false},
             "hint": {"type": "plain_text", "text": "Shown on the card and in the thread.", "emoji": false},
             "element": {"type": "plain_text_input", "action_id": REASON_BLOCK,
                         "max_length": MAX_MUTE_COMMENT}},
        ],
    })
}

/// `s` cut to `max` characters at a whole character, with an ellipsis when cut.
fn fit_plain(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> CardRef {
        CardRef {
            team_id: "T0FAKE0001".into(),
            channel_id: "C0FAKE0LT1".into(),
            channel_name: Some("load-tests".into()),
            message_ts: "1795687200.000100".into(),
            value: "q1w2e3r4t5y6u7i8o9p0aa".into(),
        }
    }

    #[test]
    fn the_dialog() {
        insta::assert_json_snapshot!(mute_dialog(&card(), "Shop checkout <!here> *now*"));
    }

    #[test]
    fn the_dialog_keeps_within_slacks_limits_and_names_its_card() {
        let long = "x".repeat(5_000);
        let mut c = card();
        c.channel_name = Some("n".repeat(80));
        let v = mute_dialog(&c, &long);
        let title = v["title"]["text"].as_str().unwrap_or_default();
        assert!(title.chars().count() <= 24, "{title}");
        assert!(v["blocks"].as_array().is_some_and(|b| b.len() <= 100));
        let meta = v["private_metadata"].as_str().unwrap_or_default();
        assert!(meta.chars().count() <= 3_000, "{}", meta.len());
        assert_eq!(CardRef::from_metadata(meta), Some(c));
        let name = v["blocks"][0]["elements"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(name.chars().count() <= MAX_SHORT);
    }
}

//! Unit tests of the Block Kit limit checks (each broken limit named by its pointer) and
//! of fitting a message to them (a button whose link cannot fit is dropped, and said so).

use super::*;

fn button(label: &str, url: &str) -> Value {
    json!({"type": "button", "action_id": label, "text": {"type": "plain_text", "text": label}, "url": url})
}

fn message(blocks: Vec<Value>) -> Value {
    json!({"text": "t", "blocks": blocks})
}

#[test]
fn the_validator_names_each_broken_limit() {
    let long_url = format!("https://x.example/{}", "a".repeat(3_000));
    let m = json!({"text": "x".repeat(40_001), "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "h".repeat(151)}},
        {"type": "actions", "elements": [button(&"B".repeat(76), &long_url)]},
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
            {"type": "link", "url": "https://x.example/ä", "text": "x"}]}]},
        {"type": "context", "elements": vec![json!({"type": "mrkdwn", "text": "c"}); 11]},
    ]});
    let v = violations(&m);
    for at in [
        "/text]",
        "/blocks/0/text/text]",
        "/blocks/1/elements/0/text/text]",
        "/blocks/1/elements/0/url]",
        "/blocks/2/elements/0/elements/0/url]",
        "/blocks/3/elements]",
    ] {
        assert!(v.iter().any(|e| e.ends_with(at)), "{at} in {v:#?}");
    }
    assert_eq!(v.len(), 6, "{v:#?}");
    assert!(violations(&message(vec![json!({"type": "divider"}); 50])).is_empty());
    assert_eq!(
        violations(&message(vec![json!({"type": "divider"}); 51])).len(),
        1
    );
}

#[test]
fn a_button_whose_link_cannot_fit_is_dropped_and_the_message_says_so() {
    let long_url = format!("https://x.example/{}", "%C3%A4".repeat(600));
    let mut blocks = vec![
        json!({"type": "actions", "block_id": "links", "elements": [
            button("Open in XTC", &long_url), button("Open report", "https://x.example/r")]}),
        json!({"type": "actions", "elements": [button("Only", &long_url)]}),
        json!({"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
            {"type": "link", "url": long_url, "text": "Open the execution"}]}]}),
    ];
    let mut text = "t".to_owned();
    fit(&mut text, &mut blocks, None);
    let all = Value::Array(blocks.clone());
    assert!(
        violations(&json!({"text": text, "blocks": all})).is_empty(),
        "{all:#}"
    );
    assert_eq!(blocks.len(), 4, "{all:#}");
    assert_eq!(blocks[0]["elements"].as_array().map(Vec::len), Some(1));
    assert_eq!(blocks[0]["elements"][0]["action_id"], "Open report");
    let shown = all.to_string();
    for label in ["Open in XTC", "Only", "Open the execution"] {
        assert!(
            shown.contains(&format!(
                "{label}: the link is too long for Slack (3618 characters)"
            )),
            "{label}: {shown}"
        );
    }
}

#[test]
fn texts_are_cut_at_a_whole_grapheme() {
    let family = "👩‍👩‍👧‍👦";
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": family.repeat(30)}}),
        json!({"type": "actions", "elements": [{"type": "button", "action_id": "a",
            "text": {"type": "plain_text", "text": "&amp;".repeat(20)}, "value": "v"}]}),
    ];
    let mut text = "é".repeat(5_000);
    fit(&mut text, &mut blocks, None);
    let header = blocks[0]["text"]["text"].as_str().unwrap_or_default();
    // 21 families of 7 characters and the ellipsis.
    assert_eq!(header, format!("{}…", family.repeat(21)));
    assert_eq!(
        blocks[1]["elements"][0]["text"]["text"],
        format!("{}…", "&amp;".repeat(14))
    );
    assert_eq!(text.chars().count(), MAX_NOTIFICATION_TEXT);
    let all = json!({"text": text, "blocks": blocks});
    assert!(violations(&all).is_empty(), "{all}");
}

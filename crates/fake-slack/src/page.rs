//! The fake's human-facing page (`GET /_fake/`): channels and what the service posted,
//! threads nested under their parents, edits visible. Everything user-supplied is
//! HTML-escaped; Slack markup is shown as text, not interpreted.

use std::fmt::Write as _;

use actix_web::{web, HttpResponse};
use serde_json::Value;

use super::{
    state::{FakeChannel, Message},
    Shared,
};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:2rem auto;padding:0 1rem;color:#1d1c1d;background:#fafafa}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin:0 0 .5rem} .muted{color:#616061;font-size:.85rem}
section.channel{background:#fff;border:1px solid #ddd;border-radius:8px;padding:1rem;margin:1rem 0}
.tag{display:inline-block;font-size:.75rem;border-radius:4px;padding:0 .4rem;margin-left:.3rem;background:#eee}
.tag.private{background:#fde8c8}.tag.archived{background:#e0e0e0}.tag.member{background:#d8f0dc}
.msg{border-left:3px solid #4a154b;padding:.4rem .6rem;margin:.6rem 0;background:#fcfcfc}
.thread{margin-left:1.5rem;border-left:2px dashed #bbb;padding-left:.6rem}
.text{white-space:pre-wrap;word-break:break-word}
.block{font-size:.9rem;margin:.2rem 0;white-space:pre-wrap}
.block .kind{color:#888;font-size:.75rem;margin-right:.3rem}
details{font-size:.85rem;color:#555} code{background:#f1f1f1;padding:0 .2rem}
button{background:#007a5a;color:#fff;border:0;border-radius:4px;padding:.5rem 1.2rem;font-size:1rem;cursor:pointer;margin-right:.5rem}
button.secondary{background:#fff;color:#1d1c1d;border:1px solid #bbb}
"#;

/// Wraps a body in the fake's HTML page layout.
pub(crate) fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · fake Slack</title><style>{STYLE}</style></head><body>{body}</body></html>",
        html(title)
    )
}

/// `GET /_fake/`.
pub(crate) async fn index(shared: web::Data<Shared>) -> HttpResponse {
    let body = {
        let world = shared.world();
        render(
            &world.config.team_name,
            &world.config.team_id,
            &world.channels,
        )
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(layout("Workspace", &body))
}

fn render(team_name: &str, team_id: &str, channels: &[FakeChannel]) -> String {
    let mut out = format!(
        "<h1>{} <span class=\"muted\">({})</span></h1>\
         <p class=\"muted\">Fake Slack workspace. <a href=\"/_fake/\">Refresh</a> · \
         JSON: <a href=\"/_fake/api/messages\">messages</a>, \
         <a href=\"/_fake/api/channels\">channels</a>, <a href=\"/_fake/api/calls\">calls</a></p>",
        html(team_name),
        html(team_id)
    );
    for c in channels {
        let _ = write!(
            out,
            "<section class=\"channel\" id=\"{id}\"><h2>#{name} <span class=\"muted\">{id}</span>",
            id = html(&c.id),
            name = html(&c.name)
        );
        if c.is_private {
            out.push_str("<span class=\"tag private\">private</span>");
        }
        if c.is_archived {
            out.push_str("<span class=\"tag archived\">archived</span>");
        }
        if c.is_member {
            out.push_str("<span class=\"tag member\">bot is member</span>");
        }
        out.push_str("</h2>");
        let parents: Vec<&Message> = c
            .messages
            .iter()
            .filter(|m| m.thread_ts.is_none())
            .collect();
        if parents.is_empty() {
            out.push_str("<p class=\"muted\">No messages.</p>");
        }
        for parent in parents {
            out.push_str(&message(parent));
            let replies: Vec<&Message> = c
                .messages
                .iter()
                .filter(|m| m.thread_ts.as_deref() == Some(parent.ts.as_str()))
                .collect();
            if !replies.is_empty() {
                out.push_str("<div class=\"thread\">");
                for r in replies {
                    out.push_str(&message(r));
                }
                out.push_str("</div>");
            }
        }
        out.push_str("</section>");
    }
    out
}

fn message(m: &Message) -> String {
    let mut out = format!(
        "<div class=\"msg\" data-ts=\"{ts}\"><div class=\"muted\">{at} · ts {ts}",
        ts = html(&m.ts),
        at = html(&m.received_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
    );
    if m.reply_broadcast {
        out.push_str(" · also sent to the channel");
    }
    if !m.edits.is_empty() {
        let _ = write!(out, " · edited {}×", m.edits.len());
    }
    out.push_str("</div>");
    out.push_str(&content(&m.text, m.blocks.as_deref()));
    if !m.edits.is_empty() {
        out.push_str("<details><summary>Earlier versions</summary>");
        for e in &m.edits {
            let _ = write!(
                out,
                "<div class=\"muted\">replaced {}</div>{}",
                html(&e.replaced_at.format("%H:%M:%S").to_string()),
                content(&e.text, e.blocks.as_deref())
            );
        }
        out.push_str("</details>");
    }
    out.push_str("</div>");
    out
}

/// Text and blocks: with blocks, Slack shows the blocks and uses `text` as fallback.
fn content(text: &str, blocks: Option<&[Value]>) -> String {
    match blocks.filter(|b| !b.is_empty()) {
        None => format!("<div class=\"text\">{}</div>", html(text)),
        Some(blocks) => {
            let mut out = String::new();
            for b in blocks {
                let kind = b.get("type").and_then(Value::as_str).unwrap_or("?");
                let texts = block_texts(b);
                let _ = write!(
                    out,
                    "<div class=\"block\"><span class=\"kind\">{}</span>{}</div>",
                    html(kind),
                    html(&texts.join(" | "))
                );
            }
            let _ = write!(
                out,
                "<div class=\"muted\">fallback text: {}</div>",
                html(text)
            );
            out
        }
    }
}

/// The human-readable strings of a block, however deeply they are nested
/// (`text.text`, `fields[].text`, `elements[].text`, rich text, ...).
fn block_texts(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_texts(v, &mut out);
    out
}

fn collect_texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("text", Value::String(s)) => out.push(s.clone()),
                    ("url", Value::String(s)) | ("image_url", Value::String(s)) => {
                        out.push(format!("[{s}]"))
                    }
                    _ => collect_texts(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_texts(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn msg(ts: &str, text: &str, thread: Option<&str>) -> Message {
        Message {
            ts: ts.into(),
            text: text.into(),
            blocks: None,
            thread_ts: thread.map(str::to_owned),
            reply_broadcast: false,
            app_id: "A1".into(),
            bot_id: "B1".into(),
            user: "U1".into(),
            received_at: Utc::now(),
            edits: vec![],
        }
    }

    #[test]
    fn page_escapes_and_nests_threads() {
        let mut parent = msg("1.000001", "<script>alert(1)</script> & <!channel>", None);
        parent.blocks = Some(vec![
            json!({"type":"section","text":{"type":"mrkdwn","text":"<b>bold</b>"}}),
        ]);
        let channel = FakeChannel {
            id: "C1".into(),
            name: "x\"y".into(),
            is_private: false,
            is_archived: false,
            is_member: true,
            created: 0,
            previous_names: vec![],
            messages: vec![parent, msg("1.000002", "reply", Some("1.000001"))],
        };
        let page = render("<T>", "T1", &[channel]);
        assert!(!page.contains("<script>") && !page.contains("<b>"));
        assert!(page.contains("&lt;script&gt;") && page.contains("&lt;b&gt;bold&lt;/b&gt;"));
        assert!(page.contains("x&quot;y"));
        let thread = page.find("class=\"thread\"").unwrap_or(usize::MAX);
        let reply = page.find(">reply<").unwrap_or(0);
        assert!(thread < reply, "reply must be inside the thread block");
    }
}

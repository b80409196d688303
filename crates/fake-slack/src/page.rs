//! The fake's human-facing page (`GET /_fake/`, one channel with `?channel=NAME`): each
//! channel's timeline drawn the way a Slack client draws it (Block Kit, attachments with
//! colour bars, mrkdwn, emoji, dates), threads nested under their parents with a reply count,
//! broadcast replies also in the channel, edits with their earlier versions on demand.
//! Everything the service sent is HTML-escaped; see [`render`].
//!
//! Buttons can be clicked without JavaScript: each `actions` block is a
//! `<form class="fake-actions" method="post" action="/_fake/click">` with hidden fields
//! `channel`, `ts`, `as` and `view`, and one `<button type="submit" name="action_id"
//! value="…">` per button; the click goes to the app (see [`crate::interactivity`]) and
//! the browser is sent back (303) with a one-line notice. URL buttons are links that open
//! in a new tab; their `ping` attribute reports the click (browsers that send pings, e.g.
//! Chromium). `?as=U…` picks the user who clicks (the "Act as" bar); their ephemeral
//! `response_url` messages are shown at the top of the channel.

mod dialog;
mod render;

use render::Clickable;

use std::collections::HashMap;
use std::fmt::Write as _;

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{
    files::FakeFile,
    interactivity::{base_url, send_click, ClickRequest, FakeView, ResponseRecord},
    state::{FakeChannel, Message},
    FakeUser, Shared,
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

/// The Slack client look of the workspace page (added to [`STYLE`] there).
const SLACK_STYLE: &str = r#"
body.ws{max-width:none;margin:0;padding:0;background:#fff;font-family:Lato,"Helvetica Neue",Helvetica,"Segoe UI",Arial,sans-serif,"Noto Color Emoji","Apple Color Emoji";font-size:15px;line-height:1.46668}
.ws-grid{display:grid;grid-template-columns:220px 1fr;min-height:100vh}
.sidebar{background:#3f0e40;color:#cfc3cf;padding:.8rem 0}
.sidebar .team{margin:0;color:#fff;font-weight:900;font-size:1.1rem;padding:0 1rem .6rem;border-bottom:1px solid #5d2c5d}
.sidebar .team small{display:block;font-weight:400;font-size:.75rem;color:#bcabbc}
.sidebar h2{font-size:.8rem;font-weight:400;color:#bcabbc;margin:.9rem 1rem .3rem}
.sidebar a{display:block;color:#cfc3cf;text-decoration:none;padding:.15rem 1rem}
.sidebar a:hover{background:#350d36}.sidebar a.active{background:#1164a3;color:#fff}
.sidebar a.unread{color:#fff;font-weight:700}
.sidebar .links{font-size:.75rem;padding:1rem;color:#bcabbc}.sidebar .links a{display:inline;padding:0;color:#bcabbc;text-decoration:underline}
.main{min-width:0}
section.channel{border:0;border-radius:0;margin:0;padding:0 0 1rem;background:#fff;border-bottom:1px solid #ddd}
.ch-head{position:sticky;top:0;background:#fff;z-index:1;border-bottom:1px solid #e2e2e2;padding:.7rem 1.2rem;display:flex;align-items:center;gap:.5rem}
.ch-head h2{font-size:1.1rem;font-weight:900;margin:0}
.ch-head .muted{font-size:.8rem}
.day{display:flex;align-items:center;margin:1rem 1.2rem .2rem;color:#1d1c1d;font-size:.8rem;font-weight:700}
.day:before,.day:after{content:"";flex:1;border-top:1px solid #e2e2e2}.day span{border:1px solid #e2e2e2;border-radius:1rem;padding:.1rem .8rem;margin:0 .5rem}
.empty{padding:1rem 1.2rem}
.msg{display:flex;gap:.55rem;padding:.45rem 1.2rem;border:0;margin:0;background:none}
.msg:hover{background:#f8f8f8}
.avatar{flex:0 0 36px;height:36px;border-radius:6px;background:#4a154b;color:#fff;font-weight:900;display:flex;align-items:center;justify-content:center;font-size:.95rem}
.thread .avatar{flex-basis:28px;height:28px;font-size:.8rem}
.msg-main{min-width:0;flex:1}
.msg-head{display:flex;align-items:baseline;gap:.35rem}
.sender{font-weight:900}.app-badge{font-size:.6rem;font-weight:700;color:#616061;background:#e8e8e8;border-radius:2px;padding:0 .2rem}
.time{color:#616061;font-size:.75rem;text-decoration:none}.time:hover{text-decoration:underline}
.also{color:#616061;font-size:.8rem}
.replied-to{color:#616061;font-size:.8rem}
.msg-content{overflow-wrap:anywhere}
.blk{margin:.15rem 0;white-space:pre-wrap}
.blk-header{font-size:1.15rem;font-weight:900;margin:.2rem 0 .35rem}
.blk-context{font-size:.75rem;color:#616061}.blk-context .ctx-el{margin-right:.4rem}
.blk-actions{display:flex;gap:.5rem;flex-wrap:wrap;margin:.4rem 0}
.fields{display:grid;grid-template-columns:1fr 1fr;gap:.3rem 1rem;margin:.3rem 0}.field.wide{grid-column:1/-1}
.with-accessory{display:flex;justify-content:space-between;gap:1rem}
.rt-section{min-height:1em}
.rt-list{margin:.1rem 0 .1rem 1.6rem;padding:0}.rt-list li{margin:.05rem 0}
.indent-1{margin-left:3rem}.indent-2{margin-left:4.5rem}
.pre{font-family:Monaco,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:.78rem;background:#f8f8f8;border:1px solid #ddd;border-radius:4px;padding:.5rem;margin:.25rem 0;white-space:pre-wrap;overflow-wrap:anywhere}
.msg code{font-family:Monaco,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:.8rem;color:#c01343;background:#f8f8f8;border:1px solid #ddd;border-radius:3px;padding:0 .2rem}
.msg blockquote{margin:.2rem 0;padding-left:.7rem;border-left:4px solid #ddd}
.msg a{color:#1264a3;text-decoration:none}.msg a:hover{text-decoration:underline}
.mention{color:#1264a3;background:#e8f5fa;border-radius:3px;padding:0 2px;font-weight:400}
.channel-link{color:#1264a3}
.emoji{font-family:"Noto Color Emoji","Apple Color Emoji","Segoe UI Emoji",sans-serif;font-size:1.1em;line-height:1}
time.date{border-bottom:1px dotted #999}
.att{display:flex;margin:.35rem 0 .15rem}.att-bar{flex:0 0 4px;border-radius:4px 0 0 4px}
.att-body{padding:.1rem .75rem;min-width:0;flex:1}.att-pretext{margin-top:.3rem}
.att-title{font-weight:700}.att-author{font-size:.8rem;font-weight:700}
.btn{display:inline-block;font:inherit;font-size:.85rem;font-weight:700;color:#1d1c1d !important;background:#fff;border:1px solid #bbb;border-radius:4px;padding:.2rem .8rem;margin:0;text-decoration:none !important;cursor:pointer}
.btn.primary{background:#007a5a;border-color:#007a5a;color:#fff !important}.btn.danger{background:#e01e5a;border-color:#e01e5a;color:#fff !important}
.btn:hover{filter:brightness(.95)}
form.fake-actions{display:flex;gap:.5rem;flex-wrap:wrap;margin:0}form.fake-accessory{display:inline}
.act-as{background:#f8f8f8;border-bottom:1px solid #e2e2e2;padding:.35rem 1.2rem;font-size:.8rem;color:#616061}
.act-as a{color:#1264a3;text-decoration:none;margin-left:.5rem}.act-as a.active{color:#1d1c1d;font-weight:900}
.notice{margin:.6rem 1.2rem;padding:.4rem .7rem;background:#fff8e1;border:1px solid #f0d58c;border-radius:4px;font-size:.9rem}
.ephemeral{margin:.5rem 1.2rem;padding:.4rem .7rem;border-left:4px solid #1264a3;background:#f4f8fb;font-size:.9rem}
.ephemeral .eph-label{color:#616061;font-size:.75rem;font-weight:700}
.img-box{border:1px dashed #bbb;border-radius:4px;padding:.5rem;font-size:.8rem;color:#616061}
.unsupported{color:#999;font-size:.75rem}
hr.divider{border:0;border-top:1px solid #ddd;margin:.5rem 0}
.reply-count{font-size:.8rem;margin-top:.25rem;display:flex;gap:.4rem;align-items:center}
.reply-count b{color:#1264a3}.reply-count span{color:#616061}
.thread{margin:0 1.2rem .4rem 3.9rem;border:0;border-left:2px solid #e2e2e2;padding-left:0}
.thread .msg{padding:.3rem .7rem}
details.edited{display:inline;font-size:.75rem;color:#616061}details.edited summary{display:inline;cursor:pointer;list-style:none}
details.edited summary::-webkit-details-marker{display:none}
details.edited[open]{display:block}.versions{border-left:3px solid #e2e2e2;padding:.2rem .6rem;margin:.3rem 0;color:#1d1c1d;font-size:.9rem}
.version-head{color:#616061;font-size:.75rem;margin-top:.3rem}
figure.file{margin:.35rem 0}figure.file img{display:block;box-sizing:border-box;max-width:min(100%,560px);height:auto;border:1px solid #ddd;border-radius:6px;background:#fff}
figure.file figcaption{font-size:.75rem;color:#616061;margin-top:.2rem}
"#;

/// Which channel to show (`?channel=NAME` or an ID; all of them without), who is acting
/// (`?as=U…`, default the installer) and the outcome of the last click (`?notice=…`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    channel: Option<String>,
    #[serde(rename = "as")]
    acting: Option<String>,
    notice: Option<String>,
}

/// `GET /_fake/`.
pub(crate) async fn index(shared: web::Data<Shared>, query: web::Query<PageQuery>) -> HttpResponse {
    let body = {
        let world = shared.world();
        let mut users = world.config.users.clone();
        if let Some(installer) = world.user(&world.config.installer_user_id) {
            if !users.contains(&installer) {
                users.insert(0, installer);
            }
        }
        let acting = query
            .acting
            .as_deref()
            .filter(|a| users.iter().any(|u| u.id == *a))
            .unwrap_or(&world.config.installer_user_id);
        let workspace = Workspace {
            team_name: &world.config.team_name,
            team_id: &world.config.team_id,
            app_name: &world.config.app_name,
            users: &users,
            acting,
            notice: query.notice.as_deref(),
            responses: &world.responses,
            files: &world.files,
            views: world.open_views(acting),
        };
        render(&workspace, &world.channels, query.channel.as_deref())
    };
    let page = layout("Workspace", &body).replacen("<body>", "<body class=\"ws\">", 1);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page)
}

/// Who the page is for and who posts.
struct Workspace<'a> {
    team_name: &'a str,
    team_id: &'a str,
    app_name: &'a str,
    /// The people one can act as, and the one acting (user ID).
    users: &'a [FakeUser],
    acting: &'a str,
    /// The outcome of the last click, shown once at the top.
    notice: Option<&'a str>,
    /// Everything sent to `response_url`s; the acting user's ephemeral ones are shown.
    responses: &'a [ResponseRecord],
    /// The uploaded files, drawn in the messages that share them.
    files: &'a [FakeFile],
    /// The acting user's open modals, newest first: the newest is drawn as a dialog.
    views: Vec<&'a FakeView>,
}

/// `/_fake/?channel=…&as=…`: the page for a channel filter and an acting user.
pub(crate) fn page_href(channel: Option<&str>, acting: &str, notice: Option<&str>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(c) = channel.filter(|c| !c.is_empty()) {
        q.append_pair("channel", c);
    }
    q.append_pair("as", acting);
    if let Some(n) = notice {
        q.append_pair("notice", n);
    }
    format!("/_fake/?{}", q.finish())
}

/// Fields of the page's button forms (`POST /_fake/click`); the `ping` of a URL button
/// sends them in the query string.
#[derive(Debug, Default, Deserialize)]
struct ClickForm {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    ts: String,
    #[serde(default)]
    action_id: String,
    /// Who clicks.
    #[serde(rename = "as")]
    acting: Option<String>,
    /// The page's channel filter, to go back to.
    view: Option<String>,
}

/// `POST /_fake/click`: a click on the page. Sends it to the app like
/// `POST /_fake/api/interactions`, then redirects (303) back to the page with a notice;
/// a link's `ping` (`Content-Type: text/ping`) gets 204.
pub(crate) async fn click(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let form: ClickForm = if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(&body).unwrap_or_default()
    } else {
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default()
    };
    let is_ping = content_type.starts_with("text/ping") || req.headers().contains_key("ping-to");
    let request = ClickRequest {
        channel: form.channel.clone(),
        ts: form.ts.clone(),
        action_id: form.action_id.clone(),
        user: form.acting.clone(),
        ..ClickRequest::default()
    };
    let outcome = send_click(&shared, &base_url(&req), &request).await;
    if is_ping {
        return HttpResponse::NoContent().finish();
    }
    let notice = match outcome {
        Ok(c) => match (c.status, c.error) {
            (Some(status), _) => {
                let mut n = format!(
                    "Clicked {} as {}: app answered {status}",
                    c.text, c.user_name
                );
                let body = c.body.unwrap_or_default();
                if !(200..300).contains(&status) && !body.trim().is_empty() {
                    let short: String = body.trim().chars().take(120).collect();
                    n.push_str(&format!(" ({short})"));
                }
                n
            }
            (None, error) => format!(
                "Clicked {} as {}: the app did not answer ({})",
                c.text,
                c.user_name,
                error.unwrap_or_default()
            ),
        },
        Err(e) => format!("Click not sent: {}", e.message),
    };
    let acting = {
        let world = shared.world();
        world
            .user(form.acting.as_deref().unwrap_or_default())
            .map_or_else(|| world.config.installer_user_id.clone(), |u| u.id)
    };
    let anchor: String = form
        .ts
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let location = format!(
        "{}#m-{anchor}",
        page_href(form.view.as_deref(), &acting, Some(&notice))
    );
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn render(ws: &Workspace<'_>, channels: &[FakeChannel], only: Option<&str>) -> String {
    let only = only
        .map(|o| o.trim_start_matches('#'))
        .filter(|o| !o.is_empty());
    let shown = |c: &FakeChannel| only.is_none_or(|o| c.name == o || c.id == o);
    let mut out = format!(
        "<style>{SLACK_STYLE}{}</style><div class=\"ws-grid\"><nav class=\"sidebar\">",
        dialog::DIALOG_STYLE
    );
    let _ = write!(
        out,
        "<h1 class=\"team\">{}<small>{} · fake Slack</small></h1><h2>Channels</h2>",
        html(ws.team_name),
        html(ws.team_id)
    );
    for c in channels {
        let lock = if c.is_private { "🔒 " } else { "#" };
        let _ = write!(
            out,
            "<a href=\"{href}\" class=\"{class}\">{lock}{name}</a>",
            href = html(&page_href(Some(&c.name), ws.acting, None)),
            name = html(&c.name),
            class = match (only.is_some() && shown(c), c.messages.is_empty()) {
                (true, _) => "active",
                (false, false) => "unread",
                (false, true) => "",
            }
        );
    }
    let _ = write!(
        out,
        "<div class=\"links\"><a href=\"{}\">All channels</a> · JSON: \
         <a href=\"/_fake/api/messages\">messages</a>, <a href=\"/_fake/api/channels\">channels</a>, \
         <a href=\"/_fake/api/calls\">calls</a>, <a href=\"/_fake/api/interactions\">clicks</a>, \
         <a href=\"/_fake/api/responses\">responses</a></div></nav><main class=\"main\">",
        html(&page_href(None, ws.acting, None))
    );
    out.push_str("<div class=\"act-as\">Act as:");
    for u in ws.users {
        let active = u.id == ws.acting;
        let _ = write!(
            out,
            "<a href=\"{href}\" data-user=\"{id}\"{class} title=\"{id}\">{name}</a>",
            href = html(&page_href(only, &u.id, None)),
            id = html(&u.id),
            class = if active {
                " class=\"active\" aria-current=\"true\""
            } else {
                ""
            },
            name = html(&u.name),
        );
    }
    out.push_str("</div>");
    if let Some(n) = ws.notice {
        let _ = write!(
            out,
            "<div class=\"notice\" role=\"status\">{}</div>",
            html(n)
        );
    }
    for c in channels.iter().filter(|c| shown(c)) {
        out.push_str(&channel(ws, c, only));
    }
    out.push_str("</main></div>");
    if let Some(v) = ws.views.first() {
        out.push_str(&dialog::dialog(v, ws.acting, only));
    }
    out
}

fn channel(ws: &Workspace<'_>, c: &FakeChannel, view: Option<&str>) -> String {
    let mut out = format!(
        "<section class=\"channel\" id=\"{id}\"><div class=\"ch-head\"><h2>{lock}{name}</h2>\
         <span class=\"muted\">{id}</span>",
        id = html(&c.id),
        name = html(&c.name),
        lock = if c.is_private { "🔒 " } else { "#" },
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
    out.push_str("</div>");
    // The acting user's ephemeral answers in this channel, the latest ten.
    let mine: Vec<&ResponseRecord> = ws
        .responses
        .iter()
        .filter(|r| r.ephemeral && r.user == ws.acting && r.channel == c.id)
        .collect();
    for r in &mine[mine.len().saturating_sub(10)..] {
        let _ = write!(
            out,
            "<div class=\"ephemeral\" data-response-id=\"{}\" data-ts=\"{}\">\
             <div class=\"eph-label\">Only visible to you:</div>{}</div>",
            html(&r.id),
            html(&r.message_ts),
            render::message_body(&r.text, r.blocks.as_deref(), r.attachments.as_deref())
        );
    }
    let click = |m: &Message| Clickable {
        channel: c.id.clone(),
        ts: m.ts.clone(),
        acting: ws.acting.to_owned(),
        view: view.unwrap_or_default().to_owned(),
    };
    let by_ts: HashMap<&str, &Message> = c.messages.iter().map(|m| (m.ts.as_str(), m)).collect();
    // The channel's timeline: top-level messages and replies also sent to the channel.
    let timeline: Vec<&Message> = c
        .messages
        .iter()
        .filter(|m| m.thread_ts.is_none() || m.reply_broadcast)
        .collect();
    if timeline.is_empty() {
        out.push_str("<p class=\"muted empty\">No messages yet.</p>");
    }
    let mut day = String::new();
    for m in timeline {
        let this_day = m.received_at.format("%A, %B %-d").to_string();
        if this_day != day {
            let _ = write!(
                out,
                "<div class=\"day\"><span>{}</span></div>",
                html(&this_day)
            );
            day = this_day;
        }
        match m.thread_ts.as_deref() {
            None => {
                let replies: Vec<&Message> = c
                    .messages
                    .iter()
                    .filter(|r| r.thread_ts.as_deref() == Some(m.ts.as_str()))
                    .collect();
                out.push_str(&message(
                    ws,
                    m,
                    &click(m),
                    Place::Channel { replies: &replies },
                ));
                if !replies.is_empty() {
                    let _ = write!(out, "<div class=\"thread\" id=\"thread-{}\">", html(&m.ts));
                    for r in replies {
                        out.push_str(&message(ws, r, &click(r), Place::Thread));
                    }
                    out.push_str("</div>");
                }
            }
            Some(parent) => {
                out.push_str(&message(
                    ws,
                    m,
                    &click(m),
                    Place::Broadcast(by_ts.get(parent).copied()),
                ));
            }
        }
    }
    out.push_str("</section>");
    out
}

/// Where a message is drawn.
enum Place<'a> {
    /// In the channel, with its thread's replies.
    Channel { replies: &'a [&'a Message] },
    /// In a thread under its parent.
    Thread,
    /// A reply also sent to the channel, shown in the channel (with its parent, if known).
    Broadcast(Option<&'a Message>),
}

/// A short plain preview of a message (its notification text).
fn preview(m: &Message) -> String {
    let text = render::unescape(&m.text);
    let first = text.lines().next().unwrap_or_default();
    match first.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &first[..i]),
        None => first.to_owned(),
    }
}

fn message(ws: &Workspace<'_>, m: &Message, click: &Clickable, place: Place<'_>) -> String {
    let initial = ws
        .app_name
        .chars()
        .find(|c| c.is_alphanumeric())
        .map_or_else(|| "?".to_owned(), |c| c.to_uppercase().to_string());
    let mut out = format!(
        "<div class=\"msg\" id=\"m-{ts}{suffix}\" data-ts=\"{ts}\" title=\"Notification text: {fallback}\">\
         <div class=\"avatar\">{initial}</div><div class=\"msg-main\"><div class=\"msg-head\">\
         <span class=\"sender\">{app}</span><span class=\"app-badge\">APP</span>\
         <a class=\"time\" href=\"#m-{ts}\" title=\"{full} · ts {ts}\">{time}</a></div>",
        ts = html(&m.ts),
        suffix = if matches!(place, Place::Broadcast(_)) { "-in-channel" } else { "" },
        fallback = html(&preview(m)),
        initial = html(&initial),
        app = html(ws.app_name),
        full = html(&m.received_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        time = html(&m.received_at.format("%H:%M").to_string()),
    );
    match place {
        Place::Thread if m.reply_broadcast => {
            out.push_str("<div class=\"also\">also sent to the channel</div>");
        }
        Place::Broadcast(parent) => {
            let _ = write!(
                out,
                "<div class=\"replied-to\">replied to a thread: <a href=\"#thread-{}\">{}</a></div>",
                html(m.thread_ts.as_deref().unwrap_or_default()),
                html(&parent.map(preview).unwrap_or_default())
            );
        }
        _ => {}
    }
    let _ = write!(
        out,
        "<div class=\"msg-content\">{}</div>",
        render::clickable_body(
            &m.text,
            m.blocks.as_deref(),
            m.attachments.as_deref(),
            click
        )
    );
    for id in &m.files {
        out.push_str(&shared_file(ws.files.iter().find(|f| f.id == *id), id));
    }
    if !m.edits.is_empty() {
        out.push_str("<details class=\"edited\"><summary>(edited)</summary>");
        let _ = write!(
            out,
            "<div class=\"versions\"><div class=\"version-head\">Edited {}×; earlier versions, oldest first:</div>",
            m.edits.len()
        );
        for (i, e) in m.edits.iter().enumerate() {
            let _ = write!(
                out,
                "<div class=\"version-head\">Version {} · replaced {}</div>{}",
                i + 1,
                html(&e.replaced_at.format("%H:%M:%S").to_string()),
                render::message_body(&e.text, e.blocks.as_deref(), e.attachments.as_deref())
            );
        }
        out.push_str("</div></details>");
    }
    if let Place::Channel { replies } = place {
        if let Some(last) = replies.last() {
            let _ = write!(
                out,
                "<div class=\"reply-count\"><b>{} {}</b><span>Last reply {}</span></div>",
                replies.len(),
                if replies.len() == 1 {
                    "reply"
                } else {
                    "replies"
                },
                html(&last.received_at.format("%H:%M").to_string())
            );
        }
    }
    out.push_str("</div></div>");
    out
}

/// A file shared by a message: images drawn (alt text = the title, sized to fit), other
/// files as a link to their bytes.
fn shared_file(file: Option<&FakeFile>, id: &str) -> String {
    let Some(f) = file else {
        return format!(
            "<div class=\"unsupported\">file {} (not uploaded)</div>",
            html(id)
        );
    };
    let title = f.title.as_deref().unwrap_or(&f.filename);
    let src = format!("/_fake/files/{}", f.id);
    let size = format!("{} · {:.1} KB", f.filename, f.length as f64 / 1024.0);
    if f.content_type().starts_with("image/") {
        format!(
            "<figure class=\"file\" data-file-id=\"{id}\"><a href=\"{src}\"><img src=\"{src}\" alt=\"{title}\"></a><figcaption>{size}</figcaption></figure>",
            id = html(&f.id),
            src = html(&src),
            title = html(title),
            size = html(&size),
        )
    } else {
        format!(
            "<div class=\"file\" data-file-id=\"{id}\">📄 <a href=\"{src}\">{title}</a> \
             <span class=\"muted\">{size}</span></div>",
            id = html(&f.id),
            src = html(&src),
            title = html(title),
            size = html(&size),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    use crate::state::Edit;

    fn msg(ts: &str, text: &str, thread: Option<&str>) -> Message {
        Message {
            ts: ts.into(),
            text: text.into(),
            blocks: None,
            attachments: None,
            thread_ts: thread.map(str::to_owned),
            reply_broadcast: false,
            app_id: "A1".into(),
            bot_id: "B1".into(),
            user: "U1".into(),
            received_at: Utc::now(),
            edits: vec![],
            files: vec![],
        }
    }

    fn chan(name: &str, messages: Vec<Message>) -> FakeChannel {
        FakeChannel {
            id: "C1".into(),
            name: name.into(),
            is_private: false,
            is_archived: false,
            is_member: true,
            created: 0,
            previous_names: vec![],
            messages,
        }
    }

    const WS: Workspace<'static> = Workspace {
        team_name: "<T>",
        team_id: "T1",
        app_name: "xtc-slack",
        users: &[],
        acting: "U1",
        notice: None,
        responses: &[],
        files: &[],
        views: Vec::new(),
    };

    #[test]
    fn an_open_modal_is_a_labelled_dialog_with_its_errors_under_the_fields() {
        let view = FakeView {
            id: "V1".into(),
            user: "U1".into(),
            view: json!({"type": "modal", "title": {"type": "plain_text", "text": "Mute <x>"},
                "submit": {"type": "plain_text", "text": "Mute"},
                "close": {"type": "plain_text", "text": "Cancel"},
                "blocks": [
                    {"type": "context", "elements": [{"type": "plain_text", "text": "<b>name</b>"}]},
                    {"type": "input", "block_id": "d", "label": {"type": "plain_text", "text": "Mute for"},
                     "element": {"type": "static_select", "action_id": "d", "options": [
                        {"text": {"type": "plain_text", "text": "1 hour"}, "value": "1h"}]}},
                    {"type": "input", "block_id": "u", "optional": true,
                     "label": {"type": "plain_text", "text": "Until"},
                     "hint": {"type": "plain_text", "text": "ahead"},
                     "element": {"type": "datetimepicker", "action_id": "u"}}]}),
            open: true,
            errors: [("u".to_owned(), "This time has passed".to_owned())].into(),
            values: [("d".to_owned(), "1h".to_owned())].into(),
            submissions: vec![],
            opened_at: chrono::Utc::now(),
        };
        let ws = Workspace {
            views: vec![&view],
            ..WS
        };
        let page = render(&ws, &[], None);
        assert!(
            page.contains("aria-labelledby=\"modal-title-V1\""),
            "{page}"
        );
        assert!(page.contains(">Mute &lt;x&gt;</h2>") && page.contains("&lt;b&gt;name"));
        assert!(page.contains("<label for=\"f-V1-d\">Mute for</label>"));
        assert!(page.contains("<option value=\"1h\" selected>1 hour</option>"));
        assert!(page.contains("type=\"datetime-local\" id=\"f-V1-u\" name=\"v.u\""));
        assert!(
            page.contains("aria-describedby=\"f-V1-u-hint f-V1-u-error\" aria-invalid=\"true\"")
        );
        assert!(page.contains("role=\"alert\">This time has passed</p>"));
        assert!(page.contains("formaction=\"/_fake/views/V1/close\">Cancel</button>"));
    }

    #[test]
    fn page_escapes_and_nests_threads() {
        let mut parent = msg("1.000001", "<script>alert(1)</script> & <!channel>", None);
        parent.blocks = Some(vec![
            json!({"type":"section","text":{"type":"mrkdwn","text":"<b>bold</b> &lt;!channel&gt; <!here>"}}),
        ]);
        let mut broadcast = msg("1.000003", "also here", Some("1.000001"));
        broadcast.reply_broadcast = true;
        let channel = chan(
            "x\"y",
            vec![
                parent,
                msg("1.000002", "reply", Some("1.000001")),
                broadcast,
            ],
        );
        let page = render(&WS, &[channel], None);
        assert!(
            !page.contains("<script>") && !page.contains("<b>bold"),
            "{page}"
        );
        assert!(page.contains("&lt;b&gt;bold&lt;/b&gt;"));
        // An escaped `<!channel>` is text; a real `<!here>` a highlighted mention.
        assert!(page.contains("&lt;!channel&gt; <span class=\"mention\">@here</span>"));
        assert!(page.contains("x&quot;y") && page.contains("&lt;T&gt;"));
        let thread = page.find("class=\"thread\"").unwrap_or(usize::MAX);
        let reply = page.find(">reply<").unwrap_or(0);
        assert!(thread < reply, "reply must be inside the thread block");
        assert!(page.contains("<b>2 replies</b>"));
        // The broadcast reply: in the thread, marked, and in the channel after it.
        assert!(page.contains("also sent to the channel"));
        assert!(page.contains("replied to a thread: "));
        assert!(page.contains("id=\"m-1.000003-in-channel\""));
    }

    #[test]
    fn shared_images_are_drawn_in_their_thread_with_their_title_as_alt_text() {
        let mut chart = msg("1.000002", "", Some("1.000001"));
        chart.files = vec![
            "F0CHART0001".into(),
            "F0CSV000001".into(),
            "F0GONE00001".into(),
        ];
        let files = [
            FakeFile::uploaded(
                "F0CHART0001",
                "chart.png",
                "Throughput & P95 <run 7>",
                b"\x89PNG\r\n\x1a\nrest",
            ),
            FakeFile::uploaded("F0CSV000001", "data.csv", "Raw data", b"a,b\n1,2\n"),
        ];
        let ws = Workspace {
            files: &files,
            ..WS
        };
        let page = render(
            &ws,
            &[chan(
                "load-tests",
                vec![msg("1.000001", "card", None), chart],
            )],
            None,
        );
        let thread = page.find("id=\"thread-1.000001\"").unwrap();
        let img = page
            .find(
                "<img src=\"/_fake/files/F0CHART0001\" alt=\"Throughput &amp; P95 &lt;run 7&gt;\"",
            )
            .unwrap_or_else(|| panic!("{page}"));
        assert!(thread < img, "the image is drawn in the thread");
        assert!(page.contains("<figcaption>chart.png · 0.0 KB</figcaption>"));
        // Other files are links; a file that never arrived says so.
        assert!(page.contains("<a href=\"/_fake/files/F0CSV000001\">Raw data</a>"));
        assert!(!page.contains("alt=\"Raw data\""));
        assert!(page.contains("file F0GONE00001 (not uploaded)"));
    }

    #[test]
    fn messages_draw_headline_colour_bar_and_edits() {
        let mut card = msg("1.1", "fallback <not shown>", None);
        card.blocks = Some(vec![json!({"type": "rich_text", "elements": [
            {"type": "rich_text_section", "elements": [
                {"type": "emoji", "name": "rocket"},
                {"type": "text", "text": " Load test started: ", "style": {"bold": true}},
                {"type": "text", "text": "&lt;!channel&gt; *x* :smile:"}]}]})]);
        card.attachments = Some(vec![json!({"color": "#2eb67d", "blocks": [
            {"type": "context", "elements": [{"type": "mrkdwn",
             "text": "<!date^1772546520^{date_short} at {time}|2026-03-03 14:02 UTC> · lt-1"}]}]})]);
        card.edits = vec![Edit {
            text: "first version".into(),
            blocks: None,
            attachments: None,
            replaced_at: Utc::now(),
        }];
        let page = render(&WS, &[chan("load-tests", vec![card])], Some("#load-tests"));
        assert!(
            page.contains("🚀</span><b> Load test started: </b>&lt;!channel&gt; *x* :smile:"),
            "{page}"
        );
        assert!(!page.contains("<div class=\"blk blk-text\">fallback"));
        assert!(page.contains("style=\"background:#2eb67d\""));
        assert!(page.contains(">Mar 3, 2026 at 14:02</time> · lt-1"));
        assert!(page.contains("<details class=\"edited\"><summary>(edited)</summary>"));
        assert!(page.contains("first version"));
        // Another channel is hidden when one is chosen, but listed in the sidebar.
        let two = render(
            &WS,
            &[
                chan("load-tests", vec![]),
                FakeChannel {
                    id: "C2".into(),
                    ..chan("perf", vec![msg("2.2", "in perf", None)])
                },
            ],
            Some("load-tests"),
        );
        assert!(two.contains("?channel=perf") && !two.contains("in perf"));
    }
}

//! Block Kit, attachments and `mrkdwn` drawn as HTML, the way a Slack client shows them
//! (docs/slack-api.md): what `/_fake/` uses to show a message.
//!
//! Every character of the message ends up HTML-escaped (only the markup this module writes
//! itself is HTML); Slack's own escapes (`&lt;`, `&gt;`, `&amp;`) are shown as the characters
//! they stand for, and Slack's control sequences (`<url|label>`, `<!here>`, `<@U…>`,
//! `<!date^…>`) are drawn as links, mentions and dates. Link targets are kept only for
//! `http`, `https` and `mailto`.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;

use super::html;
use crate::blocks::{action_id_of, ButtonAt};

/// Where a message's buttons send their clicks: the fields of the page's click forms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Clickable {
    /// Channel ID and `ts` of the message.
    pub channel: String,
    pub ts: String,
    /// Who clicks (user ID).
    pub acting: String,
    /// The page's channel filter, to come back to.
    pub view: String,
}

impl Clickable {
    /// The opening tag and hidden fields of a click form (`class` = `fake-actions` or
    /// `fake-accessory`).
    fn form_open(&self, class: &str) -> String {
        let field = |name: &str, value: &str| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                html(value)
            )
        };
        format!(
            "<form class=\"{class}\" method=\"post\" action=\"/_fake/click\">{}{}{}{}",
            field("channel", &self.channel),
            field("ts", &self.ts),
            field("as", &self.acting),
            field("view", &self.view)
        )
    }

    /// `/_fake/click?…` for a URL button's `ping`.
    fn ping(&self, action_id: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("channel", &self.channel)
            .append_pair("ts", &self.ts)
            .append_pair("action_id", action_id)
            .append_pair("as", &self.acting);
        format!("/_fake/click?{}", q.finish())
    }
}

/// The click context of a block: the message's form fields and the attachment it is in.
type Ctx<'a> = Option<(&'a Clickable, Option<usize>)>;

/// The emoji codes our templates and snapshots use (and a few common ones), as characters.
const EMOJI: &[(&str, &str)] = &[
    ("+1", "👍"),
    ("-1", "👎"),
    ("alarm_clock", "⏰"),
    ("arrow_right", "➡️"),
    ("bar_chart", "📊"),
    ("bell", "🔔"),
    ("black_circle", "⚫"),
    ("boom", "💥"),
    ("chart_with_downwards_trend", "📉"),
    ("chart_with_upwards_trend", "📈"),
    ("checkered_flag", "🏁"),
    ("clock3", "🕒"),
    ("construction", "🚧"),
    ("exclamation", "❗"),
    ("eyes", "👀"),
    ("fire", "🔥"),
    ("gear", "⚙️"),
    ("heavy_check_mark", "✔️"),
    ("heavy_multiplication_x", "✖️"),
    ("hourglass", "⌛"),
    ("hourglass_flowing_sand", "⏳"),
    ("information_source", "ℹ️"),
    ("large_blue_circle", "🔵"),
    ("large_green_circle", "🟢"),
    ("large_orange_circle", "🟠"),
    ("large_purple_circle", "🟣"),
    ("large_red_circle", "🔴"),
    ("large_yellow_circle", "🟡"),
    ("link", "🔗"),
    ("loud_sound", "🔊"),
    ("mag", "🔍"),
    ("memo", "📝"),
    ("mute", "🔇"),
    ("no_entry", "⛔"),
    ("no_entry_sign", "🚫"),
    ("octagonal_sign", "🛑"),
    ("page_facing_up", "📄"),
    ("question", "❓"),
    ("red_circle", "🔴"),
    ("repeat", "🔁"),
    ("rocket", "🚀"),
    ("rotating_light", "🚨"),
    ("runner", "🏃"),
    ("running", "🏃"),
    ("skull", "💀"),
    ("slightly_smiling_face", "🙂"),
    ("smile", "😄"),
    ("stopwatch", "⏱️"),
    ("tada", "🎉"),
    ("thumbsup", "👍"),
    ("warning", "⚠️"),
    ("wave", "👋"),
    ("white_check_mark", "✅"),
    ("white_circle", "⚪"),
    ("x", "❌"),
    ("zap", "⚡"),
];

/// The character of an emoji code (`rocket` → 🚀), if we know it.
pub(crate) fn emoji_char(name: &str) -> Option<&'static str> {
    EMOJI.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// Slack's three escapes undone (`&lt;` → `<`, `&gt;` → `>`, `&amp;` → `&`).
pub(crate) fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// An `href` for a link target, or `None` when it is not a web or mail link.
fn safe_href(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|p| lower.starts_with(p))
        .then(|| html(url.trim()))
}

fn link(url: &str, label_html: &str) -> String {
    match safe_href(url) {
        Some(href) => format!(
            "<a href=\"{href}\" target=\"_blank\" rel=\"noopener noreferrer\">{label_html}</a>"
        ),
        None => label_html.to_owned(),
    }
}

fn mention(label: &str) -> String {
    format!("<span class=\"mention\">{}</span>", html(label))
}

// ---------------------------------------------------------------- dates

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A `<!date^…>` / rich-text `date` format with its tokens filled in (UTC; Slack uses the
/// reader's time zone), relative to `now` for the `_pretty` forms and `{ago}`.
pub(crate) fn format_date(ts: i64, format: &str, now: DateTime<Utc>) -> Option<String> {
    let at = DateTime::<Utc>::from_timestamp(ts, 0)?;
    let pretty = |fallback: String| {
        let days = (at.date_naive() - now.date_naive()).num_days();
        match days {
            0 => "Today".to_owned(),
            -1 => "Yesterday".to_owned(),
            1 => "Tomorrow".to_owned(),
            _ => fallback,
        }
    };
    let date = format!("{} {}, {}", at.format("%B"), ordinal(at.day()), at.year());
    let date_short = format!("{} {}, {}", at.format("%b"), at.day(), at.year());
    let date_long = format!("{}, {date}", at.format("%A"));
    let ago = {
        let secs = (now - at).num_seconds();
        let (n, unit) = match secs.abs() {
            s if s < 60 => (s, "second"),
            s if s < 3600 => (s / 60, "minute"),
            s if s < 86_400 => (s / 3600, "hour"),
            s => (s / 86_400, "day"),
        };
        let plural = if n == 1 { "" } else { "s" };
        if secs >= 0 {
            format!("{n} {unit}{plural} ago")
        } else {
            format!("in {n} {unit}{plural}")
        }
    };
    let tokens: [(&str, String); 10] = [
        ("{date_num}", at.format("%Y-%m-%d").to_string()),
        ("{date_short_pretty}", pretty(date_short.clone())),
        ("{date_long_pretty}", pretty(date_long.clone())),
        ("{date_pretty}", pretty(date.clone())),
        ("{date_short}", date_short),
        ("{date_long}", date_long),
        ("{date}", date),
        ("{time_secs}", at.format("%H:%M:%S").to_string()),
        ("{time}", at.format("%H:%M").to_string()),
        ("{ago}", ago),
    ];
    let mut out = format.to_owned();
    for (token, value) in tokens {
        out = out.replace(token, &value);
    }
    Some(out)
}

fn date_html(ts: i64, format: &str, url: Option<&str>, fallback: &str) -> String {
    let now = Utc::now();
    let Some(text) = format_date(ts, format, now) else {
        return html(fallback);
    };
    let iso = DateTime::<Utc>::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let inner = format!(
        "<time class=\"date\" datetime=\"{iso}\" title=\"{} (UTC)\">{}</time>",
        html(&iso.replace('T', " ").replace('Z', "")),
        html(&text)
    );
    match url {
        Some(u) => link(u, &inner),
        None => inner,
    }
}

// ---------------------------------------------------------------- mrkdwn

/// One piece of inline mrkdwn: a character of text, or HTML already drawn.
#[derive(Debug, Clone)]
enum Tok {
    Ch(char),
    Html(String),
}

/// `<…>` (the raw control sequence, without the brackets) drawn as HTML, or `None` when it is
/// not one Slack knows (then it shows as typed).
fn control(inner: &str) -> Option<String> {
    let (target, label) = match inner.split_once('|') {
        Some((t, l)) => (t, Some(unescape(l))),
        None => (inner, None),
    };
    if let Some(special) = target.strip_prefix('!') {
        let mut parts = special.split('^');
        let kind = parts.next().unwrap_or_default();
        return match kind {
            "here" | "channel" | "everyone" => Some(mention(&format!("@{kind}"))),
            "subteam" => {
                let id = parts.next().unwrap_or_default();
                Some(mention(&label.unwrap_or_else(|| format!("@{id}"))))
            }
            "date" => {
                let ts = parts.next()?.parse::<i64>().ok()?;
                let format = parts.next().unwrap_or("{date_num} {time}");
                let url = parts.next().map(unescape);
                let fallback = label.unwrap_or_default();
                Some(date_html(ts, &unescape(format), url.as_deref(), &fallback))
            }
            _ => None,
        };
    }
    if let Some(user) = target.strip_prefix('@') {
        return Some(mention(&format!(
            "@{}",
            label.unwrap_or_else(|| user.to_owned())
        )));
    }
    if let Some(channel) = target.strip_prefix('#') {
        return Some(format!(
            "<span class=\"channel-link\">#{}</span>",
            html(&label.unwrap_or_else(|| channel.to_owned()))
        ));
    }
    let url = unescape(target);
    safe_href(&url)?;
    let label = label.unwrap_or_else(|| url.clone());
    Some(link(&url, &html(&label)))
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric()
}

/// Inline mrkdwn (no code blocks): controls, inline code, emoji codes, then `*bold*`,
/// `_italic_`, `~strike~`.
fn inline(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut toks: Vec<Tok> = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, toks: &mut Vec<Tok>| {
        if !text.is_empty() {
            toks.extend(unescape(text).chars().map(Tok::Ch));
            text.clear();
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '<' {
            if let Some(end) = chars[i + 1..].iter().position(|&c| c == '>') {
                let inner: String = chars[i + 1..i + 1 + end].iter().collect();
                if let Some(h) = control(&inner) {
                    flush(&mut text, &mut toks);
                    toks.push(Tok::Html(h));
                    i += end + 2;
                    continue;
                }
            }
        }
        if c == '`' {
            if let Some(end) = chars[i + 1..].iter().position(|&c| c == '`' || c == '\n') {
                if chars[i + 1 + end] == '`' && end > 0 {
                    let inner: String = chars[i + 1..i + 1 + end].iter().collect();
                    flush(&mut text, &mut toks);
                    toks.push(Tok::Html(format!(
                        "<code>{}</code>",
                        html(&unescape(&inner))
                    )));
                    i += end + 2;
                    continue;
                }
            }
        }
        text.push(c);
        i += 1;
    }
    flush(&mut text, &mut toks);
    let toks = emoji_codes(toks);
    styled(&toks)
}

/// `:name:` of a known emoji replaced by the character.
fn emoji_codes(toks: Vec<Tok>) -> Vec<Tok> {
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        if let Tok::Ch(':') = toks[i] {
            let mut name = String::new();
            let mut j = i + 1;
            while let Some(Tok::Ch(c)) = toks.get(j) {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-') {
                    name.push(*c);
                    j += 1;
                } else {
                    break;
                }
            }
            if matches!(toks.get(j), Some(Tok::Ch(':'))) {
                if let Some(e) = emoji_char(&name) {
                    out.push(Tok::Html(emoji_span(e, &name)));
                    i = j + 1;
                    continue;
                }
            }
        }
        out.push(toks[i].clone());
        i += 1;
    }
    out
}

fn emoji_span(ch: &str, name: &str) -> String {
    format!(
        "<span class=\"emoji\" title=\":{}:\">{ch}</span>",
        html(name)
    )
}

fn ch_at(toks: &[Tok], i: usize) -> Option<char> {
    match toks.get(i) {
        Some(Tok::Ch(c)) => Some(*c),
        _ => None,
    }
}

/// Bold, italic and strike by Slack's rules: an opening marker starts a word, a closing
/// marker ends one, both on the same line.
fn styled(toks: &[Tok]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Html(h) => out.push_str(h),
            Tok::Ch(c) => {
                let c = *c;
                let tag = match c {
                    '*' => Some("b"),
                    '_' => Some("i"),
                    '~' => Some("s"),
                    _ => None,
                };
                let opens = tag.is_some()
                    && (i == 0 || ch_at(toks, i - 1).is_none_or(|p| !is_word(p) && p != c))
                    && ch_at(toks, i + 1).is_none_or(|n| !n.is_whitespace() && n != c)
                    && toks.get(i + 1).is_some();
                if let (true, Some(tag)) = (opens, tag) {
                    let close = (i + 2..toks.len()).find(|&j| {
                        ch_at(toks, j) == Some(c)
                            && ch_at(toks, j - 1).is_none_or(|p| !p.is_whitespace())
                            && ch_at(toks, j + 1).is_none_or(|n| !is_word(n))
                    });
                    let newline = |j: usize| (i..j).any(|k| ch_at(toks, k) == Some('\n'));
                    if let Some(j) = close.filter(|&j| !newline(j)) {
                        let _ = write!(out, "<{tag}>{}</{tag}>", styled(&toks[i + 1..j]));
                        i = j + 1;
                        continue;
                    }
                }
                out.push_str(&html(&c.to_string()));
            }
        }
        i += 1;
    }
    out
}

/// `mrkdwn` text drawn as Slack draws it: code blocks, `>` quotes, inline formatting.
pub(crate) fn mrkdwn(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let Some(end) = after.find("```") else { break };
        out.push_str(&quoted_lines(&rest[..start]));
        let code = after[..end].trim_start_matches('\n');
        let _ = write!(out, "<pre class=\"pre\">{}</pre>", html(&unescape(code)));
        rest = &after[end + 3..];
    }
    out.push_str(&quoted_lines(rest));
    out
}

/// Lines starting with `>` (or `&gt;`) as a quote, the rest inline.
fn quoted_lines(s: &str) -> String {
    let mut out = String::new();
    let mut plain: Vec<&str> = Vec::new();
    let mut quote: Vec<&str> = Vec::new();
    let quote_of = |line: &str| -> Option<usize> {
        if line.starts_with("&gt;") {
            Some(4)
        } else if line.starts_with('>') {
            Some(1)
        } else {
            None
        }
    };
    let flush_plain = |out: &mut String, plain: &mut Vec<&str>| {
        if !plain.is_empty() {
            out.push_str(&inline(&plain.join("\n")));
            plain.clear();
        }
    };
    let flush_quote = |out: &mut String, quote: &mut Vec<&str>| {
        if !quote.is_empty() {
            let _ = write!(
                out,
                "<blockquote>{}</blockquote>",
                inline(&quote.join("\n"))
            );
            quote.clear();
        }
    };
    for line in s.split('\n') {
        match quote_of(line) {
            Some(n) => {
                flush_plain(&mut out, &mut plain);
                quote.push(line[n..].strip_prefix(' ').unwrap_or(&line[n..]));
            }
            None => {
                flush_quote(&mut out, &mut quote);
                plain.push(line);
            }
        }
    }
    flush_quote(&mut out, &mut quote);
    flush_plain(&mut out, &mut plain);
    out
}

/// A text object (`plain_text` or `mrkdwn`).
pub(crate) fn text_object(t: &Value) -> String {
    let s = t.get("text").and_then(Value::as_str).unwrap_or_default();
    match t.get("type").and_then(Value::as_str) {
        Some("mrkdwn") => mrkdwn(s),
        _ => {
            let emoji = t.get("emoji").and_then(Value::as_bool).unwrap_or(true);
            plain(s, emoji)
        }
    }
}

/// `plain_text`: exactly as typed, emoji codes drawn when `emoji` is on.
fn plain(s: &str, emoji: bool) -> String {
    let toks: Vec<Tok> = unescape(s).chars().map(Tok::Ch).collect();
    let toks = if emoji { emoji_codes(toks) } else { toks };
    toks.iter()
        .map(|t| match t {
            Tok::Ch(c) => html(&c.to_string()),
            Tok::Html(h) => h.clone(),
        })
        .collect()
}

// ---------------------------------------------------------------- rich text

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn with_style(inner: String, style: Option<&Value>) -> String {
    let on = |k: &str| {
        style
            .and_then(|s| s.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let mut out = inner;
    for (key, tag) in [
        ("code", "code"),
        ("strike", "s"),
        ("italic", "i"),
        ("bold", "b"),
    ] {
        if on(key) {
            out = format!("<{tag}>{out}</{tag}>");
        }
    }
    out
}

/// One inline element of a rich-text section.
fn rich_element(e: &Value) -> String {
    let style = e.get("style");
    match str_of(e, "type") {
        "text" => with_style(html(&unescape(str_of(e, "text"))), style),
        "link" => {
            let url = unescape(str_of(e, "url"));
            let label = e
                .get("text")
                .and_then(Value::as_str)
                .map_or_else(|| url.clone(), unescape);
            with_style(link(&url, &html(&label)), style)
        }
        "emoji" => {
            let name = str_of(e, "name");
            let from_unicode = || {
                let s: String = str_of(e, "unicode")
                    .split('-')
                    .filter_map(|h| u32::from_str_radix(h, 16).ok())
                    .filter_map(char::from_u32)
                    .collect();
                (!s.is_empty()).then_some(s)
            };
            match emoji_char(name).map(str::to_owned).or_else(from_unicode) {
                Some(c) => emoji_span(&c, name),
                None => html(&format!(":{name}:")),
            }
        }
        "user" => mention(&format!("@{}", str_of(e, "user_id"))),
        "usergroup" => mention(&format!("@{}", str_of(e, "usergroup_id"))),
        "broadcast" => mention(&format!("@{}", str_of(e, "range"))),
        "channel" => format!(
            "<span class=\"channel-link\">#{}</span>",
            html(str_of(e, "channel_id"))
        ),
        "date" => {
            let ts = e.get("timestamp").and_then(Value::as_i64).unwrap_or(0);
            let format = e
                .get("format")
                .and_then(Value::as_str)
                .unwrap_or("{date_num} {time}");
            let url = e.get("url").and_then(Value::as_str);
            date_html(ts, &unescape(format), url, &unescape(str_of(e, "fallback")))
        }
        "color" => {
            let value = str_of(e, "value");
            format!(
                "<span class=\"swatch\" style=\"background:{}\"></span>{}",
                html(&color(value).unwrap_or_default()),
                html(value)
            )
        }
        other => format!("<span class=\"unsupported\">[{}]</span>", html(other)),
    }
}

fn rich_inline(section: &Value) -> String {
    section
        .get("elements")
        .and_then(Value::as_array)
        .map(|els| els.iter().map(rich_element).collect())
        .unwrap_or_default()
}

/// A `rich_text` block's elements: sections, lists, preformatted, quotes.
fn rich_text(block: &Value) -> String {
    let mut out = String::new();
    for el in block
        .get("elements")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match str_of(el, "type") {
            "rich_text_section" => {
                let _ = write!(out, "<div class=\"rt-section\">{}</div>", rich_inline(el));
            }
            "rich_text_preformatted" => {
                let _ = write!(out, "<pre class=\"pre\">{}</pre>", rich_inline(el));
            }
            "rich_text_quote" => {
                let _ = write!(out, "<blockquote>{}</blockquote>", rich_inline(el));
            }
            "rich_text_list" => {
                let tag = if str_of(el, "style") == "ordered" {
                    "ol"
                } else {
                    "ul"
                };
                let indent = el.get("indent").and_then(Value::as_u64).unwrap_or(0).min(6);
                let _ = write!(out, "<{tag} class=\"rt-list indent-{indent}\">");
                for item in el
                    .get("elements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let _ = write!(out, "<li>{}</li>", rich_inline(item));
                }
                let _ = write!(out, "</{tag}>");
            }
            other => {
                let _ = write!(out, "<span class=\"unsupported\">[{}]</span>", html(other));
            }
        }
    }
    out
}

// ---------------------------------------------------------------- blocks

/// A block element (button, image, select…) as Slack draws it.
fn element(e: &Value) -> String {
    element_at(e, None)
}

/// A block element; with a click context, a button is a submit button of the block's
/// click form (`name="action_id"`), a URL button a link that pings `/_fake/click`.
fn element_at(e: &Value, click: Option<(&Clickable, ButtonAt)>) -> String {
    match str_of(e, "type") {
        "button" => {
            let label = e.get("text").map(text_object).unwrap_or_default();
            let class = match str_of(e, "style") {
                "primary" => "btn primary",
                "danger" => "btn danger",
                _ => "btn",
            };
            let href = e.get("url").and_then(Value::as_str).and_then(safe_href);
            match (href, click) {
                (Some(href), Some((c, at))) => {
                    let id = action_id_of(e, at);
                    format!(
                        "<a class=\"{class}\" href=\"{href}\" target=\"_blank\" \
                         rel=\"noopener noreferrer\" data-action-id=\"{}\" ping=\"{}\">{label}</a>",
                        html(&id),
                        html(&c.ping(&id))
                    )
                }
                (Some(href), None) => format!(
                    "<a class=\"{class}\" href=\"{href}\" target=\"_blank\" \
                     rel=\"noopener noreferrer\">{label}</a>"
                ),
                (None, Some((_, at))) => format!(
                    "<button class=\"{class}\" type=\"submit\" name=\"action_id\" value=\"{}\">{label}</button>",
                    html(&action_id_of(e, at))
                ),
                (None, None) => {
                    format!("<button class=\"{class}\" type=\"button\">{label}</button>")
                }
            }
        }
        "image" => format!(
            "<span class=\"img-thumb\" title=\"{}\">🖼</span>",
            html(str_of(e, "alt_text"))
        ),
        "overflow" => "<button class=\"btn\" type=\"button\">⋯</button>".to_owned(),
        "mrkdwn" | "plain_text" => text_object(e),
        t if t.ends_with("_select") || t.ends_with("picker") => {
            let placeholder = e
                .get("placeholder")
                .map(text_object)
                .unwrap_or_else(|| "Select".to_owned());
            format!("<span class=\"btn select\">{placeholder} ▾</span>")
        }
        other => format!("<span class=\"unsupported\">[{}]</span>", html(other)),
    }
}

#[cfg(test)]
fn block(b: &Value) -> String {
    block_at(b, None, 0)
}

/// Block `index` of its list; clickable buttons with a click context.
fn block_at(b: &Value, ctx: Ctx<'_>, index: usize) -> String {
    let kind = str_of(b, "type");
    let at = |element: Option<usize>| {
        ctx.map(|(c, attachment)| {
            (
                c,
                ButtonAt {
                    attachment,
                    block: index,
                    element,
                },
            )
        })
    };
    let inner = match kind {
        "header" => b.get("text").map(text_object).unwrap_or_default(),
        "section" => {
            let mut out = String::new();
            if let Some(t) = b.get("text") {
                let _ = write!(out, "<div class=\"section-text\">{}</div>", text_object(t));
            }
            if let Some(fields) = b.get("fields").and_then(Value::as_array) {
                out.push_str("<div class=\"fields\">");
                for f in fields {
                    let _ = write!(out, "<div class=\"field\">{}</div>", text_object(f));
                }
                out.push_str("</div>");
            }
            match b.get("accessory") {
                Some(acc) => {
                    let drawn = element_at(acc, at(None));
                    let drawn = match ctx {
                        Some((c, _)) if str_of(acc, "type") == "button" => {
                            format!("{}{drawn}</form>", c.form_open("fake-accessory"))
                        }
                        _ => drawn,
                    };
                    format!(
                        "<div class=\"with-accessory\"><div>{out}</div>\
                         <div class=\"accessory\">{drawn}</div></div>"
                    )
                }
                None => out,
            }
        }
        "context" => b
            .get("elements")
            .and_then(Value::as_array)
            .map(|els| {
                els.iter()
                    .map(|e| format!("<span class=\"ctx-el\">{}</span>", element(e)))
                    .collect()
            })
            .unwrap_or_default(),
        "actions" => {
            let drawn: String = b
                .get("elements")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(j, e)| element_at(e, at(Some(j))))
                .collect();
            match ctx {
                Some((c, _)) => format!("{}{drawn}</form>", c.form_open("fake-actions")),
                None => drawn,
            }
        }
        "divider" => String::new(),
        "rich_text" => rich_text(b),
        "image" => {
            let title = b.get("title").map(text_object).unwrap_or_default();
            let url = str_of(b, "image_url");
            format!(
                "<div class=\"img-title\">{title}</div><div class=\"img-box\">🖼 {}</div>",
                link(url, &html(str_of(b, "alt_text")))
            )
        }
        other => format!("<span class=\"unsupported\">[{} block]</span>", html(other)),
    };
    match kind {
        "divider" => "<hr class=\"divider\">".to_owned(),
        _ => format!(
            "<div class=\"blk blk-{}\">{inner}</div>",
            html(kind).replace(' ', "")
        ),
    }
}

/// Blocks, top to bottom.
#[cfg(test)]
fn blocks(bs: &[Value]) -> String {
    blocks_at(bs, None)
}

fn blocks_at(bs: &[Value], ctx: Ctx<'_>) -> String {
    bs.iter()
        .enumerate()
        .map(|(i, b)| block_at(b, ctx, i))
        .collect()
}

/// An attachment `color`: `#rgb` / `#rrggbb`, or Slack's `good` / `warning` / `danger`.
fn color(c: &str) -> Option<String> {
    let c = c.trim();
    match c {
        "good" => return Some("#2eb67d".into()),
        "warning" => return Some("#daa038".into()),
        "danger" => return Some("#a30200".into()),
        _ => {}
    }
    let hex = c.strip_prefix('#').unwrap_or(c);
    (matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("#{hex}"))
}

/// A (secondary) attachment: a left colour bar beside its blocks or legacy fields.
#[cfg(test)]
fn attachment(a: &Value) -> String {
    attachment_at(a, None)
}

fn attachment_at(a: &Value, ctx: Ctx<'_>) -> String {
    let bar = color(str_of(a, "color")).unwrap_or_else(|| "#dddddd".to_owned());
    let mut body = String::new();
    let mrk = |key: &str| a.get(key).and_then(Value::as_str).map(mrkdwn);
    if let Some(author) = a.get("author_name").and_then(Value::as_str) {
        let _ = write!(
            body,
            "<div class=\"att-author\">{}</div>",
            html(&unescape(author))
        );
    }
    if let Some(title) = a.get("title").and_then(Value::as_str) {
        let label = html(&unescape(title));
        let t = match a.get("title_link").and_then(Value::as_str) {
            Some(url) => link(&unescape(url), &label),
            None => label,
        };
        let _ = write!(body, "<div class=\"att-title\">{t}</div>");
    }
    if let Some(text) = mrk("text") {
        let _ = write!(body, "<div class=\"att-text\">{text}</div>");
    }
    if let Some(fields) = a.get("fields").and_then(Value::as_array) {
        body.push_str("<div class=\"fields\">");
        for f in fields {
            let short = f.get("short").and_then(Value::as_bool).unwrap_or(false);
            let _ = write!(
                body,
                "<div class=\"field{}\"><b>{}</b><br>{}</div>",
                if short { "" } else { " wide" },
                html(&unescape(str_of(f, "title"))),
                mrkdwn(str_of(f, "value"))
            );
        }
        body.push_str("</div>");
    }
    if let Some(bs) = a.get("blocks").and_then(Value::as_array) {
        body.push_str(&blocks_at(bs, ctx));
    }
    if let Some(footer) = a.get("footer").and_then(Value::as_str) {
        let _ = write!(
            body,
            "<div class=\"blk blk-context\">{}</div>",
            mrkdwn(footer)
        );
    }
    let pretext = mrk("pretext")
        .map(|p| format!("<div class=\"att-pretext\">{p}</div>"))
        .unwrap_or_default();
    format!(
        "{pretext}<div class=\"att\"><div class=\"att-bar\" style=\"background:{}\"></div>\
         <div class=\"att-body\">{body}</div></div>",
        html(&bar)
    )
}

/// What a message shows: its blocks (its `text` when it has none), then its attachments.
pub(crate) fn message_body(text: &str, bs: Option<&[Value]>, atts: Option<&[Value]>) -> String {
    body(text, bs, atts, None)
}

/// [`message_body`] with buttons that click (forms posting to `/_fake/click`).
pub(crate) fn clickable_body(
    text: &str,
    bs: Option<&[Value]>,
    atts: Option<&[Value]>,
    click: &Clickable,
) -> String {
    body(text, bs, atts, Some(click))
}

fn body(
    text: &str,
    bs: Option<&[Value]>,
    atts: Option<&[Value]>,
    click: Option<&Clickable>,
) -> String {
    let mut out = match bs.filter(|b| !b.is_empty()) {
        Some(bs) => blocks_at(bs, click.map(|c| (c, None))),
        None if text.is_empty() => String::new(),
        None => format!("<div class=\"blk blk-text\">{}</div>", mrkdwn(text)),
    };
    for (i, a) in atts.into_iter().flatten().enumerate() {
        out.push_str(&attachment_at(a, click.map(|c| (c, Some(i)))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn mrkdwn_formats_like_slack() {
        assert_eq!(
            mrkdwn("*bold* _it_ ~gone~"),
            "<b>bold</b> <i>it</i> <s>gone</s>"
        );
        assert_eq!(mrkdwn("a `x *y*` b"), "a <code>x *y*</code> b");
        // Markers inside words, or around spaces, stay characters.
        assert_eq!(mrkdwn("snake_case_name 2*3*4"), "snake_case_name 2*3*4");
        assert_eq!(mrkdwn("* not bold *"), "* not bold *");
        assert_eq!(mrkdwn("```a\n*b*```"), "<pre class=\"pre\">a\n*b*</pre>");
        assert_eq!(
            mrkdwn("&gt; quoted\nnext"),
            "<blockquote>quoted</blockquote>next"
        );
    }

    #[test]
    fn escapes_show_as_the_characters_and_controls_as_links_mentions_dates() {
        assert_eq!(
            mrkdwn("&lt;!channel&gt; &amp; &lt;b&gt;"),
            "&lt;!channel&gt; &amp; &lt;b&gt;"
        );
        assert_eq!(
            mrkdwn("<!here> <@U123> <@U9|joe> <!subteam^S1|@ops>"),
            "<span class=\"mention\">@here</span> <span class=\"mention\">@U123</span> \
             <span class=\"mention\">@joe</span> <span class=\"mention\">@ops</span>"
        );
        let a = mrkdwn("<https://x.example/a?b=1&amp;c=2|Open *it*>");
        assert!(
            a.starts_with("<a href=\"https://x.example/a?b=1&amp;c=2\"")
                && a.ends_with(">Open *it*</a>"),
            "{a}"
        );
        // Only web and mail links are links.
        assert_eq!(
            mrkdwn("<javascript:alert(1)|x>"),
            "&lt;javascript:alert(1)|x&gt;"
        );
        let d = mrkdwn("<!date^1772546520^{date_short} at {time}|2026-03-03 14:02 UTC>");
        assert!(d.contains(">Mar 3, 2026 at 14:02</time>"), "{d}");
        assert!(mrkdwn(":rocket: :nope:").contains("🚀</span> :nope:"));
    }

    #[test]
    fn hostile_text_stays_text() {
        let hostile = "<script>alert(1)</script> <img src=x onerror=alert(1)> \"'";
        for out in [
            mrkdwn(hostile),
            plain(hostile, true),
            rich_element(&json!({"type": "text", "text": hostile})),
            rich_element(&json!({"type": "link", "url": "javascript:alert(1)", "text": hostile})),
            attachment(&json!({"color": "red;background:url(x)", "title": hostile})),
        ] {
            assert!(!out.contains("<script") && !out.contains("<img"), "{out}");
            assert!(
                !out.contains("javascript:") || !out.contains("href"),
                "{out}"
            );
            assert!(!out.contains("url(x)"), "{out}");
        }
        assert!(mrkdwn(hostile).contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        // A rich-text text element is literal: no mrkdwn, no emoji, no mentions.
        let t = rich_element(&json!({"type": "text",
            "text": "&lt;!channel&gt; *x* _y_ ~z~ `c` :smile: &amp; &lt;https://evil|x&gt;"}));
        assert_eq!(
            t,
            "&lt;!channel&gt; *x* _y_ ~z~ `c` :smile: &amp; &lt;https://evil|x&gt;"
        );
        // plain_text with emoji off keeps a typed :smile:.
        assert_eq!(plain(":smile:", false), ":smile:");
        assert!(plain(":smile:", true).contains("😄"));
    }

    #[test]
    fn rich_text_styles_elements_and_blocks() {
        let b = json!({"type": "rich_text", "elements": [
            {"type": "rich_text_section", "elements": [
                {"type": "emoji", "name": "x"},
                {"type": "text", "text": " Failed: ", "style": {"bold": true}},
                {"type": "text", "text": "it", "style": {"italic": true, "strike": true}},
                {"type": "text", "text": "c", "style": {"code": true}},
                {"type": "link", "url": "https://xtc.example/lt/1?a=1&b=2", "text": "Open in XTC"},
                {"type": "user", "user_id": "U1"},
                {"type": "usergroup", "usergroup_id": "S1"},
                {"type": "broadcast", "range": "here"},
                {"type": "date", "timestamp": 1772546520, "format": "{time}", "fallback": "14:02"},
            ]},
            {"type": "rich_text_list", "style": "bullet", "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]}]},
            {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "at x\n  at y"}]},
            {"type": "rich_text_quote", "elements": [{"type": "text", "text": "q"}]},
        ]});
        let out = block(&b);
        for want in [
            "❌</span>",
            "<b> Failed: </b>",
            "<i><s>it</s></i>",
            "<code>c</code>",
            "<a href=\"https://xtc.example/lt/1?a=1&amp;b=2\" target=\"_blank\" rel=\"noopener noreferrer\">Open in XTC</a>",
            "@U1</span>",
            "@S1</span>",
            "@here</span>",
            ">14:02</time>",
            "<ul class=\"rt-list indent-0\"><li>one</li></ul>",
            "<pre class=\"pre\">at x\n  at y</pre>",
            "<blockquote>q</blockquote>",
        ] {
            assert!(out.contains(want), "{want} not in {out}");
        }
    }

    #[test]
    fn sections_fields_context_actions_attachments() {
        let bs = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": "Run :rocket: &lt;1&gt;", "emoji": false}}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": "*Project:* x"},
                   "fields": [{"type": "mrkdwn", "text": "*A*"}, {"type": "plain_text", "text": "b"}]}),
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "small"}]}),
            json!({"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": "https://x.example", "style": "primary"},
                {"type": "button", "text": {"type": "plain_text", "text": "Ack"}, "action_id": "ack"}]}),
            json!({"type": "divider"}),
        ];
        let out = blocks(&bs);
        assert!(
            out.contains("<div class=\"blk blk-header\">Run :rocket: &lt;1&gt;</div>"),
            "{out}"
        );
        assert!(out.contains("<div class=\"fields\"><div class=\"field\"><b>A</b></div><div class=\"field\">b</div></div>"), "{out}");
        assert!(out
            .contains("<div class=\"blk blk-context\"><span class=\"ctx-el\">small</span></div>"));
        assert!(out.contains("<a class=\"btn primary\" href=\"https://x.example\""));
        assert!(out.contains("<button class=\"btn\" type=\"button\">Ack</button>"));
        assert!(out.contains("<hr class=\"divider\">"));
        let a = attachment(&json!({"color": "#e01e5a", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "in the bar"}}]}));
        assert!(
            a.contains("<div class=\"att-bar\" style=\"background:#e01e5a\"></div>"),
            "{a}"
        );
        assert!(a.contains("in the bar"));
        // With blocks the text is the notification fallback; without, it is the message.
        assert!(!message_body("fallback", Some(&bs), None).contains("fallback"));
        assert!(message_body("*hi*", None, None).contains("<b>hi</b>"));
    }

    #[test]
    fn clickable_buttons_are_forms_and_escaped() {
        let click = Clickable {
            channel: "C1".into(),
            ts: "1.000001".into(),
            acting: "U2".into(),
            view: "\"><b>".into(),
        };
        let bs = vec![json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "<Ack> & :rocket:"},
             "action_id": "a\"><script>", "style": "danger"},
            {"type": "button", "text": {"type": "plain_text", "text": "Bad link"},
             "action_id": "js", "url": "javascript:alert(1)"}]})];
        let out = clickable_body("", Some(&bs), None, &click);
        assert!(out.starts_with(
            "<div class=\"blk blk-actions\"><form class=\"fake-actions\" method=\"post\" action=\"/_fake/click\">"
        ), "{out}");
        assert!(out.contains("<input type=\"hidden\" name=\"view\" value=\"&quot;&gt;&lt;b&gt;\">"));
        assert!(out.contains(
            "<button class=\"btn danger\" type=\"submit\" name=\"action_id\" value=\"a&quot;&gt;&lt;script&gt;\">&lt;Ack&gt; &amp; <span class=\"emoji\""
        ), "{out}");
        // A link that is not a web link is no link: the click still works.
        assert!(out.contains("name=\"action_id\" value=\"js\">Bad link</button>"));
        assert!(!out.contains("javascript:") && !out.contains("<script"));
        // Earlier versions (no click context) draw inert buttons.
        assert!(message_body("", Some(&bs), None).contains("type=\"button\""));
    }

    #[test]
    fn date_formats() {
        let ts = Utc
            .with_ymd_and_hms(2026, 3, 3, 14, 2, 5)
            .unwrap()
            .timestamp();
        let now = Utc.with_ymd_and_hms(2026, 3, 3, 15, 0, 0).unwrap();
        let f = |fmt: &str| format_date(ts, fmt, now).unwrap();
        assert_eq!(f("{date_num} {time_secs}"), "2026-03-03 14:02:05");
        assert_eq!(f("{date}"), "March 3rd, 2026");
        assert_eq!(f("{date_long}"), "Tuesday, March 3rd, 2026");
        assert_eq!(f("{date_short_pretty} at {time}"), "Today at 14:02");
        assert_eq!(f("{ago}"), "57 minutes ago");
    }
}

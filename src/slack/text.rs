//! Text helpers for Slack messages: escaping user text, safe links, size limits.
//!
//! Slack treats only `&`, `<` and `>` as control characters in `text` and `mrkdwn`; an
//! unescaped `<!channel>` in a load-test name would ping a whole workspace, and
//! `<https://evil|click>` would disguise a link. Every piece of user text goes through
//! [`escape`] (or [`link`] for URLs) before it is put into a message. This module is the
//! only place in the product that escapes for Slack. Text is cut at a whole grapheme, so an
//! emoji sequence or an accented letter is never split (Slack's size limits are in
//! `slack::limits`).

use unicode_segmentation::UnicodeSegmentation;

/// The marker appended by [`truncate`] when it cuts text.
pub const ELLIPSIS: char = '…';

/// Escapes user text for Slack's `text`/`mrkdwn`: `&` → `&amp;`, `<` → `&lt;`,
/// `>` → `&gt;`, and nothing else (Slack shows other entities literally).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        c => out.push(c),
    }
}

/// The inverse of [`escape`] (Slack does this when it displays text).
pub fn unescape(s: &str) -> String {
    // `&amp;` last, so that `&amp;lt;` becomes `&lt;` and not `<`.
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A Slack link `<url|label>` that cannot be abused.
///
/// Only absolute `http`/`https` URLs are linked; the URL is normalised and every character
/// that could end the link markup (`|`, `<`, `>`, spaces) is percent-encoded, and the label
/// is [`escape`]d. For anything else (relative, `javascript:`, garbage) the result is just
/// the escaped label, or the escaped URL text when the label is empty, so nothing clickable
/// is produced from an untrusted value.
pub fn link(url: &str, label: &str) -> String {
    let Some(url) = safe_url(url) else {
        return if label.is_empty() {
            escape(url)
        } else {
            escape(label)
        };
    };
    if label.is_empty() {
        format!("<{url}>")
    } else {
        format!("<{url}|{}>", escape(label))
    }
}

/// The URL in a form safe inside `<…|…>` (or a rich-text `link` element), or `None` if it
/// must not be linked (not an absolute `http`/`https` URL).
pub fn safe_url(raw: &str) -> Option<String> {
    let parsed = url::Url::parse(raw.trim()).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return None;
    }
    // `Url` already percent-encodes spaces and angle brackets in most components but keeps
    // `|`, which Slack would read as the label separator; encode the rest defensively.
    let mut out = String::with_capacity(parsed.as_str().len());
    for c in parsed.as_str().chars() {
        match c {
            '|' => out.push_str("%7C"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            ' ' => out.push_str("%20"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// Cuts `s` to at most `max_chars` characters (Unicode scalar values, which is how Slack
/// counts), replacing the cut-off tail with `…`. The cut falls between graphemes, never
/// inside one (an emoji ZWJ sequence, a letter with its accents) nor inside an entity such
/// as `&amp;` of escaped text. Text that fits is returned unchanged.
pub fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_owned();
    }
    if max_chars == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for unit in units(s) {
        let n = unit.chars().count();
        if used + n > max_chars - 1 {
            break;
        }
        out.push_str(unit);
        used += n;
    }
    out.push(ELLIPSIS);
    out
}

/// `s` split where it may be cut: between graphemes, an entity (`&amp;`, `&lt;`, `&gt;`)
/// with the graphemes it spans counting as one unit.
fn units(s: &str) -> impl Iterator<Item = &str> {
    let mut graphemes = s.grapheme_indices(true);
    std::iter::from_fn(move || {
        let (start, g) = graphemes.next()?;
        let mut end = start + g.len();
        if g == "&" {
            if let Some(e) = ["&amp;", "&lt;", "&gt;"]
                .iter()
                .find(|e| s[start..].starts_with(*e))
            {
                while end < start + e.len() {
                    let Some((i, g)) = graphemes.next() else {
                        break;
                    };
                    end = i + g.len();
                }
            }
        }
        Some(&s[start..end])
    })
}

/// [`escape`]s `s` and cuts the result to `max_chars` at a whole grapheme, without splitting
/// an entity such as `&amp;` (which [`truncate`] on escaped text could do). Use it to fit
/// user text into a limited field.
pub fn escape_truncated(s: &str, max_chars: usize) -> String {
    let total: usize = s.chars().map(escaped_len).sum();
    if total <= max_chars {
        return escape(s);
    }
    if max_chars == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for g in s.graphemes(true) {
        let n: usize = g.chars().map(escaped_len).sum();
        if used + n > max_chars - 1 {
            break;
        }
        g.chars().for_each(|c| push_escaped(&mut out, c));
        used += n;
    }
    out.push(ELLIPSIS);
    out
}

fn escaped_len(c: char) -> usize {
    match c {
        '&' => 5,
        '<' | '>' => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_only_the_three_control_characters() {
        assert_eq!(
            escape("<!channel> & \"quotes\" 'x' *b* _i_"),
            "&lt;!channel&gt; &amp; \"quotes\" 'x' *b* _i_"
        );
        assert_eq!(escape("&lt;"), "&amp;lt;");
        assert_eq!(unescape("&amp;lt;"), "&lt;");
    }

    #[test]
    fn links_http_urls_and_neutralises_the_rest() {
        assert_eq!(
            link("https://xtc.example/lt/1", "Run <1>"),
            "<https://xtc.example/lt/1|Run &lt;1&gt;>"
        );
        assert_eq!(
            link("https://x.example/a|b c?q=<x>", "l"),
            "<https://x.example/a%7Cb%20c?q=%3Cx%3E|l>"
        );
        assert_eq!(link("javascript:alert(1)", "click"), "click");
        assert_eq!(link("not a url", "<!here>"), "&lt;!here&gt;");
        assert_eq!(link("/relative", ""), "/relative");
        assert_eq!(link("https://x.example/", ""), "<https://x.example/>");
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("äöüß", 2), "ä…");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(escape_truncated("a&b", 5), "a…");
        assert_eq!(escape_truncated("a&b", 7), "a&amp;b");
        assert_eq!(escape_truncated("a&bc", 7), "a&amp;…");
    }

    #[test]
    fn truncates_between_graphemes_and_never_inside_an_entity() {
        // A family emoji is 7 scalar values joined by ZWJ: it stays whole or goes.
        let family = "👩‍👩‍👧‍👦";
        assert_eq!(family.chars().count(), 7);
        let s = format!("ab{family}cd");
        assert_eq!(truncate(&s, 8), "ab…");
        assert_eq!(truncate(&s, 10), format!("ab{family}…"));
        assert_eq!(escape_truncated(&s, 8), "ab…");
        assert_eq!(escape_truncated(&s, 10), format!("ab{family}…"));
        // "e" and a combining acute accent are one grapheme.
        assert_eq!(truncate("ae\u{301}x", 3), "a…");
        assert_eq!(truncate("a&amp;bcdef", 5), "a…");
        assert_eq!(truncate("a&amp;bcdef", 7), "a&amp;…");
    }

    proptest! {
        #[test]
        fn escaped_text_has_no_angle_brackets(s in any::<String>()) {
            let e = escape(&s);
            prop_assert!(!e.contains('<') && !e.contains('>'));
        }

        #[test]
        fn escape_round_trips(s in any::<String>()) {
            prop_assert_eq!(unescape(&escape(&s)), s);
        }

        #[test]
        fn link_has_only_its_own_brackets(
            url in prop_oneof![
                any::<String>(),
                "https?://[a-z]{1,8}\\.example(/[ -~]{0,20})?",
            ],
            label in any::<String>(),
        ) {
            let l = link(&url, &label);
            let opens = l.matches('<').count();
            let closes = l.matches('>').count();
            if opens == 0 {
                // Not linked: plain escaped text.
                prop_assert_eq!(closes, 0);
            } else {
                prop_assert_eq!((opens, closes), (1, 1));
                prop_assert!(l.starts_with('<') && l.ends_with('>'));
                let inner = &l[1..l.len() - 1];
                // The URL part has no separator of its own.
                let url_part = inner.split('|').next().unwrap_or_default();
                prop_assert!(!url_part.contains(' '));
            }
            prop_assert!(l.contains(&escape(&label)));
        }

        #[test]
        fn truncate_respects_the_limit(s in any::<String>(), max in 0usize..50) {
            let t = truncate(&s, max);
            prop_assert!(t.chars().count() <= max);
            if s.chars().count() <= max { prop_assert_eq!(&t, &s); }
            // What is kept is whole graphemes of the original.
            if t != s && !t.is_empty() {
                let kept = t.trim_end_matches(ELLIPSIS);
                prop_assert!(s.starts_with(kept));
                prop_assert!(s.grapheme_indices(true).any(|(i, _)| i == kept.len()) || kept.is_empty());
            }
            let e = escape_truncated(&s, max);
            prop_assert!(e.chars().count() <= max);
            prop_assert!(!e.contains('<') && !e.contains('>'));
        }
    }
}

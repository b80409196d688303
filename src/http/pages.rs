//! Minimal server-rendered pages outside the JSON API (OAuth outcomes). Everything
//! interpolated is HTML-escaped. Kept in one place so the web UI can restyle them.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::services::slack_config::CallbackFailure;

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `body` (already safe HTML) in the web UI's look; `title` is
/// escaped here.
pub fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · XTC</title><style>{style}</style></head><body>\
         <header class=\"topbar\"><div class=\"inner\"><a class=\"brand\" href=\"/\">\
         <span class=\"logo\">XTC</span>Slack notifications<small>admin</small></a></div></header>\
         <main><div class=\"card narrow\">{body}</div></main></body></html>",
        title = escape_html(title),
        style = super::ui::render::STYLE,
    )
}

/// An HTML response with `status`.
pub fn page(status: u16, title: &str, body: &str) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(layout(title, body))
}

/// The page of a failed or cancelled OAuth installation.
pub fn oauth_failure(f: &CallbackFailure) -> HttpResponse {
    let back = f
        .settings_page
        .as_deref()
        .map(|p| {
            format!(
                "<div class=\"actions\"><a class=\"btn primary\" id=\"back\" href=\"{}\">Back to the Slack settings</a></div>",
                escape_html(p)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>{}</h1><p id=\"message\">{}</p><p class=\"hint\" id=\"hint\">{}</p>{back}",
        escape_html(&f.title),
        escape_html(&f.message),
        escape_html(&f.hint),
    );
    page(f.status, &f.title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/script&gt;"
        );
        assert!(layout("<b>", "").contains("&lt;b&gt;"));
    }
}

//! The page registry (templates compiled in, strict mode, HTML escaping on) and the UI's
//! error type, which always answers with a page, never with internal details.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use handlebars::Handlebars;
use serde::Serialize;
use serde_json::json;

use super::cookies::{CookieConfig, Installed};
use crate::domain::access::Principal;
use crate::services::slack_config::ConfigError;
use crate::settings::Settings;

/// The shared style sheet, inlined by the layout.
const STYLE: &str = include_str!("templates/style.css");

const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("templates/layout.hbs")),
    ("signin", include_str!("templates/signin.hbs")),
    ("settings", include_str!("templates/settings.hbs")),
    ("confirm", include_str!("templates/confirm.hbs")),
    ("error", include_str!("templates/error.hbs")),
    ("reload", include_str!("templates/reload.hbs")),
    ("installed", include_str!("templates/installed.hbs")),
    ("oauth_failure", include_str!("templates/oauth_failure.hbs")),
];

/// The answer when a page cannot be rendered (a bug the tests should have caught):
/// fixed text, so that it needs no template and no escaping.
const FALLBACK_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>Something went wrong · XTC</title></head><body><main>\
    <h1>Something went wrong</h1><p>The page could not be shown.</p></main></body></html>";

/// A page template could not be compiled (a bug caught by the tests).
#[derive(Debug, thiserror::Error)]
#[error("web UI template {name}: {reason}")]
pub struct UiTemplateError {
    name: &'static str,
    reason: String,
}

/// What the UI's handlers share: the page registry and the session cookie settings.
#[derive(Clone)]
pub struct Ui {
    pages: Arc<Handlebars<'static>>,
    pub cookies: CookieConfig,
}

/// The signed-in admin as the page header shows them.
#[derive(Serialize)]
struct HeaderUser {
    name: String,
    scope: String,
    home: String,
}

impl Ui {
    /// Compiles the page templates and derives the cookie key.
    pub fn new(settings: &Settings) -> Result<Self, UiTemplateError> {
        Ok(Self {
            pages: Arc::new(registry()?),
            cookies: CookieConfig::new(settings),
        })
    }

    /// Renders `template` with `data` inside the layout.
    pub fn page(
        &self,
        status: StatusCode,
        title: &str,
        template: &str,
        data: &impl Serialize,
        user: Option<(&Principal, &str)>,
    ) -> HttpResponse {
        let rendered = self.pages.render(template, data).and_then(|body| {
            let header = user.map(|(p, _)| HeaderUser {
                name: p.name.clone(),
                scope: scope_label(p),
                home: home_page(p),
            });
            self.pages.render(
                "layout",
                &json!({
                    "title": title,
                    "user": header,
                    "csrf": user.map(|(_, c)| c),
                    "body": body,
                }),
            )
        });
        match rendered {
            Ok(html) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .insert_header(("Cache-Control", "no-store"))
                .insert_header(("X-Frame-Options", "DENY"))
                .insert_header((
                    "Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
                     form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                ))
                .insert_header(("Referrer-Policy", "same-origin"))
                .body(html),
            Err(e) => {
                tracing::error!(error = %e, template, "could not render a web UI page");
                HttpResponse::InternalServerError()
                    .content_type("text/html; charset=utf-8")
                    .insert_header(("Cache-Control", "no-store"))
                    .body(FALLBACK_PAGE)
            }
        }
    }

    /// The page of `error`.
    pub fn error_page(&self, error: &UiError, user: Option<(&Principal, &str)>) -> HttpResponse {
        let (status, title, message) = error.parts();
        let signed_in = user.is_some();
        self.page(
            status,
            title,
            "error",
            &json!({
                "status": status.as_u16(),
                "title": title,
                "message": message,
                "show_sign_in": status == StatusCode::UNAUTHORIZED && !signed_in,
                "home": user.map(|(p, _)| home_page(p)),
            }),
            user,
        )
    }

    /// The landing page after Slack's redirect for a browser that is not signed in: what
    /// was installed where, and a sign-in form (with the session's CSRF token `csrf`).
    pub fn installed_page(&self, csrf: &str, installed: &Installed) -> HttpResponse {
        let target = match installed.page.split('/').collect::<Vec<_>>().as_slice() {
            ["", "orgs", org, "projects", project, "slack"] => {
                format!("project {org}/{project}")
            }
            ["", "orgs", org, "slack"] => format!("organization {org}"),
            _ => "your organization".to_owned(),
        };
        self.page(
            StatusCode::OK,
            "Slack integration installed",
            "installed",
            &json!({
                "team_name": installed.team_name,
                "target": target,
                "csrf": csrf,
            }),
            None,
        )
    }

    /// A page that reloads `path` from our own origin (so the SameSite=Strict cookie is
    /// sent again after a cross-site redirect).
    pub fn reload_same_site(&self, path: String) -> HttpResponse {
        // Only a path of ours: never a full URL from the request.
        let path = if path.starts_with('/') && !path.starts_with("//") {
            path
        } else {
            "/".to_owned()
        };
        let mut res = self.page(
            StatusCode::OK,
            "Continuing",
            "reload",
            &json!({ "path": path }),
            None,
        );
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&format!("0; url={path}")) {
            res.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static("refresh"),
                v,
            );
        }
        res
    }
}

/// The page templates, compiled once (strict mode: a missing field is an error, not an
/// empty string; HTML escaping on for every `{{value}}`).
fn registry() -> Result<Handlebars<'static>, UiTemplateError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::html_escape);
    hb.register_partial("style", STYLE)
        .map_err(|e| UiTemplateError {
            name: "style",
            reason: e.to_string(),
        })?;
    hb.register_partial(
        "delivery_table",
        include_str!("templates/delivery_table.hbs"),
    )
    .map_err(|e| UiTemplateError {
        name: "delivery_table",
        reason: e.to_string(),
    })?;
    for (name, text) in TEMPLATES {
        hb.register_template_string(name, *text)
            .map_err(|e| UiTemplateError {
                name,
                reason: e.to_string(),
            })?;
    }
    Ok(hb)
}

/// Where an admin lands after signing in.
pub fn home_page(p: &Principal) -> String {
    match (&p.org, &p.project) {
        (Some(o), Some(pr)) => format!("/orgs/{o}/projects/{pr}/slack"),
        (Some(o), None) => format!("/orgs/{o}/slack"),
        _ => "/".to_owned(),
    }
}

/// "Administrator of organization acme" / "… of project acme/webshop".
fn scope_label(p: &Principal) -> String {
    match (&p.org, &p.project) {
        (Some(o), Some(pr)) => format!("Project administrator · {o}/{pr}"),
        (Some(o), None) => format!("Organization administrator · {o}"),
        _ => String::new(),
    }
}

/// Why a UI request failed; each variant is one clear page.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    /// Logged where it happens; the page says only that something went wrong.
    #[error("internal error")]
    Internal,
}

impl UiError {
    /// Logs `cause` once and hides it from the page.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "web UI request failed");
        Self::Internal
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "Bad request", m.clone()),
            Self::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "Please sign in", m.clone()),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m.clone()),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m.clone()),
            Self::Conflict(m) => (StatusCode::CONFLICT, "Cannot do that now", m.clone()),
            Self::Unavailable(m) => (StatusCode::BAD_GATEWAY, "Slack is not reachable", m.clone()),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "An internal error occurred; nothing secret was shown. Try again shortly. If it \
                 keeps failing, ask your XTC operator to check the service's logs."
                    .to_owned(),
            ),
        }
    }
}

impl From<ConfigError> for UiError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::NotFound(m) => Self::NotFound(capitalize(&m)),
            ConfigError::InvalidChannels { message, .. } => Self::BadRequest(capitalize(&message)),
            ConfigError::InvalidRule { field, message } => {
                Self::BadRequest(format!("{}: {}", capitalize(&field), message))
            }
            ConfigError::Invalid { message, .. } => Self::BadRequest(capitalize(&message)),
            ConfigError::SlackNotConfigured => Self::Conflict(
                "This XTC server has no Slack app credentials, so the Slack integration cannot \
                 be set up. Ask your XTC operator to set SLACK_CLIENT_ID and \
                 SLACK_CLIENT_SECRET."
                    .to_owned(),
            ),
            ConfigError::Incomplete { message, .. } => Self::Conflict(capitalize(&message)),
            ConfigError::SlackUnavailable(m) => Self::Unavailable(m),
            ConfigError::Db(e) => Self::internal(e),
            ConfigError::Crypto(e) => Self::internal(e),
            ConfigError::Render(e) => Self::internal(e),
        }
    }
}

/// The service's messages start lower-case (API style); pages start sentences upper-case.
pub fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const HOSTILE: &str = "<script>alert('x')</script>\"&";

    #[test]
    fn every_template_escapes_hostile_text() {
        let hb = registry().unwrap();
        let data = json!({
            "title": HOSTILE, "user": {"name": HOSTILE, "scope": HOSTILE, "home": "/"},
            "csrf": HOSTILE, "body": "", "error": HOSTILE, "notice": HOSTILE,
            "status": 403, "message": HOSTILE, "show_sign_in": true, "home": "/",
            "path": "/x", "action": "/a", "back": "/b", "team_name": HOSTILE,
            "is_project": true, "org_team_name": HOSTILE, "target": HOSTILE, "hint": HOSTILE,
        });
        for (name, _) in TEMPLATES.iter().filter(|(n, _)| *n != "settings") {
            let html = hb.render(name, &data).unwrap();
            assert!(!html.contains("<script>"), "{name}: {html}");
        }
    }
}

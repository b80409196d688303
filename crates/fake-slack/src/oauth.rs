//! The fake's OAuth v2 approval page (`/oauth/v2/authorize`).
//!
//! `GET` shows the pretend workspace's consent page; its buttons `POST` the same
//! parameters back with `decision=approve|deny`, and the fake redirects the browser to the
//! app's `redirect_uri` with `code`+`state` or `error=access_denied`+`state`.

use std::time::Instant;

use actix_web::{http::header, web, HttpResponse};
use serde::Deserialize;

use super::{page::html, state::CodeGrant, FakeSlackConfig, Shared};

/// The authorize parameters (query on `GET`, form on `POST`).
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct AuthorizeParams {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    user_scope: String,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    team: Option<String>,
    /// Only on `POST`: `approve` or `deny`.
    #[serde(default)]
    decision: Option<String>,
}

/// What a valid authorize request resolves to.
struct Checked {
    redirect: url::Url,
    scopes: Vec<String>,
    user_scopes: Vec<String>,
}

/// `GET /oauth/v2/authorize`: the consent page.
pub(crate) async fn show(
    query: web::Query<AuthorizeParams>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let config = shared.world().config.clone();
    let checked = match check(&config, &query) {
        Ok(c) => c,
        Err(reason) => return error_page(&reason),
    };
    let hidden = |name: &str, value: &str| {
        format!(
            r#"<input type="hidden" name="{}" value="{}">"#,
            html(name),
            html(value)
        )
    };
    let mut fields = String::new();
    fields.push_str(&hidden("client_id", &query.client_id));
    fields.push_str(&hidden("scope", &query.scope));
    fields.push_str(&hidden("user_scope", &query.user_scope));
    for (name, value) in [
        ("redirect_uri", &query.redirect_uri),
        ("state", &query.state),
        ("team", &query.team),
    ] {
        if let Some(v) = value {
            fields.push_str(&hidden(name, v));
        }
    }
    let scope_items: String = checked
        .scopes
        .iter()
        .chain(&checked.user_scopes)
        .map(|s| format!("<li><code>{}</code></li>", html(s)))
        .collect();
    let body = format!(
        r#"<h1>{app} is requesting permission to access the <em>{team}</em> Slack workspace</h1>
<p class="muted">Workspace {team} ({team_id}) &middot; fake Slack</p>
<h2>It will be able to</h2>
<ul id="scopes">{scope_items}</ul>
<p class="muted">After approval you are sent to <code>{redirect}</code>.</p>
<form method="post" action="/oauth/v2/authorize">
{fields}
<button type="submit" id="deny" name="decision" value="deny" class="secondary">Cancel</button>
<button type="submit" id="approve" name="decision" value="approve">Allow</button>
</form>"#,
        app = html(&config.app_name),
        team = html(&config.team_name),
        team_id = html(&config.team_id),
        redirect = html(checked.redirect.as_str()),
    );
    page_response(200, "Install app", &body)
}

/// `POST /oauth/v2/authorize`: the user's decision.
pub(crate) async fn decide(
    form: web::Form<AuthorizeParams>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let mut world = shared.world();
    let config = world.config.clone();
    let checked = match check(&config, &form) {
        Ok(c) => c,
        Err(reason) => return error_page(&reason),
    };
    let mut target = checked.redirect;
    let effective_redirect = target.to_string();
    {
        let mut q = target.query_pairs_mut();
        match form.decision.as_deref() {
            Some("approve") => {
                let code = world.issue_code(CodeGrant {
                    client_id: form.client_id.clone(),
                    redirect_uri: form.redirect_uri.clone().filter(|r| !r.is_empty()),
                    effective_redirect,
                    scopes: checked.scopes,
                    user_scopes: checked.user_scopes,
                    issued: Instant::now(),
                    used: false,
                });
                q.append_pair("code", &code);
            }
            Some("deny") => {
                q.append_pair("error", "access_denied");
            }
            _ => return error_page("missing or unknown decision"),
        }
        if let Some(state) = &form.state {
            q.append_pair("state", state);
        }
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, target.to_string()))
        .finish()
}

/// Validates the request like Slack's authorize page does before showing consent.
fn check(config: &FakeSlackConfig, p: &AuthorizeParams) -> Result<Checked, String> {
    if p.client_id != config.client_id {
        return Err(format!("invalid_client_id: unknown app {:?}", p.client_id));
    }
    if let Some(team) = p.team.as_deref().filter(|t| !t.is_empty()) {
        if team != config.team_id {
            return Err(format!("team {team:?} is not this workspace"));
        }
    }
    let split = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let scopes = split(&p.scope);
    let user_scopes = split(&p.user_scope);
    if scopes.is_empty() && user_scopes.is_empty() {
        return Err("invalid_scope: no scopes requested".to_owned());
    }
    let redirect = match p.redirect_uri.as_deref().filter(|r| !r.is_empty()) {
        Some(given) => {
            let url = url::Url::parse(given)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| "bad_redirect_uri: not an absolute http(s) URL".to_owned())?;
            if !config.redirect_urls.is_empty()
                && !config
                    .redirect_urls
                    .iter()
                    .any(|c| redirect_allowed(c, &url))
            {
                return Err("bad_redirect_uri: does not match the app's Redirect URLs".to_owned());
            }
            url
        }
        None => config
            .redirect_urls
            .first()
            .and_then(|c| url::Url::parse(c).ok())
            .ok_or_else(|| "bad_redirect_uri: no redirect_uri and none configured".to_owned())?,
    };
    Ok(Checked {
        redirect,
        scopes,
        user_scopes,
    })
}

/// Slack's rule: scheme, host and port exact; the path at or below the configured one.
fn redirect_allowed(configured: &str, given: &url::Url) -> bool {
    let Ok(c) = url::Url::parse(configured) else {
        return false;
    };
    c.scheme() == given.scheme()
        && c.host_str() == given.host_str()
        && c.port_or_known_default() == given.port_or_known_default()
        && given.path().starts_with(c.path())
}

fn error_page(reason: &str) -> HttpResponse {
    let body = format!(
        r#"<h1>Something went wrong</h1><p id="error">{}</p>"#,
        html(reason)
    );
    page_response(400, "OAuth error", &body)
}

fn page_response(status: u16, title: &str, body: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(super::page::layout(title, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_rule_matches_host_port_and_path_prefix() {
        let ok = |given: &str| {
            url::Url::parse(given)
                .map(|u| redirect_allowed("http://localhost:8080/slack/", &u))
                .unwrap_or(false)
        };
        assert!(ok("http://localhost:8080/slack/oauth/callback"));
        assert!(!ok("http://localhost:8081/slack/oauth/callback"));
        assert!(!ok("https://localhost:8080/slack/oauth/callback"));
        assert!(!ok("http://evil.example:8080/slack/"));
        assert!(!ok("http://localhost:8080/other"));
    }
}

//! The web UI's cookies: how the session cookie is made (a key derived from the service
//! key, `Secure` behind https), and the short-lived cookie that tells the page Slack's
//! redirect lands on what was just installed.

use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::storage::CookieSessionStore;
use actix_session::SessionMiddleware;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};
use actix_web::HttpRequest;
use serde::{Deserialize, Serialize};

use crate::settings::Settings;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "xtc_slack_session";
/// The purpose label of the cookie key derived from the service key.
const COOKIE_KEY_PURPOSE: &str = "web-ui-session-cookie";
/// The cookie that tells the page Slack's redirect lands on what was installed, for a
/// browser without a session (the README's walkthrough opens the `authorize_url` as is).
pub const INSTALLED_COOKIE: &str = "xtc_slack_installed";
/// How long the landing page may report an installation.
const INSTALLED_MINUTES: i64 = 10;

/// How the session cookie is made: the derived key and whether it is `Secure`.
#[derive(Clone)]
pub struct CookieConfig {
    key: Key,
    secure: bool,
}

impl CookieConfig {
    /// A 64-byte key derived from the service key (never the raw key); `Secure` when the
    /// public URL is https.
    pub fn new(settings: &Settings) -> Self {
        let derived = settings.secret_key.derive_64(COOKIE_KEY_PURPOSE);
        Self {
            key: Key::from(&derived),
            secure: settings.public_url.scheme() == "https",
        }
    }

    /// The middleware for the UI's routes: HttpOnly, SameSite=Strict, encrypted and signed
    /// (`Private`), gone when the browser closes.
    pub fn middleware(&self) -> SessionMiddleware<CookieSessionStore> {
        SessionMiddleware::builder(CookieSessionStore::default(), self.key.clone())
            .cookie_name(COOKIE_NAME.to_owned())
            .cookie_secure(self.secure)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Strict)
            .cookie_path("/".to_owned())
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(BrowserSession::default())
            .build()
    }
}

/// What an OAuth callback installed, for the landing page (encrypted in its own cookie,
/// so that only the browser that went through Slack learns the workspace's name).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Installed {
    /// The settings page the callback redirects to.
    pub page: String,
    pub team_name: String,
    /// Unix seconds.
    pub at: i64,
}

impl CookieConfig {
    /// The encrypted, short-lived cookie saying what was just installed (sent along
    /// with the callback's redirect; SameSite=Lax, as that redirect starts at Slack).
    pub fn installed_cookie(&self, installed: &Installed) -> Option<Cookie<'static>> {
        let value = serde_json::to_string(installed).ok()?;
        let mut jar = CookieJar::new();
        jar.private_mut(&self.key).add(
            Cookie::build(INSTALLED_COOKIE, value)
                .path("/orgs")
                .http_only(true)
                .secure(self.secure)
                .same_site(SameSite::Lax)
                .max_age(actix_web::cookie::time::Duration::minutes(
                    INSTALLED_MINUTES,
                ))
                .finish(),
        );
        jar.get(INSTALLED_COOKIE).cloned()
    }

    /// What this browser installed for the page at `path` within the last minutes.
    pub fn read_installed(&self, req: &HttpRequest, path: &str) -> Option<Installed> {
        let mut jar = CookieJar::new();
        jar.add_original(req.cookie(INSTALLED_COOKIE)?);
        let cookie = jar.private(&self.key).get(INSTALLED_COOKIE)?;
        let installed: Installed = serde_json::from_str(cookie.value()).ok()?;
        let age = chrono::Utc::now().timestamp() - installed.at;
        (installed.page == path && (0..=INSTALLED_MINUTES * 60).contains(&age)).then_some(installed)
    }
}

//! The web UI's session: an encrypted, signed cookie (actix-session's cookie store) that
//! holds the signed-in token's *id* and scope, a random session id, a CSRF token and
//! one-shot notices. The token itself is never stored; every request re-reads the token
//! row by id, so revoking the token ends the session at once. The session id's hash is a
//! row of `ui_sessions`, deleted at sign-out: a cookie alone cannot be recalled, so
//! without it a copy taken before sign-out would keep working until it expires.

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::render::{Ui, UiError};
use crate::crypto::{random_token, sha256_hex};
use crate::domain::access::{Principal, Role};
use crate::services::ui_sessions;
use crate::state::AppState;

/// A sign-in lasts at most this long, however active the admin is.
pub const MAX_SESSION_HOURS: i64 = 12;

const KEY_USER: &str = "user";
const KEY_CSRF: &str = "csrf";
const KEY_FLASH: &str = "flash";

/// Who is signed in: the token's id and scope, as stored in the cookie.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct SessionUser {
    token_id: String,
    org: Option<String>,
    project: Option<String>,
    /// Unix seconds.
    signed_in_at: i64,
    /// The random id of this sign-in; its SHA-256 is the `ui_sessions` row.
    #[serde(default)]
    sid: String,
}

/// A one-shot message shown on the next page.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Notice {
    /// `success`, `info`, `warning` or `error` (a CSS class).
    pub kind: String,
    pub text: String,
}

impl Notice {
    pub fn new(kind: &str, text: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            text: text.into(),
        }
    }
}

/// What a page shows once after a redirect (post/redirect/get).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Flash {
    pub notices: Vec<Notice>,
    /// Results of "Send Test Message": channel, ok, error code.
    pub test_results: Option<Vec<(String, bool, Option<String>)>>,
}

/// The session's CSRF token, created on first use.
pub fn csrf_token(session: &Session) -> String {
    if let Ok(Some(t)) = session.get::<String>(KEY_CSRF) {
        if !t.is_empty() {
            return t;
        }
    }
    let fresh = secrecy::ExposeSecret::expose_secret(&random_token("")).to_owned();
    if let Err(e) = session.insert(KEY_CSRF, &fresh) {
        tracing::warn!(error = %e, "could not store a CSRF token in the session");
    }
    fresh
}

/// Whether `given` is this session's CSRF token (compared in constant time).
pub fn csrf_ok(session: &Session, given: &str) -> bool {
    match session.get::<String>(KEY_CSRF) {
        Ok(Some(expected)) if !expected.is_empty() => {
            expected.as_bytes().ct_eq(given.as_bytes()).into()
        }
        _ => false,
    }
}

/// Refuses a form whose CSRF token is missing or wrong (403).
pub fn require_csrf(session: &Session, given: &str) -> Result<(), UiError> {
    if csrf_ok(session, given) {
        Ok(())
    } else {
        Err(UiError::Forbidden(
            "This form's security token is missing or out of date, so it was not accepted. \
             Reload the page and submit it again."
                .to_owned(),
        ))
    }
}

/// Starts a signed-in session for `principal` (a fresh session and CSRF token, so nothing
/// from before the sign-in carries over), recorded in `ui_sessions`.
pub async fn sign_in(
    state: &AppState,
    session: &Session,
    principal: &Principal,
) -> Result<(), UiError> {
    let sid = secrecy::ExposeSecret::expose_secret(&random_token("")).to_owned();
    let (hash, token_id) = (sha256_hex(&sid), principal.token_id.clone());
    let expires_at = chrono::Utc::now().naive_utc() + chrono::Duration::hours(MAX_SESSION_HOURS);
    ui_sessions::record(&state.services, hash, token_id, expires_at)
        .await
        .map_err(UiError::internal)?;
    session.renew();
    session.clear();
    let user = SessionUser {
        token_id: principal.token_id.clone(),
        org: principal.org.as_ref().map(ToString::to_string),
        project: principal.project.as_ref().map(ToString::to_string),
        signed_in_at: chrono::Utc::now().timestamp(),
        sid,
    };
    session
        .insert(KEY_USER, &user)
        .map_err(|e| UiError::internal(anyhow::anyhow!("session: {e}")))?;
    csrf_token(session);
    Ok(())
}

/// Ends the session: its `ui_sessions` row is deleted (so every copy of the cookie stops
/// working) and the cookie is removed.
pub async fn sign_out(state: &AppState, session: &Session) -> Result<(), UiError> {
    if let Ok(Some(user)) = session.get::<SessionUser>(KEY_USER) {
        let hash = sha256_hex(&user.sid);
        ui_sessions::end(&state.services, hash)
            .await
            .map_err(UiError::internal)?;
    }
    session.purge();
    Ok(())
}

/// Stores `flash` for the next page.
pub fn set_flash(session: &Session, flash: &Flash) {
    if let Err(e) = session.insert(KEY_FLASH, flash) {
        tracing::warn!(error = %e, "could not store a notice in the session");
    }
}

/// Takes (and removes) what the previous request left for this page.
pub fn take_flash(session: &Session) -> Flash {
    match session.remove_as::<Flash>(KEY_FLASH) {
        Some(Ok(f)) => f,
        _ => Flash::default(),
    }
}

/// A signed-in admin whose token is still live. Extracting it answers the request with
/// the 401 page otherwise.
pub struct SignedIn {
    pub principal: Principal,
    pub session: Session,
    pub csrf: String,
}

/// Why there is no signed-in admin.
enum NoUser {
    /// Never signed in (or signed out).
    Anonymous,
    /// Signed in once; the session ended for this reason.
    Ended(&'static str),
}

/// The principal of the session, re-checked against the database.
async fn current(
    state: &AppState,
    session: &Session,
) -> Result<Principal, Result<NoUser, UiError>> {
    let user = match session.get::<SessionUser>(KEY_USER) {
        Ok(Some(u)) => u,
        Ok(None) => return Err(Ok(NoUser::Anonymous)),
        Err(_) => {
            session.purge();
            return Err(Ok(NoUser::Anonymous));
        }
    };
    let age = chrono::Utc::now().timestamp() - user.signed_in_at;
    if !(0..=MAX_SESSION_HOURS * 3600).contains(&age) {
        session.purge();
        return Err(Ok(NoUser::Ended(
            "Your session has expired. Please sign in again.",
        )));
    }
    let (id, hash) = (user.token_id.clone(), sha256_hex(&user.sid));
    let (live, found) = ui_sessions::check(&state.services, hash, id)
        .await
        .map_err(|e| Err(UiError::internal(e)))?;
    if !live {
        session.purge();
        return Err(Ok(NoUser::Ended(
            "This session has ended (it was signed out). Please sign in again.",
        )));
    }
    let Some(principal) = found else {
        session.purge();
        return Err(Ok(NoUser::Ended(
            "The API token you signed in with has been revoked, so your session has ended.",
        )));
    };
    let same_scope = principal.org.as_ref().map(ToString::to_string) == user.org
        && principal.project.as_ref().map(ToString::to_string) == user.project;
    if principal.role != Role::Admin || !same_scope {
        session.purge();
        return Err(Ok(NoUser::Ended(
            "Your session is no longer valid. Please sign in again.",
        )));
    }
    Ok(principal)
}

/// The signed-in admin, if any (for the sign-in page, which works either way).
pub async fn current_principal(
    state: &AppState,
    session: &Session,
) -> Result<Option<Principal>, UiError> {
    match current(state, session).await {
        Ok(p) => Ok(Some(p)),
        Err(Ok(_)) => Ok(None),
        Err(Err(e)) => Err(e),
    }
}

impl FromRequest for SignedIn {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = req.get_session();
            let (Some(state), Some(ui)) = (
                req.app_data::<web::Data<AppState>>().cloned(),
                req.app_data::<web::Data<Ui>>().cloned(),
            ) else {
                return Err(actix_web::error::ErrorInternalServerError("no app state"));
            };
            let refused = match current(&state, &session).await {
                Ok(principal) => {
                    let csrf = csrf_token(&session);
                    return Ok(Self {
                        principal,
                        session,
                        csrf,
                    });
                }
                Err(Ok(NoUser::Anonymous)) if came_from_another_site(&req) => {
                    // SameSite=Strict: after Slack's redirect the browser withholds the
                    // cookie. Reloading from our own page sends it again.
                    ui.reload_same_site(req.uri().to_string())
                }
                Err(Ok(NoUser::Anonymous)) if just_installed(&req) => {
                    match ui.cookies.read_installed(&req, req.path()) {
                        Some(installed) => ui.installed_page(&csrf_token(&session), &installed),
                        None => ui.error_page(
                            &UiError::Unauthorized(
                                "Please sign in to see this page. If you have just approved \
                                 the Slack app, sign in to see whether it was installed."
                                    .to_owned(),
                            ),
                            None,
                        ),
                    }
                }
                Err(Ok(NoUser::Anonymous)) => ui.error_page(
                    &UiError::Unauthorized("Please sign in to see this page.".to_owned()),
                    None,
                ),
                Err(Ok(NoUser::Ended(why))) => {
                    ui.error_page(&UiError::Unauthorized(why.to_owned()), None)
                }
                Err(Err(e)) => ui.error_page(&e, None),
            };
            Err(actix_web::error::InternalError::from_response("refused", refused).into())
        })
    }
}

/// A GET navigation that arrived from another site (e.g. the end of the Slack OAuth
/// redirect chain), per the browser's `Sec-Fetch-Site` header.
fn came_from_another_site(req: &HttpRequest) -> bool {
    req.method() == actix_web::http::Method::GET
        && req
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
}

/// A GET of a settings page that the OAuth callback redirected to (`?installed=1`).
fn just_installed(req: &HttpRequest) -> bool {
    req.method() == actix_web::http::Method::GET
        && req
            .query_string()
            .split('&')
            .any(|kv| kv == "installed" || kv.starts_with("installed="))
}

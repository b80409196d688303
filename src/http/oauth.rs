//! `GET /slack/oauth/callback`: Slack's redirect back after the approval page. No bearer
//! token: the single-use state authenticates. Answers 303 to the settings page on
//! success (with a short-lived cookie that lets that page say what was installed when the
//! browser is not signed in), otherwise an HTML page saying what happened (nothing is
//! stored), rendered by the web UI's templates.

use actix_web::http::{header, StatusCode};
use actix_web::{get, web, HttpResponse};
use serde::Serialize;

use super::ui::cookies::Installed;
use super::ui::render::Ui;
use crate::services::slack_config::{self as svc, CallbackFailure, CallbackParams};
use crate::state::AppState;

#[get("/slack/oauth/callback")]
pub async fn callback(
    state: web::Data<AppState>,
    ui: web::Data<Ui>,
    query: web::Query<CallbackParams>,
) -> HttpResponse {
    match svc::complete_oauth(&state.services, query.into_inner()).await {
        Ok(done) => {
            let location = format!("{}{}", state.settings.public_base(), done.redirect);
            let mut res = HttpResponse::SeeOther();
            res.insert_header((header::LOCATION, location));
            // Without a session the landing page can still say what was installed where.
            let installed = Installed {
                page: done.scope.settings_page(),
                team_name: done.team_name,
                at: chrono::Utc::now().timestamp(),
            };
            if let Some(cookie) = ui.cookies.installed_cookie(&installed) {
                res.cookie(cookie);
            }
            res.finish()
        }
        Err(failure) => failure_page(&ui, &failure),
    }
}

/// What the failure page shows (`oauth_failure.hbs`).
#[derive(Serialize)]
struct FailurePage<'a> {
    title: &'a str,
    message: &'a str,
    /// What to do now.
    hint: &'a str,
    /// The settings page to start again from, when the scope is known.
    back: Option<&'a str>,
}

/// The page of a failed or cancelled installation.
fn failure_page(ui: &Ui, f: &CallbackFailure) -> HttpResponse {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST);
    let page = FailurePage {
        title: &f.title,
        message: &f.message,
        hint: &f.hint,
        back: f.settings_page.as_deref(),
    };
    ui.page(status, &f.title, "oauth_failure", &page, None)
}

//! `GET /slack/oauth/callback`: Slack's redirect back after the approval page. No bearer
//! token: the single-use state authenticates. Answers 303 to the settings page on
//! success (with a short-lived cookie that lets that page say what was installed when the
//! browser is not signed in), otherwise an HTML page saying what happened (nothing is
//! stored).

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

use super::pages;
use super::ui::session::{CookieConfig, Installed};
use crate::services::slack_config::{self as svc, CallbackParams};
use crate::state::AppState;

#[get("/slack/oauth/callback")]
pub async fn callback(
    state: web::Data<AppState>,
    query: web::Query<CallbackParams>,
) -> HttpResponse {
    match svc::complete_oauth(&state, query.into_inner()).await {
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
            if let Some(cookie) = CookieConfig::new(&state.settings).installed_cookie(&installed) {
                res.cookie(cookie);
            }
            res.finish()
        }
        Err(failure) => pages::oauth_failure(&failure),
    }
}

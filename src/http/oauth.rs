//! `GET /slack/oauth/callback`: Slack's redirect back after the approval page. No bearer
//! token: the single-use state authenticates. Answers 303 to the settings page on
//! success, otherwise an HTML page saying what happened (nothing is stored).

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

use super::pages;
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
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish()
        }
        Err(failure) => pages::oauth_failure(&failure),
    }
}

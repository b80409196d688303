//! Signing in and out: the sign-in page at `/`, a sign-in with an admin token (service
//! tokens are refused), and signing out.

use actix_session::{Session, SessionExt};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::render::{home_page, Ui, UiError};
use super::session::{self, require_csrf};
use super::{see_other, CsrfOnly};
use crate::domain::access::Role;
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct HomeQuery {
    signed_out: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

pub(super) fn sign_in_page(
    ui: &Ui,
    session: &Session,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> HttpResponse {
    let csrf = session::csrf_token(session);
    ui.page(
        status,
        "Sign in",
        "signin",
        &serde_json::json!({ "csrf": csrf, "error": error, "notice": notice }),
        None,
    )
}

/// `GET /`: the sign-in page, or the admin's settings page when signed in.
pub(super) async fn home(
    req: HttpRequest,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    query: web::Query<HomeQuery>,
) -> HttpResponse {
    let session = req.get_session();
    match session::current_principal(&state, &session).await {
        Ok(Some(p)) => see_other(&home_page(&p)),
        Ok(None) => {
            let notice = query
                .signed_out
                .as_ref()
                .map(|_| "You have been signed out.");
            sign_in_page(&ui, &session, StatusCode::OK, None, notice)
        }
        Err(e) => ui.error_page(&e, None),
    }
}

/// `POST /`: signs in with an admin token.
pub(super) async fn sign_in(
    req: HttpRequest,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let session = req.get_session();
    let Ok(form) = serde_urlencoded::from_bytes::<SignInForm>(&body) else {
        return ui.error_page(
            &UiError::BadRequest("The form could not be read.".into()),
            None,
        );
    };
    if let Err(e) = require_csrf(&session, &form.csrf) {
        return ui.error_page(&e, None);
    }
    let token = form.token.trim().to_owned();
    if token.is_empty() {
        return sign_in_page(
            &ui,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Enter your admin token."),
            None,
        );
    }
    let found = state.token_checks.principal(&token).await;
    let principal = match found {
        Ok(Some(p)) => p,
        Ok(None) => {
            return sign_in_page(
                &ui,
                &session,
                StatusCode::UNAUTHORIZED,
                Some("This token is not valid or has been revoked."),
                None,
            )
        }
        Err(e) => return ui.error_page(&UiError::internal(e), None),
    };
    if principal.role != Role::Admin || principal.org.is_none() {
        return sign_in_page(
            &ui,
            &session,
            StatusCode::FORBIDDEN,
            Some(
                "This is a service token, which cannot sign in here. Sign in with an admin \
                 token of your organization or project.",
            ),
            None,
        );
    }
    if let Err(e) = session::sign_in(&state, &session, &principal).await {
        return ui.error_page(&e, None);
    }
    tracing::info!(token_id = %principal.token_id, "web UI sign-in");
    see_other(&home_page(&principal))
}

/// `POST /signout`.
pub(super) async fn sign_out(
    req: HttpRequest,
    ui: web::Data<Ui>,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let session = req.get_session();
    let csrf = serde_urlencoded::from_bytes::<CsrfOnly>(&body)
        .map(|f| f.csrf)
        .unwrap_or_default();
    if let Err(e) = require_csrf(&session, &csrf) {
        return ui.error_page(&e, None);
    }
    if let Err(e) = session::sign_out(&state, &session).await {
        return ui.error_page(&e, None);
    }
    see_other("/?signed_out=1")
}

//! The admin web UI (API.md "Web UI"): sign-in with an admin token and the Slack
//! integration form of organizations and projects, server-rendered with handlebars.
//! Here: its routes, and what every page and form shares (which organization or project
//! a path names and whether this admin may see it, redirects, the error page).
//!
//! Handlers stay thin: they check the session and the CSRF token, parse the path and the
//! form, call a service (the same ones as the JSON API: [`crate::services`]) and render a
//! page or redirect (post/redirect/get, with one-shot notices in the session).

mod actions;
mod baselines;
#[cfg(test)]
mod contrast;
pub mod cookies;
mod maintenance;
pub mod render;
pub mod session;
mod settings_page;
mod settings_save;
mod sign_in;
pub mod views;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use self::actions::{
    end_mute_route, install_route, remove_confirm_route, remove_route, summary_route, test_route,
};
use self::render::{Ui, UiError};
use self::session::{set_flash, Flash, Notice, SignedIn};
use self::settings_page::page_route;
use self::settings_save::{org_save, project_reset, project_save, rules_route};
use self::sign_in::{home, sign_in, sign_out};
use crate::domain::access::AdminTarget;
use crate::domain::ids::{OrgId, ProjectId};
use crate::services::slack_config::Scope;

/// Registers the UI's routes, each behind the session middleware.
pub fn configure(cfg: &mut web::ServiceConfig, ui: &Ui) {
    let data = web::Data::new(ui.clone());
    let org = "/{org}/slack";
    let project = "/{org}/projects/{project}/slack";
    cfg.app_data(data)
        .service(
            web::resource("/")
                .wrap(ui.cookies.middleware())
                .route(web::get().to(home))
                .route(web::post().to(sign_in)),
        )
        .service(
            web::resource("/signout")
                .wrap(ui.cookies.middleware())
                .route(web::post().to(sign_out)),
        );
    let mut scope = web::scope("/orgs")
        .wrap(ui.cookies.middleware())
        .route(org, web::get().to(page_route))
        .route(org, web::post().to(org_save))
        .route(project, web::get().to(page_route))
        .route(project, web::post().to(project_save))
        .route(&format!("{project}/reset"), web::post().to(project_reset))
        .route(
            &format!("{project}/mutes/{{scenario}}/end"),
            web::post().to(end_mute_route),
        )
        .route(
            &format!("{project}/baselines/pin"),
            web::post().to(baselines::pin_route),
        )
        .route(
            &format!("{project}/baselines/unpin"),
            web::post().to(baselines::unpin_route),
        );
    // The same pages and forms at both levels.
    for base in [org, project] {
        scope = scope
            .route(&format!("{base}/install"), web::get().to(install_route))
            .route(
                &format!("{base}/remove"),
                web::get().to(remove_confirm_route),
            )
            .route(&format!("{base}/remove"), web::post().to(remove_route))
            .route(&format!("{base}/test"), web::post().to(test_route))
            .route(&format!("{base}/summary"), web::post().to(summary_route))
            .route(&format!("{base}/rules"), web::post().to(rules_route))
            .route(
                &format!("{base}/maintenance-windows"),
                web::post().to(maintenance::create_route),
            )
            .route(
                &format!("{base}/maintenance-windows/{{id}}/delete"),
                web::post().to(maintenance::delete_route),
            );
    }
    cfg.service(scope.default_service(web::to(not_found)));
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// Answers `result`, rendering an error as its page.
fn respond(ui: &Ui, user: &SignedIn, result: Result<HttpResponse, UiError>) -> HttpResponse {
    result.unwrap_or_else(|e| ui.error_page(&e, Some((&user.principal, &user.csrf))))
}

fn org_scope(user: &SignedIn, org: &str) -> Result<Scope, UiError> {
    let org = OrgId::parse(org).map_err(|_| no_such_page())?;
    if !user.principal.may_admin(AdminTarget::Org(&org)) {
        return Err(forbidden(user));
    }
    Ok(Scope::Org(org))
}

fn project_scope(user: &SignedIn, org: &str, project: &str) -> Result<Scope, UiError> {
    let org = OrgId::parse(org).map_err(|_| no_such_page())?;
    let project = ProjectId::parse(project).map_err(|_| no_such_page())?;
    if !user
        .principal
        .may_admin(AdminTarget::Project(&org, &project))
    {
        return Err(forbidden(user));
    }
    Ok(Scope::Project(org, project))
}

/// The organization or project a `/orgs/{org}[/projects/{project}]/slack…` route names,
/// if this admin may see it (one place for both levels of every page and form).
fn scope_of(user: &SignedIn, req: &HttpRequest) -> Result<Scope, UiError> {
    let org = req.match_info().get("org").unwrap_or_default();
    match req.match_info().get("project") {
        Some(project) => project_scope(user, org, project),
        None => org_scope(user, org),
    }
}

fn no_such_page() -> UiError {
    UiError::NotFound("There is no such page.".to_owned())
}

/// 403, decided from the token alone (whether or not the target exists).
fn forbidden(user: &SignedIn) -> UiError {
    let p = &user.principal;
    let mine = match (&p.org, &p.project) {
        (Some(o), Some(pr)) => format!("project {o}/{pr}"),
        (Some(o), None) => format!("organization {o}"),
        _ => "nothing".to_owned(),
    };
    UiError::Forbidden(format!(
        "You are signed in as an administrator of {mine}. This page belongs to an \
         organization or project you do not administer."
    ))
}

fn parse_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, UiError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|_| UiError::BadRequest("The form could not be read.".to_owned()))
}

fn bad_choice(field: &str) -> UiError {
    UiError::BadRequest(format!(
        "The form sent an unknown value for {field}. Reload the page and try again."
    ))
}

fn flash_notice(user: &SignedIn, kind: &str, text: &str) {
    set_flash(
        &user.session,
        &Flash {
            notices: vec![Notice::new(kind, text)],
            test_results: None,
        },
    );
}

/// Anything else under `/orgs`: the 404 page.
async fn not_found(ui: web::Data<Ui>) -> HttpResponse {
    ui.error_page(&no_such_page(), None)
}

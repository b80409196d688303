//! `…/slack/summary/preview` and `…/slack/summary/send` (role `admin`): the weekly summary
//! of the last seven days shown without sending it, or sent now
//! (`services::slack_config::summary`).

use actix_web::{post, web, HttpResponse};

use super::auth::Authenticated;
use super::error::ApiError;
use super::responses::{BadRequest, Conflict, Denied, NotFound};
use super::slack_settings::{org_scope, project_scope};
use crate::services::slack_config::{self as svc, Scope, SummaryPreview};
use crate::state::AppState;

#[utoipa::path(
    tag = "weekly summary",
    params(("org" = String, Path, description = "organization id")),
    responses(
        (status = 200, description = "The summary of the last 7 days of all the organization's projects; nothing is sent", body = SummaryPreview),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/slack/summary/preview")]
pub async fn preview_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<SummaryPreview>, ApiError> {
    let scope = Scope::Org(org_scope(&auth, &path)?);
    Ok(web::Json(
        svc::preview_summary(&state.services, &scope).await?,
    ))
}

#[utoipa::path(
    tag = "weekly summary",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
    ),
    responses(
        (status = 200, description = "The project's summary of the last 7 days; nothing is sent", body = SummaryPreview),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/projects/{project}/slack/summary/preview")]
pub async fn preview_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<SummaryPreview>, ApiError> {
    let (org, project) = project_scope(&auth, &path.0, &path.1)?;
    let scope = Scope::Project(org, project);
    Ok(web::Json(
        svc::preview_summary(&state.services, &scope).await?,
    ))
}

#[utoipa::path(
    tag = "weekly summary",
    params(("org" = String, Path, description = "organization id")),
    responses(
        (status = 202, description = "Queued to the organization's target channels"),
        BadRequest, Denied, NotFound, Conflict,
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/slack/summary/send")]
pub async fn send_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let scope = Scope::Org(org_scope(&auth, &path)?);
    svc::send_summary_now(&state.services, &auth.0, &scope).await?;
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(
    tag = "weekly summary",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
    ),
    responses(
        (status = 202, description = "Queued to the project's effective target channels"),
        BadRequest, Denied, NotFound, Conflict,
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/projects/{project}/slack/summary/send")]
pub async fn send_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, project) = project_scope(&auth, &path.0, &path.1)?;
    svc::send_summary_now(&state.services, &auth.0, &Scope::Project(org, project)).await?;
    Ok(HttpResponse::Accepted().finish())
}

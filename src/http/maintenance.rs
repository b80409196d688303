//! `…/slack/maintenance-windows` of an organization or a project: created, listed and
//! deleted by admins (`services::slack_config` does the work).

use actix_web::{delete, get, post, web, HttpResponse};
use serde::Serialize;

use super::auth::Authenticated;
use super::error::ApiError;
use super::json::ApiJson;
use super::params;
use super::responses::{BadRequest, Denied, NotFound, PayloadTooLarge, Unprocessable};
use crate::actors::slack_sender::Wake;
use crate::domain::access::{AdminTarget, Principal};
use crate::domain::maintenance::WindowInput;
use crate::services::slack_config::{self, ConfigError, Scope, WindowView};
use crate::state::AppState;

/// `GET …/slack/maintenance-windows`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WindowList {
    pub windows: Vec<WindowView>,
}

fn org_scope(auth: &Authenticated, org: &str) -> Result<Scope, ApiError> {
    let org = params::org(org)?;
    auth.require_admin(AdminTarget::Org(&org))?;
    Ok(Scope::Org(org))
}

fn project_scope(auth: &Authenticated, (org, project): (&str, &str)) -> Result<Scope, ApiError> {
    let org = params::org(org)?;
    let project = params::project(project)?;
    auth.require_admin(AdminTarget::Project(&org, &project))?;
    Ok(Scope::Project(org, project))
}

fn window_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::param("id", "id must be a maintenance window's id (a number)"))
}

async fn list(state: &AppState, scope: &Scope) -> Result<web::Json<WindowList>, ApiError> {
    let windows = slack_config::list_windows(&state.services, scope).await?;
    Ok(web::Json(WindowList { windows }))
}

async fn create(
    state: &AppState,
    auth: &Authenticated,
    scope: &Scope,
    body: WindowInput,
) -> Result<HttpResponse, ApiError> {
    let view = slack_config::create_window(&state.services, &auth.0, scope, body).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Deletes a window and wakes the sender for what its release queued (the API and the web
/// UI both delete through here).
pub(crate) async fn delete_and_wake(
    state: &AppState,
    admin: &Principal,
    scope: &Scope,
    id: i64,
) -> Result<(), ConfigError> {
    let channels = slack_config::delete_window(&state.services, admin, scope, id).await?;
    if !channels.is_empty() {
        state.actors.sender().do_send(Wake { channels });
    }
    Ok(())
}

async fn remove(
    state: &AppState,
    auth: &Authenticated,
    scope: &Scope,
    id: i64,
) -> Result<HttpResponse, ApiError> {
    delete_and_wake(state, &auth.0, scope, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    tag = "maintenance windows",
    operation_id = "list_org_maintenance_windows",
    params(("org" = String, Path, description = "organization id")),
    responses(
        (status = 200, description = "The organization's own windows (they apply to all its projects)", body = WindowList),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org}/slack/maintenance-windows")]
pub async fn list_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<WindowList>, ApiError> {
    let scope = org_scope(&auth, &path)?;
    list(&state, &scope).await
}

#[utoipa::path(
    tag = "maintenance windows",
    operation_id = "create_org_maintenance_window",
    params(("org" = String, Path, description = "organization id")),
    request_body = WindowInput,
    responses(
        (status = 201, description = "Created", body = WindowView),
        BadRequest, Denied, NotFound, PayloadTooLarge, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/slack/maintenance-windows")]
pub async fn create_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ApiJson<WindowInput>,
) -> Result<HttpResponse, ApiError> {
    let scope = org_scope(&auth, &path)?;
    create(&state, &auth, &scope, body.0).await
}

#[utoipa::path(
    tag = "maintenance windows",
    operation_id = "delete_org_maintenance_window",
    params(
        ("org" = String, Path, description = "organization id"),
        ("id" = i64, Path, description = "the window's id"),
    ),
    responses(
        (status = 204, description = "Deleted; an incident it held that is still failing is posted now"),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{org}/slack/maintenance-windows/{id}")]
pub async fn delete_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let scope = org_scope(&auth, &path.0)?;
    let id = window_id(&path.1)?;
    remove(&state, &auth, &scope, id).await
}

#[utoipa::path(
    tag = "maintenance windows",
    operation_id = "list_project_maintenance_windows",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
    ),
    responses(
        (status = 200, description = "The project's own windows (the organization's apply too)", body = WindowList),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org}/projects/{project}/slack/maintenance-windows")]
pub async fn list_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<WindowList>, ApiError> {
    let scope = project_scope(&auth, (&path.0, &path.1))?;
    list(&state, &scope).await
}

#[utoipa::path(
    tag = "maintenance windows",
    operation_id = "create_project_maintenance_window",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
    ),
    request_body = WindowInput,
    responses(
        (status = 201, description = "Created", body = WindowView),
        BadRequest, Denied, NotFound, PayloadTooLarge, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/projects/{project}/slack/maintenance-windows")]
pub async fn create_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: ApiJson<WindowInput>,
) -> Result<HttpResponse, ApiError> {
    let scope = project_scope(&auth, (&path.0, &path.1))?;
    create(&state, &auth, &scope, body.0).await
}

#[utoipa::path(
    tag = "maintenance windows",
    operation_id = "delete_project_maintenance_window",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
        ("id" = i64, Path, description = "the window's id"),
    ),
    responses(
        (status = 204, description = "Deleted; an incident it held that is still failing is posted now"),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{org}/projects/{project}/slack/maintenance-windows/{id}")]
pub async fn delete_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let scope = project_scope(&auth, (&path.0, &path.1))?;
    let id = window_id(&path.2)?;
    remove(&state, &auth, &scope, id).await
}

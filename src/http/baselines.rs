//! `…/projects/{project}/slack/baselines`: each definition's pinned baseline run, listed,
//! pinned and unpinned by admins (`services::slack_config::baselines`).

use actix_web::{delete, get, put, web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::auth::Authenticated;
use super::error::ApiError;
use super::json::ApiJson;
use super::params;
use super::responses::{BadRequest, Denied, NotFound, PayloadTooLarge, Unprocessable};
use crate::domain::access::AdminTarget;
use crate::services::slack_config::{self, BaselineView, Scope};
use crate::state::AppState;

/// `GET …/slack/baselines`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BaselineList {
    pub baselines: Vec<BaselineView>,
}

/// `PUT …/slack/baselines/{definition}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineBody {
    /// A run of this definition that reached `report_available` with a final summary.
    pub load_test_id: String,
}

fn project_scope(auth: &Authenticated, (org, project): (&str, &str)) -> Result<Scope, ApiError> {
    let org = params::org(org)?;
    let project = params::project(project)?;
    auth.require_admin(AdminTarget::Project(&org, &project))?;
    Ok(Scope::Project(org, project))
}

/// A definition in a path: its id, or a run name (1 to 1,000 characters).
fn definition(raw: &str) -> Result<&str, ApiError> {
    if raw.is_empty() || raw.chars().count() > 1000 || raw.chars().any(char::is_control) {
        return Err(ApiError::param(
            "definition",
            "definition must be a definition id or a load test name (1 to 1,000 characters)",
        ));
    }
    Ok(raw)
}

#[utoipa::path(
    tag = "baselines",
    operation_id = "list_baselines",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
    ),
    responses(
        (status = 200, description = "The pinned baseline of each definition", body = BaselineList),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org}/projects/{project}/slack/baselines")]
pub async fn list(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<BaselineList>, ApiError> {
    let scope = project_scope(&auth, (&path.0, &path.1))?;
    let baselines = slack_config::list_baselines(&state.services, &scope).await?;
    Ok(web::Json(BaselineList { baselines }))
}

#[utoipa::path(
    tag = "baselines",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
        ("definition" = String, Path, description = "the definition's id, or the load test name of runs without one"),
    ),
    operation_id = "put_baseline",
    request_body = BaselineBody,
    responses(
        (status = 200, description = "Pinned: later runs of the definition are compared with this one", body = BaselineView),
        BadRequest, Denied, NotFound, PayloadTooLarge, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[put("/orgs/{org}/projects/{project}/slack/baselines/{definition}")]
pub async fn put(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    body: ApiJson<BaselineBody>,
) -> Result<web::Json<BaselineView>, ApiError> {
    let scope = project_scope(&auth, (&path.0, &path.1))?;
    let definition = definition(&path.2)?;
    let view = slack_config::set_baseline(
        &state.services,
        &auth.0,
        &scope,
        definition,
        &body.0.load_test_id,
    )
    .await?;
    Ok(web::Json(view))
}

#[utoipa::path(
    tag = "baselines",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
        ("definition" = String, Path, description = "the definition's id, or the load test name of runs without one"),
    ),
    operation_id = "delete_baseline",
    responses(
        (status = 204, description = "Unpinned: later runs compare with their previous run"),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{org}/projects/{project}/slack/baselines/{definition}")]
pub async fn remove(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let scope = project_scope(&auth, (&path.0, &path.1))?;
    let definition = definition(&path.2)?;
    slack_config::remove_baseline(&state.services, &auth.0, &scope, definition).await?;
    Ok(HttpResponse::NoContent().finish())
}

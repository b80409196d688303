//! Registry (role `service`): organizations and projects as the orchestrator knows them.

use actix_web::http::StatusCode;
use actix_web::{put, web};
use serde::{Deserialize, Serialize};

use super::auth::Authenticated;
use super::error::ApiError;
use super::json::ApiJson;
use super::params;
use super::responses::{BadRequest, Denied, NotFound, PayloadTooLarge, Unprocessable};
use crate::services::registry::{self, Saved};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    name: String,
}

/// An organization or project as registered.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Registered {
    pub id: String,
    pub name: String,
    /// The organization (projects only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

/// 201 when the id was new, 200 when it was renamed or unchanged.
fn saved(saved: Saved, body: Registered) -> (web::Json<Registered>, StatusCode) {
    let status = match saved {
        Saved::Created => StatusCode::CREATED,
        Saved::Updated => StatusCode::OK,
    };
    (web::Json(body), status)
}

#[utoipa::path(
    tag = "registry",
    params(("org" = String, Path, description = "organization id")),
    request_body = NameBody,
    responses(
        (status = 200, description = "Updated", body = Registered),
        (status = 201, description = "Created", body = Registered),
        BadRequest, Denied, PayloadTooLarge, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[put("/orgs/{org}")]
pub async fn put_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ApiJson<NameBody>,
) -> Result<(web::Json<Registered>, StatusCode), ApiError> {
    auth.require_service()?;
    let org = params::org(&path)?;
    let name = params::display_name("name", &body.0.name)?;
    let saved_as = registry::save_org(&state.services, &org, &name).await?;
    let body = Registered {
        id: org.to_string(),
        name,
        org: None,
    };
    Ok(saved(saved_as, body))
}

#[utoipa::path(
    tag = "registry",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
    ),
    request_body = NameBody,
    responses(
        (status = 200, description = "Updated", body = Registered),
        (status = 201, description = "Created", body = Registered),
        BadRequest, Denied, NotFound, PayloadTooLarge, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[put("/orgs/{org}/projects/{project}")]
pub async fn put_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: ApiJson<NameBody>,
) -> Result<(web::Json<Registered>, StatusCode), ApiError> {
    auth.require_service()?;
    let org = params::org(&path.0)?;
    let project = params::project(&path.1)?;
    let name = params::display_name("name", &body.0.name)?;
    let saved_as = registry::save_project(&state.services, &org, &project, &name).await?;
    let body = Registered {
        id: project.to_string(),
        name,
        org: Some(org.to_string()),
    };
    Ok(saved(saved_as, body))
}

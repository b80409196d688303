//! Registry (role `service`): organizations and projects as the orchestrator knows them.

use actix_web::{put, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::auth::Authenticated;
use super::error::ApiError;
use super::json::ApiJson;
use super::params;
use crate::db::models::organization::Organization;
use crate::db::models::project::Project;
use crate::db::write_tx;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    name: String,
}

#[utoipa::path(tag = "registry", params(("org" = String, Path, description = "organization id")), request_body = NameBody, responses((status = 200, description = "Updated", body = super::openapi::Registered), (status = 201, description = "Created", body = super::openapi::Registered), (status = 400, body = super::openapi::ErrorBody), (status = 401, body = super::openapi::ErrorBody), (status = 403, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)), security(("bearer" = [])))]
#[put("/api/v1/orgs/{org}")]
pub async fn put_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ApiJson<NameBody>,
) -> Result<HttpResponse, ApiError> {
    auth.require_service()?;
    let org = params::org(&path)?;
    let name = params::display_name("name", &body.0.name)?;
    let (id, stored_name) = (org.to_string(), name.clone());
    let created = state
        .db
        .run(move |conn| {
            write_tx(conn, |c| Organization::save(c, &id, &stored_name)).map_err(ApiError::from)
        })
        .await?;
    let body = json!({"id": org, "name": name});
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

#[utoipa::path(tag = "registry", params(("org" = String, Path, description = "organization id"), ("project" = String, Path, description = "project id")), request_body = NameBody, responses((status = 200, description = "Updated", body = super::openapi::Registered), (status = 201, description = "Created", body = super::openapi::Registered), (status = 400, body = super::openapi::ErrorBody), (status = 401, body = super::openapi::ErrorBody), (status = 403, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody)), security(("bearer" = [])))]
#[put("/api/v1/orgs/{org}/projects/{project}")]
pub async fn put_project(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: ApiJson<NameBody>,
) -> Result<HttpResponse, ApiError> {
    auth.require_service()?;
    let org = params::org(&path.0)?;
    let project = params::project(&path.1)?;
    let name = params::display_name("name", &body.0.name)?;
    let (o, p, n) = (org.to_string(), project.to_string(), name.clone());
    let created = state
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                if !Organization::exists(c, &o)? {
                    return Err(ApiError::not_found(format!(
                        "organization {o:?} is not registered"
                    )));
                }
                Ok(Project::save(c, &o, &p, &n)?)
            })
        })
        .await?;
    let body = json!({"id": project, "org": org, "name": name});
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

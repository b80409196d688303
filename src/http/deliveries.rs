//! The delivery log's routes (role `admin`): a project's log, an organization's across all
//! its projects, and ending a mute; the log itself is [`crate::services::delivery_log`],
//! the sentence each failure reason reads as `crate::domain::delivery_reason`.

use actix_web::{delete, get, web};
use serde::{Deserialize, Serialize};

use super::auth::Authenticated;
use super::error::ApiError;
use super::params;
use super::responses::{BadRequest, Denied, NotFound, Unprocessable};
use crate::actors::slack_sender::Wake;
use crate::domain::access::AdminTarget;
use crate::domain::delivery_status::DeliveryStatus;
use crate::domain::ids::ProjectId;
use crate::services::delivery_log::{self, DeliveryLog, LogOf};
use crate::services::slack_config::{self, Scope};
use crate::state::AppState;

/// Most entries one request returns.
pub const MAX_LIMIT: i64 = 500;

#[derive(Deserialize)]
pub struct LogQuery {
    limit: Option<String>,
}

#[derive(Deserialize)]
pub struct OrgLogQuery {
    limit: Option<String>,
    status: Option<String>,
    project: Option<String>,
}

/// `limit`: 1 to [`MAX_LIMIT`], default 50.
fn parse_limit(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw {
        None => Ok(50),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::param(
                "limit",
                format!("limit must be a number from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

/// A `status` filter: one of the delivery statuses.
pub fn parse_status(raw: Option<&str>) -> Result<Option<DeliveryStatus>, ApiError> {
    match raw {
        None | Some("") => Ok(None),
        Some(s) => DeliveryStatus::parse(s).map(Some).ok_or_else(|| {
            let all: Vec<&str> = DeliveryStatus::ALL.iter().map(|v| v.as_str()).collect();
            ApiError::field(
                "status",
                format!("status must be one of {}", all.join(", ")),
            )
        }),
    }
}

#[utoipa::path(
    tag = "slack settings",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
    ),
    responses(
        (status = 200, description = "Newest first", body = DeliveryLog),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org}/projects/{project}/slack/deliveries")]
pub async fn list(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<LogQuery>,
) -> Result<web::Json<DeliveryLog>, ApiError> {
    let org = params::org(&path.0)?;
    let project = params::project(&path.1)?;
    auth.require_admin(AdminTarget::Project(&org, &project))?;
    let limit = parse_limit(query.limit.as_deref())?;
    let log =
        delivery_log::list(&state.services, LogOf::Project(org, project), None, limit).await?;
    Ok(web::Json(log))
}

/// `DELETE …/slack/mutes/{scenario}` answers this.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MuteEnded {
    pub scenario_id: String,
    pub ended: bool,
}

#[utoipa::path(
    tag = "slack settings",
    params(
        ("org" = String, Path, description = "organization id"),
        ("project" = String, Path, description = "project id"),
        ("scenario_id" = String, Path, description = "monitoring scenario id"),
    ),
    responses(
        (status = 200, description = "The mute ended: the incident's cards show it, its threads say who ended it, its changes are sent again", body = MuteEnded),
        BadRequest, Denied, NotFound,
    ),
    security(("bearer" = []))
)]
#[delete("/orgs/{org}/projects/{project}/slack/mutes/{scenario_id}")]
pub async fn end_mute(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<web::Json<MuteEnded>, ApiError> {
    let org = params::org(&path.0)?;
    let project = params::project(&path.1)?;
    auth.require_admin(AdminTarget::Project(&org, &project))?;
    let scope = Scope::Project(org, project);
    let channels = slack_config::end_mute(&state.services, &auth.0, &scope, &path.2).await?;
    if !channels.is_empty() {
        state.actors.sender().do_send(Wake { channels });
    }
    Ok(web::Json(MuteEnded {
        scenario_id: path.2.clone(),
        ended: true,
    }))
}

#[utoipa::path(
    tag = "slack settings",
    params(
        ("org" = String, Path, description = "organization id"),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
        ("status" = Option<String>, Query, description = "pending, sent, failed or skipped"),
        ("project" = Option<String>, Query, description = "only this project's deliveries"),
    ),
    responses(
        (status = 200, description = "Newest first, across the organization and all its projects", body = DeliveryLog),
        BadRequest, Denied, NotFound, Unprocessable,
    ),
    security(("bearer" = []))
)]
#[get("/orgs/{org}/slack/deliveries")]
pub async fn list_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<OrgLogQuery>,
) -> Result<web::Json<DeliveryLog>, ApiError> {
    let org = params::org(&path)?;
    auth.require_admin(AdminTarget::Org(&org))?;
    let limit = parse_limit(query.limit.as_deref())?;
    let status = parse_status(query.status.as_deref())?;
    let project = match query.project.as_deref() {
        None | Some("") => None,
        Some(p) => Some(
            ProjectId::parse(p)
                .map_err(|e| ApiError::field("project", format!("project id {e}")))?,
        ),
    };
    let log = delivery_log::list(&state.services, LogOf::Org(org, project), status, limit).await?;
    Ok(web::Json(log))
}

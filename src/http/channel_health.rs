//! `POST /api/v1/orgs/{org}/slack/channel-check` (role `admin`): checks the organization's
//! target channels with Slack now instead of waiting for the periodic check.

use actix_web::{post, web, HttpResponse};
use serde_json::json;

use super::auth::Authenticated;
use super::error::ApiError;
use super::params;
use crate::actors::channel_health::CheckNow;
use crate::domain::access::AdminTarget;
use crate::services::slack_config as svc;
use crate::state::AppState;

/// Checks every target channel of the organization and its projects; answers with what
/// the check found and the organization's channel warnings.
#[utoipa::path(
    tag = "slack settings",
    params(("org" = String, Path, description = "organization id")),
    responses(
        (status = 200, description = "Check done", body = super::openapi::ChannelCheckResult),
        (status = 401, body = super::openapi::ErrorBody), (status = 403, body = super::openapi::ErrorBody),
        (status = 404, body = super::openapi::ErrorBody), (status = 503, body = super::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/orgs/{org}/slack/channel-check")]
pub async fn check_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = params::org(&path)?;
    auth.require_admin(AdminTarget::Org(&org))?;
    // 404 before asking Slack anything.
    svc::org_view(&state, &org).await?;
    let summary = state
        .channel_health
        .send(CheckNow {
            org: Some(org.to_string()),
        })
        .await
        .map_err(|_| ApiError::Unavailable("the channel checker is not running".into()))??;
    let view = svc::org_view(&state, &org).await?;
    Ok(HttpResponse::Ok().json(json!({
        "checked": summary.checked,
        "problems": summary.problems,
        "errors": summary.errors,
        "channel_warnings": view.channel_warnings,
    })))
}

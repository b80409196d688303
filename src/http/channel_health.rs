//! `POST /api/v1/orgs/{org}/slack/channel-check` (role `admin`): checks the organization's
//! target channels with Slack now instead of waiting for the periodic check.

use actix_web::{post, web};
use serde::Serialize;

use super::auth::Authenticated;
use super::error::ApiError;
use super::params;
use super::responses::{sorted_keys, BadRequest, Denied, NotFound, Unavailable};
use crate::actors::channel_health::CheckNow;
use crate::domain::access::AdminTarget;
use crate::services::slack_config as svc;
use crate::state::AppState;

/// What the check found. (Fields in alphabetical order, the order of the wire format.)
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelCheckResult {
    /// The organization's channel warnings after the check.
    #[serde(serialize_with = "sorted_keys")]
    pub channel_warnings: Vec<svc::ChannelWarning>,
    /// Channels Slack was asked about.
    pub checked: usize,
    /// Channels that could not be checked.
    pub errors: usize,
    /// Of those checked, archived, deleted/not found or private ones.
    pub problems: usize,
}

/// Checks every target channel of the organization and its projects; answers with what
/// the check found and the organization's channel warnings.
#[utoipa::path(
    tag = "slack settings",
    params(("org" = String, Path, description = "organization id")),
    responses(
        (status = 200, description = "Check done", body = ChannelCheckResult),
        BadRequest, Denied, NotFound, Unavailable,
    ),
    security(("bearer" = []))
)]
#[post("/orgs/{org}/slack/channel-check")]
pub async fn check_org(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<ChannelCheckResult>, ApiError> {
    let org = params::org(&path)?;
    auth.require_admin(AdminTarget::Org(&org))?;
    // 404 before asking Slack anything.
    svc::org_view(&state.services, &org).await?;
    let summary = state
        .channel_health
        .send(CheckNow {
            org: Some(org.to_string()),
        })
        .await
        .map_err(|_| ApiError::Unavailable("the channel checker is not running".into()))??;
    let view = svc::org_view(&state.services, &org).await?;
    Ok(web::Json(ChannelCheckResult {
        channel_warnings: view.channel_warnings,
        checked: summary.checked,
        errors: summary.errors,
        problems: summary.problems,
    }))
}

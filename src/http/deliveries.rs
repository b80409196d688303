//! The delivery log's routes (role `admin`): a project's log, an organization's across all
//! its projects, and ending a mute; the log itself is [`crate::services::delivery_log`].
//! Here too, for now: [`error_message`], the sentence each failure reason reads as.

use actix_web::{delete, get, web};
use serde::{Deserialize, Serialize};

use super::auth::Authenticated;
use super::error::ApiError;
use super::params;
use super::responses::{BadRequest, Denied, NotFound, Unprocessable};
use crate::actors::slack_sender::Wake;
use crate::db::models::delivery::DeliveryStatus;
use crate::domain::access::AdminTarget;
use crate::domain::ids::ProjectId;
use crate::pipeline::ingest::STALE_REASON_PREFIX;
use crate::services::delivery_log::{self, DeliveryLog, LogOf};
use crate::services::slack_config::{self, Scope};
use crate::slack::{classify, ErrorClass};
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

/// What a stored delivery error (a Slack error code or one of our reasons) means for the
/// admin, and what to do about it: one sentence per class of reason, for the API's
/// `error_message` and the web UI. The raw reason stays in `error`.
pub fn error_message(reason: &str) -> String {
    let reason = reason.trim();
    if let Some(rest) = reason.strip_prefix("gave up after ") {
        let (attempts, code) = rest.split_once(':').unwrap_or((rest, ""));
        let code = code.trim();
        return format!(
            "Not sent: Slack kept failing ({code}) and the delivery was given up {attempts}. \
             Check Slack's status page; once Slack works again, new notifications are sent \
             (use Send Test Message to check)."
        );
    }
    if let Some(code) = reason.strip_prefix("the Slack integration is broken:") {
        return format!(
            "Not sent: Slack no longer accepts the integration ({}). Set up the Slack \
             integration again with \"Set Up Slack Integration\".",
            code.trim()
        );
    }
    if let Some(missing) = reason
        .strip_prefix("configuration incomplete:")
        .map(|m| m.trim().trim_end_matches("missing").trim())
    {
        let what: Vec<&str> = missing
            .split(',')
            .map(|m| match m.trim() {
                "integration" => "set up the Slack integration (\"Set Up Slack Integration\")",
                "active_integration" => {
                    "set up the Slack integration again (the current one was revoked in Slack)"
                }
                "target_channels" => "enter at least one target channel",
                _ => "complete the Slack settings",
            })
            .collect();
        return format!(
            "Not sent: the Slack settings were incomplete when this event arrived. To receive \
             the next ones, {}.",
            what.join(" and ")
        );
    }
    if let Some(rest) = reason.strip_prefix(STALE_REASON_PREFIX) {
        return format!(
            "Skipped: this result arrived late ({}), so it changed nothing and sent nothing. \
             Nothing to do.",
            rest.trim()
        );
    }
    if let Some(rest) = reason.strip_prefix("muted by ") {
        return format!(
            "Skipped: the incident was muted in Slack by {rest}. Its recovery is still sent. \
             Click \"Unmute\" on the incident's card, or end the mute on the project's Slack page."
        );
    }
    match reason {
        "sending is disabled for this project" => {
            return "Not sent: \"Send messages\" is disabled for this project. Enable it on the \
                    project's Slack page to receive notifications."
                .to_owned()
        }
        "sending is disabled for this organization" => {
            return "Not sent: \"Send messages\" is disabled for the organization. Enable it on \
                    the organization's Slack page to receive notifications."
                .to_owned()
        }
        "superseded by a newer intermediate report" => {
            return "Skipped: a newer intermediate report of the same load test replaced it \
                    while the channel was busy. Nothing to do."
                .to_owned()
        }
        "no Slack integration" | "the Slack integration was removed" => {
            return "Not sent: the Slack integration was removed before this message went out. \
                    Set up the Slack integration again to receive the next notifications."
                .to_owned()
        }
        _ => {}
    }
    match classify(reason) {
        ErrorClass::Channel => match reason {
            "channel_not_found" => format!(
                "Not sent: Slack cannot find this channel ({reason}); it was deleted or made \
                 private. Pick an existing public channel under Target Channels."
            ),
            "is_archived" => format!(
                "Not sent: the channel is archived in Slack ({reason}). Unarchive it in Slack \
                 or pick another channel under Target Channels."
            ),
            _ => format!(
                "Not sent: Slack refused to post in this channel ({reason}). Check that it \
                 exists, is public and not archived, or pick another channel under Target \
                 Channels."
            ),
        },
        ErrorClass::IntegrationBroken => format!(
            "Not sent: Slack no longer accepts the integration ({reason}). Set up the Slack \
             integration again with \"Set Up Slack Integration\"."
        ),
        ErrorClass::RetryLater => format!(
            "Slack was busy or could not be reached ({reason}); the message is retried \
             automatically. Nothing to do."
        ),
        ErrorClass::BadMessage => format!(
            "Not sent: Slack refused the message itself ({reason}). Ask your XTC operator to \
             check the service's logs."
        ),
        ErrorClass::Other => format!(
            "Not sent: {reason}. If this keeps happening, ask your XTC operator to check the \
             service's logs."
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_of_reason_reads_as_a_sentence_with_what_to_do() {
        for (reason, expect) in [
            ("is_archived", "archived in Slack"),
            ("channel_not_found", "cannot find this channel"),
            (
                "configuration incomplete: active_integration missing",
                "set up the Slack integration again",
            ),
            (
                "configuration incomplete: integration, target_channels missing",
                "at least one target channel",
            ),
            ("sending is disabled for this project", "Enable it"),
            (
                "the Slack integration is broken: token_revoked",
                "Set up the Slack integration again",
            ),
            ("token_revoked", "Set up the Slack integration again"),
            (
                "gave up after 6 attempts: http_503",
                "Slack kept failing (http_503)",
            ),
            ("ratelimited", "retried automatically"),
            ("superseded by a newer intermediate report", "Nothing to do"),
            (
                "the Slack integration was removed",
                "Set up the Slack integration again",
            ),
            ("msg_too_long", "operator"),
            ("muted by sam until recovered", "Unmute"),
            ("something new", "operator"),
        ] {
            let text = error_message(reason);
            assert!(text.contains(expect), "{reason}: {text}");
            assert!(text.ends_with('.'), "{reason}: {text}");
        }
    }
}

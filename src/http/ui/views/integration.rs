//! The Slack Integration rows of a settings page: installed or not, where it comes from,
//! why Slack stopped accepting it, and how far its channel directory is.

use serde::Serialize;

use super::form::source_label;
use crate::domain::settings::{IntegrationStatus, Source};
use crate::services::slack_config::IntegrationView;

/// The Slack Integration rows.
#[derive(Serialize)]
pub struct IntegrationBox {
    pub(super) done: bool,
    /// Installed and not revoked: setting up again is then a side action.
    pub(super) active: bool,
    pub(super) status: &'static str,
    pub(super) team_name: Option<String>,
    pub(super) installed_at: Option<String>,
    pub(super) revoked: bool,
    pub(super) reason: Option<String>,
    /// Why Slack stopped accepting a revoked installation, as a sentence.
    pub(super) reason_text: Option<String>,
    pub(super) source: Option<&'static str>,
    /// Whether this page's scope has its own installation (so it can be removed here).
    pub(super) own: bool,
    /// How far the workspace's channel directory is, as a sentence.
    pub(super) directory: Option<String>,
}

impl IntegrationBox {
    pub(super) fn new(i: Option<&IntegrationView>, source: Option<Source>, own: bool) -> Self {
        let revoked = i.is_some_and(|i| i.status == IntegrationStatus::Revoked);
        let reason = i.and_then(|i| i.status_reason.clone());
        Self {
            done: i.is_some(),
            active: i.is_some() && !revoked,
            status: match i {
                Some(_) if revoked => "Revoked",
                Some(_) => "Done",
                None => "Not configured",
            },
            team_name: i.map(|i| i.team_name.clone()),
            installed_at: i.map(|i| i.installed_at.format("%Y-%m-%d %H:%M UTC").to_string()),
            revoked,
            reason_text: revoked.then(|| revoked_reason(reason.as_deref())),
            reason,
            source: i.and(source).map(source_label),
            own,
            directory: i.and_then(|i| i.channel_directory.as_ref()).map(|d| {
                if d.status == "ready" {
                    format!(
                        "Channel directory: {} channels of the workspace known; names are resolved from it.",
                        d.channels
                    )
                } else {
                    format!(
                        "Channel directory: being built ({} channels listed so far, {} pages); \
                         a channel name not listed yet shows as \"resolving\" until it is.",
                        d.channels, d.pages
                    )
                }
            }),
        }
    }
}

/// Why a revoked installation stopped working, from the reason Slack gave.
pub(super) fn revoked_reason(code: Option<&str>) -> String {
    match code {
        Some("token_revoked") => "Its token was revoked in Slack.".to_owned(),
        Some("app_uninstalled") | Some("app_removed") => {
            "The app was removed from the Slack workspace.".to_owned()
        }
        Some("account_inactive") => {
            "The Slack account that installed the app was deactivated.".to_owned()
        }
        Some("invalid_auth") | Some("not_authed") => {
            "Slack no longer recognizes its token.".to_owned()
        }
        Some("token_expired") => "Its token expired.".to_owned(),
        Some("missing_scope") | Some("no_permission") => {
            "It lacks a permission the app needs.".to_owned()
        }
        Some("team_access_not_granted") | Some("access_denied") => {
            "The workspace withdrew the app's access.".to_owned()
        }
        _ => "Slack no longer accepts it.".to_owned(),
    }
}

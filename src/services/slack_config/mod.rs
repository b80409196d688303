//! Slack configuration of organizations and projects, one file per job: [`views`],
//! [`update`], [`channel_check`], [`install`], [`remove`], [`test_message`], [`mutes`],
//! [`maintenance`], [`baselines`], [`summary`]. Here: what they share (the
//! scope, the error type, cache invalidation, existence checks).
//!
//! The resolution rules live in [`crate::domain::settings::resolve`]; this module only
//! loads what they need ([`load_effective`]) and turns results into views. Every change is
//! written to the audit log in the same transaction as the change itself.

use serde::Serialize;

use super::Services;
use crate::crypto::CryptoError;
use crate::db::models::installation::{Installation, ORG_LEVEL};
use crate::db::models::organization::Organization;
use crate::db::models::project::Project;
use crate::db::{DbConnection, DbError};
use crate::domain::channel::ChannelError;
use crate::domain::ids::{OrgId, ProjectId};
use crate::domain::settings::IntegrationStatus;
use crate::pipeline::effective::load_effective;

mod baselines;
mod channel_check;
mod install;
mod maintenance;
mod mutes;
mod remove;
mod summary;
mod test_message;
mod update;
mod views;

pub use baselines::{
    list_baselines, list_definitions, remove_baseline, set_baseline, BaselineView, DefinitionView,
};
pub use install::{complete_oauth, start_install, CallbackFailure, CallbackParams};
pub use maintenance::{create_window, delete_window, list_windows, WindowView};
pub use mutes::end_mute;
pub use remove::{remove_integration, RevokeOutcome};
pub use summary::{preview_summary, send_summary_now, SummaryPreview};
pub use test_message::{send_test_message, TestResult};
pub use update::{
    delete_project_settings, put_project, update_org, OrgUpdate, ProjectUpdate, RuleInput,
};
pub use views::{
    org_view, project_view, ChannelWarning, IntegrationView, OrgView, ProjectView, RuleView,
    WarningView,
};

/// Bot scopes requested at install (API.md); `files:write` uploads report charts
/// ([`crate::domain::settings::FILES_WRITE`]; installations made before it was asked for
/// work without charts).
pub const BOT_SCOPES: &str = "chat:write,chat:write.public,channels:read,team:read,files:write";
/// How long an install state stays valid.
pub const STATE_TTL_MINUTES: i64 = 10;
/// Prefix of install states (makes them recognisable in logs and URLs).
pub(crate) const STATE_PREFIX: &str = "xst_";

// ---------------------------------------------------------------------------------------
// Scope and errors

/// What a configuration operation applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Org(OrgId),
    Project(OrgId, ProjectId),
}

impl Scope {
    pub fn org(&self) -> &OrgId {
        match self {
            Self::Org(o) | Self::Project(o, _) => o,
        }
    }

    pub fn project(&self) -> Option<&ProjectId> {
        match self {
            Self::Org(_) => None,
            Self::Project(_, p) => Some(p),
        }
    }

    fn project_str(&self) -> Option<&str> {
        self.project().map(ProjectId::as_str)
    }

    /// The web UI page of this scope's settings.
    pub fn settings_page(&self) -> String {
        match self {
            Self::Org(o) => format!("/orgs/{o}/slack"),
            Self::Project(o, p) => format!("/orgs/{o}/projects/{p}/slack"),
        }
    }

    fn from_row(org: &str, project: &str) -> Option<Self> {
        let org = OrgId::parse(org).ok()?;
        if project == ORG_LEVEL {
            Some(Self::Org(org))
        } else {
            Some(Self::Project(org, ProjectId::parse(project).ok()?))
        }
    }
}

/// Why a configuration operation failed (the HTTP layer turns it into its `ApiError`).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    NotFound(String),
    /// Target channels were refused (422 on field `target_channels`): every refused
    /// entry, and a message naming them all.
    #[error("{message}")]
    InvalidChannels {
        message: String,
        errors: Vec<ChannelProblem>,
    },
    /// A notification rule was refused (422 naming the field, e.g. `rules[1].events`).
    #[error("{message}")]
    InvalidRule { field: String, message: String },
    /// Another field was refused (422 naming it).
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error(
        "Slack app credentials are not configured: set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"
    )]
    SlackNotConfigured,
    #[error("{message}")]
    Incomplete {
        message: String,
        missing: Vec<&'static str>,
    },
    /// Slack could not be asked (unreachable, throttling, token refused).
    #[error("{0}")]
    SlackUnavailable(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("a stored Slack token cannot be decrypted")]
    Crypto(#[from] CryptoError),
    /// A message could not be rendered (a template's mistake, never the input's).
    #[error(transparent)]
    Render(#[from] crate::pipeline::render::RenderError),
}

impl From<diesel::result::Error> for ConfigError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// One refused target channel entry (`channel` is `None` for a problem of the whole
/// list, such as too many channels).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelProblem {
    pub channel: Option<String>,
    pub message: String,
}

impl ChannelProblem {
    fn new(channel: &str, message: String) -> Self {
        Self {
            channel: Some(channel.to_owned()),
            message,
        }
    }
}

impl From<&ChannelError> for ChannelProblem {
    fn from(e: &ChannelError) -> Self {
        Self {
            channel: e.entry().map(str::to_owned),
            message: e.to_string(),
        }
    }
}

impl ConfigError {
    /// 422 on `target_channels` for every refused entry: one message as is, several
    /// numbered in one message (each keeps its "only public channels" note).
    pub fn invalid_channels(errors: Vec<ChannelProblem>) -> Self {
        let message = match errors.as_slice() {
            [one] => one.message.clone(),
            many => format!(
                "{} problems with the target channels: {}",
                many.len(),
                many.iter()
                    .enumerate()
                    .map(|(i, e)| format!("({}) {}", i + 1, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        Self::InvalidChannels { message, errors }
    }
}

/// Passes `result` through; when it is a success, the pipeline stops using cached
/// settings of `org` (the ConfigResolver's cache).
pub(crate) fn settled<T, E>(services: &Services, org: &str, result: Result<T, E>) -> Result<T, E> {
    if result.is_ok() {
        services.effective.invalidate_org(org);
    }
    result
}

/// The installation that is effective for `scope`, when it is active.
pub(crate) fn active_installation(
    conn: &mut DbConnection,
    scope: &Scope,
) -> diesel::QueryResult<Option<Installation>> {
    let effective = load_effective(conn, scope.org().as_str(), scope.project_str())?;
    match effective.integration.value {
        Some(i) if i.status == IntegrationStatus::Active => {
            Installation::find_by_id(conn, &i.installation_id)
        }
        _ => Ok(None),
    }
}

/// 404 unless the organization (and project) are registered.
pub(crate) fn ensure_exists(conn: &mut DbConnection, scope: &Scope) -> Result<(), ConfigError> {
    let org = scope.org().as_str();
    if !Organization::exists(conn, org)? {
        return Err(ConfigError::NotFound(format!(
            "organization {org:?} is not registered"
        )));
    }
    if let Some(p) = scope.project_str() {
        if !Project::exists(conn, org, p)? {
            return Err(ConfigError::NotFound(format!(
                "project {p:?} of organization {org:?} is not registered"
            )));
        }
    }
    Ok(())
}

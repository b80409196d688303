//! Slack configuration of organizations and projects: settings, OAuth installation,
//! removal and test messages.
//!
//! The resolution rules live in [`crate::domain::settings::resolve`]; this module only
//! loads what they need ([`load_effective`]) and turns results into views. Every change is
//! written to the audit log in the same transaction as the change itself.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{json, Value};

use super::installed_channels;
use crate::crypto::{random_token, sha256_hex, Cipher, CryptoError};
use crate::db::models::audit::AuditEntry;
use crate::db::models::installation::{Installation, NewInstallation, ORG_LEVEL};
use crate::db::models::oauth_state::{OAuthState, StateProblem};
use crate::db::models::organization::Organization;
use crate::db::models::project::Project;
use crate::db::models::slack_channel::SlackChannel;
use crate::db::models::slack_settings::{OrgSlackSettings, ProjectSlackSettings};
use crate::db::{now, write_tx, DbConnection, DbError};
use crate::domain::access::Principal;
use crate::domain::channel::{ChannelError, ChannelInput, TargetChannel, MAX_TARGET_CHANNELS};
use crate::domain::ids::{OrgId, ProjectId};
use crate::domain::settings::{
    resolve, Effective, Integration, IntegrationStatus, OrgSettings, ProjectSettings, Source,
    Sourced,
};
use crate::http::error::ApiError;
use crate::slack::{self, ErrorClass, PostMessage, SlackError};
use crate::state::AppState;

/// Bot scopes requested at install (API.md).
pub const BOT_SCOPES: &str = "chat:write,chat:write.public,channels:read,team:read";
/// How long an install state stays valid.
pub const STATE_TTL_MINUTES: i64 = 10;
/// Prefix of install states (makes them recognisable in logs and URLs).
const STATE_PREFIX: &str = "xst_";

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

/// Why a configuration operation failed; converts into [`ApiError`] for the JSON API.
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
}

impl From<diesel::result::Error> for ConfigError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::NotFound(m) => ApiError::NotFound(m),
            ConfigError::InvalidChannels { message, errors } => ApiError::InvalidEntries {
                field: "target_channels".to_owned(),
                message,
                errors: errors.iter().map(|e| json!(e)).collect(),
            },
            ConfigError::SlackNotConfigured => ApiError::SlackNotConfigured,
            ConfigError::Incomplete { message, missing } => {
                ApiError::IncompleteConfig { message, missing }
            }
            ConfigError::SlackUnavailable(m) => ApiError::Unavailable(m),
            ConfigError::Db(e) => ApiError::from(e),
            ConfigError::Crypto(e) => ApiError::internal(e),
        }
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

// ---------------------------------------------------------------------------------------
// Views

/// An installation as the API shows it (never the token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IntegrationView {
    pub team_id: String,
    pub team_name: String,
    pub installed_at: DateTime<Utc>,
    pub status: IntegrationStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// While Slack is failing for this workspace (an outage): since when, and what it
    /// means. Notifications wait and are retried; nothing is lost within the retry window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_failing_since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl From<&Integration> for IntegrationView {
    fn from(i: &Integration) -> Self {
        Self {
            team_id: i.team_id.clone(),
            team_name: i.team_name.clone(),
            installed_at: i.installed_at,
            status: i.status,
            status_reason: i.status_reason.clone(),
            slack_failing_since: i.failing_since,
            warning: i.failing_since.map(|since| {
                format!(
                    "Slack has been failing for this workspace since {}; notifications are \
                     waiting and will be sent when Slack recovers.",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )
            }),
        }
    }
}

/// `GET /api/v1/orgs/{org}/slack`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OrgView {
    pub send_messages: bool,
    pub threads: bool,
    pub compact_messages: bool,
    /// Current names (`#name`), or IDs whose name is not known yet.
    pub target_channels: Vec<String>,
    pub integration: Option<IntegrationView>,
    /// An active integration and at least one target channel (rule 5).
    pub complete: bool,
    /// What a complete configuration lacks.
    pub missing: Vec<&'static str>,
    /// Target channels Slack reports as archived, deleted or private.
    pub channel_warnings: Vec<ChannelWarning>,
}

/// A target channel that cannot receive messages as configured (from `slack_channels`,
/// kept current by Slack events and the periodic channel health check).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChannelWarning {
    /// `#name` (current name) or the channel ID.
    pub channel: String,
    /// `archived`, `deleted` (or no longer visible to the app), `private`, or
    /// `not_found` (a name that could not be resolved in the installed workspace).
    pub problem: &'static str,
    /// What it means, for people.
    pub message: String,
}

/// A project's own values (`null` ones are inherited).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OwnView {
    pub send_messages: bool,
    pub threads: Option<bool>,
    pub compact_messages: Option<bool>,
    pub target_channels: Vec<String>,
    pub integration: Option<IntegrationView>,
}

/// A value and where it comes from.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SourcedView<T> {
    pub value: T,
    pub source: Source,
}

fn sourced<T, U>(s: &Sourced<T>, f: impl FnOnce(&T) -> U) -> SourcedView<U> {
    SourcedView {
        value: f(&s.value),
        source: s.source,
    }
}

/// The effective configuration of a project.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EffectiveView {
    pub send_messages: SourcedView<bool>,
    pub threads: SourcedView<bool>,
    pub compact_messages: SourcedView<bool>,
    pub target_channels: SourcedView<Vec<String>>,
    pub integration: SourcedView<Option<IntegrationView>>,
    pub complete: bool,
    pub missing: Vec<&'static str>,
    /// Effective target channels Slack reports as archived, deleted or private.
    pub channel_warnings: Vec<ChannelWarning>,
}

/// `GET /api/v1/orgs/{org}/projects/{project}/slack`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectView {
    pub own: Option<OwnView>,
    pub effective: EffectiveView,
}

/// One line of a test-message answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    pub channel: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `DELETE …/slack/integration` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// There was no installation.
    NothingInstalled,
    /// Slack revoked the token.
    Revoked,
    /// Another installation uses the same token; revoking it would break that one.
    SkippedShared,
    /// Slack could not revoke the token (the local data is removed anyway).
    Failed(String),
}

impl RevokeOutcome {
    pub fn as_str(&self) -> String {
        match self {
            Self::NothingInstalled => "nothing_installed".to_owned(),
            Self::Revoked => "revoked".to_owned(),
            Self::SkippedShared => "skipped_shared_token".to_owned(),
            Self::Failed(code) => format!("failed: {code}"),
        }
    }
}

/// Passes `result` through; when it is a success, the pipeline stops using cached
/// settings of `org` (the ConfigResolver's cache).
pub(crate) fn settled<T, E>(state: &AppState, org: &str, result: Result<T, E>) -> Result<T, E> {
    if result.is_ok() {
        state.pipeline.invalidate(org);
    }
    result
}

// ---------------------------------------------------------------------------------------
// Reading

/// The effective configuration of `project` in `org` (or of the organization itself with
/// `project = None`): org settings (defaults when none were saved), the project's own
/// settings, both installations, resolved by [`resolve`].
pub fn load_effective(
    conn: &mut DbConnection,
    org: &str,
    project: Option<&str>,
) -> diesel::QueryResult<Effective> {
    let org_settings = OrgSlackSettings::load(conn, org)?;
    let org_inst = Installation::find_by_scope(conn, org, None)?.map(|i| i.to_integration());
    let (own, own_inst) = match project {
        Some(p) => (
            ProjectSlackSettings::find_by_project(conn, org, p)?.map(|r| r.to_domain()),
            Installation::find_by_scope(conn, org, Some(p))?.map(|i| i.to_integration()),
        ),
        None => (None, None),
    };
    Ok(resolve(
        &org_settings,
        org_inst.as_ref(),
        own.as_ref(),
        own_inst.as_ref(),
    ))
}

/// The installation that is effective for `scope`, when it is active.
fn active_installation(
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
fn ensure_exists(conn: &mut DbConnection, scope: &Scope) -> Result<(), ConfigError> {
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

/// Display names of stored channels, with the current name where Slack told us one.
fn display_channels(
    conn: &mut DbConnection,
    channels: &[TargetChannel],
) -> diesel::QueryResult<Vec<String>> {
    let ids: Vec<String> = channels.iter().filter_map(|c| c.id.clone()).collect();
    let known = SlackChannel::find_by_channel_ids(conn, &ids)?;
    Ok(channels
        .iter()
        .map(|c| {
            c.id.as_ref()
                .and_then(|id| known.iter().find(|k| &k.channel_id == id))
                .map(|k| format!("#{}", k.name))
                .unwrap_or_else(|| c.display())
        })
        .collect())
}

/// Warnings for target channels that Slack reports as archived, deleted or private, and,
/// with an active `integration`, for names that could not be resolved in its workspace.
pub fn channel_warnings(
    conn: &mut DbConnection,
    channels: &[TargetChannel],
    integration: Option<&Integration>,
) -> diesel::QueryResult<Vec<ChannelWarning>> {
    let ids: Vec<String> = channels.iter().filter_map(|c| c.id.clone()).collect();
    let known = SlackChannel::find_by_channel_ids(conn, &ids)?;
    let mut out = Vec::new();
    if let Some(i) = integration.filter(|i| i.status == IntegrationStatus::Active) {
        for c in channels
            .iter()
            .filter(|c| c.id.is_none() && c.name.is_some())
        {
            let channel = c.display();
            out.push(ChannelWarning {
                message: format!(
                    "{channel} was not found as a public, active channel in the Slack workspace                      {}; messages to it fail. Create it there (or fix the name), or choose                      another target channel.",
                    i.team_name
                ),
                channel,
                problem: "not_found",
            });
        }
    }
    for id in &ids {
        let Some(k) = known.iter().find(|k| &k.channel_id == id) else {
            continue;
        };
        let Some(problem) = k.problem() else {
            continue;
        };
        let channel = format!("#{}", k.name);
        let message = match problem {
            "deleted" => format!(
                "{channel} was deleted in Slack or is no longer visible to the app; messages \
                 to it fail. Choose another target channel."
            ),
            "archived" => format!(
                "{channel} is archived in Slack; messages to it fail. Unarchive it or choose \
                 another target channel."
            ),
            _ => format!(
                "{channel} was turned private in Slack; only public channels are supported. \
                 Choose another target channel."
            ),
        };
        out.push(ChannelWarning {
            channel,
            problem,
            message,
        });
    }
    Ok(out)
}

fn build_org_view(conn: &mut DbConnection, org: &str) -> diesel::QueryResult<OrgView> {
    let settings = OrgSlackSettings::load(conn, org)?;
    let inst = Installation::find_by_scope(conn, org, None)?.map(|i| i.to_integration());
    let effective = resolve(&settings, inst.as_ref(), None, None);
    Ok(OrgView {
        send_messages: settings.send_messages,
        threads: settings.threads,
        compact_messages: settings.compact_messages,
        target_channels: display_channels(conn, &settings.target_channels)?,
        integration: inst.as_ref().map(IntegrationView::from),
        complete: effective.complete(),
        missing: effective.missing(),
        channel_warnings: channel_warnings(conn, &settings.target_channels, inst.as_ref())?,
    })
}

fn build_project_view(
    conn: &mut DbConnection,
    org: &str,
    project: &str,
) -> diesel::QueryResult<ProjectView> {
    let org_settings = OrgSlackSettings::load(conn, org)?;
    let org_inst = Installation::find_by_scope(conn, org, None)?.map(|i| i.to_integration());
    let own = ProjectSlackSettings::find_by_project(conn, org, project)?.map(|r| r.to_domain());
    let own_inst =
        Installation::find_by_scope(conn, org, Some(project))?.map(|i| i.to_integration());
    let e = resolve(
        &org_settings,
        org_inst.as_ref(),
        own.as_ref(),
        own_inst.as_ref(),
    );
    let own = match own {
        Some(p) => Some(OwnView {
            send_messages: p.send_messages,
            threads: p.threads,
            compact_messages: p.compact_messages,
            target_channels: display_channels(conn, &p.target_channels)?,
            integration: own_inst.as_ref().map(IntegrationView::from),
        }),
        None => None,
    };
    let effective = EffectiveView {
        send_messages: sourced(&e.send_messages, |v| *v),
        threads: sourced(&e.threads, |v| *v),
        compact_messages: sourced(&e.compact_messages, |v| *v),
        target_channels: SourcedView {
            value: display_channels(conn, &e.target_channels.value)?,
            source: e.target_channels.source,
        },
        integration: sourced(&e.integration, |i| i.as_ref().map(IntegrationView::from)),
        complete: e.complete(),
        missing: e.missing(),
        channel_warnings: channel_warnings(
            conn,
            &e.target_channels.value,
            e.integration.value.as_ref(),
        )?,
    };
    Ok(ProjectView { own, effective })
}

/// The organization's settings view.
pub async fn org_view(state: &AppState, org: &OrgId) -> Result<OrgView, ConfigError> {
    let scope = Scope::Org(org.clone());
    state
        .db
        .run(move |conn| {
            ensure_exists(conn, &scope)?;
            Ok(build_org_view(conn, scope.org().as_str())?)
        })
        .await
}

/// A project's own and effective settings.
pub async fn project_view(
    state: &AppState,
    org: &OrgId,
    project: &ProjectId,
) -> Result<ProjectView, ConfigError> {
    let scope = Scope::Project(org.clone(), project.clone());
    state
        .db
        .run(move |conn| {
            ensure_exists(conn, &scope)?;
            let (o, p) = (
                scope.org().as_str(),
                scope.project_str().unwrap_or_default(),
            );
            Ok(build_project_view(conn, o, p)?)
        })
        .await
}

// ---------------------------------------------------------------------------------------
// Changing settings

/// An organization update; `None` leaves a value unchanged.
#[derive(Clone, Debug, Default)]
pub struct OrgUpdate {
    pub send_messages: Option<bool>,
    pub threads: Option<bool>,
    pub compact_messages: Option<bool>,
    /// Entries as typed (each may hold several space-separated channels).
    pub target_channels: Option<Vec<String>>,
}

/// A project's complete own settings (replaces what was there).
#[derive(Clone, Debug, Default)]
pub struct ProjectUpdate {
    pub send_messages: bool,
    pub threads: Option<bool>,
    pub compact_messages: Option<bool>,
    /// Entries as typed; empty inherits the organization's channels.
    pub target_channels: Vec<String>,
}

/// Validates channel entries with the domain rules (422 naming every refused channel).
pub fn parse_channels(entries: &[String]) -> Result<Vec<ChannelInput>, ConfigError> {
    ChannelInput::parse_list_all(entries.iter().map(String::as_str))
        .map_err(|errors| ConfigError::invalid_channels(errors.iter().map(Into::into).collect()))
}

/// Validates channel entries with the domain rules and resolves the accepted ones through
/// Slack (when an integration is active), so one save reports every refused channel:
/// those the rules refuse and those Slack does not know or that are private or archived.
async fn checked_channels(
    state: &AppState,
    scope: &Scope,
    entries: &[String],
) -> Result<ResolvedChannels, ConfigError> {
    let (inputs, refused) = ChannelInput::partition_list(entries.iter().map(String::as_str));
    if refused.is_empty() {
        return resolve_channels(state, scope, inputs).await;
    }
    let mut problems: Vec<ChannelProblem> = refused.iter().map(Into::into).collect();
    // The accepted entries are asked about too, unless there are too many to ask about.
    // Slack failing here (or an unknown scope) changes nothing: the save is refused anyway.
    if inputs.len() <= MAX_TARGET_CHANNELS {
        if let Err(ConfigError::InvalidChannels { errors, .. }) =
            resolve_channels(state, scope, inputs).await
        {
            problems.extend(errors);
        }
    }
    Err(ConfigError::invalid_channels(problems))
}

/// Target channels ready to store, and what Slack told us about them.
struct ResolvedChannels {
    targets: Vec<TargetChannel>,
    learned: Vec<(String, slack::Channel)>,
}

/// Resolves channels through Slack when an active integration is effective for `scope`;
/// stores them as typed otherwise.
async fn resolve_channels(
    state: &AppState,
    scope: &Scope,
    inputs: Vec<ChannelInput>,
) -> Result<ResolvedChannels, ConfigError> {
    if inputs.is_empty() {
        return Ok(ResolvedChannels {
            targets: Vec::new(),
            learned: Vec::new(),
        });
    }
    let s = scope.clone();
    let inst = state
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            Ok::<_, ConfigError>(active_installation(conn, &s)?)
        })
        .await?;
    let Some(inst) = inst else {
        return Ok(ResolvedChannels {
            targets: inputs.iter().map(TargetChannel::from_input).collect(),
            learned: Vec::new(),
        });
    };
    let token = inst.decrypt_token(&state.cipher)?;
    match check_channels_in_slack(&state.slack, &token, &inst, &inputs).await {
        Ok(resolved) => Ok(resolved),
        Err(ChannelCheckError::Config(e)) => Err(e),
        Err(ChannelCheckError::Slack(e)) => Err(slack_failure(state, &inst, &e).await),
    }
}

enum ChannelCheckError {
    Config(ConfigError),
    Slack(SlackError),
}

impl From<SlackError> for ChannelCheckError {
    fn from(e: SlackError) -> Self {
        Self::Slack(e)
    }
}

fn check_usable(channel: &slack::Channel, typed: &str) -> Result<(), ChannelProblem> {
    let problem = if channel.is_private || channel.is_im || channel.is_mpim || channel.is_group {
        Some("is a private channel")
    } else if channel.is_archived {
        Some("is archived")
    } else {
        None
    };
    match problem {
        Some(p) => Err(ChannelProblem::new(
            typed,
            format!("channel {typed} {p}; only public, active channels are supported"),
        )),
        None => Ok(()),
    }
}

/// Resolves every input through Slack; a channel Slack does not know, or that is private
/// or archived, is collected (all of them are reported together); any other Slack
/// failure ends the check.
async fn check_channels_in_slack(
    api: &slack::SlackApi,
    token: &SecretString,
    inst: &Installation,
    inputs: &[ChannelInput],
) -> Result<ResolvedChannels, ChannelCheckError> {
    let listed = if inputs.iter().any(|i| matches!(i, ChannelInput::Name(_))) {
        api.conversations_list(token, false).await?
    } else {
        Vec::new()
    };
    let mut out = ResolvedChannels {
        targets: Vec::new(),
        learned: Vec::new(),
    };
    let mut problems: Vec<ChannelProblem> = Vec::new();
    let unknown = |typed: &str| {
        ChannelProblem::new(
            typed,
            format!(
                "channel {typed} does not exist in the Slack workspace {} or is private; only \
                 public channels are supported",
                inst.team_name
            ),
        )
    };
    for input in inputs {
        let (channel, typed) = match input {
            ChannelInput::Name(name) => {
                let typed = format!("#{name}");
                let found = listed
                    .iter()
                    .find(|c| &c.name == name || c.name_normalized.as_deref() == Some(name));
                match found {
                    Some(found) => (found.clone(), typed),
                    None => {
                        problems.push(unknown(&typed));
                        continue;
                    }
                }
            }
            ChannelInput::Id(id) => match api.conversations_info(token, id).await {
                Ok(c) => (c, id.clone()),
                Err(e) if e.class() == ErrorClass::Channel => {
                    problems.push(unknown(id));
                    continue;
                }
                Err(e) => return Err(e.into()),
            },
        };
        if let Err(p) = check_usable(&channel, &typed) {
            problems.push(p);
            continue;
        }
        out.targets.push(TargetChannel {
            id: Some(channel.id.clone()),
            name: Some(channel.name.clone()),
        });
        out.learned.push((inst.team_id.clone(), channel));
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ChannelCheckError::Config(ConfigError::invalid_channels(
            problems,
        )))
    }
}

/// Turns a failed Slack call during channel checks into an error for the admin, marking
/// the installation revoked when Slack refused its token.
async fn slack_failure(state: &AppState, inst: &Installation, e: &SlackError) -> ConfigError {
    let code = e.code().to_owned();
    tracing::warn!(method = e.method(), code = %code, installation = %inst.id, "Slack call failed while checking channels");
    if e.class() == ErrorClass::IntegrationBroken {
        mark_broken(state, inst, &code).await;
        return ConfigError::SlackUnavailable(format!(
            "Slack refused the integration's token ({code}), so the target channels cannot be \
             checked; the integration is now marked revoked. Set up the Slack integration again."
        ));
    }
    ConfigError::SlackUnavailable(format!(
        "Slack could not be reached to check the target channels ({code}); nothing was \
         saved, try again shortly"
    ))
}

async fn mark_broken(state: &AppState, inst: &Installation, code: &str) {
    let (id, reason, org, project) = (
        inst.id.clone(),
        code.to_owned(),
        inst.org_id.clone(),
        inst.project().map(str::to_owned),
    );
    let result = state
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                Installation::mark_revoked(c, &id, &reason)?;
                AuditEntry::insert(
                    c,
                    "xtc-slack",
                    &org,
                    project.as_deref(),
                    "slack_integration.revoked",
                    &json!({"installation_id": id, "reason": reason}),
                )
            })
            .map_err(DbError::from)
        })
        .await;
    if let Err(e) = settled(state, &inst.org_id, result) {
        tracing::error!(error = %e, "could not mark an installation revoked");
    }
}

fn record_learned(
    conn: &mut DbConnection,
    learned: &[(String, slack::Channel)],
) -> diesel::QueryResult<()> {
    for (team, c) in learned {
        SlackChannel::save(conn, team, &c.id, &c.name, c.is_private, c.is_archived)?;
    }
    Ok(())
}

/// Changed fields as `{"field": {"from": …, "to": …}}`.
fn changes(before: &Value, after: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(a) = after.as_object() {
        for (k, to) in a {
            let from = before.get(k).cloned().unwrap_or(Value::Null);
            if &from != to {
                out.insert(k.clone(), json!({"from": from, "to": to}));
            }
        }
    }
    Value::Object(out)
}

fn org_snapshot(s: &OrgSettings) -> Value {
    json!({
        "send_messages": s.send_messages,
        "threads": s.threads,
        "compact_messages": s.compact_messages,
        "target_channels": s.target_channels.iter().map(TargetChannel::display).collect::<Vec<_>>(),
    })
}

fn project_snapshot(s: Option<&ProjectSettings>) -> Value {
    match s {
        None => Value::Null,
        Some(s) => json!({
            "send_messages": s.send_messages,
            "threads": s.threads,
            "compact_messages": s.compact_messages,
            "target_channels": s.target_channels.iter().map(TargetChannel::display).collect::<Vec<_>>(),
        }),
    }
}

/// Applies an organization update (channels checked in Slack when an integration is
/// active) and returns the new view.
pub async fn update_org(
    state: &AppState,
    actor: &Principal,
    org: &OrgId,
    update: OrgUpdate,
) -> Result<OrgView, ConfigError> {
    let scope = Scope::Org(org.clone());
    let resolved = match &update.target_channels {
        Some(entries) => Some(checked_channels(state, &scope, entries).await?),
        None => None,
    };
    let actor = actor.actor();
    let result = state
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                ensure_exists(c, &scope)?;
                let o = scope.org().as_str();
                let before = OrgSlackSettings::load(c, o)?;
                let mut after = before.clone();
                if let Some(v) = update.send_messages {
                    after.send_messages = v;
                }
                if let Some(v) = update.threads {
                    after.threads = v;
                }
                if let Some(v) = update.compact_messages {
                    after.compact_messages = v;
                }
                if let Some(r) = &resolved {
                    after.target_channels = r.targets.clone();
                    record_learned(c, &r.learned)?;
                }
                OrgSlackSettings::save(c, o, &after, &actor)?;
                let diff = changes(&org_snapshot(&before), &org_snapshot(&after));
                AuditEntry::insert(
                    c,
                    &actor,
                    o,
                    None,
                    "slack_settings.update",
                    &json!({ "changes": diff }),
                )?;
                Ok(build_org_view(c, o)?)
            })
        })
        .await;
    settled(state, org.as_str(), result)
}

/// Creates or replaces a project's own settings and returns the new view.
pub async fn put_project(
    state: &AppState,
    actor: &Principal,
    org: &OrgId,
    project: &ProjectId,
    update: ProjectUpdate,
) -> Result<ProjectView, ConfigError> {
    let scope = Scope::Project(org.clone(), project.clone());
    let resolved = checked_channels(state, &scope, &update.target_channels).await?;
    let actor = actor.actor();
    let result = state
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                ensure_exists(c, &scope)?;
                let (o, p) = (
                    scope.org().as_str(),
                    scope.project_str().unwrap_or_default(),
                );
                let before = ProjectSlackSettings::find_by_project(c, o, p)?.map(|r| r.to_domain());
                let after = ProjectSettings {
                    send_messages: update.send_messages,
                    threads: update.threads,
                    compact_messages: update.compact_messages,
                    target_channels: resolved.targets.clone(),
                };
                record_learned(c, &resolved.learned)?;
                ProjectSlackSettings::save(c, o, p, &after, &actor)?;
                let diff = changes(
                    &project_snapshot(before.as_ref()),
                    &project_snapshot(Some(&after)),
                );
                AuditEntry::insert(
                    c,
                    &actor,
                    o,
                    Some(p),
                    "slack_settings.update",
                    &json!({ "created": before.is_none(), "changes": diff }),
                )?;
                Ok(build_project_view(c, o, p)?)
            })
        })
        .await;
    settled(state, org.as_str(), result)
}

/// Deletes a project's own settings (its installation, if any, stays).
pub async fn delete_project_settings(
    state: &AppState,
    actor: &Principal,
    org: &OrgId,
    project: &ProjectId,
) -> Result<(), ConfigError> {
    let scope = Scope::Project(org.clone(), project.clone());
    let actor = actor.actor();
    let result = state
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                ensure_exists(c, &scope)?;
                let (o, p) = (
                    scope.org().as_str(),
                    scope.project_str().unwrap_or_default(),
                );
                if ProjectSlackSettings::delete(c, o, p)? {
                    AuditEntry::insert(c, &actor, o, Some(p), "slack_settings.delete", &json!({}))?;
                }
                Ok(())
            })
        })
        .await;
    settled(state, org.as_str(), result)
}

// ---------------------------------------------------------------------------------------
// OAuth installation

/// Percent-encodes a query value, keeping the characters RFC 3986 allows in a query
/// that Slack's own URLs show literally (`:`, `,`, `/`).
fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:,/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Starts an install: stores a fresh state (hashed, single-use, 10 minutes, bound to the
/// scope and the caller's token) and returns Slack's authorize URL.
pub async fn start_install(
    state: &AppState,
    actor: &Principal,
    scope: &Scope,
) -> Result<String, ConfigError> {
    let s = scope.clone();
    state.db.run(move |conn| ensure_exists(conn, &s)).await?;
    let slack_settings = &state.settings.slack;
    let (Some(client_id), Some(_)) = (&slack_settings.client_id, &slack_settings.client_secret)
    else {
        return Err(ConfigError::SlackNotConfigured);
    };
    let raw_state = random_token(STATE_PREFIX);
    let hash = sha256_hex(raw_state.expose_secret());
    let (s, token_id) = (scope.clone(), actor.token_id.clone());
    state
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                let now = now();
                OAuthState::delete_expired(c, now - ChronoDuration::days(1))?;
                OAuthState::insert(
                    c,
                    &hash,
                    s.org().as_str(),
                    s.project_str().unwrap_or(ORG_LEVEL),
                    &token_id,
                    now + ChronoDuration::minutes(STATE_TTL_MINUTES),
                )
            })
            .map_err(ConfigError::from)
        })
        .await?;
    let base = slack_settings.authorize_url.as_str();
    let sep = if slack_settings.authorize_url.query().is_some() {
        '&'
    } else {
        '?'
    };
    Ok(format!(
        "{base}{sep}client_id={}&scope={}&redirect_uri={}&state={}",
        query_value(client_id),
        query_value(BOT_SCOPES),
        query_value(&state.settings.oauth_redirect_uri()),
        query_value(raw_state.expose_secret()),
    ))
}

/// The query of `GET /slack/oauth/callback`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// How a callback ended badly: what the page says. Nothing was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackFailure {
    /// HTTP status of the page.
    pub status: u16,
    pub title: String,
    pub message: String,
    /// What to do now.
    pub hint: String,
    /// Where to start again, when the scope is known.
    pub settings_page: Option<String>,
}

impl CallbackFailure {
    fn new(status: u16, title: &str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            status,
            title: title.to_owned(),
            message: message.into(),
            hint: hint.into(),
            settings_page: None,
        }
    }

    fn internal() -> Self {
        Self::new(
            500,
            "Slack installation failed",
            "An internal error occurred; nothing was stored.",
            "Try again shortly. If it keeps failing, ask your XTC operator to check the logs.",
        )
    }
}

/// A finished install: where to send the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackSuccess {
    pub scope: Scope,
    pub team_name: String,
    /// The settings page (relative path, with `?installed=1`).
    pub redirect: String,
}

const START_AGAIN: &str =
    "Start the installation again with \"Set Up Slack Integration\" on the Slack settings page.";

/// Handles Slack's redirect back: checks the state, exchanges the code, stores the
/// installation (replacing and revoking a previous one of the same scope).
pub async fn complete_oauth(
    state: &AppState,
    params: CallbackParams,
) -> Result<CallbackSuccess, CallbackFailure> {
    let given_state = params.state.filter(|s| !s.is_empty());
    if let Some(error) = params.error.filter(|e| !e.is_empty()) {
        // The user cancelled (or Slack refused); burn the state so it cannot be reused.
        let mut page = None;
        if let Some(st) = given_state {
            if let Ok(Ok(row)) = consume_state(state, &st).await {
                page = Scope::from_row(&row.org_id, &row.project_id).map(|s| s.settings_page());
            }
        }
        let mut failure = if error == "access_denied" {
            CallbackFailure::new(
                200,
                "Slack installation cancelled",
                "The installation was cancelled in Slack, so nothing was installed or stored.",
                "If your Slack workspace requires app approval, request approval for the app in \
                 Slack; once an administrator has approved it, start the setup again from the \
                 Slack settings page.",
            )
        } else {
            CallbackFailure::new(
                400,
                "Slack installation failed",
                format!("Slack reported an error: {error}. Nothing was stored."),
                START_AGAIN,
            )
        };
        failure.settings_page = page;
        return Err(failure);
    }
    let Some(raw_state) = given_state else {
        return Err(CallbackFailure::new(
            400,
            "Invalid installation link",
            "This link has no installation state, so it cannot be trusted. Nothing was stored.",
            START_AGAIN,
        ));
    };
    let Some(code) = params.code.filter(|c| !c.is_empty()) else {
        return Err(CallbackFailure::new(
            400,
            "Invalid installation link",
            "Slack did not send an authorization code. Nothing was stored.",
            START_AGAIN,
        ));
    };
    let row = match consume_state(state, &raw_state).await {
        Ok(Ok(row)) => row,
        Ok(Err(problem)) => {
            let message = match problem {
                StateProblem::Unknown => "This installation link is not valid.",
                StateProblem::Used => "This installation link has already been used.",
                StateProblem::Expired => {
                    "This installation link has expired (links are valid for 10 minutes)."
                }
            };
            return Err(CallbackFailure::new(
                400,
                "Invalid installation link",
                format!("{message} Nothing was stored."),
                START_AGAIN,
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "could not check an OAuth state");
            return Err(CallbackFailure::internal());
        }
    };
    let Some(scope) = Scope::from_row(&row.org_id, &row.project_id) else {
        return Err(CallbackFailure::internal());
    };
    let page = scope.settings_page();
    let with_page = |mut f: CallbackFailure| {
        f.settings_page = Some(page.clone());
        f
    };
    // The admin who started the install must still exist, and the scope too.
    let (s, token_id) = (scope.clone(), row.token_id.clone());
    let checked = state
        .db
        .run(move |conn| {
            let issuer = OAuthState::live_issuer_name(conn, &token_id)?;
            let exists = ensure_exists(conn, &s);
            Ok::<_, ConfigError>((issuer, exists))
        })
        .await;
    let actor = match checked {
        Ok((Some(name), Ok(()))) => format!("{name} ({})", row.token_id),
        Ok((None, _)) => return Err(with_page(CallbackFailure::new(
            400,
            "Invalid installation link",
            "The API token that started this installation has been revoked. Nothing was stored.",
            START_AGAIN,
        ))),
        Ok((Some(_), Err(e))) => {
            return Err(with_page(CallbackFailure::new(
                404,
                "Slack installation failed",
                format!("{e}. Nothing was stored."),
                "Register the organization or project first, then start again.",
            )))
        }
        Err(e) => {
            tracing::error!(error = %e, "could not check an OAuth state");
            return Err(CallbackFailure::internal());
        }
    };
    let slack_settings = &state.settings.slack;
    let (Some(client_id), Some(client_secret)) =
        (&slack_settings.client_id, &slack_settings.client_secret)
    else {
        return Err(with_page(CallbackFailure::new(
            409,
            "Slack is not configured",
            "The Slack app credentials are not configured on this server. Nothing was stored.",
            "Ask your XTC operator to set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET.",
        )));
    };
    let redirect_uri = state.settings.oauth_redirect_uri();
    let access = match state
        .slack
        .oauth_v2_access(client_id, client_secret, &code, &redirect_uri)
        .await
    {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(
                code = e.code(),
                method = e.method(),
                "OAuth code exchange failed"
            );
            let hint = if e.class() == ErrorClass::RetryLater {
                format!(
                    "Slack could not be reached; wait a moment, then start again. {START_AGAIN}"
                )
            } else {
                START_AGAIN.to_owned()
            };
            return Err(with_page(CallbackFailure::new(
                502,
                "Slack installation failed",
                format!(
                    "Slack did not complete the installation ({}). Nothing was stored.",
                    e.code()
                ),
                hint,
            )));
        }
    };
    let Some(team) = access.team.clone() else {
        return Err(with_page(CallbackFailure::new(
            400,
            "Slack installation not supported",
            "Organization-wide (Enterprise Grid) installations are not supported. Nothing was stored.",
            "Install the app into a single workspace, then start again.",
        )));
    };
    let new_token = access.access_token.clone();
    // Token rotation on: keep the refresh token (encrypted) and when the token expires.
    let rotation = access.refresh_token.clone().map(|r| {
        let lifetime = access
            .expires_in
            .and_then(|s| i64::try_from(s).ok())
            .unwrap_or(43_200);
        (r, now() + ChronoDuration::seconds(lifetime))
    });
    let new_id = format!("inst_{}", uuid::Uuid::new_v4().simple());
    let (s, cipher, bot_user, app_id, scopes) = (
        scope.clone(),
        state.cipher.clone(),
        access.bot_user_id.clone().unwrap_or_default(),
        access.app_id.clone(),
        access.scopes().collect::<Vec<_>>().join(","),
    );
    let (team_id, team_name) = (team.id.clone(), team.name.clone());
    let channels = match installed_channels(state, &scope, &access.access_token, &team_id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "could not read the channels to resolve at install");
            return Err(with_page(CallbackFailure::internal()));
        }
    };
    let stored = state
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                let (o, p) = (s.org().as_str(), s.project_str());
                let old = Installation::find_by_scope(c, o, p)?;
                if let Some(old) = &old {
                    Installation::delete(c, &old.id)?;
                }
                Installation::insert(
                    c,
                    &cipher,
                    &NewInstallation {
                        id: &new_id,
                        org_id: o,
                        project_id: p.unwrap_or(ORG_LEVEL),
                        team_id: &team_id,
                        team_name: &team_name,
                        app_id: &app_id,
                        bot_user_id: &bot_user,
                        scopes: &scopes,
                        bot_token: &new_token,
                        rotation: rotation.as_ref().map(|(r, at)| (r, *at)),
                        installed_by: &actor,
                    },
                )?;
                // Names saved before, and channels of a previous workspace, resolved here;
                // the replaced installation's backlog goes on with this one.
                installed_channels::save_lists(c, &channels.lists)?;
                record_learned(c, &channels.learned)?;
                let mut handed_over = 0;
                if let (Some(old), Some(new)) = (&old, Installation::find_by_id(c, &new_id)?) {
                    handed_over =
                        installed_channels::hand_over_pending(c, old, &new, &channels.readdress)?;
                }
                AuditEntry::insert(
                    c,
                    &actor,
                    o,
                    p,
                    "slack_integration.install",
                    &json!({
                        "installation_id": new_id,
                        "team_id": team_id,
                        "team_name": team_name,
                        "scopes": scopes,
                        "replaced": old.as_ref().map(|o| &o.id),
                        "pending_handed_over": handed_over,
                        "unresolved_channels": channels.unresolved,
                    }),
                )?;
                let old_token = old.map(|o| o.decrypt_token(&cipher));
                Ok::<_, DbError>(old_token)
            })
        })
        .await;
    let stored = settled(state, scope.org().as_str(), stored);
    let old_token = match stored {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "could not store a Slack installation");
            return Err(with_page(CallbackFailure::internal()));
        }
    };
    // Best effort: the replaced installation's token should stop working. Reinstalling
    // the same app into the same workspace can return the same token; never revoke that.
    if let Some(Ok(old)) = old_token {
        if old.expose_secret() != access.access_token.expose_secret() {
            if let Err(e) = state.slack.auth_revoke(&old).await {
                tracing::warn!(code = e.code(), "could not revoke the replaced Slack token");
            }
        }
    }
    Ok(CallbackSuccess {
        scope,
        team_name: team.name,
        redirect: format!("{page}?installed=1"),
    })
}

/// The configured channels as they will be with a new installation of `scope` into
/// workspace `team_id` (see `installed_channels`).
struct InstalledChannels {
    lists: Vec<installed_channels::SavedList>,
    /// Old address → the channel in the new workspace (for the pending deliveries).
    readdress: std::collections::HashMap<String, TargetChannel>,
    learned: Vec<(String, slack::Channel)>,
    /// Channels that could not be resolved in the new workspace, as shown.
    unresolved: Vec<String>,
}

async fn installed_channels(
    state: &AppState,
    scope: &Scope,
    token: &SecretString,
    team_id: &str,
) -> Result<InstalledChannels, DbError> {
    let s = scope.clone();
    let (old_team, lists) = state
        .db
        .run(move |conn| {
            let (o, p) = (s.org().as_str(), s.project_str());
            let old = Installation::find_by_scope(conn, o, p)?;
            let lists = installed_channels::served_lists(conn, o, p)?;
            Ok::<_, DbError>((old.map(|i| i.team_id), lists))
        })
        .await?;
    let workspace_changed = old_team.is_some_and(|t| t != team_id);
    let listed = if installed_channels::needs_lookup(&lists, workspace_changed) {
        match state.slack.conversations_list(token, false).await {
            Ok(listed) => listed,
            Err(e) => {
                // The install itself succeeded; the channels stay unresolved (and shown as
                // such) until the next channel check resolves them.
                tracing::warn!(code = e.code(), "could not list channels at install");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let mut out = InstalledChannels {
        lists: Vec::new(),
        readdress: std::collections::HashMap::new(),
        learned: Vec::new(),
        unresolved: Vec::new(),
    };
    for mut list in lists {
        for channel in &mut list.channels {
            let resolved = installed_channels::resolve_one(channel, &listed, workspace_changed);
            if let Some(c) = resolved
                .id
                .as_ref()
                .and_then(|id| listed.iter().find(|c| &c.id == id))
            {
                out.learned.push((team_id.to_owned(), c.clone()));
            }
            if resolved.id.is_none() && !out.unresolved.contains(&resolved.display()) {
                out.unresolved.push(resolved.display());
            }
            out.readdress.insert(channel.address(), resolved.clone());
            *channel = resolved;
        }
        out.lists.push(list);
    }
    Ok(out)
}

async fn consume_state(
    state: &AppState,
    raw_state: &str,
) -> Result<Result<OAuthState, StateProblem>, DbError> {
    let hash = sha256_hex(raw_state);
    state
        .db
        .run(move |conn| write_tx(conn, |c| OAuthState::consume(c, &hash)).map_err(DbError::from))
        .await
}

// ---------------------------------------------------------------------------------------
// Removal

/// Whether another installation holds the same bot token (same app, same workspace).
fn token_shared(
    conn: &mut DbConnection,
    cipher: &Cipher,
    inst: &Installation,
    token: &SecretString,
) -> diesel::QueryResult<bool> {
    Ok(Installation::find_by_team(conn, &inst.team_id)?
        .iter()
        .filter(|o| o.id != inst.id)
        .filter_map(|o| o.decrypt_token(cipher).ok())
        .any(|t| t.expose_secret() == token.expose_secret()))
}

/// Removes the installation of `scope` and revokes its token at Slack (best effort: the
/// local data is removed even when Slack fails; the outcome says what happened).
pub async fn remove_integration(
    state: &AppState,
    actor: &Principal,
    scope: &Scope,
) -> Result<RevokeOutcome, ConfigError> {
    let (s, cipher) = (scope.clone(), state.cipher.clone());
    let found = state
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let Some(inst) = Installation::find_by_scope(conn, s.org().as_str(), s.project_str())?
            else {
                return Ok::<_, ConfigError>(None);
            };
            let token = inst.decrypt_token(&cipher).ok();
            let shared = match &token {
                Some(t) => token_shared(conn, &cipher, &inst, t)?,
                None => false,
            };
            Ok(Some((inst, token, shared)))
        })
        .await?;
    let Some((inst, token, shared)) = found else {
        return Ok(RevokeOutcome::NothingInstalled);
    };
    let outcome = match (&token, shared) {
        (_, true) => RevokeOutcome::SkippedShared,
        (None, false) => RevokeOutcome::Failed("token_unreadable".to_owned()),
        (Some(t), false) => match state.slack.auth_revoke(t).await {
            Ok(()) => RevokeOutcome::Revoked,
            Err(e) => {
                tracing::warn!(code = e.code(), installation = %inst.id, "auth.revoke failed; removing the installation anyway");
                RevokeOutcome::Failed(e.code().to_owned())
            }
        },
    };
    let (actor, detail) = (actor.actor(), outcome.as_str());
    let removed = state
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                Installation::delete(c, &inst.id)?;
                AuditEntry::insert(
                    c,
                    &actor,
                    &inst.org_id,
                    inst.project(),
                    "slack_integration.remove",
                    &json!({
                        "installation_id": inst.id,
                        "team_id": inst.team_id,
                        "team_name": inst.team_name,
                        "revoke": detail,
                    }),
                )
            })
            .map_err(ConfigError::from)
        })
        .await;
    settled(state, scope.org().as_str(), removed)?;
    Ok(outcome)
}

// ---------------------------------------------------------------------------------------
// Test message

/// Sends a test message to every effective target channel with the effective
/// integration, whether or not sending is enabled.
pub async fn send_test_message(
    state: &AppState,
    actor: &Principal,
    scope: &Scope,
) -> Result<Vec<TestResult>, ConfigError> {
    let s = scope.clone();
    let (effective, inst, org_name, project_name, labels) = state
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let (o, p) = (s.org().as_str(), s.project_str());
            let effective = load_effective(conn, o, p)?;
            let inst = match &effective.integration.value {
                Some(i) => Installation::find_by_id(conn, &i.installation_id)?,
                None => None,
            };
            let org_name =
                Organization::find_by_id(conn, o)?.map_or_else(|| o.to_owned(), |r| r.name);
            let project_name = match p {
                Some(p) => {
                    Some(Project::find_by_id(conn, o, p)?.map_or_else(|| p.to_owned(), |r| r.name))
                }
                None => None,
            };
            let labels = display_channels(conn, &effective.target_channels.value)?;
            Ok::<_, ConfigError>((effective, inst, org_name, project_name, labels))
        })
        .await?;
    let missing = effective.missing();
    let inst = match inst {
        Some(inst) if missing.is_empty() => inst,
        _ => {
            let missing = if missing.is_empty() {
                vec!["integration"]
            } else {
                missing
            };
            return Err(ConfigError::Incomplete {
                message: format!(
                    "the Slack configuration is incomplete ({} missing); a test message needs \
                     an active integration and at least one target channel",
                    missing.join(", ")
                ),
                missing,
            });
        }
    };
    let token = inst.decrypt_token(&state.cipher)?;
    let text = test_message_text(&org_name, project_name.as_deref(), &actor.name);
    let mut results = Vec::new();
    let mut broken: Option<String> = None;
    for (channel, label) in effective.target_channels.value.iter().zip(labels) {
        let msg = PostMessage {
            channel: channel.address(),
            text: text.clone(),
            ..PostMessage::default()
        };
        match state.slack.post_message(&token, &msg).await {
            Ok(posted) => results.push(TestResult {
                channel: label,
                ok: true,
                ts: Some(posted.ts),
                error: None,
            }),
            Err(e) => {
                if e.class() == ErrorClass::IntegrationBroken && broken.is_none() {
                    broken = Some(e.code().to_owned());
                }
                results.push(TestResult {
                    channel: label,
                    ok: false,
                    ts: None,
                    error: Some(e.code().to_owned()),
                });
            }
        }
    }
    if let Some(code) = broken {
        mark_broken(state, &inst, &code).await;
    }
    // Each channel's result is listed in the delivery logs too (event type test_message).
    use crate::db::models::test_message;
    let now = crate::db::now();
    let logged: Vec<test_message::NewTestMessage> = effective
        .target_channels
        .value
        .iter()
        .zip(&results)
        .map(|(channel, r)| test_message::NewTestMessage {
            org_id: scope.org().to_string(),
            project_id: scope.project_str().unwrap_or(ORG_LEVEL).to_owned(),
            channel: channel.address(),
            channel_name: Some(r.channel.clone()),
            team_id: Some(inst.team_id.clone()),
            status: if r.ok {
                test_message::SENT
            } else {
                test_message::FAILED
            }
            .to_owned(),
            error: r.error.clone(),
            sent_by: actor.name.clone(),
            created_at: now,
        })
        .collect();
    let (actor_s, s, summary) = (
        actor.actor(),
        scope.clone(),
        serde_json::to_value(&results).unwrap_or(Value::Null),
    );
    state
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                test_message::TestMessageRow::insert_all(c, &logged)?;
                AuditEntry::insert(
                    c,
                    &actor_s,
                    s.org().as_str(),
                    s.project_str(),
                    "slack_test_message",
                    &json!({ "results": summary }),
                )
            })
            .map_err(ConfigError::from)
        })
        .await?;
    Ok(results)
}

/// The test message: names escaped for Slack, nothing else changed.
fn test_message_text(org_name: &str, project_name: Option<&str>, by: &str) -> String {
    let esc = slack::text::escape;
    let target = match project_name {
        Some(p) => format!("project {} of organization {}", esc(p), esc(org_name)),
        None => format!("organization {}", esc(org_name)),
    };
    format!(
        "Test message from XTC: Slack notifications for {target} reach this channel. \
         (Sent by {}.)",
        esc(by)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_keep_scope_lists_readable_and_encode_the_rest() {
        assert_eq!(query_value(BOT_SCOPES), BOT_SCOPES);
        assert_eq!(query_value("a b&c=d?"), "a%20b%26c%3Dd%3F");
        assert_eq!(
            query_value("http://h:1/slack/oauth/callback"),
            "http://h:1/slack/oauth/callback"
        );
    }

    #[test]
    fn test_message_escapes_names() {
        let t = test_message_text("<!channel> & co", Some("shop_*x*"), "jane");
        assert!(t.contains("&lt;!channel&gt; &amp; co"));
        assert!(t.contains("shop_*x*"));
        assert!(!t.contains("<!channel>"));
    }

    #[test]
    fn changes_list_only_what_changed() {
        let d = changes(&json!({"a": 1, "b": 2}), &json!({"a": 1, "b": 3}));
        assert_eq!(d, json!({"b": {"from": 2, "to": 3}}));
    }
}

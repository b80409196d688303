//! Reading: the organization and project views of the API and the UI, with the sources
//! of effective values and the channel warnings.

use crate::domain::rules::Rule;
use crate::domain::summary::SummarySchedule;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::super::Services;
use crate::db::models::channel_directory::ChannelDirectory;
use crate::db::models::installation::Installation;
use crate::db::models::slack_channel::SlackChannel;
use crate::db::models::slack_settings::{OrgSlackSettings, ProjectSlackSettings};
use crate::db::DbConnection;
use crate::domain::channel::TargetChannel;
use crate::domain::ids::{OrgId, ProjectId};
use crate::domain::quiet::DuringLoadTests;
use crate::domain::settings::{
    resolve, Effective, Integration, IntegrationStatus, RegressionThreshold, SettingsWarning,
    Source, Sourced,
};

use super::*;

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
    /// The workspace's channel directory (how target channel names are resolved), once a
    /// build has started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_directory: Option<DirectoryView>,
}

/// How far the workspace's channel directory is (see `pipeline::channel_directory`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DirectoryView {
    /// `building` (names not listed yet show as `resolving` warnings) or `ready`.
    pub status: String,
    /// Public channels it holds (archived included, deleted ones not).
    pub channels: i64,
    /// `conversations.list` pages of the current (or last) pass.
    pub pages: i32,
    pub updated_at: DateTime<Utc>,
}

/// The view of an integration, with its workspace's channel directory.
fn integration_view(
    conn: &mut DbConnection,
    i: &Integration,
) -> diesel::QueryResult<IntegrationView> {
    let mut view = IntegrationView::from(i);
    if let Some(d) = ChannelDirectory::find(conn, &i.team_id)? {
        view.channel_directory = Some(DirectoryView {
            status: d.status.as_str().to_owned(),
            channels: SlackChannel::count_listed(conn, &i.team_id)?,
            pages: d.pages,
            updated_at: d.updated_at.and_utc(),
        });
    }
    Ok(view)
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
            channel_directory: None,
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
    /// Notification rules: which events also go to which channel, and who is pinged.
    pub rules: Vec<RuleView>,
    /// A report figure worse than its baseline's by more than this many percent is a
    /// regression (default 10).
    pub regression_threshold_pct: RegressionThreshold,
    /// Report charts uploaded into the run's thread (default on).
    pub charts: bool,
    /// What a scenario's incident does while a load test of its project runs (default
    /// `annotate`).
    pub during_load_tests: DuringLoadTests,
    /// The weekly summary of all the organization's projects (`null`: off, the default).
    pub summary: Option<SummarySchedule>,
    /// What to fix about the settings in use (e.g. an installation without `files:write`
    /// while charts are on); empty when nothing.
    pub warnings: Vec<WarningView>,
}

/// Something about the effective settings an admin should fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WarningView {
    /// `missing_scope`: the installation was granted fewer bot scopes than a setting in
    /// use needs; install again to grant them.
    pub problem: &'static str,
    /// The missing bot scope (`files:write`).
    pub scope: &'static str,
    /// What it means and what to do, for people.
    pub message: String,
}

impl From<SettingsWarning> for WarningView {
    fn from(w: SettingsWarning) -> Self {
        let SettingsWarning::MissingScope { scope } = w;
        Self {
            problem: w.problem(),
            scope,
            message: w.message(),
        }
    }
}

fn warning_views(e: &Effective) -> Vec<WarningView> {
    e.warnings().into_iter().map(WarningView::from).collect()
}

/// A notification rule as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleView {
    /// `#name` (current name) or the channel ID.
    pub channel: String,
    /// As saved: event kinds, `all` or `failures`.
    pub events: Vec<String>,
    /// `@here`, `@channel`, `S…` or `U… W…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mention: Option<String>,
}

/// Rules with their channels' current names.
pub(crate) fn rule_views(
    conn: &mut DbConnection,
    rules: &[Rule],
) -> diesel::QueryResult<Vec<RuleView>> {
    let channels: Vec<TargetChannel> = rules.iter().map(|r| r.channel.clone()).collect();
    let names = display_channels(conn, &channels)?;
    Ok(rules
        .iter()
        .zip(names)
        .map(|(r, channel)| RuleView {
            channel,
            events: r.events.entries().to_vec(),
            mention: r.mention.as_ref().map(ToString::to_string),
        })
        .collect())
}

/// Target channels and rule channels, each once (what the channel warnings look at).
fn all_channels(targets: &[TargetChannel], rules: &[Rule]) -> Vec<TargetChannel> {
    let mut out = targets.to_vec();
    for r in rules {
        if !out.iter().any(|c| c.address() == r.channel.address()) {
            out.push(r.channel.clone());
        }
    }
    out
}

/// A target channel that cannot receive messages as configured (from `slack_channels`,
/// kept current by Slack events and the periodic channel health check).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChannelWarning {
    /// `#name` (current name) or the channel ID.
    pub channel: String,
    /// `archived`, `deleted` (or no longer visible to the app), `private`, or
    /// `not_found` (a name that could not be resolved in the installed workspace), or
    /// `resolving` (a name not checked yet: the workspace's channel directory is still being
    /// built).
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
    /// The project's own rules (empty: the organization's apply).
    pub rules: Vec<RuleView>,
    pub regression_threshold_pct: Option<RegressionThreshold>,
    pub charts: Option<bool>,
    pub during_load_tests: Option<DuringLoadTests>,
    /// The project's own weekly summary (`null`: the organization's applies).
    pub summary: Option<SummarySchedule>,
}

/// A value and where it comes from.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SourcedView<T> {
    pub value: T,
    pub source: Source,
}

pub(crate) fn sourced<T, U>(s: &Sourced<T>, f: impl FnOnce(&T) -> U) -> SourcedView<U> {
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
    pub rules: SourcedView<Vec<RuleView>>,
    pub regression_threshold_pct: SourcedView<RegressionThreshold>,
    pub charts: SourcedView<bool>,
    pub during_load_tests: SourcedView<DuringLoadTests>,
    pub summary: SourcedView<Option<SummarySchedule>>,
    pub complete: bool,
    pub missing: Vec<&'static str>,
    /// Effective target channels Slack reports as archived, deleted or private.
    pub channel_warnings: Vec<ChannelWarning>,
    /// What to fix about the effective settings (e.g. an installation without
    /// `files:write` while charts are on); empty when nothing.
    pub warnings: Vec<WarningView>,
}

/// `GET /api/v1/orgs/{org}/projects/{project}/slack`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectView {
    pub own: Option<OwnView>,
    pub effective: EffectiveView,
}

/// Display names of stored channels, with the current name where Slack told us one.
pub(crate) fn display_channels(
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
        let building = ChannelDirectory::find(conn, &i.team_id)?.is_some_and(|d| !d.is_ready());
        for c in channels
            .iter()
            .filter(|c| c.id.is_none() && c.name.is_some())
        {
            let channel = c.display();
            if building {
                out.push(ChannelWarning {
                    message: format!(
                        "{channel} cannot be checked yet: the channel directory of the Slack \
                         workspace {} is still being built. It is resolved once the directory \
                         is complete (or then reported as unknown).",
                        i.team_name
                    ),
                    channel,
                    problem: "resolving",
                });
                continue;
            }
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

pub(crate) fn build_org_view(conn: &mut DbConnection, org: &str) -> diesel::QueryResult<OrgView> {
    let settings = OrgSlackSettings::load(conn, org)?;
    let inst = Installation::find_by_scope(conn, org, None)?.map(|i| i.to_integration());
    let effective = resolve(&settings, inst.as_ref(), None, None);
    Ok(OrgView {
        send_messages: settings.send_messages,
        threads: settings.threads,
        compact_messages: settings.compact_messages,
        target_channels: display_channels(conn, &settings.target_channels)?,
        integration: inst
            .as_ref()
            .map(|i| integration_view(conn, i))
            .transpose()?,
        complete: effective.complete(),
        missing: effective.missing(),
        channel_warnings: channel_warnings(
            conn,
            &all_channels(&settings.target_channels, &settings.rules),
            inst.as_ref(),
        )?,
        rules: rule_views(conn, &settings.rules)?,
        regression_threshold_pct: settings.regression_threshold_pct,
        charts: settings.charts,
        during_load_tests: settings.during_load_tests,
        summary: settings.summary.clone(),
        warnings: warning_views(&effective),
    })
}

pub(crate) fn build_project_view(
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
            integration: own_inst
                .as_ref()
                .map(|i| integration_view(conn, i))
                .transpose()?,
            rules: rule_views(conn, &p.rules)?,
            regression_threshold_pct: p.regression_threshold_pct,
            charts: p.charts,
            during_load_tests: p.during_load_tests,
            summary: p.summary.clone(),
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
        integration: SourcedView {
            value: e
                .integration
                .value
                .as_ref()
                .map(|i| integration_view(conn, i))
                .transpose()?,
            source: e.integration.source,
        },
        rules: SourcedView {
            value: rule_views(conn, &e.rules.value)?,
            source: e.rules.source,
        },
        regression_threshold_pct: sourced(&e.regression_threshold_pct, |v| *v),
        charts: sourced(&e.charts, |v| *v),
        during_load_tests: sourced(&e.during_load_tests, |v| *v),
        summary: sourced(&e.summary, Clone::clone),
        complete: e.complete(),
        missing: e.missing(),
        channel_warnings: channel_warnings(
            conn,
            &all_channels(&e.target_channels.value, &e.rules.value),
            e.integration.value.as_ref(),
        )?,
        warnings: warning_views(&e),
    };
    Ok(ProjectView { own, effective })
}

/// The organization's settings view.
pub async fn org_view(services: &Services, org: &OrgId) -> Result<OrgView, ConfigError> {
    let scope = Scope::Org(org.clone());
    services
        .db
        .run(move |conn| {
            ensure_exists(conn, &scope)?;
            Ok(build_org_view(conn, scope.org().as_str())?)
        })
        .await
}

/// A project's own and effective settings.
pub async fn project_view(
    services: &Services,
    org: &OrgId,
    project: &ProjectId,
) -> Result<ProjectView, ConfigError> {
    let scope = Scope::Project(org.clone(), project.clone());
    services
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

//! What the settings pages show, built from the service's views: the page as a whole
//! ([`SettingsPage`]), one file per part of it, and one per level ([`org_page`],
//! [`project_page`]). Only presentation lives here: which value wins and why is decided by
//! `domain::settings::resolve`, and these modules only label its answers.

pub mod delivery_log;
pub mod form;
mod integration;
pub mod maintenance;
pub mod org_page;
pub mod project_page;
mod rules;
pub mod summary;

use serde::Serialize;

use self::delivery_log::{DeliveryLine, LogFilters, ProjectLink};
use self::form::{ChannelsBox, SettingRow, ThresholdBox};
use self::integration::IntegrationBox;
use self::maintenance::WindowsBox;
use self::rules::RulesBox;
use super::session::{Flash, Notice};
use crate::domain::delivery_reason::error_message;
use crate::domain::report::Metric;
use crate::services::delivery_log::MuteEntry;
use crate::services::slack_config::{DefinitionView, Scope, WarningView, WindowView};
/// One line of the test-message results.
#[derive(Serialize)]
struct TestLine {
    channel: String,
    ok: bool,
    error: Option<String>,
    hint: Option<String>,
}

/// Paths of the page's actions.
#[derive(Serialize)]
struct Urls {
    page: String,
    rules: String,
    install: String,
    remove: String,
    test: String,
    reset: String,
    org: String,
    summary: String,
}

impl Urls {
    fn new(scope: &Scope) -> Self {
        let page = scope.settings_page();
        Self {
            install: format!("{page}/install"),
            remove: format!("{page}/remove"),
            test: format!("{page}/test"),
            reset: format!("{page}/reset"),
            rules: format!("{page}/rules"),
            summary: format!("{page}/summary"),
            org: Scope::Org(scope.org().clone()).settings_page(),
            page,
        }
    }
}

/// Everything the settings page template needs.
#[derive(Serialize)]
pub struct SettingsPage {
    is_project: bool,
    org_id: String,
    org_name: String,
    project_id: Option<String>,
    project_name: Option<String>,
    csrf: String,
    notices: Vec<Notice>,
    /// The project has settings of its own (projects only).
    has_own: bool,
    settings: Vec<SettingRow>,
    /// Regression threshold (%).
    threshold: ThresholdBox,
    channels: ChannelsBox,
    rules: RulesBox,
    integration: IntegrationBox,
    /// Projects: the organization's integration, which takes effect without one of its own.
    org_integration: Option<IntegrationBox>,
    /// What to fix about the settings in use (shown with the integration).
    warnings: Vec<WarningView>,
    complete: bool,
    missing: String,
    test_results: Option<Vec<TestLine>>,
    deliveries: Vec<DeliveryLine>,
    /// Muted monitoring incidents, each with its "End mute" form.
    mutes: Vec<MuteLine>,
    /// Projects: each definition's newest run and pinned baseline.
    definitions: Vec<DefinitionLine>,
    /// The scope's own maintenance windows and the form that creates one.
    windows: WindowsBox,
    /// Organization page: the log's filters.
    log_filters: Option<LogFilters>,
    /// The form was refused: nothing was saved.
    rejected: bool,
    projects: Vec<ProjectLink>,
    /// Projects: whether the viewer may open the organization's page.
    org_admin: bool,
    /// Whether the server has the Slack app's credentials, without which no
    /// integration can be set up (the page says so instead of offering the button).
    slack_app: bool,
    /// The weekly summary's schedule and preview.
    summary: Option<summary::SummaryBox>,
    urls: Urls,
}

/// A test definition on the project page: its newest reported run and its baseline.
#[derive(Serialize)]
pub struct DefinitionLine {
    definition: String,
    latest_id: String,
    latest_when: String,
    latest_p95: Option<String>,
    /// The pinned run, who pinned it and when; `None`: runs compare with the run before.
    pinned: Option<PinnedLine>,
    /// The newest run can be pinned (it is not the baseline already).
    can_pin_latest: bool,
}

#[derive(Serialize)]
pub struct PinnedLine {
    load_test_id: String,
    set_by: String,
    set_at: String,
    p95: Option<String>,
}

/// A muted incident on the settings page.
#[derive(Serialize)]
pub struct MuteLine {
    scenario: String,
    scenario_id: String,
    project: String,
    muted_by: String,
    /// "until recovered" or "until 2026-12-01 15:04 UTC".
    until: String,
    since: String,
    /// The reason typed in Slack's "Mute for…" dialog, if any.
    comment: Option<String>,
    /// Where "End mute" posts.
    end_url: String,
}

impl SettingsPage {
    /// The weekly summary's fields and preview.
    pub fn set_summary(&mut self, summary: summary::SummaryBox) {
        self.summary = Some(summary);
    }

    /// Whether this server can set up integrations (`SLACK_CLIENT_ID`/`SECRET` set).
    pub fn set_slack_app(&mut self, configured: bool) {
        self.slack_app = configured;
    }

    /// The log's filters as applied (a project page's; the organization page's come with
    /// its lists).
    pub fn set_log_filters(&mut self, filters: Option<LogFilters>) {
        if filters.is_some() {
            self.log_filters = filters;
        }
    }

    /// Lists a project's definitions with their newest runs and baselines.
    pub fn set_definitions(&mut self, definitions: &[DefinitionView]) {
        let p95 = |s: Option<f64>| s.map(|v| Metric::P95.show(v));
        self.definitions = definitions
            .iter()
            .map(|d| DefinitionLine {
                definition: d.definition.clone(),
                latest_id: d.latest.load_test_id.clone(),
                latest_when: d
                    .latest
                    .reported_at
                    .format("%Y-%m-%d %H:%M UTC")
                    .to_string(),
                latest_p95: p95(d.latest.figures.get(Metric::P95)),
                can_pin_latest: d
                    .baseline
                    .as_ref()
                    .is_none_or(|b| b.load_test_id != d.latest.load_test_id),
                pinned: d.baseline.as_ref().map(|b| PinnedLine {
                    load_test_id: b.load_test_id.clone(),
                    set_by: b.set_by.clone(),
                    set_at: b.set_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    p95: p95(b.summary.as_ref().and_then(|s| s.p95_ms)),
                }),
            })
            .collect();
    }

    /// Lists the scope's maintenance windows.
    pub fn set_windows(&mut self, scope: &Scope, windows: &[WindowView]) {
        self.windows = WindowsBox::new(scope, windows);
    }

    /// Lists the active mutes (the organization page: of all its projects).
    pub fn set_mutes(&mut self, mutes: &[MuteEntry], org: &str) {
        self.mutes = mutes
            .iter()
            .map(|m| MuteLine {
                scenario: m.scenario_name.clone(),
                scenario_id: m.scenario_id.clone(),
                project: m.project.clone(),
                muted_by: m.muted_by.clone(),
                until: match &m.until {
                    Some(u) => format!("until {}", u.replace('T', " ").replace('Z', " UTC")),
                    None => "until recovered".to_owned(),
                },
                since: m.muted_at.replace('T', " ").replace('Z', " UTC"),
                comment: m.comment.clone(),
                // Scenario ids are slugs (`domain::ids`): safe in a path as they are.
                end_url: format!(
                    "/orgs/{org}/projects/{}/slack/mutes/{}/end",
                    m.project, m.scenario_id
                ),
            })
            .collect();
    }
}

/// The names and links around a page.
pub struct Frame {
    pub scope: Scope,
    pub org_name: String,
    pub project_name: Option<String>,
    pub csrf: String,
    pub org_admin: bool,
}

fn missing_text(missing: &[&'static str]) -> String {
    missing
        .iter()
        .map(|m| match *m {
            "integration" => "a Slack integration",
            "active_integration" => "a working Slack integration (the current one was revoked)",
            "target_channels" => "at least one target channel",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

fn notices(flash: &Flash, installed: bool, team: Option<&str>) -> Vec<Notice> {
    let mut out = Vec::new();
    if installed {
        out.push(Notice::new(
            "success",
            match team {
                Some(t) => format!("Slack integration installed into the workspace {t}."),
                None => "Slack integration installed.".to_owned(),
            },
        ));
    }
    out.extend(flash.notices.iter().cloned());
    out
}

fn test_lines(flash: &Flash) -> Option<Vec<TestLine>> {
    flash.test_results.as_ref().map(|results| {
        results
            .iter()
            .map(|(channel, ok, error)| TestLine {
                channel: channel.clone(),
                ok: *ok,
                hint: error.as_deref().map(error_message),
                error: error.clone(),
            })
            .collect()
    })
}

/// The confirmation page of "Remove Slack Integration".
#[derive(Serialize)]
pub struct ConfirmRemove {
    pub csrf: String,
    pub action: String,
    pub back: String,
    pub team_name: Option<String>,
    pub is_project: bool,
    /// Projects: the organization's workspace, which then takes effect.
    pub org_team_name: Option<String>,
}

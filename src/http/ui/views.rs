//! What the settings pages show, built from the service's views. Only presentation lives
//! here: which value wins and why is decided by `domain::settings::resolve`, and this
//! module only labels its answers.

use crate::db::models::delivery::DeliveryStatus;
use serde::{Deserialize, Serialize};

use super::render::capitalize;
use super::session::{Flash, Notice};
use crate::domain::rules::EventKind;
use crate::domain::settings::{IntegrationStatus, Source};
use crate::http::deliveries::{error_message, DeliveryEntry, MuteEntry};
use crate::services::slack_config::{
    ChannelProblem, ChannelWarning, IntegrationView, OrgView, ProjectView, RuleView, Scope,
};

/// A settings form as posted. Selects carry `enabled`, `disabled` or (projects) `inherit`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub send_messages: String,
    #[serde(default)]
    pub threads: String,
    #[serde(default)]
    pub compact_messages: String,
    #[serde(default)]
    pub target_channels: String,
}

/// A choice of one select: a value or inheriting the organization's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Inherit,
    Set(bool),
}

impl Choice {
    /// Parses a posted select value; `None` for anything else.
    pub fn parse(raw: &str, inherit_allowed: bool) -> Option<Self> {
        match raw {
            "enabled" => Some(Self::Set(true)),
            "disabled" => Some(Self::Set(false)),
            "inherit" if inherit_allowed => Some(Self::Inherit),
            _ => None,
        }
    }

    fn value(self) -> &'static str {
        match self {
            Self::Inherit => "inherit",
            Self::Set(true) => "enabled",
            Self::Set(false) => "disabled",
        }
    }

    pub fn as_option(self) -> Option<bool> {
        match self {
            Self::Inherit => None,
            Self::Set(b) => Some(b),
        }
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "Enabled"
    } else {
        "Disabled"
    }
}

pub fn source_label(s: Source) -> &'static str {
    match s {
        Source::Organization => "inherited from organization",
        Source::Project => "set on this project",
    }
}

#[derive(Serialize)]
struct SelectOption {
    value: &'static str,
    label: String,
    selected: bool,
}

/// One Enabled/Disabled row of the form.
#[derive(Serialize)]
pub struct SettingRow {
    name: &'static str,
    label: &'static str,
    help: &'static str,
    options: Vec<SelectOption>,
    /// Projects: the effective value and where it comes from.
    effective: Option<String>,
    source: Option<&'static str>,
    /// Projects: the organization's value (read-only).
    org_value: Option<&'static str>,
    note: Option<&'static str>,
    /// A refused form: the saved value, when the shown (unsaved) one differs.
    unsaved: Option<String>,
}

const SEND_HELP: &str = "The Slack integration will not send any messages unless enabled.";
const THREADS_HELP: &str =
    "Group the messages about one load test into a thread under its first message.";
const COMPACT_HELP: &str = "Send short one-line messages instead of the default tall layout.";

fn row(
    name: &'static str,
    label: &'static str,
    help: &'static str,
    selected: Choice,
    inherit: Option<bool>,
) -> SettingRow {
    let mut options = Vec::new();
    if let Some(org) = inherit {
        options.push(SelectOption {
            value: "inherit",
            label: format!("Inherit from organization ({})", on_off(org)),
            selected: selected == Choice::Inherit,
        });
    }
    for v in [true, false] {
        options.push(SelectOption {
            value: Choice::Set(v).value(),
            label: on_off(v).to_owned(),
            selected: selected == Choice::Set(v),
        });
    }
    SettingRow {
        name,
        label,
        help,
        options,
        effective: None,
        source: None,
        org_value: None,
        note: None,
        unsaved: None,
    }
}

/// What a select shows for a saved choice (to say what an unsaved one would replace).
fn choice_label(c: Choice) -> &'static str {
    match c {
        Choice::Inherit => "Inherit from organization",
        Choice::Set(b) => on_off(b),
    }
}

/// The saved value's label when a refused form shows something else.
fn unsaved(shown: Choice, saved: Choice, rejected: bool) -> Option<String> {
    (rejected && shown != saved).then(|| choice_label(saved).to_owned())
}

/// The same for Target Channels (compared as lists, so spacing does not count).
fn unsaved_channels(shown: &str, saved: &str, rejected: bool) -> Option<String> {
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    (rejected && words(shown) != words(saved)).then(|| {
        if saved.trim().is_empty() {
            "empty".to_owned()
        } else {
            saved.to_owned()
        }
    })
}

/// The Slack Integration rows.
#[derive(Serialize)]
pub struct IntegrationBox {
    done: bool,
    /// Installed and not revoked: setting up again is then a side action.
    active: bool,
    status: &'static str,
    team_name: Option<String>,
    installed_at: Option<String>,
    revoked: bool,
    reason: Option<String>,
    /// Why Slack stopped accepting a revoked installation, as a sentence.
    reason_text: Option<String>,
    source: Option<&'static str>,
    /// Whether this page's scope has its own installation (so it can be removed here).
    own: bool,
    /// How far the workspace's channel directory is, as a sentence.
    directory: Option<String>,
}

impl IntegrationBox {
    fn new(i: Option<&IntegrationView>, source: Option<Source>, own: bool) -> Self {
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
fn revoked_reason(code: Option<&str>) -> String {
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

/// Target Channels: the input, the inline errors, the warnings about channels Slack
/// reports archived, deleted or private, and (projects) what is inherited.
#[derive(Serialize)]
struct ChannelsBox {
    value: String,
    placeholder: String,
    /// The error (one refused channel), or the lead line above several.
    error: Option<String>,
    error_channel: Option<String>,
    /// Several refused channels: one line each.
    errors: Vec<ChannelErrorLine>,
    /// Whether the error line starts with "Nothing was saved." (several errors say so in
    /// their lead line already).
    nothing_saved: bool,
    /// A refused form: the saved value, when the typed one differs.
    unsaved: Option<String>,
    /// The stored (org) or effective (project) channels Slack reports as unusable.
    warnings: Vec<ChannelWarning>,
    effective: Option<String>,
    source: Option<&'static str>,
    org_value: Option<String>,
}

/// One refused channel under Target Channels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelErrorLine {
    pub channel: Option<String>,
    pub message: String,
}

/// One line of the test-message results.
#[derive(Serialize)]
struct TestLine {
    channel: String,
    ok: bool,
    error: Option<String>,
    hint: Option<String>,
}

/// A delivery log line.
#[derive(Serialize)]
struct DeliveryLine {
    /// The project (organization log only).
    project: Option<String>,
    /// The load test's or scenario's name, or "Test message by …".
    subject: String,
    event: String,
    /// The channel's current name.
    channel: String,
    status: String,
    status_class: &'static str,
    /// "sent 10:00:01 UTC", "next attempt …", when it was skipped or queued.
    when: String,
    /// "3 attempts"; none for one attempt or none (the usual case, so no noise).
    attempts: Option<String>,
    /// What went wrong and what to do, as a sentence.
    message: Option<String>,
    /// The stored reason (a Slack code or ours), shown small.
    code: Option<String>,
}

fn delivery_line(d: &DeliveryEntry, with_project: bool) -> DeliveryLine {
    // "2024-05-01T10:00:01Z" → "2024-05-01 10:00:01 UTC".
    let readable = |t: &str| t.replace('T', " ").replace('Z', " UTC");
    let status_class = match d.status {
        DeliveryStatus::Sent => "ok",
        DeliveryStatus::Failed => "bad",
        DeliveryStatus::Pending => "wait",
        DeliveryStatus::Skipped => "muted",
    };
    let when = match (&d.sent_at, &d.next_attempt_at) {
        (Some(sent), _) => format!("sent {}", readable(sent)),
        (None, Some(next)) => format!("next attempt {}", readable(next)),
        // A skipped delivery was never queued: it was decided on arrival.
        (None, None) if d.status == DeliveryStatus::Skipped => {
            format!("skipped {}", readable(&d.created_at))
        }
        (None, None) => format!("queued {}", readable(&d.created_at)),
    };
    // The stored code next to the sentence, only where it adds something: a Slack code
    // the sentence does not quote already. A skip's reason is ours and the sentence says it.
    let code = d.error.clone().filter(|code| {
        d.status != DeliveryStatus::Skipped
            && !d
                .error_message
                .as_deref()
                .is_some_and(|m| m.contains(code.as_str()))
    });
    DeliveryLine {
        project: with_project.then(|| {
            d.project
                .clone()
                .unwrap_or_else(|| "(organization)".to_owned())
        }),
        subject: d
            .subject_name
            .clone()
            .unwrap_or_else(|| "(unknown)".to_owned()),
        event: event_label(&d.event_type),
        channel: d
            .channel_name
            .clone()
            .or_else(|| d.channel.clone())
            .unwrap_or_else(|| "—".to_owned()),
        status: d.status.as_str().to_owned(),
        status_class,
        when,
        attempts: (d.attempts > 1).then(|| format!("{} attempts", d.attempts)),
        message: d.error_message.clone(),
        code,
    }
}

/// "intermediate_report" → "Intermediate report".
fn event_label(event: &str) -> String {
    capitalize(&event.replace('_', " "))
}

/// The organization page's log filters, as chosen.
#[derive(Serialize)]
pub struct LogFilters {
    pub status: String,
    pub project: String,
    statuses: Vec<SelectOption>,
    projects: Vec<FilterOption>,
    /// An unknown status or project was asked for (and ignored).
    pub problem: Option<String>,
}

#[derive(Serialize)]
struct FilterOption {
    value: String,
    label: String,
    selected: bool,
}

impl LogFilters {
    /// The filters as chosen, with the options to choose from.
    pub fn new(
        status: Option<DeliveryStatus>,
        project: Option<&str>,
        projects: &[ProjectLink],
        problem: Option<String>,
    ) -> Self {
        let status = status
            .map(DeliveryStatus::as_str)
            .unwrap_or_default()
            .to_owned();
        let project = project.unwrap_or_default().to_owned();
        let statuses = [
            ("", "Any status"),
            ("pending", "Pending"),
            ("sent", "Sent"),
            ("failed", "Failed"),
            ("skipped", "Skipped"),
        ]
        .into_iter()
        .map(|(value, label)| SelectOption {
            value,
            label: label.to_owned(),
            selected: value == status,
        })
        .collect();
        let mut options = vec![FilterOption {
            value: String::new(),
            label: "All projects".to_owned(),
            selected: project.is_empty(),
        }];
        options.extend(projects.iter().map(|p| FilterOption {
            value: p.id.clone(),
            label: p.name.clone(),
            selected: p.id == project,
        }));
        Self {
            status,
            project,
            statuses,
            projects: options,
            problem,
        }
    }
}

/// A link to a project's page (organization page).
#[derive(Serialize)]
pub struct ProjectLink {
    pub id: String,
    pub name: String,
    pub url: String,
}

/// One event checkbox of a rule row.
#[derive(Serialize)]
struct KindBox {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

/// One editable rule (or the empty row that adds one).
#[derive(Serialize)]
struct RuleRow {
    index: usize,
    number: usize,
    new: bool,
    channel: String,
    mention: String,
    kinds: Vec<KindBox>,
}

/// A rule shown read-only (a project's inherited rules).
#[derive(Serialize)]
struct RuleLine {
    channel: String,
    events: String,
    mention: Option<String>,
}

/// The "Notification rules" section.
#[derive(Serialize)]
pub struct RulesBox {
    rows: Vec<RuleRow>,
    /// A project without rules of its own: the organization's, which apply.
    inherited: Vec<RuleLine>,
}

fn kind_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::LoadTestStarted => "Load test started",
        EventKind::LoadTestRunning => "Load test running",
        EventKind::LoadTestFinished => "Load test finished",
        EventKind::LoadTestAborted => "Load test aborted",
        EventKind::LoadTestError => "Load test failed",
        EventKind::LoadTestIntermediateReport => "Intermediate report",
        EventKind::LoadTestReportAvailable => "Final report",
        EventKind::MonitoringFailing => "Scenario failing",
        EventKind::MonitoringSeverityChanged => "Severity changed",
        EventKind::MonitoringRecovered => "Scenario recovered",
    }
}

fn rule_row(index: usize, rule: Option<&RuleView>) -> RuleRow {
    let has = |v: &str| rule.is_some_and(|r| r.events.iter().any(|e| e == v));
    let mut kinds = vec![
        KindBox {
            value: "all",
            label: "All",
            checked: has("all"),
        },
        KindBox {
            value: "failures",
            label: "Failures only",
            checked: has("failures"),
        },
    ];
    kinds.extend(EventKind::ALL.map(|k| KindBox {
        value: k.as_str(),
        label: kind_label(k),
        checked: has(k.as_str()),
    }));
    RuleRow {
        index,
        number: index + 1,
        new: rule.is_none(),
        channel: rule.map(|r| r.channel.clone()).unwrap_or_default(),
        mention: rule.and_then(|r| r.mention.clone()).unwrap_or_default(),
        kinds,
    }
}

impl RulesBox {
    fn new(own: &[RuleView], inherited: &[RuleView]) -> Self {
        let mut rows: Vec<RuleRow> = own
            .iter()
            .enumerate()
            .map(|(i, r)| rule_row(i, Some(r)))
            .collect();
        rows.push(rule_row(own.len(), None));
        Self {
            rows,
            inherited: inherited
                .iter()
                .map(|r| RuleLine {
                    channel: r.channel.clone(),
                    events: r.events.join(", "),
                    mention: r.mention.clone(),
                })
                .collect(),
        }
    }
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
    channels: ChannelsBox,
    rules: RulesBox,
    integration: IntegrationBox,
    /// Projects: the organization's integration, which takes effect without one of its own.
    org_integration: Option<IntegrationBox>,
    complete: bool,
    missing: String,
    test_results: Option<Vec<TestLine>>,
    deliveries: Vec<DeliveryLine>,
    /// Muted monitoring incidents, each with its "End mute" form.
    mutes: Vec<MuteLine>,
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
    urls: Urls,
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
    /// Where "End mute" posts.
    end_url: String,
}

impl SettingsPage {
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

/// A form that failed validation, shown again as typed with the error at its field.
pub struct Rejected<'a> {
    pub form: &'a SettingsForm,
    /// The error, or (several refused channels) the line that introduces them.
    pub message: String,
    /// The one refused channel.
    pub channel: Option<String>,
    /// Several refused channels, each with its own message.
    pub errors: Vec<ChannelErrorLine>,
    /// Whether `message` still needs "Nothing was saved." before it.
    pub lead: bool,
}

impl<'a> Rejected<'a> {
    /// Refused target channels: one shown as its error, several each on its own line.
    pub fn channels(form: &'a SettingsForm, message: &str, errors: &[ChannelProblem]) -> Self {
        match errors {
            [] => Self {
                form,
                message: capitalize(message),
                channel: None,
                errors: Vec::new(),
                lead: true,
            },
            [one] => Self {
                form,
                message: capitalize(&one.message),
                channel: one.channel.clone(),
                errors: Vec::new(),
                lead: true,
            },
            many => {
                let named: Vec<&str> = many.iter().filter_map(|e| e.channel.as_deref()).collect();
                Self {
                    form,
                    message: format!(
                        "Nothing was saved: {} problems with the target channels ({}).",
                        many.len(),
                        named.join(", ")
                    ),
                    channel: None,
                    errors: many
                        .iter()
                        .map(|e| ChannelErrorLine {
                            channel: e.channel.clone(),
                            message: capitalize(&e.message),
                        })
                        .collect(),
                    lead: false,
                }
            }
        }
    }
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

fn selected(raw: &str, inherit_allowed: bool, fallback: Choice) -> Choice {
    Choice::parse(raw, inherit_allowed).unwrap_or(fallback)
}

/// What the organization page lists: its projects and the filtered delivery log.
pub struct OrgLists<'a> {
    pub projects: Vec<ProjectLink>,
    pub deliveries: &'a [DeliveryEntry],
    pub filters: LogFilters,
}

/// The organization page.
pub fn org_page(
    frame: Frame,
    view: &OrgView,
    rejected: Option<Rejected<'_>>,
    flash: &Flash,
    installed: bool,
    lists: OrgLists<'_>,
) -> SettingsPage {
    let OrgLists {
        projects,
        deliveries,
        filters: log_filters,
    } = lists;
    let form = rejected.as_ref().map(|r| r.form);
    let pick = |posted: Option<&String>, stored: bool| match posted {
        Some(p) => selected(p, false, Choice::Set(stored)),
        None => Choice::Set(stored),
    };
    let saved = [view.send_messages, view.threads, view.compact_messages];
    let shown = [
        pick(form.map(|f| &f.send_messages), view.send_messages),
        pick(form.map(|f| &f.threads), view.threads),
        pick(form.map(|f| &f.compact_messages), view.compact_messages),
    ];
    let mut settings = vec![
        row("send_messages", "Send messages", SEND_HELP, shown[0], None),
        row("threads", "Threads", THREADS_HELP, shown[1], None),
        row(
            "compact_messages",
            "Compact messages",
            COMPACT_HELP,
            shown[2],
            None,
        ),
    ];
    for ((r, shown), saved) in settings.iter_mut().zip(shown).zip(saved) {
        r.unsaved = unsaved(shown, Choice::Set(saved), form.is_some());
    }
    let stored_channels = view.target_channels.join(" ");
    let integration = IntegrationBox::new(view.integration.as_ref(), None, true);
    let team = view.integration.as_ref().map(|i| i.team_name.as_str());
    SettingsPage {
        is_project: false,
        org_id: frame.scope.org().to_string(),
        org_name: frame.org_name,
        project_id: None,
        project_name: None,
        csrf: frame.csrf,
        notices: notices(flash, installed, team),
        has_own: true,
        settings,
        channels: ChannelsBox {
            value: match form {
                Some(f) => f.target_channels.clone(),
                None => stored_channels.clone(),
            },
            placeholder: "#load-tests #alerts".to_owned(),
            error: rejected.as_ref().map(|r| r.message.clone()),
            error_channel: rejected.as_ref().and_then(|r| r.channel.clone()),
            errors: rejected
                .as_ref()
                .map(|r| r.errors.clone())
                .unwrap_or_default(),
            nothing_saved: rejected.as_ref().is_some_and(|r| r.lead),
            unsaved: form
                .and_then(|f| unsaved_channels(&f.target_channels, &stored_channels, true)),
            warnings: view.channel_warnings.clone(),
            effective: None,
            source: None,
            org_value: None,
        },
        rules: RulesBox::new(&view.rules, &[]),
        integration,
        org_integration: None,
        complete: view.complete,
        missing: missing_text(&view.missing),
        test_results: test_lines(flash),
        deliveries: deliveries.iter().map(|d| delivery_line(d, true)).collect(),
        mutes: Vec::new(),
        log_filters: Some(log_filters),
        rejected: form.is_some(),
        projects,
        org_admin: true,
        slack_app: true,
        urls: Urls::new(&frame.scope),
    }
}

/// The project page; `org` is the organization's own view (shown read-only).
pub fn project_page(
    frame: Frame,
    view: &ProjectView,
    org: &OrgView,
    rejected: Option<Rejected<'_>>,
    flash: &Flash,
    installed: bool,
    deliveries: &[DeliveryEntry],
) -> SettingsPage {
    let form = rejected.as_ref().map(|r| r.form);
    let own = view.own.as_ref();
    let e = &view.effective;
    // Rule 1: once the project has own settings, `send_messages` is always its own.
    let send_inherit = own.is_none();
    let stored_send = match own {
        Some(o) => Choice::Set(o.send_messages),
        None => Choice::Inherit,
    };
    let stored_opt = |v: Option<Option<bool>>| match v.flatten() {
        Some(b) => Choice::Set(b),
        None => Choice::Inherit,
    };
    let pick = |posted: Option<&String>, inherit_ok: bool, stored: Choice| match posted {
        Some(p) => selected(p, inherit_ok, stored),
        None => stored,
    };
    let shown_send = pick(form.map(|f| &f.send_messages), send_inherit, stored_send);
    let mut send = row(
        "send_messages",
        "Send messages",
        SEND_HELP,
        shown_send,
        send_inherit.then_some(org.send_messages),
    );
    send.unsaved = unsaved(shown_send, stored_send, form.is_some());
    send.note = Some(
        "Once this project has settings of its own, this value always decides for it, even \
         when the organization has sending enabled.",
    );
    let stored_threads = stored_opt(own.map(|o| o.threads));
    let shown_threads = pick(form.map(|f| &f.threads), true, stored_threads);
    let mut threads = row(
        "threads",
        "Threads",
        THREADS_HELP,
        shown_threads,
        Some(org.threads),
    );
    threads.unsaved = unsaved(shown_threads, stored_threads, form.is_some());
    let stored_compact = stored_opt(own.map(|o| o.compact_messages));
    let shown_compact = pick(form.map(|f| &f.compact_messages), true, stored_compact);
    let mut compact = row(
        "compact_messages",
        "Compact messages",
        COMPACT_HELP,
        shown_compact,
        Some(org.compact_messages),
    );
    compact.unsaved = unsaved(shown_compact, stored_compact, form.is_some());
    for (r, eff, org_v) in [
        (&mut send, &e.send_messages, org.send_messages),
        (&mut threads, &e.threads, org.threads),
        (&mut compact, &e.compact_messages, org.compact_messages),
    ] {
        r.effective = Some(on_off(eff.value).to_owned());
        r.source = Some(source_label(eff.source));
        r.org_value = Some(on_off(org_v));
    }
    let own_channels = own.map(|o| o.target_channels.join(" ")).unwrap_or_default();
    let org_channels = org.target_channels.join(" ");
    let effective_channels = e.target_channels.value.join(" ");
    // The project's own installation exists with or without own settings.
    let own_integration = e.integration.source == Source::Project;
    let team = e.integration.value.as_ref().map(|i| i.team_name.as_str());
    let project = frame.scope.project().map(ToString::to_string);
    SettingsPage {
        is_project: true,
        org_id: frame.scope.org().to_string(),
        org_name: frame.org_name,
        project_id: project,
        project_name: frame.project_name,
        csrf: frame.csrf,
        notices: notices(flash, installed, team),
        has_own: own.is_some(),
        settings: vec![send, threads, compact],
        channels: ChannelsBox {
            unsaved: form.and_then(|f| unsaved_channels(&f.target_channels, &own_channels, true)),
            value: match form {
                Some(f) => f.target_channels.clone(),
                None => own_channels.clone(),
            },
            placeholder: if org_channels.is_empty() {
                "Empty: inherit from organization (none set)".to_owned()
            } else {
                format!("Empty: inherit {org_channels}")
            },
            error: rejected.as_ref().map(|r| r.message.clone()),
            error_channel: rejected.as_ref().and_then(|r| r.channel.clone()),
            errors: rejected
                .as_ref()
                .map(|r| r.errors.clone())
                .unwrap_or_default(),
            nothing_saved: rejected.as_ref().is_some_and(|r| r.lead),
            warnings: e.channel_warnings.clone(),
            effective: Some(if effective_channels.is_empty() {
                "none".to_owned()
            } else {
                effective_channels
            }),
            source: Some(source_label(e.target_channels.source)),
            org_value: Some(if org_channels.is_empty() {
                "none".to_owned()
            } else {
                org_channels
            }),
        },
        rules: {
            let own_rules = own.map(|o| o.rules.as_slice()).unwrap_or_default();
            let inherited = if own_rules.is_empty() {
                org.rules.as_slice()
            } else {
                &[]
            };
            RulesBox::new(own_rules, inherited)
        },
        integration: IntegrationBox::new(
            e.integration.value.as_ref(),
            Some(e.integration.source),
            own_integration,
        ),
        org_integration: Some(IntegrationBox::new(
            org.integration.as_ref(),
            Some(Source::Organization),
            false,
        )),
        complete: e.complete,
        missing: missing_text(&e.missing),
        test_results: test_lines(flash),
        deliveries: deliveries.iter().map(|d| delivery_line(d, false)).collect(),
        mutes: Vec::new(),
        log_filters: None,
        rejected: form.is_some(),
        projects: Vec::new(),
        org_admin: frame.org_admin,
        slack_app: true,
        urls: Urls::new(&frame.scope),
    }
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

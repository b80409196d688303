//! What the settings pages show, built from the service's views. Only presentation lives
//! here: which value wins and why is decided by `domain::settings::resolve`, and this
//! module only labels its answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::render::capitalize;
use super::session::{Flash, Notice};
use crate::domain::settings::{IntegrationStatus, Source};
use crate::services::slack_config::{
    ChannelProblem, ChannelWarning, IntegrationView, OrgView, ProjectView, Scope,
};
use crate::slack::{classify, ErrorClass};

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
    }
}

/// The Slack Integration rows.
#[derive(Serialize)]
pub struct IntegrationBox {
    done: bool,
    status: &'static str,
    team_name: Option<String>,
    installed_at: Option<String>,
    revoked: bool,
    reason: Option<String>,
    source: Option<&'static str>,
    /// Whether this page's scope has its own installation (so it can be removed here).
    own: bool,
}

impl IntegrationBox {
    fn new(i: Option<&IntegrationView>, source: Option<Source>, own: bool) -> Self {
        Self {
            done: i.is_some(),
            status: if i.is_some() {
                "Done"
            } else {
                "Not configured"
            },
            team_name: i.map(|i| i.team_name.clone()),
            installed_at: i.map(|i| i.installed_at.format("%Y-%m-%d %H:%M UTC").to_string()),
            revoked: i.is_some_and(|i| i.status == IntegrationStatus::Revoked),
            reason: i.and_then(|i| i.status_reason.clone()),
            source: i.and(source).map(source_label),
            own,
        }
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
    hint: Option<&'static str>,
}

fn hint(code: &str) -> &'static str {
    match classify(code) {
        ErrorClass::Channel => {
            "Check this channel: it must exist, be public and not archived in the workspace."
        }
        ErrorClass::IntegrationBroken => {
            "Slack no longer accepts this installation; set up the Slack integration again."
        }
        ErrorClass::RetryLater => "Slack is busy or unreachable; try again in a minute.",
        ErrorClass::BadMessage | ErrorClass::Other => "Slack refused the message.",
    }
}

/// A delivery log line.
#[derive(Serialize)]
struct DeliveryLine {
    time: String,
    event: String,
    channel: String,
    status: String,
    status_class: &'static str,
    attempts: i64,
    error: String,
}

fn delivery_line(d: &Value) -> DeliveryLine {
    let text = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
    let status = text("status");
    let status_class = match status.as_str() {
        "sent" => "ok",
        "failed" => "bad",
        "pending" | "retrying" | "sending" => "wait",
        _ => "muted",
    };
    DeliveryLine {
        time: text("created_at").replace('T', " ").replace('Z', " UTC"),
        event: text("event_type"),
        channel: text("channel"),
        status,
        status_class,
        attempts: d["attempts"].as_i64().unwrap_or_default(),
        error: text("error"),
    }
}

/// A link to a project's page (organization page).
#[derive(Serialize)]
pub struct ProjectLink {
    pub id: String,
    pub name: String,
    pub url: String,
}

/// Paths of the page's actions.
#[derive(Serialize)]
struct Urls {
    page: String,
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
    integration: IntegrationBox,
    /// Projects: the organization's integration, which takes effect without one of its own.
    org_integration: Option<IntegrationBox>,
    complete: bool,
    missing: String,
    test_results: Option<Vec<TestLine>>,
    deliveries: Vec<DeliveryLine>,
    projects: Vec<ProjectLink>,
    /// Projects: whether the viewer may open the organization's page.
    org_admin: bool,
    urls: Urls,
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
            },
            [one] => Self {
                form,
                message: capitalize(&one.message),
                channel: one.channel.clone(),
                errors: Vec::new(),
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
                hint: error.as_deref().map(hint),
                error: error.clone(),
            })
            .collect()
    })
}

fn selected(raw: &str, inherit_allowed: bool, fallback: Choice) -> Choice {
    Choice::parse(raw, inherit_allowed).unwrap_or(fallback)
}

/// The organization page.
pub fn org_page(
    frame: Frame,
    view: &OrgView,
    rejected: Option<Rejected<'_>>,
    flash: &Flash,
    installed: bool,
    projects: Vec<ProjectLink>,
) -> SettingsPage {
    let form = rejected.as_ref().map(|r| r.form);
    let pick = |posted: Option<&String>, stored: bool| match posted {
        Some(p) => selected(p, false, Choice::Set(stored)),
        None => Choice::Set(stored),
    };
    let settings = vec![
        row(
            "send_messages",
            "Send messages",
            SEND_HELP,
            pick(form.map(|f| &f.send_messages), view.send_messages),
            None,
        ),
        row(
            "threads",
            "Threads",
            THREADS_HELP,
            pick(form.map(|f| &f.threads), view.threads),
            None,
        ),
        row(
            "compact_messages",
            "Compact messages",
            COMPACT_HELP,
            pick(form.map(|f| &f.compact_messages), view.compact_messages),
            None,
        ),
    ];
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
                None => view.target_channels.join(" "),
            },
            placeholder: "#load-tests #alerts".to_owned(),
            error: rejected.as_ref().map(|r| r.message.clone()),
            error_channel: rejected.as_ref().and_then(|r| r.channel.clone()),
            errors: rejected
                .as_ref()
                .map(|r| r.errors.clone())
                .unwrap_or_default(),
            warnings: view.channel_warnings.clone(),
            effective: None,
            source: None,
            org_value: None,
        },
        integration,
        org_integration: None,
        complete: view.complete,
        missing: missing_text(&view.missing),
        test_results: test_lines(flash),
        deliveries: Vec::new(),
        projects,
        org_admin: true,
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
    deliveries: &[Value],
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
    let mut send = row(
        "send_messages",
        "Send messages",
        SEND_HELP,
        pick(form.map(|f| &f.send_messages), send_inherit, stored_send),
        send_inherit.then_some(org.send_messages),
    );
    send.note = Some(
        "Once this project has settings of its own, this value always decides for it, even \
         when the organization has sending enabled.",
    );
    let mut threads = row(
        "threads",
        "Threads",
        THREADS_HELP,
        pick(
            form.map(|f| &f.threads),
            true,
            stored_opt(own.map(|o| o.threads)),
        ),
        Some(org.threads),
    );
    let mut compact = row(
        "compact_messages",
        "Compact messages",
        COMPACT_HELP,
        pick(
            form.map(|f| &f.compact_messages),
            true,
            stored_opt(own.map(|o| o.compact_messages)),
        ),
        Some(org.compact_messages),
    );
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
            value: match form {
                Some(f) => f.target_channels.clone(),
                None => own_channels,
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
        deliveries: deliveries.iter().map(delivery_line).collect(),
        projects: Vec::new(),
        org_admin: frame.org_admin,
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

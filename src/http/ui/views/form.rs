//! The settings form: what it posts ([`SettingsForm`], [`Choice`]), its rows as shown
//! (Enabled/Disabled selects, Target Channels), and a refused form shown again as typed
//! ([`Rejected`]) with what it would have replaced.

use serde::{Deserialize, Serialize};

use crate::domain::quiet::DuringLoadTests;
use crate::domain::settings::Source;
use crate::http::ui::render::capitalize;
use crate::services::slack_config::{ChannelProblem, ChannelWarning};

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
    /// `None` when the form did not send it (the saved value stays); empty: the default
    /// (organization) or inherit (project).
    #[serde(default)]
    pub regression_threshold_pct: Option<String>,
    /// A select like the others; `None` when the form did not send it.
    #[serde(default)]
    pub charts: Option<String>,
    /// `notify`, `annotate`, `hold` or (projects) `inherit`; `None` when the form did not
    /// send it (the saved value stays).
    #[serde(default)]
    pub during_load_tests: Option<String>,
    /// The weekly summary's day (`mon` … `sun`; empty: off, or inherit on a project);
    /// `None` when the form did not send it (the saved value stays).
    #[serde(default)]
    pub summary_day: Option<String>,
    #[serde(default)]
    pub summary_time: Option<String>,
    #[serde(default)]
    pub summary_timezone: Option<String>,
}

/// A posted During load tests value: `Some(None)` is inherit (projects only), `None`
/// anything the select does not offer.
pub fn parse_during(raw: &str, inherit_allowed: bool) -> Option<Option<DuringLoadTests>> {
    match raw {
        "inherit" if inherit_allowed => Some(None),
        _ => DuringLoadTests::parse(raw).map(Some),
    }
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

    pub(super) fn value(self) -> &'static str {
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

pub(super) fn on_off(b: bool) -> &'static str {
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
pub(super) struct SelectOption {
    pub(super) value: &'static str,
    pub(super) label: String,
    pub(super) selected: bool,
}

/// One Enabled/Disabled row of the form.
#[derive(Serialize)]
pub struct SettingRow {
    pub(super) name: &'static str,
    pub(super) label: &'static str,
    pub(super) help: &'static str,
    pub(super) options: Vec<SelectOption>,
    /// Projects: the effective value and where it comes from.
    pub(super) effective: Option<String>,
    pub(super) source: Option<&'static str>,
    /// Projects: the organization's value (read-only).
    pub(super) org_value: Option<&'static str>,
    pub(super) note: Option<&'static str>,
    /// A refused form: the saved value, when the shown (unsaved) one differs.
    pub(super) unsaved: Option<String>,
}

pub(super) const SEND_HELP: &str =
    "The Slack integration will not send any messages unless enabled.";
pub(super) const THREADS_HELP: &str =
    "Group the messages about one load test into a thread under its first message.";
pub(super) const COMPACT_HELP: &str =
    "Send short one-line messages instead of the default tall layout.";
pub(super) const CHARTS_HELP: &str =
    "Upload a chart of throughput and P95 over time into the load test's thread with its report.";

pub(super) const DURING_HELP: &str =
    "What a monitoring incident does while a load test of the same project is started or \
     running: notify as usual, notify naming the load test, or hold it until the load test \
     ends (a recovery meanwhile becomes one line in the load test's thread; one still \
     failing 5 minutes after the end is posted then).";

/// The During load tests select. `shown`/`saved`: `None` is inherit (projects, whose
/// `org` value is then named); `rejected`: a refused form, which marks an unsaved choice.
pub(super) fn during_row(
    shown: Option<DuringLoadTests>,
    saved: Option<DuringLoadTests>,
    org: Option<DuringLoadTests>,
    rejected: bool,
) -> SettingRow {
    let label = |v: Option<DuringLoadTests>| match v {
        Some(v) => v.label(),
        None => "Inherit from organization",
    };
    let mut options = Vec::new();
    if let Some(org) = org {
        options.push(SelectOption {
            value: "inherit",
            label: format!("Inherit from organization ({})", org.label()),
            selected: shown.is_none(),
        });
    }
    for v in DuringLoadTests::ALL {
        options.push(SelectOption {
            value: v.as_str(),
            label: v.label().to_owned(),
            selected: shown == Some(v),
        });
    }
    SettingRow {
        name: "during_load_tests",
        label: "During load tests",
        help: DURING_HELP,
        options,
        effective: None,
        source: None,
        org_value: org.map(DuringLoadTests::label),
        note: None,
        unsaved: (rejected && shown != saved).then(|| label(saved).to_owned()),
    }
}

/// The Regression threshold (%) row: a number input, empty meaning the default
/// (organization) or inherit (project).
#[derive(Serialize)]
pub(super) struct ThresholdBox {
    pub(super) value: String,
    pub(super) placeholder: String,
    pub(super) unsaved: Option<String>,
    pub(super) effective: Option<String>,
    pub(super) source: Option<&'static str>,
    pub(super) org_value: Option<String>,
}

impl ThresholdBox {
    /// `saved` as the input holds it (empty: default or inherit), `posted` when a refused
    /// form shows what was typed.
    pub(super) fn new(saved: String, posted: Option<&String>, placeholder: String) -> Self {
        let value = posted.cloned().unwrap_or_else(|| saved.clone());
        Self {
            unsaved: unsaved_text(&value, &saved, posted.is_some()),
            value,
            placeholder,
            effective: None,
            source: None,
            org_value: None,
        }
    }
}

pub(super) fn row(
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
pub(super) fn choice_label(c: Choice) -> &'static str {
    match c {
        Choice::Inherit => "Inherit from organization",
        Choice::Set(b) => on_off(b),
    }
}

/// The saved value's label when a refused form shows something else.
pub(super) fn unsaved(shown: Choice, saved: Choice, rejected: bool) -> Option<String> {
    (rejected && shown != saved).then(|| choice_label(saved).to_owned())
}

/// The same for a text input such as Target Channels (compared as lists of words, so
/// spacing does not count).
pub(super) fn unsaved_text(shown: &str, saved: &str, rejected: bool) -> Option<String> {
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    (rejected && words(shown) != words(saved)).then(|| {
        if saved.trim().is_empty() {
            "empty".to_owned()
        } else {
            saved.to_owned()
        }
    })
}

/// Target Channels: the input, the inline errors, the warnings about channels Slack
/// reports archived, deleted or private, and (projects) what is inherited.
#[derive(Serialize)]
pub(super) struct ChannelsBox {
    pub(super) value: String,
    pub(super) placeholder: String,
    /// The error (one refused channel), or the lead line above several.
    pub(super) error: Option<String>,
    pub(super) error_channel: Option<String>,
    /// Several refused channels: one line each.
    pub(super) errors: Vec<ChannelErrorLine>,
    /// Whether the error line starts with "Nothing was saved." (several errors say so in
    /// their lead line already).
    pub(super) nothing_saved: bool,
    /// A refused form: the saved value, when the typed one differs.
    pub(super) unsaved: Option<String>,
    /// The stored (org) or effective (project) channels Slack reports as unusable.
    pub(super) warnings: Vec<ChannelWarning>,
    pub(super) effective: Option<String>,
    pub(super) source: Option<&'static str>,
    pub(super) org_value: Option<String>,
}

/// One refused channel under Target Channels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelErrorLine {
    pub channel: Option<String>,
    pub message: String,
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

pub(super) fn selected(raw: &str, inherit_allowed: bool, fallback: Choice) -> Choice {
    Choice::parse(raw, inherit_allowed).unwrap_or(fallback)
}

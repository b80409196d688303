//! How a monitoring change is worded in each place a message shows it (headline, thread
//! line, card state and history), so that each fact appears once.

use crate::domain::event_kind::EventKind;
use crate::domain::monitoring::{human_duration, Change};

/// How a monitoring change is worded: each fact once, wherever the message puts it.
pub(crate) struct ChangeWords {
    /// The headline: "Scenario failing".
    pub title: &'static str,
    /// A line in the incident's thread: "Failing, severity failure".
    pub short: String,
    /// What the title does not say: "severity failure", "down for 7m 5s".
    pub detail: String,
    /// The card's state line when its facts show the severity or the time down: "Failing".
    pub state: String,
    /// The card's history line (the time down is in the card's facts): "Recovered".
    pub history: String,
    pub emoji: &'static str,
}

/// The words of a monitoring change. An escalation looks at least as severe as the failure
/// it escalates (🚨, not the orange of a flapping scenario).
pub(crate) fn change_title(change: &Change) -> ChangeWords {
    match change {
        Change::Failing { severity } => ChangeWords {
            title: EventKind::MonitoringFailing.label(),
            short: format!("Failing, severity {}", severity.as_str()),
            detail: format!("severity {}", severity.as_str()),
            state: "Failing".into(),
            history: format!("Failing, severity {}", severity.as_str()),
            emoji: "red_circle",
        },
        Change::SeverityChanged { from, to } => {
            let change = format!("{} → {}", from.as_str(), to.as_str());
            ChangeWords {
                title: if to > from {
                    "Severity raised"
                } else {
                    "Severity lowered"
                },
                short: format!("Severity {change}"),
                detail: change.clone(),
                state: "Failing".into(),
                history: format!("Severity {change}"),
                emoji: if to > from {
                    "rotating_light"
                } else {
                    "red_circle"
                },
            }
        }
        Change::Recovered { down_seconds } => ChangeWords {
            title: EventKind::MonitoringRecovered.label(),
            short: format!("Recovered after {}", human_duration(*down_seconds)),
            detail: format!("down for {}", human_duration(*down_seconds)),
            state: "Recovered".into(),
            history: "Recovered".into(),
            emoji: "large_green_circle",
        },
        Change::Flapping {
            health, changes, ..
        } => {
            let now = if health.is_failing() {
                format!("now failing, severity {}", health.as_str())
            } else {
                "now ok (recovery not confirmed yet)".to_owned()
            };
            ChangeWords {
                title: "Scenario flapping",
                short: format!("Flapping ({changes} changes), {now}"),
                detail: format!("{changes} changes, {now}"),
                state: if health.is_failing() {
                    format!("Flapping ({changes} changes)")
                } else {
                    format!("Flapping ({changes} changes), recovery not confirmed yet")
                },
                history: format!("Flapping ({changes} changes), {now}"),
                emoji: "large_orange_circle",
            }
        }
    }
}

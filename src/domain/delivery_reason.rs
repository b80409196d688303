//! Why a delivery was not sent (or not yet): one enum of reasons with their parameters,
//! its stored forms, and the sentence with advice the delivery log shows for it.
//!
//! A delivery row stores a reason twice: as its code plus parameters (JSON, the `reason`
//! column), which is what is read back, and as text (the `error` column: the API's `error`
//! field, in the words earlier versions wrote). Only rows written before the `reason`
//! column, and test-message results, are read from their text; a text this version does
//! not know (a Slack error code, mostly) is [`DeliveryReason::Slack`], never an error.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::monitoring::Health;
use super::settings::Source;
use crate::slack::{classify, ErrorClass};

const GAVE_UP: &str = "gave up after ";
const BROKEN: &str = "the Slack integration is broken: ";
const INCOMPLETE: &str = "configuration incomplete: ";
const MUTED: &str = "muted by ";
const STALE: &str = "stale result: ";
const MAINTENANCE: &str = "maintenance: ";
const HELD: (&str, &str) = ("held while load test ", " runs");
const RECOVERED_HELD: (&str, &str) = ("recovered while load test ", " ran");
const HELD_ENDED: (&str, &str, &str) = (
    "held: load test ",
    " ended; posted at ",
    " unless it recovers",
);
const TEMPLATE: &str = "template error: ";
const CHARTS_NEED_SCOPE: &str = "no chart: the Slack installation lacks files:write";
const CHARTS_NEED_MEMBER: &str = "no chart: the app is not a member of this channel";
const NOT_FOUND_AFTER_REINSTALL: &str = " after the re-install; choose a target channel that \
                                         exists there";
/// How a mute's end and a stale result's times are written.
const MINUTE: &str = "%Y-%m-%d %H:%M UTC";
const SECOND: &str = "%Y-%m-%d %H:%M:%S UTC";

/// Why a delivery was skipped, failed, or waits for a retry. Stored as a code plus its
/// parameters ([`DeliveryReason::to_stored`]: `{"code": "muted", "params": {...}}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", content = "params", rename_all = "snake_case")]
pub enum DeliveryReason {
    /// "Send messages" is off where the setting came from.
    SendingDisabled(Source),
    /// The settings lacked these (`Effective::missing`: `integration`, ...).
    ConfigurationIncomplete(Vec<String>),
    /// The incident was muted in Slack by `by`, until then (to the minute) or its recovery.
    Muted {
        by: String,
        until: Option<DateTime<Utc>>,
    },
    /// A monitoring result older than the newest applied (times to the second).
    Stale {
        health: Health,
        occurred_at: DateTime<Utc>,
        newest: DateTime<Utc>,
    },
    /// A change of a scenario inside maintenance window `window`, whose occurrence ends at
    /// `until` (to the minute); a failure still open then is posted then.
    Maintenance {
        reason: String,
        window: i64,
        until: DateTime<Utc>,
    },
    /// A newer intermediate report of the same load test replaced it in a busy channel.
    Superseded,
    /// `during_load_tests: hold`: the incident opened while this load test ran; it waits
    /// (`pending`) until the test ends.
    HeldDuringLoadTest {
        load_test: String,
    },
    /// `during_load_tests: hold`: the load test the incident was held for has ended; the
    /// incident, still failing, is posted at `until` (to the minute: the end of the grace
    /// period) unless it recovers first.
    HeldAfterLoadTest {
        load_test: String,
        until: DateTime<Utc>,
    },
    /// A held incident recovered before it was posted: one line in the load test's thread
    /// instead.
    RecoveredDuringLoadTest {
        load_test: String,
    },
    NoIntegration,
    IntegrationRemoved,
    /// Slack refused the installation's token (`code`: Slack's, or ours for a refresh).
    IntegrationBroken {
        code: String,
    },
    EventGone,
    EventUnreadable,
    /// The stored token does not decrypt with the configured key.
    TokenUnreadable,
    /// The token could not be refreshed for now (Slack or the database unreachable).
    TokenRefreshRetried,
    DatabaseUnavailable,
    /// Slack is failing for the workspace; another delivery probes it.
    AwaitingProbe,
    TemplateError {
        detail: String,
    },
    /// After a re-install into another workspace, the channel was not found there.
    ChannelNotFoundAfterReinstall {
        channel: String,
        workspace: String,
    },
    /// Retried until the retry window or attempt limit ran out; `last` was the last error.
    GaveUp {
        attempts: i32,
        /// How long it was tried (`human_duration`), when recorded.
        over: Option<String>,
        last: Box<DeliveryReason>,
    },
    /// A report chart for an installation made without `files:write`.
    ChartsNeedScope,
    /// A report chart for a channel the app is not a member of (sharing a file needs
    /// membership; posting messages does not).
    ChartsNeedMember,
    /// A Slack error code, or any text this version does not know.
    Slack(String),
}

/// The time `t` as its text form at `precision` shows it (so it parses back equal).
fn truncated(t: DateTime<Utc>, precision: &str) -> DateTime<Utc> {
    let t = t.with_nanosecond(0).unwrap_or(t);
    match precision {
        MINUTE => t.with_second(0).unwrap_or(t),
        _ => t,
    }
}

fn parse_time(s: &str, format: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, format)
        .ok()
        .map(|t| t.and_utc())
}

impl DeliveryReason {
    /// A mute by `by` until `until` (kept to the minute, as written).
    pub fn muted(by: &str, until: Option<DateTime<Utc>>) -> Self {
        Self::Muted {
            by: by.to_owned(),
            until: until.map(|u| truncated(u, MINUTE)),
        }
    }

    /// A late monitoring result (times kept to the second, as written).
    pub fn stale(health: Health, occurred_at: DateTime<Utc>, newest: DateTime<Utc>) -> Self {
        Self::Stale {
            health,
            occurred_at: truncated(occurred_at, SECOND),
            newest: truncated(newest, SECOND),
        }
    }

    /// A change inside maintenance window `window` (its end kept to the minute, as written).
    pub fn maintenance(reason: &str, window: i64, until: DateTime<Utc>) -> Self {
        Self::Maintenance {
            reason: reason.to_owned(),
            window,
            until: truncated(until, MINUTE),
        }
    }

    /// A held incident whose load test ended, posted at `until` unless it recovers (kept
    /// to the minute, as written).
    pub fn held_after(load_test: &str, until: DateTime<Utc>) -> Self {
        Self::HeldAfterLoadTest {
            load_test: load_test.to_owned(),
            until: truncated(until, MINUTE),
        }
    }

    /// The stored form: the code plus its parameters, as JSON.
    pub fn to_stored(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    /// Reads [`DeliveryReason::to_stored`]'s form.
    pub fn from_stored(json: &str) -> serde_json::Result<Self> {
        serde_json::from_str(json)
    }

    /// Reads a reason stored as text (rows older than the `reason` column, test-message
    /// results); a text of no known form is [`DeliveryReason::Slack`].
    pub fn parse(s: &str) -> Self {
        Self::parse_known(s).unwrap_or_else(|| Self::Slack(s.to_owned()))
    }

    fn parse_known(s: &str) -> Option<Self> {
        let fixed = match s {
            "sending is disabled for this project" => Some(Self::SendingDisabled(Source::Project)),
            "sending is disabled for this organization" => {
                Some(Self::SendingDisabled(Source::Organization))
            }
            "superseded by a newer intermediate report" => Some(Self::Superseded),
            "no Slack integration" => Some(Self::NoIntegration),
            "the Slack integration was removed" => Some(Self::IntegrationRemoved),
            "the event is gone" => Some(Self::EventGone),
            "the stored event cannot be read" => Some(Self::EventUnreadable),
            "the stored Slack token cannot be decrypted (was XTC_SLACK_SECRET_KEY changed?)" => {
                Some(Self::TokenUnreadable)
            }
            "token_expired (refresh will be retried)" => Some(Self::TokenRefreshRetried),
            "database unavailable" => Some(Self::DatabaseUnavailable),
            CHARTS_NEED_SCOPE => Some(Self::ChartsNeedScope),
            CHARTS_NEED_MEMBER => Some(Self::ChartsNeedMember),
            "Slack is failing for this workspace; waiting for it to recover" => {
                Some(Self::AwaitingProbe)
            }
            _ => None,
        };
        if fixed.is_some() {
            return fixed;
        }
        if let Some(rest) = s.strip_prefix(GAVE_UP) {
            let (head, last) = rest.split_once(": ")?;
            let (attempts, over) = head.split_once(" attempts")?;
            let over = match over {
                "" => None,
                o => Some(o.strip_prefix(" over ")?.to_owned()),
            };
            return Some(Self::GaveUp {
                attempts: attempts
                    .parse()
                    .ok()
                    .filter(|n: &i32| n.to_string() == attempts)?,
                over,
                last: Box::new(Self::parse(last)),
            });
        }
        if let Some(code) = s.strip_prefix(BROKEN) {
            return Some(Self::IntegrationBroken {
                code: code.to_owned(),
            });
        }
        if let Some(list) = s
            .strip_prefix(INCOMPLETE)
            .and_then(|m| m.strip_suffix(" missing"))
        {
            return Some(Self::ConfigurationIncomplete(
                list.split(", ").map(str::to_owned).collect(),
            ));
        }
        if let Some((by, until)) = s.strip_prefix(MUTED).and_then(|r| r.rsplit_once(" until ")) {
            let until = match until {
                "recovered" => None,
                t => Some(parse_time(t, MINUTE)?),
            };
            return Some(Self::muted(by, until));
        }
        if let Some(rest) = s.strip_prefix(MAINTENANCE) {
            let (reason, rest) = rest.rsplit_once(" (window ")?;
            let (window, until) = rest.strip_suffix(')')?.split_once(", until ")?;
            return Some(Self::maintenance(
                reason,
                window
                    .parse()
                    .ok()
                    .filter(|n: &i64| n.to_string() == window)?,
                parse_time(until, MINUTE)?,
            ));
        }
        if let Some(rest) = s.strip_prefix(STALE) {
            let (health, rest) = rest.split_once(" occurred at ")?;
            let (occurred, newest) = rest.split_once(", before the newest result applied (")?;
            return Some(Self::stale(
                Health::parse(health)?,
                parse_time(occurred, SECOND)?,
                parse_time(newest.strip_suffix(')')?, SECOND)?,
            ));
        }
        if let Some(name) = s.strip_prefix(HELD.0).and_then(|r| r.strip_suffix(HELD.1)) {
            return Some(Self::HeldDuringLoadTest {
                load_test: name.to_owned(),
            });
        }
        if let Some((name, until)) = s
            .strip_prefix(HELD_ENDED.0)
            .and_then(|r| r.strip_suffix(HELD_ENDED.2))
            .and_then(|r| r.rsplit_once(HELD_ENDED.1))
        {
            return Some(Self::held_after(name, parse_time(until, MINUTE)?));
        }
        if let Some(name) = s
            .strip_prefix(RECOVERED_HELD.0)
            .and_then(|r| r.strip_suffix(RECOVERED_HELD.1))
        {
            return Some(Self::RecoveredDuringLoadTest {
                load_test: name.to_owned(),
            });
        }
        if let Some(detail) = s.strip_prefix(TEMPLATE) {
            return Some(Self::TemplateError {
                detail: detail.to_owned(),
            });
        }
        if let Some((channel, workspace)) = s
            .strip_prefix("channel ")
            .and_then(|r| r.strip_suffix(NOT_FOUND_AFTER_REINSTALL))
            .and_then(|r| r.split_once(" was not found in the Slack workspace "))
        {
            return Some(Self::ChannelNotFoundAfterReinstall {
                channel: channel.to_owned(),
                workspace: workspace.to_owned(),
            });
        }
        None
    }

    /// What the reason means for the admin and what to do about it, as one sentence (the
    /// API's `error_message`, the web UI's line).
    pub fn sentence(&self) -> String {
        match self {
            Self::GaveUp {
                attempts,
                over,
                last,
            } => {
                let over = over.as_deref().map(|o| format!(" over {o}"));
                format!(
                    "Not sent: Slack kept failing ({}) and the delivery was given up {attempts} \
                     attempts{}. Check Slack's status page; once Slack works again, new \
                     notifications are sent (use Send Test Message to check).",
                    last.to_string().trim(),
                    over.unwrap_or_default()
                )
            }
            Self::IntegrationBroken { code } => integration_broken(code.trim()),
            Self::ConfigurationIncomplete(missing) => {
                let what: Vec<&str> = missing
                    .iter()
                    .map(|m| match m.trim() {
                        "integration" => {
                            "set up the Slack integration (\"Set Up Slack Integration\")"
                        }
                        "active_integration" => {
                            "set up the Slack integration again (the current one was revoked in \
                             Slack)"
                        }
                        "target_channels" => "enter at least one target channel",
                        _ => "complete the Slack settings",
                    })
                    .collect();
                format!(
                    "Not sent: the Slack settings were incomplete when this event arrived. To \
                     receive the next ones, {}.",
                    what.join(" and ")
                )
            }
            Self::Stale { .. } => {
                let text = self.to_string();
                format!(
                    "Skipped: this result arrived late ({}), so it changed nothing and sent \
                     nothing. Nothing to do.",
                    text[STALE.len()..].trim()
                )
            }
            Self::Muted { .. } => format!(
                "Skipped: the incident was muted in Slack by {}. Its recovery is still sent. \
                 Click \"Unmute\" on the incident's card, or end the mute on the project's Slack \
                 page.",
                &self.to_string()[MUTED.len()..]
            ),
            Self::Maintenance { reason, until, .. } => format!(
                "Skipped: the scenario is in a maintenance window ({reason}) until {}. If it is \
                 still failing then, its incident is posted then; if it recovers before, \
                 nothing is sent. Delete the window on the Slack settings page to end it now.",
                until.format(MINUTE)
            ),
            Self::SendingDisabled(Source::Project) => {
                "Not sent: \"Send messages\" is disabled for this project. Enable it on the \
                 project's Slack page to receive notifications."
                    .to_owned()
            }
            Self::SendingDisabled(Source::Organization) => {
                "Not sent: \"Send messages\" is disabled for the organization. Enable it on the \
                 organization's Slack page to receive notifications."
                    .to_owned()
            }
            Self::Superseded => {
                "Skipped: a newer intermediate report of the same load test replaced it while \
                 the channel was busy. Nothing to do."
                    .to_owned()
            }
            Self::HeldDuringLoadTest { load_test } => format!(
                "Waiting: the incident started while load test {load_test} was running, so it \
                 is held until the test ends. If the scenario has recovered by then, one line \
                 goes to the load test's thread; if it still fails after the grace period \
                 (XTC_SLACK_HOLD_GRACE_SECS, 5 minutes by default), the incident is posted. \
                 Nothing to do."
            ),
            Self::HeldAfterLoadTest { load_test, until } => format!(
                "Waiting: the incident started while load test {load_test} was running, and \
                 the test has ended. It still fails, so it is posted at {} unless it recovers \
                 first (the grace period, XTC_SLACK_HOLD_GRACE_SECS, 5 minutes by default); if \
                 it recovers, one line goes to the load test's thread instead. Nothing to do.",
                until.format(MINUTE)
            ),
            Self::RecoveredDuringLoadTest { load_test } => format!(
                "Skipped: the incident started and recovered while load test {load_test} was \
                 running; one line in the load test's thread says so instead. Nothing to do."
            ),
            Self::ChartsNeedScope => {
                "No chart: this Slack installation was made without the files:write permission, \
                 so report charts cannot be uploaded (the report itself was posted). Set up the \
                 Slack integration again to add charts."
                    .to_owned()
            }
            Self::ChartsNeedMember => {
                "No chart: Slack shares files only in channels the app is a member of (the \
                 report itself was posted). Invite the app to this channel (/invite) to get \
                 report charts here."
                    .to_owned()
            }
            Self::NoIntegration | Self::IntegrationRemoved => {
                "Not sent: the Slack integration was removed before this message went out. Set \
                 up the Slack integration again to receive the next notifications."
                    .to_owned()
            }
            // Ours, said as they are; a Slack code by its class.
            _ => by_class(self.to_string().trim()),
        }
    }
}

fn integration_broken(code: &str) -> String {
    format!(
        "Not sent: Slack no longer accepts the integration ({code}). Set up the Slack \
         integration again with \"Set Up Slack Integration\"."
    )
}

/// The sentence for a Slack error code (or a reason of ours without its own advice).
fn by_class(code: &str) -> String {
    match classify(code) {
        ErrorClass::Channel => match code {
            "channel_not_found" => format!(
                "Not sent: Slack cannot find this channel ({code}); it was deleted or made \
                 private. Pick an existing public channel under Target Channels."
            ),
            "is_archived" => format!(
                "Not sent: the channel is archived in Slack ({code}). Unarchive it in Slack or \
                 pick another channel under Target Channels."
            ),
            _ => format!(
                "Not sent: Slack refused to post in this channel ({code}). Check that it exists, \
                 is public and not archived, or pick another channel under Target Channels."
            ),
        },
        ErrorClass::IntegrationBroken => integration_broken(code),
        ErrorClass::RetryLater => format!(
            "Slack was busy or could not be reached ({code}); the message is retried \
             automatically. Nothing to do."
        ),
        ErrorClass::BadMessage => format!(
            "Not sent: Slack refused the message itself ({code}). Ask your XTC operator to \
             check the service's logs."
        ),
        ErrorClass::Other => format!(
            "Not sent: {code}. If this keeps happening, ask your XTC operator to check the \
             service's logs."
        ),
    }
}

/// The sentence for a stored reason (the API's `error_message`).
pub fn error_message(stored: &str) -> String {
    DeliveryReason::parse(stored).sentence()
}

impl fmt::Display for DeliveryReason {
    /// The stored form, which [`DeliveryReason::parse`] reads back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SendingDisabled(Source::Project) => {
                f.write_str("sending is disabled for this project")
            }
            Self::SendingDisabled(Source::Organization) => {
                f.write_str("sending is disabled for this organization")
            }
            Self::ConfigurationIncomplete(missing) => {
                write!(f, "{INCOMPLETE}{} missing", missing.join(", "))
            }
            Self::Muted { by, until: None } => write!(f, "{MUTED}{by} until recovered"),
            Self::Muted { by, until: Some(u) } => {
                write!(f, "{MUTED}{by} until {}", u.format(MINUTE))
            }
            Self::Stale {
                health,
                occurred_at,
                newest,
            } => write!(
                f,
                "{STALE}{} occurred at {}, before the newest result applied ({})",
                health.as_str(),
                occurred_at.format(SECOND),
                newest.format(SECOND)
            ),
            Self::Maintenance {
                reason,
                window,
                until,
            } => write!(
                f,
                "{MAINTENANCE}{reason} (window {window}, until {})",
                until.format(MINUTE)
            ),
            Self::Superseded => f.write_str("superseded by a newer intermediate report"),
            Self::HeldDuringLoadTest { load_test } => write!(f, "{}{load_test}{}", HELD.0, HELD.1),
            Self::HeldAfterLoadTest { load_test, until } => write!(
                f,
                "{}{load_test}{}{}{}",
                HELD_ENDED.0,
                HELD_ENDED.1,
                until.format(MINUTE),
                HELD_ENDED.2
            ),
            Self::RecoveredDuringLoadTest { load_test } => {
                write!(f, "{}{load_test}{}", RECOVERED_HELD.0, RECOVERED_HELD.1)
            }
            Self::NoIntegration => f.write_str("no Slack integration"),
            Self::IntegrationRemoved => f.write_str("the Slack integration was removed"),
            Self::IntegrationBroken { code } => write!(f, "{BROKEN}{code}"),
            Self::EventGone => f.write_str("the event is gone"),
            Self::EventUnreadable => f.write_str("the stored event cannot be read"),
            Self::TokenUnreadable => f.write_str(
                "the stored Slack token cannot be decrypted (was XTC_SLACK_SECRET_KEY changed?)",
            ),
            Self::TokenRefreshRetried => f.write_str("token_expired (refresh will be retried)"),
            Self::DatabaseUnavailable => f.write_str("database unavailable"),
            Self::AwaitingProbe => {
                f.write_str("Slack is failing for this workspace; waiting for it to recover")
            }
            Self::TemplateError { detail } => write!(f, "{TEMPLATE}{detail}"),
            Self::ChannelNotFoundAfterReinstall { channel, workspace } => write!(
                f,
                "channel {channel} was not found in the Slack workspace {workspace}\
                 {NOT_FOUND_AFTER_REINSTALL}"
            ),
            Self::GaveUp {
                attempts,
                over,
                last,
            } => {
                write!(f, "{GAVE_UP}{attempts} attempts")?;
                if let Some(over) = over {
                    write!(f, " over {over}")?;
                }
                write!(f, ": {last}")
            }
            Self::ChartsNeedScope => f.write_str(CHARTS_NEED_SCOPE),
            Self::ChartsNeedMember => f.write_str(CHARTS_NEED_MEMBER),
            Self::Slack(code) => f.write_str(code),
        }
    }
}

#[cfg(test)]
mod tests;

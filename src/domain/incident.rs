//! What people do to a monitoring incident from Slack (the buttons on its card) or from the
//! web UI: acknowledge it, mute it for a while or until it recovers, unmute it. The rules
//! live here; `pipeline::incidents` stores the result and `pipeline::ingest` asks
//! [`Controls::mute_reason`] whether a change of the scenario is suppressed.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::delivery_reason::DeliveryReason;

/// Who acted: a Slack user (ID and display name from the click), or an admin of the web UI
/// or the API (`id` is the API token's ID, `name` its name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    /// Shown on the card exactly as Slack gave it (escaped when rendered).
    pub name: String,
}

/// How long a mute lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MuteFor {
    OneHour,
    FourHours,
    /// Until the scenario recovers.
    UntilRecovered,
}

impl MuteFor {
    /// When a mute started at `at` ends by itself (`None`: at the recovery).
    pub fn until(self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::OneHour => Some(at + Duration::hours(1)),
            Self::FourHours => Some(at + Duration::hours(4)),
            Self::UntilRecovered => None,
        }
    }
}

/// A button on an incident card, and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Acknowledge,
    Mute(MuteFor),
    Unmute,
}

impl Action {
    /// Every button, in the order a card shows them.
    pub const ALL: [Action; 5] = [
        Action::Acknowledge,
        Action::Mute(MuteFor::OneHour),
        Action::Mute(MuteFor::FourHours),
        Action::Mute(MuteFor::UntilRecovered),
        Action::Unmute,
    ];

    /// The button's `action_id` (stable: Slack sends it back with the click).
    pub fn action_id(self) -> &'static str {
        match self {
            Self::Acknowledge => "incident.ack",
            Self::Mute(MuteFor::OneHour) => "incident.mute_1h",
            Self::Mute(MuteFor::FourHours) => "incident.mute_4h",
            Self::Mute(MuteFor::UntilRecovered) => "incident.mute_recovered",
            Self::Unmute => "incident.unmute",
        }
    }

    /// The button's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Acknowledge => "Acknowledge",
            Self::Mute(MuteFor::OneHour) => "Mute 1 h",
            Self::Mute(MuteFor::FourHours) => "Mute 4 h",
            Self::Mute(MuteFor::UntilRecovered) => "Mute until recovered",
            Self::Unmute => "Unmute",
        }
    }

    /// The action of a button's `action_id`; `None` for anything else (link buttons).
    pub fn from_action_id(id: &str) -> Option<Action> {
        Self::ALL.into_iter().find(|a| a.action_id() == id)
    }

    /// The audit log's name of the action.
    pub fn audit_name(self) -> &'static str {
        match self {
            Self::Acknowledge => "incident.acknowledge",
            Self::Mute(_) => "incident.mute",
            Self::Unmute => "incident.unmute",
        }
    }
}

/// An acknowledgement: someone took the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// A mute: the scenario's changes are not sent (except its recovery) until `until`, or
/// until it recovers when `until` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mute {
    pub by: Actor,
    pub at: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

impl Mute {
    /// Whether the mute still holds at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|u| now < u)
    }

    /// Why a change was not sent, for the delivery log.
    pub fn skip_reason(&self) -> DeliveryReason {
        DeliveryReason::muted(&self.by.name, self.until)
    }

    /// As the list of mutes shows it: "muted by sam until 2024-05-01 15:04 UTC" or "muted
    /// by sam until recovered" (the delivery log's text of [`Mute::skip_reason`]).
    pub fn reason(&self) -> String {
        self.skip_reason().to_string()
    }
}

/// The acknowledgement and mute of one incident of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controls {
    /// The incident these apply to (`scenarios.incident`).
    pub incident: i64,
    pub ack: Option<Ack>,
    pub mute: Option<Mute>,
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The controls changed; the card shows it and the thread gets a line.
    Changed,
    /// Nothing to do; the person who clicked is told why.
    Refused(Refusal),
}

/// Why an action changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The incident already recovered (or another one began).
    Ended,
    AlreadyAcknowledged {
        by: String,
    },
    NotMuted,
}

impl Refusal {
    /// The ephemeral answer to the person who clicked.
    pub fn message(&self) -> String {
        match self {
            Self::Ended => "This incident has already recovered.".to_owned(),
            Self::AlreadyAcknowledged { by } => {
                format!("This incident was already acknowledged by {by}.")
            }
            Self::NotMuted => "This incident is not muted.".to_owned(),
        }
    }
}

impl Controls {
    /// No acknowledgement, no mute, for `incident`.
    pub fn none(incident: i64) -> Self {
        Self {
            incident,
            ack: None,
            mute: None,
        }
    }

    /// The mute holding at `now`, if any.
    pub fn active_mute(&self, now: DateTime<Utc>) -> Option<&Mute> {
        self.mute.as_ref().filter(|m| m.active(now))
    }

    /// Why a change of the scenario at `now` is not sent, if it is muted. A recovery is
    /// always sent; `incident` is the incident the change belongs to.
    pub fn mute_reason(
        &self,
        incident: i64,
        recovery: bool,
        now: DateTime<Utc>,
    ) -> Option<DeliveryReason> {
        if recovery || incident != self.incident {
            return None;
        }
        self.active_mute(now).map(Mute::skip_reason)
    }

    /// Applies `action` by `by` at `now` to the open incident these controls belong to.
    /// Acknowledging twice keeps the first; a new mute replaces a running one.
    pub fn apply(&mut self, action: Action, by: &Actor, now: DateTime<Utc>) -> Applied {
        match action {
            Action::Acknowledge => {
                if let Some(ack) = &self.ack {
                    return Applied::Refused(Refusal::AlreadyAcknowledged {
                        by: ack.by.name.clone(),
                    });
                }
                self.ack = Some(Ack {
                    by: by.clone(),
                    at: now,
                });
            }
            Action::Mute(length) => {
                self.mute = Some(Mute {
                    by: by.clone(),
                    at: now,
                    until: length.until(now),
                });
            }
            Action::Unmute => {
                if self.active_mute(now).is_none() {
                    self.mute = None;
                    return Applied::Refused(Refusal::NotMuted);
                }
                self.mute = None;
            }
        }
        Applied::Changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + min * 60, 0).unwrap()
    }

    fn sam() -> Actor {
        Actor {
            id: "U2".into(),
            name: "sam".into(),
        }
    }

    #[test]
    fn action_ids_round_trip_and_link_buttons_are_not_actions() {
        for a in Action::ALL {
            assert_eq!(Action::from_action_id(a.action_id()), Some(a));
        }
        assert_eq!(Action::from_action_id("open.xtc"), None);
    }

    #[test]
    fn acknowledging_twice_keeps_the_first() {
        let mut c = Controls::none(3);
        assert_eq!(c.apply(Action::Acknowledge, &sam(), t(0)), Applied::Changed);
        let alex = Actor {
            id: "U3".into(),
            name: "alex".into(),
        };
        assert_eq!(
            c.apply(Action::Acknowledge, &alex, t(1)),
            Applied::Refused(Refusal::AlreadyAcknowledged { by: "sam".into() })
        );
        assert_eq!(c.ack.unwrap().at, t(0));
    }

    #[test]
    fn a_timed_mute_holds_until_its_end_and_never_hides_a_recovery() {
        let mut c = Controls::none(3);
        c.apply(Action::Mute(MuteFor::OneHour), &sam(), t(0));
        let reason = c.mute_reason(3, false, t(59)).unwrap().to_string();
        assert!(reason.starts_with("muted by sam until "), "{reason}");
        assert_eq!(
            c.mute_reason(3, true, t(10)),
            None,
            "recovery is always sent"
        );
        assert_eq!(c.mute_reason(3, false, t(60)), None, "ended");
        assert_eq!(c.mute_reason(4, false, t(10)), None, "another incident");
    }

    #[test]
    fn mute_until_recovered_holds_and_unmute_ends_it() {
        let mut c = Controls::none(1);
        c.apply(Action::Mute(MuteFor::UntilRecovered), &sam(), t(0));
        assert_eq!(
            c.mute_reason(1, false, t(10_000)).map(|r| r.to_string()),
            Some("muted by sam until recovered".to_owned())
        );
        assert_eq!(c.apply(Action::Unmute, &sam(), t(5)), Applied::Changed);
        assert_eq!(c.mute_reason(1, false, t(6)), None);
        assert_eq!(
            c.apply(Action::Unmute, &sam(), t(7)),
            Applied::Refused(Refusal::NotMuted)
        );
    }
}

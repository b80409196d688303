//! What people do to a monitoring incident from Slack (the buttons on its card) or from the
//! web UI: acknowledge it, mute it for a while or until it recovers, unmute it. The rules
//! live here; `pipeline::incidents` stores the result and `pipeline::ingest` asks
//! [`Controls::mute_reason`] whether a change of the scenario is suppressed.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::delivery_reason::DeliveryReason;
use super::user_text::{self, Lines, UserTextError};

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
    /// Until a time picked in the "Mute for…" dialog ([`MuteChoice::end`]).
    Until(DateTime<Utc>),
}

impl MuteFor {
    /// When a mute started at `at` ends by itself (`None`: at the recovery).
    pub fn until(self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::OneHour => Some(at + Duration::hours(1)),
            Self::FourHours => Some(at + Duration::hours(4)),
            Self::UntilRecovered => None,
            Self::Until(end) => Some(end),
        }
    }
}

/// The `action_id` of the "Mute for…" button: it opens a dialog (a Slack modal) to pick how
/// long ([`MuteChoice`]) and why; its submission is an [`Action::Mute`].
pub const MUTE_FOR_ACTION_ID: &str = "incident.mute_for";
/// The "Mute for…" button's label.
pub const MUTE_FOR_LABEL: &str = "Mute for…";
/// The latest end a "Mute for…" may pick: a mute is for an incident, not a way to switch a
/// scenario off (that belongs in the scenario's own settings).
pub const MAX_MUTE_AHEAD_DAYS: i64 = 30;
/// The longest reason a mute may carry, in characters (the dialog's `max_length`).
pub const MAX_MUTE_COMMENT: usize = 300;

/// A duration offered by the "Mute for…" dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuteChoice {
    Minutes30,
    Hour1,
    Hours4,
    Hours8,
    Day1,
    Days3,
    Week1,
    UntilRecovered,
    /// Until the date and time picked beside it.
    UntilDate,
}

/// Why the "Mute for…" dialog's end cannot be used (shown under the date field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MuteEndError {
    #[error("Pick a date and time, or another duration.")]
    Missing,
    #[error("This time has passed: pick a time in the future.")]
    Past,
    #[error("Pick a time within 30 days.")]
    TooFar,
}

impl MuteChoice {
    /// Every choice, in the order the dialog lists them.
    pub const ALL: [MuteChoice; 9] = [
        Self::Minutes30,
        Self::Hour1,
        Self::Hours4,
        Self::Hours8,
        Self::Day1,
        Self::Days3,
        Self::Week1,
        Self::UntilRecovered,
        Self::UntilDate,
    ];

    /// The option's `value` (stable: Slack sends it back with the submission).
    pub fn value(self) -> &'static str {
        match self {
            Self::Minutes30 => "30m",
            Self::Hour1 => "1h",
            Self::Hours4 => "4h",
            Self::Hours8 => "8h",
            Self::Day1 => "1d",
            Self::Days3 => "3d",
            Self::Week1 => "1w",
            Self::UntilRecovered => "recovered",
            Self::UntilDate => "date",
        }
    }

    /// The option's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Minutes30 => "30 minutes",
            Self::Hour1 => "1 hour",
            Self::Hours4 => "4 hours",
            Self::Hours8 => "8 hours",
            Self::Day1 => "1 day",
            Self::Days3 => "3 days",
            Self::Week1 => "1 week",
            Self::UntilRecovered => "Until recovered",
            Self::UntilDate => "Until a date and time",
        }
    }

    /// The choice of an option `value`; `None` for anything else.
    pub fn parse(value: &str) -> Option<MuteChoice> {
        Self::ALL.into_iter().find(|c| c.value() == value)
    }

    fn length(self) -> Option<Duration> {
        Some(match self {
            Self::Minutes30 => Duration::minutes(30),
            Self::Hour1 => Duration::hours(1),
            Self::Hours4 => Duration::hours(4),
            Self::Hours8 => Duration::hours(8),
            Self::Day1 => Duration::days(1),
            Self::Days3 => Duration::days(3),
            Self::Week1 => Duration::weeks(1),
            Self::UntilRecovered | Self::UntilDate => return None,
        })
    }

    /// The mute this choice asks for at `now`; `date` is the picked date and time (only
    /// [`MuteChoice::UntilDate`] reads it: it must lie ahead, within
    /// [`MAX_MUTE_AHEAD_DAYS`]).
    pub fn end(
        self,
        date: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<MuteFor, MuteEndError> {
        match self {
            Self::UntilRecovered => Ok(MuteFor::UntilRecovered),
            Self::UntilDate => match date {
                None => Err(MuteEndError::Missing),
                Some(d) if d <= now => Err(MuteEndError::Past),
                Some(d) if d > now + Duration::days(MAX_MUTE_AHEAD_DAYS) => {
                    Err(MuteEndError::TooFar)
                }
                Some(d) => Ok(MuteFor::Until(d)),
            },
            timed => Ok(MuteFor::Until(
                now + timed.length().unwrap_or_else(Duration::zero),
            )),
        }
    }
}

/// Why a mute's reason was refused (shown under the reason field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MuteCommentError {
    #[error("Keep the reason under 300 characters.")]
    TooLong,
    #[error("The reason {0}.")]
    Text(#[from] UserTextError),
}

/// A mute's reason as typed (surrounding blanks dropped; `None` when empty), checked
/// against the user-text rule and [`MAX_MUTE_COMMENT`].
pub fn mute_comment(text: Option<&str>) -> Result<Option<String>, MuteCommentError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > MAX_MUTE_COMMENT {
        return Err(MuteCommentError::TooLong);
    }
    user_text::check(text, Lines::One)?;
    Ok(Some(text.to_owned()))
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
            Self::Mute(MuteFor::Until(_)) => MUTE_FOR_ACTION_ID,
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
            Self::Mute(MuteFor::Until(_)) => MUTE_FOR_LABEL,
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
    /// Why, as typed in the "Mute for…" dialog ([`mute_comment`]); shown on the card, in
    /// the reply and the list of mutes, not in the delivery log's reason.
    pub comment: Option<String>,
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
        self.apply_with(action, by, now, None)
    }

    /// [`Controls::apply`], a mute carrying `comment` (its reason, see [`mute_comment`]).
    pub fn apply_with(
        &mut self,
        action: Action,
        by: &Actor,
        now: DateTime<Utc>,
        comment: Option<&str>,
    ) -> Applied {
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
                    comment: comment.map(str::to_owned),
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
    fn every_mute_choice_has_its_end_and_round_trips() {
        let now = t(0);
        let ends: Vec<(MuteChoice, Option<i64>)> = vec![
            (MuteChoice::Minutes30, Some(30)),
            (MuteChoice::Hour1, Some(60)),
            (MuteChoice::Hours4, Some(240)),
            (MuteChoice::Hours8, Some(480)),
            (MuteChoice::Day1, Some(1_440)),
            (MuteChoice::Days3, Some(4_320)),
            (MuteChoice::Week1, Some(10_080)),
            (MuteChoice::UntilRecovered, None),
        ];
        assert_eq!(ends.len() + 1, MuteChoice::ALL.len());
        for (choice, minutes) in ends {
            assert_eq!(MuteChoice::parse(choice.value()), Some(choice));
            // A date picked beside a fixed duration is ignored.
            let got = choice.end(Some(t(5)), now).unwrap();
            assert_eq!(got.until(now), minutes.map(t), "{choice:?}");
        }
        assert_eq!(MuteChoice::parse("2h"), None);
        assert_eq!(MuteChoice::parse(""), None);
    }

    #[test]
    fn a_picked_date_must_lie_ahead_within_30_days() {
        let now = t(0);
        let date = MuteChoice::UntilDate;
        assert_eq!(date.end(None, now), Err(MuteEndError::Missing));
        assert_eq!(date.end(Some(t(-1)), now), Err(MuteEndError::Past));
        assert_eq!(date.end(Some(now), now), Err(MuteEndError::Past));
        assert_eq!(date.end(Some(t(1)), now), Ok(MuteFor::Until(t(1))));
        let limit = t(MAX_MUTE_AHEAD_DAYS * 1_440);
        assert_eq!(date.end(Some(limit), now), Ok(MuteFor::Until(limit)));
        assert_eq!(
            date.end(Some(limit + Duration::seconds(1)), now),
            Err(MuteEndError::TooFar)
        );
    }

    #[test]
    fn a_mute_reason_is_kept_as_typed_within_its_limit() {
        assert_eq!(mute_comment(None), Ok(None));
        assert_eq!(mute_comment(Some("  ")), Ok(None));
        assert_eq!(
            mute_comment(Some(" deploy <!here> *now* ")),
            Ok(Some("deploy <!here> *now*".to_owned()))
        );
        let longest = "é".repeat(MAX_MUTE_COMMENT);
        assert_eq!(mute_comment(Some(&longest)), Ok(Some(longest.clone())));
        assert_eq!(
            mute_comment(Some(&format!("{longest}x"))),
            Err(MuteCommentError::TooLong)
        );
        assert!(matches!(
            mute_comment(Some("a\u{202E}b")),
            Err(MuteCommentError::Text(_))
        ));
        assert!(mute_comment(Some("a\nb")).is_err());
    }

    #[test]
    fn a_mute_from_the_dialog_ends_at_its_time_and_keeps_its_reason() {
        let mut c = Controls::none(2);
        let action = Action::Mute(MuteFor::Until(t(90)));
        assert_eq!(action.action_id(), MUTE_FOR_ACTION_ID);
        assert_eq!(
            Action::from_action_id(MUTE_FOR_ACTION_ID),
            None,
            "opens a dialog"
        );
        c.apply_with(action, &sam(), t(0), Some("deploy"));
        let mute = c.active_mute(t(89)).unwrap();
        assert_eq!(mute.until, Some(t(90)));
        assert_eq!(mute.comment.as_deref(), Some("deploy"));
        assert_eq!(c.mute_reason(2, false, t(90)), None, "ended");
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

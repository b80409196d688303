//! Notification rules: which events go to which extra channel, and who is pinged there.
//!
//! A rule adds a channel with a filter; target channels keep receiving every event. The
//! mention is the only ping xtc-slack ever sends (user text never pings): it is written by
//! an admin, validated here, and rendered as Slack markup by [`Mention::markup`].

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::channel::TargetChannel;
pub use super::event_kind::EventKind;

/// What a rule's `events` select: event kinds and the shortcuts `all`, `failures` and
/// `regressions` (a final report whose figures regressed against the baseline), kept as the
/// admin wrote them (deduplicated, in order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventFilter(Vec<String>);

/// Why an `events` list was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventFilterError {
    #[error("events must name at least one event kind, `all`, `failures` or `regressions`")]
    Empty,
    #[error("unknown event kind {0:?}; use `all`, `failures`, `regressions` or one of {kinds}", kinds = EventKind::ALL.map(EventKind::as_str).join(", "))]
    Unknown(String),
}

/// The names that select several kinds, or a kind on a condition.
pub const SHORTCUTS: [&str; 3] = ["all", "failures", "regressions"];

impl EventFilter {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, EventFilterError> {
        let mut out: Vec<String> = Vec::new();
        for e in entries {
            let e = e.as_ref().trim();
            if !SHORTCUTS.contains(&e) && EventKind::parse(e).is_none() {
                return Err(EventFilterError::Unknown(e.to_owned()));
            }
            if !out.iter().any(|o| o == e) {
                out.push(e.to_owned());
            }
        }
        if out.is_empty() {
            return Err(EventFilterError::Empty);
        }
        Ok(Self(out))
    }

    /// The entries as written.
    pub fn entries(&self) -> &[String] {
        &self.0
    }

    /// The kinds selected.
    pub fn kinds(&self) -> BTreeSet<EventKind> {
        let mut out = BTreeSet::new();
        for e in &self.0 {
            match e.as_str() {
                "all" => out.extend(EventKind::ALL),
                "failures" => out.extend(EventKind::FAILURES),
                "regressions" => {
                    out.insert(EventKind::LoadTestReportAvailable);
                }
                other => out.extend(EventKind::parse(other)),
            }
        }
        out
    }

    /// Whether the filter lets `kind` through (called per rule for every ingested event:
    /// no set is built); `regressed`: a final report that regressed against its baseline.
    pub fn selects(&self, kind: EventKind, regressed: bool) -> bool {
        self.0.iter().any(|e| match e.as_str() {
            "all" => true,
            "failures" => EventKind::FAILURES.contains(&kind),
            "regressions" => kind == EventKind::LoadTestReportAvailable && regressed,
            other => other == kind.as_str(),
        })
    }
}

/// Who a rule pings: `@here`, `@channel`, a user group (`S…`) or users (`U…`/`W…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mention {
    Here,
    Channel,
    UserGroup(String),
    Users(Vec<String>),
}

/// Why a mention was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("mention must be @here, @channel, a user group ID (S…) or user IDs (U… or W…), separated by spaces; got {0:?}")]
pub struct MentionError(pub String);

fn slack_id(s: &str, prefixes: &[char]) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| prefixes.contains(&c))
        && s.len() >= 9
        && s.len() <= 20
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

impl Mention {
    pub fn parse(raw: &str) -> Result<Self, MentionError> {
        let refuse = || MentionError(raw.to_owned());
        let parts: Vec<&str> = raw.split_whitespace().collect();
        match parts.as_slice() {
            ["@here"] | ["<!here>"] => Ok(Self::Here),
            ["@channel"] | ["<!channel>"] => Ok(Self::Channel),
            [one] if slack_id(one, &['S']) => Ok(Self::UserGroup((*one).to_owned())),
            [] => Err(refuse()),
            users if users.len() <= 20 && users.iter().all(|u| slack_id(u, &['U', 'W'])) => {
                let mut list: Vec<String> = Vec::new();
                for u in users {
                    if !list.iter().any(|l| l == u) {
                        list.push((*u).to_owned());
                    }
                }
                Ok(Self::Users(list))
            }
            _ => Err(refuse()),
        }
    }

    /// Slack's markup for the ping.
    pub fn markup(&self) -> String {
        match self {
            Self::Here => "<!here>".to_owned(),
            Self::Channel => "<!channel>".to_owned(),
            Self::UserGroup(id) => format!("<!subteam^{id}>"),
            Self::Users(ids) => ids
                .iter()
                .map(|u| format!("<@{u}>"))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

impl fmt::Display for Mention {
    /// As the admin writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Here => f.write_str("@here"),
            Self::Channel => f.write_str("@channel"),
            Self::UserGroup(id) => f.write_str(id),
            Self::Users(ids) => f.write_str(&ids.join(" ")),
        }
    }
}

impl Serialize for Mention {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mention {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Mention::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// One rule as stored: a resolved channel, its filter, an optional mention.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub channel: TargetChannel,
    pub events: EventFilter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention: Option<Mention>,
}

impl Rule {
    /// How the delivery log names the rule: `#alerts: failures @here`.
    pub fn label(&self) -> String {
        let mut out = format!(
            "{}: {}",
            self.channel.display(),
            self.events.entries().join(", ")
        );
        if let Some(m) = &self.mention {
            out.push(' ');
            out.push_str(&m.to_string());
        }
        out
    }
}

/// Most rules one organization or project may have.
pub const MAX_RULES: usize = 20;

/// Where one event goes in addition to (or together with) the target channels: each
/// channel once, with the mentions and the rules that matched it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub channel: TargetChannel,
    /// Mentions of the matching rules (markup), joined; `None` when nobody is pinged.
    pub mention: Option<String>,
    /// The matching rules' labels; `None` for a target channel that no rule matched.
    pub rule: Option<String>,
}

/// The channels an event of `kind` goes to: every target channel, plus the channel of
/// every rule whose filter selects it. A channel named twice gets one route, with the
/// mentions and rule labels of every rule that matched it.
pub fn routes(
    targets: &[TargetChannel],
    rules: &[Rule],
    kind: Option<EventKind>,
    regressed: bool,
) -> Vec<Route> {
    let mut out: Vec<Route> = targets
        .iter()
        .map(|c| Route {
            channel: c.clone(),
            mention: None,
            rule: None,
        })
        .collect();
    let Some(kind) = kind else { return out };
    for rule in rules.iter().filter(|r| r.events.selects(kind, regressed)) {
        let same = |r: &Route| r.channel.address() == rule.channel.address();
        let i = match out.iter().position(same) {
            Some(i) => i,
            None => {
                out.push(Route {
                    channel: rule.channel.clone(),
                    mention: None,
                    rule: None,
                });
                out.len() - 1
            }
        };
        let route = &mut out[i];
        if let Some(m) = &rule.mention {
            let markup = m.markup();
            match &mut route.mention {
                Some(existing) if existing.contains(&markup) => {}
                Some(existing) => {
                    existing.push(' ');
                    existing.push_str(&markup);
                }
                None => route.mention = Some(markup),
            }
        }
        let label = rule.label();
        route.rule = Some(match route.rule.take() {
            Some(r) => format!("{r}; {label}"),
            None => label,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(id: &str, name: &str) -> TargetChannel {
        TargetChannel {
            id: Some(id.into()),
            name: Some(name.into()),
        }
    }

    fn rule(channel: TargetChannel, events: &[&str], mention: Option<&str>) -> Rule {
        Rule {
            channel,
            events: EventFilter::parse(events).unwrap(),
            mention: mention.map(|m| Mention::parse(m).unwrap()),
        }
    }

    #[test]
    fn filters_expand_shortcuts_and_refuse_unknown_kinds() {
        let f = EventFilter::parse(&["failures"]).unwrap();
        assert!(f.selects(EventKind::LoadTestError, false));
        assert!(f.selects(EventKind::MonitoringSeverityChanged, false));
        assert!(!f.selects(EventKind::LoadTestFinished, false));
        assert!(!f.selects(EventKind::MonitoringRecovered, false));
        assert_eq!(EventFilter::parse(&["all"]).unwrap().kinds().len(), 10);
        let r = EventFilter::parse(&["regressions"]).unwrap();
        assert!(r.selects(EventKind::LoadTestReportAvailable, true));
        assert!(!r.selects(EventKind::LoadTestReportAvailable, false));
        assert!(!r.selects(EventKind::LoadTestError, true));
        assert_eq!(
            EventFilter::parse(&["load_test.exploded"]),
            Err(EventFilterError::Unknown("load_test.exploded".into()))
        );
        assert_eq!(
            EventFilter::parse::<&str>(&[]),
            Err(EventFilterError::Empty)
        );
        assert_eq!(
            EventFilter::parse(&["all", "all"]).unwrap().entries(),
            &["all".to_owned()]
        );
    }

    #[test]
    fn event_types_of_the_outbox_map_to_kinds() {
        assert_eq!(
            EventKind::of_event_type("error"),
            Some(EventKind::LoadTestError)
        );
        assert_eq!(
            EventKind::of_event_type("scenario_failing"),
            Some(EventKind::MonitoringFailing)
        );
        assert_eq!(EventKind::of_event_type("test_message"), None);
    }

    #[test]
    fn mentions_are_here_channel_a_group_or_users_and_nothing_else() {
        assert_eq!(Mention::parse("@here").unwrap().markup(), "<!here>");
        assert_eq!(Mention::parse("@channel").unwrap().markup(), "<!channel>");
        assert_eq!(
            Mention::parse("S0123ABCD").unwrap().markup(),
            "<!subteam^S0123ABCD>"
        );
        assert_eq!(
            Mention::parse("U0123ABCD W0123ABCD").unwrap().markup(),
            "<@U0123ABCD> <@W0123ABCD>"
        );
        for bad in [
            "",
            "@everyone",
            "jane",
            "@jane",
            "S0123ABCD U0123ABCD",
            "<!everyone>",
            "C0123ABCD",
        ] {
            assert!(Mention::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_event_goes_to_every_target_and_the_rules_that_select_it_each_channel_once() {
        let targets = [ch("C1", "load-tests"), ch("C2", "alerts")];
        let rules = [
            rule(ch("C2", "alerts"), &["failures"], Some("@here")),
            rule(
                ch("C3", "oncall"),
                &["monitoring.failing"],
                Some("S0123ABCD"),
            ),
        ];
        let r = routes(&targets, &rules, Some(EventKind::LoadTestError), false);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[1].mention.as_deref(), Some("<!here>"));
        assert_eq!(r[1].rule.as_deref(), Some("#alerts: failures @here"));
        let r = routes(&targets, &rules, Some(EventKind::LoadTestFinished), false);
        assert!(r.iter().all(|r| r.mention.is_none() && r.rule.is_none()));
        let r = routes(&targets, &rules, Some(EventKind::MonitoringFailing), false);
        assert_eq!(r.len(), 3);
        assert_eq!(r[2].channel.address(), "C3");
        assert_eq!(r[2].mention.as_deref(), Some("<!subteam^S0123ABCD>"));
        // Rules only: no target channels.
        let r = routes(&[], &rules, Some(EventKind::LoadTestStarted), false);
        assert!(r.is_empty());
    }
}

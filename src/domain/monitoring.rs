//! Monitoring state changes: notify on ok → failing, on a severity change while failing,
//! and on failing → ok (with the down time). A repeated state is not news.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A scenario execution's result, ordered by severity.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    Failure,
    Error,
    Fatal,
}

impl Health {
    pub const ALL: [Self; 4] = [Self::Ok, Self::Failure, Self::Error, Self::Fatal];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failure => "failure",
            Self::Error => "error",
            Self::Fatal => "fatal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_failing(self) -> bool {
        self != Self::Ok
    }
}

crate::db::text_enum!(Health);

/// What a scenario remembers between events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScenarioState {
    pub health: Health,
    /// When the current incident began (while failing).
    pub failing_since: Option<DateTime<Utc>>,
    /// Counts incidents; names the Slack thread of each one.
    pub incident: i64,
}

impl ScenarioState {
    /// A scenario never seen before counts as healthy.
    pub const NEW: Self = Self {
        health: Health::Ok,
        failing_since: None,
        incident: 0,
    };
}

/// A change worth a notification. Stored with the event (as `{"type": "failing", ...}`),
/// so the serialised form is part of the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// ok → failing.
    Failing { severity: Health },
    /// Still failing, with another severity.
    SeverityChanged { from: Health, to: Health },
    /// failing → ok after `down_seconds`.
    Recovered { down_seconds: i64 },
}

impl Change {
    /// The event kind used for templates and the delivery log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Failing { .. } => "scenario_failing",
            Self::SeverityChanged { .. } => "scenario_severity_changed",
            Self::Recovered { .. } => "scenario_recovered",
        }
    }
}

/// Applies a result observed at `at`; returns the new state and the change, if any.
pub fn apply(
    prev: ScenarioState,
    observed: Health,
    at: DateTime<Utc>,
) -> (ScenarioState, Option<Change>) {
    match (prev.health.is_failing(), observed.is_failing()) {
        (false, false) => (prev, None),
        (false, true) => (
            ScenarioState {
                health: observed,
                failing_since: Some(at),
                incident: prev.incident + 1,
            },
            Some(Change::Failing { severity: observed }),
        ),
        (true, true) if observed == prev.health => (prev, None),
        (true, true) => (
            ScenarioState {
                health: observed,
                ..prev
            },
            Some(Change::SeverityChanged {
                from: prev.health,
                to: observed,
            }),
        ),
        (true, false) => {
            let down = prev
                .failing_since
                .map(|since| (at - since).num_seconds().max(0))
                .unwrap_or(0);
            (
                ScenarioState {
                    health: Health::Ok,
                    failing_since: None,
                    incident: prev.incident,
                },
                Some(Change::Recovered { down_seconds: down }),
            )
        }
    }
}

/// "2h 5m", "45s": a down time for people.
pub fn human_duration(seconds: i64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn failure_failure_ok_notifies_twice() {
        let (s1, c1) = apply(ScenarioState::NEW, Health::Failure, t(0));
        assert_eq!(
            c1,
            Some(Change::Failing {
                severity: Health::Failure
            })
        );
        assert_eq!(s1.incident, 1);
        let (s2, c2) = apply(s1, Health::Failure, t(60));
        assert_eq!(c2, None);
        let (s3, c3) = apply(s2, Health::Ok, t(125));
        assert_eq!(c3, Some(Change::Recovered { down_seconds: 125 }));
        assert_eq!(s3.failing_since, None);
        assert_eq!(apply(s3, Health::Ok, t(200)).1, None);
    }

    #[test]
    fn severity_changes_while_failing_are_news() {
        let (s1, _) = apply(ScenarioState::NEW, Health::Failure, t(0));
        let (s2, c2) = apply(s1, Health::Fatal, t(10));
        assert_eq!(
            c2,
            Some(Change::SeverityChanged {
                from: Health::Failure,
                to: Health::Fatal
            })
        );
        assert_eq!(s2.failing_since, Some(t(0)), "the incident keeps its start");
        let (_, c3) = apply(s2, Health::Error, t(20));
        assert_eq!(
            c3,
            Some(Change::SeverityChanged {
                from: Health::Fatal,
                to: Health::Error
            })
        );
    }

    #[test]
    fn every_pair_of_states_is_covered() {
        for a in Health::ALL {
            for b in Health::ALL {
                let prev = if a.is_failing() {
                    ScenarioState {
                        health: a,
                        failing_since: Some(t(0)),
                        incident: 1,
                    }
                } else {
                    ScenarioState::NEW
                };
                let (next, change) = apply(prev, b, t(30));
                assert_eq!(next.health, b);
                assert_eq!(change.is_some(), a != b, "{a:?} -> {b:?}");
            }
        }
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(125), "2m 5s");
        assert_eq!(human_duration(7_500), "2h 5m");
        assert_eq!(human_duration(90_000), "1d 1h");
    }
}

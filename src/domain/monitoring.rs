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

/// What a scenario remembers between events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioState {
    pub health: Health,
    /// When the current incident began (while failing, and while flapping).
    pub failing_since: Option<DateTime<Utc>>,
    /// Counts incidents; names the Slack thread of each one.
    pub incident: i64,
    /// When the state changed within the flap window, oldest first.
    pub recent_changes: Vec<DateTime<Utc>>,
    /// Set while the scenario is flapping: since when.
    pub flapping_since: Option<DateTime<Utc>>,
    /// State changes counted for the flapping incident.
    pub flap_changes: i64,
    /// When the scenario last went from failing to ok (cleared when it fails again).
    pub ok_since: Option<DateTime<Utc>>,
}

impl ScenarioState {
    /// A scenario never seen before counts as healthy.
    pub const NEW: Self = Self {
        health: Health::Ok,
        failing_since: None,
        incident: 0,
        recent_changes: Vec::new(),
        flapping_since: None,
        flap_changes: 0,
        ok_since: None,
    };
}

/// When a scenario counts as flapping, and when a flapping scenario counts as recovered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlapRules {
    /// More than this many state changes within `window` make a scenario flap.
    pub changes: u32,
    pub window: chrono::Duration,
    /// A flapping scenario's recovery is reported once it has been ok this long (with the
    /// first result after that).
    pub recovery_hold: chrono::Duration,
}

impl Default for FlapRules {
    fn default() -> Self {
        Self {
            changes: 3,
            window: chrono::Duration::minutes(15),
            recovery_hold: chrono::Duration::minutes(5),
        }
    }
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
    /// The scenario keeps changing state: one incident, now `health`, after `changes`
    /// changes. `started`: the change that made it flap (later ones only update the card).
    Flapping {
        health: Health,
        changes: i64,
        started: bool,
    },
}

impl Change {
    /// The event kind used for templates and the delivery log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Failing { .. } => "scenario_failing",
            Self::SeverityChanged { .. } => "scenario_severity_changed",
            Self::Recovered { .. } => "scenario_recovered",
            Self::Flapping { .. } => "scenario_flapping",
        }
    }

    /// A change of a flapping scenario that only updates its incident card (no message of
    /// its own; nothing at all without threads).
    pub fn card_only(&self) -> bool {
        matches!(self, Self::Flapping { started: false, .. })
    }
}

/// Applies a result observed at `at` with the default [`FlapRules`].
#[cfg(test)]
pub fn apply(
    prev: ScenarioState,
    observed: Health,
    at: DateTime<Utc>,
) -> (ScenarioState, Option<Change>) {
    apply_with(prev, observed, at, &FlapRules::default())
}

/// Applies a result observed at `at`; returns the new state and the change, if any.
///
/// - ok → failing opens an incident; failing again within `rules.window` of a recovery
///   reopens that incident (same card) instead of opening another.
/// - More than `rules.changes` changes within `rules.window`: the scenario is flapping. The
///   change that starts it is [`Change::Flapping`] with `started`; later changes are
///   card-only [`Change::Flapping`] updates with the count and the latest state.
/// - A flapping scenario recovers (one [`Change::Recovered`], down time from the incident's
///   start) with the first ok result once it has been ok for `rules.recovery_hold`.
pub fn apply_with(
    prev: ScenarioState,
    observed: Health,
    at: DateTime<Utc>,
    rules: &FlapRules,
) -> (ScenarioState, Option<Change>) {
    let changed = observed != prev.health;
    let mut next = prev.clone();
    next.recent_changes.retain(|t| at - *t < rules.window);
    if changed {
        next.recent_changes.push(at);
        let keep = rules.changes as usize + 1;
        if next.recent_changes.len() > keep {
            let cut = next.recent_changes.len() - keep;
            next.recent_changes.drain(..cut);
        }
        next.health = observed;
        next.ok_since = if observed.is_failing() {
            None
        } else {
            Some(at)
        };
    }
    if prev.flapping_since.is_some() {
        if changed {
            next.flap_changes += 1;
            let change = Change::Flapping {
                health: observed,
                changes: next.flap_changes,
                started: false,
            };
            return (next, Some(change));
        }
        let held = next
            .ok_since
            .filter(|since| !observed.is_failing() && at - *since >= rules.recovery_hold);
        let Some(ok_since) = held else {
            return (next, None);
        };
        let down = prev
            .failing_since
            .map_or(0, |since| (ok_since - since).num_seconds().max(0));
        next.failing_since = None;
        next.flapping_since = None;
        next.flap_changes = 0;
        next.recent_changes.clear();
        return (next, Some(Change::Recovered { down_seconds: down }));
    }
    if !changed {
        return (next, None);
    }
    if next.recent_changes.len() > rules.changes as usize {
        next.flapping_since = Some(at);
        next.flap_changes = next.recent_changes.len() as i64;
        if observed.is_failing() && prev.failing_since.is_none() {
            if prev.incident == 0 {
                next.incident = 1;
            }
            next.failing_since = Some(at);
        }
        let change = Change::Flapping {
            health: observed,
            changes: next.flap_changes,
            started: true,
        };
        // Ok for now: the incident stays open until the recovery holds.
        return (next, Some(change));
    }
    let change = match (prev.health.is_failing(), observed.is_failing()) {
        (false, true) => {
            let reopen = prev.incident > 0 && prev.ok_since.is_some_and(|t| at - t < rules.window);
            if !reopen {
                next.incident = prev.incident + 1;
            }
            next.failing_since = Some(at);
            Change::Failing { severity: observed }
        }
        (true, true) => Change::SeverityChanged {
            from: prev.health,
            to: observed,
        },
        (true, false) => {
            let down = prev
                .failing_since
                .map_or(0, |since| (at - since).num_seconds().max(0));
            next.failing_since = None;
            Change::Recovered { down_seconds: down }
        }
        (false, false) => return (next, None),
    };
    (next, Some(change))
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
                        ..ScenarioState::NEW
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

    /// Feeds `results` one per `step` seconds from t(0); returns the changes and the end state.
    fn run(
        results: &[Health],
        step: i64,
        rules: &FlapRules,
    ) -> (Vec<Option<Change>>, ScenarioState) {
        let mut state = ScenarioState::NEW;
        let mut changes = Vec::new();
        for (i, h) in results.iter().enumerate() {
            let (next, change) = apply_with(state, *h, t(i as i64 * step), rules);
            state = next;
            changes.push(change);
        }
        (changes, state)
    }

    #[test]
    fn failing_again_soon_after_a_recovery_reopens_the_incident() {
        // Few enough changes not to flap.
        let rules = FlapRules {
            changes: 10,
            ..FlapRules::default()
        };
        let (changes, state) = run(&[Health::Failure, Health::Ok, Health::Failure], 60, &rules);
        assert_eq!(state.incident, 1, "{changes:?}");
        assert!(matches!(changes[2], Some(Change::Failing { .. })));
        // After the window, a failure is a new incident.
        let (next, _) = apply_with(state.clone(), Health::Ok, t(200), &rules);
        let (next, c) = apply_with(next, Health::Failure, t(200 + 16 * 60), &rules);
        assert_eq!(next.incident, 2);
        assert!(matches!(c, Some(Change::Failing { .. })));
    }

    #[test]
    fn ten_flaps_are_one_incident_and_one_recovery_after_the_hold() {
        use Health::{Failure, Ok};
        let rules = FlapRules::default();
        let results: Vec<Health> = (0..20)
            .map(|i| if i % 2 == 0 { Failure } else { Ok })
            .collect();
        let (changes, state) = run(&results, 3, &rules);
        assert_eq!(state.incident, 1, "one incident: {changes:?}");
        assert!(matches!(changes[0], Some(Change::Failing { .. })));
        assert!(matches!(changes[1], Some(Change::Recovered { .. })));
        assert!(matches!(changes[2], Some(Change::Failing { .. })));
        assert_eq!(
            changes[3],
            Some(Change::Flapping {
                health: Ok,
                changes: 4,
                started: true
            })
        );
        for (i, c) in changes.iter().enumerate().skip(4) {
            assert!(
                matches!(c, Some(Change::Flapping { started: false, changes, .. }) if *changes == i as i64 + 1),
                "{i}: {c:?}"
            );
        }
        assert!(changes
            .iter()
            .all(|c| !matches!(c, Some(Change::Recovered { .. })) || c == &changes[1]));
        assert!(state.flapping_since.is_some());
        assert_eq!(state.health, Ok);
        // Ok results within the hold: still flapping, nothing to say.
        let last = 19 * 3;
        let (state, c) = apply_with(state, Ok, t(last + 60), &rules);
        assert_eq!(c, None);
        // Held for the recovery hold: one recovery, down time from the incident's start.
        let (state, c) = apply_with(state, Ok, t(last + 300), &rules);
        assert!(
            matches!(c, Some(Change::Recovered { down_seconds }) if down_seconds > 0),
            "{c:?}"
        );
        assert_eq!(state.flapping_since, None);
        assert_eq!(state.failing_since, None);
        assert_eq!(apply_with(state, Ok, t(last + 400), &rules).1, None);
    }

    #[test]
    fn a_failure_during_the_hold_keeps_the_incident_flapping() {
        use Health::{Failure, Ok};
        let rules = FlapRules {
            changes: 2,
            ..FlapRules::default()
        };
        let (changes, state) = run(&[Failure, Ok, Failure], 10, &rules);
        assert!(matches!(
            changes[2],
            Some(Change::Flapping {
                started: true,
                health: Failure,
                ..
            })
        ));
        let (state, c) = apply_with(state, Ok, t(100), &rules);
        assert!(c.is_some_and(|c| c.card_only()));
        let (state, c) = apply_with(state, Failure, t(200), &rules);
        assert!(c.is_some_and(|c| c.card_only()));
        assert_eq!(state.incident, 1);
        let (state, c) = apply_with(state, Failure, t(600), &rules);
        assert_eq!(c, None, "still failing: nothing new");
        assert!(state.flapping_since.is_some());
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(125), "2m 5s");
        assert_eq!(human_duration(7_500), "2h 5m");
        assert_eq!(human_duration(90_000), "1d 1h");
    }
}

//! The load-test lifecycle of API.md:
//!
//! ```text
//! (new) ─started─▶ started ─running─▶ running ─finished─▶ finished ─report_available─▶ reported
//! (new) ─running─▶ running            (tests started by a schedule or the API skip `started`)
//! running ─intermediate_report─▶ running
//! started|running ─aborted─▶ aborted ─report_available─▶ reported
//! any state but reported/error ─error─▶ error
//! ```

use serde::{Deserialize, Serialize};

/// Where a load test is in its lifecycle.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum LoadTestState {
    /// No event seen yet.
    New,
    Started,
    Running,
    Finished,
    Aborted,
    Error,
    Reported,
}

impl LoadTestState {
    pub const ALL: [Self; 7] = [
        Self::New,
        Self::Started,
        Self::Running,
        Self::Finished,
        Self::Aborted,
        Self::Error,
        Self::Reported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Started => "started",
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Aborted => "aborted",
            Self::Error => "error",
            Self::Reported => "reported",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The run is over: finished, aborted or failed (and perhaps reported since).
    pub fn has_ended(self) -> bool {
        matches!(
            self,
            Self::Finished | Self::Aborted | Self::Error | Self::Reported
        )
    }

    /// No event can change this state any more (only repeats of earlier events arrive).
    pub fn is_final(self) -> bool {
        LoadTestEventType::ALL
            .into_iter()
            .all(|e| apply(self, e).is_err())
    }
}

/// What the orchestrator reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadTestEventType {
    Started,
    Running,
    Finished,
    Aborted,
    Error,
    IntermediateReport,
    ReportAvailable,
}

impl LoadTestEventType {
    pub const ALL: [Self; 7] = [
        Self::Started,
        Self::Running,
        Self::Finished,
        Self::Aborted,
        Self::Error,
        Self::IntermediateReport,
        Self::ReportAvailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Aborted => "aborted",
            Self::Error => "error",
            Self::IntermediateReport => "intermediate_report",
            Self::ReportAvailable => "report_available",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The state this event leads to when it is allowed.
    fn target(self) -> LoadTestState {
        match self {
            Self::Started => LoadTestState::Started,
            Self::Running | Self::IntermediateReport => LoadTestState::Running,
            Self::Finished => LoadTestState::Finished,
            Self::Aborted => LoadTestState::Aborted,
            Self::Error => LoadTestState::Error,
            Self::ReportAvailable => LoadTestState::Reported,
        }
    }
}

/// A transition the lifecycle does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a load test in state {from} cannot take a {event} event", from = from.as_str(), event = event.as_str())]
pub struct InvalidTransition {
    pub from: LoadTestState,
    pub event: LoadTestEventType,
}

impl InvalidTransition {
    /// The state the event would have led to (the `to` of the 409 answer).
    pub fn to(&self) -> LoadTestState {
        self.event.target()
    }
}

/// Applies `event` to a load test in `state`.
pub fn apply(
    state: LoadTestState,
    event: LoadTestEventType,
) -> Result<LoadTestState, InvalidTransition> {
    use LoadTestEventType as E;
    use LoadTestState as S;
    let allowed = match event {
        E::Started => state == S::New,
        E::Running => matches!(state, S::New | S::Started),
        E::IntermediateReport => state == S::Running,
        E::Finished => state == S::Running,
        E::Aborted => matches!(state, S::Started | S::Running),
        E::ReportAvailable => matches!(state, S::Finished | S::Aborted),
        E::Error => !matches!(state, S::Reported | S::Error),
    };
    if allowed {
        Ok(event.target())
    } else {
        Err(InvalidTransition { from: state, event })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LoadTestEventType as E;
    use LoadTestState as S;

    #[test]
    fn reported_and_error_are_final_and_nothing_else_is() {
        let finals: Vec<_> = LoadTestState::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, vec![LoadTestState::Error, LoadTestState::Reported]);
    }

    /// The whole table: every state × every event, against the diagram.
    #[test]
    fn every_state_and_event_follows_the_diagram() {
        let allowed: &[(S, E, S)] = &[
            (S::New, E::Started, S::Started),
            (S::New, E::Running, S::Running),
            (S::New, E::Error, S::Error),
            (S::Started, E::Running, S::Running),
            (S::Started, E::Aborted, S::Aborted),
            (S::Started, E::Error, S::Error),
            (S::Running, E::IntermediateReport, S::Running),
            (S::Running, E::Finished, S::Finished),
            (S::Running, E::Aborted, S::Aborted),
            (S::Running, E::Error, S::Error),
            (S::Finished, E::ReportAvailable, S::Reported),
            (S::Finished, E::Error, S::Error),
            (S::Aborted, E::ReportAvailable, S::Reported),
            (S::Aborted, E::Error, S::Error),
        ];
        for state in S::ALL {
            for event in E::ALL {
                let expected = allowed
                    .iter()
                    .find(|(s, e, _)| *s == state && *e == event)
                    .map(|t| t.2);
                match (apply(state, event), expected) {
                    (Ok(got), Some(want)) => assert_eq!(got, want, "{state:?} + {event:?}"),
                    (Err(err), None) => {
                        assert_eq!(err.from, state);
                        assert_eq!(err.to(), event.target());
                    }
                    (got, want) => panic!("{state:?} + {event:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        for e in E::ALL {
            assert_eq!(E::parse(e.as_str()), Some(e));
        }
        assert_eq!(E::parse("exploded"), None);
    }
}

//! The one vocabulary of events: each kind a notification can be about, with its one code
//! (`load_test.error`, what rules select) and its one label for people ("Load test
//! failed"). The rules, the UI, the delivery log and the message titles all read this table.

use super::lifecycle::LoadTestEventType;

/// The kinds of event a notification (and a rule) can be about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    LoadTestStarted,
    LoadTestRunning,
    LoadTestFinished,
    LoadTestAborted,
    LoadTestError,
    LoadTestIntermediateReport,
    LoadTestReportAvailable,
    MonitoringFailing,
    MonitoringSeverityChanged,
    MonitoringRecovered,
}

impl EventKind {
    pub const ALL: [Self; 10] = [
        Self::LoadTestStarted,
        Self::LoadTestRunning,
        Self::LoadTestFinished,
        Self::LoadTestAborted,
        Self::LoadTestError,
        Self::LoadTestIntermediateReport,
        Self::LoadTestReportAvailable,
        Self::MonitoringFailing,
        Self::MonitoringSeverityChanged,
        Self::MonitoringRecovered,
    ];

    /// The `failures` shortcut.
    pub const FAILURES: [Self; 4] = [
        Self::LoadTestError,
        Self::LoadTestAborted,
        Self::MonitoringFailing,
        Self::MonitoringSeverityChanged,
    ];

    /// The table: (code, label) of each kind. A label is also the title of the kind's
    /// message where the message has one title (a severity change is "raised" or "lowered").
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::LoadTestStarted => ("load_test.started", "Load test started"),
            Self::LoadTestRunning => ("load_test.running", "Load test running"),
            Self::LoadTestFinished => ("load_test.finished", "Load test finished"),
            Self::LoadTestAborted => ("load_test.aborted", "Load test aborted"),
            Self::LoadTestError => ("load_test.error", "Load test failed"),
            Self::LoadTestIntermediateReport => (
                "load_test.intermediate_report",
                "Intermediate report available",
            ),
            Self::LoadTestReportAvailable => {
                ("load_test.report_available", "Final report available")
            }
            Self::MonitoringFailing => ("monitoring.failing", "Scenario failing"),
            Self::MonitoringSeverityChanged => ("monitoring.severity_changed", "Severity changed"),
            Self::MonitoringRecovered => ("monitoring.recovered", "Scenario recovered"),
        }
    }

    /// The code rules select the kind by (`load_test.error`).
    pub fn as_str(self) -> &'static str {
        self.names().0
    }

    /// What people read: the UI, the delivery log and the message titles.
    pub fn label(self) -> &'static str {
        self.names().1
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind of a load-test event.
    pub fn of_load_test(event: LoadTestEventType) -> Self {
        match event {
            LoadTestEventType::Started => Self::LoadTestStarted,
            LoadTestEventType::Running => Self::LoadTestRunning,
            LoadTestEventType::Finished => Self::LoadTestFinished,
            LoadTestEventType::Aborted => Self::LoadTestAborted,
            LoadTestEventType::Error => Self::LoadTestError,
            LoadTestEventType::IntermediateReport => Self::LoadTestIntermediateReport,
            LoadTestEventType::ReportAvailable => Self::LoadTestReportAvailable,
        }
    }

    /// The kind of an outbox row's `event_type` (`started`, `scenario_failing`, ...).
    pub fn of_event_type(event_type: &str) -> Option<Self> {
        let kind = match event_type {
            "scenario_failing" => "monitoring.failing",
            "scenario_severity_changed" => "monitoring.severity_changed",
            "scenario_recovered" => "monitoring.recovered",
            other => return Self::parse(&format!("load_test.{other}")),
        };
        Self::parse(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_load_test_event_has_its_kind_and_codes_round_trip() {
        for event in LoadTestEventType::ALL {
            let kind = EventKind::of_load_test(event);
            assert_eq!(EventKind::of_event_type(event.as_str()), Some(kind));
        }
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
    }

    /// docs/API.md's table of event kinds says what this table says, row by row.
    #[test]
    fn the_api_docs_list_every_kind_with_its_event_type_and_label() {
        let docs = include_str!("../../docs/API.md");
        for kind in EventKind::ALL {
            let code = kind.as_str();
            let event_type = match code.split_once('.') {
                Some(("monitoring", rest)) => format!("scenario_{rest}"),
                Some((_, rest)) => rest.to_owned(),
                None => unreachable!("every code has a dot"),
            };
            assert_eq!(EventKind::of_event_type(&event_type), Some(kind));
            let row = format!("| `{code}` | `{event_type}` | {} ", kind.label());
            let row_end = format!("| `{code}` | `{event_type}` | {} |", kind.label());
            assert!(
                docs.contains(&row) || docs.contains(&row_end),
                "docs/API.md lacks the row {row_end:?}"
            );
        }
    }
}

//! The payload stored with each event: what the message templates show, read back by
//! the sender (the event bodies it is made from, and their validation, are in the parent).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ErrorInfo, ExecutionInfo, FailedSensor, ReportInfo};
use crate::domain::lifecycle::LoadTestEventType;
use crate::domain::monitoring::{Change, Health};
use crate::domain::quiet::QuietNote;
use crate::domain::report::Comparison;

/// What is stored with an event and handed to the templates.
// A load test's payload is the largest (its report figures); payloads are handled one at a
// time, never held in bulk, so boxing it would only add an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    LoadTest(LoadTestPayload),
    Scenario(ScenarioPayload),
    /// Someone acknowledged, muted or unmuted a monitoring incident (a button on its card,
    /// or the web UI): a one-line reply in the incident's thread.
    IncidentAction(IncidentActionPayload),
    /// Someone made a run the baseline of its definition ("Set as baseline" on its card).
    BaselineSet(BaselineSetPayload),
    /// A held incident (`during_load_tests: hold`) recovered before its load test ended:
    /// one line under the load test's card (threads off: in the channel), no card, no
    /// mention.
    HoldRecovered(HoldRecoveredPayload),
    /// A weekly summary of an organization or project (`pipeline::summary`): its figures,
    /// worked out when it was queued, so a retry posts the same message.
    WeeklySummary(WeeklySummaryPayload),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HoldRecoveredPayload {
    pub load_test_id: String,
    pub load_test: String,
    pub scenario_id: String,
    pub name: String,
    pub failing_since: DateTime<Utc>,
    pub recovered_at: DateTime<Utc>,
}

/// A weekly summary's content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WeeklySummaryPayload {
    pub figures: crate::domain::summary::SummaryFigures,
    /// The time zone its dates are shown in (the schedule's; UTC for a preview without one).
    pub timezone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IncidentActionPayload {
    pub scenario_id: String,
    pub name: String,
    pub incident: i64,
    pub action: crate::domain::incident::Action,
    pub by: crate::domain::incident::Actor,
    pub at: DateTime<Utc>,
    /// A timed mute's end.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// A mute's reason as typed ("Mute for…"); absent in replies stored before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A run pinned as its definition's baseline from Slack: a one-line reply under its card
/// (threads off: a line in the channel).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BaselineSetPayload {
    pub load_test_id: String,
    pub name: String,
    /// The definition's name (or id, or the run's name when it has none).
    pub definition: String,
    pub by: crate::domain::incident::Actor,
    pub at: DateTime<Utc>,
}

impl Payload {
    /// Someone acting on a card (an incident's buttons, "Set as baseline"): a reply under
    /// the card, never a card of its own, and not a change of the subject.
    pub fn is_action(&self) -> bool {
        matches!(
            self,
            Self::IncidentAction(_) | Self::BaselineSet(_) | Self::HoldRecovered(_)
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoadTestPayload {
    pub load_test_id: String,
    pub name: String,
    pub url: Option<String>,
    pub started_by: Option<String>,
    pub event_type: LoadTestEventType,
    pub state: crate::domain::lifecycle::LoadTestState,
    pub occurred_at: DateTime<Utc>,
    pub error: Option<ErrorInfo>,
    pub report: Option<ReportInfo>,
    pub aborted_by: Option<String>,
    /// The test definition's name, when the orchestrator named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// A report compared with its baseline (worked out when the report arrived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

impl LoadTestPayload {
    /// A reported run whose figures regressed against its baseline (`regressions` rules).
    pub fn regressed(&self) -> bool {
        self.event_type == LoadTestEventType::ReportAvailable
            && self
                .comparison
                .as_ref()
                .is_some_and(Comparison::is_regression)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScenarioPayload {
    pub scenario_id: String,
    pub name: String,
    pub url: Option<String>,
    pub change: Change,
    pub health: Health,
    pub occurred_at: DateTime<Utc>,
    pub incident: i64,
    pub execution: Option<ExecutionInfo>,
    pub failed_sensors: Vec<FailedSensor>,
    /// The quiet time the incident opened in (a load test of its project), on the change
    /// that opened it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet: Option<QuietNote>,
    /// An incident posted at the end of the maintenance window it opened in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<crate::domain::maintenance::MaintenanceNote>,
}

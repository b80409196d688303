//! What a thread parent (run card, incident card) holds: the subject's latest event and
//! what it went through, updated with each event of the subject and stored as JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{MAX_HISTORY, MAX_LISTED_SENSORS};
use crate::domain::lifecycle::LoadTestEventType;
use crate::domain::monitoring::{Change, Health};
use crate::domain::quiet::QuietNote;
use crate::domain::report::Comparison;
use crate::pipeline::events::{ErrorInfo, FailedSensor, LoadTestPayload, Payload, ReportInfo};

/// One step a load test actually went through (the card's progress line).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Step {
    pub event: LoadTestEventType,
    /// Who aborted, or the failed step.
    #[serde(default)]
    pub detail: Option<String>,
}

/// One change of an incident, kept on its card.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IncidentEntry {
    pub at: DateTime<Utc>,
    pub change: Change,
    pub health: Health,
    /// The failed sensors reported with this change (the first few).
    #[serde(default)]
    pub sensors: Vec<FailedSensor>,
    #[serde(default)]
    pub more_sensors: usize,
}

/// What a thread parent shows; updated with each event of its subject.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Card {
    /// The latest event of the subject.
    pub latest: Payload,
    /// The newest report seen (stays on the card after later events).
    #[serde(default)]
    pub report: Option<ReportInfo>,
    /// The error, once one happened.
    #[serde(default)]
    pub error: Option<ErrorInfo>,
    #[serde(default)]
    pub aborted_by: Option<String>,
    /// The worst severity of an incident.
    #[serde(default)]
    pub worst: Option<Health>,
    /// Load tests: the steps that happened, in order (cards stored before this field
    /// show their latest state only).
    #[serde(default)]
    pub path: Vec<Step>,
    /// Incidents: the first failure and every change after it.
    #[serde(default)]
    pub history: Vec<IncidentEntry>,
    /// The newest report compared with its baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// Load tests: this run is the pinned baseline of its definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Pinned>,
    /// Incidents: the quiet time the incident opened in (kept from its first change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet: Option<QuietNote>,
    /// Incidents: posted at the end of the maintenance window it opened in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<crate::domain::maintenance::MaintenanceNote>,
}

/// Who made a run the baseline of its definition, and when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pinned {
    pub by: String,
    pub at: DateTime<Utc>,
}

impl Card {
    /// The card after its first event.
    pub fn new(first: &Payload) -> Self {
        let mut card = Self {
            latest: first.clone(),
            report: None,
            error: None,
            aborted_by: None,
            worst: None,
            path: Vec::new(),
            history: Vec::new(),
            comparison: None,
            pinned: None,
            quiet: None,
            maintenance: None,
        };
        card.absorb(first);
        card
    }

    /// Takes in a later event of the same subject. Someone acting on an incident does not
    /// change what the card holds (its acknowledgement and mute are rendered from
    /// [`CardControls`](super::CardControls)).
    pub fn absorb(&mut self, p: &Payload) {
        if p.is_action() {
            return;
        }
        self.latest = p.clone();
        if let Payload::LoadTest(LoadTestPayload {
            report: Some(r), ..
        }) = &mut self.latest
        {
            // The series is drawn as a chart of its own; the card keeps the figures.
            r.series = None;
        }
        match p {
            Payload::IncidentAction(_)
            | Payload::BaselineSet(_)
            | Payload::HoldRecovered(_)
            | Payload::WeeklySummary(_) => {}
            Payload::LoadTest(lt) => {
                if let Some(report) = &lt.report {
                    self.report = Some(ReportInfo {
                        series: None,
                        ..report.clone()
                    });
                }
                if lt.comparison.is_some() {
                    self.comparison = lt.comparison.clone();
                }
                if lt.error.is_some() {
                    self.error = lt.error.clone();
                }
                if lt.aborted_by.is_some() {
                    self.aborted_by = lt.aborted_by.clone();
                }
                self.push_step(lt);
            }
            Payload::Scenario(sc) => {
                if self.quiet.is_none() {
                    self.quiet = sc.quiet.clone();
                }
                if self.maintenance.is_none() {
                    self.maintenance = sc.maintenance.clone();
                }
                if sc.health.is_failing() {
                    self.worst = Some(self.worst.map_or(sc.health, |w| w.max(sc.health)));
                }
                // A flapping incident's later changes update one line (count, latest state).
                if sc.change.card_only()
                    && self
                        .history
                        .last()
                        .is_some_and(|e| matches!(e.change, Change::Flapping { .. }))
                {
                    self.history.pop();
                }
                if self.history.len() >= MAX_HISTORY {
                    // The first failure stays; the oldest change after it goes.
                    self.history.remove(1);
                }
                self.history.push(IncidentEntry {
                    at: sc.occurred_at,
                    change: sc.change,
                    health: sc.health,
                    sensors: sc
                        .failed_sensors
                        .iter()
                        .take(MAX_LISTED_SENSORS)
                        .cloned()
                        .collect(),
                    more_sensors: sc.failed_sensors.len().saturating_sub(MAX_LISTED_SENSORS),
                });
            }
        }
    }

    fn push_step(&mut self, lt: &LoadTestPayload) {
        use LoadTestEventType as E;
        let detail = match lt.event_type {
            // Interim figures are on the card; they are not a step.
            E::IntermediateReport => return,
            E::Aborted => lt.aborted_by.clone(),
            E::Error => lt.error.as_ref().and_then(|e| e.step.clone()),
            _ => None,
        };
        let step = Step {
            event: lt.event_type,
            detail,
        };
        if self.path.last() != Some(&step) {
            self.path.push(step);
        }
    }
}

//! `Scenario` actor: one per monitoring scenario. Remembers ok/failing and severity (in
//! the database) and emits only on a change (`domain::monitoring`); scenarios that do not
//! notify via Slack are tracked but produce no messages.

use super::subject::{now, Directory, Subject, SubjectActor};
use crate::db::DbConnection;
use crate::pipeline::events::MonitoringEvent;
use crate::pipeline::ingest::{self, IngestError, Outcome, Resolved};

/// The monitoring-scenario kind of subject.
pub struct Scenario;

impl Subject for Scenario {
    type Event = MonitoringEvent;
    const NAME: &'static str = "scenario";

    fn org(ev: &MonitoringEvent) -> &str {
        ev.org.as_str()
    }

    fn project(ev: &MonitoringEvent) -> &str {
        ev.project.as_str()
    }

    fn ingest(
        conn: &mut DbConnection,
        ev: &MonitoringEvent,
        resolved: &Resolved,
    ) -> Result<Outcome, IngestError> {
        ingest::monitoring_event(conn, ev, resolved, now())
    }
}

/// The actor of one scenario.
pub type ScenarioActor = SubjectActor<Scenario>;
/// Finds or starts scenario actors.
pub type Scenarios = Directory<Scenario>;

//! `LoadTest` actor: one per load test. Owns the ordering of that test's events and
//! enforces the lifecycle of API.md (`domain::lifecycle`) in the ingest transaction.

use super::subject::{now, Directory, Subject, SubjectActor};
use crate::db::DbConnection;
use crate::domain::lifecycle::LoadTestState;
use crate::pipeline::events::LoadTestEvent;
use crate::pipeline::ingest::{self, IngestError, Outcome, Resolved};

/// The load-test kind of subject.
pub struct LoadTest;

impl Subject for LoadTest {
    type Event = LoadTestEvent;
    const NAME: &'static str = "load_test";

    fn org(ev: &LoadTestEvent) -> &str {
        ev.org.as_str()
    }

    fn project(ev: &LoadTestEvent) -> &str {
        ev.project.as_str()
    }

    fn ingest(
        conn: &mut DbConnection,
        ev: &LoadTestEvent,
        resolved: &Resolved,
    ) -> Result<Outcome, IngestError> {
        ingest::load_test_event(conn, ev, resolved, now())
    }

    /// `reported` and `error` end a load test's lifecycle.
    fn ended(outcome: &Outcome) -> bool {
        let state = match outcome {
            Outcome::Accepted { state, .. } | Outcome::Duplicate { state } => state,
        };
        LoadTestState::parse(state).is_some_and(LoadTestState::is_final)
    }
}

/// The actor of one load test.
pub type LoadTestActor = SubjectActor<LoadTest>;
/// Finds or starts load-test actors.
pub type LoadTests = Directory<LoadTest>;

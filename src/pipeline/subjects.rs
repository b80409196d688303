//! The two kinds of subject an event is about, as the ingest path sees them: where an
//! event belongs (org, project), how it is applied in the ingest transaction, and when a
//! subject's lifecycle has ended. The actors (`actors::subject`) serialise each subject's
//! events; this is what they run.

use chrono::Utc;

use super::events::{LoadTestEvent, MonitoringEvent};
use super::ingest::{self, IngestError, IngestOutcome, Resolved};
use super::path_trace::PathTrace;
use super::writer::{IngestWriter, Ingested};
use crate::db::DbConnection;
use crate::domain::access::TokenHash;
use crate::domain::lifecycle::LoadTestState;
use crate::domain::monitoring::FlapRules;

/// Process-wide rules the ingest transactions apply (from the settings).
#[derive(Clone, Copy, Debug, Default)]
pub struct IngestConfig {
    /// When a monitoring scenario counts as flapping.
    pub flap: FlapRules,
}

/// What a kind of subject contributes: how to find its project and how to apply an event.
pub trait Subject: 'static {
    type Event: Clone + Send + 'static;
    /// For log lines.
    const NAME: &'static str;
    fn org(ev: &Self::Event) -> &str;
    fn project(ev: &Self::Event) -> &str;
    /// The ingest transaction body (called inside `write_tx`).
    fn ingest(
        conn: &mut DbConnection,
        ev: &Self::Event,
        resolved: &Resolved,
        config: &IngestConfig,
    ) -> Result<IngestOutcome, IngestError>;
    /// Whether the subject's lifecycle has ended after `outcome`: its actor stops at once.
    fn ended(_outcome: &IngestOutcome) -> bool {
        false
    }

    /// Hands the event to the group commit: by default as a closure running `ingest`.
    /// `unconfirmed`: the caller's API token, when the transaction is to confirm it live
    /// (`writer::IngestWriter::submit_ingest`).
    fn submit(
        writer: &IngestWriter,
        ev: Self::Event,
        resolved: Resolved,
        config: IngestConfig,
        unconfirmed: Option<TokenHash>,
        trace: PathTrace,
    ) -> Submitted {
        let writer = writer.clone();
        Box::pin(async move {
            let work = move |c: &mut DbConnection| Self::ingest(c, &ev, &resolved, &config);
            writer.submit_ingest(work, unconfirmed, trace).await
        })
    }
}

/// An ingest on its way through the group commit.
pub type Submitted =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Ingested, IngestError>> + Send>>;

/// Current time for ingest, in UTC (one place, so tests could pin it; `db::now` is the
/// same instant as the database stores it, without a zone).
pub fn now_utc() -> chrono::DateTime<Utc> {
    Utc::now()
}

/// The load-test kind of subject: `domain::lifecycle` applied in the ingest transaction.
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
        _config: &IngestConfig,
    ) -> Result<IngestOutcome, IngestError> {
        ingest::load_test_event(conn, ev, resolved, now_utc())
    }

    /// Load-test events are applied together with the others of their batch.
    fn submit(
        writer: &IngestWriter,
        ev: LoadTestEvent,
        resolved: Resolved,
        _config: IngestConfig,
        unconfirmed: Option<TokenHash>,
        trace: PathTrace,
    ) -> Submitted {
        let writer = writer.clone();
        Box::pin(async move {
            writer
                .submit_load_test(ev, resolved, unconfirmed, trace)
                .await
        })
    }

    /// `reported` and `error` end a load test's lifecycle.
    fn ended(outcome: &IngestOutcome) -> bool {
        let state = match outcome {
            IngestOutcome::Accepted { state, .. }
            | IngestOutcome::Duplicate { state }
            | IngestOutcome::Stale { state } => state,
        };
        LoadTestState::parse(state).is_some_and(LoadTestState::is_final)
    }
}

/// The monitoring-scenario kind of subject: `domain::monitoring` applied in the ingest
/// transaction. A scenario's lifecycle never ends.
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
        config: &IngestConfig,
    ) -> Result<IngestOutcome, IngestError> {
        ingest::monitoring_event(conn, ev, resolved, &config.flap, now_utc())
    }
}

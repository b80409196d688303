//! Load-test events of one group commit applied together (PostgreSQL): the same rows as
//! [`super::load_test_event`] writes one event at a time, with one statement per table.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{
    duplicate_of, load_test_event, load_test_key, plan_load_test, refused, Identity, IngestError,
    IngestOutcome, Resolved,
};
use crate::db::models::delivery::{Delivery, NewDelivery};
use crate::db::models::event::EventRow;
use crate::db::models::load_test::LoadTestRow;
use crate::db::DbConnection;
use crate::pipeline::events::LoadTestEvent;

/// A load-test event waiting in a group commit (`pipeline::writer`), and its outcome once
/// [`load_test_batch`] or [`load_test_event`] has run it.
pub struct LoadTestJob {
    pub ev: LoadTestEvent,
    pub resolved: Resolved,
    pub outcome: Option<Result<IngestOutcome, IngestError>>,
}

/// A job's outcome within a batch, or `Err` when it left the transaction failed or raced
/// (then the batch is replayed). A refusal is an outcome: it was decided before any write.
fn settled(
    outcome: Result<IngestOutcome, IngestError>,
) -> Result<Result<IngestOutcome, IngestError>, IngestError> {
    match outcome {
        Err(e @ (IngestError::Conflict | IngestError::Db(_) | IngestError::Database(_))) => Err(e),
        other => Ok(other),
    }
}

/// Applies the load-test events of one group commit together, with the same few
/// statements whatever their number: one read of their load tests, one insert of their
/// event rows (a repeat is left out by the insert), one save of their load tests (guarded
/// by version, as [`load_test_event`] does) and one insert of their outbox rows. On
/// PostgreSQL each statement is a round trip under the writer's lock on its batch, so a
/// batch that grew under load no longer takes longer in proportion. Repeats and refusals
/// are answered one by one, as [`load_test_event`] answers them.
///
/// `false` when the batch must be rolled back and run again one event at a time: a race
/// lost to another instance, an event of the same load test twice, a database error.
/// Each job's `outcome` is set when it returns `true`.
pub fn load_test_batch(
    conn: &mut DbConnection,
    jobs: &mut [&mut LoadTestJob],
    now: DateTime<Utc>,
) -> bool {
    let mut subjects = HashSet::new();
    if !jobs
        .iter()
        .all(|j| subjects.insert(j.ev.load_test.as_str()))
    {
        return false;
    }
    match apply_batch(conn, jobs, now) {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = %e, "ingest batch replayed one event at a time");
            false
        }
    }
}

fn apply_batch(
    conn: &mut DbConnection,
    jobs: &mut [&mut LoadTestJob],
    now: DateTime<Utc>,
) -> Result<(), IngestError> {
    let ids: Vec<&str> = jobs
        .iter()
        .filter(|j| j.resolved.project_registered)
        .map(|j| j.ev.load_test.as_str())
        .collect();
    let mut existing: HashMap<String, LoadTestRow> = LoadTestRow::find_many(conn, &ids)?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    let mut planned = Vec::with_capacity(jobs.len());
    for (n, job) in jobs.iter_mut().enumerate() {
        // A project not yet seen registered is checked first, as one event alone; a report
        // looks up its baseline, as one event alone too (reports are rare).
        if !job.resolved.project_registered || job.ev.report.is_some() {
            job.outcome = Some(settled(load_test_event(conn, &job.ev, &job.resolved, now))?);
            continue;
        }
        let stored = existing.remove(job.ev.load_test.as_str());
        match plan_load_test(&job.ev, &job.resolved.effective, stored.as_ref(), None, now) {
            Ok(plan) => planned.push((n, plan)),
            Err(e) => {
                let key = load_test_key(&job.ev);
                let id = Identity {
                    key: &key,
                    fingerprint: &job.ev.fingerprint,
                };
                job.outcome = Some(settled(refused(conn, &id, e))?);
            }
        }
    }
    let events: Vec<&EventRow> = planned.iter().map(|(_, p)| &p.event).collect();
    let inserted: HashSet<String> = EventRow::insert_new_many(conn, &events)?
        .into_iter()
        .collect();
    let mut accepted = Vec::with_capacity(planned.len());
    for (n, plan) in planned {
        if inserted.contains(&plan.event.event_id) {
            accepted.push((n, plan));
            continue;
        }
        // Stored before: answered as the first time, or refused when the body differs.
        let key = load_test_key(&jobs[n].ev);
        let id = Identity {
            key: &key,
            fingerprint: &jobs[n].ev.fingerprint,
        };
        let repeat = duplicate_of(conn, &id).and_then(|d| d.ok_or(IngestError::Conflict));
        jobs[n].outcome = Some(settled(repeat)?);
    }
    let rows: Vec<&LoadTestRow> = accepted.iter().map(|(_, p)| &p.row).collect();
    let saved: HashSet<String> = LoadTestRow::save_many(conn, &rows)?.into_iter().collect();
    if rows.iter().any(|r| !saved.contains(&r.id)) {
        return Err(IngestError::Conflict);
    }
    let deliveries: Vec<&NewDelivery> = accepted
        .iter()
        .flat_map(|(_, p)| p.deliveries.iter())
        .collect();
    Delivery::insert_many(conn, &deliveries)?;
    for (n, plan) in accepted {
        jobs[n].outcome = Some(Ok(plan.accepted()));
    }
    Ok(())
}

//! The ingest transactions: event row (idempotency), subject state (with a version check)
//! and the outbox rows, all committed together before the 202 goes out.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::events::{LoadTestEvent, LoadTestPayload, MonitoringEvent, Payload, ScenarioPayload};
use super::incidents;
use crate::db::models::delivery::{Delivery, DeliveryStatus, NewDelivery};
use crate::db::models::event::EventRow;
use crate::db::models::load_test::LoadTestRow;
use crate::db::models::project::Project;
use crate::db::models::scenario::ScenarioRow;
use crate::db::DbConnection;
use crate::domain::ids::{EventKey, SubjectKey, SubjectKind};
use crate::domain::lifecycle::{self, InvalidTransition, LoadTestState};
use crate::domain::monitoring::{self, ScenarioState};
use crate::domain::rules::{self, EventKind, Route};
use crate::domain::settings::Effective;

/// What an event of a project is ingested with: the project's effective settings (from
/// the `ConfigResolver`) and whether the project was seen registered when they were
/// resolved. Projects are never removed, so `true` saves the ingest transaction its
/// lookup; `false` is checked again there (the project may have been registered since).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub effective: Effective,
    pub project_registered: bool,
}

/// What happened to an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored; a pending delivery was queued in each of `channels` (workspace, channel).
    Accepted {
        state: String,
        channels: Vec<(String, String)>,
    },
    /// The same `event_id` was accepted before; nothing was done.
    Duplicate { state: String },
}

/// Why an event was refused (nothing was stored).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("project {project:?} of organization {org:?} is not registered")]
    UnknownProject { org: String, project: String },
    #[error("{subject} {id:?} belongs to project {org}/{project}")]
    WrongProject {
        subject: &'static str,
        id: String,
        org: String,
        project: String,
    },
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// The `event_id` was accepted before for this subject with another body.
    #[error("event_id {0:?} was already used for another event of this subject")]
    EventIdReused(String),
    #[error("{0}")]
    MissingField(&'static str),
    /// Another instance changed the same subject concurrently; retry.
    #[error("concurrent update")]
    Conflict,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
}

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// The outbox rows for one event: pending per channel it goes to (every target channel,
/// plus the channels of the notification rules that select it, each once) when messages
/// go out, otherwise `skipped` with the reason (one row per channel, or one without a
/// channel). An event that no rule selects and no target channel takes gets no row: a
/// rule's filter is not a delivery attempt.
fn outbox_rows(
    effective: &Effective,
    event_id: &str,
    org: &str,
    project: &str,
    subject_key: &str,
    event_type: &str,
    now: NaiveDateTime,
) -> Vec<NewDelivery> {
    let skip = effective.skip_reason();
    let integration = effective.integration.value.as_ref();
    let base = |channel: String, channel_name: Option<String>, route: Option<&Route>| NewDelivery {
        event_id: event_id.to_owned(),
        org_id: org.to_owned(),
        project_id: project.to_owned(),
        subject_key: subject_key.to_owned(),
        event_type: event_type.to_owned(),
        channel,
        channel_name,
        team_id: integration.map(|i| i.team_id.clone()),
        installation_id: integration.map(|i| i.installation_id.clone()),
        threads: effective.threads.value,
        compact: effective.compact_messages.value,
        status: if skip.is_some() {
            DeliveryStatus::Skipped
        } else {
            DeliveryStatus::Pending
        },
        error: skip.clone(),
        next_attempt_at: now,
        created_at: now,
        mention: route.and_then(|r| r.mention.clone()),
        rule: route.and_then(|r| r.rule.clone()),
    };
    let routes = rules::routes(
        &effective.target_channels.value,
        &effective.rules.value,
        EventKind::of_event_type(event_type),
    );
    if routes.is_empty() {
        let nothing_configured =
            effective.target_channels.value.is_empty() && effective.rules.value.is_empty();
        return if skip.is_some() || nothing_configured {
            vec![base(String::new(), None, None)]
        } else {
            Vec::new()
        };
    }
    routes
        .iter()
        .map(|r| base(r.channel.address(), Some(r.channel.display()), Some(r)))
        .collect()
}

/// Inserts the outbox rows; returns the channels (workspace, channel) of the pending ones.
fn queue(
    conn: &mut DbConnection,
    rows: &[NewDelivery],
) -> Result<Vec<(String, String)>, IngestError> {
    Delivery::insert_all(conn, rows)?;
    Ok(pending_channels(rows))
}

/// The channels (workspace, channel) of the pending outbox rows.
fn pending_channels(rows: &[NewDelivery]) -> Vec<(String, String)> {
    rows.iter()
        .filter(|r| r.status == DeliveryStatus::Pending)
        .map(|r| (r.team_id.clone().unwrap_or_default(), r.channel.clone()))
        .collect()
}

/// The identity of an event for de-duplication: its key (event ids are unique per
/// subject) and the fingerprint of its body.
struct Identity<'a> {
    key: &'a EventKey,
    fingerprint: &'a str,
}

/// A repeated `event_id` answers as the first time did; the same id with another body is
/// refused (`EventIdReused`).
///
/// The happy path never looks this up: the event row is written first, with `ON CONFLICT
/// DO NOTHING`, so a repeat is found by the insert that does not happen. Only an event
/// that would be refused, or whose project was not known to be registered, is looked up
/// here first, so that a repeat is never answered with an error its original did not get.
fn duplicate_of(
    conn: &mut DbConnection,
    id: &Identity<'_>,
) -> Result<Option<Outcome>, IngestError> {
    let Some(stored) = EventRow::find_by_id(conn, id.key.as_str())? else {
        return Ok(None);
    };
    // Events stored before fingerprints were kept have none; they match any body.
    if stored
        .body_sha256
        .as_deref()
        .is_some_and(|f| f != id.fingerprint)
    {
        return Err(IngestError::EventIdReused(
            EventKey::sender_event_id(id.key.as_str()).to_owned(),
        ));
    }
    Ok(Some(Outcome::Duplicate {
        state: stored.resulting_state,
    }))
}

/// What every event checks first when its project was not seen registered: a repeat
/// answers as before, then the project must be registered (404).
fn precheck(
    conn: &mut DbConnection,
    id: &Identity<'_>,
    (org, project): (&str, &str),
    resolved: &Resolved,
) -> Result<Option<Outcome>, IngestError> {
    if resolved.project_registered {
        return Ok(None);
    }
    if let Some(duplicate) = duplicate_of(conn, id)? {
        return Ok(Some(duplicate));
    }
    check_project(conn, org, project)?;
    Ok(None)
}

/// An event that fails a check is refused, unless it repeats an accepted one.
fn refused(
    conn: &mut DbConnection,
    id: &Identity<'_>,
    e: IngestError,
) -> Result<Outcome, IngestError> {
    match duplicate_of(conn, id)? {
        Some(duplicate) => Ok(duplicate),
        None => Err(e),
    }
}

/// Stores the event row first of all writes; `Some(Duplicate)` when the event is stored
/// already (then nothing has been written).
fn record_event(
    conn: &mut DbConnection,
    id: &Identity<'_>,
    row: &EventRow,
) -> Result<Option<Outcome>, IngestError> {
    if EventRow::insert_new(conn, row)? {
        return Ok(None);
    }
    // Stored by an earlier (or concurrent, now committed) transaction.
    duplicate_of(conn, id)?
        .map(Some)
        .ok_or(IngestError::Conflict)
}

/// A known subject stays in the project it was first seen in.
fn same_project(
    subject: &'static str,
    id: &str,
    (row_org, row_project): (&str, &str),
    (org, project): (&str, &str),
) -> Result<(), IngestError> {
    if row_org == org && row_project == project {
        return Ok(());
    }
    Err(IngestError::WrongProject {
        subject,
        id: id.to_owned(),
        org: row_org.to_owned(),
        project: row_project.to_owned(),
    })
}

fn check_project(conn: &mut DbConnection, org: &str, project: &str) -> Result<(), IngestError> {
    if Project::exists(conn, org, project)? {
        Ok(())
    } else {
        Err(IngestError::UnknownProject {
            org: org.to_owned(),
            project: project.to_owned(),
        })
    }
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// A write that lost a race with another instance (the same key inserted first) is a
/// `Conflict`, which the subject's actor retries.
fn racy<T>(result: diesel::QueryResult<T>) -> Result<T, IngestError> {
    result.map_err(|e| {
        if is_unique_violation(&e) {
            IngestError::Conflict
        } else {
            e.into()
        }
    })
}

/// Saves a subject's new state: an update guarded by the version read before, or the
/// first insert; either losing a race is a `Conflict`.
fn save_versioned(
    conn: &mut DbConnection,
    previous_version: Option<i64>,
    update: impl FnOnce(&mut DbConnection, i64) -> diesel::QueryResult<bool>,
    insert: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<()>,
) -> Result<(), IngestError> {
    match previous_version {
        Some(version) if update(conn, version)? => Ok(()),
        Some(_) => Err(IngestError::Conflict),
        None => racy(insert(conn)),
    }
}

/// Everything one load-test event writes, worked out from the stored state of its load
/// test (`existing`): the load test's new row, the event row and the outbox rows.
struct LoadTestPlan {
    row: LoadTestRow,
    previous_version: Option<i64>,
    event: EventRow,
    deliveries: Vec<NewDelivery>,
}

impl LoadTestPlan {
    /// The answer once everything is written.
    fn accepted(&self) -> Outcome {
        Outcome::Accepted {
            state: self.row.state.as_str().to_owned(),
            channels: pending_channels(&self.deliveries),
        }
    }
}

/// Applies the lifecycle rules to a load-test event (no database access).
fn plan_load_test(
    ev: &LoadTestEvent,
    effective: &Effective,
    existing: Option<&LoadTestRow>,
    now: DateTime<Utc>,
) -> Result<LoadTestPlan, IngestError> {
    let (org, project) = (ev.org.as_str(), ev.project.as_str());
    if let Some(row) = existing {
        same_project(
            "load test",
            &row.id,
            (&row.org_id, &row.project_id),
            (org, project),
        )?;
    }
    let from = existing.map_or(LoadTestState::New, |r| r.state);
    let to = lifecycle::apply(from, ev.event_type)?;
    let name = ev
        .info
        .name
        .clone()
        .or_else(|| existing.map(|r| r.name.clone()))
        .ok_or(IngestError::MissingField("load_test.name"))?;
    let now_naive = naive(now);
    let row = LoadTestRow {
        id: ev.load_test.to_string(),
        org_id: org.to_owned(),
        project_id: project.to_owned(),
        name: name.clone(),
        url: ev
            .info
            .url
            .clone()
            .or_else(|| existing.and_then(|r| r.url.clone())),
        started_by: ev
            .info
            .started_by
            .clone()
            .or_else(|| existing.and_then(|r| r.started_by.clone())),
        state: to,
        version: existing.map_or(1, |r| r.version + 1),
        created_at: existing.map_or(now_naive, |r| r.created_at),
        updated_at: now_naive,
    };
    let payload = Payload::LoadTest(LoadTestPayload {
        load_test_id: row.id.clone(),
        name,
        url: row.url.clone(),
        started_by: row.started_by.clone(),
        event_type: ev.event_type,
        state: to,
        occurred_at: ev.occurred_at,
        error: ev.error.clone(),
        report: ev.report.clone(),
        aborted_by: ev.aborted_by.clone(),
    });
    let key = load_test_key(ev);
    let event = EventRow {
        event_id: key.as_str().to_owned(),
        subject_kind: SubjectKind::LoadTest.as_str().into(),
        subject_id: row.id.clone(),
        org_id: org.to_owned(),
        project_id: project.to_owned(),
        event_type: ev.event_type.as_str().to_owned(),
        occurred_at: naive(ev.occurred_at),
        payload: serde_json::to_string(&payload).unwrap_or_default(),
        resulting_state: to.as_str().to_owned(),
        received_at: now_naive,
        body_sha256: Some(ev.fingerprint.clone()),
    };
    let deliveries = outbox_rows(
        effective,
        key.as_str(),
        org,
        project,
        SubjectKey::load_test(&row.id).as_str(),
        ev.event_type.as_str(),
        now_naive,
    );
    Ok(LoadTestPlan {
        previous_version: existing.map(|r| r.version),
        row,
        event,
        deliveries,
    })
}

fn load_test_key(ev: &LoadTestEvent) -> EventKey {
    EventKey::new(SubjectKind::LoadTest, ev.load_test.as_str(), &ev.event_id)
}

/// Applies a load-test event. Call inside `write_tx`.
pub fn load_test_event(
    conn: &mut DbConnection,
    ev: &LoadTestEvent,
    resolved: &Resolved,
    now: DateTime<Utc>,
) -> Result<Outcome, IngestError> {
    let key = load_test_key(ev);
    let id = Identity {
        key: &key,
        fingerprint: &ev.fingerprint,
    };
    if let Some(duplicate) = precheck(conn, &id, (ev.org.as_str(), ev.project.as_str()), resolved)?
    {
        return Ok(duplicate);
    }
    let existing = LoadTestRow::find_by_id(conn, ev.load_test.as_str())?;
    let plan = match plan_load_test(ev, &resolved.effective, existing.as_ref(), now) {
        Ok(plan) => plan,
        Err(e) => return refused(conn, &id, e),
    };
    if let Some(duplicate) = record_event(conn, &id, &plan.event)? {
        return Ok(duplicate);
    }
    save_versioned(
        conn,
        plan.previous_version,
        |c, version| plan.row.save_if_version(c, version),
        |c| LoadTestRow::insert(c, &plan.row),
    )?;
    queue(conn, &plan.deliveries)?;
    Ok(plan.accepted())
}

/// A load-test event waiting in a group commit (`pipeline::writer`), and its outcome once
/// [`load_test_batch`] or [`load_test_event`] has run it.
pub struct LoadTestJob {
    pub ev: LoadTestEvent,
    pub resolved: Resolved,
    pub outcome: Option<Result<Outcome, IngestError>>,
}

/// A job's outcome within a batch, or `Err` when it left the transaction failed or raced
/// (then the batch is replayed). A refusal is an outcome: it was decided before any write.
fn settled(
    outcome: Result<Outcome, IngestError>,
) -> Result<Result<Outcome, IngestError>, IngestError> {
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
    let mut subjects = std::collections::HashSet::new();
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
    let mut existing: std::collections::HashMap<String, LoadTestRow> =
        LoadTestRow::find_many(conn, &ids)?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
    let mut planned = Vec::with_capacity(jobs.len());
    for (n, job) in jobs.iter_mut().enumerate() {
        // A project not yet seen registered is checked first, as one event alone.
        if !job.resolved.project_registered {
            job.outcome = Some(settled(load_test_event(conn, &job.ev, &job.resolved, now))?);
            continue;
        }
        let stored = existing.remove(job.ev.load_test.as_str());
        match plan_load_test(&job.ev, &job.resolved.effective, stored.as_ref(), now) {
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
    let inserted: std::collections::HashSet<String> = EventRow::insert_new_many(conn, &events)?
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
    let saved: std::collections::HashSet<String> =
        LoadTestRow::save_many(conn, &rows)?.into_iter().collect();
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

/// Applies a monitoring event. Call inside `write_tx`.
pub fn monitoring_event(
    conn: &mut DbConnection,
    ev: &MonitoringEvent,
    resolved: &Resolved,
    flap: &monitoring::FlapRules,
    now: DateTime<Utc>,
) -> Result<Outcome, IngestError> {
    let (org, project) = (ev.org.as_str(), ev.project.as_str());
    let effective = &resolved.effective;
    let key = EventKey::new(SubjectKind::Scenario, ev.scenario.as_str(), &ev.event_id);
    let id = Identity {
        key: &key,
        fingerprint: &ev.fingerprint,
    };
    if let Some(duplicate) = precheck(conn, &id, (org, project), resolved)? {
        return Ok(duplicate);
    }
    let existing = ScenarioRow::find_by_id(conn, ev.scenario.as_str())?;
    if let Some(row) = &existing {
        let checked = same_project(
            "scenario",
            &row.id,
            (&row.org_id, &row.project_id),
            (org, project),
        );
        if let Err(e) = checked {
            return refused(conn, &id, e);
        }
    }
    let prev = existing
        .as_ref()
        .map_or(ScenarioState::NEW, |r| ScenarioState {
            health: r.state,
            failing_since: r.failing_since.map(|t| t.and_utc()),
            incident: r.incident,
            recent_changes: serde_json::from_str(&r.recent_changes).unwrap_or_default(),
            flapping_since: r.flapping_since.map(|t| t.and_utc()),
            flap_changes: r.flap_changes,
            ok_since: r.ok_since.map(|t| t.and_utc()),
        });
    let (next, change) = monitoring::apply_with(prev, ev.health, ev.occurred_at, flap);
    let now_naive = naive(now);
    let name = ev
        .info
        .name
        .clone()
        .or_else(|| existing.as_ref().map(|r| r.name.clone()))
        .unwrap_or_else(|| ev.scenario.to_string());
    let row = ScenarioRow {
        id: ev.scenario.to_string(),
        org_id: org.to_owned(),
        project_id: project.to_owned(),
        name: name.clone(),
        url: ev
            .info
            .url
            .clone()
            .or_else(|| existing.as_ref().and_then(|r| r.url.clone())),
        state: next.health,
        failing_since: next.failing_since.map(naive),
        incident: next.incident,
        version: existing.as_ref().map_or(1, |r| r.version + 1),
        created_at: existing.as_ref().map_or(now_naive, |r| r.created_at),
        updated_at: now_naive,
        recent_changes: serde_json::to_string(&next.recent_changes)
            .unwrap_or_else(|_| "[]".to_owned()),
        flapping_since: next.flapping_since.map(naive),
        flap_changes: next.flap_changes,
        ok_since: next.ok_since.map(naive),
    };
    let event_type = change.map_or("scenario_unchanged", |c| c.kind());
    let payload = change.map(|c| {
        Payload::Scenario(ScenarioPayload {
            scenario_id: row.id.clone(),
            name: name.clone(),
            url: row.url.clone(),
            change: c,
            health: ev.health,
            occurred_at: ev.occurred_at,
            incident: next.incident,
            execution: ev.execution.clone(),
            failed_sensors: ev.failed_sensors.clone(),
        })
    });
    let event = EventRow {
        event_id: key.as_str().to_owned(),
        subject_kind: SubjectKind::Scenario.as_str().into(),
        subject_id: row.id.clone(),
        org_id: org.to_owned(),
        project_id: project.to_owned(),
        event_type: event_type.to_owned(),
        occurred_at: naive(ev.occurred_at),
        payload: payload
            .as_ref()
            .and_then(|p| serde_json::to_string(p).ok())
            .unwrap_or_else(|| "null".to_owned()),
        resulting_state: next.health.as_str().to_owned(),
        received_at: now_naive,
        body_sha256: Some(ev.fingerprint.clone()),
    };
    if let Some(duplicate) = record_event(conn, &id, &event)? {
        return Ok(duplicate);
    }
    save_versioned(
        conn,
        existing.as_ref().map(|r| r.version),
        |c, version| row.save_if_version(c, version),
        |c| ScenarioRow::insert(c, &row),
    )?;
    // Only changes of scenarios that notify via Slack become messages.
    let mut channels = Vec::new();
    if let (Some(change), true) = (change, ev.notify_slack) {
        let mut rows = outbox_rows(
            effective,
            key.as_str(),
            org,
            project,
            SubjectKey::incident(&row.id, next.incident).as_str(),
            change.kind(),
            now_naive,
        );
        if change.card_only() {
            // A flapping scenario's later changes only update its incident card: nothing
            // where there is no card (threads off, or nothing to send).
            rows.retain(|r| r.threads && r.status == DeliveryStatus::Pending);
        } else if rows.iter().any(|r| r.status == DeliveryStatus::Pending) {
            // A muted incident's changes are logged as skipped, with who muted it until when.
            let recovery = matches!(change, monitoring::Change::Recovered { .. });
            let muted = incidents::mute_reason(conn, &row.id, next.incident, recovery, now)?;
            if let Some(reason) = muted {
                for r in rows
                    .iter_mut()
                    .filter(|r| r.status == DeliveryStatus::Pending)
                {
                    r.status = DeliveryStatus::Skipped;
                    r.error = Some(reason.clone());
                }
            }
        }
        channels = queue(conn, &rows)?;
    }
    Ok(Outcome::Accepted {
        state: next.health.as_str().to_owned(),
        channels,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    use chrono::Utc;
    use diesel::connection::{Connection, InstrumentationEvent};

    use super::*;
    use crate::db::models::organization::Organization;
    use crate::db::{run_migrations, DatabaseUrl};
    use crate::domain::channel::TargetChannel;
    use crate::domain::ids::LoadTestId;
    use crate::domain::settings::{resolve, Integration, IntegrationStatus, OrgSettings};
    use crate::pipeline::events::LoadTestEventBody;

    fn effective() -> Effective {
        let org = OrgSettings {
            send_messages: true,
            threads: false,
            compact_messages: false,
            target_channels: vec![TargetChannel {
                id: Some("C0001".into()),
                name: Some("load-tests".into()),
            }],
            rules: vec![],
        };
        let integration = Integration {
            installation_id: "inst-1".into(),
            team_id: "T0001".into(),
            team_name: "Acme".into(),
            installed_at: Utc::now(),
            status: IntegrationStatus::Active,
            status_reason: None,
            failing_since: None,
        };
        resolve(&org, Some(&integration), None, None)
    }

    fn event(lt: &str, kind: &str) -> LoadTestEvent {
        let body: LoadTestEventBody = serde_json::from_value(serde_json::json!({
            "event_id": format!("{lt}-{kind}"), "org": "acme", "project": "shop", "type": kind,
            "load_test": {"name": "Checkout", "url": "https://xtc.example/lt/1"},
        }))
        .unwrap();
        body.validate(LoadTestId::parse(lt).unwrap(), Utc::now())
            .unwrap()
    }

    /// The SQL of a started query, without diesel's "-- binds" suffix.
    fn sql_of(event: &InstrumentationEvent<'_>) -> Option<String> {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                let text = query.to_string();
                let sql = text.split(" -- binds").next().unwrap_or_default().trim();
                let statement = ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"]
                    .iter()
                    .any(|k| sql.starts_with(k));
                statement.then(|| sql.to_owned())
            }
            _ => None,
        }
    }

    /// Every statement of the ingest transaction is prepared once per connection and then
    /// reused: after a warm-up, no statement runs that is not in the statement cache (an
    /// uncached statement would be prepared again on every event).
    #[test]
    fn ingest_statements_are_prepared_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("ingest.db"));
        let mut conn = url.connect().unwrap();
        run_migrations(&mut conn).unwrap();
        Organization::save(&mut conn, "acme", "Acme").unwrap();
        Project::save(&mut conn, "acme", "shop", "Shop").unwrap();

        let cached: Arc<Mutex<HashSet<String>>> = Arc::default();
        let started: Arc<Mutex<Vec<String>>> = Arc::default();
        let (c, s) = (cached.clone(), started.clone());
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = &event {
                c.lock().unwrap().insert(sql.trim().to_owned());
            }
            if let Some(sql) = sql_of(&event) {
                s.lock().unwrap().push(sql);
            }
        });
        let resolved = Resolved {
            effective: effective(),
            project_registered: true,
        };
        let mut ingest = |lt: &str, kind: &str| {
            let outcome = load_test_event(&mut conn, &event(lt, kind), &resolved, Utc::now());
            assert!(
                matches!(outcome, Ok(Outcome::Accepted { .. })),
                "{outcome:?}"
            );
        };
        // Warm-up: the first event of a load test inserts it, the second updates it.
        ingest("lt-warm", "started");
        ingest("lt-warm", "running");
        started.lock().unwrap().clear();
        for n in 0..3 {
            let lt = format!("lt-{n}");
            ingest(&lt, "started");
            ingest(&lt, "running");
        }
        let cached = cached.lock().unwrap();
        let started = started.lock().unwrap();
        // Four statements per event: read the load test, insert the event row (a repeat
        // stops there), insert or update the load test, insert the outbox row.
        assert_eq!(started.len(), 6 * 4, "{started:#?}");
        let uncached: Vec<_> = started.iter().filter(|s| !cached.contains(*s)).collect();
        assert!(
            uncached.is_empty(),
            "prepared on every use: {uncached:#?}\ncached: {cached:#?}"
        );
    }

    /// A fresh migrated database with org "acme" and project "shop": SQLite, and
    /// PostgreSQL too when `XTC_SLACK_TEST_POSTGRES_URL` is set (dropped with the guard).
    struct Fresh {
        conn: DbConnection,
        _dir: Option<tempfile::TempDir>,
        pg: Option<(String, String)>,
    }

    impl Drop for Fresh {
        fn drop(&mut self) {
            use diesel::connection::SimpleConnection;
            if let Some((admin, name)) = &self.pg {
                if let Ok(mut c) = diesel::PgConnection::establish(admin) {
                    let _ =
                        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }

    fn fresh_databases() -> Vec<Fresh> {
        use diesel::connection::SimpleConnection;
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("batch.db"));
        let mut all = vec![Fresh {
            conn: url.connect().unwrap(),
            _dir: Some(dir),
            pg: None,
        }];
        if let Ok(admin) = std::env::var("XTC_SLACK_TEST_POSTGRES_URL") {
            let name = format!("xtc_unit_{}", uuid::Uuid::new_v4().simple());
            diesel::PgConnection::establish(&admin)
                .unwrap()
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&format!("/{name}"));
            all.push(Fresh {
                conn: DatabaseUrl::parse(url.as_str()).unwrap().connect().unwrap(),
                _dir: None,
                pg: Some((admin, name)),
            });
        }
        for db in &mut all {
            run_migrations(&mut db.conn).unwrap();
            Organization::save(&mut db.conn, "acme", "Acme").unwrap();
            Project::save(&mut db.conn, "acme", "shop", "Shop").unwrap();
        }
        all
    }

    fn job(lt: &str, kind: &str) -> LoadTestJob {
        LoadTestJob {
            ev: event(lt, kind),
            resolved: Resolved {
                effective: effective(),
                project_registered: true,
            },
            outcome: None,
        }
    }

    /// Runs jobs as one batch in one transaction; `None` when the batch asked for a replay.
    fn run_batch(conn: &mut DbConnection, jobs: &mut [LoadTestJob]) -> Option<Vec<String>> {
        let mut refs: Vec<&mut LoadTestJob> = jobs.iter_mut().collect();
        let ok = crate::db::write_tx(conn, |c| {
            if load_test_batch(c, &mut refs, Utc::now()) {
                Ok(())
            } else {
                Err(diesel::result::Error::RollbackTransaction)
            }
        });
        ok.ok()?;
        Some(
            jobs.iter()
                .map(|j| describe(j.outcome.as_ref().unwrap()))
                .collect(),
        )
    }

    fn describe(outcome: &Result<Outcome, IngestError>) -> String {
        match outcome {
            Ok(Outcome::Accepted { state, channels }) => format!("accepted {state} {channels:?}"),
            Ok(Outcome::Duplicate { state }) => format!("duplicate {state}"),
            Err(e) => format!("refused: {e}"),
        }
    }

    /// What the database holds about load tests, events and outbox rows.
    fn stored(conn: &mut DbConnection) -> (Vec<String>, Vec<String>, Vec<String>) {
        use crate::db::schema::{deliveries, events, load_tests};
        use diesel::prelude::*;
        let tests = load_tests::table
            .select((
                load_tests::id,
                load_tests::state,
                load_tests::version,
                load_tests::name,
            ))
            .order(load_tests::id)
            .load::<(String, LoadTestState, i64, String)>(conn)
            .unwrap()
            .into_iter()
            .map(|(id, state, v, name)| format!("{id} {} v{v} {name}", state.as_str()))
            .collect();
        let evs = events::table
            .select((events::event_id, events::resulting_state))
            .order(events::event_id)
            .load::<(String, String)>(conn)
            .unwrap()
            .into_iter()
            .map(|(id, state)| format!("{id} {state}"))
            .collect();
        let outbox = deliveries::table
            .select((
                deliveries::event_id,
                deliveries::channel,
                deliveries::status,
            ))
            .order(deliveries::event_id)
            .load::<(String, String, String)>(conn)
            .unwrap()
            .into_iter()
            .map(|(id, ch, st)| format!("{id} {ch} {st}"))
            .collect();
        (tests, evs, outbox)
    }

    /// A batch answers every event as one event at a time would, and stores the same:
    /// new and known load tests, a reused event id, an invalid transition and a repeat.
    #[test]
    fn a_batch_does_what_one_event_at_a_time_does() {
        let first = ["a:started", "b:started"];
        let second = ["a:running", "b:started", "c:finished", "d:started"];
        let third = ["a:started", "d:running"];
        for mut db in fresh_databases() {
            let mut alone = fresh_databases().remove(0);
            let mut expected = Vec::new();
            for round in [&first[..], &second[..], &third[..]] {
                let mut jobs: Vec<LoadTestJob> = round
                    .iter()
                    .map(|s| {
                        let (lt, kind) = s.split_once(':').unwrap();
                        job(&format!("lt-{lt}"), kind)
                    })
                    .collect();
                // The repeat of b's start comes with another body: the id is reused.
                if round == second {
                    jobs[1].ev.fingerprint = "another body".into();
                }
                for j in &jobs {
                    let outcome = crate::db::write_tx(&mut alone.conn, |c| {
                        Ok::<_, diesel::result::Error>(load_test_event(
                            c,
                            &j.ev,
                            &j.resolved,
                            Utc::now(),
                        ))
                    })
                    .unwrap();
                    expected.push(describe(&outcome));
                }
                let got = run_batch(&mut db.conn, &mut jobs).expect("no replay");
                assert_eq!(got[..], expected[expected.len() - got.len()..]);
            }
            assert_eq!(stored(&mut db.conn), stored(&mut alone.conn));
            assert_eq!(
                expected,
                [
                    "accepted started [(\"T0001\", \"C0001\")]",
                    "accepted started [(\"T0001\", \"C0001\")]",
                    "accepted running [(\"T0001\", \"C0001\")]",
                    "refused: event_id \"lt-b-started\" was already used for another event of this subject",
                    "refused: a load test in state new cannot take a finished event",
                    "accepted started [(\"T0001\", \"C0001\")]",
                    "duplicate started",
                    "accepted running [(\"T0001\", \"C0001\")]",
                ]
            );
        }
    }

    /// Two events of one load test in a batch, or a load test changed by another instance
    /// since it was read, make the batch ask for a replay one event at a time.
    #[test]
    fn a_batch_that_could_lose_an_update_is_replayed() {
        for mut db in fresh_databases() {
            let mut twice = [job("lt-x", "started"), job("lt-x", "running")];
            assert_eq!(run_batch(&mut db.conn, &mut twice), None);
            let mut one = [job("lt-x", "started")];
            assert!(run_batch(&mut db.conn, &mut one).is_some());
            // Another instance saved version 2 meanwhile: saving version 2 again loses.
            let row = LoadTestRow::find_by_id(&mut db.conn, "lt-x")
                .unwrap()
                .unwrap();
            let theirs = LoadTestRow {
                version: 2,
                ..row.clone()
            };
            assert_eq!(
                LoadTestRow::save_many(&mut db.conn, &[&theirs]).unwrap(),
                ["lt-x"]
            );
            assert!(LoadTestRow::save_many(&mut db.conn, &[&theirs])
                .unwrap()
                .is_empty());
            // And a first insert of a load test that exists loses too.
            assert!(LoadTestRow::save_many(&mut db.conn, &[&row])
                .unwrap()
                .is_empty());
            assert_eq!(stored(&mut db.conn).0, ["lt-x started v2 Checkout"]);
        }
    }

    /// On PostgreSQL, where every statement is a round trip, a batch costs four statements
    /// however many events it holds.
    #[test]
    fn a_batch_costs_the_same_statements_whatever_its_size() {
        for mut db in fresh_databases().into_iter().filter(|db| db.pg.is_some()) {
            let started: Arc<Mutex<Vec<String>>> = Arc::default();
            let s = started.clone();
            db.conn
                .set_instrumentation(move |event: InstrumentationEvent<'_>| {
                    if let Some(sql) = sql_of(&event) {
                        s.lock().unwrap().push(sql);
                    }
                });
            for n in [1, 40] {
                started.lock().unwrap().clear();
                let mut jobs: Vec<LoadTestJob> = (0..n)
                    .map(|i| job(&format!("lt-{n}-{i}"), "started"))
                    .collect();
                let outcomes = run_batch(&mut db.conn, &mut jobs).unwrap();
                assert!(outcomes.iter().all(|o| o.starts_with("accepted")));
                assert_eq!(started.lock().unwrap().len(), 4, "{n} events");
            }
        }
    }
}

//! The ingest transactions: event row (idempotency), subject state (with a version check)
//! and the outbox rows, all committed together before the 202 goes out.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::events::{LoadTestEvent, LoadTestPayload, Payload};
use super::reports;
use crate::db::models::delivery::{Delivery, DeliveryStatus, NewDelivery};
use crate::db::models::event::{EventRow, PAYLOAD_COLUMN};
use crate::db::models::load_test::LoadTestRow;
use crate::db::models::project::Project;
use crate::db::unreadable::write_json;
use crate::db::{DbConnection, DbError};
use crate::domain::delivery_reason::DeliveryReason;
use crate::domain::ids::{EventKey, SubjectKey, SubjectKind};
use crate::domain::lifecycle::{self, InvalidTransition, LoadTestState};
use crate::domain::report::{BaselineRun, REPORT_CHART};
use crate::domain::rules::{self, EventKind, Route};
use crate::domain::settings::Effective;

mod batch;
mod maintenance;
mod scenario;

pub use batch::{load_test_batch, LoadTestJob};
pub use maintenance::{release_due, release_window, Released};
pub use scenario::monitoring_event;

pub use super::effective::Resolved;

/// What happened to an event.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestOutcome {
    /// Stored; a pending delivery was queued in each of `channels` (workspace, channel).
    Accepted {
        state: String,
        channels: Vec<(String, String)>,
        /// The event as stored, for the hand-off (`pipeline::writer`): a delivery of it
        /// claimed in the same transaction is rendered from this, not read back.
        stored: Stored,
    },
    /// The same `event_id` was accepted before; nothing was done.
    Duplicate { state: String },
    /// Stored in the history only: the subject already applied a newer event (a monitoring
    /// result older than the scenario's newest); `state` is the subject's, unchanged.
    Stale { state: String },
}

/// An accepted event's stored id and payload (`None`: a result that changed nothing, stored
/// with a `null` payload), shared, not copied, with the deliveries handed off with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub event_id: String,
    pub payload: Option<std::sync::Arc<Payload>>,
}

impl Stored {
    /// The payload of `event_id` when that is this event.
    pub fn payload_of(&self, event_id: &str) -> Option<&std::sync::Arc<Payload>> {
        self.payload.as_ref().filter(|_| self.event_id == event_id)
    }
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
    /// The API token the event came with is no longer live (revoked): found by the
    /// event's own transaction, which wrote nothing (`writer`'s confirmation).
    #[error("the API token is not live")]
    TokenNotLive,
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
pub(crate) fn outbox_rows(
    effective: &Effective,
    event_id: &str,
    (org, project): (&str, &str),
    subject_key: &str,
    event_type: &str,
    regressed: bool,
    now: NaiveDateTime,
) -> Vec<NewDelivery> {
    let skip = effective.skip_reason();
    let integration = effective.integration.value.as_ref();
    let base = |channel: String, channel_name: Option<String>, route: Option<&Route>| {
        let mut row = NewDelivery {
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
            status: DeliveryStatus::Pending,
            error: None,
            next_attempt_at: now,
            created_at: now,
            mention: route.and_then(|r| r.mention.clone()),
            rule: route.and_then(|r| r.rule.clone()),
            reason: None,
            hold_id: None,
        };
        if let Some(reason) = &skip {
            row.skip(reason);
        }
        row
    };
    let routes = rules::routes(
        &effective.target_channels.value,
        &effective.rules.value,
        EventKind::of_event_type(event_type),
        regressed,
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

/// A report's chart goes after the report into each channel the report is sent to (a
/// skipped row for an installation that cannot upload files, so the log says why).
fn chart_rows(report_rows: &[NewDelivery], effective: &Effective) -> Vec<NewDelivery> {
    report_rows
        .iter()
        .filter(|r| r.status == DeliveryStatus::Pending && !r.channel.is_empty())
        .map(|r| {
            let mut row = NewDelivery {
                event_type: REPORT_CHART.to_owned(),
                mention: None,
                ..r.clone()
            };
            if !effective.posts_charts() {
                row.skip(&DeliveryReason::ChartsNeedScope);
            }
            row
        })
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
) -> Result<Option<IngestOutcome>, IngestError> {
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
    Ok(Some(IngestOutcome::Duplicate {
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
) -> Result<Option<IngestOutcome>, IngestError> {
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
) -> Result<IngestOutcome, IngestError> {
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
) -> Result<Option<IngestOutcome>, IngestError> {
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
    payload: std::sync::Arc<Payload>,
    deliveries: Vec<NewDelivery>,
}

impl LoadTestPlan {
    /// The answer once everything is written.
    fn accepted(&self) -> IngestOutcome {
        IngestOutcome::Accepted {
            state: self.row.state.as_str().to_owned(),
            channels: pending_channels(&self.deliveries),
            stored: Stored {
                event_id: self.event.event_id.clone(),
                payload: Some(self.payload.clone()),
            },
        }
    }
}

/// Applies the lifecycle rules to a load-test event (no database access); a report is
/// compared with `baseline` (looked up by the caller, [`reports::baseline_for`]).
fn plan_load_test(
    ev: &LoadTestEvent,
    effective: &Effective,
    existing: Option<&LoadTestRow>,
    baseline: Option<BaselineRun>,
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
    let occurred = naive(ev.occurred_at);
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
        definition: ev
            .info
            .definition
            .as_ref()
            .map(|d| d.id.clone())
            .or_else(|| existing.and_then(|r| r.definition.clone())),
        definition_name: ev
            .info
            .definition
            .as_ref()
            .and_then(|d| d.name.clone())
            .or_else(|| existing.and_then(|r| r.definition_name.clone())),
        first_event_at: Some(
            existing
                .and_then(|r| r.first_event_at)
                .map_or(occurred, |t| t.min(occurred)),
        ),
        last_event_at: Some(
            existing
                .and_then(|r| r.last_event_at)
                .map_or(occurred, |t| t.max(occurred)),
        ),
        ended_at: existing
            .and_then(|r| r.ended_at)
            .or_else(|| to.has_ended().then_some(occurred)),
    };
    let comparison = ev.report.as_ref().and_then(|r| {
        reports::comparison(ev.event_type, r, baseline, effective.regression_threshold())
    });
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
        definition: row.definition_name.clone(),
        comparison,
    });
    let regressed = matches!(&payload, Payload::LoadTest(lt) if lt.regressed());
    let key = load_test_key(ev);
    let event = EventRow {
        event_id: key.as_str().to_owned(),
        subject_kind: SubjectKind::LoadTest,
        subject_id: row.id.clone(),
        org_id: org.to_owned(),
        project_id: project.to_owned(),
        event_type: ev.event_type.as_str().to_owned(),
        occurred_at: naive(ev.occurred_at),
        payload: write_json(PAYLOAD_COLUMN, &payload, ""),
        resulting_state: to.as_str().to_owned(),
        received_at: now_naive,
        body_sha256: Some(ev.fingerprint.clone()),
    };
    let mut deliveries = outbox_rows(
        effective,
        key.as_str(),
        (org, project),
        SubjectKey::load_test(&row.id).as_str(),
        ev.event_type.as_str(),
        regressed,
        now_naive,
    );
    let charted = ev
        .report
        .as_ref()
        .is_some_and(|r| r.series.is_some() && reports::is_final(ev.event_type, r));
    if charted && effective.charts.value {
        let charts = chart_rows(&deliveries, effective);
        deliveries.extend(charts);
    }
    Ok(LoadTestPlan {
        previous_version: existing.map(|r| r.version),
        row,
        event,
        payload: std::sync::Arc::new(payload),
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
) -> Result<IngestOutcome, IngestError> {
    load_test_event_planned(conn, ev, resolved, now, |_, _, _| Ok(()))
}

/// [`load_test_event`], calling `planned` with the event's payload and outbox rows once it
/// is planned and before any of it is written (the hand-off's prerender,
/// `pipeline::deliver::prerender`).
pub fn load_test_event_planned(
    conn: &mut DbConnection,
    ev: &LoadTestEvent,
    resolved: &Resolved,
    now: DateTime<Utc>,
    planned: impl FnOnce(
        &mut DbConnection,
        &std::sync::Arc<Payload>,
        &[NewDelivery],
    ) -> Result<(), DbError>,
) -> Result<IngestOutcome, IngestError> {
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
    let baseline = match (&ev.report, reports::definition_key(ev, existing.as_ref())) {
        (Some(_), Some(definition)) => reports::baseline_for(
            conn,
            (ev.org.as_str(), ev.project.as_str()),
            &definition,
            ev.load_test.as_str(),
        )?,
        _ => None,
    };
    let plan = match plan_load_test(ev, &resolved.effective, existing.as_ref(), baseline, now) {
        Ok(plan) => plan,
        Err(e) => return refused(conn, &id, e),
    };
    planned(conn, &plan.payload, &plan.deliveries)?;
    if let Some(duplicate) = record_event(conn, &id, &plan.event)? {
        return Ok(duplicate);
    }
    save_versioned(
        conn,
        plan.previous_version,
        |c, version| plan.row.save_if_version(c, version),
        |c| LoadTestRow::insert(c, &plan.row),
    )?;
    let comparison = match &*plan.payload {
        Payload::LoadTest(lt) => lt.comparison.as_ref(),
        _ => None,
    };
    reports::record(
        conn,
        &plan.row,
        ev.event_type,
        (ev.report.as_ref(), comparison),
        ev.occurred_at,
    )?;
    queue(conn, &plan.deliveries)?;
    Ok(plan.accepted())
}

#[cfg(test)]
pub(crate) mod tests;

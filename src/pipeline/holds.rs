//! Holding an incident while a load test of its project runs (`during_load_tests: hold`,
//! API.md "During load tests") and settling the hold once the test ended. The rule is
//! `domain::quiet::settle_hold`; the rows are `holds` and the outbox rows pointing at it.
//!
//! At ingest (same transaction as the change): the change that opens an incident under
//! `hold` while a load test runs opens a hold; later changes of that incident join it. Their
//! outbox rows are written `pending` but held, which the sender's claim passes over.
//!
//! Settling (the sender's timer, any instance): each hold is settled by one conditional
//! update, in the transaction that releases or skips its rows and queues the line, so it
//! happens exactly once across instances, and a kill -9 before the commit leaves the hold
//! open for the next run.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::effective::with_active_integration;
use super::events::{HoldRecoveredPayload, Payload};
use crate::db::models::delivery::{Delivery, DeliveryStatus, NewDelivery};
use crate::db::models::event::{EventRow, PAYLOAD_COLUMN};
use crate::db::models::hold::{HoldOutcome, HoldRow, NewHold};
use crate::db::models::load_test::LoadTestRow;
use crate::db::models::scenario::ScenarioRow;
use crate::db::models::slack_thread::SlackThread;
use crate::db::unreadable::write_json;
use crate::db::DbConnection;
use crate::domain::delivery_reason::DeliveryReason;
use crate::domain::ids::{EventId, EventKey, SubjectKey, SubjectKind};
use crate::domain::lifecycle::LoadTestState;
use crate::domain::quiet::{released_at, settle_hold, HeldFor, RunningLoadTest, Settle};

/// How many open holds one settle pass looks at.
const SETTLE_BATCH: i64 = 100;

/// The incident a change belongs to, as the ingest knows it.
pub struct HeldIncident<'a> {
    pub org: &'a str,
    pub project: &'a str,
    pub scenario_id: &'a str,
    pub incident: i64,
    /// When the incident started (its first failing result).
    pub failing_since: DateTime<Utc>,
}

/// Opens the hold of an incident that opened during `load_test`, and holds its rows.
pub fn open(
    conn: &mut DbConnection,
    inc: &HeldIncident<'_>,
    load_test: &RunningLoadTest,
    rows: &mut [NewDelivery],
    now: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    let id = HoldRow::insert(
        conn,
        &NewHold {
            org_id: inc.org,
            project_id: inc.project,
            scenario_id: inc.scenario_id,
            incident: inc.incident,
            load_test_id: &load_test.id,
            held_since: now.naive_utc(),
            failing_since: inc.failing_since.naive_utc(),
        },
    )?;
    hold_rows(rows, id, &load_test.name);
    Ok(())
}

/// A later change of an incident: when the incident is held, its rows join the hold (and a
/// recovery is remembered for the line). Returns whether they did.
pub fn join(
    conn: &mut DbConnection,
    scenario_id: &str,
    incident: i64,
    recovered_at: Option<DateTime<Utc>>,
    rows: &mut [NewDelivery],
) -> diesel::QueryResult<bool> {
    let recovered_at = recovered_at.map(|t| t.naive_utc());
    let Some(hold) = HoldRow::lock_open(conn, scenario_id, incident, recovered_at)? else {
        return Ok(false);
    };
    let name = load_test_name(conn, &hold.load_test_id)?;
    hold_rows(rows, hold.id, &name);
    Ok(true)
}

fn hold_rows(rows: &mut [NewDelivery], hold: i64, load_test: &str) {
    let reason = DeliveryReason::HeldDuringLoadTest {
        load_test: load_test.to_owned(),
    };
    for r in rows
        .iter_mut()
        .filter(|r| r.status == DeliveryStatus::Pending)
    {
        r.hold(hold, &reason);
    }
}

/// The name a hold's reason gives its load test (its id once the row is gone).
fn load_test_name(conn: &mut DbConnection, id: &str) -> diesel::QueryResult<String> {
    Ok(LoadTestRow::find_by_id(conn, id)?.map_or_else(|| id.to_owned(), |r| r.name))
}

/// Settles the open holds whose time has come (the sender's next poll takes what they
/// release or queue). Returns how many. Call inside `write_tx`.
pub fn settle(
    conn: &mut DbConnection,
    grace: chrono::Duration,
    now: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    let mut settled = 0;
    for hold in HoldRow::open(conn, SETTLE_BATCH)? {
        let load_test = LoadTestRow::find_by_id(conn, &hold.load_test_id)?;
        let held_for = match &load_test {
            None => HeldFor::Gone,
            Some(lt) if is_running(lt.state) => HeldFor::Running,
            Some(lt) => HeldFor::Ended(lt.updated_at.and_utc()),
        };
        let held_since = hold.held_since.and_utc();
        let decide = |recovered| settle_hold(held_since, held_for, recovered, grace, now);
        if decide(recovered(conn, &hold)?) == Settle::Wait {
            // The test ended, the grace runs: the log says when the incident goes out.
            if let (HeldFor::Ended(_), Some(at), Some(lt)) = (
                held_for,
                released_at(held_since, held_for, grace, now),
                &load_test,
            ) {
                let reason = DeliveryReason::held_after(&lt.name, at);
                Delivery::reword_held(conn, hold.id, &reason)?;
            }
            continue;
        }
        // Whoever settles it first. The row stays locked (PostgreSQL) until the commit, so
        // a change being ingested meanwhile either joined before or is not held; read the
        // scenario again under the lock, so a recovery committed just before counts.
        let at = now.naive_utc();
        let Some(hold) = HoldRow::settle(conn, hold.id, at)? else {
            continue;
        };
        let outcome = if recovered(conn, &hold)? {
            HoldOutcome::Recovered
        } else {
            HoldOutcome::Released
        };
        HoldRow::record_outcome(conn, hold.id, outcome)?;
        let name = load_test
            .as_ref()
            .map_or_else(|| hold.load_test_id.clone(), |r| r.name.clone());
        match outcome {
            HoldOutcome::Released => {
                Delivery::release_held(conn, hold.id, at)?;
            }
            HoldOutcome::Recovered => {
                let held = Delivery::held_targets(conn, hold.id)?;
                let reason = DeliveryReason::RecoveredDuringLoadTest {
                    load_test: name.clone(),
                };
                Delivery::skip_held(conn, hold.id, &reason)?;
                line(conn, &hold, &name, held, now)?;
            }
        }
        settled += 1;
    }
    Ok(settled)
}

fn is_running(state: LoadTestState) -> bool {
    matches!(
        state,
        LoadTestState::New | LoadTestState::Started | LoadTestState::Running
    )
}

/// Whether the held incident is over: the scenario recovered (or moved on, or is gone).
fn recovered(conn: &mut DbConnection, hold: &HoldRow) -> diesel::QueryResult<bool> {
    Ok(ScenarioRow::find_by_id(conn, &hold.scenario_id)?
        .is_none_or(|s| s.incident != hold.incident || s.failing_since.is_none()))
}

/// The one line of a held incident that recovered: an event of the load test and one
/// outbox row per channel, under the load test's card where it has one, else in the
/// channels the incident was held for. No card, no mention.
fn line(
    conn: &mut DbConnection,
    hold: &HoldRow,
    load_test: &str,
    held: Vec<(String, String, Option<String>)>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    let (org, project) = (hold.org_id.as_str(), hold.project_id.as_str());
    let Some((effective, integration)) = with_active_integration(conn, org, project)? else {
        return Ok(());
    };
    let subject = SubjectKey::load_test(&hold.load_test_id);
    let threads: Vec<(String, String, Option<String>)> =
        SlackThread::list_for_subject(conn, subject.as_str())?
            .into_iter()
            .filter(|t| t.team_id == integration.team_id)
            .map(|t| (t.team_id, t.channel, None))
            .collect();
    let threaded = !threads.is_empty();
    let targets = if threaded { threads } else { held };
    if targets.is_empty() {
        return Ok(());
    }
    let scenario_name = ScenarioRow::find_by_id(conn, &hold.scenario_id)?
        .map_or_else(|| hold.scenario_id.clone(), |s| s.name);
    let payload = Payload::HoldRecovered(HoldRecoveredPayload {
        load_test_id: hold.load_test_id.clone(),
        load_test: load_test.to_owned(),
        scenario_id: hold.scenario_id.clone(),
        name: scenario_name,
        failing_since: hold.failing_since.and_utc(),
        recovered_at: hold.recovered_at.unwrap_or(now.naive_utc()).and_utc(),
    });
    // One event per hold: its id says which, so it can only ever be written once.
    let stamp = format!("hold-recovered-{}", hold.id);
    let event_id = EventId::parse(&stamp).unwrap_or_else(|_| unreachable!("ASCII, under 128"));
    let key = EventKey::new(SubjectKind::LoadTest, &hold.load_test_id, &event_id);
    let at: NaiveDateTime = now.naive_utc();
    const EVENT_TYPE: &str = "hold_recovered";
    EventRow::insert(
        conn,
        &EventRow {
            event_id: key.as_str().to_owned(),
            subject_kind: SubjectKind::LoadTest,
            subject_id: hold.load_test_id.clone(),
            org_id: org.to_owned(),
            project_id: project.to_owned(),
            event_type: EVENT_TYPE.to_owned(),
            occurred_at: at,
            payload: write_json(PAYLOAD_COLUMN, &payload, "null"),
            resulting_state: String::new(),
            received_at: at,
            body_sha256: None,
        },
    )?;
    let mut rows = Vec::with_capacity(targets.len());
    for (team, channel, name) in targets {
        let channel_name = match name {
            Some(n) => Some(n),
            None => Delivery::shown_channel_name(conn, subject.as_str(), &team, &channel)?,
        };
        rows.push(NewDelivery {
            event_id: key.as_str().to_owned(),
            org_id: org.to_owned(),
            project_id: project.to_owned(),
            subject_key: subject.as_str().to_owned(),
            event_type: EVENT_TYPE.to_owned(),
            channel,
            channel_name,
            team_id: Some(team),
            installation_id: Some(integration.installation_id.clone()),
            threads: threaded,
            compact: effective.compact_messages.value,
            status: DeliveryStatus::Pending,
            error: None,
            next_attempt_at: at,
            created_at: at,
            mention: None,
            rule: None,
            reason: None,
            hold_id: None,
        });
    }
    Delivery::insert_all(conn, &rows)?;
    Ok(())
}

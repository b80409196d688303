//! The weekly summary: gathers one scope's figures for a period (`gather`: from the
//! tallies kept at ingest, a few thousand index entries, or for a period older than they
//! are, from its events), and queues the message as a durable delivery: an `events` row
//! and outbox rows to the scope's target channels (`weekly_summary`), sent, paced and
//! retried by the `SlackSender` like every event.
//!
//! Exactly once per (scope, period): the `summaries` row is inserted in the short write
//! transaction that queues the event and its deliveries; an instance (or a restart) that
//! computed the same period finds it there and queues nothing. The figures are read before
//! that transaction, so a summary never holds a write lock while it reads a week.

mod gather;

use chrono::{DateTime, NaiveDateTime, Utc};

pub use gather::gather;

use super::effective::load_effective;
use super::events::{Payload, WeeklySummaryPayload};
use super::ingest::outbox_rows;
use crate::db::models::delivery::{Delivery, DeliveryStatus};
use crate::db::models::event::{EventRow, PAYLOAD_COLUMN};
use crate::db::models::slack_settings::{OrgSlackSettings, ProjectSlackSettings};
use crate::db::models::summary::SummaryRow;
use crate::db::unreadable::write_json;
use crate::db::{write_tx, DbConnection, DbError};
use crate::domain::ids::SubjectKind;
use crate::domain::settings::Effective;
use crate::domain::summary::{Period, SummaryFigures, SummarySchedule};

/// The `event_type` of a summary's event and deliveries.
pub const WEEKLY_SUMMARY: &str = "weekly_summary";

/// Whose summary: an organization's (all its projects) or one project's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SummaryScope {
    pub org: String,
    pub project: Option<String>,
}

impl SummaryScope {
    pub(crate) fn ids(&self) -> (&str, Option<&str>) {
        (&self.org, self.project.as_deref())
    }

    /// `project_id` as stored in `summaries`, `events` and `deliveries` (`''`: the org).
    fn project_id(&self) -> &str {
        self.project.as_deref().unwrap_or_default()
    }

    /// `events.subject_id` of its summaries.
    fn subject_id(&self) -> String {
        match &self.project {
            Some(p) => format!("{}/{p}", self.org),
            None => self.org.clone(),
        }
    }
}

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// What queueing a summary did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    /// Queued: pending deliveries in `channels` (workspace, channel).
    Queued { channels: Vec<(String, String)> },
    /// This scope's summary of this period was queued before (by any instance).
    AlreadyQueued,
}

/// Queues a summary of `figures` for `scope` to the effective target channels, once per
/// (scope, period end), in one short write transaction.
pub fn queue(
    conn: &mut DbConnection,
    scope: &SummaryScope,
    figures: SummaryFigures,
    timezone: &str,
    effective: &Effective,
    manual: bool,
) -> Result<Queued, DbError> {
    let now = crate::db::now();
    let period = figures.period;
    let event_id = format!(
        "{}:{}:{}{}",
        SubjectKind::Summary.as_str(),
        scope.subject_id(),
        period.to.format("%Y-%m-%dT%H:%M:%S%.fZ"),
        if manual { ":now" } else { "" }
    );
    let payload = Payload::WeeklySummary(WeeklySummaryPayload {
        figures,
        timezone: timezone.to_owned(),
    });
    let event = EventRow {
        event_id: event_id.clone(),
        subject_kind: SubjectKind::Summary,
        subject_id: scope.subject_id(),
        org_id: scope.org.clone(),
        project_id: scope.project_id().to_owned(),
        event_type: WEEKLY_SUMMARY.to_owned(),
        occurred_at: naive(period.to),
        payload: write_json(PAYLOAD_COLUMN, &payload, "null"),
        resulting_state: "queued".to_owned(),
        received_at: now,
        body_sha256: None,
    };
    let mut deliveries = outbox_rows(
        effective,
        &event_id,
        (&scope.org, scope.project_id()),
        &format!("summary:{}", scope.subject_id()),
        WEEKLY_SUMMARY,
        false,
        now,
    );
    for d in &mut deliveries {
        // A message of its own: never a thread, never compact.
        d.threads = false;
        d.compact = false;
    }
    let key = SummaryRow {
        org_id: scope.org.clone(),
        project_id: scope.project_id().to_owned(),
        period_end: naive(period.to),
        period_start: naive(period.from),
        event_id: event_id.clone(),
        manual,
        created_at: now,
    };
    write_tx(conn, |c| {
        if !SummaryRow::insert_new(c, &key)? || !EventRow::insert_new(c, &event)? {
            return Ok(Queued::AlreadyQueued);
        }
        Delivery::insert_all(c, &deliveries)?;
        Ok(Queued::Queued {
            channels: deliveries
                .iter()
                .filter(|d| d.status == DeliveryStatus::Pending)
                .map(|d| (d.team_id.clone().unwrap_or_default(), d.channel.clone()))
                .collect(),
        })
    })
}

/// A scope whose summary is switched on, with its schedule and when its setting was saved.
#[derive(Clone, Debug)]
pub struct Scheduled {
    pub scope: SummaryScope,
    pub schedule: SummarySchedule,
    pub saved_at: DateTime<Utc>,
}

/// Every scope with a summary of its own: organizations with `summary` set, and projects
/// with a `summary` of their own (a project that inherits it is covered by its
/// organization's summary, which already covers all its projects).
pub fn scheduled(conn: &mut DbConnection) -> Result<Vec<Scheduled>, DbError> {
    let mut out = Vec::new();
    for row in OrgSlackSettings::list_all(conn)? {
        if let Some(schedule) = row.to_domain().summary {
            out.push(Scheduled {
                scope: SummaryScope {
                    org: row.org_id.clone(),
                    project: None,
                },
                schedule,
                saved_at: row.updated_at.and_utc(),
            });
        }
    }
    for row in ProjectSlackSettings::list_all(conn)? {
        if let Some(schedule) = row.to_domain().summary {
            out.push(Scheduled {
                scope: SummaryScope {
                    org: row.org_id.clone(),
                    project: Some(row.project_id.clone()),
                },
                schedule,
                saved_at: row.updated_at.and_utc(),
            });
        }
    }
    Ok(out)
}

/// The period due for `s` at `now`, or `None`: its latest scheduled instant, unless it
/// was queued already or came before the setting was saved (switching a summary on does
/// not post last week's at once). Older periods are never due.
pub fn due_period(
    conn: &mut DbConnection,
    s: &Scheduled,
    now: DateTime<Utc>,
) -> Result<Option<Period>, DbError> {
    let SummarySchedule::Weekly(w) = &s.schedule;
    let due = w.latest_due(now);
    if due < s.saved_at {
        return Ok(None);
    }
    let queued = SummaryRow::exists(conn, (&s.scope.org, s.scope.project_id()), naive(due))?;
    Ok((!queued).then(|| w.period_ending(due)))
}

/// The time zone a scope's dates are shown in: its schedule's, else UTC.
pub fn display_zone(schedule: Option<&SummarySchedule>) -> String {
    match schedule {
        Some(SummarySchedule::Weekly(w)) => w.timezone.to_string(),
        None => "UTC".to_owned(),
    }
}

/// Queues every summary due at `now` that is not queued yet; returns how many this call
/// queued (another instance's are not counted).
pub fn queue_due(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize, DbError> {
    let mut queued = 0;
    for s in scheduled(conn)? {
        let Some(period) = due_period(conn, &s, now)? else {
            continue;
        };
        let scope = &s.scope;
        let effective = load_effective(conn, &scope.org, scope.project.as_deref())?;
        let figures = gather(conn, scope, period)?;
        let zone = display_zone(Some(&s.schedule));
        if let Queued::Queued { .. } = queue(conn, scope, figures, &zone, &effective, false)? {
            queued += 1;
        }
    }
    Ok(queued)
}

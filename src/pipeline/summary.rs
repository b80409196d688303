//! The weekly summary: gathers one scope's figures for a period with a few bounded reads
//! (by organization and time, through `events_org_occurred`), and queues the message as a
//! durable delivery: an `events` row and outbox rows to the scope's target channels
//! (`weekly_summary`), sent, paced and retried by the `SlackSender` like every event.
//!
//! Exactly once per (scope, period): the `summaries` row is inserted in the short write
//! transaction that queues the event and its deliveries; an instance (or a restart) that
//! computed the same period finds it there and queues nothing. The figures are read before
//! that transaction, so a summary never holds a write lock while it reads a week.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::effective::load_effective;
use super::events::{Payload, WeeklySummaryPayload};
use super::ingest::outbox_rows;
use super::reports::is_final;
use crate::db::models::delivery::{Delivery, DeliveryStatus};
use crate::db::models::event::{EventRow, PAYLOAD_COLUMN};
use crate::db::models::maintenance::WindowRow;
use crate::db::models::slack_settings::{OrgSlackSettings, ProjectSlackSettings};
use crate::db::models::summary::{self as rows, SummaryRow};
use crate::db::unreadable::write_json;
use crate::db::{write_tx, DbConnection, DbError};
use crate::domain::ids::SubjectKind;
use crate::domain::lifecycle::LoadTestState;
use crate::domain::monitoring::{Change, Health};
use crate::domain::report::Metric;
use crate::domain::settings::Effective;
use crate::domain::summary::{
    p95_trend, scenario_figures, MaintenanceWindow, P95Series, Period, Regression, RunCounts,
    RunOutcome, ScenarioInput, SummaryFigures, SummarySchedule,
};

/// The `event_type` of a summary's event and deliveries.
pub const WEEKLY_SUMMARY: &str = "weekly_summary";

/// Whose summary: an organization's (all its projects) or one project's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SummaryScope {
    pub org: String,
    pub project: Option<String>,
}

impl SummaryScope {
    fn ids(&self) -> (&str, Option<&str>) {
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

/// The maintenance windows of the scope (a project's: the organization's and its own) with
/// an occurrence in the period, by their reason. Windows deleted since are not counted.
pub fn maintenance_windows_used(
    conn: &mut DbConnection,
    scope: &SummaryScope,
    period: Period,
) -> Result<Vec<MaintenanceWindow>, DbError> {
    let windows = match scope.project.as_deref() {
        Some(project) => WindowRow::applying_to(conn, (&scope.org, project))?,
        None => WindowRow::list(conn, (&scope.org, None))?
            .iter()
            .filter_map(WindowRow::window)
            .collect(),
    };
    Ok(windows
        .into_iter()
        .filter(|w| w.spec.schedule.occurs_between(period.from, period.to))
        .map(|w| MaintenanceWindow {
            name: w.spec.reason,
        })
        .collect())
}

/// The scope's figures for `period` (reads only).
pub fn gather(
    conn: &mut DbConnection,
    scope: &SummaryScope,
    period: Period,
) -> Result<SummaryFigures, DbError> {
    let range = (naive(period.from), naive(period.to));
    // Oldest first (a load test's latest state wins, results are integrated over time and
    // P95 trends run forward), as the events stream in: nothing of them is kept but the
    // tally.
    let mut tally = Tally::default();
    rows::period_events(conn, scope.ids(), range, &mut |row| tally.add(row))?;
    let Tally {
        last_state,
        regressions,
        p95,
        mut scenarios,
        mutes,
    } = tally;
    let mut runs = RunCounts::default();
    for state in last_state.values() {
        runs.count(match LoadTestState::parse(state) {
            Some(LoadTestState::Finished | LoadTestState::Reported) => RunOutcome::Passed,
            Some(LoadTestState::Error) => RunOutcome::Failed,
            Some(LoadTestState::Aborted) => RunOutcome::Aborted,
            _ => RunOutcome::Running,
        });
    }
    let ids: Vec<String> = scenarios.keys().cloned().collect();
    for (id, name, url) in rows::scenario_names(conn, &ids)? {
        if let Some(s) = scenarios.get_mut(&id) {
            s.name = name;
            s.url = url;
        }
    }
    let mut scenario_list: Vec<_> = scenarios
        .into_iter()
        .map(|(id, mut s)| {
            if s.name.is_empty() {
                s.name = id;
            }
            scenario_figures(&s, period)
        })
        .collect();
    // The least available first: what a team should look at.
    scenario_list.sort_by(|a, b| {
        a.availability
            .unwrap_or(1.0)
            .total_cmp(&b.availability.unwrap_or(1.0))
            .then_with(|| b.incidents.cmp(&a.incidents))
            .then_with(|| a.name.cmp(&b.name))
    });
    let trends = p95
        .into_iter()
        .filter_map(|(definition, values)| p95_trend(&P95Series { definition, values }))
        .collect();
    Ok(SummaryFigures {
        period,
        runs,
        regressions,
        trends,
        scenarios: scenario_list,
        mutes,
        maintenance: maintenance_windows_used(conn, scope, period)?,
    })
}

/// What the period's events add up to, oldest first.
#[derive(Default)]
struct Tally {
    /// Load tests: the latest state each reached in the period.
    last_state: BTreeMap<String, String>,
    regressions: Vec<Regression>,
    p95: BTreeMap<String, Vec<f64>>,
    scenarios: BTreeMap<String, ScenarioInput>,
    mutes: usize,
}

impl Tally {
    /// Adds one event of the period (they come oldest first); of a notable one's payload
    /// only what the summary needs is kept.
    fn add(&mut self, row: rows::PeriodRow) {
        let at = row.occurred_at.and_utc();
        match row.subject_kind {
            SubjectKind::LoadTest => {
                self.last_state
                    .insert(row.subject_id.clone(), row.resulting_state);
            }
            SubjectKind::Scenario => {
                if let Some(h) = Health::parse(&row.resulting_state) {
                    let entry = self.scenarios.entry(row.subject_id.clone()).or_default();
                    entry.results.push((at, h));
                }
            }
            SubjectKind::Summary => return,
        }
        let notable = row
            .payload
            .as_deref()
            .and_then(|p| notable(&row.event_type, p))
            .and_then(Notable::of);
        match notable {
            None => {}
            Some(Notable::Report {
                definition,
                p95,
                regression,
            }) => {
                if let Some(v) = p95 {
                    self.p95.entry(definition).or_default().push(v);
                }
                self.regressions.extend(regression);
            }
            Some(Notable::Failing(incident)) => {
                let entry = self.scenarios.entry(row.subject_id).or_default();
                entry.incidents.push((incident, at));
            }
            Some(Notable::Recovered(down_seconds)) => {
                let entry = self.scenarios.entry(row.subject_id).or_default();
                entry.recoveries.push(down_seconds);
            }
            Some(Notable::Acknowledged(incident, when)) => {
                let entry = self.scenarios.entry(row.subject_id).or_default();
                entry.acks.push((incident, when));
            }
            Some(Notable::Muted) => self.mutes += 1,
        }
    }
}

/// What a notable event's payload contributes.
enum Notable {
    /// A final report: its definition's P95, and the regression when it is one.
    Report {
        definition: String,
        p95: Option<f64>,
        regression: Option<Regression>,
    },
    Failing(i64),
    Recovered(i64),
    Acknowledged(i64, DateTime<Utc>),
    Muted,
}

impl Notable {
    fn of(payload: Payload) -> Option<Notable> {
        match payload {
            Payload::LoadTest(lt) => {
                let report = lt.report.as_ref().filter(|r| is_final(lt.event_type, r))?;
                let p95 = report
                    .summary
                    .as_ref()
                    .and_then(|s| s.figures().get(Metric::P95));
                let regression = lt
                    .comparison
                    .as_ref()
                    .filter(|c| c.is_regression())
                    .and_then(|c| match c.verdict() {
                        crate::domain::report::Verdict::Regression(worst) => {
                            worst.first().map(|w| Regression {
                                name: lt.name.clone(),
                                url: report_link(&lt.url, &report.url),
                                worst: w.short(),
                                magnitude: w.pct().map_or(f64::INFINITY, f64::abs),
                            })
                        }
                        _ => None,
                    });
                Some(Notable::Report {
                    definition: lt.definition.clone().unwrap_or_else(|| lt.name.clone()),
                    p95,
                    regression,
                })
            }
            Payload::Scenario(sc) => match sc.change {
                Change::Failing { .. } => Some(Notable::Failing(sc.incident)),
                Change::Recovered { down_seconds } => Some(Notable::Recovered(down_seconds)),
                _ => None,
            },
            Payload::IncidentAction(a) => match a.action {
                crate::domain::incident::Action::Acknowledge => {
                    Some(Notable::Acknowledged(a.incident, a.at))
                }
                crate::domain::incident::Action::Mute(_) => Some(Notable::Muted),
                crate::domain::incident::Action::Unmute => None,
            },
            Payload::BaselineSet(_) | Payload::HoldRecovered(_) | Payload::WeeklySummary(_) => None,
        }
    }
}

/// A notable event's payload, read as the one variant its event type stores. Not through
/// the tagged `Payload`: serde buffers a tagged enum's whole object before reading it, and
/// on a week of 60,000 final reports (bench, history phase) that was most of the preview's
/// time.
fn notable(event_type: &str, json: &str) -> Option<Payload> {
    let payload = match event_type {
        "report_available" => serde_json::from_str(json).map(Payload::LoadTest),
        "scenario_failing" | "scenario_recovered" => {
            serde_json::from_str(json).map(Payload::Scenario)
        }
        _ => serde_json::from_str(json).map(Payload::IncidentAction),
    };
    payload.ok()
}

/// The report's link, else the run's.
fn report_link(run_url: &Option<String>, report_url: &str) -> Option<String> {
    Some(report_url.to_owned())
        .filter(|u| !u.is_empty())
        .or_else(|| run_url.clone())
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

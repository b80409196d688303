//! A summary's figures, read one of two ways, both folded by the same rules
//! (`domain::summary`):
//!
//! - from the tallies kept at ingest (`summary_tallies.since` on): the period's runs
//!   counted by state in the database, the final reports counted by definition with their
//!   first and last P95 and the regressions alone, and each scenario's health changes,
//!   incident actions and mutes, with its health when the period began. Reads index
//!   entries of the period's runs and reports (counted in the database) and a few rows
//!   per scenario, never a run's payload.
//! - for a period that starts before the tallies were kept (the week after upgrading a
//!   database with history): the period's events, streamed oldest first.
//!
//! They agree on the same history (the API test `weekly_summary::a_busy_week_preview…`
//! reads one week both ways), but for what the events cannot tell: from the tallies, a
//! scenario is observed from the start of the period (or its first result) with the health
//! it had then, and a run that ended after the period was running in it; from the events, a
//! scenario is observed from its first result in the period, and a run by its latest state
//! in it. From the tallies, only the scope's scenarios with a result since the period began
//! are read: an Acknowledge or Mute in the period on a scenario silent since is not counted.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::{naive, SummaryScope};
use crate::db::models::load_test::LoadTestRow;
use crate::db::models::maintenance::WindowRow;
use crate::db::models::summary::{self as rows, PeriodRow};
use crate::db::{DbConnection, DbError};
use crate::domain::ids::SubjectKind;
use crate::domain::lifecycle::LoadTestState;
use crate::domain::monitoring::{Change, Health};
use crate::domain::report::{FigureChange, Judgement, Metric};
use crate::domain::summary::{
    p95_trend, scenario_figures, MaintenanceWindow, P95Series, P95Trend, Period, Regression,
    RunCounts, RunOutcome, ScenarioInput, SummaryFigures,
};
use crate::pipeline::events::Payload;
use crate::pipeline::reports::{is_final, report_link};

/// The maintenance windows of the scope (a project's: the organization's and its own) with
/// an occurrence in the period, by their reason. Windows deleted since are not counted.
fn maintenance_windows_used(
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
    let tallied = rows::tallies_since(conn)?.is_none_or(|since| range.0 >= since);
    let read = if tallied {
        rows::by_index(conn, |c| from_tallies(c, scope, range))?
    } else {
        from_events(conn, scope, range)?
    };
    let mut scenarios: Vec<_> = read
        .scenarios
        .into_values()
        .map(|s| scenario_figures(&s, period))
        .collect();
    // The least available first: what a team should look at.
    scenarios.sort_by(|a, b| {
        a.availability
            .unwrap_or(1.0)
            .total_cmp(&b.availability.unwrap_or(1.0))
            .then_with(|| b.incidents.cmp(&a.incidents))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(SummaryFigures {
        period,
        runs: read.runs,
        regressions: read.regressions,
        trends: read.trends,
        scenarios,
        mutes: read.mutes,
        maintenance: maintenance_windows_used(conn, scope, period)?,
    })
}

/// What either reading gives, before the scenarios' figures are worked out.
struct Read {
    runs: RunCounts,
    regressions: Vec<Regression>,
    /// By definition, as it is shown.
    trends: Vec<P95Trend>,
    /// By scenario id, each named.
    scenarios: BTreeMap<String, ScenarioInput>,
    mutes: usize,
}

/// From the tallies: a handful of grouped counts, the regressions, and the scenarios'
/// changes (a few in a thousand of their results).
fn from_tallies(
    conn: &mut DbConnection,
    scope: &SummaryScope,
    range: (NaiveDateTime, NaiveDateTime),
) -> Result<Read, DbError> {
    let ids = scope.ids();
    let mut runs = RunCounts::default();
    for (state, ended, n) in rows::run_counts(conn, ids, range)? {
        let outcome = if ended {
            RunOutcome::of(state)
        } else {
            RunOutcome::Running
        };
        runs.add(outcome, usize::try_from(n).unwrap_or_default());
    }
    let regressions = rows::regressed_reports(conn, ids, range)?
        .into_iter()
        .map(|r| {
            let worst = FigureChange {
                metric: r.metric,
                value: r.value,
                baseline: r.baseline,
                judgement: Judgement::Regression,
            };
            Regression::new(r.name, r.url, &worst)
        })
        .collect();
    let reports = rows::definition_reports(conn, ids, range)?;
    // Shown by the definition's name where the orchestrator gave one (its latest run's).
    let last_runs: Vec<&str> = reports.iter().map(|d| d.last.2.as_str()).collect();
    let names: BTreeMap<String, String> = LoadTestRow::find_many(conn, &last_runs)?
        .into_iter()
        .filter_map(|r| r.definition_name.map(|n| (r.id, n)))
        .collect();
    let mut trends: Vec<P95Trend> = reports
        .into_iter()
        .map(|d| {
            let shown = names.get(&d.last.2).cloned().unwrap_or(d.definition);
            let runs = usize::try_from(d.runs).unwrap_or_default();
            P95Trend::new(shown, runs, d.first.1, d.last.1)
        })
        .collect();
    trends.sort_by(|a, b| a.definition.cmp(&b.definition));

    // Each scenario holds the health it had when the period began (or from its first
    // result), then changes as its changes say: two probes of `events_scenario_changes`.
    let mut tally = Tally::default();
    for s in rows::scope_scenarios(conn, ids, range)? {
        let since = s.observed_since().max(range.0);
        let health = if since > range.0 {
            // First seen in the period: its own first result says the rest.
            None
        } else {
            rows::health_before(conn, (&scope.org, &s.id), range.0)?
        };
        let health = health
            .as_deref()
            .and_then(Health::parse)
            .unwrap_or(Health::Ok);
        let changes = rows::scenario_changes(conn, (&scope.org, &s.id), range)?;
        let input = tally.scenarios.entry(s.id).or_default();
        input.name = s.name;
        input.url = s.url;
        // A change stored with a time before its scenario's first result (a late one)
        // starts the observation itself.
        let start = changes.first().map_or(since, |c| c.occurred_at.min(since));
        input.results.push((start.and_utc(), health));
        for row in changes {
            tally.add(row);
        }
    }
    let scenarios = tally.scenarios;
    Ok(Read {
        runs,
        regressions,
        trends,
        scenarios,
        mutes: tally.mutes,
    })
}

/// From the period's events, oldest first (a load test's latest state wins, results are
/// integrated over time and P95 trends run forward), as they stream in: nothing of them
/// is kept but the tally.
fn from_events(
    conn: &mut DbConnection,
    scope: &SummaryScope,
    range: (NaiveDateTime, NaiveDateTime),
) -> Result<Read, DbError> {
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
        runs.count(LoadTestState::parse(state).map_or(RunOutcome::Running, RunOutcome::of));
    }
    name_scenarios(conn, &mut scenarios)?;
    let trends = p95
        .into_iter()
        .filter_map(|(definition, values)| p95_trend(&P95Series { definition, values }))
        .collect();
    Ok(Read {
        runs,
        regressions,
        trends,
        scenarios,
        mutes,
    })
}

/// Names and links the scenarios that have none yet (by their id where it is unknown).
fn name_scenarios(
    conn: &mut DbConnection,
    scenarios: &mut BTreeMap<String, ScenarioInput>,
) -> Result<(), DbError> {
    let ids: Vec<String> = scenarios
        .iter()
        .filter(|(_, s)| s.name.is_empty())
        .map(|(id, _)| id.clone())
        .collect();
    for (id, name, url) in rows::scenario_names(conn, &ids)? {
        if let Some(s) = scenarios.get_mut(&id) {
            s.name = name;
            s.url = url;
        }
    }
    for (id, s) in scenarios.iter_mut() {
        if s.name.is_empty() {
            s.name = id.clone();
        }
    }
    Ok(())
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
    fn add(&mut self, row: PeriodRow) {
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
                    .and_then(|c| c.worst_regression())
                    .map(|w| {
                        Regression::new(lt.name.clone(), report_link(&lt.url, &report.url), &w)
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

//! A weekly summary's figures from plain inputs: runs by outcome, regressions, P95 trends,
//! each scenario's availability, incidents and response times.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Period;
use crate::domain::lifecycle::LoadTestState;
use crate::domain::monitoring::Health;
use crate::domain::report::FigureChange;

/// How a load test of the period ended (or that it has not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Finished or reported.
    Passed,
    Failed,
    Aborted,
    Running,
}

impl RunOutcome {
    /// A run's outcome by its latest state (`reported` follows `finished`).
    pub fn of(state: LoadTestState) -> Self {
        match state {
            LoadTestState::Finished | LoadTestState::Reported => Self::Passed,
            LoadTestState::Error => Self::Failed,
            LoadTestState::Aborted => Self::Aborted,
            LoadTestState::New | LoadTestState::Started | LoadTestState::Running => Self::Running,
        }
    }
}

/// The period's load tests by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub passed: usize,
    pub failed: usize,
    pub aborted: usize,
    pub running: usize,
}

impl RunCounts {
    pub fn count(&mut self, outcome: RunOutcome) {
        self.add(outcome, 1);
    }

    /// Counts `n` runs of one outcome.
    pub fn add(&mut self, outcome: RunOutcome, n: usize) {
        *match outcome {
            RunOutcome::Passed => &mut self.passed,
            RunOutcome::Failed => &mut self.failed,
            RunOutcome::Aborted => &mut self.aborted,
            RunOutcome::Running => &mut self.running,
        } += n;
    }

    pub fn total(&self) -> usize {
        self.passed + self.failed + self.aborted + self.running
    }
}

/// A regression against a baseline in the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    pub name: String,
    pub url: Option<String>,
    /// The worst figure's change, e.g. `P95 +23 %`.
    pub worst: String,
    /// How far that figure moved, in percent (∞ from zero), to pick the worst run.
    pub magnitude: f64,
}

impl Regression {
    /// A run's regression by its worst figure.
    pub fn new(name: String, url: Option<String>, worst: &FigureChange) -> Self {
        Regression {
            name,
            url,
            worst: worst.short(),
            magnitude: worst.pct().map_or(f64::INFINITY, f64::abs),
        }
    }
}

/// A definition's final P95 values in the period, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct P95Series {
    pub definition: String,
    pub values: Vec<f64>,
}

/// A scenario's inputs: its results (time, health) oldest first, its incidents' starts,
/// acknowledgements and recoveries within the period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScenarioInput {
    pub name: String,
    pub url: Option<String>,
    pub results: Vec<(DateTime<Utc>, Health)>,
    /// (incident number, when it started failing).
    pub incidents: Vec<(i64, DateTime<Utc>)>,
    /// (incident number, when it was first acknowledged).
    pub acks: Vec<(i64, DateTime<Utc>)>,
    /// How long each recovered incident was down, in seconds.
    pub recoveries: Vec<i64>,
}

/// A scenario's figures for the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioFigures {
    pub name: String,
    pub url: Option<String>,
    /// Share of the observed time its results were ok, 0..=1 (`None`: no result).
    pub availability: Option<f64>,
    pub incidents: usize,
    /// Seconds of the longest stretch of failing results within the period.
    pub longest_outage_secs: i64,
    pub mtta_secs: Option<i64>,
    pub mttr_secs: Option<i64>,
}

/// A scenario's figures: each result's health holds until the next result (the last one
/// until the period's end); time before the first result of the period is not observed.
pub fn scenario_figures(input: &ScenarioInput, period: Period) -> ScenarioFigures {
    let mut ok = 0i64;
    let mut observed = 0i64;
    let mut longest = 0i64;
    let mut outage = 0i64;
    let results: Vec<_> = input
        .results
        .iter()
        .filter(|(t, _)| *t >= period.from && *t < period.to)
        .collect();
    for (i, (at, health)) in results.iter().enumerate() {
        let until = results.get(i + 1).map_or(period.to, |(t, _)| *t);
        let span = (until - *at).num_seconds().max(0);
        observed += span;
        if *health == Health::Ok {
            ok += span;
            outage = 0;
        } else {
            outage += span;
            longest = longest.max(outage);
        }
    }
    let started: BTreeMap<i64, DateTime<Utc>> = input.incidents.iter().copied().collect();
    let mut first_ack: BTreeMap<i64, DateTime<Utc>> = BTreeMap::new();
    for (incident, at) in &input.acks {
        first_ack
            .entry(*incident)
            .and_modify(|t| *t = (*t).min(*at))
            .or_insert(*at);
    }
    let ack_delays: Vec<i64> = first_ack
        .iter()
        .filter_map(|(n, acked)| started.get(n).map(|s| (*acked - *s).num_seconds().max(0)))
        .collect();
    ScenarioFigures {
        name: input.name.clone(),
        url: input.url.clone(),
        availability: (observed > 0).then(|| ok as f64 / observed as f64),
        incidents: input.incidents.len(),
        longest_outage_secs: longest,
        mtta_secs: mean(&ack_delays),
        mttr_secs: mean(&input.recoveries),
    }
}

fn mean(values: &[i64]) -> Option<i64> {
    let n = i64::try_from(values.len()).ok().filter(|n| *n > 0)?;
    Some(values.iter().sum::<i64>() / n)
}

/// A definition's P95 trend: first and last value of the period and their change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct P95Trend {
    pub definition: String,
    pub runs: usize,
    pub first_ms: f64,
    pub last_ms: f64,
    /// `None` with one run or from zero.
    pub change_pct: Option<f64>,
}

impl P95Trend {
    /// From the first and last P95 of `runs` runs.
    pub fn new(definition: String, runs: usize, first_ms: f64, last_ms: f64) -> Self {
        P95Trend {
            definition,
            runs,
            first_ms,
            last_ms,
            change_pct: (runs > 1 && first_ms > 0.0)
                .then(|| (last_ms - first_ms) / first_ms * 100.0),
        }
    }
}

pub fn p95_trend(series: &P95Series) -> Option<P95Trend> {
    let (first, last) = (*series.values.first()?, *series.values.last()?);
    Some(P95Trend::new(
        series.definition.clone(),
        series.values.len(),
        first,
        last,
    ))
}

/// A maintenance window used in the period (shown by name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub name: String,
}

/// Everything a summary shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryFigures {
    pub period: Period,
    pub runs: RunCounts,
    pub regressions: Vec<Regression>,
    pub trends: Vec<P95Trend>,
    pub scenarios: Vec<ScenarioFigures>,
    pub mutes: usize,
    pub maintenance: Vec<MaintenanceWindow>,
}

impl SummaryFigures {
    /// No load test, no incident and no outage (one that began the week before counts):
    /// the message is one line.
    pub fn is_quiet(&self) -> bool {
        self.runs.total() == 0
            && self
                .scenarios
                .iter()
                .all(|s| s.incidents == 0 && s.longest_outage_secs == 0)
    }

    /// The regression that moved its figure the most.
    pub fn worst_regression(&self) -> Option<&Regression> {
        self.regressions
            .iter()
            .max_by(|a, b| a.magnitude.total_cmp(&b.magnitude))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn availability_integrates_health_over_time_between_results() {
        let p = Period {
            from: at("2026-11-30T00:00:00Z"),
            to: at("2026-11-30T10:00:00Z"),
        };
        let input = ScenarioInput {
            name: "Checkout".into(),
            results: vec![
                (at("2026-11-29T23:00:00Z"), Health::Failure), // before the period
                (at("2026-11-30T00:00:00Z"), Health::Ok),
                (at("2026-11-30T04:00:00Z"), Health::Failure),
                (at("2026-11-30T05:00:00Z"), Health::Error),
                (at("2026-11-30T06:00:00Z"), Health::Ok),
                (at("2026-11-30T09:00:00Z"), Health::Failure),
            ],
            incidents: vec![
                (1, at("2026-11-30T04:00:00Z")),
                (2, at("2026-11-30T09:00:00Z")),
            ],
            acks: vec![
                (1, at("2026-11-30T04:20:00Z")),
                (1, at("2026-11-30T04:10:00Z")),
                (9, at("2026-11-30T04:10:00Z")), // an incident of an earlier period
            ],
            recoveries: vec![7200],
            ..ScenarioInput::default()
        };
        let f = scenario_figures(&input, p);
        assert_eq!(f.availability, Some(0.7));
        assert_eq!(f.incidents, 2);
        assert_eq!(f.longest_outage_secs, 7200);
        assert_eq!(f.mtta_secs, Some(600));
        assert_eq!(f.mttr_secs, Some(7200));
        let none = scenario_figures(&ScenarioInput::default(), p);
        assert_eq!(
            (none.availability, none.mtta_secs, none.mttr_secs),
            (None, None, None)
        );
    }

    #[test]
    fn a_p95_trend_compares_the_first_and_last_run() {
        let t = p95_trend(&P95Series {
            definition: "checkout".into(),
            values: vec![200.0, 260.0, 250.0],
        })
        .unwrap();
        assert_eq!((t.runs, t.change_pct), (3, Some(25.0)));
        let one = p95_trend(&P95Series {
            definition: "x".into(),
            values: vec![200.0],
        })
        .unwrap();
        assert_eq!(one.change_pct, None);
        assert!(p95_trend(&P95Series {
            definition: "x".into(),
            values: vec![]
        })
        .is_none());
    }
}

//! Report figures and the comparison of a run against its baseline: which figures are
//! judged and in which direction, what counts as a regression, and the one-line verdict.
//! The only place these rules live; the card renders what [`Comparison`] says.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The outbox `event_type` of a report's chart (a delivery of its own, after the report).
pub const REPORT_CHART: &str = "report_chart";

/// The `action_id` of the "Set as baseline" button on a reported run's card.
pub const SET_BASELINE_ACTION: &str = "baseline.set";

/// A figure of a report summary, with its API key (`p95_ms`), label and unit.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Metric {
    #[serde(rename = "p95_ms")]
    P95,
    #[serde(rename = "p99_ms")]
    P99,
    #[serde(rename = "p50_ms")]
    P50,
    #[serde(rename = "mean_ms")]
    Mean,
    #[serde(rename = "error_rate")]
    ErrorRate,
    #[serde(rename = "errors")]
    Errors,
    #[serde(rename = "throughput")]
    Throughput,
    #[serde(rename = "requests")]
    Requests,
    #[serde(rename = "users")]
    Users,
    #[serde(rename = "duration_s")]
    Duration,
}

/// Which way a figure gets worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Worse when it goes up (latencies, errors).
    UpIsWorse,
    /// Worse when it goes down (throughput).
    DownIsWorse,
    /// Shown with its change, never judged (how big the run was).
    Neutral,
}

impl Metric {
    /// In the order a card lists them: what a performance engineer looks at first.
    pub const ALL: [Self; 10] = [
        Self::P95,
        Self::P99,
        Self::P50,
        Self::Mean,
        Self::ErrorRate,
        Self::Errors,
        Self::Throughput,
        Self::Requests,
        Self::Users,
        Self::Duration,
    ];

    /// (API key, label, direction).
    fn table(self) -> (&'static str, &'static str, Direction) {
        use Direction::*;
        match self {
            Self::P95 => ("p95_ms", "P95", UpIsWorse),
            Self::P99 => ("p99_ms", "P99", UpIsWorse),
            Self::P50 => ("p50_ms", "P50", UpIsWorse),
            Self::Mean => ("mean_ms", "Mean", UpIsWorse),
            Self::ErrorRate => ("error_rate", "Error rate", UpIsWorse),
            Self::Errors => ("errors", "Errors", UpIsWorse),
            Self::Throughput => ("throughput", "Throughput", DownIsWorse),
            Self::Requests => ("requests", "Requests", Neutral),
            Self::Users => ("users", "Users", Neutral),
            Self::Duration => ("duration_s", "Duration", Neutral),
        }
    }

    pub fn key(self) -> &'static str {
        self.table().0
    }

    /// Its API key, as a stored column holds it too.
    pub fn as_str(self) -> &'static str {
        self.key()
    }

    pub fn label(self) -> &'static str {
        self.table().1
    }

    pub fn direction(self) -> Direction {
        self.table().2
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.key() == key)
    }

    /// The figure as people read it: `810 ms`, `1,234.5 req/s`, `0.42 %`, `12:30`.
    pub fn show(self, value: f64) -> String {
        match self {
            Self::P95 | Self::P99 | Self::P50 | Self::Mean => format!("{} ms", number(value)),
            Self::Throughput => format!("{} req/s", number(value)),
            Self::ErrorRate => format!("{} %", number(value * 100.0)),
            Self::Errors | Self::Requests | Self::Users => number(value),
            Self::Duration => duration(value),
        }
    }
}

/// A number with thousands separators and at most two decimals (`1,234.5`, `0.42`).
pub fn number(value: f64) -> String {
    let rounded = if value.abs() >= 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    let (int, frac) = match rounded.split_once('.') {
        Some((i, f)) => (i.to_owned(), f.trim_end_matches('0').to_owned()),
        None => (rounded, String::new()),
    };
    let (sign, digits) = match int.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", int.as_str()),
    };
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// Seconds as `m:ss` or `h:mm:ss`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The figures of one report (validated: finite, not negative, error rate 0..1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Figures(BTreeMap<Metric, f64>);

impl Figures {
    pub fn new(values: impl IntoIterator<Item = (Metric, f64)>) -> Self {
        Self(values.into_iter().collect())
    }

    pub fn get(&self, m: Metric) -> Option<f64> {
        self.0.get(&m).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The error rate as given, or worked out from errors and requests.
    fn error_rate(&self) -> Option<f64> {
        self.get(Metric::ErrorRate).or_else(|| {
            match (self.get(Metric::Errors), self.get(Metric::Requests)) {
                (Some(e), Some(r)) if r > 0.0 => Some(e / r),
                _ => None,
            }
        })
    }
}

/// Which run a report is compared with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineRun {
    pub load_test_id: String,
    pub name: String,
    /// When its final report arrived.
    pub reported_at: DateTime<Utc>,
    /// Pinned by someone, or else the definition's previous reported run.
    pub pinned: bool,
    pub figures: Figures,
}

/// How one figure compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// Worse than the threshold allows (final reports only).
    Regression,
    /// Better by more than the threshold.
    Improvement,
    /// Within the threshold, or a figure that is not judged.
    Unchanged,
    /// Worse than the threshold in an intermediate report: shown, not declared.
    Worse,
}

/// One figure of the report next to the baseline's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FigureChange {
    pub metric: Metric,
    pub value: f64,
    /// The baseline's value, when it has the figure.
    #[serde(default)]
    pub baseline: Option<f64>,
    pub judgement: Judgement,
}

impl FigureChange {
    /// The relative change in percent (`None` without a baseline value or from zero).
    pub fn pct(&self) -> Option<f64> {
        let base = self.baseline?;
        (base > 0.0).then(|| (self.value - base) / base * 100.0)
    }

    /// `▲ +12 %`, `▼ −8 %`, `▲ ×3`, `▲ new` (from zero), `= ±0 %`; `None` without a baseline.
    pub fn change_text(&self) -> Option<String> {
        let base = self.baseline?;
        if base <= 0.0 {
            return Some(if self.value > 0.0 {
                "▲ from 0".into()
            } else {
                "= same".into()
            });
        }
        let ratio = self.value / base;
        let pct = (ratio - 1.0) * 100.0;
        Some(if pct.abs() < 0.5 {
            "= ±0 %".into()
        } else if ratio >= 2.0 {
            let r = if ratio >= 10.0 {
                format!("{ratio:.0}")
            } else {
                number(ratio)
            };
            format!("▲ ×{r}")
        } else if pct > 0.0 {
            format!("▲ +{:.0} %", pct)
        } else {
            format!("▼ −{:.0} %", -pct)
        })
    }

    /// `P95 +23 %` or `errors ×3`, for the verdict line.
    pub fn short(&self) -> String {
        let change = self.change_text().unwrap_or_default();
        let change = change.trim_start_matches(['▲', '▼', '=', ' ']);
        let label = match self.metric {
            Metric::Errors | Metric::ErrorRate => self.metric.label().to_lowercase(),
            _ => self.metric.label().to_owned(),
        };
        format!("{label} {change}")
    }

    /// How far it moved, for ordering the worst first (from zero counts as the worst).
    fn magnitude(&self) -> f64 {
        match (self.baseline, self.pct()) {
            (Some(_), Some(p)) => p.abs(),
            (Some(_), None) => f64::INFINITY,
            (None, _) => 0.0,
        }
    }
}

/// The smallest rise of the error rate that is judged at all: 0.1 percentage points (a
/// run with one failed request in a million is not a regression of one that had none).
pub const ERROR_RATE_FLOOR: f64 = 0.001;

/// A report compared with its baseline (kept with the event: what the card shows).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// `None`: the first reported run of its definition.
    pub baseline: Option<BaselineRun>,
    pub threshold_pct: u32,
    /// A final report is judged; an intermediate one only compared.
    pub final_report: bool,
    /// The report's figures in card order, each with the baseline's value.
    pub changes: Vec<FigureChange>,
}

/// The one line at the top of a report.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    FirstRun,
    /// The regressed figures, the worst first.
    Regression(Vec<FigureChange>),
    /// No figure is worse than the threshold; the improved ones, the best first.
    NoRegression(Vec<FigureChange>),
    /// The report and the baseline have no figure in common.
    MissingFigures,
    /// An intermediate report: compared, not judged.
    Interim,
}

impl Verdict {
    /// The verdict line in two parts: its bold label and the detail after it.
    pub fn parts(&self) -> (&'static str, Option<String>) {
        let named = |changes: &[FigureChange]| {
            changes
                .iter()
                .take(3)
                .map(FigureChange::short)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Self::FirstRun => ("First run of this definition", None),
            Self::Regression(worst) => ("Regression:", Some(named(worst))),
            Self::NoRegression(better) if better.is_empty() => {
                ("No regression against the baseline", None)
            }
            Self::NoRegression(better) => (
                "No regression against the baseline;",
                Some(format!("better: {}", named(better))),
            ),
            Self::MissingFigures => (
                "Not compared:",
                Some("the report and the baseline have no figure in common".into()),
            ),
            Self::Interim => (
                "Compared with the baseline:",
                Some("the verdict comes with the final report".into()),
            ),
        }
    }

    /// The sentence of the verdict line.
    pub fn headline(&self) -> String {
        match self.parts() {
            (label, Some(detail)) => format!("{label} {detail}"),
            (label, None) => label.to_owned(),
        }
    }

    pub fn is_regression(&self) -> bool {
        matches!(self, Self::Regression(_))
    }
}

impl Comparison {
    /// Compares `figures` with `baseline` (`threshold_pct`: 1..1000).
    pub fn new(
        figures: &Figures,
        baseline: Option<BaselineRun>,
        threshold_pct: u32,
        final_report: bool,
    ) -> Self {
        let changes = Metric::ALL
            .into_iter()
            .filter_map(|m| {
                let value = figures.get(m)?;
                let base = baseline.as_ref().and_then(|b| b.figures.get(m));
                Some(FigureChange {
                    metric: m,
                    value,
                    baseline: base,
                    judgement: Judgement::Unchanged,
                })
            })
            .collect();
        let mut comparison = Self {
            baseline,
            threshold_pct,
            final_report,
            changes,
        };
        comparison.judge(figures);
        comparison
    }

    /// Judges each change. Errors are judged by their rate where both runs have one (given,
    /// or worked out from errors and requests; a rate worked out judges the errors line),
    /// else by their count.
    fn judge(&mut self, figures: &Figures) {
        let Some(baseline) = &self.baseline else {
            return;
        };
        let rates = match (figures.error_rate(), baseline.figures.error_rate()) {
            (Some(v), Some(b)) => Some((v, b)),
            _ => None,
        };
        let rate_line = self
            .changes
            .iter()
            .any(|c| c.metric == Metric::ErrorRate && c.baseline.is_some());
        let threshold = f64::from(self.threshold_pct);
        for change in &mut self.changes {
            let Some(base) = change.baseline else {
                continue;
            };
            let (value, base, by_rate) = match (change.metric, rates) {
                (Metric::ErrorRate, Some((v, b))) => (v, b, true),
                (Metric::ErrorRate, None) => continue,
                (Metric::Errors, _) if rate_line => continue,
                (Metric::Errors, Some((v, b))) => (v, b, true),
                (m, _) if m.direction() == Direction::Neutral => continue,
                _ => (change.value, base, false),
            };
            let worse = match change.metric.direction() {
                Direction::UpIsWorse => value > base,
                Direction::DownIsWorse => value < base,
                Direction::Neutral => false,
            };
            let errors = matches!(change.metric, Metric::Errors | Metric::ErrorRate);
            let beyond = if base > 0.0 {
                ((value - base) / base * 100.0).abs() > threshold
            } else {
                // From zero: any new error is beyond any threshold; a latency of zero is no
                // measurement to compare with.
                errors && value > 0.0
            };
            let noise = by_rate && (value - base).abs() < ERROR_RATE_FLOOR;
            change.judgement = match (beyond && !noise, worse) {
                (false, _) => Judgement::Unchanged,
                (true, true) if self.final_report => Judgement::Regression,
                (true, true) => Judgement::Worse,
                (true, false) => Judgement::Improvement,
            };
        }
    }

    /// The one-line verdict.
    pub fn verdict(&self) -> Verdict {
        if self.baseline.is_none() {
            return Verdict::FirstRun;
        }
        if !self.changes.iter().any(|c| c.baseline.is_some()) {
            return Verdict::MissingFigures;
        }
        if !self.final_report {
            return Verdict::Interim;
        }
        let ranked = |j: Judgement| {
            let mut v: Vec<FigureChange> = self
                .changes
                .iter()
                .filter(|c| c.judgement == j)
                .cloned()
                .collect();
            v.sort_by(|a, b| b.magnitude().total_cmp(&a.magnitude()));
            v
        };
        let worse = ranked(Judgement::Regression);
        if worse.is_empty() {
            Verdict::NoRegression(ranked(Judgement::Improvement))
        } else {
            Verdict::Regression(worse)
        }
    }

    pub fn is_regression(&self) -> bool {
        self.verdict().is_regression()
    }

    /// The regressed figure that moved the most, when the verdict is a regression.
    pub fn worst_regression(&self) -> Option<FigureChange> {
        match self.verdict() {
            Verdict::Regression(worst) => worst.into_iter().next(),
            _ => None,
        }
    }

    /// Load that differs from the baseline's by more than the threshold makes the runs
    /// hard to compare: `Users 2,000 vs 1,000 in the baseline`.
    pub fn caveats(&self) -> Vec<String> {
        let threshold = f64::from(self.threshold_pct);
        self.changes
            .iter()
            .filter(|c| matches!(c.metric, Metric::Users | Metric::Duration))
            .filter(|c| c.pct().is_some_and(|p| p.abs() > threshold))
            .map(|c| {
                format!(
                    "{} {} vs {} in the baseline",
                    c.metric.label(),
                    c.metric.show(c.value),
                    c.metric.show(c.baseline.unwrap_or_default())
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;

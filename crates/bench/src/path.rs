//! Where an event's time goes (issue 28): the server's own breakdown of its hot path,
//! `xtc_slack_event_path_seconds{stage}` (each event whose delivery was handed to the
//! sender at commit, stage by stage), read from `/metrics` before and after a phase. Per
//! stage: how many events, the mean (the histogram's sum over its count), and the median
//! and the 99th percentile interpolated within their buckets.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::env::Env;
use crate::report::{row, Row};
use crate::stats::ms;

/// The stages in path order (`pipeline::path_trace::Step::stage` in the product).
const STAGES: [&str; 10] = [
    "request",
    "actor_mailbox",
    "writer_queue",
    "transaction",
    "prepare",
    "render",
    "commit",
    "post",
    "record",
    "total",
];

/// One stage's histogram: count, sum (seconds) and cumulative buckets (upper bound, count).
#[derive(Clone, Debug, Default)]
struct Histogram {
    count: f64,
    sum: f64,
    buckets: Vec<(f64, f64)>,
}

/// The path histograms at one moment.
#[derive(Clone, Debug, Default)]
pub struct PathSnapshot {
    stages: BTreeMap<String, Histogram>,
}

/// What one stage took over a phase.
#[derive(Clone, Debug, PartialEq)]
pub struct StageFigure {
    pub stage: &'static str,
    pub count: u64,
    pub mean: Duration,
    pub median: Duration,
    pub p99: Duration,
}

/// Reads the path histograms from the server's `/metrics`.
pub async fn snapshot(env: &Env) -> anyhow::Result<PathSnapshot> {
    let mut res = env
        .http
        .get(format!("{}/metrics", env.server.base))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GET /metrics: {e}"))?;
    let body = res.body().limit(4 * 1024 * 1024).await?;
    Ok(parse(&String::from_utf8_lossy(&body)))
}

/// The `stage` label's value of a sample line (`name{...stage="x"...} value`).
fn stage_of(labels: &str) -> Option<&str> {
    let start = labels.find("stage=\"")? + 7;
    let end = labels[start..].find('"')? + start;
    Some(&labels[start..end])
}

fn le_of(labels: &str) -> Option<f64> {
    let start = labels.find("le=\"")? + 4;
    let end = labels[start..].find('"')? + start;
    match &labels[start..end] {
        "+Inf" => Some(f64::INFINITY),
        v => v.parse().ok(),
    }
}

fn parse(text: &str) -> PathSnapshot {
    const NAME: &str = "xtc_slack_event_path_seconds";
    let mut snap = PathSnapshot::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(NAME) else {
            continue;
        };
        let Some((series, value)) = rest.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let Some((kind, labels)) = series.split_once('{') else {
            continue;
        };
        let Some(stage) = stage_of(labels) else {
            continue;
        };
        let h = snap.stages.entry(stage.to_owned()).or_default();
        match kind {
            "_count" => h.count = value,
            "_sum" => h.sum = value,
            "_bucket" => {
                if let Some(le) = le_of(labels) {
                    h.buckets.push((le, value));
                }
            }
            _ => {}
        }
    }
    snap
}

impl PathSnapshot {
    /// What each stage took between `before` and this snapshot (stages with no event left
    /// out), in path order.
    pub fn since(&self, before: &PathSnapshot) -> Vec<StageFigure> {
        let empty = Histogram::default();
        STAGES
            .iter()
            .filter_map(|stage| {
                let after = self.stages.get(*stage)?;
                let prior = before.stages.get(*stage).unwrap_or(&empty);
                let count = after.count - prior.count;
                if count < 1.0 {
                    return None;
                }
                let mean = (after.sum - prior.sum) / count;
                let buckets: Vec<(f64, f64)> = after
                    .buckets
                    .iter()
                    .map(|(le, n)| {
                        let was = prior
                            .buckets
                            .iter()
                            .find(|(l, _)| l == le)
                            .map_or(0.0, |(_, n)| *n);
                        (*le, n - was)
                    })
                    .collect();
                Some(StageFigure {
                    stage,
                    count: count as u64,
                    mean: Duration::from_secs_f64(mean.max(0.0)),
                    median: Duration::from_secs_f64(quantile(&buckets, count, 0.5)),
                    p99: Duration::from_secs_f64(quantile(&buckets, count, 0.99)),
                })
            })
            .collect()
    }
}

/// The quantile `q` from cumulative buckets, linear within the bucket that holds it
/// (Prometheus' `histogram_quantile`).
fn quantile(buckets: &[(f64, f64)], count: f64, q: f64) -> f64 {
    let rank = count * q;
    let mut lower = (0.0, 0.0);
    for &(le, n) in buckets {
        if n >= rank {
            if le.is_infinite() {
                return lower.0;
            }
            let within = (rank - lower.1) / (n - lower.1).max(f64::MIN_POSITIVE);
            return lower.0 + (le - lower.0) * within;
        }
        lower = (le, n);
    }
    lower.0
}

/// One row per stage: "mean / median / p99" of the events traced.
pub fn rows(phase: &str, figures: &[StageFigure]) -> Vec<Row> {
    if figures.is_empty() {
        return vec![row(
            format!("{phase}: where the time goes"),
            "no event traced (the server predates the trace, or no channel was idle)",
            "",
        )];
    }
    figures
        .iter()
        .map(|f| {
            row(
                format!(
                    "{phase} path: {} (mean / median / p99, {} events)",
                    f.stage, f.count
                ),
                format!("{} / {} / {}", ms(f.mean), ms(f.median), ms(f.p99)),
                "",
            )
        })
        .collect()
}

/// "N new connections to Slack" over a phase (the server's to the fake; `None`: unknown):
/// with keep-alive (`XTC_SLACK_SLACK_KEEP_ALIVE`, on by default) the server reuses them.
pub fn slack_connections_row(
    before: Option<std::collections::HashSet<u16>>,
    after: Option<std::collections::HashSet<u16>>,
) -> Row {
    let result = match (before, after) {
        (Some(b), Some(a)) => a.difference(&b).count().to_string(),
        _ => "not counted (no /proc/net/tcp)".to_owned(),
    };
    row(
        "end to end: new connections to the fake Slack (the server's, and the bench's reads)",
        result,
        "",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
# TYPE xtc_slack_event_path_seconds histogram
xtc_slack_event_path_seconds_bucket{stage=\"commit\",le=\"0.0001\"} 1
xtc_slack_event_path_seconds_bucket{stage=\"commit\",le=\"0.0002\"} 2
xtc_slack_event_path_seconds_bucket{stage=\"commit\",le=\"+Inf\"} 2
xtc_slack_event_path_seconds_sum{stage=\"commit\"} 0.0003
xtc_slack_event_path_seconds_count{stage=\"commit\"} 2
";
    const AFTER: &str = "\
xtc_slack_event_path_seconds_bucket{stage=\"commit\",le=\"0.0001\"} 1
xtc_slack_event_path_seconds_bucket{stage=\"commit\",le=\"0.0002\"} 6
xtc_slack_event_path_seconds_bucket{stage=\"commit\",le=\"+Inf\"} 6
xtc_slack_event_path_seconds_sum{stage=\"commit\"} 0.0009
xtc_slack_event_path_seconds_count{stage=\"commit\"} 6
xtc_slack_delivery_latency_seconds_count 7
";

    #[test]
    fn a_phase_is_the_difference_of_two_scrapes() {
        let figures = parse(AFTER).since(&parse(BEFORE));
        assert_eq!(figures.len(), 1);
        let f = &figures[0];
        assert_eq!((f.stage, f.count), ("commit", 4));
        // 0.6 ms over 4 events; all four in the 0.1–0.2 ms bucket, so the median is its middle.
        assert_eq!(f.mean.as_micros(), 150);
        assert_eq!(f.median.as_micros(), 150);
        // The 99th percentile: 3.96 of 4 events, near the bucket's top.
        assert_eq!(f.p99.as_micros(), 199);
        assert!(parse("").since(&PathSnapshot::default()).is_empty());
    }

    #[test]
    fn a_quantile_past_the_last_finite_bucket_is_that_bucket_s_bound() {
        // 100 events: 98 within 0.1 ms, 2 beyond 1 s (the +Inf bucket).
        let buckets = [(0.0001, 98.0), (1.0, 98.0), (f64::INFINITY, 100.0)];
        assert_eq!(quantile(&buckets, 100.0, 0.99), 1.0);
        // The median lies within the first bucket: 50 of its 98, from 0.
        let median = quantile(&buckets, 100.0, 0.5);
        assert!((median - 0.0001 * 50.0 / 98.0).abs() < 1e-12, "{median}");
    }
}

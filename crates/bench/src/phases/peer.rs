//! xtc-slack next to Prometheus Alertmanager (issue 28), opt-in (`--only peer`): the same
//! end-to-end load (`--e2e-rate` events a second for `--e2e-secs` over `--e2e-channels`
//! channels of a fake Slack with Slack's limits) through each product in turn, `--peer-runs`
//! runs each, alternating, each run with a fresh server (or Alertmanager) and fake. Measured
//! from the request being sent (the definition) and from its answer arriving, to the
//! fake receiving the `chat.postMessage` that names the event.

mod alertmanager;

use std::path::Path;
use std::time::Duration;

use crate::args::{BenchArgs, BenchBackend};
use crate::env::{Env, EnvSpec};
use crate::phases::e2e;
use crate::report::{row, Row};
use crate::stats::{ms, Latencies};

/// One run of one product.
pub struct PeerRun {
    pub from_request: Latencies,
    pub from_answer: Latencies,
    pub delivered: usize,
    pub expected: usize,
    /// `chat.postMessage` calls the fake refused (any error, 429 included).
    pub refused: usize,
}

impl PeerRun {
    fn summary(&self) -> String {
        format!(
            "{} (from the answer {}), {} of {} delivered{}",
            self.from_request.summary(),
            self.from_answer.summary(),
            self.delivered,
            self.expected,
            match self.refused {
                0 => String::new(),
                n => format!(", {n} calls refused by the fake"),
            }
        )
    }
}

pub async fn run(exe: &Path, args: &BenchArgs) -> anyhow::Result<Vec<Row>> {
    let am = args.alertmanager.as_path();
    if !am.is_file() {
        return Ok(vec![row(
            "peer: Prometheus Alertmanager",
            format!(
                "not run: no {} (Debian: `apt-get install prometheus-alertmanager`, 0.25; \
                 or name a binary with --alertmanager)",
                am.display()
            ),
            "",
        )]);
    }
    let ours = format!("xtc-slack ({})", backend_name(args.backend));
    let theirs = format!("Alertmanager {}", alertmanager::version(am));
    let mut rows = vec![row(
        "peer: load, the same for both",
        format!(
            "{} events/s for {} s over {} channels, a fresh fake Slack per run (1 message/s \
             per channel, burst 3), {} runs each alternating",
            args.e2e_rate, args.e2e_secs, args.e2e_channels, args.peer_runs
        ),
        "",
    )];
    let (mut ours_runs, mut theirs_runs) = (Vec::new(), Vec::new());
    for r in 1..=args.peer_runs {
        let x = xtc_run(exe, args).await;
        rows.push(run_row(r, &ours, &x));
        ours_runs.extend(x.ok());
        let a = alertmanager::run(am, args).await;
        rows.push(run_row(r, &theirs, &a));
        theirs_runs.extend(a.ok());
        println!("peer run {r} of {} done", args.peer_runs);
    }
    let verdict = match (
        medians(&ours_runs, |r| &r.from_request),
        medians(&theirs_runs, |r| &r.from_request),
    ) {
        ((Some(o50), Some(o99)), (Some(t50), Some(t99))) => format!(
            "≤ {theirs}'s: {}",
            if o50 <= t50 && o99 <= t99 {
                "met"
            } else {
                "NOT met"
            }
        ),
        _ => "≤ Alertmanager's: no comparison".to_owned(),
    };
    rows.push(summary_row(&ours, &ours_runs, &verdict));
    rows.push(summary_row(&theirs, &theirs_runs, "(the reference)"));
    Ok(rows)
}

/// One xtc-slack run: the e2e phase's world and load.
async fn xtc_run(exe: &Path, args: &BenchArgs) -> anyhow::Result<PeerRun> {
    let spec = EnvSpec::new("peer", args.e2e_channels, args.e2e_channels);
    let env = Env::start(exe, args, spec).await?;
    let result = e2e::run(&env, args.e2e_rate, args.e2e_secs).await;
    let refused = refused_posts(&env.http, &env.fake).await;
    env.finish();
    let result = result?;
    Ok(PeerRun {
        from_request: result.from_request,
        from_answer: result.latency,
        delivered: result.delivered,
        expected: result.expected,
        refused: refused?,
    })
}

/// `chat.postMessage` calls the fake answered with an error.
pub(crate) async fn refused_posts(
    http: &awc::Client,
    fake: &fake_slack::FakeSlackHandle,
) -> anyhow::Result<usize> {
    let calls = crate::fake::control_json(http, fake, "/calls?method=chat.postMessage").await?;
    Ok(calls["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["ok"] != true)
        .count())
}

fn backend_name(backend: BenchBackend) -> &'static str {
    match backend {
        BenchBackend::Sqlite => "SQLite",
        BenchBackend::Postgres => "PostgreSQL",
    }
}

fn run_row(r: usize, product: &str, result: &anyhow::Result<PeerRun>) -> Row {
    let measure = format!("peer run {r}, {product}: request → chat.postMessage p50 / p99 / max");
    match result {
        Ok(run) => row(measure, run.summary(), ""),
        Err(e) => row(measure, format!("FAILED: {e:#}"), ""),
    }
}

/// The median of the runs' p50s and of their p99s.
fn medians(
    runs: &[PeerRun],
    of: impl Fn(&PeerRun) -> &Latencies,
) -> (Option<Duration>, Option<Duration>) {
    let median = |p: f64| {
        let mut v: Vec<Duration> = runs.iter().map(|r| of(r).percentile(p)).collect();
        v.sort();
        match v.len() {
            0 => None,
            n if n % 2 == 1 => Some(v[n / 2]),
            n => Some((v[n / 2 - 1] + v[n / 2]) / 2),
        }
    };
    (median(0.5), median(0.99))
}

fn summary_row(product: &str, runs: &[PeerRun], target: &str) -> Row {
    let show = |(p50, p99): (Option<Duration>, Option<Duration>)| match (p50, p99) {
        (Some(a), Some(b)) => format!("{} / {}", ms(a), ms(b)),
        _ => "no run".to_owned(),
    };
    row(
        format!(
            "peer {product}, median of {} runs' p50 / p99: from the request (from the answer)",
            runs.len()
        ),
        format!(
            "{} ({})",
            show(medians(runs, |r| &r.from_request)),
            show(medians(runs, |r| &r.from_answer))
        ),
        target,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_of(p50_ms: u64) -> PeerRun {
        let samples = vec![Duration::from_millis(p50_ms); 3];
        PeerRun {
            from_request: Latencies { samples, errors: 0 },
            from_answer: Latencies::default(),
            delivered: 3,
            expected: 3,
            refused: 0,
        }
    }

    #[test]
    fn the_median_of_the_runs() {
        let ms = Duration::from_millis;
        let runs: Vec<PeerRun> = [3, 1, 2].into_iter().map(run_of).collect();
        assert_eq!(
            medians(&runs, |r| &r.from_request),
            (Some(ms(2)), Some(ms(2)))
        );
        let runs: Vec<PeerRun> = [4, 1, 2, 3].into_iter().map(run_of).collect();
        let half = Duration::from_micros(2_500);
        assert_eq!(
            medians(&runs, |r| &r.from_request),
            (Some(half), Some(half))
        );
        assert_eq!(medians(&[], |r| &r.from_request), (None, None));
    }
}

//! End to end (issue 17 goal 1): events at `--e2e-rate` over `--e2e-channels` channels
//! (one project each, round-robin, so no channel gets more than Slack's 1 message/s and
//! pacing never delays one), from the moment the 202 arrived to the fake's `received_at`
//! of the `chat.postMessage` naming the load test; and from the moment the request was sent
//! (issue 28's measure, which a peer's answer time does not bias).

use std::time::Duration;

use crate::args::{BenchArgs, BenchBackend};
use crate::env::Env;
use crate::fake;
use crate::phases::paced;
use crate::report::{row, Row};
use crate::stats::Latencies;

pub struct E2eResult {
    pub rate: u32,
    pub channels: usize,
    pub delivered: usize,
    pub expected: usize,
    /// From the 202's arrival.
    pub latency: Latencies,
    /// From just before the request was sent.
    pub from_request: Latencies,
    pub connections: Option<usize>,
}

impl E2eResult {
    /// "50 events/s over 100 channels, HTTP/1.1 keep-alive (0 new connections)".
    pub fn setup(&self) -> String {
        let conns = match self.connections {
            Some(c) => format!("{c} new connection{}", if c == 1 { "" } else { "s" }),
            None => "connections not counted".to_owned(),
        };
        format!(
            "{} events/s over {} channels, HTTP/1.1 keep-alive ({conns})",
            self.rate, self.channels
        )
    }

    pub fn rows(&self, args: &BenchArgs) -> Vec<Row> {
        let target = match args.backend {
            BenchBackend::Sqlite => "p50 ≤ 1.5 ms, p99 ≤ 4 ms",
            BenchBackend::Postgres => "≤ 5 ms / ≤ 25 ms",
        };
        vec![
            row(
                format!("end to end p50 / p99 / max: {}", self.setup()),
                self.latency.summary(),
                target,
            ),
            row(
                "end to end from the request sent (not the 202) p50 / p99 / max",
                self.from_request.summary(),
                "",
            ),
            row(
                "end to end delivered",
                format!("{} of {}", self.delivered, self.expected),
                "all",
            ),
        ]
    }
}

pub async fn run(env: &Env, rate: u32, secs: u64) -> anyhow::Result<E2eResult> {
    run_named(env, "e", rate, secs).await
}

/// The same with load tests named `{prefix}-{i}` (a second run on one server needs new ones).
pub async fn run_named(env: &Env, prefix: &str, rate: u32, secs: u64) -> anyhow::Result<E2eResult> {
    let projects = env.projects.max(1);
    let p = paced::run(env, prefix, rate, secs, |i| i % projects).await;
    let seen = fake::wait_visible(p.accepted.keys(), Duration::from_secs(30), || {
        fake::seen(env, None)
    })
    .await?;
    let (from_request, latency) = fake::end_to_end(&p.accepted, &seen);
    let delivered = latency.samples.len();
    Ok(E2eResult {
        rate,
        channels: projects,
        delivered,
        expected: p.samples.len(),
        latency,
        from_request,
        connections: p.connections,
    })
}

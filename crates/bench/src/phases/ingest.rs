//! Ingest throughput: `concurrency` clients post two events (started, running) per load
//! test as fast as the server answers; every load test is still "in flight" at the end.

use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::env::Env;
use crate::report::{row, Row};
use crate::stats::Latencies;

pub struct IngestResult {
    pub clients: usize,
    pub events: usize,
    pub elapsed: Duration,
    pub latency: Latencies,
}

impl IngestResult {
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn rows(&self, target: &str) -> Vec<Row> {
        vec![
            row(
                format!("ingest, {} clients: events/s", self.clients),
                format!(
                    "{:.0} ({} events in {:.2} s)",
                    self.rate(),
                    self.events,
                    self.elapsed.as_secs_f64()
                ),
                target,
            ),
            row("ingest latency p50 / p99 / max", self.latency.summary(), ""),
            row("ingest errors", self.latency.errors.to_string(), "0"),
        ]
    }
}

/// Posts `load_tests` load tests (`{prefix}-{i}`, spread over the env's projects) from
/// `concurrency` clients.
pub async fn run(env: &Env, concurrency: usize, load_tests: usize, prefix: &str) -> IngestResult {
    let next = Rc::new(AtomicUsize::new(0));
    let projects = env.projects.max(1);
    let start = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let next = next.clone();
        async move {
            let mut lat = Latencies::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= load_tests {
                    return lat;
                }
                let lt = format!("{prefix}-{i}");
                for kind in ["started", "running"] {
                    let posted = env.post_event(&lt, i % projects, kind, i).await;
                    if posted.status == 202 {
                        lat.samples.push(posted.took);
                    } else {
                        lat.errors += 1;
                    }
                }
            }
        }
    });
    let results = futures_util::future::join_all(workers).await;
    let elapsed = start.elapsed();
    let mut latency = Latencies::default();
    for r in results {
        latency.extend(r);
    }
    IngestResult {
        clients: concurrency,
        events: load_tests * 2,
        elapsed,
        latency,
    }
}

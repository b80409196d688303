//! Events at a fixed rate, each a new load test's `started`, each request on its own task
//! so that a slow answer does not delay the schedule.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::env::{connections_to, post_event, Env};
use crate::stats::{Latencies, Sample};

pub struct Paced {
    /// Latencies of the 202s (errors: anything else).
    pub latency: Latencies,
    /// Every request with its send time.
    pub samples: Vec<Sample>,
    /// When each accepted load test's 202 arrived, by id.
    pub accepted: HashMap<String, DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    /// When the last answer came.
    pub ended_at: DateTime<Utc>,
    /// Connections the client opened to the server during the phase (`None`: unknown).
    pub connections: Option<usize>,
}

/// Sends `rate × secs` events (`{prefix}-{i}`), event `i` to project `project_of(i)`.
pub async fn run(
    env: &Env,
    prefix: &str,
    rate: u32,
    secs: u64,
    project_of: impl Fn(usize) -> usize,
) -> Paced {
    let total = (u64::from(rate) * secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let before = connections_to(env.server.port);
    let started_at = Utc::now();
    let start = Instant::now();
    let mut pending = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        let now = Instant::now();
        if due > now {
            actix_web::rt::time::sleep(due - now).await;
        }
        let lt = format!("{prefix}-{i}");
        let project = project_of(i);
        let http = env.http.clone();
        let base = env.server.base.clone();
        let service = env.service.clone();
        let offset = start.elapsed();
        pending.push(actix_web::rt::spawn(async move {
            let (status, took, at) =
                post_event(&http, &base, &service, &lt, project, "started", i).await;
            (lt, status == 202, took, at, offset)
        }));
    }
    let mut latency = Latencies::default();
    let mut samples = Vec::with_capacity(total);
    let mut accepted = HashMap::new();
    for handle in pending {
        if let Ok((lt, ok, took, at, offset)) = handle.await {
            samples.push(Sample { offset, took, ok });
            if ok {
                latency.samples.push(took);
                accepted.insert(lt, at);
            } else {
                latency.errors += 1;
            }
        }
    }
    let ended_at = Utc::now();
    let connections = match (before, connections_to(env.server.port)) {
        (Some(b), Some(a)) => Some(a.difference(&b).count()),
        _ => None,
    };
    Paced {
        latency,
        samples,
        accepted,
        started_at,
        ended_at,
        connections,
    }
}

//! Events at a fixed rate, each a new load test's `started`, each request on its own task
//! so that a slow answer does not delay the schedule.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::env::{connections_to, post_event, Env, Posted};
use crate::stats::{Latencies, Sample};

pub struct Paced {
    /// Latencies of the 202s (errors: anything else).
    pub latency: Latencies,
    /// Every request with its send time.
    pub samples: Vec<Sample>,
    /// Each accepted load test's request (sent, answered), by id.
    pub accepted: HashMap<String, Posted>,
    pub started_at: DateTime<Utc>,
    /// When the last answer came.
    pub ended_at: DateTime<Utc>,
    /// Connections the client opened to the server during the phase (`None`: unknown).
    pub connections: Option<usize>,
}

/// Starts `send(i)` for `i` in `0..total`, `rate` a second on schedule, each on a task of
/// its own; returns each one's output with its send offset from the start, in order.
pub async fn schedule<T, F, Fut>(rate: u32, total: usize, send: F) -> Vec<(Duration, T)>
where
    T: 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + 'static,
{
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = Instant::now();
    let mut pending = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        let now = Instant::now();
        if due > now {
            actix_web::rt::time::sleep(due - now).await;
        }
        let offset = start.elapsed();
        pending.push((offset, actix_web::rt::spawn(send(i))));
    }
    let mut out = Vec::with_capacity(total);
    for (offset, handle) in pending {
        if let Ok(t) = handle.await {
            out.push((offset, t));
        }
    }
    out
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
    let before = connections_to(env.server.port);
    let started_at = Utc::now();
    let answers = schedule(rate, total, |i| {
        let lt = format!("{prefix}-{i}");
        let project = project_of(i);
        let http = env.http.clone();
        let base = env.server.base.clone();
        let service = env.service.clone();
        async move {
            let posted = post_event(&http, &base, &service, &lt, project, "started", i).await;
            (lt, posted)
        }
    })
    .await;
    let mut latency = Latencies::default();
    let mut samples = Vec::with_capacity(total);
    let mut accepted = HashMap::new();
    for (offset, (lt, posted)) in answers {
        let ok = posted.status == 202;
        samples.push(Sample {
            offset,
            took: posted.took,
            ok,
        });
        if ok {
            latency.samples.push(posted.took);
            accepted.insert(lt, posted);
        } else {
            latency.errors += 1;
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

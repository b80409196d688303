//! Ingest latency at a steady rate (issue 17 goal 2: 1,000 events/s, p99 ≤ 10 ms over
//! 30 s), and what the fake received meanwhile: the sender must work off the backlog at
//! the same time, so the phase cannot look good only because nothing is sent.

use crate::args::BenchArgs;
use crate::env::Env;
use crate::fake;
use crate::phases::paced;
use crate::report::{row, Row};
use crate::stats;

pub async fn run(
    env: &Env,
    args: &BenchArgs,
    appendix: &mut Vec<String>,
) -> anyhow::Result<Vec<Row>> {
    let projects = env.projects.max(1);
    let p = paced::run(env, "s", args.steady_rate, args.steady_secs, |i| {
        i % projects
    })
    .await;
    let window = (p.started_at, p.ended_at);
    let seen = fake::seen(env, None).await?;
    let (messages, named) = seen.between(p.started_at, p.ended_at);
    let (posts, limited) = fake::calls(env, "chat.postMessage", Some(window)).await?;
    let secs = (p.ended_at - p.started_at).as_seconds_f64().max(1e-9);
    let mut rows = vec![
        row(
            format!(
                "steady {} events/s for {} s: latency p50 / p99 / max",
                args.steady_rate, args.steady_secs
            ),
            p.latency.summary(),
            "p99 ≤ 10 ms",
        ),
        row(
            "steady errors",
            format!("{} of {}", p.latency.errors, p.samples.len()),
            "0",
        ),
        row(
            "steady: what the fake received during the phase",
            format!(
                "{messages} messages naming {named} of {} load tests ({:.0} msg/s); \
                 {posts} chat.postMessage calls, {limited} × 429",
                p.accepted.len(),
                messages as f64 / secs
            ),
            "sending goes on",
        ),
    ];
    if let Some(c) = p.connections {
        rows.push(row("steady: client connections opened", c.to_string(), ""));
    }
    let name = format!("steady {} events/s", args.steady_rate);
    if args.slowest > 0 {
        appendix.push(stats::slowest_table(&name, &p.samples, args.slowest));
    }
    if args.histogram {
        appendix.push(stats::histogram(&name, &p.samples));
    }
    Ok(rows)
}

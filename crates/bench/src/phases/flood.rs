//! A flood into one channel: `--flood` events sent one after the other against the fake's
//! real rate limit (1 message/s, burst 3): sustained pacing, nothing lost, few 429s.

use std::time::{Duration, Instant};

use crate::env::Env;
use crate::fake;
use crate::report::{row, Row};

pub async fn run(env: &Env, n: usize, rate_limit: bool, digests: bool) -> anyhow::Result<Vec<Row>> {
    let mut sent = Vec::new();
    for i in 0..n {
        let lt = format!("f-{i}");
        let status = env.post_event(&lt, 0, "started", i).await.status;
        if status == 202 {
            sent.push(lt);
        }
    }
    let deadline = Instant::now() + Duration::from_secs_f64(n as f64 * 1.5 + 30.0);
    let seen = loop {
        let seen = fake::seen(env, Some("bench-0")).await?;
        if sent.iter().all(|lt| seen.visible.contains_key(lt)) || Instant::now() > deadline {
            break seen;
        }
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    };
    let delivered = sent
        .iter()
        .filter(|lt| seen.visible.contains_key(*lt))
        .count();
    let span = match (seen.messages.first(), seen.messages.last()) {
        (Some(a), Some(b)) => (*b - *a).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    let messages = seen.messages.len();
    let rate = if span.is_zero() {
        0.0
    } else {
        messages.saturating_sub(1) as f64 / span.as_secs_f64()
    };
    let (_, limited) = fake::calls(env, "chat.postMessage", None).await?;
    let minutes = (span.as_secs_f64() / 60.0).max(1.0);
    Ok(vec![
        row(
            format!(
                "flood into one channel (fake rate limit {}, digests {})",
                if rate_limit { "on" } else { "off" },
                if digests { "on" } else { "off" }
            ),
            format!(
                "{delivered} of {} delivered in {messages} messages over {:.1} s",
                sent.len(),
                span.as_secs_f64()
            ),
            "none lost",
        ),
        row(
            "flood: average rate",
            if messages < delivered {
                // Digests merged events: there is no sustained pacing to measure.
                format!("{rate:.3} msg/s (digests: {delivered} events in {messages} messages)")
            } else {
                format!("{rate:.3} msg/s")
            },
            "1 ± 10 %",
        ),
        row(
            "flood: 429 answers",
            format!("{limited} ({:.1}/min)", limited as f64 / minutes),
            "≤ 1/min",
        ),
    ])
}

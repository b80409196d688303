//! A burst into one channel (issue 17 goal 3): `--burst` load tests `started` at the same
//! moment (every request in flight at once) into one channel, with the fake's real rate
//! limit (1 message/s, burst 3). For each load test: from its 202 until a message naming it
//! is visible in the channel (digests name many load tests in one message). Goal: all 60
//! visible within 10 s, at most one 429.

use std::time::{Duration, Instant};

use crate::env::{post_event, Env};
use crate::fake;
use crate::report::{row, Row};
use crate::stats::{ms, Latencies};

pub async fn run(env: &Env, n: usize) -> anyhow::Result<Vec<Row>> {
    // Every request is built first and all are polled together: they leave at once.
    let requests = (0..n).map(|i| {
        let lt = format!("b-{i}");
        async move {
            let r = post_event(
                &env.http,
                &env.server.base,
                &env.service,
                &lt,
                0,
                "started",
                i,
            )
            .await;
            (lt, r)
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    let accepted: Vec<_> = answers
        .into_iter()
        .filter(|(_, posted)| posted.status == 202)
        .map(|(lt, posted)| (lt, posted.at))
        .collect();
    let slowest_answer = accepted
        .iter()
        .map(|(_, at)| *at)
        .max()
        .unwrap_or_else(chrono::Utc::now);
    // Without digests 60 messages take a minute at 1/s: wait that long and more.
    let deadline = Instant::now() + Duration::from_secs_f64(n as f64 * 1.2 + 30.0);
    let seen = loop {
        let seen = fake::seen(env, Some("bench-0")).await?;
        let all = accepted.iter().all(|(lt, _)| seen.visible.contains_key(lt));
        if all || Instant::now() > deadline {
            break seen;
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    };
    let mut visible = Latencies::default();
    for (lt, at) in &accepted {
        match seen.visible.get(lt) {
            Some(t) => visible
                .samples
                .push((*t - *at).to_std().unwrap_or_default()),
            None => visible.errors += 1,
        }
    }
    let (posts, limited) = fake::calls(env, "chat.postMessage", None).await?;
    let all_by = seen
        .visible
        .values()
        .max()
        .map(|t| (*t - slowest_answer).to_std().unwrap_or_default());
    Ok(vec![
        row(
            format!(
                "burst of {n} into one channel (rate limit 1/s, burst 3): 202 → visible p50 / max"
            ),
            format!("{} / {}", ms(visible.percentile(0.5)), ms(visible.max())),
            "max ≤ 10 s",
        ),
        row(
            "burst: load tests visible in the channel",
            format!(
                "{} of {n} ({} accepted){}",
                visible.samples.len(),
                accepted.len(),
                all_by.map_or(String::new(), |d| format!(
                    ", the last {} after the last 202",
                    ms(d)
                ))
            ),
            "all",
        ),
        row(
            "burst: messages used",
            format!("{} ({} chat.postMessage calls)", seen.messages.len(), posts),
            "",
        ),
        row("burst: 429 answers", limited.to_string(), "≤ 1"),
    ])
}

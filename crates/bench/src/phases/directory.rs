//! Warm saves in a large workspace (issue 18 part 1). The fake has `--directory-channels`
//! public channels (`channel-00001` …), lists 200 per `conversations.list` page and allows
//! that method 20 calls a minute (burst 1), as Slack's Tier 2. After the install the server
//! builds its channel directory in the background (one page per
//! `XTC_SLACK_CHANNEL_DIRECTORY_PAGE_MS`); the phase saves target channels near the end of
//! the list while it builds (they show as `resolving`), waits until the settings no longer
//! show a `resolving` warning, then measures saves naming three channels: latency and the
//! Slack calls each one made.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use chrono::Utc;
use fake_slack::FakeSlackConfig;
use serde_json::{json, Value};

use crate::args::BenchArgs;
use crate::env::{Env, EnvSpec};
use crate::fake;
use crate::report::{row, Row};
use crate::stats::{ms, Latencies};

fn tweak(config: &mut FakeSlackConfig, args: &BenchArgs) {
    config.generated_channels = args.directory_channels;
    config.list_page_size = 200;
    config
        .method_limits
        .insert("conversations.list".to_owned(), (20, 1));
}

pub fn spec(args: &BenchArgs) -> EnvSpec {
    let mut spec = EnvSpec::new("directory", 0, 0);
    spec.tweak_fake = Some(tweak);
    spec.server_env = vec![(
        "XTC_SLACK_CHANNEL_DIRECTORY_PAGE_MS",
        args.directory_page_ms.to_string(),
    )];
    spec
}

fn name(n: usize) -> String {
    format!("#channel-{n:05}")
}

fn warnings(settings: &Value, problem: &str) -> Vec<String> {
    settings["channel_warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| w["problem"] == problem)
        .map(|w| w["channel"].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub async fn run(env: &Env, args: &BenchArgs) -> anyhow::Result<Vec<Row>> {
    let n = args.directory_channels;
    let pages = n.div_ceil(200).max(1);
    // The builder looks for new installations every few seconds (up to ~30 s when it was
    // idle at the install).
    let wait_start = Instant::now();
    let first_page = loop {
        if let Some(t) = fake::first_call(env, "conversations.list").await? {
            break t;
        }
        if wait_start.elapsed() > Duration::from_secs(120) {
            bail!("the server did not start listing the workspace within 120 s");
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    };
    // Names near the end of the list, saved while the directory is being built.
    let targets = [name(n), name(n.saturating_sub(1).max(1)), name(n / 2 + 1)];
    let saved = env
        .expect(
            "PUT",
            "/api/v1/orgs/bench/slack",
            &env.admin,
            Some(json!({"target_channels": targets.join(" ")})),
        )
        .await?;
    let resolving_at_save = warnings(&saved, "resolving").len();
    let budget =
        Duration::from_millis(args.directory_page_ms * pages as u64 * 3) + Duration::from_secs(180);
    let ready_at = loop {
        let settings = env
            .expect("GET", "/api/v1/orgs/bench/slack", &env.admin, None)
            .await?;
        if warnings(&settings, "resolving").is_empty() {
            let not_found = warnings(&settings, "not_found");
            if !not_found.is_empty() {
                bail!("after the build, the directory does not know {not_found:?}");
            }
            break Utc::now();
        }
        if wait_start.elapsed() > budget {
            bail!(
                "the channel directory was not built within {:.0} s",
                budget.as_secs_f64()
            );
        }
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    };
    let build = (ready_at - first_page).to_std().unwrap_or_default();
    let (list_calls, list_429) = fake::calls(env, "conversations.list", None).await?;
    // How the builder paced its pages: the gaps between two calls, and before each 429.
    let times = fake::call_times(env, "conversations.list").await?;
    let mut gaps: Vec<f64> = Vec::new();
    let mut before_429: Vec<f64> = Vec::new();
    for w in times.windows(2) {
        let gap = (w[1].0 - w[0].0).as_seconds_f64();
        gaps.push(gap);
        if w[1].1 {
            before_429.push(gap);
        }
    }
    let stat = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        match (v.first(), v.get(v.len() / 2), v.last()) {
            (Some(a), Some(m), Some(b)) => format!("{a:.3} / {m:.3} / {b:.3} s"),
            _ => "-".to_owned(),
        }
    };

    // Warm saves: each names three other channels (nothing cached from the last save).
    let mut latency = Latencies::default();
    let mut calls_per_save = Vec::new();
    for i in 0..args.directory_saves {
        let names = [
            name((17 + i).min(n)),
            name((n / 2 + 1 + i).min(n)),
            name(n.saturating_sub(1 + i).max(1)),
        ];
        let before = fake::call_count(env).await?;
        let start = Instant::now();
        let (status, body) = env
            .call(
                "PUT",
                "/api/v1/orgs/bench/slack",
                &env.admin,
                Some(json!({"target_channels": names.join(" ")})),
            )
            .await?;
        let took = start.elapsed();
        let after = fake::call_count(env).await?;
        if status != 200 {
            return Err(anyhow!("warm save {i}: HTTP {status} {body}"));
        }
        let left = body["channel_warnings"].as_array().map_or(0, Vec::len);
        if left > 0 {
            bail!("warm save {i} left warnings: {}", body["channel_warnings"]);
        }
        latency.samples.push(took);
        calls_per_save.push(after - before);
    }
    let max_calls = calls_per_save.iter().copied().max().unwrap_or(0);
    let total_calls: usize = calls_per_save.iter().sum();
    Ok(vec![
        row(
            format!(
                "directory of {n} channels: build ({pages} pages of 200, one per {} ms)",
                args.directory_page_ms
            ),
            format!(
                "{:.1} s from the first page, {list_calls} conversations.list calls; \
                 {resolving_at_save} of 3 names `resolving` at the save during the build",
                build.as_secs_f64()
            ),
            "",
        ),
        row(
            "directory build: conversations.list 429 answers",
            list_429.to_string(),
            "≤ 1",
        ),
        row(
            "directory build: gap between two list calls min / median / max (before a 429)",
            format!("{} ({})", stat(&mut gaps), stat(&mut before_429)),
            "",
        ),
        row(
            format!(
                "warm save of 3 channels in {n}, {} saves: p50 / max",
                latency.samples.len()
            ),
            format!("{} / {}", ms(latency.percentile(0.5)), ms(latency.max())),
            "≤ 200 ms",
        ),
        row(
            "warm save: Slack Web API calls per save (max, total)",
            format!("{max_calls} ({total_calls} in all)"),
            "≤ 1",
        ),
    ])
}

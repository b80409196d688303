//! Reports with their charts end to end (issue 25): `--report-runs` load tests, one per
//! project and channel (so pacing never delays one), each `running` → `finished` →
//! `report_available` with a 2,000-point series. From the report's 202 to the fake showing
//! the report message (`chat.postMessage`), and to the chart shared in the channel
//! (`files.completeUploadExternal`: drawn, three upload calls).

use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::args::BenchArgs;
use crate::env::{post_json, Env, EnvSpec, Posted};
use crate::report::{row, Row};
use crate::stats::Latencies;

/// The fake's bench channels with the app as a member (files are shared only there).
fn members(config: &mut fake_slack::FakeSlackConfig, _: &BenchArgs) {
    for c in config.channels.iter_mut() {
        c.is_member = true;
    }
}

pub fn spec(runs: usize) -> EnvSpec {
    let mut spec = EnvSpec::new("report", runs, runs);
    spec.tweak_fake = Some(members);
    spec
}

/// A 2,000-point series: a ramp, a plateau, noise.
fn series(points: usize) -> Value {
    let throughput: Vec<u32> = (0..points)
        .map(|i| ((i as f64 / 60.0).min(1.0) * 1200.0 + (i % 7) as f64 * 3.0) as u32)
        .collect();
    let p95: Vec<u32> = (0..points).map(|i| 600 + (i % 37) as u32).collect();
    json!({"interval_s": 2, "throughput": throughput, "p95_ms": p95})
}

/// A load-test event of project `project` whose definition is `def-{project}`, with a
/// report if given: (path, body).
pub fn event(lt: &str, project: &str, kind: &str, report: Option<&Value>) -> (String, Value) {
    let mut body = json!({
        "event_id": format!("{lt}-{kind}"), "org": "bench", "project": project,
        "type": kind,
        "load_test": {"name": format!("Bench load test {lt}"), "url": format!("https://xtc.example/lt/{lt}"),
                      "definition": {"id": format!("def-{project}")}},
    });
    if let Some(r) = report {
        body["report"] = r.clone();
    }
    (format!("/api/v1/load-tests/{lt}/events"), body)
}

/// Posts [`event`]; an answer other than 202 is an error.
pub async fn post(
    env: &Env,
    lt: &str,
    project: &str,
    kind: &str,
    report: Option<&Value>,
) -> anyhow::Result<Posted> {
    let (path, body) = event(lt, project, kind, report);
    let url = format!("{}{path}", env.server.base);
    let posted = post_json(&env.http, &url, Some(&env.service), &body).await;
    if posted.status != 202 {
        bail!("{kind} of {lt}: HTTP {}", posted.status);
    }
    Ok(posted)
}

pub async fn run(env: &Env, runs: usize) -> anyhow::Result<Vec<Row>> {
    let report = json!({
        "url": "https://xtc.example/reports/1", "kind": "final",
        "summary": {"throughput": 1180.5, "errors": 3, "requests": 700000, "p95_ms": 640},
        "series": series(2_000),
    });
    let mut accepted = Vec::with_capacity(runs);
    for p in 0..runs {
        let (lt, project) = (format!("rep-{p}"), format!("p{p}"));
        post(env, &lt, &project, "running", None).await?;
        post(env, &lt, &project, "finished", None).await?;
        // Let the run's first messages go out: the report is timed on an idle channel.
        actix_web::rt::time::sleep(Duration::from_millis(1_100)).await;
        let posted = post(env, &lt, &project, "report_available", Some(&report)).await?;
        accepted.push((lt.clone(), posted.at));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let files = loop {
        let files = env.fake_json("/files").await?;
        let list = files["files"].as_array().cloned().unwrap_or_default();
        if list.len() >= runs || Instant::now() > deadline {
            break list;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    let messages = env.fake_json("/messages").await?;
    let messages = messages["messages"].as_array().cloned().unwrap_or_default();
    let (mut message, mut chart) = (Latencies::default(), Latencies::default());
    for (lt, at) in &accepted {
        let name = format!("Bench load test {lt}:");
        let shared = files
            .iter()
            .find(|f| f["title"].as_str().is_some_and(|t| t.starts_with(&name)))
            .and_then(|f| f["uploaded_at"].as_str())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        match shared {
            Some(t) => chart
                .samples
                .push((t.with_timezone(&Utc) - *at).to_std().unwrap_or_default()),
            None => chart.errors += 1,
        }
        // The report's own message: the one whose text names the run's final report.
        let posted = messages
            .iter()
            .filter(|m| {
                m["text"].as_str().is_some_and(|t| {
                    t.contains(&format!("Bench load test {lt}")) && t.contains("Final report")
                })
            })
            .filter_map(|m| m["received_at"].as_str())
            .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
            .min();
        match posted {
            Some(rx) => message
                .samples
                .push((rx.with_timezone(&Utc) - *at).to_std().unwrap_or_default()),
            None => message.errors += 1,
        }
    }
    Ok(vec![
        row(
            format!("report 202 → report message p50 / p99 / max ({runs} runs, idle channels)"),
            message.summary(),
            "like end to end",
        ),
        row(
            "report 202 → its 2,000-point chart shared in the channel p50 / p99 / max",
            chart.summary(),
            "the channel's next slot (1 message/s) + 50 ms",
        ),
    ])
}

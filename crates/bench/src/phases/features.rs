//! The hot-path features end to end (issue 28, point 3): `--feature-events` events of each
//! feature and as many plain ones, one every 200 ms in turn, each on an idle channel of its
//! own, from the request being sent and from its 202 to the fake receiving the message:
//!
//! - plain: a load test `started` in a project with one target channel (the reference);
//! - rule: the same in a project whose rule sends `load_test.started` to another channel
//!   with `@here`; measured to the post in the rule's channel, which must ping `@here`;
//! - incident: a monitoring scenario's first failing result in a project with threads on,
//!   which opens an incident; measured to its card, which must carry the Acknowledge and
//!   Mute buttons;
//! - report: a final report of a run whose definition already has a reported run, so it is
//!   compared with that baseline; measured to the report message, which must carry the
//!   verdict.
//!
//! Channels: `bench-{k·n + i}` for feature `k` (0 plain, 1 rule targets, 2 rule channels,
//! 3 incidents, 4 reports) and event `i` of `n`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::env::{post_event, post_json, Env, EnvSpec, Posted};
use crate::fake;
use crate::phases::{paced, report};
use crate::report::{row, Row};
use crate::stats::Latencies;

/// Events a second, all features together: modest, so no channel and no queue is busy.
const RATE: u32 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Feature {
    Plain,
    Rule,
    Incident,
    Report,
}

const FEATURES: [Feature; 4] = [
    Feature::Plain,
    Feature::Rule,
    Feature::Incident,
    Feature::Report,
];

impl Feature {
    fn label(self) -> &'static str {
        match self {
            Self::Plain => "plain event (load test started)",
            Self::Rule => "rule: to its channel with @here",
            Self::Incident => "incident card with buttons (threads on)",
            Self::Report => "final report compared with its baseline",
        }
    }

    /// The channel event `i` of `n` is measured in.
    fn channel(self, i: usize, n: usize) -> String {
        let k = match self {
            Self::Plain => 0,
            Self::Rule => 2,
            Self::Incident => 3,
            Self::Report => 4,
        };
        format!("bench-{}", k * n + i)
    }

    /// What the measured message must name.
    fn name(self, i: usize) -> String {
        match self {
            Self::Plain => format!("Bench load test fp-{i}"),
            Self::Rule => format!("Bench load test fr-{i}"),
            Self::Incident => format!("Bench scenario fi-{i}"),
            Self::Report => format!("Bench load test fm-{i}"),
        }
    }

    /// Whether the message carries what the feature adds.
    fn carries_it(self, message: &Value) -> bool {
        let content = || {
            format!(
                "{} {} {}",
                fake::visible_text(message),
                message["blocks"],
                message["attachments"]
            )
        };
        match self {
            Self::Plain => true,
            Self::Rule => message["mentions"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m == "@here")),
            Self::Incident => {
                let c = content();
                c.contains(r#""type":"button""#) && c.contains("Acknowledge") && c.contains("Mute")
            }
            // The verdict, and the baseline line naming the previous run.
            Self::Report => {
                let c = content();
                c.contains("regression") && c.contains("the previous run")
            }
        }
    }
}

/// The plain events' projects `p0` … and their channels; the other projects are set up by
/// [`run`].
pub fn spec(n: usize) -> EnvSpec {
    EnvSpec::new("features", 5 * n, n)
}

/// A final report: the baseline's figures, or a run 25 % slower at P95 (a regression).
fn final_report(p95_ms: u32) -> Value {
    json!({
        "url": "https://xtc.example/reports/1", "kind": "final",
        "summary": {"throughput": 1180.5, "errors": 3, "requests": 700000, "p50_ms": 300,
                    "p95_ms": p95_ms, "p99_ms": 900, "error_rate": 0.0001},
    })
}

async fn project(env: &Env, name: &str, settings: Value) -> anyhow::Result<()> {
    let path = format!("/api/v1/orgs/bench/projects/{name}");
    env.expect("PUT", &path, &env.service, Some(json!({"name": name})))
        .await?;
    env.expect("PUT", &format!("{path}/slack"), &env.admin, Some(settings))
        .await?;
    Ok(())
}

/// The rule, incident and report projects; each report project's baseline run reported and
/// its measured run finished; then waits until every channel is idle.
async fn set_up(env: &Env, n: usize) -> anyhow::Result<()> {
    for i in 0..n {
        let channel = |k: usize| format!("#bench-{}", k * n + i);
        let rule =
            json!({"channel": channel(2), "events": ["load_test.started"], "mention": "@here"});
        let settings =
            json!({"send_messages": true, "target_channels": channel(1), "rules": [rule]});
        project(env, &format!("r{i}"), settings).await?;
        let settings =
            json!({"send_messages": true, "target_channels": channel(3), "threads": true});
        project(env, &format!("m{i}"), settings).await?;
        let settings = json!({"send_messages": true, "target_channels": channel(4)});
        let rp = format!("rp{i}");
        project(env, &rp, settings).await?;
        let (baseline, measured) = (format!("fb-{i}"), format!("fm-{i}"));
        for kind in ["running", "finished"] {
            report::post(env, &baseline, &rp, kind, None).await?;
        }
        let figures = final_report(640);
        report::post(env, &baseline, &rp, "report_available", Some(&figures)).await?;
        for kind in ["running", "finished"] {
            report::post(env, &measured, &rp, kind, None).await?;
        }
    }
    // Idle: no message for 1.5 s (Slack's channel slot is 1 s).
    if fake::wait_drained(env, Duration::from_millis(1_500))
        .await?
        .is_none()
    {
        anyhow::bail!("the set-up's messages were still being sent after 3 minutes");
    }
    Ok(())
}

/// What a request needs, owned: each runs on a task of its own.
#[derive(Clone)]
struct Api {
    http: awc::Client,
    base: String,
    service: String,
}

/// Sends event `i` of `feature`.
async fn send(api: Api, feature: Feature, i: usize) -> Posted {
    let (path, body) = match feature {
        Feature::Plain => {
            let lt = format!("fp-{i}");
            return post_event(&api.http, &api.base, &api.service, &lt, i, "started", i).await;
        }
        Feature::Rule => report::event(&format!("fr-{i}"), &format!("r{i}"), "started", None),
        Feature::Incident => (
            format!("/api/v1/monitoring/scenarios/fi-{i}/events"),
            json!({
                "event_id": format!("fi-{i}-1"), "org": "bench", "project": format!("m{i}"),
                "occurred_at": Utc::now().to_rfc3339(),
                "scenario": {"name": format!("Bench scenario fi-{i}"), "url": "https://xtc.example/mon/1"},
                "notify_via": ["slack"], "state": "failure",
                "execution": {"id": format!("x{i}"), "url": "https://xtc.example/mon/1/x", "location": "eu-west"},
                "failed_sensors": [{"name": "Page load < 3s", "message": "3.8s"}],
            }),
        ),
        Feature::Report => report::event(
            &format!("fm-{i}"),
            &format!("rp{i}"),
            "report_available",
            Some(&final_report(800)),
        ),
    };
    let url = format!("{}{path}", api.base);
    post_json(&api.http, &url, Some(&api.service), &body).await
}

/// One feature's figures.
#[derive(Default)]
struct Measured {
    from_request: Latencies,
    from_202: Latencies,
    /// Messages that carry what the feature adds.
    carrying: usize,
}

pub async fn run(env: &Env, n: usize) -> anyhow::Result<Vec<Row>> {
    set_up(env, n).await?;
    let api = Api {
        http: env.http.clone(),
        base: env.server.base.clone(),
        service: env.service.clone(),
    };
    let answers = paced::schedule(RATE, FEATURES.len() * n, |j| {
        let (feature, i) = (FEATURES[j % FEATURES.len()], j / FEATURES.len());
        let api = api.clone();
        async move { (feature, i, send(api, feature, i).await) }
    })
    .await;
    let sent: Vec<(Feature, usize, Posted)> = answers.into_iter().map(|(_, a)| a).collect();
    let messages = wait_for(env, &sent, n).await?;
    let mut measured: HashMap<Feature, Measured> = HashMap::new();
    for (feature, i, posted) in &sent {
        let m = measured.entry(*feature).or_default();
        let found = (posted.status == 202)
            .then(|| {
                first_message(
                    &messages,
                    &feature.channel(*i, n),
                    &feature.name(*i),
                    posted.sent,
                )
            })
            .flatten();
        match found {
            Some((rx, message)) => {
                let since = |t: DateTime<Utc>| (rx - t).to_std().unwrap_or_default();
                m.from_request.samples.push(since(posted.sent));
                m.from_202.samples.push(since(posted.at));
                m.carrying += usize::from(feature.carries_it(message));
            }
            None => {
                m.from_request.errors += 1;
                m.from_202.errors += 1;
            }
        }
    }
    let mut rows = vec![row(
        "features: load",
        format!("{n} events of each, {RATE} events/s in turn, each on an idle channel of its own"),
        "",
    )];
    for feature in FEATURES {
        let m = measured.remove(&feature).unwrap_or_default();
        let check = match feature {
            Feature::Plain => String::new(),
            Feature::Rule => format!(", @here in {}", m.carrying),
            Feature::Incident => format!(", buttons on {}", m.carrying),
            Feature::Report => format!(", a verdict against the baseline in {}", m.carrying),
        };
        rows.push(row(
            format!(
                "features, {}: request → message p50 / p99 / max",
                feature.label()
            ),
            format!(
                "{} (from the 202 {}), {} of {n} delivered{check}",
                m.from_request.summary(),
                m.from_202.summary(),
                m.from_request.samples.len(),
            ),
            if feature == Feature::Plain {
                "the reference"
            } else {
                "like the plain event"
            },
        ));
    }
    Ok(rows)
}

/// The fake's messages, read until every accepted event's message is there (or 30 s).
async fn wait_for(
    env: &Env,
    sent: &[(Feature, usize, Posted)],
    n: usize,
) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let doc = env.fake_json("/messages").await?;
        let messages = doc["messages"].as_array().cloned().unwrap_or_default();
        let all = sent
            .iter()
            .filter(|(_, _, posted)| posted.status == 202)
            .all(|(f, i, posted)| {
                first_message(&messages, &f.channel(*i, n), &f.name(*i), posted.sent).is_some()
            });
        if all || Instant::now() > deadline {
            return Ok(messages);
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first message of `channel` received at or after `since` that names `name`, with
/// when the fake received it.
fn first_message<'a>(
    messages: &'a [Value],
    channel: &str,
    name: &str,
    since: DateTime<Utc>,
) -> Option<(DateTime<Utc>, &'a Value)> {
    messages
        .iter()
        .filter(|m| m["channel_name"] == channel && fake::visible_text(m).contains(name))
        .filter_map(|m| Some((fake::time(&m["received_at"])?, m)))
        .filter(|(t, _)| *t >= since)
        .min_by_key(|(t, _)| *t)
}

//! What the fake Slack saw: which load tests its messages name, and when.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use fake_slack::FakeSlackHandle;
use serde_json::Value;

use crate::env::{Env, Posted};
use crate::stats::Latencies;

/// The name the bench gives every load test: "Bench load test {id}".
pub const NAME_PREFIX: &str = "Bench load test ";

/// Every load-test id named in `text` ("Bench load test {id}", all occurrences: a digest
/// names many). An id is the longest run of ASCII letters, digits and `-` after the
/// prefix, so "b-1," and "<url|Bench load test b-1>" both give `b-1`.
pub fn ids_in(text: &str) -> Vec<&str> {
    text.split(NAME_PREFIX)
        .skip(1)
        .filter_map(|rest| {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(rest.len());
            let id = rest[..end].trim_end_matches('-');
            (!id.is_empty()).then_some(id)
        })
        .collect()
}

/// An RFC 3339 time of the fake's JSON.
pub fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// What the fake's messages say about the bench's load tests.
#[derive(Default, Debug)]
pub struct Seen {
    /// When a message naming the load test first became visible (in its text as posted,
    /// or in a later edit's text: then the time of that edit), by id.
    pub visible: HashMap<String, DateTime<Utc>>,
    /// Messages naming at least one load test, with when each was posted.
    pub messages: Vec<DateTime<Utc>>,
    /// Names in those messages, counted with repetitions (one per message and id).
    pub names: usize,
}

impl Seen {
    /// Messages posted in `[from, to]`, and the load tests they name.
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> (usize, usize) {
        let messages = self
            .messages
            .iter()
            .filter(|t| **t >= from && **t <= to)
            .count();
        let named = self
            .visible
            .values()
            .filter(|t| **t >= from && **t <= to)
            .count();
        (messages, named)
    }
}

/// A JSON document of a fake's control API (`/messages`, `/calls?…`).
pub async fn control_json(
    http: &awc::Client,
    fake: &FakeSlackHandle,
    path: &str,
) -> anyhow::Result<Value> {
    let mut res = http
        .get(format!("{}{path}", fake.control_url()))
        .send()
        .await
        .map_err(|e| anyhow!("fake {path}: {e}"))?;
    Ok(serde_json::from_slice(
        &res.body().limit(1024 * 1024 * 1024).await?,
    )?)
}

/// The text a reader sees in a message version: its `text`, then its legacy attachments'
/// `pretext`, `title`, `text` and `fallback` (Alertmanager's messages have no `text` of
/// their own; xtc-slack's attachments hold blocks only).
pub fn visible_text(version: &Value) -> String {
    let mut out = version["text"].as_str().unwrap_or_default().to_owned();
    for a in version["attachments"].as_array().into_iter().flatten() {
        for key in ["pretext", "title", "text", "fallback"] {
            if let Some(t) = a[key].as_str() {
                out.push('\n');
                out.push_str(t);
            }
        }
    }
    out
}

/// Reads every message of the fake (`channel`: only that one) and finds the load tests
/// each names. A message's versions are its text as posted (`received_at`), then each
/// edit's, visible from the time the previous one was replaced.
pub async fn seen(env: &Env, channel: Option<&str>) -> anyhow::Result<Seen> {
    let path = match channel {
        Some(c) => format!("/messages?channel={c}"),
        None => "/messages".to_owned(),
    };
    Ok(seen_in(&env.fake_json(&path).await?))
}

/// [`seen`] of a `/messages` document.
pub fn seen_in(all: &Value) -> Seen {
    let mut out = Seen::default();
    for m in all["messages"].as_array().into_iter().flatten() {
        let Some(posted) = time(&m["received_at"]) else {
            continue;
        };
        // (text, visible since), oldest first: `edits` holds the earlier versions.
        let mut versions: Vec<(String, DateTime<Utc>)> = Vec::new();
        let mut since = posted;
        for e in m["edits"].as_array().into_iter().flatten() {
            versions.push((visible_text(e), since));
            since = time(&e["replaced_at"]).unwrap_or(since);
        }
        versions.push((visible_text(m), since));
        let mut named_here: Vec<&str> = Vec::new();
        for (text, at) in &versions {
            for id in ids_in(text) {
                if !named_here.contains(&id) {
                    named_here.push(id);
                }
                out.visible
                    .entry(id.to_owned())
                    .and_modify(|t| *t = (*t).min(*at))
                    .or_insert(*at);
            }
        }
        if !named_here.is_empty() {
            out.messages.push(posted);
            out.names += named_here.len();
        }
    }
    out.messages.sort();
    out
}

/// Reads the fake's messages (`fetch`) until every id of `ids` is visible, or `timeout`.
pub async fn wait_visible<'a, F, Fut>(
    ids: impl Iterator<Item = &'a String> + Clone,
    timeout: Duration,
    fetch: F,
) -> anyhow::Result<Seen>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Seen>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let seen = fetch().await?;
        let all = ids.clone().all(|id| seen.visible.contains_key(id));
        if all || Instant::now() > deadline {
            return Ok(seen);
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// End to end, both ways: from each request being sent and from its answer to the first
/// message naming it (a message read before the answer counts as 0), with how many of
/// `requests` were seen.
pub fn end_to_end(requests: &HashMap<String, Posted>, seen: &Seen) -> (Latencies, Latencies) {
    let (mut from_request, mut from_answer) = (Latencies::default(), Latencies::default());
    for (id, posted) in requests {
        match seen.visible.get(id) {
            Some(rx) => {
                let since = |t: DateTime<Utc>| (*rx - t).to_std().unwrap_or_default();
                from_request.samples.push(since(posted.sent));
                from_answer.samples.push(since(posted.at));
            }
            None => {
                from_request.errors += 1;
                from_answer.errors += 1;
            }
        }
    }
    (from_request, from_answer)
}

/// The fake's calls of one Web API method: (all, answered 429), optionally only those in
/// `[from, to]`.
pub async fn calls(
    env: &Env,
    method: &str,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> anyhow::Result<(usize, usize)> {
    let calls = env.fake_json(&format!("/calls?method={method}")).await?;
    let mut all = 0;
    let mut limited = 0;
    for c in calls["calls"].as_array().into_iter().flatten() {
        if let Some((from, to)) = window {
            match time(&c["at"]) {
                Some(at) if at >= from && at <= to => {}
                _ => continue,
            }
        }
        all += 1;
        if c["http_status"] == 429 {
            limited += 1;
        }
    }
    Ok((all, limited))
}

/// The times of the fake's calls of one Web API method, oldest first, with whether each
/// was answered 429.
pub async fn call_times(env: &Env, method: &str) -> anyhow::Result<Vec<(DateTime<Utc>, bool)>> {
    let calls = env.fake_json(&format!("/calls?method={method}")).await?;
    let mut out: Vec<(DateTime<Utc>, bool)> = calls["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((time(&c["at"])?, c["http_status"] == 429)))
        .collect();
    out.sort();
    Ok(out)
}

/// Waits (up to 3 minutes) until the fake got no `chat.postMessage` for `quiet`: a backlog
/// is sent. (Asking the server for pending deliveries would be a full scan of a seeded
/// history on every poll, loading the server being measured.) Returns when the last
/// message came, from the start of the wait (`None`: still sending after 3 minutes).
pub async fn wait_drained(env: &Env, quiet: Duration) -> anyhow::Result<Option<Duration>> {
    let start = Instant::now();
    let mut last = (calls(env, "chat.postMessage", None).await?.0, start);
    while start.elapsed() < Duration::from_secs(180) {
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
        let now = calls(env, "chat.postMessage", None).await?.0;
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= quiet {
            return Ok(Some(last.1 - start));
        }
    }
    Ok(None)
}

/// How many Web API calls (any method) the fake has recorded so far.
pub async fn call_count(env: &Env) -> anyhow::Result<usize> {
    let calls = env.fake_json("/calls").await?;
    Ok(calls["calls"].as_array().map_or(0, Vec::len))
}

/// The time of the first call of `method`, if any.
pub async fn first_call(env: &Env, method: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
    let calls = env.fake_json(&format!("/calls?method={method}")).await?;
    Ok(calls["calls"]
        .as_array()
        .and_then(|c| c.first())
        .and_then(|c| time(&c["at"])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attachments_text_is_read_too() {
        let alertmanager = serde_json::json!({"text": "", "attachments": [
            {"title": "am-1", "text": "Bench load test am-1", "color": "danger"}]});
        assert_eq!(ids_in(&visible_text(&alertmanager)), ["am-1"]);
        let blocks_only = serde_json::json!({"text": "Bench load test e-1",
            "attachments": [{"color": "#2eb67d", "blocks": []}]});
        assert_eq!(visible_text(&blocks_only), "Bench load test e-1");
    }

    #[test]
    fn every_name_of_a_digest() {
        let text = "12 load tests started: Bench load test b-1, Bench load test b-10, \
                    <https://x/lt/3|Bench load test b-3>\nBench load test b-4 (jane) …";
        assert_eq!(ids_in(text), ["b-1", "b-10", "b-3", "b-4"]);
        assert_eq!(ids_in("Load test *Bench load test e-7* started"), ["e-7"]);
        assert!(ids_in("nothing here").is_empty());
    }
}

//! What the fake Slack saw: which load tests its messages name, and when.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::env::Env;

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

fn time(v: &Value) -> Option<DateTime<Utc>> {
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

/// Reads every message of the fake (`channel`: only that one) and finds the load tests
/// each names. A message's versions are its text as posted (`received_at`), then each
/// edit's, visible from the time the previous one was replaced.
pub async fn seen(env: &Env, channel: Option<&str>) -> anyhow::Result<Seen> {
    let path = match channel {
        Some(c) => format!("/messages?channel={c}"),
        None => "/messages".to_owned(),
    };
    let all = env.fake_json(&path).await?;
    let mut out = Seen::default();
    for m in all["messages"].as_array().into_iter().flatten() {
        let Some(posted) = time(&m["received_at"]) else {
            continue;
        };
        // (text, visible since), oldest first: `edits` holds the earlier versions.
        let mut versions: Vec<(&str, DateTime<Utc>)> = Vec::new();
        let mut since = posted;
        for e in m["edits"].as_array().into_iter().flatten() {
            versions.push((e["text"].as_str().unwrap_or_default(), since));
            since = time(&e["replaced_at"]).unwrap_or(since);
        }
        versions.push((m["text"].as_str().unwrap_or_default(), since));
        let mut named_here: Vec<&str> = Vec::new();
        for (text, at) in versions {
            for id in ids_in(text) {
                if !named_here.contains(&id) {
                    named_here.push(id);
                }
                out.visible
                    .entry(id.to_owned())
                    .and_modify(|t| *t = (*t).min(at))
                    .or_insert(at);
            }
        }
        if !named_here.is_empty() {
            out.messages.push(posted);
            out.names += named_here.len();
        }
    }
    out.messages.sort();
    Ok(out)
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
    fn every_name_of_a_digest() {
        let text = "12 load tests started: Bench load test b-1, Bench load test b-10, \
                    <https://x/lt/3|Bench load test b-3>\nBench load test b-4 (jane) …";
        assert_eq!(ids_in(text), ["b-1", "b-10", "b-3", "b-4"]);
        assert_eq!(ids_in("Load test *Bench load test e-7* started"), ["e-7"]);
        assert!(ids_in("nothing here").is_empty());
    }
}

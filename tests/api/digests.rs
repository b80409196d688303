//! Digests (issue 17): many events waiting for one channel go out as a few messages, in
//! order, each event once, never merged across channels; a load test whose first event went
//! out in a digest gets its card with its next event.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::pipeline::{lt_body, messages, post_lt};

const BURST: usize = 60;

fn name(i: usize) -> String {
    format!("Batch run {i:02}")
}

/// Every `Batch run NN` a message names, in the order it names them.
fn named_in(m: &Value) -> Vec<usize> {
    let text = m["text"].as_str().unwrap_or_default();
    text.match_indices("Batch run ")
        .filter_map(|(at, _)| text[at + 10..].get(..2)?.parse().ok())
        .collect()
}

crate::test_both_backends! {
    async fn a_burst_into_one_channel_goes_out_as_digests_in_order_each_event_once(app: TestApp) {
        // Slack's pace (the fake's limit is on: 1 a second, burst 3), digests after 3 s.
        let fake = |c: &mut fake_slack::FakeSlackConfig| {
            c.rate_limit_per_sec = 1.0;
            c.rate_limit_burst = 3;
        };
        let Some(app) = try_spawn_fast_app_with_fake(app.backend, fake, |a| {
            a.channel_interval_ms = 1050;
            a.channel_burst = 2;
            a.digest_after_secs = 3;
        })
        .await
        else {
            return;
        };
        let admin = app
            .configure_acme(json!({"threads": true, "target_channels": "#load-tests #perf"}))
            .await;
        let posts = (0..BURST).map(|i| {
            let app = &app;
            async move {
                let mut body = lt_body(&format!("b{i}"), "started");
                body["load_test"]["name"] = json!(name(i));
                post_lt(app, &format!("lt-{i:02}"), body).await.0
            }
        });
        // In order, as one pipeline would send them.
        for p in posts {
            assert_eq!(p.await, 202);
        }
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.len(), 2 * BURST, "{log:#?}");
        assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
        for channel in ["load-tests", "perf"] {
            let got = messages(&app, channel, 1).await;
            let order: Vec<usize> = got.iter().flat_map(named_in).collect();
            assert_eq!(order, (0..BURST).collect::<Vec<_>>(), "#{channel}: each once, in order");
            assert!(got.len() < BURST / 2, "#{channel}: digests, not one message each ({} messages)", got.len());
            let digests: Vec<&Value> = got.iter().filter(|m| named_in(m).len() > 1).collect();
            assert!(!digests.is_empty());
            let first = digests[0]["text"].as_str().unwrap();
            assert!(first.contains(" load tests started: "), "{first}");
        }
        let calls = app.fake_get("/calls?method=chat.postMessage").await;
        let limited = calls["calls"].as_array().unwrap().iter().filter(|c| c["http_status"] == 429).count();
        assert!(limited <= 2, "{limited} × 429");

        // The next event of a load test that started in a digest posts its card. (Which
        // load tests a digest took depends on how fast the burst came in: ask the channel.)
        let got = messages(&app, "load-tests", 1).await;
        let in_digest = got
            .iter()
            .filter(|m| named_in(m).len() > 1)
            .flat_map(named_in)
            .last()
            .expect("a load test that started in a digest");
        let (status, _) = post_lt(&app, &format!("lt-{in_digest:02}"), {
            let mut body = lt_body(&format!("b{in_digest}-running"), "running");
            body["load_test"]["name"] = json!(name(in_digest));
            body
        })
        .await;
        assert_eq!(status, 202);
        app.settled_deliveries(&admin).await;
        let got = messages(&app, "load-tests", 1).await;
        let card = got.last().unwrap();
        assert!(card["thread_ts"].is_null(), "a card, not a reply: {card}");
        assert!(card["text"].as_str().unwrap().contains(&name(in_digest)), "{card}");
    }
}

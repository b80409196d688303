//! `GET /metrics`: Prometheus text whose figures move during a load-test lifecycle.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

pub fn lt_event(event_id: &str, kind: &str, name: &str) -> Value {
    let mut body = json!({
        "event_id": event_id, "org": "acme", "project": "webshop", "type": kind,
        "occurred_at": "2026-11-26T10:00:00Z",
        "load_test": {"name": name, "url": "https://xtc.example/lt/1", "started_by": "jane"},
    });
    if kind == "report_available" {
        body["report"] = json!({"url": "https://xtc.example/r/1", "kind": "final"});
    }
    body
}

pub async fn post_lt(app: &TestApp, lt: &str, body: Value) -> u16 {
    let token = app.service_token.clone();
    app.call(
        Method::POST,
        &format!("/api/v1/load-tests/{lt}/events"),
        Some(&token),
        Some(body),
    )
    .await
    .0
}

pub async fn scrape(app: &TestApp) -> String {
    let res = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain"), "{ct}");
    res.text().await.unwrap()
}

/// The value of one sample line (`name{labels}`), 0 when absent.
pub fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[actix_web::test]
async fn metrics_move_during_a_load_test_lifecycle() {
    let app = try_spawn_fast_app(Backend::Sqlite, |_| {}).await.unwrap();
    let before = scrape(&app).await;
    assert_eq!(
        sample(
            &before,
            "xtc_slack_events_received_total{kind=\"load_test\",outcome=\"accepted\"}"
        ),
        0.0
    );
    assert_eq!(sample(&before, "xtc_slack_queue_depth"), 0.0);
    assert!(
        before.contains("# TYPE xtc_slack_delivery_latency_seconds histogram"),
        "{before}"
    );

    app.configure_acme(json!({})).await;
    for (i, kind) in ["started", "running", "finished", "report_available"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            post_lt(
                &app,
                "lt-1",
                lt_event(&format!("m-{i}"), kind, "Metrics run")
            )
            .await,
            202
        );
    }
    assert_eq!(
        post_lt(&app, "lt-1", lt_event("m-0", "started", "Metrics run")).await,
        200
    );
    assert_eq!(
        post_lt(&app, "lt-1", lt_event("m-9", "running", "Metrics run")).await,
        409
    );
    let mid = scrape(&app).await;
    assert_eq!(
        sample(&mid, "xtc_slack_live_actors{kind=\"load_test\"}"),
        1.0,
        "{mid}"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let text = scrape(&app).await;
        if sample(&text, "xtc_slack_deliveries{status=\"sent\"}") >= 8.0
            || Instant::now() > deadline
        {
            break text;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    let lt = |outcome: &str| {
        sample(
            &after,
            &format!("xtc_slack_events_received_total{{kind=\"load_test\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(
        (lt("accepted"), lt("duplicate"), lt("rejected")),
        (4.0, 1.0, 1.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "xtc_slack_deliveries{status=\"sent\"}"),
        8.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, "xtc_slack_deliveries{status=\"pending\"}"),
        0.0
    );
    assert_eq!(sample(&after, "xtc_slack_queue_depth"), 0.0);
    assert_eq!(
        sample(
            &after,
            "xtc_slack_delivery_attempts_total{outcome=\"sent\"}"
        ),
        8.0
    );
    assert_eq!(
        sample(&after, "xtc_slack_delivery_latency_seconds_count"),
        8.0
    );
    assert!(sample(&after, "xtc_slack_delivery_latency_seconds_sum") > 0.0);
    assert!(
        sample(
            &after,
            "xtc_slack_slack_api_calls_total{method=\"chat.postMessage\",outcome=\"ok\"}"
        ) >= 8.0,
        "{after}"
    );
    // The install's code exchange and the channel lookup were counted too.
    assert_eq!(
        sample(
            &after,
            "xtc_slack_slack_api_calls_total{method=\"oauth.v2.access\",outcome=\"ok\"}"
        ),
        1.0
    );
    assert!(sample(&after, "xtc_slack_http_requests_total{status=\"2xx\"}") > 5.0);

    // A Slack error is counted by its code.
    app.fake_post(
        "/fail",
        json!({"method": "chat.postMessage", "error": "channel_not_found", "count": 2}),
    )
    .await;
    assert_eq!(
        post_lt(&app, "lt-2", lt_event("m-20", "started", "Other run")).await,
        202
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = scrape(&app).await;
        let failed = sample(&text, "xtc_slack_slack_api_calls_total{method=\"chat.postMessage\",outcome=\"channel_not_found\"}");
        // The attempt is counted once its outcome is stored, a moment after Slack answered.
        let recorded = sample(
            &text,
            "xtc_slack_delivery_attempts_total{outcome=\"failed\"}",
        );
        if failed >= 2.0 && recorded >= 2.0 {
            assert_eq!(
                sample(
                    &text,
                    "xtc_slack_delivery_attempts_total{outcome=\"failed\"}"
                ),
                2.0,
                "{text}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    // Another app counts for itself.
    let other = spawn_app().await;
    let fresh = scrape(&other).await;
    assert_eq!(
        sample(
            &fresh,
            "xtc_slack_delivery_attempts_total{outcome=\"sent\"}"
        ),
        0.0
    );
}

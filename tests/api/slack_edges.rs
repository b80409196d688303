//! Slack's rarer edges and late inputs: answers that are not a Slack reply, monitoring
//! results that arrive after newer ones, request bodies that trickle in.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;
use crate::pipeline::{lt_body, messages, post_lt, post_mon};

crate::test_both_backends! {
    async fn answers_that_are_not_a_slack_reply_are_retried(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        // A proxy's HTML page with 200, an empty body, truncated JSON, a cut connection.
        let failures = [
            json!({"body": "<html><body>502 Bad Gateway</body></html>"}),
            json!({"body": ""}),
            json!({"body": "{\"ok\":true,\"chan"}),
            json!({"cut": true}),
        ];
        for (i, failure) in failures.iter().enumerate() {
            let mut f = failure.clone();
            f["method"] = json!("chat.postMessage");
            f["count"] = json!(1);
            let set = app.fake_post("/fail", f).await;
            assert_eq!(set["ok"], true, "{set}");
            let (status, body) = post_lt(&app, &format!("lt-{i}"), lt_body(&format!("e-{i}"), "started")).await;
            assert_eq!(status, 202, "{body}");
            let log = app.settled_deliveries(&admin).await;
            let row = log.iter().find(|d| d["event_id"] == format!("e-{i}")).unwrap();
            assert_eq!(
                (row["status"].as_str(), row["attempts"].as_i64()),
                (Some("sent"), Some(2)),
                "{failure}: {row:#?}"
            );
        }
        assert_eq!(messages(&app, "load-tests", 4).await.len(), 4);
    }
}

fn scenario_result(id: &str, state: &str, at: &str) -> Value {
    json!({
        "event_id": id, "org": "acme", "project": "webshop", "occurred_at": at,
        "scenario": {"name": "Shop checkout", "url": "https://xtc.example/mon/77"},
        "notify_via": ["slack"], "state": state,
        "execution": {"id": id, "url": "https://xtc.example/ex/1", "location": "eu-west"},
        "failed_sensors": if state == "ok" { json!([]) } else { json!([{"name": "Page load < 3s", "message": "3.8s"}]) },
    })
}

crate::test_both_backends! {
    async fn late_monitoring_results_change_nothing_and_say_so(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        // ok at T, failure at T+5m, ok at T+10m, then the failure of T+7m arrives late.
        for (id, state, at) in [
            ("a-1", "ok", "2026-11-26T10:00:00Z"),
            ("a-2", "failure", "2026-11-26T10:05:00Z"),
            ("a-3", "ok", "2026-11-26T10:10:00Z"),
        ] {
            let (status, body) = post_mon(&app, "sc-a", scenario_result(id, state, at)).await;
            assert_eq!((status, body["stale"].as_bool()), (202, None), "{body}");
        }
        let (status, body) = post_mon(&app, "sc-a", scenario_result("a-late", "failure", "2026-11-26T10:07:00Z")).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["stale"], true, "{body}");
        assert_eq!(body["state"], "ok", "{body}");
        // Its repeat is a duplicate as usual.
        let (status, body) = post_mon(&app, "sc-a", scenario_result("a-late", "failure", "2026-11-26T10:07:00Z")).await;
        assert_eq!((status, &body["duplicate"]), (200, &json!(true)), "{body}");

        // ok at T, failure at T+10m, then a late ok of T+5m: still failing, no recovery.
        for (id, state, at) in [
            ("b-1", "ok", "2026-11-26T10:00:00Z"),
            ("b-2", "failure", "2026-11-26T10:10:00Z"),
            ("b-late", "ok", "2026-11-26T10:05:00Z"),
        ] {
            assert_eq!(post_mon(&app, "sc-b", scenario_result(id, state, at)).await.0, 202);
        }
        // The next real change still works: the scenario recovers at T+15m.
        let (status, body) = post_mon(&app, "sc-b", scenario_result("b-3", "ok", "2026-11-26T10:15:00Z")).await;
        assert_eq!((status, body["state"].as_str()), (202, Some("ok")), "{body}");

        let log = app.settled_deliveries(&admin).await;
        let sent: Vec<&str> = log
            .iter()
            .filter(|d| d["status"] == "sent")
            .filter_map(|d| d["event_id"].as_str())
            .collect();
        // a-2 failing, a-3 recovered, b-2 failing, b-3 recovered; nothing for the late ones.
        assert_eq!(sent.len(), 4, "{log:#?}");
        for late in ["a-late", "b-late"] {
            assert!(!sent.contains(&late), "{log:#?}");
            let row = log.iter().find(|d| d["event_id"] == late).unwrap_or_else(|| panic!("{late} not in the log: {log:#?}"));
            assert_eq!(row["status"], "skipped", "{row:#?}");
            let error = row["error"].as_str().unwrap_or_default();
            assert!(error.starts_with("stale result:"), "{row:#?}");
            let message = row["error_message"].as_str().unwrap_or_default();
            assert!(message.contains("arrived late"), "{row:#?}");
        }
        let got = messages(&app, "load-tests", 4).await;
        assert_eq!(got.len(), 4, "{got:#?}");
    }
}

crate::test_both_backends! {
    async fn a_request_body_that_trickles_in_is_cut(app: TestApp) {
        let Some(app) = try_spawn_app_with(app.backend, |args| args.request_body_timeout_secs = 1).await else { return };
        let (port, token) = (app.port, app.service_token.clone());
        // A blocking client on its own thread: the server runs on this one.
        let (answer, elapsed) = actix_web::rt::task::spawn_blocking(move || trickle(port, &token))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
        assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    }
}

/// Sends an authenticated event's headers and then a byte of its body every 300 ms until
/// the server answers and closes (at most 20 s); returns the answer and how long it took.
fn trickle(port: u16, token: &str) -> (String, Duration) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let head = format!(
        "POST /api/v1/load-tests/lt-1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{{\"event_id\""
    );
    stream.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(20) {
        let _ = stream.write_all(b" ");
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

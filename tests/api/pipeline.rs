//! The notification pipeline end to end: events in over HTTP, messages out to the fake
//! Slack over HTTP, on a real database.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use xtc_slack::settings::ServeArgs;

use crate::helpers::*;

pub(crate) fn lt_body(event_id: &str, kind: &str) -> Value {
    let mut body = json!({
        "event_id": event_id, "org": "acme", "project": "webshop", "type": kind,
        "occurred_at": "2026-11-26T10:00:00Z",
        "load_test": {"name": "Checkout peak 2000 users", "url": "https://xtc.example/lt/123", "started_by": "jane"},
    });
    match kind {
        "error" => {
            body["error"] = json!({"step": "provision_agents", "message": "no capacity in eu-west"})
        }
        "intermediate_report" | "report_available" => {
            body["report"] = json!({
                "url": format!("https://xtc.example/reports/{event_id}"),
                "kind": if kind == "report_available" { "final" } else { "intermediate" },
                "summary": {"throughput": 1234.5, "errors": 12, "p95_ms": 810}
            })
        }
        "aborted" => body["aborted_by"] = json!("joe"),
        _ => {}
    }
    body
}

pub(crate) async fn post_lt(app: &TestApp, lt: &str, body: Value) -> (u16, Value) {
    let token = app.service_token.clone();
    app.call(
        Method::POST,
        &format!("/api/v1/load-tests/{lt}/events"),
        Some(&token),
        Some(body),
    )
    .await
}

pub(crate) async fn post_mon(app: &TestApp, scenario: &str, body: Value) -> (u16, Value) {
    let token = app.service_token.clone();
    app.call(
        Method::POST,
        &format!("/api/v1/monitoring/scenarios/{scenario}/events"),
        Some(&token),
        Some(body),
    )
    .await
}

/// Messages the fake received in `channel`, waiting until there are at least `n`.
pub(crate) async fn messages(app: &TestApp, channel: &str, n: usize) -> Vec<Value> {
    // Longer than a claim's lease (30 s): a delivery claimed by an instance that was stopped
    // abruptly (the restart tests) is sent by another only once that lease has expired.
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let got = app.fake_get(&format!("/messages?channel={channel}")).await["messages"]
            .as_array()
            .unwrap()
            .clone();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

const LIFECYCLE: [&str; 6] = [
    "started",
    "running",
    "intermediate_report",
    "intermediate_report",
    "finished",
    "report_available",
];

/// Everything a message shows: the fallback text, the headline blocks and the
/// colour-barred attachment.
fn text_of(m: &Value) -> String {
    format!(
        "{} {} {}",
        m["text"].as_str().unwrap_or_default(),
        m["blocks"],
        m["attachments"]
    )
}

crate::test_both_backends! {
    async fn a_full_lifecycle_arrives_in_every_target_channel_in_order(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({})).await;
        for (i, kind) in LIFECYCLE.iter().enumerate() {
            let (status, body) = post_lt(&app, "lt-123", lt_body(&format!("ev-{i}"), kind)).await;
            assert_eq!(status, 202, "{kind}: {body}");
            assert_eq!(body["event_id"], format!("ev-{i}"));
            // One at a time in both channels, so no intermediate report is superseded by a
            // backlog (the channels are sent to independently: one may lag under load).
            messages(&app, "load-tests", i + 1).await;
            messages(&app, "perf", i + 1).await;
        }
        for channel in ["load-tests", "perf"] {
            let got = messages(&app, channel, 6).await;
            assert_eq!(got.len(), 6, "{channel}: {got:#?}");
            let titles = ["Load test started", "Load test running", "Intermediate report available",
                          "Intermediate report available", "Load test finished", "Final report available"];
            for (m, title) in got.iter().zip(titles) {
                let text = text_of(m);
                assert!(text.contains(title), "{channel}: expected {title} in {text}");
                assert!(text.contains("Checkout peak 2000 users"));
                assert!(text.contains("Acme Corp") && text.contains("Webshop"));
                assert!(m["thread_ts"].is_null(), "threads are off");
            }
            assert!(text_of(&got[0]).contains(r#""text":"     Started by: ","type":"text"},{"text":"jane""#), "bold label, exact name");
            assert!(text_of(&got[5]).contains("https://xtc.example/reports/ev-5"));
            assert!(text_of(&got[5]).contains(r#""text":"Throughput: ","type":"text"},{"text":"1,234.5 req/s""#));
        }
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.len(), 12);
        assert!(log.iter().all(|d| d["status"] == "sent" && d["attempts"] == 1), "{log:#?}");
        assert!(log.iter().all(|d| d["sent_at"].is_string() && d["created_at"].is_string()));
        assert_eq!(log[0]["event_id"], "ev-5", "newest first");
    }
}

crate::test_both_backends! {
    async fn with_threads_later_messages_reply_to_an_edited_run_card(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        app.configure_acme(json!({"threads": true, "target_channels": "#load-tests"})).await;
        let kinds = ["started", "running", "error"];
        for (i, kind) in kinds.iter().enumerate() {
            assert_eq!(post_lt(&app, "lt-9", lt_body(&format!("t-{i}"), kind)).await.0, 202);
            messages(&app, "load-tests", i + 1).await;
        }
        let got = messages(&app, "load-tests", 3).await;
        assert_eq!(got.len(), 3, "{got:#?}");
        let parent = &got[0];
        assert!(parent["thread_ts"].is_null());
        let parent_ts = parent["ts"].as_str().unwrap();
        for reply in &got[1..] {
            assert_eq!(reply["thread_ts"], parent_ts, "{reply:#?}");
        }
        assert_eq!(got[1]["reply_broadcast"], false);
        assert_eq!(got[2]["reply_broadcast"], true, "errors are also sent to the channel");
        assert!(text_of(&got[2]).contains("no capacity in eu-west"));
        // The parent is edited into the current state (a run card); card edits go out on
        // their own, so two pending edits may collapse into one.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut got = got;
        while !text_of(&got[0]).contains("no capacity in eu-west") && Instant::now() < deadline {
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            got = messages(&app, "load-tests", 3).await;
        }
        let parent = &got[0];
        let edits = parent["edits"].as_array().unwrap();
        assert!((1..=2).contains(&edits.len()), "{parent:#?}");
        assert!(text_of(parent).contains("Failed"), "{}", text_of(parent));
        assert!(text_of(parent).contains("no capacity in eu-west"));
    }
}

crate::test_both_backends! {
    async fn a_disabled_project_under_an_enabled_org_sends_nothing(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({})).await;
        let (status, body) = app
            .call(Method::PUT, "/api/v1/orgs/acme/projects/webshop/slack", Some(&admin), Some(json!({"send_messages": false})))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(post_lt(&app, "lt-1", lt_body("d-1", "started")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.len(), 2, "{log:#?}");
        for d in &log {
            assert_eq!(d["status"], "skipped");
            assert!(d["error"].as_str().unwrap().contains("disabled for this project"));
        }
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        assert!(messages(&app, "load-tests", 0).await.is_empty());
    }
}

crate::test_both_backends! {
    async fn duplicates_invalid_transitions_and_bad_input_are_refused(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        assert_eq!(post_lt(&app, "lt-1", lt_body("e-1", "started")).await.0, 202);
        let (status, body) = post_lt(&app, "lt-1", lt_body("e-1", "started")).await;
        assert_eq!(status, 200);
        assert_eq!(body, json!({"event_id": "e-1", "state": "started", "duplicate": true}));

        let (status, body) = post_lt(&app, "lt-1", lt_body("e-2", "finished")).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!((body["error"].as_str(), body["from"].as_str(), body["to"].as_str()),
                   (Some("invalid_transition"), Some("started"), Some("finished")));

        let mut unknown = lt_body("e-3", "started");
        unknown["project"] = json!("nope");
        assert_eq!(post_lt(&app, "lt-2", unknown).await.0, 404);

        let mut no_type = lt_body("e-4", "started");
        no_type.as_object_mut().unwrap().remove("type");
        let (status, body) = post_lt(&app, "lt-3", no_type).await;
        assert_eq!((status, body["field"].as_str()), (422, Some("type")));

        let (status, body) = post_lt(&app, "lt-3", lt_body("e-5", "exploded")).await;
        assert_eq!((status, body["field"].as_str()), (422, Some("type")));

        let mut no_error = lt_body("e-6", "error");
        no_error.as_object_mut().unwrap().remove("error");
        let (status, body) = post_lt(&app, "lt-1", no_error).await;
        assert_eq!((status, body["field"].as_str()), (422, Some("error")));

        let mut no_report = lt_body("e-7", "report_available");
        no_report.as_object_mut().unwrap().remove("report");
        let (status, body) = post_lt(&app, "lt-1", no_report).await;
        assert_eq!((status, body["field"].as_str()), (422, Some("report")));

        let mut nameless = lt_body("e-8", "running");
        nameless.as_object_mut().unwrap().remove("load_test");
        let (status, body) = post_lt(&app, "lt-new", nameless).await;
        assert_eq!((status, body["field"].as_str()), (422, Some("load_test.name")));

        let (status, _) = post_lt(&app, "Bad_Id", lt_body("e-9", "started")).await;
        assert_eq!(status, 400);

        let admin = app.admin_token("acme");
        let (status, _) = app.call(Method::POST, "/api/v1/load-tests/lt-1/events", Some(&admin), Some(lt_body("e-10", "running"))).await;
        assert_eq!(status, 403, "admins do not push events");

        // The only message is the one of the first event.
        let got = messages(&app, "load-tests", 1).await;
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(messages(&app, "load-tests", 1).await.len(), 1, "{got:#?}");

        // A repeat answers as the first time did, even where replaying it would now be
        // refused (lt-1 has moved on; a load test's first event needs a name).
        assert_eq!(post_lt(&app, "lt-1", lt_body("e-11", "running")).await.0, 202);
        for (lt, body) in [
            ("lt-1", lt_body("e-1", "started")),
            ("lt-1", lt_body("e-11", "running")),
        ] {
            let (status, answer) = post_lt(&app, lt, body).await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["duplicate"], json!(true), "{answer}");
        }
        let (status, answer) = post_lt(&app, "lt-1", lt_body("e-11", "running")).await;
        assert_eq!((status, answer["state"].as_str()), (200, Some("running")));
    }
}

crate::test_both_backends! {
    async fn user_text_is_escaped_so_nobody_is_pinged(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        let mut body = lt_body("x-1", "started");
        body["load_test"]["name"] = json!("<!channel> x *bold* _it_");
        assert_eq!(post_lt(&app, "lt-x", body).await.0, 202);
        let got = messages(&app, "load-tests", 1).await;
        let all = text_of(&got[0]);
        assert!(!all.contains("<!channel>"), "{all}");
        assert!(all.contains("&lt;!channel&gt; x *bold* _it_"), "{all}");
    }
}

crate::test_both_backends! {
    async fn monitoring_notifies_on_changes_only(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        let event = |id: &str, state: &str, at: &str, notify: &[&str]| json!({
            "event_id": id, "org": "acme", "project": "webshop", "occurred_at": at,
            "scenario": {"name": "Shop checkout", "url": "https://xtc.example/mon/77"},
            "notify_via": notify, "state": state,
            "execution": {"id": "x1", "url": "https://xtc.example/ex/1", "location": "eu-west"},
            "failed_sensors": if state == "ok" { json!([]) } else { json!([{"name": "Page load < 3s", "message": "3.8s"}]) },
        });
        let steps = [
            ("m-1", "failure", "2026-11-26T10:00:00Z"),
            ("m-2", "failure", "2026-11-26T10:01:00Z"),
            ("m-3", "fatal", "2026-11-26T10:02:00Z"),
            ("m-4", "ok", "2026-11-26T10:05:05Z"),
            ("m-5", "ok", "2026-11-26T10:06:00Z"),
        ];
        for (id, state, at) in steps {
            let (status, body) = post_mon(&app, "shop-checkout", event(id, state, at, &["email", "slack"])).await;
            assert_eq!(status, 202, "{body}");
            assert_eq!(body["state"], state);
        }
        let got = messages(&app, "load-tests", 3).await;
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(text_of(&got[0]).contains("Scenario failing") && text_of(&got[0]).contains(r#""text":"Page load &lt; 3s","type":"text"},{"text":": 3.8s""#));
        assert!(text_of(&got[1]).contains("Severity raised") && text_of(&got[1]).contains("fatal (was failure)"));
        // An escalation looks at least as severe as the failure: a siren, never orange.
        assert!(text_of(&got[1]).contains("rotating_light") && !text_of(&got[1]).contains("orange"), "{}", text_of(&got[1]));
        assert!(text_of(&got[2]).contains("Scenario recovered") && text_of(&got[2]).contains("5m 5s"), "{}", text_of(&got[2]));
        // A scenario that does not notify via Slack sends nothing.
        assert_eq!(post_mon(&app, "other", event("n-1", "fatal", "2026-11-26T10:00:00Z", &["email"])).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.len(), 3, "{log:#?}");
        assert_eq!(messages(&app, "load-tests", 3).await.len(), 3);
    }
}

crate::test_both_backends! {
    async fn a_429_is_waited_out_and_the_message_arrives_once(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        app.fake_post("/fail", json!({"method": "chat.postMessage", "count": 1, "http_status": 429, "retry_after": 2})).await;
        let start = Instant::now();
        assert_eq!(post_lt(&app, "lt-1", lt_body("r-1", "started")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log[0]["status"], "sent", "{log:#?}");
        assert_eq!(log[0]["attempts"], 2);
        assert!(start.elapsed() >= Duration::from_secs(2), "waited for Retry-After");
        assert_eq!(messages(&app, "load-tests", 1).await.len(), 1);
    }
}

crate::test_both_backends! {
    async fn server_errors_are_retried_until_delivered(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        app.fake_post("/fail", json!({"method": "chat.postMessage", "count": 3, "http_status": 500})).await;
        assert_eq!(post_lt(&app, "lt-1", lt_body("s-1", "started")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!((log[0]["status"].as_str(), log[0]["attempts"].as_i64()), (Some("sent"), Some(4)), "{log:#?}");
        assert_eq!(messages(&app, "load-tests", 1).await.len(), 1);
    }
}

crate::test_both_backends! {
    async fn transient_errors_give_up_after_the_attempt_limit(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |a| a.max_attempts = 3).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        app.fake_post("/fail", json!({"method": "chat.postMessage", "count": 10, "http_status": 503})).await;
        assert_eq!(post_lt(&app, "lt-1", lt_body("g-1", "started")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log[0]["status"], "failed", "{log:#?}");
        assert_eq!(log[0]["attempts"], 3);
        assert!(log[0]["error"].as_str().unwrap().contains("gave up after 3 attempts"));
    }
}

crate::test_both_backends! {
    async fn channel_errors_fail_at_once_and_other_channels_keep_flowing(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({})).await;
        // #perf is archived after it was configured.
        let changed = app.fake_post("/channels", json!({"name": "perf", "is_archived": true})).await;
        assert_eq!(changed["ok"], true, "{changed}");
        assert_eq!(post_lt(&app, "lt-1", lt_body("c-1", "started")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        let by_channel = |c: &str| log.iter().find(|d| d["channel"] == c).unwrap().clone();
        assert_eq!(by_channel("#perf")["status"], "failed", "{log:#?}");
        assert_eq!(by_channel("#perf")["error"], "is_archived");
        assert_eq!(by_channel("#perf")["attempts"], 1);
        assert_eq!(by_channel("#load-tests")["status"], "sent");
    }
}

crate::test_both_backends! {
    async fn a_revoked_token_breaks_the_integration_visibly(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        app.fake_post("/tokens/revoke", json!({"all": true})).await;
        assert_eq!(post_lt(&app, "lt-1", lt_body("v-1", "started")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log[0]["status"], "failed");
        assert!(log[0]["error"].as_str().unwrap().contains("token_revoked"), "{log:#?}");
        let (_, settings) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&admin), None).await;
        assert_eq!(settings["integration"]["status"], "revoked", "{settings}");
        // Later events are recorded as skipped: the configuration is incomplete now.
        assert_eq!(post_lt(&app, "lt-1", lt_body("v-2", "running")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log[0]["status"], "skipped", "{log:#?}");
        assert_eq!(app.fake_get("/calls?method=chat.postMessage").await["calls"].as_array().unwrap().len(), 1);
    }
}

crate::test_both_backends! {
    async fn superseded_intermediate_reports_are_skipped_when_a_channel_has_a_backlog(app: TestApp) {
        // One message per channel and second: the reports queue up behind each other.
        let Some(app) = try_spawn_fast_app(app.backend, |a| { a.channel_interval_ms = 1000; a.channel_burst = 1; }).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        let kinds = ["running", "intermediate_report", "intermediate_report", "intermediate_report", "finished"];
        for (i, kind) in kinds.iter().enumerate() {
            assert_eq!(post_lt(&app, "lt-1", lt_body(&format!("b-{i}"), kind)).await.0, 202);
        }
        let log = app.settled_deliveries(&admin).await;
        let status: Vec<(&str, &str)> = log.iter().rev().map(|d| (d["event_id"].as_str().unwrap(), d["status"].as_str().unwrap())).collect();
        assert_eq!(status, vec![("b-0", "sent"), ("b-1", "skipped"), ("b-2", "skipped"), ("b-3", "sent"), ("b-4", "sent")], "{log:#?}");
        let got = messages(&app, "load-tests", 3).await;
        assert!(text_of(&got[1]).contains("reports/b-3"), "only the newest report is sent");
        assert!(text_of(&got[2]).contains("Load test finished"));
    }
}

/// Runs a server in a thread with its own actix system, like a separate process: when
/// it is stopped, its actors (and their in-flight work) die with it.
pub(crate) struct Instance {
    address: String,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Instance {
    pub(crate) fn start(args: ServeArgs) -> Instance {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let port = listener.local_addr().unwrap().port();
                let settings = xtc_slack::settings::Settings::from_args(args).unwrap();
                let app = xtc_slack::startup::Application::build_with_listener(settings, listener)
                    .await
                    .unwrap();
                tx.send((port, app.handle())).unwrap();
                app.run_until_stopped().await.unwrap();
            });
        });
        let (port, handle) = rx.recv().unwrap();
        Instance {
            address: format!("http://127.0.0.1:{port}"),
            handle,
            thread: Some(thread),
        }
    }

    pub(crate) async fn stop(mut self) {
        self.handle.stop(false).await;
        let thread = self.thread.take().unwrap();
        actix_web::rt::task::spawn_blocking(move || thread.join().unwrap())
            .await
            .unwrap();
    }
}

pub(crate) fn args_for(app: &TestApp, configure: impl FnOnce(&mut ServeArgs)) -> ServeArgs {
    let mut args = test_args(&app.db.url);
    args.slack_client_id = Some("fake-client-id".into());
    args.slack_client_secret = Some("fake-client-secret".into());
    args.slack_api_url = app.fake().api_url();
    args.slack_authorize_url = app.fake().authorize_url();
    args.channel_interval_ms = 5;
    configure(&mut args);
    args
}

async fn post_to(app: &TestApp, base: &str, lt: &str, body: Value) -> u16 {
    app.http
        .post(format!("{base}/api/v1/load-tests/{lt}/events"))
        .bearer_auth(&app.service_token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn named(event_id: &str, lt: usize) -> Value {
    let mut body = lt_body(event_id, "started");
    body["load_test"]["name"] = json!(format!("Load test number {lt}"));
    body
}

/// Each name appears in exactly one message of `channel` (waits for `n` messages).
async fn assert_each_once(app: &TestApp, channel: &str, n: usize) {
    let got = messages(app, channel, n).await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let got = if got.len() == n {
        messages(app, channel, n).await
    } else {
        got
    };
    assert_eq!(got.len(), n, "messages in #{channel}");
    for lt in 0..n {
        // The fallback text reads "Load test started: Load test number 7 (Acme Corp / Webshop)".
        let needle = format!("Load test number {lt} (");
        let hits = got
            .iter()
            .filter(|m| m["text"].as_str().unwrap_or_default().contains(&needle))
            .count();
        assert_eq!(hits, 1, "load test {lt} was sent {hits} times");
    }
}

crate::test_both_backends! {
    async fn a_restart_delivers_every_accepted_event_exactly_once(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        // Slack is down: every call hangs for 2 s, then fails with 503, until further notice;
        // the first instance is stopped with calls in flight, its deliveries claimed.
        app.fake_post("/fail", json!({"method": "*", "count": 100000, "http_status": 503, "delay_ms": 2000})).await;
        let first = Instance::start(args_for(&app, |a| { a.max_attempts = 1000; a.retry_base_ms = 100; }));
        for lt in 0..10 {
            assert_eq!(post_to(&app, &first.address, &format!("lt-{lt}"), named(&format!("r-{lt}"), lt)).await, 202);
        }
        // Let the first instance try (and fail) a while, then stop it with work pending.
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
        first.stop().await;
        let admin = app.admin_token("acme");
        let (_, log) = app.call(Method::GET, "/api/v1/orgs/acme/projects/webshop/slack/deliveries", Some(&admin), None).await;
        let pending = log["deliveries"].as_array().unwrap().iter().filter(|d| d["status"] == "pending").count();
        assert!(pending > 0, "work was pending at the stop: {log}");
        assert!(messages(&app, "load-tests", 0).await.is_empty());
        // Slack is back; a new instance on the same database picks everything up.
        app.fake_post("/fail", json!({"method": "*", "count": 0})).await;
        let second = Instance::start(args_for(&app, |_| {}));
        assert_each_once(&app, "load-tests", 10).await;
        let log = app.settled_deliveries(&admin).await;
        assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
        second.stop().await;
    }
}

#[actix_web::test]
async fn two_instances_on_one_postgres_database_send_each_message_exactly_once() {
    let Some(app) = try_spawn_fast_app(Backend::Postgres, |_| {}).await else {
        eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set");
        return;
    };
    app.configure_acme(json!({"target_channels": "#load-tests"}))
        .await;
    let other = Instance::start(args_for(&app, |_| {}));
    let bases = [app.address.clone(), other.address.clone()];
    let posts = (0..200).map(|lt| {
        let base = bases[lt % 2].clone();
        let app = &app;
        async move {
            post_to(
                app,
                &base,
                &format!("lt-{lt}"),
                named(&format!("p-{lt}"), lt),
            )
            .await
        }
    });
    let statuses = futures_util::future::join_all(posts).await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    assert_each_once(&app, "load-tests", 200).await;
    let calls = app.fake_get("/calls?method=chat.postMessage").await["calls"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(calls, 200, "no message was posted twice");
    // Both instances did part of the work.
    use diesel::prelude::*;
    use xtc_slack::db::schema::deliveries;
    let mut conn = app.db.connect();
    let senders: Vec<Option<String>> = deliveries::table
        .select(deliveries::claimed_by)
        .distinct()
        .load(&mut conn)
        .unwrap();
    assert_eq!(senders.len(), 2, "{senders:?}");
    other.stop().await;
}

crate::test_both_backends! {
    async fn the_actor_of_a_finished_load_test_stops_at_once(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        let live = |text: &str| {
            text.lines()
                .find(|l| l.starts_with("xtc_slack_live_actors{kind=\"load_test\"}"))
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_owned)
        };
        for (i, kind) in ["started", "running", "finished", "report_available"].iter().enumerate() {
            assert_eq!(post_lt(&app, "lt-1", lt_body(&format!("a-{i}"), kind)).await.0, 202);
        }
        assert_eq!(post_lt(&app, "lt-2", lt_body("b-0", "started")).await.0, 202);
        assert_eq!(post_lt(&app, "lt-3", lt_body("c-0", "started")).await.0, 202);
        let mut error = lt_body("c-1", "error");
        error.as_object_mut().unwrap().remove("load_test");
        assert_eq!(post_lt(&app, "lt-3", error).await.0, 202);
        // Only lt-2 is still in flight; reported and failed load tests hold no actor.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
            if live(&text).as_deref() == Some("1") { break; }
            assert!(Instant::now() < deadline, "{:?}", live(&text));
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        // A repeat of a final event still answers as before.
        let (status, body) = post_lt(&app, "lt-1", lt_body("a-3", "report_available")).await;
        assert_eq!((status, body["state"].as_str()), (200, Some("reported")), "{body}");
    }
}

crate::test_both_backends! {
    async fn live_actors_are_capped_and_an_evicted_load_test_goes_on(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |a| a.max_live_actors = 3).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        let live = |text: &str| {
            text.lines()
                .find(|l| l.starts_with("xtc_slack_live_actors{kind=\"load_test\"}"))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|n| n.parse::<u32>().ok())
        };
        for i in 0..6 {
            assert_eq!(post_lt(&app, &format!("lt-{i}"), lt_body(&format!("c-{i}"), "started")).await.0, 202);
        }
        let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(live(&text).is_some_and(|n| n <= 3), "{:?}", live(&text));
        // lt-0's actor was evicted first; its next event starts it again from the database.
        let mut running = lt_body("c-run", "running");
        running.as_object_mut().unwrap().remove("load_test");
        let (status, body) = post_lt(&app, "lt-0", running).await;
        assert_eq!((status, body["state"].as_str()), (202, Some("running")), "{body}");
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.len(), 7, "{log:#?}");
        assert!(log.iter().all(|d| d["status"] == "sent"));
    }
}

/// The ingest writer and the token checks keep their connections between events; when
/// PostgreSQL ends them (a restart, a failover, `pg_terminate_backend`), the next event is
/// still accepted and sent: the writer's transaction, which could not even begin, runs
/// again on a new connection instead of failing the event with 503.
#[actix_web::test]
async fn an_event_after_the_database_ended_every_connection_is_accepted() {
    let Some(app) = try_spawn_fast_app(Backend::Postgres, |_| {}).await else {
        eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set");
        return;
    };
    app.configure_acme(json!({"target_channels": "#load-tests"}))
        .await;
    let (status, body) = post_lt(&app, "lt-1", lt_body("e-1", "started")).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(messages(&app, "load-tests", 1).await.len(), 1);
    app.db.end_connections();
    let (status, body) = post_lt(&app, "lt-2", lt_body("e-2", "started")).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(messages(&app, "load-tests", 2).await.len(), 2);
}

//! Graceful shutdown of the real binary: SIGTERM in the middle of a burst exits 0, hands
//! back what was in flight, and after a restart every accepted event arrives exactly once
//! per target channel.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fake_slack::{FakeSlackConfig, FakeSlackHandle};
use serde_json::{json, Value};
use xtc_slack::db::models::delivery::Delivery;

use crate::helpers::*;
use crate::metrics::{lt_event, post_lt};

const EVENTS: usize = 30;

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `xtc-slack serve` on `port` against `db` and `fake`; logs go to `log`.
pub(crate) fn serve(
    db: &TestDb,
    fake: &FakeSlackHandle,
    port: u16,
    log: &std::path::Path,
) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_xtc-slack"))
        .arg("serve")
        .env("XTC_SLACK_DATABASE_URL", &db.url)
        .env("XTC_SLACK_BIND", format!("127.0.0.1:{port}"))
        .env("XTC_SLACK_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env(
            "XTC_SLACK_SECRET_KEY",
            test_args(&db.url).secret_key.unwrap(),
        )
        .env("SLACK_CLIENT_ID", "fake-client-id")
        .env("SLACK_CLIENT_SECRET", "fake-client-secret")
        .env("SLACK_SIGNING_SECRET", "fake-signing-secret")
        .env("SLACK_API_URL", fake.api_url())
        .env("SLACK_AUTHORIZE_URL", fake.authorize_url())
        .env("XTC_SLACK_CHANNEL_INTERVAL_MS", "20")
        .env("XTC_SLACK_HOLD_GRACE_SECS", "1")
        .env("XTC_SLACK_CHANNEL_CHECK_INTERVAL_SECS", "0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

pub(crate) async fn wait_ready(http: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(res) = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            if res.status().is_success() {
                return;
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the service did not become ready");
}

pub(crate) fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM failed");
}

pub(crate) async fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the service did not exit within {within:?}");
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn messages(app: &TestApp) -> Vec<Value> {
    app.fake_get("/messages").await["messages"]
        .as_array()
        .unwrap()
        .clone()
}

pub(crate) fn deliveries(app: &TestApp) -> Vec<Delivery> {
    let mut conn = app.db.connect();
    Delivery::list_by_project(&mut conn, "acme", "webshop", 1000).unwrap()
}

/// The real binary on a free port against a new database of `backend` and its own fake
/// Slack (rate limit off), ready; with the app's service token. Also the child, its log file
/// and port (to restart it). `None` when the backend is not available.
pub(crate) async fn binary_app(
    backend: Backend,
) -> Option<(TestApp, Child, std::path::PathBuf, u16)> {
    let db = TestDb::create(backend)?;
    let fake = fake_slack::spawn(
        FakeSlackConfig {
            rate_limit_per_sec: 0.0,
            ..FakeSlackConfig::default()
        },
        TcpListener::bind("127.0.0.1:0").unwrap(),
    )
    .unwrap();
    let port = free_port();
    let log = db.sqlite_path().map_or_else(
        || std::env::temp_dir().join(format!("xtc-slack-test-{port}.log")),
        |p| p.with_extension("log"),
    );
    let child = serve(&db, &fake, port, &log);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    wait_ready(&http, port).await;
    let mut app = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        backend,
        db,
        http,
        service_token: String::new(),
        fake: Some(fake),
    };
    app.service_token = app.create_token(xtc_slack::domain::access::Role::Service, None, None);
    Some((app, child, log, port))
}

#[actix_web::test]
async fn sigterm_during_a_burst_loses_nothing_and_sends_nothing_twice() {
    let (app, mut child, log, port) = binary_app(Backend::Sqlite).await.unwrap();
    app.configure_acme(json!({})).await;

    // A slow Slack, so that the burst is still in flight when the signal comes.
    app.fake_post(
        "/fail",
        json!({"method": "chat.postMessage", "count": 10_000, "delay_ms": 150}),
    )
    .await;
    for i in 0..EVENTS {
        let body = lt_event(
            &format!("burst-{i:03}"),
            "started",
            &format!("Burst run {i:03}"),
        );
        assert_eq!(post_lt(&app, &format!("lt-burst-{i:03}"), body).await, 202);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while messages(&app).await.len() < 4 {
        assert!(Instant::now() < deadline, "nothing was sent");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    sigterm(&child);
    let status = wait_exit(&mut child, Duration::from_secs(30)).await;
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status:?}; logs:\n{logs}"
    );
    assert!(logs.contains("shutdown complete"), "{logs}");

    // Stopped mid-burst, with nothing left claimed.
    let stored = deliveries(&app);
    assert_eq!(stored.len(), 2 * EVENTS);
    let pending: Vec<&Delivery> = stored
        .iter()
        .filter(|d| d.status.as_str() == "pending")
        .collect();
    assert!(
        !pending.is_empty(),
        "the burst finished before the signal; the test proves nothing"
    );
    assert!(
        pending.iter().all(|d| d.claimed_until.is_none()),
        "{pending:#?}"
    );
    let sent_before = messages(&app).await.len();
    assert_eq!(
        sent_before,
        stored
            .iter()
            .filter(|d| d.status.as_str() == "sent")
            .count()
    );

    // Restart with a fast Slack: the rest arrives, nothing twice.
    app.fake_post("/fail", json!({"method": "chat.postMessage", "count": 0}))
        .await;
    let mut child = serve(&app.db, app.fake(), port, &log);
    wait_ready(&app.http, port).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while deliveries(&app)
        .iter()
        .any(|d| d.status.as_str() == "pending")
    {
        assert!(
            Instant::now() < deadline,
            "deliveries still pending after restart"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let all = messages(&app).await;
    assert_eq!(all.len(), 2 * EVENTS);
    for i in 0..EVENTS {
        let name = format!("Burst run {i:03}");
        for channel in ["load-tests", "perf"] {
            let n = all
                .iter()
                .filter(|m| m["channel_name"] == channel && m.to_string().contains(&name))
                .count();
            assert_eq!(n, 1, "{name} in #{channel}");
        }
    }
    assert!(deliveries(&app).iter().all(|d| d.status.as_str() == "sent"));
    sigterm(&child);
    let status = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0));
}

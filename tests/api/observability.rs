//! Logs: a request id per HTTP request (echoed in `X-Request-Id`), the delivery id on
//! delivery log lines, and no secret anywhere in the logs of the OAuth + send path.

use std::time::{Duration, Instant};

use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::json;
use xtc_slack::crypto::{Cipher, SecretKey};
use xtc_slack::db::models::installation::Installation;

use crate::helpers::*;
use crate::metrics::{lt_event, post_lt};

fn logs() -> Option<String> {
    captured_logs().map(|l| String::from_utf8_lossy(&l.lock().unwrap()).into_owned())
}

#[actix_web::test]
async fn every_request_has_an_id_in_its_log_lines_and_its_response() {
    captured_logs();
    let app = spawn_app().await;
    let res = app
        .http
        .get(app.url("/healthz"))
        .header("X-Request-Id", "req-obs-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "req-obs-7f3a");
    let generated = app.http.get(app.url("/readyz")).send().await.unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    // An id that would garble the logs is replaced.
    let res = app
        .http
        .get(app.url("/healthz"))
        .header("X-Request-Id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "bad id\twith spaces");
    // Error answers carry it too.
    let res = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 404);
    assert!(res.headers().contains_key("x-request-id"));

    if let Some(logs) = logs() {
        let line = logs
            .lines()
            .find(|l| l.contains("request_id=req-obs-7f3a"))
            .unwrap_or_else(|| panic!("no log line with the request id"));
        assert!(
            line.contains("request done") && line.contains("path=/healthz"),
            "{line}"
        );
        assert!(logs
            .lines()
            .any(|l| l.contains(&format!("request_id={id}"))));
    }
}

#[actix_web::test]
async fn delivery_log_lines_carry_the_delivery_id() {
    captured_logs();
    let app = try_spawn_fast_app(Backend::Sqlite, |_| {}).await.unwrap();
    app.configure_acme(json!({})).await;
    let event_id = format!("obs-{}", uuid::Uuid::new_v4().simple());
    assert_eq!(
        post_lt(&app, "lt-obs", lt_event(&event_id, "started", "Obs run")).await,
        202
    );
    let mut conn = app.db.connect();
    let deadline = Instant::now() + Duration::from_secs(20);
    // Event ids are unique per subject: stored under the load test's key.
    let key = format!("load_test:lt-obs:{event_id}");
    let deliveries = loop {
        let d = xtc_slack::db::models::delivery::Delivery::list_by_event(&mut conn, &key).unwrap();
        if d.len() == 2 && d.iter().all(|d| d.status.as_str() == "sent") {
            break d;
        }
        assert!(Instant::now() < deadline, "{d:?}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    let Some(logs) = logs() else { return };
    for d in deliveries {
        let span = format!("delivery{{delivery_id={} event_id={key}", d.id);
        let lines: Vec<&str> = logs.lines().filter(|l| l.contains(&span)).collect();
        assert!(
            lines.iter().any(|l| l.contains("delivered")),
            "{span}: {lines:#?}"
        );
        // The Slack call inside the attempt is logged in the same span.
        assert!(
            lines.iter().any(|l| l.contains("Slack call succeeded")),
            "{span}: {lines:#?}"
        );
    }
}

#[actix_web::test]
async fn no_secret_is_logged_on_the_whole_oauth_and_send_path() {
    captured_logs();
    let app = try_spawn_fast_app(Backend::Sqlite, |_| {}).await.unwrap();
    let admin = app.configure_acme(json!({})).await;
    for (i, kind) in ["started", "running", "finished"].iter().enumerate() {
        assert_eq!(
            post_lt(
                &app,
                "lt-sec",
                lt_event(&format!("sec-{i}"), kind, "Secret run")
            )
            .await,
            202
        );
    }
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/orgs/acme/slack/test-message",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Wait until the fake has all six messages.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let msgs = app.fake_get("/messages").await["messages"]
            .as_array()
            .unwrap()
            .len();
        if msgs >= 8 {
            break;
        }
        assert!(Instant::now() < deadline, "{msgs} messages");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    // The revocation event on the way out.
    app.fake_post(
        "/events",
        json!({"type": "app_uninstalled", "url": format!("{}/slack/events", app.address)}),
    )
    .await;

    let token = {
        let mut conn = app.db.connect();
        let inst = Installation::find_by_scope(&mut conn, "acme", None)
            .unwrap()
            .unwrap();
        let key = test_args(&app.db.url).secret_key.unwrap();
        let cipher = Cipher::new(&SecretKey::from_base64(&key).unwrap());
        inst.decrypt_token(&cipher)
            .unwrap()
            .expose_secret()
            .to_owned()
    };
    assert!(token.starts_with("xoxb-"));
    let Some(logs) = logs() else {
        eprintln!("log capture not installed (another subscriber was first)");
        return;
    };
    assert!(logs.contains("delivered"), "the capture sees the send path");
    assert!(
        logs.contains("Slack call succeeded"),
        "the capture sees the client"
    );
    let secret_key = test_args(&app.db.url).secret_key.unwrap();
    for (what, secret) in [
        ("the bot token", token.as_str()),
        ("the client secret", "fake-client-secret"),
        ("the signing secret", "fake-signing-secret"),
        ("the admin API token", admin.as_str()),
        ("the service API token", app.service_token.as_str()),
        ("the encryption key", secret_key.as_str()),
    ] {
        assert!(!logs.contains(secret), "{what} was logged");
    }
}

/// Logs written to a pipe or a file carry no ANSI colour codes (they did).
#[test]
fn logs_have_no_colour_codes_when_stderr_is_not_a_terminal() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xtc-slack"))
        .args(["fake-slack", "--bind", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("fake Slack listening"), "{line:?}");
    assert!(!line.contains('\u{1b}'), "colour codes in {line:?}");
}

/// A port in use stops `serve` with exit code 2 and one line naming the setting and saying
/// "address already in use", before the database or the key file is created (it said
/// "invalid XTC_SLACK_BIND" after creating both).
#[test]
fn a_busy_port_is_reported_as_such_before_any_file_is_created() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("xtc-slack.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtc-slack"))
        .arg("serve")
        .args(["--bind", &addr])
        .args(["--database-url", &format!("sqlite://{}", db.display())])
        .env_remove("XTC_SLACK_SECRET_KEY")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("address already in use"), "{stderr}");
    assert!(lines[0].contains("XTC_SLACK_BIND"), "{stderr}");
    assert!(lines[0].contains(&addr), "{stderr}");
    assert!(!lines[0].contains("invalid"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "files created: {left:?}");
    drop(busy);
}

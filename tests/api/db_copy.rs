//! `xtc-slack db copy` (issue 29): a service's whole SQLite database moved to PostgreSQL
//! and started there (the pending delivery goes out, cards keep being edited, old tokens
//! hold, the delivery log is the same), the way back to SQLite, and the refusals.

use std::process::Command;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{json, Value};
use xtc_slack::db::schema::{api_tokens, deliveries, organizations, slack_installations};

use crate::helpers::*;
use crate::interactions::wait_for;
use crate::pipeline::{lt_body, messages, post_lt, post_mon};
use crate::shutdown::{binary_app, free_port, serve, sigterm, wait_exit, wait_ready};

/// The key every test service runs with (`test_args`).
fn test_key() -> String {
    test_args("sqlite://unused.db").secret_key.unwrap()
}

/// Runs `xtc-slack db copy --from from --to to` with `env` and `extra` arguments; exit
/// code, stdout, stderr.
fn db_copy(from: &str, to: &str, env: &[(&str, &str)], extra: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtc-slack"));
    cmd.args(["db", "copy", "--from", from, "--to", to])
        .args(extra)
        .env_remove("XTC_SLACK_FROM_KEY")
        .env_remove("XTC_SLACK_TO_KEY")
        .env_remove("XTC_SLACK_SECRET_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn shown(m: &Value) -> String {
    format!("{} {} {}", m["text"], m["blocks"], m["attachments"])
}

/// The top-level message of `#load-tests` that mentions `name`.
fn card<'a>(got: &'a [Value], name: &str) -> Option<&'a Value> {
    got.iter()
        .find(|m| m["thread_ts"].is_null() && shown(m).contains(name))
}

type DeliveryRow = (
    i64,
    String,
    String,
    bool,
    Option<String>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
);

/// Every delivery row with columns of each kind, times cut to microseconds (what
/// PostgreSQL keeps).
fn delivery_rows(conn: &mut xtc_slack::db::DbConnection) -> Vec<DeliveryRow> {
    use chrono::Timelike;
    let micros =
        |t: chrono::NaiveDateTime| t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap();
    deliveries::table
        .order(deliveries::id.asc())
        .select((
            deliveries::id,
            deliveries::event_id,
            deliveries::status,
            deliveries::threads,
            deliveries::slack_ts,
            deliveries::created_at,
            deliveries::next_attempt_at,
            deliveries::sent_at,
        ))
        .load::<DeliveryRow>(conn)
        .unwrap()
        .into_iter()
        .map(|(a, b, c, d, e, f, g, h)| (a, b, c, d, e, micros(f), micros(g), h.map(micros)))
        .collect()
}

/// The copy's report line of `table`: its row count.
fn reported(out: &str, table: &str) -> i64 {
    out.lines()
        .find_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next() == Some(table)).then(|| parts.next().unwrap().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("{table} not reported: {out}"))
}

#[actix_web::test]
async fn a_stopped_sqlite_service_moves_to_postgres_and_back_and_carries_on() {
    captured_logs();
    let Some(target) = TestDb::create(Backend::Postgres) else {
        eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set");
        return;
    };
    let (app, mut child, log, _port) = binary_app(Backend::Sqlite).await.unwrap();
    let admin = app
        .configure_acme(json!({
            "threads": true, "target_channels": "#load-tests",
            "rules": [{"channel": "#perf", "events": ["failures"], "mention": "@here"}],
        }))
        .await;
    let interactions = app.url("/slack/interactions");
    app.fake_post("/interactivity", json!({ "url": interactions }))
        .await;

    // A finished run with its final report (kept with its figures: a column of floats).
    for (i, kind) in ["started", "running", "finished", "report_available"]
        .iter()
        .enumerate()
    {
        let mut body = lt_body(&format!("lt0-{i}"), kind);
        body["load_test"]["name"] = json!("Earlier run");
        assert_eq!(post_lt(&app, "lt-0", body).await.0, 202);
    }
    // A threaded load test mid-run, and an open incident, muted from its card.
    for (i, kind) in ["started", "running"].iter().enumerate() {
        assert_eq!(
            post_lt(&app, "lt-1", lt_body(&format!("lt1-{i}"), kind))
                .await
                .0,
            202
        );
    }
    let failing = json!({
        "event_id": "m-1", "org": "acme", "project": "webshop",
        "occurred_at": "2026-11-26T10:00:00Z",
        "scenario": {"name": "Shop checkout", "url": "https://xtc.example/mon/77"},
        "notify_via": ["slack"], "state": "failure",
        "failed_sensors": [{"name": "Page load < 3s", "message": "3.8s"}],
    });
    assert_eq!(
        post_mon(&app, "shop-checkout", failing.clone()).await.0,
        202
    );
    let got = wait_for(&app, |got| {
        card(got, "Shop checkout").is_some() && card(got, "Checkout peak").is_some()
    })
    .await;
    let incident = card(&got, "Shop checkout").unwrap().clone();
    let run = card(&got, "Checkout peak").unwrap().clone();
    let clicked = app
        .fake_post(
            "/interactions",
            json!({"channel": incident["channel"], "ts": incident["ts"],
                   "action_id": "incident.mute_1h", "user": "U0FAKEUSR02"}),
        )
        .await;
    assert_eq!(clicked["status"], 200, "{clicked}");
    app.settled_deliveries(&admin).await;
    wait_for(&app, |got| {
        shown(card(got, "Shop checkout").unwrap()).contains("uted")
    })
    .await;

    // The last message is held back: Slack answers 429 with a Retry-After.
    let posts = |v: Value| v["calls"].as_array().map_or(0, Vec::len);
    let before = posts(app.fake_get("/calls?method=chat.postMessage").await);
    app.fake_post(
        "/fail",
        json!({"method": "chat.postMessage", "count": 1, "http_status": 429, "retry_after": 5}),
    )
    .await;
    let mut held = lt_body("lt2-0", "started");
    held["load_test"]["name"] = json!("Search soak");
    assert_eq!(post_lt(&app, "lt-2", held).await.0, 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    while posts(app.fake_get("/calls?method=chat.postMessage").await) == before {
        assert!(
            Instant::now() < deadline,
            "the held message was never tried"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let log_before = app.delivery_log(&admin).await;
    let tops = |got: &[Value]| got.iter().filter(|m| m["thread_ts"].is_null()).count();
    let tops_before = tops(&messages(&app, "load-tests", 0).await);

    // Stop, copy.
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(60))
        .await
        .success());
    let pending: i64 = deliveries::table
        .filter(deliveries::status.eq("pending"))
        .count()
        .get_result(&mut app.db.connect())
        .unwrap();
    assert_eq!(pending, 1, "the held delivery is still pending at the copy");
    let key = test_key();
    let (code, out, err) = db_copy(
        &app.db.url,
        &target.url,
        &[("XTC_SLACK_FROM_KEY", &key)],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !out.contains(&key) && !err.contains(&key),
        "the key was printed"
    );
    assert!(
        !err.contains("xtc_test:xtc_test"),
        "a password was printed: {err}"
    );
    assert!(out.contains("every count matches"), "{out}");
    assert!(out.contains("XTC_SLACK_SECRET_KEY"), "{out}");
    assert_eq!(reported(&out, "slack_installations"), 1);
    assert_eq!(reported(&out, "run_reports"), 1);
    let p95 = |conn: &mut xtc_slack::db::DbConnection| -> Option<f64> {
        use diesel::prelude::*;
        xtc_slack::db::schema::run_reports::table
            .select(xtc_slack::db::schema::run_reports::p95_ms)
            .first(conn)
            .unwrap()
    };
    assert_eq!(p95(&mut target.connect()), Some(810.0));
    assert_eq!(reported(&out, "ui_sessions"), 0);
    assert!(reported(&out, "audit_log") >= 2, "{out}");
    let source_rows = delivery_rows(&mut app.db.connect());
    assert_eq!(delivery_rows(&mut target.connect()), source_rows);

    // The service on PostgreSQL, with the same key and Slack.
    let pg_port = free_port();
    let mut pg = serve(&target, app.fake(), pg_port, &log);
    wait_ready(&app.http, pg_port).await;
    let moved = TestApp {
        address: format!("http://127.0.0.1:{pg_port}"),
        port: pg_port,
        backend: Backend::Postgres,
        db: TestDb::create(Backend::Sqlite).unwrap(),
        http: app.http.clone(),
        service_token: app.service_token.clone(),
        fake: None,
    };
    // The old tokens hold, and the log is the one from before (the held one aside).
    let log_after = moved.delivery_log(&admin).await;
    assert_eq!(log_after.len(), log_before.len());
    for entry in log_before.iter().filter(|d| d["status"] != "pending") {
        assert!(log_after.contains(entry), "{entry} changed: {log_after:#?}");
    }

    // The held delivery arrives; the run card is edited in place; the incident recovers
    // on its own card.
    let got = wait_for(&app, |got| card(got, "Search soak").is_some()).await;
    assert!(card(&got, "Search soak").is_some(), "{got:#?}");
    assert_eq!(
        post_lt(&moved, "lt-1", lt_body("lt1-2", "finished"))
            .await
            .0,
        202
    );
    let mut ok = failing;
    ok["event_id"] = json!("m-2");
    ok["state"] = json!("ok");
    ok["occurred_at"] = json!("2026-11-26T10:20:00Z");
    ok["failed_sensors"] = json!([]);
    assert_eq!(post_mon(&moved, "shop-checkout", ok).await.0, 202);
    let got = wait_for(&app, |got| {
        let run_now = card(got, "Checkout peak").unwrap();
        let recovered = got
            .iter()
            .any(|m| m["thread_ts"] == incident["ts"] && shown(m).contains("ecovered"));
        shown(run_now).contains("Finished") && recovered
    })
    .await;
    let run_now = card(&got, "Checkout peak").unwrap();
    assert_eq!(
        run_now["ts"], run["ts"],
        "the run card was posted again: {got:#?}"
    );
    assert!(shown(run_now).contains("Finished"), "{got:#?}");
    assert!(
        got.iter()
            .any(|m| m["thread_ts"] == incident["ts"] && shown(m).contains("ecovered")),
        "{got:#?}"
    );
    assert_eq!(
        tops(&got),
        tops_before + 1,
        "a card was posted twice: {got:#?}"
    );
    sigterm(&pg);
    assert!(wait_exit(&mut pg, Duration::from_secs(60)).await.success());

    // The way back, into SQLite: the key is carried over into the key file beside it.
    let back_dir = tempfile::tempdir().unwrap();
    let back = back_dir.path().join("back.db");
    let back_url = format!("sqlite://{}", back.display());
    let (code, out, err) = db_copy(&target.url, &back_url, &[("XTC_SLACK_FROM_KEY", &key)], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let key_file = xtc_slack::db::key_file_path(&back);
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim(), key);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let mut back_conn = xtc_slack::db::DatabaseUrl::Sqlite(back.clone())
        .connect()
        .unwrap();
    assert_eq!(
        delivery_rows(&mut back_conn),
        delivery_rows(&mut target.connect())
    );
    let tokens: Vec<String> = api_tokens::table
        .order(api_tokens::id.asc())
        .select(api_tokens::token_hash)
        .load(&mut back_conn)
        .unwrap();
    let pg_tokens: Vec<String> = api_tokens::table
        .order(api_tokens::id.asc())
        .select(api_tokens::token_hash)
        .load(&mut target.connect())
        .unwrap();
    assert_eq!(tokens, pg_tokens);

    // A service on the copy, with only its key file, accepts the old token and sends.
    let back_port = free_port();
    let mut sqlite = Command::new(env!("CARGO_BIN_EXE_xtc-slack"))
        .arg("serve")
        .env_remove("XTC_SLACK_SECRET_KEY")
        .env("XTC_SLACK_DATABASE_URL", &back_url)
        .env("XTC_SLACK_BIND", format!("127.0.0.1:{back_port}"))
        .env("SLACK_API_URL", app.fake().api_url())
        .env("XTC_SLACK_CHANNEL_CHECK_INTERVAL_SECS", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(&app.http, back_port).await;
    let again = TestApp {
        address: format!("http://127.0.0.1:{back_port}"),
        port: back_port,
        ..moved
    };
    let mut third = lt_body("lt3-0", "started");
    third["load_test"]["name"] = json!("After the way back");
    assert_eq!(post_lt(&again, "lt-3", third).await.0, 202);
    let got = wait_for(&app, |got| card(got, "After the way back").is_some()).await;
    assert!(card(&got, "After the way back").is_some(), "{got:#?}");
    sigterm(&sqlite);
    assert!(wait_exit(&mut sqlite, Duration::from_secs(60))
        .await
        .success());
}

#[actix_web::test]
async fn a_full_target_a_wrong_key_and_a_busy_source_are_refused() {
    let app = spawn_app_with_slack().await;
    let admin = app.configure_acme(json!({})).await;
    assert_eq!(
        post_lt(&app, "lt-1", lt_body("e-1", "started")).await.0,
        202
    );
    app.settled_deliveries(&admin).await;
    let key = test_key();
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("copy.db");
    let to_url = format!("sqlite://{}", to.display());
    let with_key = [("XTC_SLACK_FROM_KEY", key.as_str())];

    // No key at all: the source has no key file (the service was given its key).
    let (code, _, err) = db_copy(&app.db.url, &to_url, &[], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--from-key"), "{err}");
    assert!(!to.exists(), "a refused copy created the target");

    // A wrong key: the tokens do not decrypt; nothing is written.
    let wrong = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let (code, _, err) = db_copy(&app.db.url, &to_url, &[("XTC_SLACK_FROM_KEY", wrong)], &[]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("do not decrypt"), "{err}");
    assert!(!err.contains(wrong), "{err}");
    assert!(!to.exists(), "a refused copy created the target");

    // A good copy, then the same again: the target holds data now.
    let (code, out, err) = db_copy(&app.db.url, &to_url, &with_key, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let orgs = |conn: &mut xtc_slack::db::DbConnection| -> i64 {
        organizations::table.count().get_result(conn).unwrap()
    };
    let mut copy = xtc_slack::db::DatabaseUrl::Sqlite(to.clone())
        .connect()
        .unwrap();
    assert_eq!(orgs(&mut copy), 1);
    assert_eq!(app.put_org("globex", "Globex").await.0, 201);
    let (code, _, err) = db_copy(&app.db.url, &to_url, &with_key, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already holds data"), "{err}");
    assert_eq!(orgs(&mut copy), 1, "a refused copy wrote into the target");
    // --force replaces it.
    let (code, out, err) = db_copy(&app.db.url, &to_url, &with_key, &["--force"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(orgs(&mut copy), 2);

    // A new key re-encrypts the tokens; the key file beside the target must match it.
    let other = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let (code, _, err) = db_copy(
        &app.db.url,
        &to_url,
        &[("XTC_SLACK_FROM_KEY", &key), ("XTC_SLACK_TO_KEY", other)],
        &["--force"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("holds another key"), "{err}");
    let rekeyed = dir.path().join("rekeyed.db");
    let (code, out, err) = db_copy(
        &app.db.url,
        &format!("sqlite://{}", rekeyed.display()),
        &[("XTC_SLACK_FROM_KEY", &key), ("XTC_SLACK_TO_KEY", other)],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("re-encrypted"), "{out}");
    let mut conn = xtc_slack::db::DatabaseUrl::Sqlite(rekeyed.clone())
        .connect()
        .unwrap();
    let stored: String = slack_installations::table
        .select(slack_installations::bot_token)
        .first(&mut conn)
        .unwrap();
    let original: String = slack_installations::table
        .select(slack_installations::bot_token)
        .first(&mut app.db.connect())
        .unwrap();
    assert_ne!(stored, original);

    // A sender holding a claim right now: the source is in use.
    diesel::update(deliveries::table)
        .set(
            deliveries::claimed_until.eq(Some(xtc_slack::db::now() + chrono::Duration::minutes(5))),
        )
        .execute(&mut app.db.connect())
        .unwrap();
    let busy = dir.path().join("busy.db");
    let (code, _, err) = db_copy(
        &app.db.url,
        &format!("sqlite://{}", busy.display()),
        &with_key,
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("in use"), "{err}");
    assert!(!busy.exists());
}

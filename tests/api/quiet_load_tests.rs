//! Incidents during load tests (API.md "During load tests"): the setting
//! `during_load_tests` (default `annotate`, per value, 422 naming the field), and the
//! annotation on an incident that opens while a load test of its project is started or
//! running.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;
use crate::pipeline::{lt_body, messages, post_lt, post_mon};
use crate::slack_settings::{get, put, sourced, ORG, PROJECT};
use crate::test_both_backends;

/// Everything a message shows (text, blocks, attachments).
fn shown(m: &Value) -> String {
    format!("{} {} {}", m["text"], m["blocks"], m["attachments"])
}

fn failing(event_id: &str, occurred_at: &str) -> Value {
    json!({
        "event_id": event_id, "org": "acme", "project": "webshop", "occurred_at": occurred_at,
        "scenario": {"name": "Shop checkout", "url": "https://xtc.example/mon/77"},
        "notify_via": ["slack"], "state": "failure",
        "failed_sensors": [{"name": "Page load < 3s", "message": "3.8s"}],
    })
}

/// The channel's top-level messages once one of them shows each of `names` (or 45 s
/// passed).
async fn top_level(app: &TestApp, channel: &str, names: &[&str]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let got: Vec<Value> = messages(app, channel, 0)
            .await
            .into_iter()
            .filter(|m| m["thread_ts"].is_null())
            .collect();
        let all = got.iter().map(shown).collect::<Vec<_>>().join(" ");
        if names.iter().all(|n| all.contains(n)) || Instant::now() > deadline {
            return got;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

test_both_backends! {
    async fn during_load_tests_defaults_to_annotate_is_set_per_value_and_refuses_other_values(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        assert_eq!(get(&app, ORG, &admin).await["during_load_tests"], "annotate");
        let project = get(&app, PROJECT, &admin).await;
        assert_eq!(project["effective"]["during_load_tests"], sourced(json!("annotate"), "organization"));

        let (status, body) = put(&app, ORG, &admin, json!({"during_load_tests": "hold"})).await;
        assert_eq!((status, &body["during_load_tests"]), (200, &json!("hold")), "{body}");
        let (status, body) = put(&app, PROJECT, &admin, json!({"send_messages": true})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["own"]["during_load_tests"], Value::Null);
        assert_eq!(body["effective"]["during_load_tests"], sourced(json!("hold"), "organization"));
        let (status, body) = put(&app, PROJECT, &admin, json!({"send_messages": true, "during_load_tests": "notify"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["effective"]["during_load_tests"], sourced(json!("notify"), "project"));

        for bad in [json!("mute"), json!("HOLD"), json!(""), json!(true), json!(1)] {
            for (path, mut body) in [(ORG, json!({})), (PROJECT, json!({"send_messages": true}))] {
                body["during_load_tests"] = bad.clone();
                let (status, res) = put(&app, path, &admin, body).await;
                assert_eq!(status, 422, "{path} {bad}: {res}");
                assert_eq!(res["error"], "invalid_request", "{res}");
                assert_eq!(res["field"], "during_load_tests", "{path} {bad}: {res}");
            }
        }
        // The refusals saved nothing.
        assert_eq!(get(&app, ORG, &admin).await["during_load_tests"], "hold");
        let project = get(&app, PROJECT, &admin).await;
        assert_eq!(project["own"]["during_load_tests"], "notify");
    }
}

test_both_backends! {
    async fn an_incident_that_opens_while_a_load_test_runs_names_it_on_its_card_and_first_message(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"threads": true, "target_channels": "#load-tests"})).await;
        // A scenario already failing before the load test: its incident names nothing.
        assert_eq!(post_mon(&app, "search", json!({
            "event_id": "s1", "org": "acme", "project": "webshop", "occurred_at": "2026-11-26T09:59:00Z",
            "scenario": {"name": "Search"}, "notify_via": ["slack"], "state": "failure",
        })).await.0, 202);
        assert_eq!(post_lt(&app, "lt-123", lt_body("e1", "started")).await.0, 202);
        let mut running = lt_body("e2", "running");
        running["occurred_at"] = json!("2026-11-26T10:01:00Z");
        assert_eq!(post_lt(&app, "lt-123", running).await.0, 202);
        // Another project's load test does not count.
        let mut other = lt_body("o1", "started");
        other["project"] = json!("other");
        app.put_project("acme", "other", "Other").await;
        other["load_test"]["name"] = json!("Other project's test");
        assert_eq!(post_lt(&app, "lt-other", other).await.0, 202);

        let (status, res) = post_mon(&app, "shop-checkout", failing("m1", "2026-11-26T10:02:00Z")).await;
        assert_eq!(status, 202, "{res}");
        let top = top_level(&app, "load-tests", &["Search", "Shop checkout"]).await;
        let log = app.settled_deliveries(&admin).await;
        assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
        let card = top.iter().find(|m| shown(m).contains("Shop checkout")).unwrap_or_else(|| panic!("the incident card: {top:#?}"));
        let text = shown(card);
        assert!(text.contains("During load test: "), "{text}");
        assert!(text.contains("Checkout peak 2000 users"), "{text}");
        assert!(text.contains("jane") && text.contains("https://xtc.example/lt/123"), "{text}");
        assert!(!text.contains("Other project's test"), "{text}");
        let search = top.iter().find(|m| shown(m).contains("Search")).expect("the earlier incident");
        assert!(!shown(search).contains("During load test"), "{}", shown(search));
        assert_eq!(card["mentions"], json!([]), "{card}");

        // Once the load test finished, a new incident names nothing.
        let mut finished = lt_body("e3", "finished");
        finished["occurred_at"] = json!("2026-11-26T10:05:00Z");
        assert_eq!(post_lt(&app, "lt-123", finished).await.0, 202);
        let mut later = failing("c1", "2026-11-26T10:06:00Z");
        later["scenario"]["name"] = json!("Cart");
        assert_eq!(post_mon(&app, "cart", later).await.0, 202);
        let top = top_level(&app, "load-tests", &["Cart"]).await;
        let cart = top.iter().find(|m| shown(m).contains("Cart")).unwrap_or_else(|| panic!("the cart incident: {top:#?}"));
        assert!(!shown(cart).contains("During load test"), "{}", shown(cart));
    }
}

test_both_backends! {
    async fn with_notify_an_incident_during_a_load_test_is_posted_as_any_other(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests", "during_load_tests": "notify"})).await;
        assert_eq!(post_lt(&app, "lt-123", lt_body("e1", "started")).await.0, 202);
        assert_eq!(post_mon(&app, "shop-checkout", failing("m1", "2026-11-26T10:02:00Z")).await.0, 202);
        let top = top_level(&app, "load-tests", &["Shop checkout"]).await;
        app.settled_deliveries(&admin).await;
        let incident = top.iter().find(|m| shown(m).contains("Shop checkout")).expect("the incident");
        assert!(!shown(incident).contains("During load test"), "{}", shown(incident));
    }
}

test_both_backends! {
    async fn with_threads_off_the_first_message_names_the_load_test_in_full_and_compact(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        assert_eq!(post_lt(&app, "lt-123", lt_body("e1", "started")).await.0, 202);
        assert_eq!(post_mon(&app, "shop-checkout", failing("m1", "2026-11-26T10:02:00Z")).await.0, 202);
        let top = top_level(&app, "load-tests", &["Shop checkout"]).await;
        let incident = top.iter().find(|m| shown(m).contains("Shop checkout")).expect("the incident");
        assert!(shown(incident).contains("During load test: "), "{}", shown(incident));
    }
}

// ---- hold -------------------------------------------------------------------------------

const HELD: &str = "held while load test Checkout peak 2000 users runs";

fn recovered(event_id: &str, occurred_at: &str) -> Value {
    let mut body = failing(event_id, occurred_at);
    body["state"] = json!("ok");
    body["failed_sensors"] = json!([]);
    body
}

/// The load test `lt-123` started and running, under `hold`, threads on: returns the admin
/// token and the load test's card.
async fn held_setup(app: &TestApp) -> (String, Value) {
    let admin = app
        .configure_acme(
            json!({"threads": true, "target_channels": "#load-tests", "during_load_tests": "hold"}),
        )
        .await;
    assert_eq!(
        post_lt(app, "lt-123", lt_body("e1", "started")).await.0,
        202
    );
    let mut running = lt_body("e2", "running");
    running["occurred_at"] = json!("2026-11-26T10:01:00Z");
    assert_eq!(post_lt(app, "lt-123", running).await.0, 202);
    let card = top_level(app, "load-tests", &["Checkout peak 2000 users"]).await;
    (admin, card[0].clone())
}

/// The load test's end: `kind` is finished, error or aborted.
async fn end_load_test(app: &TestApp, kind: &str) {
    let mut end = lt_body("e9", kind);
    end["occurred_at"] = json!("2026-11-26T10:30:00Z");
    let (status, body) = post_lt(app, "lt-123", end).await;
    assert_eq!(status, 202, "{body}");
}

/// The log's rows of the incident (its subject is the scenario's).
async fn incident_rows(app: &TestApp, admin: &str) -> Vec<Value> {
    app.delivery_log(admin)
        .await
        .into_iter()
        .filter(|d| {
            d["event_type"]
                .as_str()
                .is_some_and(|t| t.starts_with("scenario_"))
        })
        .collect()
}

/// While held: nothing of the incident in Slack, its rows pending with the reason.
async fn assert_held(app: &TestApp, admin: &str, n: usize) {
    let rows = incident_rows(app, admin).await;
    assert_eq!(rows.len(), n, "{rows:#?}");
    for r in &rows {
        assert_eq!(r["status"], "pending", "{r}");
        assert_eq!(r["error"], HELD, "{r}");
        assert!(
            r["error_message"]
                .as_str()
                .unwrap()
                .contains("held until the test ends"),
            "{r}"
        );
    }
    let all = messages(app, "load-tests", 0).await;
    assert!(
        all.iter().all(|m| !shown(m).contains("Shop checkout")),
        "{all:#?}"
    );
}

test_both_backends! {
    async fn a_held_incident_that_recovers_during_the_test_is_one_line_in_its_thread_when_it_finishes(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let (admin, card) = held_setup(&app).await;
        assert_eq!(post_mon(&app, "shop-checkout", failing("m1", "2026-11-26T10:02:00Z")).await.0, 202);
        assert_eq!(post_mon(&app, "shop-checkout", recovered("m2", "2026-11-26T10:06:00Z")).await.0, 202);
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        assert_held(&app, &admin, 2).await;

        end_load_test(&app, "finished").await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let line = loop {
            let got = messages(&app, "load-tests", 0).await;
            if let Some(m) = got.iter().find(|m| m["thread_ts"] == card["ts"] && shown(m).contains("Shop checkout")) {
                break m.clone();
            }
            assert!(Instant::now() < deadline, "no line: {got:#?}");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        };
        let text = shown(&line);
        assert!(text.contains("failed for 4m 0s during this load test and recovered"), "{text}");
        assert_eq!(line["mentions"], json!([]), "{line}");
        let log = app.settled_deliveries(&admin).await;
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        // No incident card, no other message about it, ever.
        let got = messages(&app, "load-tests", 0).await;
        let about: Vec<_> = got.iter().filter(|m| shown(m).contains("Shop checkout")).collect();
        assert_eq!(about.len(), 1, "{about:#?}");
        for r in log.iter().filter(|d| d["event_type"].as_str().is_some_and(|t| t.starts_with("scenario_"))) {
            assert_eq!(r["status"], "skipped", "{r}");
            assert_eq!(r["error"], "recovered while load test Checkout peak 2000 users ran", "{r}");
        }
    }
}

test_both_backends! {
    /// Between the test's end and the grace's: the log no longer says the test runs, but when
    /// the incident goes out unless it recovers.
    async fn a_held_incident_says_when_it_goes_out_once_the_test_ended(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |a| a.hold_grace_secs = 600).await else { return };
        let (admin, _) = held_setup(&app).await;
        assert_eq!(post_mon(&app, "shop-checkout", failing("m1", "2026-11-26T10:02:00Z")).await.0, 202);
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        assert_held(&app, &admin, 1).await;
        end_load_test(&app, "aborted").await;
        let prefix = "held: load test Checkout peak 2000 users ended; posted at ";
        let deadline = Instant::now() + Duration::from_secs(20);
        let row = loop {
            let rows = incident_rows(&app, &admin).await;
            if let Some(r) = rows.iter().find(|r| r["error"].as_str().is_some_and(|e| e.starts_with(prefix))) {
                break r.clone();
            }
            assert!(Instant::now() < deadline, "still: {rows:#?}");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(row["status"], "pending", "{row}");
        let error = row["error"].as_str().unwrap();
        assert!(error.ends_with(" UTC unless it recovers"), "{error}");
        let advice = row["error_message"].as_str().unwrap();
        assert!(advice.contains("has ended"), "{advice}");
        assert!(!advice.contains("was running, so it is held until the test ends"), "{advice}");
        // Nothing posted meanwhile.
        let all = messages(&app, "load-tests", 0).await;
        assert!(all.iter().all(|m| !shown(m).contains("Shop checkout")), "{all:#?}");
    }
}

/// Hold, the test ends with `kind`, the scenario still fails: posted after the grace, once,
/// marked as started during the test.
async fn still_failing_is_posted_after_the_grace(backend: Backend, kind: &str) {
    let Some(app) = try_spawn_fast_app(backend, |_| {}).await else {
        return;
    };
    let (admin, _) = held_setup(&app).await;
    assert_eq!(
        post_mon(&app, "shop-checkout", failing("m1", "2026-11-26T10:02:00Z"))
            .await
            .0,
        202
    );
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_held(&app, &admin, 1).await;
    end_load_test(&app, kind).await;
    let top = top_level(&app, "load-tests", &["Shop checkout"]).await;
    let log = app.settled_deliveries(&admin).await;
    let incident: Vec<_> = top
        .iter()
        .filter(|m| shown(m).contains("Shop checkout"))
        .collect();
    assert_eq!(incident.len(), 1, "{kind}: {top:#?}");
    let text = shown(incident[0]);
    assert!(
        text.contains("Started during load test: "),
        "{kind}: {text}"
    );
    assert!(text.contains("Checkout peak 2000 users"), "{kind}: {text}");
    for r in log.iter().filter(|d| {
        d["event_type"]
            .as_str()
            .is_some_and(|t| t.starts_with("scenario_"))
    }) {
        assert_eq!(r["status"], "sent", "{kind}: {r}");
    }
}

test_both_backends! {
    async fn a_held_incident_still_failing_when_the_test_finishes_is_posted_after_the_grace(app: TestApp) {
        still_failing_is_posted_after_the_grace(app.backend, "finished").await;
    }
}

test_both_backends! {
    async fn a_held_incident_still_failing_when_the_test_errs_is_posted_after_the_grace(app: TestApp) {
        still_failing_is_posted_after_the_grace(app.backend, "error").await;
    }
}

test_both_backends! {
    async fn a_held_incident_still_failing_when_the_test_is_aborted_is_posted_after_the_grace(app: TestApp) {
        still_failing_is_posted_after_the_grace(app.backend, "aborted").await;
    }
}

test_both_backends! {
    async fn a_scenario_failing_before_the_load_test_is_not_held(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app
            .configure_acme(json!({"threads": true, "target_channels": "#load-tests", "during_load_tests": "hold"}))
            .await;
        assert_eq!(post_mon(&app, "shop-checkout", failing("m1", "2026-11-26T09:58:00Z")).await.0, 202);
        top_level(&app, "load-tests", &["Shop checkout"]).await;
        assert_eq!(post_lt(&app, "lt-123", lt_body("e1", "started")).await.0, 202);
        // Its recovery during the test is sent as usual.
        assert_eq!(post_mon(&app, "shop-checkout", recovered("m2", "2026-11-26T10:03:00Z")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
        let types: Vec<&str> = log.iter().filter_map(|d| d["event_type"].as_str()).collect();
        assert!(types.contains(&"scenario_recovered"), "{types:?}");
    }
}

// The real binary killed with SIGKILL while a hold is pending (its load test just ended,
// the grace not yet over): after the restart the incident is posted exactly once.
test_both_backends! {
    async fn a_hold_pending_at_kill_9_is_released_once_after_the_restart(app: TestApp) {
        use crate::shutdown::{binary_app, serve, wait_ready};
        captured_logs();
        let Some((app, mut child, log, port)) = binary_app(app.backend).await else { return };
        let (admin, _) = held_setup(&app).await;
        assert_eq!(post_mon(&app, "shop-checkout", failing("m1", "2026-11-26T10:02:00Z")).await.0, 202);
        actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
        assert_held(&app, &admin, 1).await;
        end_load_test(&app, "finished").await;
        child.kill().unwrap(); // SIGKILL, within the grace
        child.wait().unwrap();
        // Still held in the database: the process died before settling it.
        let rows = crate::shutdown::deliveries(&app);
        let held: Vec<_> = rows.iter().filter(|d| d.event_type == "scenario_failing").collect();
        assert_eq!(held.len(), 1, "{rows:#?}");
        assert!(held[0].hold_id.is_some(), "settled before the kill; the test proves nothing: {held:#?}");

        let mut child = serve(&app.db, app.fake(), port, &log);
        wait_ready(&app.http, port).await;
        let top = top_level(&app, "load-tests", &["Shop checkout"]).await;
        app.settled_deliveries(&admin).await;
        actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
        let all = messages(&app, "load-tests", 0).await;
        let incident: Vec<_> = all.iter().filter(|m| shown(m).contains("Shop checkout")).collect();
        assert_eq!(incident.len(), 1, "{top:#?} {all:#?}");
        assert!(shown(incident[0]).contains("Started during load test: "), "{}", shown(incident[0]));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

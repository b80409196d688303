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

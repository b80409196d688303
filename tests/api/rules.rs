//! Notification rules: failures to #alerts with a ping, everything to the target channels,
//! each channel once, project rules over org rules, every validation error.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::pipeline::{lt_body, messages, post_lt, post_mon};

const ORG: &str = "/api/v1/orgs/acme/slack";
const PROJECT: &str = "/api/v1/orgs/acme/projects/webshop/slack";

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    app.call(Method::PUT, path, Some(token), Some(body)).await
}

fn mentions(messages: &[Value]) -> Vec<Vec<String>> {
    messages
        .iter()
        .map(|m| {
            m["mentions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

fn scenario_event(id: &str, state: &str) -> Value {
    json!({
        "event_id": id, "org": "acme", "project": "webshop",
        "scenario": {"name": "Shop checkout"}, "notify_via": ["slack"], "state": state,
    })
}

crate::test_both_backends! {
    async fn failures_go_to_the_rule_channel_with_one_ping_and_everything_to_the_targets(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        app.fake_post("/channels", json!({"name": "alerts"})).await;
        let admin = app.configure_acme(json!({
            "target_channels": "#load-tests", "threads": true,
            "rules": [{"channel": "#alerts", "events": ["failures"], "mention": "@here"}],
        })).await;
        for (i, kind) in ["started", "running"].iter().enumerate() {
            assert_eq!(post_lt(&app, "lt-1", lt_body(&format!("f-{i}"), kind)).await.0, 202);
        }
        let mut error = lt_body("f-2", "error");
        error.as_object_mut().unwrap().remove("load_test");
        assert_eq!(post_lt(&app, "lt-1", error).await.0, 202);
        assert_eq!(post_mon(&app, "sc-1", scenario_event("m-1", "failure")).await.0, 202);
        assert_eq!(post_mon(&app, "sc-1", scenario_event("m-2", "ok")).await.0, 202);

        let log = app.settled_deliveries(&admin).await;
        assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
        let to = |c: &str| log.iter().filter(|d| d["channel"] == c).count();
        assert_eq!(to("#load-tests"), 5, "{log:#?}");
        assert_eq!(to("#alerts"), 2, "only the error and the failing scenario: {log:#?}");
        let by_rule: Vec<&Value> = log.iter().filter(|d| d["channel"] == "#alerts").collect();
        assert!(by_rule.iter().all(|d| d["rule"] == "#alerts: failures @here"), "{log:#?}");
        assert!(log.iter().filter(|d| d["channel"] == "#load-tests").all(|d| d.get("rule").is_none()));

        // #alerts: its own thread per load test / incident, each first message pings once;
        // the target channel's messages ping nobody, and neither do edits.
        let alerts = messages(&app, "alerts", 2).await;
        assert_eq!(mentions(&alerts), vec![vec!["@here".to_owned()], vec!["@here".to_owned()]], "{alerts:#?}");
        let targets = messages(&app, "load-tests", 3).await;
        assert!(mentions(&targets).iter().all(Vec::is_empty), "{targets:#?}");
    }
}

crate::test_both_backends! {
    async fn a_channel_both_targeted_and_in_a_rule_gets_each_event_once(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({
            "target_channels": "#load-tests",
            "rules": [{"channel": "#load-tests", "events": ["all"], "mention": "U0123ABCD W0123ABCD"}],
        })).await;
        assert_eq!(post_lt(&app, "lt-1", lt_body("b-0", "started")).await.0, 202);
        assert_eq!(post_lt(&app, "lt-1", lt_body("b-1", "running")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.len(), 2, "{log:#?}");
        let got = messages(&app, "load-tests", 2).await;
        assert_eq!(got.len(), 2);
        assert_eq!(mentions(&got)[0], vec!["U0123ABCD", "W0123ABCD"]);
    }
}

crate::test_both_backends! {
    async fn project_rules_override_org_rules_and_inherited_ones_are_shown(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        app.fake_post("/channels", json!({"name": "alerts"})).await;
        app.fake_post("/channels", json!({"name": "shop-alerts"})).await;
        // Rules alone make a configuration complete.
        let admin = app.configure_acme(json!({
            "target_channels": "",
            "rules": [{"channel": "#alerts", "events": ["load_test.finished", "monitoring.recovered"]}],
        })).await;
        let (_, org) = app.call(Method::GET, ORG, Some(&admin), None).await;
        assert_eq!(org["complete"], true, "{org}");
        assert_eq!(org["rules"], json!([{"channel": "#alerts", "events": ["load_test.finished", "monitoring.recovered"]}]));
        let (_, project) = app.call(Method::GET, PROJECT, Some(&admin), None).await;
        assert_eq!(project["effective"]["rules"]["source"], "organization", "{project}");
        assert_eq!(project["effective"]["rules"]["value"][0]["channel"], "#alerts");

        let (status, body) = put(&app, PROJECT, &admin, json!({
            "send_messages": true,
            "rules": [{"channel": "#shop-alerts", "events": ["load_test.started"], "mention": "S0123ABCD"}],
        })).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["own"]["rules"][0]["mention"], "S0123ABCD");
        assert_eq!(body["effective"]["rules"]["source"], "project");
        assert_eq!(post_lt(&app, "lt-1", lt_body("p-0", "started")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.len(), 1, "{log:#?}");
        assert_eq!((log[0]["channel"].as_str(), log[0]["status"].as_str()), (Some("#shop-alerts"), Some("sent")));
        assert_eq!(mentions(&messages(&app, "shop-alerts", 1).await), vec![vec!["S0123ABCD".to_owned()]]);
        // An event no rule selects and no target channel takes is not a delivery.
        assert_eq!(post_lt(&app, "lt-1", lt_body("p-1", "running")).await.0, 202);
        assert_eq!(app.settled_deliveries(&admin).await.len(), 1);
    }
}

crate::test_both_backends! {
    async fn every_refused_rule_is_a_422_naming_its_field_and_nothing_is_saved(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        app.fake_post("/channels", json!({"name": "secret", "is_private": true})).await;
        app.fake_post("/channels", json!({"name": "old", "is_archived": true})).await;
        let ok = json!({"channel": "#load-tests", "events": ["all"]});
        let cases = [
            (json!({"channel": "#alerts-x", "events": ["failures"]}), "rules[0].channel", "does not exist"),
            (json!({"channel": "@jane", "events": ["failures"]}), "rules[0].channel", "only public channels"),
            (json!({"channel": "D0123ABCD", "events": ["failures"]}), "rules[0].channel", "only public channels"),
            (json!({"channel": "#secret", "events": ["failures"]}), "rules[0].channel", "private"),
            (json!({"channel": "#old", "events": ["failures"]}), "rules[0].channel", "archived"),
            (json!({"channel": "#load-tests", "events": ["load_test.exploded"]}), "rules[0].events", "load_test.exploded"),
            (json!({"channel": "#load-tests", "events": []}), "rules[0].events", "at least one"),
            (json!({"channel": "#load-tests", "events": ["all"], "mention": "@everyone"}), "rules[0].mention", "@here"),
            (json!({"channel": "#load-tests", "events": ["all"], "mention": "jane"}), "rules[0].mention", "user IDs"),
        ];
        for (rule, field, says) in cases {
            let (status, body) = put(&app, ORG, &admin, json!({"rules": [rule]})).await;
            assert_eq!((status, body["field"].as_str()), (422, Some(field)), "{rule}: {body}");
            assert!(body["message"].as_str().unwrap().contains(says), "{rule}: {body}");
        }
        // The second rule's problem is named as the second rule's.
        let (status, body) = put(&app, ORG, &admin, json!({"rules": [ok, {"channel": "#nope-x", "events": ["all"]}]})).await;
        assert_eq!((status, body["field"].as_str()), (422, Some("rules[1].channel")), "{body}");
        let (status, body) = put(&app, ORG, &admin, json!({"rules": [{"channel": "#load-tests", "events": ["all"], "mentions": "@here"}]})).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["field"].as_str().unwrap().contains("mentions"), "{body}");
        let too_many: Vec<Value> = (0..21).map(|_| json!({"channel": "#load-tests", "events": ["all"]})).collect();
        let (status, body) = put(&app, ORG, &admin, json!({"rules": too_many})).await;
        assert_eq!((status, body["field"].as_str()), (422, Some("rules")), "{body}");
        let (_, org) = app.call(Method::GET, ORG, Some(&admin), None).await;
        assert_eq!(org["rules"], json!([]), "nothing saved: {org}");
    }
}

crate::test_both_backends! {
    async fn the_test_message_goes_to_each_rule_channel_naming_the_rule_and_pings_nobody(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        app.fake_post("/channels", json!({"name": "alerts"})).await;
        let admin = app.configure_acme(json!({
            "target_channels": "#load-tests",
            "rules": [{"channel": "#alerts", "events": ["failures"], "mention": "@here"},
                      {"channel": "#load-tests", "events": ["all"]}],
        })).await;
        let (status, body) = app.call(Method::POST, "/api/v1/orgs/acme/slack/test-message", Some(&admin), None).await;
        assert_eq!(status, 200, "{body}");
        let channels: Vec<&str> = body["results"].as_array().unwrap().iter().map(|r| r["channel"].as_str().unwrap()).collect();
        assert_eq!(channels, vec!["#load-tests", "#alerts"], "each channel once: {body}");
        let alerts = messages(&app, "alerts", 1).await;
        assert!(alerts[0]["text"].as_str().unwrap().contains("notification rule #alerts: failures @here"), "{alerts:#?}");
        assert!(mentions(&alerts)[0].is_empty(), "a test pings nobody: {alerts:#?}");
    }
}

crate::test_both_backends! {
    async fn rule_channels_saved_before_the_install_are_resolved_at_install(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        app.fake_post("/channels", json!({"name": "alerts"})).await;
        let (status, body) = put(&app, ORG, &admin, json!({
            "send_messages": true,
            "rules": [{"channel": "#alerts", "events": ["all"]}, {"channel": "#typo-alerts", "events": ["all"]}],
        })).await;
        assert_eq!(status, 200, "{body}");
        app.install_slack("/api/v1/orgs/acme", &admin).await;
        let (_, org) = app.call(Method::GET, ORG, Some(&admin), None).await;
        let warnings = org["channel_warnings"].as_array().unwrap();
        assert!(warnings.iter().any(|w| w["channel"] == "#typo-alerts" && w["problem"] == "not_found"), "{org}");
        assert!(!warnings.iter().any(|w| w["channel"] == "#alerts"), "{org}");
        // Resolved to its ID: a rename in Slack changes nothing.
        app.fake_post("/channels", json!({"name": "alerts", "rename": "alerts-renamed"})).await;
        assert_eq!(post_lt(&app, "lt-1", lt_body("r-0", "started")).await.0, 202);
        assert_eq!(messages(&app, "alerts-renamed", 1).await.len(), 1);
    }
}

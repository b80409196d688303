//! Ordinary Slack realities that must not lose notifications: re-installs with a backlog,
//! channels saved before the integration existed, expiring tokens, outages.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::pipeline::{lt_body, messages, post_lt};
use crate::slack_events::org_settings;

async fn post_message_calls(app: &TestApp) -> usize {
    app.fake_get("/calls?method=chat.postMessage").await["calls"]
        .as_array()
        .unwrap()
        .len()
}

crate::test_both_backends! {
    async fn a_reinstall_with_a_backlog_hands_it_to_the_new_installation(app: TestApp) {
        // One message per second per channel: five events are a backlog.
        let Some(app) = try_spawn_fast_app(app.backend, |a| { a.channel_interval_ms = 1000; a.channel_burst = 1; }).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        for (i, kind) in ["started", "running", "finished"].iter().enumerate() {
            assert_eq!(post_lt(&app, "lt-1", lt_body(&format!("e-{i}"), kind)).await.0, 202);
            assert_eq!(post_lt(&app, "lt-2", lt_body(&format!("f-{i}"), kind)).await.0, 202);
        }
        // "Set Up Slack Integration" again, same workspace, while most are still pending.
        app.install_slack("/api/v1/orgs/acme", &admin).await;
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.len(), 6);
        assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
        assert_eq!(messages(&app, "load-tests", 6).await.len(), 6);
    }
}

crate::test_both_backends! {
    async fn channels_saved_before_the_install_are_resolved_and_checked_afterwards(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        app.fake_post("/channels", json!({"name": "pre-alerts"})).await;
        let (status, body) = app.call(Method::PUT, "/api/v1/orgs/acme/slack", Some(&admin),
            Some(json!({"send_messages": true, "target_channels": "#pre-alerts #typo-channel"}))).await;
        assert_eq!(status, 200, "{body}");
        app.install_slack("/api/v1/orgs/acme", &admin).await;

        let settings = org_settings(&app, &admin).await;
        let warnings = settings["channel_warnings"].as_array().unwrap().clone();
        assert_eq!(warnings.len(), 1, "{settings}");
        assert_eq!((warnings[0]["channel"].as_str(), warnings[0]["problem"].as_str()),
                   (Some("#typo-channel"), Some("not_found")), "{settings}");
        let (_, check) = app.call(Method::POST, "/api/v1/orgs/acme/slack/channel-check", Some(&admin), None).await;
        assert_eq!((check["checked"].as_u64(), check["problems"].as_u64()), (Some(2), Some(1)), "{check}");

        // The resolved channel is addressed by ID: a rename in Slack changes nothing.
        let renamed = app.fake_post("/channels", json!({"name": "pre-alerts", "rename": "alerts-renamed"})).await;
        assert_eq!(renamed["ok"], true, "{renamed}");
        assert_eq!(post_lt(&app, "lt-1", lt_body("p-1", "started")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        let status_of = |c: &str| log.iter().find(|d| d["channel"].as_str().unwrap().contains(c)).map(|d| d["status"].clone());
        assert_eq!(status_of("typo-channel"), Some(json!("failed")), "{log:#?}");
        assert_eq!(messages(&app, "alerts-renamed", 1).await.len(), 1, "{log:#?}");
    }
}

crate::test_both_backends! {
    async fn rotating_tokens_are_refreshed_across_expiries_and_kept_encrypted(app: TestApp) {
        let Some(app) = try_spawn_fast_app_with_fake(app.backend, |f| f.token_lifetime = Some(Duration::from_secs(2)), |_| {}).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        let kinds = ["started", "running", "finished"];
        for (i, kind) in kinds.iter().enumerate() {
            // Each event after the token of the one before has expired.
            actix_web::rt::time::sleep(Duration::from_millis(2_500)).await;
            assert_eq!(post_lt(&app, "lt-1", lt_body(&format!("r-{i}"), kind)).await.0, 202);
            let log = app.settled_deliveries(&admin).await;
            assert_eq!(log[0]["status"], "sent", "{log:#?}");
        }
        assert_eq!(messages(&app, "load-tests", 3).await.len(), 3);
        assert_eq!(org_settings(&app, &admin).await["integration"]["status"], "active");
        let refreshes = app.fake_get("/calls?method=oauth.v2.access").await["calls"].as_array().unwrap().len();
        assert!(refreshes >= 3, "one install and at least one refresh per expiry: {refreshes}");
        if let Some(path) = app.db.sqlite_path() {
            let raw = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()
                + &String::from_utf8_lossy(&std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
            assert!(!raw.contains("xoxe-1-") && !raw.contains("xoxe.xoxb"), "a token in clear text");
        }
    }
}

crate::test_both_backends! {
    async fn a_slack_outage_loses_nothing_is_probed_not_hammered_and_shows(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |a| a.retry_base_ms = 20).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests #perf"})).await;
        app.fake_post("/fail", json!({"method": "chat.postMessage", "count": 100000, "http_status": 503})).await;
        for i in 0..3 {
            assert_eq!(post_lt(&app, &format!("lt-{i}"), lt_body(&format!("o-{i}"), "started")).await.0, 202);
        }
        // Six deliveries, each of which alone would have tried ~7 times by now.
        actix_web::rt::time::sleep(Duration::from_secs(3)).await;
        let settings = org_settings(&app, &admin).await;
        assert!(settings["integration"]["slack_failing_since"].is_string(), "{settings}");
        assert!(settings["integration"]["warning"].as_str().unwrap().contains("Slack has been failing"));
        let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("xtc_slack_slack_failing_installations 1"), "{metrics}");
        let during = post_message_calls(&app).await;
        assert!(during <= 20, "{during} calls to chat.postMessage during the outage");
        let log = app.settled_deliveries(&admin).await;
        assert!(log.iter().all(|d| d["status"] == "pending"), "nothing given up: {log:#?}");

        // Slack recovers: everything goes out, once, and the warning goes away.
        app.fake_post("/fail", json!({"method": "chat.postMessage", "count": 0})).await;
        let log = app.settled_deliveries(&admin).await;
        assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
        assert_eq!(messages(&app, "load-tests", 3).await.len(), 3);
        assert_eq!(messages(&app, "perf", 3).await.len(), 3);
        assert!(org_settings(&app, &admin).await["integration"].get("slack_failing_since").is_none());
    }
}

crate::test_both_backends! {
    async fn a_reinstall_into_another_workspace_re_resolves_channels_by_name_there(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |a| { a.channel_interval_ms = 1000; a.channel_burst = 1; }).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests #perf"})).await;
        for (i, kind) in ["started", "running", "finished"].iter().enumerate() {
            assert_eq!(post_lt(&app, "lt-1", lt_body(&format!("w-{i}"), kind)).await.0, 202);
        }
        // The first message of each channel goes out at once; the rest wait for pacing.
        messages(&app, "load-tests", 1).await;
        messages(&app, "perf", 1).await;
        // The other workspace has a #load-tests of its own (another ID) and no #perf.
        app.fake_post("/channels", json!({"name": "load-tests", "delete": true})).await;
        app.fake_post("/channels", json!({"name": "perf", "delete": true})).await;
        app.fake_post("/channels", json!({"name": "load-tests"})).await;
        let switched = app.fake_post("/workspace", json!({"team_id": "T0OTHER001", "team_name": "Other-Workspace"})).await;
        assert_eq!(switched["ok"], true, "{switched}");
        app.install_slack("/api/v1/orgs/acme", &admin).await;

        let settings = org_settings(&app, &admin).await;
        assert_eq!(settings["integration"]["team_id"], "T0OTHER001");
        let warnings = settings["channel_warnings"].as_array().unwrap();
        assert!(warnings.iter().any(|w| w["channel"] == "#perf" && w["problem"] == "not_found"), "{settings}");
        let log = app.settled_deliveries(&admin).await;
        let of = |c: &str| log.iter().filter(|d| d["channel"] == c).map(|d| d["status"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        // Whatever was still pending went to the new #load-tests; #perf's say why they failed.
        assert!(of("#perf").iter().all(|s| s != "pending"), "{log:#?}");
        for d in log.iter().filter(|d| d["channel"] == "#perf" && d["status"] == "failed") {
            assert!(d["error"].as_str().unwrap().contains("#perf was not found in the Slack workspace Other-Workspace"), "{d}");
        }
        assert!(log.iter().filter(|d| d["channel"] == "#load-tests").all(|d| d["status"] == "sent"), "{log:#?}");
        assert!(!messages(&app, "load-tests", 1).await.is_empty());
        // New events go to the new workspace's channel.
        assert_eq!(post_lt(&app, "lt-1", lt_body("w-9", "report_available")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.iter().find(|d| d["event_id"] == "w-9" && d["channel"] == "#load-tests").unwrap()["status"], "sent", "{log:#?}");
    }
}

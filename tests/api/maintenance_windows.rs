//! Maintenance windows (API.md "Maintenance windows"): created, listed and deleted per
//! organization or project (422 for bad times), changes inside a window logged `skipped`
//! with its reason, and at its end the incident still failing posted once; one that
//! recovered inside sends nothing.

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::pipeline::{messages, post_mon};
use crate::test_both_backends;

const ORG_WINDOWS: &str = "/api/v1/orgs/acme/slack/maintenance-windows";
const PROJECT_WINDOWS: &str = "/api/v1/orgs/acme/projects/webshop/slack/maintenance-windows";

fn once(from_now_s: i64, to_now_s: i64, reason: &str) -> Value {
    let now = Utc::now();
    json!({
        "starts_at": (now + chrono::Duration::seconds(from_now_s)).to_rfc3339(),
        "ends_at": (now + chrono::Duration::seconds(to_now_s)).to_rfc3339(),
        "scenarios": null,
        "reason": reason,
    })
}

fn event(event_id: &str, name: &str, state: &str) -> Value {
    json!({
        "event_id": event_id, "org": "acme", "project": "webshop",
        "scenario": {"name": name}, "notify_via": ["slack"], "state": state,
    })
}

test_both_backends! {
    async fn windows_are_created_listed_and_deleted_by_admins_and_bad_times_are_422(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let project_admin = app.project_admin_token("acme", "webshop");
        for (bad, field) in [
            (json!({"starts_at": "tomorrow", "ends_at": "2099-01-01T00:00:00Z", "reason": "r"}), "starts_at"),
            (json!({"starts_at": "2099-01-02T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z", "reason": "r"}), "ends_at"),
            (json!({"weekly": {"days": ["sat"], "from": "22:00", "to": "02:00", "timezone": "Mars/Base"}, "reason": "r"}), "weekly.timezone"),
            (json!({"weekly": {"days": ["saturday"], "from": "22:00", "to": "02:00", "timezone": "UTC"}, "reason": "r"}), "weekly.days"),
            (json!({"weekly": {"days": ["sat"], "from": "25:00", "to": "02:00", "timezone": "UTC"}, "reason": "r"}), "weekly.from"),
            (json!({"weekly": {"days": ["sat"], "from": "22:00", "to": "02:00", "timezone": "UTC"}, "reason": ""}), "reason"),
        ] {
            let (status, body) = app.call(Method::POST, ORG_WINDOWS, Some(&admin), Some(bad.clone())).await;
            assert_eq!(status, 422, "{bad}: {body}");
            assert_eq!(body["field"], field, "{bad}: {body}");
        }
        let weekly = json!({"weekly": {"days": ["sun", "sat"], "from": "22:00", "to": "02:00", "timezone": "Europe/Berlin"},
                            "scenarios": ["shop-checkout"], "reason": "Weekly backup"});
        let (status, org_window) = app.call(Method::POST, ORG_WINDOWS, Some(&admin), Some(weekly)).await;
        assert_eq!(status, 201, "{org_window}");
        assert_eq!(org_window["weekly"]["days"], json!(["sat", "sun"]));
        assert_eq!(org_window["project"], Value::Null);
        let (status, project_window) = app.call(Method::POST, PROJECT_WINDOWS, Some(&project_admin), Some(once(3600, 7200, "Shop freeze"))).await;
        assert_eq!(status, 201, "{project_window}");
        let (_, list) = app.call(Method::GET, ORG_WINDOWS, Some(&admin), None).await;
        assert_eq!(list["windows"].as_array().map(Vec::len), Some(1), "{list}");
        let (_, list) = app.call(Method::GET, PROJECT_WINDOWS, Some(&project_admin), None).await;
        assert_eq!(list["windows"][0]["reason"], "Shop freeze", "{list}");
        // A project admin cannot touch the organization's windows.
        let (status, _) = app.call(Method::GET, ORG_WINDOWS, Some(&project_admin), None).await;
        assert_eq!(status, 403);
        let org_id = org_window["id"].as_i64().unwrap_or_default();
        let (status, _) = app.call(Method::DELETE, &format!("{PROJECT_WINDOWS}/{org_id}"), Some(&project_admin), None).await;
        assert_eq!(status, 404, "another scope's window is not found here");
        let (status, _) = app.call(Method::DELETE, &format!("{ORG_WINDOWS}/{org_id}"), Some(&admin), None).await;
        assert_eq!(status, 204);
        let (_, list) = app.call(Method::GET, ORG_WINDOWS, Some(&admin), None).await;
        assert_eq!(list["windows"], json!([]));
    }
}

test_both_backends! {
    async fn inside_a_window_changes_are_skipped_and_at_its_end_a_still_failing_incident_is_posted_once(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"threads": true, "target_channels": "#load-tests"})).await;
        let (status, window) = app.call(Method::POST, PROJECT_WINDOWS, Some(&admin), Some(once(-60, 3, "DB upgrade"))).await;
        assert_eq!(status, 201, "{window}");
        assert!(window["active_until"].is_string(), "{window}");
        // One fails and stays failing; another fails and recovers inside the window.
        assert_eq!(post_mon(&app, "shop-checkout", event("a1", "Shop checkout", "failure")).await.0, 202);
        assert_eq!(post_mon(&app, "search", event("b1", "Search", "failure")).await.0, 202);
        assert_eq!(post_mon(&app, "search", event("b2", "Search", "ok")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.len(), 3, "{log:#?}");
        for d in &log {
            assert_eq!(d["status"], "skipped", "{d}");
            assert!(d.to_string().contains("maintenance: DB upgrade (window "), "{d}");
        }
        // The window ends: the still-failing incident is posted, once.
        let posted = messages(&app, "load-tests", 1).await;
        let all = posted.iter().map(Value::to_string).collect::<Vec<_>>().join(" ");
        assert!(all.contains("Shop checkout"), "{all}");
        assert!(all.contains("During maintenance: ") && all.contains("DB upgrade"), "{all}");
        assert!(!all.contains("Search"), "recovered inside: nothing: {all}");
        actix_web::rt::time::sleep(Duration::from_secs(3)).await;
        let again = app.fake_get("/messages?channel=load-tests").await;
        assert_eq!(again["messages"].as_array().map(Vec::len), Some(1), "{again}");
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.iter().filter(|d| d["status"] == "sent").count(), 1, "{log:#?}");
        // Its recovery after the window goes into the incident's thread as usual.
        assert_eq!(post_mon(&app, "shop-checkout", event("a2", "Shop checkout", "ok")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.iter().filter(|d| d["status"] == "sent").count(), 2, "{log:#?}");
    }
}

/// The channel's messages now (no waiting).
async fn posted_now(app: &TestApp) -> Vec<Value> {
    app.fake_get("/messages?channel=load-tests").await["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A window of `seconds` from now; a scenario failing in it (still failing) and one that
/// failed and recovered in it, all skipped. Returns the admin token.
async fn failing_inside_a_window(app: &TestApp, seconds: i64) -> String {
    let admin = app
        .configure_acme(json!({"threads": true, "target_channels": "#load-tests"}))
        .await;
    let (status, window) = app
        .call(
            Method::POST,
            PROJECT_WINDOWS,
            Some(&admin),
            Some(once(-60, seconds, "DB upgrade")),
        )
        .await;
    assert_eq!(status, 201, "{window}");
    assert_eq!(
        post_mon(
            app,
            "shop-checkout",
            event("a1", "Shop checkout", "failure")
        )
        .await
        .0,
        202
    );
    assert_eq!(
        post_mon(app, "search", event("b1", "Search", "failure"))
            .await
            .0,
        202
    );
    assert_eq!(
        post_mon(app, "search", event("b2", "Search", "ok")).await.0,
        202
    );
    let log = app.settled_deliveries(&admin).await;
    assert_eq!(log.len(), 3, "{log:#?}");
    assert!(log.iter().all(|d| d["status"] == "skipped"), "{log:#?}");
    admin
}

/// After the window's end: the still-failing incident posted exactly once, saying so;
/// the recovered one not at all.
async fn posted_once_after_the_window(app: &TestApp, admin: &str) {
    let posted = messages(app, "load-tests", 1).await;
    let all = posted
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        all.contains("Shop checkout") && all.contains("During maintenance: "),
        "{all}"
    );
    assert!(!all.contains("Search"), "recovered inside: nothing: {all}");
    // Several release checks later, still one.
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        posted_now(app).await.len(),
        1,
        "{:#?}",
        posted_now(app).await
    );
    let log = app.settled_deliveries(admin).await;
    assert_eq!(
        log.iter().filter(|d| d["status"] == "sent").count(),
        1,
        "{log:#?}"
    );
}

// The real binary stopped (SIGTERM) inside a window, which ends while it is down: after
// the restart the held incident is posted once.
test_both_backends! {
    async fn a_window_that_ended_while_the_service_was_stopped_is_released_once_after_the_restart(app: TestApp) {
        use crate::shutdown::{binary_app, serve, sigterm, wait_exit, wait_ready};
        let Some((app, mut child, log, port)) = binary_app(app.backend).await else { return };
        let admin = failing_inside_a_window(&app, 6).await;
        sigterm(&child);
        wait_exit(&mut child, Duration::from_secs(30)).await;
        // Down past the window's end.
        actix_web::rt::time::sleep(Duration::from_secs(7)).await;
        assert!(posted_now(&app).await.is_empty(), "nothing is posted while the service is down");
        let mut child = serve(&app.db, app.fake(), port, &log);
        wait_ready(&app.http, port).await;
        posted_once_after_the_window(&app, &admin).await;
        child.kill().unwrap_or_default();
        child.wait().map(drop).unwrap_or_default();
    }
}

// kill -9 while the hold is pending (before the window's end), restarted before it ends:
// the restarted service releases it at the end, once.
test_both_backends! {
    async fn a_hold_pending_at_kill_9_is_released_once_at_the_windows_end_after_the_restart(app: TestApp) {
        use crate::shutdown::{binary_app, serve, wait_ready};
        let Some((app, mut child, log, port)) = binary_app(app.backend).await else { return };
        let admin = failing_inside_a_window(&app, 10).await;
        child.kill().unwrap_or_default(); // SIGKILL
        child.wait().map(drop).unwrap_or_default();
        let mut child = serve(&app.db, app.fake(), port, &log);
        wait_ready(&app.http, port).await;
        assert!(posted_now(&app).await.is_empty(), "the window has not ended yet");
        posted_once_after_the_window(&app, &admin).await;
        child.kill().unwrap_or_default();
        child.wait().map(drop).unwrap_or_default();
    }
}

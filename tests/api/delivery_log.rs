//! The delivery logs: a project's and an organization's (with filters), the names and
//! sentences each entry carries, and test messages among them.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::test_both_backends_with_slack;

/// Posts a `started` event of load test `id` named `name` in acme/`project`.
async fn load_test_started(app: &TestApp, id: &str, project: &str, name: &str) {
    let token = app.service_token.clone();
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/load-tests/{id}/events"),
            Some(&token),
            Some(json!({
                "event_id": format!("ev-{id}"), "org": "acme", "project": project,
                "type": "started", "occurred_at": "2026-11-26T10:00:00Z",
                "load_test": {"name": name, "url": "https://xtc.example/lt/1", "started_by": "jane"},
            })),
        )
        .await;
    assert!(status == 202 || status == 200, "{status} {body}");
}

/// `GET path` as `token`: status and the `deliveries` (or the error body).
async fn log(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    app.call(Method::GET, path, Some(token), None).await
}

/// The org log once nothing is pending any more (or after 30 s).
async fn settled_org_log(app: &TestApp, admin: &str, expected: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = log(app, "/api/v1/orgs/acme/slack/deliveries", admin).await;
        assert_eq!(status, 200, "{body}");
        let list = body["deliveries"].as_array().unwrap().clone();
        let done = list.len() >= expected && list.iter().all(|d| d["status"] != "pending");
        if done || Instant::now() > deadline {
            return list;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

test_both_backends_with_slack! {
    async fn the_org_log_lists_all_projects_with_names_current_channels_and_what_to_do(app: TestApp) {
        let admin = app.configure_acme(json!({"target_channels": "#load-tests #perf"})).await;
        assert_eq!(app.put_project("acme", "blog", "Blog").await.0, 201);
        // #load-tests is archived in Slack after it was saved: its messages fail.
        app.fake_post("/channels", json!({"name": "load-tests", "is_archived": true})).await;
        load_test_started(&app, "lt-shop", "webshop", "Checkout peak 2000 users").await;
        load_test_started(&app, "lt-blog", "blog", "Blog smoke").await;
        let list = settled_org_log(&app, &admin, 4).await;
        assert_eq!(list.len(), 4, "{list:#?}");

        // #perf is renamed in Slack afterwards: the log shows the current name.
        let mut event = json!({"type": "channel_rename", "channel": "perf", "name": "perf-v2"});
        event["url"] = json!(format!("{}/slack/events", app.address));
        assert_eq!(app.fake_post("/events", event).await["ok"], true);

        let (status, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries?limit=50", &admin).await;
        assert_eq!(status, 200, "{body}");
        let list = body["deliveries"].as_array().unwrap();
        let find = |project: &str, channel: &str| {
            list.iter()
                .find(|d| d["project"] == project && d["channel_name"] == channel)
                .unwrap_or_else(|| panic!("no {project} {channel}: {list:#?}"))
                .clone()
        };
        let sent = find("webshop", "#perf-v2");
        assert_eq!(sent["subject_name"], "Checkout peak 2000 users", "{sent}");
        assert_eq!(sent["subject_kind"], "load_test");
        assert_eq!(sent["event_type"], "started");
        assert_eq!(sent["event_id"], "ev-lt-shop");
        assert_eq!(sent["status"], "sent");
        assert!(sent["sent_at"].is_string() && sent["next_attempt_at"].is_null(), "{sent}");
        assert!(sent["error"].is_null() && sent["error_message"].is_null(), "{sent}");
        assert_eq!(sent["channel"], "#perf", "the stored field stays as it was");

        let failed = find("blog", "#load-tests");
        assert_eq!(failed["subject_name"], "Blog smoke");
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["error"], "is_archived", "the raw code stays");
        let message = failed["error_message"].as_str().unwrap();
        assert!(message.contains("archived in Slack") && message.contains("pick another channel"), "{message}");

        // Filters.
        let (_, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries?project=blog", &admin).await;
        let blog = body["deliveries"].as_array().unwrap();
        assert_eq!(blog.len(), 2, "{body}");
        assert!(blog.iter().all(|d| d["project"] == "blog"));
        let (_, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries?limit=50&status=failed&project=webshop", &admin).await;
        let failed = body["deliveries"].as_array().unwrap();
        assert_eq!(failed.len(), 1, "{body}");
        assert_eq!(failed[0]["channel_name"], "#load-tests");
        let (_, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries?limit=1", &admin).await;
        assert_eq!(body["deliveries"].as_array().unwrap().len(), 1);

        // The project's own log has the same shape.
        let (status, body) = log(&app, "/api/v1/orgs/acme/projects/webshop/slack/deliveries", &admin).await;
        assert_eq!(status, 200);
        let shop = body["deliveries"].as_array().unwrap();
        assert_eq!(shop.len(), 2);
        assert!(shop.iter().any(|d| d["channel_name"] == "#perf-v2" && d["subject_name"] == "Checkout peak 2000 users"), "{body}");
    }
}

test_both_backends_with_slack! {
    async fn the_org_log_is_for_org_admins_and_refuses_bad_filters_naming_them(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let project_admin = app.project_admin_token("acme", "webshop");
        let (status, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries", &admin).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"deliveries": []}));

        let (status, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries", &project_admin).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"], "forbidden");
        let service = app.service_token.clone();
        assert_eq!(log(&app, "/api/v1/orgs/acme/slack/deliveries", &service).await.0, 403);
        let other = app.admin_token("other");
        assert_eq!(log(&app, "/api/v1/orgs/acme/slack/deliveries", &other).await.0, 403);
        assert_eq!(app.call(Method::GET, "/api/v1/orgs/acme/slack/deliveries", None, None).await.0, 401);

        let (status, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries?status=lost", &admin).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["field"], "status", "{body}");
        assert!(body["message"].as_str().unwrap().contains("pending, sent, failed, skipped"), "{body}");
        let (status, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries?project=Bad!", &admin).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["field"], "project");
        let (status, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries?project=nope", &admin).await;
        assert_eq!(status, 404, "{body}");
        let (status, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries?limit=0", &admin).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["field"], "limit");
        let ghost = app.admin_token("ghost");
        assert_eq!(log(&app, "/api/v1/orgs/ghost/slack/deliveries", &ghost).await.0, 404);
    }
}

test_both_backends_with_slack! {
    async fn test_messages_are_logged_as_deliveries_with_their_errors(app: TestApp) {
        let admin = app.configure_acme(json!({"target_channels": "#load-tests #perf", "send_messages": false})).await;
        app.fake_post("/channels", json!({"name": "perf", "is_archived": true})).await;
        let (status, body) = app.call(Method::POST, "/api/v1/orgs/acme/slack/test-message", Some(&admin), None).await;
        assert_eq!(status, 200, "{body}");

        let (_, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries", &admin).await;
        let list = body["deliveries"].as_array().unwrap();
        assert_eq!(list.len(), 2, "{body}");
        for d in list {
            assert_eq!(d["event_type"], "test_message", "{d}");
            assert_eq!(d["subject_name"], "Test message by test", "{d}");
            assert!(d["project"].is_null(), "an organization's test message: {d}");
        }
        let ok = list.iter().find(|d| d["channel_name"] == "#load-tests").unwrap();
        assert_eq!(ok["status"], "sent");
        assert!(ok["sent_at"].is_string() && ok["error"].is_null(), "{ok}");
        let bad = list.iter().find(|d| d["channel_name"] == "#perf").unwrap();
        assert_eq!(bad["status"], "failed");
        assert_eq!(bad["error"], "is_archived");
        assert!(bad["error_message"].as_str().unwrap().contains("archived in Slack"), "{bad}");
        let (_, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries?status=failed", &admin).await;
        assert_eq!(body["deliveries"].as_array().unwrap().len(), 1, "{body}");

        // A project's test message shows in the project's log (and the org's).
        let project_admin = app.project_admin_token("acme", "webshop");
        let (status, _) = app.call(Method::POST, "/api/v1/orgs/acme/projects/webshop/slack/test-message", Some(&project_admin), None).await;
        assert_eq!(status, 200);
        let (_, body) = log(&app, "/api/v1/orgs/acme/projects/webshop/slack/deliveries", &project_admin).await;
        let list = body["deliveries"].as_array().unwrap();
        assert_eq!(list.len(), 2, "{body}");
        assert!(list.iter().all(|d| d["event_type"] == "test_message" && d["project"] == "webshop"), "{body}");
        let (_, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries?project=webshop", &admin).await;
        assert_eq!(body["deliveries"].as_array().unwrap().len(), 2, "{body}");
        let (_, body) = log(&app, "/api/v1/orgs/acme/slack/deliveries", &admin).await;
        assert_eq!(body["deliveries"].as_array().unwrap().len(), 4, "{body}");
    }
}

test_both_backends_with_slack! {
    /// Deliveries and test messages are numbered apart, so both can be `"id": 1`; `kind`
    /// tells them apart (the documented fields stay as they were).
    async fn a_test_message_and_a_delivery_with_the_same_id_differ_by_kind(app: TestApp) {
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        load_test_started(&app, "lt-1", "webshop", "Checkout").await;
        let (status, body) = app.call(Method::POST, "/api/v1/orgs/acme/slack/test-message", Some(&admin), None).await;
        assert_eq!(status, 200, "{body}");
        let list = settled_org_log(&app, &admin, 2).await;
        assert_eq!(list.len(), 2, "{list:#?}");
        let delivery = list.iter().find(|d| d["event_type"] == "started").unwrap();
        let test = list.iter().find(|d| d["event_type"] == "test_message").unwrap();
        assert_eq!((&delivery["id"], &test["id"]), (&json!(1), &json!(1)), "{list:#?}");
        assert_eq!(delivery["kind"], "delivery", "{delivery}");
        assert_eq!(test["kind"], "test_message", "{test}");
        for d in &list {
            for field in ["id", "event_id", "channel", "status", "attempts", "error", "created_at", "sent_at"] {
                assert!(d.get(field).is_some(), "{field} missing: {d}");
            }
        }
    }
}

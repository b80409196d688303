//! `POST …/slack/test-message` against the fake Slack.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::{test_both_backends, test_both_backends_with_slack};

async fn messages_in(app: &TestApp, channel: &str) -> Vec<Value> {
    app.fake_get(&format!("/messages?channel={channel}")).await["messages"]
        .as_array()
        .unwrap()
        .clone()
}

test_both_backends_with_slack! {
    async fn a_test_message_reports_each_channel(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        // Saved before the integration exists, so stored as typed (no checks yet).
        let (status, body) = app.call(Method::PUT, "/api/v1/orgs/acme/slack", Some(&admin),
            Some(json!({"target_channels": "#load-tests #old-alerts #gone"}))).await;
        assert_eq!(status, 200, "{body}");
        app.install_slack("/api/v1/orgs/acme", &admin).await;

        // Sent although sending is disabled.
        let (status, body) = app.call(Method::POST, "/api/v1/orgs/acme/slack/test-message", Some(&admin), None).await;
        assert_eq!(status, 200, "{body}");
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["channel"], "#load-tests");
        assert_eq!(results[0]["ok"], true);
        assert!(results[0]["ts"].as_str().unwrap().contains('.'));
        assert_eq!(results[1], json!({"channel": "#old-alerts", "ok": false, "error": "is_archived"}));
        assert_eq!(results[2], json!({"channel": "#gone", "ok": false, "error": "channel_not_found"}));

        let posted = messages_in(&app, "load-tests").await;
        assert_eq!(posted.len(), 1);
        let text = posted[0]["text"].as_str().unwrap();
        assert!(text.contains("Acme Corp"), "{text}");
        assert_eq!(posted[0]["ts"], results[0]["ts"]);
        // A working integration stays active.
        let (_, body) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&admin), None).await;
        assert_eq!(body["integration"]["status"], "active");
    }
}

test_both_backends_with_slack! {
    async fn a_project_test_message_uses_the_effective_configuration(app: TestApp) {
        assert_eq!(app.put_org("acme", "Acme <!channel> & Co").await.0, 201);
        assert_eq!(app.put_project("acme", "webshop", "Web_shop *x*").await.0, 201);
        let admin = app.admin_token("acme");
        let project_admin = app.project_admin_token("acme", "webshop");
        app.install_slack("/api/v1/orgs/acme", &admin).await;
        app.call(Method::PUT, "/api/v1/orgs/acme/slack", Some(&admin), Some(json!({"target_channels": "#load-tests"}))).await;
        let (status, body) = app.call(Method::PUT, "/api/v1/orgs/acme/projects/webshop/slack", Some(&project_admin),
            Some(json!({"send_messages": false, "target_channels": "#perf"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["effective"]["complete"], true);

        let (status, body) = app.call(Method::POST, "/api/v1/orgs/acme/projects/webshop/slack/test-message", Some(&project_admin), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["results"], json!([{"channel": "#perf", "ok": true, "ts": body["results"][0]["ts"]}]));
        let posted = messages_in(&app, "perf").await;
        let text = posted[0]["text"].as_str().unwrap();
        // Names exactly as typed, with Slack's control characters escaped.
        assert!(text.contains("Web_shop *x*"), "{text}");
        assert!(text.contains("Acme &lt;!channel&gt; &amp; Co"), "{text}");
        assert!(!text.contains("<!channel>"), "{text}");
        // What Slack shows: rich text, whose text elements are literal (no mrkdwn, so
        // `*x*` and `_` stay), with the names as typed and bold labels.
        let blocks = &posted[0]["blocks"];
        assert_eq!(blocks[0]["type"], "rich_text", "{blocks}");
        let shown = blocks.to_string();
        assert!(shown.contains("\"text\":\"Web_shop *x*\""), "{shown}");
        assert!(shown.contains("\"text\":\"Acme &lt;!channel&gt; &amp; Co\""), "{shown}");
        assert!(shown.contains("Project: ") && shown.contains("\"bold\":true"), "{shown}");
        assert!(!shown.contains("mrkdwn") && !shown.contains("<!channel>"), "{shown}");
        assert!(messages_in(&app, "load-tests").await.is_empty());
    }
}

test_both_backends! {
    async fn an_incomplete_configuration_is_409_naming_what_is_missing(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let (status, res) = app.call(Method::POST, "/api/v1/orgs/acme/slack/test-message", Some(&admin), None).await;
        assert_eq!((status, res["error"].as_str()), (409, Some("incomplete_config")), "{res}");
        assert_eq!(res["missing"], json!(["integration", "target_channels"]));
        app.call(Method::PUT, "/api/v1/orgs/acme/slack", Some(&admin), Some(json!({"target_channels": "#load-tests"}))).await;
        let (status, res) = app.call(Method::POST, "/api/v1/orgs/acme/projects/webshop/slack/test-message", Some(&admin), None).await;
        assert_eq!(status, 409);
        assert_eq!(res["missing"], json!(["integration"]));
    }
}

test_both_backends_with_slack! {
    async fn a_revoked_token_marks_the_integration_revoked(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        app.install_slack("/api/v1/orgs/acme", &admin).await;
        app.call(Method::PUT, "/api/v1/orgs/acme/slack", Some(&admin), Some(json!({"target_channels": "#load-tests"}))).await;
        app.fake_post("/tokens/revoke", json!({"all": true})).await;

        let (status, body) = app.call(Method::POST, "/api/v1/orgs/acme/slack/test-message", Some(&admin), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["results"][0]["ok"], false);
        assert_eq!(body["results"][0]["error"], "token_revoked");

        let (_, body) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&admin), None).await;
        assert_eq!(body["integration"]["status"], "revoked");
        assert_eq!(body["integration"]["status_reason"], "token_revoked");
        assert_eq!(body["complete"], false);
        let (status, res) = app.call(Method::POST, "/api/v1/orgs/acme/slack/test-message", Some(&admin), None).await;
        assert_eq!(status, 409);
        assert_eq!(res["missing"], json!(["active_integration"]));

        // Without an active integration, channels are stored as typed again.
        let (status, body) = app.call(Method::PUT, "/api/v1/orgs/acme/slack", Some(&admin), Some(json!({"target_channels": "#whatever"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["target_channels"], json!(["#whatever"]));
    }
}

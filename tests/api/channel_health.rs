//! Channel health: target channels archived, deleted or turned private at Slack show as
//! warnings on the settings, after an on-demand or a periodic check.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::test_both_backends_with_slack;

async fn check(app: &TestApp, token: Option<&str>) -> (u16, Value) {
    app.call(
        Method::POST,
        "/api/v1/orgs/acme/slack/channel-check",
        token,
        None,
    )
    .await
}

fn problems(warnings: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = warnings
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["channel"].as_str().unwrap().to_owned(),
                w["problem"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

test_both_backends_with_slack! {
    async fn a_check_finds_archived_deleted_and_private_target_channels(app: TestApp) {
        let admin = app.configure_acme(json!({"target_channels": "#load-tests #perf #random #general"})).await;
        // Changed at Slack without any event reaching us.
        app.fake_post("/channels", json!({"name": "load-tests", "is_archived": true})).await;
        app.fake_post("/channels", json!({"name": "perf", "is_private": true, "is_member": true})).await;
        app.fake_post("/channels", json!({"name": "random", "delete": true})).await;
        let (_, before) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&admin), None).await;
        assert_eq!(before["channel_warnings"], json!([]));

        let (status, body) = check(&app, Some(&admin)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["checked"], 4, "{body}");
        assert_eq!(body["problems"], 3, "{body}");
        let expected = vec![
            ("#load-tests".to_owned(), "archived".to_owned()),
            ("#perf".to_owned(), "private".to_owned()),
            ("#random".to_owned(), "deleted".to_owned()),
        ];
        assert_eq!(problems(&body["channel_warnings"]), expected);
        let (_, org) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&admin), None).await;
        assert_eq!(problems(&org["channel_warnings"]), expected, "{org}");
        assert!(org["channel_warnings"][0]["message"].as_str().unwrap().len() > 20);
        let (_, project) = app
            .call(Method::GET, "/api/v1/orgs/acme/projects/webshop/slack", Some(&admin), None)
            .await;
        assert_eq!(problems(&project["effective"]["channel_warnings"]), expected, "{project}");
        // One conversations.info per channel.
        let calls = app.fake_get("/calls?method=conversations.info").await;
        assert_eq!(calls["calls"].as_array().unwrap().len(), 4, "{calls}");

        // Fixed at Slack: the next check clears the warning.
        app.fake_post("/channels", json!({"name": "load-tests", "is_archived": false})).await;
        let (_, body) = check(&app, Some(&admin)).await;
        assert_eq!(body["problems"], 2, "{body}");

        // Who may ask.
        assert_eq!(check(&app, None).await.0, 401);
        let other = app.admin_token("other");
        assert_eq!(check(&app, Some(&other)).await.0, 403);
    }
}

test_both_backends_with_slack! {
    async fn revoked_installations_are_not_checked(app: TestApp) {
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        let event = json!({"type": "app_uninstalled", "url": format!("{}/slack/events", app.address)});
        app.fake_post("/events", event).await;
        let (status, body) = check(&app, Some(&admin)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["checked"], 0, "{body}");
        let calls = app.fake_get("/calls?method=conversations.info").await;
        assert_eq!(calls["calls"], json!([]));
    }
}

#[actix_web::test]
async fn the_periodic_check_runs_on_its_interval() {
    use fake_slack::FakeSlackConfig;
    use std::net::TcpListener;
    let config = FakeSlackConfig {
        rate_limit_per_sec: 0.0,
        ..FakeSlackConfig::default()
    };
    let (id, secret) = (config.client_id.clone(), config.client_secret.clone());
    let fake = fake_slack::spawn(config, TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    let (api, authorize) = (fake.api_url(), fake.authorize_url());
    let mut app = try_spawn_app_with(Backend::Sqlite, move |args| {
        args.slack_client_id = Some(id);
        args.slack_client_secret = Some(secret);
        args.slack_api_url = api;
        args.slack_authorize_url = authorize;
        args.channel_check_interval_secs = 1;
    })
    .await
    .unwrap();
    app.fake = Some(fake);
    let admin = app
        .configure_acme(json!({"target_channels": "#perf"}))
        .await;
    app.fake_post("/channels", json!({"name": "perf", "is_archived": true}))
        .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, org) = app
            .call(Method::GET, "/api/v1/orgs/acme/slack", Some(&admin), None)
            .await;
        if org["channel_warnings"]
            .as_array()
            .is_some_and(|w| !w.is_empty())
        {
            assert_eq!(org["channel_warnings"][0]["problem"], "archived");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no periodic check within 15 s: {org}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

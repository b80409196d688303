//! Another product's Slack request, as it leaves Prometheus Alertmanager 0.25 (captured from
//! Debian's build by the bench's peer phase): the fake must take it as Slack does, so that
//! the bench compares the two products against one fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;

use fake_slack::FakeSlackConfig;
use serde_json::{json, Value};

/// Alertmanager 0.25's `slack_configs` request: a JSON body without `charset`, a channel
/// name, a custom `username` (which needs `chat:write.customize`, not granted here), no
/// top-level `text`, one legacy attachment.
const BODY: &str = r##"{"channel":"#load-tests","username":"Alertmanager","attachments":[{"title":"y1","title_link":"http://vm:19093/#/alerts?receiver=fake-slack","text":"Bench load test y1","fallback":"[FIRING:1] y1 (#load-tests) | http://vm:19093/#/alerts?receiver=fake-slack","callback_id":"","footer":"","color":"danger","mrkdwn_in":["fallback","pretext","text"]}]}"##;

async fn post(url: &str, token: &str, body: &str) -> (u16, Value) {
    let mut res = awc::Client::default()
        .post(url)
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_body(body.to_owned())
        .await
        .unwrap();
    let status = res.status().as_u16();
    (
        status,
        serde_json::from_slice(&res.body().await.unwrap()).unwrap(),
    )
}

#[actix_web::test]
async fn alertmanagers_request_is_taken_as_slack_takes_it() {
    let fake = fake_slack::spawn(
        FakeSlackConfig::default(),
        TcpListener::bind("127.0.0.1:0").unwrap(),
    )
    .unwrap();
    let mut minted = awc::Client::default()
        .post(format!("{}/tokens", fake.control_url()))
        .send_json(&json!({"scopes": "chat:write,chat:write.public"}))
        .await
        .unwrap();
    let minted: Value = serde_json::from_slice(&minted.body().await.unwrap()).unwrap();
    let token = minted["access_token"].as_str().unwrap();
    let url = format!("{}/chat.postMessage", fake.api_url());

    // Posted, with the warning Slack gives a JSON body without charset; the username is
    // ignored without `chat:write.customize`, not refused.
    let (status, answer) = post(&url, token, BODY).await;
    assert_eq!(status, 200);
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["warning"], "missing_charset");
    assert_eq!(answer["channel"], "C0FAKE0LDT1");

    let mut res = awc::Client::default()
        .get(format!(
            "{}/messages?channel=load-tests",
            fake.control_url()
        ))
        .send()
        .await
        .unwrap();
    let messages: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
    let message = &messages["messages"][0];
    assert_eq!(message["text"], "");
    assert_eq!(message["attachments"][0]["text"], "Bench load test y1");
    assert_eq!(message["attachments"][0]["color"], "danger");

    // Slack's refusals come as HTTP 200 with `ok: false` (Alertmanager 0.25 reads only the
    // status, so it counts them as sent: the bench counts them from the fake's log).
    let unknown = BODY.replace("#load-tests", "#nope");
    let (status, answer) = post(&url, token, &unknown).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (200, Some("channel_not_found"))
    );
    let (status, answer) = post(&url, "xoxb-wrong", BODY).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (200, Some("invalid_auth"))
    );
}

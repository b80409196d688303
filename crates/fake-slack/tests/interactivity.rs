//! Button clicks end to end: the fake sends signed `block_actions` requests to a small
//! receiving app, takes the app's answers to `response_url`, refuses invalid buttons and
//! draws clickable buttons on its page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::TcpListener,
    sync::{Arc, Mutex},
};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use fake_slack::{FakeSlackConfig, FakeSlackHandle};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: &str = "fake-signing-secret";

/// One request the receiving app got.
#[derive(Debug, Clone)]
struct Received {
    content_type: String,
    timestamp: String,
    signature: String,
    body: String,
    /// The `payload` field, parsed.
    payload: Value,
    /// Whether the signature verified (our own HMAC, not the fake's code).
    verified: bool,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// `v0=` + hex HMAC-SHA256 over `v0:{ts}:{body}`, written here from Slack's description.
fn sign(secret: &str, ts: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v0={hex}")
}

/// A tiny app: verifies the signature (401 if wrong or older than 5 minutes), records the
/// request, answers 200 `ack:<action_id>`. For `incident.mute` it first replaces the
/// message through the `response_url`, as an app that answers synchronously would.
async fn receiver() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/slack/interactions",
        listener.local_addr().unwrap().port()
    );
    let log: Log = Arc::default();
    let state = web::Data::new(log.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(state.clone()).route(
            "/slack/interactions",
            web::post().to(
                |req: HttpRequest, body: web::Bytes, log: web::Data<Log>| async move {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let body = String::from_utf8(body.to_vec()).unwrap();
                    let timestamp = header("x-slack-request-timestamp");
                    let signature = header("x-slack-signature");
                    let fresh = timestamp
                        .parse::<i64>()
                        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= 300);
                    let verified = fresh && signature == sign(SECRET, &timestamp, &body);
                    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
                    let payload: Value = form
                        .iter()
                        .find(|(k, _)| k == "payload")
                        .map(|(_, v)| serde_json::from_str(v).unwrap())
                        .unwrap_or(Value::Null);
                    log.lock().unwrap().push(Received {
                        content_type: header("content-type"),
                        timestamp,
                        signature,
                        body,
                        payload: payload.clone(),
                        verified,
                    });
                    if !verified {
                        return HttpResponse::Unauthorized().body("bad signature");
                    }
                    let action = payload["actions"][0]["action_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    if action == "incident.mute" {
                        let url = payload["response_url"].as_str().unwrap();
                        let resp = awc::Client::default()
                            .post(url)
                            .send_json(&json!({"replace_original": true, "text": "Muted by sam"}))
                            .await
                            .unwrap();
                        assert_eq!(resp.status().as_u16(), 200);
                    }
                    HttpResponse::Ok().body(format!("ack:{action}"))
                },
            ),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_rt::spawn(server);
    (url, log)
}

fn spawn_fake() -> FakeSlackHandle {
    fake_slack::spawn(
        FakeSlackConfig {
            rate_limit_per_sec: 0.0,
            ..FakeSlackConfig::default()
        },
        TcpListener::bind("127.0.0.1:0").unwrap(),
    )
    .unwrap()
}

fn client() -> awc::Client {
    awc::Client::builder().disable_redirects().finish()
}

/// POSTs JSON; returns status and parsed body.
async fn post(url: &str, body: Value) -> (u16, Value) {
    let mut resp = client().post(url).send_json(&body).await.unwrap();
    let status = resp.status().as_u16();
    let v = resp.json::<Value>().limit(1 << 22).await.unwrap();
    (status, v)
}

async fn get(url: &str) -> Value {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .limit(1 << 22)
        .await
        .unwrap()
}

async fn get_text(url: &str) -> String {
    let bytes = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .body()
        .limit(1 << 22)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn token(fake: &FakeSlackHandle) -> String {
    let (_, v) = post(&format!("{}/tokens", fake.control_url()), json!({})).await;
    v["access_token"].as_str().unwrap().to_owned()
}

/// Calls a Web API method with a JSON body.
async fn call(fake: &FakeSlackHandle, method: &str, token: &str, body: Value) -> Value {
    client()
        .post(format!("{}/{method}", fake.api_url()))
        .bearer_auth(token)
        .insert_header(("Content-Type", "application/json; charset=utf-8"))
        .send_body(body.to_string())
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

fn button(text: &str, action_id: &str) -> Value {
    json!({"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id})
}

/// An incident card: buttons at the top level and inside a coloured attachment.
fn card() -> Value {
    json!({
        "channel": "#general",
        "text": "Incident: checkout is failing",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Checkout* is failing"}},
            {"type": "actions", "block_id": "incident.controls", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"},
                 "action_id": "incident.ack", "value": "inc-42", "style": "primary"},
                {"type": "button", "text": {"type": "plain_text", "text": "Mute 1h"},
                 "action_id": "incident.mute", "value": "inc-42:1h", "style": "danger"},
                {"type": "button", "text": {"type": "plain_text", "text": "Open in XTC"},
                 "action_id": "open.xtc", "url": "https://xtc.example/incidents/42"}
            ]}
        ],
        "attachments": [{"color": "#e01e5a", "blocks": [
            {"type": "actions", "elements": [button("Unmute", "incident.unmute")]}
        ]}]
    })
}

#[actix_web::test]
async fn a_click_reaches_the_app_signed_and_its_answers_come_back() {
    let (app_url, log) = receiver().await;
    let fake = spawn_fake();
    let control = fake.control_url();
    let token = token(&fake).await;
    let posted = call(&fake, "chat.postMessage", &token, card()).await;
    assert_eq!(posted["ok"], true, "{posted}");
    let ts = posted["ts"].as_str().unwrap().to_owned();
    let click_on = |ts: &str, action_id: &str, extra: Value| {
        let mut body = json!({"channel": "general", "ts": ts, "action_id": action_id});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let click = |action_id: &str, extra: Value| click_on(&ts, action_id, extra);

    // No interactivity URL yet: refused, nothing sent.
    let (status, v) = post(
        &format!("{control}/interactions"),
        click("incident.ack", json!({})),
    )
    .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (409, Some("no_interactivity_url"))
    );
    let (status, v) = post(&format!("{control}/interactivity"), json!({"url": app_url})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["interactivity_url"], app_url.as_str());

    // sam clicks Acknowledge.
    let (status, v) = post(
        &format!("{control}/interactions"),
        click("incident.ack", json!({"user": "U0FAKEUSR02"})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["status"], 200);
    assert_eq!(v["body"], "ack:incident.ack");
    let got = log.lock().unwrap()[0].clone();
    assert!(got.verified, "{got:?}");
    assert_eq!(got.content_type, "application/x-www-form-urlencoded");
    assert!(got.body.starts_with("payload="), "{}", got.body);
    assert_eq!(got.signature, sign(SECRET, &got.timestamp, &got.body));
    let p = &got.payload;
    assert_eq!(*p, v["payload"]);
    assert_eq!(p["type"], "block_actions");
    assert_eq!(
        p["user"],
        json!({"id": "U0FAKEUSR02", "username": "sam", "name": "sam", "team_id": "T0FAKE0001"})
    );
    assert_eq!(
        p["team"],
        json!({"id": "T0FAKE0001", "domain": "xtc-test-workspace"})
    );
    assert_eq!(p["api_app_id"], "A0FAKEAPP01");
    assert!(p["token"].is_string() && p["trigger_id"].is_string());
    assert_eq!(
        p["container"],
        json!({"type": "message", "message_ts": ts, "channel_id": "C0FAKE0GEN1", "is_ephemeral": false})
    );
    assert_eq!(
        p["channel"],
        json!({"id": "C0FAKE0GEN1", "name": "general"})
    );
    assert_eq!(p["message"]["ts"], ts.as_str());
    assert_eq!(p["message"]["text"], "Incident: checkout is failing");
    assert_eq!(p["message"]["bot_id"], "B0FAKEBOT01");
    assert_eq!(p["message"]["blocks"][1]["block_id"], "incident.controls");
    let action = &p["actions"][0];
    assert_eq!(action["type"], "button");
    assert_eq!(action["action_id"], "incident.ack");
    assert_eq!(action["block_id"], "incident.controls");
    assert_eq!(action["value"], "inc-42");
    assert_eq!(action["text"]["text"], "Acknowledge");
    assert!(action["action_ts"].is_string());
    let response_url = v["response_url"].as_str().unwrap().to_owned();
    assert_eq!(p["response_url"], response_url.as_str());
    assert!(response_url.starts_with(&format!("{}/_fake/response/", fake.base_url())));

    // The app answers sam alone, then edits the card for everyone.
    let mut resp = client()
        .post(&response_url)
        .send_json(&json!({"response_type": "ephemeral", "text": "You acknowledged inc-42"}))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.body().await.unwrap(), "ok");
    let responses = get(&format!("{control}/responses")).await;
    let r = &responses["responses"][0];
    assert_eq!(r["user"], "U0FAKEUSR02");
    assert_eq!(r["channel"], "C0FAKE0GEN1");
    assert_eq!(r["message_ts"], ts.as_str());
    assert_eq!(r["response_type"], "ephemeral");
    assert_eq!(r["text"], "You acknowledged inc-42");
    assert_eq!(r["replace_original"], false);
    assert_eq!(r["ephemeral"], true);
    let new_blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": "Acknowledged by <@U0FAKEUSR02>"}},
        {"type": "actions", "block_id": "incident.controls.2", "elements": [button("Unmute", "incident.unmute")]}
    ]);
    let resp = client()
        .post(&response_url)
        .send_json(&json!({"replace_original": true, "text": "Acknowledged", "blocks": new_blocks}))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let messages = get(&format!("{control}/messages?channel=general")).await;
    let m = &messages["messages"][0];
    assert_eq!(m["text"], "Acknowledged");
    assert_eq!(m["blocks"], new_blocks);
    assert_eq!(m["edits"][0]["text"], "Incident: checkout is failing");

    // The button inside the attachment; an app that replaces the card before answering.
    let posted = call(&fake, "chat.postMessage", &token, card()).await;
    let ts2 = posted["ts"].as_str().unwrap().to_owned();
    let (status, v) = post(
        &format!("{control}/interactions"),
        json!({"channel": "C0FAKE0GEN1", "ts": ts2, "action_id": "incident.unmute"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["payload"]["container"]["attachment_id"], 1);
    assert_eq!(v["payload"]["user"]["id"], "U0FAKEUSR01");
    let (status, v) = post(
        &format!("{control}/interactions"),
        json!({"channel": "#general", "ts": ts2, "action_id": "incident.mute", "user": "U0FAKEUSR02"}),
    )
    .await;
    assert_eq!((status, v["status"].as_u64()), (200, Some(200)), "{v}");
    let messages = get(&format!("{control}/messages?channel=general")).await;
    assert_eq!(messages["messages"][1]["text"], "Muted by sam");
    // A URL button sends block_actions too, with its url.
    let posted = call(&fake, "chat.postMessage", &token, card()).await;
    let ts3 = posted["ts"].as_str().unwrap().to_owned();
    let (_, v) = post(
        &format!("{control}/interactions"),
        json!({"channel": "general", "ts": ts3, "action_id": "open.xtc"}),
    )
    .await;
    assert_eq!(v["status"], 200);
    assert_eq!(
        v["payload"]["actions"][0]["url"],
        "https://xtc.example/incidents/42"
    );

    // Negative tests: a wrong secret and a replayed timestamp fail the app's check.
    for extra in [
        json!({"signing_secret": "wrong"}),
        json!({"timestamp": chrono::Utc::now().timestamp() - 600}),
    ] {
        let (status, v) = post(
            &format!("{control}/interactions"),
            click_on(&ts3, "incident.ack", extra.clone()),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(v["status"], 401, "{extra}: {v}");
        assert_eq!(v["body"], "bad signature");
    }
    let (_, v) = post(
        &format!("{control}/interactions"),
        click_on(
            &ts3,
            "incident.ack",
            json!({"team_id": "T0OTHER001", "value": "forged", "channel_id": "C0FAKE0PRF1", "message_ts": "1.000001"}),
        ),
    )
    .await;
    assert_eq!(v["payload"]["team"]["id"], "T0OTHER001");
    assert_eq!(v["payload"]["actions"][0]["value"], "forged");
    assert_eq!(v["payload"]["container"]["channel_id"], "C0FAKE0PRF1");
    assert_eq!(v["payload"]["container"]["message_ts"], "1.000001");
    for (body, code) in [
        (click_on(&ts3, "incident.nope", json!({})), "no_such_action"),
        (
            json!({"channel": "general", "ts": "1.000001", "action_id": "incident.ack"}),
            "message_not_found",
        ),
        (
            json!({"channel": "nope", "ts": ts, "action_id": "incident.ack"}),
            "channel_not_found",
        ),
    ] {
        let (status, v) = post(&format!("{control}/interactions"), body).await;
        assert_eq!((status, v["error"].as_str()), (404, Some(code)));
    }
    let clicks = get(&format!("{control}/interactions")).await;
    assert_eq!(clicks["interactions"].as_array().unwrap().len(), 7);
    assert_eq!(clicks["interactions"][0]["status"], 200);
    assert_eq!(clicks["interactions"][0]["user_name"], "sam");

    // Reset forgets clicks and responses but keeps the interactivity URL.
    post(&format!("{control}/reset"), json!({})).await;
    assert_eq!(
        get(&format!("{control}/interactions")).await["interactions"],
        json!([])
    );
    assert_eq!(
        get(&format!("{control}/responses")).await["responses"],
        json!([])
    );
    let resp = client()
        .post(&response_url)
        .send_json(&json!({"text": "late"}))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

#[actix_web::test]
async fn invalid_buttons_are_refused_like_slack() {
    let fake = spawn_fake();
    let token = token(&fake).await;
    let with_button = |b: Value| {
        json!({"channel": "general", "text": "x",
               "blocks": [{"type": "actions", "elements": [b]}]})
    };
    let cases = [
        with_button(
            json!({"type": "button", "text": {"type": "plain_text", "text": "x"}, "style": "blue"}),
        ),
        with_button(json!({"type": "button", "text": {"type": "mrkdwn", "text": "x"}})),
        with_button(
            json!({"type": "button", "text": {"type": "plain_text", "text": "x".repeat(76)}}),
        ),
        with_button(
            json!({"type": "button", "text": {"type": "plain_text", "text": "x"}, "value": "v".repeat(2001)}),
        ),
        with_button(
            json!({"type": "button", "text": {"type": "plain_text", "text": "x"}, "url": "https://x.example/".repeat(200)}),
        ),
        with_button(
            json!({"type": "button", "text": {"type": "plain_text", "text": "x"}, "action_id": "a".repeat(256)}),
        ),
        json!({"channel": "general", "text": "x", "blocks": [
            {"type": "actions", "elements": (0..26).map(|i| button("x", &format!("a{i}"))).collect::<Vec<_>>()}]}),
        json!({"channel": "general", "text": "x", "blocks": [
            {"type": "actions", "block_id": "b", "elements": [button("x", "same")]},
            {"type": "actions", "block_id": "b", "elements": [button("y", "other")]}]}),
        json!({"channel": "general", "text": "x",
               "blocks": [{"type": "actions", "elements": [button("x", "same")]}],
               "attachments": [{"color": "#000000", "blocks": [
                   {"type": "actions", "elements": [button("y", "same")]}]}]}),
        json!({"channel": "general", "text": "x", "attachments": [{"blocks": [
            {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "x"}, "style": "secondary"}]}]}]}),
    ];
    for body in cases {
        let v = call(&fake, "chat.postMessage", &token, body.clone()).await;
        assert_eq!(v["ok"], false, "{body}");
        assert_eq!(v["error"], "invalid_blocks", "{body}");
        assert!(v["errors"].as_array().is_some_and(|e| !e.is_empty()), "{v}");
    }
    // The same rules for chat.update.
    let posted = call(&fake, "chat.postMessage", &token, card()).await;
    assert_eq!(posted["ok"], true, "{posted}");
    let v = call(
        &fake,
        "chat.update",
        &token,
        json!({"channel": posted["channel"], "ts": posted["ts"], "text": "x",
               "blocks": [{"type": "actions", "elements": [
                   {"type": "button", "text": {"type": "plain_text", "text": "x"}, "style": "green"}]}]}),
    )
    .await;
    assert_eq!(v["error"], "invalid_blocks", "{v}");
    assert_eq!(
        v["errors"][0],
        "must be a valid enum value [json-pointer:/blocks/0/elements/0/style]"
    );
}

#[actix_web::test]
async fn the_page_draws_buttons_that_click() {
    let (app_url, log) = receiver().await;
    let fake = fake_slack::spawn(
        FakeSlackConfig {
            rate_limit_per_sec: 0.0,
            interactivity_url: Some(app_url),
            ..FakeSlackConfig::default()
        },
        TcpListener::bind("127.0.0.1:0").unwrap(),
    )
    .unwrap();
    let token = token(&fake).await;
    let posted = call(&fake, "chat.postMessage", &token, card()).await;
    let ts = posted["ts"].as_str().unwrap().to_owned();
    let page_url = format!("{}/_fake/?channel=general&as=U0FAKEUSR02", fake.base_url());
    let page = get_text(&page_url).await;
    for want in [
        "<form class=\"fake-actions\" method=\"post\" action=\"/_fake/click\">",
        &format!("<input type=\"hidden\" name=\"ts\" value=\"{ts}\">"),
        "<input type=\"hidden\" name=\"channel\" value=\"C0FAKE0GEN1\">",
        "<input type=\"hidden\" name=\"as\" value=\"U0FAKEUSR02\">",
        "<input type=\"hidden\" name=\"view\" value=\"general\">",
        "<button class=\"btn primary\" type=\"submit\" name=\"action_id\" value=\"incident.ack\">Acknowledge</button>",
        "<button class=\"btn danger\" type=\"submit\" name=\"action_id\" value=\"incident.mute\">Mute 1h</button>",
        "<button class=\"btn\" type=\"submit\" name=\"action_id\" value=\"incident.unmute\">Unmute</button>",
        "<a class=\"btn\" href=\"https://xtc.example/incidents/42\" target=\"_blank\" rel=\"noopener noreferrer\" data-action-id=\"open.xtc\"",
        "Act as:",
        "data-user=\"U0FAKEUSR02\" class=\"active\"",
        ">alex</a>",
    ] {
        assert!(page.contains(want), "{want} not in the page:\n{page}");
    }

    // The form's fields, posted as a browser posts them.
    let form = [
        ("channel", "C0FAKE0GEN1"),
        ("ts", ts.as_str()),
        ("as", "U0FAKEUSR02"),
        ("view", "general"),
        ("action_id", "incident.ack"),
    ];
    let resp = client()
        .post(format!("{}/_fake/click", fake.base_url()))
        .send_form(&form)
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let location = resp
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        location.starts_with("/_fake/?channel=general&as=U0FAKEUSR02&notice="),
        "{location}"
    );
    assert!(location.ends_with(&format!("#m-{ts}")), "{location}");
    let got = log.lock().unwrap()[0].clone();
    assert!(got.verified);
    assert_eq!(got.payload["user"]["name"], "sam");
    assert_eq!(got.payload["actions"][0]["action_id"], "incident.ack");

    // The app answers sam alone; the page shows it to sam, not to alex.
    let response_url = got.payload["response_url"].as_str().unwrap().to_owned();
    let resp = client()
        .post(&response_url)
        .send_json(&json!({"text": "Only for <you> & sam"}))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let page = get_text(&format!("{}{location}", fake.base_url())).await;
    assert!(
        page.contains("Clicked Acknowledge as sam: app answered 200"),
        "{page}"
    );
    assert!(page.contains("Only visible to you:"));
    assert!(page.contains("Only for &lt;you&gt; &amp; sam"), "{page}");
    let alex = get_text(&format!(
        "{}/_fake/?channel=general&as=U0FAKEUSR03",
        fake.base_url()
    ))
    .await;
    assert!(!alex.contains("Only visible to you:"));

    // A URL button's ping reports the click too.
    let resp = client()
        .post(format!(
            "{}/_fake/click?channel=C0FAKE0GEN1&ts={ts}&action_id=open.xtc&as=U0FAKEUSR03",
            fake.base_url()
        ))
        .insert_header(("Content-Type", "text/ping"))
        .send_body("PING")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let got = log.lock().unwrap()[1].clone();
    assert_eq!(got.payload["user"]["name"], "alex");
    assert_eq!(
        got.payload["actions"][0]["url"],
        "https://xtc.example/incidents/42"
    );

    // A click on a message that is gone: back to the page with the reason.
    let resp = client()
        .post(format!("{}/_fake/click", fake.base_url()))
        .send_form(&[
            ("channel", "C0FAKE0GEN1"),
            ("ts", "1.000001"),
            ("as", "U0FAKEUSR02"),
            ("action_id", "incident.ack"),
        ])
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let location = resp
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let page = get_text(&format!("{}{location}", fake.base_url())).await;
    assert!(
        page.contains("Click not sent: no message with this `ts`"),
        "{page}"
    );
}

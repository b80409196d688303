//! The fake Slack against the published facts (slack-api.md): the documented JSON
//! examples deserialise with the client's structs and the fake answers with the same
//! fields; its events carry signatures that verify with the published algorithm; its
//! wire details (status codes, headers, encodings) match Slack's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::TcpListener,
    sync::{Arc, Mutex},
};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use fake_slack::{FakeSlackConfig, FakeSlackHandle};
use secrecy::SecretString;
use serde_json::{json, Value};
use xtc_slack::slack::{signing, AuthTest, Channel, OAuthV2Access, Posted, TeamInfo};

fn spawn_fake(config: FakeSlackConfig) -> FakeSlackHandle {
    fake_slack::spawn(config, TcpListener::bind("127.0.0.1:0").unwrap()).unwrap()
}

fn no_rate_limit() -> FakeSlackConfig {
    FakeSlackConfig {
        rate_limit_per_sec: 0.0,
        ..FakeSlackConfig::default()
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn mint(fake: &FakeSlackHandle, scopes: &[&str]) -> String {
    let v: Value = http()
        .post(format!("{}/tokens", fake.control_url()))
        .json(&json!({ "scopes": scopes }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// Calls a Web API method with a JSON body and returns status and parsed body.
async fn call(fake: &FakeSlackHandle, method: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = http()
        .post(format!("{}/{method}", fake.api_url()))
        .bearer_auth(token)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/json; charset=utf-8");
    (status, resp.json().await.unwrap())
}

/// Every key of `published` (recursively into objects) is present in `actual`.
fn assert_has_fields(published: &Value, actual: &Value, path: &str, skip: &[&str]) {
    let (Some(p), Some(a)) = (published.as_object(), actual.as_object()) else {
        return;
    };
    for (k, v) in p {
        let here = format!("{path}.{k}");
        if skip.contains(&here.as_str()) {
            continue;
        }
        let got = a
            .get(k)
            .unwrap_or_else(|| panic!("fake answer lacks `{here}`: {actual}"));
        assert_has_fields(v, got, &here, skip);
    }
}

// The examples of slack-api.md §§1-5, verbatim.
const OAUTH_V2_ACCESS: &str = r#"{
  "ok": true,
  "app_id": "A0KRD7HC3",
  "authed_user": {"id": "U1234", "scope": "chat:write", "access_token": "xoxp-1234", "token_type": "user"},
  "scope": "chat:write,chat:write.public,channels:read",
  "token_type": "bot",
  "access_token": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
  "bot_user_id": "U0KRQLJ9H",
  "team": {"id": "T9TK3CUKW", "name": "Slack Softball Team"},
  "enterprise": null,
  "is_enterprise_install": false
}"#;
const OAUTH_REFRESH: &str = r#"{"ok": true, "app_id": "A111", "scope": "chat:write,channels:read", "token_type": "bot",
 "access_token": "xoxe.xoxb-1-NEW", "refresh_token": "xoxe-1-NEW", "expires_in": 43200,
 "bot_user_id": "UB111", "team": {"id": "T111", "name": "Testing Workspace"},
 "enterprise": null, "is_enterprise_install": false}"#;
const POST_MESSAGE: &str = r#"{
  "ok": true,
  "channel": "C1H9RESGL",
  "ts": "1503435956.000247",
  "message": {
    "type": "message",
    "subtype": "bot_message",
    "text": "Deploy finished",
    "ts": "1503435956.000247",
    "bot_id": "B19LU7CSY",
    "user": "U0KRQLJ9H",
    "app_id": "A0KRD7HC3",
    "team": "T9TK3CUKW",
    "blocks": [{"type":"section","block_id":"a1","text":{"type":"mrkdwn","text":"*Deploy* finished","verbatim":false}}]
  }
}"#;
const CHAT_UPDATE: &str = r#"{"ok":true,"channel":"C024BE91L","ts":"1401383885.000061","text":"Updated text","message":{"text":"Updated text","user":"U34567890"}}"#;
const CONVERSATIONS_INFO: &str = r#"{"ok": true, "channel": {
  "id": "C012AB3CD", "name": "general", "name_normalized": "general",
  "is_channel": true, "is_group": false, "is_im": false, "is_mpim": false,
  "is_private": false, "is_archived": false, "is_general": true, "is_member": true,
  "is_shared": false, "is_ext_shared": false, "is_org_shared": false,
  "is_pending_ext_shared": false, "pending_shared": [], "is_read_only": false,
  "created": 1449252889, "creator": "W012A3BCD", "unlinked": 0,
  "topic": {"value": "For public discussion", "creator": "W012A3BCD", "last_set": 1449709364},
  "purpose": {"value": "Fun", "creator": "W012A3BCD", "last_set": 1449709364},
  "previous_names": [], "last_read": "1502126650.228446", "locale": "en-US"}}"#;
const CONVERSATIONS_LIST: &str = r#"{"ok": true,
 "channels": [
   {"id": "C012AB3CD", "name": "general", "is_channel": true, "is_private": false,
    "is_archived": false, "is_member": true, "is_im": false, "is_mpim": false,
    "is_group": false, "created": 1449252889, "creator": "U012A3CDE", "num_members": 4,
    "name_normalized": "general", "topic": {"value": "", "creator": "", "last_set": 0},
    "purpose": {"value": "", "creator": "", "last_set": 0}, "previous_names": []}],
 "response_metadata": {"next_cursor": "dGVhbTpDMDYxRkE1UEI="}}"#;
const AUTH_TEST_USER: &str = r#"{"ok": true, "url": "https://subarachnoid.slack.com/", "team": "Subarachnoid Workspace",
 "user": "grace", "team_id": "T12345678", "user_id": "W12345678"}"#;
const AUTH_TEST_BOT: &str = r#"{"ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "notifier",
 "team_id": "T0G9PQBBK", "user_id": "U0KRQLJ9H", "bot_id": "B0KRQLJ9H",
 "is_enterprise_install": false}"#;
const TEAM_INFO: &str = r#"{"ok": true, "team": {"id": "T12345", "name": "My Team", "domain": "example",
 "email_domain": "example.com", "icon": {"image_34": "https://...", "image_44": "https://...",
 "image_68": "https://...", "image_88": "https://...", "image_102": "https://...",
 "image_132": "https://...", "image_default": true},
 "enterprise_id": "E1234A12AB", "enterprise_name": "Umbrella Corporation"}}"#;
const AUTH_REVOKE: &str = r#"{"ok": true, "revoked": true}"#;

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn published_examples_deserialise_with_the_client_structs() {
    let oauth: OAuthV2Access = serde_json::from_str(OAUTH_V2_ACCESS).unwrap();
    assert_eq!(oauth.team.as_ref().unwrap().id, "T9TK3CUKW");
    assert_eq!(
        oauth.authed_user.as_ref().unwrap().token_type.as_deref(),
        Some("user")
    );
    assert_eq!(oauth.scopes().count(), 3);
    let refresh: OAuthV2Access = serde_json::from_str(OAUTH_REFRESH).unwrap();
    assert_eq!(refresh.expires_in, Some(43200));
    assert!(refresh.refresh_token.is_some());

    let posted: Posted = serde_json::from_str(POST_MESSAGE).unwrap();
    assert_eq!(
        (posted.channel.as_str(), posted.ts.as_str()),
        ("C1H9RESGL", "1503435956.000247")
    );
    let updated: Posted = serde_json::from_str(CHAT_UPDATE).unwrap();
    assert_eq!(updated.ts, "1401383885.000061");

    let info: Channel =
        serde_json::from_value(parse(CONVERSATIONS_INFO)["channel"].clone()).unwrap();
    assert!(info.is_general && info.is_member && info.created == 1449252889);
    let list: Vec<Channel> =
        serde_json::from_value(parse(CONVERSATIONS_LIST)["channels"].clone()).unwrap();
    assert_eq!(list[0].num_members, Some(4));

    let user: AuthTest = serde_json::from_str(AUTH_TEST_USER).unwrap();
    assert_eq!(user.bot_id, None);
    let bot: AuthTest = serde_json::from_str(AUTH_TEST_BOT).unwrap();
    assert_eq!(bot.bot_id.as_deref(), Some("B0KRQLJ9H"));
    let team: TeamInfo = serde_json::from_value(parse(TEAM_INFO)["team"].clone()).unwrap();
    assert_eq!(
        team.enterprise_name.as_deref(),
        Some("Umbrella Corporation")
    );
}

#[actix_web::test]
async fn fake_answers_carry_the_published_fields() {
    let fake = spawn_fake(no_rate_limit());
    let client = http();

    // OAuth: approve on the consent page, exchange with form credentials (NODESDK style).
    let redirect = "http://127.0.0.1:1/cb";
    let resp = client
        .post(fake.authorize_url())
        .form(&[
            ("client_id", "fake-client-id"),
            (
                "scope",
                "chat:write,chat:write.public,channels:read,team:read",
            ),
            ("user_scope", "chat:write"),
            ("redirect_uri", redirect),
            ("state", "s"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let oauth: Value = client
        .post(format!("{}/oauth.v2.access", fake.api_url()))
        .form(&[
            ("client_id", "fake-client-id"),
            ("client_secret", "fake-client-secret"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_has_fields(&parse(OAUTH_V2_ACCESS), &oauth, "", &[]);
    assert_eq!(oauth["enterprise"], Value::Null);
    let token = oauth["access_token"].as_str().unwrap().to_owned();

    let (status, posted) = call(
        &fake,
        "chat.postMessage",
        &token,
        json!({"channel": "#general", "text": "Deploy finished",
               "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy* finished"}}]}),
    )
    .await;
    assert_eq!(status, 200);
    // `block_id`/`verbatim` are filled in by Slack's renderer; the fake echoes blocks as sent.
    assert_has_fields(&parse(POST_MESSAGE), &posted, "", &[".message.blocks"]);
    let ts = posted["ts"].as_str().unwrap();

    let (_, updated) = call(
        &fake,
        "chat.update",
        &token,
        json!({"channel": posted["channel"], "ts": ts, "text": "Updated text"}),
    )
    .await;
    assert_has_fields(&parse(CHAT_UPDATE), &updated, "", &[]);

    let (_, info) = call(
        &fake,
        "conversations.info",
        &token,
        json!({"channel": posted["channel"]}),
    )
    .await;
    // `last_read` and `locale` come only with `include_locale` / for user tokens.
    assert_has_fields(
        &parse(CONVERSATIONS_INFO),
        &info,
        "",
        &[".channel.last_read", ".channel.locale"],
    );
    let (_, list) = call(&fake, "conversations.list", &token, json!({"limit": 2})).await;
    assert_has_fields(
        &parse(CONVERSATIONS_LIST)["channels"][0],
        &list["channels"][0],
        "",
        &[],
    );
    assert!(!list["response_metadata"]["next_cursor"]
        .as_str()
        .unwrap()
        .is_empty());

    let (_, me) = call(&fake, "auth.test", &token, json!({})).await;
    assert_has_fields(&parse(AUTH_TEST_BOT), &me, "", &[]);
    let (_, team) = call(&fake, "team.info", &token, json!({})).await;
    // Enterprise fields exist only on Enterprise Grid.
    assert_has_fields(
        &parse(TEAM_INFO),
        &team,
        "",
        &[".team.enterprise_id", ".team.enterprise_name"],
    );
    let (_, revoked) = call(&fake, "auth.revoke", &token, json!({})).await;
    assert_has_fields(&parse(AUTH_REVOKE), &revoked, "", &[]);
}

#[actix_web::test]
async fn fake_errors_have_slacks_shape() {
    let fake = spawn_fake(FakeSlackConfig {
        rate_limit_per_sec: 0.001,
        rate_limit_burst: 1,
        ..FakeSlackConfig::default()
    });
    let narrow = mint(&fake, &["chat:write"]).await;
    let (status, body) = call(&fake, "conversations.list", &narrow, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"ok": false, "error": "missing_scope", "needed": "channels:read", "provided": "chat:write"})
    );

    let (status, body) = call(
        &fake,
        "chat.postMessage",
        &narrow,
        json!({"channel": "general", "text": "x",
               "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a".repeat(3001)}}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["error"], "invalid_blocks");
    assert_eq!(
        body["errors"],
        json!(["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"])
    );
    assert!(body["response_metadata"]["messages"][0]
        .as_str()
        .unwrap()
        .starts_with("[ERROR]"));

    // The rate limit is checked before the payload, so this used the channel's one token.
    let resp = http()
        .post(format!("{}/chat.postMessage", fake.api_url()))
        .bearer_auth(&narrow)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(json!({"channel": "general", "text": "x"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"ok": false, "error": "ratelimited"})
    );

    let (status, body) = call(&fake, "no.such.method", &narrow, json!({})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (200, Some("unknown_method"))
    );
}

#[actix_web::test]
async fn fake_accepts_form_bodies_token_fields_and_warns_about_charset() {
    let fake = spawn_fake(no_rate_limit());
    let token = mint(&fake, &["chat:write", "chat:write.public"]).await;
    // Form encoding: `token` as a field, `blocks` as a JSON string.
    let blocks =
        json!([{"type": "header", "text": {"type": "plain_text", "text": "Hi"}}]).to_string();
    let body: Value = http()
        .post(format!("{}/chat.postMessage", fake.api_url()))
        .form(&[
            ("token", token.as_str()),
            ("channel", "perf"),
            ("text", "fallback"),
            ("blocks", &blocks),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["message"]["blocks"][0]["type"], "header");

    // JSON without charset: accepted with a warning.
    let body: Value = http()
        .post(format!("{}/chat.postMessage", fake.api_url()))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body(json!({"channel": "perf", "text": "x"}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(body["warning"], "missing_charset");
    assert_eq!(
        body["response_metadata"]["warnings"],
        json!(["missing_charset"])
    );

    // A token inside a JSON body is not accepted (JSON requires the header).
    let body: Value = http()
        .post(format!("{}/chat.postMessage", fake.api_url()))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(json!({"token": token, "channel": "perf", "text": "x"}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"], "not_authed");

    // conversations.list over GET with query parameters and the last page's empty cursor.
    let list_token = mint(&fake, &["channels:read"]).await;
    let body: Value = http()
        .get(format!("{}/conversations.list", fake.api_url()))
        .query(&[
            ("token", list_token.as_str()),
            ("limit", "1000"),
            ("exclude_archived", "true"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["channels"].as_array().unwrap().len(), 4);
    assert_eq!(body["response_metadata"]["next_cursor"], "");
}

#[actix_web::test]
async fn authorize_page_refuses_unknown_apps() {
    let fake = spawn_fake(no_rate_limit());
    let resp = http()
        .get(fake.authorize_url())
        .query(&[
            ("client_id", "someone-else"),
            ("scope", "chat:write"),
            ("redirect_uri", "http://x/cb"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("invalid_client_id"));
}

#[actix_web::test]
async fn fake_page_shows_posted_messages_escaped() {
    let fake = spawn_fake(no_rate_limit());
    let token = mint(&fake, &["chat:write", "chat:write.public"]).await;
    let (_, parent) = call(
        &fake,
        "chat.postMessage",
        &token,
        json!({"channel": "load-tests", "text": "Run &lt;!channel&gt; &amp; co <script>x</script> <!here>"}),
    )
    .await;
    call(
        &fake,
        "chat.postMessage",
        &token,
        json!({"channel": "load-tests", "text": "a reply", "thread_ts": parent["ts"]}),
    )
    .await;
    let page = http()
        .get(format!("{}/_fake/", fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("#load-tests") && html.contains("🔒 secret-ops"));
    // Drawn as Slack draws it: escapes as the characters they stand for (no ping), a real
    // `<!here>` as a highlighted mention, anything else as text.
    assert!(html.contains("Run &lt;!channel&gt; &amp; co &lt;script&gt;x&lt;/script&gt; <span class=\"mention\">@here</span>"), "{html}");
    assert!(!html.contains("<!channel>") && !html.contains("<script>"));
    assert!(html.contains("class=\"thread\"") && html.contains("1 reply"));
}

/// Receives events like the product's `/slack/events` would: verifies with the product's
/// verifier and remembers the event types it accepted.
async fn events_receiver(secret: &str) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = web::Data::new((SecretString::from(secret.to_owned()), seen.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/slack/events", listener.local_addr().unwrap());
    let server =
        HttpServer::new(move || {
            App::new().app_data(state.clone()).route(
            "/slack/events",
            web::post().to(
                |req: HttpRequest,
                 body: web::Bytes,
                 state: web::Data<(SecretString, Arc<Mutex<Vec<String>>>)>| async move {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let verified = signing::verify(
                        &state.0,
                        &header("x-slack-request-timestamp"),
                        &body,
                        &header("x-slack-signature"),
                        chrono::Utc::now().timestamp(),
                    );
                    if verified.is_err() {
                        return HttpResponse::Unauthorized().finish();
                    }
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    state.1.lock().unwrap().push(v["event"]["type"].as_str().unwrap().to_owned());
                    HttpResponse::Ok().finish()
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
    (url, seen)
}

#[actix_web::test]
async fn fake_events_verify_with_the_published_algorithm() {
    let (url, seen) = events_receiver("fake-signing-secret").await;
    let fake = spawn_fake(FakeSlackConfig {
        events_url: Some(url.clone()),
        ..no_rate_limit()
    });
    let token = mint(&fake, &["chat:write"]).await;
    for kind in ["tokens_revoked", "app_uninstalled"] {
        let answer: Value = http()
            .post(format!("{}/events", fake.control_url()))
            .json(&json!({"type": kind}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["status"], 200, "{answer}");
        assert_eq!(answer["event"]["team_id"], "T0FAKE0001");
    }
    assert_eq!(*seen.lock().unwrap(), ["tokens_revoked", "app_uninstalled"]);
    // The events also killed the token, as at Slack; the first one decides the error.
    let (_, body) = call(&fake, "auth.test", &token, json!({})).await;
    assert_eq!(body["error"], "token_revoked");

    // Signed with another secret: the product's verifier refuses it.
    let (other_url, other_seen) = events_receiver("another-secret").await;
    let answer: Value = http()
        .post(format!("{}/events", fake.control_url()))
        .json(&json!({"type": "app_uninstalled", "url": other_url, "revoke": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], 401);
    assert!(other_seen.lock().unwrap().is_empty());
}

/// `(method, path)` of every control route registered in `crates/fake-slack/src/lib.rs`.
fn control_routes_in_code() -> std::collections::BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/fake-slack/src/lib.rs"
    ))
    .unwrap();
    let mut out = std::collections::BTreeSet::new();
    // `.route("/_fake/api/x", web::get()…)`, possibly across lines after rustfmt.
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for part in flat.split(".route(").skip(1) {
        let Some(path) = part
            .trim_start()
            .strip_prefix('"')
            .and_then(|p| p.split('"').next())
        else {
            continue;
        };
        if !path.starts_with("/_fake/api") {
            continue;
        }
        let path = if path == "/_fake/api" {
            "/_fake/api/"
        } else {
            path
        };
        let route = part.split(".to(").next().unwrap_or_default();
        for method in ["get", "post", "put", "delete"] {
            if route.contains(&format!("web::{method}()")) {
                out.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    out
}

/// The control API is documented in three places, all complete: an index at
/// `GET /_fake/api/`, `xtc-slack fake-slack --help` and the README.
#[actix_web::test]
async fn the_control_api_lists_every_endpoint_in_its_index_help_and_readme() {
    let fake = spawn_fake(no_rate_limit());
    let routes = control_routes_in_code();
    assert!(routes.len() >= 10, "{routes:?}");
    for url in [
        format!("{}/", fake.control_url()),
        fake.control_url().to_string(),
    ] {
        let res = http().get(&url).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{url}");
        let index: Value = res.json().await.unwrap();
        let listed: std::collections::BTreeSet<(String, String)> = index["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert!(
                    e["description"].as_str().is_some_and(|d| d.len() > 10),
                    "{e}"
                );
                (
                    e["method"].as_str().unwrap().to_owned(),
                    e["path"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(listed, routes, "index of {url} vs the routes in the code");
    }

    let help = std::process::Command::new(env!("CARGO_BIN_EXE_xtc-slack"))
        .args(["fake-slack", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (method, path) in &routes {
        let line = format!("{method:<5} {path}");
        assert!(help.contains(&line), "--help lacks {line:?}:\n{help}");
        let curl = if method == "GET" {
            format!("curl localhost:9999{path}")
        } else {
            format!("curl -X {method} localhost:9999{path}")
        };
        assert!(
            readme.contains(&format!("`{method} {path}")) && readme.contains(&curl),
            "README lacks `{method} {path}` or its example {curl:?}"
        );
    }

    // Its refusals are JSON in the fake's format, and `curl -d` (a form content type)
    // is read as JSON.
    let res = http()
        .post(format!("{}/rate-limit", fake.control_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"per_sec": 0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let res = http()
        .post(format!("{}/rate-limit", fake.control_url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"], "invalid_request");
}

/// The Slack-facing routes that `xtc-slack fake-slack --help` and the README point the
/// fake at are the app's real ones: an interactivity URL copied from the help
/// (`/slack/interactivity` once) made every button do nothing.
#[test]
fn the_fake_slack_help_and_readme_name_the_apps_real_slack_routes() {
    let served = [
        "/slack/events",
        "/slack/interactions",
        "/slack/oauth/callback",
    ];
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_xtc-slack"))
        .args(["fake-slack", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("/slack/interactions"),
        "--help does not name the interactivity route:\n{help}"
    );
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (name, text) in [("--help", &help), ("README", &readme)] {
        // Every URL of the app (`…:8080/slack/…`) names a route the app serves.
        for (at, _) in text.match_indices(":8080/slack/") {
            let path: String = text[at + ":8080".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/_-".contains(*c))
                .collect();
            assert!(
                served.contains(&path.as_str()),
                "{name} names {path}, which the app does not serve"
            );
        }
    }
    assert!(!help.contains("/slack/interactivity"), "{help}");
}

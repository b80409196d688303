//! The Slack client against the fake Slack, over real HTTP: every error class the fake can
//! produce is mapped right, pagination walks all pages, OAuth codes are single-use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{net::TcpListener, time::Duration};

use fake_slack::{ChannelSpec, FakeSlackConfig, FakeSlackHandle};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use xtc_slack::slack::{
    ConversationsListRequest, ErrorClass, PostMessage, SlackApi, SlackError, UpdateMessage,
};

const REDIRECT: &str = "http://127.0.0.1:1/slack/oauth/callback";
const ALL_SCOPES: &[&str] = &[
    "chat:write",
    "chat:write.public",
    "channels:read",
    "team:read",
];

/// A fake Slack of this test's own, and a client pointed at it.
pub(crate) struct Env {
    pub(crate) fake: FakeSlackHandle,
    pub(crate) api: SlackApi,
    pub(crate) http: reqwest::Client,
}

impl Env {
    /// The default workspace without rate limit (tests that want it set it up).
    pub(crate) fn new() -> Env {
        Env::with(FakeSlackConfig {
            rate_limit_per_sec: 0.0,
            ..FakeSlackConfig::default()
        })
    }

    fn with(config: FakeSlackConfig) -> Env {
        // The log subscriber before this thread's Slack HTTP client (see `captured_logs`):
        // installed later by another test, the client's drop at thread exit would log
        // into a formatter already torn down.
        crate::helpers::captured_logs();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let fake = fake_slack::spawn(config, listener).unwrap();
        let api = SlackApi::new(&fake.api_url(), Duration::from_secs(10));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Env { fake, api, http }
    }

    pub(crate) async fn control(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/_fake/api/{path}", self.fake.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "control {path}: {}",
            resp.status()
        );
        resp.json().await.unwrap()
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}/_fake/api/{path}", self.fake.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub(crate) async fn token(&self, scopes: &[&str]) -> SecretString {
        let v = self.control("tokens", json!({ "scopes": scopes })).await;
        SecretString::from(v["access_token"].as_str().unwrap().to_owned())
    }

    /// Walks the consent page like a browser and returns the code from the redirect.
    async fn authorize(&self, scope: &str, state: &str) -> String {
        let location = self.decide("approve", scope, state).await;
        let url = url::Url::parse(&location).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q.get("state").map(String::as_str), Some(state));
        q.get("code").cloned().expect("code in redirect")
    }

    async fn decide(&self, decision: &str, scope: &str, state: &str) -> String {
        let params = [
            ("client_id", "fake-client-id"),
            ("scope", scope),
            ("user_scope", ""),
            ("redirect_uri", REDIRECT),
            ("state", state),
        ];
        let page = self
            .http
            .get(self.fake.authorize_url())
            .query(&params)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("XTC-Test-Workspace") && html.contains("id=\"approve\""));
        let mut form = params.to_vec();
        form.push(("decision", decision));
        let resp = self
            .http
            .post(self.fake.authorize_url())
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        resp.headers()["location"].to_str().unwrap().to_owned()
    }

    async fn post(
        &self,
        token: &SecretString,
        channel: &str,
        text: &str,
    ) -> Result<String, SlackError> {
        let msg = PostMessage {
            channel: channel.to_owned(),
            text: text.to_owned(),
            ..PostMessage::default()
        };
        self.api.post_message(token, &msg).await.map(|p| p.ts)
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn assert_error(
    result: Result<impl std::fmt::Debug, SlackError>,
    code: &str,
    class: ErrorClass,
) -> SlackError {
    let e = result.expect_err("expected an error");
    assert_eq!((e.code(), e.class()), (code, class), "{e:?}");
    e
}

fn is_slack_ts(ts: &str) -> bool {
    let (secs, micros) = ts.split_once('.').unwrap_or_default();
    secs.len() == 10
        && micros.len() == 6
        && secs
            .chars()
            .chain(micros.chars())
            .all(|c| c.is_ascii_digit())
}

#[actix_web::test]
async fn oauth_install_yields_a_bot_token_that_works() {
    let env = Env::new();
    let code = env.authorize(&ALL_SCOPES.join(","), "st4te").await;
    let access = env
        .api
        .oauth_v2_access(
            "fake-client-id",
            &secret("fake-client-secret"),
            &code,
            REDIRECT,
        )
        .await
        .unwrap();
    assert!(access.access_token.expose_secret().starts_with("xoxb-"));
    assert_eq!(access.token_type, "bot");
    assert_eq!(access.scopes().collect::<Vec<_>>(), ALL_SCOPES);
    assert!(access.app_id.starts_with('A'));
    assert!(access.bot_user_id.as_deref().unwrap().starts_with('U'));
    let team = access.team.clone().unwrap();
    assert_eq!(
        (team.id.as_str(), team.name.as_str()),
        ("T0FAKE0001", "XTC-Test-Workspace")
    );
    assert!(access.enterprise.is_none() && !access.is_enterprise_install);
    assert!(access.authed_user.as_ref().unwrap().id.starts_with('U'));
    assert!(!format!("{access:?}").contains(access.access_token.expose_secret()));

    let me = env.api.auth_test(&access.access_token).await.unwrap();
    assert_eq!(me.team_id, "T0FAKE0001");
    assert_eq!(Some(me.user_id), access.bot_user_id);
    assert!(me.bot_id.unwrap().starts_with('B'));
    let info = env.api.team_info(&access.access_token).await.unwrap();
    assert_eq!(info.name, "XTC-Test-Workspace");
    let ts = env
        .post(&access.access_token, "#load-tests", "hello")
        .await
        .unwrap();
    assert!(is_slack_ts(&ts), "{ts}");
}

#[actix_web::test]
async fn an_oauth_code_cannot_be_used_twice() {
    let env = Env::new();
    let code = env.authorize("chat:write", "s").await;
    let creds = secret("fake-client-secret");
    env.api
        .oauth_v2_access("fake-client-id", &creds, &code, REDIRECT)
        .await
        .unwrap();
    let again = env
        .api
        .oauth_v2_access("fake-client-id", &creds, &code, REDIRECT)
        .await;
    assert_error(again, "invalid_code", ErrorClass::Other);
    let unknown = env
        .api
        .oauth_v2_access("fake-client-id", &creds, "123.456.abc", REDIRECT)
        .await;
    assert_error(unknown, "invalid_code", ErrorClass::Other);
}

#[actix_web::test]
async fn oauth_exchange_checks_redirect_uri_and_credentials() {
    let env = Env::new();
    let code = env.authorize("chat:write", "s").await;
    let creds = secret("fake-client-secret");
    let wrong = env
        .api
        .oauth_v2_access(
            "fake-client-id",
            &creds,
            &code,
            "http://127.0.0.1:1/elsewhere",
        )
        .await;
    assert_error(wrong, "bad_redirect_uri", ErrorClass::Other);
    let bad_secret = env
        .api
        .oauth_v2_access("fake-client-id", &secret("nope"), &code, REDIRECT)
        .await;
    assert_error(bad_secret, "bad_client_secret", ErrorClass::Other);
    let bad_id = env
        .api
        .oauth_v2_access("someone-else", &creds, &code, REDIRECT)
        .await;
    assert_error(bad_id, "invalid_client_id", ErrorClass::Other);
    // The failed attempts did not burn the code.
    env.api
        .oauth_v2_access("fake-client-id", &creds, &code, REDIRECT)
        .await
        .unwrap();
}

#[actix_web::test]
async fn denying_the_install_redirects_with_access_denied_and_state() {
    let env = Env::new();
    let location = env.decide("deny", "chat:write", "xyz").await;
    let url = url::Url::parse(&location).unwrap();
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(location.starts_with(REDIRECT));
    assert_eq!(
        q,
        [
            ("error".into(), "access_denied".into()),
            ("state".into(), "xyz".into())
        ]
    );
}

#[actix_web::test]
async fn messages_threads_and_edits_land_in_the_fake() {
    let env = Env::new();
    let token = env.token(ALL_SCOPES).await;
    let parent = env
        .api
        .post_message(
            &token,
            &PostMessage {
                channel: "#load-tests".into(),
                text: "started".into(),
                blocks: Some(
                    json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*started*"}}]),
                ),
                ..PostMessage::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(parent.channel, "C0FAKE0LDT1");
    assert!(parent.warnings.is_empty());
    let reply = env
        .api
        .post_message(
            &token,
            &PostMessage {
                channel: parent.channel.clone(),
                text: "failed".into(),
                thread_ts: Some(parent.ts.clone()),
                reply_broadcast: true,
                ..PostMessage::default()
            },
        )
        .await
        .unwrap();
    assert!(is_slack_ts(&reply.ts) && reply.ts > parent.ts);
    let edited = env
        .api
        .update_message(
            &token,
            &UpdateMessage {
                channel: parent.channel.clone(),
                ts: parent.ts.clone(),
                text: "finished".into(),
                blocks: None,
                attachments: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.ts, parent.ts);

    let msgs = env.get("messages?channel=load-tests").await;
    let msgs = msgs["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["text"], "finished");
    assert_eq!(msgs[0]["edits"][0]["text"], "started");
    assert_eq!(
        msgs[0]["blocks"][0]["text"]["text"], "*started*",
        "blocks kept on text-only edit"
    );
    assert_eq!(msgs[1]["thread_ts"], parent.ts.as_str());
    assert_eq!(msgs[1]["reply_broadcast"], true);

    let not_there = env
        .api
        .update_message(
            &token,
            &UpdateMessage {
                channel: parent.channel.clone(),
                ts: "1000000000.000001".into(),
                text: "x".into(),
                blocks: None,
                attachments: None,
            },
        )
        .await;
    assert_error(not_there, "message_not_found", ErrorClass::Other);
    let other_app = env
        .control("tokens", json!({"app_id": "A0OTHERAPP1"}))
        .await;
    let other_app = secret(other_app["access_token"].as_str().unwrap());
    let foreign = env
        .api
        .update_message(
            &other_app,
            &UpdateMessage {
                channel: parent.channel.clone(),
                ts: parent.ts.clone(),
                text: "x".into(),
                blocks: None,
                attachments: None,
            },
        )
        .await;
    assert_error(foreign, "cant_update_message", ErrorClass::Other);
}

#[actix_web::test]
async fn channel_problems_are_classified_as_channel_errors() {
    let env = Env::new();
    let token = env.token(ALL_SCOPES).await;
    assert_error(
        env.post(&token, "#no-such-channel", "x").await,
        "channel_not_found",
        ErrorClass::Channel,
    );
    assert_error(
        env.post(&token, "secret-ops", "x").await,
        "channel_not_found",
        ErrorClass::Channel,
    );
    assert_error(
        env.post(&token, "#old-alerts", "x").await,
        "is_archived",
        ErrorClass::Channel,
    );
    let no_public = env.token(&["chat:write", "channels:read"]).await;
    assert_error(
        env.post(&no_public, "#perf", "x").await,
        "not_in_channel",
        ErrorClass::Channel,
    );
    // The bot is a member of #general, so chat:write alone is enough there.
    env.post(&no_public, "#general", "x").await.unwrap();
    // Archiving through the control API takes effect at once.
    env.control("channels", json!({"name": "perf", "is_archived": true}))
        .await;
    assert_error(
        env.post(&token, "perf", "x").await,
        "is_archived",
        ErrorClass::Channel,
    );
}

#[actix_web::test]
async fn broken_integrations_are_classified_as_such() {
    let env = Env::new();
    let token = env.token(ALL_SCOPES).await;
    env.api.auth_test(&token).await.unwrap();
    env.api.auth_revoke(&token).await.unwrap();
    assert_error(
        env.api.auth_test(&token).await,
        "token_revoked",
        ErrorClass::IntegrationBroken,
    );
    assert_error(
        env.post(&token, "general", "x").await,
        "token_revoked",
        ErrorClass::IntegrationBroken,
    );
    let garbage = secret("xoxb-not-a-real-token");
    assert_error(
        env.api.auth_test(&garbage).await,
        "invalid_auth",
        ErrorClass::IntegrationBroken,
    );
    assert_error(
        env.post(&secret(""), "general", "x").await,
        "not_authed",
        ErrorClass::IntegrationBroken,
    );

    let narrow = env.token(&["chat:write"]).await;
    let e = assert_error(
        env.api.conversations_info(&narrow, "C0FAKE0GEN1").await,
        "missing_scope",
        ErrorClass::IntegrationBroken,
    );
    match e {
        SlackError::Api {
            needed, provided, ..
        } => {
            assert_eq!(needed.as_deref(), Some("channels:read"));
            assert_eq!(provided.as_deref(), Some("chat:write"));
        }
        other => panic!("{other:?}"),
    }
    assert_error(
        env.api.team_info(&narrow).await,
        "missing_scope",
        ErrorClass::IntegrationBroken,
    );

    let all = env.token(ALL_SCOPES).await;
    env.control(
        "tokens/revoke",
        json!({"all": true, "error": "account_inactive"}),
    )
    .await;
    assert_error(
        env.api.auth_test(&all).await,
        "account_inactive",
        ErrorClass::IntegrationBroken,
    );
}

#[actix_web::test]
async fn bad_messages_are_classified_as_bad_messages() {
    let env = Env::new();
    let token = env.token(ALL_SCOPES).await;
    let with_blocks = |blocks: Value| PostMessage {
        channel: "general".into(),
        text: "fallback".into(),
        blocks: Some(blocks),
        ..PostMessage::default()
    };
    let too_many = Value::Array(vec![json!({"type": "divider"}); 51]);
    let e = assert_error(
        env.api.post_message(&token, &with_blocks(too_many)).await,
        "invalid_blocks",
        ErrorClass::BadMessage,
    );
    assert!(
        matches!(e, SlackError::Api { ref errors, .. } if errors.len() == 1),
        "{e:?}"
    );
    let long_section =
        json!([{"type": "section", "text": {"type": "mrkdwn", "text": "a".repeat(3001)}}]);
    let e = assert_error(
        env.api
            .post_message(&token, &with_blocks(long_section))
            .await,
        "invalid_blocks",
        ErrorClass::BadMessage,
    );
    match e {
        SlackError::Api { errors, .. } => {
            assert!(errors[0].contains("/blocks/0/text/text"), "{errors:?}")
        }
        other => panic!("{other:?}"),
    }
    let long_header =
        json!([{"type": "header", "text": {"type": "plain_text", "text": "h".repeat(151)}}]);
    assert_error(
        env.api
            .post_message(&token, &with_blocks(long_header))
            .await,
        "invalid_blocks",
        ErrorClass::BadMessage,
    );
    assert_error(
        env.post(&token, "general", "").await,
        "no_text",
        ErrorClass::BadMessage,
    );

    // Over-long text is truncated and posted, with a warning.
    let posted = env
        .api
        .post_message(
            &token,
            &PostMessage {
                channel: "general".into(),
                text: "x".repeat(40_001),
                ..PostMessage::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(posted.warnings, ["message_truncated"]);
    let msgs = env.get("messages?channel=general").await;
    assert_eq!(
        msgs["messages"][0]["text"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        40_000
    );
}

#[actix_web::test]
async fn server_failures_are_retry_later() {
    let env = Env::new();
    let token = env.token(ALL_SCOPES).await;
    env.control(
        "fail",
        json!({"method": "chat.postMessage", "count": 2, "http_status": 500}),
    )
    .await;
    for _ in 0..2 {
        let e = assert_error(
            env.post(&token, "general", "x").await,
            "http_500",
            ErrorClass::RetryLater,
        );
        assert_eq!(e.retry_after(), None);
    }
    // The injected failures are used up.
    env.post(&token, "general", "x").await.unwrap();

    env.control(
        "fail",
        json!({"method": "chat.postMessage", "error": "internal_error"}),
    )
    .await;
    assert_error(
        env.post(&token, "general", "x").await,
        "internal_error",
        ErrorClass::RetryLater,
    );
    env.control(
        "fail",
        json!({"method": "chat.postMessage", "http_status": 503, "error": "service_unavailable"}),
    )
    .await;
    assert_error(
        env.post(&token, "general", "x").await,
        "http_503",
        ErrorClass::RetryLater,
    );

    let calls = env.get("calls?method=chat.postMessage").await;
    let statuses: Vec<u64> = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["http_status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 500, 200, 200, 503]);
    assert!(
        !calls.to_string().contains(token.expose_secret()),
        "call log must not hold tokens"
    );
}

#[actix_web::test]
async fn throttling_carries_retry_after() {
    let env = Env::with(FakeSlackConfig {
        rate_limit_per_sec: 0.01,
        rate_limit_burst: 1,
        ..FakeSlackConfig::default()
    });
    let token = env.token(ALL_SCOPES).await;
    env.post(&token, "general", "first").await.unwrap();
    let e = assert_error(
        env.post(&token, "general", "second").await,
        "ratelimited",
        ErrorClass::RetryLater,
    );
    // One token per 100 s, bucket just emptied: Slack-style whole seconds.
    assert_eq!(e.retry_after(), Some(Duration::from_secs(100)));
    // The limit is per channel.
    env.post(&token, "load-tests", "elsewhere").await.unwrap();

    env.control("rate-limit", json!({"per_sec": 0})).await;
    env.post(&token, "general", "unlimited").await.unwrap();
    env.control(
        "fail",
        json!({"method": "auth.test", "http_status": 429, "retry_after": 7}),
    )
    .await;
    let e = assert_error(
        env.api.auth_test(&token).await,
        "ratelimited",
        ErrorClass::RetryLater,
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
}

#[actix_web::test]
async fn slow_answers_time_out_as_retry_later() {
    let env = Env::new();
    let token = env.token(ALL_SCOPES).await;
    env.control("fail", json!({"method": "auth.test", "delay_ms": 3000}))
        .await;
    let impatient = SlackApi::new(&env.fake.api_url(), Duration::from_millis(200));
    assert_error(
        impatient.auth_test(&token).await,
        "timeout",
        ErrorClass::RetryLater,
    );
}

#[actix_web::test]
async fn unreachable_slack_is_retry_later() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = SlackApi::new(
        &format!("http://127.0.0.1:{port}/api"),
        Duration::from_secs(5),
    );
    let e = assert_error(
        api.auth_test(&secret("xoxb-1")).await,
        "connection_failed",
        ErrorClass::RetryLater,
    );
    assert!(!e.to_string().contains("xoxb-1"));
}

#[actix_web::test]
async fn conversations_list_walks_every_page() {
    let mut channels = ChannelSpec::defaults();
    channels.extend((0..450).map(|i| ChannelSpec::public(&format!("bulk-{i:03}"))));
    let env = Env::with(FakeSlackConfig {
        channels,
        rate_limit_per_sec: 0.0,
        ..FakeSlackConfig::default()
    });
    let token = env.token(ALL_SCOPES).await;

    let all = env.api.conversations_list(&token, false).await.unwrap();
    // 450 + general, load-tests, perf, random, old-alerts; the private channel is hidden.
    assert_eq!(all.len(), 455);
    let mut ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 455, "no channel twice");
    assert!(all
        .iter()
        .all(|c| !c.is_private && c.is_channel && c.created > 0));
    let calls = env.get("calls?method=conversations.list").await;
    assert_eq!(calls["calls"].as_array().unwrap().len(), 3, "200 per page");

    let active = env.api.conversations_list(&token, true).await.unwrap();
    assert_eq!(active.len(), 454);
    assert!(active.iter().all(|c| !c.is_archived));

    let first = env
        .api
        .conversations_list_page(
            &token,
            &ConversationsListRequest {
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.channels.len(), 2);
    let cursor = first.next_cursor.expect("more pages");
    let second = env
        .api
        .conversations_list_page(
            &token,
            &ConversationsListRequest {
                limit: 1000,
                cursor: Some(cursor),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(second.channels.len(), 453);
    assert_eq!(second.next_cursor, None);

    let info = env
        .api
        .conversations_info(&token, &all[0].id)
        .await
        .unwrap();
    assert_eq!(info, all[0]);
    assert_error(
        env.api.conversations_info(&token, "C0FAKE0SEC1").await,
        "channel_not_found",
        ErrorClass::Channel,
    );
}

/// `views.open` with a trigger Slack does not know (or one used or older than 3 s) is a
/// failure of that one call, never of the channel or the integration; a view Slack refuses
/// is a bad message.
#[actix_web::test]
async fn views_open_refusals_are_classified() {
    let env = Env::new();
    let token = env.token(&["chat:write"]).await;
    let view = json!({"type": "modal",
        "title": {"type": "plain_text", "text": "Mute incident"},
        "blocks": [{"type": "section", "text": {"type": "plain_text", "text": "x"}}]});
    for (injected, want) in [
        (None, "invalid_trigger_id"),
        (Some("expired_trigger_id"), "expired_trigger_id"),
    ] {
        if let Some(error) = injected {
            env.control(
                "fail",
                json!({"method": "views.open", "count": 1, "error": error}),
            )
            .await;
        }
        let e = env
            .api
            .views_open(&token, "1.2.nope", &view)
            .await
            .unwrap_err();
        assert_eq!((e.code(), e.class()), (want, ErrorClass::Other));
    }
}

/// A stub Web API answering `auth.test`, counting the TCP connections made to it.
fn counting_slack() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/api", listener.local_addr().unwrap());
    let server = actix_web::HttpServer::new(|| {
        actix_web::App::new().route(
            "/api/auth.test",
            actix_web::web::post().to(|| async {
                actix_web::HttpResponse::Ok().json(json!({
                    "ok": true, "team_id": "T1", "user_id": "U1", "bot_id": "B1"
                }))
            }),
        )
    })
    .on_connect(move |_, _| {
        counted.fetch_add(1, Ordering::SeqCst);
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_rt::spawn(server);
    (base, connections)
}

/// Keep-alive on (the default): three calls share one connection; off
/// (`XTC_SLACK_SLACK_KEEP_ALIVE=false`): each call opens its own.
#[actix_web::test]
async fn connections_to_slack_are_reused_unless_keep_alive_is_off() {
    use std::sync::atomic::Ordering;
    let token = SecretString::from("xoxb-test".to_owned());
    for (keep_alive, want) in [(true, 1), (false, 3)] {
        let (base, connections) = counting_slack();
        let mut api = SlackApi::new(&base, Duration::from_secs(5));
        if !keep_alive {
            api = api.without_keep_alive();
        }
        for _ in 0..3 {
            let who = api.auth_test(&token).await.unwrap();
            assert_eq!(who.team_id, "T1");
        }
        assert_eq!(
            connections.load(Ordering::SeqCst),
            want,
            "keep-alive {keep_alive}"
        );
    }
}

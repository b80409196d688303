//! The typed Slack Web API client.
//!
//! One method per Web API call the product makes, each with typed request and response
//! structs (in [`crate::slack::types`]). Every call has a timeout, sends the token only in
//! the `Authorization` header, and turns every failure into a [`SlackError`] that knows
//! its [`ErrorClass`] (see [`crate::slack::error`]).
//!
//! `awc::Client` is `!Send`, so [`SlackApi`] only holds configuration (it is `Send + Sync`
//! and cheap to clone) and each thread lazily creates one `awc::Client` that all calls on
//! that thread share (connection pooling per thread). The futures returned by the methods
//! are therefore `!Send`: run them on an actix-web handler or actor context, as usual with
//! actix.
//!
//! [`ErrorClass`]: crate::slack::ErrorClass

use std::{sync::Arc, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::SlackError;
use super::types::{
    AuthTest, Channel, ChannelsPage, ConversationsListRequest, OAuthV2Access, PostMessage, Posted,
    TeamInfo, UpdateMessage,
};

/// Largest response body we read; `conversations.list` pages of 1,000 channels fit easily.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// How many times the configured timeout `chat.postMessage` may take (see
/// [`SlackApi::timeout_of`]).
pub const POST_MESSAGE_TIMEOUT_FACTOR: u32 = 3;
/// Safety net against a server that never ends pagination.
const MAX_LIST_PAGES: usize = 1000;

thread_local! {
    static HTTP: awc::Client = build_http_client();
}

fn build_http_client() -> awc::Client {
    // Logged first on purpose: when the thread ends, thread-locals are dropped in the reverse
    // order of their creation, and dropping this client's pooled connections logs (mio, at
    // trace level). Logging here first creates the log formatter's thread-local buffer
    // before the client, so it still exists then (else the thread aborts at exit).
    tracing::trace!("creating this thread's HTTP client for Slack");
    // rustls chooses its crypto provider from crate features; installing ring explicitly
    // keeps that working if another dependency ever enables a second provider. An error
    // only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    awc::Client::builder()
        // The Web API never redirects; following one would resend the bearer token.
        .disable_redirects()
        // Each request sets its own timeout from `SlackApi`.
        .disable_timeout()
        .finish()
}

/// Client for Slack's Web API. Holds only the base URL, the timeout and, optionally, the
/// counter of calls by method and outcome.
#[derive(Debug, Clone)]
pub struct SlackApi {
    base_url: Arc<str>,
    timeout: Duration,
    calls: Option<CallCounter>,
}

/// Counts every call by method and outcome (`ok` or the error code).
#[derive(Clone)]
struct CallCounter(prometheus::IntCounterVec);

impl std::fmt::Debug for CallCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallCounter")
    }
}

/// A successful answer: the JSON object and its warnings.
#[derive(Debug)]
pub(crate) struct Envelope {
    value: Value,
    warnings: Vec<String>,
}

enum Auth<'a> {
    Bearer(&'a SecretString),
    Basic {
        client_id: &'a str,
        client_secret: &'a SecretString,
    },
}

enum Body {
    Json(Vec<u8>),
    Form(String),
}

impl SlackApi {
    /// A client for the Web API at `base_url` (`https://slack.com/api`, or the fake's
    /// `…/api`), giving every call at most `timeout` from sending to the end of the body.
    pub fn new(base_url: &str, timeout: Duration) -> SlackApi {
        SlackApi {
            base_url: Arc::from(base_url.trim_end_matches('/')),
            timeout,
            calls: None,
        }
    }

    /// The same client, counting every call in `counter` (labels `method`, `outcome`).
    pub fn with_call_counter(mut self, counter: prometheus::IntCounterVec) -> SlackApi {
        self.calls = Some(CallCounter(counter));
        self
    }

    /// The Web API base URL, without trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The timeout of one method. `chat.postMessage` gets [`POST_MESSAGE_TIMEOUT_FACTOR`]
    /// times the others': a post that Slack completes after we gave up is retried and
    /// shows twice, so we wait longer for an answer before we call it lost.
    pub fn timeout_of(&self, method: &str) -> Duration {
        if method == "chat.postMessage" {
            self.timeout.saturating_mul(POST_MESSAGE_TIMEOUT_FACTOR)
        } else {
            self.timeout
        }
    }

    /// `oauth.v2.access`: exchanges an OAuth `code` for the installation's bot token.
    /// Client credentials go in an HTTP Basic header (Slack's preferred way).
    pub async fn oauth_v2_access(
        &self,
        client_id: &str,
        client_secret: &SecretString,
        code: &str,
        redirect_uri: &str,
    ) -> Result<OAuthV2Access, SlackError> {
        const METHOD: &str = "oauth.v2.access";
        let form = form_body(METHOD, &[("code", code), ("redirect_uri", redirect_uri)])?;
        let auth = Auth::Basic {
            client_id,
            client_secret,
        };
        let env = self.call(METHOD, auth, Body::Form(form)).await?;
        decode(METHOD, env.value)
    }

    /// `oauth.v2.access` with `grant_type=refresh_token`: a new bot token (and a new refresh
    /// token; Slack retires the one given) for apps with token rotation on.
    pub async fn oauth_v2_refresh(
        &self,
        client_id: &str,
        client_secret: &SecretString,
        refresh_token: &SecretString,
    ) -> Result<OAuthV2Access, SlackError> {
        const METHOD: &str = "oauth.v2.access";
        let form = form_body(
            METHOD,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose_secret()),
            ],
        )?;
        let auth = Auth::Basic {
            client_id,
            client_secret,
        };
        let env = self.call(METHOD, auth, Body::Form(form)).await?;
        decode(METHOD, env.value)
    }

    /// `chat.postMessage` (links and media are never unfurled: our messages carry their
    /// own summaries).
    pub async fn post_message(
        &self,
        token: &SecretString,
        msg: &PostMessage,
    ) -> Result<Posted, SlackError> {
        const METHOD: &str = "chat.postMessage";
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(flatten)]
            msg: &'a PostMessage,
            unfurl_links: bool,
            unfurl_media: bool,
        }
        let body = json_body(
            METHOD,
            &Wire {
                msg,
                unfurl_links: false,
                unfurl_media: false,
            },
        )?;
        let env = self.call(METHOD, Auth::Bearer(token), body).await?;
        posted(METHOD, env)
    }

    /// `chat.update`: replaces text and blocks of a message the bot posted.
    pub async fn update_message(
        &self,
        token: &SecretString,
        msg: &UpdateMessage,
    ) -> Result<Posted, SlackError> {
        const METHOD: &str = "chat.update";
        let body = json_body(METHOD, msg)?;
        let env = self.call(METHOD, Auth::Bearer(token), body).await?;
        posted(METHOD, env)
    }

    /// `conversations.info` for one channel ID.
    pub async fn conversations_info(
        &self,
        token: &SecretString,
        channel: &str,
    ) -> Result<Channel, SlackError> {
        const METHOD: &str = "conversations.info";
        #[derive(Deserialize)]
        struct Wire {
            channel: Channel,
        }
        let form = form_body(METHOD, &[("channel", channel)])?;
        let env = self
            .call(METHOD, Auth::Bearer(token), Body::Form(form))
            .await?;
        decode::<Wire>(METHOD, env.value).map(|w| w.channel)
    }

    /// One page of `conversations.list`.
    pub async fn conversations_list_page(
        &self,
        token: &SecretString,
        req: &ConversationsListRequest,
    ) -> Result<ChannelsPage, SlackError> {
        const METHOD: &str = "conversations.list";
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            channels: Vec<Channel>,
            #[serde(default)]
            response_metadata: Option<Metadata>,
        }
        #[derive(Deserialize)]
        struct Metadata {
            #[serde(default)]
            next_cursor: Option<String>,
        }
        let form = form_body(METHOD, req)?;
        let env = self
            .call(METHOD, Auth::Bearer(token), Body::Form(form))
            .await?;
        let wire: Wire = decode(METHOD, env.value)?;
        Ok(ChannelsPage {
            channels: wire.channels,
            // Slack documents empty, null and missing as "last page".
            next_cursor: wire
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| !c.is_empty()),
        })
    }

    /// All public channels (`conversations.list`, every cursor page, 200 per page).
    pub async fn conversations_list(
        &self,
        token: &SecretString,
        exclude_archived: bool,
    ) -> Result<Vec<Channel>, SlackError> {
        let mut req = ConversationsListRequest {
            exclude_archived,
            ..ConversationsListRequest::default()
        };
        let mut all = Vec::new();
        for _ in 0..MAX_LIST_PAGES {
            let page = self.conversations_list_page(token, &req).await?;
            all.extend(page.channels);
            match page.next_cursor {
                None => return Ok(all),
                Some(next) if req.cursor.as_deref() == Some(next.as_str()) => {
                    return Err(SlackError::Decode {
                        method: "conversations.list",
                        detail: "pagination cursor did not advance".to_owned(),
                    })
                }
                Some(next) => req.cursor = Some(next),
            }
        }
        Err(SlackError::Decode {
            method: "conversations.list",
            detail: format!("more than {MAX_LIST_PAGES} pages"),
        })
    }

    /// `auth.test`: checks a token and tells whose it is.
    pub async fn auth_test(&self, token: &SecretString) -> Result<AuthTest, SlackError> {
        const METHOD: &str = "auth.test";
        let env = self
            .call(METHOD, Auth::Bearer(token), Body::Form(String::new()))
            .await?;
        decode(METHOD, env.value)
    }

    /// `team.info` of the token's workspace (needs `team:read`).
    pub async fn team_info(&self, token: &SecretString) -> Result<TeamInfo, SlackError> {
        const METHOD: &str = "team.info";
        #[derive(Deserialize)]
        struct Wire {
            team: TeamInfo,
        }
        let env = self
            .call(METHOD, Auth::Bearer(token), Body::Form(String::new()))
            .await?;
        decode::<Wire>(METHOD, env.value).map(|w| w.team)
    }

    /// `auth.revoke`: revokes the calling token.
    pub async fn auth_revoke(&self, token: &SecretString) -> Result<(), SlackError> {
        const METHOD: &str = "auth.revoke";
        self.call(METHOD, Auth::Bearer(token), Body::Form(String::new()))
            .await
            .map(drop)
    }

    /// Sends one request and interprets the answer; the whole exchange, body included,
    /// is bounded by the timeout.
    /// Whether `url` is a `response_url` Slack could have given us: `https://hooks.slack.com/…`,
    /// or on the host of the configured Web API (the fake Slack). Anything else is never
    /// called (a forged payload must not make us POST to an address of its choosing).
    pub fn is_response_url(&self, url: &str) -> bool {
        let Ok(parsed) = url::Url::parse(url) else {
            return false;
        };
        if parsed.scheme() == "https" && parsed.host_str() == Some("hooks.slack.com") {
            return true;
        }
        let Ok(base) = url::Url::parse(&self.base_url) else {
            return false;
        };
        parsed.scheme() == base.scheme()
            && parsed.host_str() == base.host_str()
            && parsed.port_or_known_default() == base.port_or_known_default()
    }

    /// Posts a message to an interaction's `response_url` (e.g. an ephemeral answer to
    /// the person who clicked). The URL must pass [`SlackApi::is_response_url`].
    pub async fn respond(&self, response_url: &str, message: &Value) -> Result<(), SlackError> {
        const METHOD: &str = "response_url";
        if !self.is_response_url(response_url) {
            return Err(SlackError::Api {
                method: METHOD,
                code: "invalid_response_url".to_owned(),
                needed: None,
                provided: None,
                errors: Vec::new(),
            });
        }
        let send = HTTP
            .with(Clone::clone)
            .post(response_url)
            .timeout(self.timeout)
            .content_type("application/json; charset=utf-8")
            .send_body(message.to_string());
        let result = match tokio::time::timeout(self.timeout, send).await {
            Err(_) | Ok(Err(awc::error::SendRequestError::Timeout)) => {
                Err(SlackError::Timeout { method: METHOD })
            }
            Ok(Err(e)) => Err(SlackError::Connection {
                method: METHOD,
                detail: e.to_string(),
            }),
            Ok(Ok(resp)) if resp.status().is_success() => Ok(()),
            Ok(Ok(resp)) => {
                let status = resp.status().as_u16();
                Err(SlackError::Http {
                    method: METHOD,
                    status,
                    code: format!("http_{status}"),
                    slack_error: None,
                })
            }
        };
        if let Some(CallCounter(counter)) = &self.calls {
            let outcome = match &result {
                Ok(()) => "ok",
                Err(e) => e.code(),
            };
            counter.with_label_values(&[METHOD, outcome]).inc();
        }
        result
    }

    async fn call(
        &self,
        method: &'static str,
        auth: Auth<'_>,
        body: Body,
    ) -> Result<Envelope, SlackError> {
        let url = format!("{}/{method}", self.base_url);
        let timeout = self.timeout_of(method);
        let mut req = HTTP
            .with(Clone::clone)
            .post(url)
            .timeout(timeout)
            .insert_header(("Accept", "application/json"));
        req = match auth {
            Auth::Bearer(token) => req.bearer_auth(token.expose_secret()),
            Auth::Basic {
                client_id,
                client_secret,
            } => req.basic_auth(client_id, client_secret.expose_secret()),
        };
        let send = match body {
            Body::Json(bytes) => req
                .content_type("application/json; charset=utf-8")
                .send_body(bytes),
            Body::Form(form) => req
                .content_type("application/x-www-form-urlencoded")
                .send_body(form),
        };
        let exchange = async move {
            let mut resp = send.await.map_err(|e| match e {
                awc::error::SendRequestError::Timeout => SlackError::Timeout { method },
                e => SlackError::Connection {
                    method,
                    detail: e.to_string(),
                },
            })?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = resp
                .body()
                .limit(MAX_BODY_BYTES)
                .await
                .map_err(|e| match e {
                    awc::error::PayloadError::Overflow => SlackError::NotSlack {
                        method,
                        detail: "response body too large".to_owned(),
                    },
                    e => SlackError::Connection {
                        method,
                        detail: e.to_string(),
                    },
                })?;
            Ok::<_, SlackError>((status, retry_after, body))
        };
        let exchanged = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| SlackError::Timeout { method })
            .and_then(|r| r);
        let result = exchanged.and_then(|(status, retry_after, body)| {
            let result = interpret(method, status, retry_after.as_deref(), &body);
            match &result {
                Ok(_) => tracing::debug!(method, status, "Slack call succeeded"),
                Err(e) => tracing::debug!(method, status, code = e.code(), "Slack call failed"),
            }
            result
        });
        if let Some(CallCounter(counter)) = &self.calls {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(e) => e.code(),
            };
            counter.with_label_values(&[method, outcome]).inc();
        }
        result
    }
}

/// Turns an HTTP answer into a success envelope or a [`SlackError`]. Pure, so the rules
/// (429 first, non-2xx, JSON, `ok`) are unit-tested without a server.
pub(crate) fn interpret(
    method: &'static str,
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<Envelope, SlackError> {
    if status == 429 {
        return Err(SlackError::RateLimited {
            method,
            retry_after: retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        });
    }
    let object = serde_json::from_slice::<Map<String, Value>>(body).ok();
    if !(200..300).contains(&status) {
        return Err(SlackError::Http {
            method,
            status,
            code: format!("http_{status}"),
            slack_error: object
                .as_ref()
                .and_then(|o| o.get("error"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    }
    let Some(object) = object else {
        return Err(SlackError::NotSlack {
            method,
            detail: if body.is_empty() {
                "empty body".to_owned()
            } else {
                "body is not a JSON object".to_owned()
            },
        });
    };
    let warnings = warnings(&object);
    if !warnings.is_empty() {
        tracing::warn!(method, warnings = %warnings.join(","), "Slack answered with warnings");
    }
    let ok = object.get("ok").and_then(Value::as_bool);
    let error = object.get("error").and_then(Value::as_str);
    match (ok, error) {
        (Some(true), _) => Ok(Envelope {
            value: Value::Object(object),
            warnings,
        }),
        (Some(false), _) | (None, Some(_)) => {
            let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
            Err(SlackError::Api {
                method,
                code: error.unwrap_or("unknown_error").to_owned(),
                needed: text("needed"),
                provided: text("provided"),
                errors: object
                    .get("errors")
                    .and_then(Value::as_array)
                    .map(|errs| {
                        errs.iter()
                            .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        }
        (None, None) => Err(SlackError::NotSlack {
            method,
            detail: "no `ok` field".to_owned(),
        }),
    }
}

/// `warning` (comma-joined) and `response_metadata.warnings`, deduplicated, in order.
fn warnings(object: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let top = object
        .get("warning")
        .and_then(Value::as_str)
        .into_iter()
        .flat_map(|w| w.split(','));
    let meta = object
        .get("response_metadata")
        .and_then(|m| m.get("warnings"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    for w in top.chain(meta).map(str::trim).filter(|w| !w.is_empty()) {
        if !out.iter().any(|o| o == w) {
            out.push(w.to_owned());
        }
    }
    out
}

fn posted(method: &'static str, env: Envelope) -> Result<Posted, SlackError> {
    let mut posted: Posted = decode(method, env.value)?;
    posted.warnings = env.warnings;
    Ok(posted)
}

/// Deserialises a success body. The error detail names the JSON path and the kind of
/// mismatch but never a value: a value could be a token.
fn decode<T: DeserializeOwned>(method: &'static str, value: Value) -> Result<T, SlackError> {
    serde_path_to_error::deserialize(value).map_err(|e| SlackError::Decode {
        method,
        detail: format!(
            "unexpected shape at `{}` ({:?})",
            e.path(),
            e.inner().classify()
        ),
    })
}

fn json_body<T: Serialize>(method: &'static str, value: &T) -> Result<Body, SlackError> {
    serde_json::to_vec(value)
        .map(Body::Json)
        .map_err(|e| SlackError::Decode {
            method,
            detail: format!("cannot encode request: {e}"),
        })
}

fn form_body<T: Serialize + ?Sized>(method: &'static str, value: &T) -> Result<String, SlackError> {
    serde_urlencoded::to_string(value).map_err(|e| SlackError::Decode {
        method,
        detail: format!("cannot encode request: {e}"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::slack::ErrorClass;

    const M: &str = "chat.postMessage";

    #[test]
    fn post_message_waits_longer_than_other_methods() {
        let api = SlackApi::new("http://127.0.0.1:9/api", Duration::from_secs(10));
        assert_eq!(api.timeout_of("chat.postMessage"), Duration::from_secs(30));
        assert_eq!(api.timeout_of("chat.update"), Duration::from_secs(10));
        assert_eq!(
            api.timeout_of("conversations.list"),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn ok_true_is_success_with_warnings() {
        let body = br#"{"ok":true,"channel":"C1","ts":"1.2","warning":"missing_charset,x","response_metadata":{"warnings":["missing_charset","message_truncated"]}}"#;
        let env = interpret(M, 200, None, body).unwrap();
        assert_eq!(env.warnings, ["missing_charset", "x", "message_truncated"]);
        let p = posted(M, env).unwrap();
        assert_eq!((p.channel.as_str(), p.ts.as_str()), ("C1", "1.2"));
    }

    #[test]
    fn ok_false_is_an_api_error_with_details() {
        let body = br#"{"ok":false,"error":"missing_scope","needed":"channels:read","provided":"chat:write"}"#;
        let e = interpret(M, 200, None, body).unwrap_err();
        assert_eq!(e.code(), "missing_scope");
        assert_eq!(e.class(), ErrorClass::IntegrationBroken);
        assert!(matches!(e, SlackError::Api { needed: Some(ref n), .. } if n == "channels:read"));
        let e = interpret(
            M,
            200,
            None,
            br#"{"error":"invalid_blocks","errors":["a"]}"#,
        )
        .unwrap_err();
        assert!(matches!(e, SlackError::Api { ref errors, .. } if errors == &["a"]));
        let e = interpret(M, 200, None, br#"{"ok":false}"#).unwrap_err();
        assert_eq!(e.code(), "unknown_error");
    }

    #[test]
    fn statuses_and_garbage_are_classified() {
        let e = interpret(M, 429, Some("7"), br#"{"ok":false,"error":"ratelimited"}"#).unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.class(), ErrorClass::RetryLater);
        let e = interpret(M, 429, Some("soon"), b"").unwrap_err();
        assert_eq!((e.code(), e.retry_after()), ("ratelimited", None));
        let e = interpret(M, 503, None, b"<html>busy</html>").unwrap_err();
        assert_eq!((e.code(), e.class()), ("http_503", ErrorClass::RetryLater));
        let e = interpret(M, 500, None, br#"{"ok":false,"error":"fatal_error"}"#).unwrap_err();
        assert!(
            matches!(e, SlackError::Http { slack_error: Some(ref s), .. } if s == "fatal_error")
        );
        let e = interpret(M, 404, None, b"not found").unwrap_err();
        assert_eq!(e.class(), ErrorClass::Other);
        // Not a Slack reply (a proxy's page, an empty or cut body): retried like a 5xx.
        for body in [
            &b"<html>"[..],
            b"",
            br#"{"ok":true,"chan"#,
            b"[1]",
            br#"{"channel":"C1"}"#,
        ] {
            let e = interpret(M, 200, None, body).unwrap_err();
            assert_eq!(
                (e.code(), e.class()),
                ("invalid_response", ErrorClass::RetryLater),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // A Slack success without its fields: retrying gives the same.
        let env = interpret(M, 200, None, br#"{"ok":true}"#).unwrap();
        let e = posted(M, env).unwrap_err();
        assert_eq!(
            (e.code(), e.class()),
            ("unexpected_response", ErrorClass::Other)
        );
    }

    #[test]
    fn decode_errors_do_not_echo_values() {
        let env = interpret(
            M,
            200,
            None,
            br#"{"ok":true,"channel":"C1","ts":{"x":"xoxb-secret"}}"#,
        )
        .unwrap();
        let e = posted(M, env).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("xoxb-secret"));
    }

    #[test]
    fn api_is_send_sync_and_trims_the_base_url() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<SlackApi>();
        let api = SlackApi::new("http://fake/api/", Duration::from_secs(1));
        assert_eq!(api.base_url(), "http://fake/api");
    }
}

//! The typed Slack Web API client.
//!
//! One method per Web API call the product makes, each with typed request and response
//! structs. Every call has a timeout, sends the token only in the `Authorization` header,
//! and turns every failure into a [`SlackError`] that knows its [`ErrorClass`]
//! (see [`crate::slack::error`]).
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
use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::error::SlackError;

/// Largest response body we read; `conversations.list` pages of 1,000 channels fit easily.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// How many times the configured timeout `chat.postMessage` may take (see
/// [`SlackApi::timeout_of`]).
pub const POST_MESSAGE_TIMEOUT_FACTOR: u32 = 3;

/// Page size used by [`SlackApi::conversations_list`] (Slack recommends 100-200).
pub const LIST_PAGE_LIMIT: u32 = 200;
/// Safety net against a server that never ends pagination.
const MAX_LIST_PAGES: usize = 1000;

thread_local! {
    static HTTP: awc::Client = build_http_client();
}

fn build_http_client() -> awc::Client {
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

/// Response of `oauth.v2.access`: the installation's bot token and who/where installed it.
#[derive(Debug, Clone, Deserialize)]
pub struct OAuthV2Access {
    /// The Slack app's ID (`A…`).
    pub app_id: String,
    /// Granted bot scopes, comma-separated.
    pub scope: String,
    /// `bot` for bot tokens.
    pub token_type: String,
    /// The bot token (`xoxb-…`).
    #[serde(deserialize_with = "de_secret")]
    pub access_token: SecretString,
    /// The bot's user ID (`U…`).
    #[serde(default)]
    pub bot_user_id: Option<String>,
    /// The workspace; `null` for org-wide Enterprise Grid installs.
    #[serde(default)]
    pub team: Option<Team>,
    /// The Enterprise Grid organization, if any.
    #[serde(default)]
    pub enterprise: Option<Enterprise>,
    /// True for org-wide installs.
    #[serde(default)]
    pub is_enterprise_install: bool,
    /// The installing user (always present, with a token only if user scopes were asked).
    #[serde(default)]
    pub authed_user: Option<AuthedUser>,
    /// Present when the `incoming-webhook` scope was requested.
    #[serde(default)]
    pub incoming_webhook: Option<IncomingWebhook>,
    /// With token rotation on: the refresh token.
    #[serde(default, deserialize_with = "de_opt_secret")]
    pub refresh_token: Option<SecretString>,
    /// With token rotation on: seconds until `access_token` expires.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl OAuthV2Access {
    /// The granted bot scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

/// A workspace reference `{id, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// `T…`.
    pub id: String,
    /// Display name of the workspace.
    #[serde(default)]
    pub name: String,
}

/// An Enterprise Grid organization reference `{id, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enterprise {
    /// `E…`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

/// The user who approved an install.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthedUser {
    /// `U…`/`W…`.
    pub id: String,
    /// Granted user scopes, if any were requested.
    #[serde(default)]
    pub scope: Option<String>,
    /// User token (`xoxp-…`), if user scopes were requested.
    #[serde(default, deserialize_with = "de_opt_secret")]
    pub access_token: Option<SecretString>,
    /// `user` when a token is present.
    #[serde(default)]
    pub token_type: Option<String>,
}

/// The incoming webhook created by an install with the `incoming-webhook` scope.
#[derive(Debug, Clone, Deserialize)]
pub struct IncomingWebhook {
    /// `#channel` name.
    #[serde(default)]
    pub channel: String,
    /// Channel ID.
    #[serde(default)]
    pub channel_id: String,
    /// Where a user can manage the webhook.
    #[serde(default)]
    pub configuration_url: String,
    /// The webhook URL itself: a credential.
    #[serde(deserialize_with = "de_secret")]
    pub url: SecretString,
}

/// A `chat.postMessage` request (the token is passed separately so this can be logged).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PostMessage {
    /// Channel ID (preferred) or name.
    pub channel: String,
    /// Message text; with blocks, the notification fallback.
    pub text: String,
    /// Block Kit blocks (a JSON array).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Value>,
    /// Parent message ts, to reply in a thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    /// With `thread_ts`: also show the reply in the channel.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reply_broadcast: bool,
}

/// A `chat.update` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UpdateMessage {
    /// Channel ID of the message.
    pub channel: String,
    /// `ts` of the message to edit.
    pub ts: String,
    /// New text.
    pub text: String,
    /// New blocks (replace the old ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Value>,
}

/// Where a message landed (`chat.postMessage` / `chat.update`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Posted {
    /// Channel ID.
    pub channel: String,
    /// The message's `ts`, its ID within the channel.
    pub ts: String,
    /// Warnings Slack attached (e.g. `message_truncated`); already logged.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// A conversation as returned by `conversations.info` / `conversations.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// `C…` (or `G…` for legacy private channels).
    pub id: String,
    /// Name without `#`.
    #[serde(default)]
    pub name: String,
    /// Normalised name.
    #[serde(default)]
    pub name_normalized: Option<String>,
    /// True for channels (public or private), false for DMs.
    #[serde(default)]
    pub is_channel: bool,
    /// Legacy private channel.
    #[serde(default)]
    pub is_group: bool,
    /// Direct message.
    #[serde(default)]
    pub is_im: bool,
    /// Group direct message.
    #[serde(default)]
    pub is_mpim: bool,
    /// Private channel (decide privacy with this, never with the ID prefix).
    #[serde(default)]
    pub is_private: bool,
    /// Archived channels reject posts.
    #[serde(default)]
    pub is_archived: bool,
    /// The workspace's `#general`.
    #[serde(default)]
    pub is_general: bool,
    /// Whether the calling bot is a member.
    #[serde(default)]
    pub is_member: bool,
    /// Creation time, unix seconds.
    #[serde(default)]
    pub created: i64,
    /// Creator's user ID.
    #[serde(default)]
    pub creator: Option<String>,
    /// Member count, when Slack includes it.
    #[serde(default)]
    pub num_members: Option<u64>,
    /// Channel topic.
    #[serde(default)]
    pub topic: Option<TopicInfo>,
    /// Channel purpose.
    #[serde(default)]
    pub purpose: Option<TopicInfo>,
    /// Earlier names of the channel.
    #[serde(default)]
    pub previous_names: Vec<String>,
}

/// A channel's topic or purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// The text.
    #[serde(default)]
    pub value: String,
    /// Who set it.
    #[serde(default)]
    pub creator: String,
    /// When, unix seconds.
    #[serde(default)]
    pub last_set: i64,
}

/// Parameters of one `conversations.list` page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationsListRequest {
    /// Comma-separated: `public_channel`, `private_channel`, `mpim`, `im`.
    pub types: String,
    /// Leave out archived channels.
    pub exclude_archived: bool,
    /// Page size (Slack: at most 1,000; may return fewer).
    pub limit: u32,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl Default for ConversationsListRequest {
    fn default() -> Self {
        Self {
            types: "public_channel".to_owned(),
            exclude_archived: false,
            limit: LIST_PAGE_LIMIT,
            cursor: None,
        }
    }
}

/// One page of `conversations.list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelsPage {
    /// The channels on this page.
    pub channels: Vec<Channel>,
    /// Cursor of the next page; `None` on the last page (empty, null or missing).
    pub next_cursor: Option<String>,
}

/// Response of `auth.test`: who the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthTest {
    /// Workspace URL, e.g. `https://acme.slack.com/`.
    #[serde(default)]
    pub url: String,
    /// Workspace name.
    #[serde(default)]
    pub team: String,
    /// User name of the token's user (the bot user for bot tokens).
    #[serde(default)]
    pub user: String,
    /// `T…`.
    pub team_id: String,
    /// `U…`/`W…`.
    pub user_id: String,
    /// `B…` for bot tokens.
    #[serde(default)]
    pub bot_id: Option<String>,
    /// The app, when Slack says.
    #[serde(default)]
    pub app_id: Option<String>,
    /// Enterprise Grid organization.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// Org-wide install.
    #[serde(default)]
    pub is_enterprise_install: bool,
}

/// The `team` object of `team.info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamInfo {
    /// `T…`.
    pub id: String,
    /// Workspace name.
    #[serde(default)]
    pub name: String,
    /// Subdomain: `{domain}.slack.com`.
    #[serde(default)]
    pub domain: String,
    /// Email domain(s) for sign-up.
    #[serde(default)]
    pub email_domain: String,
    /// Icon URLs (`image_34`, …).
    #[serde(default)]
    pub icon: Option<Value>,
    /// Enterprise Grid organization.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// Enterprise Grid organization name.
    #[serde(default)]
    pub enterprise_name: Option<String>,
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
                    awc::error::PayloadError::Overflow => SlackError::Decode {
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
        return Err(SlackError::Decode {
            method,
            detail: "body is not a JSON object".to_owned(),
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
        (None, None) => Err(SlackError::Decode {
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

fn de_secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::from)
}

fn de_opt_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Option::<String>::deserialize(d).map(|s| s.map(SecretString::from))
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
        let e = interpret(M, 200, None, b"<html>").unwrap_err();
        assert_eq!(
            (e.code(), e.class()),
            ("invalid_response", ErrorClass::Other)
        );
        let e = interpret(M, 200, None, b"[1]").unwrap_err();
        assert_eq!(e.code(), "invalid_response");
        let e = interpret(M, 200, None, br#"{"channel":"C1"}"#).unwrap_err();
        assert_eq!(e.code(), "invalid_response");
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
    fn debug_of_oauth_answer_hides_the_token() {
        let v: OAuthV2Access = serde_json::from_str(
            r#"{"ok":true,"app_id":"A1","scope":"chat:write","token_type":"bot","access_token":"xoxb-1-2-abc","bot_user_id":"U1","team":{"id":"T1","name":"n"},"enterprise":null,"is_enterprise_install":false,"authed_user":{"id":"U2","access_token":"xoxp-9"}}"#,
        )
        .unwrap();
        let dbg = format!("{v:?}");
        assert!(
            !dbg.contains("xoxb-1-2-abc") && !dbg.contains("xoxp-9"),
            "{dbg}"
        );
        assert_eq!(v.access_token.expose_secret(), "xoxb-1-2-abc");
        assert_eq!(v.scopes().collect::<Vec<_>>(), ["chat:write"]);
    }

    #[test]
    fn api_is_send_sync_and_trims_the_base_url() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<SlackApi>();
        let api = SlackApi::new("http://fake/api/", Duration::from_secs(1));
        assert_eq!(api.base_url(), "http://fake/api");
    }
}

//! The fake workspace: channels, messages, tokens, OAuth codes, rate limits, injected
//! failures and the call log, plus the rules of each Web API method.
//!
//! Everything here is synchronous and takes the current time as a parameter, so the rules
//! (code expiry, token buckets, paging) are unit-testable without a server or a clock.
//! The HTTP layer ([`super::web_api`]) parses requests into [`Params`] and turns a
//! [`Reply`] into a response.
//!
//! This module deliberately shares nothing with the product's `xtc_slack::slack`: the client is tested
//! against the fake, so the two must not agree by construction.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::{distributions::Alphanumeric, Rng};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{
    blocks::check_message,
    files::FakeFile,
    interactivity::{Click, FakeView, ResponseGrant, ResponseRecord, Trigger},
    FakeSlackConfig,
};

mod conversations;
mod limits;
mod messages;
mod tokens;
mod wire;

#[cfg(test)]
use conversations::{decode_cursor, encode_cursor};
use limits::Bucket;
pub(crate) use wire::{Answer, Params, Reply};

/// Slack's hard limit for a message's `text`; longer text is truncated with a warning.
const TEXT_LIMIT: usize = 40_000;
/// `conversations.list` page size when the caller gives none, and the maximum.
const DEFAULT_LIST_LIMIT: usize = 100;
const MAX_LIST_LIMIT: usize = 1000;
/// Keep the call log bounded for long-running demos.
const MAX_CALL_LOG: usize = 10_000;

/// A channel of the fake workspace and its messages.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FakeChannel {
    pub id: String,
    pub name: String,
    pub is_private: bool,
    pub is_archived: bool,
    /// Whether the app's bot user is a member.
    pub is_member: bool,
    pub created: i64,
    pub previous_names: Vec<String>,
    #[serde(skip)]
    pub messages: Vec<Message>,
}

/// A message as the fake stores it, with its edit history.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Message {
    pub ts: String,
    pub text: String,
    pub blocks: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Value>>,
    pub thread_ts: Option<String>,
    pub reply_broadcast: bool,
    pub app_id: String,
    pub bot_id: String,
    pub user: String,
    pub received_at: DateTime<Utc>,
    /// Earlier versions, oldest first.
    pub edits: Vec<Edit>,
    /// IDs of the files this message shares (`files.completeUploadExternal`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// One earlier version of an edited message.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Edit {
    pub text: String,
    pub blocks: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Value>>,
    /// When this version was replaced.
    pub replaced_at: DateTime<Utc>,
}

/// What the fake knows about an access token.
#[derive(Debug, Clone)]
pub(crate) struct TokenInfo {
    pub scopes: Vec<String>,
    pub app_id: String,
    pub team_id: String,
    pub user_id: String,
    pub is_bot: bool,
    /// `Some(code)` once revoked: the error every call with it gets.
    pub revoked: Option<String>,
    /// With token rotation: when it stops working (`token_expired`).
    pub expires_at: Option<Instant>,
}

impl TokenInfo {
    pub(crate) fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `missing_scope` (with `needed` and `provided`, as Slack says it) unless the token
    /// has `scope`.
    pub(crate) fn require(&self, scope: &str) -> Result<(), Reply> {
        if self.has(scope) {
            return Ok(());
        }
        Err(Reply::error("missing_scope")
            .with("needed", json!(scope))
            .with("provided", json!(self.scopes.join(","))))
    }
}

/// An OAuth authorization code waiting to be exchanged.
#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    pub client_id: String,
    /// The `redirect_uri` sent to the authorize page, if one was.
    pub redirect_uri: Option<String>,
    /// Where the browser was sent (explicit or the app's configured URL).
    pub effective_redirect: String,
    pub scopes: Vec<String>,
    pub user_scopes: Vec<String>,
    pub issued: Instant,
    pub used: bool,
}

/// An injected failure for the next `count` calls of a method.
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
pub(crate) struct Failure {
    pub method: String,
    #[serde(default = "one")]
    pub count: u32,
    pub error: Option<String>,
    pub http_status: Option<u16>,
    pub delay_ms: Option<u64>,
    pub retry_after: Option<u64>,
    /// Answer with this body instead of Slack's JSON, as a proxy or load balancer in front
    /// of Slack may (an HTML page, an empty or truncated body), with `http_status` (200 by
    /// default).
    pub body: Option<String>,
    /// Cut the connection while the answer is read (after the first bytes of `body`, or of
    /// a JSON reply).
    #[serde(default)]
    pub cut: bool,
}

fn one() -> u32 {
    1
}

/// One entry of the call log (never the token).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CallRecord {
    pub method: String,
    pub channel: Option<String>,
    pub ok: bool,
    pub error: Option<String>,
    pub http_status: u16,
    pub at: DateTime<Utc>,
}

/// The whole mutable state of the fake.
#[derive(Debug)]
pub(crate) struct World {
    pub config: FakeSlackConfig,
    pub channels: Vec<FakeChannel>,
    pub tokens: HashMap<String, TokenInfo>,
    /// Token rotation: refresh token → the scopes it renews; removed once used (Slack
    /// retires a refresh token when it hands out the next).
    pub refresh_tokens: HashMap<String, Vec<String>>,
    pub codes: HashMap<String, CodeGrant>,
    pub calls: Vec<CallRecord>,
    pub failures: HashMap<String, Failure>,
    pub rate_per_sec: f64,
    pub rate_burst: u32,
    buckets: HashMap<String, Bucket>,
    /// Per-workspace method tiers: method → (calls per minute, burst).
    pub method_limits: HashMap<String, (u32, u32)>,
    /// Token buckets of the method tiers, per (team, method).
    method_buckets: HashMap<(String, String), Bucket>,
    last_ts_micros: i64,
    /// Button clicks sent to the app's interactivity URL, oldest first.
    pub clicks: Vec<Click>,
    /// The `response_url`s handed out with clicks, by their ID.
    pub response_urls: HashMap<String, ResponseGrant>,
    /// What the app sent to `response_url`s, oldest first.
    pub responses: Vec<ResponseRecord>,
    /// Events API envelopes sent to the app, by `event_id` (Slack retries an event with the
    /// same body, `event_id` and `event_time`), at most [`MAX_SENT_EVENTS`].
    pub sent_events: Vec<(String, Vec<u8>)>,
    /// Files of the upload flow, oldest first: announced, uploaded, shared.
    pub files: Vec<FakeFile>,
    /// How long an upload URL works after it was handed out.
    pub upload_url_ttl: Duration,
    /// The `trigger_id`s of recent clicks, each good for one `views.open` within 3 s.
    pub triggers: HashMap<String, Trigger>,
    /// Views opened with `views.open`, oldest first.
    pub views: Vec<FakeView>,
}

/// How many sent events the fake keeps for retries.
pub(crate) const MAX_SENT_EVENTS: usize = 1_000;

impl World {
    /// A fresh workspace as configured.
    pub fn new(config: FakeSlackConfig) -> World {
        let channels = config
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| FakeChannel {
                id: c.id.clone(),
                name: c.name.clone(),
                is_private: c.is_private,
                is_archived: c.is_archived,
                is_member: c.is_member,
                // Distinct, plausible creation times (2023-11 onwards, one day apart).
                created: 1_700_000_000 + 86_400 * i64::try_from(i).unwrap_or(0),
                previous_names: Vec::new(),
                messages: Vec::new(),
            })
            .chain((1..=config.generated_channels).map(|n| FakeChannel {
                id: format!("C0GEN{n:06}"),
                name: format!("channel-{n:05}"),
                is_private: false,
                is_archived: false,
                is_member: false,
                created: 1_600_000_000 + i64::try_from(n).unwrap_or(0),
                previous_names: Vec::new(),
                messages: Vec::new(),
            }))
            .collect();
        World {
            upload_url_ttl: config.upload_url_ttl,
            rate_per_sec: config.rate_limit_per_sec,
            rate_burst: config.rate_limit_burst,
            method_limits: config.method_limits.clone(),
            config,
            channels,
            tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            codes: HashMap::new(),
            calls: Vec::new(),
            failures: HashMap::new(),
            buckets: HashMap::new(),
            method_buckets: HashMap::new(),
            last_ts_micros: 0,
            clicks: Vec::new(),
            response_urls: HashMap::new(),
            responses: Vec::new(),
            sent_events: Vec::new(),
            files: Vec::new(),
            triggers: HashMap::new(),
            views: Vec::new(),
        }
    }

    /// Back to the configured start state.
    pub fn reset(&mut self) {
        *self = World::new(self.config.clone());
    }

    /// Remembers an envelope the fake sends, for later retries of it.
    pub fn remember_event(&mut self, body: &[u8]) {
        let event_id = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["event_id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        if self.sent_events.len() >= MAX_SENT_EVENTS {
            self.sent_events.remove(0);
        }
        self.sent_events.push((event_id, body.to_vec()));
    }

    /// The envelope sent with this `event_id`, byte for byte.
    pub fn sent_event(&self, event_id: &str) -> Option<Vec<u8>> {
        self.sent_events
            .iter()
            .rev()
            .find(|(id, _)| id == event_id)
            .map(|(_, body)| body.clone())
    }

    /// Appends to the call log.
    pub fn record_call(&mut self, record: CallRecord) {
        if self.calls.len() >= MAX_CALL_LOG {
            self.calls.remove(0);
        }
        self.calls.push(record);
    }

    /// Takes one injected failure for `method` (exact name, or `*` for any method).
    pub fn take_failure(&mut self, method: &str) -> Option<Failure> {
        for key in [method, "*"] {
            if let Some(f) = self.failures.get_mut(key) {
                if f.count > 0 {
                    f.count -= 1;
                    let taken = f.clone();
                    if f.count == 0 {
                        self.failures.remove(key);
                    }
                    return Some(taken);
                }
            }
        }
        None
    }

    /// Deletes a message as a user would in Slack: replies to it then fail
    /// `thread_not_found`, edits `message_not_found`. `false` when there is no such message.
    pub fn delete_message(&mut self, channel: &str, ts: &str) -> Option<bool> {
        let ci = self.find_channel_any(channel)?;
        let messages = &mut self.channels[ci].messages;
        let before = messages.len();
        messages.retain(|m| m.ts != ts);
        Some(messages.len() < before)
    }

    /// A new message `ts`: `^\d{10}\.\d{6}$`, strictly increasing, close to wall time.
    pub(crate) fn next_ts(&mut self, wall: DateTime<Utc>) -> String {
        let micros = wall.timestamp_micros().max(self.last_ts_micros + 1);
        self.last_ts_micros = micros;
        format!("{:010}.{:06}", micros / 1_000_000, micros % 1_000_000)
    }

    pub(crate) fn authed(&self, params: &Params) -> Result<TokenInfo, Reply> {
        let token = params
            .token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Reply::error("not_authed"))?;
        let info = self
            .tokens
            .get(token)
            .ok_or_else(|| Reply::error("invalid_auth"))?;
        match &info.revoked {
            Some(code) => Err(Reply::error(code)),
            None if info.expires_at.is_some_and(|at| Instant::now() >= at) => {
                Err(Reply::error("token_expired"))
            }
            None => Ok(info.clone()),
        }
    }

    /// Index of a channel by ID, or by name (`#name` or `name`) when `by_name`.
    fn find_channel(&self, key: &str, by_name: bool) -> Option<usize> {
        let key = key.trim();
        if let Some(i) = self.channels.iter().position(|c| c.id == key) {
            return Some(i);
        }
        if !by_name {
            return None;
        }
        let name = key.strip_prefix('#').unwrap_or(key).to_lowercase();
        self.channels.iter().position(|c| c.name == name)
    }

    /// Index of a channel by ID or name, as the control API accepts it.
    pub fn find_channel_any(&self, key: &str) -> Option<usize> {
        self.find_channel(key, true)
    }

    /// A channel the token may see: private channels exist only for members.
    pub(crate) fn visible_channel(
        &self,
        key: Option<String>,
        by_name: bool,
    ) -> Result<usize, Reply> {
        let key = key.unwrap_or_default();
        let i = self
            .find_channel(&key, by_name)
            .ok_or_else(|| Reply::error("channel_not_found"))?;
        let c = &self.channels[i];
        if c.is_private && !c.is_member {
            return Err(Reply::error("channel_not_found"));
        }
        Ok(i)
    }

    /// Runs one Web API method. The caller has already handled injected failures.
    pub fn call(
        &mut self,
        method: &str,
        params: &Params,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Reply {
        if let Err(wait) = self.take_method_token(method, params, now) {
            return Reply::ratelimited(wait);
        }
        let answer = match method {
            "oauth.v2.access" => self.oauth_v2_access(params, now),
            "chat.postMessage" => self.post_message(params, now, wall),
            "chat.update" => self.update_message(params, wall),
            "conversations.info" => self.conversations_info(params),
            "conversations.list" => self.conversations_list(params),
            "conversations.join" => self.conversations_join(params),
            "auth.test" => self.auth_test(params),
            "auth.revoke" => self.auth_revoke(params),
            "team.info" => self.team_info(params),
            "apps.uninstall" => self.apps_uninstall(params),
            "files.getUploadURLExternal" => self.get_upload_url(params, now, wall),
            "files.completeUploadExternal" => self.complete_upload(params, wall),
            "views.open" => self.views_open(params, now, wall),
            "api.test" => Ok(Reply::ok(json!({"args": params.map}))),
            _ => Err(Reply::error("unknown_method")),
        };
        let mut reply = answer.unwrap_or_else(|e| e);
        if reply.status == 200 {
            reply.add_warnings(&params.warnings, &[]);
        }
        reply
    }

    /// The thread a new message of channel `ci` joins: `thread_ts`, which must name a
    /// message there; `None` without one.
    pub(crate) fn thread_of(&self, ci: usize, params: &Params) -> Result<Option<String>, Reply> {
        let Some(ts) = params.str("thread_ts").filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let parent = self.channels[ci]
            .messages
            .iter()
            .find(|m| m.ts == ts)
            // Fake's choice: Slack's behaviour for an unknown parent is not
            // documented; refusing makes a wrong `ts` visible in tests.
            .ok_or_else(|| Reply::error("thread_not_found"))?;
        // A reply to a reply joins the parent's thread, as in Slack.
        Ok(Some(parent.thread_ts.clone().unwrap_or(ts)))
    }

    /// A stored message in the shape Slack's API returns it.
    pub(crate) fn message_json(&self, m: &Message) -> Value {
        let mut v = json!({
            "type": "message",
            "subtype": "bot_message",
            "text": m.text,
            "ts": m.ts,
            "user": m.user,
            "bot_id": m.bot_id,
            "app_id": m.app_id,
            "team": self.config.team_id,
            "bot_profile": {
                "id": m.bot_id, "app_id": m.app_id, "name": self.config.app_name,
                "team_id": self.config.team_id, "deleted": false,
            },
        });
        if let Value::Object(o) = &mut v {
            if let Some(blocks) = &m.blocks {
                o.insert("blocks".into(), json!(blocks));
            }
            if let Some(attachments) = &m.attachments {
                o.insert("attachments".into(), json!(attachments));
            }
            if let Some(t) = &m.thread_ts {
                o.insert("thread_ts".into(), json!(t));
            }
        }
        v
    }
}

/// `n` random ASCII digits, for Slack-looking token parts.
pub(crate) fn random_digits(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// `n` random ASCII letters and digits.
pub(crate) fn random_alnum(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// A new channel ID: `C` + 10 uppercase letters/digits, like Slack's.
pub(crate) fn new_channel_id() -> String {
    format!("C{}", random_alnum(10).to_uppercase())
}

#[cfg(test)]
mod tests;

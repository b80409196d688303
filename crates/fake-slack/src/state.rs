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

/// Slack's hard limit for a message's `text`; longer text is truncated with a warning.
const TEXT_LIMIT: usize = 40_000;
/// `conversations.list` page size when the caller gives none, and the maximum.
const DEFAULT_LIST_LIMIT: usize = 100;
const MAX_LIST_LIMIT: usize = 1000;
/// Keep the call log bounded for long-running demos.
const MAX_CALL_LOG: usize = 10_000;

/// A Web API answer: HTTP status, JSON object (or a raw non-JSON body), `Retry-After`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Map<String, Value>,
    pub retry_after: Option<u64>,
    /// A non-JSON body (only for injected failures that imitate a broken proxy).
    pub raw: Option<String>,
    /// Cut the connection after the first bytes of the answer (injected failures only).
    pub cut: bool,
}

impl Reply {
    /// `{"ok":true, ...fields}` with HTTP 200.
    pub fn ok(fields: Value) -> Reply {
        let mut body = match fields {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        body.insert("ok".into(), Value::Bool(true));
        Reply {
            status: 200,
            body,
            retry_after: None,
            raw: None,
            cut: false,
        }
    }

    /// `{"ok":false,"error":code}` with HTTP 200, as Slack answers API-level failures.
    pub fn error(code: &str) -> Reply {
        let mut body = Map::new();
        body.insert("ok".into(), Value::Bool(false));
        body.insert("error".into(), Value::String(code.to_owned()));
        Reply {
            status: 200,
            body,
            retry_after: None,
            raw: None,
            cut: false,
        }
    }

    /// HTTP 429 `ratelimited` with `Retry-After`.
    pub fn ratelimited(retry_after: u64) -> Reply {
        Reply {
            status: 429,
            retry_after: Some(retry_after),
            ..Reply::error("ratelimited")
        }
    }

    /// Adds a field to the answer.
    pub(crate) fn with(mut self, key: &str, value: Value) -> Reply {
        self.body.insert(key.to_owned(), value);
        self
    }

    pub(crate) fn missing_scope(needed: &str, token: &TokenInfo) -> Reply {
        Reply::error("missing_scope")
            .with("needed", json!(needed))
            .with("provided", json!(token.scopes.join(",")))
    }

    /// The error code, if this is an error.
    pub fn error_code(&self) -> Option<&str> {
        self.body.get("error").and_then(Value::as_str)
    }

    /// Adds Slack's warning fields (`warning` comma-joined, `response_metadata.warnings`).
    pub fn add_warnings(&mut self, warnings: &[String], messages: &[String]) {
        if warnings.is_empty() && messages.is_empty() {
            return;
        }
        if !warnings.is_empty() {
            self.body
                .insert("warning".into(), json!(warnings.join(",")));
        }
        let meta = self
            .body
            .entry("response_metadata")
            .or_insert_with(|| json!({}));
        if let Value::Object(meta) = meta {
            if !warnings.is_empty() {
                meta.insert("warnings".into(), json!(warnings));
            }
            if !messages.is_empty() {
                meta.insert("messages".into(), json!(messages));
            }
        }
    }
}

/// A method's outcome: its answer, or the refusal it stopped at.
pub(crate) type Answer = Result<Reply, Reply>;

/// The parsed parameters of one Web API request (query, form or JSON body, merged).
#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    pub map: Map<String, Value>,
    /// From `Authorization: Bearer`, or the `token` query/form parameter.
    pub token: Option<String>,
    /// From `Authorization: Basic`.
    pub basic: Option<(String, String)>,
    /// Request-level warnings (`missing_charset`, `superfluous_charset`).
    pub warnings: Vec<String>,
    /// Where the request arrived (`http://host:port`), for URLs an answer hands out.
    pub base_url: String,
}

impl Params {
    /// A parameter as text (numbers and booleans as Slack's form encoding would send them).
    pub fn str(&self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn bool(&self, key: &str) -> bool {
        match self.map.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "true" | "1"),
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        }
    }

    /// `blocks` as an array: JSON bodies carry an array, form bodies a JSON string.
    fn blocks(&self) -> Result<Option<Vec<Value>>, Reply> {
        self.array("blocks", "invalid_blocks_format")
    }

    /// `attachments` as an array (like `blocks`).
    fn attachments(&self) -> Result<Option<Vec<Value>>, Reply> {
        self.array("attachments", "invalid_attachments")
    }

    pub(crate) fn array(&self, key: &str, invalid: &str) -> Result<Option<Vec<Value>>, Reply> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a.clone())),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(a)) => Ok(Some(a)),
                _ => Err(Reply::error(invalid)),
            },
            Some(_) => Err(Reply::error(invalid)),
        }
    }
}

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

/// Token bucket of one channel.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
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

    /// Changes the per-channel posting limit; 0 disables it.
    pub fn set_rate_limit(&mut self, per_sec: f64, burst: u32) {
        self.rate_per_sec = per_sec.max(0.0);
        self.rate_burst = burst.max(1);
        self.buckets.clear();
    }

    /// Sets a method's per-workspace limit (calls per minute, burst); 0 per minute removes it.
    pub fn set_method_limit(&mut self, method: &str, per_minute: u32, burst: u32) {
        if per_minute == 0 {
            self.method_limits.remove(method);
        } else {
            self.method_limits
                .insert(method.to_owned(), (per_minute, burst.max(1)));
        }
        self.method_buckets.retain(|(_, m), _| m != method);
    }

    /// The method's per-workspace tier: `Err(seconds to wait)` beyond it.
    fn take_method_token(
        &mut self,
        method: &str,
        params: &Params,
        now: Instant,
    ) -> Result<(), u64> {
        let Some(&(per_minute, burst)) = self.method_limits.get(method) else {
            return Ok(());
        };
        let team = params
            .token
            .as_deref()
            .and_then(|t| self.tokens.get(t))
            .map_or_else(|| self.config.team_id.clone(), |t| t.team_id.clone());
        let rate = f64::from(per_minute) / 60.0;
        let burst = f64::from(burst.max(1));
        let bucket = self
            .method_buckets
            .entry((team, method.to_owned()))
            .or_insert(Bucket {
                tokens: burst,
                last: now,
            });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - bucket.tokens) / rate).ceil();
        Err(if wait.is_finite() && wait >= 1.0 {
            wait.min(3600.0) as u64
        } else {
            1
        })
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

    /// Token bucket per channel: `Err(seconds to wait)` when empty.
    fn take_rate_token(&mut self, channel_id: &str, now: Instant) -> Result<(), u64> {
        if self.rate_per_sec <= 0.0 {
            return Ok(());
        }
        let burst = f64::from(self.rate_burst.max(1));
        let bucket = self.buckets.entry(channel_id.to_owned()).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate_per_sec).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / self.rate_per_sec).ceil();
            // Clamp into u64 range; Slack sends whole seconds, at least one.
            Err(if wait.is_finite() && wait >= 1.0 {
                wait.min(3600.0) as u64
            } else {
                1
            })
        }
    }

    /// Mints a bot token with these scopes for the configured team.
    pub fn mint_bot_token(&mut self, scopes: Vec<String>, app_id: Option<String>) -> String {
        let token = format!(
            "xoxb-{}-{}-{}",
            random_digits(11),
            random_digits(13),
            random_alnum(24)
        );
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                scopes,
                app_id: app_id.unwrap_or_else(|| self.config.app_id.clone()),
                team_id: self.config.team_id.clone(),
                user_id: self.config.bot_user_id.clone(),
                is_bot: true,
                revoked: None,
                expires_at: None,
            },
        );
        token
    }

    /// With token rotation on: an expiring bot token (`xoxe.xoxb-…`) and its refresh
    /// token, and the lifetime in seconds (`expires_in`).
    fn mint_rotating_pair(
        &mut self,
        scopes: Vec<String>,
        lifetime: std::time::Duration,
    ) -> (String, String, u64) {
        let bot = self.mint_bot_token(scopes.clone(), None);
        let rotating = format!("xoxe.{bot}");
        if let Some(mut info) = self.tokens.remove(&bot) {
            info.expires_at = Some(Instant::now() + lifetime);
            self.tokens.insert(rotating.clone(), info);
        }
        let refresh = format!("xoxe-1-{}", random_alnum(40));
        self.refresh_tokens.insert(refresh.clone(), scopes);
        (rotating, refresh, lifetime.as_secs())
    }

    fn mint_user_token(&mut self, scopes: Vec<String>) -> String {
        let token = format!(
            "xoxp-{}-{}-{}-{}",
            random_digits(11),
            random_digits(11),
            random_digits(13),
            random_alnum(32).to_lowercase()
        );
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                scopes,
                app_id: self.config.app_id.clone(),
                team_id: self.config.team_id.clone(),
                user_id: self.config.installer_user_id.clone(),
                is_bot: false,
                revoked: None,
                expires_at: None,
            },
        );
        token
    }

    /// Revokes every token of the team; returns how many were live.
    pub fn revoke_all(&mut self, code: &str, bots_only: bool) -> usize {
        let team = self.config.team_id.clone();
        let mut n = 0;
        for t in self.tokens.values_mut() {
            if t.team_id == team && t.revoked.is_none() && (t.is_bot || !bots_only) {
                t.revoked = Some(code.to_owned());
                n += 1;
            }
        }
        n
    }

    /// Bot tokens of the team that still work.
    pub fn live_bot_tokens(&self) -> usize {
        self.tokens
            .values()
            .filter(|t| t.is_bot && t.revoked.is_none() && t.team_id == self.config.team_id)
            .count()
    }

    /// Issues an OAuth code after the user approved.
    pub fn issue_code(&mut self, grant: CodeGrant) -> String {
        let code = format!(
            "{}.{}.{}",
            random_digits(12),
            random_digits(13),
            random_alnum(40).to_lowercase()
        );
        self.codes.insert(code.clone(), grant);
        code
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

    fn client_credentials(&self, params: &Params) -> Result<(), Reply> {
        let (id, secret) = match &params.basic {
            Some((id, secret)) => (Some(id.clone()), Some(secret.clone())),
            None => (params.str("client_id"), params.str("client_secret")),
        };
        if id.as_deref() != Some(self.config.client_id.as_str()) {
            return Err(Reply::error("invalid_client_id"));
        }
        if secret.as_deref() != Some(self.config.client_secret.as_str()) {
            return Err(Reply::error("bad_client_secret"));
        }
        Ok(())
    }

    fn oauth_v2_access(&mut self, params: &Params, now: Instant) -> Answer {
        self.client_credentials(params)?;
        match params.str("grant_type").as_deref() {
            None | Some("") | Some("authorization_code") => {}
            Some("refresh_token") => return self.refresh(params),
            Some(_) => return Err(Reply::error("invalid_grant_type")),
        }
        let code = params.str("code").unwrap_or_default();
        let ttl = self.config.code_ttl;
        let grant = self
            .codes
            .get(&code)
            .filter(|g| {
                !g.used
                    && g.client_id == self.config.client_id
                    && now.saturating_duration_since(g.issued) <= ttl
            })
            .cloned()
            .ok_or_else(|| Reply::error("invalid_code"))?;
        let given = params.str("redirect_uri").filter(|r| !r.is_empty());
        let redirect_ok = match (&grant.redirect_uri, &given) {
            // Sent to authorize: the exchange must repeat it exactly.
            (Some(sent), given) => given.as_deref() == Some(sent.as_str()),
            // Not sent: if given now, it must be where the browser went.
            (None, Some(given)) => *given == grant.effective_redirect,
            (None, None) => true,
        };
        if !redirect_ok {
            return Err(Reply::error("bad_redirect_uri"));
        }
        if let Some(g) = self.codes.get_mut(&code) {
            g.used = true;
        }
        let (access_token, rotation) = match self.config.token_lifetime {
            Some(lifetime) => {
                let (access, refresh, expires_in) =
                    self.mint_rotating_pair(grant.scopes.clone(), lifetime);
                (access, Some((refresh, expires_in)))
            }
            None => (self.mint_bot_token(grant.scopes.clone(), None), None),
        };
        let mut authed_user = json!({"id": self.config.installer_user_id});
        if !grant.user_scopes.is_empty() {
            let user_token = self.mint_user_token(grant.user_scopes.clone());
            authed_user = json!({
                "id": self.config.installer_user_id,
                "scope": grant.user_scopes.join(","),
                "access_token": user_token,
                "token_type": "user",
            });
        }
        let mut body = json!({
            "app_id": self.config.app_id,
            "authed_user": authed_user,
            "scope": grant.scopes.join(","),
            "token_type": "bot",
            "access_token": access_token,
            "bot_user_id": self.config.bot_user_id,
            "team": {"id": self.config.team_id, "name": self.config.team_name},
            "enterprise": null,
            "is_enterprise_install": false,
        });
        if let Some((refresh, expires_in)) = rotation {
            body["refresh_token"] = json!(refresh);
            body["expires_in"] = json!(expires_in);
        }
        Ok(Reply::ok(body))
    }

    /// `oauth.v2.access` with `grant_type=refresh_token`: a new token pair; the refresh
    /// token used is retired (a second use is `invalid_refresh_token`).
    fn refresh(&mut self, params: &Params) -> Answer {
        let Some(lifetime) = self.config.token_lifetime else {
            return Err(Reply::error("invalid_refresh_token"));
        };
        let given = params.str("refresh_token").unwrap_or_default();
        let scopes = self
            .refresh_tokens
            .remove(&given)
            .ok_or_else(|| Reply::error("invalid_refresh_token"))?;
        let (access, refresh, expires_in) = self.mint_rotating_pair(scopes.clone(), lifetime);
        Ok(Reply::ok(json!({
            "app_id": self.config.app_id,
            "scope": scopes.join(","),
            "token_type": "bot",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": expires_in,
            "bot_user_id": self.config.bot_user_id,
            "team": {"id": self.config.team_id, "name": self.config.team_name},
            "enterprise": null,
            "is_enterprise_install": false,
        })))
    }

    fn post_message(&mut self, params: &Params, now: Instant, wall: DateTime<Utc>) -> Answer {
        let token = self.authed(params)?;
        if !token.has("chat:write") {
            return Err(Reply::missing_scope("chat:write", &token));
        }
        let ci = self.visible_channel(params.str("channel"), true)?;
        let channel = &self.channels[ci];
        if channel.is_archived {
            return Err(Reply::error("is_archived"));
        }
        if !channel.is_private && !channel.is_member && !token.has("chat:write.public") {
            return Err(Reply::error("not_in_channel"));
        }
        let channel_id = channel.id.clone();
        self.take_rate_token(&channel_id, now)
            .map_err(Reply::ratelimited)?;

        let blocks = params.blocks()?;
        let attachments = params.attachments()?;
        let mut text = params.str("text").unwrap_or_default();
        if text.trim().is_empty()
            && blocks.as_ref().is_none_or(Vec::is_empty)
            && attachments.as_ref().is_none_or(Vec::is_empty)
        {
            return Err(Reply::error("no_text"));
        }
        check_message(blocks.as_deref(), attachments.as_deref())?;
        let mut warnings = Vec::new();
        let mut messages = Vec::new();
        if text.chars().count() > TEXT_LIMIT {
            text = text.chars().take(TEXT_LIMIT).collect();
            warnings.push("message_truncated".to_owned());
            messages.push(
                "[WARN] Your message was truncated but still posted. The `text` field accepts up to 40,000 characters."
                    .to_owned(),
            );
        }
        let thread_ts = self.thread_of(ci, params)?;
        let ts = self.next_ts(wall);
        let message = Message {
            ts: ts.clone(),
            text,
            blocks,
            attachments,
            reply_broadcast: thread_ts.is_some() && params.bool("reply_broadcast"),
            thread_ts,
            app_id: token.app_id.clone(),
            bot_id: self.config.bot_id.clone(),
            user: token.user_id.clone(),
            received_at: wall,
            edits: Vec::new(),
            files: Vec::new(),
        };
        let wire = self.message_json(&message);
        self.channels[ci].messages.push(message);
        let mut reply = Reply::ok(json!({"channel": channel_id, "ts": ts, "message": wire}));
        reply.add_warnings(&warnings, &messages);
        Ok(reply)
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

    fn update_message(&mut self, params: &Params, wall: DateTime<Utc>) -> Answer {
        let token = self.authed(params)?;
        if !token.has("chat:write") {
            return Err(Reply::missing_scope("chat:write", &token));
        }
        let ci = self.visible_channel(params.str("channel"), true)?;
        if self.channels[ci].is_archived {
            return Err(Reply::error("is_archived"));
        }
        let ts = params.str("ts").unwrap_or_default();
        let mi = self.channels[ci]
            .messages
            .iter()
            .position(|m| m.ts == ts)
            .ok_or_else(|| Reply::error("message_not_found"))?;
        if self.channels[ci].messages[mi].app_id != token.app_id
            || token.team_id != self.config.team_id
        {
            // A bot may only edit its own messages.
            return Err(Reply::error("cant_update_message"));
        }
        let blocks = params.blocks()?;
        let attachments = params.attachments()?;
        let text = params.str("text").unwrap_or_default();
        if text.trim().is_empty()
            && blocks.as_ref().is_none_or(Vec::is_empty)
            && attachments.as_ref().is_none_or(Vec::is_empty)
        {
            return Err(Reply::error("no_text"));
        }
        if text.chars().count() > TEXT_LIMIT {
            return Err(Reply::error("msg_too_long"));
        }
        check_message(blocks.as_deref(), attachments.as_deref())?;
        let channel_id = self.channels[ci].id.clone();
        let message = &mut self.channels[ci].messages[mi];
        message.edits.push(Edit {
            text: std::mem::replace(&mut message.text, text),
            blocks: message.blocks.clone(),
            attachments: message.attachments.clone(),
            replaced_at: wall,
        });
        // Like Slack, leaving `blocks` out keeps the old ones.
        if blocks.is_some() {
            message.blocks = blocks;
        }
        if attachments.is_some() {
            message.attachments = attachments;
        }
        let message = message.clone();
        let mut wire = self.message_json(&message);
        if let Value::Object(m) = &mut wire {
            m.insert(
                "edited".into(),
                json!({"user": message.user, "ts": format!("{:010}.000000", wall.timestamp())}),
            );
        }
        Ok(Reply::ok(json!({
            "channel": channel_id,
            "ts": message.ts,
            "text": message.text,
            "message": wire,
        })))
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

    /// A channel in Slack's `conversations.*` shape.
    pub fn channel_json(&self, c: &FakeChannel) -> Value {
        json!({
            "id": c.id,
            "name": c.name,
            "name_normalized": c.name,
            "is_channel": true,
            "is_group": false,
            "is_im": false,
            "is_mpim": false,
            "is_private": c.is_private,
            "is_archived": c.is_archived,
            "is_general": c.name == "general",
            "is_member": c.is_member,
            "is_shared": false,
            "is_ext_shared": false,
            "is_org_shared": false,
            "is_pending_ext_shared": false,
            "pending_shared": [],
            "is_read_only": false,
            "unlinked": 0,
            "created": c.created,
            "creator": self.config.installer_user_id,
            "num_members": if c.is_member { 2 } else { 1 },
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": c.previous_names,
        })
    }

    fn conversations_info(&mut self, params: &Params) -> Answer {
        let token = self.authed(params)?;
        // conversations.info takes IDs only; names are not found.
        let ci = self.visible_channel(params.str("channel"), false)?;
        let c = &self.channels[ci];
        let needed = if c.is_private {
            "groups:read"
        } else {
            "channels:read"
        };
        if !token.has(needed) {
            return Err(Reply::missing_scope(needed, &token));
        }
        Ok(Reply::ok(json!({"channel": self.channel_json(c)})))
    }

    fn conversations_list(&mut self, params: &Params) -> Answer {
        let token = self.authed(params)?;
        let types = params
            .str("types")
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| "public_channel".to_owned());
        let mut public = false;
        let mut private = false;
        for t in types.split(',').map(str::trim) {
            let needed = match t {
                "public_channel" => {
                    public = true;
                    "channels:read"
                }
                "private_channel" => {
                    private = true;
                    "groups:read"
                }
                // The fake workspace has no DMs, but the scope rules still apply.
                "im" => "im:read",
                "mpim" => "mpim:read",
                _ => return Err(Reply::error("invalid_types")),
            };
            if !token.has(needed) {
                return Err(Reply::missing_scope(needed, &token));
            }
        }
        let limit = match params.str("limit").filter(|l| !l.is_empty()) {
            None => DEFAULT_LIST_LIMIT,
            Some(l) => match l.parse::<usize>() {
                Ok(0) => DEFAULT_LIST_LIMIT,
                Ok(n) if n <= MAX_LIST_LIMIT => n,
                _ => return Err(Reply::error("invalid_limit")),
            },
        };
        let limit = match self.config.list_page_size {
            0 => limit,
            most => limit.min(most),
        };
        let exclude_archived = params.bool("exclude_archived");
        let matching: Vec<&FakeChannel> = self
            .channels
            .iter()
            .filter(|c| (public && !c.is_private) || (private && c.is_private && c.is_member))
            .filter(|c| !(exclude_archived && c.is_archived))
            .collect();
        let start = match params.str("cursor").filter(|c| !c.is_empty()) {
            None => 0,
            Some(cursor) => {
                let id = decode_cursor(&cursor).ok_or_else(|| Reply::error("invalid_cursor"))?;
                matching
                    .iter()
                    .position(|c| c.id == id)
                    .ok_or_else(|| Reply::error("invalid_cursor"))?
            }
        };
        let page: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(limit)
            .map(|c| self.channel_json(c))
            .collect();
        let next_cursor = matching
            .get(start + limit)
            .map(|c| encode_cursor(&c.id))
            .unwrap_or_default();
        Ok(Reply::ok(json!({
            "channels": page,
            "response_metadata": {"next_cursor": next_cursor},
        })))
    }

    fn conversations_join(&mut self, params: &Params) -> Answer {
        let token = self.authed(params)?;
        if !token.has("channels:join") {
            return Err(Reply::missing_scope("channels:join", &token));
        }
        let key = params.str("channel").unwrap_or_default();
        let ci = self
            .find_channel(&key, false)
            .ok_or_else(|| Reply::error("channel_not_found"))?;
        let c = &mut self.channels[ci];
        if c.is_private {
            return Err(Reply::error(if c.is_member {
                "method_not_supported_for_channel_type"
            } else {
                "channel_not_found"
            }));
        }
        if c.is_archived {
            return Err(Reply::error("is_archived"));
        }
        let already = std::mem::replace(&mut c.is_member, true);
        let mut reply = Reply::ok(json!({"channel": self.channel_json(&self.channels[ci])}));
        if already {
            reply.add_warnings(&["already_in_channel".to_owned()], &[]);
        }
        Ok(reply)
    }

    fn auth_test(&mut self, params: &Params) -> Answer {
        let token = self.authed(params)?;
        let mut reply = Reply::ok(json!({
            "url": format!("https://{}.slack.com/", self.config.team_domain()),
            "team": self.config.team_name,
            "user": if token.is_bot { self.config.app_name.clone() } else { "installer".to_owned() },
            "team_id": token.team_id,
            "user_id": token.user_id,
            "is_enterprise_install": false,
        }));
        if token.is_bot {
            reply = reply
                .with("bot_id", json!(self.config.bot_id))
                .with("app_id", json!(token.app_id));
        }
        Ok(reply)
    }

    fn auth_revoke(&mut self, params: &Params) -> Answer {
        self.authed(params)?;
        let test = params.bool("test");
        if !test {
            if let Some(t) = params.token.as_ref().and_then(|t| self.tokens.get_mut(t)) {
                t.revoked = Some("token_revoked".to_owned());
            }
        }
        Ok(Reply::ok(json!({"revoked": !test})))
    }

    fn team_info(&mut self, params: &Params) -> Answer {
        let token = self.authed(params)?;
        if !token.has("team:read") {
            return Err(Reply::missing_scope("team:read", &token));
        }
        if let Some(team) = params.str("team").filter(|t| !t.is_empty()) {
            if team != self.config.team_id {
                return Err(Reply::error("team_not_found"));
            }
        }
        let icon = "https://a.slack-edge.com/80588/img/avatars-teams/ava_0001-88.png";
        Ok(Reply::ok(json!({"team": {
            "id": self.config.team_id,
            "name": self.config.team_name,
            "domain": self.config.team_domain(),
            "email_domain": "",
            "icon": {
                "image_34": icon, "image_44": icon, "image_68": icon, "image_88": icon,
                "image_102": icon, "image_132": icon, "image_default": true,
            },
        }})))
    }

    fn apps_uninstall(&mut self, params: &Params) -> Answer {
        let token = self.authed(params)?;
        self.client_credentials(params)?;
        if token.app_id != self.config.app_id {
            return Err(Reply::error("client_id_token_mismatch"));
        }
        // Removing the installation kills every token of it; Slack then answers
        // `account_inactive` for the old bot token.
        self.revoke_all("account_inactive", false);
        Ok(Reply::ok(json!({})))
    }
}

fn encode_cursor(channel_id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("channel:{channel_id}"))
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor.trim())
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("channel:")
        .map(str::to_owned)
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
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn world() -> World {
        World::new(FakeSlackConfig::default())
    }

    fn params(token: &str, pairs: Value) -> Params {
        Params {
            map: pairs.as_object().cloned().unwrap_or_default(),
            token: Some(token.to_owned()),
            ..Params::default()
        }
    }

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn ts_is_slack_shaped_and_strictly_increasing() {
        let mut w = world();
        let wall = Utc::now();
        let a = w.next_ts(wall);
        let b = w.next_ts(wall);
        let c = w.next_ts(wall - chrono::Duration::seconds(5));
        for ts in [&a, &b, &c] {
            assert_eq!(ts.len(), 17, "{ts}");
            assert_eq!(&ts[10..11], ".");
            assert!(ts.chars().filter(|c| *c != '.').all(|c| c.is_ascii_digit()));
        }
        let n = |t: &str| t.replace('.', "").parse::<u64>().unwrap();
        assert!(n(&a) < n(&b) && n(&b) < n(&c));
    }

    #[test]
    fn token_bucket_allows_a_burst_then_refills() {
        let mut w = world();
        w.set_rate_limit(1.0, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(w.take_rate_token("C1", t0), Ok(()));
        }
        assert_eq!(w.take_rate_token("C1", t0), Err(1));
        // Another channel has its own bucket.
        assert_eq!(w.take_rate_token("C2", t0), Ok(()));
        assert_eq!(w.take_rate_token("C1", t0 + secs(1)), Ok(()));
        w.set_rate_limit(0.5, 1);
        assert_eq!(w.take_rate_token("C1", t0), Ok(()));
        assert_eq!(w.take_rate_token("C1", t0), Err(2));
        w.set_rate_limit(0.0, 1);
        for _ in 0..100 {
            assert_eq!(w.take_rate_token("C1", t0), Ok(()));
        }
    }

    #[test]
    fn codes_expire_after_ten_minutes_and_are_single_use() {
        let mut w = world();
        let t0 = Instant::now();
        let grant = CodeGrant {
            client_id: w.config.client_id.clone(),
            redirect_uri: Some("http://app/cb".into()),
            effective_redirect: "http://app/cb".into(),
            scopes: scopes(&["chat:write"]),
            user_scopes: vec![],
            issued: t0,
            used: false,
        };
        let creds = |code: &str, redirect: &str| Params {
            basic: Some(("fake-client-id".into(), "fake-client-secret".into())),
            map: json!({"code": code, "redirect_uri": redirect})
                .as_object()
                .cloned()
                .unwrap(),
            ..Params::default()
        };
        let code = w.issue_code(grant.clone());
        let late = w.call(
            "oauth.v2.access",
            &creds(&code, "http://app/cb"),
            t0 + secs(601),
            Utc::now(),
        );
        assert_eq!(late.error_code(), Some("invalid_code"));
        let wrong = w.call(
            "oauth.v2.access",
            &creds(&code, "http://app/other"),
            t0 + secs(1),
            Utc::now(),
        );
        assert_eq!(wrong.error_code(), Some("bad_redirect_uri"));
        let ok = w.call(
            "oauth.v2.access",
            &creds(&code, "http://app/cb"),
            t0 + secs(599),
            Utc::now(),
        );
        assert_eq!(ok.error_code(), None, "{ok:?}");
        assert_eq!(ok.body["scope"], "chat:write");
        let again = w.call(
            "oauth.v2.access",
            &creds(&code, "http://app/cb"),
            t0 + secs(2),
            Utc::now(),
        );
        assert_eq!(again.error_code(), Some("invalid_code"));
    }

    #[test]
    fn post_message_rules() {
        let mut w = world();
        w.set_rate_limit(0.0, 1);
        let now = Instant::now();
        let wall = Utc::now();
        let full = w.mint_bot_token(scopes(&["chat:write", "chat:write.public"]), None);
        let narrow = w.mint_bot_token(scopes(&["chat:write"]), None);
        let none = w.mint_bot_token(scopes(&[]), None);
        let mut post = |token: &str, body: Value| {
            w.call("chat.postMessage", &params(token, body), now, wall)
                .error_code()
                .map(str::to_owned)
        };
        assert_eq!(
            post(&full, json!({"channel": "#load-tests", "text": "x"})),
            None
        );
        assert_eq!(
            post(&full, json!({"channel": "secret-ops", "text": "x"})).as_deref(),
            Some("channel_not_found")
        );
        assert_eq!(
            post(&full, json!({"channel": "nope", "text": "x"})).as_deref(),
            Some("channel_not_found")
        );
        assert_eq!(
            post(&full, json!({"channel": "old-alerts", "text": "x"})).as_deref(),
            Some("is_archived")
        );
        assert_eq!(
            post(&narrow, json!({"channel": "perf", "text": "x"})).as_deref(),
            Some("not_in_channel")
        );
        assert_eq!(
            post(&narrow, json!({"channel": "general", "text": "x"})),
            None
        );
        assert_eq!(
            post(&none, json!({"channel": "general", "text": "x"})).as_deref(),
            Some("missing_scope")
        );
        assert_eq!(
            post(&full, json!({"channel": "general", "text": " "})).as_deref(),
            Some("no_text")
        );
        assert_eq!(
            post(&full, json!({"channel": "general", "blocks": "{"})).as_deref(),
            Some("invalid_blocks_format")
        );
        assert_eq!(
            post(
                &full,
                json!({"channel": "general", "text": "x", "thread_ts": "1.2"})
            )
            .as_deref(),
            Some("thread_not_found")
        );
        assert_eq!(
            post("xoxb-garbage", json!({"channel": "general", "text": "x"})).as_deref(),
            Some("invalid_auth")
        );
    }

    #[test]
    fn cursor_round_trips() {
        assert_eq!(
            decode_cursor(&encode_cursor("C0AB")).as_deref(),
            Some("C0AB")
        );
        assert_eq!(decode_cursor("!!"), None);
    }
}

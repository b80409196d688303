//! The fake's control API under `/_fake/api/` for tests and demos: inspect messages and
//! calls, change channels, mint and revoke tokens, inject failures, change rate limits,
//! send lifecycle events, click buttons and read the answers to their `response_url`s
//! (handled in [`super::interactivity`]), reset.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    events,
    state::{new_channel_id, Failure, FakeChannel, World},
    Shared,
};

/// One endpoint of the control API, as the index, `fake-slack --help` and the README list it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    /// One line: what it does.
    pub description: &'static str,
    /// Query parameters or JSON body fields, `""` when none.
    pub input: &'static str,
}

/// Every endpoint under `/_fake/api/` (a test checks the routes against this list).
pub(crate) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "GET",
        path: "/_fake/api/",
        description: "this list of the control endpoints",
        input: "",
    },
    Endpoint {
        method: "GET",
        path: "/_fake/api/messages",
        description: "every message posted (with edits, thread_ts and who it pinged), oldest first per channel",
        input: "?channel=ID_OR_NAME",
    },
    Endpoint {
        method: "GET",
        path: "/_fake/api/calls",
        description:
            "the Web API call log (method, channel, ok, error, HTTP status; never a token)",
        input: "?method=chat.postMessage",
    },
    Endpoint {
        method: "GET",
        path: "/_fake/api/channels",
        description: "the workspace's channels with their flags and message counts",
        input: "",
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/channels",
        description: "create, rename, archive, make private, join or delete a channel",
        input: r#"{"id"|"name", "rename", "is_private", "is_archived", "is_member", "delete"}"#,
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/tokens",
        description: "mint a bot token without the OAuth pages",
        input: r#"{"scopes": ["chat:write", ...], "app_id"}"#,
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/tokens/revoke",
        description: "revoke one token or all (they then answer token_revoked or `error`)",
        input: r#"{"token" | "all": true, "error": "account_inactive"}"#,
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/fail",
        description: "make the next `count` calls of a Web API method (`upload`: the file upload URLs; `*`: any) fail",
        input: r#"{"method", "count", "error", "http_status", "delay_ms", "retry_after", "body": "<html>…", "cut": true}"#,
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/rate-limit",
        description: "set the per-channel chat.postMessage rate limit (per_sec 0: none)",
        input: r#"{"per_sec", "burst"}"#,
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/method-limits",
        description: "set a Web API method's per-workspace tier, e.g. chat.update (per_minute 0: none); beyond it 429 with Retry-After",
        input: r#"{"method": "chat.update", "per_minute", "burst"}"#,
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/messages/delete",
        description: "delete a message as a user would: replies to it then fail thread_not_found, edits message_not_found",
        input: r#"{"channel": "ID_OR_NAME", "ts"}"#,
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/events",
        description: "send a signed Events API event to the app and report its answer",
        input: r#"{"type": "app_uninstalled"|"tokens_revoked"|"channel_created"|"channel_rename"|"channel_archive"|"channel_unarchive"|"channel_deleted", "channel", "name", "url", "revoke"}"#,
    },
    Endpoint {
        method: "GET",
        path: "/_fake/api/events",
        description: "the Events API events sent to the app, oldest first, delivered or not (event_id, type, event_time)",
        input: "",
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/events/retry",
        description: "send an earlier event again as Slack retries it (same body, event_id and event_time; X-Slack-Retry-Num)",
        input: r#"{"event_id", "retry_num": 1|2|3, "reason": "http_timeout", "url"}"#,
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/workspace",
        description: "install into another workspace from now on (a re-install elsewhere)",
        input: r#"{"team_id": "T…", "team_name"}"#,
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/interactivity",
        description: "set the app's interactivity URL, where button clicks go (null: none; kept by reset)",
        input: r#"{"url": "http://127.0.0.1:8080/slack/interactions"}"#,
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/interactions",
        description: "a user clicks a message's button: sends a signed block_actions request to the app and reports its answer, the payload and the response_url",
        input: r#"{"channel": "ID_OR_NAME", "ts", "action_id", "user": "U0FAKEUSR02", "team_id", "signing_secret", "timestamp", "value", "channel_id", "message_ts", "url"}"#,
    },
    Endpoint {
        method: "GET",
        path: "/_fake/api/interactions",
        description: "the button clicks sent to the app, oldest first, with its answers (status, body) and the payloads",
        input: "",
    },
    Endpoint {
        method: "GET",
        path: "/_fake/api/views",
        description: "the modals the app opened with views.open (a click's trigger_id, valid 3 s), oldest first: id, user, view, open, the app's field errors, the values and submissions",
        input: "",
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/views/{id}/submit",
        description: "the person fills in a modal (values by block_id: an option's value, a date and time as Unix seconds or YYYY-MM-DDTHH:MM UTC, text) and submits it: a signed view_submission to the app; errors it answers keep the modal open; replay: the last submission again",
        input: r#"{"values": {"block_id": "value"}, "replay", "private_metadata", "team_id", "signing_secret"}"#,
    },
    Endpoint {
        method: "GET",
        path: "/_fake/api/responses",
        description: "what the app sent to response_urls (ephemeral, replace_original, delete_original, in_channel), oldest first",
        input: "",
    },
    Endpoint {
        method: "GET",
        path: "/_fake/api/files",
        description: "the files of the upload flow, oldest first (id, title, filename, length, uploaded_at, shared, channel, thread_ts); their bytes at GET /_fake/files/{id}",
        input: "",
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/files/expiry",
        description: "how long upload URLs work, also those handed out already (0: all have expired)",
        input: r#"{"seconds": 0}"#,
    },
    Endpoint {
        method: "POST",
        path: "/_fake/api/reset",
        description: "back to the start: configured channels, no messages, tokens, files, failures, clicks or responses",
        input: "",
    },
];

/// The endpoint list as text, for `xtc-slack fake-slack --help`.
pub(crate) fn help_text() -> String {
    let mut out = String::from(
        "Control API (JSON; POST bodies are JSON objects), for tests and demos; \
         `GET /_fake/api/` lists it too:\n",
    );
    for e in ENDPOINTS {
        out.push_str(&format!(
            "\n  {:<5} {}\n        {}\n",
            e.method, e.path, e.description
        ));
        if !e.input.is_empty() {
            out.push_str(&format!("        {}\n", e.input));
        }
    }
    out.push_str(
        "\nExample: curl -X POST localhost:9999/_fake/api/fail \\\n  \
         -d '{\"method\": \"chat.postMessage\", \"count\": 3, \"http_status\": 503}'\n\
         Posted messages are shown at /_fake/ (buttons click as ?as=U… there), shared files \
         with them; GET /_fake/files/{id} serves a file's bytes.\n\
         Button clicks go to --interactivity-url as a signed form POST (`payload` = block_actions \
         JSON); users: U0FAKEUSR01 jane (installer), U0FAKEUSR02 sam, U0FAKEUSR03 alex.",
    );
    out
}

/// `GET /_fake/api/`: the control endpoints with method, path and what they do.
pub(crate) async fn index() -> HttpResponse {
    let endpoints: Vec<Value> = ENDPOINTS
        .iter()
        .map(|e| {
            let mut v = json!({"method": e.method, "path": e.path, "description": e.description});
            if !e.input.is_empty() {
                v["input"] = json!(e.input);
            }
            v
        })
        .collect();
    ok(json!({"endpoints": endpoints}))
}

/// Refusals of the control API's JSON bodies in the fake's own format.
pub(crate) fn json_error(
    e: actix_web::error::JsonPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    let message = e.to_string();
    actix_web::error::InternalError::from_response(e, fail(400, "invalid_request", &message)).into()
}

pub(crate) fn ok(v: Value) -> HttpResponse {
    let mut v = v;
    if let Value::Object(o) = &mut v {
        o.insert("ok".into(), Value::Bool(true));
    }
    HttpResponse::Ok().json(v)
}

pub(crate) fn fail(status: u16, error: &str, message: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status).json(json!({"ok": false, "error": error, "message": message}))
}

/// Query of `GET /_fake/api/messages` and `GET /_fake/api/calls`.
#[derive(Debug, Deserialize)]
pub(crate) struct Filter {
    channel: Option<String>,
    method: Option<String>,
}

/// `GET /_fake/api/messages[?channel=ID_OR_NAME]`: every message, oldest first per channel.
pub(crate) async fn messages(q: web::Query<Filter>, shared: web::Data<Shared>) -> HttpResponse {
    let world = shared.world();
    let channels: Vec<&FakeChannel> = match q.channel.as_deref() {
        None => world.channels.iter().collect(),
        Some(key) => match world.find_channel_any(key) {
            Some(i) => vec![&world.channels[i]],
            None => return fail(404, "channel_not_found", "no such channel"),
        },
    };
    let messages: Vec<Value> = channels
        .iter()
        .flat_map(|c| {
            c.messages.iter().map(move |m| {
                let mut v = json!(m);
                // Who was pinged: what the message said when it was posted (edits ping nobody).
                let (text, blocks) = match m.edits.first() {
                    Some(first) => (&first.text, &first.blocks),
                    None => (&m.text, &m.blocks),
                };
                let mentions = mentions_in(text, blocks.as_deref());
                if let Value::Object(o) = &mut v {
                    o.insert("channel".into(), json!(c.id));
                    o.insert("channel_name".into(), json!(c.name));
                    o.insert("mentions".into(), json!(mentions));
                }
                v
            })
        })
        .collect();
    ok(json!({"messages": messages}))
}

/// The pings in a message as Slack reads them: `<!here>`, `<!channel>`, `<!everyone>`,
/// `<!subteam^S…>` and `<@U…>` in its text or its blocks' texts, as `@here`, `@channel`,
/// `@everyone`, `S…`, `U…`. Escaped text (`&lt;!channel&gt;`) pings nobody.
pub(crate) fn mentions_in(text: &str, blocks: Option<&[Value]>) -> Vec<String> {
    let mut all = text.to_owned();
    if let Some(blocks) = blocks {
        all.push(' ');
        all.push_str(&serde_json::to_string(blocks).unwrap_or_default());
    }
    let mut out: Vec<String> = Vec::new();
    let mut rest = all.as_str();
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let Some(end) = rest.find('>') else { break };
        let inner = rest[..end].split('|').next().unwrap_or_default();
        let found = match inner {
            "!here" => Some("@here".to_owned()),
            "!channel" => Some("@channel".to_owned()),
            "!everyone" => Some("@everyone".to_owned()),
            i if i.starts_with("!subteam^") => Some(i["!subteam^".len()..].to_owned()),
            i if i.starts_with('@') && i.len() > 1 => Some(i[1..].to_owned()),
            _ => None,
        };
        if let Some(f) = found {
            if !out.contains(&f) {
                out.push(f);
            }
        }
        rest = &rest[end + 1..];
    }
    out
}

/// `GET /_fake/api/calls[?method=...]`: the Web API call log (without tokens).
pub(crate) async fn calls(q: web::Query<Filter>, shared: web::Data<Shared>) -> HttpResponse {
    let world = shared.world();
    let calls: Vec<Value> = world
        .calls
        .iter()
        .filter(|c| q.method.as_deref().is_none_or(|m| c.method == m))
        .map(|c| json!(c))
        .collect();
    ok(json!({"calls": calls}))
}

fn channel_summary(c: &FakeChannel) -> Value {
    json!({
        "id": c.id, "name": c.name, "is_private": c.is_private, "is_archived": c.is_archived,
        "is_member": c.is_member, "created": c.created, "previous_names": c.previous_names,
        "message_count": c.messages.len(),
    })
}

/// `GET /_fake/api/channels`.
pub(crate) async fn channels(shared: web::Data<Shared>) -> HttpResponse {
    let world = shared.world();
    let list: Vec<Value> = world.channels.iter().map(channel_summary).collect();
    ok(json!({"channels": list}))
}

/// Body of `POST /_fake/api/channels`: find by `id` or `name` (create when missing),
/// then apply the given changes.
#[derive(Debug, Deserialize)]
pub(crate) struct ChannelChange {
    id: Option<String>,
    name: Option<String>,
    rename: Option<String>,
    is_private: Option<bool>,
    is_archived: Option<bool>,
    is_member: Option<bool>,
    #[serde(default)]
    delete: bool,
}

/// `POST /_fake/api/channels`.
pub(crate) async fn change_channel(
    body: web::Json<ChannelChange>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let mut world = shared.world();
    let key = body
        .id
        .as_deref()
        .or(body.name.as_deref())
        .unwrap_or_default();
    let found = world.find_channel_any(key);
    if body.delete {
        return match found {
            Some(i) => {
                let c = world.channels.remove(i);
                ok(json!({"deleted": c.id}))
            }
            None => fail(404, "channel_not_found", "no such channel"),
        };
    }
    let i = match found {
        Some(i) => i,
        None => {
            let Some(name) = body.name.as_deref() else {
                return fail(
                    404,
                    "channel_not_found",
                    "give a `name` to create a channel",
                );
            };
            if let Err(e) = valid_name(name) {
                return fail(422, e, "Slack channel names: a-z, 0-9, - and _, at most 80");
            }
            let created = chrono::Utc::now().timestamp();
            world.channels.push(FakeChannel {
                id: body.id.clone().unwrap_or_else(new_channel_id),
                name: name.to_owned(),
                is_private: false,
                is_archived: false,
                is_member: false,
                created,
                previous_names: Vec::new(),
                messages: Vec::new(),
            });
            world.channels.len() - 1
        }
    };
    if let Some(new_name) = body.rename.as_deref() {
        if let Err(e) = valid_name(new_name) {
            return fail(422, e, "Slack channel names: a-z, 0-9, - and _, at most 80");
        }
        if world.channels.iter().any(|c| c.name == new_name) {
            return fail(409, "name_taken", "another channel has that name");
        }
        let c = &mut world.channels[i];
        let old = std::mem::replace(&mut c.name, new_name.to_owned());
        c.previous_names.push(old);
    }
    let c = &mut world.channels[i];
    if let Some(v) = body.is_private {
        c.is_private = v;
    }
    if let Some(v) = body.is_archived {
        c.is_archived = v;
    }
    if let Some(v) = body.is_member {
        c.is_member = v;
    }
    ok(json!({"channel": channel_summary(c)}))
}

/// Slack's naming rules (conversations.create).
fn valid_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("invalid_name_required");
    }
    if name.chars().count() > 80 {
        return Err("invalid_name_maxlength");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err("invalid_name_specials");
    }
    Ok(())
}

/// Body of `POST /_fake/api/tokens`.
#[derive(Debug, Deserialize)]
pub(crate) struct MintToken {
    /// Array or comma-separated string; default: the scopes the product requests.
    scopes: Option<Value>,
    /// Another app's ID, to test `cant_update_message`.
    app_id: Option<String>,
}

/// `POST /_fake/api/tokens`: a bot token without going through OAuth.
pub(crate) async fn mint_token(
    body: web::Json<MintToken>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let scopes: Vec<String> = match &body.scopes {
        None => [
            "chat:write",
            "chat:write.public",
            "channels:read",
            "team:read",
            "files:write",
        ]
        .map(str::to_owned)
        .to_vec(),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(_) => {
            return fail(
                422,
                "invalid_scopes",
                "scopes: array or comma-separated string",
            )
        }
    };
    let mut world = shared.world();
    let token = world.mint_bot_token(scopes.clone(), body.app_id.clone());
    ok(json!({
        "access_token": token,
        "scope": scopes.join(","),
        "team_id": world.config.team_id,
        "bot_user_id": world.config.bot_user_id,
    }))
}

/// Body of `POST /_fake/api/tokens/revoke`: one `token`, or `all` tokens of the team.
#[derive(Debug, Deserialize)]
pub(crate) struct Revoke {
    token: Option<String>,
    #[serde(default)]
    all: bool,
    /// What the revoked token(s) answer from now on (default `token_revoked`;
    /// `account_inactive` imitates an uninstalled app).
    error: Option<String>,
}

/// `POST /_fake/api/tokens/revoke`.
pub(crate) async fn revoke(body: web::Json<Revoke>, shared: web::Data<Shared>) -> HttpResponse {
    let code = body
        .error
        .clone()
        .unwrap_or_else(|| "token_revoked".to_owned());
    let mut world = shared.world();
    let revoked = match (&body.token, body.all) {
        (_, true) => world.revoke_all(&code, false),
        (Some(token), false) => match world.tokens.get_mut(token) {
            Some(t) => {
                t.revoked = Some(code);
                1
            }
            None => return fail(404, "token_not_found", "unknown token"),
        },
        (None, false) => return fail(422, "invalid_request", "give `token` or `all: true`"),
    };
    ok(json!({"revoked": revoked}))
}

/// `POST /_fake/api/fail`: the next `count` calls of `method` (`*` = any) fail.
pub(crate) async fn inject_failure(
    body: web::Json<Failure>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let failure = body.into_inner();
    if failure.method.is_empty() {
        return fail(422, "invalid_request", "`method` is required");
    }
    let mut world = shared.world();
    if failure.count == 0 {
        world.failures.remove(&failure.method);
    } else {
        world.failures.insert(failure.method.clone(), failure);
    }
    ok(json!({}))
}

/// Body of `POST /_fake/api/method-limits`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MethodLimit {
    method: String,
    per_minute: u32,
    #[serde(default = "default_method_burst")]
    burst: u32,
}

fn default_method_burst() -> u32 {
    5
}

/// `POST /_fake/api/method-limits`: a method's per-workspace tier; `per_minute: 0` removes it.
pub(crate) async fn method_limit(
    body: web::Json<MethodLimit>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    if body.method.is_empty() {
        return fail(422, "invalid_request", "`method` is required");
    }
    shared
        .world()
        .set_method_limit(&body.method, body.per_minute, body.burst);
    ok(json!({"method": body.method, "per_minute": body.per_minute, "burst": body.burst.max(1)}))
}

/// Body of `POST /_fake/api/messages/delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteMessage {
    channel: String,
    ts: String,
}

/// `POST /_fake/api/messages/delete`: a user deletes a message.
pub(crate) async fn delete_message(
    body: web::Json<DeleteMessage>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    match shared.world().delete_message(&body.channel, &body.ts) {
        None => fail(404, "channel_not_found", "give an existing `channel`"),
        Some(false) => fail(
            404,
            "message_not_found",
            "no message with this `ts` in the channel",
        ),
        Some(true) => ok(json!({"deleted": {"channel": body.channel, "ts": body.ts}})),
    }
}

/// Body of `POST /_fake/api/rate-limit`.
#[derive(Debug, Deserialize)]
pub(crate) struct RateLimit {
    per_sec: f64,
    #[serde(default = "default_burst")]
    burst: u32,
}

fn default_burst() -> u32 {
    1
}

/// `POST /_fake/api/rate-limit`: per-channel `chat.postMessage` limit; `per_sec: 0` disables.
pub(crate) async fn rate_limit(
    body: web::Json<RateLimit>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    if !body.per_sec.is_finite() || body.per_sec < 0.0 {
        return fail(422, "invalid_request", "per_sec must be >= 0");
    }
    shared.world().set_rate_limit(body.per_sec, body.burst);
    ok(json!({}))
}

/// Body of `POST /_fake/api/workspace`.
#[derive(Debug, Deserialize)]
pub(crate) struct Workspace {
    team_id: String,
    team_name: Option<String>,
}

/// `POST /_fake/api/workspace`: OAuth installs (and tokens minted) from now on belong to
/// this workspace; the channels stay as they are.
pub(crate) async fn workspace(
    body: web::Json<Workspace>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let valid = body.team_id.starts_with('T')
        && body.team_id.len() >= 9
        && body.team_id[1..]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !valid {
        return fail(422, "invalid_request", "team_id must look like T0123ABCD");
    }
    let mut world = shared.world();
    world.config.team_id = body.team_id.clone();
    if let Some(name) = &body.team_name {
        world.config.team_name = name.clone();
    }
    ok(json!({"team_id": world.config.team_id, "team_name": world.config.team_name}))
}

/// Body of `POST /_fake/api/events`.
#[derive(Debug, Deserialize)]
pub(crate) struct SendEvent {
    #[serde(rename = "type")]
    kind: events::Kind,
    /// Overrides the configured `--events-url`.
    url: Option<String>,
    /// Whether the tokens die as the event says (default true, as at Slack).
    #[serde(default = "yes")]
    revoke: bool,
    /// Channel events: the channel (ID or name); the fake applies the change first.
    channel: Option<String>,
    /// `channel_rename`: the new name.
    name: Option<String>,
}

fn yes() -> bool {
    true
}

/// `POST /_fake/api/events`: sends a signed lifecycle event and reports the app's answer.
pub(crate) async fn send_event(
    body: web::Json<SendEvent>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let (url, secret, payload) = {
        let mut world = shared.world();
        let Some(url) = body.url.clone().or_else(|| world.config.events_url.clone()) else {
            return fail(422, "no_events_url", "configure --events-url or pass `url`");
        };
        let payload = match body.kind {
            events::Kind::AppUninstalled | events::Kind::TokensRevoked => {
                if body.revoke {
                    revoke_for(&mut world, body.kind);
                }
                events::envelope(&world.config, body.kind)
            }
            kind => match change_for_event(&mut world, kind, &body) {
                Ok(event) => events::envelope_of(&world.config, event),
                Err(reply) => return *reply,
            },
        };
        world.remember_event(&payload);
        (url, world.config.signing_secret.clone(), payload)
    };
    match events::deliver(&url, &secret, &payload, None).await {
        Ok((status, answer)) => ok(json!({
            "status": status,
            "body": answer,
            "event": serde_json::from_slice::<Value>(&payload).unwrap_or(Value::Null),
        })),
        Err(e) => fail(502, "delivery_failed", &e),
    }
}

/// `GET /_fake/api/events`: the events sent to the app, oldest first (delivered or not).
pub(crate) async fn sent_events(shared: web::Data<Shared>) -> HttpResponse {
    let world = shared.world();
    let events: Vec<Value> = world
        .sent_events
        .iter()
        .map(|(id, body)| {
            let v = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
            json!({
                "event_id": id,
                "type": v["event"]["type"],
                "event_time": v["event_time"],
            })
        })
        .collect();
    ok(json!({"events": events}))
}

/// Body of `POST /_fake/api/events/retry`.
#[derive(Debug, Deserialize)]
pub(crate) struct RetryEvent {
    /// The `event_id` of an event the fake sent before.
    event_id: String,
    /// `X-Slack-Retry-Num` (Slack: 1 immediately, 2 after about a minute, 3 after about
    /// five); default 1.
    #[serde(default = "first_retry")]
    retry_num: u32,
    /// `X-Slack-Retry-Reason`; default `http_timeout`.
    reason: Option<String>,
    /// Overrides the configured `--events-url`.
    url: Option<String>,
}

fn first_retry() -> u32 {
    1
}

/// `POST /_fake/api/events/retry`: sends an earlier event again, as Slack retries one it saw
/// no timely answer to: the same body (`event_id`, `event_time`), signed anew, with
/// `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`. Nothing changes in the workspace.
pub(crate) async fn retry_event(
    body: web::Json<RetryEvent>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    if !(1..=3).contains(&body.retry_num) {
        return fail(
            422,
            "invalid_request",
            "retry_num is 1, 2 or 3, as at Slack",
        );
    }
    let (url, secret, payload) = {
        let world = shared.world();
        let Some(url) = body.url.clone().or_else(|| world.config.events_url.clone()) else {
            return fail(422, "no_events_url", "configure --events-url or pass `url`");
        };
        let Some(payload) = world.sent_event(&body.event_id) else {
            return fail(
                404,
                "event_not_found",
                "no event with that event_id was sent by this fake",
            );
        };
        (url, world.config.signing_secret.clone(), payload)
    };
    let retry = events::Retry {
        num: body.retry_num,
        reason: body.reason.as_deref().unwrap_or("http_timeout"),
    };
    match events::deliver(&url, &secret, &payload, Some(retry)).await {
        Ok((status, answer)) => ok(json!({
            "status": status,
            "body": answer,
            "event": serde_json::from_slice::<Value>(&payload).unwrap_or(Value::Null),
        })),
        Err(e) => fail(502, "delivery_failed", &e),
    }
}

/// Applies a channel event's change to the workspace and returns the inner event.
fn change_for_event(
    world: &mut World,
    kind: events::Kind,
    body: &SendEvent,
) -> Result<Value, Box<HttpResponse>> {
    let key = body.channel.as_deref().unwrap_or_default();
    if kind == events::Kind::ChannelCreated {
        // `channel` is the new channel's name.
        if let Err(e) = valid_name(key) {
            return Err(Box::new(fail(
                422,
                e,
                "give the new channel's name as `channel`: a-z, 0-9, - and _, at most 80",
            )));
        }
        if world.find_channel_any(key).is_some() {
            return Err(Box::new(fail(409, "name_taken", "that channel exists")));
        }
        world.channels.push(FakeChannel {
            id: new_channel_id(),
            name: key.to_owned(),
            is_private: false,
            is_archived: false,
            is_member: false,
            created: chrono::Utc::now().timestamp(),
            previous_names: Vec::new(),
            messages: Vec::new(),
        });
    }
    let Some(i) = world.find_channel_any(key) else {
        return Err(Box::new(fail(
            404,
            "channel_not_found",
            "give an existing `channel`",
        )));
    };
    match kind {
        events::Kind::ChannelRename => {
            let Some(new_name) = body.name.as_deref() else {
                return Err(Box::new(fail(422, "invalid_request", "`name` is required")));
            };
            if let Err(e) = valid_name(new_name) {
                return Err(Box::new(fail(
                    422,
                    e,
                    "Slack channel names: a-z, 0-9, - and _, at most 80",
                )));
            }
            let c = &mut world.channels[i];
            let old = std::mem::replace(&mut c.name, new_name.to_owned());
            c.previous_names.push(old);
        }
        events::Kind::ChannelArchive => world.channels[i].is_archived = true,
        events::Kind::ChannelUnarchive => world.channels[i].is_archived = false,
        _ => {}
    }
    let c = &world.channels[i];
    let event = events::channel_event(&world.config, kind, &c.id, &c.name, c.created);
    if kind == events::Kind::ChannelDeleted {
        world.channels.remove(i);
    }
    Ok(event)
}

fn revoke_for(world: &mut World, kind: events::Kind) {
    match kind {
        events::Kind::AppUninstalled => world.revoke_all("account_inactive", false),
        events::Kind::TokensRevoked => world.revoke_all("token_revoked", true),
        _ => 0,
    };
}

/// `POST /_fake/api/reset`: back to the configured start (channels, no messages, no tokens).
pub(crate) async fn reset(shared: web::Data<Shared>) -> HttpResponse {
    shared.world().reset();
    ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_read_as_slack_reads_them() {
        let blocks = vec![
            json!({"type": "section", "text": {"type": "mrkdwn", "text": "<!subteam^S0123ABCD|@oncall> <@U0123ABCD>"}}),
        ];
        assert_eq!(
            mentions_in("<!here> x &lt;!channel&gt; <https://x|y>", Some(&blocks)),
            vec!["@here", "S0123ABCD", "U0123ABCD"]
        );
        assert!(mentions_in("plain &lt;@U1&gt;", None).is_empty());
    }
}

//! Slack interactivity (docs/slack-api.md §9): a click on a message's button is sent to the
//! app's interactivity Request URL as Slack sends it, and the app's answers to the click's
//! `response_url` change the message or show the clicking user an ephemeral message.
//!
//! - A click is a `POST` with `Content-Type: application/x-www-form-urlencoded` and one field,
//!   `payload`, holding a `block_actions` JSON document; it is signed like an event
//!   (`X-Slack-Request-Timestamp`, `X-Slack-Signature: v0=…` over `v0:{ts}:{raw body}`).
//!   The fake waits up to 10 s for the answer (Slack: 3 s) and records status and body.
//! - Each click hands out a `response_url` (`{fake}/_fake/response/{id}`, see
//!   [`response_url`]) whose answers replace or delete the message, post in the channel
//!   or show the clicking user an ephemeral message.
//! - Each click's `trigger_id` opens one modal (`views.open`) within 3 s; a modal's
//!   submission is a signed `view_submission` (see [`views`]).

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

mod response_url;
pub(crate) mod views;

pub(crate) use response_url::{respond, ResponseGrant, ResponseRecord, RESPONSE_URL_TTL};
pub(crate) use views::{FakeView, Trigger};

use super::{
    blocks::{self, Button},
    events,
    state::{random_alnum, Message, World},
    FakeUser, Shared,
};

/// Keep the click log bounded for long-running demos.
const MAX_CLICKS: usize = 1000;
/// One click sent to the app, and what the app answered.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Click {
    pub id: String,
    /// Channel ID of the message.
    pub channel: String,
    pub message_ts: String,
    pub action_id: String,
    /// The button's label.
    pub text: String,
    /// Who clicked (user ID) and their name.
    pub user: String,
    pub user_name: String,
    /// Where it was sent.
    pub url: String,
    /// The app's HTTP status, if it answered.
    pub status: Option<u16>,
    /// The app's response body, if it answered.
    pub body: Option<String>,
    /// Why there is no answer (connection refused, timeout).
    pub error: Option<String>,
    /// The `block_actions` payload sent.
    pub payload: Value,
    pub response_url: String,
    pub at: DateTime<Utc>,
}

/// A click to send: what the page's forms and `POST /_fake/api/interactions` give.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClickRequest {
    /// Channel ID or name (`#name` or `name`).
    pub channel: String,
    /// The message's `ts` (top-level or a thread reply).
    pub ts: String,
    /// The button's `action_id`.
    pub action_id: String,
    /// Who clicks (default: the installer).
    pub user: Option<String>,
    /// Negative tests: the team the payload claims (`team.id`, `user.team_id`).
    pub team_id: Option<String>,
    /// Negative tests: sign with this secret instead of the configured one.
    pub signing_secret: Option<String>,
    /// Negative tests: sign with this Unix time (e.g. 10 minutes ago: a replay).
    pub timestamp: Option<i64>,
    /// Negative tests: the `value` reported instead of the button's.
    pub value: Option<String>,
    /// Negative tests: `container.channel_id` and `channel.id` instead of the message's.
    pub channel_id: Option<String>,
    /// Negative tests: `container.message_ts` instead of the message's.
    pub message_ts: Option<String>,
    /// Send to this URL instead of the configured interactivity URL.
    pub url: Option<String>,
}

/// Why a click (or a modal's submission) was not sent: HTTP status, error code, explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClickError {
    pub status: u16,
    pub error: &'static str,
    pub message: String,
}

impl ClickError {
    pub(crate) fn new(status: u16, error: &'static str, message: impl Into<String>) -> ClickError {
        ClickError {
            status,
            error,
            message: message.into(),
        }
    }

    pub(crate) fn response(&self) -> HttpResponse {
        json_status(
            self.status,
            json!({"ok": false, "error": self.error, "message": self.message}),
        )
    }
}

/// A click ready to be sent (built under the lock, sent without it).
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub url: String,
    pub secret: String,
    pub timestamp: i64,
    /// The form body: `payload=<url-encoded JSON>`.
    pub body: Vec<u8>,
    pub payload: Value,
    pub response_url: String,
    pub channel: String,
    pub message_ts: String,
    pub action_id: String,
    pub text: String,
    pub user: FakeUser,
}

fn json_status(status: u16, v: Value) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status).json(v)
}

/// `{scheme}://{host}` of the request, what the app reaches the fake at (the base of
/// `response_url`s).
pub(crate) fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// A Slack-shaped `ts` (`1712345678.123456`) for `wall`.
fn slack_ts(wall: DateTime<Utc>) -> String {
    let micros = wall.timestamp_micros();
    format!("{:010}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

impl World {
    /// A person of the workspace by ID (the installer counts even when not in `users`).
    pub(crate) fn user(&self, id: &str) -> Option<FakeUser> {
        self.config
            .users
            .iter()
            .find(|u| u.id == id)
            .cloned()
            .or_else(|| {
                (id == self.config.installer_user_id).then(|| FakeUser::new(id, "installer"))
            })
    }

    /// Finds the message and button, builds the signed `block_actions` request and hands
    /// out its `response_url` (`{base}/_fake/response/{id}`).
    pub(crate) fn prepare_click(
        &mut self,
        req: &ClickRequest,
        base: &str,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Result<Prepared, ClickError> {
        let url = req
            .url
            .clone()
            .or_else(|| self.config.interactivity_url.clone())
            .ok_or_else(|| {
                ClickError::new(
                    409,
                    "no_interactivity_url",
                    "no interactivity URL is configured: start with --interactivity-url, \
                     POST /_fake/api/interactivity {\"url\": …} or pass `url`",
                )
            })?;
        let user_id = req
            .user
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| self.config.installer_user_id.clone());
        let user = self.user(&user_id).ok_or_else(|| {
            ClickError::new(
                404,
                "user_not_found",
                format!("no user {user_id} in the workspace (see --help: users)"),
            )
        })?;
        let ci = self.find_channel_any(&req.channel).ok_or_else(|| {
            ClickError::new(404, "channel_not_found", "give an existing `channel`")
        })?;
        let channel = &self.channels[ci];
        let message = channel
            .messages
            .iter()
            .find(|m| m.ts == req.ts)
            .ok_or_else(|| {
                ClickError::new(
                    404,
                    "message_not_found",
                    "no message with this `ts` in the channel",
                )
            })?;
        let button = blocks::buttons(message.blocks.as_deref(), message.attachments.as_deref())
            .into_iter()
            .find(|b| b.action_id == req.action_id)
            .ok_or_else(|| {
                ClickError::new(
                    404,
                    "no_such_action",
                    "the message has no button with this `action_id`",
                )
            })?;
        let url_id = random_alnum(24);
        let response_url = format!("{}/_fake/response/{url_id}", base.trim_end_matches('/'));
        let payload = self.payload(ci, message, &button, &user, req, &response_url, wall);
        let json_text = payload.to_string();
        let body = serde_urlencoded::to_string([("payload", json_text.as_str())])
            .unwrap_or_default()
            .into_bytes();
        let prepared = Prepared {
            url,
            secret: req
                .signing_secret
                .clone()
                .unwrap_or_else(|| self.config.signing_secret.clone()),
            timestamp: req.timestamp.unwrap_or_else(|| wall.timestamp()),
            body,
            payload,
            response_url,
            channel: channel.id.clone(),
            message_ts: message.ts.clone(),
            action_id: button.action_id.clone(),
            text: button.label().to_owned(),
            user,
        };
        if let Some(t) = prepared.payload["trigger_id"].as_str() {
            self.remember_trigger(t, &prepared.user.id, now);
        }
        // Expired grants are of no use; drop them so a long demo does not pile them up.
        self.response_urls
            .retain(|_, g| now.saturating_duration_since(g.issued) <= RESPONSE_URL_TTL);
        self.response_urls.insert(
            url_id,
            ResponseGrant {
                channel: prepared.channel.clone(),
                message_ts: prepared.message_ts.clone(),
                user: prepared.user.id.clone(),
                issued: now,
                uses: 0,
            },
        );
        Ok(prepared)
    }

    /// The `block_actions` payload of a click, in the shape of Slack's.
    #[allow(clippy::too_many_arguments)]
    fn payload(
        &self,
        ci: usize,
        message: &Message,
        button: &Button,
        user: &FakeUser,
        req: &ClickRequest,
        response_url: &str,
        wall: DateTime<Utc>,
    ) -> Value {
        let channel = &self.channels[ci];
        let team_id = req
            .team_id
            .clone()
            .unwrap_or_else(|| self.config.team_id.clone());
        let channel_id = req.channel_id.clone().unwrap_or_else(|| channel.id.clone());
        let channel_name = self
            .find_channel_any(&channel_id)
            .map_or_else(|| channel.name.clone(), |i| self.channels[i].name.clone());
        let mut container = json!({
            "type": "message",
            "message_ts": req.message_ts.clone().unwrap_or_else(|| message.ts.clone()),
            "channel_id": channel_id,
            "is_ephemeral": false,
        });
        if let Some(i) = button.at.attachment {
            container["attachment_id"] = json!(i + 1);
        }
        let mut text = button.element.get("text").cloned().unwrap_or(Value::Null);
        if let Some(t) = text.as_object_mut() {
            t.entry("emoji").or_insert(json!(true));
        }
        let mut action = json!({
            "type": "button",
            "action_id": button.action_id,
            "block_id": button.block_id,
            "text": text,
            "action_ts": slack_ts(wall),
        });
        let value = req.value.clone().or_else(|| {
            button
                .element
                .get("value")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        if let Some(v) = value {
            action["value"] = json!(v);
        }
        for key in ["style", "url"] {
            if let Some(v) = button.element.get(key) {
                action[key] = v.clone();
            }
        }
        json!({
            "type": "block_actions",
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": team_id},
            "api_app_id": self.config.app_id,
            "token": events::VERIFICATION_TOKEN,
            "container": container,
            "trigger_id": views::new_trigger_id(),
            "team": {"id": team_id, "domain": self.config.team_domain()},
            "enterprise": null,
            "is_enterprise_install": false,
            "channel": {"id": channel_id, "name": channel_name},
            "message": self.message_as_shown(message),
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        })
    }

    /// A stored message as a payload shows it: Slack's shape, every block with a
    /// `block_id`, every button with an `action_id`, attachments numbered from 1.
    fn message_as_shown(&self, m: &Message) -> Value {
        let mut v = self.message_json(m);
        if let Some(bs) = &m.blocks {
            v["blocks"] = json!(blocks::with_ids(bs, None));
        }
        if let Some(atts) = &m.attachments {
            let atts: Vec<Value> = atts
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let mut a = a.clone();
                    if let Some(bs) = a.get("blocks").and_then(Value::as_array) {
                        a["blocks"] = json!(blocks::with_ids(bs, Some(i)));
                    }
                    if let Some(o) = a.as_object_mut() {
                        o.entry("id").or_insert(json!(i + 1));
                    }
                    a
                })
                .collect();
            v["attachments"] = json!(atts);
        }
        if let Some(last) = m.edits.last() {
            v["edited"] = json!({"user": m.user, "ts": slack_ts(last.replaced_at)});
        }
        v
    }

    /// Records a sent click (bounded log).
    pub(crate) fn record_click(&mut self, click: Click) {
        if self.clicks.len() >= MAX_CLICKS {
            self.clicks.remove(0);
        }
        self.clicks.push(click);
    }
}

/// Sends a click: builds it under the lock, POSTs it without, records the outcome.
/// `Err` when it could not be built (no URL, no such message or button); a click the app
/// did not answer is `Ok` with `error` set.
pub(crate) async fn send_click(
    shared: &Shared,
    base: &str,
    req: &ClickRequest,
) -> Result<Click, ClickError> {
    let prepared = shared
        .world()
        .prepare_click(req, base, Instant::now(), Utc::now())?;
    let answer = events::post_signed(
        &prepared.url,
        "application/x-www-form-urlencoded",
        &prepared.secret,
        prepared.timestamp,
        &prepared.body,
    )
    .await;
    let (status, body, error) = match answer {
        Ok((status, body)) => (Some(status), Some(body), None),
        Err(e) => (None, None, Some(e)),
    };
    let click = Click {
        id: format!("click-{}", random_alnum(10).to_lowercase()),
        channel: prepared.channel,
        message_ts: prepared.message_ts,
        action_id: prepared.action_id,
        text: prepared.text,
        user: prepared.user.id,
        user_name: prepared.user.name,
        url: prepared.url,
        status,
        body,
        error,
        payload: prepared.payload,
        response_url: prepared.response_url,
        at: Utc::now(),
    };
    shared.world().record_click(click.clone());
    Ok(click)
}

/// `POST /_fake/api/interactions`: a user clicks a button; answers with the app's
/// status and body, the payload sent and its `response_url`.
pub(crate) async fn interact(
    req: HttpRequest,
    body: web::Json<ClickRequest>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    match send_click(&shared, &base_url(&req), &body).await {
        Err(e) => e.response(),
        Ok(click) => match (&click.status, &click.error) {
            (Some(status), _) => HttpResponse::Ok().json(json!({
                "ok": true,
                "id": click.id,
                "status": status,
                "body": click.body,
                "payload": click.payload,
                "response_url": click.response_url,
            })),
            (None, error) => json_status(
                502,
                json!({
                    "ok": false,
                    "error": "delivery_failed",
                    "message": error,
                    "id": click.id,
                    "payload": click.payload,
                    "response_url": click.response_url,
                }),
            ),
        },
    }
}

/// `GET /_fake/api/interactions`: the clicks sent, oldest first, with the app's answers.
pub(crate) async fn clicks(shared: web::Data<Shared>) -> HttpResponse {
    let world = shared.world();
    HttpResponse::Ok().json(json!({"ok": true, "interactions": world.clicks}))
}

/// `GET /_fake/api/responses`: what the app sent to `response_url`s, oldest first.
pub(crate) async fn responses(shared: web::Data<Shared>) -> HttpResponse {
    let world = shared.world();
    HttpResponse::Ok().json(json!({"ok": true, "responses": world.responses}))
}

/// Body of `POST /_fake/api/interactivity`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetUrl {
    /// The app's interactivity Request URL; `null` turns clicks off.
    url: Option<String>,
}

/// `POST /_fake/api/interactivity`: sets (or clears) where clicks go; kept by `reset`.
pub(crate) async fn set_url(body: web::Json<SetUrl>, shared: web::Data<Shared>) -> HttpResponse {
    if let Some(u) = &body.url {
        let valid = url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https"));
        if !valid {
            return ClickError::new(422, "invalid_url", "`url` must be an http(s) URL").response();
        }
    }
    let mut world = shared.world();
    world.config.interactivity_url = body.url.clone();
    HttpResponse::Ok()
        .json(json!({"ok": true, "interactivity_url": world.config.interactivity_url}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FakeSlackConfig;

    /// A world with one message in #general carrying two buttons (one in an attachment).
    pub(super) fn world_with_card() -> (World, String) {
        let mut w = World::new(FakeSlackConfig {
            interactivity_url: Some("http://app.example/slack/interactions".into()),
            ..FakeSlackConfig::default()
        });
        let ts = w.next_ts(Utc::now());
        w.channels[0].messages.push(Message {
            ts: ts.clone(),
            text: "Incident".into(),
            blocks: Some(vec![
                json!({"type": "actions", "block_id": "acts", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"},
                 "action_id": "incident.ack", "value": "inc-1", "style": "primary"}]}),
            ]),
            attachments: Some(vec![json!({"color": "#e01e5a", "blocks": [
                {"type": "actions", "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open"},
                     "action_id": "open.xtc", "url": "https://xtc.example/i/1"}]}]})]),
            thread_ts: None,
            reply_broadcast: false,
            app_id: "A0FAKEAPP01".into(),
            bot_id: "B0FAKEBOT01".into(),
            user: "U0FAKEBOT01".into(),
            received_at: Utc::now(),
            edits: vec![],
            files: vec![],
        });
        (w, ts)
    }

    pub(super) fn click(ts: &str, action_id: &str) -> ClickRequest {
        ClickRequest {
            channel: "#general".into(),
            ts: ts.into(),
            action_id: action_id.into(),
            ..ClickRequest::default()
        }
    }

    #[test]
    fn payload_has_slacks_fields() {
        let (mut w, ts) = world_with_card();
        let now = Instant::now();
        let p = w
            .prepare_click(
                &ClickRequest {
                    user: Some("U0FAKEUSR02".into()),
                    ..click(&ts, "incident.ack")
                },
                "http://127.0.0.1:9",
                now,
                Utc::now(),
            )
            .unwrap();
        let v = &p.payload;
        assert_eq!(v["type"], "block_actions");
        assert_eq!(
            v["user"],
            json!({"id": "U0FAKEUSR02", "username": "sam", "name": "sam", "team_id": "T0FAKE0001"})
        );
        assert_eq!(
            v["team"],
            json!({"id": "T0FAKE0001", "domain": "xtc-test-workspace"})
        );
        assert_eq!(v["api_app_id"], "A0FAKEAPP01");
        assert_eq!(
            v["container"],
            json!({"type": "message", "message_ts": ts, "channel_id": "C0FAKE0GEN1", "is_ephemeral": false})
        );
        assert_eq!(
            v["channel"],
            json!({"id": "C0FAKE0GEN1", "name": "general"})
        );
        assert_eq!(v["message"]["ts"], ts.as_str());
        assert_eq!(v["message"]["attachments"][0]["id"], 1);
        let a = &v["actions"][0];
        assert_eq!(a["type"], "button");
        assert_eq!(a["action_id"], "incident.ack");
        assert_eq!(a["block_id"], "acts");
        assert_eq!(a["value"], "inc-1");
        assert_eq!(a["text"]["text"], "Acknowledge");
        assert!(a["action_ts"].as_str().is_some_and(|t| t.len() == 17));
        assert!(p
            .response_url
            .starts_with("http://127.0.0.1:9/_fake/response/"));
        assert_eq!(v["response_url"], p.response_url.as_str());
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&p.body).unwrap();
        assert_eq!(form.len(), 1);
        assert_eq!(form[0].0, "payload");
        assert_eq!(serde_json::from_str::<Value>(&form[0].1).unwrap(), *v);

        // The button in the attachment: `attachment_id`, a generated block_id, the url.
        let p = w
            .prepare_click(&click(&ts, "open.xtc"), "http://x", now, Utc::now())
            .unwrap();
        assert_eq!(p.payload["container"]["attachment_id"], 1);
        assert_eq!(p.payload["actions"][0]["url"], "https://xtc.example/i/1");
        assert!(p.payload["actions"][0].get("value").is_none());
        assert_eq!(
            p.payload["actions"][0]["block_id"],
            p.payload["message"]["attachments"][0]["blocks"][0]["block_id"]
        );
        assert_eq!(p.user.id, "U0FAKEUSR01");

        // Overrides for negative tests.
        let p = w
            .prepare_click(
                &ClickRequest {
                    team_id: Some("T0OTHER001".into()),
                    value: Some("forged".into()),
                    channel_id: Some("C0FAKE0PRF1".into()),
                    message_ts: Some("1.000001".into()),
                    ..click(&ts, "incident.ack")
                },
                "http://x",
                now,
                Utc::now(),
            )
            .unwrap();
        assert_eq!(p.payload["team"]["id"], "T0OTHER001");
        assert_eq!(p.payload["user"]["team_id"], "T0OTHER001");
        assert_eq!(p.payload["actions"][0]["value"], "forged");
        assert_eq!(p.payload["container"]["channel_id"], "C0FAKE0PRF1");
        assert_eq!(
            p.payload["channel"],
            json!({"id": "C0FAKE0PRF1", "name": "perf"})
        );
        assert_eq!(p.payload["container"]["message_ts"], "1.000001");

        let err = |r: ClickRequest, w: &mut World| {
            w.prepare_click(&r, "http://x", now, Utc::now())
                .unwrap_err()
                .error
        };
        assert_eq!(err(click(&ts, "nope"), &mut w), "no_such_action");
        assert_eq!(
            err(click("1.2", "incident.ack"), &mut w),
            "message_not_found"
        );
        assert_eq!(
            err(
                ClickRequest {
                    user: Some("U0NOBODY01".into()),
                    ..click(&ts, "incident.ack")
                },
                &mut w
            ),
            "user_not_found"
        );
        w.config.interactivity_url = None;
        assert_eq!(
            err(click(&ts, "incident.ack"), &mut w),
            "no_interactivity_url"
        );
    }
}

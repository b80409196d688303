//! The `response_url` of a click (`POST /_fake/response/{id}`), as docs/slack-api.md §9
//! describes it: JSON `{"text", "blocks", "attachments", "response_type":
//! "ephemeral"|"in_channel", "replace_original", "delete_original"}`, answered `200 ok`
//! (plain text, as Slack), usable 5 times within 30 minutes.
//!
//! - `replace_original: true` (unless `response_type` is `ephemeral`) replaces the whole
//!   message (text, blocks and attachments; the old version is kept as an edit);
//!   `delete_original: true` deletes it; `response_type: in_channel` without either posts
//!   a new message (in the original's thread, if it is a reply); anything else is an
//!   ephemeral message, only recorded and shown on the page to the user who clicked.
//! - Refusals, plain text (the fake's choice; Slack's codes for these cases are not
//!   documented): unknown ID `404 no_service`, after 30 minutes `404 expired_url`, a
//!   sixth use `404 used_url`, a body that is not a JSON object `400 invalid_payload`,
//!   nothing to show `400 no_text`, blocks over the limits `400 invalid_blocks`, the
//!   original message gone `404 message_not_found`. Refused requests do not count as uses.

use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::{
    blocks,
    state::{random_alnum, Edit, Message, World},
    Shared,
};

/// How long a `response_url` works (Slack: 30 minutes).
pub(crate) const RESPONSE_URL_TTL: Duration = Duration::from_secs(30 * 60);
/// How often a `response_url` may be used (Slack: 5 times).
pub(crate) const RESPONSE_URL_USES: u32 = 5;
/// Keep the recorded `response_url` messages bounded too.
const MAX_RESPONSES: usize = 1000;

/// A `response_url` handed out with a click.
#[derive(Debug, Clone)]
pub(crate) struct ResponseGrant {
    /// Channel ID and `ts` of the message whose button was clicked.
    pub channel: String,
    pub message_ts: String,
    /// Who clicked.
    pub user: String,
    pub issued: Instant,
    /// Accepted uses so far.
    pub uses: u32,
}

/// One message the app sent to a `response_url`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ResponseRecord {
    pub id: String,
    /// The `response_url`'s ID (the last path segment).
    pub response_url_id: String,
    /// Channel ID and `ts` of the message whose button was clicked.
    pub channel: String,
    pub message_ts: String,
    /// Who clicked (the only one who sees an ephemeral message).
    pub user: String,
    /// As sent (`None` when the app left it out).
    pub response_type: Option<String>,
    pub text: String,
    pub blocks: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Value>>,
    pub replace_original: bool,
    pub delete_original: bool,
    /// Shown only to `user` (neither a replacement, a deletion nor `in_channel`).
    pub ephemeral: bool,
    pub at: DateTime<Utc>,
}

impl World {
    /// A POST to `response_url` `id`: applies it and records it; `Err((status, code))`
    /// when refused (see the module documentation).
    pub(crate) fn respond(
        &mut self,
        id: &str,
        body: &[u8],
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Result<(), (u16, &'static str)> {
        let grant = self
            .response_urls
            .get(id)
            .cloned()
            .ok_or((404, "no_service"))?;
        if now.saturating_duration_since(grant.issued) > RESPONSE_URL_TTL {
            return Err((404, "expired_url"));
        }
        if grant.uses >= RESPONSE_URL_USES {
            return Err((404, "used_url"));
        }
        let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
            return Err((400, "invalid_payload"));
        };
        let flag = |key: &str| match req.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
        let array = |key: &str| -> Result<Option<Vec<Value>>, (u16, &'static str)> {
            match req.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(a)) => Ok(Some(a.clone())),
                Some(_) => Err((400, "invalid_payload")),
            }
        };
        let text = req
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let blocks = array("blocks")?;
        let attachments = array("attachments")?;
        let response_type = req
            .get("response_type")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let replace_original = flag("replace_original");
        let delete_original = flag("delete_original");
        let empty = text.trim().is_empty()
            && blocks.as_ref().is_none_or(Vec::is_empty)
            && attachments.as_ref().is_none_or(Vec::is_empty);
        if !delete_original {
            if empty {
                return Err((400, "no_text"));
            }
            blocks::check_message(blocks.as_deref(), attachments.as_deref())
                .map_err(|_| (400, "invalid_blocks"))?;
        }
        let ci = self
            .find_channel_any(&grant.channel)
            .ok_or((404, "channel_not_found"))?;
        let explicit_ephemeral = response_type.as_deref() == Some("ephemeral");
        let mut ephemeral = false;
        if delete_original {
            if !self
                .delete_message(&grant.channel, &grant.message_ts)
                .unwrap_or(false)
            {
                return Err((404, "message_not_found"));
            }
        } else if replace_original && !explicit_ephemeral {
            let message = self.channels[ci]
                .messages
                .iter_mut()
                .find(|m| m.ts == grant.message_ts)
                .ok_or((404, "message_not_found"))?;
            // The whole message is replaced: what the app leaves out is gone.
            message.edits.push(Edit {
                text: std::mem::replace(&mut message.text, text.clone()),
                blocks: std::mem::replace(&mut message.blocks, blocks.clone()),
                attachments: std::mem::replace(&mut message.attachments, attachments.clone()),
                replaced_at: wall,
            });
        } else if response_type.as_deref() == Some("in_channel") {
            let original = self.channels[ci]
                .messages
                .iter()
                .find(|m| m.ts == grant.message_ts)
                .cloned();
            let ts = self.next_ts(wall);
            self.channels[ci].messages.push(Message {
                ts,
                text: text.clone(),
                blocks: blocks.clone(),
                attachments: attachments.clone(),
                thread_ts: original.as_ref().and_then(|m| m.thread_ts.clone()),
                reply_broadcast: false,
                app_id: self.config.app_id.clone(),
                bot_id: self.config.bot_id.clone(),
                user: self.config.bot_user_id.clone(),
                received_at: wall,
                edits: Vec::new(),
                files: Vec::new(),
            });
        } else {
            ephemeral = true;
        }
        if let Some(g) = self.response_urls.get_mut(id) {
            g.uses += 1;
        }
        if self.responses.len() >= MAX_RESPONSES {
            self.responses.remove(0);
        }
        self.responses.push(ResponseRecord {
            id: format!("R{}", random_alnum(10).to_uppercase()),
            response_url_id: id.to_owned(),
            channel: grant.channel,
            message_ts: grant.message_ts,
            user: grant.user,
            response_type,
            text,
            blocks,
            attachments,
            replace_original,
            delete_original,
            ephemeral,
            at: wall,
        });
        Ok(())
    }
}

/// `POST /_fake/response/{id}`: the app answers a click through its `response_url`.
pub(crate) async fn respond(
    id: web::Path<String>,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let outcome = shared
        .world()
        .respond(&id, &body, Instant::now(), Utc::now());
    let (status, text) = match outcome {
        Ok(()) => (200, "ok"),
        Err((status, code)) => (status, code),
    };
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{click, world_with_card};
    use super::*;

    #[test]
    fn response_url_replaces_deletes_and_expires() {
        let (mut w, ts) = world_with_card();
        let t0 = Instant::now();
        let p = w
            .prepare_click(&click(&ts, "incident.ack"), "http://x", t0, Utc::now())
            .unwrap();
        let id = p.response_url.rsplit('/').next().unwrap().to_owned();
        let post = |w: &mut World, body: Value, at: Instant| {
            w.respond(&id, body.to_string().as_bytes(), at, Utc::now())
        };
        assert_eq!(post(&mut w, json!({"text": "Only you"}), t0), Ok(()));
        assert!(w.responses[0].ephemeral);
        assert_eq!(w.responses[0].user, "U0FAKEUSR01");
        assert_eq!(w.channels[0].messages[0].text, "Incident");
        assert_eq!(post(&mut w, json!({}), t0), Err((400, "no_text")));
        assert_eq!(
            w.respond(&id, b"not json", t0, Utc::now()),
            Err((400, "invalid_payload"))
        );
        let bad = json!({"replace_original": true, "blocks": [{"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "x"}, "style": "blue"}]}]});
        assert_eq!(post(&mut w, bad, t0), Err((400, "invalid_blocks")));
        assert_eq!(
            post(
                &mut w,
                json!({"replace_original": true, "text": "Acknowledged by jane"}),
                t0
            ),
            Ok(())
        );
        let m = &w.channels[0].messages[0];
        assert_eq!(m.text, "Acknowledged by jane");
        assert!(m.blocks.is_none() && m.attachments.is_none());
        assert_eq!(m.edits.len(), 1);
        assert_eq!(
            post(
                &mut w,
                json!({"response_type": "in_channel", "text": "FYI"}),
                t0
            ),
            Ok(())
        );
        assert_eq!(w.channels[0].messages.len(), 2);
        assert_eq!(post(&mut w, json!({"delete_original": true}), t0), Ok(()));
        assert_eq!(w.channels[0].messages.len(), 1);
        assert_eq!(w.channels[0].messages[0].text, "FYI");
        // Five accepted uses, then refused; an unknown ID; 30 minutes later.
        assert_eq!(post(&mut w, json!({"text": "5"}), t0), Ok(()));
        assert_eq!(
            post(&mut w, json!({"text": "6"}), t0),
            Err((404, "used_url"))
        );
        assert_eq!(w.responses.len(), 5);
        assert_eq!(
            w.respond("nope", b"{}", t0, Utc::now()),
            Err((404, "no_service"))
        );
        let (mut w2, ts2) = world_with_card();
        let p = w2
            .prepare_click(&click(&ts2, "incident.ack"), "http://x", t0, Utc::now())
            .unwrap();
        let id2 = p.response_url.rsplit('/').next().unwrap().to_owned();
        assert_eq!(
            w2.respond(
                &id2,
                br#"{"text": "late"}"#,
                t0 + RESPONSE_URL_TTL + Duration::from_secs(1),
                Utc::now()
            ),
            Err((404, "expired_url"))
        );
        assert_eq!(
            w2.user("U0FAKEUSR03").map(|u| u.name),
            Some("alex".to_owned())
        );
    }
}

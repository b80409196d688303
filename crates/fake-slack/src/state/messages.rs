//! `chat.postMessage` and `chat.update` as Slack answers them: the channel, the token's
//! scopes, the message's limits (`blocks::check_message`), truncation with a warning.

use super::*;

impl World {
    pub(super) fn post_message(
        &mut self,
        params: &Params,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Answer {
        let token = self.authed(params)?;
        token.require("chat:write")?;
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

    pub(super) fn update_message(&mut self, params: &Params, wall: DateTime<Utc>) -> Answer {
        let token = self.authed(params)?;
        token.require("chat:write")?;
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
}

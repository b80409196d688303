//! Channels as the Web API shows them: `conversations.info`, `conversations.list` (paged by
//! cursor, with its limits) and `conversations.join`.

use super::*;

impl World {
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

    pub(super) fn conversations_info(&mut self, params: &Params) -> Answer {
        let token = self.authed(params)?;
        // conversations.info takes IDs only; names are not found.
        let ci = self.visible_channel(params.str("channel"), false)?;
        let c = &self.channels[ci];
        let needed = if c.is_private {
            "groups:read"
        } else {
            "channels:read"
        };
        token.require(needed)?;
        Ok(Reply::ok(json!({"channel": self.channel_json(c)})))
    }

    pub(super) fn conversations_list(&mut self, params: &Params) -> Answer {
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
            token.require(needed)?;
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

    pub(super) fn conversations_join(&mut self, params: &Params) -> Answer {
        let token = self.authed(params)?;
        token.require("channels:join")?;
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
}

pub(super) fn encode_cursor(channel_id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("channel:{channel_id}"))
}

pub(super) fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor.trim())
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("channel:")
        .map(str::to_owned)
}

//! `slack_actions`: the requests from Slack already applied, button clicks and Events API
//! events alike, so that a replay or a late retry of one changes nothing. Kept a day
//! (pipeline::retention); Slack retries an event for about five minutes and a signature
//! holds for five.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::slack_actions;
use crate::db::{on_each_backend, DbConnection};

/// The key under which a request is remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionKey(String);

impl ActionKey {
    /// A button click, by what identifies it (workspace, user, channel, message, action,
    /// Slack's `action_ts`): SHA-256 of the parts, so a replay of the same click matches.
    pub fn click(parts: &[&str]) -> Self {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for part in parts {
            h.update(part.as_bytes());
            h.update([0]);
        }
        Self(hex::encode(h.finalize()))
    }

    /// An Events API event of workspace `team_id` (Slack's `event_id` is unique per
    /// workspace).
    pub fn event(team_id: &str, event_id: &str) -> Self {
        Self(format!("event:{team_id}:{event_id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub struct SlackAction;

impl SlackAction {
    /// Records a request as applied; `false` when it was applied before (a replay).
    pub fn record(
        conn: &mut DbConnection,
        key: &ActionKey,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let n = on_each_backend!(conn, c => diesel::insert_into(slack_actions::table)
            .values((
                slack_actions::action_key.eq(key.as_str()),
                slack_actions::received_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c)?);
        Ok(n == 1)
    }
}

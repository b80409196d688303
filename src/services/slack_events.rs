//! What Slack tells us through the Events API (`POST /slack/events`), after the handler
//! verified the signature: lifecycle events revoke installations, channel events keep
//! `slack_channels` current. Every handler here is idempotent: Slack may deliver an event
//! twice and in any order.

use chrono::NaiveDateTime;
use serde::Deserialize;
use serde_json::Value;

use super::Services;
use crate::db::models::channel_directory::ChannelDirectory;
use crate::db::models::installation::Installation;
use crate::db::models::slack_action::{ActionKey, SlackAction};
use crate::db::models::slack_channel::SlackChannel;
use crate::db::{now, write_tx, DbConnection, DbError};
use crate::domain::settings::IntegrationStatus;
use crate::pipeline::channel_directory;
use crate::pipeline::installations;

/// The outer request body: `url_verification` or `event_callback` (other fields ignored).
#[derive(Debug, Deserialize)]
pub struct Envelope {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub challenge: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub event: Option<Value>,
    /// When the event happened (Unix seconds); the same in every retry.
    #[serde(default)]
    pub event_time: Option<i64>,
}

/// An event we act on, parsed from `event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackEvent {
    /// The app was removed from the workspace: every installation there is dead.
    AppUninstalled,
    /// Tokens were revoked; `bot` holds the bot user IDs whose tokens died.
    TokensRevoked {
        bot: Vec<String>,
    },
    /// A public channel was created (added to the workspace's channel directory).
    ChannelCreated {
        channel: String,
        name: String,
    },
    ChannelRename {
        channel: String,
        name: String,
    },
    ChannelArchive {
        channel: String,
    },
    ChannelUnarchive {
        channel: String,
    },
    ChannelDeleted {
        channel: String,
    },
    /// Anything else (answered 200, nothing changes).
    Other(String),
}

impl SlackEvent {
    /// Parses the inner `event` object. Missing fields make an event `Other`.
    pub fn parse(event: &Value) -> SlackEvent {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // `channel` is an ID string in most events and an object in `channel_rename`.
        let channel_id = || {
            event.get("channel").and_then(|c| {
                c.as_str()
                    .or_else(|| c.get("id").and_then(Value::as_str))
                    .map(str::to_owned)
            })
        };
        let parsed = match kind {
            "app_uninstalled" => Some(SlackEvent::AppUninstalled),
            "tokens_revoked" => Some(SlackEvent::TokensRevoked {
                bot: event
                    .pointer("/tokens/bot")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            "channel_created" => channel_id().and_then(|channel| {
                let name = event.pointer("/channel/name").and_then(Value::as_str)?;
                Some(SlackEvent::ChannelCreated {
                    channel,
                    name: name.to_owned(),
                })
            }),
            "channel_rename" => channel_id().and_then(|channel| {
                let name = event.pointer("/channel/name").and_then(Value::as_str)?;
                Some(SlackEvent::ChannelRename {
                    channel,
                    name: name.to_owned(),
                })
            }),
            "channel_archive" => channel_id().map(|channel| SlackEvent::ChannelArchive { channel }),
            "channel_unarchive" => {
                channel_id().map(|channel| SlackEvent::ChannelUnarchive { channel })
            }
            "channel_deleted" => channel_id().map(|channel| SlackEvent::ChannelDeleted { channel }),
            _ => None,
        };
        parsed.unwrap_or_else(|| SlackEvent::Other(kind.to_owned()))
    }

    /// The channel a channel event is about.
    pub fn channel(&self) -> Option<&str> {
        match self {
            Self::ChannelCreated { channel, .. }
            | Self::ChannelRename { channel, .. }
            | Self::ChannelArchive { channel }
            | Self::ChannelUnarchive { channel }
            | Self::ChannelDeleted { channel } => Some(channel),
            _ => None,
        }
    }

    /// The event type, for logs and metrics (unknown types are all `other`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AppUninstalled => "app_uninstalled",
            Self::TokensRevoked { .. } => "tokens_revoked",
            Self::ChannelCreated { .. } => "channel_created",
            Self::ChannelRename { .. } => "channel_rename",
            Self::ChannelArchive { .. } => "channel_archive",
            Self::ChannelUnarchive { .. } => "channel_unarchive",
            Self::ChannelDeleted { .. } => "channel_deleted",
            Self::Other(_) => "other",
        }
    }
}

/// What handling an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Something changed.
    Changed,
    /// Nothing to do (unknown team or channel, unknown event, already in that state).
    Unchanged,
    /// The same `event_id` was applied before (Slack's retry of an event it saw no timely
    /// answer to); nothing was done again.
    Duplicate,
    /// Older than the state it would change (an installation made after the event, a
    /// newer event of the channel applied already); nothing changed.
    Stale,
}

/// Which delivery of which event this is: Slack's `event_id` (unique per workspace, the
/// same in every retry) and `event_time` (when it happened, whole seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery<'a> {
    pub event_id: &'a str,
    pub event_time: Option<i64>,
}

impl Delivery<'_> {
    /// `event_time` as a time, `None` when absent or out of range.
    fn happened_at(&self) -> Option<NaiveDateTime> {
        self.event_time
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.naive_utc())
    }
}

/// Records the event as applied, in the transaction that applies it; `false` when it was
/// applied before (events without an id cannot be told apart and always apply).
fn first_delivery(c: &mut DbConnection, team: &str, event_id: &str) -> diesel::QueryResult<bool> {
    if event_id.is_empty() {
        return Ok(true);
    }
    SlackAction::record(c, &ActionKey::event(team, event_id), now())
}

/// Applies one event of workspace `team_id`, once per `event_id` and never over newer
/// state.
pub async fn apply(
    services: &Services,
    team_id: &str,
    delivery: Delivery<'_>,
    event: SlackEvent,
) -> Result<Handled, DbError> {
    match event {
        SlackEvent::AppUninstalled => {
            revoke(services, team_id, &delivery, "app_uninstalled", None).await
        }
        SlackEvent::TokensRevoked { bot } if bot.is_empty() => {
            // Only user tokens died; the product uses bot tokens.
            Ok(Handled::Unchanged)
        }
        SlackEvent::TokensRevoked { bot } => {
            revoke(services, team_id, &delivery, "tokens_revoked", Some(bot)).await
        }
        SlackEvent::Other(_) => Ok(Handled::Unchanged),
        channel_event => {
            let team = team_id.to_owned();
            let event_id = delivery.event_id.to_owned();
            let at = delivery.happened_at();
            services
                .db
                .run(move |conn| {
                    write_tx(conn, |c| {
                        if !first_delivery(c, &team, &event_id)? {
                            return Ok(Handled::Duplicate);
                        }
                        apply_channel_event(c, &team, &channel_event, at)
                    })
                    .map_err(DbError::from)
                })
                .await
        }
    }
}

/// Applies a channel event inside the caller's transaction, unless a newer event of the
/// same channel was applied already.
fn apply_channel_event(
    c: &mut DbConnection,
    team: &str,
    event: &SlackEvent,
    at: Option<NaiveDateTime>,
) -> diesel::QueryResult<Handled> {
    let Some(channel) = event.channel() else {
        return Ok(Handled::Unchanged);
    };
    if let Some(at) = at {
        if SlackChannel::has_newer_event(c, team, channel, at)? {
            return Ok(Handled::Stale);
        }
    }
    let directory = ChannelDirectory::find(c, team)?;
    let changed = match event {
        SlackEvent::ChannelCreated { channel, name } => {
            // Only workspaces with a directory track every channel.
            if directory.is_none() {
                return Ok(Handled::Unchanged);
            }
            SlackChannel::save(c, team, channel, name, false, false).map(|()| 1)?
        }
        SlackEvent::ChannelRename { channel, name } => {
            SlackChannel::rename(c, team, channel, name).map(|()| 1)?
        }
        other => apply_channel_change(c, team, other)?,
    };
    if let Some(at) = at {
        SlackChannel::set_event_at(c, team, channel, at)?;
    }
    // A new or renamed channel may be a name saved unresolved.
    if directory.is_some_and(|d| d.is_ready())
        && matches!(
            event,
            SlackEvent::ChannelCreated { .. } | SlackEvent::ChannelRename { .. }
        )
    {
        channel_directory::resolve_saved_names(c, team)?;
    }
    Ok(if changed > 0 {
        Handled::Changed
    } else {
        Handled::Unchanged
    })
}

/// Archive, unarchive and delete events: rows changed.
fn apply_channel_change(
    c: &mut crate::db::DbConnection,
    team: &str,
    event: &SlackEvent,
) -> diesel::QueryResult<usize> {
    match event {
        SlackEvent::ChannelArchive { channel } => {
            SlackChannel::set_archived(c, team, channel, true)
        }
        SlackEvent::ChannelUnarchive { channel } => {
            SlackChannel::set_archived(c, team, channel, false)
        }
        SlackEvent::ChannelDeleted { channel } => SlackChannel::mark_deleted(c, team, channel),
        _ => Ok(0),
    }
}

/// Marks the still active installations of `team_id` revoked (those of the listed bot
/// users when `bots` is given), fails their pending deliveries and writes the audit log,
/// all in one transaction; then the pipeline forgets cached settings of each affected
/// organization. An installation made after the event happened is not touched: the event
/// is a late retry about the installation it replaced.
async fn revoke(
    services: &Services,
    team_id: &str,
    delivery: &Delivery<'_>,
    reason: &'static str,
    bots: Option<Vec<String>>,
) -> Result<Handled, DbError> {
    let team = team_id.to_owned();
    let event_id = delivery.event_id.to_owned();
    let event_time = delivery.event_time;
    let (handled, orgs) = services
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                if !first_delivery(c, &team, &event_id)? {
                    return Ok((Handled::Duplicate, Vec::new()));
                }
                let (hit, newer): (Vec<Installation>, Vec<Installation>) =
                    Installation::find_by_team(c, &team)?
                        .into_iter()
                        .filter(|i| i.status() == IntegrationStatus::Active)
                        .filter(|i| match &bots {
                            None => true,
                            // An installation without a recorded bot user cannot be told
                            // apart: assume it is one of them.
                            Some(bots) => i.bot_user_id.is_empty() || bots.contains(&i.bot_user_id),
                        })
                        .partition(|i| !installed_after(i, event_time));
                let mut orgs = Vec::new();
                for inst in &hit {
                    installations::mark_broken(c, inst, reason, &format!("slack ({reason})"))?;
                    if !orgs.contains(&inst.org_id) {
                        orgs.push(inst.org_id.clone());
                    }
                }
                let handled = match (hit.is_empty(), newer.is_empty()) {
                    (false, _) => Handled::Changed,
                    (true, false) => Handled::Stale,
                    (true, true) => Handled::Unchanged,
                };
                Ok::<_, diesel::result::Error>((handled, orgs))
            })
            .map_err(DbError::from)
        })
        .await?;
    for org in &orgs {
        services.effective.invalidate_org(org);
    }
    if handled == Handled::Changed {
        tracing::warn!(
            team_id,
            reason,
            orgs = orgs.len(),
            "Slack installations revoked by Slack"
        );
    }
    Ok(handled)
}

/// Whether `inst` was made after an event of `event_time` (whole seconds, so an
/// installation of the event's own second counts as before it: an uninstall right after
/// an install still applies).
fn installed_after(inst: &Installation, event_time: Option<i64>) -> bool {
    event_time.is_some_and(|t| inst.installed_at.and_utc().timestamp() > t)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_parse_from_slack_shapes() {
        let cases = [
            (
                json!({"type": "app_uninstalled"}),
                SlackEvent::AppUninstalled,
            ),
            (
                json!({"type": "tokens_revoked", "tokens": {"oauth": ["U1"], "bot": ["U2"]}}),
                SlackEvent::TokensRevoked {
                    bot: vec!["U2".into()],
                },
            ),
            (
                json!({"type": "tokens_revoked", "tokens": {"oauth": ["U1"]}}),
                SlackEvent::TokensRevoked { bot: vec![] },
            ),
            (
                json!({"type": "channel_rename", "channel": {"id": "C1", "name": "new", "created": 1}}),
                SlackEvent::ChannelRename {
                    channel: "C1".into(),
                    name: "new".into(),
                },
            ),
            (
                json!({"type": "channel_archive", "channel": "C1", "user": "U1"}),
                SlackEvent::ChannelArchive {
                    channel: "C1".into(),
                },
            ),
            (
                json!({"type": "channel_unarchive", "channel": "C1"}),
                SlackEvent::ChannelUnarchive {
                    channel: "C1".into(),
                },
            ),
            (
                json!({"type": "channel_deleted", "channel": "C1"}),
                SlackEvent::ChannelDeleted {
                    channel: "C1".into(),
                },
            ),
            (
                json!({"type": "channel_archive"}),
                SlackEvent::Other("channel_archive".into()),
            ),
            (
                json!({"type": "message", "text": "hi"}),
                SlackEvent::Other("message".into()),
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(SlackEvent::parse(&event), expected, "{event}");
        }
        assert_eq!(SlackEvent::Other("x".into()).kind(), "other");
    }
}

//! `slack_channels`: what we learned about Slack channels (names, privacy, archival), so
//! the API can show current names for stored channel IDs.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::slack_channels;
use crate::db::{now, on_each_backend, DbConnection, FirstRowDsl};

#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = slack_channels)]
pub struct SlackChannel {
    pub team_id: String,
    pub channel_id: String,
    pub name: String,
    pub is_private: bool,
    pub is_archived: bool,
    pub is_deleted: bool,
    pub checked_at: NaiveDateTime,
    /// The `event_time` of the last Events API event applied to the channel.
    pub event_at: Option<NaiveDateTime>,
}

impl SlackChannel {
    pub fn find_by_id(
        conn: &mut DbConnection,
        team_id: &str,
        channel_id: &str,
    ) -> QueryResult<Option<Self>> {
        slack_channels::table
            .find((team_id, channel_id))
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// The ID of the live public channel named `name` (without `#`) in a workspace.
    pub fn id_by_name(
        conn: &mut DbConnection,
        team_id: &str,
        name: &str,
    ) -> QueryResult<Option<String>> {
        slack_channels::table
            .filter(slack_channels::team_id.eq(team_id))
            .filter(slack_channels::name.eq(name))
            .filter(slack_channels::is_deleted.eq(false))
            .filter(slack_channels::is_private.eq(false))
            .select(slack_channels::channel_id)
            .first_row(conn)
            .optional()
    }

    /// The known channels with these IDs, in any workspace (Slack channel IDs are unique).
    pub fn find_by_channel_ids(
        conn: &mut DbConnection,
        channel_ids: &[String],
    ) -> QueryResult<Vec<Self>> {
        if channel_ids.is_empty() {
            return Ok(Vec::new());
        }
        slack_channels::table
            .filter(slack_channels::channel_id.eq_any(channel_ids))
            .select(Self::as_select())
            .load(conn)
    }

    /// Public channels of a workspace last seen before `since` (a directory pass that began
    /// then did not list them): marked deleted. Returns how many.
    pub fn mark_unlisted_deleted(
        conn: &mut DbConnection,
        team_id: &str,
        since: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            slack_channels::table
                .filter(slack_channels::team_id.eq(team_id))
                .filter(slack_channels::is_private.eq(false))
                .filter(slack_channels::is_deleted.eq(false))
                .filter(slack_channels::checked_at.lt(since)),
        )
        .set(slack_channels::is_deleted.eq(true))
        .execute(conn)
    }

    /// How many channels of a workspace the directory holds (deleted ones left out).
    pub fn count_listed(conn: &mut DbConnection, team_id: &str) -> QueryResult<i64> {
        slack_channels::table
            .filter(slack_channels::team_id.eq(team_id))
            .filter(slack_channels::is_deleted.eq(false))
            .count()
            .get_result(conn)
    }

    /// Records what Slack said about a channel: one upsert, so two transactions recording
    /// the same new channel at once (the directory's build and a save resolving a name, on
    /// PostgreSQL) do not fail on the key: the second waits and updates.
    pub fn save(
        conn: &mut DbConnection,
        team_id: &str,
        channel_id: &str,
        name: &str,
        is_private: bool,
        is_archived: bool,
    ) -> QueryResult<()> {
        let now = now();
        let values = (
            slack_channels::team_id.eq(team_id),
            slack_channels::channel_id.eq(channel_id),
            slack_channels::name.eq(name),
            slack_channels::is_private.eq(is_private),
            slack_channels::is_archived.eq(is_archived),
            slack_channels::is_deleted.eq(false),
            slack_channels::checked_at.eq(now),
        );
        let changed = (
            slack_channels::name.eq(name),
            slack_channels::is_private.eq(is_private),
            slack_channels::is_archived.eq(is_archived),
            slack_channels::is_deleted.eq(false),
            slack_channels::checked_at.eq(now),
        );
        on_each_backend!(conn, c => diesel::insert_into(slack_channels::table)
            .values(values)
            .on_conflict((slack_channels::team_id, slack_channels::channel_id))
            .do_update()
            .set(changed)
            .execute(c))?;
        Ok(())
    }

    /// A channel was renamed (`channel_rename`): the new name, inserted when unknown.
    pub fn rename(
        conn: &mut DbConnection,
        team_id: &str,
        channel_id: &str,
        name: &str,
    ) -> QueryResult<()> {
        let updated = diesel::update(slack_channels::table.find((team_id, channel_id)))
            .set((
                slack_channels::name.eq(name),
                slack_channels::checked_at.eq(now()),
            ))
            .execute(conn)?;
        if updated == 0 {
            // `channel_*` events are about public channels.
            Self::save(conn, team_id, channel_id, name, false, false)?;
        }
        Ok(())
    }

    /// A known channel was archived or unarchived; unknown channels are left alone (we
    /// only track channels someone configured). Returns the rows changed.
    pub fn set_archived(
        conn: &mut DbConnection,
        team_id: &str,
        channel_id: &str,
        archived: bool,
    ) -> QueryResult<usize> {
        diesel::update(slack_channels::table.find((team_id, channel_id)))
            .set((
                slack_channels::is_archived.eq(archived),
                slack_channels::checked_at.eq(now()),
            ))
            .execute(conn)
    }

    /// A known channel was deleted, or Slack no longer shows it to the app.
    pub fn mark_deleted(
        conn: &mut DbConnection,
        team_id: &str,
        channel_id: &str,
    ) -> QueryResult<usize> {
        diesel::update(slack_channels::table.find((team_id, channel_id)))
            .set((
                slack_channels::is_deleted.eq(true),
                slack_channels::checked_at.eq(now()),
            ))
            .execute(conn)
    }

    /// Whether an event of the channel newer than `at` was applied already (a late retry
    /// or a delayed event must not roll the channel back).
    pub fn has_newer_event(
        conn: &mut DbConnection,
        team_id: &str,
        channel_id: &str,
        at: NaiveDateTime,
    ) -> QueryResult<bool> {
        let last: Option<Option<NaiveDateTime>> = slack_channels::table
            .find((team_id, channel_id))
            .select(slack_channels::event_at)
            .first_row(conn)
            .optional()?;
        Ok(last.flatten().is_some_and(|last| last > at))
    }

    /// Remembers `at` as the time of the last event applied to the channel (a known one).
    pub fn set_event_at(
        conn: &mut DbConnection,
        team_id: &str,
        channel_id: &str,
        at: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(slack_channels::table.find((team_id, channel_id)))
            .set(slack_channels::event_at.eq(Some(at)))
            .execute(conn)
    }

    /// What is wrong with this channel as a target, if anything (worst first).
    pub fn problem(&self) -> Option<&'static str> {
        if self.is_deleted {
            Some("deleted")
        } else if self.is_archived {
            Some("archived")
        } else if self.is_private {
            Some("private")
        } else {
            None
        }
    }
}

impl SlackChannel {
    /// The workspace's known channels with these names (deleted ones left out).
    pub fn find_by_names(
        conn: &mut DbConnection,
        team_id: &str,
        names: &[String],
    ) -> QueryResult<Vec<Self>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        slack_channels::table
            .filter(slack_channels::team_id.eq(team_id))
            .filter(slack_channels::name.eq_any(names))
            .filter(slack_channels::is_deleted.eq(false))
            .select(Self::as_select())
            .load(conn)
    }

    /// As the `slack::Channel` Slack would list (for name resolution).
    pub fn to_slack(&self) -> crate::slack::Channel {
        crate::slack::Channel {
            id: self.channel_id.clone(),
            name: self.name.clone(),
            is_channel: true,
            is_private: self.is_private,
            is_archived: self.is_archived,
            ..Default::default()
        }
    }
}

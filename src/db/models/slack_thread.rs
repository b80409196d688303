//! `slack_threads`: the parent message of each subject (load test, monitoring incident)
//! per channel, and what its run card currently shows.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::slack_threads;
use crate::db::{now, CachedDsl, DbConnection, FirstRowDsl};

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
// None is a bound NULL, not DEFAULT: one SQL text per statement, so it stays prepared.
#[diesel(table_name = slack_threads, treat_none_as_default_value = false)]
pub struct SlackThread {
    pub subject_key: String,
    pub team_id: String,
    pub channel: String,
    pub parent_ts: String,
    /// JSON: the card's data (see `pipeline::render`).
    pub card: String,
    pub updated_at: NaiveDateTime,
}

impl SlackThread {
    pub fn find(
        conn: &mut DbConnection,
        subject_key: &str,
        team_id: &str,
        channel: &str,
    ) -> QueryResult<Option<Self>> {
        slack_threads::table
            .find((subject_key, team_id, channel))
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// The thread whose parent (card) is message `parent_ts` in a workspace.
    pub fn find_by_parent(
        conn: &mut DbConnection,
        team_id: &str,
        parent_ts: &str,
    ) -> QueryResult<Vec<Self>> {
        slack_threads::table
            .filter(slack_threads::team_id.eq(team_id))
            .filter(slack_threads::parent_ts.eq(parent_ts))
            .select(Self::as_select())
            .load(conn)
    }

    /// Which of `subject_keys` have a card in this workspace's channel.
    pub fn subjects_with_card(
        conn: &mut DbConnection,
        team_id: &str,
        channel: &str,
        subject_keys: &[String],
    ) -> QueryResult<Vec<String>> {
        if subject_keys.is_empty() {
            return Ok(Vec::new());
        }
        slack_threads::table
            .filter(slack_threads::team_id.eq(team_id))
            .filter(slack_threads::channel.eq(channel))
            .filter(slack_threads::subject_key.eq_any(subject_keys))
            .select(slack_threads::subject_key)
            .load(conn)
    }

    /// Every card of a subject (one per workspace and channel).
    pub fn list_for_subject(conn: &mut DbConnection, subject_key: &str) -> QueryResult<Vec<Self>> {
        slack_threads::table
            .filter(slack_threads::subject_key.eq(subject_key))
            .select(Self::as_select())
            .load(conn)
    }

    pub fn insert(conn: &mut DbConnection, row: &Self) -> QueryResult<()> {
        diesel::insert_into(slack_threads::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    pub fn save_card(
        conn: &mut DbConnection,
        subject_key: &str,
        team_id: &str,
        channel: &str,
        card: &str,
    ) -> QueryResult<()> {
        diesel::update(slack_threads::table.find((subject_key, team_id, channel)))
            .set((
                slack_threads::card.eq(card),
                slack_threads::updated_at.eq(now()),
            ))
            .returning(slack_threads::updated_at)
            .cached()
            .load::<chrono::NaiveDateTime>(conn)?;
        Ok(())
    }

    /// The card was deleted in Slack and posted again: the thread continues under
    /// `parent_ts`, showing `card`.
    pub fn replace_parent(
        conn: &mut DbConnection,
        subject_key: &str,
        team_id: &str,
        channel: &str,
        parent_ts: &str,
        card: &str,
    ) -> QueryResult<()> {
        diesel::update(slack_threads::table.find((subject_key, team_id, channel)))
            .set((
                slack_threads::parent_ts.eq(parent_ts),
                slack_threads::card.eq(card),
                slack_threads::updated_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    }
}

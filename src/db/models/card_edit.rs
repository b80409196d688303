//! `card_edits`: run-card edits (`chat.update`) waiting to go out, one row per card holding
//! its latest state (so pending edits of a card collapse into one), and `workspace_pacing`,
//! which spaces them per Slack workspace (by the rule of `domain::pacing`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{card_edits, workspace_pacing};
use crate::db::{DbConnection, FirstRowDsl};
use crate::domain::pacing::Pacing;

/// The Web API method `workspace_pacing` rows of card edits are kept under.
pub const CHAT_UPDATE: &str = "chat.update";

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
// None is a bound NULL, not DEFAULT: one SQL text per statement, so it stays prepared.
#[diesel(table_name = card_edits, treat_none_as_default_value = false)]
pub struct CardEdit {
    pub subject_key: String,
    pub team_id: String,
    pub channel: String,
    /// The channel ID Slack answered with (`chat.update` needs it).
    pub slack_channel: String,
    pub installation_id: String,
    pub org_id: String,
    pub project_id: String,
    pub compact: bool,
    /// JSON: the card's data (see `pipeline::render::Card`).
    pub card: String,
    /// Bumped by every write; a send settles only the revision it sent.
    pub revision: i64,
    pub due_at: NaiveDateTime,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub claimed_by: Option<String>,
    /// When the oldest unsent write was made.
    pub created_at: NaiveDateTime,
}

/// Where a card is and how it is edited: the fields of a new [`CardEdit`] besides its state.
#[derive(Debug, Clone)]
pub struct CardPlace<'a> {
    pub subject_key: &'a str,
    pub team_id: &'a str,
    pub channel: &'a str,
    /// The channel ID for `chat.update` (a `#name` keeps an ID learned earlier).
    pub slack_channel: &'a str,
    pub installation_id: &'a str,
    pub org_id: &'a str,
    pub project_id: &'a str,
    pub compact: bool,
}

impl CardEdit {
    /// A new edit of the card at `place` to show `card`, due at `now`.
    pub fn due_now(place: &CardPlace<'_>, card: String, now: NaiveDateTime) -> Self {
        Self {
            subject_key: place.subject_key.to_owned(),
            team_id: place.team_id.to_owned(),
            channel: place.channel.to_owned(),
            slack_channel: place.slack_channel.to_owned(),
            installation_id: place.installation_id.to_owned(),
            org_id: place.org_id.to_owned(),
            project_id: place.project_id.to_owned(),
            compact: place.compact,
            card,
            revision: 1,
            due_at: now,
            attempts: 0,
            last_error: None,
            claimed_until: None,
            claimed_by: None,
            created_at: now,
        }
    }

    /// The card's key.
    pub fn key(&self) -> (String, String, String) {
        (
            self.subject_key.clone(),
            self.team_id.clone(),
            self.channel.clone(),
        )
    }

    /// Records the card's latest state: a new edit due now, or the pending one of the same
    /// card replaced (it keeps its due time, so a `Retry-After` still holds). Call inside
    /// `write_tx`.
    pub fn upsert(conn: &mut DbConnection, row: &CardEdit) -> QueryResult<()> {
        use diesel::upsert::excluded;
        // One statement: read-then-update lost the write when a settle deleted the row in
        // between (PostgreSQL); `ON CONFLICT` inserts it again instead.
        macro_rules! upsert {
            ($c:expr $(, $also:expr)*) => {
                diesel::insert_into(card_edits::table)
                    .values(row)
                    .on_conflict((
                        card_edits::subject_key,
                        card_edits::team_id,
                        card_edits::channel,
                    ))
                    .do_update()
                    .set((
                        card_edits::card.eq(excluded(card_edits::card)),
                        card_edits::compact.eq(excluded(card_edits::compact)),
                        card_edits::installation_id.eq(excluded(card_edits::installation_id)),
                        card_edits::revision.eq(card_edits::revision + 1),
                        $($also,)*
                    ))
                    .execute($c)
            };
        }
        // Keep the channel ID an earlier write learned from Slack over a `#name`.
        let learned = row.slack_channel.starts_with('#');
        let slack_channel = card_edits::slack_channel.eq(excluded(card_edits::slack_channel));
        match conn {
            DbConnection::Postgresql(c) if learned => upsert!(c)?,
            DbConnection::Postgresql(c) => upsert!(c, slack_channel)?,
            DbConnection::Sqlite(c) if learned => upsert!(c)?,
            DbConnection::Sqlite(c) => upsert!(c, slack_channel)?,
        };
        Ok(())
    }

    /// Claims up to `limit` due edits with a lease, at most what each workspace's pacing
    /// allows now; an edit of a workspace paced right now has its due time moved to when
    /// the workspace may edit again. Call inside `write_tx`.
    pub fn claim_due(
        conn: &mut DbConnection,
        now: NaiveDateTime,
        lease: chrono::Duration,
        instance: &str,
        limit: i64,
        pacing: Pacing,
    ) -> QueryResult<Vec<CardEdit>> {
        let due = card_edits::table
            .filter(card_edits::due_at.le(now))
            .filter(
                card_edits::claimed_until
                    .is_null()
                    .or(card_edits::claimed_until.lt(now)),
            )
            .order(card_edits::due_at)
            .limit(limit * 4)
            .select(CardEdit::as_select())
            .load::<CardEdit>(conn)?;
        let mut claimed = Vec::new();
        for mut edit in due {
            if claimed.len() as i64 >= limit {
                break;
            }
            let tat = pacing_of(conn, &edit.team_id)?;
            let allowed_at = tat.map(|t| pacing.allowed_at(t));
            if let Some(at) = allowed_at.filter(|at| *at > now) {
                diesel::update(card_edits::table.find(edit.key()))
                    .set(card_edits::due_at.eq(at))
                    .execute(conn)?;
                continue;
            }
            let n = diesel::update(
                card_edits::table.find(edit.key()).filter(
                    card_edits::claimed_until
                        .is_null()
                        .or(card_edits::claimed_until.lt(now)),
                ),
            )
            .set((
                card_edits::claimed_until.eq(now + lease),
                card_edits::claimed_by.eq(instance),
                card_edits::attempts.eq(card_edits::attempts + 1),
            ))
            .execute(conn)?;
            if n == 0 {
                continue;
            }
            let next = pacing.after_send(tat, now);
            set_pacing(conn, &edit.team_id, tat.is_some(), next)?;
            edit.attempts += 1;
            claimed.push(edit);
        }
        Ok(claimed)
    }

    /// The edit went out: done, unless the card changed meanwhile (then the newer state is
    /// due now).
    pub fn settle(conn: &mut DbConnection, edit: &CardEdit, now: NaiveDateTime) -> QueryResult<()> {
        let n = diesel::delete(
            card_edits::table
                .find(edit.key())
                .filter(card_edits::revision.eq(edit.revision)),
        )
        .execute(conn)?;
        if n == 0 {
            diesel::update(card_edits::table.find(edit.key()))
                .set((
                    card_edits::claimed_until.eq(None::<NaiveDateTime>),
                    card_edits::claimed_by.eq(None::<String>),
                    card_edits::attempts.eq(0),
                    card_edits::last_error.eq(None::<String>),
                    card_edits::due_at.eq(now),
                    card_edits::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    /// Try again at `at`.
    pub fn reschedule(
        conn: &mut DbConnection,
        edit: &CardEdit,
        at: NaiveDateTime,
        error: &str,
    ) -> QueryResult<()> {
        diesel::update(card_edits::table.find(edit.key()))
            .set((
                card_edits::claimed_until.eq(None::<NaiveDateTime>),
                card_edits::claimed_by.eq(None::<String>),
                card_edits::last_error.eq(error),
                card_edits::due_at.eq(at),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Drops the card's pending edit (the card is gone, replaced or cannot be edited).
    pub fn delete(
        conn: &mut DbConnection,
        subject_key: &str,
        team_id: &str,
        channel: &str,
    ) -> QueryResult<usize> {
        diesel::delete(card_edits::table.find((subject_key, team_id, channel))).execute(conn)
    }

    /// Hands back every claim (SQLite at start: the previous run's claims are void).
    pub fn release_all_claims(conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::update(card_edits::table.filter(card_edits::claimed_until.is_not_null()))
            .set((
                card_edits::claimed_until.eq(None::<NaiveDateTime>),
                card_edits::claimed_by.eq(None::<String>),
            ))
            .execute(conn)
    }

    /// Pending edits (for tests and metrics).
    pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
        card_edits::table.count().get_result(conn)
    }
}

fn pacing_of(conn: &mut DbConnection, team: &str) -> QueryResult<Option<NaiveDateTime>> {
    workspace_pacing::table
        .find((team, CHAT_UPDATE))
        .select(workspace_pacing::next_allowed_at)
        .first_row(conn)
        .optional()
}

fn set_pacing(
    conn: &mut DbConnection,
    team: &str,
    exists: bool,
    next: NaiveDateTime,
) -> QueryResult<()> {
    if exists {
        diesel::update(workspace_pacing::table.find((team, CHAT_UPDATE)))
            .set(workspace_pacing::next_allowed_at.eq(next))
            .execute(conn)?;
    } else {
        diesel::insert_into(workspace_pacing::table)
            .values((
                workspace_pacing::team_id.eq(team),
                workspace_pacing::method.eq(CHAT_UPDATE),
                workspace_pacing::next_allowed_at.eq(next),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// After a 429 for `chat.update`: no card edit goes to this workspace before `until`
/// (no burst either).
pub fn block_workspace(
    conn: &mut DbConnection,
    team: &str,
    until: NaiveDateTime,
    pacing: Pacing,
) -> QueryResult<()> {
    let exists = pacing_of(conn, team)?.is_some();
    set_pacing(conn, team, exists, pacing.blocked_until(until))
}

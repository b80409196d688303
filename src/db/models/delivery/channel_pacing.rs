//! `channel_pacing`: each channel's theoretical arrival time, moved by the rule of
//! `domain::pacing` as the sender claims for the channel or Slack answers 429.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::channel_pacing;
use crate::db::{on_each_backend, CachedDsl, DbConnection, FirstRowDsl};
use crate::domain::pacing::Pacing;

fn tat(conn: &mut DbConnection, team: &str, channel: &str) -> QueryResult<Option<NaiveDateTime>> {
    channel_pacing::table
        .find((team, channel))
        .select(channel_pacing::next_allowed_at)
        .first_row(conn)
        .optional()
}

/// A send to the channel at `now`: its theoretical arrival time moves one interval on.
pub(super) fn advance(
    conn: &mut DbConnection,
    team: &str,
    channel: &str,
    now: NaiveDateTime,
    pacing: Pacing,
) -> QueryResult<()> {
    let current = tat(conn, team, channel)?;
    advance_from(conn, team, channel, current, now, pacing)
}

/// [`advance`] with the TAT already read in this transaction (`tat`: `None`, no row yet).
pub(super) fn advance_from(
    conn: &mut DbConnection,
    team: &str,
    channel: &str,
    tat: Option<NaiveDateTime>,
    now: NaiveDateTime,
    pacing: Pacing,
) -> QueryResult<()> {
    set(
        conn,
        team,
        channel,
        tat.is_some(),
        pacing.after_send(tat, now),
    )
}

fn set(
    conn: &mut DbConnection,
    team: &str,
    channel: &str,
    exists: bool,
    next: NaiveDateTime,
) -> QueryResult<()> {
    if exists {
        on_each_backend!(conn, c => diesel::update(channel_pacing::table.find((team, channel)))
            .set(channel_pacing::next_allowed_at.eq(next))
            .returning(channel_pacing::next_allowed_at)
            .cached()
            .load::<NaiveDateTime>(c))?;
    } else {
        on_each_backend!(conn, c => diesel::insert_into(channel_pacing::table)
            .values((
                channel_pacing::team_id.eq(team),
                channel_pacing::channel.eq(channel),
                channel_pacing::next_allowed_at.eq(next),
            ))
            .execute(c))?;
    }
    Ok(())
}

/// After a 429: nothing more goes to this channel before `until` (no burst either).
pub fn block_channel(
    conn: &mut DbConnection,
    team: &str,
    channel: &str,
    until: NaiveDateTime,
    pacing: Pacing,
) -> QueryResult<()> {
    let exists = tat(conn, team, channel)?.is_some();
    set(conn, team, channel, exists, pacing.blocked_until(until))
}

//! `channel_directories`: per Slack workspace, how far its channel directory is built.
//! The directory's channels are the workspace's rows of `slack_channels`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::channel_directories;
use crate::db::{now, DbConnection, FirstRowDsl};

/// How far a workspace's directory is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum DirectoryStatus {
    /// Still listing the workspace (names not listed yet cannot be checked).
    Building,
    /// Every page listed; kept current by channel events.
    Ready,
}

impl DirectoryStatus {
    pub const ALL: [Self; 2] = [Self::Building, Self::Ready];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Building => "building",
            Self::Ready => "ready",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

crate::db::text_enum!(DirectoryStatus);

#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = channel_directories)]
pub struct ChannelDirectory {
    pub team_id: String,
    pub status: DirectoryStatus,
    pub cursor: Option<String>,
    pub pages: i32,
    pub updated_at: NaiveDateTime,
    /// When the current listing pass began.
    pub pass_started_at: Option<NaiveDateTime>,
}

impl ChannelDirectory {
    pub fn find(conn: &mut DbConnection, team_id: &str) -> QueryResult<Option<Self>> {
        channel_directories::table
            .find(team_id)
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    pub fn list_all(conn: &mut DbConnection) -> QueryResult<Vec<Self>> {
        channel_directories::table
            .select(Self::as_select())
            .order(channel_directories::team_id)
            .load(conn)
    }

    pub fn is_ready(&self) -> bool {
        self.status == DirectoryStatus::Ready
    }

    /// Starts a (re)build from the first page. A rebuild of a ready directory keeps it
    /// `ready` (its channels stay usable, events keep them current) until the new pass ends.
    pub fn start(conn: &mut DbConnection, team_id: &str) -> QueryResult<()> {
        let updated = diesel::update(channel_directories::table.find(team_id))
            .set((
                channel_directories::cursor.eq(None::<String>),
                channel_directories::pages.eq(0),
                channel_directories::updated_at.eq(now()),
                channel_directories::pass_started_at.eq(Some(now())),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(channel_directories::table)
                .values((
                    channel_directories::team_id.eq(team_id),
                    channel_directories::status.eq(DirectoryStatus::Building),
                    channel_directories::cursor.eq(None::<String>),
                    channel_directories::pages.eq(0),
                    channel_directories::updated_at.eq(now()),
                    channel_directories::pass_started_at.eq(Some(now())),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    /// One more page listed; `next` is the cursor of the following page (`None`: done).
    pub fn advance(
        conn: &mut DbConnection,
        team_id: &str,
        pages: i32,
        next: Option<&str>,
    ) -> QueryResult<()> {
        let mut status = None;
        if next.is_none() {
            status = Some(DirectoryStatus::Ready);
        }
        let q = diesel::update(channel_directories::table.find(team_id));
        match status {
            Some(s) => q
                .set((
                    channel_directories::status.eq(s),
                    channel_directories::cursor.eq(None::<String>),
                    channel_directories::pages.eq(pages),
                    channel_directories::updated_at.eq(now()),
                ))
                .execute(conn)?,
            None => q
                .set((
                    channel_directories::cursor.eq(next),
                    channel_directories::pages.eq(pages),
                    channel_directories::updated_at.eq(now()),
                ))
                .execute(conn)?,
        };
        Ok(())
    }
}

//! Reads of the `deliveries` outbox for people: the delivery log of the API and the UI
//! (with the names of subjects and channels), and the plain lists tests use. The writes,
//! claims and pacing of the outbox are in [`super::delivery`].

use std::collections::HashMap;

use diesel::prelude::*;

use super::delivery::{Delivery, DeliveryStatus};
use crate::db::schema::{deliveries, load_tests, scenarios, slack_channels};
use crate::db::{DbConnection, FirstRowDsl};

/// Which deliveries a delivery log lists: an organization's, optionally of one project and
/// of one status, newest first.
#[derive(Clone, Copy, Debug)]
pub struct LogFilter<'a> {
    pub org: &'a str,
    pub project: Option<&'a str>,
    pub status: Option<DeliveryStatus>,
    pub limit: i64,
}

/// A delivery with the names the log shows for it.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub delivery: Delivery,
    /// What the delivery is about: `load_test` or `scenario`.
    pub subject_kind: Option<&'static str>,
    /// The load test's or scenario's name.
    pub subject_name: Option<String>,
    /// The channel's current name as Slack last reported it (`slack_channels`, kept
    /// current by Slack's rename events), without `#`.
    pub current_channel_name: Option<String>,
}

impl Delivery {
    /// The name a channel (ID) of a workspace was last shown under in the log: the
    /// `channel_name` of the newest of its deliveries of a subject that has one (the card's,
    /// typed as a target channel), for rows made later without a typed name (replies in
    /// the card's thread: acknowledge, mute).
    pub fn shown_channel_name(
        conn: &mut DbConnection,
        subject_key: &str,
        team_id: &str,
        channel: &str,
    ) -> QueryResult<Option<String>> {
        let name: Option<Option<String>> = deliveries::table
            .filter(deliveries::team_id.eq(team_id))
            .filter(deliveries::channel.eq(channel))
            .filter(deliveries::subject_key.eq(subject_key))
            .filter(deliveries::channel_name.is_not_null())
            .order(deliveries::id.desc())
            .select(deliveries::channel_name)
            .first_row(conn)
            .optional()?;
        Ok(name.flatten())
    }

    /// The channel (address, name) of the message of `subject_key` that Slack knows as
    /// `slack_ts` in this workspace, if we posted one.
    pub fn posted_message(
        conn: &mut DbConnection,
        subject_key: &str,
        team_id: &str,
        slack_ts: &str,
    ) -> QueryResult<Option<(String, Option<String>)>> {
        deliveries::table
            .filter(deliveries::subject_key.eq(subject_key))
            .filter(deliveries::team_id.eq(team_id))
            .filter(deliveries::slack_ts.eq(slack_ts))
            .select((deliveries::channel, deliveries::channel_name))
            .first_row(conn)
            .optional()
    }

    /// The delivery log of a project, newest first.
    pub fn list_by_project(
        conn: &mut DbConnection,
        org: &str,
        project: &str,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        deliveries::table
            .filter(deliveries::org_id.eq(org))
            .filter(deliveries::project_id.eq(project))
            .order(deliveries::id.desc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)
    }

    /// Deliveries of one event (tests and diagnostics).
    pub fn list_by_event(conn: &mut DbConnection, event_id: &str) -> QueryResult<Vec<Self>> {
        deliveries::table
            .filter(deliveries::event_id.eq(event_id))
            .order(deliveries::id.asc())
            .select(Self::as_select())
            .load(conn)
    }

    /// The delivery log: deliveries matching `filter`, newest first, with the names of
    /// their subjects and channels (three indexed look-ups, whatever the length).
    pub fn list_log(conn: &mut DbConnection, filter: LogFilter<'_>) -> QueryResult<Vec<LogEntry>> {
        let mut query = deliveries::table
            .filter(deliveries::org_id.eq(filter.org))
            .into_boxed();
        if let Some(p) = filter.project {
            query = query.filter(deliveries::project_id.eq(p));
        }
        if let Some(s) = filter.status {
            query = query.filter(deliveries::status.eq(s));
        }
        let rows: Vec<Self> = query
            .order(deliveries::id.desc())
            .limit(filter.limit)
            .select(Self::as_select())
            .load(conn)?;

        let ids_of = |kind: &str| {
            let mut ids: Vec<String> = rows
                .iter()
                .filter_map(|d| {
                    crate::domain::ids::SubjectKey::subject_of(&d.subject_key)
                        .map(|(k, id)| (k.as_str(), id))
                })
                .filter(|(k, _)| *k == kind)
                .map(|(_, id)| id.to_owned())
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let (lt_ids, sc_ids) = (ids_of("load_test"), ids_of("scenario"));
        let mut names: HashMap<(&'static str, String), String> = HashMap::new();
        if !lt_ids.is_empty() {
            let found: Vec<(String, String)> = load_tests::table
                .filter(load_tests::id.eq_any(&lt_ids))
                .select((load_tests::id, load_tests::name))
                .load(conn)?;
            names.extend(found.into_iter().map(|(id, n)| (("load_test", id), n)));
        }
        if !sc_ids.is_empty() {
            let found: Vec<(String, String)> = scenarios::table
                .filter(scenarios::id.eq_any(&sc_ids))
                .select((scenarios::id, scenarios::name))
                .load(conn)?;
            names.extend(found.into_iter().map(|(id, n)| (("scenario", id), n)));
        }

        // Stored channel IDs (a name typed before the integration existed starts with #).
        let mut channel_ids: Vec<String> = rows
            .iter()
            .filter(|d| d.team_id.is_some() && !d.channel.is_empty() && !d.channel.starts_with('#'))
            .map(|d| d.channel.clone())
            .collect();
        channel_ids.sort();
        channel_ids.dedup();
        let channels: HashMap<(String, String), String> = if channel_ids.is_empty() {
            HashMap::new()
        } else {
            slack_channels::table
                .filter(slack_channels::channel_id.eq_any(&channel_ids))
                .select((
                    slack_channels::team_id,
                    slack_channels::channel_id,
                    slack_channels::name,
                ))
                .load::<(String, String, String)>(conn)?
                .into_iter()
                .map(|(team, id, name)| ((team, id), name))
                .collect()
        };

        Ok(rows
            .into_iter()
            .map(|d| {
                let subject = crate::domain::ids::SubjectKey::subject_of(&d.subject_key)
                    .map(|(k, id)| (k.as_str(), id));
                let subject_name =
                    subject.and_then(|(k, id)| names.get(&(k, id.to_owned())).cloned());
                let current_channel_name = d
                    .team_id
                    .clone()
                    .and_then(|team| channels.get(&(team, d.channel.clone())).cloned());
                LogEntry {
                    subject_kind: subject.map(|(k, _)| k),
                    subject_name,
                    current_channel_name,
                    delivery: d,
                }
            })
            .collect())
    }
}

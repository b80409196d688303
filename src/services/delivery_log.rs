//! The delivery log as admins see it (the JSON API and the web UI alike): a project's, or an
//! organization's across its projects, deliveries of events and "Send Test Message" results
//! together, newest first, each with the subject's name, the channel's current name and a
//! sentence saying what happened and what to do; and the incidents muted from Slack.

use chrono::{NaiveDateTime, SecondsFormat};
use serde::Serialize;

use super::slack_config::ConfigError;
use super::Services;
use crate::db::models::delivery::{Delivery, DeliveryStatus};
use crate::db::models::delivery_log::{LogEntry, LogFilter};
use crate::db::models::organization::Organization;
use crate::db::models::project::Project;
use crate::db::models::scenario_controls::ControlsRow;
use crate::db::models::slack_channel::SlackChannel;
use crate::db::models::test_message::TestMessageRow;
use crate::db::DbConnection;
use crate::domain::ids::{OrgId, ProjectId};
// The failure sentences are about to become a type of their own; until then they stay
// where the JSON API first needed them.
use crate::domain::delivery_reason::error_message;

/// The event type under which test messages are listed.
pub const TEST_MESSAGE: &str = "test_message";

/// Whose log to list.
#[derive(Clone, Debug)]
pub enum LogOf {
    /// A project's deliveries and test messages.
    Project(OrgId, ProjectId),
    /// An organization's, across all its projects (and its own test messages), or only
    /// one project's.
    Org(OrgId, Option<ProjectId>),
}

/// Lists the log of `of`: at most `limit` entries of `status` (any when `None`), newest
/// first, with the mutes holding now. `NotFound` when the organization or project is not
/// registered.
pub async fn list(
    services: &Services,
    of: LogOf,
    status: Option<DeliveryStatus>,
    limit: i64,
) -> Result<DeliveryLog, ConfigError> {
    services
        .db
        .run(move |conn| {
            // The project route names only the project; the organization's route checks
            // the organization first, then the project it is filtered by.
            let (o, p, check_org) = match &of {
                LogOf::Project(o, p) => (o, Some(p), false),
                LogOf::Org(o, p) => (o, p.as_ref(), true),
            };
            let (org, project) = (o.as_str(), p.map(ProjectId::as_str));
            if check_org && !Organization::exists(conn, org)? {
                return Err(ConfigError::NotFound(format!(
                    "organization {o} is not registered"
                )));
            }
            if let Some(p) = p {
                if !Project::exists(conn, org, p.as_str())? {
                    return Err(ConfigError::NotFound(format!(
                        "project {o}/{p} is not registered"
                    )));
                }
            }
            let filter = LogFilter {
                org,
                project,
                status,
                limit,
            };
            Ok(DeliveryLog {
                deliveries: load_log(conn, filter)?,
                mutes: load_mutes(conn, org, project)?,
            })
        })
        .await
}

/// RFC 3339 with offset, as everywhere in the API.
fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One entry of the delivery log, as the API and the UI show it: a delivery of an event
/// to one channel, or one channel's result of "Send Test Message" (`event_type`
/// `test_message`, numbered apart from the deliveries, without `event_id`). Every field is
/// always present, `null` when it does not apply. (Fields in alphabetical order, the
/// order of the wire format.)
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryEntry {
    pub attempts: i32,
    /// The channel as configured when the delivery was queued.
    pub channel: Option<String>,
    /// The channel's current name in Slack (follows renames), e.g. `#load-tests`.
    pub channel_name: Option<String>,
    pub created_at: String,
    /// The stored reason: a Slack error code or one of ours.
    pub error: Option<String>,
    /// What `error` means and what to do about it, as a sentence.
    pub error_message: Option<String>,
    pub event_id: Option<String>,
    pub event_type: String,
    /// Numbered per `kind`: a delivery and a test message may have the same `id`.
    pub id: i64,
    /// `delivery` (of an event) or `test_message`; with `id`, names one entry.
    #[schema(example = "delivery")]
    pub kind: &'static str,
    /// When a pending delivery is (re)tried next.
    pub next_attempt_at: Option<String>,
    /// The project (none for an organization's test message).
    pub project: Option<String>,
    /// The notification rule(s) that sent it (`#alerts: failures @here`); none for a
    /// target channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub sent_at: Option<String>,
    pub status: DeliveryStatus,
    /// `load_test`, `scenario` or `test_message`.
    pub subject_kind: Option<String>,
    /// The load test's or scenario's name ("Test message by …" for test messages).
    pub subject_name: Option<String>,
}

/// A monitoring incident muted from Slack (a button on its card): its changes are logged
/// as `skipped` until the mute ends or the scenario recovers (the recovery is sent).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MuteEntry {
    pub scenario_id: String,
    pub scenario_name: String,
    pub project: String,
    pub incident: i64,
    /// The Slack user's display name (or the admin token's name).
    pub muted_by: String,
    /// The Slack user ID (`U…`), or the admin token's ID.
    pub muted_by_id: String,
    pub muted_at: String,
    /// When the mute ends by itself; `null`: when the scenario recovers.
    pub until: Option<String>,
    pub until_recovered: bool,
    /// As the skipped deliveries show it: "muted by sam until recovered".
    pub reason: String,
    /// Why, as typed in Slack's "Mute for…" dialog; left out when none was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `GET …/slack/deliveries`: newest first, with the active mutes.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryLog {
    pub deliveries: Vec<DeliveryEntry>,
    /// Mutes holding now on open incidents (newest first); left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mutes: Vec<MuteEntry>,
}

/// The active mutes of an organization (one project, or all).
fn load_mutes(
    conn: &mut DbConnection,
    org: &str,
    project: Option<&str>,
) -> diesel::QueryResult<Vec<MuteEntry>> {
    let now = chrono::Utc::now().naive_utc();
    Ok(ControlsRow::active_mutes(conn, org, project, now)?
        .into_iter()
        .map(|m| MuteEntry {
            reason: m.mute.reason(),
            scenario_id: m.scenario_id,
            scenario_name: m.scenario_name,
            project: m.project_id,
            incident: m.incident,
            muted_by: m.mute.by.name.clone(),
            muted_by_id: m.mute.by.id.clone(),
            muted_at: rfc3339(m.mute.at.naive_utc()),
            until: m.mute.until.map(|u| rfc3339(u.naive_utc())),
            until_recovered: m.mute.until.is_none(),
            comment: m.mute.comment.clone(),
        })
        .collect())
}

/// One delivery of an event.
fn delivery_entry(e: &LogEntry) -> DeliveryEntry {
    let d = &e.delivery;
    let channel = d
        .channel_name
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| (!d.channel.is_empty()).then(|| d.channel.clone()));
    let channel_name = e
        .current_channel_name
        .as_ref()
        .map(|n| format!("#{n}"))
        .or_else(|| channel.clone());
    DeliveryEntry {
        attempts: d.attempts,
        channel,
        channel_name,
        created_at: rfc3339(d.created_at),
        error: d.error.clone(),
        error_message: d.why().map(|r| r.sentence()),
        event_id: Some(crate::domain::ids::EventKey::sender_event_id(&d.event_id).to_owned()),
        event_type: d.event_type.clone(),
        id: d.id,
        kind: "delivery",
        next_attempt_at: (d.status == DeliveryStatus::Pending).then(|| rfc3339(d.next_attempt_at)),
        project: Some(d.project_id.clone()),
        rule: d.rule.clone(),
        sent_at: d.sent_at.map(rfc3339),
        status: d.status,
        subject_kind: e.subject_kind.map(str::to_owned),
        subject_name: e.subject_name.clone(),
    }
}

/// One channel's test message as an entry of the log (numbered apart from deliveries).
fn test_message_entry(t: &TestMessageRow, current_name: Option<&String>) -> DeliveryEntry {
    let channel = t
        .channel_name
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| t.channel.clone());
    DeliveryEntry {
        attempts: 1,
        channel_name: Some(
            current_name
                .map(|n| format!("#{n}"))
                .unwrap_or_else(|| channel.clone()),
        ),
        channel: Some(channel),
        created_at: rfc3339(t.created_at),
        error: t.error.clone(),
        error_message: t.error.as_deref().map(error_message),
        event_id: None,
        event_type: TEST_MESSAGE.to_owned(),
        id: t.id,
        kind: TEST_MESSAGE,
        next_attempt_at: None,
        project: (!t.project_id.is_empty()).then(|| t.project_id.clone()),
        rule: None,
        sent_at: (t.status == DeliveryStatus::Sent).then(|| rfc3339(t.created_at)),
        status: t.status,
        subject_kind: Some(TEST_MESSAGE.to_owned()),
        subject_name: Some(format!("Test message by {}", t.sent_by)),
    }
}

/// The log of `filter` as the API and the UI show it: deliveries of events and test
/// messages together, newest first, at most `filter.limit`.
fn load_log(
    conn: &mut DbConnection,
    filter: LogFilter<'_>,
) -> diesel::QueryResult<Vec<DeliveryEntry>> {
    let deliveries = Delivery::list_log(conn, filter)?;
    let tests = TestMessageRow::list(
        conn,
        filter.org,
        filter.project,
        filter.status,
        filter.limit,
    )?;
    let ids: Vec<String> = tests
        .iter()
        .filter(|t| t.team_id.is_some() && !t.channel.starts_with('#'))
        .map(|t| t.channel.clone())
        .collect();
    let known = SlackChannel::find_by_channel_ids(conn, &ids)?;
    let mut all: Vec<(NaiveDateTime, DeliveryEntry)> = deliveries
        .iter()
        .map(|e| (e.delivery.created_at, delivery_entry(e)))
        .collect();
    all.extend(tests.iter().map(|t| {
        let name = known
            .iter()
            .find(|c| Some(&c.team_id) == t.team_id.as_ref() && c.channel_id == t.channel)
            .map(|c| &c.name);
        (t.created_at, test_message_entry(t, name))
    }));
    // Stable: equal times keep the deliveries' newest-first order.
    all.sort_by_key(|e| std::cmp::Reverse(e.0));
    all.truncate(usize::try_from(filter.limit).unwrap_or(0));
    Ok(all.into_iter().map(|(_, v)| v).collect())
}

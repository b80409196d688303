//! Digests: Slack takes about one message a second per channel, so when many events wait
//! for one channel (60 load tests started by one CI pipeline) the last one would appear a
//! minute later. When the channel's backlog would hold a message back longer than
//! the sender's `digest_after`, the delivery at the head of the channel takes the waiting
//! ones behind it into one message ("12 load tests started: …", one line and link each).
//!
//! Rules: only deliveries of the same workspace and channel, in the channel's order (the
//! batch stops at the first one that cannot join); at most [`MAX_ENTRIES`] per digest; only
//! what would be a message of its own in the channel (threads off, or a subject that has no
//! card there yet): replies in an existing thread, card-only updates and the replies about
//! someone acting on an incident never join one. A load test or incident whose first events
//! went out in a digest gets its card with its next event.

use chrono::NaiveDateTime;

use super::events::Payload;
use super::message_names::names_of;
use super::render::MessageNames;
use crate::db::models::delivery::Delivery;
use crate::db::models::event::EventRow;
use crate::db::models::slack_thread::SlackThread;
use crate::db::{DbConnection, DbError};
use crate::domain::report::REPORT_CHART;

/// Most events in one digest: 25 short lines read at a glance, and a digest in the making
/// (events, rendered blocks) stays small while many channels build one at the same time.
pub const MAX_ENTRIES: usize = 25;

/// One event merged into a digest besides the head delivery.
#[derive(Debug, Clone)]
pub struct Merged {
    pub delivery: Delivery,
    pub payload: Payload,
    pub names: MessageNames,
}

/// Whether a delivery of `payload` would be a message of its own in the channel, given
/// whether its subject has a card there.
fn joinable(d: &Delivery, payload: &Payload, has_card: bool) -> bool {
    let alone = match payload {
        Payload::LoadTest(_) => true,
        Payload::Scenario(sc) => !sc.change.card_only(),
        // A weekly summary is a message of its own, never one line of a digest.
        Payload::IncidentAction(_)
        | Payload::BaselineSet(_)
        | Payload::HoldRecovered(_)
        | Payload::WeeklySummary(_) => false,
    };
    // A chart is a file, not a message a digest could hold.
    alone && d.event_type != REPORT_CHART && !(d.threads && has_card)
}

/// The deliveries to merge into a digest with `head` (whose payload is `head_payload`):
/// empty when the channel's backlog is short enough for one message each (a backlog that
/// would hold a message back longer than `digest_after` at one message per `interval`), or
/// when the head cannot head a digest.
pub fn batch(
    conn: &mut DbConnection,
    head: &Delivery,
    head_payload: &Payload,
    head_names: &MessageNames,
    (digest_after, interval): (Option<chrono::Duration>, chrono::Duration),
    now: NaiveDateTime,
) -> Result<Vec<Merged>, DbError> {
    let Some(after) = digest_after else {
        return Ok(Vec::new());
    };
    let interval = interval.max(chrono::Duration::milliseconds(1));
    // Waiting behind the head, the n-th message goes out about n intervals from now.
    let min_behind = (after.num_milliseconds() / interval.num_milliseconds()).max(1) + 1;
    let behind = Delivery::pending_behind(conn, head, now, (MAX_ENTRIES - 1) as u32)?;
    if (behind.len() as i64) < min_behind {
        return Ok(Vec::new());
    }
    // Three queries for the whole batch: the events, which subjects have a card, names.
    let team = head.team_id.as_deref().unwrap_or_default();
    let threaded: Vec<String> = std::iter::once(head)
        .chain(&behind)
        .filter(|d| d.threads)
        .map(|d| d.subject_key.clone())
        .collect();
    let carded = SlackThread::subjects_with_card(conn, team, &head.channel, &threaded)?;
    if !joinable(head, head_payload, carded.contains(&head.subject_key)) {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = behind.iter().map(|d| d.event_id.clone()).collect();
    let events = EventRow::find_many(conn, &ids)?;
    let mut merged = Vec::with_capacity(behind.len());
    let mut names: Vec<MessageNames> = vec![head_names.clone()];
    for d in behind {
        let payload = events
            .iter()
            .find(|e| e.event_id == d.event_id)
            .and_then(|e| serde_json::from_str::<Payload>(&e.payload).ok());
        let Some(payload) = payload else { break };
        let has_card = carded.contains(&d.subject_key);
        if d.installation_id != head.installation_id || !joinable(&d, &payload, has_card) {
            break;
        }
        let known = names
            .iter()
            .find(|n| n.org_id == d.org_id && n.project_id == d.project_id)
            .cloned();
        let names_now = match known {
            Some(n) => n,
            None => {
                let n = names_of(conn, &d.org_id, &d.project_id)?;
                names.push(n.clone());
                n
            }
        };
        merged.push(Merged {
            delivery: d,
            payload,
            names: names_now,
        });
    }
    // A digest of one is just a message.
    if merged.is_empty() {
        return Ok(Vec::new());
    }
    Ok(merged)
}

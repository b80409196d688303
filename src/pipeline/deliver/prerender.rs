//! Rendering a delivery's message while its event's transaction still writes.
//!
//! The hand-off (`pipeline::writer`) claims an event's deliveries at the end of its
//! transaction and loads what their messages need; the sender renders once it has them.
//! On SQLite, when the group commit's batch is one load-test event, what the messages need
//! is loaded before the event's writes instead ([`start`], right after the event was
//! planned), and the sender renders them ([`render`]) while the writer goes on with the
//! event row, the load test's row, the outbox rows and the claim. A delivery the claim then
//! hands over finds its message in its [`Slot`] and is not rendered again.
//!
//! What is loaded ahead is what the hand-off would load after the claim, read in the same
//! transaction: the installation with the names, and with threads the thread, incident
//! controls and pinned baseline. An event's own writes touch none of them; the batch holds
//! no other job (a delivery's outcome, which records a thread's parent, is a job of the
//! group commit on SQLite); and on SQLite nothing else writes while the group commit's
//! transaction is open (`BEGIN IMMEDIATE` holds the database's write lock). So the message
//! is the one the sender would render after the claim (debug builds check it at every such
//! claim: [`assert_unchanged`]). Not on PostgreSQL, where another instance may record a
//! thread's parent between the read and the claim. A claim that hands over another
//! delivery (an older one of a busy channel), a delivery that heads a digest, or a render
//! that is not done by the time the sender takes the delivery up: rendered as before, and
//! the slot is dropped.
//! What is loaded and rendered ahead for a row the claim does not take (a busy or paced
//! channel), or for a repeat of an accepted event (found by the event row's insert, right
//! after), is done in vain: a lone event means an idle writer.

use std::sync::{Arc, Mutex};

use super::prepare::{self, Prepared};
use super::send::{self, Planned};
use crate::crypto::Cipher;
use crate::db::models::delivery::{Delivery, DeliveryStatus, NewDelivery};
use crate::db::{DbConnection, DbError};
use crate::domain::delivery_reason::DeliveryReason;
use crate::domain::report::REPORT_CHART;
use crate::pipeline::events::Payload;
use crate::pipeline::render::Renderer;

/// Where the sender leaves a message it rendered ahead, for the delivery to take.
pub(super) type Slot = Arc<Mutex<Option<Planned>>>;

/// The message of an outbox row about to be written, to render ahead (the sender's
/// `Prerender` message).
pub struct Prerender {
    row: NewDelivery,
    prepared: Prepared,
    slot: Slot,
}

/// Where the writer asks for a prerender (the `SlackSender`'s mailbox).
pub type PrerenderSink = Arc<dyn Fn(Prerender) + Send + Sync>;

/// What was loaded ahead for one outbox row of the event (with its prerender's slot), for
/// the hand-off to use if it claims that row.
pub(crate) struct Preloaded {
    payload: Arc<Payload>,
    event_id: String,
    event_type: String,
    team_id: Option<String>,
    channel: String,
    prepared: Result<Prepared, DeliveryReason>,
}

/// Loads what the pending `rows` of an event with `payload` need, right after the event
/// was planned and before it is written, and asks `sink` to render each message ahead.
pub(crate) fn start(
    conn: &mut DbConnection,
    payload: &Arc<Payload>,
    rows: &[NewDelivery],
    sink: &PrerenderSink,
) -> Result<Vec<Preloaded>, DbError> {
    rows.iter()
        // A held row is not claimed; a chart is an upload, not a rendered message.
        .filter(|r| {
            r.status == DeliveryStatus::Pending
                && r.hold_id.is_none()
                && r.event_type != REPORT_CHART
        })
        .map(|row| {
            let mut prepared = prepare::load(conn, row.address(), payload.clone())?;
            if let Ok(p) = &mut prepared {
                let slot = Slot::default();
                sink(Prerender {
                    row: row.clone(),
                    prepared: p.for_render(),
                    slot: slot.clone(),
                });
                p.prerendered = Some(slot);
            }
            Ok(Preloaded {
                payload: payload.clone(),
                event_id: row.event_id.clone(),
                event_type: row.event_type.clone(),
                team_id: row.team_id.clone(),
                channel: row.channel.clone(),
                prepared,
            })
        })
        .collect()
}

/// What was loaded ahead for the claimed `d`, if it is one of the rows of `preloaded` (in
/// the claim's transaction: debug builds check it is what loading it now finds,
/// [`assert_unchanged`]).
pub(super) fn claimed(
    conn: &mut DbConnection,
    preloaded: &mut Vec<Preloaded>,
    d: &Delivery,
) -> Result<Option<Result<Prepared, DeliveryReason>>, DbError> {
    let found = preloaded.iter().position(|p| {
        (&p.event_id, &p.event_type, &p.team_id, &p.channel)
            == (&d.event_id, &d.event_type, &d.team_id, &d.channel)
    });
    let Some(i) = found else {
        return Ok(None);
    };
    let ahead = preloaded.swap_remove(i);
    #[cfg(debug_assertions)]
    assert_unchanged(conn, d, ahead.payload, &ahead.prepared)?;
    #[cfg(not(debug_assertions))]
    let _ = (conn, ahead.payload);
    Ok(Some(ahead.prepared))
}

/// Panics when what was loaded ahead for `d` (an event with `payload`), `ahead`, is not what
/// loading it now finds:
/// what rendering ahead relies on (see the module's documentation). Debug builds only, so
/// every test that hands over a delivery rendered ahead checks it.
#[cfg(debug_assertions)]
pub(super) fn assert_unchanged(
    conn: &mut DbConnection,
    d: &Delivery,
    payload: Arc<Payload>,
    ahead: &Result<Prepared, DeliveryReason>,
) -> Result<(), DbError> {
    let now = prepare::load(conn, d.address(), payload)?;
    let same = match (ahead, &now) {
        (Ok(ahead), Ok(now)) => ahead.same_load(now),
        (Err(ahead), Err(now)) => ahead == now,
        _ => false,
    };
    assert!(
        same,
        "what was loaded ahead for delivery {} changed before its claim",
        d.id
    );
    Ok(())
}

/// Renders a prerender's message into its slot (the sender, while the transaction writes).
pub fn render(renderer: &Renderer, cipher: &Cipher, ahead: Prerender) {
    let planned = send::plan(renderer, cipher, ahead.row.address(), &ahead.prepared);
    if let Ok(mut slot) = ahead.slot.lock() {
        *slot = Some(planned);
    }
}

/// The message rendered ahead into `slot`, if it is done.
pub(super) fn rendered(slot: &Slot) -> Option<Planned> {
    slot.lock().ok()?.take()
}

#[cfg(test)]
mod tests;

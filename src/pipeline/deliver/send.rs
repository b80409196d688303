//! Sending one delivery to Slack: plan the message (a single message, the run card, a
//! reply under it, only a card edit, or a digest of the channel's backlog), render it, post
//! it (posting the card again when someone deleted it), and say what to record.

use secrecy::SecretString;

use super::prepare::Prepared;
use super::prerender;
use super::record::{record_of_error, Record, ThreadWrite};
use super::{committed, SenderDeps, Withdrawn};
use crate::crypto::Cipher;
use crate::db::models::card_edit::CardEdit;
use crate::db::models::delivery::{Address, Delivery};
use crate::db::models::slack_thread::SlackThread;
use crate::db::unreadable::{note_unreadable, write_json};
use crate::db::{now, write_tx, DbError};
use crate::domain::delivery_reason::DeliveryReason;
use crate::domain::report::REPORT_CHART;
use crate::pipeline::commit_gate::Pending;
use crate::pipeline::events::Payload;
use crate::pipeline::incidents;
use crate::pipeline::path_trace::{mark, PathTrace, Step};
use crate::pipeline::render::{Card, CardControls, RenderError, Rendered, Renderer};
use crate::slack::{PostMessage, SlackApi};

/// The stored card of a thread, as logged when it cannot be read or written.
const CARD_COLUMN: &str = "slack_threads.card";

/// Error and aborted events (and recoveries, and an incident failing again) are also shown
/// in the channel.
fn broadcast(payload: &Payload) -> bool {
    use crate::domain::lifecycle::LoadTestEventType as E;
    use crate::domain::monitoring::Change;
    match payload {
        Payload::LoadTest(lt) => matches!(lt.event_type, E::Error | E::Aborted),
        Payload::Scenario(sc) => {
            matches!(sc.change, Change::Recovered { .. } | Change::Failing { .. })
        }
        Payload::IncidentAction(_)
        | Payload::BaselineSet(_)
        | Payload::HoldRecovered(_)
        | Payload::WeeklySummary(_) => false,
    }
}

/// How an event becomes a Slack message.
pub(super) enum Plan {
    /// Threads off: one message per event.
    Single,
    /// Threads on, first message of this subject in this channel: the run card as parent.
    Parent(Card),
    /// Threads on and a parent exists: a reply, then the parent edited into the new state
    /// (a durable, coalesced card edit, see `pipeline::card_edits`).
    Reply(SlackThread, Card),
}

/// Sends `d` with what `p` loaded and says what to record. A handed delivery's message is
/// rendered before its `gate` is passed (the commit of its transaction), and posted after.
pub(super) async fn send(
    deps: &SenderDeps,
    d: &Delivery,
    mut p: Prepared,
    token: &SecretString,
    trace: &mut Option<PathTrace>,
    gate: &mut Pending,
) -> Result<Record, Withdrawn> {
    if d.event_type == REPORT_CHART {
        committed(gate, trace).await?;
        return Ok(super::chart::send(deps, d, &p, token).await);
    }
    if !p.digest.is_empty() {
        committed(gate, trace).await?;
        return Ok(send_digest(deps, d, &p, token).await);
    }
    let card_json = |card: &Card| write_json(CARD_COLUMN, card, "");
    let (plan, controls, rendered) = match planned(&deps.renderer, &deps.cipher, d, &mut p) {
        Planned::CardOnly(thread, card) => {
            // The edit goes out with the card edits; the delivery counts as the card's ts.
            let channel_id = card_channel(&thread, d);
            return Ok(Record::Sent {
                ts: thread.parent_ts,
                thread: Some(ThreadWrite::SaveCard {
                    card: card_json(&card),
                    channel_id,
                }),
                merged: Vec::new(),
            });
        }
        Planned::Message(m) => {
            let Message {
                plan,
                controls,
                rendered,
            } = *m;
            (plan, controls, rendered)
        }
    };
    let rendered = match rendered {
        Ok(r) => r,
        Err(e) => {
            return Ok(Record::Failed {
                reason: DeliveryReason::TemplateError {
                    detail: e.to_string(),
                },
            })
        }
    };
    let (thread_ts, reply_broadcast) = match &plan {
        Plan::Reply(thread, _) => (Some(thread.parent_ts.clone()), broadcast(&p.payload)),
        Plan::Single | Plan::Parent(_) => (None, false),
    };
    let mut msg = PostMessage {
        channel: d.channel.clone(),
        text: rendered.text,
        blocks: Some(rendered.blocks),
        attachments: rendered.attachments,
        thread_ts,
        reply_broadcast,
    };
    with_mention(&mut msg, d.mention.as_deref());
    // Encoded before the gate, while the transaction commits.
    let encoded = SlackApi::encode_post(&msg);
    mark(trace, Step::Rendered);
    committed(gate, trace).await?;
    let sent = match encoded {
        Ok(body) => deps.slack.post_encoded(token, body).await,
        Err(e) => Err(e),
    };
    let posted = match sent {
        Ok(posted) => {
            mark(trace, Step::Posted);
            posted
        }
        // Someone deleted the card: a new card with the current state, the reply under it.
        Err(e) if e.code() == "thread_not_found" => match &plan {
            Plan::Reply(thread, card) => {
                match repost_card(deps, d, &p, token, thread, card, controls.as_ref()).await {
                    Ok(new_ts) => msg.thread_ts = Some(new_ts),
                    Err(record) => return Ok(record),
                }
                match deps.slack.post_message(token, &msg).await {
                    Ok(posted) => posted,
                    Err(e) => return Ok(record_of_error(deps, d, e)),
                }
            }
            _ => return Ok(record_of_error(deps, d, e)),
        },
        Err(e) => return Ok(record_of_error(deps, d, e)),
    };
    let thread = match plan {
        Plan::Single => None,
        Plan::Parent(card) => Some(ThreadWrite::Insert(SlackThread {
            subject_key: d.subject_key.clone(),
            team_id: p.installation.team_id.clone(),
            channel: d.channel.clone(),
            parent_ts: posted.ts.clone(),
            card: card_json(&card),
            updated_at: now(),
        })),
        Plan::Reply(..) if p.payload.is_action() => None,
        Plan::Reply(_, card) => Some(ThreadWrite::SaveCard {
            card: card_json(&card),
            channel_id: posted.channel.clone(),
        }),
    };
    Ok(Record::Sent {
        ts: posted.ts,
        thread,
        merged: Vec::new(),
    })
}

/// How an event becomes a message in a channel, rendered: what [`send`] posts. A pure
/// function of the delivery's address and what it loaded ([`plan`]), so it may be worked
/// out ahead, while the delivery's transaction still writes ([`prerender`]).
pub(super) enum Planned {
    /// A change that only updates the card (a flapping scenario's later changes): no
    /// message, only the card edit.
    CardOnly(SlackThread, Box<Card>),
    /// A message.
    Message(Box<Message>),
}

/// A planned message (`controls`: an incident card's).
pub(super) struct Message {
    pub(super) plan: Plan,
    controls: Option<CardControls>,
    pub(super) rendered: Result<Rendered, RenderError>,
}

/// `d`'s message: the one rendered ahead (see [`prerender`]), taken out of `p`, or planned
/// now.
pub(super) fn planned(
    renderer: &Renderer,
    cipher: &Cipher,
    d: &Delivery,
    p: &mut Prepared,
) -> Planned {
    let ahead = p.prerendered.take().and_then(|s| prerender::rendered(&s));
    ahead.unwrap_or_else(|| plan(renderer, cipher, d.address(), p))
}

/// See [`Planned`].
pub(super) fn plan(renderer: &Renderer, cipher: &Cipher, to: Address<'_>, p: &Prepared) -> Planned {
    let card_only = matches!(&*p.payload, Payload::Scenario(sc) if sc.change.card_only());
    // Someone acted on an incident: a reply under its card (which the action's own card
    // edits update), never a card of its own.
    let action = p.payload.is_action();
    let controls = incidents::card_controls(
        cipher,
        p.controls.clone(),
        to.subject_key,
        &p.installation.team_id,
        to.channel,
    );
    let plan = match p.thread.clone() {
        Some(thread) => {
            let mut card: Card = serde_json::from_str(&thread.card).unwrap_or_else(|e| {
                note_unreadable(CARD_COLUMN, &e);
                Card::new(&p.payload)
            });
            card.absorb(&p.payload);
            card.pinned = p.pinned.clone();
            if card_only {
                return Planned::CardOnly(thread, Box::new(card));
            }
            Plan::Reply(thread, card)
        }
        None if to.threads && !action => {
            let mut card = Card::new(&p.payload);
            card.pinned = p.pinned.clone();
            Plan::Parent(card)
        }
        None => Plan::Single,
    };
    let rendered = match &plan {
        Plan::Parent(card) => renderer.render_card(card, &p.names, to.compact, controls.as_ref()),
        Plan::Single => renderer.render_event(&p.payload, &p.names, to.compact),
        // Only what is new; the edited card holds the rest.
        Plan::Reply(_, card) => {
            let shown = broadcast(&p.payload);
            renderer.render_reply(&p.payload, card, &p.names, to.compact, shown)
        }
    };
    Planned::Message(Box::new(Message {
        plan,
        controls,
        rendered,
    }))
}

/// The head delivery and the ones waiting behind it as one digest message.
async fn send_digest(
    deps: &SenderDeps,
    d: &Delivery,
    p: &Prepared,
    token: &SecretString,
) -> Record {
    let mut entries = vec![(&*p.payload, &p.names)];
    entries.extend(p.digest.iter().map(|m| (&m.payload, &m.names)));
    let rendered = match deps.renderer.render_digest(&entries) {
        Ok(r) => r,
        Err(e) => {
            return Record::Failed {
                reason: DeliveryReason::TemplateError {
                    detail: e.to_string(),
                },
            }
        }
    };
    let mut msg = rendered.post_to(d.channel.clone());
    // Every rule's mention once (each is validated markup, `domain::rules::Mention`).
    let mut mentions: Vec<&str> = Vec::new();
    for m in std::iter::once(d.mention.as_deref())
        .chain(p.digest.iter().map(|m| m.delivery.mention.as_deref()))
    {
        if let Some(m) = m.filter(|m| !m.is_empty() && !mentions.contains(m)) {
            mentions.push(m);
        }
    }
    if !mentions.is_empty() {
        with_mention(&mut msg, Some(&mentions.join(" ")));
    }
    match deps.slack.post_message(token, &msg).await {
        Ok(posted) => {
            tracing::info!(merged = p.digest.len(), "sent a digest");
            Record::Sent {
                ts: posted.ts,
                thread: None,
                merged: p.digest.iter().map(|m| m.delivery.id).collect(),
            }
        }
        Err(e) => record_of_error(deps, d, e),
    }
}

/// The channel ID to edit a thread's card in: the delivery's channel when it is an ID
/// (a `#name` address is resolved by Slack on the next post; `chat.update` needs the ID).
fn card_channel(_thread: &SlackThread, d: &Delivery) -> String {
    d.channel.clone()
}

/// The thread's parent was deleted in Slack: posts the card again with `card` (the current
/// state) and records it as the thread's parent at once, so a retry of the reply goes there
/// too. `Ok(new parent ts)`.
async fn repost_card(
    deps: &SenderDeps,
    d: &Delivery,
    p: &Prepared,
    token: &SecretString,
    thread: &SlackThread,
    card: &Card,
    controls: Option<&CardControls>,
) -> Result<String, Record> {
    let rendered = deps
        .renderer
        .render_card(card, &p.names, d.compact, controls)
        .map_err(|e| Record::Failed {
            reason: DeliveryReason::TemplateError {
                detail: e.to_string(),
            },
        })?;
    let parent = rendered.post_to(d.channel.clone());
    let posted = deps
        .slack
        .post_message(token, &parent)
        .await
        .map_err(|e| record_of_error(deps, d, e))?;
    tracing::info!(old_parent = %thread.parent_ts, new_parent = %posted.ts, "the thread's card was deleted in Slack; posted a new one");
    let key = (
        thread.subject_key.clone(),
        thread.team_id.clone(),
        thread.channel.clone(),
    );
    let (ts, json) = (posted.ts.clone(), write_json(CARD_COLUMN, card, ""));
    let saved = deps
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                SlackThread::replace_parent(c, &key.0, &key.1, &key.2, &ts, &json)?;
                CardEdit::delete(c, &key.0, &key.1, &key.2).map(|_| ())
            })
            .map_err(DbError::from)
        })
        .await;
    if let Err(e) = saved {
        tracing::error!(error = %e, "could not record the new card");
    }
    Ok(posted.ts)
}

/// A notification rule's mention, in the first message of an event in its channel (never
/// in an edit, which notifies nobody anyway): first in the notification text, and as the
/// message's first block. The markup was validated when the rule was saved
/// (`domain::rules::Mention`); user text never reaches it.
fn with_mention(msg: &mut PostMessage, mention: Option<&str>) {
    let Some(mention) = mention.filter(|m| !m.is_empty()) else {
        return;
    };
    msg.text = format!("{mention} {}", msg.text);
    let block = serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": mention}});
    match &mut msg.blocks {
        Some(serde_json::Value::Array(blocks)) => blocks.insert(0, block),
        _ => msg.blocks = Some(serde_json::Value::Array(vec![block])),
    }
}

//! `SlackSender`: owns dispatch. Claims due deliveries from the outbox (oldest pending per
//! channel, paced per channel, leased so several instances can share the work), sends
//! them concurrently across channels, and records each outcome. It wakes on [`Wake`]
//! (a new event was committed) and polls every [`POLL_INTERVAL`] for retries, paced
//! channels and other instances' work.
//!
//! A wake-up only claims when one of its channels is idle here: a channel with a delivery
//! in flight, or one sent to less than a pacing interval ago, is served by the poll that
//! follows every completed delivery anyway (a claim for it now would find it paced). Under
//! a burst of events into busy channels this keeps the claim rate at the send rate instead
//! of the event rate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::db::models::delivery::Delivery;
use crate::domain::delivery_reason::DeliveryReason;
use crate::pipeline::card_edits;
use crate::pipeline::commit_gate::{CommitGate, Pending};
use crate::pipeline::deliver::{self, Attempt, HandedDelivery, Prepared, SenderDeps};
use crate::pipeline::path_trace::{PathTrace, Step};

/// How often the outbox is polled when nothing wakes the sender.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Deliveries in flight at once (each to a different channel).
const MAX_IN_FLIGHT: usize = 32;
/// How often timed mutes that ran out are looked for.
const MUTE_EXPIRY_INTERVAL: Duration = Duration::from_secs(5);
/// How often holds whose load test ended are looked at (`pipeline::holds`).
const HOLD_SETTLE_INTERVAL: Duration = Duration::from_secs(1);
/// How often due run-card edits are looked for.
const EDIT_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Run-card edits in flight at once.
const MAX_EDITS_IN_FLIGHT: usize = 8;

/// A channel: (workspace, channel).
pub type ChannelKey = (String, String);

/// The dispatcher.
pub struct SlackSender {
    deps: Arc<SenderDeps>,
    in_flight: usize,
    /// The deliveries in flight (handed back at shutdown if they do not finish), each with
    /// the commit gate of a handed one: a claim whose transaction is not known to have
    /// committed is not handed back (its row may not exist, or its id may be another's).
    in_flight_ids: HashMap<i64, Option<CommitGate>>,
    /// Channels with a delivery in flight, and how many.
    busy: HashMap<ChannelKey, usize>,
    /// Channels sent to recently: when their pacing interval is over.
    paced_until: HashMap<ChannelKey, Instant>,
    claiming: bool,
    /// The last claim filled every free slot: more may be due right now.
    saturated: bool,
    /// A poll is scheduled for when the channels just served may send again.
    poll_scheduled: bool,
    /// A wake-up arrived while claiming: claim again right after.
    again: bool,
    stopping: bool,
    /// Run-card edits in flight, and whether a claim of them is being made.
    edits_in_flight: usize,
    claiming_edits: bool,
}

impl SlackSender {
    pub fn new(deps: SenderDeps) -> Self {
        Self {
            deps: Arc::new(deps),
            in_flight: 0,
            in_flight_ids: HashMap::new(),
            busy: HashMap::new(),
            paced_until: HashMap::new(),
            claiming: false,
            saturated: false,
            poll_scheduled: false,
            again: false,
            stopping: false,
            edits_in_flight: 0,
            claiming_edits: false,
        }
    }

    /// Sends the run-card edits that are due (`pipeline::card_edits`): paced per workspace
    /// in the database, so several instances share one pace.
    fn poll_edits(&mut self, ctx: &mut Context<Self>) {
        let capacity = MAX_EDITS_IN_FLIGHT.saturating_sub(self.edits_in_flight);
        if self.stopping || self.claiming_edits || capacity == 0 {
            return;
        }
        self.claiming_edits = true;
        let deps = self.deps.clone();
        let claimed = async move { card_edits::claim(&deps, capacity).await };
        ctx.spawn(claimed.into_actor(self).map(|result, act, ctx| {
            act.claiming_edits = false;
            match result {
                Ok(edits) => {
                    for edit in edits {
                        act.edits_in_flight += 1;
                        let send = card_edits::send(act.deps.clone(), edit);
                        ctx.spawn(send.into_actor(act).map(|(), act, _| {
                            act.edits_in_flight -= 1;
                        }));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not claim card edits"),
            }
        }));
    }

    /// Whether nothing here will look at `channel` soon anyway.
    fn idle(&self, channel: &ChannelKey, now: Instant) -> bool {
        !self.busy.contains_key(channel)
            && self
                .paced_until
                .get(channel)
                .is_none_or(|until| *until <= now)
    }

    fn pacing_interval(&self) -> Duration {
        self.deps.config.pacing.hold(POLL_INTERVAL)
    }

    /// Runs `job` in one write transaction off the workers; logs how many rows it changed
    /// as `what` (nothing when none), or that it failed.
    fn periodic_tx<F>(&self, ctx: &mut Context<Self>, what: &'static str, job: F)
    where
        F: FnOnce(
                &mut crate::db::DbConnection,
                chrono::DateTime<chrono::Utc>,
            ) -> diesel::QueryResult<usize>
            + Send
            + 'static,
    {
        let db = self.deps.db.clone();
        ctx.spawn(
            async move {
                let now = chrono::Utc::now();
                let done = db
                    .run(move |conn| {
                        crate::db::write_tx(conn, |c| job(c, now)).map_err(crate::db::DbError::from)
                    })
                    .await;
                match done {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(count = n, "{what}"),
                    Err(e) => tracing::warn!(error = %e, "periodic job failed: {what}"),
                }
            }
            .into_actor(self),
        );
    }

    fn poll(&mut self, ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        let capacity = MAX_IN_FLIGHT.saturating_sub(self.in_flight);
        if self.claiming || capacity == 0 {
            self.again = true;
            return;
        }
        self.claiming = true;
        self.again = false;
        let deps = self.deps.clone();
        let claimed = async move { deliver::claim(&deps, capacity).await };
        ctx.spawn(claimed.into_actor(self).map(move |result, act, ctx| {
            act.claiming = false;
            match result {
                Ok(batch) => {
                    let full = batch.len() == capacity;
                    act.saturated = full;
                    for delivery in batch {
                        act.start(ctx, delivery, None, None, Pending::default());
                    }
                    if full || act.again {
                        act.poll(ctx);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not claim deliveries"),
            }
        }));
    }
}

impl SlackSender {
    /// Sends a claimed delivery (a handed one once `gate` opens, see `deliver::deliver`);
    /// once it is done, its channel is paced here and the next claim is made (at once when
    /// the last claim was cut off by capacity, else when the pacing interval has passed,
    /// one timer at a time).
    fn start(
        &mut self,
        ctx: &mut Context<Self>,
        delivery: Delivery,
        prepared: Option<Result<Prepared, DeliveryReason>>,
        trace: Option<PathTrace>,
        gate: Pending,
    ) {
        self.in_flight += 1;
        let id = delivery.id;
        self.in_flight_ids.insert(id, gate.gate().cloned());
        let channel: ChannelKey = (
            delivery.team_id.clone().unwrap_or_default(),
            delivery.channel.clone(),
        );
        *self.busy.entry(channel.clone()).or_default() += 1;
        let send = deliver::deliver(self.deps.clone(), delivery, prepared, trace, gate);
        ctx.spawn(
            send.into_actor(self)
                .map(move |attempt: Attempt, act, ctx| {
                    act.in_flight -= 1;
                    act.in_flight_ids.remove(&id);
                    if let Some(n) = act.busy.get_mut(&channel) {
                        *n -= 1;
                        if *n == 0 {
                            act.busy.remove(&channel);
                        }
                    }
                    if attempt != Attempt::Withdrawn {
                        let until = Instant::now() + act.pacing_interval();
                        act.paced_until.insert(channel, until);
                    }
                    tracing::debug!(outcome = attempt.as_str(), "delivery attempt done");
                    if act.saturated {
                        act.poll(ctx);
                    } else if !act.poll_scheduled {
                        act.poll_scheduled = true;
                        let after = act.pacing_interval();
                        ctx.run_later(after, |act, ctx| {
                            act.poll_scheduled = false;
                            act.poll(ctx);
                        });
                    }
                }),
        );
    }
}

impl Actor for SlackSender {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(POLL_INTERVAL, |act, ctx| {
            let now = Instant::now();
            act.paced_until.retain(|_, until| *until > now);
            act.poll(ctx);
        });
        ctx.run_interval(EDIT_POLL_INTERVAL, |act, ctx| act.poll_edits(ctx));
        // Timed mutes that ran out: their cards are edited back (buttons to mute again).
        ctx.run_interval(MUTE_EXPIRY_INTERVAL, |act, ctx| {
            act.periodic_tx(ctx, "timed mutes ended", |c, now| {
                crate::pipeline::incidents::expire_mutes(c, now)
            });
        });
        // Incidents held during a load test that ended: released or settled as recovered
        // (the released rows are claimed by the next poll).
        ctx.run_interval(HOLD_SETTLE_INTERVAL, |act, ctx| {
            let grace = act.deps.config.hold_grace;
            act.periodic_tx(ctx, "held incidents settled", move |c, now| {
                crate::pipeline::holds::settle(c, grace, now)
            });
        });
        // Rotating Slack tokens are refreshed ahead of expiry, sends or not.
        let tokens = self.deps.tokens.clone();
        ctx.spawn(
            async move {
                loop {
                    if let Err(e) = tokens.refresh_due().await {
                        tracing::warn!(error = %e, "token refresh check failed");
                    }
                    actix_web::rt::time::sleep(crate::pipeline::tokens::REFRESH_CHECK_INTERVAL)
                        .await;
                }
            }
            .into_actor(self),
        );
        self.poll(ctx);
    }
}

/// New deliveries were committed in `channels`: look at the outbox now, unless every one
/// of them is busy or paced here (see the module documentation). No channels: look now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake {
    pub channels: Vec<ChannelKey>,
}

impl Handler<Wake> for SlackSender {
    type Result = ();

    fn handle(&mut self, msg: Wake, ctx: &mut Self::Context) {
        let now = Instant::now();
        if msg.channels.is_empty() || msg.channels.iter().any(|c| self.idle(c, now)) {
            self.poll(ctx);
        }
    }
}

/// Deliveries claimed in the transaction that queued them (`pipeline::writer`'s hand-off),
/// given before its `COMMIT`: render them now and send them once `gate` says the
/// transaction committed, without a claim of their own. They are not counted against
/// [`MAX_IN_FLIGHT`]: each is its channel's only one in flight, so there are at most as many
/// as channels that were idle. During shutdown they are handed back instead, once committed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Handoff {
    pub deliveries: Vec<HandedDelivery>,
    /// The event's path so far (one event's deliveries share it).
    pub trace: PathTrace,
    /// Opens when the transaction that claimed them committed (`pipeline::commit_gate`).
    pub gate: CommitGate,
}

impl Handler<Handoff> for SlackSender {
    type Result = ();

    fn handle(&mut self, msg: Handoff, ctx: &mut Self::Context) {
        if self.stopping {
            let ids: Vec<i64> = msg.deliveries.iter().map(|h| h.delivery.id).collect();
            let db = self.deps.db.clone();
            let mut gate = msg.gate;
            ctx.spawn(
                async move {
                    if !gate.committed().await {
                        // Never stored: nothing to hand back.
                        return;
                    }
                    let released = db
                        .run(move |conn| {
                            crate::db::write_tx(conn, |c| {
                                ids.iter().try_for_each(|id| Delivery::release(c, *id))
                            })
                            .map_err(crate::db::DbError::from)
                        })
                        .await;
                    if let Err(e) = released {
                        // The lease runs out and the delivery is claimed again.
                        tracing::warn!(error = %e, "could not hand back deliveries at shutdown");
                    }
                }
                .into_actor(self),
            );
            return;
        }
        let mut trace = msg.trace;
        trace.mark(Step::Handed);
        for handed in msg.deliveries {
            let (delivery, prepared) = (handed.delivery, handed.prepared);
            let gate = Pending::new(Some(msg.gate.clone()));
            self.start(ctx, delivery, Some(prepared), Some(trace.clone()), gate);
        }
    }
}

/// A message to render ahead, while the transaction that will hand its delivery over
/// still writes (`pipeline::deliver::prerender`); the hand-off, which comes after it in
/// this mailbox, finds it rendered.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Prerender(pub deliver::prerender::Prerender);

impl Handler<Prerender> for SlackSender {
    type Result = ();

    fn handle(&mut self, msg: Prerender, _: &mut Self::Context) {
        if !self.stopping {
            deliver::prerender::render(&self.deps.renderer, &self.deps.cipher, msg.0);
        }
    }
}

/// Stop claiming; answers with the number of deliveries still in flight (a claim being
/// made counts as one: it may still add deliveries).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Drain;

impl Handler<Drain> for SlackSender {
    type Result = usize;

    fn handle(&mut self, _: Drain, _: &mut Self::Context) -> usize {
        self.stopping = true;
        self.in_flight
            + usize::from(self.claiming)
            + self.edits_in_flight
            + usize::from(self.claiming_edits)
    }
}

/// Graceful shutdown gave up waiting: the ids of the deliveries still in flight, whose
/// claims the caller hands back (a handed one's only once its transaction committed; one
/// still waiting for it is left to the start-up's hand-back on SQLite, to its lease on
/// PostgreSQL).
#[derive(Message)]
#[rtype(result = "Vec<i64>")]
pub struct InFlight;

impl Handler<InFlight> for SlackSender {
    type Result = Vec<i64>;

    fn handle(&mut self, _: InFlight, _: &mut Self::Context) -> Vec<i64> {
        to_hand_back(&self.in_flight_ids)
    }
}

/// The deliveries in flight whose claims may be handed back: all but handed ones whose
/// transaction is not known to have committed.
fn to_hand_back(in_flight: &HashMap<i64, Option<CommitGate>>) -> Vec<i64> {
    let mut ids: Vec<i64> = in_flight
        .iter()
        .filter(|(_, gate)| gate.as_ref().is_none_or(|g| g.settled() == Some(true)))
        .map(|(id, _)| *id)
        .collect();
    ids.sort_unstable();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::commit_gate::commit_gate;

    #[test]
    fn only_claims_known_to_exist_are_handed_back() {
        let (committed, committed_gate) = commit_gate();
        committed.settle(true);
        let (failed, failed_gate) = commit_gate();
        failed.settle(false);
        let (_pending, pending_gate) = commit_gate();
        let in_flight = HashMap::from([
            (1, None),
            (2, Some(committed_gate)),
            (3, Some(failed_gate)),
            (4, Some(pending_gate)),
        ]);
        assert_eq!(to_hand_back(&in_flight), [1, 2]);
    }
}

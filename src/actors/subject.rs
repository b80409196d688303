//! The shared shape of the two lifecycle actors: one actor per subject (a load test or a
//! monitoring scenario) whose mailbox serialises that subject's events. The rules live in
//! `domain::lifecycle` / `domain::monitoring`; the state lives in the database and is read
//! and written in the ingest transaction, so the actor is a cache with a mailbox that any
//! instance can recreate. Idle actors stop and come back on demand.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::config_resolver::{ConfigResolver, Refresh, Resolve};
use super::slack_sender::{SlackSender, Wake};
use crate::db::DbError;
use crate::domain::access::TokenHash;
use crate::pipeline::effective::EffectiveCache;
use crate::pipeline::ingest::{IngestError, IngestOutcome};
use crate::pipeline::path_trace::{PathTrace, Step};
pub use crate::pipeline::subjects::Subject;
use crate::pipeline::writer::IngestWriter;

/// An actor with no message for this long stops.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How often an actor checks whether it is idle.
const IDLE_CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// Retries of an ingest that lost a race with another instance.
const MAX_CONFLICT_RETRIES: usize = 5;
/// Most live actors of one kind by default (`XTC_SLACK_MAX_LIVE_ACTORS`). At it, the least
/// recently used ones are told to stop (their state is in the database; a later event starts
/// one again), so memory stays bounded whatever the orchestrator sends.
pub const MAX_LIVE_ACTORS: usize = 10_000;
/// At the cap, one live actor in this many (the least recently used) is evicted at once.
const EVICTED_AT_ONCE: usize = 16;

/// What every lifecycle actor needs.
#[derive(Clone)]
pub struct Deps {
    /// Commits ingest transactions in groups.
    pub writer: IngestWriter,
    pub resolver: Addr<ConfigResolver>,
    /// The resolver's cache, read directly on a hit.
    pub effective: EffectiveCache,
    pub sender: Addr<SlackSender>,
    /// Rules the ingest transactions apply (flapping).
    pub ingest: crate::pipeline::subjects::IngestConfig,
}

/// One actor per subject id.
pub struct SubjectActor<S: Subject> {
    id: String,
    deps: Deps,
    directory: Directory<S>,
    last_used: Instant,
    _kind: PhantomData<fn() -> S>,
}

impl<S: Subject> Actor for SubjectActor<S> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(IDLE_CHECK_INTERVAL, |act, ctx| {
            if act.last_used.elapsed() >= IDLE_TIMEOUT {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        self.directory.forget(&self.id, &ctx.address());
    }
}

/// Apply one event (answers once it is committed). `trace` is stamped when the event was
/// handed over; `unconfirmed`: the caller's API token when its transaction is to confirm it
/// live (`pipeline::writer`).
#[derive(Message)]
#[rtype(result = "Result<IngestOutcome, IngestError>")]
pub struct Ingest<S: Subject> {
    pub event: S::Event,
    pub unconfirmed: Option<TokenHash>,
    pub trace: PathTrace,
}

impl<S: Subject> Handler<Ingest<S>> for SubjectActor<S> {
    type Result = AtomicResponse<Self, Result<IngestOutcome, IngestError>>;

    fn handle(&mut self, msg: Ingest<S>, _: &mut Self::Context) -> Self::Result {
        self.last_used = Instant::now();
        let deps = self.deps.clone();
        let (ev, unconfirmed, mut trace) = (msg.event, msg.unconfirmed, msg.trace);
        trace.mark(Step::Actor);
        // Atomic: the next event of this subject waits until this one is committed.
        let work = ingest::<S>(deps, ev, unconfirmed, trace);
        AtomicResponse::new(Box::pin(work.into_actor(self).map(|result, _, ctx| {
            if result.as_ref().is_ok_and(S::ended) {
                ctx.stop();
            }
            result
        })))
    }
}

/// Stop now (the directory evicts the least recently used actor past its cap).
#[derive(Message)]
#[rtype(result = "()")]
struct Evict;

impl<S: Subject> Handler<Evict> for SubjectActor<S> {
    type Result = ();

    fn handle(&mut self, _: Evict, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

async fn ingest<S: Subject>(
    deps: Deps,
    ev: S::Event,
    unconfirmed: Option<TokenHash>,
    trace: PathTrace,
) -> Result<IngestOutcome, IngestError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (org, project) = (S::org(&ev), S::project(&ev));
        let resolved = match deps.effective.get(org, project) {
            Some((cached, refresh)) => {
                if refresh {
                    deps.resolver.do_send(Refresh {
                        org: org.to_owned(),
                    });
                }
                cached
            }
            None => deps
                .resolver
                .send(Resolve {
                    org: org.to_owned(),
                    project: project.to_owned(),
                })
                .await
                .map_err(|_| IngestError::Database(DbError::Canceled))??,
        };
        let submitted = S::submit(
            &deps.writer,
            ev.clone(),
            resolved,
            deps.ingest,
            unconfirmed.clone(),
            trace.clone(),
        );
        let ingested = match submitted.await {
            Err(IngestError::Conflict) if attempt < MAX_CONFLICT_RETRIES => {
                tracing::debug!(subject = S::NAME, attempt, "concurrent update, retrying");
                continue;
            }
            Err(e) => return Err(e),
            Ok(ingested) => ingested,
        };
        // What was claimed at commit went to the sender from the writer; the other
        // channels (busy, paced, or a backlog) are looked at by a claim.
        if let IngestOutcome::Accepted { channels, .. } = &ingested.outcome {
            let rest: Vec<_> = channels
                .iter()
                .filter(|c| !ingested.handed.contains(c))
                .cloned()
                .collect();
            if !rest.is_empty() {
                deps.sender.do_send(Wake { channels: rest });
            }
        }
        return Ok(ingested.outcome);
    }
}

/// A live actor and when it was last asked for.
struct Entry<S: Subject> {
    addr: Addr<SubjectActor<S>>,
    used: Instant,
}

/// Finds or starts the actor of a subject id.
pub struct Directory<S: Subject> {
    actors: Arc<Mutex<HashMap<String, Entry<S>>>>,
    /// Most live actors; past it the least recently used one is evicted.
    capacity: usize,
}

impl<S: Subject> Clone for Directory<S> {
    fn clone(&self) -> Self {
        Self {
            actors: self.actors.clone(),
            capacity: self.capacity,
        }
    }
}

impl<S: Subject> Default for Directory<S> {
    fn default() -> Self {
        Self::with_capacity(MAX_LIVE_ACTORS)
    }
}

impl<S: Subject> Directory<S> {
    /// A directory keeping at most `capacity` actors alive.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            actors: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// Number of live actors (metrics, benchmarks).
    pub fn len(&self) -> usize {
        self.actors.lock().map(|m| m.len()).unwrap_or(0)
    }

    fn get_or_start(&self, id: &str, deps: &Deps) -> Addr<SubjectActor<S>> {
        let mut actors = match self.actors.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(entry) = actors.get_mut(id).filter(|e| e.addr.connected()) {
            entry.used = Instant::now();
            return entry.addr.clone();
        }
        if actors.len() >= self.capacity {
            // The least recently used sixteenth at once (at least one): one pass over the
            // map per that many new actors instead of one per new actor (at the default
            // cap, a pass over 10,000 entries, under this lock, for every new load test).
            let n = (self.capacity / EVICTED_AT_ONCE).clamp(1, actors.len());
            let mut ages: Vec<(Instant, &String)> =
                actors.iter().map(|(id, e)| (e.used, id)).collect();
            ages.select_nth_unstable_by_key(n - 1, |(used, _)| *used);
            let oldest: Vec<String> = ages[..n].iter().map(|(_, id)| (*id).clone()).collect();
            for id in oldest {
                if let Some(entry) = actors.remove(&id) {
                    entry.addr.do_send(Evict);
                }
            }
        }
        let addr = SubjectActor::<S> {
            id: id.to_owned(),
            deps: deps.clone(),
            directory: self.clone(),
            last_used: Instant::now(),
            _kind: PhantomData,
        }
        .start();
        actors.insert(
            id.to_owned(),
            Entry {
                addr: addr.clone(),
                used: Instant::now(),
            },
        );
        addr
    }

    fn forget(&self, id: &str, addr: &Addr<SubjectActor<S>>) {
        if let Ok(mut actors) = self.actors.lock() {
            if actors.get(id).map(|e| &e.addr) == Some(addr) {
                actors.remove(id);
            }
        }
    }

    /// Hands an event to its subject's actor, restarting the actor if it just stopped;
    /// `unconfirmed`: the caller's API token when the event's transaction is to confirm it
    /// live (see [`Ingest`]); `received`: when its request arrived (where its traced path
    /// starts).
    pub async fn ingest(
        &self,
        id: &str,
        deps: &Deps,
        ev: S::Event,
        unconfirmed: Option<TokenHash>,
        received: Option<Instant>,
    ) -> Result<IngestOutcome, IngestError> {
        let mut trace = PathTrace::starting(Step::Submitted);
        if let Some(at) = received {
            trace.set(Step::Received, at);
        }
        for _ in 0..3 {
            let addr = self.get_or_start(id, deps);
            let msg = Ingest::<S> {
                event: ev.clone(),
                unconfirmed: unconfirmed.clone(),
                trace: trace.clone(),
            };
            match addr.send(msg).await {
                Ok(result) => return result,
                // The actor stopped between lookup and delivery: start a new one.
                Err(MailboxError::Closed) => self.forget(id, &addr),
                Err(MailboxError::Timeout) => break,
            }
        }
        Err(IngestError::Database(DbError::Canceled))
    }
}

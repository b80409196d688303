//! The jobs of the group commit: what each runs in the batch's transaction, the hand-off
//! of what it queued to the sender (see [`Handoff`]), and its answer after the commit.

use std::sync::Arc;
use std::time::Instant;

use diesel::connection::SimpleConnection;

use crate::db::models::delivery::Delivery;
use crate::db::{DbConnection, DbError};
use crate::domain::access::TokenHash;
use crate::pipeline::commit_gate::CommitGate;
use crate::pipeline::deliver::prerender::{self, Preloaded, PrerenderSink};
use crate::pipeline::deliver::{prepare_handed, HandedDelivery, SenderConfig};
use crate::pipeline::ingest::{self, IngestError, IngestOutcome, LoadTestJob};
use crate::pipeline::path_trace::{PathTrace, Step};

/// How the group commit claims, in the transaction that queued them, the deliveries the
/// sender may send at once (`Delivery::claim_heads`): the sender's lease and pacing, and
/// this instance's name. What each claimed delivery needs (its event, installation, names,
/// thread) is loaded in the same transaction too, and the writer thread gives the lot to
/// the sender itself (`sink`) right before its `COMMIT`, with a [`CommitGate`] that opens
/// once the commit is known: the sender renders while the database commits and posts only
/// through the open gate (`pipeline::commit_gate`; a batch that did not commit shuts it,
/// and its deliveries, which never existed, are dropped). The event's actor is answered
/// after the commit ([`Ingested::handed`] names the channels), and nothing is written
/// between the commit and the post but the outcome. A crash after the commit loses nothing:
/// the lease runs out (or, on SQLite, the claim is handed back at start) and the row is
/// claimed again, as any claim's would be.
#[derive(Clone)]
pub struct Handoff {
    /// The sender's lease, pacing, instance name and digest rules.
    pub sender: SenderConfig,
    /// Gives committed, claimed deliveries and their event's path to the sender.
    pub sink: HandoffSink,
    /// Asks the sender to render a message ahead (see [`Job::run`]).
    pub prerender: PrerenderSink,
}

/// Where the writer hands claimed deliveries before the commit, with the gate that says
/// whether it committed (the `SlackSender`'s mailbox).
pub type HandoffSink = Arc<dyn Fn(Vec<HandedDelivery>, PathTrace, CommitGate) + Send + Sync>;

/// An ingested event as the group commit answers it.
#[derive(Debug)]
pub struct Ingested {
    pub outcome: IngestOutcome,
    /// The channels (workspace, channel) whose delivery was claimed in the event's
    /// transaction and given to the sender: they need no claim.
    pub handed: Vec<(String, String)>,
}

/// One submitted piece of work and its submitter's answer channel.
pub(super) trait Job: Send {
    /// Runs the work inside the open transaction; with `savepoint`, inside a savepoint of
    /// its own (rolled back if the work fails). Returns whether the work succeeded. With
    /// `ahead`, the messages of what the work will queue may be loaded and rendered while it
    /// writes (`pipeline::deliver::prerender`; the batch's only job, on SQLite).
    fn run(&mut self, conn: &mut DbConnection, savepoint: bool, ahead: Option<&Handoff>) -> bool;
    /// After the batch's first (optimistic) run, before the commit: claims the deliveries
    /// the work queued that may go out now (see [`Handoff`]). `false` on a database error
    /// (the batch is then replayed, without hand-off).
    fn hand_off(&mut self, _conn: &mut DbConnection, _handoff: &Handoff) -> bool {
        true
    }
    /// Right before the `COMMIT` of a batch whose first run and hand-off succeeded: gives
    /// what was claimed to the sender, behind `gate`, with the event's path (taken from the
    /// queue at `dequeued`). Nothing for a job that claims nothing.
    fn dispatch(&mut self, _handoff: &Handoff, _gate: &CommitGate, _dequeued: Instant) {}
    /// Answers the submitter: the work's outcome once `committed` is `Ok`.
    fn finish(self: Box<Self>, committed: Result<(), String>);
    /// A load-test event, run together with the batch's others (`ingest::load_test_batch`)
    /// on the first try; `run` is the one-at-a-time replay. `None` once refused.
    fn load_test(&mut self) -> Option<&mut LoadTestJob> {
        None
    }
    /// Who submitted it, when its token is to be confirmed (see [`Caller`]); `None`: a write
    /// of another part of the service.
    fn caller(&mut self) -> Option<&mut Caller> {
        None
    }
}

/// The API token an event came with, when the request was let in on a token the checks
/// had seen live (`auth::TokenChecks::seen_live`) and not checked again: the batch confirms
/// it live in its own transaction before the job's work runs (`writer::confirm_callers`).
/// A token revoked since is refused there: the job's work never runs, nothing of it is
/// written, and it is answered [`IngestError::TokenNotLive`].
#[derive(Debug)]
pub struct Caller {
    unconfirmed: Option<TokenHash>,
    refused: bool,
}

impl Caller {
    /// A caller whose token `unconfirmed` (if any) is still to be confirmed live.
    pub fn new(unconfirmed: Option<TokenHash>) -> Self {
        Self {
            unconfirmed,
            refused: false,
        }
    }

    /// The token to confirm, unless the job was refused already.
    pub(super) fn to_confirm(&self) -> Option<&TokenHash> {
        self.unconfirmed.as_ref().filter(|_| !self.refused)
    }

    /// The token was not found live: the job will not run.
    pub(super) fn refuse(&mut self) {
        self.refused = true;
    }

    pub(super) fn refused(&self) -> bool {
        self.refused
    }
}

/// Runs a job's work (inside a savepoint of its own with `savepoint`) and keeps its
/// outcome; returns whether the batch may go on (see [`Job::run`]). A refused caller's work
/// does not run: its outcome is [`IngestError::TokenNotLive`].
fn run_work<T>(
    conn: &mut DbConnection,
    savepoint: bool,
    caller: &Caller,
    work: &mut impl FnMut(&mut DbConnection) -> Result<T, IngestError>,
    outcome: &mut Option<Result<T, IngestError>>,
) -> bool {
    if caller.refused() {
        *outcome = Some(Err(IngestError::TokenNotLive));
        return true;
    }
    let result = if savepoint {
        in_savepoint(conn, work)
    } else {
        work(conn)
    };
    let ok = result.is_ok();
    *outcome = Some(result);
    ok || savepoint
}

/// The answer channel of an ingested event.
pub(super) type IngestReply = tokio::sync::oneshot::Sender<Result<Ingested, IngestError>>;

/// Claims what an accepted event queued that may go out now (see [`Handoff`]); `false` on
/// a database error. `preloaded`: what was loaded ahead for the event's rows (see
/// [`Job::run`]).
fn hand_off_outcome(
    conn: &mut DbConnection,
    outcome: Option<&Result<IngestOutcome, IngestError>>,
    handoff: &Handoff,
    handed: &mut Vec<HandedDelivery>,
    preloaded: &mut Vec<Preloaded>,
) -> bool {
    let Some(Ok(IngestOutcome::Accepted {
        channels, stored, ..
    })) = outcome
    else {
        return true;
    };
    if channels.is_empty() {
        return true;
    }
    let config = &handoff.sender;
    let now = crate::db::now();
    let claimed = Delivery::claim_heads(
        conn,
        channels,
        now,
        config.lease,
        &config.instance,
        config.pacing,
    )
    .map_err(DbError::from)
    .and_then(|claimed| {
        claimed
            .into_iter()
            .map(|head| prepare_handed(conn, head, config, stored, preloaded))
            .collect::<Result<Vec<_>, _>>()
    });
    match claimed {
        Ok(claimed) => {
            *handed = claimed;
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not hand deliveries to the sender at commit");
            false
        }
    }
}

/// What answering an ingest needs besides its outcome: the deliveries claimed for it (until
/// given to the sender), the channels they were given for, its path so far, and the
/// submitter's answer channel.
pub(super) struct Answer {
    handed: Vec<HandedDelivery>,
    channels: Vec<(String, String)>,
    trace: PathTrace,
    reply: IngestReply,
}

impl Answer {
    pub(super) fn new(trace: PathTrace, reply: IngestReply) -> Self {
        Self {
            handed: Vec::new(),
            channels: Vec::new(),
            trace,
            reply,
        }
    }

    /// See [`Job::dispatch`].
    fn dispatch(&mut self, handoff: &Handoff, gate: &CommitGate, dequeued: Instant) {
        if self.handed.is_empty() {
            return;
        }
        let handed = std::mem::take(&mut self.handed);
        self.channels = handed
            .iter()
            .map(|h| {
                let d = &h.delivery;
                (d.team_id.clone().unwrap_or_default(), d.channel.clone())
            })
            .collect();
        let mut trace = std::mem::take(&mut self.trace);
        trace.set(Step::Dequeued, dequeued);
        (handoff.sink)(handed, trace, gate.clone());
    }

    /// Once the batch is committed (or not): answers the submitter.
    fn send(
        self,
        outcome: Option<Result<IngestOutcome, IngestError>>,
        committed: Result<(), String>,
    ) {
        let Answer {
            channels, reply, ..
        } = self;
        let result = match (committed, outcome) {
            (Ok(()), Some(Ok(outcome))) => Ok(Ingested {
                outcome,
                handed: channels,
            }),
            (Ok(()), Some(Err(e))) => Err(e),
            (Err(e), _) => Err(DbError::Connect(e).into()),
            (Ok(()), None) => Err(DbError::Canceled.into()),
        };
        let _ = reply.send(result);
    }
}

/// An event of a kind applied one at a time (a monitoring result).
pub(super) struct IngestWork<F> {
    pub(super) work: F,
    pub(super) outcome: Option<Result<IngestOutcome, IngestError>>,
    pub(super) caller: Caller,
    pub(super) answer: Answer,
}

impl<F> Job for IngestWork<F>
where
    F: FnMut(&mut DbConnection) -> Result<IngestOutcome, IngestError> + Send,
{
    fn run(&mut self, conn: &mut DbConnection, savepoint: bool, _: Option<&Handoff>) -> bool {
        // A replay starts from a rolled-back transaction: what was claimed is not.
        self.answer.handed.clear();
        run_work(
            conn,
            savepoint,
            &self.caller,
            &mut self.work,
            &mut self.outcome,
        )
    }

    fn caller(&mut self) -> Option<&mut Caller> {
        Some(&mut self.caller)
    }

    fn hand_off(&mut self, conn: &mut DbConnection, handoff: &Handoff) -> bool {
        let handed = &mut self.answer.handed;
        hand_off_outcome(
            conn,
            self.outcome.as_ref(),
            handoff,
            handed,
            &mut Vec::new(),
        )
    }

    fn dispatch(&mut self, handoff: &Handoff, gate: &CommitGate, dequeued: Instant) {
        self.answer.dispatch(handoff, gate, dequeued);
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        self.answer.send(self.outcome, committed);
    }
}

/// A load-test event (applied together with its batch's others on PostgreSQL).
pub(super) struct LoadTestWork {
    pub(super) job: LoadTestJob,
    pub(super) caller: Caller,
    pub(super) answer: Answer,
    /// What was loaded for its outbox rows before they were written (see [`Job::run`]).
    pub(super) preloaded: Vec<Preloaded>,
}

impl Job for LoadTestWork {
    fn run(&mut self, conn: &mut DbConnection, savepoint: bool, ahead: Option<&Handoff>) -> bool {
        self.answer.handed.clear();
        self.preloaded.clear();
        let (job, preloaded) = (&mut self.job, &mut self.preloaded);
        let mut work = |c: &mut DbConnection| {
            let (ev, resolved, now) = (&job.ev, &job.resolved, chrono::Utc::now());
            ingest::load_test_event_planned(c, ev, resolved, now, |c, payload, rows| {
                if let Some(h) = ahead {
                    *preloaded = prerender::start(c, payload, rows, &h.prerender)?;
                }
                Ok(())
            })
        };
        run_work(conn, savepoint, &self.caller, &mut work, &mut job.outcome)
    }

    fn hand_off(&mut self, conn: &mut DbConnection, handoff: &Handoff) -> bool {
        let (handed, preloaded) = (&mut self.answer.handed, &mut self.preloaded);
        hand_off_outcome(conn, self.job.outcome.as_ref(), handoff, handed, preloaded)
    }

    fn dispatch(&mut self, handoff: &Handoff, gate: &CommitGate, dequeued: Instant) {
        self.answer.dispatch(handoff, gate, dequeued);
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        self.answer.send(self.job.outcome, committed);
    }

    fn load_test(&mut self) -> Option<&mut LoadTestJob> {
        (!self.caller.refused()).then_some(&mut self.job)
    }

    fn caller(&mut self) -> Option<&mut Caller> {
        Some(&mut self.caller)
    }
}

/// A write of another part of the service, run on the writer's connection (see
/// `IngestWriter::submit_write`): nothing to confirm or hand off, answered with its result
/// once the batch committed.
pub(super) struct WriteWork<F, T> {
    pub(super) work: F,
    pub(super) outcome: Option<Result<T, DbError>>,
    pub(super) reply: tokio::sync::oneshot::Sender<Result<T, DbError>>,
}

impl<F, T> Job for WriteWork<F, T>
where
    F: FnMut(&mut DbConnection) -> Result<T, DbError> + Send,
    T: Send,
{
    fn run(&mut self, conn: &mut DbConnection, _: bool, _: Option<&Handoff>) -> bool {
        // Always inside a savepoint of its own: one that fails rolls back alone, and does not
        // send the batch's events to a replay without their hand-off.
        self.outcome = Some(in_savepoint(conn, &mut self.work));
        true
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let result = match (committed, self.outcome) {
            (Ok(()), Some(result)) => result,
            (Err(e), _) => Err(DbError::Connect(e)),
            (Ok(()), None) => Err(DbError::Canceled),
        };
        let _ = self.reply.send(result);
    }
}

/// Runs `f` between `SAVEPOINT` and `RELEASE`, rolling back to the savepoint on error.
fn in_savepoint<T, E: From<DbError>>(
    conn: &mut DbConnection,
    f: &mut impl FnMut(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E> {
    conn.batch_execute("SAVEPOINT ingest_job")
        .map_err(|e| E::from(DbError::Query(e)))?;
    let result = f(conn);
    let end = match &result {
        Ok(_) => conn.batch_execute("RELEASE SAVEPOINT ingest_job"),
        Err(_) => {
            conn.batch_execute("ROLLBACK TO SAVEPOINT ingest_job; RELEASE SAVEPOINT ingest_job")
        }
    };
    match end {
        Ok(()) => result,
        Err(e) => Err(E::from(DbError::Query(e))),
    }
}

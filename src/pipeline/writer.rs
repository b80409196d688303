//! Group commit for the ingest path.
//!
//! Every accepted event is one small write (event row, subject state, outbox rows). Done
//! one transaction each, the commits dominate: SQLite serialises writers and each commit
//! writes its pages to the WAL; PostgreSQL flushes its WAL per commit. The writer runs on
//! one dedicated thread with its own connection: it takes whatever jobs are queued (up to
//! [`MAX_BATCH`]), runs them in one transaction, commits once, and only then answers each
//! job. Nobody is answered before the commit, so a `202` still means "durably stored"; a
//! failed commit fails them all.
//!
//! Jobs run optimistically without savepoints (two statements, and on PostgreSQL two round
//! trips, per job; refused events are rare). When a job fails, the batch is rolled back and
//! replayed with each job inside its own savepoint, so the failing job rolls back alone and
//! the others are committed. Jobs are therefore run at most twice and must not have effects
//! outside the transaction.
//!
//! The writer keeps its connection. When a batch's transaction cannot even begin on it (the
//! database restarted or failed over since the last batch), none of the batch ran, so it
//! runs once more on a new connection; a failure after that fails the batch (`503`). The
//! same holds for the statement right after `BEGIN` that confirms the callers' API tokens
//! ([`confirm_callers`]): no job's work has run before it.
//!
//! On PostgreSQL, load-test events (the bulk of the traffic) are applied together when a
//! batch holds at least [`GROUP_FROM`] of them (`ingest::load_test_batch`): four statements for the whole
//! group instead of four per event. On PostgreSQL every statement is a round trip, and under
//! load each round trip waits for a core, so a batch that grew while the machine was busy
//! took longer in proportion and the next one grew further. A group that lost a race, or
//! met an error, is replayed like any failed batch, one event at a time.
//!
//! On SQLite the writer never checkpoints the WAL itself (`wal_autocheckpoint = 0` on
//! every connection): a checkpoint copies pages into the database file and fsyncs it,
//! which, run by whichever commit crossed the threshold, stalled every waiting event for
//! the length of an fsync (tens of milliseconds on the bench machine's disk, the steady
//! phase's p99). A checkpointer thread runs `PRAGMA wal_checkpoint(PASSIVE)`, which never
//! waits for the writer, every [`checkpoint::CHECKPOINT_INTERVAL`], and a `RESTART` checkpoint on the
//! writer lane when the WAL has grown past [`checkpoint::WAL_RESTART_PAGES`] anyway.

mod checkpoint;
mod jobs;

use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use diesel::connection::SimpleConnection;

use super::commit_gate::commit_gate;
use super::events::LoadTestEvent;
use super::ingest::{self, IngestError, IngestOutcome, LoadTestJob, Resolved};
use super::path_trace::PathTrace;
use crate::db::models::api_token::ApiTokenRow;
use crate::db::{take_ingest_turn, DatabaseUrl, Db, DbConnection, DbError};
use crate::domain::access::TokenHash;
use checkpoint::checkpointer_loop;
use jobs::{Answer, Caller, IngestWork, Job, LoadTestWork, WriteWork};
pub use jobs::{Handoff, Ingested};

/// Most jobs committed together.
pub const MAX_BATCH: usize = 256;
/// Writer threads on PostgreSQL: each statement is a network round trip, so one
/// connection caps throughput; several write in parallel (jobs of one subject never run
/// concurrently: its actor waits for each answer). SQLite has one writer by nature.
/// Two, not four: with four, most batches held one event (no grouping, four statements
/// each) and four server processes competed for two cores; over ten interleaved runs the
/// median steady p99 was 23 ms with two against 36 ms with four, ingest 2,643 against
/// 2,430 events/s (one writer: 28 ms, 2,518/s).
const POSTGRES_WRITERS: usize = 2;
/// Load-test events in a batch from which they are applied together on PostgreSQL
/// (`ingest::load_test_batch`: four statements, planned anew each time); fewer run one by
/// one on statements prepared once per connection (four each), which costs PostgreSQL less
/// CPU when the batches are small. SQLite always runs them one by one: a statement there is
/// a function call, not a round trip, and one prepared once beats one prepared per batch.
const GROUP_FROM: usize = 3;
/// Jobs waiting for the writer before submitters wait for room.
const QUEUE_CAPACITY: usize = 8_192;

/// Handle to the writer thread (cheap to clone). The thread ends when the last handle is
/// dropped: the HTTP layer's, and on SQLite the sender's (`SenderDeps::outcome_writer`),
/// which goes with the sender actor when the actix system stops.
#[derive(Clone)]
pub struct IngestWriter {
    queue: SyncSender<Box<dyn Job>>,
    /// Dropped with the last handle: the checkpointer thread (SQLite) then ends.
    _checkpointer: Option<Sender<()>>,
}

impl IngestWriter {
    /// Starts the writer thread(s) for `db`'s database; with `handoff`, accepted events'
    /// deliveries that may go out now are claimed at commit (see [`Handoff`]).
    pub fn start(db: &Db, handoff: Option<Handoff>) -> std::io::Result<Self> {
        let (queue, jobs) = sync_channel::<Box<dyn Job>>(QUEUE_CAPACITY);
        let jobs = Arc::new(Mutex::new(jobs));
        let writers = if db.url().is_sqlite() {
            1
        } else {
            POSTGRES_WRITERS
        };
        for n in 0..writers {
            let (url, lane, jobs) = (db.url().clone(), db.write_lane(), jobs.clone());
            let handoff = handoff.clone();
            std::thread::Builder::new()
                .name(format!("xtc-ingest-writer-{n}"))
                .spawn(move || writer_loop(&url, lane, &jobs, handoff.as_ref()))?;
        }
        let checkpointer = match db.url() {
            DatabaseUrl::Sqlite(_) => {
                let (stop, stopped) = channel::<()>();
                let (url, lane) = (db.url().clone(), db.write_lane());
                std::thread::Builder::new()
                    .name("xtc-wal-checkpointer".into())
                    .spawn(move || checkpointer_loop(&url, lane, &stopped))?;
                Some(stop)
            }
            DatabaseUrl::Postgres(_) => None,
        };
        Ok(Self {
            queue,
            _checkpointer: checkpointer,
        })
    }

    /// Ingests an event with `f` in the next group transaction (with the hand-off, which
    /// carries on the event's `trace`); answers after that transaction committed. `f` may
    /// run twice. With `unconfirmed`, the transaction first confirms that API token live
    /// (see [`jobs::Caller`]).
    pub async fn submit_ingest<F>(
        &self,
        f: F,
        unconfirmed: Option<TokenHash>,
        trace: PathTrace,
    ) -> Result<Ingested, IngestError>
    where
        F: FnMut(&mut DbConnection) -> Result<IngestOutcome, IngestError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = IngestWork {
            work: f,
            outcome: None,
            caller: Caller::new(unconfirmed),
            answer: Answer::new(trace, reply),
        };
        self.run(Box::new(job), answer).await
    }

    /// Ingests a load-test event in the next group transaction, together with the other
    /// load-test events of the batch (`ingest::load_test_batch`); answers after the commit.
    /// `unconfirmed`: as for [`Self::submit_ingest`].
    pub async fn submit_load_test(
        &self,
        ev: LoadTestEvent,
        resolved: Resolved,
        unconfirmed: Option<TokenHash>,
        trace: PathTrace,
    ) -> Result<Ingested, IngestError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = LoadTestJob {
            ev,
            resolved,
            outcome: None,
        };
        let work = LoadTestWork {
            job,
            caller: Caller::new(unconfirmed),
            answer: Answer::new(trace, reply),
            preloaded: Vec::new(),
        };
        self.run(Box::new(work), answer).await
    }

    /// Runs `f` on the writer's connection in the next group transaction, inside a
    /// savepoint of its own (a failure rolls back `f` alone), and answers with its result
    /// after the commit; `f` may run twice (see the module documentation). For
    /// SQLite, where a commit on another connection makes the writer drop its cached pages
    /// and read them again in its next transaction: the sender writes each delivery's
    /// outcome here (`pipeline::deliver`), so the next event's transaction finds its pages
    /// cached.
    pub async fn submit_write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnMut(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = WriteWork {
            work: f,
            outcome: None,
            reply,
        };
        self.run(Box::new(job), answer).await
    }

    /// Queues a job and waits for its answer.
    async fn run<T, E: From<DbError>>(
        &self,
        job: Box<dyn Job>,
        answer: tokio::sync::oneshot::Receiver<Result<T, E>>,
    ) -> Result<T, E> {
        self.enqueue(job).await?;
        answer
            .await
            .unwrap_or_else(|_| Err(DbError::Canceled.into()))
    }

    /// Queues a job, waiting (off the async workers) while the queue is full.
    async fn enqueue(&self, job: Box<dyn Job>) -> Result<(), DbError> {
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                // Back-pressure: wait for room off the async workers.
                let queue = self.queue.clone();
                let sent =
                    actix_web::rt::task::spawn_blocking(move || queue.send(job).is_ok()).await;
                if !matches!(sent, Ok(true)) {
                    return Err(DbError::Canceled);
                }
            }
            Err(TrySendError::Disconnected(_)) => return Err(DbError::Canceled),
        }
        Ok(())
    }
}

fn writer_loop(
    url: &DatabaseUrl,
    lane: Option<Arc<Mutex<()>>>,
    jobs: &Mutex<Receiver<Box<dyn Job>>>,
    handoff: Option<&Handoff>,
) {
    // Connected before the first event, which should not wait for a handshake.
    let mut conn: Option<DbConnection> = url.connect().ok();
    while let Some(mut batch) = crate::db::next_batch(jobs, MAX_BATCH) {
        let dequeued = Instant::now();
        if conn.is_none() {
            match url.connect() {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "ingest writer cannot connect to the database");
                    for job in batch {
                        job.finish(Err("the database is not available".to_owned()));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let _turn = take_ingest_turn(lane.as_ref());
        let started = Instant::now();
        let mut committed = run_batch(c, &mut batch, handoff, dequeued);
        if let Err(BatchError::NotBegun(e)) = &committed {
            // The kept connection died (a database restart, a failover): nothing of the
            // batch ran, so it runs once more on a new connection rather than failing
            // every event of it with 503.
            tracing::info!(error = %e, "ingest writer: reconnecting to the database");
            conn = url
                .connect()
                .inspect_err(|e| tracing::error!(error = %e, "ingest writer cannot connect"))
                .ok();
            if let Some(c) = conn.as_mut() {
                committed = run_batch(c, &mut batch, handoff, dequeued);
            }
            if let Err(BatchError::NotBegun(e)) = &committed {
                tracing::error!(error = %e, "ingest writer could not begin a transaction");
            }
        }
        let committed = committed.map_err(BatchError::answer);
        let took = started.elapsed();
        if crate::db::is_slow(took) {
            tracing::warn!(
                took_ms = took.as_millis() as u64,
                jobs = batch.len(),
                "slow ingest commit"
            );
        }
        if committed.is_err() {
            conn = None;
        }
        for job in batch {
            job.finish(committed.clone());
        }
    }
}

/// How a batch failed as a whole.
#[derive(Debug)]
enum BatchError {
    /// Its transaction could not be begun, or its callers' tokens not confirmed
    /// ([`confirm_callers`], the statement right after `BEGIN`): none of its work ran (the
    /// connection is most likely gone).
    NotBegun(diesel::result::Error),
    /// Begun, then not committed: the replay could not begin, or the commit failed.
    Failed(&'static str),
}

impl BatchError {
    /// What every job of the batch is answered.
    fn answer(self) -> String {
        match self {
            Self::NotBegun(_) => "the database is not available",
            Self::Failed(why) => why,
        }
        .to_owned()
    }
}

/// Runs a batch (taken from the queue at `dequeued`) in one transaction: optimistically
/// (then the hand-off, given to the sender right before the `COMMIT` behind a gate that the
/// commit's outcome opens or shuts), and replayed with a savepoint per job, without
/// hand-off, when a job or the hand-off failed.
fn run_batch(
    c: &mut DbConnection,
    batch: &mut [Box<dyn Job>],
    handoff: Option<&Handoff>,
    dequeued: Instant,
) -> Result<(), BatchError> {
    let begin = match c {
        DbConnection::Sqlite(_) => "BEGIN IMMEDIATE",
        DbConnection::Postgresql(_) => "BEGIN",
    };
    let attempt = |c: &mut DbConnection, batch: &mut [Box<dyn Job>], savepoints: bool| {
        c.batch_execute(begin)?;
        if savepoints {
            // The first attempt confirmed the callers already (after every request of the
            // batch arrived); who was refused stays refused.
            let ran = batch.iter_mut().all(|job| job.run(c, true, None));
            return Ok::<_, diesel::result::Error>(ran);
        }
        // A lone event's messages are rendered while it writes; only on SQLite, whose
        // open transaction no one else writes in (`pipeline::deliver::prerender`). A batch
        // of several means the writer is busy: its CPU goes to the events.
        let sqlite = matches!(c, DbConnection::Sqlite(_));
        let ahead = handoff.filter(|_| sqlite && batch.len() == 1);
        confirm_callers(c, batch)?;
        let mut load_tests: Vec<&mut LoadTestJob> =
            batch.iter_mut().filter_map(|job| job.load_test()).collect();
        let together = matches!(c, DbConnection::Postgresql(_)) && load_tests.len() >= GROUP_FROM;
        if together && !ingest::load_test_batch(c, &mut load_tests, chrono::Utc::now()) {
            return Ok(false);
        }
        // The rest one by one (the load-test events too, unless applied together above).
        if !batch
            .iter_mut()
            .all(|job| (together && job.load_test().is_some()) || job.run(c, false, ahead))
        {
            return Ok(false);
        }
        Ok(handoff.is_none_or(|h| batch.iter_mut().all(|job| job.hand_off(c, h))))
    };
    let mut signal = None;
    if attempt(c, batch, false).map_err(BatchError::NotBegun)? {
        if let Some(h) = handoff {
            // The sender renders while the database commits; it posts once the gate opens.
            let (settle, gate) = commit_gate();
            batch
                .iter_mut()
                .for_each(|job| job.dispatch(h, &gate, dequeued));
            signal = Some(settle);
        }
    } else {
        // A job failed with the others' writes around it: start over, each job isolated.
        let _ = c.batch_execute("ROLLBACK");
        attempt(c, batch, true).map_err(|e| {
            tracing::error!(error = %e, "ingest writer could not begin the replay");
            BatchError::Failed("the database is not available")
        })?;
    }
    let committed = c.batch_execute("COMMIT").map_err(|e| {
        tracing::error!(error = %e, "ingest writer could not commit");
        let _ = c.batch_execute("ROLLBACK");
        BatchError::Failed("the database did not commit")
    });
    if let Some(signal) = signal {
        signal.settle(committed.is_ok());
    }
    committed
}

/// Confirms live, in the batch's transaction and before any job's work, the API tokens of
/// the jobs whose callers were let in on a token seen live earlier (one statement for the
/// batch; live as the token checks count it, `ApiTokenRow::principal`); the jobs whose token
/// is not live are refused and will not run, in this attempt or a replay (see
/// [`jobs::Caller`]). The statement begins after every job of the batch was queued, so a
/// revocation committed before a request arrived refuses it, as the token checks would.
fn confirm_callers(
    c: &mut DbConnection,
    batch: &mut [Box<dyn Job>],
) -> Result<(), diesel::result::Error> {
    let hashes: Vec<String> = batch
        .iter_mut()
        .filter_map(|job| job.caller()?.to_confirm().map(|h| h.as_str().to_owned()))
        .collect();
    if hashes.is_empty() {
        return Ok(());
    }
    let asked: Vec<&str> = hashes.iter().map(String::as_str).collect();
    let live = ApiTokenRow::live_principals(c, &asked)?;
    for caller in batch.iter_mut().filter_map(|job| job.caller()) {
        if caller
            .to_confirm()
            .is_some_and(|h| !live.contains_key(h.as_str()))
        {
            caller.refuse();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

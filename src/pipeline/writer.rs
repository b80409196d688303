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
//! waits for the writer, every [`CHECKPOINT_INTERVAL`], and a `RESTART` checkpoint on the
//! writer lane when the WAL has grown past [`WAL_RESTART_PAGES`] anyway.

use std::sync::mpsc::{
    channel, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;

use super::deliver::{prepare_handed, HandedDelivery, SenderConfig};
use super::events::LoadTestEvent;
use super::ingest::{self, IngestError, IngestOutcome, LoadTestJob, Resolved};
use super::path_trace::{PathTrace, Step};
use crate::db::models::delivery::Delivery;
use crate::db::{take_ingest_turn, take_turn, DatabaseUrl, Db, DbConnection, DbError};

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
/// How often the SQLite checkpointer copies the WAL into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);
/// WAL size (pages of 4 KiB) beyond which the checkpointer restarts the WAL on the writer
/// lane (passive checkpoints alone cannot reset it while readers keep using it).
const WAL_RESTART_PAGES: i64 = 16_384;
/// How long a RESTART checkpoint waits for readers, holding the writer lane meanwhile.
const CHECKPOINT_BUSY_MS: i64 = 20;

/// How the group commit claims, in the transaction that queued them, the deliveries the
/// sender may send at once (`Delivery::claim_heads`): the sender's lease and pacing, and
/// this instance's name. What each claimed delivery needs (its event, installation, names,
/// thread) is loaded in the same transaction too, and right after the commit the writer
/// thread gives the lot to the sender itself (`sink`), before it answers the event's actor
/// ([`Ingested::handed`] names the channels): the sender goes straight to rendering, and
/// nothing is written between the commit and the post but the outcome. A crash after the
/// commit loses nothing: the lease runs out (or, on SQLite, the claim is handed back at
/// start) and the row is claimed again, as any claim's would be.
#[derive(Clone)]
pub struct Handoff {
    /// The sender's lease, pacing, instance name and digest rules.
    pub sender: SenderConfig,
    /// Gives committed, claimed deliveries and their event's path to the sender.
    pub sink: HandoffSink,
}

/// Where the writer hands claimed deliveries after the commit (the `SlackSender`'s mailbox).
pub type HandoffSink = Arc<dyn Fn(Vec<HandedDelivery>, PathTrace) + Send + Sync>;

/// An ingested event as the group commit answers it.
#[derive(Debug)]
pub struct Ingested {
    pub outcome: IngestOutcome,
    /// The channels (workspace, channel) whose delivery was claimed in the event's
    /// transaction and given to the sender: they need no claim.
    pub handed: Vec<(String, String)>,
}

/// When a batch was taken from the queue and committed.
#[derive(Clone, Copy)]
pub(crate) struct BatchTimes {
    dequeued: Instant,
    committed: Instant,
}

/// One submitted piece of work and its submitter's answer channel.
trait Job: Send {
    /// Runs the work inside the open transaction; with `savepoint`, inside a savepoint of
    /// its own (rolled back if the work fails). Returns whether the work succeeded.
    fn run(&mut self, conn: &mut DbConnection, savepoint: bool) -> bool;
    /// After the batch's first (optimistic) run, before the commit: claims the deliveries
    /// the work queued that may go out now (see [`Handoff`]). `false` on a database error
    /// (the batch is then replayed, without hand-off).
    fn hand_off(&mut self, _conn: &mut DbConnection, _handoff: &Handoff) -> bool {
        true
    }
    /// Answers the submitter: the work's outcome once `committed` is `Ok` (first handing
    /// what was claimed to the sender).
    fn finish(
        self: Box<Self>,
        committed: Result<(), String>,
        times: BatchTimes,
        handoff: Option<&Handoff>,
    );
    /// A load-test event, run together with the batch's others (`ingest::load_test_batch`)
    /// on the first try; `run` is the one-at-a-time replay.
    fn load_test(&mut self) -> Option<&mut LoadTestJob> {
        None
    }
}

/// Runs a job's work (inside a savepoint of its own with `savepoint`) and keeps its
/// outcome; returns whether the batch may go on (see [`Job::run`]).
fn run_work<T, E: From<DbError>>(
    conn: &mut DbConnection,
    savepoint: bool,
    work: &mut impl FnMut(&mut DbConnection) -> Result<T, E>,
    outcome: &mut Option<Result<T, E>>,
) -> bool {
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
type IngestReply = tokio::sync::oneshot::Sender<Result<Ingested, IngestError>>;

/// Claims what an accepted event queued that may go out now (see [`Handoff`]); `false` on
/// a database error.
fn hand_off_outcome(
    conn: &mut DbConnection,
    outcome: Option<&Result<IngestOutcome, IngestError>>,
    handoff: &Handoff,
    handed: &mut Vec<HandedDelivery>,
) -> bool {
    let Some(Ok(IngestOutcome::Accepted { channels, .. })) = outcome else {
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
            .map(|d| prepare_handed(conn, d, config))
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

/// The parts of an ingest job that its answer needs.
struct IngestAnswer {
    reply: IngestReply,
    outcome: Option<Result<IngestOutcome, IngestError>>,
    handed: Vec<HandedDelivery>,
    trace: PathTrace,
}

/// Once the batch is committed (or not): gives what was claimed to the sender, then
/// answers the ingest's submitter.
fn answer_ingest(
    a: IngestAnswer,
    committed: Result<(), String>,
    times: BatchTimes,
    handoff: Option<&Handoff>,
) {
    let IngestAnswer {
        reply,
        outcome,
        handed,
        mut trace,
    } = a;
    let mut channels = Vec::new();
    if let (Ok(()), Some(h)) = (&committed, handoff) {
        if !handed.is_empty() {
            channels = handed
                .iter()
                .map(|h| {
                    let d = &h.delivery;
                    (d.team_id.clone().unwrap_or_default(), d.channel.clone())
                })
                .collect();
            trace.set(Step::Dequeued, times.dequeued);
            trace.set(Step::Committed, times.committed);
            (h.sink)(handed, trace);
        }
    }
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

/// An event of a kind applied one at a time (a monitoring result).
struct IngestWork<F> {
    work: F,
    outcome: Option<Result<IngestOutcome, IngestError>>,
    handed: Vec<HandedDelivery>,
    trace: PathTrace,
    reply: IngestReply,
}

impl<F> Job for IngestWork<F>
where
    F: FnMut(&mut DbConnection) -> Result<IngestOutcome, IngestError> + Send,
{
    fn run(&mut self, conn: &mut DbConnection, savepoint: bool) -> bool {
        // A replay starts from a rolled-back transaction: what was claimed is not.
        self.handed.clear();
        run_work(conn, savepoint, &mut self.work, &mut self.outcome)
    }

    fn hand_off(&mut self, conn: &mut DbConnection, handoff: &Handoff) -> bool {
        hand_off_outcome(conn, self.outcome.as_ref(), handoff, &mut self.handed)
    }

    fn finish(
        self: Box<Self>,
        committed: Result<(), String>,
        times: BatchTimes,
        handoff: Option<&Handoff>,
    ) {
        let answer = IngestAnswer {
            reply: self.reply,
            outcome: self.outcome,
            handed: self.handed,
            trace: self.trace,
        };
        answer_ingest(answer, committed, times, handoff);
    }
}

struct LoadTestWork {
    job: LoadTestJob,
    handed: Vec<HandedDelivery>,
    trace: PathTrace,
    reply: IngestReply,
}

impl Job for LoadTestWork {
    fn run(&mut self, conn: &mut DbConnection, savepoint: bool) -> bool {
        self.handed.clear();
        let job = &mut self.job;
        let mut work = |c: &mut DbConnection| {
            ingest::load_test_event(c, &job.ev, &job.resolved, chrono::Utc::now())
        };
        run_work(conn, savepoint, &mut work, &mut job.outcome)
    }

    fn hand_off(&mut self, conn: &mut DbConnection, handoff: &Handoff) -> bool {
        hand_off_outcome(conn, self.job.outcome.as_ref(), handoff, &mut self.handed)
    }

    fn finish(
        self: Box<Self>,
        committed: Result<(), String>,
        times: BatchTimes,
        handoff: Option<&Handoff>,
    ) {
        let answer = IngestAnswer {
            reply: self.reply,
            outcome: self.job.outcome,
            handed: self.handed,
            trace: self.trace,
        };
        answer_ingest(answer, committed, times, handoff);
    }

    fn load_test(&mut self) -> Option<&mut LoadTestJob> {
        Some(&mut self.job)
    }
}

/// Handle to the writer thread (cheap to clone).
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
    /// run twice.
    pub async fn submit_ingest<F>(&self, f: F, trace: PathTrace) -> Result<Ingested, IngestError>
    where
        F: FnMut(&mut DbConnection) -> Result<IngestOutcome, IngestError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = IngestWork {
            work: f,
            outcome: None,
            handed: Vec::new(),
            trace,
            reply,
        };
        self.run(Box::new(job), answer).await
    }

    /// Ingests a load-test event in the next group transaction, together with the other
    /// load-test events of the batch (`ingest::load_test_batch`); answers after the commit.
    pub async fn submit_load_test(
        &self,
        ev: LoadTestEvent,
        resolved: Resolved,
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
            handed: Vec::new(),
            trace,
            reply,
        };
        self.run(Box::new(work), answer).await
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
                    let times = BatchTimes {
                        dequeued,
                        committed: Instant::now(),
                    };
                    for job in batch {
                        let err = Err("the database is not available".to_owned());
                        job.finish(err, times, handoff);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let _turn = take_ingest_turn(lane.as_ref());
        let started = Instant::now();
        let committed = run_batch(c, &mut batch, handoff);
        let took = started.elapsed();
        let times = BatchTimes {
            dequeued,
            committed: Instant::now(),
        };
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
            job.finish(committed.clone(), times, handoff);
        }
    }
}

/// Runs a batch in one transaction: optimistically (then the hand-off), and replayed with a
/// savepoint per job, without hand-off, when a job or the hand-off failed. `Err` when the
/// transaction could not be begun or committed.
fn run_batch(
    c: &mut DbConnection,
    batch: &mut [Box<dyn Job>],
    handoff: Option<&Handoff>,
) -> Result<(), String> {
    let begin = match c {
        DbConnection::Sqlite(_) => "BEGIN IMMEDIATE",
        DbConnection::Postgresql(_) => "BEGIN",
    };
    let attempt = |c: &mut DbConnection, batch: &mut [Box<dyn Job>], savepoints: bool| {
        c.batch_execute(begin).map_err(|e| {
            tracing::error!(error = %e, "ingest writer could not begin a transaction");
            "the database is not available".to_owned()
        })?;
        if savepoints {
            return Ok::<_, String>(batch.iter_mut().all(|job| job.run(c, true)));
        }
        let mut load_tests: Vec<&mut LoadTestJob> =
            batch.iter_mut().filter_map(|job| job.load_test()).collect();
        let together = matches!(c, DbConnection::Postgresql(_)) && load_tests.len() >= GROUP_FROM;
        if together && !ingest::load_test_batch(c, &mut load_tests, chrono::Utc::now()) {
            return Ok(false);
        }
        // The rest one by one (the load-test events too, unless applied together above).
        if !batch
            .iter_mut()
            .all(|job| (together && job.load_test().is_some()) || job.run(c, false))
        {
            return Ok(false);
        }
        Ok(handoff.is_none_or(|h| batch.iter_mut().all(|job| job.hand_off(c, h))))
    };
    if !attempt(c, batch, false)? {
        // A job failed with the others' writes around it: start over, each job isolated.
        let _ = c.batch_execute("ROLLBACK");
        attempt(c, batch, true)?;
    }
    c.batch_execute("COMMIT").map_err(|e| {
        tracing::error!(error = %e, "ingest writer could not commit");
        let _ = c.batch_execute("ROLLBACK");
        "the database did not commit".to_owned()
    })
}

/// The SQLite WAL checkpointer (see the module documentation); ends when `stopped` is
/// disconnected.
fn checkpointer_loop(url: &DatabaseUrl, lane: Option<Arc<Mutex<()>>>, stopped: &Receiver<()>) {
    let mut conn: Option<DbConnection> = None;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_INTERVAL) {
        if conn.is_none() {
            // A short busy wait on this connection: a RESTART waits for the short reads
            // (a page, a token check) to end, but one that a long reader (a summary
            // preview, a backup) keeps from finishing gives up soon instead of holding
            // the writer lane, and is tried again next time.
            conn = checkpointer_connection(url);
        }
        let Some(DbConnection::Sqlite(c)) = conn.as_mut() else {
            continue;
        };
        match wal_pages(c, "PASSIVE") {
            Ok(pages) if pages > WAL_RESTART_PAGES => {
                let _turn = take_turn(lane.as_ref());
                if let Err(e) = wal_pages(c, "RESTART") {
                    tracing::warn!(error = %e, "WAL checkpoint (restart) failed");
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                conn = None;
            }
        }
    }
}

/// The checkpointer's SQLite connection, with a short busy wait (see [`checkpointer_loop`]).
fn checkpointer_connection(url: &DatabaseUrl) -> Option<DbConnection> {
    let mut conn = url.connect().ok()?;
    if !matches!(conn, DbConnection::Sqlite(_)) {
        return None;
    }
    let busy = format!("PRAGMA busy_timeout = {CHECKPOINT_BUSY_MS}");
    conn.batch_execute(&busy).ok()?;
    Some(conn)
}

/// Runs a checkpoint of `mode`; returns the WAL's size in pages.
fn wal_pages(conn: &mut diesel::SqliteConnection, mode: &str) -> diesel::QueryResult<i64> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        log: i64,
    }
    let rows: Vec<Checkpoint> =
        diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})")).load(conn)?;
    Ok(rows.first().map_or(0, |r| r.log))
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl;

    use super::*;

    /// A job's work: inserts `v`; its outcome names it.
    fn insert(conn: &mut DbConnection, v: &str) -> Result<IngestOutcome, IngestError> {
        diesel::sql_query(format!("INSERT INTO t (v) VALUES ('{v}')")).execute(conn)?;
        Ok(IngestOutcome::Stale {
            state: v.to_owned(),
        })
    }

    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }

    fn values(db: &Db) -> Vec<String> {
        let mut conn = db.get().unwrap();
        let rows: Vec<Row> = diesel::sql_query("SELECT v FROM t ORDER BY v")
            .load(&mut **conn)
            .unwrap();
        rows.into_iter().map(|r| r.v).collect()
    }

    /// A RESTART checkpoint that a reader keeps from finishing answers "busy" after a short
    /// wait: the checkpointer holds the writer lane meanwhile, so it must not wait long for
    /// a reader (a summary preview at idle priority may hold its snapshot for long on a
    /// busy machine), only for the short ones to end.
    #[test]
    fn the_checkpointer_never_waits_for_a_reader() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("c.db"));
        let mut writer = url.connect().unwrap();
        writer
            .batch_execute("CREATE TABLE t (v TEXT NOT NULL); INSERT INTO t VALUES ('a')")
            .unwrap();
        let mut reader = url.connect().unwrap();
        reader.batch_execute("BEGIN").unwrap();
        let _: Vec<String> = diesel::sql_query("SELECT v FROM t")
            .load::<Row>(&mut reader)
            .unwrap()
            .into_iter()
            .map(|r| r.v)
            .collect();
        writer.batch_execute("INSERT INTO t VALUES ('b')").unwrap();
        let Some(DbConnection::Sqlite(mut c)) = checkpointer_connection(&url) else {
            panic!("no checkpointer connection");
        };
        #[derive(diesel::QueryableByName)]
        struct Busy {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            timeout: i64,
        }
        let busy: Vec<Busy> = diesel::sql_query("PRAGMA busy_timeout")
            .load(&mut c)
            .unwrap();
        assert_eq!(busy[0].timeout, CHECKPOINT_BUSY_MS);
        #[derive(diesel::QueryableByName)]
        struct Checkpoint {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            busy: i64,
        }
        let done: Vec<Checkpoint> = diesel::sql_query("PRAGMA wal_checkpoint(RESTART)")
            .load(&mut c)
            .unwrap();
        assert_eq!(
            done[0].busy, 1,
            "the reader's snapshot keeps it from restarting"
        );
        reader.batch_execute("COMMIT").unwrap();
    }

    /// A job that fails after writing is rolled back alone; the jobs batched with it are
    /// committed and answered with their own outcomes.
    #[actix_web::test]
    async fn a_failing_job_rolls_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::new(DatabaseUrl::Sqlite(dir.path().join("w.db")), 2).unwrap();
        db.get()
            .unwrap()
            .batch_execute("CREATE TABLE t (v TEXT NOT NULL)")
            .unwrap();
        let writer = IngestWriter::start(&db, None).unwrap();
        // A slow first job, so the next three wait and are taken as one batch.
        let slow = writer.submit_ingest(
            |c| {
                std::thread::sleep(Duration::from_millis(300));
                insert(c, "slow")
            },
            PathTrace::default(),
        );
        let ok1 = writer.submit_ingest(|c| insert(c, "a"), PathTrace::default());
        let bad = writer.submit_ingest(
            |c| {
                insert(c, "half-done")?;
                Err(IngestError::EventIdReused("e-1".into()))
            },
            PathTrace::default(),
        );
        let ok2 = writer.submit_ingest(|c| insert(c, "b"), PathTrace::default());
        let (slow, ok1, bad, ok2) = futures_util::future::join4(slow, ok1, bad, ok2).await;
        for (answer, v) in [(slow, "slow"), (ok1, "a"), (ok2, "b")] {
            let outcome = answer.map(|i| i.outcome);
            assert!(
                matches!(&outcome, Ok(IngestOutcome::Stale { state }) if state == v),
                "{outcome:?}"
            );
        }
        assert!(matches!(bad, Err(IngestError::EventIdReused(_))), "{bad:?}");
        assert_eq!(values(&db), ["a", "b", "slow"]);
    }
}

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
            caller: Caller::new(None),
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
            return Ok::<_, diesel::result::Error>(batch.iter_mut().all(|job| job.run(c, true)));
        }
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
            .all(|job| (together && job.load_test().is_some()) || job.run(c, false))
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
        .filter_map(|job| job.caller().to_confirm().map(|h| h.as_str().to_owned()))
        .collect();
    if hashes.is_empty() {
        return Ok(());
    }
    let asked: Vec<&str> = hashes.iter().map(String::as_str).collect();
    let live = ApiTokenRow::live_principals(c, &asked)?;
    for job in batch.iter_mut() {
        let caller = job.caller();
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
mod tests {
    use diesel::RunQueryDsl;

    use std::time::Duration;

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

    /// A database holding only table `t`, in a directory removed when dropped.
    fn with_table_t() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::new(DatabaseUrl::Sqlite(dir.path().join("w.db")), 2).unwrap();
        db.get()
            .unwrap()
            .batch_execute("CREATE TABLE t (v TEXT NOT NULL)")
            .unwrap();
        (dir, db)
    }

    /// A database with the product's schema, in a directory removed when dropped.
    fn migrated() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("w.db"));
        crate::db::run_migrations(&mut url.connect().unwrap()).unwrap();
        (dir, Db::new(url, 2).unwrap())
    }

    /// A job that inserts "slow" after 300 ms: the jobs submitted after it wait and are
    /// taken as one batch.
    fn slow_first(
        writer: &IngestWriter,
    ) -> impl std::future::Future<Output = Result<Ingested, IngestError>> + '_ {
        let slow = |c: &mut DbConnection| {
            std::thread::sleep(Duration::from_millis(300));
            insert(c, "slow")
        };
        writer.submit_ingest(slow, None, PathTrace::default())
    }

    /// A job that fails after writing is rolled back alone; the jobs batched with it are
    /// committed and answered with their own outcomes.
    #[actix_web::test]
    async fn a_failing_job_rolls_back_alone() {
        let (_dir, db) = with_table_t();
        let writer = IngestWriter::start(&db, None).unwrap();
        // A slow first job, so the next three wait and are taken as one batch.
        let slow = slow_first(&writer);
        let ok1 = writer.submit_ingest(|c| insert(c, "a"), None, PathTrace::default());
        let bad = writer.submit_ingest(
            |c| {
                insert(c, "half-done")?;
                Err(IngestError::EventIdReused("e-1".into()))
            },
            None,
            PathTrace::default(),
        );
        let ok2 = writer.submit_ingest(|c| insert(c, "b"), None, PathTrace::default());
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

    /// A write of another part of the service runs in the writer's batch and answers with
    /// its result after the commit; one that fails rolls back alone.
    #[actix_web::test]
    async fn other_writes_share_the_batch_and_fail_alone() {
        let (_dir, db) = with_table_t();
        let writer = IngestWriter::start(&db, None).unwrap();
        let slow = slow_first(&writer);
        let write = |v: &'static str, fail: bool| {
            writer.submit_write(move |c| {
                diesel::sql_query(format!("INSERT INTO t (v) VALUES ('{v}')")).execute(c)?;
                if fail {
                    return Err(DbError::Canceled);
                }
                Ok(v.len())
            })
        };
        let (slow, ok, failed) =
            futures_util::future::join3(slow, write("written", false), write("failed", true)).await;
        assert!(slow.is_ok(), "{slow:?}");
        assert_eq!(ok.unwrap(), 7);
        assert!(matches!(failed, Err(DbError::Canceled)), "{failed:?}");
        assert_eq!(values(&db), ["slow", "written"]);
    }

    /// Jobs let in on a token seen live earlier run only when their batch's transaction
    /// finds the token live: in one batch, a live token's event is committed, a revoked
    /// token's and an unknown token's are refused without running, and a job without a
    /// token to confirm runs as ever.
    #[actix_web::test]
    async fn a_batch_confirms_its_callers_tokens_before_their_work() {
        use crate::domain::access::Role;
        let (_dir, db) = migrated();
        let mut conn = db.get().unwrap();
        conn.batch_execute("CREATE TABLE t (v TEXT NOT NULL)")
            .unwrap();
        let mut hash_of = |revoke: bool| {
            let token = crate::auth::issue(&mut conn, Role::Service, None, None, "t").unwrap();
            if revoke {
                assert!(ApiTokenRow::revoke(&mut conn, &token.id).unwrap());
            }
            use secrecy::ExposeSecret;
            crate::auth::token_hash(token.token.expose_secret())
        };
        let (live, revoked) = (hash_of(false), hash_of(true));
        let unknown = crate::auth::token_hash(&format!("xtcs_{}", "C".repeat(43)));
        drop(conn);
        let writer = IngestWriter::start(&db, None).unwrap();
        let slow = slow_first(&writer);
        let submit = |v: &'static str, token: Option<TokenHash>| {
            writer.submit_ingest(move |c| insert(c, v), token, PathTrace::default())
        };
        let (slow, live, revoked, unknown) = futures_util::future::join4(
            slow,
            submit("live", live),
            submit("revoked", revoked),
            submit("unknown", unknown),
        )
        .await;
        assert!(slow.is_ok() && live.is_ok(), "{slow:?} {live:?}");
        assert!(
            matches!(revoked, Err(IngestError::TokenNotLive)),
            "{revoked:?}"
        );
        assert!(
            matches!(unknown, Err(IngestError::TokenNotLive)),
            "{unknown:?}"
        );
        assert_eq!(values(&db), ["live", "slow"]);
    }

    /// The hand-off gives what it claimed to the sender before the `COMMIT`, behind a gate:
    /// the gate opens when the batch committed, and stays shut when the `COMMIT` failed (a
    /// deferred foreign key here), when the event's submitter is refused and nothing of the
    /// event is stored.
    #[actix_web::test]
    async fn handed_deliveries_wait_for_their_commit() {
        use crate::domain::pacing::Pacing;
        use crate::pipeline::commit_gate::CommitGate;
        use crate::pipeline::deliver::SenderConfig;
        use crate::pipeline::ingest::Stored;

        let (_dir, db) = migrated();
        db.get()
            .unwrap()
            .batch_execute(
                "INSERT INTO organizations (id, name, created_at, updated_at) \
                 VALUES ('acme', 'Acme', '2026-01-01 00:00:00', '2026-01-01 00:00:00'); \
                 INSERT INTO projects (org_id, id, name, created_at, updated_at) VALUES \
                 ('acme', 'webshop', 'Webshop', '2026-01-01 00:00:00', '2026-01-01 00:00:00'); \
                 CREATE TABLE parent (id INTEGER PRIMARY KEY); \
                 CREATE TABLE child (parent INTEGER REFERENCES parent (id) \
                 DEFERRABLE INITIALLY DEFERRED);",
            )
            .unwrap();
        /// What the sink was given: the handed deliveries' events, and their gate.
        type Given = Vec<(Vec<String>, CommitGate)>;
        let handed: Arc<Mutex<Given>> = Arc::default();
        let sink_handed = handed.clone();
        let pacing = Pacing {
            interval: chrono::Duration::seconds(1),
            burst: 1,
        };
        let handoff = Handoff {
            sender: SenderConfig {
                pacing,
                retry_base: Duration::from_secs(1),
                max_attempts: 3,
                retry_window: chrono::Duration::hours(1),
                lease: chrono::Duration::seconds(30),
                instance: "me".into(),
                edit_pacing: pacing,
                digest_after: None,
                hold_grace: chrono::Duration::minutes(5),
            },
            sink: Arc::new(move |deliveries, _trace, gate| {
                let events = deliveries
                    .iter()
                    .map(|h| h.delivery.event_id.clone())
                    .collect();
                sink_handed.lock().unwrap().push((events, gate));
            }),
        };
        let writer = IngestWriter::start(&db, Some(handoff)).unwrap();
        // An event queued for an idle channel; with `orphan`, a row whose foreign key the
        // COMMIT finds broken.
        let event = |id: &'static str, channel: &'static str, orphan: bool| {
            move |c: &mut DbConnection| {
                c.batch_execute(&format!(
                    "INSERT INTO events (event_id, subject_kind, subject_id, org_id, project_id, \
                     event_type, occurred_at, payload, resulting_state, received_at) VALUES \
                     ('{id}', 'load_test', '{id}', 'acme', 'webshop', 'started', \
                     '2026-01-01 00:00:00', '{{}}', 'running', '2026-01-01 00:00:00'); \
                     INSERT INTO deliveries (event_id, org_id, project_id, subject_key, \
                     event_type, channel, team_id, installation_id, threads, compact, status, \
                     attempts, next_attempt_at, created_at) VALUES ('{id}', 'acme', 'webshop', \
                     'lt:{id}', 'started', '{channel}', 'T1', 'inst', FALSE, FALSE, 'pending', \
                     0, '2026-01-01 00:00:00', '2026-01-01 00:00:00'); {}",
                    if orphan {
                        "INSERT INTO child (parent) VALUES (7);"
                    } else {
                        ""
                    }
                ))
                .map_err(DbError::Query)?;
                Ok(IngestOutcome::Accepted {
                    state: "running".into(),
                    channels: vec![("T1".into(), channel.into())],
                    stored: Stored {
                        event_id: id.into(),
                        payload: None,
                    },
                })
            }
        };
        let stored = writer
            .submit_ingest(event("e1", "C1", false), None, PathTrace::default())
            .await
            .unwrap();
        assert_eq!(stored.handed, [("T1".to_owned(), "C1".to_owned())]);
        let refused = writer
            .submit_ingest(event("e2", "C2", true), None, PathTrace::default())
            .await;
        assert!(refused.is_err(), "{refused:?}");
        let mut handed = std::mem::take(&mut *handed.lock().unwrap());
        assert_eq!(handed.len(), 2);
        let (committed_events, committed_gate) = &mut handed[0];
        assert_eq!(committed_events, &["e1"]);
        assert!(committed_gate.committed().await);
        let (withdrawn_events, withdrawn_gate) = &mut handed[1];
        assert_eq!(withdrawn_events, &["e2"]);
        assert!(!withdrawn_gate.committed().await);
        let mut conn = db.get().unwrap();
        let stored: Vec<Row> = diesel::sql_query("SELECT event_id AS v FROM deliveries")
            .load(&mut **conn)
            .unwrap();
        let stored: Vec<String> = stored.into_iter().map(|r| r.v).collect();
        assert_eq!(stored, ["e1"]);
    }
}

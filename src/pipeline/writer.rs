//! Group commit for the ingest path.
//!
//! Every accepted event is one small write (event row, subject state, outbox rows). Done
//! one transaction each, the commits dominate: SQLite serialises writers and each commit
//! writes its pages to the WAL; PostgreSQL flushes its WAL per commit. The writer runs on
//! one dedicated thread with its own connection: it takes whatever jobs are queued (up to
//! [`MAX_BATCH`]), runs each inside a savepoint of one transaction, commits once, and only
//! then answers each job. A job that fails rolls back to its savepoint and leaves the others
//! alone; a failed commit fails them all. Nobody is answered before the commit, so a `202`
//! still means "durably stored".
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
use std::time::Duration;

use diesel::connection::SimpleConnection;

use crate::db::{DatabaseUrl, Db, DbConnection, DbError};

/// Most jobs committed together.
pub const MAX_BATCH: usize = 256;
/// Writer threads on PostgreSQL: each statement is a network round trip, so one
/// connection caps throughput; several write in parallel (jobs of one subject never run
/// concurrently: its actor waits for each answer). SQLite has one writer by nature.
const POSTGRES_WRITERS: usize = 4;
/// Jobs waiting for the writer before submitters wait for room.
const QUEUE_CAPACITY: usize = 8_192;
/// How often the SQLite checkpointer copies the WAL into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);
/// WAL size (pages of 4 KiB) beyond which the checkpointer restarts the WAL on the writer
/// lane (passive checkpoints alone cannot reset it while readers keep using it).
const WAL_RESTART_PAGES: i64 = 16_384;

/// Reports the commit's outcome to one job's submitter.
type Finisher = Box<dyn FnOnce(Result<(), String>) + Send>;
/// Runs one job inside the open transaction (or, given `None`, reports that there is none).
type Job = Box<dyn FnOnce(Option<&mut DbConnection>) -> Finisher + Send>;

/// Handle to the writer thread (cheap to clone).
#[derive(Clone)]
pub struct IngestWriter {
    queue: SyncSender<Job>,
    /// Dropped with the last handle: the checkpointer thread (SQLite) then ends.
    _checkpointer: Option<Sender<()>>,
}

impl IngestWriter {
    /// Starts the writer thread(s) for `db`'s database.
    pub fn start(db: &Db) -> std::io::Result<Self> {
        let (queue, jobs) = sync_channel::<Job>(QUEUE_CAPACITY);
        let jobs = Arc::new(Mutex::new(jobs));
        let writers = if db.url().is_sqlite() {
            1
        } else {
            POSTGRES_WRITERS
        };
        for n in 0..writers {
            let (url, lane, jobs) = (db.url().clone(), db.write_lane(), jobs.clone());
            std::thread::Builder::new()
                .name(format!("xtc-ingest-writer-{n}"))
                .spawn(move || writer_loop(&url, lane, &jobs))?;
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

    /// Runs `f` in the next group transaction; answers after that transaction committed.
    pub async fn submit<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn| {
            let outcome = match conn {
                Some(conn) => in_savepoint(conn, f),
                None => Err(DbError::Canceled.into()),
            };
            Box::new(move |committed: Result<(), String>| {
                let result = match committed {
                    Ok(()) => outcome,
                    Err(e) => Err(DbError::Connect(e).into()),
                };
                let _ = reply.send(result);
            })
        });
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                // Back-pressure: wait for room off the async workers.
                let queue = self.queue.clone();
                let sent =
                    actix_web::rt::task::spawn_blocking(move || queue.send(job).is_ok()).await;
                if !matches!(sent, Ok(true)) {
                    return Err(DbError::Canceled.into());
                }
            }
            Err(TrySendError::Disconnected(_)) => return Err(DbError::Canceled.into()),
        }
        answer
            .await
            .unwrap_or_else(|_| Err(DbError::Canceled.into()))
    }
}

/// Runs `f` between `SAVEPOINT` and `RELEASE`, rolling back to the savepoint on error.
fn in_savepoint<T, E: From<DbError>>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
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

/// Takes the next batch: waits for one job, then whatever else is queued.
fn next_batch(jobs: &Mutex<Receiver<Job>>) -> Option<Vec<Job>> {
    let jobs = match jobs.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    let first = jobs.recv().ok()?;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    batch.push(first);
    while batch.len() < MAX_BATCH {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

fn writer_loop(url: &DatabaseUrl, lane: Option<Arc<Mutex<()>>>, jobs: &Mutex<Receiver<Job>>) {
    let mut conn: Option<DbConnection> = None;
    while let Some(batch) = next_batch(jobs) {
        if conn.is_none() {
            match url.connect() {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "ingest writer cannot connect to the database");
                    for job in batch {
                        job(None)(Err("the database is not available".into()));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let _turn = lane.as_ref().map(|m| match m.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        });
        let begin = match c {
            DbConnection::Sqlite(_) => "BEGIN IMMEDIATE",
            DbConnection::Postgresql(_) => "BEGIN",
        };
        if let Err(e) = c.batch_execute(begin) {
            tracing::error!(error = %e, "ingest writer could not begin a transaction");
            for job in batch {
                job(None)(Err("the database is not available".into()));
            }
            conn = None;
            continue;
        }
        let finishers: Vec<Finisher> = batch.into_iter().map(|job| job(Some(&mut *c))).collect();
        let committed = match c.batch_execute("COMMIT") {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::error!(error = %e, "ingest writer could not commit");
                let _ = c.batch_execute("ROLLBACK");
                conn = None;
                Err("the database did not commit".to_owned())
            }
        };
        for finish in finishers {
            finish(committed.clone());
        }
    }
}

/// The SQLite WAL checkpointer (see the module documentation); ends when `stopped` is
/// disconnected.
fn checkpointer_loop(url: &DatabaseUrl, lane: Option<Arc<Mutex<()>>>, stopped: &Receiver<()>) {
    let mut conn: Option<DbConnection> = None;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_INTERVAL) {
        if conn.is_none() {
            conn = url.connect().ok();
        }
        let Some(DbConnection::Sqlite(c)) = conn.as_mut() else {
            continue;
        };
        match wal_pages(c, "PASSIVE") {
            Ok(pages) if pages > WAL_RESTART_PAGES => {
                let _turn = lane.as_ref().map(|m| match m.lock() {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                });
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

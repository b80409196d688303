//! The handle every caller uses: [`Db`] holds the connection pools and runs blocking
//! diesel work off the async workers (on actix's blocking threads, or on background
//! threads of its own), logging the slow calls with where their time went.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::transaction::LaneGuard;
use super::{is_slow, ConnectionManager, DatabaseUrl, DbConnection, DbError, Pool};

/// Cheap handle to the pool that runs blocking diesel work off the async workers.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    url: DatabaseUrl,
    /// SQLite only: writers of this process take turns here (see [`write_tx`]).
    write_lane: Option<Arc<Mutex<()>>>,
    /// Background pools: threads of their own instead of the shared blocking pool.
    executor: Option<Executor>,
}

type Task = Box<dyn FnOnce() + Send>;

/// Threads of their own for background database work (the sender, periodic checks), so
/// a burst of it never occupies the blocking threads requests need; on PostgreSQL at a
/// lower CPU priority (nice 10, Linux) than request handling: when the machine is busy, a
/// request waits less and a delivery a little more.
#[derive(Clone)]
struct Executor {
    tasks: std::sync::mpsc::Sender<Task>,
}

impl Executor {
    fn start(threads: u32, name: &str, priority: Priority) -> std::io::Result<Self> {
        let (tasks, queue) = std::sync::mpsc::channel::<Task>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || {
                    priority.apply();
                    loop {
                        let task = {
                            let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
                            queue.recv()
                        };
                        match task {
                            Ok(task) => {
                                let started = std::time::Instant::now();
                                task();
                                if let Some(rest) = priority.rest_after(started.elapsed()) {
                                    std::thread::sleep(rest);
                                }
                            }
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Self { tasks })
    }
}

/// The CPU priority of an executor's threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Priority {
    Normal,
    /// nice 10: still a fair share of a busy machine, a smaller one.
    Lower,
    /// `SCHED_IDLE` (Linux): runs only on a core nothing else wants, and gives way at once
    /// to any other thread that wakes; for long reads nothing time-critical waits for.
    Idle,
}

/// How many times as long as its last task an idle-priority thread rests before its next:
/// its reads then take at most a tenth of one core and of one database connection,
/// however many are asked back to back, so even on two cores that ingest keeps busy they
/// cost it at most 5 %. `SCHED_IDLE` alone is not enough: it yields the core to this
/// process's own threads at once, but not PostgreSQL's backend process, which does the
/// reading at normal priority, nor threads of another scheduling group (the kernel's
/// workers waited up to a tick behind it: `perf sched`, bench history phase).
const IDLE_REST_FACTOR: u32 = 9;
/// The longest rest (a read that took long is not followed by a minute of nothing).
const MAX_IDLE_REST: Duration = Duration::from_secs(3);

impl Priority {
    /// How long a thread of this priority rests after a task that took `took`.
    fn rest_after(self, took: Duration) -> Option<Duration> {
        match self {
            Priority::Idle => Some((took * IDLE_REST_FACTOR).min(MAX_IDLE_REST)),
            Priority::Normal | Priority::Lower => None,
        }
    }

    /// Applies the priority to the calling thread.
    fn apply(self) {
        match self {
            Priority::Normal => {}
            Priority::Lower => lower_priority(),
            Priority::Idle => idle_priority(),
        }
    }
}

/// Puts the calling thread in `SCHED_IDLE` (Linux; elsewhere, or if refused, nice 10).
fn idle_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: sched_setscheduler reads the parameter struct we pass and has no other
    // memory-safety preconditions; pid 0 is the calling thread.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) == 0 {
            return;
        }
    }
    lower_priority();
}

/// Lowers the calling thread's CPU priority (nice 10). Linux only; elsewhere a no-op.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority and gettid have no memory-safety preconditions; on Linux the
    // nice value is per thread, and `who` names this thread.
    unsafe {
        let tid = libc::gettid();
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10) != 0 {
            tracing::debug!("could not lower a background thread's priority");
        }
    }
}

impl Db {
    /// Builds the pool (no connection is required to succeed yet) for the URL.
    pub fn new(url: DatabaseUrl, max_size: u32) -> Result<Self, DbError> {
        let write_lane = url.is_sqlite().then(|| Arc::new(Mutex::new(())));
        Self::with_lane(url, max_size, write_lane)
    }

    /// A second pool of `max_size` connections to the same database, sharing this one's
    /// SQLite writer lane: background work (the sender, checks, retention) gets its own
    /// connections, so a busy sender never makes a request wait for one.
    pub fn sibling(&self, max_size: u32) -> Result<Self, DbError> {
        Self::with_lane(self.url.clone(), max_size, self.write_lane.clone())
    }

    /// [`Db::sibling`] for background work, whose calls run on `max_size` threads of their
    /// own (see `Executor`): a burst of background work never occupies the shared blocking
    /// threads requests need, nor makes that pool (and the allocator's per-thread arenas)
    /// grow. On PostgreSQL they run at a lower priority; not on SQLite, where a
    /// de-prioritised thread holding the writer lane would hold up the ingest writer.
    pub fn background(&self, max_size: u32) -> Result<Self, DbError> {
        let priority = match self.url.is_sqlite() {
            true => Priority::Normal,
            false => Priority::Lower,
        };
        self.on_threads(max_size, "xtc-db-background", priority)
    }

    /// A pool for long reads that only the person who asked waits for (the weekly
    /// summary's preview): `max_size` connections on threads of their own in `SCHED_IDLE`
    /// on both backends (a read never takes SQLite's writer lane, and the WAL checkpointer
    /// never waits for a reader), each resting nine times as long as its last read before
    /// the next (`IDLE_REST_FACTOR`), so that when the machine is busy or previews are
    /// asked back to back, the preview takes longer, not ingest and delivery.
    pub fn low_priority_reads(&self, max_size: u32) -> Result<Self, DbError> {
        self.on_threads(max_size, "xtc-db-reads", Priority::Idle)
    }

    fn on_threads(&self, max_size: u32, name: &str, priority: Priority) -> Result<Self, DbError> {
        let mut db = self.sibling(max_size)?;
        db.executor = Some(
            Executor::start(max_size, name, priority)
                .map_err(|e| DbError::Connect(e.to_string()))?,
        );
        Ok(db)
    }

    fn with_lane(
        url: DatabaseUrl,
        max_size: u32,
        write_lane: Option<Arc<Mutex<()>>>,
    ) -> Result<Self, DbError> {
        let manager = ConnectionManager { url: url.clone() };
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            // All connections are opened up front (in the background): a PostgreSQL
            // connection costs a SCRAM handshake, which a request should not wait for.
            .min_idle(Some(max_size))
            .connection_timeout(Duration::from_secs(5))
            // A file cannot go away like a server: no `SELECT 1` before every use of an
            // SQLite connection (it cost a statement per request). PostgreSQL keeps it, so
            // connections that died with a server restart are replaced.
            .test_on_check_out(!url.is_sqlite())
            .build_unchecked(manager);
        Ok(Self {
            pool,
            url,
            write_lane,
            executor: None,
        })
    }

    /// The SQLite writer lane (shared with writers that run on their own thread).
    pub fn write_lane(&self) -> Option<Arc<Mutex<()>>> {
        self.write_lane.clone()
    }

    /// The URL this pool connects to.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Borrows a connection on the current thread (only for blocking contexts).
    pub fn get(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs blocking diesel work on the blocking thread pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let lane = self.write_lane.clone();
        let called = std::time::Instant::now();
        let work = move || {
            let queued = called.elapsed();
            let mut conn = pool.get().map_err(DbError::from)?;
            let pooled = called.elapsed();
            let _lane = LaneGuard::enter(lane);
            let result = f(&mut conn);
            let done = called.elapsed();
            if is_slow(done) {
                // Where the time went: waiting for a blocking thread, for a pooled
                // connection, or in the database.
                tracing::warn!(
                    total_ms = done.as_millis() as u64,
                    thread_wait_ms = queued.as_millis() as u64,
                    pool_wait_ms = (pooled - queued).as_millis() as u64,
                    run_ms = (done - pooled).as_millis() as u64,
                    caller = std::any::type_name::<F>(),
                    "slow database call"
                );
            }
            result
        };
        if let Some(executor) = &self.executor {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let task: Task = Box::new(move || {
                let _ = reply.send(work());
            });
            if executor.tasks.send(task).is_err() {
                return Err(DbError::Canceled.into());
            }
            return answer
                .await
                .unwrap_or_else(|_| Err(DbError::Canceled.into()));
        }
        match actix_web::rt::task::spawn_blocking(work).await {
            Ok(result) => result,
            Err(_) => Err(DbError::Canceled.into()),
        }
    }

    /// `SELECT 1` through the pool, for `/readyz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| {
            conn.batch_execute("SELECT 1")?;
            Ok::<_, DbError>(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Back-to-back low-priority reads take at most a tenth of the time; a long one is
    /// not followed by a long nothing; other priorities never rest.
    #[test]
    fn an_idle_priority_thread_rests_nine_times_as_long_as_its_last_task() {
        let ms = Duration::from_millis;
        assert_eq!(Priority::Idle.rest_after(ms(40)), Some(ms(360)));
        assert_eq!(Priority::Idle.rest_after(ms(0)), Some(ms(0)));
        assert_eq!(Priority::Idle.rest_after(ms(5_000)), Some(MAX_IDLE_REST));
        assert_eq!(Priority::Normal.rest_after(ms(40)), None);
        assert_eq!(Priority::Lower.rest_after(ms(40)), None);
    }
}

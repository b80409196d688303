//! Persistence: one diesel code path over SQLite (embedded default) and PostgreSQL.
//!
//! The backend is chosen from the URL scheme here, never by trial: diesel's
//! `MultiConnection::establish` tries each backend in turn and hides why one failed.
//! Blocking diesel calls run on actix's blocking thread pool through [`Db::run`].

pub mod models;
mod prepared;
mod text_enum;
pub(crate) use text_enum::text_enum;
pub mod schema;

pub use prepared::{CachedDsl, FirstRowDsl};

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// Runs `$body` with `$c` bound to the concrete connection, for the few statements
/// `MultiConnection` cannot express (upserts): the same source, type-checked per backend.
macro_rules! on_each_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgresql($c) => $body,
        }
    };
}
pub(crate) use on_each_backend;

/// The one connection type every query in the crate is written against.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long SQLite waits for a lock held by another connection before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// Errors of the persistence layer; their text never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL (use sqlite://PATH or postgres://...)")]
    UnsupportedUrl,
    #[error("could not connect to the database: {0}")]
    Connect(String),
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("the blocking thread pool is gone")]
    Canceled,
    /// One failure answered to several callers (a statement run for all of them).
    #[error("{0}")]
    Shared(Arc<DbError>),
}

/// The backend a database URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A file path (`sqlite://xtc-slack.db`, `sqlite:///var/lib/x.db`).
    Sqlite(PathBuf),
    /// A libpq connection URL (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses the scheme; the rest is checked when connecting.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::UnsupportedUrl);
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else {
            Err(DbError::UnsupportedUrl)
        }
    }

    /// Whether this is the embedded SQLite backend.
    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }

    /// Opens one connection of the right backend.
    pub fn connect(&self) -> Result<DbConnection, DbError> {
        match self {
            Self::Sqlite(path) => {
                create_private_file(path).map_err(|e| {
                    DbError::Connect(format!("cannot create {}: {e}", path.display()))
                })?;
                let path = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&path)
                    .map_err(|e| DbError::Connect(e.to_string()))?;
                configure_sqlite(&mut conn)?;
                Ok(DbConnection::Sqlite(conn))
            }
            Self::Postgres(url) => PgConnection::establish(url)
                // libpq's message may echo the URL; keep only the first line of its reason.
                .map_err(|e| DbError::Connect(redact_pg_error(&e.to_string())))
                .map(DbConnection::Postgresql),
        }
    }
}

/// Creates a missing SQLite file empty with mode 0600 (like the key file) before SQLite
/// opens it; SQLite then gives its `-wal` and `-shm` files the database file's mode. An
/// existing file is left as it is; `:memory:` and `file:` URIs are SQLite's business.
fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    let raw = path.as_os_str();
    if raw == ":memory:" || raw.to_string_lossy().starts_with("file:") || path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        // Another connection created it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// WAL mode with `synchronous = NORMAL` (a commit writes the WAL without an fsync; the
/// checkpoint fsyncs). No connection checkpoints by itself: the server's checkpointer
/// thread does (`pipeline::writer`), and SQLite checkpoints when the last connection to
/// the file closes. `journal_size_limit` truncates a WAL that grew large once it resets.
/// `auto_vacuum = INCREMENTAL` takes effect only in a file that has no table yet (a new
/// database; an existing one keeps its mode until a `VACUUM`): retention then gives the
/// pages it frees back with `PRAGMA incremental_vacuum` (`pipeline::retention`).
fn configure_sqlite(conn: &mut SqliteConnection) -> Result<(), DbError> {
    conn.batch_execute(&format!(
        // busy_timeout first: switching to WAL needs a lock another connection may hold.
        "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA auto_vacuum = INCREMENTAL; \
         PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;"
    ))?;
    Ok(())
}

fn redact_pg_error(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or("connection failed");
    // libpq never prints the password, but be sure no URL with credentials slips through.
    if first.contains("://") {
        "connection failed".to_owned()
    } else {
        first.to_owned()
    }
}

/// r2d2 manager that knows its backend from the URL.
pub struct ConnectionManager {
    url: DatabaseUrl,
}

/// How long a successful `SELECT 1` vouches for a connection: a PostgreSQL connection is
/// tested on check-out only when its last test is older (the bench counted a round trip
/// per request before: more `SELECT 1` than events). A connection whose server went away
/// thus fails for at most this long before the next test replaces it (diesel's
/// `is_broken` only sees broken transactions, not a dead socket).
const TESTED_FOR: Duration = Duration::from_secs(1);

/// A pooled connection and when it last passed a test.
pub struct PooledConnection {
    conn: DbConnection,
    tested_at: std::time::Instant,
}

impl std::ops::Deref for PooledConnection {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = PooledConnection;
    type Error = DbError;

    fn connect(&self) -> Result<PooledConnection, DbError> {
        Ok(PooledConnection {
            conn: self.url.connect()?,
            tested_at: std::time::Instant::now(),
        })
    }

    fn is_valid(&self, conn: &mut PooledConnection) -> Result<(), DbError> {
        if conn.tested_at.elapsed() < TESTED_FOR {
            return Ok(());
        }
        conn.conn.batch_execute("SELECT 1")?;
        conn.tested_at = std::time::Instant::now();
        Ok(())
    }

    fn has_broken(&self, conn: &mut PooledConnection) -> bool {
        // A connection left in a broken transaction is dropped when returned.
        diesel::r2d2::R2D2Connection::is_broken(&mut conn.conn)
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;

/// Applies every pending migration of the URL's backend.
pub fn run_migrations(conn: &mut DbConnection) -> Result<usize, DbError> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConnection::Postgresql(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
    };
    applied.map_err(|e| DbError::Migration(e.to_string()))
}

/// Reverts every applied migration (used by tests that check `down.sql`).
pub fn revert_all_migrations(conn: &mut DbConnection) -> Result<usize, DbError> {
    let reverted = match conn {
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConnection::Postgresql(c) => c
            .revert_all_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
    };
    reverted.map_err(|e| DbError::Migration(e.to_string()))
}

thread_local! {
    /// The SQLite writer lane of the database the current blocking task works on (set by
    /// [`Db::run`]); `None` outside `Db::run` (CLI commands) and for PostgreSQL.
    static WRITE_LANE: std::cell::RefCell<Option<Arc<Mutex<()>>>> = const { std::cell::RefCell::new(None) };
}

/// Sets the writer lane for the duration of one `Db::run` closure.
struct LaneGuard;

impl LaneGuard {
    fn enter(lane: Option<Arc<Mutex<()>>>) -> Self {
        WRITE_LANE.with(|l| *l.borrow_mut() = lane);
        LaneGuard
    }
}

impl Drop for LaneGuard {
    fn drop(&mut self) {
        WRITE_LANE.with(|l| *l.borrow_mut() = None);
    }
}

/// Ingest writers waiting for the SQLite writer lane right now.
static INGEST_WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Longest a background writer steps aside for waiting ingest commits.
const MAX_YIELD: std::time::Duration = std::time::Duration::from_millis(5);

/// [`take_turn`] for the ingest writer, which goes first: other writers that arrive while
/// it waits step aside (`yield_to_ingest`), so an accepted event's commit is not queued
/// behind the sender's bookkeeping.
pub(crate) fn take_ingest_turn(
    lane: Option<&Arc<Mutex<()>>>,
) -> Option<std::sync::MutexGuard<'_, ()>> {
    use std::sync::atomic::Ordering;
    lane?;
    INGEST_WAITING.fetch_add(1, Ordering::SeqCst);
    let turn = take_turn(lane);
    INGEST_WAITING.fetch_sub(1, Ordering::SeqCst);
    turn
}

/// A writer other than the ingest writer lets a waiting ingest commit go first (for at
/// most [`MAX_YIELD`]).
fn yield_to_ingest() {
    use std::sync::atomic::Ordering;
    let start = std::time::Instant::now();
    while INGEST_WAITING.load(Ordering::SeqCst) > 0 && start.elapsed() < MAX_YIELD {
        std::thread::sleep(std::time::Duration::from_micros(50));
    }
}

/// Waits for this process's turn on an SQLite writer lane (none for PostgreSQL). A lane
/// poisoned by a writer that panicked still serialises the others.
pub(crate) fn take_turn(lane: Option<&Arc<Mutex<()>>>) -> Option<std::sync::MutexGuard<'_, ()>> {
    lane.map(|m| match m.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    })
}

/// Runs `f` in a write transaction. On SQLite the transaction takes the write lock at
/// `BEGIN IMMEDIATE`, so two writers never deadlock on a read-to-write upgrade (which
/// SQLite answers with SQLITE_BUSY at once, without waiting). Writers of this process
/// first queue on an in-process lane: SQLite's own busy handler waits by sleeping (1, 2,
/// 5 … 100 ms), which under load costs far more than the transaction itself.
/// Model functions never open transactions themselves; callers compose them inside one
/// `write_tx`.
pub fn write_tx<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Sqlite(_) => {
            let lane = WRITE_LANE.with(|l| l.borrow().clone());
            if lane.is_some() {
                yield_to_ingest();
            }
            let _turn = take_turn(lane.as_ref());
            conn.batch_execute("BEGIN IMMEDIATE")?;
            match f(conn) {
                Ok(value) => match conn.batch_execute("COMMIT") {
                    Ok(()) => Ok(value),
                    Err(e) => {
                        let _ = conn.batch_execute("ROLLBACK");
                        Err(e.into())
                    }
                },
                Err(e) => {
                    let _ = conn.batch_execute("ROLLBACK");
                    Err(e)
                }
            }
        }
        DbConnection::Postgresql(_) => conn.transaction(f),
    }
}

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
    fn start(threads: u32, name: &str, lower: bool) -> std::io::Result<Self> {
        let (tasks, queue) = std::sync::mpsc::channel::<Task>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || {
                    if lower {
                        lower_priority();
                    }
                    loop {
                        let task = {
                            let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
                            queue.recv()
                        };
                        match task {
                            Ok(task) => task(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Self { tasks })
    }
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
        let mut db = self.sibling(max_size)?;
        db.executor = Some(
            Executor::start(max_size, "xtc-db-background", !self.url.is_sqlite())
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

/// Tells OpenSSL, before its first use, not to free its global state at process exit.
///
/// libpq authenticates (SCRAM) and encrypts with OpenSSL's libcrypto, and OpenSSL frees its
/// global state in an `atexit` handler. A process that exits while another thread still
/// connects to PostgreSQL (a pool re-establishing connections) then crashes in libcrypto:
/// the test binary died with SIGSEGV after every test had passed, and the service could on
/// exit. The memory goes back with the process anyway. Call it first thing (in `main`, in
/// test setup); later calls do nothing. Without libcrypto loaded it does nothing.
pub fn keep_libcrypto_at_exit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        {
            /// `OPENSSL_INIT_NO_ATEXIT` of `<openssl/crypto.h>` (OpenSSL 1.1.1 and 3).
            const OPENSSL_INIT_NO_ATEXIT: u64 = 0x0008_0000;
            type InitCrypto = unsafe extern "C" fn(u64, *const libc::c_void) -> libc::c_int;
            // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks a symbol
            // up. When found, it is libcrypto's `int OPENSSL_init_crypto(uint64_t opts,
            // const OPENSSL_INIT_SETTINGS *settings)`, whose signature `InitCrypto` matches,
            // and a null `settings` is documented as "the defaults".
            unsafe {
                let symbol = libc::dlsym(libc::RTLD_DEFAULT, c"OPENSSL_init_crypto".as_ptr());
                if !symbol.is_null() {
                    let init = std::mem::transmute::<*mut libc::c_void, InitCrypto>(symbol);
                    init(OPENSSL_INIT_NO_ATEXIT, std::ptr::null());
                }
            }
        }
    });
}

/// Takes the next batch from a queue of work for one thread: waits for one item, then
/// takes whatever else is queued, up to `max`. Items that arrive while the batch runs wait
/// for the next one, so a batch's statements always begin after each item arrived.
/// `None` once every sender is gone.
pub(crate) fn next_batch<T>(
    queue: &Mutex<std::sync::mpsc::Receiver<T>>,
    max: usize,
) -> Option<Vec<T>> {
    let queue = match queue.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    let first = queue.recv().ok()?;
    let mut batch = Vec::with_capacity(max.min(64));
    batch.push(first);
    while batch.len() < max {
        match queue.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// A database call or ingest commit that takes at least this long (milliseconds) is logged
/// with where its time went (`XTC_SLACK_SLOW_DB_MS`, set once at start).
static SLOW_DB_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(50);

/// Sets the threshold of the "slow database call" warnings (0: none).
pub fn set_slow_threshold(ms: u64) {
    SLOW_DB_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

/// Whether a database call or ingest commit that took `took` is slow enough to log.
pub fn is_slow(took: std::time::Duration) -> bool {
    match SLOW_DB_MS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => false,
        ms => took.as_millis() >= u128::from(ms),
    }
}

/// Current UTC time as stored in the database.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

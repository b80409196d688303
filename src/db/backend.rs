//! The backend and its connections: the database URL names SQLite or PostgreSQL (chosen
//! from the scheme, never by trial: diesel's `MultiConnection::establish` tries each
//! backend in turn and hides why one failed), how a connection is opened and configured,
//! and the r2d2 manager that keeps them.

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::{DbConnection, DbError};

/// How long SQLite waits for a lock held by another connection before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

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
                sqlite_without_memory_statistics();
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

/// Turns off SQLite's memory statistics before its first use, once per process. With them
/// on (SQLite's default), every allocation of every connection takes one process-wide mutex
/// to count itself; a long read on a thread of low priority (the weekly summary's, in
/// `SCHED_IDLE`) that was preempted holding it stalled the ingest and delivery threads
/// behind it. Nothing here reads those statistics.
pub(crate) fn sqlite_without_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_config` may be called before SQLite is initialized (the first
        // connection opens after this `Once`); it then only stores the setting. Called
        // after initialization it returns SQLITE_MISUSE and changes nothing.
        let rc = unsafe {
            libsqlite3_sys::sqlite3_config(
                libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
                0 as std::os::raw::c_int,
            )
        };
        if rc != libsqlite3_sys::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite memory statistics stay on (SQLite already started)"
            );
        }
    });
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
    pub(super) url: DatabaseUrl,
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

/// Writes `content` to a new file (never over an existing one) readable by its owner
/// only (key files, backups of them), and syncs it.
pub fn write_private_file(path: &std::path::Path, content: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    std::io::Write::write_all(&mut file, content)?;
    file.sync_all()
}

/// `<db path>.key` beside the SQLite file: the secret key its Slack tokens are encrypted
/// with, unless `XTC_SLACK_SECRET_KEY` gives one.
pub fn key_file_path(db_path: &std::path::Path) -> std::path::PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".key");
    std::path::PathBuf::from(name)
}

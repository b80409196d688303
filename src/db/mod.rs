//! Persistence: the one connection type and error every query is written against, one
//! diesel code path over SQLite (embedded default) and PostgreSQL.
//!
//! Where the rest lives: [`backend`] chooses the backend from the URL and opens
//! connections, [`pool`] runs blocking diesel work off the async workers ([`Db::run`]),
//! [`migrations`] applies the embedded migrations, [`transaction`] opens write
//! transactions and orders the SQLite writers.

mod backend;
pub mod backup;
pub mod copy;
mod migrations;
pub mod models;
mod pool;
mod prepared;
pub mod schema;
#[cfg(test)]
pub(crate) mod scratch;
mod text_enum;
mod transaction;
pub mod unreadable;

pub use backend::{
    keep_libcrypto_at_exit, key_file_path, write_private_file, ConnectionManager, DatabaseUrl,
    Pool, PooledConnection,
};
pub use migrations::{
    applied_migrations, known_migrations, revert_all_migrations, revert_last_migration,
    run_migrations,
};
pub use pool::Db;
pub use prepared::{CachedDsl, FirstRowDsl, LimitLiteralDsl};
pub(crate) use text_enum::text_enum;
pub use transaction::write_tx;
pub(crate) use transaction::{next_batch, take_ingest_turn, take_turn};

use std::sync::Arc;

use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

/// Runs `$body` with `$c` bound to the concrete connection: the same source, type-checked
/// per backend. For the statements `MultiConnection` cannot express (upserts), and for the
/// statements on an event's path from its request to Slack: `MultiConnection` wraps each
/// statement in a query that writes the statement's SQL text out at every pass over it
/// (whether it may be cached, its cache key, its binds), two or three times per execution
/// even for a statement it then finds prepared, where the backend's own connection finds a
/// statement of a fixed type without writing its text. In `perf record` of the ingest
/// writer that wrapper was a sixth of its time; with the path's statements on their
/// backends, the end-to-end phase's `transaction` stage went from 0.54-0.57 to 0.42-0.44 ms
/// (README, "Benchmarks").
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

//! Retention: history past its age is deleted in small batches, off the hot path.
//!
//! One [`run_pass`] walks the tables in a fixed order (deliveries before the events they
//! reference, threads before their subjects). Each batch is one short write transaction
//! of at most [`Policy::batch`] rows, followed by a pause, so ingest and delivery never
//! wait long behind it (on SQLite they share one writer). A table is done for this pass
//! when a batch comes back short. On SQLite the pass ends by giving the freed pages back
//! to the file system (`PRAGMA incremental_vacuum`), when the file was created with
//! `auto_vacuum = INCREMENTAL` (every database created since retention exists; an older
//! file converts with a one-time `VACUUM`).
//!
//! What is kept: pending deliveries whatever their age, the events they reference, and the
//! thread parents, load tests and scenarios that still have pending work.

use std::future::Future;
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::db::models::retention as model;
use crate::db::{self, Db, DbConnection, DbError};

/// Free pages given back per vacuum step (4 KiB pages: 8 MiB).
const VACUUM_PAGES: i64 = 2_048;
/// Most batches of one table in one pass: a pass ends even if a table never comes back
/// short (the next pass continues).
const MAX_BATCHES: usize = 100_000;

pub use crate::domain::retention::{Cutoffs, Policy};

/// The tables a pass prunes, in the order it prunes them (the `table` label of
/// `xtc_slack_retention_pruned_total`).
pub const TABLES: [&str; 11] = [
    "deliveries",
    "events",
    "slack_threads",
    "load_tests",
    "run_reports",
    "scenarios",
    "test_messages",
    "audit_log",
    "oauth_states",
    "ui_sessions",
    "slack_actions",
];

/// What one pass deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Rows deleted per table, in [`TABLES`] order (tables with none are left out).
    pub tables: Vec<(&'static str, u64)>,
    /// SQLite pages given back to the file system.
    pub vacuumed_pages: u64,
}

impl Pruned {
    /// Rows deleted from `table` in this pass.
    pub fn of(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }

    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// What one batch reports back to [`drain`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    pub deleted: usize,
    /// Whether another batch may find more.
    pub more: bool,
}

impl Batch {
    /// A plain `DELETE … LIMIT n` batch: more may be left if it deleted a full batch.
    pub fn of_limit(deleted: usize, limit: u32) -> Self {
        Self {
            deleted,
            more: deleted >= limit as usize,
        }
    }
}

/// Runs `batch` (given its number, from 0) until it reports nothing more or
/// `max_batches` ran, pausing `pause` between batches; returns the rows deleted.
pub async fn drain<F, Fut>(
    pause: Duration,
    max_batches: usize,
    mut batch: F,
) -> Result<u64, DbError>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<Batch, DbError>>,
{
    let mut deleted = 0u64;
    for n in 0..max_batches {
        if n > 0 && !pause.is_zero() {
            actix_web::rt::time::sleep(pause).await;
        }
        let done = batch(n).await?;
        deleted += done.deleted as u64;
        if !done.more {
            break;
        }
    }
    Ok(deleted)
}

/// Runs one batch of `f` in its own write transaction.
async fn write<T, F>(db: &Db, f: F) -> Result<T, DbError>
where
    F: FnOnce(&mut DbConnection) -> diesel::QueryResult<T> + Send + 'static,
    T: Send + 'static,
{
    db.run(move |conn| db::write_tx(conn, f).map_err(DbError::from))
        .await
}

/// One retention pass at `now`: prunes every table and, on SQLite, gives the freed
/// space back. Safe to run on several instances at once (each statement re-checks what it
/// deletes).
pub async fn run_pass(db: &Db, policy: &Policy, now: NaiveDateTime) -> Result<Pruned, DbError> {
    let cut = policy.cutoffs(now);
    let mut pruned = Pruned::default();
    for table in TABLES {
        let n = match table {
            "deliveries" => prune_deliveries(db, policy, cut.history).await?,
            table => prune_table(db, policy, table, cut).await?,
        };
        if n > 0 {
            pruned.tables.push((table, n));
        }
    }
    if pruned.total() > 0 {
        // The rows are gone either way; a failed vacuum only leaves the space for later.
        match give_back_space(db, policy.pause).await {
            Ok(pages) => pruned.vacuumed_pages = pages,
            Err(e) => tracing::warn!(error = %e, "could not give the freed space back"),
        }
    }
    Ok(pruned)
}

/// Settled deliveries, walking the primary key from the oldest (see
/// [`model::prune_deliveries`]).
async fn prune_deliveries(db: &Db, policy: &Policy, cutoff: NaiveDateTime) -> Result<u64, DbError> {
    let rows = i64::from(policy.batch.max(1));
    let cursor = std::rc::Rc::new(std::cell::Cell::new(0i64));
    drain(policy.pause, MAX_BATCHES, |_| {
        let (db, cursor) = (db.clone(), cursor.clone());
        async move {
            let after = cursor.get();
            let done = write(&db, move |c| {
                model::prune_deliveries(c, cutoff, after, rows)
            })
            .await?;
            if let Some(next) = done.next {
                cursor.set(next);
            }
            Ok(Batch {
                deleted: done.deleted,
                more: done.next.is_some(),
            })
        }
    })
    .await
}

/// Every other table: plain `DELETE … LIMIT n` batches.
async fn prune_table(
    db: &Db,
    policy: &Policy,
    table: &'static str,
    cut: Cutoffs,
) -> Result<u64, DbError> {
    let limit = policy.batch.max(1);
    let rows = i64::from(limit);
    drain(policy.pause, MAX_BATCHES, |_| {
        let db = db.clone();
        async move {
            let deleted = write(&db, move |c| match table {
                "events" => model::prune_events(c, cut.history, rows),
                "slack_threads" => model::prune_threads(c, cut.history, rows),
                "load_tests" => model::prune_load_tests(c, cut.history, rows),
                "run_reports" => model::prune_run_reports(c, cut.history, rows),
                "scenarios" => model::prune_scenarios(c, cut.history, rows),
                "test_messages" => model::prune_test_messages(c, cut.history, rows),
                "audit_log" => model::prune_audit(c, cut.audit, rows),
                "oauth_states" => model::prune_oauth_states(c, cut.oauth_states, rows),
                "ui_sessions" => model::prune_ui_sessions(c, cut.ui_sessions, rows),
                "slack_actions" => model::prune_slack_actions(c, cut.slack_actions, rows),
                _ => Ok(0),
            })
            .await?;
            Ok(Batch::of_limit(deleted, limit))
        }
    })
    .await
}

/// SQLite: returns free pages to the file system a few MiB at a time, when the file was
/// created for it. Returns the pages given back (0 on PostgreSQL).
async fn give_back_space(db: &Db, pause: Duration) -> Result<u64, DbError> {
    let Some((incremental, free)) = db
        .run(|c| model::sqlite_free_pages(c).map_err(DbError::from))
        .await?
    else {
        return Ok(0);
    };
    if !incremental {
        if free > 0 {
            tracing::debug!(
                free_pages = free,
                "the SQLite file keeps its free pages (auto_vacuum is not INCREMENTAL; a \
                 one-time VACUUM converts it)"
            );
        }
        return Ok(0);
    }
    let mut left = free;
    let mut given = 0u64;
    while left > 0 {
        let step = left.min(VACUUM_PAGES);
        write(db, move |c| model::sqlite_incremental_vacuum(c, step)).await?;
        given += step as u64;
        left -= step;
        if left > 0 && !pause.is_zero() {
            actix_web::rt::time::sleep(pause).await;
        }
    }
    Ok(given)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[actix_web::test]
    async fn drain_stops_at_the_first_short_batch() {
        // 2,500 rows in batches of 1,000: 1,000 + 1,000 + 500, then no fourth statement.
        let mut left = 2_500usize;
        let mut calls = 0;
        let deleted = drain(Duration::ZERO, MAX_BATCHES, |_| {
            calls += 1;
            let n = left.min(1_000);
            left -= n;
            async move { Ok(Batch::of_limit(n, 1_000)) }
        })
        .await
        .unwrap();
        assert_eq!((deleted, calls), (2_500, 3));
    }

    #[actix_web::test]
    async fn drain_of_an_exact_multiple_ends_with_one_empty_batch() {
        let mut left = 2_000usize;
        let mut calls = 0;
        let deleted = drain(Duration::ZERO, MAX_BATCHES, |_| {
            calls += 1;
            let n = left.min(1_000);
            left -= n;
            async move { Ok(Batch::of_limit(n, 1_000)) }
        })
        .await
        .unwrap();
        assert_eq!((deleted, calls), (2_000, 3));
    }

    #[actix_web::test]
    async fn drain_is_bounded_and_stops_at_an_error() {
        let mut calls = 0;
        let deleted = drain(Duration::ZERO, 4, |_| {
            calls += 1;
            async { Ok(Batch::of_limit(10, 10)) }
        })
        .await
        .unwrap();
        assert_eq!((deleted, calls), (40, 4));

        let mut calls = 0;
        let failed = drain(Duration::ZERO, 10, |n| {
            calls += 1;
            async move {
                if n == 1 {
                    Err(DbError::Canceled)
                } else {
                    Ok(Batch::of_limit(10, 10))
                }
            }
        })
        .await;
        assert!(failed.is_err());
        assert_eq!(calls, 2);
    }
}

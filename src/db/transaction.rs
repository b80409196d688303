//! Write transactions and the order of writers: `BEGIN IMMEDIATE` on SQLite behind an
//! in-process writer lane where the ingest writer goes first, and the batching of queued
//! work for one writer thread.

use std::sync::{Arc, Mutex};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::DbConnection;

thread_local! {
    /// The SQLite writer lane of the database the current blocking task works on (set by
    /// [`Db::run`]); `None` outside `Db::run` (CLI commands) and for PostgreSQL.
    static WRITE_LANE: std::cell::RefCell<Option<Arc<Mutex<()>>>> = const { std::cell::RefCell::new(None) };
}

/// Sets the writer lane for the duration of one `Db::run` closure.
pub(super) struct LaneGuard;

impl LaneGuard {
    pub(super) fn enter(lane: Option<Arc<Mutex<()>>>) -> Self {
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

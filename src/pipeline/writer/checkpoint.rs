//! The SQLite WAL checkpointer (see the writer's module documentation): passive
//! checkpoints off the writer, and a RESTART on the writer lane when the WAL grew anyway.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;

use crate::db::{take_turn, DatabaseUrl, DbConnection};

/// How often the SQLite checkpointer copies the WAL into the database file.
pub(super) const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);
/// WAL size (pages of 4 KiB) beyond which the checkpointer restarts the WAL on the writer
/// lane (passive checkpoints alone cannot reset it while readers keep using it).
pub(super) const WAL_RESTART_PAGES: i64 = 16_384;
/// How long a RESTART checkpoint waits for readers, holding the writer lane meanwhile.
const CHECKPOINT_BUSY_MS: i64 = 20;

/// The SQLite WAL checkpointer (see the module documentation); ends when `stopped` is
/// disconnected.
pub(super) fn checkpointer_loop(
    url: &DatabaseUrl,
    lane: Option<Arc<Mutex<()>>>,
    stopped: &Receiver<()>,
) {
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

    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
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
}

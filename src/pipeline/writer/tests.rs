//! Unit tests of the group commit: batches, replays, the callers' token confirmation, the
//! hand-off behind its commit gate.

use diesel::connection::SimpleConnection;
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

/// Each backend's scratch database (`db::scratch`) with table `t`, and a pool on it.
fn databases_with_table_t() -> Vec<(crate::db::scratch::Scratch, Db)> {
    crate::db::scratch::migrated()
        .into_iter()
        .map(|scratch| {
            let db = Db::new(scratch.url.clone(), 2).unwrap();
            db.get()
                .unwrap()
                .batch_execute("CREATE TABLE t (v TEXT NOT NULL)")
                .unwrap();
            (scratch, db)
        })
        .collect()
}

/// A token issued on `conn`: its id, and its hash as a caller's to confirm.
fn issue_token(conn: &mut DbConnection) -> (String, Option<TokenHash>) {
    use crate::domain::access::Role;
    use secrecy::ExposeSecret;
    let token = crate::auth::issue(conn, Role::Service, None, None, "t").unwrap();
    let hash = crate::auth::token_hash(token.token.expose_secret());
    (token.id, hash)
}

/// Jobs let in on a token seen live earlier run only when their batch's transaction
/// finds the token live: a live token's event is committed, a revoked token's and an
/// unknown token's are refused without running, and a job without a token to confirm runs
/// as ever; on SQLite all in one batch (they queue behind the slow job), on PostgreSQL in
/// whichever batches its writers make.
#[actix_web::test]
async fn a_batch_confirms_its_callers_tokens_before_their_work() {
    for (scratch, db) in databases_with_table_t() {
        let mut conn = db.get().unwrap();
        let (_, live) = issue_token(&mut conn);
        let (revoked_id, revoked) = issue_token(&mut conn);
        assert!(ApiTokenRow::revoke(&mut conn, &revoked_id).unwrap());
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
        let backend = scratch.backend();
        assert!(slow.is_ok() && live.is_ok(), "{backend}: {slow:?} {live:?}");
        assert!(
            matches!(revoked, Err(IngestError::TokenNotLive)),
            "{backend}: {revoked:?}"
        );
        assert!(
            matches!(unknown, Err(IngestError::TokenNotLive)),
            "{backend}: {unknown:?}"
        );
        assert_eq!(values(&db), ["live", "slow"], "{backend}");
    }
}

/// Events whose caller's token is live are committed, and the same token's next event,
/// once the token was revoked, is refused. On each backend.
#[actix_web::test]
async fn a_token_revoked_between_two_batches_refuses_the_second() {
    for (scratch, db) in databases_with_table_t() {
        let mut conn = db.get().unwrap();
        let (token_id, token) = issue_token(&mut conn);
        let writer = IngestWriter::start(&db, None).unwrap();
        let submit = |v: &'static str| {
            let token = token.clone();
            writer.submit_ingest(move |c| insert(c, v), token, PathTrace::default())
        };
        let backend = scratch.backend();
        let (a, b) = futures_util::future::join(submit("a"), submit("b")).await;
        assert!(a.is_ok() && b.is_ok(), "{backend}: {a:?} {b:?}");
        assert!(ApiTokenRow::revoke(&mut conn, &token_id).unwrap());
        let c = submit("c").await;
        assert!(
            matches!(c, Err(IngestError::TokenNotLive)),
            "{backend}: {c:?}"
        );
        assert_eq!(values(&db), ["a", "b"], "{backend}");
    }
}

/// The hand-off gives what it claimed to the sender before the `COMMIT`, behind a gate:
/// the gate opens when the batch committed, and stays shut when the `COMMIT` failed (a
/// deferred foreign key here), when the event's submitter is refused and nothing of the
/// event is stored.
#[actix_web::test]
async fn handed_deliveries_wait_for_their_commit() {
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
    let handoff = Handoff {
        sender: SenderConfig::for_tests(),
        sink: Arc::new(move |deliveries, _trace, gate| {
            let events = deliveries
                .iter()
                .map(|h| h.delivery.event_id.clone())
                .collect();
            sink_handed.lock().unwrap().push((events, gate));
        }),
        prerender: Arc::new(|_| {}),
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

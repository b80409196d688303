//! Unit tests of rendering ahead, through the group commit on SQLite.

use diesel::connection::SimpleConnection;

use super::*;
use crate::db::models::slack_thread::SlackThread;
use crate::db::{DatabaseUrl, Db};
use crate::pipeline::deliver::{HandedDelivery, SenderConfig};
use crate::pipeline::effective::Resolved;
use crate::pipeline::ingest::tests::{effective_in, event};
use crate::pipeline::path_trace::PathTrace;
use crate::pipeline::render::{Card, Rendered};
use crate::pipeline::writer::{Handoff, IngestWriter};

/// What the writer gave the sender: the handed deliveries, and the prerenders asked for.
#[derive(Default)]
struct Given {
    handed: Vec<HandedDelivery>,
    ahead: Vec<Prerender>,
}

/// A migrated SQLite database with organization "acme", project "shop" and the active
/// installation "inst-1" of workspace "T0001", and a writer with a hand-off into `given`.
fn writer() -> (tempfile::TempDir, Db, IngestWriter, Arc<Mutex<Given>>) {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(dir.path().join("p.db"));
    crate::db::run_migrations(&mut url.connect().unwrap()).unwrap();
    let (db, writer, given) = writer_on(url);
    (dir, db, writer, given)
}

/// The same on the migrated database `url`.
fn writer_on(url: DatabaseUrl) -> (Db, IngestWriter, Arc<Mutex<Given>>) {
    crate::db::scratch::seed_installation(&mut url.connect().unwrap(), "shop", ("inst-1", "T0001"));
    let db = Db::new(url, 2).unwrap();
    let given: Arc<Mutex<Given>> = Arc::default();
    let (to_sink, to_ahead) = (given.clone(), given.clone());
    let handoff = Handoff {
        sender: SenderConfig::for_tests(),
        sink: Arc::new(move |deliveries, _trace, _gate| {
            to_sink.lock().unwrap().handed.extend(deliveries);
        }),
        prerender: Arc::new(move |p| to_ahead.lock().unwrap().ahead.push(p)),
    };
    let writer = IngestWriter::start(&db, Some(handoff)).unwrap();
    (db, writer, given)
}

/// Submits event `kind` of load test `lt` into `channel` (with or without threads); its
/// delivery is handed over at commit.
async fn ingest(writer: &IngestWriter, (lt, kind): (&str, &str), (channel, threads): (&str, bool)) {
    let resolved = Resolved {
        effective: effective_in(channel, threads),
        project_registered: true,
    };
    let ingested = writer
        .submit_load_test(event(lt, kind), resolved, None, PathTrace::default())
        .await
        .unwrap();
    assert_eq!(ingested.handed, [("T0001".to_owned(), channel.to_owned())]);
}

/// [`ingest`], then what was handed over and asked to render ahead since the last time.
async fn submit(
    writer: &IngestWriter,
    given: &Mutex<Given>,
    event: (&str, &str),
    to: (&str, bool),
) -> Given {
    ingest(writer, event, to).await;
    std::mem::take(&mut *given.lock().unwrap())
}

/// A planned message, to compare: how it goes out, and what it says.
fn message(planned: Planned) -> (&'static str, Option<Rendered>) {
    match planned {
        Planned::CardOnly(..) => ("card only", None),
        Planned::Message(m) => {
            let send::Message { plan, rendered, .. } = *m;
            let how = match plan {
                send::Plan::Single => "single",
                send::Plan::Parent(_) => "card",
                send::Plan::Reply(..) => "reply",
            };
            (how, Some(rendered.unwrap()))
        }
    }
}

/// A load-test event alone in the group commit's batch is handed over with its message
/// rendered ahead, and that message is the one the sender renders from what it loads after
/// the commit: a single message without threads, the run card with them, a reply under the
/// card once the run has one.
#[actix_web::test]
async fn a_lone_event_is_handed_with_its_message_rendered_ahead() {
    let (_dir, db, writer, given) = writer();
    let (renderer, cipher) = (Renderer::new(None).unwrap(), Cipher::for_tests());
    let config = SenderConfig::for_tests();
    let cases = [
        (("lt-1", "started"), ("C1", false), "single"),
        (("lt-2", "started"), ("C2", true), "card"),
        (("lt-3", "running"), ("C3", true), "reply"),
    ];
    for (event, to, how) in cases {
        let (lt, _) = event;
        if how == "reply" {
            // Its start, sent before: its card is in the channel.
            let start = submit(&writer, &given, (lt, "started"), ("C0", true)).await;
            let Ok(p) = &start.handed[0].prepared else {
                panic!("{lt}: not loaded");
            };
            let card = serde_json::to_string(&Card::new(&p.payload)).unwrap();
            let thread = SlackThread {
                subject_key: format!("lt:{lt}"),
                team_id: "T0001".into(),
                channel: to.0.into(),
                parent_ts: "1.000001".into(),
                card,
                updated_at: crate::db::now(),
            };
            SlackThread::insert(&mut db.get().unwrap(), &thread).unwrap();
        }
        let Given {
            mut handed,
            mut ahead,
        } = submit(&writer, &given, event, to).await;
        assert_eq!((handed.len(), ahead.len()), (1, 1), "{lt}");
        let (handed, ahead) = (handed.remove(0), ahead.remove(0));
        let Ok(p) = &handed.prepared else {
            panic!("{lt}: not loaded");
        };
        let slot = p.prerendered.clone().expect("rendered ahead");
        assert!(Arc::ptr_eq(&slot, &ahead.slot), "{lt}: another delivery's");
        render(&renderer, &cipher, ahead);
        let early = message(rendered(&slot).expect("rendered"));

        let d = &handed.delivery;
        let mut conn = db.get().unwrap();
        let after = prepare::prepare(&mut conn, d, &config, None, false)
            .unwrap()
            .unwrap();
        let late = message(send::plan(&renderer, &cipher, d.address(), &after));
        assert_eq!(early.0, how, "{lt}");
        assert_eq!(early, late, "{lt}");
    }
}

/// What is loaded ahead goes only with its own row: a claim that hands over an older
/// delivery of the channel loads that one after the claim, and renders nothing ahead.
#[actix_web::test]
async fn a_claim_of_an_older_delivery_takes_nothing_rendered_ahead() {
    let (_dir, db, writer, given) = writer();
    submit(&writer, &given, ("lt-1", "started"), ("C1", true)).await;
    // Its claim handed back and the channel not paced: it is the channel's head again.
    db.get()
        .unwrap()
        .batch_execute(
            "UPDATE deliveries SET claimed_until = NULL, claimed_by = NULL; \
             DELETE FROM channel_pacing;",
        )
        .unwrap();
    let Given { handed, ahead } = submit(&writer, &given, ("lt-2", "started"), ("C1", true)).await;
    assert_eq!((handed.len(), ahead.len()), (1, 1));
    assert_eq!(handed[0].delivery.subject_key, "lt:lt-1");
    let Ok(p) = &handed[0].prepared else {
        panic!("not loaded");
    };
    assert!(p.prerendered.is_none());
    assert!(matches!(&*p.payload, Payload::LoadTest(lt) if lt.load_test_id == "lt-1"));
}

/// A batch of several events renders nothing ahead: the writer is busy, its time goes to
/// the events.
#[actix_web::test]
async fn a_batch_of_several_renders_nothing_ahead() {
    let (_dir, _db, writer, given) = writer();
    // A write that holds the writer until both events are queued: they are one batch.
    let (started, on_start) = tokio::sync::oneshot::channel::<()>();
    let started = Mutex::new(Some(started));
    let (release, on_release) = std::sync::mpsc::channel::<()>();
    let on_release = Mutex::new(on_release);
    let held = writer.clone();
    let hold = actix_web::rt::spawn(async move {
        held.submit_write(move |_| {
            if let Some(started) = started.lock().unwrap().take() {
                let _ = started.send(());
            }
            let _ = on_release.lock().unwrap().recv();
            Ok(())
        })
        .await
    });
    on_start.await.unwrap();
    // Both are queued at their first poll, before the release (polled after them).
    let events = async {
        tokio::join!(
            ingest(&writer, ("lt-1", "started"), ("C1", true)),
            ingest(&writer, ("lt-2", "started"), ("C2", true)),
        )
    };
    let released = async {
        tokio::task::yield_now().await;
        release.send(()).unwrap();
    };
    tokio::join!(events, released);
    hold.await.unwrap().unwrap();
    let given = std::mem::take(&mut *given.lock().unwrap());
    assert_eq!(given.handed.len(), 2);
    assert!(given.ahead.is_empty());
}

/// PostgreSQL renders nothing ahead (another instance may record a thread's parent between
/// the read and the claim); SQLite does, on the same event (PostgreSQL when
/// `XTC_SLACK_TEST_POSTGRES_URL` names a server).
#[actix_web::test]
async fn only_sqlite_renders_ahead() {
    for scratch in crate::db::scratch::migrated() {
        let (_db, writer, given) = writer_on(scratch.url.clone());
        let Given { handed, ahead } =
            submit(&writer, &given, ("lt-1", "started"), ("C1", true)).await;
        let expected = usize::from(scratch.backend() == "sqlite");
        assert_eq!(
            (handed.len(), ahead.len()),
            (1, expected),
            "{}",
            scratch.backend()
        );
    }
}

/// The sender posts the message rendered ahead, not one rendered again: here rendered ahead
/// with a project name of its own, which only that render shows.
#[actix_web::test]
async fn the_sender_takes_the_message_rendered_ahead() {
    let (_dir, _db, writer, given) = writer();
    let (renderer, cipher) = (Renderer::new(None).unwrap(), Cipher::for_tests());
    let Given {
        mut handed,
        mut ahead,
    } = submit(&writer, &given, ("lt-1", "started"), ("C1", true)).await;
    let (handed, mut ahead) = (handed.remove(0), ahead.remove(0));
    ahead.prepared.names.project_name = "Rendered ahead".into();
    render(&renderer, &cipher, ahead);
    let Ok(mut p) = handed.prepared else {
        panic!("not loaded");
    };
    let d = &handed.delivery;
    let shows = |planned: Planned| {
        let rendered = message(planned).1.unwrap();
        format!("{} {}", rendered.text, rendered.blocks).contains("Rendered ahead")
    };
    assert!(shows(send::planned(&renderer, &cipher, d, &mut p)));
    // Taken: a second look renders anew, from what was loaded.
    assert!(p.prerendered.is_none());
    assert!(!shows(send::planned(&renderer, &cipher, d, &mut p)));
}

/// The debug builds' check of what rendering ahead relies on fails when what was loaded
/// ahead changed before the claim (here the run's card appeared in its channel).
#[cfg(debug_assertions)]
#[actix_web::test]
#[should_panic(expected = "changed before its claim")]
async fn a_load_that_changed_before_the_claim_fails_the_debug_check() {
    let (_dir, db, writer, given) = writer();
    let Given { handed, .. } = submit(&writer, &given, ("lt-1", "started"), ("C1", true)).await;
    let Ok(p) = &handed[0].prepared else {
        panic!("not loaded");
    };
    let payload = p.payload.clone();
    let mut conn = db.get().unwrap();
    conn.batch_execute(
        "INSERT INTO slack_threads (subject_key, team_id, channel, parent_ts, card, updated_at) \
         VALUES ('lt:lt-1', 'T0001', 'C1', '1.000001', '{}', '2026-01-01 00:00:00')",
    )
    .unwrap();
    let _ = assert_unchanged(&mut conn, &handed[0].delivery, payload, &handed[0].prepared);
}

//! The hand-off (issue 28): deliveries that may go out at once are claimed in the ingest
//! transaction that queued them and go to the sender in memory. What may be claimed there is
//! exactly what the sender's own claim would take (each channel's oldest pending row, due,
//! unclaimed, paced), and on PostgreSQL two transactions never both claim for one channel.
//! End to end: the event reaches Slack through the hand-off (its path is observed in
//! `xtc_slack_event_path_seconds`), a second event into the busy channel still follows in
//! order, and with `XTC_SLACK_HANDOFF=false` the same events go through the sender's claim.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::json;
use xtc_slack::db::models::delivery::Delivery;
use xtc_slack::db::schema::{channel_pacing, deliveries};
use xtc_slack::db::DbConnection;
use xtc_slack::domain::pacing::Pacing;

use crate::helpers::*;
use crate::pipeline::{lt_body, messages, post_lt};

const PAST: &str = "'2026-01-01 00:00:00'";
const FUTURE: &str = "'2999-01-01 00:00:00'";

fn pacing() -> Pacing {
    Pacing {
        interval: chrono::Duration::seconds(1),
        burst: 1,
    }
}

fn migrated(backend: Backend) -> Option<TestDb> {
    let db = TestDb::create(backend)?;
    let mut conn = db.connect();
    xtc_slack::db::run_migrations(&mut conn).unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO organizations (id, name, created_at, updated_at) \
         VALUES ('acme', 'Acme', {PAST}, {PAST}); \
         INSERT INTO projects (org_id, id, name, created_at, updated_at) \
         VALUES ('acme', 'webshop', 'Webshop', {PAST}, {PAST});"
    ))
    .unwrap();
    Some(db)
}

/// Queues a pending delivery of a new event `event` (type `event_type`) for `channel` of
/// workspace T1, due at `due`; returns its id.
fn queue(c: &mut DbConnection, event: &str, event_type: &str, channel: &str, due: &str) -> i64 {
    c.batch_execute(&format!(
        "INSERT INTO events (event_id, subject_kind, subject_id, org_id, project_id, \
         event_type, occurred_at, payload, resulting_state, received_at) VALUES \
         ('{event}', 'load_test', 'lt', 'acme', 'webshop', '{event_type}', {PAST}, '{{}}', \
         'running', {PAST}); \
         INSERT INTO deliveries (event_id, org_id, project_id, subject_key, event_type, \
         channel, team_id, installation_id, threads, compact, status, attempts, \
         next_attempt_at, created_at) VALUES ('{event}', 'acme', 'webshop', 'lt:lt', \
         '{event_type}', '{channel}', 'T1', 'inst', TRUE, FALSE, 'pending', 0, {due}, {PAST});"
    ))
    .unwrap();
    deliveries::table
        .filter(deliveries::event_id.eq(event))
        .select(deliveries::id)
        .first(c)
        .unwrap()
}

fn claim(c: &mut DbConnection, channels: &[&str], instance: &str) -> Vec<i64> {
    let channels: Vec<(String, String)> = channels
        .iter()
        .map(|ch| ("T1".to_owned(), (*ch).to_owned()))
        .collect();
    let now = chrono::Utc::now().naive_utc();
    let lease = chrono::Duration::seconds(30);
    Delivery::claim_heads(c, &channels, now, lease, instance, pacing())
        .unwrap()
        .into_iter()
        .map(|h| h.delivery.id)
        .collect()
}

fn in_tx<T>(c: &mut DbConnection, f: impl FnOnce(&mut DbConnection) -> T) -> T {
    c.batch_execute("BEGIN").unwrap();
    let out = f(c);
    c.batch_execute("COMMIT").unwrap();
    out
}

fn only_what_the_sender_would_claim_is_handed_over(db: TestDb) {
    let mut conn = db.connect();
    let c = &mut conn;
    // An idle channel: its new row is claimed, with a lease, one attempt, and the pace.
    let first = queue(c, "e1", "started", "C1", PAST);
    assert_eq!(in_tx(c, |c| claim(c, &["C1", "C1"], "me")), [first]);
    let (by, attempts): (Option<String>, i32) = deliveries::table
        .find(first)
        .select((deliveries::claimed_by, deliveries::attempts))
        .first(c)
        .unwrap();
    assert_eq!((by.as_deref(), attempts), (Some("me"), 1));
    // The claim moved the channel's pace one send on: from nothing (a new row) ...
    let before = chrono::Utc::now().naive_utc();
    let tat = |c: &mut DbConnection, channel: &str| -> chrono::NaiveDateTime {
        channel_pacing::table
            .find(("T1", channel))
            .select(channel_pacing::next_allowed_at)
            .first(c)
            .unwrap()
    };
    let paced = tat(c, "C1");
    assert!(
        paced > before && paced <= before + chrono::Duration::seconds(1),
        "{paced}"
    );
    // ... and from a past one (the row is updated).
    let fifth = queue(c, "e8", "started", "C5", PAST);
    c.batch_execute(&format!(
        "INSERT INTO channel_pacing (team_id, channel, next_allowed_at) VALUES ('T1', 'C5', {PAST})"
    ))
    .unwrap();
    assert_eq!(in_tx(c, |c| claim(c, &["C5"], "me")), [fifth]);
    let paced = tat(c, "C5");
    assert!(
        paced > before && paced <= before + chrono::Duration::seconds(2),
        "{paced}"
    );
    // The channel is busy (its head is claimed) and paced: the next row waits for a claim.
    queue(c, "e2", "running", "C1", PAST);
    assert!(in_tx(c, |c| claim(c, &["C1"], "me")).is_empty());
    // A channel paced into the future.
    queue(c, "e3", "started", "C2", PAST);
    c.batch_execute(&format!(
        "INSERT INTO channel_pacing (team_id, channel, next_allowed_at) VALUES ('T1', 'C2', {FUTURE})"
    ))
    .unwrap();
    assert!(in_tx(c, |c| claim(c, &["C2"], "me")).is_empty());
    // A row waiting for its retry heads its channel: nothing behind it goes first.
    queue(c, "e4", "started", "C3", FUTURE);
    queue(c, "e5", "running", "C3", PAST);
    assert!(in_tx(c, |c| claim(c, &["C3"], "me")).is_empty());
    // An intermediate report a newer one supersedes is left to the sender (which skips it).
    queue(c, "e6", "intermediate_report", "C4", PAST);
    queue(c, "e7", "intermediate_report", "C4", PAST);
    assert!(in_tx(c, |c| claim(c, &["C4"], "me")).is_empty());
    // The claim says whether anything waits behind the head (then a digest may be due).
    let claimed_heads = |c: &mut DbConnection, channel: &str| -> Vec<(i64, bool)> {
        let channels = [("T1".to_owned(), channel.to_owned())];
        let now = chrono::Utc::now().naive_utc();
        let lease = chrono::Duration::seconds(30);
        let claimed = Delivery::claim_heads(c, &channels, now, lease, "me", pacing()).unwrap();
        claimed
            .into_iter()
            .map(|h| (h.delivery.id, h.queued_behind))
            .collect()
    };
    let head = queue(c, "e9", "started", "C6", PAST);
    queue(c, "e10", "running", "C6", PAST);
    assert_eq!(in_tx(c, |c| claimed_heads(c, "C6")), [(head, true)]);
    let alone = queue(c, "e11", "started", "C7", PAST);
    assert_eq!(in_tx(c, |c| claimed_heads(c, "C7")), [(alone, false)]);
    // A workspace-less target is never handed over.
    let none = Delivery::claim_heads(
        c,
        &[(String::new(), "C1".to_owned())],
        chrono::Utc::now().naive_utc(),
        chrono::Duration::seconds(30),
        "me",
        pacing(),
    )
    .unwrap();
    assert!(none.is_empty());
}

#[test]
fn only_what_the_sender_would_claim_is_handed_over_on_sqlite() {
    only_what_the_sender_would_claim_is_handed_over(migrated(Backend::Sqlite).unwrap());
}

#[test]
fn only_what_the_sender_would_claim_is_handed_over_on_postgres() {
    match migrated(Backend::Postgres) {
        Some(db) => only_what_the_sender_would_claim_is_handed_over(db),
        None => eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set"),
    }
}

/// Two instances' ingest transactions into one idle channel: while the first has not
/// committed, the second neither claims nor waits; after the commit, the channel is busy.
#[test]
fn two_transactions_never_both_claim_one_channel_on_postgres() {
    let Some(db) = migrated(Backend::Postgres) else {
        eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set");
        return;
    };
    let (mut a, mut b) = (db.connect(), db.connect());
    let first = queue(&mut a, "e1", "started", "C1", PAST);
    a.batch_execute("BEGIN").unwrap();
    assert_eq!(claim(&mut a, &["C1"], "a"), [first]);
    let started = std::time::Instant::now();
    let other = in_tx(&mut b, |b| claim(b, &["C1"], "b"));
    assert!(other.is_empty(), "{other:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    a.batch_execute("COMMIT").unwrap();
    queue(&mut b, "e2", "running", "C1", PAST);
    assert!(in_tx(&mut b, |b| claim(b, &["C1"], "b")).is_empty());
}

/// `xtc_slack_event_path_seconds_count{stage=...}` in `/metrics` (0 when absent).
async fn path_count(app: &TestApp, stage: &str) -> u64 {
    let text = crate::metrics::scrape(app).await;
    let key = format!("xtc_slack_event_path_seconds_count{{stage=\"{stage}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Deliveries recorded as sent (`xtc_slack_delivery_attempts_total{outcome="sent"}`).
async fn sent(app: &TestApp) -> u64 {
    let text = crate::metrics::scrape(app).await;
    text.lines()
        .find_map(|l| l.strip_prefix("xtc_slack_delivery_attempts_total{outcome=\"sent\"} "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Two events of one load test into one channel, back to back, arrive in order: the first
/// through the hand-off, the second through it or (its channel still busy) the sender's claim.
async fn events_reach_slack_in_order(app: TestApp, handoff: bool) {
    app.configure_acme(json!({"target_channels": "#load-tests", "threads": false}))
        .await;
    for (i, kind) in ["started", "running"].iter().enumerate() {
        let (status, body) = post_lt(&app, "lt-1", lt_body(&format!("ev-{i}"), kind)).await;
        assert_eq!(status, 202, "{body}");
    }
    let got = messages(&app, "load-tests", 2).await;
    let texts: Vec<String> = got.iter().map(|m| m["text"].to_string()).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].contains("started"), "{texts:?}");
    assert!(texts[1].contains("running"), "{texts:?}");
    // Recorded after the post: wait until both outcomes are.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sent(&app).await < 2 && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let stages = [
        "request",
        "actor_mailbox",
        "writer_queue",
        "transaction",
        "prepare",
        "render",
        "commit",
        "post",
        "record",
        "total",
    ];
    // With the hand-off, the first event's path is traced end to end, every stage of it;
    // the second too when its channel was idle again by then (else the sender claimed it
    // after its channel's pace). Without the hand-off nothing is traced.
    let traced = path_count(&app, "total").await;
    match handoff {
        true => assert!((1..=2).contains(&traced), "{traced}"),
        false => assert_eq!(traced, 0),
    }
    for stage in stages {
        assert_eq!(path_count(&app, stage).await, traced, "{stage}");
    }
}

crate::test_both_backends! {
    async fn events_reach_slack_in_order_through_the_handoff(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        events_reach_slack_in_order(app, true).await;
    }
}

#[actix_web::test]
async fn events_reach_slack_in_order_without_the_handoff() {
    let app = try_spawn_fast_app(Backend::Sqlite, |a| a.handoff = false)
        .await
        .unwrap();
    events_reach_slack_in_order(app, false).await;
}

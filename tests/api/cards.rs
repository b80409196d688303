//! Run cards and incident cards under pressure: edits that land under a `chat.update` tier
//! far below the edit rate, cards deleted in Slack, flapping scenarios (issue 14, 11-13).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;
use crate::pipeline::{lt_body, messages, post_lt, post_mon};

/// Everything a message shows (text, blocks, attachments).
fn shown(m: &Value) -> String {
    format!(
        "{} {} {}",
        m["text"].as_str().unwrap_or_default(),
        m["blocks"],
        m["attachments"]
    )
}

fn top_level(got: &[Value]) -> Vec<Value> {
    got.iter()
        .filter(|m| m["thread_ts"].is_null())
        .cloned()
        .collect()
}

async fn all_messages(app: &TestApp, channel: &str) -> Vec<Value> {
    messages(app, channel, 0).await
}

/// Waits until `check` holds for the channel's messages (or 90 s pass); the last look.
async fn wait_for(app: &TestApp, channel: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got = all_messages(app, channel).await;
        if check(&got) || Instant::now() > deadline {
            return got;
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

fn named(event_id: &str, kind: &str, name: &str) -> Value {
    let mut body = lt_body(event_id, kind);
    body["load_test"]["name"] = json!(name);
    body
}

crate::test_both_backends! {
    async fn every_card_of_many_threaded_load_tests_ends_in_its_final_state_under_a_chat_update_tier(app: TestApp) {
        // The fake allows 60 chat.update a minute (burst 3); the app would edit much faster
        // (24 load tests × 3 edits within seconds) and paces itself above the tier, so it
        // meets 429s and must wait them out.
        let fake = |c: &mut fake_slack::FakeSlackConfig| {
            c.method_limits.insert("chat.update".into(), (60, 3));
        };
        let Some(app) = try_spawn_fast_app_with_fake(app.backend, fake, |a| {
            a.card_edits_per_min = 600;
            a.card_edit_burst = 10;
        })
        .await else { return };
        let admin = app.configure_acme(json!({"threads": true, "target_channels": "#load-tests"})).await;
        const N: usize = 24;
        let kinds = ["started", "running", "finished", "report_available"];
        for (k, kind) in kinds.iter().enumerate() {
            for i in 0..N {
                let (status, body) = post_lt(&app, &format!("lt-{i}"), named(&format!("e-{i}-{k}"), kind, &format!("Load test number {i:02}"))).await;
                assert_eq!(status, 202, "{body}");
            }
        }
        let log = app.settled_deliveries(&admin).await;
        assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
        let finals: Vec<String> = (0..N).map(|i| format!("reports/e-{i}-3")).collect();
        let done = |got: &[Value]| {
            let parents = top_level(got);
            parents.len() == N && finals.iter().all(|f| parents.iter().any(|p| shown(p).contains(f.as_str())))
        };
        let got = wait_for(&app, "load-tests", done).await;
        let parents = top_level(&got);
        assert_eq!(parents.len(), N, "one card per load test");
        for (i, f) in finals.iter().enumerate() {
            let card = parents.iter().find(|p| shown(p).contains(&format!("Load test number {i:02}"))).unwrap();
            assert!(shown(card).contains(f.as_str()), "card {i} is not in its final state: {}", shown(card));
        }
        // The tier was reached and honoured: 429s, and yet every card landed.
        let calls = app.fake_get("/calls?method=chat.update").await;
        let calls = calls["calls"].as_array().unwrap();
        let limited = calls.iter().filter(|c| c["http_status"] == 429).count();
        assert!(limited > 0, "the chat.update tier was never reached");
        // Edits of one card collapse: far fewer successful edits than replies (3 per card).
        let edited = calls.iter().filter(|c| c["ok"] == true).count();
        assert!(edited < N * 3, "{edited} edits for {N} cards");
    }
}

crate::test_both_backends! {
    async fn a_deleted_card_is_posted_again_and_the_thread_continues_there(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"threads": true, "target_channels": "#load-tests"})).await;
        assert_eq!(post_lt(&app, "lt-d", lt_body("d-0", "started")).await.0, 202);
        let first = messages(&app, "load-tests", 1).await[0].clone();
        let p1 = first["ts"].as_str().unwrap().to_owned();

        // An edit that has to wait (429) while someone deletes the card: the edit finds
        // `message_not_found` and posts the card again with the current state.
        app.fake_post("/fail", json!({"method": "chat.update", "count": 1, "http_status": 429, "retry_after": 2})).await;
        assert_eq!(post_lt(&app, "lt-d", lt_body("d-1", "running")).await.0, 202);
        messages(&app, "load-tests", 2).await;
        let deleted = app.fake_post("/messages/delete", json!({"channel": "load-tests", "ts": p1})).await;
        assert_eq!(deleted["ok"], true, "{deleted}");
        let got = wait_for(&app, "load-tests", |got| top_level(got).len() == 1 && top_level(got)[0]["ts"] != p1.as_str()).await;
        let p2 = top_level(&got)[0]["ts"].as_str().unwrap().to_owned();
        assert_ne!(p2, p1, "a new card: {got:#?}");
        assert!(shown(&top_level(&got)[0]).contains("Checkout peak 2000 users"));

        // The next event goes under the new card.
        assert_eq!(post_lt(&app, "lt-d", lt_body("d-2", "finished")).await.0, 202);
        let got = wait_for(&app, "load-tests", |got| got.iter().any(|m| m["thread_ts"] == p2.as_str())).await;
        assert!(got.iter().any(|m| m["thread_ts"] == p2.as_str()), "{got:#?}");

        // A reply to a deleted card (`thread_not_found`): a new card, the reply under it.
        let deleted = app.fake_post("/messages/delete", json!({"channel": "load-tests", "ts": p2})).await;
        assert_eq!(deleted["ok"], true, "{deleted}");
        assert_eq!(post_lt(&app, "lt-d", lt_body("d-3", "report_available")).await.0, 202);
        let log = app.settled_deliveries(&admin).await;
        assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
        let got = wait_for(&app, "load-tests", |got| top_level(got).len() == 1 && top_level(got)[0]["ts"] != p2.as_str()).await;
        let parents = top_level(&got);
        assert_eq!(parents.len(), 1, "{got:#?}");
        let p3 = parents[0]["ts"].as_str().unwrap();
        assert_ne!(p3, p2);
        assert!(shown(&parents[0]).contains("reports/d-3"), "the new card shows the current state: {}", shown(&parents[0]));
        let last = got.last().unwrap();
        assert_eq!(last["thread_ts"], p3, "the reply that failed is posted under the new card: {got:#?}");
    }
}

crate::test_both_backends! {
    async fn ten_flaps_within_a_minute_are_one_incident_card_that_says_it_is_flapping(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"threads": true, "target_channels": "#load-tests"})).await;
        for i in 0..20 {
            let state = if i % 2 == 0 { "failure" } else { "ok" };
            let body = json!({
                "event_id": format!("f-{i}"), "org": "acme", "project": "webshop",
                "occurred_at": format!("2026-11-26T10:00:{:02}Z", i * 3),
                "scenario": {"name": "Shop checkout", "url": "https://xtc.example/mon/77"},
                "notify_via": ["slack"], "state": state,
                "execution": {"id": format!("x{i}"), "url": "https://xtc.example/ex/1", "location": "eu-west"},
                "failed_sensors": if state == "ok" { json!([]) } else { json!([{"name": "Page load < 3s", "message": "3.8s"}]) },
            });
            let (status, res) = post_mon(&app, "shop-checkout", body).await;
            assert_eq!(status, 202, "{res}");
        }
        let log = app.settled_deliveries(&admin).await;
        assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
        let got = wait_for(&app, "load-tests", |got| {
            top_level(got).first().is_some_and(|c| shown(c).contains("Flapping (20 changes)"))
        })
        .await;
        let cards = top_level(&got);
        assert_eq!(cards.len(), 1, "one incident card: {got:#?}");
        assert!(shown(&cards[0]).contains("Flapping (20 changes)"), "{}", shown(&cards[0]));
        let in_channel = got.iter().filter(|m| m["reply_broadcast"] == true).count();
        assert!(in_channel <= 2, "at most a couple of short lines in the channel: {got:#?}");
        let replies = got.iter().filter(|m| !m["thread_ts"].is_null()).count();
        assert!(replies <= 3, "no reply per flap: {got:#?}");
    }
}

/// A card edit written while the previous edit of that card is being settled (deleted as
/// sent) is kept: the write is one atomic upsert. It read the row, then updated it, and on
/// PostgreSQL a settle committed in between made the update hit nothing: the card's last
/// state was never sent (seen as a flapping card stuck one change behind).
#[actix_web::test]
async fn a_card_edit_written_while_the_previous_one_is_settled_is_kept() {
    use xtc_slack::db::models::card_edit::{CardEdit, CardPlace};
    let Some(db) = TestDb::create(Backend::Postgres) else {
        eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set");
        return;
    };
    let mut writer = db.connect();
    xtc_slack::db::run_migrations(&mut writer).unwrap();
    let place = CardPlace {
        subject_key: "incident:s1:1",
        team_id: "T1",
        channel: "C1",
        slack_channel: "C1",
        installation_id: "inst-1",
        org_id: "acme",
        project_id: "webshop",
        compact: false,
    };
    let now = xtc_slack::db::now();
    CardEdit::upsert(
        &mut writer,
        &CardEdit::due_now(&place, "19 changes".into(), now),
    )
    .unwrap();

    // The sender settles that edit: its delete holds the row until it commits.
    use diesel::connection::SimpleConnection;
    let mut settler = db.connect();
    settler
        .batch_execute("BEGIN; DELETE FROM card_edits")
        .unwrap();
    let url = db.url.clone();
    let place_owned = (place.subject_key, place.team_id, place.channel);
    let write = std::thread::spawn(move || {
        let mut conn = xtc_slack::db::DatabaseUrl::parse(&url)
            .unwrap()
            .connect()
            .unwrap();
        let place = CardPlace {
            subject_key: place_owned.0,
            team_id: place_owned.1,
            channel: place_owned.2,
            slack_channel: "C1",
            installation_id: "inst-1",
            org_id: "acme",
            project_id: "webshop",
            compact: false,
        };
        CardEdit::upsert(
            &mut conn,
            &CardEdit::due_now(&place, "20 changes".into(), xtc_slack::db::now()),
        )
        .unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    settler.batch_execute("COMMIT").unwrap();
    write.join().unwrap();

    let cards: Vec<String> = {
        use diesel::prelude::*;
        xtc_slack::db::schema::card_edits::table
            .select(xtc_slack::db::schema::card_edits::card)
            .load(&mut writer)
            .unwrap()
    };
    assert_eq!(cards, ["20 changes"], "the newer card state is still due");
}

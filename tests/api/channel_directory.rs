//! The per-workspace channel directory: built in the background after install (one
//! `conversations.list` page at a time, waiting out 429s), names resolved from it on save
//! without listing the workspace, `resolving` warnings while it is built, and channel
//! events keeping it current.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use xtc_slack::db::models::channel_directory::ChannelDirectory;

use crate::helpers::*;

const TEAM: &str = "T0FAKE0001";

/// Declares a test on both backends with the app and its fake configured by `$fake`.
macro_rules! directory_test {
    ($name:ident, $fake:expr, $body:ident) => {
        mod $name {
            use super::*;

            #[actix_web::test]
            async fn on_sqlite() {
                let app = spawn(Backend::Sqlite, $fake).await.unwrap();
                $body(app).await;
            }

            #[actix_web::test]
            async fn on_postgres() {
                match spawn(Backend::Postgres, $fake).await {
                    Some(app) => $body(app).await,
                    None => eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set"),
                }
            }
        }
    };
}

async fn spawn(
    backend: Backend,
    fake: impl FnOnce(&mut fake_slack::FakeSlackConfig),
) -> Option<TestApp> {
    try_spawn_fast_app_with_fake(backend, fake, |args| {
        args.channel_directory_page_ms = 20;
        args.slack_signing_secret = Some("fake-signing-secret".into());
    })
    .await
}

fn directory(app: &TestApp) -> Option<ChannelDirectory> {
    let mut conn = app.db.connect();
    ChannelDirectory::find(&mut conn, TEAM).unwrap()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn calls(app: &TestApp) -> usize {
    app.fake_get("/calls").await["calls"]
        .as_array()
        .unwrap()
        .len()
}

async fn list_calls(app: &TestApp) -> usize {
    app.fake_get("/calls?method=conversations.list").await["calls"]
        .as_array()
        .unwrap()
        .len()
}

async fn save(app: &TestApp, admin: &str, channels: &str) -> (u16, Value) {
    app.call(
        Method::PUT,
        "/api/v1/orgs/acme/slack",
        Some(admin),
        Some(json!({"send_messages": true, "target_channels": channels})),
    )
    .await
}

async fn org(app: &TestApp, admin: &str) -> Value {
    app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(admin), None)
        .await
        .1
}

fn problems(view: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = view["channel_warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["channel"].as_str().unwrap().to_owned(),
                w["problem"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn installed(app: &TestApp) -> String {
    app.seed_acme().await;
    let admin = app.admin_token("acme");
    app.install_slack("/api/v1/orgs/acme", &admin).await;
    admin
}

async fn saves_resolve_from_the_ready_directory(app: TestApp) {
    let admin = installed(&app).await;
    wait_for("the directory", || {
        directory(&app).is_some_and(|d| d.is_ready())
    })
    .await;
    // 450 generated channels and the 6 default ones, 100 a page.
    assert_eq!(directory(&app).unwrap().pages, 5);
    assert_eq!(list_calls(&app).await, 5);

    let before = calls(&app).await;
    let started = Instant::now();
    let (status, body) = save(&app, &admin, "#channel-00450 #channel-00001 #general").await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(calls(&app).await - before <= 1, "at most one Slack call");
    assert_eq!(list_calls(&app).await, 5, "no conversations.list on save");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(
        body["target_channels"],
        json!(["#channel-00450", "#channel-00001", "#general"])
    );
    assert_eq!(body["channel_warnings"], json!([]), "{body}");

    // Unknown, private and archived names are refused from the directory alone.
    let (status, body) = save(&app, &admin, "#no-such-channel #old-alerts").await;
    assert_eq!(status, 422, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("#no-such-channel") && text.contains("archived"),
        "{body}"
    );
    assert_eq!(list_calls(&app).await, 5);
}

directory_test!(
    a_save_resolves_names_from_the_directory_without_listing_the_workspace,
    |f: &mut fake_slack::FakeSlackConfig| {
        f.generated_channels = 450;
        f.list_page_size = 100;
    },
    saves_resolve_from_the_ready_directory
);

async fn names_wait_as_resolving_while_the_directory_is_built(app: TestApp) {
    let admin = installed(&app).await;
    // Tier 2-like: one page every 3 s; the builder waits out Retry-After between pages.
    wait_for("the first page", || {
        directory(&app).is_some_and(|d| d.pages >= 1)
    })
    .await;
    let d = directory(&app).unwrap();
    assert!(!d.is_ready(), "{d:?}");

    let (status, body) = save(&app, &admin, "#general #channel-00450 #no-such-channel").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        problems(&body),
        vec![
            ("#channel-00450".to_owned(), "resolving".to_owned()),
            ("#no-such-channel".to_owned(), "resolving".to_owned()),
        ],
        "{body}"
    );
    assert!(body["channel_warnings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("still being built"));

    // Once built: resolved, or reported as not found.
    wait_for("the directory", || {
        directory(&app).is_some_and(|d| d.is_ready())
    })
    .await;
    let view = org(&app, &admin).await;
    assert_eq!(
        problems(&view),
        vec![("#no-such-channel".to_owned(), "not_found".to_owned())],
        "{view}"
    );
    // #general and #channel-00450 carry IDs now (an unresolved name would warn).
    // The only 429s were the builder's own pacing against the tier (each waited out).
    let listed = app.fake_get("/calls?method=conversations.list").await;
    assert!(listed["calls"].as_array().unwrap().len() >= 3, "{listed}");
}

directory_test!(
    a_name_is_resolving_while_the_directory_is_built,
    |f: &mut fake_slack::FakeSlackConfig| {
        f.generated_channels = 450;
        f.list_page_size = 200;
        f.method_limits
            .insert("conversations.list".to_owned(), (20, 1));
    },
    names_wait_as_resolving_while_the_directory_is_built
);

async fn fake_sends(app: &TestApp, event: Value) {
    let mut event = event;
    event["url"] = json!(format!("{}/slack/events", app.address));
    let answer = app.fake_post("/events", event).await;
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["status"], 200, "{answer}");
}

async fn events_keep_the_directory_current(app: TestApp) {
    let admin = installed(&app).await;
    wait_for("the directory", || {
        directory(&app).is_some_and(|d| d.is_ready())
    })
    .await;

    // A name unknown to the directory is refused...
    let (status, _) = save(&app, &admin, "#brand-new").await;
    assert_eq!(status, 422);
    // ...until Slack says it was created.
    fake_sends(
        &app,
        json!({"type": "channel_created", "channel": "brand-new"}),
    )
    .await;
    let before = list_calls(&app).await;
    let (status, body) = save(&app, &admin, "#brand-new #perf").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["target_channels"], json!(["#brand-new", "#perf"]));
    assert_eq!(body["channel_warnings"], json!([]), "{body}");

    // A rename: the old name is gone from the directory, the new one resolves.
    fake_sends(
        &app,
        json!({"type": "channel_rename", "channel": "random", "name": "random-v2"}),
    )
    .await;
    let (status, body) = save(&app, &admin, "#random-v2").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["target_channels"], json!(["#random-v2"]));
    let (status, body) = save(&app, &admin, "#random").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        list_calls(&app).await,
        before,
        "resolved from the directory"
    );
}

directory_test!(
    channel_created_and_channel_rename_events_update_the_directory,
    |_: &mut fake_slack::FakeSlackConfig| {},
    events_keep_the_directory_current
);

async fn a_rebuild_marks_channels_no_longer_listed_deleted(app: TestApp) {
    let admin = installed(&app).await;
    wait_for("the directory", || {
        directory(&app).is_some_and(|d| d.is_ready())
    })
    .await;
    let view = org(&app, &admin).await;
    let dir = &view["integration"]["channel_directory"];
    assert_eq!(dir["status"], "ready", "{view}");
    assert_eq!(
        dir["channels"], 55,
        "50 generated + the 5 public default ones: {view}"
    );
    let (status, body) = save(&app, &admin, "#channel-00003").await;
    assert_eq!(status, 200, "{body}");

    // Deleted in Slack while no event reached us; the next daily pass finds it gone.
    let deleted = app
        .fake_post(
            "/channels",
            json!({"name": "channel-00003", "delete": true}),
        )
        .await;
    assert_eq!(deleted["ok"], true, "{deleted}");
    {
        use diesel::prelude::*;
        use xtc_slack::db::schema::channel_directories;
        let mut conn = app.db.connect();
        let two_days_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(2);
        diesel::update(channel_directories::table)
            .set(channel_directories::updated_at.eq(two_days_ago))
            .execute(&mut conn)
            .unwrap();
    }
    wait_for("the rebuild", || {
        directory(&app).is_some_and(|d| {
            d.is_ready()
                && d.cursor.is_none()
                && d.updated_at > chrono::Utc::now().naive_utc() - chrono::Duration::hours(1)
                && d.pages > 0
        })
    })
    .await;
    // Wait for the pass to finish (the directory stays ready while rebuilding).
    let start = Instant::now();
    loop {
        let view = org(&app, &admin).await;
        if view["integration"]["channel_directory"]["channels"] == 54 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{view}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = save(&app, &admin, "#channel-00003").await;
    assert_eq!(status, 422, "gone from the directory: {body}");

    // The web UI says how far the directory is.
    let b = crate::ui::Browser::new(&app);
    assert_eq!(b.sign_in(&admin).await.status, 303);
    let page = b.get("/orgs/acme/slack").await;
    assert!(
        page.body
            .contains("Channel directory: 54 channels of the workspace known"),
        "{}",
        page.body
    );
}

directory_test!(
    a_daily_rebuild_marks_channels_deleted_that_slack_no_longer_lists,
    |f: &mut fake_slack::FakeSlackConfig| {
        f.generated_channels = 50;
        f.list_page_size = 100;
    },
    a_rebuild_marks_channels_no_longer_listed_deleted
);

/// Two transactions record the same new channel at once on PostgreSQL (the directory's
/// build and a save resolving a name): the second waits for the first and updates the row,
/// instead of failing on the primary key (the bench logged `slack_channels_pkey`).
#[test]
fn two_transactions_record_one_new_channel_on_postgres() {
    use diesel::connection::SimpleConnection;
    use xtc_slack::db::models::slack_channel::SlackChannel;

    let Some(db) = TestDb::create(Backend::Postgres) else {
        eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set");
        return;
    };
    let mut a = db.connect();
    xtc_slack::db::run_migrations(&mut a).unwrap();
    a.batch_execute("BEGIN").unwrap();
    SlackChannel::save(&mut a, TEAM, "C1", "load-tests", false, false).unwrap();
    let second = std::thread::spawn({
        let mut b = db.connect();
        move || {
            b.batch_execute("BEGIN").unwrap();
            let saved = SlackChannel::save(&mut b, TEAM, "C1", "load-tests-2", false, true);
            b.batch_execute(if saved.is_ok() { "COMMIT" } else { "ROLLBACK" })
                .unwrap();
            saved
        }
    });
    // The second has updated nothing and is waiting on the first's new row.
    std::thread::sleep(Duration::from_millis(300));
    a.batch_execute("COMMIT").unwrap();
    second.join().unwrap().unwrap();
    let row = SlackChannel::find_by_id(&mut a, TEAM, "C1")
        .unwrap()
        .unwrap();
    assert_eq!((row.name.as_str(), row.is_archived), ("load-tests-2", true));
}

//! The weekly summary (issue 27): the `summary` setting, the preview of a busy and a quiet
//! week, "send now" into the target channels, and exactly one scheduled summary per period
//! with two instances and across a restart.

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Timelike, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::interactions::app_with_buttons;
use crate::pipeline::{args_for, messages, post_lt, post_mon, Instance};

const SAM: &str = "U0FAKEUSR02";
const ORG: &str = "/api/v1/orgs/acme/slack";
const PROJECT: &str = "/api/v1/orgs/acme/projects/webshop/slack";

fn weekly(day: &str, time: &str, zone: &str) -> Value {
    json!({"weekly": {"day": day, "time": time, "timezone": zone}})
}

fn ago(hours: i64) -> String {
    (Utc::now() - chrono::Duration::hours(hours)).to_rfc3339()
}

/// A run of `checkout-peak` from start to its final report with this P95, `hours` ago.
async fn run(app: &TestApp, lt: &str, hours: i64, p95: f64) {
    for (i, kind) in ["started", "running", "finished", "report_available"]
        .iter()
        .enumerate()
    {
        let mut body = json!({
            "event_id": format!("{lt}-{i}"), "org": "acme", "project": "webshop", "type": kind,
            "occurred_at": (Utc::now() - chrono::Duration::hours(hours) + chrono::Duration::minutes(i as i64)).to_rfc3339(),
            "load_test": {"name": format!("Checkout {lt}"), "url": format!("https://xtc.example/lt/{lt}"),
                          "definition": {"id": "checkout-peak", "name": "Checkout peak"}},
        });
        if *kind == "report_available" {
            body["report"] = json!({"url": format!("https://xtc.example/reports/{lt}"), "kind": "final",
                "summary": {"throughput": 1200.0, "errors": 10, "requests": 700000, "p95_ms": p95}});
        }
        let (status, res) = post_lt(app, lt, body).await;
        assert_eq!(status, 202, "{res}");
    }
}

async fn monitoring(app: &TestApp, id: &str, state: &str, hours: i64) {
    let body = json!({
        "event_id": id, "org": "acme", "project": "webshop", "occurred_at": ago(hours),
        "scenario": {"name": "Shop checkout", "url": "https://xtc.example/mon/77"},
        "notify_via": ["slack"], "state": state,
        "failed_sensors": if state == "ok" { json!([]) } else { json!([{"name": "Page load", "message": "3.8s"}]) },
    });
    let (status, res) = post_mon(app, "shop-checkout", body).await;
    assert_eq!(status, 202, "{res}");
}

/// The preview's lines as text (links as their text).
fn lines(preview: &Value) -> Vec<String> {
    preview["attachments"][0]["blocks"][0]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["elements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["text"].as_str().unwrap_or_default())
                .collect::<String>()
        })
        .collect()
}

async fn preview(app: &TestApp, path: &str, admin: &str) -> Value {
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{path}/summary/preview"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn summaries(got: &[Value]) -> Vec<Value> {
    got.iter()
        .filter(|m| {
            m["text"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Weekly summary")
        })
        .cloned()
        .collect()
}

crate::test_both_backends! {
    async fn the_summary_setting_is_validated_and_resolved_per_value(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let (_, org) = app.call(Method::GET, ORG, Some(&admin), None).await;
        assert_eq!(org["summary"], Value::Null, "off by default: {org}");
        let on = weekly("mon", "09:00", "Europe/Berlin");
        let (status, org) = app.call(Method::PUT, ORG, Some(&admin), Some(json!({"summary": on}))).await;
        assert_eq!((status, &org["summary"]), (200, &on), "{org}");
        for (bad, field) in [
            (weekly("monday", "09:00", "UTC"), "summary.weekly.day"),
            (weekly("mon", "9:00", "UTC"), "summary.weekly.time"),
            (weekly("mon", "24:00", "UTC"), "summary.weekly.time"),
            (weekly("mon", "09:00", "Europe/Atlantis"), "summary.weekly.timezone"),
            (json!({"daily": {"time": "09:00"}}), "summary"),
            (json!({"weekly": {"day": "mon", "time": "09:00"}}), "summary.weekly"),
        ] {
            let (status, body) = app.call(Method::PUT, ORG, Some(&admin), Some(json!({"summary": bad}))).await;
            assert_eq!(status, 422, "{bad}: {body}");
            assert_eq!(body["error"], "invalid_request", "{body}");
            assert!(body["field"].as_str().unwrap_or_default().starts_with(field), "{bad}: {body}");
        }
        // A project without its own inherits the organization's; its own wins.
        let (_, p) = app.call(Method::PUT, PROJECT, Some(&admin), Some(json!({"send_messages": true}))).await;
        assert_eq!(p["effective"]["summary"], json!({"value": on, "source": "organization"}), "{p}");
        let own = weekly("fri", "17:30", "America/New_York");
        let (status, p) = app.call(Method::PUT, PROJECT, Some(&admin), Some(json!({"send_messages": true, "summary": own}))).await;
        assert_eq!(status, 200, "{p}");
        assert_eq!(p["own"]["summary"], own);
        assert_eq!(p["effective"]["summary"], json!({"value": own, "source": "project"}), "{p}");
        // `null` turns the organization's off; the project keeps its own.
        let (_, org) = app.call(Method::PUT, ORG, Some(&admin), Some(json!({"summary": null}))).await;
        assert_eq!(org["summary"], Value::Null);
        let (_, p) = app.call(Method::GET, PROJECT, Some(&admin), None).await;
        assert_eq!(p["effective"]["summary"]["value"], own, "{p}");
        // A project admin may not read the organization's preview.
        let project_admin = app.project_admin_token("acme", "webshop");
        let (status, _) = app.call(Method::POST, &format!("{ORG}/summary/preview"), Some(&project_admin), None).await;
        assert_eq!(status, 403);
    }
}

crate::test_both_backends! {
    async fn a_busy_week_preview_shows_runs_regressions_and_incidents_and_sends_nothing(app: TestApp) {
        let Some((app, admin)) = app_with_buttons(app.backend).await else { return };
        let quiet = preview(&app, PROJECT, &admin).await;
        assert_eq!(lines(&quiet), vec!["A quiet week: no load tests, no incidents"], "{quiet:#}");

        run(&app, "lt-1", 50, 200.0).await;
        run(&app, "lt-2", 26, 260.0).await;
        monitoring(&app, "m1", "ok", 5).await;
        monitoring(&app, "m2", "failure", 4).await;
        // Acknowledged from Slack, then recovered an hour after it failed.
        let got = crate::interactions::wait_for(&app, |g| g.iter().any(|m| m["text"].as_str().unwrap_or_default().contains("Shop checkout"))).await;
        let card = got.iter().find(|m| m["thread_ts"].is_null() && m["text"].as_str().unwrap_or_default().contains("Shop checkout")).unwrap();
        let res = app.fake_post("/interactions", json!({"channel": card["channel"], "ts": card["ts"], "action_id": "incident.ack", "user": SAM})).await;
        assert_eq!(res["status"], 200, "{res}");
        monitoring(&app, "m3", "ok", 3).await;
        // The recovery is reported once the scenario has stayed ok for the hold time.
        monitoring(&app, "m4", "ok", 2).await;
        app.settled_deliveries(&admin).await;
        let sent_before = app.fake_get("/calls?method=chat.postMessage").await["calls"].as_array().unwrap().len();

        let p = preview(&app, PROJECT, &admin).await;
        assert_eq!(p["text"].as_str().unwrap().split(" · ").take(2).collect::<Vec<_>>(), ["Weekly summary", "Acme Corp / Webshop"], "{p:#}");
        let from = DateTime::parse_from_rfc3339(p["period"]["from"].as_str().unwrap()).unwrap();
        let to = DateTime::parse_from_rfc3339(p["period"]["to"].as_str().unwrap()).unwrap();
        assert_eq!((to - from).num_days(), 7);
        let l = lines(&p);
        assert!(l.len() <= 10, "{l:#?}");
        assert!(l.iter().any(|x| x == "Load tests: 2 runs · 2 passed"), "{l:#?}");
        assert!(l.iter().any(|x| x.starts_with("Regressions: 1 against baselines · worst: Checkout lt-2 P95 +30 %")), "{l:#?}");
        assert!(l.iter().any(|x| x.contains("P95 trend: Checkout peak 200 → 260 ms (+30 %)")), "{l:#?}");
        let sc = l.iter().find(|x| x.starts_with("Monitoring: Shop checkout:")).expect("the scenario's line");
        // Ok 1 h, failing 1 h, ok 3 h: 80 % of the observed 5 hours.
        assert!(sc.contains("80% available · 1 incident · longest outage 1h 0m"), "{sc}");
        assert!(sc.contains(" · MTTA ") && sc.contains(" · MTTR "), "{sc}");
        assert!(p.to_string().contains("https://xtc.example/reports/lt-2"), "the worst regression is linked");
        assert!(p.to_string().contains("https://xtc.example/mon/77"), "the scenario is linked");
        assert_eq!(p["attachments"][0]["color"], "#e01e5a", "a regression is red");
        // Nothing was sent.
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        let sent_after = app.fake_get("/calls?method=chat.postMessage").await["calls"].as_array().unwrap().len();
        assert_eq!(sent_before, sent_after);
        // A maintenance window of the project during the week is named.
        let now = chrono::Utc::now();
        let window = json!({"starts_at": (now - chrono::Duration::hours(1)).to_rfc3339(),
                            "ends_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
                            "scenarios": ["search"], "reason": "DB upgrade"});
        let (status, res) = app.call(Method::POST, &format!("{PROJECT}/maintenance-windows"), Some(&admin), Some(window)).await;
        assert_eq!(status, 201, "{res}");
        let l = lines(&preview(&app, PROJECT, &admin).await);
        assert!(l.iter().any(|x| x.starts_with("Mutes:") && x.contains("maintenance windows: DB upgrade")), "{l:#?}");
        // The organization's summary covers the project too.
        let org = preview(&app, ORG, &admin).await;
        assert!(org["text"].as_str().unwrap().starts_with("Weekly summary · Acme Corp · "), "{org:#}");
        assert!(lines(&org).iter().any(|x| x == "Load tests: 2 runs · 2 passed"));
        // Read from the week's events instead of the tallies (as for a week that began
        // before a database was upgraded to keep them): the same message.
        let tallied = (lines(&preview(&app, PROJECT, &admin).await), lines(&org));
        tallies_since_now(&app);
        let from_events = (lines(&preview(&app, PROJECT, &admin).await), lines(&preview(&app, ORG, &admin).await));
        assert_eq!(from_events, tallied);
    }
}

/// Makes the summary tallies start now, as a migration of a database with history does.
fn tallies_since_now(app: &TestApp) {
    use diesel::prelude::*;
    use xtc_slack::db::schema::summary_tallies::dsl::*;
    let mut conn = app.db.connect();
    diesel::insert_into(summary_tallies)
        .values((id.eq(1), since.eq(Utc::now().naive_utc())))
        .execute(&mut conn)
        .unwrap();
}

crate::test_both_backends! {
    async fn a_scenario_failing_since_before_the_week_is_down_from_its_start(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({})).await;
        // Failing 8 days ago, ok again 2 days ago: of the last 7 days, 5 were down (less the
        // moments between posting and the preview, so 4d 23h and some minutes).
        monitoring(&app, "m1", "failure", 8 * 24).await;
        monitoring(&app, "m2", "ok", 2 * 24).await;
        monitoring(&app, "m3", "ok", 24).await;
        let l = lines(&preview(&app, PROJECT, &admin).await);
        let sc = l.iter().find(|x| x.starts_with("Monitoring: Shop checkout:")).expect("the scenario's line");
        assert!(sc.starts_with("Monitoring: Shop checkout: 28.57% available · 0 incidents · longest outage 4d 23h"), "{l:#?}");
        assert!(sc.contains(" · MTTR 6d"), "the recovery's down time: {sc}");
    }
}

crate::test_both_backends! {
    async fn send_now_posts_the_summary_into_the_target_channels_once(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({})).await;
        run(&app, "lt-1", 30, 200.0).await;
        let before = messages(&app, "load-tests", 0).await.len();
        let (status, body) = app.call(Method::POST, &format!("{PROJECT}/summary/send"), Some(&admin), None).await;
        assert_eq!(status, 202, "{body}");
        for channel in ["load-tests", "perf"] {
            let got = in_channel(&app, channel).await;
            let s = summaries(&got);
            assert_eq!(s.len(), 1, "{channel}: {got:#?}");
            assert!(s[0]["text"].as_str().unwrap().starts_with("Weekly summary · Acme Corp / Webshop · "));
            assert!(s[0]["thread_ts"].is_null(), "a message of its own");
        }
        assert_eq!(summaries(&messages(&app, "load-tests", 0).await).len(), 1);
        assert!(messages(&app, "load-tests", 0).await.len() > before);
        let log = app.settled_deliveries(&admin).await;
        let sent: Vec<_> = log.iter().filter(|d| d["event_type"] == "weekly_summary").collect();
        assert_eq!(sent.len(), 2, "{log:#?}");
        assert!(sent.iter().all(|d| d["status"] == "sent"), "{sent:#?}");
        // Nowhere to send: refused, nothing queued.
        app.put_project("acme", "empty", "Empty").await;
        let (_, _) = app.call(Method::PUT, ORG, Some(&admin), Some(json!({"target_channels": ""}))).await;
        let (status, body) = app.call(Method::POST, &format!("{ORG}/summary/send"), Some(&admin), None).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"], "incomplete_config");
    }
}

/// `channel`'s messages once a summary is among them (or 30 s passed).
async fn in_channel(app: &TestApp, channel: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = messages(app, channel, 0).await;
        if !summaries(&got).is_empty() || Instant::now() > deadline {
            return got;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A scheduled time two hours from now (UTC, whole minutes), the setting for it, and the
/// clock offset that puts an instance `past` seconds after it.
fn schedule_ahead() -> (DateTime<Utc>, Value) {
    let t = Utc::now() + chrono::Duration::hours(2);
    let t = t.with_second(0).unwrap().with_nanosecond(0).unwrap();
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [t.weekday().num_days_from_monday() as usize];
    (t, weekly(day, &t.format("%H:%M").to_string(), "UTC"))
}

fn offset_to(t: DateTime<Utc>, past: i64) -> i64 {
    (t - Utc::now()).num_seconds() + past
}

fn scheduler(app: &TestApp, offset: i64) -> xtc_slack::settings::ServeArgs {
    args_for(app, |a| {
        a.summary_check_secs = 1;
        a.summary_clock_offset_secs = offset;
    })
}

/// Waits until `#load-tests` holds `n` summaries (or `secs` pass), then a little longer
/// for any that should not be there.
async fn summaries_after(app: &TestApp, n: usize, secs: u64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while summaries(&messages(app, "load-tests", 0).await).len() < n && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    summaries(&messages(app, "load-tests", 0).await)
}

fn summary_rows(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    let mut conn = app.db.connect();
    xtc_slack::db::schema::summaries::table
        .count()
        .get_result(&mut conn)
        .unwrap()
}

crate::test_both_backends! {
    async fn a_restart_across_the_scheduled_time_posts_the_summary_once(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let (t, setting) = schedule_ahead();
        app.configure_acme(json!({"target_channels": "#load-tests", "summary": setting})).await;
        // Before the scheduled time: nothing (the week before came before the setting).
        let before = Instance::start(scheduler(&app, offset_to(t, -60)));
        assert!(summaries_after(&app, 1, 3).await.is_empty());
        before.stop().await;
        // Down across the scheduled time, back after it: posted once, right after start.
        let after = Instance::start(scheduler(&app, offset_to(t, 600)));
        let got = summaries_after(&app, 1, 20).await;
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(got[0]["text"].as_str().unwrap().starts_with("Weekly summary · Acme Corp · "));
        after.stop().await;
        // Another restart in the same week: nothing more.
        let again = Instance::start(scheduler(&app, offset_to(t, 900)));
        assert_eq!(summaries_after(&app, 2, 3).await.len(), 1);
        again.stop().await;
        assert_eq!(summary_rows(&app), 1);
    }
}

#[actix_web::test]
async fn two_instances_on_one_postgres_database_post_a_due_summary_once() {
    let Some(app) = try_spawn_fast_app(Backend::Postgres, |_| {}).await else {
        eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set");
        return;
    };
    let (t, setting) = schedule_ahead();
    app.configure_acme(json!({"target_channels": "#load-tests", "summary": setting}))
        .await;
    // Both see the scheduled time pass at the same moment and check every second.
    let offset = offset_to(t, 3);
    let (a, b) = (
        Instance::start(scheduler(&app, offset)),
        Instance::start(scheduler(&app, offset)),
    );
    let got = summaries_after(&app, 1, 20).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    // Several checks later, still one.
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(summaries(&messages(&app, "load-tests", 0).await).len(), 1);
    assert_eq!(summary_rows(&app), 1);
    a.stop().await;
    b.stop().await;
}

crate::test_both_backends! {
    async fn the_settings_form_saves_the_schedule_and_refuses_a_bad_time_zone(app: TestApp) {
        use crate::ui::Browser;
        app.seed_acme().await;
        let b = Browser::new(&app);
        assert_eq!(b.sign_in(&app.admin_token("acme")).await.status, 303);
        let page = "/orgs/acme/slack";
        let form = |zone: &'static str| {
            vec![("send_messages", "disabled"), ("threads", "disabled"), ("compact_messages", "disabled"),
                 ("target_channels", ""), ("summary_day", "fri"), ("summary_time", "17:30"), ("summary_timezone", zone)]
        };
        let res = b.submit(page, page, &form("Europe/Atlantis")).await;
        assert_eq!(res.status, 400, "{}", res.body);
        assert!(res.has("Weekly summary time zone must be an IANA time zone"), "{}", res.body);
        let admin = app.admin_token("acme");
        let (_, org) = app.call(Method::GET, ORG, Some(&admin), None).await;
        assert_eq!(org["summary"], Value::Null, "nothing saved: {org}");

        let res = b.submit(page, page, &form("Europe/Berlin")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let (_, org) = app.call(Method::GET, ORG, Some(&admin), None).await;
        assert_eq!(org["summary"], weekly("fri", "17:30", "Europe/Berlin"));
        let shown = b.get(page).await;
        assert!(shown.selected("summary_day", "fri"), "the saved day is shown");
        assert!(shown.has("id=\"summary-preview\""), "the preview");
        // "Off" turns it off again.
        let mut off = form("Europe/Berlin");
        off[4] = ("summary_day", "");
        assert_eq!(b.submit(page, page, &off).await.status, 303);
        let (_, org) = app.call(Method::GET, ORG, Some(&admin), None).await;
        assert_eq!(org["summary"], Value::Null);
    }
}

//! The report card (issue 25): figures against a baseline run, regressions routed to their
//! rule's channel and flagged, baselines pinned through the API and from Slack, and the
//! chart uploaded into the run's thread.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::pipeline::{messages, post_lt};

const SIGNING_SECRET: &str = "fake-signing-secret";
const SAM: &str = "U0FAKEUSR02";
const BASELINES: &str = "/api/v1/orgs/acme/projects/webshop/slack/baselines";

/// The app with threads on into `#load-tests`, regressions also to `#perf` with `@here`,
/// the fake's buttons wired to the app.
async fn app_for_reports(backend: Backend) -> Option<(TestApp, String)> {
    captured_logs();
    let app = try_spawn_fast_app(backend, |a| {
        a.slack_signing_secret = Some(SIGNING_SECRET.into());
        // Four runs edit their cards many times; at Slack's 50 a minute the pin's edit
        // could wait behind them longer than a test waits on a loaded machine.
        a.card_edits_per_min = 600;
    })
    .await?;
    let admin = app
        .configure_acme(json!({
            "threads": true, "target_channels": "#load-tests",
            "rules": [{"channel": "#perf", "events": ["regressions"], "mention": "@here"}],
        }))
        .await;
    let url = app.url("/slack/interactions");
    let set = app.fake_post("/interactivity", json!({ "url": url })).await;
    assert_eq!(set["ok"], true, "{set}");
    Some((app, admin))
}

/// A run of the definition `checkout-peak` from start to its final report with `summary`
/// (and `series`, when given), at `day` of November.
async fn run(app: &TestApp, lt: &str, day: u32, summary: Value, series: Option<Value>) {
    for (i, kind) in ["started", "running", "finished", "report_available"]
        .iter()
        .enumerate()
    {
        let mut body = json!({
            "event_id": format!("{lt}-{i}"), "org": "acme", "project": "webshop", "type": kind,
            "occurred_at": format!("2026-11-{day:02}T10:0{i}:00Z"),
            "load_test": {"name": "Checkout peak 2000 users", "url": format!("https://xtc.example/lt/{lt}"),
                          "started_by": "jane", "definition": {"id": "checkout-peak", "name": "Checkout peak"}},
        });
        if *kind == "report_available" {
            body["report"] = json!({"url": format!("https://xtc.example/reports/{lt}"), "kind": "final", "summary": summary});
            if let Some(s) = &series {
                body["report"]["series"] = s.clone();
            }
        }
        let (status, res) = post_lt(app, lt, body).await;
        assert_eq!(status, 202, "{res}");
    }
}

fn figures(p95: f64, errors: f64) -> Value {
    json!({"throughput": 1234.5, "errors": errors, "requests": 740000, "p95_ms": p95, "users": 2000})
}

fn shown(m: &Value) -> String {
    format!("{} {} {}", m["text"], m["blocks"], m["attachments"])
}

/// The run card of `lt` as the fake shows it now (edits applied), once `check` holds.
async fn card_of(app: &TestApp, lt: &str, check: impl Fn(&str) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = messages(app, "load-tests", 0).await;
        let card = got
            .iter()
            .find(|m| m["thread_ts"].is_null() && shown(m).contains(&format!("lt/{lt}")))
            .cloned();
        if let Some(c) = &card {
            if check(&shown(c)) || Instant::now() > deadline {
                return c.clone();
            }
        } else if Instant::now() > deadline {
            panic!("no card of {lt}: {got:#?}");
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

crate::test_both_backends! {
    async fn a_regression_is_flagged_on_the_card_and_routed_to_its_rule_channel_with_a_ping(app: TestApp) {
        let Some((app, admin)) = app_for_reports(app.backend).await else { return };
        run(&app, "lt-1", 20, figures(723.0, 400.0), None).await;
        let first = card_of(&app, "lt-1", |s| s.contains("First run")).await;
        assert!(shown(&first).contains("First run of this definition"), "{first:#}");

        run(&app, "lt-2", 21, figures(890.0, 1200.0), None).await;
        let second = card_of(&app, "lt-2", |s| s.contains("Regression")).await;
        let text = shown(&second);
        assert!(text.contains("Regression: errors ×3, P95 +23 %"), "{text}");
        assert!(text.contains("890 ms   ▲ +23 % vs 723 ms"), "{text}");
        assert!(text.contains("lt-1") && text.contains("the previous run"), "{text}");
        assert_eq!(second["attachments"][0]["color"], "#e01e5a", "red: {second:#}");

        // Only the regressed run's report reaches #perf, with its one ping.
        let perf = messages(&app, "perf", 1).await;
        assert_eq!(perf.len(), 1, "{perf:#?}");
        assert_eq!(perf[0]["mentions"], json!(["@here"]), "{:#}", perf[0]);
        assert!(shown(&perf[0]).contains("Regression"), "{:#}", perf[0]);

        // A run back to normal: compared with the previous (regressed) run.
        run(&app, "lt-3", 22, figures(700.0, 390.0), None).await;
        let third = card_of(&app, "lt-3", |s| s.contains("No regression")).await;
        assert!(shown(&third).contains("No regression against the baseline"), "{third:#}");
        let log = app.settled_deliveries(&admin).await;
        assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
        assert_eq!(messages(&app, "perf", 0).await.len(), 1);
    }
}

crate::test_both_backends! {
    async fn admins_pin_and_unpin_baselines_and_bad_pins_are_refused(app: TestApp) {
        let Some((app, admin)) = app_for_reports(app.backend).await else { return };
        run(&app, "lt-1", 20, figures(723.0, 400.0), None).await;
        run(&app, "lt-2", 21, figures(900.0, 400.0), None).await;
        let (status, body) = app.call(Method::GET, BASELINES, Some(&admin), None).await;
        assert_eq!((status, body), (200, json!({"baselines": []})));

        let put = |def: &str, lt: &str| {
            let (app, admin) = (&app, admin.clone());
            let path = format!("{BASELINES}/{def}");
            let body = json!({"load_test_id": lt});
            async move { app.call(Method::PUT, &path, Some(&admin), Some(body)).await }
        };
        let (status, body) = put("checkout-peak", "lt-1").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["load_test_id"], "lt-1");
        assert_eq!(body["definition"], "checkout-peak");
        assert_eq!(body["summary"]["p95_ms"], 723.0);
        assert!(body["set_by"].as_str().is_some() && body["set_at"].as_str().is_some(), "{body}");

        // Another definition, an unknown run, a run without a final report: 422, nothing pinned.
        let (status, body) = put("search-soak", "lt-1").await;
        assert_eq!((status, body["field"].clone()), (422, json!("load_test_id")), "{body}");
        assert!(body["message"].as_str().unwrap().contains("checkout-peak"), "{body}");
        assert_eq!(put("checkout-peak", "lt-404").await.0, 422);
        let (status, _) = post_lt(&app, "lt-9", json!({
            "event_id": "lt-9-0", "org": "acme", "project": "webshop", "type": "started",
            "load_test": {"name": "Checkout peak 2000 users", "definition": {"id": "checkout-peak"}},
        })).await;
        assert_eq!(status, 202);
        let (status, body) = put("checkout-peak", "lt-9").await;
        assert_eq!(status, 422, "{body}");
        assert!(body["message"].as_str().unwrap().contains("final report"), "{body}");
        let (_, body) = put("checkout-peak", "lt-1").await;
        assert_eq!(body["load_test_id"], "lt-1");

        // The next run compares with the pinned run, not the previous one.
        run(&app, "lt-3", 22, figures(800.0, 400.0), None).await;
        let third = card_of(&app, "lt-3", |s| s.contains("Baseline")).await;
        let text = shown(&third);
        assert!(text.contains("vs 723 ms") && text.contains("pinned"), "{text}");
        let pinned = card_of(&app, "lt-1", |s| s.contains("The baseline of this definition")).await;
        assert!(shown(&pinned).contains("The baseline of this definition"), "{pinned:#}");

        // Unpinned: the card says so no more; a second DELETE finds nothing.
        let path = format!("{BASELINES}/checkout-peak");
        assert_eq!(app.call(Method::DELETE, &path, Some(&admin), None).await.0, 204);
        let unpinned = card_of(&app, "lt-1", |s| !s.contains("The baseline of this definition")).await;
        assert!(!shown(&unpinned).contains("The baseline of this definition"), "{unpinned:#}");
        assert_eq!(app.call(Method::DELETE, &path, Some(&admin), None).await.0, 404);
        // A project admin of another project may not look.
        let other = app.project_admin_token("acme", "other");
        assert_eq!(app.call(Method::GET, BASELINES, Some(&other), None).await.0, 403);
    }
}

crate::test_both_backends! {
    async fn set_as_baseline_in_slack_pins_the_run_replies_and_moves_the_mark(app: TestApp) {
        let Some((app, admin)) = app_for_reports(app.backend).await else { return };
        run(&app, "lt-1", 20, figures(723.0, 400.0), None).await;
        run(&app, "lt-2", 21, figures(700.0, 400.0), None).await;
        let first = card_of(&app, "lt-1", |s| s.contains("baseline.set")).await;
        let clicked = app.fake_post("/interactions", json!({
            "channel": first["channel"], "ts": first["ts"], "action_id": "baseline.set", "user": SAM,
        })).await;
        assert_eq!(clicked["status"], 200, "{clicked}");
        let (_, body) = app.call(Method::GET, BASELINES, Some(&admin), None).await;
        assert_eq!(body["baselines"][0]["load_test_id"], "lt-1", "{body}");
        assert_eq!(body["baselines"][0]["set_by"], "sam", "{body}");
        let card = card_of(&app, "lt-1", |s| s.contains("The baseline of this definition")).await;
        assert!(!shown(&card).contains("baseline.set"), "no button on the baseline: {card:#}");

        // The reply in lt-1's thread, one line.
        let deadline = Instant::now() + Duration::from_secs(30);
        let reply = loop {
            let got = messages(&app, "load-tests", 0).await;
            let r = got.iter().find(|m| m["thread_ts"] == first["ts"] && shown(m).contains("Baseline set")).cloned();
            if r.is_some() || Instant::now() > deadline { break r; }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        let reply = reply.expect("a reply in the thread");
        assert!(shown(&reply).contains("by sam"), "{reply:#}");

        // Pinning lt-2 from its card moves the mark: lt-1's card no longer says it.
        let second = card_of(&app, "lt-2", |s| s.contains("baseline.set")).await;
        app.fake_post("/interactions", json!({
            "channel": second["channel"], "ts": second["ts"], "action_id": "baseline.set", "user": SAM,
        })).await;
        card_of(&app, "lt-2", |s| s.contains("The baseline of this definition")).await;
        let old = card_of(&app, "lt-1", |s| !s.contains("The baseline of this definition")).await;
        assert!(!shown(&old).contains("The baseline of this definition"), "{old:#}");
        let (_, body) = app.call(Method::GET, BASELINES, Some(&admin), None).await;
        assert_eq!(body["baselines"][0]["load_test_id"], "lt-2", "{body}");

        // A forged value (another run than the card's) is refused.
        let old = card_of(&app, "lt-1", |s| s.contains("baseline.set")).await;
        let forged = app.fake_post("/interactions", json!({
            "channel": old["channel"], "ts": old["ts"], "action_id": "baseline.set",
            "user": SAM, "value": "lt-2",
        })).await;
        assert_eq!(forged["status"], 403, "{forged}");
    }
}

crate::test_both_backends! {
    async fn a_reports_series_becomes_a_chart_in_its_thread(app: TestApp) {
        let Some((app, admin)) = app_for_reports(app.backend).await else { return };
        // Sharing a file needs membership (messages do not).
        let joined = app.fake_post("/channels", json!({"name": "load-tests", "is_member": true})).await;
        assert_eq!(joined["ok"], true, "{joined}");
        let series = json!({"interval_s": 10, "throughput": (0..120).map(|i| 1000 + i).collect::<Vec<_>>(),
                            "p95_ms": (0..120).map(|i| 700 + i % 30).collect::<Vec<_>>()});
        run(&app, "lt-1", 20, figures(723.0, 400.0), Some(series.clone())).await;
        let card = card_of(&app, "lt-1", |_| true).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let files = loop {
            let files = app.fake_get("/files").await["files"].as_array().cloned().unwrap_or_default();
            if !files.is_empty() || Instant::now() > deadline { break files; }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(files.len(), 1, "{files:#?}");
        assert_eq!(files[0]["thread_ts"], card["ts"], "in the run's thread: {files:#?}");
        assert!(files[0]["title"].as_str().unwrap().contains("Checkout peak 2000 users"), "{files:#?}");
        let log = app.settled_deliveries(&admin).await;
        let chart: Vec<&Value> = log.iter().filter(|d| d["event_type"] == "report_chart").collect();
        assert_eq!(chart.len(), 1, "{log:#?}");
        assert_eq!(chart[0]["status"], "sent", "{log:#?}");

        // Not a member of #perf: the regression's report goes there, its chart cannot.
        run(&app, "lt-2", 21, figures(990.0, 400.0), Some(series)).await;
        let log = app.settled_deliveries(&admin).await;
        let perf_chart = log.iter().find(|d| d["event_type"] == "report_chart" && d["channel"] == "#perf")
            .expect("a chart row for #perf");
        assert_eq!(perf_chart["status"], "failed", "{perf_chart:#}");
        assert!(perf_chart["error"].as_str().unwrap().contains("not a member"), "{perf_chart:#}");
        assert_eq!(perf_chart["attempts"], 1, "not retried: {perf_chart:#}");
        assert_eq!(messages(&app, "perf", 1).await.len(), 1, "the report itself went out");
    }
}

crate::test_both_backends! {
    async fn an_installation_without_files_write_gets_no_chart_and_a_warning(app: TestApp) {
        let Some((app, admin)) = app_for_reports(app.backend).await else { return };
        app.fake_post("/channels", json!({"name": "load-tests", "is_member": true})).await;
        crate::report_settings::install_with_old_scopes(&app, &admin).await;
        let (_, settings) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&admin), None).await;
        assert_eq!(settings["warnings"][0]["scope"], "files:write", "{settings}");
        let series = json!({"interval_s": 10, "throughput": [1000, 1100], "p95_ms": [700, 720]});
        run(&app, "lt-1", 20, figures(723.0, 400.0), Some(series)).await;
        let log = app.settled_deliveries(&admin).await;
        let chart = log.iter().find(|d| d["event_type"] == "report_chart").expect("a chart row");
        assert_eq!(chart["status"], "skipped", "{chart:#}");
        assert!(chart["error"].as_str().unwrap().contains("files:write"), "{chart:#}");
        let report = log.iter().find(|d| d["event_type"] == "report_available").unwrap();
        assert_eq!(report["status"], "sent", "the report itself: {log:#?}");
        let files = app.fake_get("/files").await;
        assert_eq!(files["files"], json!([]), "{files}");
    }
}

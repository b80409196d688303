//! What the orchestrator and the scheduler may send: event ids scoped to their subject,
//! user text of any length under one rule, sane times and figures.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::pipeline::{lt_body, messages, post_lt, post_mon};

crate::test_both_backends! {
    async fn an_event_id_is_unique_per_subject_not_globally(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        app.put_org("globex", "Globex").await;
        app.put_project("globex", "shop", "Shop").await;

        assert_eq!(post_lt(&app, "lt-1", lt_body("e-1", "started")).await.0, 202);
        // The same id on another load test, a scenario, and a load test of another org is
        // another event, not a duplicate of the first.
        let (status, body) = post_lt(&app, "lt-2", lt_body("e-1", "started")).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body, json!({"event_id": "e-1", "state": "started"}));
        let failing = json!({
            "event_id": "e-1", "org": "acme", "project": "webshop",
            "scenario": {"name": "Shop checkout"}, "notify_via": ["slack"], "state": "failure",
        });
        assert_eq!(post_mon(&app, "lt-1", failing.clone()).await.0, 202);
        let mut other_org = lt_body("e-1", "started");
        other_org["org"] = json!("globex");
        other_org["project"] = json!("shop");
        assert_eq!(post_lt(&app, "lt-3", other_org).await.0, 202);

        // A retry of the same event, even spaced or ordered differently, is a duplicate.
        let (status, body) = post_lt(&app, "lt-1", lt_body("e-1", "started")).await;
        assert_eq!((status, body["duplicate"].as_bool()), (200, Some(true)), "{body}");
        let (status, body) = post_mon(&app, "lt-1", failing).await;
        assert_eq!((status, body["duplicate"].as_bool()), (200, Some(true)), "{body}");

        // The same id for the same subject with another body is refused.
        let mut changed = lt_body("e-1", "started");
        changed["load_test"]["name"] = json!("Another test");
        let (status, body) = post_lt(&app, "lt-1", changed).await;
        assert_eq!((status, body["error"].as_str()), (409, Some("event_id_reused")), "{body}");

        // acme's three events each reached Slack, and the log shows the sender's id.
        assert_eq!(messages(&app, "load-tests", 3).await.len(), 3);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.len(), 3, "{log:#?}");
        assert!(log.iter().all(|d| d["event_id"] == "e-1" && d["status"] == "sent"), "{log:#?}");
    }
}

crate::test_both_backends! {
    async fn long_user_text_is_accepted_whole_and_cut_only_for_display(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        let long_name = format!("Checkout {}", "x".repeat(600));
        let trace = (0..400).map(|i| format!("\tat frame {i} (src/main.rs:{i})\n")).collect::<String>();
        assert!(trace.len() > 10_000);
        let mut start = lt_body("e-1", "started");
        start["load_test"]["name"] = json!(long_name);
        start["load_test"]["started_by"] = json!("j".repeat(300));
        assert_eq!(post_lt(&app, "lt-long", start).await.0, 202);
        let mut error = lt_body("e-2", "error");
        error.as_object_mut().unwrap().remove("load_test");
        error["error"] = json!({"step": "run", "message": format!("panic: boom\n{trace}")});
        let (status, body) = post_lt(&app, "lt-long", error).await;
        assert_eq!(status, 202, "{body}");
        // The error is reported (within Slack's limits), not lost.
        let got = messages(&app, "load-tests", 2).await;
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(got[1].to_string().contains("panic: boom"), "{}", got[1]);
    }
}

crate::test_both_backends! {
    async fn control_characters_bad_times_and_bad_figures_are_refused_naming_the_field(app: TestApp) {
        app.seed_acme().await;
        let cases = [
            ("/load_test/name", json!("Check\u{0}out"), "load_test.name"),
            ("/load_test/name", json!("bell\u{7}"), "load_test.name"),
            ("/load_test/started_by", json!("\u{1b}[31mjane"), "load_test.started_by"),
            ("/load_test/started_by", json!("jane\u{202E}gnp.exe"), "load_test.started_by"),
            ("/occurred_at", json!("0001-01-01T00:00:00Z"), "occurred_at"),
            ("/occurred_at", json!("9999-12-31T00:00:00Z"), "occurred_at"),
        ];
        for (i, (pointer, value, field)) in cases.into_iter().enumerate() {
            let mut body = lt_body(&format!("bad-{i}"), "started");
            *body.pointer_mut(pointer).unwrap() = value;
            let (status, answer) = post_lt(&app, &format!("lt-{i}"), body).await;
            assert_eq!((status, answer["field"].as_str()), (422, Some(field)), "{pointer}: {answer}");
        }
        assert_eq!(post_lt(&app, "lt-r", lt_body("r-0", "running")).await.0, 202);
        for (figure, value) in [("throughput", json!(-1.0)), ("errors", json!(-3)), ("p95_ms", json!(1e300))] {
            let mut body = lt_body(&format!("r-{figure}"), "intermediate_report");
            body["report"]["summary"][figure] = value;
            let (status, answer) = post_lt(&app, "lt-r", body).await;
            let field = format!("report.summary.{figure}");
            assert_eq!((status, answer["field"].as_str()), (422, Some(field.as_str())), "{answer}");
        }
        let mut error = lt_body("r-e", "error");
        error["error"]["message"] = json!("line one\nline two\u{0}");
        let (status, answer) = post_lt(&app, "lt-r", error).await;
        assert_eq!((status, answer["field"].as_str()), (422, Some("error.message")), "{answer}");
        let token = app.service_token.clone();
        let (status, answer) = app
            .call(Method::POST, "/api/v1/monitoring/scenarios/sc-1/events", Some(&token), Some(json!({
                "event_id": "m-1", "org": "acme", "project": "webshop", "state": "failure",
                "scenario": {"name": "Shop\u{7}"},
            })))
            .await;
        assert_eq!((status, answer["field"].as_str()), (422, Some("scenario.name")), "{answer}");
    }
}

crate::test_both_backends! {
    async fn long_urls_and_many_failed_sensors_are_accepted_and_reach_slack_fitted(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        // 1,200 non-ASCII characters: 2,400 bytes, over 7,200 characters once percent-encoded.
        let too_long = format!("https://xtc.example/lt/{}", "ä".repeat(1_200));
        let mut start = lt_body("e-1", "started");
        start["load_test"]["url"] = json!(too_long);
        let (status, body) = post_lt(&app, "lt-long-url", start).await;
        assert_eq!(status, 202, "{body}");
        // Over 2,000 bytes but within Slack's 3,000 for a button: linked as usual.
        let fits = format!("https://xtc.example/lt/{}", "a".repeat(2_500));
        let mut start = lt_body("e-2", "started");
        start["load_test"]["url"] = json!(fits);
        let (status, body) = post_lt(&app, "lt-fits", start).await;
        assert_eq!(status, 202, "{body}");
        // Any number of failed sensors: the first ones and how many more.
        let sensors: Vec<_> = (0..150).map(|i| json!({"name": format!("sensor {i}"), "message": "timeout"})).collect();
        let failing = json!({
            "event_id": "m-1", "org": "acme", "project": "webshop",
            "scenario": {"name": "Shop checkout"}, "notify_via": ["slack"], "state": "failure",
            "execution": {"id": "x1", "url": "https://xtc.example/ex/1"},
            "failed_sensors": sensors,
        });
        let (status, body) = post_mon(&app, "shop-checkout", failing).await;
        assert_eq!(status, 202, "{body}");

        let got = messages(&app, "load-tests", 3).await;
        assert_eq!(got.len(), 3, "{got:#?}");
        let all = got.iter().map(Value::to_string).collect::<Vec<_>>();
        let long_one = all.iter().find(|m| m.contains("lt-long-url")).expect("the long link's message");
        assert!(long_one.contains("Open in XTC: the link is too long for Slack"), "{long_one:.2000}");
        let fitting = all.iter().find(|m| m.contains("lt-fits")).expect("the fitting link's message");
        assert!(fitting.contains(&fits) && fitting.contains("\"Open in XTC\""), "{fitting:.500}");
        let incident = all.iter().find(|m| m.contains("Shop checkout")).expect("the incident");
        assert!(incident.contains("and 140 more"), "{incident}");
        for m in &got {
            assert_eq!(xtc_slack::slack::limits::violations(m), Vec::<String>::new(), "{m}");
        }
        let log = app.settled_deliveries(&admin).await;
        assert!(log.iter().all(|d| d["status"] == "sent"), "{log:#?}");
    }
}

//! The fake Slack's page in the browser: what the messages look like (the README's picture
//! `docs/fake-slack-channel.png`) and a click on an incident card's button.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::json;

use super::Browser;
use crate::helpers::{try_spawn_fast_app, Backend};
use crate::pipeline::{lt_body, messages, post_lt, post_mon};

/// Whether a message (text, blocks, attachments) mentions `what`.
fn shows(m: &serde_json::Value, what: &str) -> bool {
    format!("{} {} {}", m["text"], m["blocks"], m["attachments"]).contains(what)
}

/// Throughput and P95 of a 14-minute run, one point every 10 s: a ramp, a plateau and a
/// latency spike, like a real run's.
fn demo_series() -> serde_json::Value {
    let n = 84;
    let throughput: Vec<f64> = (0..n)
        .map(|i| {
            let ramp = (f64::from(i) / 12.0).min(1.0);
            (1240.0 * ramp + 15.0 * (f64::from(i) * 1.7).sin()).round()
        })
        .collect();
    let p95: Vec<f64> = (0..n)
        .map(|i| {
            let spike = if (50..58).contains(&i) {
                520.0 * (f64::from(i - 49) / 4.0).min(1.0)
            } else {
                0.0
            };
            (640.0 + 2.5 * f64::from(i) + 20.0 * (f64::from(i) * 0.9).cos() + spike).round()
        })
        .collect();
    json!({"interval_s": 10, "throughput": throughput, "p95_ms": p95})
}

/// What the messages look like: a threaded load test (started → running → finished →
/// report), a monitoring incident (failing → recovered) and one still open (with its
/// buttons) in `#load-tests`, drawn by the fake Slack's page as a Slack client would draw
/// them. Leaves `fake-slack-channel.png` (the README's picture) and `fake-slack-edited.png`
/// (a card's earlier versions).
#[actix_web::test]
async fn the_fake_slack_shows_a_threaded_load_test_and_an_incident_like_slack() {
    let Some(mut b) = Browser::start().await else {
        return;
    };
    let app = try_spawn_fast_app(Backend::Sqlite, |a| {
        a.slack_signing_secret = Some("fake-signing-secret".into());
    })
    .await
    .unwrap();
    let at = |minutes_ago: i64| {
        (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    // Last week's run of the same definition, before Slack was set up: the baseline.
    app.seed_acme().await;
    let definition = json!({"id": "checkout-peak", "name": "Checkout peak"});
    for (i, kind) in ["started", "running", "finished", "report_available"]
        .into_iter()
        .enumerate()
    {
        let mut body = lt_body(&format!("base-{i}"), kind);
        body["occurred_at"] = json!(at(7 * 24 * 60 - i as i64));
        body["load_test"]["definition"] = definition.clone();
        if kind == "report_available" {
            body["report"]["summary"] = json!({"throughput": 1260, "errors": 400, "requests": 756000, "p95_ms": 723, "p99_ms": 1150, "users": 2000});
        }
        let (status, res) = post_lt(&app, "lt-118", body).await;
        assert_eq!(status, 202, "{res}");
    }
    let admin = app.admin_token("acme");
    app.install_slack("/api/v1/orgs/acme", &admin).await;
    let settings =
        json!({"send_messages": true, "threads": true, "target_channels": "#load-tests"});
    let (status, res) = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/slack",
            Some(&admin),
            Some(settings),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    // Files are shared only where the app is a member.
    app.fake_post(
        "/channels",
        json!({"name": "load-tests", "is_member": true}),
    )
    .await;
    let url = app.url("/slack/interactions");
    app.fake_post("/interactivity", json!({ "url": url })).await;
    for (i, (kind, ago)) in [
        ("started", 14),
        ("running", 13),
        ("finished", 2),
        ("report_available", 1),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = lt_body(&format!("demo-{i}"), kind);
        body["occurred_at"] = json!(at(ago));
        body["load_test"]["definition"] = definition.clone();
        if kind == "report_available" {
            // Slower than the baseline, more errors, and the series for its chart.
            body["report"]["summary"] = json!({"throughput": 1234.5, "errors": 1200, "requests": 740000, "p95_ms": 890, "p99_ms": 1424, "users": 2000});
            body["report"]["series"] = demo_series();
        }
        let (status, res) = post_lt(&app, "lt-123", body).await;
        assert_eq!(status, 202, "{res}");
        // The card first, so the replies have a thread to go to in the picture's order.
        messages(&app, "load-tests", i + 1).await;
    }
    for (i, (state, ago)) in [("failure", 9), ("ok", 3)].into_iter().enumerate() {
        let sensors = if state == "ok" {
            json!([])
        } else {
            json!([{"name": "Page load < 3s", "message": "3.8s"}, {"name": "Login", "message": "timeout"}])
        };
        let body = json!({
            "event_id": format!("mon-{i}"), "org": "acme", "project": "webshop",
            "occurred_at": at(ago), "state": state, "notify_via": ["slack"],
            "scenario": {"name": "Shop checkout", "url": "https://xtc.example/mon/77"},
            "execution": {"id": format!("x{i}"), "url": "https://xtc.example/ex/1", "location": "eu-west"},
            "failed_sensors": sensors,
        });
        let (status, res) = post_mon(&app, "shop-checkout", body).await;
        assert_eq!(status, 202, "{res}");
    }
    // An incident still open: its card has the buttons.
    messages(&app, "load-tests", 6).await;
    let body = json!({
        "event_id": "mon-login", "org": "acme", "project": "webshop",
        "occurred_at": at(1), "state": "failure", "notify_via": ["slack"],
        "scenario": {"name": "Login", "url": "https://xtc.example/mon/78"},
        "execution": {"id": "x9", "url": "https://xtc.example/ex/9", "location": "us-east"},
        "failed_sensors": [{"name": "Sign-in form", "message": "HTTP 502"}],
    });
    let (status, res) = post_mon(&app, "login", body).await;
    assert_eq!(status, 202, "{res}");
    let log = app.settled_deliveries(&admin).await;
    // All sent, but the baseline run's, from before Slack was set up.
    let sent = |d: &&serde_json::Value| {
        d["status"] == "sent"
            || d["event_id"]
                .as_str()
                .is_some_and(|e| e.starts_with("base-"))
    };
    assert!(log.iter().all(|d| sent(&d)), "{log:#?}");
    // The cards' edits land after the replies: wait for the final states.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = messages(&app, "load-tests", 7).await;
        let parents: Vec<_> = got.iter().filter(|m| m["thread_ts"].is_null()).collect();
        let done = parents.len() == 3
            && parents.iter().any(|p| shows(p, "reports/demo-3"))
            && parents.iter().any(|p| shows(p, "Recovered"));
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "cards not final: {got:#?}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }

    // The chart, in the run's thread.
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.fake_get("/files").await["files"]
        .as_array()
        .is_none_or(|f| f.is_empty())
    {
        assert!(Instant::now() < deadline, "no chart uploaded");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    b.goto(&format!(
        "{}/_fake/?channel=load-tests",
        app.fake().base_url()
    ))
    .await;
    assert!(b.page_has("Checkout peak 2000 users").await);
    assert!(b.page_has("Regression:").await);
    b.fit_height().await;
    let page = b.client.source().await.unwrap();
    let visible = b
        .client
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Drawn, not shown as markup: no raw emoji codes, dates or Slack escapes.
    for raw in [
        ":rocket:",
        ":checkered_flag:",
        "<!date^",
        "&lt;",
        "&amp;",
        "rich_text",
    ] {
        assert!(!visible.contains(raw), "{raw} shown raw: {visible}");
    }
    for drawn in [
        "class=\"att-bar\" style=\"background:#2eb67d\"",
        "class=\"thread\"",
        "also sent to the channel",
        "replied to a thread",
        "(edited)",
        "Open in XTC</a>",
        "🏁",
        "🟢",
        "class=\"act-as\"",
        ">Acknowledge</button>",
        ">Set as baseline</button>",
        "<img",
    ] {
        assert!(page.contains(drawn), "{drawn} not on the page");
    }
    let channel = b.shot("fake-slack-channel").await;
    b.picture(&channel, "fake-slack-channel.png");

    // A card's earlier versions, on demand.
    b.client
        .find(Locator::Css("details.edited summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(b.page_has("earlier versions, oldest first").await);
    b.fit_height().await;
    let edited = b.shot("fake-slack-edited").await;
    std::fs::copy(&edited, b.shots.join("fake-slack-edited.png")).unwrap();

    // The organization's weekly summary of this week, sent now into #perf (the README's
    // picture of a summary).
    let to_perf = json!({"target_channels": "#perf"});
    let (status, res) = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/slack",
            Some(&admin),
            Some(to_perf),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let (status, res) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/orgs/acme/slack/summary/send",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 202, "{res}");
    let summary = messages(&app, "perf", 1).await;
    assert!(shows(&summary[0], "Weekly summary"), "{summary:#?}");
    b.goto(&format!("{}/_fake/?channel=perf", app.fake().base_url()))
        .await;
    assert!(b.page_has("Weekly summary").await);
    b.fit_height().await;
    let shot = b.shot("fake-slack-summary").await;
    b.picture(&shot, "fake-slack-summary.png");

    b.client.clone().close().await.unwrap();
    eprintln!("screenshots in {}", b.shots.display());
}

/// The app with its buttons wired to the fake, an open incident's card in `#load-tests`, and
/// the fake's page of that channel as sam.
async fn an_open_incident_as_sam() -> (crate::helpers::TestApp, String) {
    let app = try_spawn_fast_app(Backend::Sqlite, |a| {
        a.slack_signing_secret = Some("fake-signing-secret".into());
    })
    .await
    .unwrap();
    app.configure_acme(json!({"threads": true, "target_channels": "#load-tests"}))
        .await;
    let url = app.url("/slack/interactions");
    app.fake_post("/interactivity", json!({ "url": url })).await;
    let body = json!({
        "event_id": "m1", "org": "acme", "project": "webshop", "state": "failure",
        "notify_via": ["slack"], "scenario": {"name": "Shop checkout", "url": "https://xtc.example/mon/77"},
        "failed_sensors": [{"name": "Page load < 3s", "message": "3.8s"}],
    });
    let (status, res) = post_mon(&app, "shop-checkout", body).await;
    assert_eq!(status, 202, "{res}");
    messages(&app, "load-tests", 1).await;

    let page = format!(
        "{}/_fake/?channel=load-tests&as=U0FAKEUSR02",
        app.fake().base_url()
    );
    (app, page)
}

/// A user clicks "Acknowledge" on an incident card in the fake Slack's page, as a chosen
/// fake user; the card is then edited to name them.
#[actix_web::test]
async fn acknowledging_an_incident_from_the_fake_slack_page_edits_the_card() {
    let Some(mut b) = Browser::start().await else {
        return;
    };
    let (_app, page) = an_open_incident_as_sam().await;
    b.goto(&page).await;
    assert!(b.page_has("Mute until recovered").await);
    click_button(&b, "incident.ack").await;
    assert!(
        b.page_has("app answered 200").await,
        "the click's outcome is shown"
    );
    // The card is edited after the answer: look again until it shows.
    let visible = card_edited(&b, &page, |v| v.contains("Acknowledged by sam at")).await;
    assert!(
        !visible.contains("\nAcknowledge\n"),
        "no Acknowledge button any more"
    );
    b.fit_height().await;
    b.shot("fake-slack-acknowledged").await;
    b.client.clone().close().await.unwrap();
}

/// A picture shared into a run card's thread with the product's upload flow is drawn in
/// that thread, loaded from the fake, with its title as alt text, and the page passes axe.
#[actix_web::test]
async fn a_picture_uploaded_into_a_thread_is_drawn_there_and_the_page_passes_axe() {
    let Some(mut b) = Browser::start().await else {
        return;
    };
    let env = crate::slack_client::Env::new();
    let token = env.token(&["chat:write", "files:write"]).await;
    let api = &env.api;
    let card = api
        .post_message(
            &token,
            &xtc_slack::slack::PostMessage {
                channel: "C0FAKE0GEN1".into(),
                text: "Load test finished".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Any real picture will do; the README's is at hand.
    let picture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/fake-slack-channel.png"
    ))
    .unwrap();
    let file = api
        .upload_file(
            &token,
            &xtc_slack::slack::FileUpload {
                filename: "chart.png",
                title: "Throughput and P95 of the run",
                bytes: &picture,
                channel_id: "C0FAKE0GEN1",
                thread_ts: Some(&card.ts),
                initial_comment: None,
            },
        )
        .await
        .unwrap();

    b.goto(&format!("{}/_fake/?channel=general", env.fake.base_url()))
        .await;
    let img = format!(
        "#thread-{} img[alt='Throughput and P95 of the run']",
        card.ts.replace('.', "\\.")
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let width = loop {
        let width = b
            .client
            .execute(
                "const i = document.querySelector(arguments[0]); \
                 return i && i.complete && i.naturalWidth > 0 \
                   ? [i.naturalWidth, i.getBoundingClientRect().width] : null;",
                vec![json!(img)],
            )
            .await
            .unwrap();
        if !width.is_null() || Instant::now() > deadline {
            break width;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    let (natural, drawn) = (width[0].as_f64().unwrap(), width[1].as_f64().unwrap());
    assert!(natural > 100.0, "{} not loaded: {width}", file.id);
    assert!(drawn <= 560.0 && drawn > 0.0, "not sized to fit: {width}");
    b.audit("fake-slack-uploaded-picture").await;
    b.fit_height().await;
    b.shot("fake-slack-uploaded-picture").await;
    b.client.clone().close().await.unwrap();
}

/// "Mute for…" on the fake Slack's page: sam clicks it, the app's dialog opens over the
/// channel (and passes axe), a past date is answered with its error under the field (the
/// dialog stays open, and passes axe), then 4 hours with a reason mutes the incident and
/// the card says so.
#[actix_web::test]
async fn mute_for_opens_a_dialog_on_the_fake_slack_page_that_mutes_the_incident() {
    let Some(mut b) = Browser::start().await else {
        return;
    };
    let (_app, page) = an_open_incident_as_sam().await;
    open_mute_for(&b, &page).await;
    assert!(b.page_has("Mute incident").await);
    b.audit("the Mute for… dialog").await;
    b.fit_height().await;
    b.shot("fake-slack-mute-dialog").await;

    // A past date: the app's error shows under the field and the dialog stays open.
    fill_and_submit(&b, "date", "2020-01-01T10:00", "").await;
    assert!(
        b.page_has("This time has passed").await,
        "the app's field error is shown"
    );
    b.client
        .find(Locator::Css(
            r#"dialog.modal input[name="v.mute_until"][aria-invalid="true"]"#,
        ))
        .await
        .unwrap();
    b.audit("the Mute for… dialog with a field error").await;
    b.shot("fake-slack-mute-dialog-error").await;

    // 4 hours with a reason: the dialog closes and the card is edited.
    fill_and_submit(&b, "4h", "", "deploy of 2.4 <!here>").await;
    assert!(b.page_has("app answered 200").await);
    // The card (the thread's reply may come first): its mute line and reason.
    let visible = card_edited(&b, &page, |v| {
        v.contains("Muted by sam until") && v.contains("Reason: deploy of 2.4 <!here>")
    })
    .await;
    assert!(!visible.contains("Mute for…"), "Unmute instead: {visible}");
    let source = b.client.source().await.unwrap();
    assert!(
        !source.contains("dialog class=\"modal\""),
        "the dialog closed"
    );
    b.fit_height().await;
    b.shot("fake-slack-muted-for").await;
    b.client.clone().close().await.unwrap();
}

/// Clicks "Mute for…" on `page` until its dialog opens, as a person would. Slack opens a
/// dialog only within 3 s of the click; on a machine loaded by the whole suite the app's
/// `views.open` can come later, and then the app says so to the person who clicked, who
/// clicks again. Any other reason for a closed dialog fails the test.
async fn open_mute_for(b: &Browser, page: &str) {
    for attempt in 1..=3 {
        b.goto(page).await;
        click_button(b, "incident.mute_for").await;
        let opened = b
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("dialog.modal[open]"))
            .await
            .is_ok();
        if opened {
            return;
        }
        b.goto(page).await;
        assert!(
            b.page_has("could not be opened in time").await,
            "click {attempt}: no dialog, and the app did not say why"
        );
    }
    panic!("the Mute for… dialog did not open in three clicks");
}

/// Clicks a message's button (a submit button of its click form) on the page.
async fn click_button(b: &Browser, action_id: &str) {
    b.client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!(
            r#"button[name="action_id"][value="{action_id}"]"#
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Loads `page` again until the channel's text satisfies `check` (at most 45 s: card edits
/// are paced, and a loaded machine is slow); the text.
async fn card_edited(b: &Browser, page: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        b.goto(page).await;
        let visible = b
            .client
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if check(&visible) {
            return visible;
        }
        assert!(
            Instant::now() < deadline,
            "the card was not edited: {visible}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Fills in the open "Mute for…" dialog as a person would and presses Mute.
async fn fill_and_submit(b: &Browser, duration: &str, until: &str, reason: &str) {
    b.client
        .find(Locator::Css(
            r#"dialog.modal select[name="v.mute_duration"]"#,
        ))
        .await
        .unwrap()
        .select_by_value(duration)
        .await
        .unwrap();
    for (field, value) in [("v.mute_until", until), ("v.mute_reason", reason)] {
        // Set as a picker would: a date and time field takes no keystrokes over WebDriver
        // in every Chromium.
        b.client
            .execute(
                "const e = document.querySelector(arguments[0]); e.value = arguments[1]; \
                 e.dispatchEvent(new Event('input', {bubbles: true})); return e.value;",
                vec![
                    json!(format!(r#"dialog.modal input[name="{field}"]"#)),
                    json!(value),
                ],
            )
            .await
            .unwrap();
    }
    b.client
        .find(Locator::Css("dialog.modal button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

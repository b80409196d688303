//! `POST /slack/events`: signed events from the fake Slack (its own signing code), and
//! hand-made requests for the refusals.

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};
use xtc_slack::db::models::audit::AuditEntry;
use xtc_slack::db::models::installation::Installation;
use xtc_slack::slack::signing;

use crate::helpers::*;
use crate::test_both_backends_with_slack;

const FAKE_SECRET: &str = "fake-signing-secret";

/// Has the fake send a signed event to the app; returns the app's answer `{status, body}`.
async fn fake_sends(app: &TestApp, event: Value) -> Value {
    let mut event = event;
    event["url"] = json!(format!("{}/slack/events", app.address));
    let answer = app.fake_post("/events", event).await;
    assert_eq!(answer["ok"], true, "{answer}");
    answer
}

/// POSTs `body` to `/slack/events` signed with `secret` at `timestamp`.
async fn post_signed(app: &TestApp, secret: &str, timestamp: i64, body: &str) -> (u16, String) {
    let sig = signing::sign(&SecretString::from(secret), timestamp, body.as_bytes());
    post_raw(app, &timestamp.to_string(), &sig, body).await
}

async fn post_raw(app: &TestApp, ts: &str, sig: &str, body: &str) -> (u16, String) {
    let res = app
        .http
        .post(app.url("/slack/events"))
        .header("content-type", "application/json")
        .header("X-Slack-Request-Timestamp", ts)
        .header("X-Slack-Signature", sig)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

pub(crate) async fn org_settings(app: &TestApp, admin: &str) -> Value {
    let (status, body) = app
        .call(Method::GET, "/api/v1/orgs/acme/slack", Some(admin), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn installation(app: &TestApp) -> Installation {
    let mut conn = app.db.connect();
    Installation::find_by_scope(&mut conn, "acme", None)
        .unwrap()
        .unwrap()
}

fn revocation_audits(app: &TestApp) -> usize {
    let mut conn = app.db.connect();
    AuditEntry::list_by_org(&mut conn, "acme", 100)
        .unwrap()
        .iter()
        .filter(|e| e.action == "slack_integration.revoked")
        .count()
}

fn lt_started(event_id: &str) -> Value {
    json!({
        "event_id": event_id, "org": "acme", "project": "webshop", "type": "started",
        "occurred_at": "2026-11-26T10:00:00Z",
        "load_test": {"name": "Checkout peak", "url": "https://xtc.example/lt/1", "started_by": "jane"},
    })
}

/// Posts a load test's `started` event; asserts the 202.
async fn post_started(app: &TestApp, load_test: &str, event_id: &str) {
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/load-tests/{load_test}/events"),
            Some(&app.service_token.clone()),
            Some(lt_started(event_id)),
        )
        .await;
    assert_eq!(status, 202, "{body}");
}

test_both_backends_with_slack! {
    async fn a_signed_app_uninstalled_revokes_the_workspace_and_fails_what_was_pending(app: TestApp) {
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        // A backlog: one channel, paced at about one message a second.
        for i in 0..5 {
            let (status, body) = app
                .call(
                    Method::POST,
                    &format!("/api/v1/load-tests/lt-{i}/events"),
                    Some(&app.service_token.clone()),
                    Some(lt_started(&format!("ev-{i}"))),
                )
                .await;
            assert_eq!(status, 202, "{body}");
        }
        // Tokens stay valid at the fake, so only the event can revoke the installation.
        let answer = fake_sends(&app, json!({"type": "app_uninstalled", "revoke": false})).await;
        assert_eq!(answer["status"], 200, "{answer}");

        let inst = installation(&app);
        assert_eq!(inst.status.as_str(), "revoked");
        assert_eq!(inst.status_reason.as_deref(), Some("app_uninstalled"));
        let settings = org_settings(&app, &admin).await;
        assert_eq!(settings["integration"]["status"], "revoked", "{settings}");
        assert_eq!(settings["integration"]["status_reason"], "app_uninstalled", "{settings}");
        assert_eq!(settings["complete"], false);
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.len(), 5);
        assert!(log.iter().all(|d| d["status"] != "pending"), "{log:#?}");
        assert!(
            log.iter().any(|d| d["status"] == "failed"
                && d["error"].as_str().unwrap_or_default().contains("app_uninstalled")),
            "{log:#?}"
        );
        assert_eq!(revocation_audits(&app), 1);

        // Again, and the other lifecycle event in the other order: nothing changes.
        fake_sends(&app, json!({"type": "app_uninstalled"})).await;
        fake_sends(&app, json!({"type": "tokens_revoked"})).await;
        let again = installation(&app);
        assert_eq!(again.status_reason.as_deref(), Some("app_uninstalled"));
        assert_eq!(revocation_audits(&app), 1);

        // New events no longer produce deliveries to the dead installation.
        post_started(&app, "lt-new", "ev-new").await;
        let log = app.settled_deliveries(&admin).await;
        assert!(log.iter().all(|d| d["status"] != "sent" || d["event_id"] != "ev-new"), "{log:#?}");
    }
}

test_both_backends_with_slack! {
    async fn tokens_revoked_for_the_bot_revokes_the_installation(app: TestApp) {
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        let answer = fake_sends(&app, json!({"type": "tokens_revoked"})).await;
        assert_eq!(answer["status"], 200, "{answer}");
        let settings = org_settings(&app, &admin).await;
        assert_eq!(settings["integration"]["status"], "revoked", "{settings}");
        assert_eq!(settings["integration"]["status_reason"], "tokens_revoked");
        assert_eq!(revocation_audits(&app), 1);
    }
}

#[actix_web::test]
async fn url_verification_is_answered_with_the_challenge() {
    let app = spawn_app_with_slack().await;
    let body = json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).to_string();
    let (status, answer) =
        post_signed(&app, FAKE_SECRET, chrono::Utc::now().timestamp(), &body).await;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
}

test_both_backends_with_slack! {
    async fn bad_signatures_and_stale_timestamps_are_401_and_change_nothing(app: TestApp) {
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        let team = installation(&app).team_id;
        let now = chrono::Utc::now().timestamp();
        let body = json!({
            "token": "x", "team_id": team, "api_app_id": "A0FAKEAPP01",
            "event": {"type": "app_uninstalled"}, "type": "event_callback",
            "event_id": "Ev1", "event_time": now
        })
        .to_string();
        let good = signing::sign(&SecretString::from(FAKE_SECRET), now, body.as_bytes());
        let cases: Vec<(String, String, String, &str)> = vec![
            (now.to_string(), signing::sign(&SecretString::from("wrong"), now, body.as_bytes()), body.clone(), "wrong secret"),
            ((now - 301).to_string(), signing::sign(&SecretString::from(FAKE_SECRET), now - 301, body.as_bytes()), body.clone(), "stale"),
            // 310 s, not 301: the server's clock may have moved on a few seconds since `now`.
            ((now + 310).to_string(), signing::sign(&SecretString::from(FAKE_SECRET), now + 310, body.as_bytes()), body.clone(), "future"),
            (now.to_string(), good.clone(), body.replace("Ev1", "Ev2"), "tampered body"),
            (String::new(), String::new(), body.clone(), "no headers"),
            (now.to_string(), "v0=zz".into(), body.clone(), "garbled"),
        ];
        for (ts, sig, b, why) in cases {
            let (status, answer) = post_raw(&app, &ts, &sig, &b).await;
            assert_eq!(status, 401, "{why}: {answer}");
            assert!(answer.contains("unauthenticated"), "{why}: {answer}");
        }
        assert_eq!(installation(&app).status.as_str(), "active");
        assert_eq!(revocation_audits(&app), 0);
        // The same request, correctly signed, is accepted.
        let (status, answer) = post_raw(&app, &now.to_string(), &good, &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(org_settings(&app, &admin).await["integration"]["status"], "revoked");
    }
}

#[actix_web::test]
async fn the_published_test_vector_is_refused_as_a_replay() {
    // Slack's published example (slack-api.md §6) is correctly signed but from 2018.
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    let secret = SecretString::from("8f742231b10e8888abcd99yyyzzz85a5");
    assert_eq!(
        signing::verify(&secret, "1531420618", BODY.as_bytes(), SIG, 1531420618),
        Ok(())
    );
    let app = try_spawn_app_with(Backend::Sqlite, |args| {
        args.slack_signing_secret = Some("8f742231b10e8888abcd99yyyzzz85a5".into());
    })
    .await
    .unwrap();
    let (status, _) = post_raw(&app, "1531420618", SIG, BODY).await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn without_a_signing_secret_events_are_refused_with_401() {
    let app = spawn_app().await;
    let body = json!({"type": "url_verification", "challenge": "c"}).to_string();
    let (status, answer) =
        post_signed(&app, FAKE_SECRET, chrono::Utc::now().timestamp(), &body).await;
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("SLACK_SIGNING_SECRET"), "{answer}");
}

test_both_backends_with_slack! {
    async fn unknown_and_foreign_events_are_acknowledged_and_change_nothing(app: TestApp) {
        app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        let team = installation(&app).team_id;
        let now = chrono::Utc::now().timestamp();
        for body in [
            json!({"type": "event_callback", "team_id": team, "event": {"type": "message", "text": "hi"}, "event_id": "Ev3"}),
            json!({"type": "event_callback", "team_id": "T0OTHER", "event": {"type": "app_uninstalled"}, "event_id": "Ev4"}),
            json!({"type": "app_rate_limited", "team_id": team}),
        ] {
            let (status, answer) = post_signed(&app, FAKE_SECRET, now, &body.to_string()).await;
            assert_eq!(status, 200, "{body}: {answer}");
        }
        let (status, _) = post_signed(&app, FAKE_SECRET, now, "not json").await;
        assert_eq!(status, 400);
        let (status, _) = post_signed(&app, FAKE_SECRET, now, &"x".repeat(70_000)).await;
        assert_eq!(status, 413);
        assert_eq!(installation(&app).status.as_str(), "active");
        assert_eq!(revocation_audits(&app), 0);
    }
}

test_both_backends_with_slack! {
    async fn channel_events_keep_names_and_warnings_current(app: TestApp) {
        let admin = app.configure_acme(json!({"target_channels": "#perf #load-tests"})).await;
        let settings = org_settings(&app, &admin).await;
        assert_eq!(settings["target_channels"], json!(["#perf", "#load-tests"]));
        assert_eq!(settings["channel_warnings"], json!([]));

        fake_sends(&app, json!({"type": "channel_rename", "channel": "perf", "name": "perf-v2"})).await;
        let settings = org_settings(&app, &admin).await;
        assert_eq!(settings["target_channels"], json!(["#perf-v2", "#load-tests"]), "{settings}");

        fake_sends(&app, json!({"type": "channel_archive", "channel": "load-tests"})).await;
        let settings = org_settings(&app, &admin).await;
        let warnings = settings["channel_warnings"].as_array().unwrap();
        assert_eq!(warnings.len(), 1, "{settings}");
        assert_eq!(warnings[0]["channel"], "#load-tests");
        assert_eq!(warnings[0]["problem"], "archived");
        // The project inherits the channels, and the warning.
        let (_, project) = app
            .call(Method::GET, "/api/v1/orgs/acme/projects/webshop/slack", Some(&admin), None)
            .await;
        assert_eq!(project["effective"]["channel_warnings"][0]["problem"], "archived", "{project}");

        fake_sends(&app, json!({"type": "channel_unarchive", "channel": "load-tests"})).await;
        assert_eq!(org_settings(&app, &admin).await["channel_warnings"], json!([]));

        fake_sends(&app, json!({"type": "channel_deleted", "channel": "perf-v2"})).await;
        let settings = org_settings(&app, &admin).await;
        assert_eq!(settings["channel_warnings"][0]["channel"], "#perf-v2", "{settings}");
        assert_eq!(settings["channel_warnings"][0]["problem"], "deleted", "{settings}");
        // Applying an event twice is harmless.
        fake_sends(&app, json!({"type": "channel_archive", "channel": "load-tests"})).await;
        fake_sends(&app, json!({"type": "channel_archive", "channel": "load-tests"})).await;
        assert_eq!(org_settings(&app, &admin).await["channel_warnings"].as_array().unwrap().len(), 2);
    }
}

/// Slack's retry of the event `event_id` the fake sent before: the same body,
/// `X-Slack-Retry-Num`; asserts the app acknowledged it.
async fn fake_retries(app: &TestApp, event_id: &str, retry_num: u32) -> Value {
    let answer = app
        .fake_post(
            "/events/retry",
            json!({
                "event_id": event_id,
                "retry_num": retry_num,
                "url": format!("{}/slack/events", app.address),
            }),
        )
        .await;
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["status"], 200, "{answer}");
    answer
}

/// The `event_id` of an event the fake reported sending.
fn id_of(sent: &Value) -> &str {
    sent["event"]["event_id"].as_str().unwrap()
}

/// Saves acme's target channels; asserts the 200.
async fn save_channels(app: &TestApp, admin: &str, channels: &str) {
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/orgs/acme/slack",
            Some(admin),
            Some(json!({"target_channels": channels})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Event times are whole seconds: the next second begins.
async fn next_second() {
    let now = chrono::Utc::now();
    let into = u64::from(now.timestamp_subsec_millis());
    tokio::time::sleep(std::time::Duration::from_millis(1_050 - into.min(1_000))).await;
}

test_both_backends_with_slack! {
    async fn a_late_retry_of_an_uninstall_leaves_the_new_installation_alone(app: TestApp) {
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        // Applied: the installation is revoked. Then a re-install, and Slack's late retry
        // of the same event (it saw no timely answer): it must not revoke the new one.
        let uninstall = fake_sends(&app, json!({"type": "app_uninstalled", "revoke": false})).await;
        assert_eq!(installation(&app).status.as_str(), "revoked");
        next_second().await;
        app.install_slack("/api/v1/orgs/acme", &admin).await;
        assert_eq!(installation(&app).status.as_str(), "active");
        for retry in 1..=3 {
            fake_retries(&app, id_of(&uninstall), retry).await;
        }
        assert_eq!(installation(&app).status.as_str(), "active", "{:?}", installation(&app));
        assert_eq!(org_settings(&app, &admin).await["integration"]["status"], "active");
        assert_eq!(revocation_audits(&app), 1);

        // An event whose first delivery never arrived (the app was unreachable), retried
        // after a re-install: it happened before the installation, so it changes nothing.
        let revoked = app
            .fake_post(
                "/events",
                json!({"type": "tokens_revoked", "revoke": false, "url": "http://127.0.0.1:9/slack/events"}),
            )
            .await;
        assert_eq!(revoked["error"], "delivery_failed", "{revoked}");
        next_second().await;
        app.install_slack("/api/v1/orgs/acme", &admin).await;
        let (_, body) = app
            .call(Method::GET, "/api/v1/orgs/acme/slack", Some(&admin), None)
            .await;
        assert_eq!(body["integration"]["status"], "active", "{body}");
        // The fake kept the undelivered event for its retry.
        let answer = fake_retries(&app, &last_event_id(&app, "tokens_revoked").await, 2).await;
        assert_eq!(answer["event"]["event"]["type"], "tokens_revoked", "{answer}");
        assert_eq!(installation(&app).status.as_str(), "active");
        assert_eq!(revocation_audits(&app), 1);
        // Notifications still go out through the new installation.
        post_started(&app, "lt-after", "ev-after").await;
        let log = app.settled_deliveries(&admin).await;
        assert!(
            log.iter().any(|d| d["event_id"] == "ev-after" && d["status"] == "sent"),
            "{log:#?}"
        );
    }
}

test_both_backends_with_slack! {
    async fn late_retries_of_channel_events_do_not_roll_a_channel_back(app: TestApp) {
        let admin = app.configure_acme(json!({"target_channels": "#perf #load-tests"})).await;
        let to_a = fake_sends(&app, json!({"type": "channel_rename", "channel": "perf", "name": "perf-a"})).await;
        next_second().await;
        fake_sends(&app, json!({"type": "channel_rename", "channel": "perf-a", "name": "perf-b"})).await;
        // The rename to A again, as Slack's retry: already applied.
        fake_retries(&app, id_of(&to_a), 1).await;
        let settings = org_settings(&app, &admin).await;
        assert_eq!(settings["target_channels"], json!(["#perf-b", "#load-tests"]), "{settings}");
        // Saving the channel under its current name works.
        save_channels(&app, &admin, "#perf-b #load-tests").await;

        // An older event arriving late for the first time (its first delivery was lost)
        // is not applied either.
        let archive = app
            .fake_post(
                "/events",
                json!({"type": "channel_archive", "channel": "load-tests", "url": "http://127.0.0.1:9/slack/events"}),
            )
            .await;
        assert_eq!(archive["error"], "delivery_failed", "{archive}");
        next_second().await;
        fake_sends(&app, json!({"type": "channel_unarchive", "channel": "load-tests"})).await;
        fake_retries(&app, &last_event_id(&app, "channel_archive").await, 3).await;
        let settings = org_settings(&app, &admin).await;
        assert_eq!(settings["channel_warnings"], json!([]), "{settings}");
        save_channels(&app, &admin, "#perf-b #load-tests").await;
    }
}

/// The `event_id` of the newest event of type `kind` the fake sent (delivered or not).
async fn last_event_id(app: &TestApp, kind: &str) -> String {
    let events = app.fake_get("/events").await;
    events["events"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .find(|e| e["type"] == kind)
        .and_then(|e| e["event_id"].as_str())
        .unwrap_or_default()
        .to_owned()
}

//! Buttons on incident cards (issue 16): clicks sent by the fake Slack exactly as Slack sends
//! them (signed `block_actions` to `/slack/interactions`), acknowledge and mute, what is
//! refused, and the mutes in the delivery log.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;
use crate::pipeline::{messages, post_mon};

const SIGNING_SECRET: &str = "fake-signing-secret";
pub(crate) const SAM: &str = "U0FAKEUSR02";

/// The app with threads on into `#load-tests`, the fake's buttons wired to the app.
pub(crate) async fn app_with_buttons(backend: Backend) -> Option<(TestApp, String)> {
    // The log subscriber before anything on this thread logs (see `build_http_client`).
    captured_logs();
    let app = try_spawn_fast_app(backend, |a| {
        a.slack_signing_secret = Some(SIGNING_SECRET.into());
    })
    .await?;
    let admin = app
        .configure_acme(json!({"threads": true, "target_channels": "#load-tests"}))
        .await;
    let url = app.url("/slack/interactions");
    let set = app.fake_post("/interactivity", json!({ "url": url })).await;
    assert_eq!(set["ok"], true, "{set}");
    Some((app, admin))
}

/// A monitoring result of `shop-checkout`, `minute` minutes after 10:00 (20 apart keeps the
/// scenario from counting as flapping).
fn result(event_id: &str, state: &str, minute: u32) -> Value {
    json!({
        "event_id": event_id, "org": "acme", "project": "webshop",
        "occurred_at": format!("2026-11-26T{:02}:{:02}:00Z", 10 + minute / 60, minute % 60),
        "scenario": {"name": "Shop checkout", "url": "https://xtc.example/mon/77"},
        "notify_via": ["slack"], "state": state,
        "execution": {"id": "x1", "url": "https://xtc.example/ex/1", "location": "eu-west"},
        "failed_sensors": if state == "ok" { json!([]) } else { json!([{"name": "Page load < 3s", "message": "3.8s"}]) },
    })
}

pub(crate) async fn report(app: &TestApp, event_id: &str, state: &str, minute: u32) {
    let (status, res) = post_mon(app, "shop-checkout", result(event_id, state, minute)).await;
    assert!(status == 202, "{status} {res}");
}

pub(crate) fn shown(m: &Value) -> String {
    format!(
        "{} {} {}",
        m["text"].as_str().unwrap_or_default(),
        m["blocks"],
        m["attachments"]
    )
}

/// Waits until `check` holds for `#load-tests` (or 30 s pass); the last look.
pub(crate) async fn wait_for(app: &TestApp, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = messages(app, "load-tests", 0).await;
        if check(&got) || Instant::now() > deadline {
            return got;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn cards(got: &[Value]) -> Vec<Value> {
    got.iter()
        .filter(|m| m["thread_ts"].is_null())
        .cloned()
        .collect()
}

/// The incident card, once it is there.
pub(crate) async fn the_card(app: &TestApp) -> Value {
    let got = wait_for(app, |got| !cards(got).is_empty()).await;
    let card = cards(&got).first().cloned().expect("an incident card");
    // Slack shows a message as soon as it takes it; the service records the card as its own
    // a moment later (the outcome's write after the post). A person is never that quick; a
    // test clicking the moment the fake has the message is, so wait for the record.
    let ts = card["ts"].as_str().expect("the card's ts").to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !card_recorded(app, &ts) && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    card
}

/// Whether the service has recorded the card posted as `ts` (its `slack_threads` row).
fn card_recorded(app: &TestApp, ts: &str) -> bool {
    use diesel::prelude::*;
    use xtc_slack::db::schema::slack_threads;
    let mut conn = app.db.connect();
    slack_threads::table
        .filter(slack_threads::parent_ts.eq(ts))
        .count()
        .get_result::<i64>(&mut conn)
        .unwrap()
        > 0
}

/// A click on the card's button as a fake user; the fake's report (app's status and body).
pub(crate) async fn click(app: &TestApp, card: &Value, action_id: &str, extra: Value) -> Value {
    let mut body = json!({
        "channel": card["channel"], "ts": card["ts"], "action_id": action_id, "user": SAM,
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    app.fake_post("/interactions", body).await
}

async fn chat_updates(app: &TestApp) -> usize {
    app.fake_get("/calls?method=chat.update").await["calls"]
        .as_array()
        .map_or(0, Vec::len)
}

pub(crate) async fn deliveries_and_mutes(app: &TestApp, admin: &str) -> (Vec<Value>, Vec<Value>) {
    let log = app.settled_deliveries(admin).await;
    let (status, body) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/orgs/acme/projects/webshop/slack/deliveries",
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Left out when nothing is muted.
    (log, body["mutes"].as_array().cloned().unwrap_or_default())
}

pub(crate) fn audit(app: &TestApp) -> Vec<(String, String, String)> {
    use diesel::prelude::*;
    use xtc_slack::db::schema::audit_log;
    let mut conn = app.db.connect();
    audit_log::table
        .order(audit_log::id.asc())
        .select((audit_log::actor, audit_log::action, audit_log::details))
        .load::<(String, String, String)>(&mut conn)
        .unwrap()
        .into_iter()
        .filter(|(_, action, _)| action.starts_with("incident."))
        .collect()
}

crate::test_both_backends! {
    async fn acknowledge_edits_the_card_once_and_names_the_slack_user(app: TestApp) {
        let Some((app, admin)) = app_with_buttons(app.backend).await else { return };
        report(&app, "e1", "failure", 0).await;
        let card = the_card(&app).await;
        assert!(shown(&card).contains("incident.ack"), "the card has the buttons: {}", shown(&card));
        let before = chat_updates(&app).await;

        let res = click(&app, &card, "incident.ack", json!({})).await;
        assert_eq!(res["status"], 200, "{res}");
        let got = wait_for(&app, |got| {
            cards(got)[0]["text"].as_str().is_some() && shown(&cards(got)[0]).contains("Acknowledged by")
        })
        .await;
        let card_now = &cards(&got)[0];
        assert!(shown(card_now).contains("\"sam\""), "names the Slack user: {}", shown(card_now));
        assert!(!shown(card_now).contains("incident.ack"), "no second Acknowledge: {}", shown(card_now));
        let reply = wait_for(&app, |got| got.iter().any(|m| m["thread_ts"] == card["ts"])).await;
        let reply: Vec<_> = reply.iter().filter(|m| m["thread_ts"] == card["ts"]).collect();
        assert_eq!(reply.len(), 1, "{reply:#?}");
        assert!(shown(reply[0]).contains("Acknowledged by") && shown(reply[0]).contains("sam"), "{}", shown(reply[0]));
        // The log names the reply's channel as it names the card's, not by its ID.
        let (log, _) = deliveries_and_mutes(&app, &admin).await;
        let ack = log.iter().find(|d| d["event_type"] == "incident_acknowledged").unwrap();
        assert_eq!(ack["channel"], "#load-tests", "{ack}");
        assert_eq!(ack["channel_name"], "#load-tests", "{ack}");

        // Once: one edit of the card, and a second click changes nothing.
        actix_web::rt::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(chat_updates(&app).await, before + 1, "the card is edited once");
        // Someone else clicks Acknowledge on a card not yet edited in their Slack client.
        let mut payload = res["payload"].clone();
        payload["user"] = json!({"id": "U0FAKEUSR03", "username": "alex", "name": "alex", "team_id": "T0FAKE0001"});
        payload["actions"][0]["action_ts"] = json!("1795687299.000200");
        assert_eq!(send_signed(&app, &payload).await, 200);
        actix_web::rt::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(chat_updates(&app).await, before + 1, "nothing changed");
        let told = app.fake_get("/responses").await["responses"].as_array().unwrap().clone();
        assert!(
            told.iter().any(|r| r["response_type"] == "ephemeral"
                && r["text"].as_str().unwrap_or_default().contains("already acknowledged by sam")),
            "{told:#?}"
        );
        let entries = audit(&app);
        assert_eq!(entries.len(), 1, "{entries:?}");
        let (actor, action, details) = &entries[0];
        assert_eq!(action, "incident.acknowledge");
        assert!(actor.contains("sam") && actor.contains(SAM), "{actor}");
        let details: Value = serde_json::from_str(details).unwrap();
        assert_eq!(details["user_id"], SAM);
        assert_eq!(details["user_name"], "sam");
    }
}

crate::test_both_backends! {
    async fn a_mute_skips_changes_until_unmuted_and_the_recovery_always_arrives(app: TestApp) {
        let Some((app, admin)) = app_with_buttons(app.backend).await else { return };
        report(&app, "e1", "failure", 0).await;
        let card = the_card(&app).await;
        let res = click(&app, &card, "incident.mute_1h", json!({})).await;
        assert_eq!(res["status"], 200, "{res}");

        report(&app, "e2", "fatal", 20).await; // a severity change: muted
        report(&app, "e3", "fatal", 40).await; // the repeat: not news anyway
        let (log, mutes) = deliveries_and_mutes(&app, &admin).await;
        let skipped: Vec<_> = log.iter().filter(|d| d["status"] == "skipped").collect();
        assert_eq!(skipped.len(), 1, "{log:#?}");
        assert_eq!(skipped[0]["event_type"], "scenario_severity_changed");
        let reason = skipped[0]["error"].as_str().unwrap();
        assert!(reason.starts_with("muted by sam until "), "{reason}");
        assert!(skipped[0]["error_message"].as_str().unwrap().contains("Unmute"), "{:?}", skipped[0]);
        assert_eq!(mutes.len(), 1, "{mutes:#?}");
        assert_eq!(mutes[0]["scenario_id"], "shop-checkout");
        assert_eq!(mutes[0]["muted_by"], "sam");
        assert_eq!(mutes[0]["muted_by_id"], SAM);
        assert_eq!(mutes[0]["until_recovered"], false);
        assert!(mutes[0]["until"].is_string(), "{mutes:#?}");
        let got = wait_for(&app, |got| shown(&cards(got)[0]).contains("incident.unmute")).await;
        let card_now = &cards(&got)[0];
        assert!(shown(card_now).contains("Muted by"), "{}", shown(card_now));
        assert!(
            !got.iter().any(|m| ["Severity raised", "Severity lowered"].iter().any(|t| shown(m).contains(t))),
            "no message about the muted change: {got:#?}"
        );

        // Unmute: the next change goes out again, and so does the recovery.
        let res = click(&app, &card, "incident.unmute", json!({})).await;
        assert_eq!(res["status"], 200, "{res}");
        let (_, mutes) = deliveries_and_mutes(&app, &admin).await;
        assert!(mutes.is_empty(), "{mutes:#?}");
        report(&app, "e4", "error", 60).await;
        report(&app, "e5", "ok", 80).await;
        let (log, _) = deliveries_and_mutes(&app, &admin).await;
        for kind in ["scenario_severity_changed", "scenario_recovered"] {
            assert!(
                log.iter().any(|d| d["event_type"] == kind && d["status"] == "sent"),
                "{kind} sent after the unmute: {log:#?}"
            );
        }
        let actions: Vec<String> = audit(&app).into_iter().map(|(_, a, _)| a).collect();
        assert_eq!(actions, ["incident.mute", "incident.unmute"]);
    }
}

crate::test_both_backends! {
    async fn mute_until_recovered_ends_with_the_recovery_which_is_sent(app: TestApp) {
        let Some((app, admin)) = app_with_buttons(app.backend).await else { return };
        report(&app, "e1", "failure", 0).await;
        let card = the_card(&app).await;
        let res = click(&app, &card, "incident.mute_recovered", json!({})).await;
        assert_eq!(res["status"], 200, "{res}");
        report(&app, "e2", "fatal", 20).await;
        let (_, mutes) = deliveries_and_mutes(&app, &admin).await;
        assert_eq!(mutes[0]["until_recovered"], true, "{mutes:#?}");
        assert!(mutes[0]["until"].is_null(), "{mutes:#?}");
        report(&app, "e3", "ok", 40).await;
        let (log, mutes) = deliveries_and_mutes(&app, &admin).await;
        let of = |kind: &str| log.iter().find(|d| d["event_type"] == kind).cloned().unwrap_or_default();
        assert_eq!(of("scenario_severity_changed")["status"], "skipped", "{log:#?}");
        assert_eq!(of("scenario_severity_changed")["error"], "muted by sam until recovered");
        assert_eq!(of("scenario_recovered")["status"], "sent", "{log:#?}");
        assert!(mutes.is_empty(), "the recovery ended the mute: {mutes:#?}");

        // The next incident starts unmuted; a click on the old card is told it recovered.
        report(&app, "e4", "failure", 60).await;
        let (log, _) = deliveries_and_mutes(&app, &admin).await;
        assert_eq!(log.iter().filter(|d| d["event_type"] == "scenario_failing" && d["status"] == "sent").count(), 2, "{log:#?}");
        // A click from a client still showing the old buttons (the card has none by now).
        let mut payload = res["payload"].clone();
        payload["actions"][0]["action_id"] = json!("incident.mute_4h");
        payload["actions"][0]["action_ts"] = json!("1795687299.000300");
        assert_eq!(send_signed(&app, &payload).await, 200);
        let deadline = Instant::now() + Duration::from_secs(10);
        let told = loop {
            let told = app.fake_get("/responses").await["responses"].as_array().unwrap().clone();
            if !told.is_empty() || Instant::now() > deadline {
                break told;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(told.len(), 1, "{told:#?}");
        assert_eq!(told[0]["response_type"], "ephemeral");
        assert!(told[0]["text"].as_str().unwrap().contains("already recovered"), "{told:#?}");
        let (_, mutes) = deliveries_and_mutes(&app, &admin).await;
        assert!(mutes.is_empty(), "nothing changed: {mutes:#?}");
    }
}

crate::test_both_backends! {
    async fn a_timed_mute_that_ran_out_leaves_the_card(app: TestApp) {
        let Some((app, admin)) = app_with_buttons(app.backend).await else { return };
        report(&app, "e1", "failure", 0).await;
        let card = the_card(&app).await;
        click(&app, &card, "incident.mute_1h", json!({})).await;
        wait_for(&app, |got| shown(&cards(got)[0]).contains("Muted by")).await;
        // The hour is up.
        {
            use diesel::prelude::*;
            use xtc_slack::db::schema::scenario_controls;
            let mut conn = app.db.connect();
            let past = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
            diesel::update(scenario_controls::table)
                .set(scenario_controls::muted_until.eq(Some(past)))
                .execute(&mut conn)
                .unwrap();
        }
        let got = wait_for(&app, |got| {
            let c = shown(&cards(got)[0]);
            !c.contains("Muted by") && c.contains("incident.mute_1h")
        })
        .await;
        let c = shown(&cards(&got)[0]);
        assert!(!c.contains("Muted by") && !c.contains("incident.unmute"), "{c}");
        let (_, mutes) = deliveries_and_mutes(&app, &admin).await;
        assert!(mutes.is_empty(), "{mutes:#?}");
        report(&app, "e2", "fatal", 20).await;
        let (log, _) = deliveries_and_mutes(&app, &admin).await;
        assert!(log.iter().any(|d| d["event_type"] == "scenario_severity_changed" && d["status"] == "sent"), "{log:#?}");
    }
}

crate::test_both_backends! {
    async fn an_admin_ends_a_mute_through_the_api(app: TestApp) {
        let Some((app, admin)) = app_with_buttons(app.backend).await else { return };
        report(&app, "e1", "failure", 0).await;
        let card = the_card(&app).await;
        click(&app, &card, "incident.mute_4h", json!({})).await;
        let path = "/api/v1/orgs/acme/projects/webshop/slack/mutes/shop-checkout";
        let (status, body) = app.call(reqwest::Method::DELETE, path, Some(&admin), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"scenario_id": "shop-checkout", "ended": true}));
        let (status, body) = app.call(reqwest::Method::DELETE, path, Some(&admin), None).await;
        assert_eq!(status, 404, "no mute any more: {body}");
        let other = app.project_admin_token("acme", "other");
        let (status, _) = app.call(reqwest::Method::DELETE, path, Some(&other), None).await;
        assert_eq!(status, 403);
        report(&app, "e2", "fatal", 20).await;
        let (log, mutes) = deliveries_and_mutes(&app, &admin).await;
        assert!(mutes.is_empty());
        assert!(log.iter().any(|d| d["event_type"] == "scenario_severity_changed" && d["status"] == "sent"), "{log:#?}");
        let got = wait_for(&app, |got| got.iter().any(|m| shown(m).contains("Unmuted by"))).await;
        assert!(got.iter().any(|m| m["thread_ts"] == card["ts"] && shown(m).contains("Unmuted by")), "{got:#?}");
    }
}

crate::test_both_backends! {
    async fn forged_foreign_and_replayed_clicks_change_nothing(app: TestApp) {
        let Some((app, admin)) = app_with_buttons(app.backend).await else { return };
        report(&app, "e1", "failure", 0).await;
        let card = the_card(&app).await;
        // Another workspace with an active installation of its own (organization globex).
        app.fake_post("/workspace", json!({"team_id": "T0OTHER001", "team_name": "Other"})).await;
        let (status, _) = app.put_org("globex", "Globex").await;
        assert!(status == 200 || status == 201);
        let globex = app.admin_token("globex");
        app.install_slack("/api/v1/orgs/globex", &globex).await;
        app.fake_post("/workspace", json!({"team_id": "T0FAKE0001", "team_name": "XTC-Test-Workspace"})).await;

        let cases = [
            ("a forged signature", json!({"signing_secret": "not-the-secret"}), 401),
            ("an old (replayed) request", json!({"timestamp": chrono::Utc::now().timestamp() - 600}), 401),
            ("an unknown team", json!({"team_id": "T0NOBODY01"}), 403),
            ("another installation's team", json!({"team_id": "T0OTHER001"}), 403),
            ("an edited reference", json!({"value": "AAAAAAAAAAAAAAAAAAAAAA"}), 403),
            ("another message", json!({"message_ts": "1700000000.000100"}), 403),
        ];
        for (what, extra, want) in cases {
            let res = click(&app, &card, "incident.ack", extra).await;
            assert_eq!(res["status"], want, "{what}: {res}");
        }
        // The same click twice: the replay within the window changes nothing.
        let first = click(&app, &card, "incident.mute_1h", json!({})).await;
        assert_eq!(first["status"], 200, "{first}");
        assert_eq!(send_signed(&app, &first["payload"]).await, 200);

        let actions: Vec<String> = audit(&app).into_iter().map(|(_, a, _)| a).collect();
        assert_eq!(actions, ["incident.mute"], "only the one genuine click acted");
        let (_, mutes) = deliveries_and_mutes(&app, &admin).await;
        assert_eq!(mutes.len(), 1);
        let got = wait_for(&app, |got| shown(&cards(got)[0]).contains("Muted by")).await;
        assert!(!shown(&cards(&got)[0]).contains("Acknowledged by"), "{}", shown(&cards(&got)[0]));
        let replies = got.iter().filter(|m| m["thread_ts"] == card["ts"]).count();
        assert_eq!(replies, 1, "one reply for one mute: {got:#?}");
    }
}

crate::test_both_backends! {
    async fn link_buttons_are_answered_and_ignored(app: TestApp) {
        let Some((app, admin)) = app_with_buttons(app.backend).await else { return };
        let body = crate::pipeline::lt_body("s1", "started");
        let (status, res) = crate::pipeline::post_lt(&app, "lt-1", body).await;
        assert_eq!(status, 202, "{res}");
        let card = the_card(&app).await;
        assert!(shown(&card).contains("open.xtc"), "{}", shown(&card));
        let res = click(&app, &card, "open.xtc", json!({})).await;
        assert_eq!(res["status"], 200, "{res}");
        assert!(audit(&app).is_empty());
        let log = app.settled_deliveries(&admin).await;
        assert_eq!(log.len(), 1, "{log:#?}");
    }
}

/// Sends `payload` to the app as Slack would (form-encoded, signed now); the HTTP status.
pub(crate) async fn send_signed(app: &TestApp, payload: &Value) -> u16 {
    let body = format!(
        "payload={}",
        url::form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect::<String>()
    );
    let ts = chrono::Utc::now().timestamp();
    let secret = secrecy::SecretString::from(SIGNING_SECRET.to_owned());
    let signature = xtc_slack::slack::signing::sign(&secret, ts, body.as_bytes());
    app.http
        .post(app.url("/slack/interactions"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Slack-Request-Timestamp", ts.to_string())
        .header("X-Slack-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn unsigned_and_malformed_interactions_are_refused() {
    let Some(app) = try_spawn_app_with_slack(Backend::Sqlite).await else {
        return;
    };
    let post = |body: &'static str, sign: bool| {
        let app = &app;
        async move {
            let ts = chrono::Utc::now().timestamp();
            let mut req = app
                .http
                .post(app.url("/slack/interactions"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("X-Slack-Request-Timestamp", ts.to_string());
            if sign {
                let sig = xtc_slack::slack::signing::sign(
                    &secrecy::SecretString::from(SIGNING_SECRET.to_owned()),
                    ts,
                    body.as_bytes(),
                );
                req = req.header("X-Slack-Signature", sig);
            }
            let res = req.body(body).send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.text().await.unwrap())
        }
    };
    assert_eq!(post("payload=%7B%7D", false).await.0, 401);
    let (status, body) = post("nothing=here", true).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post("payload=not-json", true).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post("payload=%7B%22type%22%3A%22view_closed%22%7D", true).await;
    assert_eq!(status, 200, "other interactions are ignored: {body}");
    let (status, body) = post("payload=%7B%22type%22%3A%22view_submission%22%7D", true).await;
    assert_eq!(status, 400, "a submission without its view: {body}");
}

// The real binary killed with SIGKILL right after it answered a click: after a restart the
// card shows the acknowledgement and the thread has the reply (nothing was lost).
crate::test_both_backends! {
    async fn a_click_answered_just_before_kill_9_is_not_lost(app: TestApp) {
        click_then_kill_9(app.backend).await;
    }
}

/// (PostgreSQL: what was in flight at the kill is taken over when its 30 s lease ends.)
async fn click_then_kill_9(backend: Backend) {
    use crate::shutdown::{binary_app, serve, wait_ready};
    captured_logs();
    let Some((app, mut child, log, port)) = binary_app(backend).await else {
        return;
    };
    app.configure_acme(json!({"threads": true, "target_channels": "#load-tests"}))
        .await;
    let url = app.url("/slack/interactions");
    app.fake_post("/interactivity", json!({ "url": url })).await;
    report(&app, "e1", "failure", 0).await;
    let card = the_card(&app).await;

    // Slack throttles whatever comes after the click, so it is still to do when the
    // process dies.
    for method in ["chat.update", "chat.postMessage"] {
        app.fake_post(
            "/fail",
            json!({"method": method, "count": 1000, "http_status": 429, "retry_after": 1}),
        )
        .await;
    }
    let res = click(&app, &card, "incident.ack", json!({})).await;
    assert_eq!(res["status"], 200, "{res}");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for method in ["chat.update", "chat.postMessage"] {
        app.fake_post("/fail", json!({"method": method, "count": 0}))
            .await;
    }
    let shown_now = shown(&cards(&messages(&app, "load-tests", 0).await)[0]);
    assert!(
        !shown_now.contains("Acknowledged by"),
        "the edit went out before the kill; the test proves nothing"
    );

    let mut child = serve(&app.db, app.fake(), port, &log);
    wait_ready(&app.http, port).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let got = loop {
        let got = messages(&app, "load-tests", 0).await;
        let done = shown(&cards(&got)[0]).contains("Acknowledged by")
            && got.iter().any(|m| m["thread_ts"] == card["ts"]);
        if done || Instant::now() > deadline {
            break got;
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(shown(&cards(&got)[0]).contains("\"sam\""), "{got:#?}");
    let replies: Vec<_> = got
        .iter()
        .filter(|m| m["thread_ts"] == card["ts"])
        .collect();
    assert_eq!(replies.len(), 1, "{replies:#?}");
    assert!(
        shown(replies[0]).contains("Acknowledged by"),
        "{replies:#?}"
    );
    assert_eq!(audit(&app).len(), 1);
    child.kill().unwrap();
    child.wait().unwrap();
}

crate::test_both_backends! {
    async fn the_web_ui_lists_mutes_and_an_admin_ends_one(app: TestApp) {
        use crate::ui::Browser;
        let Some((app, _admin)) = app_with_buttons(app.backend).await else { return };
        report(&app, "e1", "failure", 0).await;
        let card = the_card(&app).await;
        let b = Browser::new(&app);
        assert_eq!(b.sign_in(&app.admin_token("acme")).await.status, 303);
        let page = b.get("/orgs/acme/projects/webshop/slack").await;
        assert!(page.body.contains("id=\"no-mutes\""), "{}", page.body);

        click(&app, &card, "incident.mute_recovered", json!({})).await;
        for path in ["/orgs/acme/projects/webshop/slack", "/orgs/acme/slack"] {
            let page = b.get(path).await;
            assert_eq!(page.status, 200);
            assert!(page.body.contains("muted by sam until recovered"), "{path}: {}", page.body);
            assert!(page.body.contains("id=\"end-mute-shop-checkout\""), "{path}");
        }
        // From the organization's page: back there afterwards.
        let ended = b
            .submit(
                "/orgs/acme/slack",
                "/orgs/acme/projects/webshop/slack/mutes/shop-checkout/end",
                &[("from", "org")],
            )
            .await;
        assert_eq!(ended.status, 303, "{}", ended.body);
        assert_eq!(ended.location.as_deref(), Some("/orgs/acme/slack#mutes"));
        let page = b.get("/orgs/acme/slack").await;
        assert!(page.body.contains("The mute ended"), "{}", page.body);
        assert!(page.body.contains("id=\"no-mutes\""), "{}", page.body);
        // Ending it again: the page says there is nothing to end.
        let again = b
            .submit(
                "/orgs/acme/projects/webshop/slack",
                "/orgs/acme/projects/webshop/slack/mutes/shop-checkout/end",
                &[],
            )
            .await;
        assert_eq!(again.status, 404, "{}", again.body);
        let forged = b
            .post("/orgs/acme/projects/webshop/slack/mutes/shop-checkout/end", &[("csrf", "x")])
            .await;
        assert_eq!(forged.status, 403);
    }
}

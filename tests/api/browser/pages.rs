//! Every page of the web UI passes axe-core, checked with what a page shows at its fullest:
//! deliveries sent, failed, skipped and waiting for a retry, a muted incident, channel
//! warnings, a revoked integration, test results, refused saves and the error pages.

use serde_json::{json, Value};

use super::Browser;
use crate::helpers::{try_spawn_fast_app, Backend, TestApp};
use crate::pipeline::{lt_body, messages, post_lt, post_mon};

const ORG: &str = "/orgs/acme/slack";
const PROJECT: &str = "/orgs/acme/projects/webshop/slack";

/// A monitoring result of `shop-checkout`, `minutes_ago` minutes ago.
fn result(event_id: &str, state: &str, minutes_ago: i64) -> Value {
    let at = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
    json!({
        "event_id": event_id, "org": "acme", "project": "webshop",
        "occurred_at": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "scenario": {"name": "Shop checkout", "url": "https://xtc.example/mon/77"},
        "notify_via": ["slack"], "state": state,
        "execution": {"id": event_id, "url": "https://xtc.example/ex/1", "location": "eu-west"},
        "failed_sensors": [{"name": "Page load < 3s", "message": "3.8s"}],
    })
}

/// Deliveries of every kind for acme/webshop: an incident card, muted from Slack by sam, a
/// change skipped because of the mute, `#perf` archived (a failed delivery and a channel
/// warning) and a load test event Slack keeps answering 503 to (waiting for a retry).
async fn deliveries_of_every_kind(app: &TestApp, admin: &str) {
    let url = app.url("/slack/interactions");
    app.fake_post("/interactivity", json!({ "url": url })).await;
    let (status, res) = post_mon(app, "shop-checkout", result("m1", "failure", 30)).await;
    assert_eq!(status, 202, "{res}");
    let card = messages(app, "load-tests", 1).await[0].clone();
    let click = app
        .fake_post(
            "/interactions",
            json!({"channel": card["channel"], "ts": card["ts"],
                   "action_id": "incident.mute_1h", "user": "U0FAKEUSR02"}),
        )
        .await;
    assert_eq!(click["status"], 200, "{click}");
    let (status, res) = post_mon(app, "shop-checkout", result("m2", "fatal", 10)).await;
    assert_eq!(status, 202, "{res}");

    app.fake_post("/channels", json!({"name": "perf", "is_archived": true}))
        .await;
    let (status, body) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/orgs/acme/slack/channel-check",
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, res) = post_lt(app, "lt-1", lt_body("lt-started", "started")).await;
    assert_eq!(status, 202, "{res}");
    // Two reported runs of one definition, the first pinned: the project's Baselines table.
    for lt in ["lt-a", "lt-b"] {
        for (i, kind) in ["running", "finished", "report_available"]
            .into_iter()
            .enumerate()
        {
            let mut body = lt_body(&format!("{lt}-{i}"), kind);
            body["load_test"]["definition"] = json!({"id": "checkout-peak"});
            let (status, res) = post_lt(app, lt, body).await;
            assert_eq!(status, 202, "{res}");
        }
    }
    let (status, res) = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/projects/webshop/slack/baselines/checkout-peak",
            Some(admin),
            Some(json!({"load_test_id": "lt-a"})),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let log = app.settled_deliveries(admin).await;
    for wanted in ["sent", "failed", "skipped"] {
        assert!(
            log.iter().any(|d| d["status"] == wanted),
            "no {wanted} delivery: {log:#?}"
        );
    }

    app.fake_post(
        "/fail",
        json!({"method": "chat.postMessage", "count": 1000, "http_status": 503}),
    )
    .await;
    let (status, res) = post_lt(app, "lt-2", lt_body("lt2-started", "started")).await;
    assert_eq!(status, 202, "{res}");
}

/// Waits until the page shows `text` (after a click or a redirect), then runs axe on it and
/// keeps a screenshot.
async fn check(b: &mut Browser, text: &str, name: &str) {
    assert!(b.page_has(text).await, "{name}: {text:?} not on the page");
    b.audit(name).await;
    b.shot(&format!("axe-{name}")).await;
}

#[actix_web::test]
async fn every_page_of_the_web_ui_passes_axe_with_deliveries_warnings_mutes_and_errors() {
    let Some(mut b) = Browser::start().await else {
        return;
    };
    if b.axe.is_none() {
        return;
    }
    let app = try_spawn_fast_app(Backend::Sqlite, |a| {
        a.slack_signing_secret = Some("fake-signing-secret".into());
    })
    .await
    .unwrap();
    app.seed_acme().await;
    let admin = app.admin_token("acme");

    // Signed out: the sign-in page, a refused token, the landing after an install from the
    // API, a declined install.
    b.goto(&app.url("/")).await;
    check(&mut b, "Admin token", "sign-in").await;
    b.type_into("token", "xtcs_not-a-token").await;
    b.click("sign-in").await;
    check(&mut b, "id=\"signin-error\"", "sign-in-refused").await;
    let authorize = app.install_url("/api/v1/orgs/acme", &admin).await;
    b.goto(&authorize).await;
    b.click("deny").await;
    check(&mut b, "id=\"hint\"", "oauth-failure").await;
    let authorize = app.install_url("/api/v1/orgs/acme", &admin).await;
    b.goto(&authorize).await;
    b.click("approve").await;
    b.wait_for_path(&format!("{ORG}?installed=1")).await;
    check(&mut b, "id=\"installed-message\"", "installed-landing").await;

    let (status, res) = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/slack",
            Some(&admin),
            Some(json!({"send_messages": true, "threads": true,
                        "target_channels": "#load-tests #perf"})),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    deliveries_of_every_kind(&app, &admin).await;

    // Signed in: the organization's page with all of it, then a test message, a rule, a
    // refused save, filters, the confirmation step.
    b.type_into("token", &admin).await;
    b.click("sign-in").await;
    b.wait_for_path(ORG).await;
    check(&mut b, "id=\"mute-list\"", "org").await;
    assert!(b.page_has("id=\"channel-warnings\"").await);
    assert!(b.page_has("class=\"badge wait\"").await, "a delivery waits");
    app.fake_post("/fail", json!({"method": "*", "count": 0}))
        .await;
    b.click("send-test").await;
    check(&mut b, "id=\"test-results\"", "org-test-results").await;
    b.type_into("rule_channel_0", "#load-tests").await;
    b.click("rule_events_0_1").await;
    b.type_into("rule_mention_0", "@here").await;
    b.click("save-rules").await;
    check(&mut b, "Notification rules saved.", "org-rules-saved").await;
    b.type_into("target_channels", "#load-tests #Bad!Name")
        .await;
    b.select("threads", "disabled").await;
    b.click("save").await;
    check(&mut b, "Nothing was saved.", "org-refused-save").await;
    b.goto(&app.url(&format!("{ORG}?status=bogus"))).await;
    check(&mut b, "id=\"filter-problem\"", "org-filter-problem").await;
    b.goto(&app.url(&format!("{ORG}?status=failed&project=webshop")))
        .await;
    check(&mut b, "id=\"delivery-log\"", "org-failed-deliveries").await;
    b.goto(&app.url(&format!("{ORG}/remove"))).await;
    check(&mut b, "id=\"confirm-remove\"", "org-remove-confirm").await;

    // The project's page: its deliveries, the mute, the inherited rules; a refused save.
    b.goto(&app.url(PROJECT)).await;
    check(&mut b, "id=\"inherited-rules\"", "project").await;
    assert!(b.page_has("id=\"mute-list\"").await);
    assert!(b.page_has("id=\"baseline-table\"").await);
    assert!(b.page_has("pinned by").await);
    // Pin the newest run from the page: the table says so.
    b.click("pin-0").await;
    check(
        &mut b,
        "is now the baseline of checkout-peak",
        "project-pinned",
    )
    .await;
    b.type_into("target_channels", "#Bad!Name").await;
    b.click("save").await;
    check(&mut b, "Nothing was saved.", "project-refused-save").await;

    // Maintenance windows: one active now and a weekly one listed, then a refused create.
    let now = chrono::Utc::now();
    for body in [
        json!({"starts_at": (now - chrono::Duration::minutes(5)).to_rfc3339(),
               "ends_at": (now + chrono::Duration::hours(2)).to_rfc3339(),
               "scenarios": ["checkout"], "reason": "DB upgrade"}),
        json!({"weekly": {"days": ["sat", "sun"], "from": "22:00", "to": "02:00",
                          "timezone": "Europe/Berlin"}, "reason": "Weekend batch"}),
    ] {
        let (status, res) = app
            .call(
                reqwest::Method::POST,
                "/api/v1/orgs/acme/projects/webshop/slack/maintenance-windows",
                Some(&admin),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{res}");
    }
    b.goto(&app.url(PROJECT)).await;
    check(&mut b, "id=\"window-table\"", "project-maintenance-windows").await;
    assert!(b.page_has("badge wait\">active").await);
    b.click("window-weekly").await;
    b.type_into("window-timezone", "Mars/Olympus").await;
    b.type_into("window-reason", "Moon maintenance").await;
    b.click("create-window").await;
    check(&mut b, "Nothing was saved: Days:", "project-window-refused").await;
    // The weekly summary: its schedule fields, the preview drawn as HTML with its links,
    // "Send summary now".
    b.goto(&app.url(PROJECT)).await;
    check(&mut b, "id=\"summary-preview\"", "project-summary-preview").await;
    assert!(
        b.page_has("<strong>Monitoring:</strong>").await,
        "the scenario's line"
    );
    assert!(
        b.page_has("href=\"https://xtc.example/mon/77\"").await,
        "linked"
    );
    b.click("send-summary").await;
    check(
        &mut b,
        "Weekly summary of the last 7 days sent",
        "project-summary-sent",
    )
    .await;

    // Error pages: a page that does not exist, another organization's.
    b.goto(&app.url("/orgs/acme/slack/nothing-here")).await;
    check(&mut b, "id=\"error-title\"", "not-found").await;
    b.goto(&app.url("/orgs/globex/slack")).await;
    check(&mut b, "id=\"error-title\"", "forbidden").await;

    // An installation made before charts (no files:write): the missing-scope warning.
    {
        use diesel::prelude::*;
        use xtc_slack::db::schema::slack_installations;
        let mut conn = app.db.connect();
        diesel::update(slack_installations::table)
            .set(
                slack_installations::scopes
                    .eq("chat:write,chat:write.public,channels:read,team:read"),
            )
            .execute(&mut conn)
            .unwrap();
    }
    b.goto(&app.url(ORG)).await;
    check(&mut b, "id=\"settings-warnings\"", "org-missing-scope").await;

    // The integration revoked by Slack: the warning.
    {
        use xtc_slack::db::models::installation::Installation;
        let mut conn = app.db.connect();
        let inst = Installation::find_by_scope(&mut conn, "acme", None)
            .unwrap()
            .unwrap();
        Installation::mark_revoked(&mut conn, &inst.id, "token_revoked").unwrap();
    }
    b.goto(&app.url(ORG)).await;
    check(&mut b, "id=\"integration-warning\"", "org-revoked").await;

    // Signed out: the notice, and a page that needs signing in.
    b.click("sign-out").await;
    b.wait_for_path("/?signed_out=1").await;
    check(&mut b, "Admin token", "signed-out").await;
    b.goto(&app.url(PROJECT)).await;
    check(&mut b, "Please sign in", "sign-in-required").await;

    b.client.clone().close().await.unwrap();
}

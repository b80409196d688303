//! "Mute for…" (issue 26): the button opens a Slack modal (`views.open` with the click's
//! `trigger_id`), the fake Slack lets sam fill and submit it, and its `view_submission`
//! mutes the incident like the other mute buttons, with field errors for a wrong date.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::interactions::{
    app_with_buttons, audit, cards, click, deliveries_and_mutes, report, shown, the_card, wait_for,
    SAM,
};

/// Clicks "Mute for…" on the card as sam; the dialog the app opened (the fake's view).
async fn open_dialog(app: &TestApp, card: &Value) -> Value {
    let started = std::time::Instant::now();
    let res = click(app, card, "incident.mute_for", json!({})).await;
    let took = started.elapsed();
    assert_eq!(res["status"], 200, "{res}");
    // The dialog opens before the click is answered: well within Slack's 3 s.
    eprintln!("Mute for…: views.open and the answer took {took:?}");
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    let views = app.fake_get("/views").await;
    let open: Vec<Value> = views["views"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["open"] == true)
        .cloned()
        .collect();
    assert_eq!(open.len(), 1, "one open dialog: {views:#}");
    open[0].clone()
}

async fn submit(app: &TestApp, view: &Value, body: Value) -> Value {
    let id = view["id"].as_str().unwrap();
    app.fake_post(&format!("/views/{id}/submit"), body).await
}

fn mutes_in_audit(app: &TestApp) -> Vec<Value> {
    audit(app)
        .into_iter()
        .filter(|(_, action, _)| action == "incident.mute")
        .map(|(_, _, details)| serde_json::from_str(&details).unwrap())
        .collect()
}

crate::test_both_backends! {
    async fn mute_for_opens_a_dialog_whose_submission_mutes_once_with_its_reason(app: TestApp) {
        let Some((app, admin)) = app_with_buttons(app.backend).await else { return };
        report(&app, "e1", "failure", 0).await;
        let card = the_card(&app).await;
        assert!(shown(&card).contains("incident.mute_for"), "{}", shown(&card));

        let view = open_dialog(&app, &card).await;
        assert_eq!(view["user"], SAM);
        assert_eq!(view["view"]["title"]["text"], "Mute incident");
        assert_eq!(view["view"]["callback_id"], "incident.mute_for");

        let reason = "deploy <!here> *now*";
        let before = chrono::Utc::now();
        let res = submit(&app, &view, json!({"values": {"mute_duration": "4h", "mute_reason": reason}})).await;
        assert_eq!(res["status"], 200, "{res}");
        assert_eq!(res["body"], "", "an empty answer closes the dialog: {res}");
        assert_eq!(res["open"], false);
        assert_eq!(res["payload"]["type"], "view_submission");

        let got = wait_for(&app, |got| {
            shown(&cards(got)[0]).contains("Reason: ")
                && got.iter().any(|m| m["thread_ts"] == card["ts"] && shown(m).contains("deploy"))
        })
        .await;
        let now_card = shown(&cards(&got)[0]);
        assert!(now_card.contains("Muted by ") && now_card.contains("deploy &lt;!here&gt; *now*"), "{now_card}");
        assert!(!now_card.contains("incident.mute_for"), "muted: Unmute instead: {now_card}");
        let reply = got.iter().find(|m| m["thread_ts"] == card["ts"]).unwrap();
        assert!(reply["mentions"].as_array().is_none_or(Vec::is_empty), "never pings: {reply}");

        let mutes = mutes_in_audit(&app);
        assert_eq!(mutes.len(), 1, "{mutes:#?}");
        assert_eq!(mutes[0]["reason"], reason);
        assert_eq!(mutes[0]["user_id"], SAM);
        let until = chrono::DateTime::parse_from_rfc3339(mutes[0]["until"].as_str().unwrap()).unwrap();
        let hours = (until.with_timezone(&chrono::Utc) - before).num_minutes();
        assert!((239..=241).contains(&hours), "four hours: {hours} min");
        let (_, listed) = deliveries_and_mutes(&app, &admin).await;
        assert_eq!(listed.len(), 1, "{listed:#?}");
        assert_eq!(listed[0]["comment"], reason, "{listed:#?}");
        // The settings page lists it with its reason, escaped.
        let b = crate::ui::Browser::new(&app);
        assert_eq!(b.sign_in(&app.admin_token("acme")).await.status, 303);
        let page = b.get("/orgs/acme/projects/webshop/slack").await;
        assert!(
            page.body.contains("<strong>Reason:</strong> <span class=\"mute-comment\">deploy &lt;!here&gt; *now*</span>"),
            "{}",
            page.body
        );

        // Slack sending the same submission again (a retry or a replay) changes nothing.
        let again = submit(&app, &view, json!({"replay": true})).await;
        assert_eq!(again["status"], 200, "{again}");
        assert_eq!(mutes_in_audit(&app).len(), 1, "one mute for one dialog");
        // Give a second reply time to show up, were there one.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(1_500)).await;
        let got = wait_for(&app, |_| true).await;
        let replies = got.iter().filter(|m| m["thread_ts"] == card["ts"]).count();
        assert_eq!(replies, 1, "one reply: {got:#?}");
    }
}

crate::test_both_backends! {
    async fn a_past_or_missing_date_is_answered_with_field_errors_and_mutes_nothing(app: TestApp) {
        let Some((app, _admin)) = app_with_buttons(app.backend).await else { return };
        report(&app, "e1", "failure", 0).await;
        let card = the_card(&app).await;
        let view = open_dialog(&app, &card).await;
        let now = chrono::Utc::now().timestamp();

        for (what, values, field) in [
            ("a past date", json!({"mute_duration": "date", "mute_until": now - 3_600}), "mute_until"),
            ("no date", json!({"mute_duration": "date"}), "mute_until"),
            ("too far ahead", json!({"mute_duration": "date", "mute_until": now + 31 * 86_400}), "mute_until"),
        ] {
            let res = submit(&app, &view, json!({ "values": values })).await;
            assert_eq!(res["status"], 200, "{what}: {res}");
            let answer: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
            assert_eq!(answer["response_action"], "errors", "{what}: {answer}");
            assert!(answer["errors"][field].as_str().is_some_and(|m| !m.is_empty()), "{what}: {answer}");
            assert_eq!(res["open"], true, "{what}: the dialog stays open");
            assert!(res["errors"][field].is_string(), "{what}: shown under the field: {res}");
        }
        assert!(mutes_in_audit(&app).is_empty(), "nothing muted");

        // Corrected: a time two days ahead mutes until then.
        let until = now + 2 * 86_400;
        let res = submit(&app, &view, json!({"values": {"mute_duration": "date", "mute_until": until}})).await;
        assert_eq!(res["body"], "", "{res}");
        let mutes = mutes_in_audit(&app);
        assert_eq!(mutes.len(), 1);
        let got = chrono::DateTime::parse_from_rfc3339(mutes[0]["until"].as_str().unwrap()).unwrap();
        assert_eq!(got.timestamp(), until);
        assert!(mutes[0].get("reason").is_none(), "no reason given: {}", mutes[0]);
    }
}

crate::test_both_backends! {
    async fn forged_dialogs_and_expired_triggers_change_nothing(app: TestApp) {
        let Some((app, _admin)) = app_with_buttons(app.backend).await else { return };
        report(&app, "e1", "failure", 0).await;
        let card = the_card(&app).await;

        // Slack answers views.open too late: nothing opens, the click is answered and logged,
        // and the person is told to click again.
        let fail = app.fake_post("/fail", json!({"method": "views.open", "count": 1, "error": "expired_trigger_id"})).await;
        assert_eq!(fail["ok"], true, "{fail}");
        let started = std::time::Instant::now();
        let res = click(&app, &card, "incident.mute_for", json!({})).await;
        assert_eq!(res["status"], 200, "{res}");
        assert!(started.elapsed() < std::time::Duration::from_secs(3), "answered within Slack's 3 s");
        let views = app.fake_get("/views").await;
        assert_eq!(views["views"], json!([]), "{views}");
        let calls = app.fake_get("/calls?method=views.open").await;
        assert_eq!(calls["calls"][0]["error"], "expired_trigger_id", "{calls}");
        let told = loop_until(|| async {
            let r = app.fake_get("/responses").await;
            r["responses"].as_array().filter(|a| !a.is_empty()).cloned()
        })
        .await;
        assert!(told[0].to_string().contains("again"), "{told:?}");

        // A dialog whose metadata names another card, another team or nothing of ours.
        let view = open_dialog(&app, &card).await;
        let meta: Value = serde_json::from_str(view["view"]["private_metadata"].as_str().unwrap()).unwrap();
        let mut other_ref = meta.clone();
        other_ref["ref"] = json!("AAAAAAAAAAAAAAAAAAAAAA");
        let mut other_team = meta.clone();
        other_team["team"] = json!("T0NOBODY01");
        for (what, forged) in [
            ("another reference", other_ref.to_string()),
            ("another team", other_team.to_string()),
            ("not ours", "{\"x\": 1}".to_owned()),
        ] {
            let res = submit(&app, &view, json!({"values": {"mute_duration": "1h"}, "private_metadata": forged})).await;
            assert_eq!(res["status"], 403, "{what}: {res}");
        }
        let res = submit(&app, &view, json!({"values": {"mute_duration": "1h"}, "team_id": "T0NOBODY01"})).await;
        assert_eq!(res["status"], 403, "a submission from another workspace: {res}");
        let res = submit(&app, &view, json!({"values": {"mute_duration": "1h"}, "signing_secret": "wrong"})).await;
        assert_eq!(res["status"], 401, "{res}");
        assert!(mutes_in_audit(&app).is_empty(), "nothing muted");
        assert!(!shown(&the_card(&app).await).contains("Muted by"));
    }
}

/// Polls `f` (every 100 ms, at most 10 s) until it gives something.
async fn loop_until<T, F, Fut>(f: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

//! Slack settings through the API: shapes, the five resolution rules, channel validation
//! and resolution through Slack, audit entries.

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};
use xtc_slack::db::models::audit::AuditEntry;
use xtc_slack::db::schema::{org_slack_settings, project_slack_settings};

use crate::helpers::TestApp;
use crate::{test_both_backends, test_both_backends_with_slack};

pub(crate) const ORG: &str = "/api/v1/orgs/acme/slack";
pub(crate) const PROJECT: &str = "/api/v1/orgs/acme/projects/webshop/slack";

pub(crate) async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    let (status, body) = app.call(Method::GET, path, Some(token), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

pub(crate) async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    app.call(Method::PUT, path, Some(token), Some(body)).await
}

pub(crate) fn sourced(value: Value, source: &str) -> Value {
    json!({"value": value, "source": source})
}

test_both_backends! {
    async fn a_fresh_org_shows_the_documented_defaults(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let body = get(&app, ORG, &admin).await;
        assert_eq!(body["send_messages"], false);
        assert_eq!(body["threads"], false);
        assert_eq!(body["compact_messages"], false);
        assert_eq!(body["target_channels"], json!([]));
        assert_eq!(body["integration"], Value::Null);
        assert_eq!(body["complete"], false);
    }
}

test_both_backends! {
    async fn org_settings_change_field_by_field_and_are_audited(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let (status, body) = put(&app, ORG, &admin, json!({
            "send_messages": true, "target_channels": "#load-tests  perf", "threads": true,
            "compact_messages": false
        })).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["send_messages"], true);
        assert_eq!(body["threads"], true);
        assert_eq!(body["target_channels"], json!(["#load-tests", "#perf"]));

        // Omitted fields stay; an array works as well as a string.
        let (status, body) = put(&app, ORG, &admin, json!({"target_channels": ["#a", "b c"]})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["send_messages"], true);
        assert_eq!(body["threads"], true);
        assert_eq!(body["target_channels"], json!(["#a", "#b", "#c"]));
        assert_eq!(get(&app, ORG, &admin).await, body);

        let (status, _) = put(&app, ORG, &admin, json!({"threads": false})).await;
        assert_eq!(status, 200);
        let body = get(&app, ORG, &admin).await;
        assert_eq!(body["threads"], false);
        assert_eq!(body["target_channels"], json!(["#a", "#b", "#c"]));

        let mut conn = app.db.connect();
        let entries = AuditEntry::list_by_org(&mut conn, "acme", 10).unwrap();
        assert_eq!(entries.len(), 3);
        assert!(entries.iter().all(|e| e.action == "slack_settings.update"));
        assert!(entries[0].actor.contains("tok_"));
        assert!(entries[0].details.contains("threads"), "{}", entries[0].details);
        assert!(!entries.iter().any(|e| e.details.contains("xtcs_")));
    }
}

test_both_backends! {
    async fn wrong_types_are_422_naming_the_field(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        for (body, field) in [
            (json!({"send_messages": "yes"}), "send_messages"),
            (json!({"threads": 1}), "threads"),
            (json!({"target_channels": 5}), "target_channels"),
        ] {
            let (status, res) = put(&app, ORG, &admin, body).await;
            assert_eq!((status, res["field"].as_str()), (422, Some(field)), "{res}");
        }
        let (status, res) = put(&app, PROJECT, &admin, json!({"threads": true})).await;
        assert_eq!((status, res["field"].as_str()), (422, Some("send_messages")), "{res}");
        assert_eq!(res["error"], "invalid_request");
        let (status, res) = put(&app, PROJECT, &admin, json!({"send_messages": null})).await;
        assert_eq!((status, res["field"].as_str()), (422, Some("send_messages")), "{res}");
    }
}

test_both_backends! {
    async fn unregistered_orgs_and_projects_are_404(app: TestApp) {
        app.seed_acme().await;
        let ghost_admin = app.admin_token("ghost");
        let (status, res) = app.call(Method::GET, "/api/v1/orgs/ghost/slack", Some(&ghost_admin), None).await;
        assert_eq!((status, res["error"].as_str()), (404, Some("not_found")));
        let (status, _) = put(&app, "/api/v1/orgs/ghost/slack", &ghost_admin, json!({"threads": true})).await;
        assert_eq!(status, 404);
        let admin = app.admin_token("acme");
        for method in [Method::GET, Method::DELETE] {
            let (status, _) = app.call(method, "/api/v1/orgs/acme/projects/nope/slack", Some(&admin), None).await;
            assert_eq!(status, 404);
        }
        let (status, _) = put(&app, "/api/v1/orgs/acme/projects/nope/slack", &admin, json!({"send_messages": true})).await;
        assert_eq!(status, 404);
        let (status, _) = app.call(Method::POST, "/api/v1/orgs/acme/projects/nope/slack/test-message", Some(&admin), None).await;
        assert_eq!(status, 404);
    }
}

test_both_backends! {
    async fn the_resolution_rules_hold_through_the_api(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        put(&app, ORG, &admin, json!({
            "send_messages": true, "threads": true, "compact_messages": true,
            "target_channels": "#load-tests"
        })).await;

        // No own settings: everything comes from the organization.
        let body = get(&app, PROJECT, &admin).await;
        assert_eq!(body["own"], Value::Null);
        let e = &body["effective"];
        assert_eq!(e["send_messages"], sourced(json!(true), "organization"));
        assert_eq!(e["threads"], sourced(json!(true), "organization"));
        assert_eq!(e["compact_messages"], sourced(json!(true), "organization"));
        assert_eq!(e["target_channels"], sourced(json!(["#load-tests"]), "organization"));
        assert_eq!(e["integration"], sourced(Value::Null, "organization"));
        assert_eq!(e["complete"], false);

        // Rule 1: a project set to disabled stays disabled under an enabled org.
        // Rule 3: empty channels inherit. Rule 4: null inherits, a value overrides.
        let (status, body) = put(&app, PROJECT, &admin, json!({
            "send_messages": false, "target_channels": "", "threads": null, "compact_messages": false
        })).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["own"], json!({
            "send_messages": false, "threads": null, "compact_messages": false,
            "target_channels": [], "integration": null, "rules": [],
            "regression_threshold_pct": null, "charts": null, "during_load_tests": null, "summary": null
        }));
        let e = &body["effective"];
        assert_eq!(e["send_messages"], sourced(json!(false), "project"));
        assert_eq!(e["threads"], sourced(json!(true), "organization"));
        assert_eq!(e["compact_messages"], sourced(json!(false), "project"));
        assert_eq!(e["target_channels"], sourced(json!(["#load-tests"]), "organization"));
        assert_eq!(get(&app, PROJECT, &admin).await, body);

        // Rule 3: non-empty channels override.
        let (_, body) = put(&app, PROJECT, &admin, json!({"send_messages": true, "target_channels": ["#perf"]})).await;
        let e = &body["effective"];
        assert_eq!(e["send_messages"], sourced(json!(true), "project"));
        assert_eq!(e["target_channels"], sourced(json!(["#perf"]), "project"));
        // PUT replaces: compact_messages went back to null, so it is inherited again.
        assert_eq!(e["compact_messages"], sourced(json!(true), "organization"));

        // The org disabling sending does not change a project that decided itself.
        put(&app, ORG, &admin, json!({"send_messages": false})).await;
        let body = get(&app, PROJECT, &admin).await;
        assert_eq!(body["effective"]["send_messages"], sourced(json!(true), "project"));

        // DELETE: the project inherits everything again.
        let (status, _) = app.call(Method::DELETE, PROJECT, Some(&admin), None).await;
        assert_eq!(status, 204);
        let body = get(&app, PROJECT, &admin).await;
        assert_eq!(body["own"], Value::Null);
        assert_eq!(body["effective"]["send_messages"], sourced(json!(false), "organization"));
        assert_eq!(body["effective"]["target_channels"], sourced(json!(["#load-tests"]), "organization"));
        let (status, _) = app.call(Method::DELETE, PROJECT, Some(&admin), None).await;
        assert_eq!(status, 204);

        let mut conn = app.db.connect();
        let n: i64 = project_slack_settings::table.count().get_result(&mut conn).unwrap();
        assert_eq!(n, 0);
        let actions: Vec<String> = AuditEntry::list_by_org(&mut conn, "acme", 50).unwrap().into_iter().map(|e| e.action).collect();
        assert!(actions.contains(&"slack_settings.delete".to_owned()), "{actions:?}");
    }
}

test_both_backends! {
    async fn users_dms_private_channels_and_bad_names_are_refused(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        for bad in ["@jane", "U0123ABCD", "W0123ABCD", "D0123ABCD", "G0123ABCD", "#General", "#a.b", "#"] {
            for path in [ORG, PROJECT] {
                let body = if path == ORG {
                    json!({"target_channels": format!("#ok {bad}")})
                } else {
                    json!({"send_messages": true, "target_channels": [bad]})
                };
                let (status, res) = put(&app, path, &admin, body).await;
                assert_eq!(status, 422, "{bad}: {res}");
                assert_eq!(res["error"], "invalid_request");
                assert_eq!(res["field"], "target_channels");
                let message = res["message"].as_str().unwrap();
                assert!(message.contains("only public channels are supported"), "{message}");
                assert!(message.contains(bad), "{message}");
            }
        }
        // Nothing was stored.
        assert_eq!(get(&app, ORG, &admin).await["target_channels"], json!([]));
        let mut conn = app.db.connect();
        let n: i64 = org_slack_settings::table.count().get_result(&mut conn).unwrap();
        assert_eq!(n, 0);
    }
}

test_both_backends_with_slack! {
    async fn with_an_integration_names_are_resolved_to_ids_and_bad_channels_refused(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        app.install_slack("/api/v1/orgs/acme", &admin).await;

        let (status, body) = put(&app, ORG, &admin, json!({"target_channels": "#load-tests C0FAKE0PRF1"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["target_channels"], json!(["#load-tests", "#perf"]));
        assert_eq!(body["complete"], true);
        let mut conn = app.db.connect();
        let stored: String = org_slack_settings::table.select(org_slack_settings::target_channels).first(&mut conn).unwrap();
        let stored: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(stored, json!([{"id": "C0FAKE0LDT1", "name": "load-tests"}, {"id": "C0FAKE0PRF1", "name": "perf"}]));

        for (bad, why) in [("#nope", "does not exist"), ("#secret-ops", "private"), ("#old-alerts", "archived"), ("C0FAKE0SEC1", "private"), ("C0FAKE0OLD1", "archived"), ("C0NOSUCH01", "does not exist")] {
            let (status, res) = put(&app, ORG, &admin, json!({"target_channels": ["#load-tests", bad]})).await;
            assert_eq!(status, 422, "{bad}: {res}");
            assert_eq!(res["field"], "target_channels");
            let message = res["message"].as_str().unwrap();
            assert!(message.contains(bad) && message.contains(why), "{message}");
            let (status, res) = put(&app, PROJECT, &admin, json!({"send_messages": true, "target_channels": bad})).await;
            assert_eq!(status, 422, "{bad}: {res}");
        }
        // The refused saves changed nothing.
        assert_eq!(get(&app, ORG, &admin).await["target_channels"], json!(["#load-tests", "#perf"]));

        // A rename in Slack changes nothing for delivery (the ID is stored); saving again
        // picks up the current name.
        app.fake_post("/channels", json!({"id": "C0FAKE0PRF1", "rename": "performance"})).await;
        let (status, body) = put(&app, ORG, &admin, json!({"target_channels": "C0FAKE0PRF1"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["target_channels"], json!(["#performance"]));
    }
}

test_both_backends_with_slack! {
    async fn an_unreachable_slack_during_channel_checks_is_503_and_stores_nothing(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        app.install_slack("/api/v1/orgs/acme", &admin).await;
        app.fake_post("/fail", json!({"method": "conversations.list", "count": 1, "http_status": 503})).await;
        let (status, res) = put(&app, ORG, &admin, json!({"target_channels": "#load-tests", "threads": true})).await;
        assert_eq!((status, res["error"].as_str()), (503, Some("unavailable")), "{res}");
        assert!(res["message"].as_str().unwrap().contains("Slack"), "{res}");
        let body = get(&app, ORG, &admin).await;
        assert_eq!(body["target_channels"], json!([]));
        assert_eq!(body["threads"], false);
    }
}

fn refused_channels(res: &Value) -> Vec<&str> {
    res["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors array: {res}"))
        .iter()
        .map(|e| e["channel"].as_str().unwrap())
        .collect()
}

test_both_backends! {
    async fn every_refused_channel_is_reported_at_once(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        for path in [ORG, PROJECT] {
            let body = if path == ORG {
                json!({"target_channels": "#ok @jane D0123ABCD #Bad @jane"})
            } else {
                json!({"send_messages": true, "target_channels": ["#ok @jane", "D0123ABCD", "#Bad"]})
            };
            let (status, res) = put(&app, path, &admin, body).await;
            assert_eq!(status, 422, "{res}");
            assert_eq!(res["error"], "invalid_request");
            assert_eq!(res["field"], "target_channels");
            let message = res["message"].as_str().unwrap();
            for bad in ["@jane", "D0123ABCD", "#Bad"] {
                assert!(message.contains(bad), "{bad}: {message}");
            }
            assert!(message.contains("3 problems"), "{message}");
            assert!(message.contains("only public channels are supported"), "{message}");
            assert!(!message.contains("#ok"), "{message}");
            // One entry per refused channel (a repeated one once), in the order typed.
            assert_eq!(refused_channels(&res), ["@jane", "D0123ABCD", "#Bad"], "{res}");
            for e in res["errors"].as_array().unwrap() {
                let m = e["message"].as_str().unwrap();
                assert!(m.contains(e["channel"].as_str().unwrap()), "{e}");
                assert!(m.contains("only public channels are supported"), "{e}");
            }
        }
        // A single refused channel: the message as before, and an errors array of one.
        let (status, res) = put(&app, ORG, &admin, json!({"target_channels": "#ok @jane"})).await;
        assert_eq!(status, 422, "{res}");
        assert_eq!(refused_channels(&res), ["@jane"]);
        assert_eq!(res["message"], res["errors"][0]["message"]);
        // Nothing was stored.
        assert_eq!(get(&app, ORG, &admin).await["target_channels"], json!([]));
        assert_eq!(get(&app, PROJECT, &admin).await["own"], Value::Null);
    }
}

test_both_backends_with_slack! {
    async fn with_an_integration_every_unknown_private_or_archived_channel_is_reported(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        app.install_slack("/api/v1/orgs/acme", &admin).await;
        let (status, body) = put(&app, ORG, &admin, json!({"target_channels": "#load-tests"})).await;
        assert_eq!(status, 200, "{body}");

        let typed = "#load-tests #nope #secret-ops C0FAKE0OLD1 C0NOSUCH01 #old-alerts";
        let (status, res) = put(&app, ORG, &admin, json!({"target_channels": typed})).await;
        assert_eq!(status, 422, "{res}");
        assert_eq!((res["error"].as_str(), res["field"].as_str()), (Some("invalid_request"), Some("target_channels")));
        let expected = ["#nope", "#secret-ops", "C0FAKE0OLD1", "C0NOSUCH01", "#old-alerts"];
        assert_eq!(refused_channels(&res), expected, "{res}");
        let message = res["message"].as_str().unwrap();
        for (bad, why) in [("#nope", "does not exist"), ("#secret-ops", "private"), ("C0FAKE0OLD1", "archived"), ("C0NOSUCH01", "does not exist"), ("#old-alerts", "archived")] {
            assert!(message.contains(bad), "{bad}: {message}");
            let e = res["errors"].as_array().unwrap().iter().find(|e| e["channel"] == bad).unwrap();
            assert!(e["message"].as_str().unwrap().contains(why), "{e}");
        }
        assert!(!refused_channels(&res).contains(&"#load-tests"));

        // Rule errors and Slack's answers come back together, on a project too.
        let (status, res) = put(&app, PROJECT, &admin, json!({"send_messages": true, "target_channels": "@jane #nope #perf #old-alerts"})).await;
        assert_eq!(status, 422, "{res}");
        assert_eq!(refused_channels(&res), ["@jane", "#nope", "#old-alerts"], "{res}");
        assert!(res["message"].as_str().unwrap().contains("only public channels are supported"), "{res}");

        // The refused saves changed nothing.
        assert_eq!(get(&app, ORG, &admin).await["target_channels"], json!(["#load-tests"]));
        assert_eq!(get(&app, PROJECT, &admin).await["own"], Value::Null);
    }
}

test_both_backends! {
    async fn unknown_keys_in_settings_and_registry_bodies_are_refused_and_nothing_is_saved(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        for (path, body, key) in [
            (ORG, json!({"sendmessages": true}), "sendmessages"),
            (ORG, json!({"send_messages": true, "target_channel": "#x"}), "target_channel"),
            (PROJECT, json!({"send_messages": true, "thread": true}), "thread"),
        ] {
            let (status, answer) = put(&app, path, &admin, body).await;
            assert_eq!((status, answer["field"].as_str()), (422, Some(key)), "{answer}");
            assert_eq!(answer["error"], "invalid_request");
        }
        assert_eq!(get(&app, ORG, &admin).await["send_messages"], json!(false));
        assert_eq!(get(&app, PROJECT, &admin).await["own"], Value::Null);
        let service = app.service_token.clone();
        let (status, answer) = app
            .call(Method::PUT, "/api/v1/orgs/acme", Some(&service), Some(json!({"name": "Acme", "nmae": "x"})))
            .await;
        assert_eq!((status, answer["field"].as_str()), (422, Some("nmae")), "{answer}");
    }
}

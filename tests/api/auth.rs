use diesel::prelude::*;
use reqwest::Method;
use serde_json::json;
use xtc_slack::db::schema::{api_tokens, events};
use xtc_slack::domain::access::Role;

use crate::helpers::*;
use crate::pipeline::{lt_body, messages};
use crate::test_both_backends;

test_both_backends! {
    async fn requests_without_a_valid_token_get_401(app: TestApp) {
        let body = Some(json!({"name": "Acme"}));
        let (status, res) = app.call(Method::PUT, "/api/v1/orgs/acme", None, body.clone()).await;
        assert_eq!((status, res["error"].as_str()), (401, Some("unauthenticated")));

        let (status, res) = app.call(Method::PUT, "/api/v1/orgs/acme", Some("garbage"), body.clone()).await;
        assert_eq!((status, res["error"].as_str()), (401, Some("unauthenticated")));

        let (status, res) = app
            .call(Method::PUT, "/api/v1/orgs/acme", Some("xtcs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), body.clone())
            .await;
        assert_eq!((status, res["error"].as_str()), (401, Some("unauthenticated")));

        let res = app.http.put(app.url("/api/v1/orgs/acme")).header("authorization", "Basic abc").json(&json!({"name": "x"})).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401);
    }
}

test_both_backends! {
    async fn a_revoked_token_gets_401(app: TestApp) {
        let token = app.create_token(xtc_slack::domain::access::Role::Service, None, None);
        let (status, _) = app.call(Method::PUT, "/api/v1/orgs/acme", Some(&token), Some(json!({"name": "Acme"}))).await;
        assert_eq!(status, 201);
        app.revoke_token(&token);
        let (status, res) = app.call(Method::PUT, "/api/v1/orgs/acme", Some(&token), Some(json!({"name": "Acme"}))).await;
        assert_eq!((status, res["error"].as_str()), (401, Some("unauthenticated")));
    }
}

test_both_backends! {
    async fn an_admin_token_may_not_use_service_endpoints(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let (status, res) = app.call(Method::PUT, "/api/v1/orgs/acme", Some(&admin), Some(json!({"name": "Acme"}))).await;
        assert_eq!((status, res["error"].as_str()), (403, Some("forbidden")));
        let (status, _) = app.call(Method::PUT, "/api/v1/orgs/acme/projects/x", Some(&admin), Some(json!({"name": "X"}))).await;
        assert_eq!(status, 403);
    }
}

test_both_backends! {
    async fn tokens_are_stored_only_as_hashes(app: TestApp) {
        let mut conn = app.db.connect();
        let stored: Vec<String> = api_tokens::table.select(api_tokens::token_hash).load(&mut conn).unwrap();
        assert!(!stored.is_empty());
        for hash in stored {
            assert_ne!(hash, app.service_token);
            assert!(!hash.starts_with("xtcs_"));
            assert_eq!(hash.len(), 64);
        }
    }
}

test_both_backends! {
    /// Concurrent requests' token checks are answered together (one statement for those
    /// that queued meanwhile); each request still gets its own token's answer.
    async fn concurrent_requests_with_different_tokens_each_get_their_own_answer(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let other_org_admin = app.create_token(xtc_slack::domain::access::Role::Admin, Some("globex"), None);
        let revoked = app.create_token(xtc_slack::domain::access::Role::Admin, Some("acme"), None);
        app.revoke_token(&revoked);
        let unknown = format!("xtcs_{}", "B".repeat(43));
        let cases = [(admin.as_str(), 200), (other_org_admin.as_str(), 403), (revoked.as_str(), 401), (unknown.as_str(), 401)];
        let calls = (0..48).map(|i| {
            let (token, expected) = cases[i % cases.len()];
            let app = &app;
            async move {
                let (status, body) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(token), None).await;
                (i, status, expected, body)
            }
        });
        for (i, status, expected, body) in futures_util::future::join_all(calls).await {
            assert_eq!(status, expected, "request {i}: {body}");
        }
    }
}

test_both_backends! {
    /// The event endpoints let in a token the checks saw live without checking it again, and
    /// the event's own transaction confirms it live (`http::auth::EventCaller`). A token
    /// revoked after it was used is still refused with 401 before anything is stored or sent,
    /// whatever else the request would have been refused for (a body that does not parse, a
    /// field that does not validate, an unknown project), on both event endpoints; a revoked
    /// admin token gets 401 there, not 403.
    async fn a_token_revoked_after_use_is_refused_by_the_event_endpoints(app: TestApp) {
        let Some(app) = try_spawn_fast_app(app.backend, |_| {}).await else { return };
        let admin = app.configure_acme(json!({"target_channels": "#load-tests"})).await;
        let post = |path: String, token: String, body: serde_json::Value| {
            let app = &app;
            async move { app.call(Method::POST, &path, Some(&token), Some(body)).await }
        };
        let load_test = |id: &str| format!("/api/v1/load-tests/{id}/events");
        let tokens: Vec<String> = (0..5).map(|_| app.create_token(Role::Service, None, None)).collect();
        for (i, token) in tokens.iter().enumerate() {
            let (status, res) = post(load_test(&format!("lt-{i}")), token.clone(), lt_body(&format!("e-{i}"), "started")).await;
            assert_eq!(status, 202, "{res}");
        }
        assert_eq!(messages(&app, "load-tests", 5).await.len(), 5);
        let stored = || -> i64 { events::table.count().get_result(&mut app.db.connect()).unwrap() };
        let before = stored();
        for token in tokens.iter().chain([&admin]) {
            app.revoke_token(token);
        }
        let refused = |(status, res): (u16, serde_json::Value)| {
            assert_eq!((status, res["error"].as_str()), (401, Some("unauthenticated")), "{res}");
        };
        // A well-formed event: its own transaction finds the token revoked.
        refused(post(load_test("lt-0"), tokens[0].clone(), lt_body("e-10", "running")).await);
        // The same token again, checked before the event now.
        refused(post(load_test("lt-0"), tokens[0].clone(), lt_body("e-11", "running")).await);
        // An event of a project that is not registered (404 with a live token).
        let mut elsewhere = lt_body("e-12", "started");
        elsewhere["project"] = json!("nowhere");
        refused(post(load_test("lt-9"), tokens[1].clone(), elsewhere).await);
        // A monitoring result.
        let failing = json!({
            "event_id": "m-1", "org": "acme", "project": "webshop",
            "scenario": {"name": "Shop checkout"}, "notify_via": ["slack"], "state": "failure",
        });
        refused(post("/api/v1/monitoring/scenarios/sc-1/events".into(), tokens[2].clone(), failing).await);
        // A body that is not JSON, and one whose field does not validate.
        refused(app.call_raw(Method::POST, &load_test("lt-3"), &tokens[3], b"{not json".to_vec()).await);
        let mut bad = lt_body("e-14", "running");
        bad["occurred_at"] = json!("yesterday");
        refused(post(load_test("lt-4"), tokens[4].clone(), bad).await);
        // An admin token (403 on the event endpoints while it was live).
        refused(post(load_test("lt-0"), admin.clone(), lt_body("e-13", "running")).await);

        assert_eq!(stored(), before, "nothing of the refused events is stored");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
        let sent = app.fake_get("/messages?channel=load-tests").await;
        assert_eq!(sent["messages"].as_array().map(Vec::len), Some(5), "nothing more was sent");
    }
}

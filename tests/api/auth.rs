use diesel::prelude::*;
use reqwest::Method;
use serde_json::json;
use xtc_slack::db::schema::api_tokens;

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
        let mut conn = app.db.connect();
        let hash = xtc_slack::crypto::sha256_hex(&token);
        let id: String = api_tokens::table.filter(api_tokens::token_hash.eq(&hash)).select(api_tokens::id).first(&mut conn).unwrap();
        assert!(xtc_slack::db::models::api_token::ApiTokenRow::revoke(&mut conn, &id).unwrap());
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
        {
            let mut conn = app.db.connect();
            let hash = xtc_slack::crypto::sha256_hex(&revoked);
            let id: String = api_tokens::table.filter(api_tokens::token_hash.eq(&hash)).select(api_tokens::id).first(&mut conn).unwrap();
            assert!(xtc_slack::db::models::api_token::ApiTokenRow::revoke(&mut conn, &id).unwrap());
        }
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

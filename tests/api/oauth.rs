//! The OAuth v2 install flow against the fake Slack, end to end over HTTP: install URL,
//! approval page, callback; deny, replayed / expired / forged states, scope binding,
//! inheritance and overriding, removal, and secrets at rest and in transit.

use diesel::prelude::*;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use xtc_slack::crypto::{Cipher, SecretKey};
use xtc_slack::db::models::audit::AuditEntry;
use xtc_slack::db::models::installation::Installation;
use xtc_slack::db::schema::{oauth_states, slack_installations};

use crate::helpers::{spawn_app, spawn_app_with_slack, TestApp};
use crate::test_both_backends_with_slack;

const ORG_SCOPE: &str = "/api/v1/orgs/acme";
const PROJECT_SCOPE: &str = "/api/v1/orgs/acme/projects/webshop";

async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    let (status, body) = app.call(Method::GET, path, Some(token), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn installations(app: &TestApp) -> i64 {
    let mut conn = app.db.connect();
    slack_installations::table
        .count()
        .get_result(&mut conn)
        .unwrap()
}

/// The bot token the fake issued, read back through the service's own cipher.
fn stored_token(app: &TestApp, project: &str) -> String {
    let mut conn = app.db.connect();
    let project = (!project.is_empty()).then_some(project);
    let inst = Installation::find_by_scope(&mut conn, "acme", project)
        .unwrap()
        .unwrap();
    let key = crate::helpers::test_args(&app.db.url).secret_key.unwrap();
    let cipher = Cipher::new(&SecretKey::from_base64(&key).unwrap());
    inst.decrypt_token(&cipher)
        .unwrap()
        .expose_secret()
        .to_owned()
}

async fn fake_calls(app: &TestApp, method: &str) -> Vec<Value> {
    app.fake_get(&format!("/calls?method={method}")).await["calls"]
        .as_array()
        .unwrap()
        .clone()
}

test_both_backends_with_slack! {
    async fn the_whole_install_flow_ends_with_the_workspace_shown(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let authorize = app.install_url(ORG_SCOPE, &admin).await;

        assert!(authorize.starts_with(&format!("{}?", app.fake().authorize_url())), "{authorize}");
        assert!(authorize.contains("scope=chat:write,chat:write.public,channels:read,team:read,files:write"), "{authorize}");
        let url = url::Url::parse(&authorize).unwrap();
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "fake-client-id");
        assert_eq!(q["scope"], "chat:write,chat:write.public,channels:read,team:read,files:write");
        assert_eq!(q["redirect_uri"], format!("{}/slack/oauth/callback", app.address));
        assert!(q["state"].len() >= 43);
        // Only a hash of the state is stored.
        let mut conn = app.db.connect();
        let hashes: Vec<String> = oauth_states::table.select(oauth_states::state_hash).load(&mut conn).unwrap();
        assert_eq!(hashes, vec![xtc_slack::crypto::sha256_hex(&q["state"])]);

        let callback = app.decide_on_slack(&authorize, "approve").await;
        assert!(callback.starts_with(&format!("{}/slack/oauth/callback?code=", app.address)), "{callback}");
        let (status, location, _) = app.follow(&callback).await;
        assert_eq!(status, 303);
        assert_eq!(location.unwrap(), format!("{}/orgs/acme/slack?installed=1", app.address));

        let body = get(&app, "/api/v1/orgs/acme/slack", &admin).await;
        let integration = &body["integration"];
        assert_eq!(integration["team_id"], "T0FAKE0001");
        assert_eq!(integration["team_name"], "XTC-Test-Workspace");
        assert_eq!(integration["status"], "active");
        assert!(chrono::DateTime::parse_from_rfc3339(integration["installed_at"].as_str().unwrap()).is_ok());

        let mut conn = app.db.connect();
        let inst = Installation::find_by_scope(&mut conn, "acme", None).unwrap().unwrap();
        assert_eq!(inst.bot_user_id, "U0FAKEBOT01");
        assert_eq!(inst.app_id, "A0FAKEAPP01");
        assert_eq!(inst.scopes, "chat:write,chat:write.public,channels:read,team:read,files:write");
        assert!(inst.installed_by.contains("tok_"));
        let entries = AuditEntry::list_by_org(&mut conn, "acme", 10).unwrap();
        assert_eq!(entries[0].action, "slack_integration.install");
        assert!(entries[0].details.contains("XTC-Test-Workspace"));
    }
}

#[actix_web::test]
async fn install_without_slack_app_credentials_is_409() {
    let app = spawn_app().await;
    app.seed_acme().await;
    let admin = app.admin_token("acme");
    for scope in [ORG_SCOPE, PROJECT_SCOPE] {
        let (status, res) = app
            .call(
                Method::POST,
                &format!("{scope}/slack/install"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(
            (status, res["error"].as_str()),
            (409, Some("slack_not_configured"))
        );
        let message = res["message"].as_str().unwrap();
        assert!(message.contains("SLACK_CLIENT_ID") && message.contains("SLACK_CLIENT_SECRET"));
    }
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/orgs/nope/slack/install",
            Some(&app.admin_token("nope")),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

test_both_backends_with_slack! {
    async fn denying_on_slack_stores_nothing_and_explains_app_approval(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let authorize = app.install_url(ORG_SCOPE, &admin).await;
        let callback = app.decide_on_slack(&authorize, "deny").await;
        assert!(callback.contains("error=access_denied"), "{callback}");
        let (status, _, page) = app.follow(&callback).await;
        assert_eq!(status, 200);
        assert!(page.contains("cancelled"), "{page}");
        assert!(page.contains("approval"), "{page}");
        assert!(page.contains("/orgs/acme/slack"), "{page}");
        assert_eq!(installations(&app), 0);
        assert_eq!(get(&app, "/api/v1/orgs/acme/slack", &admin).await["integration"], Value::Null);

        // Without a state as well.
        let (status, _, page) = app.follow(&app.url("/slack/oauth/callback?error=access_denied")).await;
        assert_eq!(status, 200);
        assert!(page.contains("cancelled"));
        // The state of the denied attempt is burnt.
        let url = url::Url::parse(&callback).unwrap();
        let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
        let (status, _, _) = app.follow(&app.url(&format!("/slack/oauth/callback?code=x&state={state}"))).await;
        assert_eq!(status, 400);
    }
}

test_both_backends_with_slack! {
    async fn a_replayed_state_is_400_and_changes_nothing(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let authorize = app.install_url(ORG_SCOPE, &admin).await;
        let callback = app.decide_on_slack(&authorize, "approve").await;
        assert_eq!(app.follow(&callback).await.0, 303);
        let before = stored_token(&app, "");
        let (status, _, page) = app.follow(&callback).await;
        assert_eq!(status, 400);
        assert!(page.contains("already been used"), "{page}");
        assert_eq!(installations(&app), 1);
        assert_eq!(stored_token(&app, ""), before);
    }
}

test_both_backends_with_slack! {
    async fn an_expired_or_forged_state_is_400_and_stores_nothing(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let authorize = app.install_url(ORG_SCOPE, &admin).await;
        let callback = app.decide_on_slack(&authorize, "approve").await;
        {
            let mut conn = app.db.connect();
            let past = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
            diesel::update(oauth_states::table).set(oauth_states::expires_at.eq(past)).execute(&mut conn).unwrap();
        }
        let (status, _, page) = app.follow(&callback).await;
        assert_eq!(status, 400);
        assert!(page.contains("expired"), "{page}");
        assert_eq!(installations(&app), 0);

        for query in ["code=abc&state=xst_forged", "code=abc", "state=xst_forged", ""] {
            let (status, _, page) = app.follow(&app.url(&format!("/slack/oauth/callback?{query}"))).await;
            assert_eq!(status, 400, "{query}");
            assert!(page.contains("Nothing was stored"), "{page}");
        }
        // A hostile value is shown escaped, never as markup.
        let (_, _, page) = app.follow(&app.url("/slack/oauth/callback?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E")).await;
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"), "{page}");
        assert_eq!(installations(&app), 0);
    }
}

test_both_backends_with_slack! {
    async fn a_state_installs_only_into_the_scope_it_was_issued_for(app: TestApp) {
        app.seed_acme().await;
        assert_eq!(app.put_org("beta", "Beta Inc").await.0, 201);
        let acme = app.admin_token("acme");
        let beta = app.admin_token("beta");
        // Beta's admin starts an install; whoever completes the callback, it lands in beta.
        let authorize = app.install_url("/api/v1/orgs/beta", &beta).await;
        let callback = app.decide_on_slack(&authorize, "approve").await;
        let (status, location, _) = app.follow(&callback).await;
        assert_eq!(status, 303);
        assert!(location.unwrap().ends_with("/orgs/beta/slack?installed=1"));
        assert_eq!(get(&app, "/api/v1/orgs/beta/slack", &beta).await["integration"]["team_name"], "XTC-Test-Workspace");
        assert_eq!(get(&app, "/api/v1/orgs/acme/slack", &acme).await["integration"], Value::Null);
        assert_eq!(get(&app, "/api/v1/orgs/acme/projects/webshop/slack", &acme).await["effective"]["integration"]["value"], Value::Null);
        // Acme's admin cannot even start an install for beta.
        let (status, _) = app.call(Method::POST, "/api/v1/orgs/beta/slack/install", Some(&acme), None).await;
        assert_eq!(status, 403);
    }
}

test_both_backends_with_slack! {
    async fn a_state_of_a_revoked_admin_token_is_refused(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let authorize = app.install_url(ORG_SCOPE, &admin).await;
        let callback = app.decide_on_slack(&authorize, "approve").await;
        {
            let mut conn = app.db.connect();
            let id: String = xtc_slack::db::schema::api_tokens::table
                .filter(xtc_slack::db::schema::api_tokens::token_hash.eq(xtc_slack::crypto::sha256_hex(&admin)))
                .select(xtc_slack::db::schema::api_tokens::id)
                .first(&mut conn).unwrap();
            xtc_slack::db::models::api_token::ApiTokenRow::revoke(&mut conn, &id).unwrap();
        }
        let (status, _, page) = app.follow(&callback).await;
        assert_eq!(status, 400);
        assert!(page.contains("revoked"), "{page}");
        assert_eq!(installations(&app), 0);
    }
}

test_both_backends_with_slack! {
    async fn projects_inherit_override_and_fall_back_to_the_org_integration(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let project_admin = app.project_admin_token("acme", "webshop");
        let project = "/api/v1/orgs/acme/projects/webshop/slack";
        app.install_slack(ORG_SCOPE, &admin).await;
        let org_token = stored_token(&app, "");

        // Inherited.
        let e = get(&app, project, &project_admin).await["effective"].clone();
        assert_eq!(e["integration"]["source"], "organization");
        assert_eq!(e["integration"]["value"]["team_name"], "XTC-Test-Workspace");
        assert_eq!(e["integration"]["value"]["status"], "active");

        // Overridden by a project installation (a project admin may install).
        let location = app.install_slack(PROJECT_SCOPE, &project_admin).await;
        assert!(location.ends_with("/orgs/acme/projects/webshop/slack?installed=1"), "{location}");
        let body = get(&app, project, &project_admin).await;
        assert_eq!(body["effective"]["integration"]["source"], "project");
        assert_eq!(installations(&app), 2);
        let project_token = stored_token(&app, "webshop");
        assert_ne!(project_token, org_token);
        // Own settings of the project show its integration once it has settings.
        app.call(Method::PUT, project, Some(&project_admin), Some(json!({"send_messages": true}))).await;
        let body = get(&app, project, &project_admin).await;
        assert_eq!(body["own"]["integration"]["team_id"], "T0FAKE0001");

        // Installing again replaces the old installation and revokes its token.
        app.install_slack(PROJECT_SCOPE, &project_admin).await;
        assert_eq!(installations(&app), 2);
        assert_ne!(stored_token(&app, "webshop"), project_token);
        assert_eq!(fake_calls(&app, "auth.revoke").await.len(), 1);

        // Removal falls back to the organization's integration.
        let res = app.http.delete(app.url(&format!("{PROJECT_SCOPE}/slack/integration"))).bearer_auth(&project_admin).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 204);
        assert_eq!(res.headers()["x-slack-revoke"], "revoked");
        let body = get(&app, project, &project_admin).await;
        assert_eq!(body["effective"]["integration"]["source"], "organization");
        assert_eq!(body["effective"]["integration"]["value"]["status"], "active");
        assert_eq!(body["own"]["integration"], Value::Null);
        assert_eq!(installations(&app), 1);
        assert_eq!(fake_calls(&app, "auth.revoke").await.len(), 2);
        assert_eq!(stored_token(&app, ""), org_token);

        // Removing the org's integration too leaves nothing; removing again is still 204.
        let (status, _) = app.call(Method::DELETE, &format!("{ORG_SCOPE}/slack/integration"), Some(&admin), None).await;
        assert_eq!(status, 204);
        assert_eq!(get(&app, "/api/v1/orgs/acme/slack", &admin).await["integration"], Value::Null);
        let (status, _) = app.call(Method::DELETE, &format!("{ORG_SCOPE}/slack/integration"), Some(&admin), None).await;
        assert_eq!(status, 204);
        assert_eq!(installations(&app), 0);
        let mut conn = app.db.connect();
        let actions: Vec<String> = AuditEntry::list_by_org(&mut conn, "acme", 50).unwrap().into_iter().map(|e| e.action).collect();
        assert_eq!(actions.iter().filter(|a| *a == "slack_integration.remove").count(), 2, "{actions:?}");
        assert_eq!(actions.iter().filter(|a| *a == "slack_integration.install").count(), 3, "{actions:?}");
    }
}

test_both_backends_with_slack! {
    async fn removal_succeeds_locally_when_slack_cannot_revoke(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        app.install_slack(ORG_SCOPE, &admin).await;
        app.fake_post("/fail", json!({"method": "auth.revoke", "count": 1, "http_status": 500})).await;
        let res = app.http.delete(app.url(&format!("{ORG_SCOPE}/slack/integration"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 204);
        assert!(res.headers()["x-slack-revoke"].to_str().unwrap().starts_with("failed"));
        assert_eq!(installations(&app), 0);
        let mut conn = app.db.connect();
        let entry = &AuditEntry::list_by_org(&mut conn, "acme", 1).unwrap()[0];
        assert_eq!(entry.action, "slack_integration.remove");
        assert!(entry.details.contains("failed"), "{}", entry.details);
    }
}

test_both_backends_with_slack! {
    async fn a_slack_error_during_the_exchange_stores_nothing(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let authorize = app.install_url(ORG_SCOPE, &admin).await;
        let callback = app.decide_on_slack(&authorize, "approve").await;
        app.fake_post("/fail", json!({"method": "oauth.v2.access", "count": 1, "error": "invalid_code"})).await;
        let (status, _, page) = app.follow(&callback).await;
        assert_eq!(status, 502);
        assert!(page.contains("invalid_code") && page.contains("Nothing was stored"), "{page}");
        assert_eq!(installations(&app), 0);
    }
}

#[actix_web::test]
async fn the_bot_token_is_encrypted_at_rest_and_never_shown_or_logged() {
    let app = spawn_app_with_slack().await;
    app.seed_acme().await;
    let admin = app.admin_token("acme");
    let authorize = app.install_url(ORG_SCOPE, &admin).await;
    let callback = app.decide_on_slack(&authorize, "approve").await;
    let mut bodies = vec![app.follow(&callback).await.2];
    let token = stored_token(&app, "");
    assert!(token.starts_with("xoxb-"), "the fake issues bot tokens");

    // In the database: ciphertext only, in the column and anywhere in the file.
    let mut conn = app.db.connect();
    let column: String = slack_installations::table
        .select(slack_installations::bot_token)
        .first(&mut conn)
        .unwrap();
    assert_ne!(column, token);
    assert!(column.starts_with("v1:") && !column.contains("xoxb"));
    drop(conn);
    let path = app.db.sqlite_path().unwrap();
    for file in [path.clone(), path.with_extension("db-wal")] {
        if let Ok(bytes) = std::fs::read(&file) {
            let needle = token.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{}",
                file.display()
            );
            assert!(
                !bytes.windows(5).any(|w| w == b"xoxb-"),
                "{}",
                file.display()
            );
        }
    }

    // In responses: every endpoint that shows an integration.
    app.call(
        Method::PUT,
        "/api/v1/orgs/acme/slack",
        Some(&admin),
        Some(json!({"target_channels": "#load-tests"})),
    )
    .await;
    for (method, path) in [
        (Method::GET, "/api/v1/orgs/acme/slack"),
        (Method::GET, "/api/v1/orgs/acme/projects/webshop/slack"),
        (Method::POST, "/api/v1/orgs/acme/slack/test-message"),
    ] {
        let (status, body) = app.call(method, path, Some(&admin), None).await;
        assert_eq!(status, 200, "{body}");
        bodies.push(body.to_string());
    }
    let (_, body) = app
        .call(
            Method::PUT,
            "/api/v1/orgs/acme/slack",
            Some(&admin),
            Some(json!({"threads": true})),
        )
        .await;
    bodies.push(body.to_string());
    for body in &bodies {
        assert!(!body.contains(&token) && !body.contains("xoxb-"), "{body}");
        assert!(!body.contains("fake-client-secret"), "{body}");
    }
    // The audit log neither.
    let mut conn = app.db.connect();
    for e in AuditEntry::list_by_org(&mut conn, "acme", 50).unwrap() {
        assert!(
            !e.details.contains(&token) && !e.actor.contains("xtcs_"),
            "{e:?}"
        );
    }

    // In the logs (all threads, trace level), when this binary's capture is installed.
    match crate::helpers::captured_logs() {
        Some(logs) => {
            let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
            assert!(
                logs.contains("Slack call"),
                "the capture sees the client's logs"
            );
            assert!(!logs.contains(&token), "the bot token was logged");
            assert!(
                !logs.contains("fake-client-secret"),
                "the client secret was logged"
            );
            assert!(!logs.contains(&admin), "an API token was logged");
        }
        None => eprintln!("log capture not installed (another subscriber was first)"),
    }
}

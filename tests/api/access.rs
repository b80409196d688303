//! Who may call the Slack settings endpoints (issue 2's access table): scope is checked
//! before anything is looked up, so out-of-scope callers get 403 even for resources that
//! do not exist.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::test_both_backends;

/// Every admin endpoint of an org (and of one of its projects), with a valid body.
fn endpoints(org: &str, project: &str) -> Vec<(Method, String, Option<Value>)> {
    let o = format!("/api/v1/orgs/{org}");
    let p = format!("/api/v1/orgs/{org}/projects/{project}");
    vec![
        (Method::GET, format!("{o}/slack"), None),
        (
            Method::PUT,
            format!("{o}/slack"),
            Some(json!({"threads": true})),
        ),
        (Method::POST, format!("{o}/slack/install"), None),
        (Method::DELETE, format!("{o}/slack/integration"), None),
        (Method::POST, format!("{o}/slack/test-message"), None),
        (Method::GET, format!("{p}/slack"), None),
        (
            Method::PUT,
            format!("{p}/slack"),
            Some(json!({"send_messages": true})),
        ),
        (Method::DELETE, format!("{p}/slack"), None),
        (Method::POST, format!("{p}/slack/install"), None),
        (Method::DELETE, format!("{p}/slack/integration"), None),
        (Method::POST, format!("{p}/slack/test-message"), None),
    ]
}

async fn expect(
    app: &TestApp,
    token: Option<&str>,
    list: &[(Method, String, Option<Value>)],
    status: u16,
    code: &str,
) {
    for (method, path, body) in list {
        let (got, res) = app.call(method.clone(), path, token, body.clone()).await;
        assert_eq!(
            (got, res["error"].as_str()),
            (status, Some(code)),
            "{method} {path}: {res}"
        );
    }
}

test_both_backends! {
    async fn callers_outside_their_scope_get_403_and_anonymous_callers_401(app: TestApp) {
        app.seed_acme().await;
        assert_eq!(app.put_org("beta", "Beta").await.0, 201);
        assert_eq!(app.put_project("beta", "shop", "Shop").await.0, 201);
        assert_eq!(app.put_project("acme", "blog", "Blog").await.0, 201);

        // No token, or an unknown one.
        expect(&app, None, &endpoints("acme", "webshop"), 401, "unauthenticated").await;
        expect(&app, Some("xtcs_nope"), &endpoints("acme", "webshop"), 401, "unauthenticated").await;

        // A service token may not administer anything.
        let service = app.service_token.clone();
        expect(&app, Some(&service), &endpoints("acme", "webshop"), 403, "forbidden").await;

        // An admin of acme, on beta (existing) and on an org that does not exist.
        let acme_admin = app.admin_token("acme");
        expect(&app, Some(&acme_admin), &endpoints("beta", "shop"), 403, "forbidden").await;
        expect(&app, Some(&acme_admin), &endpoints("nowhere", "nothing"), 403, "forbidden").await;

        // A project admin: not on the org, not on another project, existing or not.
        let project_admin = app.project_admin_token("acme", "webshop");
        let org_only: Vec<_> = endpoints("acme", "webshop").into_iter().take(5).collect();
        expect(&app, Some(&project_admin), &org_only, 403, "forbidden").await;
        let other_project: Vec<_> = endpoints("acme", "blog").into_iter().skip(5).collect();
        expect(&app, Some(&project_admin), &other_project, 403, "forbidden").await;
        let missing_project: Vec<_> = endpoints("acme", "ghost").into_iter().skip(5).collect();
        expect(&app, Some(&project_admin), &missing_project, 403, "forbidden").await;
        let other_org: Vec<_> = endpoints("beta", "webshop").into_iter().skip(5).collect();
        expect(&app, Some(&project_admin), &other_org, 403, "forbidden").await;

        // Within scope the same calls are allowed (and a missing project is then 404).
        let (status, _) = app.call(Method::GET, "/api/v1/orgs/acme/projects/webshop/slack", Some(&project_admin), None).await;
        assert_eq!(status, 200);
        let (status, _) = app.call(Method::GET, "/api/v1/orgs/acme/projects/blog/slack", Some(&acme_admin), None).await;
        assert_eq!(status, 200);
        let (status, _) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&acme_admin), None).await;
        assert_eq!(status, 200);
        let ghost_admin = app.project_admin_token("acme", "ghost");
        let (status, _) = app.call(Method::GET, "/api/v1/orgs/acme/projects/ghost/slack", Some(&ghost_admin), None).await;
        assert_eq!(status, 404);
    }
}

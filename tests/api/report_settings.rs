//! The report card's settings through the API and the web UI: `regression_threshold_pct`
//! and `charts` (defaults, limits, per-value inheritance with sources, `null` resets), and
//! the `missing_scope` warning of an installation made without `files:write`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::slack_settings::{get, put, sourced, ORG, PROJECT};
use crate::ui::Browser;
use crate::{test_both_backends, test_both_backends_with_slack};

const ORG_PAGE: &str = "/orgs/acme/slack";
const PROJECT_PAGE: &str = "/orgs/acme/projects/webshop/slack";
/// The bot scopes asked for before charts.
const OLD_SCOPES: &str = "chat:write,chat:write.public,channels:read,team:read";

/// The effective report settings of acme/webshop.
async fn effective(app: &TestApp, token: &str) -> (Value, Value) {
    let body = get(app, PROJECT, token).await;
    (
        body["effective"]["regression_threshold_pct"].clone(),
        body["effective"]["charts"].clone(),
    )
}

test_both_backends! {
    async fn report_settings_default_to_ten_percent_and_charts_on(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let org = get(&app, ORG, &admin).await;
        assert_eq!(org["regression_threshold_pct"], 10);
        assert_eq!(org["charts"], true);
        assert_eq!(org["warnings"], json!([]));
        let project = get(&app, PROJECT, &admin).await;
        assert_eq!(project["own"], Value::Null);
        assert_eq!(project["effective"]["regression_threshold_pct"], sourced(json!(10), "organization"));
        assert_eq!(project["effective"]["charts"], sourced(json!(true), "organization"));
        assert_eq!(project["effective"]["warnings"], json!([]));

        // A project saving only other values leaves both null (inherited).
        let (status, body) = put(&app, PROJECT, &admin, json!({"send_messages": true})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["own"]["regression_threshold_pct"], Value::Null);
        assert_eq!(body["own"]["charts"], Value::Null);
        assert_eq!(body["effective"]["regression_threshold_pct"], sourced(json!(10), "organization"));
    }
}

test_both_backends! {
    async fn the_regression_threshold_is_a_whole_percent_from_1_to_1000(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        assert_eq!(put(&app, ORG, &admin, json!({"regression_threshold_pct": 20})).await.0, 200);
        for bad in [json!(0), json!(1001), json!(-5), json!(12.5), json!("10"), json!(true), json!([10])] {
            for (path, mut body) in [
                (ORG, json!({"send_messages": true})),
                (PROJECT, json!({"send_messages": true})),
            ] {
                body["regression_threshold_pct"] = bad.clone();
                let (status, res) = put(&app, path, &admin, body).await;
                assert_eq!(status, 422, "{path} {bad}: {res}");
                assert_eq!(res["error"], "invalid_request", "{res}");
                assert_eq!(res["field"], "regression_threshold_pct", "{path} {bad}: {res}");
            }
        }
        for bad in [json!(1), json!("yes"), json!(0)] {
            let (status, res) = put(&app, ORG, &admin, json!({"charts": bad})).await;
            assert_eq!((status, res["field"].as_str()), (422, Some("charts")), "{res}");
        }
        // Nothing was saved by the refusals.
        let org = get(&app, ORG, &admin).await;
        assert_eq!((org["regression_threshold_pct"].clone(), org["send_messages"].clone()), (json!(20), json!(false)));
        assert_eq!(get(&app, PROJECT, &admin).await["own"], Value::Null);
        // A refusal of 0 says what is allowed.
        let (_, res) = put(&app, ORG, &admin, json!({"regression_threshold_pct": 0})).await;
        assert!(res["message"].as_str().unwrap().contains("from 1 to 1000"), "{res}");

        for edge in [1, 1000] {
            let (status, body) = put(&app, ORG, &admin, json!({"regression_threshold_pct": edge})).await;
            assert_eq!((status, body["regression_threshold_pct"].clone()), (200, json!(edge)), "{body}");
            let (status, body) = put(&app, PROJECT, &admin, json!({"send_messages": true, "regression_threshold_pct": edge})).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["own"]["regression_threshold_pct"], edge);
        }
        // Bodies stay strict: a misspelt key is refused, naming it.
        let (status, res) = put(&app, ORG, &admin, json!({"regression_threshold": 20})).await;
        assert_eq!((status, res["field"].as_str()), (422, Some("regression_threshold")), "{res}");
        let (status, res) = put(&app, PROJECT, &admin, json!({"send_messages": true, "chart": false})).await;
        assert_eq!((status, res["field"].as_str()), (422, Some("chart")), "{res}");
    }
}

test_both_backends! {
    async fn an_org_null_resets_to_the_default_and_a_missing_key_keeps_the_value(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let (status, body) = put(&app, ORG, &admin, json!({"regression_threshold_pct": 25, "charts": false})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((body["regression_threshold_pct"].clone(), body["charts"].clone()), (json!(25), json!(false)));

        let (_, body) = put(&app, ORG, &admin, json!({"threads": true})).await;
        assert_eq!((body["regression_threshold_pct"].clone(), body["charts"].clone()), (json!(25), json!(false)), "kept");

        let (status, body) = put(&app, ORG, &admin, json!({"regression_threshold_pct": null})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["regression_threshold_pct"], 10, "null: the default");
        assert_eq!(body["charts"], false, "untouched");
        assert_eq!(get(&app, ORG, &admin).await["regression_threshold_pct"], 10);
    }
}

test_both_backends! {
    async fn a_project_overrides_each_report_setting_on_its_own(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        put(&app, ORG, &admin, json!({"regression_threshold_pct": 30, "charts": false})).await;
        assert_eq!(effective(&app, &admin).await, (sourced(json!(30), "organization"), sourced(json!(false), "organization")));

        let (status, body) = put(&app, PROJECT, &admin, json!({"send_messages": true, "regression_threshold_pct": 5, "charts": null})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((body["own"]["regression_threshold_pct"].clone(), body["own"]["charts"].clone()), (json!(5), Value::Null));
        assert_eq!(effective(&app, &admin).await, (sourced(json!(5), "project"), sourced(json!(false), "organization")));

        put(&app, PROJECT, &admin, json!({"send_messages": true, "regression_threshold_pct": null, "charts": true})).await;
        assert_eq!(effective(&app, &admin).await, (sourced(json!(30), "organization"), sourced(json!(true), "project")));

        // The organization's value follows into the project where it inherits.
        put(&app, ORG, &admin, json!({"regression_threshold_pct": 45})).await;
        assert_eq!(effective(&app, &admin).await.0, sourced(json!(45), "organization"));

        // Inheriting everything again.
        assert_eq!(app.call(Method::DELETE, PROJECT, Some(&admin), None).await.0, 204);
        assert_eq!(effective(&app, &admin).await, (sourced(json!(45), "organization"), sourced(json!(false), "organization")));
    }
}

/// Installs acme's integration as an installation made before charts: the authorize URL
/// asks for the old scopes, so Slack grants those.
pub(crate) async fn install_with_old_scopes(app: &TestApp, admin: &str) {
    let authorize = app.install_url("/api/v1/orgs/acme", admin).await;
    let mut url = url::Url::parse(&authorize).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "scope" {
                (k, OLD_SCOPES.to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let callback = app.decide_on_slack(url.as_str(), "approve").await;
    let (status, _, body) = app.follow(&callback).await;
    assert_eq!(status, 303, "{body}");
}

fn missing_files_write() -> Value {
    json!([{
        "problem": "missing_scope",
        "scope": "files:write",
        "message": "This Slack installation was made without the files:write permission, so \
                    report charts are not posted. Install again to add charts."
    }])
}

test_both_backends_with_slack! {
    async fn an_installation_without_files_write_is_named_while_charts_are_on(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        install_with_old_scopes(&app, &admin).await;
        let org = get(&app, ORG, &admin).await;
        assert_eq!(org["integration"]["status"], "active", "{org}");
        assert_eq!(org["warnings"], missing_files_write());
        assert_eq!(get(&app, PROJECT, &admin).await["effective"]["warnings"], missing_files_write());

        // Charts off: nothing is missing.
        put(&app, PROJECT, &admin, json!({"send_messages": true, "charts": false})).await;
        assert_eq!(get(&app, PROJECT, &admin).await["effective"]["warnings"], json!([]));
        assert_eq!(get(&app, ORG, &admin).await["warnings"], missing_files_write(), "the org still has charts on");

        // Installing again (now with files:write) clears it.
        app.install_slack("/api/v1/orgs/acme", &admin).await;
        assert_eq!(get(&app, ORG, &admin).await["warnings"], json!([]));
        put(&app, PROJECT, &admin, json!({"send_messages": true})).await;
        assert_eq!(get(&app, PROJECT, &admin).await["effective"]["warnings"], json!([]));
    }
}

test_both_backends_with_slack! {
    async fn a_new_installation_asks_for_files_write_and_warns_about_nothing(app: TestApp) {
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let authorize = app.install_url("/api/v1/orgs/acme", &admin).await;
        let url = url::Url::parse(&authorize).unwrap();
        let scope = url.query_pairs().find(|(k, _)| k == "scope").unwrap().1.into_owned();
        assert!(scope.split(',').any(|s| s == "files:write"), "{scope}");
        app.install_slack("/api/v1/orgs/acme", &admin).await;
        let org = get(&app, ORG, &admin).await;
        assert_eq!(org["integration"]["status"], "active");
        assert_eq!(org["warnings"], json!([]));
        assert_eq!(get(&app, PROJECT, &admin).await["effective"]["warnings"], json!([]));
    }
}

/// A signed-in org admin of acme (acme/webshop registered).
async fn org_admin(app: &TestApp) -> Browser<'_> {
    app.seed_acme().await;
    let b = Browser::new(app);
    assert_eq!(b.sign_in(&app.admin_token("acme")).await.status, 303);
    b
}

fn form<'f>(extra: &[(&'f str, &'f str)], send: &'f str) -> Vec<(&'f str, &'f str)> {
    let mut all = vec![
        ("send_messages", send),
        ("threads", "disabled"),
        ("compact_messages", "disabled"),
        ("target_channels", ""),
    ];
    all.extend_from_slice(extra);
    all
}

test_both_backends! {
    async fn the_settings_forms_save_and_show_the_report_settings(app: TestApp) {
        let b = org_admin(&app).await;
        let admin = app.admin_token("acme");
        let page = b.get(ORG_PAGE).await;
        assert!(page.has(r#"<label for="regression_threshold_pct">Regression threshold (%)</label>"#), "{}", page.body);
        assert!(page.has(r#"name="regression_threshold_pct" value="10""#), "{}", page.body);
        assert!(page.has(r#"<label for="charts">Charts in report threads</label>"#));
        assert!(page.selected("charts", "enabled"));

        let res = b.submit(ORG_PAGE, ORG_PAGE, &form(&[("regression_threshold_pct", "35"), ("charts", "disabled")], "disabled")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let org = get(&app, ORG, &admin).await;
        assert_eq!((org["regression_threshold_pct"].clone(), org["charts"].clone()), (json!(35), json!(false)));
        let page = b.get(ORG_PAGE).await;
        assert!(page.has(r#"name="regression_threshold_pct" value="35""#));
        assert!(page.selected("charts", "disabled"));

        // Out of range or not a number: refused, nothing saved.
        for bad in ["0", "1001", "12.5", "ten"] {
            let res = b.submit(ORG_PAGE, ORG_PAGE, &form(&[("regression_threshold_pct", bad), ("charts", "enabled")], "enabled")).await;
            assert_eq!(res.status, 400, "{bad}: {}", res.body);
            assert!(res.has("Regression threshold (%)") && res.has("from 1 to 1000"), "{}", res.body);
        }
        let org = get(&app, ORG, &admin).await;
        assert_eq!((org["regression_threshold_pct"].clone(), org["charts"].clone(), org["send_messages"].clone()), (json!(35), json!(false), json!(false)));

        // Empty: back to the default. A form without the fields keeps them.
        b.submit(ORG_PAGE, ORG_PAGE, &form(&[("regression_threshold_pct", ""), ("charts", "disabled")], "disabled")).await;
        assert_eq!(get(&app, ORG, &admin).await["regression_threshold_pct"], 10);
        b.submit(ORG_PAGE, ORG_PAGE, &form(&[("regression_threshold_pct", "40")], "disabled")).await;
        b.submit(ORG_PAGE, ORG_PAGE, &form(&[], "enabled")).await;
        let org = get(&app, ORG, &admin).await;
        assert_eq!((org["regression_threshold_pct"].clone(), org["charts"].clone(), org["send_messages"].clone()), (json!(40), json!(false), json!(true)));

        // The project page inherits both, shows where they come from, and overrides each.
        let page = b.get(PROJECT_PAGE).await;
        assert!(page.selected("charts", "inherit"), "{}", page.body);
        assert!(page.has("Inherit from organization (Disabled)"));
        assert!(page.has(r#"name="regression_threshold_pct" value="""#) && page.has(r#"placeholder="Empty: inherit 40""#), "{}", page.body);
        assert!(page.has(r#"id="regression_threshold_pct-effective">Effective: <strong>40 %</strong> <span class="src">inherited from organization</span>"#), "{}", page.body);
        assert!(page.has(r#"id="charts-effective">Effective: <strong>Disabled</strong> <span class="src">inherited from organization</span>"#), "{}", page.body);
        assert!(page.has(r#"id="org-threshold">40<"#), "{}", page.body);

        let res = b.submit(PROJECT_PAGE, PROJECT_PAGE, &form(&[("regression_threshold_pct", "7"), ("charts", "inherit")], "enabled")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(effective(&app, &admin).await, (sourced(json!(7), "project"), sourced(json!(false), "organization")));
        let page = b.get(PROJECT_PAGE).await;
        assert!(page.has(r#"id="regression_threshold_pct-effective">Effective: <strong>7 %</strong> <span class="src project">set on this project</span>"#), "{}", page.body);

        let res = b.submit(PROJECT_PAGE, PROJECT_PAGE, &form(&[("regression_threshold_pct", ""), ("charts", "enabled")], "enabled")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(effective(&app, &admin).await, (sourced(json!(40), "organization"), sourced(json!(true), "project")));
        let page = b.get(PROJECT_PAGE).await;
        assert!(page.selected("charts", "enabled"));
        assert!(page.has(r#"id="charts-effective">Effective: <strong>Enabled</strong> <span class="src project">set on this project</span>"#), "{}", page.body);

        // Everything on inherit, nothing of its own yet: nothing to save.
        assert_eq!(app.call(Method::DELETE, PROJECT, Some(&admin), None).await.0, 204);
        b.submit(PROJECT_PAGE, PROJECT_PAGE, &[("send_messages", "inherit"), ("threads", "inherit"), ("compact_messages", "inherit"), ("target_channels", ""), ("regression_threshold_pct", ""), ("charts", "inherit")]).await;
        assert!(b.get(PROJECT_PAGE).await.has("Nothing to save"));
        assert_eq!(get(&app, PROJECT, &admin).await["own"], Value::Null);
    }
}

test_both_backends_with_slack! {
    async fn the_settings_page_shows_the_missing_scope_with_its_remedy(app: TestApp) {
        let b = org_admin(&app).await;
        let admin = app.admin_token("acme");
        install_with_old_scopes(&app, &admin).await;
        let page = b.get(ORG_PAGE).await;
        assert!(page.has(r#"data-problem="missing_scope" data-scope="files:write""#), "{}", page.body);
        assert!(page.has("made without the files:write permission"), "{}", page.body);
        assert!(page.has(r#"<a href="/orgs/acme/slack/install" id="warning-setup">Set Up Slack Integration</a>"#), "{}", page.body);
        // The project page inherits the org's integration: the remedy is on the org's page.
        let page = b.get(PROJECT_PAGE).await;
        assert!(page.has(r#"data-problem="missing_scope""#), "{}", page.body);
        assert!(page.has(r#"Install again on <a href="/orgs/acme/slack">the organization's page</a>"#), "{}", page.body);

        // Installed again with today's scopes: gone.
        app.install_slack("/api/v1/orgs/acme", &admin).await;
        assert!(!b.get(ORG_PAGE).await.has("missing_scope"));
    }
}

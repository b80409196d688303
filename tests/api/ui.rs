//! The admin web UI over HTTP, as a browser without JavaScript sees it: a cookie store,
//! forms with CSRF tokens, redirects followed by hand.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;
use crate::{test_both_backends, test_both_backends_with_slack};

/// One browser: its own cookie jar, redirects not followed (tests check them).
pub struct Browser<'a> {
    pub app: &'a TestApp,
    client: reqwest::Client,
}

/// A response: status, `Location`, body.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub set_cookie: Vec<String>,
}

impl Page {
    /// The value of the first `name="csrf"` hidden input.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("no CSRF field on the page");
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    /// Whether the `<select id=name>` has `value` selected.
    pub fn selected(&self, name: &str, value: &str) -> bool {
        let at = self.body.find(&format!(r#"<select id="{name}""#)).unwrap();
        let end = at + self.body[at..].find("</select>").unwrap();
        self.body[at..end].contains(&format!(r#"<option value="{value}" selected>"#))
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { app, client }
    }

    async fn page(res: reqwest::Response) -> Page {
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let set_cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let body = res.text().await.unwrap();
        Page {
            status,
            location,
            body,
            set_cookie,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.app.url(path)
        };
        Self::page(self.client.get(url).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Self::page(
            self.client
                .post(self.app.url(path))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Posts `form` plus the CSRF token of the page at `page`.
    pub async fn submit(&self, page: &str, action: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.get(page).await.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(form);
        self.post(action, &all).await
    }

    /// Signs in with `token`; returns the answer of the sign-in POST.
    pub async fn sign_in(&self, token: &str) -> Page {
        let csrf = self.get("/").await.csrf();
        self.post("/", &[("csrf", &csrf), ("token", token)]).await
    }
}

const ORG: &str = "/orgs/acme/slack";
const PROJECT: &str = "/orgs/acme/projects/webshop/slack";

fn org_form<'f>(
    send: &'f str,
    threads: &'f str,
    compact: &'f str,
    channels: &'f str,
) -> Vec<(&'f str, &'f str)> {
    vec![
        ("send_messages", send),
        ("threads", threads),
        ("compact_messages", compact),
        ("target_channels", channels),
    ]
}

/// A signed-in org admin of acme (acme/webshop registered).
async fn org_admin(app: &TestApp) -> Browser<'_> {
    app.seed_acme().await;
    let b = Browser::new(app);
    let res = b.sign_in(&app.admin_token("acme")).await;
    assert_eq!(res.status, 303, "{}", res.body);
    b
}

/// Installs the org's (or project's) integration through the UI and the fake's page.
async fn install_via_ui(b: &Browser<'_>, page: &str) -> Page {
    let start = b.get(&format!("{page}/install")).await;
    assert_eq!(start.status, 303, "{}", start.body);
    let authorize = start.location.unwrap();
    assert!(
        authorize.starts_with(&b.app.fake().authorize_url()),
        "{authorize}"
    );
    let callback = b.app.decide_on_slack(&authorize, "approve").await;
    let back = b.get(&callback).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let landing = back.location.unwrap();
    assert!(
        landing.ends_with(&format!("{page}?installed=1")),
        "{landing}"
    );
    b.get(&landing).await
}

test_both_backends! {
    async fn the_sign_in_page_signs_an_org_admin_in_with_a_strict_http_only_cookie(app: TestApp) {
        app.seed_acme().await;
        let b = Browser::new(&app);
        let page = b.get("/").await;
        assert_eq!(page.status, 200);
        assert!(page.has("Admin token") && page.has(r#"name="token""#), "{}", page.body);
        assert!(!page.csrf().is_empty());

        let token = app.admin_token("acme");
        let res = b.sign_in(&token).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(res.location.as_deref(), Some(ORG));
        let cookie = res.set_cookie.iter().find(|c| c.starts_with("xtc_slack_session=")).expect("session cookie");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
        assert!(!cookie.contains("Secure"), "http public URL: {cookie}");
        assert!(!cookie.contains(&token) && !cookie.contains("tok_"), "the cookie is encrypted: {cookie}");

        // Signed in: `/` goes to the admin's page, which greets them.
        let home = b.get("/").await;
        assert_eq!(home.status, 303);
        assert_eq!(home.location.as_deref(), Some(ORG));
        let page = b.get(ORG).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.has("Organization administrator · acme"), "{}", page.body);
        assert!(!page.has(&token));

        // A project admin lands on the project's page.
        let p = Browser::new(&app);
        let res = p.sign_in(&app.project_admin_token("acme", "webshop")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(res.location.as_deref(), Some(PROJECT));
    }
}

test_both_backends! {
    async fn sign_in_refuses_bad_service_and_revoked_tokens_and_missing_csrf(app: TestApp) {
        app.seed_acme().await;
        let b = Browser::new(&app);
        let res = b.sign_in("xtcs_not-a-real-token").await;
        assert_eq!(res.status, 401);
        assert!(res.has("not valid or has been revoked"), "{}", res.body);
        assert!(!res.has("xtcs_not-a-real-token"), "a token is never echoed");

        let service = app.service_token.clone();
        let res = b.sign_in(&service).await;
        assert_eq!(res.status, 403);
        assert!(res.has("service token"), "{}", res.body);
        assert!(!res.has(&service));

        let admin = app.admin_token("acme");
        app.revoke_token(&admin);
        let res = b.sign_in(&admin).await;
        assert_eq!(res.status, 401, "{}", res.body);

        let empty = b.sign_in("  ").await;
        assert_eq!(empty.status, 422);

        // Without the form's CSRF token, or with a wrong one: refused, not signed in.
        let fresh = app.admin_token("acme");
        let res = b.post("/", &[("token", &fresh)]).await;
        assert_eq!(res.status, 403, "{}", res.body);
        let res = b.post("/", &[("csrf", "forged"), ("token", &fresh)]).await;
        assert_eq!(res.status, 403);
        assert!(res.has("security token"), "{}", res.body);
        assert_eq!(b.get(ORG).await.status, 401);
        // A client without the sign-in page's cookie cannot sign in either.
        let stranger = Browser::new(&app);
        assert_eq!(stranger.post("/", &[("csrf", "x"), ("token", &fresh)]).await.status, 403);
    }
}

test_both_backends! {
    async fn pages_need_a_session_and_revoking_the_token_ends_it(app: TestApp) {
        app.seed_acme().await;
        let anonymous = Browser::new(&app);
        for path in [ORG, PROJECT, "/orgs/acme/slack/install", "/orgs/acme/slack/remove"] {
            let page = anonymous.get(path).await;
            assert_eq!(page.status, 401, "{path}");
            assert!(page.has("Please sign in") && page.has(r#"href="/""#), "{}", page.body);
        }
        for path in ["/orgs/acme/slack", "/orgs/acme/slack/test", "/orgs/acme/projects/webshop/slack/reset"] {
            assert_eq!(anonymous.post(path, &[("csrf", "x")]).await.status, 401, "{path}");
        }
        // After Slack's redirect the browser withholds the SameSite=Strict cookie; the page
        // reloads itself from our origin instead of claiming the admin is signed out.
        let res = reqwest::Client::new()
            .get(app.url("/orgs/acme/slack?installed=1"))
            .header("sec-fetch-site", "cross-site")
            .send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.headers()["refresh"], "0; url=/orgs/acme/slack?installed=1");

        let token = app.admin_token("acme");
        let b = Browser::new(&app);
        assert_eq!(b.sign_in(&token).await.status, 303);
        assert_eq!(b.get(ORG).await.status, 200);
        app.revoke_token(&token);
        let page = b.get(ORG).await;
        assert_eq!(page.status, 401);
        assert!(page.has("revoked"), "{}", page.body);
    }
}

test_both_backends! {
    async fn signing_out_needs_the_csrf_token_and_ends_the_session(app: TestApp) {
        let b = org_admin(&app).await;
        assert_eq!(b.post("/signout", &[]).await.status, 403);
        assert_eq!(b.post("/signout", &[("csrf", "nope")]).await.status, 403);
        assert_eq!(b.get(ORG).await.status, 200);
        let res = b.submit(ORG, "/signout", &[]).await;
        assert_eq!(res.status, 303);
        assert_eq!(res.location.as_deref(), Some("/?signed_out=1"));
        assert!(b.get("/?signed_out=1").await.has("You have been signed out."));
        assert_eq!(b.get(ORG).await.status, 401);
    }
}

test_both_backends! {
    async fn a_fresh_org_shows_the_documented_defaults(app: TestApp) {
        let b = org_admin(&app).await;
        let page = b.get(ORG).await;
        assert_eq!(page.status, 200, "{}", page.body);
        for field in ["send_messages", "threads", "compact_messages"] {
            assert!(page.selected(field, "disabled"), "{field}: {}", page.body);
            assert!(!page.body.contains(&format!(r#"<select id="{field}" name="{field}"><option value="inherit""#)));
        }
        assert!(page.has("Not configured"));
        assert!(page.has(r#"id="target_channels" name="target_channels" value="""#), "{}", page.body);
        // This server has no Slack app credentials: the page says so instead of offering a
        // button that can only fail.
        assert!(page.has(r#"id="setup-unavailable""#) && page.has("<code>SLACK_CLIENT_ID</code>"), "{}", page.body);
        assert!(!page.has(r#"id="setup""#), "{}", page.body);
        assert!(!page.has(r#"id="send-test""#), "no test message while incomplete");
        assert!(page.has("Missing: a Slack integration and at least one target channel"), "{}", page.body);
        assert!(!page.has(r#"id="remove""#));
        // The org page lists its projects.
        assert!(page.has(r#"<a href="/orgs/acme/projects/webshop/slack">Webshop</a>"#), "{}", page.body);
        assert!(page.has("Acme Corp"));
        // Security headers on every page.
        let res = reqwest::Client::new().get(app.url("/")).send().await.unwrap();
        assert_eq!(res.headers()["x-frame-options"], "DENY");
        assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    }
}

test_both_backends! {
    async fn saving_the_org_form_needs_its_csrf_token(app: TestApp) {
        let b = org_admin(&app).await;
        let form = org_form("enabled", "enabled", "disabled", "#load-tests #perf");
        let refused = b.post(ORG, &form).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        let mut forged = form.clone();
        forged.push(("csrf", "forged"));
        assert_eq!(b.post(ORG, &forged).await.status, 403);
        let admin = app.admin_token("acme");
        let (_, body) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&admin), None).await;
        assert_eq!(body["send_messages"], false, "nothing was saved");

        let res = b.submit(ORG, ORG, &form).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(res.location.as_deref(), Some(ORG));
        let page = b.get(ORG).await;
        assert!(page.has("Settings saved."), "{}", page.body);
        assert!(page.selected("send_messages", "enabled"));
        assert!(page.selected("threads", "enabled"));
        assert!(page.selected("compact_messages", "disabled"));
        assert!(page.has(r##"value="#load-tests #perf""##), "{}", page.body);
        // The notice shows once.
        assert!(!b.get(ORG).await.has("Settings saved."));
        let (_, body) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&admin), None).await;
        assert_eq!(body["send_messages"], true);
        assert_eq!(body["target_channels"], json!(["#load-tests", "#perf"]));

        // Unknown select values are refused, not guessed.
        let bad = b.submit(ORG, ORG, &org_form("maybe", "enabled", "disabled", "")).await;
        assert_eq!(bad.status, 400);
    }
}

test_both_backends_with_slack! {
    async fn channel_errors_appear_inline_next_to_the_field(app: TestApp) {
        let b = org_admin(&app).await;
        // Syntax, before any integration exists.
        let res = b.submit(ORG, ORG, &org_form("enabled", "disabled", "disabled", "#load-tests #Bad!Name")).await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(res.has(r#"id="channels-error""#), "{}", res.body);
        assert!(res.has("Bad!Name"), "{}", res.body);
        assert!(res.has(r##"value="#load-tests #Bad!Name""##), "the typed value stays: {}", res.body);
        assert!(res.selected("send_messages", "enabled"), "the typed choices stay");
        assert!(res.has(r#"class="wide invalid"#));

        // Checked in Slack once installed: unknown, private and archived channels.
        install_via_ui(&b, ORG).await;
        for (typed, bad) in [("#load-tests #nope", "#nope"), ("#secret-ops", "#secret-ops"), ("#old-alerts", "#old-alerts")] {
            let res = b.submit(ORG, ORG, &org_form("enabled", "disabled", "disabled", typed)).await;
            assert_eq!(res.status, 422, "{typed}: {}", res.body);
            let at = res.body.find(r#"id="channels-error""#).unwrap();
            let error = &res.body[at..at + res.body[at..].find("</p>").unwrap()];
            assert!(error.contains(bad), "{typed}: {error}");
        }
        let (_, body) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&app.admin_token("acme")), None).await;
        assert_eq!(body["target_channels"], json!([]), "nothing was saved");
    }
}

/// The HTML from `id="{id}"` to the end of its element `</{tag}>`.
fn element<'p>(page: &'p Page, id: &str, tag: &str) -> &'p str {
    let at = page
        .body
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id}: {}", page.body));
    let end = page.body[at..].find(&format!("</{tag}>")).unwrap();
    &page.body[at..at + end]
}

test_both_backends_with_slack! {
    async fn every_refused_channel_appears_inline(app: TestApp) {
        let b = org_admin(&app).await;
        // Several syntax errors before any integration exists: each on its own line.
        let res = b.submit(ORG, ORG, &org_form("enabled", "disabled", "disabled", "#ok @jane D0123ABCD #Bad")).await;
        assert_eq!(res.status, 422, "{}", res.body);
        let lead = element(&res, "channels-error", "p");
        assert!(lead.contains("3 problems with the target channels"), "{lead}");
        let list = element(&res, "channel-errors", "ul");
        assert_eq!(list.matches("<li").count(), 3, "{list}");
        for bad in ["@jane", "D0123ABCD", "#Bad"] {
            assert!(list.contains(&format!("<code>{bad}</code>: ")), "{bad}: {list}");
        }
        assert!(!list.contains("<code>#ok</code>"), "{list}");
        assert!(list.contains("only public channels are supported"), "{list}");
        assert!(res.has(r##"value="#ok @jane D0123ABCD #Bad""##), "the typed value stays");
        assert!(res.has(r#"aria-describedby="channels-error channel-errors""#), "{}", res.body);

        // Installed: the rules' errors and Slack's answers together.
        install_via_ui(&b, ORG).await;
        let res = b.submit(ORG, ORG, &org_form("enabled", "disabled", "disabled", "#load-tests @jane #nope #secret-ops #old-alerts")).await;
        assert_eq!(res.status, 422, "{}", res.body);
        let list = element(&res, "channel-errors", "ul");
        assert_eq!(list.matches("<li").count(), 4, "{list}");
        for (bad, why) in [("@jane", "is a user"), ("#nope", "does not exist"), ("#secret-ops", "private"), ("#old-alerts", "archived")] {
            let line = &list[list.find(&format!("<code>{bad}</code>")).unwrap()..];
            assert!(line[..line.find("</li>").unwrap()].contains(why), "{bad}: {list}");
        }

        // A project page lists them too.
        let res = b.submit(PROJECT, PROJECT, &org_form("enabled", "inherit", "inherit", "#nope #old-alerts")).await;
        assert_eq!(res.status, 422, "{}", res.body);
        let list = element(&res, "channel-errors", "ul");
        assert!(list.contains("<code>#nope</code>") && list.contains("<code>#old-alerts</code>"), "{list}");

        // A single error stays one line, without a list.
        let res = b.submit(ORG, ORG, &org_form("enabled", "disabled", "disabled", "#load-tests @jane")).await;
        assert_eq!(res.status, 422);
        assert!(element(&res, "channels-error", "p").contains("<code>@jane</code>"));
        assert!(!res.has(r#"id="channel-errors""#));
        let (_, body) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&app.admin_token("acme")), None).await;
        assert_eq!(body["target_channels"], json!([]), "nothing was saved");
    }
}

test_both_backends_with_slack! {
    async fn target_channels_slack_reports_unusable_show_a_warning_on_both_pages(app: TestApp) {
        let b = org_admin(&app).await;
        install_via_ui(&b, ORG).await;
        let res = b.submit(ORG, ORG, &org_form("enabled", "disabled", "disabled", "#load-tests #perf")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert!(!b.get(ORG).await.has(r#"id="channel-warnings""#));

        // #perf gets archived in Slack; the channel check (as the org admin) finds it.
        app.fake_post("/channels", json!({"name": "perf", "is_archived": true})).await;
        let admin = app.admin_token("acme");
        let (status, body) = app.call(Method::POST, "/api/v1/orgs/acme/slack/channel-check", Some(&admin), None).await;
        assert_eq!(status, 200, "{body}");

        let page = b.get(ORG).await;
        assert_eq!(page.status, 200);
        let warnings = element(&page, "channel-warnings", "div");
        assert!(warnings.contains("<strong>Warning:</strong> #perf is archived in Slack; messages to it fail."), "{warnings}");
        assert!(warnings.contains(r#"data-problem="archived""#), "{warnings}");
        assert!(!warnings.contains("#load-tests"), "{warnings}");
        // Next to Target Channels, inside the form.
        let (input, warning, save) = (
            page.body.find(r#"id="target_channels""#).unwrap(),
            page.body.find(r#"id="channel-warnings""#).unwrap(),
            page.body.find(r#"id="save""#).unwrap(),
        );
        assert!(input < warning && warning < save);

        // The project inherits the channels, so the warning is about its effective ones.
        let page = b.get(PROJECT).await;
        assert_eq!(page.status, 200);
        assert!(element(&page, "channel-warnings", "div").contains("#perf is archived in Slack"), "{}", page.body);

        // With channels of its own that are fine, the project shows no warning (the org still does).
        let res = b.submit(PROJECT, PROJECT, &org_form("enabled", "inherit", "inherit", "#load-tests")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert!(!b.get(PROJECT).await.has(r#"id="channel-warnings""#));
        assert!(b.get(ORG).await.has(r#"id="channel-warnings""#));
    }
}

test_both_backends! {
    async fn other_orgs_and_projects_are_forbidden(app: TestApp) {
        app.seed_acme().await;
        assert_eq!(app.put_org("other", "Other Inc").await.0, 201);
        assert_eq!(app.put_project("acme", "blog", "Blog").await.0, 201);

        let other = Browser::new(&app);
        assert_eq!(other.sign_in(&app.admin_token("other")).await.status, 303);
        for path in [ORG, PROJECT, "/orgs/acme/slack/install", "/orgs/acme/slack/remove", "/orgs/nonexistent/slack"] {
            let page = other.get(path).await;
            assert_eq!(page.status, 403, "{path}: {}", page.body);
            assert!(page.has("do not administer"), "{}", page.body);
        }
        let form = org_form("enabled", "disabled", "disabled", "");
        let res = other.submit("/orgs/other/slack", ORG, &form).await;
        assert_eq!(res.status, 403);
        let res = other.submit("/orgs/other/slack", "/orgs/acme/slack/test", &[]).await;
        assert_eq!(res.status, 403);

        let project_admin = Browser::new(&app);
        assert_eq!(project_admin.sign_in(&app.project_admin_token("acme", "webshop")).await.status, 303);
        assert_eq!(project_admin.get(PROJECT).await.status, 200);
        assert_eq!(project_admin.get(ORG).await.status, 403, "project admins see their project only");
        assert_eq!(project_admin.get("/orgs/acme/projects/blog/slack").await.status, 403);
        let res = project_admin.submit(PROJECT, "/orgs/acme/projects/blog/slack/reset", &[]).await;
        assert_eq!(res.status, 403);
        let res = project_admin.submit(PROJECT, ORG, &form).await;
        assert_eq!(res.status, 403);

        // Own scope, but not registered / no such page: 404 pages.
        let ghost = Browser::new(&app);
        assert_eq!(ghost.sign_in(&app.admin_token("ghost")).await.status, 303);
        let page = ghost.get("/orgs/ghost/slack").await;
        assert_eq!(page.status, 404);
        assert!(page.has("not registered"), "{}", page.body);
        let b = Browser::new(&app);
        assert_eq!(b.sign_in(&app.admin_token("acme")).await.status, 303);
        assert_eq!(b.get("/orgs/acme/projects/nope/slack").await.status, 404);
        let page = b.get("/orgs/acme/slack/nothing-here").await;
        assert_eq!(page.status, 404);
        assert!(page.has("no such page"), "{}", page.body);
        assert_eq!(b.get("/orgs/ACME!/slack").await.status, 404);
        // Error pages never show internals.
        assert!(!page.has("panicked") && !page.has("src/"));
    }
}

test_both_backends_with_slack! {
    async fn installing_shows_done_with_the_workspace_and_a_test_message_reports_each_channel(app: TestApp) {
        let b = org_admin(&app).await;
        let res = b.submit(ORG, ORG, &org_form("enabled", "disabled", "disabled", "#load-tests #old-alerts")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let before = b.get(ORG).await;
        assert!(before.has(r#"<a class="btn slack" id="setup" href="/orgs/acme/slack/install">Set Up Slack Integration</a>"#), "{}", before.body);
        assert!(before.has("without saving this form") && before.has("requires app approval"));
        assert!(!before.has(r#"id="setup-unavailable""#));
        let page = install_via_ui(&b, ORG).await;
        // Done: installing again is a side action, named for what it does and folded away,
        // without the first setup's approval paragraph.
        let again = element(&page, "setup-box", "div");
        assert!(again.contains(r#"<details class="setup-again"><summary id="setup-again">Install again or into another workspace</summary>"#), "{again}");
        assert!(again.contains(r#"id="setup" href="/orgs/acme/slack/install">Install again / into another workspace</a>"#), "{again}");
        assert!(!again.contains("Set Up Slack Integration") && !again.contains("requires app approval"), "{again}");
        assert!(again.find("<details").unwrap() < again.find(r#"id="setup-warning""#).unwrap(), "{again}");
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.has("Slack integration installed into the workspace XTC-Test-Workspace."), "{}", page.body);
        assert!(page.has(r#"<span class="status done" id="integration-status"><span class="dot"></span>Done</span>"#), "{}", page.body);
        assert!(page.has("<strong>XTC-Test-Workspace</strong>"));
        assert!(page.has(r#"id="send-test""#), "complete now: {}", page.body);
        assert!(page.has(r#"id="remove" href="/orgs/acme/slack/remove""#));

        // Without the CSRF token nothing is sent.
        assert_eq!(b.post("/orgs/acme/slack/test", &[]).await.status, 403);
        let res = b.submit(ORG, "/orgs/acme/slack/test", &[]).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(res.location.as_deref(), Some("/orgs/acme/slack#test"));
        let page = b.get(ORG).await;
        assert!(page.has(r#"id="test-results""#), "{}", page.body);
        assert!(page.has(r#"<span class="badge ok">sent</span> <strong>#load-tests</strong>"#), "{}", page.body);
        assert!(page.has(r#"<span class="badge bad">failed</span> <strong>#old-alerts</strong>"#), "{}", page.body);
        assert!(page.has("<code>is_archived</code>"));
        assert!(page.has("reached 1 of 2 channel(s)"));
        let posted = app.fake_get("/messages?channel=load-tests").await;
        assert_eq!(posted["messages"].as_array().unwrap().len(), 1, "{posted}");
    }
}

test_both_backends_with_slack! {
    async fn removing_the_integration_needs_a_confirmation(app: TestApp) {
        let b = org_admin(&app).await;
        install_via_ui(&b, ORG).await;
        let confirm = b.get("/orgs/acme/slack/remove").await;
        assert_eq!(confirm.status, 200);
        assert!(confirm.has("Remove Slack Integration?") && confirm.has("XTC-Test-Workspace"), "{}", confirm.body);
        assert!(!confirm.has("org-takes-effect"));
        // A GET never removes anything; a POST without the token neither.
        assert!(b.get(ORG).await.has("XTC-Test-Workspace"));
        assert_eq!(b.post("/orgs/acme/slack/remove", &[("csrf", "x")]).await.status, 403);
        let res = b.submit("/orgs/acme/slack/remove", "/orgs/acme/slack/remove", &[]).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let page = b.get(ORG).await;
        assert!(page.has("Slack integration removed."), "{}", page.body);
        assert!(page.has("Not configured"));
        // Nothing left: the confirmation page sends the admin back.
        let again = b.get("/orgs/acme/slack/remove").await;
        assert_eq!(again.status, 303);
    }
}

test_both_backends_with_slack! {
    async fn a_project_shows_inherited_and_overridden_values_with_their_source(app: TestApp) {
        let b = org_admin(&app).await;
        b.submit(ORG, ORG, &org_form("enabled", "disabled", "enabled", "#load-tests")).await;
        install_via_ui(&b, ORG).await;

        let p = Browser::new(&app);
        assert_eq!(p.sign_in(&app.project_admin_token("acme", "webshop")).await.status, 303);
        let page = p.get(PROJECT).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.has("inherits everything from the organization"), "{}", page.body);
        for field in ["send_messages", "threads", "compact_messages"] {
            assert!(page.selected(field, "inherit"), "{field}");
        }
        assert!(page.has("Inherit from organization (Enabled)"));
        assert!(page.has(r#"id="send_messages-effective">Effective: <strong>Enabled</strong> <span class="src">inherited from organization</span>"#), "{}", page.body);
        assert!(page.has(r##"id="target_channels-effective">Effective: <strong>#load-tests</strong> <span class="src">inherited from organization</span>"##), "{}", page.body);
        assert!(page.has(r#"id="integration-source">inherited from organization"#), "{}", page.body);
        assert!(page.has("XTC-Test-Workspace") && page.has(r#"id="send-test""#));
        assert!(page.has("Organization settings <span class=\"muted\">(read-only)</span>"));
        assert!(!page.has("Edit organization settings"), "project admins cannot edit the org");
        assert!(!page.has(r#"id="remove""#), "the org's integration is not removable here");

        // Everything left on inherit: nothing to save.
        let res = p.submit(PROJECT, PROJECT, &org_form("inherit", "inherit", "inherit", "")).await;
        assert_eq!(res.status, 303);
        assert!(p.get(PROJECT).await.has("Nothing to save"));

        // Override threads and channels; send_messages is copied from the org (rule 1).
        let res = p.submit(PROJECT, PROJECT, &org_form("inherit", "enabled", "inherit", "#perf")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let page = p.get(PROJECT).await;
        assert!(page.has("Send messages is now set on this project (Enabled"), "{}", page.body);
        assert!(page.selected("send_messages", "enabled"));
        assert!(page.has(r#"id="send_messages-effective">Effective: <strong>Enabled</strong> <span class="src project">set on this project</span>"#), "{}", page.body);
        assert!(page.has(r#"id="threads-effective">Effective: <strong>Enabled</strong> <span class="src project">set on this project</span>"#));
        assert!(page.has(r#"id="compact_messages-effective">Effective: <strong>Enabled</strong> <span class="src">inherited from organization</span>"#));
        assert!(page.has(r##"id="target_channels-effective">Effective: <strong>#perf</strong> <span class="src project">set on this project</span>"##), "{}", page.body);
        let send_select = &page.body[page.body.find(r#"<select id="send_messages""#).unwrap()..];
        assert!(!send_select[..send_select.find("</select>").unwrap()].contains("inherit"), "no inherit once the project has own settings");

        // Disabled on the project wins over the org's Enabled.
        p.submit(PROJECT, PROJECT, &org_form("disabled", "enabled", "inherit", "#perf")).await;
        let page = p.get(PROJECT).await;
        assert!(page.has(r#"id="send_messages-effective">Effective: <strong>Disabled</strong> <span class="src project">set on this project</span>"#));

        // Channel errors are inline here too.
        let res = p.submit(PROJECT, PROJECT, &org_form("disabled", "enabled", "inherit", "#nope")).await;
        assert_eq!(res.status, 422);
        assert!(res.has(r#"id="channels-error""#) && res.has("#nope"));

        // Reset: needs its CSRF token, then everything is inherited again.
        assert_eq!(p.post("/orgs/acme/projects/webshop/slack/reset", &[]).await.status, 403);
        let res = p.submit(PROJECT, "/orgs/acme/projects/webshop/slack/reset", &[]).await;
        assert_eq!(res.status, 303);
        let page = p.get(PROJECT).await;
        assert!(page.has("now inherits all settings"), "{}", page.body);
        assert!(page.has("inherits everything from the organization"));
        assert!(page.selected("send_messages", "inherit"));

        // The org admin sees the project too, with a link back to the org's settings.
        let page = b.get(PROJECT).await;
        assert_eq!(page.status, 200);
        assert!(page.has("Edit organization settings"));
    }
}

test_both_backends_with_slack! {
    async fn a_project_integration_overrides_and_removing_it_brings_back_the_orgs(app: TestApp) {
        let b = org_admin(&app).await;
        install_via_ui(&b, ORG).await;
        let p = Browser::new(&app);
        assert_eq!(p.sign_in(&app.project_admin_token("acme", "webshop")).await.status, 303);
        let page = install_via_ui(&p, PROJECT).await;
        assert!(page.has(r#"id="integration-source">set on this project"#), "{}", page.body);
        assert!(page.has(r#"id="remove" href="/orgs/acme/projects/webshop/slack/remove""#));
        assert!(page.has("If you remove the project's integration, the organization's integration takes effect"));

        let confirm = p.get("/orgs/acme/projects/webshop/slack/remove").await;
        assert_eq!(confirm.status, 200);
        assert!(confirm.has(r#"id="org-takes-effect""#) && confirm.has("The organization's integration (workspace"), "{}", confirm.body);
        let res = p.submit("/orgs/acme/projects/webshop/slack/remove", "/orgs/acme/projects/webshop/slack/remove", &[]).await;
        assert_eq!(res.status, 303);
        let page = p.get(PROJECT).await;
        assert!(page.has("Slack integration removed. The organization&#x27;s integration now takes effect for this project."), "{}", page.body);
        assert!(page.has(r#"id="integration-source">inherited from organization"#), "{}", page.body);
        assert!(page.has("XTC-Test-Workspace"));
    }
}

test_both_backends_with_slack! {
    async fn a_revoked_integration_shows_a_warning_with_its_reason(app: TestApp) {
        use xtc_slack::db::models::installation::Installation;
        let b = org_admin(&app).await;
        install_via_ui(&b, ORG).await;
        {
            let mut conn = app.db.connect();
            let inst = Installation::find_by_scope(&mut conn, "acme", None).unwrap().unwrap();
            Installation::mark_revoked(&mut conn, &inst.id, "token_revoked").unwrap();
        }
        let page = b.get(ORG).await;
        assert!(page.has(r#"id="integration-warning""#), "{}", page.body);
        assert!(page.has("<code>token_revoked</code>"));
        assert!(page.has("status broken"));
        // Labelled "Revoked", never "Done", with the reason and what to do.
        assert!(page.has(r#"<span class="status broken" id="integration-status"><span class="dot"></span>Revoked</span>"#), "{}", page.body);
        assert!(!element(&page, "integration", "div").contains("Done"), "{}", page.body);
        let warning = element(&page, "integration-warning", "p");
        assert!(warning.contains("Its token was revoked in Slack."), "{warning}");
        assert!(warning.contains("install the app again with “Set Up Slack Integration”"), "{warning}");
        // The project page shows the organization's integration as revoked too.
        let project = b.get(PROJECT).await;
        assert!(element(&project, "org-integration", "div").starts_with(r#"id="org-integration">Revoked"#), "{}", project.body);
        assert!(!page.has(r#"id="send-test""#), "incomplete while revoked");
        assert!(page.has("a working Slack integration"), "{}", page.body);
    }
}

test_both_backends_with_slack! {
    async fn the_project_page_lists_recent_deliveries(app: TestApp) {
        let b = org_admin(&app).await;
        install_via_ui(&b, ORG).await;
        let res = b.submit(ORG, ORG, &org_form("enabled", "disabled", "disabled", "#load-tests")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert!(b.get(PROJECT).await.has("No messages yet"));
        let token = app.service_token.clone();
        let (status, body) = app.call(Method::POST, "/api/v1/load-tests/lt-1/events", Some(&token), Some(json!({
            "event_id": "ev-ui-1", "org": "acme", "project": "webshop", "type": "started",
            "occurred_at": "2026-11-26T10:00:00Z",
            "load_test": {"name": "Checkout <b>peak</b>", "url": "https://xtc.example/lt/1", "started_by": "jane"},
        }))).await;
        assert!(status == 202 || status == 200, "{status} {body}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let page = loop {
            let page = b.get(PROJECT).await;
            if page.has(r#"<span class="badge ok">sent</span>"#) || Instant::now() > deadline {
                break page;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        let table = element(&page, "delivery-log", "table");
        assert!(table.contains("<th>Subject</th><th>Event</th><th>Channel</th><th>Status</th><th>What happened</th>"), "{table}");
        assert!(table.contains(r#"<td class="subject">Checkout &lt;b&gt;peak&lt;/b&gt;</td><td>Load test started</td><td class="channel">#load-tests</td>"#), "{table}");
        // One attempt is the rule: not worth a "×1" on every row.
        assert!(table.contains(r#"<span class="badge ok">sent</span><br>"#), "{table}");
        assert!(!table.contains("×") && !table.contains("attempts"), "{table}");
        // The project page filters by status too.
        assert!(page.has(r#"<select id="log-status" name="status">"#), "{}", page.body);
        assert!(b.get(&format!("{PROJECT}?status=failed")).await.has("No deliveries with this status yet."));
        let sent = b.get(&format!("{PROJECT}?status=sent")).await;
        assert!(sent.has(r#"<span class="badge ok">sent</span>"#) && sent.has(r#"<option value="sent" selected>"#), "{}", sent.body);
        assert!(b.get(&format!("{PROJECT}?status=bogus")).await.has(r#"id="filter-problem""#));
        assert!(table.contains(r#"<span class="muted when">sent 20"#) && table.contains(" UTC</span>"), "the sent time: {table}");
    }
}

test_both_backends! {
    async fn names_are_escaped_everywhere(app: TestApp) {
        assert_eq!(app.put_org("acme", "<script>alert('o')</script>").await.0, 201);
        assert_eq!(app.put_project("acme", "webshop", "\"><img src=x onerror=alert(1)>").await.0, 201);
        let b = Browser::new(&app);
        assert_eq!(b.sign_in(&app.admin_token("acme")).await.status, 303);
        for path in [ORG, PROJECT] {
            let page = b.get(path).await;
            assert_eq!(page.status, 200, "{}", page.body);
            assert!(!page.has("<script>alert") && !page.has("<img src=x"), "{}", page.body);
            assert!(page.has("&lt;script&gt;") || page.has("&lt;img src=x"), "{}", page.body);
        }
        // Typed channel text comes back escaped too.
        let res = b.submit(ORG, ORG, &org_form("enabled", "disabled", "disabled", "\"><b>x</b>")).await;
        assert_eq!(res.status, 422);
        assert!(!res.has("<b>x</b>") && res.has("&quot;&gt;&lt;b&gt;x&lt;/b&gt;"), "{}", res.body);
    }
}

#[actix_web::test]
async fn the_cookie_is_secure_behind_https() {
    let app = crate::helpers::try_spawn_app_with(crate::helpers::Backend::Sqlite, |args| {
        args.public_url = Some("https://xtc-slack.example".into());
    })
    .await
    .unwrap();
    let res = reqwest::Client::new()
        .get(app.url("/"))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("Secure")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

test_both_backends_with_slack! {
    async fn a_denied_install_says_why_with_the_approval_hint_and_a_way_back(app: TestApp) {
        let b = org_admin(&app).await;
        let start = b.get("/orgs/acme/slack/install").await;
        assert_eq!(start.status, 303);
        let callback = app.decide_on_slack(&start.location.unwrap(), "deny").await;
        let page = b.get(&callback).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.has("cancelled") && page.has("approval"), "{}", page.body);
        assert!(page.has(r#"href="/orgs/acme/slack""#), "{}", page.body);
        assert!(page.has("Slack notifications"), "the UI's look: {}", page.body);
        assert!(b.get(ORG).await.has("Not configured"));
    }
}

/// The `name=value` of the session cookie a response set.
fn session_cookie(page: &Page) -> String {
    let cookie = page
        .set_cookie
        .iter()
        .find(|c| c.starts_with("xtc_slack_session="))
        .expect("a session cookie");
    cookie.split(';').next().unwrap().to_owned()
}

test_both_backends! {
    async fn signing_out_ends_the_session_for_every_copy_of_the_cookie(app: TestApp) {
        app.seed_acme().await;
        let b = Browser::new(&app);
        let res = b.sign_in(&app.admin_token("acme")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        // Someone copies the cookie (another tab, a proxy log, a stolen laptop backup).
        let copy = session_cookie(&res);
        let csrf = b.get(ORG).await.csrf();
        let stolen = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let get = || stolen.get(app.url(ORG)).header("cookie", &copy).send();
        assert_eq!(get().await.unwrap().status().as_u16(), 200, "the copy works while signed in");

        let res = b.submit(ORG, "/signout", &[]).await;
        assert_eq!(res.status, 303);

        // After sign-out the copy is refused for pages and for CSRF-checked forms alike.
        let page = get().await.unwrap();
        assert_eq!(page.status().as_u16(), 401);
        assert!(page.text().await.unwrap().contains("signed out"));
        let form = org_form("enabled", "enabled", "enabled", "#load-tests");
        let mut with_csrf = vec![("csrf", csrf.as_str())];
        with_csrf.extend_from_slice(&form);
        for path in [ORG, "/orgs/acme/slack/test"] {
            let res = stolen.post(app.url(path)).header("cookie", &copy).form(&with_csrf).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 401, "{path}");
        }
        let admin = app.admin_token("acme");
        let (_, body) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&admin), None).await;
        assert_eq!(body["send_messages"], false, "nothing was saved: {body}");
        // Only the hash of the session id is stored, never the cookie.
        let stored: i64 = {
            use diesel::prelude::*;
            let mut conn = app.db.connect();
            xtc_slack::db::schema::ui_sessions::table.count().get_result(&mut conn).unwrap()
        };
        assert_eq!(stored, 0, "the sign-out deleted the session");
    }
}

test_both_backends_with_slack! {
    async fn opening_the_authorize_url_without_a_session_lands_on_a_page_saying_what_was_installed(app: TestApp) {
        // The README's walkthrough: the install is started with the API, the browser has
        // never signed in.
        app.seed_acme().await;
        let admin = app.admin_token("acme");
        let authorize = app.install_url("/api/v1/orgs/acme", &admin).await;
        let b = Browser::new(&app);
        let callback = app.decide_on_slack(&authorize, "approve").await;
        let back = b.get(&callback).await;
        assert_eq!(back.status, 303, "{}", back.body);
        let landing = back.location.clone().unwrap();
        assert!(landing.ends_with("/orgs/acme/slack?installed=1"), "{landing}");
        let cookie = back.set_cookie.iter().find(|c| c.starts_with("xtc_slack_installed=")).expect("a landing cookie");
        assert!(cookie.contains("HttpOnly") && !cookie.contains("XTC-Test-Workspace"), "encrypted: {cookie}");

        let page = b.get(&landing).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let message = element(&page, "installed-message", "div");
        assert!(message.contains("Slack integration installed into the workspace <strong>XTC-Test-Workspace</strong> for organization acme."), "{message}");
        assert!(page.has("Sign in to see the settings"), "{}", page.body);
        assert!(!page.has("Please sign in"), "{}", page.body);

        // Signing in right there shows the settings, installed.
        let res = b.post("/", &[("csrf", &page.csrf()), ("token", &admin)]).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(res.location.as_deref(), Some(ORG));
        let page = b.get(ORG).await;
        assert!(page.has(r#"<span class="status done" id="integration-status"><span class="dot"></span>Done</span>"#), "{}", page.body);

        // Another browser (no landing cookie) is asked to sign in and learns nothing.
        let other = Browser::new(&app);
        let page = other.get(&landing).await;
        assert_eq!(page.status, 401);
        assert!(page.has("just approved") && !page.has("XTC-Test-Workspace"), "{}", page.body);
    }
}

test_both_backends! {
    async fn a_save_refused_for_one_channel_says_nothing_was_saved_and_marks_what_is_unsaved(app: TestApp) {
        let b = org_admin(&app).await;
        let res = b.submit(ORG, ORG, &org_form("disabled", "enabled", "disabled", "#load-tests")).await;
        assert_eq!(res.status, 303, "{}", res.body);

        let res = b.submit(ORG, ORG, &org_form("enabled", "enabled", "disabled", "#load-tests #Bad!Name")).await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(element(&res, "not-saved", "div").contains("Nothing was saved."), "{}", res.body);
        let error = element(&res, "channels-error", "p");
        assert!(error.contains("<strong>Nothing was saved.</strong>") && error.contains("Bad!Name"), "{error}");
        // The typed values stay, and those that differ from the saved ones say so.
        assert!(res.selected("send_messages", "enabled"));
        assert!(res.has(r#"<select id="send_messages" name="send_messages" class="unsaved""#), "{}", res.body);
        assert!(element(&res, "send_messages-unsaved", "p").contains("The saved value is <strong>Disabled</strong>"), "{}", res.body);
        assert!(!res.has(r#"id="threads-unsaved""#) && !res.has(r#"id="compact_messages-unsaved""#), "unchanged values are not marked");
        assert!(element(&res, "target_channels-unsaved", "p").contains("<strong>#load-tests</strong>"), "{}", res.body);

        // A reload shows the saved values, unmarked.
        let page = b.get(ORG).await;
        assert!(page.selected("send_messages", "disabled"));
        assert!(!page.has(r#"-unsaved""#) && !page.has(r#"class="unsaved""#) && !page.has(r#"id="not-saved""#), "{}", page.body);

        // A project's refused save too.
        let res = b.submit(PROJECT, PROJECT, &org_form("enabled", "inherit", "inherit", "#Bad!")).await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(element(&res, "channels-error", "p").contains("Nothing was saved."), "{}", res.body);
        assert!(element(&res, "send_messages-unsaved", "p").contains("Inherit from organization"), "{}", res.body);
        assert!(element(&res, "target_channels-unsaved", "p").contains("<strong>empty</strong>"), "{}", res.body);
    }
}

/// Posts a `started` event of load test `id` named `name` in acme/`project`.
async fn load_test_started(app: &TestApp, id: &str, project: &str, name: &str) {
    let token = app.service_token.clone();
    let (status, body) = app.call(Method::POST, &format!("/api/v1/load-tests/{id}/events"), Some(&token), Some(json!({
        "event_id": format!("ev-{id}"), "org": "acme", "project": project, "type": "started",
        "occurred_at": "2026-11-26T10:00:00Z",
        "load_test": {"name": name, "url": "https://xtc.example/lt/1", "started_by": "jane"},
    }))).await;
    assert!(status == 202 || status == 200, "{status} {body}");
}

test_both_backends_with_slack! {
    async fn the_org_page_lists_every_projects_deliveries_and_test_messages_with_filters(app: TestApp) {
        let b = org_admin(&app).await;
        assert_eq!(app.put_project("acme", "blog", "Blog").await.0, 201);
        install_via_ui(&b, ORG).await;
        let res = b.submit(ORG, ORG, &org_form("enabled", "disabled", "disabled", "#load-tests #perf")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        // #perf is archived afterwards: its messages fail.
        app.fake_post("/channels", json!({"name": "perf", "is_archived": true})).await;
        // A test message from the UI is logged too.
        let res = b.submit(ORG, "/orgs/acme/slack/test", &[]).await;
        assert_eq!(res.status, 303, "{}", res.body);
        load_test_started(&app, "lt-shop", "webshop", "Checkout peak").await;
        load_test_started(&app, "lt-blog", "blog", "Blog smoke").await;

        let deadline = Instant::now() + Duration::from_secs(30);
        let page = loop {
            let page = b.get(ORG).await;
            let log = page.body.find(r#"id="delivery-log""#).map(|at| page.body[at..].to_owned()).unwrap_or_default();
            if log.matches(r#"class="badge bad">failed"#).count() >= 3 || Instant::now() > deadline {
                break page;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        let table = element(&page, "delivery-log", "table");
        assert!(table.contains("<th>Project</th><th>Subject</th>"), "{table}");
        assert!(table.contains(r#"<td>webshop</td><td class="subject">Checkout peak</td><td>Load test started</td><td class="channel">#load-tests</td>"#), "{table}");
        assert!(table.contains(r#"<td>blog</td><td class="subject">Blog smoke</td>"#), "{table}");
        assert!(table.contains(r#"<td class="subject">Test message by test</td><td>Test message</td>"#), "{table}");
        assert!(table.contains("the channel is archived in Slack (is_archived). Unarchive it in Slack or pick another channel under Target Channels."), "{table}");
        assert_eq!(table.matches(r#"class="badge bad">failed"#).count(), 3, "{table}");

        // Filters: by project, by status; an unknown value is named and ignored.
        let blog = b.get("/orgs/acme/slack?project=blog").await;
        let table = element(&blog, "delivery-log", "table");
        assert!(table.contains("Blog smoke") && !table.contains("Checkout peak") && !table.contains("Test message by"), "{table}");
        assert!(blog.has(r#"<option value="blog" selected>Blog</option>"#), "{}", blog.body);
        let failed = b.get("/orgs/acme/slack?status=failed").await;
        let table = element(&failed, "delivery-log", "table");
        assert!(table.contains("badge bad") && !table.contains("badge ok"), "{table}");
        let odd = b.get("/orgs/acme/slack?status=bogus&project=nope").await;
        assert_eq!(odd.status, 200);
        assert!(element(&odd, "filter-problem", "div").contains("an unknown status and an unknown project"), "{}", odd.body);
    }
}

test_both_backends! {
    async fn notification_rules_are_added_edited_removed_and_inherited_in_the_form(app: TestApp) {
        let b = org_admin(&app).await;
        // Add a rule: failures to #alerts, pinging @here (no integration: stored as typed).
        let res = b.submit(ORG, &format!("{ORG}/rules"), &[
            ("rule_channel_0", "#alerts"), ("rule_events_0", "failures"),
            ("rule_events_0", "monitoring.recovered"), ("rule_mention_0", "@here"),
        ]).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let page = b.get(ORG).await;
        assert!(page.has("Notification rules saved."), "{}", page.body);
        assert!(page.has(r##"name="rule_channel_0" value="#alerts""##), "{}", page.body);
        assert!(page.has(r#"name="rule_events_0" value="failures" checked"#), "{}", page.body);
        assert!(page.has(r#"name="rule_events_0" value="monitoring.recovered" checked"#));
        assert!(!page.has(r#"name="rule_events_0" value="all" checked"#));
        assert!(page.has(r#"name="rule_mention_0" value="@here""#));
        assert!(page.has(r#"id="rule-1""#), "an empty row adds the next rule");
        let (_, api) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&app.admin_token("acme")), None).await;
        assert_eq!(api["rules"], json!([{"channel": "#alerts", "events": ["failures", "monitoring.recovered"], "mention": "@here"}]));

        // A project without rules of its own shows the organization's, read-only.
        let project = b.get(PROJECT).await;
        assert!(project.has(r#"id="inherited-rules""#) && project.has("failures, monitoring.recovered"), "{}", project.body);

        // A refused rule saves nothing and says which rule and field.
        let res = b.submit(ORG, &format!("{ORG}/rules"), &[
            ("rule_channel_0", "#alerts"), ("rule_events_0", "failures"),
            ("rule_channel_1", "#ops"), ("rule_mention_1", "@everyone"), ("rule_events_1", "all"),
        ]).await;
        assert_eq!(res.status, 303);
        let page = b.get(ORG).await;
        assert!(page.has("Nothing was saved. Rule 2, mention:"), "{}", page.body);
        assert!(!page.has(r##"value="#ops""##));

        // Removing the rule leaves none.
        let res = b.submit(ORG, &format!("{ORG}/rules"), &[
            ("rule_channel_0", "#alerts"), ("rule_events_0", "failures"), ("rule_remove_0", "1"),
            ("rule_channel_1", ""),
        ]).await;
        assert_eq!(res.status, 303);
        let (_, api) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&app.admin_token("acme")), None).await;
        assert_eq!(api["rules"], json!([]));

        // Without the CSRF token nothing changes.
        let res = b.post(&format!("{ORG}/rules"), &[("rule_channel_0", "#alerts"), ("rule_events_0", "all")]).await;
        assert_ne!(res.status, 303);
        let (_, api) = app.call(Method::GET, "/api/v1/orgs/acme/slack", Some(&app.admin_token("acme")), None).await;
        assert_eq!(api["rules"], json!([]));
    }
}

test_both_backends_with_slack! {
    /// A skipped row says when it was skipped (it was never queued) and gives its reason
    /// once, as a sentence; the grammar of the inherited rules' line.
    async fn a_skipped_delivery_reads_skipped_with_its_reason_once(app: TestApp) {
        let admin = app.configure_acme(json!({"send_messages": false, "target_channels": "#load-tests"})).await;
        let token = app.service_token.clone();
        let (status, body) = app.call(Method::POST, "/api/v1/load-tests/lt-1/events", Some(&token), Some(json!({
            "event_id": "ev-skip", "org": "acme", "project": "webshop", "type": "started",
            "occurred_at": "2026-11-26T10:00:00Z",
            "load_test": {"name": "Checkout", "url": "https://xtc.example/lt/1", "started_by": "jane"},
        }))).await;
        assert!(status == 202 || status == 200, "{status} {body}");
        let b = Browser::new(&app);
        assert_eq!(b.sign_in(&admin).await.status, 303);
        let page = b.get(PROJECT).await;
        let table = element(&page, "delivery-log", "table");
        assert!(table.contains(r#"<span class="badge muted">skipped</span><br><span class="muted when">skipped 20"#), "{table}");
        assert!(!table.contains("queued"), "{table}");
        assert!(table.contains("Not sent: &quot;Send messages&quot; is disabled for the organization."), "{table}");
        assert!(!table.contains("<code"), "the reason once, not again as a code: {table}");

        // The organization's rules, inherited by the project, in a sentence that reads.
        let rules = json!({"rules": [{"channel": "#load-tests", "events": ["failures"]}]});
        let (status, body) = app.call(Method::PUT, "/api/v1/orgs/acme/slack", Some(&admin), Some(rules)).await;
        assert_eq!(status, 200, "{body}");
        let page = b.get(PROJECT).await;
        assert!(page.has("This project has no rules of its own, so the organization's rules apply:"), "{}", page.body);
        assert!(!page.has("apply <span"), "{}", page.body);
    }
}

test_both_backends! {
    /// The "Maintenance windows" section: a one-off window created through the form (local
    /// times in the zone chosen), a weekly one refused for its zone naming the field, the list,
    /// and Delete.
    async fn maintenance_windows_are_created_listed_refused_and_deleted_through_the_forms(app: TestApp) {
        let b = org_admin(&app).await;
        let page = b.get(PROJECT).await;
        assert!(page.has(r#"id="no-windows""#), "{}", page.body);
        let action = format!("{PROJECT}/maintenance-windows");
        let res = b.submit(PROJECT, &action, &[
            ("kind", "once"), ("starts_at", "2030-07-01T10:00"), ("ends_at", "2030-07-01T12:30"),
            ("zone", "Europe/Berlin"), ("scenarios", "checkout  search"), ("reason", "DB <upgrade>"),
        ]).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(res.location.as_deref(), Some(format!("{PROJECT}#maintenance").as_str()));
        let page = b.get(PROJECT).await;
        assert!(page.has("Maintenance window 1 created"), "{}", page.body);
        let table = element(&page, "window-table", "table");
        // Berlin is UTC+2 in July; the reason is shown as typed, escaped.
        assert!(table.contains("2030-07-01 08:00 UTC – 2030-07-01 10:30 UTC"), "{table}");
        assert!(table.contains("checkout search"), "{table}");
        assert!(table.contains("DB &lt;upgrade&gt;"), "{table}");
        assert!(table.contains("<td>no</td>"), "not active now: {table}");
        let (_, list) = app.call(Method::GET, "/api/v1/orgs/acme/projects/webshop/slack/maintenance-windows", Some(&app.admin_token("acme")), None).await;
        assert_eq!(list["windows"][0]["starts_at"], "2030-07-01T08:00:00Z", "{list}");

        // Refusals: nothing saved, the notice names the field.
        let org_action = format!("{ORG}/maintenance-windows");
        let res = b.submit(ORG, &org_action, &[
            ("kind", "weekly"), ("days", "sat"), ("days", "sun"), ("from", "22:00"), ("to", "02:00"),
            ("timezone", "Mars/Olympus"), ("reason", "Weekend batch"),
        ]).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let page = b.get(ORG).await;
        assert!(page.has("Nothing was saved: Time zone:"), "{}", page.body);
        assert!(page.has(r#"id="no-windows""#), "{}", page.body);
        let res = b.submit(ORG, &org_action, &[
            ("kind", "once"), ("starts_at", "2030-07-01T10:00"), ("ends_at", ""), ("zone", "UTC"), ("reason", "x"),
        ]).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert!(b.get(ORG).await.has("Nothing was saved: Ends:"));

        // A weekly window across midnight on the organization's page.
        let res = b.submit(ORG, &org_action, &[
            ("kind", "weekly"), ("days", "sun"), ("days", "sat"), ("from", "22:00"), ("to", "02:00"),
            ("timezone", "Europe/Berlin"), ("scenarios", ""), ("reason", "Weekend batch"),
        ]).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let page = b.get(ORG).await;
        let table = element(&page, "window-table", "table");
        assert!(table.contains("every Sat, Sun 22:00–02:00 (ends the next day), Europe/Berlin"), "{table}");
        assert!(table.contains("all scenarios"), "{table}");

        // Delete needs the CSRF token, then removes the window.
        let delete = format!("{PROJECT}/maintenance-windows/1/delete");
        assert_eq!(b.post(&delete, &[("csrf", "wrong")]).await.status, 403);
        let res = b.submit(PROJECT, &delete, &[]).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let page = b.get(PROJECT).await;
        assert!(page.has("Maintenance window 1 deleted."), "{}", page.body);
        assert!(page.has(r#"id="no-windows""#), "{}", page.body);
        // Another scope's window is not found from this page.
        let res = b.submit(PROJECT, &format!("{PROJECT}/maintenance-windows/2/delete"), &[]).await;
        assert_eq!(res.status, 404, "{}", res.body);
    }
}

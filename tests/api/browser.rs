//! The Slack integration form in a real browser: headless Chromium driven over WebDriver
//! (chromedriver), against the app and its fake Slack. Screenshots of every step go to
//! `target/test-output/browser/`.
//!
//! Without `chromium` and `chromedriver` the test prints "skipped: …" and passes, so a
//! newcomer's `cargo test` works without a browser; CI sets `XTC_SLACK_REQUIRE_BROWSER=1`
//! (see `.ci/run`), which turns a missing browser (or a missing axe-core) into a failure.
//!
//! Every page of the web UI is checked with axe-core ([`axe`], [`pages`]). The README's
//! pictures are taken here and in [`fake_slack_page`]; `XTC_SLACK_WRITE_PICTURES=1` writes
//! them into `docs/` ([`Browser::picture`]).

mod axe;
mod fake_slack_page;
mod pages;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{spawn_app_with_slack, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";

/// A running chromedriver (killed on drop) and its browser session.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    step: u32,
    /// axe-core's script, when installed.
    axe: Option<String>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `name` found on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// What is missing to run a browser, if anything.
fn missing_browser() -> Option<String> {
    let chromium = std::env::var("XTC_SLACK_CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
    if on_path("chromedriver").is_none() {
        return Some("chromedriver is not installed (apt-get install chromium-driver)".into());
    }
    if !Path::new(&chromium).is_file() {
        return Some(format!(
            "{chromium} is not installed (apt-get install chromium)"
        ));
    }
    None
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session; `None` (after
    /// printing why) when no browser is installed and CI does not require one.
    async fn start() -> Option<Self> {
        if let Some(why) = missing_browser() {
            if std::env::var("XTC_SLACK_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("XTC_SLACK_REQUIRE_BROWSER=1 but {why}");
            }
            eprintln!("skipped: {why}");
            return None;
        }
        let axe = axe::script();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let chromium = std::env::var("XTC_SLACK_CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1280,1400",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&webdriver)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("could not start a Chromium session: {e}"),
            }
        };
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join("test-output/browser");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Self {
            client,
            driver,
            _profile: profile,
            shots,
            step: 0,
            axe,
        })
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    async fn text(&self, id: &str) -> String {
        // The page may be replaced between finding the element and reading it (a redirect
        // landing): find it again then.
        for _ in 0..20 {
            let element = self
                .client
                .wait()
                .at_most(Duration::from_secs(10))
                .for_element(Locator::Id(id))
                .await
                .unwrap_or_else(|e| panic!("#{id} not found: {e}"));
            match element.text().await {
                Ok(text) => return text,
                Err(e) if format!("{e:?}").contains("StaleElementReference") => {
                    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("#{id}: {e}"),
            }
        }
        panic!("#{id} kept going stale")
    }

    async fn click(&self, id: &str) {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("#{id} not found: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn select(&self, id: &str, value: &str) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap();
    }

    async fn type_into(&self, id: &str, text: &str) {
        let field = self.client.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Whether `text` shows up on the page within a few seconds (after a click, the old
    /// page may still be there for a moment, at the same path).
    async fn page_has(&self, text: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.client.source().await.unwrap().contains(text) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the browser is at `path` (navigation after a click).
    async fn wait_for_path(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let now = self.path().await;
            if now == path {
                return;
            }
            assert!(Instant::now() < deadline, "expected {path}, at {now}");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Makes the window as tall as the page's content (within reason), so a screenshot shows
    /// all of it and no empty space below.
    async fn fit_height(&self) {
        let height = self
            .client
            .execute(
                "const m = document.querySelector('main') || document.body; \
                 return Math.ceil(Math.max(0, ...Array.from(m.children, \
                   e => e.getBoundingClientRect().bottom + window.scrollY)) + 24 \
                   + window.outerHeight - window.innerHeight);",
                vec![],
            )
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(1400)
            .clamp(600, 3000);
        self.client
            .set_window_size(1280, u32::try_from(height).unwrap_or(1400))
            .await
            .unwrap();
    }

    /// Makes the window just tall enough to show the page down to the bottom of the element
    /// `css` selects (a picture of the top of a long page).
    async fn fit_height_to(&self, css: &str) {
        let height = self
            .client
            .execute(
                "const e = document.querySelector(arguments[0]); \
                 return Math.ceil(e.getBoundingClientRect().bottom + window.scrollY + 16 \
                   + window.outerHeight - window.innerHeight);",
                vec![json!(css)],
            )
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(1400)
            .clamp(600, 3000);
        let width = self.client.get_window_size().await.unwrap().0;
        self.client
            .set_window_size(
                u32::try_from(width).unwrap_or(1280),
                u32::try_from(height).unwrap_or(1400),
            )
            .await
            .unwrap();
    }

    /// Saves a screenshot as `NN-name.png`; returns its path.
    async fn shot(&mut self, name: &str) -> PathBuf {
        self.step += 1;
        let png = self.client.screenshot().await.unwrap();
        let path = self.shots.join(format!("{:02}-{name}.png", self.step));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// A picture of the documentation: the screenshot `shot` is copied to `name` beside the
    /// others, and into `docs/` when `XTC_SLACK_WRITE_PICTURES=1` (how the README's pictures
    /// are refreshed; without it a test run leaves the tracked files alone).
    fn picture(&self, shot: &Path, name: &str) {
        std::fs::copy(shot, self.shots.join(name)).unwrap();
        if std::env::var("XTC_SLACK_WRITE_PICTURES").is_ok_and(|v| v == "1") {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("docs")
                .join(name);
            std::fs::copy(shot, &docs).unwrap();
            eprintln!("wrote {}", docs.display());
        }
    }
}

async fn messages_in(app: &TestApp, channel: &str) -> usize {
    app.fake_get(&format!("/messages?channel={channel}")).await["messages"]
        .as_array()
        .unwrap()
        .len()
}

#[actix_web::test]
async fn an_admin_sets_up_slack_in_a_real_browser() {
    let Some(mut b) = Browser::start().await else {
        return;
    };
    let app = spawn_app_with_slack().await;
    app.seed_acme().await;
    let admin = app.admin_token("acme");

    // Sign in.
    b.goto(&app.url("/")).await;
    b.shot("sign-in").await;
    b.type_into("token", &admin).await;
    b.click("sign-in").await;
    b.wait_for_path("/orgs/acme/slack").await;
    assert_eq!(b.text("integration-status").await, "Not configured");
    b.audit("org-defaults").await;
    b.shot("org-defaults").await;

    // Enable sending and set channels; saved.
    b.select("send_messages", "enabled").await;
    b.type_into("target_channels", "#load-tests #perf").await;
    b.click("save").await;
    b.wait_for_path("/orgs/acme/slack").await;
    assert!(b.page_has("Settings saved.").await);
    b.shot("org-saved").await;

    // Set Up Slack Integration: off to the fake Slack's approval page, approve, back.
    b.click("setup").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !b.path().await.starts_with("/oauth/v2/authorize") {
        assert!(
            Instant::now() < deadline,
            "not on Slack's page: {}",
            b.path().await
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    b.shot("slack-approval").await;
    b.click("approve").await;
    b.wait_for_path("/orgs/acme/slack?installed=1").await;
    assert_eq!(b.text("integration-status").await, "Done");
    assert_eq!(b.text("workspace").await, "XTC-Test-Workspace");
    assert!(
        b.page_has("Slack integration installed into the workspace XTC-Test-Workspace.")
            .await
    );
    b.shot("org-installed").await;

    // Send Test Message: results on the page, the message at the fake.
    b.click("send-test").await;
    b.wait_for_path("/orgs/acme/slack").await;
    let results = b
        .text("test-results")
        .await
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        results.contains("sent #load-tests") && results.contains("sent #perf"),
        "{results}"
    );
    assert_eq!(messages_in(&app, "load-tests").await, 1);
    assert_eq!(messages_in(&app, "perf").await, 1);
    b.shot("org-test-message").await;

    // A notification rule: failures also to #perf, pinging @here ("Failures only" is the
    // second checkbox of a rule).
    b.type_into("rule_channel_0", "#perf").await;
    b.click("rule_events_0_1").await;
    b.type_into("rule_mention_0", "@here").await;
    b.click("save-rules").await;
    b.wait_for_path("/orgs/acme/slack").await;
    assert!(b.page_has("Notification rules saved.").await);
    let saved = b
        .client
        .find(Locator::Css(
            r#"input[name="rule_events_0"][value="failures"]"#,
        ))
        .await
        .unwrap();
    assert_eq!(
        saved.prop("checked").await.unwrap().as_deref(),
        Some("true")
    );
    assert!(b.text("rule-1").await.contains("Add a rule"));
    b.shot("org-rules").await;

    // The README's picture: the org form, installed, with channels, down to the rules.
    b.client.set_window_size(1100, 1400).await.unwrap();
    b.fit_height_to("#rules").await;
    // Saving rules lands on `#rules`: the picture starts at the top.
    b.client
        .execute("window.scrollTo(0, 0);", vec![])
        .await
        .unwrap();
    let form = b.shot("ui-slack-form").await;
    b.picture(&form, "ui-slack-form.png");
    b.client.set_window_size(1280, 1400).await.unwrap();

    // A project overrides "Send messages".
    b.goto(&app.url("/orgs/acme/projects/webshop/slack")).await;
    assert!(b
        .text("send_messages-effective")
        .await
        .contains("inherited from organization"));
    b.audit("project-inherits").await;
    b.shot("project-inherits").await;
    b.select("send_messages", "disabled").await;
    b.click("save").await;
    b.wait_for_path("/orgs/acme/projects/webshop/slack").await;
    // The save lands on the same path: wait for the new page, not the one before it.
    b.page_has("set on this project").await;
    let send = b.text("send_messages-effective").await;
    assert!(
        send.contains("Disabled") && send.contains("set on this project"),
        "{send}"
    );
    assert!(b
        .text("threads-effective")
        .await
        .contains("inherited from organization"));
    b.audit("project-override").await;
    b.shot("project-override").await;

    // A project integration of its own: with the organization's in use, a side action.
    b.click("setup-again").await;
    b.click("setup").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !b.path().await.starts_with("/oauth/v2/authorize") {
        assert!(Instant::now() < deadline);
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    b.click("approve").await;
    b.wait_for_path("/orgs/acme/projects/webshop/slack?installed=1")
        .await;
    assert_eq!(b.text("integration-status").await, "Done");
    assert_eq!(b.text("integration-source").await, "set on this project");
    b.audit("project-installed").await;
    b.shot("project-installed").await;

    // Remove it (with the confirmation step): the org's integration takes effect.
    b.click("remove").await;
    b.wait_for_path("/orgs/acme/projects/webshop/slack/remove")
        .await;
    assert!(b
        .text("org-takes-effect")
        .await
        .contains("XTC-Test-Workspace"));
    b.audit("project-remove-confirm").await;
    b.shot("project-remove-confirm").await;
    b.click("confirm-remove").await;
    b.wait_for_path("/orgs/acme/projects/webshop/slack").await;
    assert!(
        b.page_has("integration now takes effect for this project")
            .await
    );
    assert_eq!(
        b.text("integration-source").await,
        "inherited from organization"
    );
    assert_eq!(b.text("workspace").await, "XTC-Test-Workspace");
    b.audit("project-removed").await;
    b.shot("project-removed").await;

    // Sign out.
    b.click("sign-out").await;
    b.wait_for_path("/?signed_out=1").await;
    b.goto(&app.url("/orgs/acme/slack")).await;
    assert!(b.page_has("Please sign in").await);

    b.client.clone().close().await.unwrap();
    eprintln!("screenshots in {}", b.shots.display());
}

/// The README's walkthrough as a new user follows it (the install started with the API,
/// the browser not signed in), then what the pages say about a refused save, the delivery
/// log and a revoked integration.
#[actix_web::test]
async fn a_new_user_follows_the_readme_and_every_page_says_what_happened() {
    let Some(mut b) = Browser::start().await else {
        return;
    };
    let app = spawn_app_with_slack().await;
    app.seed_acme().await;
    let admin = app.admin_token("acme");

    // `POST …/slack/install`, then open the authorize_url and click "Allow".
    let authorize = app.install_url("/api/v1/orgs/acme", &admin).await;
    b.goto(&authorize).await;
    b.click("approve").await;
    b.wait_for_path("/orgs/acme/slack?installed=1").await;
    let landed = b.text("installed-message").await;
    assert!(
        landed.contains("installed into the workspace XTC-Test-Workspace for organization acme"),
        "{landed}"
    );
    // The page is loaded (its message was read): no sign-in prompt on it.
    assert!(!b.client.source().await.unwrap().contains("Please sign in"));
    b.shot("readme-landing").await;

    // Sign in right there: the settings page, installed.
    b.type_into("token", &admin).await;
    b.click("sign-in").await;
    b.wait_for_path("/orgs/acme/slack").await;
    assert_eq!(b.text("integration-status").await, "Done");

    // A save refused for one channel: nothing saved, the typed values marked.
    b.select("send_messages", "enabled").await;
    b.type_into("target_channels", "#load-tests #Bad!Name")
        .await;
    b.click("save").await;
    assert!(b.page_has("Nothing was saved.").await);
    assert!(b
        .text("send_messages-unsaved")
        .await
        .contains("The saved value is Disabled"));
    assert!(b
        .text("channels-error")
        .await
        .starts_with("Nothing was saved."));
    b.shot("refused-save").await;

    // Saved; #perf archived in Slack; a test message: the log says what to do.
    b.type_into("target_channels", "#load-tests #perf").await;
    b.click("save").await;
    assert!(b.page_has("Settings saved.").await);
    app.fake_post("/channels", json!({"name": "perf", "is_archived": true}))
        .await;
    b.click("send-test").await;
    assert!(b.page_has("reached 1 of 2 channel(s)").await);
    let log = b.text("delivery-log").await;
    assert!(log.contains("Test message by test"), "{log}");
    assert!(
        log.contains("the channel is archived in Slack (is_archived)"),
        "{log}"
    );
    assert!(!log.contains("configuration incomplete"), "{log}");
    b.shot("org-delivery-log").await;

    // Slack revokes the token: "Revoked", the reason and what to do.
    {
        use xtc_slack::db::models::installation::Installation;
        let mut conn = app.db.connect();
        let inst = Installation::find_by_scope(&mut conn, "acme", None)
            .unwrap()
            .unwrap();
        Installation::mark_revoked(&mut conn, &inst.id, "token_revoked").unwrap();
    }
    b.goto(&app.url("/orgs/acme/slack")).await;
    assert_eq!(b.text("integration-status").await, "Revoked");
    let warning = b.text("integration-warning").await;
    assert!(
        warning.contains("Its token was revoked in Slack.")
            && warning.contains("install the app again"),
        "{warning}"
    );
    b.shot("org-revoked").await;

    b.client.clone().close().await.unwrap();
}

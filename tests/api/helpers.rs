//! `spawn_app()`: one real server per test on port 0, with its own database (a fresh
//! SQLite file, or a fresh PostgreSQL database when `XTC_SLACK_TEST_POSTGRES_URL` is set).
#![allow(dead_code)]

use std::net::TcpListener;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use secrecy::ExposeSecret;
use serde_json::Value;
use xtc_slack::db::{DatabaseUrl, DbConnection};
use xtc_slack::domain::access::Role;
use xtc_slack::domain::ids::{OrgId, ProjectId};
use xtc_slack::settings::{DatabaseArgs, LogFormat, ServeArgs, Settings};
use xtc_slack::startup::Application;

/// The database backend a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that belongs to one test and disappears with it.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

/// `XTC_SLACK_TEST_POSTGRES_URL` with GSSAPI encryption off unless the URL chooses:
/// libpq's default (`gssencmode=prefer`) asks Kerberos for credentials on every connection,
/// and Kerberos' clean-up at exit aborted the binary while threads of finished tests still
/// connected (see `process_exit.rs`); the tests never use Kerberos.
pub fn postgres_admin_url() -> Option<String> {
    let mut url = url::Url::parse(&std::env::var("XTC_SLACK_TEST_POSTGRES_URL").ok()?).ok()?;
    if !url.query_pairs().any(|(k, _)| k == "gssencmode") {
        url.query_pairs_mut().append_pair("gssencmode", "disable");
    }
    Some(url.to_string())
}

impl TestDb {
    /// A new empty database, or `None` for Postgres when no server is configured.
    pub fn create(backend: Backend) -> Option<Self> {
        // Before this test's first PostgreSQL connection (see `process_exit.rs`).
        xtc_slack::db::keep_libcrypto_at_exit();
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/xtc-slack.db", dir.path().display());
                Some(Self {
                    url,
                    _dir: Some(dir),
                    pg_admin: None,
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin_url()?;
                let name = format!("xtc_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = diesel::PgConnection::establish(&admin).unwrap();
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap();
                let mut url = url::Url::parse(&admin).unwrap();
                url.set_path(&format!("/{name}"));
                Some(Self {
                    url: url.to_string(),
                    _dir: None,
                    pg_admin: Some((admin, name)),
                })
            }
        }
    }

    /// A direct connection (for fixtures and for looking at what was stored).
    pub fn connect(&self) -> DbConnection {
        DatabaseUrl::parse(&self.url).unwrap().connect().unwrap()
    }

    /// The SQLite file's path, for tests that read its raw bytes.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        match DatabaseUrl::parse(&self.url).unwrap() {
            DatabaseUrl::Sqlite(p) => Some(p),
            DatabaseUrl::Postgres(_) => None,
        }
    }
}

impl TestDb {
    /// Ends every connection to this PostgreSQL database but the one asking, as a restart
    /// or a failover would; the database stays.
    pub fn end_connections(&self) {
        self.connect()
            .batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .unwrap();
    }

    /// Drops a PostgreSQL database now, killing its connections (an outage).
    pub fn drop_now(&self) {
        if let Some((admin, name)) = &self.pg_admin {
            let mut conn = diesel::PgConnection::establish(admin).unwrap();
            conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .unwrap();
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg_admin {
            if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// Settings as `serve` would build them, with defaults for everything else.
pub fn test_args(db_url: &str) -> ServeArgs {
    ServeArgs {
        database: DatabaseArgs {
            database_url: db_url.to_owned(),
        },
        bind: "127.0.0.1:0".into(),
        public_url: None,
        secret_key: Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into()),
        slack_client_id: None,
        slack_client_secret: None,
        slack_signing_secret: None,
        slack_api_url: "http://127.0.0.1:9/api".into(),
        slack_authorize_url: "http://127.0.0.1:9/oauth/v2/authorize".into(),
        slack_timeout_secs: 5,
        templates_dir: None,
        log_format: LogFormat::Human,
        db_pool_size: 4,
        background_db_pool_size: 2,
        slow_db_ms: 50,
        channel_interval_ms: 1050,
        channel_burst: 2,
        retry_base_ms: 50,
        max_attempts: 0,
        retry_window_secs: 3600,
        channel_check_interval_secs: 0,
        channel_directory_page_ms: 0,
        max_live_actors: 10_000,
        card_edits_per_min: 50,
        card_edit_burst: 5,
        // Off unless a test is about digests: tests count messages per event.
        digest_after_secs: 0,
        // Held incidents (during_load_tests: hold) settle a second after their load test.
        hold_grace_secs: 1,
        handoff: true,
        slack_keep_alive: true,
        flap_changes: 3,
        flap_window_secs: 900,
        flap_recovery_hold_secs: 300,
        retention_days: 30,
        audit_retention_days: 365,
        retention_interval_secs: 0,
        request_body_timeout_secs: 10,
        // Off unless a test is about the weekly summary's schedule.
        summary_check_secs: 0,
        summary_clock_offset_secs: 0,
    }
}

/// A running service for one test.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub backend: Backend,
    pub db: TestDb,
    pub http: reqwest::Client,
    /// A `service` token.
    pub service_token: String,
    /// The app's own fake Slack, when started with [`try_spawn_app_with_slack`].
    pub fake: Option<fake_slack::FakeSlackHandle>,
}

/// Starts the service on `backend`; `None` when that backend is not available here.
pub async fn try_spawn_app(backend: Backend) -> Option<TestApp> {
    try_spawn_app_with(backend, |_| {}).await
}

/// Starts the service on `backend` after `configure` adjusted its settings.
pub async fn try_spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut ServeArgs),
) -> Option<TestApp> {
    // The global log subscriber exists before this thread makes its first Slack call: the
    // client's thread-local connection pool logs when the thread ends, and a subscriber
    // installed later (by another test) would then find its own thread-local storage gone
    // and abort the whole test binary.
    captured_logs();
    let db = TestDb::create(backend)?;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut args = test_args(&db.url);
    args.public_url = Some(format!("http://127.0.0.1:{port}"));
    configure(&mut args);
    let settings = Settings::from_args(args).unwrap();
    let app = Application::build_with_listener(settings, listener)
        .await
        .unwrap();
    actix_web::rt::spawn(app.run_until_stopped());
    let mut app = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        backend,
        db,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        service_token: String::new(),
        fake: None,
    };
    app.service_token = app.create_token(Role::Service, None, None);
    Some(app)
}

/// Starts the service on SQLite.
pub async fn spawn_app() -> TestApp {
    try_spawn_app(Backend::Sqlite).await.unwrap()
}

impl TestApp {
    /// Issues a token exactly as `xtc-slack token create` does.
    pub fn create_token(&self, role: Role, org: Option<&str>, project: Option<&str>) -> String {
        let mut conn = self.db.connect();
        let org = org.map(|o| OrgId::parse(o).unwrap());
        let project = project.map(|p| ProjectId::parse(p).unwrap());
        let issued =
            xtc_slack::auth::issue(&mut conn, role, org.as_ref(), project.as_ref(), "test")
                .unwrap();
        issued.token.expose_secret().to_owned()
    }

    /// Revokes an API token by its clear text (as `xtc-slack token revoke` would by id).
    pub fn revoke_token(&self, token: &str) {
        use xtc_slack::db::models::api_token::ApiTokenRow;
        let mut conn = self.db.connect();
        let hash = xtc_slack::crypto::sha256_hex(token);
        let rows = ApiTokenRow::find_active_by_hashes(&mut conn, &[hash.as_str()]).unwrap();
        assert_eq!(rows.len(), 1, "one live token");
        assert!(ApiTokenRow::revoke(&mut conn, &rows[0].id).unwrap());
    }

    pub fn admin_token(&self, org: &str) -> String {
        self.create_token(Role::Admin, Some(org), None)
    }

    pub fn project_admin_token(&self, org: &str, project: &str) -> String {
        self.create_token(Role::Admin, Some(org), Some(project))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request with an optional bearer token and JSON body; returns status + JSON.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    /// Sends a raw body (for malformed-input tests).
    pub async fn call_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let res = self
            .http
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let json = res.json::<Value>().await.unwrap_or(Value::Null);
        (status, json)
    }

    pub async fn put_org(&self, org: &str, name: &str) -> (u16, Value) {
        let token = self.service_token.clone();
        self.call(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{org}"),
            Some(&token),
            Some(serde_json::json!({"name": name})),
        )
        .await
    }

    pub async fn put_project(&self, org: &str, project: &str, name: &str) -> (u16, Value) {
        let token = self.service_token.clone();
        self.call(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{org}/projects/{project}"),
            Some(&token),
            Some(serde_json::json!({"name": name})),
        )
        .await
    }

    /// Registers `acme` with project `webshop`.
    pub async fn seed_acme(&self) {
        assert_eq!(self.put_org("acme", "Acme Corp").await.0, 201);
        assert_eq!(self.put_project("acme", "webshop", "Webshop").await.0, 201);
    }
}

/// Starts the service together with its own fake Slack (port 0), with the Slack app
/// credentials, API and authorize URLs pointing at the fake. Also installs the log
/// capture (see [`captured_logs`]).
pub async fn try_spawn_app_with_slack(backend: Backend) -> Option<TestApp> {
    use fake_slack::FakeSlackConfig;
    captured_logs();
    let config = FakeSlackConfig {
        // No pacing in tests: a test message to three channels must not wait.
        rate_limit_per_sec: 0.0,
        ..FakeSlackConfig::default()
    };
    let (client_id, client_secret) = (config.client_id.clone(), config.client_secret.clone());
    let signing_secret = config.signing_secret.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let fake = fake_slack::spawn(config, listener).unwrap();
    let (api, authorize) = (fake.api_url(), fake.authorize_url());
    let mut app = try_spawn_app_with(backend, move |args| {
        args.slack_client_id = Some(client_id);
        args.slack_client_secret = Some(client_secret);
        args.slack_signing_secret = Some(signing_secret);
        args.slack_api_url = api;
        args.slack_authorize_url = authorize;
    })
    .await?;
    app.fake = Some(fake);
    Some(app)
}

/// Starts the service on SQLite with its own fake Slack.
pub async fn spawn_app_with_slack() -> TestApp {
    try_spawn_app_with_slack(Backend::Sqlite).await.unwrap()
}

/// Everything logged by any test of this binary (all threads), once installed. `None`
/// when another global subscriber was installed first.
pub fn captured_logs() -> Option<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> {
    use std::sync::{Arc, Mutex, OnceLock};
    static LOGS: OnceLock<Option<Arc<Mutex<Vec<u8>>>>> = OnceLock::new();
    // Before any test connects to PostgreSQL (see `process_exit.rs`).
    xtc_slack::db::keep_libcrypto_at_exit();
    LOGS.get_or_init(|| {
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_ansi(false)
            .with_writer(move || Sink(writer.clone()))
            .try_init()
            .ok()
            .map(|()| buf)
    })
    .clone()
}

impl TestApp {
    /// The fake Slack of this app (started with [`try_spawn_app_with_slack`]).
    pub fn fake(&self) -> &fake_slack::FakeSlackHandle {
        self.fake.as_ref().expect("started without a fake Slack")
    }

    /// `GET` on the fake's control API (`/_fake/api{path}`).
    pub async fn fake_get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.fake().control_url());
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `POST` on the fake's control API.
    pub async fn fake_post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.fake().control_url());
        self.http
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `POST {scope}/slack/install` (scope: `/api/v1/orgs/acme[/projects/webshop]`);
    /// returns the authorize URL.
    pub async fn install_url(&self, scope: &str, token: &str) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("{scope}/slack/install"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["authorize_url"].as_str().unwrap().to_owned()
    }

    /// Answers the fake's approval page for `authorize_url` with `decision`
    /// (`approve`/`deny`), without following the redirect; returns its `Location`.
    pub async fn decide_on_slack(&self, authorize_url: &str, decision: &str) -> String {
        let page = self.http.get(authorize_url).send().await.unwrap();
        assert_eq!(
            page.status().as_u16(),
            200,
            "{}",
            page.text().await.unwrap()
        );
        let url = url::Url::parse(authorize_url).unwrap();
        let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        form.push(("decision".into(), decision.into()));
        let res = self
            .http
            .post(self.fake().authorize_url())
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 302);
        res.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Calls our callback URL (as the browser would after Slack's redirect).
    pub async fn follow(&self, location: &str) -> (u16, Option<String>, String) {
        let res = self.http.get(location).send().await.unwrap();
        let status = res.status().as_u16();
        let loc = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, loc, res.text().await.unwrap())
    }

    /// The whole install flow for `scope`, approved; asserts the 303 and returns its target.
    pub async fn install_slack(&self, scope: &str, token: &str) -> String {
        let authorize = self.install_url(scope, token).await;
        let callback = self.decide_on_slack(&authorize, "approve").await;
        let (status, location, body) = self.follow(&callback).await;
        assert_eq!(status, 303, "{body}");
        location.unwrap()
    }
}

/// Like [`test_both_backends!`], with a fake Slack of the app's own.
#[macro_export]
macro_rules! test_both_backends_with_slack {
    ($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::helpers::*;

            $(#[$meta])*
            async fn scenario($app: $crate::helpers::TestApp) $body

            #[actix_web::test]
            async fn on_sqlite() {
                let app = $crate::helpers::try_spawn_app_with_slack($crate::helpers::Backend::Sqlite).await.unwrap();
                scenario(app).await;
            }

            #[actix_web::test]
            async fn on_postgres() {
                match $crate::helpers::try_spawn_app_with_slack($crate::helpers::Backend::Postgres).await {
                    Some(app) => scenario(app).await,
                    None => eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set"),
                }
            }
        }
    };
}

/// Declares a test that runs against SQLite and, when configured, PostgreSQL.
#[macro_export]
macro_rules! test_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::helpers::*;

            $(#[$meta])*
            async fn scenario($app: $crate::helpers::TestApp) $body

            #[actix_web::test]
            async fn on_sqlite() {
                let app = $crate::helpers::try_spawn_app($crate::helpers::Backend::Sqlite).await.unwrap();
                scenario(app).await;
            }

            #[actix_web::test]
            async fn on_postgres() {
                match $crate::helpers::try_spawn_app($crate::helpers::Backend::Postgres).await {
                    Some(app) => scenario(app).await,
                    None => eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set"),
                }
            }
        }
    };
}

/// The app with its own fake Slack (rate limit off) and fast channel pacing, so tests do
/// not wait a second per message; `configure` adjusts the rest.
pub async fn try_spawn_fast_app(
    backend: Backend,
    configure: impl FnOnce(&mut ServeArgs),
) -> Option<TestApp> {
    try_spawn_fast_app_with_fake(backend, |_| {}, configure).await
}

/// [`try_spawn_fast_app`] with the fake Slack's configuration adjusted by `fake`.
pub async fn try_spawn_fast_app_with_fake(
    backend: Backend,
    fake: impl FnOnce(&mut fake_slack::FakeSlackConfig),
    configure: impl FnOnce(&mut ServeArgs),
) -> Option<TestApp> {
    use fake_slack::FakeSlackConfig;
    let mut config = FakeSlackConfig {
        rate_limit_per_sec: 0.0,
        ..FakeSlackConfig::default()
    };
    fake(&mut config);
    let (client_id, client_secret) = (config.client_id.clone(), config.client_secret.clone());
    let fake = fake_slack::spawn(config, TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    let (api, authorize) = (fake.api_url(), fake.authorize_url());
    let mut app = try_spawn_app_with(backend, move |args| {
        args.slack_client_id = Some(client_id);
        args.slack_client_secret = Some(client_secret);
        args.slack_api_url = api;
        args.slack_authorize_url = authorize;
        args.channel_interval_ms = 20;
        configure(args);
    })
    .await?;
    app.fake = Some(fake);
    Some(app)
}

impl TestApp {
    /// acme/webshop registered, the org's integration installed through the fake's OAuth
    /// flow, sending on to `#load-tests #perf` unless `settings` says otherwise (its fields
    /// are merged into the org settings); returns an org admin token.
    pub async fn configure_acme(&self, settings: Value) -> String {
        self.seed_acme().await;
        let admin = self.admin_token("acme");
        self.install_slack("/api/v1/orgs/acme", &admin).await;
        let mut body =
            serde_json::json!({"send_messages": true, "target_channels": "#load-tests #perf"});
        for (k, v) in settings.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        let (status, res) = self
            .call(
                reqwest::Method::PUT,
                "/api/v1/orgs/acme/slack",
                Some(&admin),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{res}");
        admin
    }

    /// acme/webshop's delivery log as the API gives it now (the latest 500).
    pub async fn delivery_log(&self, admin: &str) -> Vec<Value> {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                "/api/v1/orgs/acme/projects/webshop/slack/deliveries?limit=500",
                Some(admin),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["deliveries"].as_array().unwrap().clone()
    }

    /// acme/webshop's delivery log once nothing is pending (or after 30 s).
    pub async fn settled_deliveries(&self, admin: &str) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let list = self.delivery_log(admin).await;
            if list.iter().all(|d| d["status"] != "pending") || std::time::Instant::now() > deadline
            {
                return list;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

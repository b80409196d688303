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

impl TestDb {
    /// A new empty database, or `None` for Postgres when no server is configured.
    pub fn create(backend: Backend) -> Option<Self> {
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
                let admin = std::env::var("XTC_SLACK_TEST_POSTGRES_URL").ok()?;
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
}

/// Starts the service on `backend`; `None` when that backend is not available here.
pub async fn try_spawn_app(backend: Backend) -> Option<TestApp> {
    let db = TestDb::create(backend)?;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut args = test_args(&db.url);
    args.public_url = Some(format!("http://127.0.0.1:{port}"));
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

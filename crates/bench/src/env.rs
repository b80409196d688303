//! A phase's world: database, fake Slack, server process, tokens, and the `bench`
//! organization with its projects set up through the API.

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use chrono::{DateTime, Utc};
use fake_slack::{ChannelSpec, FakeSlackConfig, FakeSlackHandle};
use serde_json::{json, Value};

use crate::args::{BenchArgs, BenchBackend};

/// A database of one phase, removed at the end.
pub enum BenchDb {
    Sqlite {
        dir: PathBuf,
        url: String,
        keep: bool,
    },
    Postgres {
        admin: String,
        name: String,
        url: String,
        keep: bool,
    },
}

impl BenchDb {
    pub fn create(args: &BenchArgs, phase: &str) -> anyhow::Result<Self> {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match args.backend {
            BenchBackend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("xtc-bench-{phase}-{unique}"));
                std::fs::create_dir_all(&dir)?;
                let url = format!("sqlite://{}/bench.db", dir.display());
                Ok(Self::Sqlite {
                    dir,
                    url,
                    keep: args.keep_databases,
                })
            }
            BenchBackend::Postgres => {
                use diesel::connection::SimpleConnection;
                use diesel::Connection;
                let admin = args
                    .postgres_url
                    .clone()
                    .ok_or_else(|| anyhow!("--backend postgres needs --postgres-url"))?;
                let name = format!("xtc_bench_{}", &unique[..12]);
                let mut conn = diesel::PgConnection::establish(&admin)
                    .map_err(|e| anyhow!("connecting to PostgreSQL: {e}"))?;
                conn.batch_execute(&format!("CREATE DATABASE {name}"))?;
                let mut url = url::Url::parse(&admin)?;
                url.set_path(&format!("/{name}"));
                Ok(Self::Postgres {
                    admin,
                    name,
                    url: url.to_string(),
                    keep: args.keep_databases,
                })
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } => url,
        }
    }

    /// The SQLite database file (`None` on PostgreSQL).
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match self {
            Self::Sqlite { dir, .. } => Some(dir.join("bench.db")),
            Self::Postgres { .. } => None,
        }
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        match self {
            Self::Sqlite {
                dir, keep: true, ..
            } => {
                eprintln!("kept the database {}", dir.join("bench.db").display());
            }
            Self::Postgres {
                name, keep: true, ..
            } => eprintln!("kept the PostgreSQL database {name}"),
            Self::Sqlite { dir, .. } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Self::Postgres { admin, name, .. } => {
                use diesel::connection::SimpleConnection;
                use diesel::Connection;
                if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
                    let _ =
                        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

/// A `serve` child process.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub port: u16,
}

/// A fixed key: the bench's databases are throw-away.
const BENCH_KEY: &str = "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMTI=";

impl Server {
    pub fn start(
        exe: &Path,
        db: &BenchDb,
        fake: &FakeSlackHandle,
        extra: &[(&str, String)],
        log: &Path,
    ) -> anyhow::Result<Self> {
        // The server's log (warnings and errors) goes to a file of the phase, appended
        // across restarts, summarized when the phase ends.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        // A free port (tiny race with other processes; fine on a bench machine).
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .env("XTC_SLACK_DATABASE_URL", db.url())
            .env("XTC_SLACK_BIND", format!("127.0.0.1:{port}"))
            .env("XTC_SLACK_SECRET_KEY", BENCH_KEY)
            .env("SLACK_CLIENT_ID", "fake-client-id")
            .env("SLACK_CLIENT_SECRET", "fake-client-secret")
            .env("SLACK_API_URL", fake.api_url())
            .env("SLACK_AUTHORIZE_URL", fake.authorize_url())
            // Warnings only (their count is reported); `XTC_SLACK_BENCH_SERVER_LOG` sets
            // another filter, e.g. `warn,xtc_slack::http::observe=info` for every request's
            // time in the server.
            .env(
                "RUST_LOG",
                std::env::var("XTC_SLACK_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().context("starting xtc-slack serve")?;
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
        })
    }

    /// Time from now until `/readyz` answers 200.
    pub async fn wait_ready(&self, http: &awc::Client) -> anyhow::Result<Duration> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok(res) = http.get(format!("{}/readyz", self.base)).send().await {
                if res.status().is_success() {
                    return Ok(start.elapsed());
                }
            }
            actix_web::rt::time::sleep(Duration::from_millis(2)).await;
        }
        bail!("the server did not become ready within 60 s")
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A clean stop: SIGTERM, then wait for the exit.
    pub fn terminate(&mut self) -> anyhow::Result<()> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !sent.success() {
            bail!("kill -TERM failed");
        }
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a phase's world looks like.
pub struct EnvSpec {
    /// Names the database directory (SQLite) and the settings the setup saves.
    pub phase: &'static str,
    /// `#bench-N` channels in the fake workspace.
    pub channels: usize,
    /// Projects `p0` … registered, each with `channels_per_project` target channels
    /// (`#bench-{(p * per + c) % channels}`); 0 sets up the organization only.
    pub projects: usize,
    pub channels_per_project: usize,
    /// The fake's per-channel `chat.postMessage` limit (1/s, burst 3) on or off.
    pub rate_limit: bool,
    /// Anything else the fake needs (a large workspace, method tiers).
    pub tweak_fake: Option<fn(&mut FakeSlackConfig, &BenchArgs)>,
    /// Extra environment of the server (kept for restarts).
    pub server_env: Vec<(&'static str, String)>,
}

impl EnvSpec {
    pub fn new(phase: &'static str, channels: usize, projects: usize) -> Self {
        Self {
            phase,
            channels,
            projects,
            channels_per_project: 1,
            rate_limit: true,
            tweak_fake: None,
            server_env: Vec::new(),
        }
    }
}

/// One phase's world: fake Slack, server, tokens, and `bench` with its projects set up.
pub struct Env {
    pub fake: FakeSlackHandle,
    pub db: BenchDb,
    pub server: Server,
    pub http: awc::Client,
    pub service: String,
    pub admin: String,
    pub projects: usize,
    pub server_env: Vec<(&'static str, String)>,
    /// The server's stderr.
    pub log: PathBuf,
    pub phase: &'static str,
}

impl Env {
    pub async fn start(exe: &Path, args: &BenchArgs, spec: EnvSpec) -> anyhow::Result<Self> {
        let mut config = FakeSlackConfig::default();
        config
            .channels
            .extend((0..spec.channels).map(|i| ChannelSpec::public(&format!("bench-{i}"))));
        config.rate_limit_per_sec = if spec.rate_limit { 1.0 } else { 0.0 };
        if let Some(tweak) = spec.tweak_fake {
            tweak(&mut config, args);
        }
        let fake = fake_slack::spawn(config, TcpListener::bind("127.0.0.1:0")?)?;
        let db = BenchDb::create(args, spec.phase)?;
        let log = std::env::temp_dir().join(format!(
            "xtc-bench-{}-{}.log",
            spec.phase,
            uuid::Uuid::new_v4().simple()
        ));
        let server = Server::start(exe, &db, &fake, &spec.server_env, &log)?;
        let http = http_client(args);
        server.wait_ready(&http).await?;
        let (service, admin) = tokens(exe, db.url())?;
        let env = Self {
            fake,
            db,
            server,
            http,
            service,
            admin,
            projects: spec.projects,
            server_env: spec.server_env,
            log,
            phase: spec.phase,
        };
        env.setup(spec.channels, spec.channels_per_project).await?;
        Ok(env)
    }

    /// Stops the server and summarizes its log on stderr (kept when it has warnings or
    /// errors, removed otherwise).
    pub fn finish(mut self) {
        self.server.stop();
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let notable: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("panicked"))
            .collect();
        if notable.is_empty() {
            let _ = std::fs::remove_file(&self.log);
            return;
        }
        let errors = notable.iter().filter(|l| !l.contains(" WARN ")).count();
        eprintln!(
            "phase {}: the server logged {} warnings and {errors} errors or panics ({}); first: {}",
            self.phase,
            notable.len() - errors,
            self.log.display(),
            notable[0]
        );
    }

    /// Starts the server again on this database (after `stop` or `terminate`).
    pub fn restart(&mut self, exe: &Path) -> anyhow::Result<()> {
        let env: Vec<(&str, String)> = self
            .server_env
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        self.server = Server::start(exe, &self.db, &self.fake, &env, &self.log)?;
        Ok(())
    }

    /// The client ports of the connections to the fake Slack right now (see
    /// [`connections_to`]): the server's, and the bench's own reads of the fake.
    pub fn slack_connections(&self) -> Option<HashSet<u16>> {
        let port = url::Url::parse(self.fake.base_url()).ok()?.port()?;
        connections_to(port)
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.server.base);
        let req = match method {
            "PUT" => self.http.put(url),
            "POST" => self.http.post(url),
            _ => self.http.get(url),
        }
        .bearer_auth(token);
        let mut res = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        }
        .map_err(|e| anyhow!("{method} {path}: {e}"))?;
        let status = res.status().as_u16();
        let bytes = res.body().limit(16 * 1024 * 1024).await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    pub async fn expect(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, value) = self.call(method, path, token, body).await?;
        if !(200..300).contains(&status) {
            bail!("{method} {path}: HTTP {status} {value}");
        }
        Ok(value)
    }

    /// Registers `bench` and its projects, installs Slack through the OAuth flow, and
    /// enables sending to each project's channels.
    async fn setup(&self, channels: usize, per: usize) -> anyhow::Result<()> {
        self.expect(
            "PUT",
            "/api/v1/orgs/bench",
            &self.service,
            Some(json!({"name": "Bench Corp"})),
        )
        .await?;
        let install = self
            .expect(
                "POST",
                "/api/v1/orgs/bench/slack/install",
                &self.admin,
                None,
            )
            .await?;
        let authorize = install["authorize_url"]
            .as_str()
            .ok_or_else(|| anyhow!("no authorize_url"))?;
        let url = url::Url::parse(authorize)?;
        let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        form.push(("decision".into(), "approve".into()));
        let approved = self
            .http
            .post(self.fake.authorize_url())
            .send_form(&form)
            .await
            .map_err(|e| anyhow!("approve: {e}"))?;
        let callback = approved
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| anyhow!("the fake did not redirect"))?
            .to_owned();
        let res = self
            .http
            .get(callback)
            .send()
            .await
            .map_err(|e| anyhow!("callback: {e}"))?;
        if res.status().as_u16() != 303 {
            bail!("OAuth callback answered {}", res.status());
        }
        self.expect(
            "PUT",
            "/api/v1/orgs/bench/slack",
            &self.admin,
            Some(json!({"send_messages": true})),
        )
        .await?;
        for p in 0..self.projects {
            self.expect(
                "PUT",
                &format!("/api/v1/orgs/bench/projects/p{p}"),
                &self.service,
                Some(json!({"name": format!("Project {p}")})),
            )
            .await?;
            let targets: Vec<String> = (0..per)
                .map(|c| format!("#bench-{}", (p * per + c) % channels.max(1)))
                .collect();
            self.expect(
                "PUT",
                &format!("/api/v1/orgs/bench/projects/p{p}/slack"),
                &self.admin,
                Some(json!({"send_messages": true, "target_channels": targets.join(" ")})),
            )
            .await?;
        }
        Ok(())
    }

    /// Posts one load-test event.
    pub async fn post_event(&self, lt: &str, project: usize, kind: &str, n: usize) -> Posted {
        post_event(
            &self.http,
            &self.server.base,
            &self.service,
            lt,
            project,
            kind,
            n,
        )
        .await
    }

    /// A JSON document of the fake's control API (`/messages`, `/calls?…`).
    pub async fn fake_json(&self, path: &str) -> anyhow::Result<Value> {
        crate::fake::control_json(&self.http, &self.fake, path).await
    }
}

/// The bench's HTTP client: HTTP/1.1 with keep-alive (awc's default for http://); the pool
/// keeps idle connections for 15 s and reuses them (`connections_to` checks it).
pub fn http_client(args: &BenchArgs) -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .disable_redirects()
        .connector(awc::Connector::new().limit(args.concurrency.max(64) * 2))
        .finish()
}

/// One request and its answer, timed.
#[derive(Clone, Copy, Debug)]
pub struct Posted {
    /// HTTP status (0: no answer).
    pub status: u16,
    /// From just before sending to the answer's body being read.
    pub took: Duration,
    /// Wall-clock time just before the request was sent (the fake's `received_at` is on
    /// the same clock).
    pub sent: DateTime<Utc>,
    /// Wall-clock time the answer had been read.
    pub at: DateTime<Utc>,
}

/// Posts `body` as JSON with a bearer token and times it.
pub async fn post_json(http: &awc::Client, url: &str, token: Option<&str>, body: &Value) -> Posted {
    let mut req = http.post(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let sent = Utc::now();
    let start = Instant::now();
    let status = match req.send_json(body).await {
        Ok(mut res) => {
            let _ = res.body().await;
            res.status().as_u16()
        }
        Err(_) => 0,
    };
    Posted {
        status,
        took: start.elapsed(),
        sent,
        at: Utc::now(),
    }
}

/// Posts one load-test event (`started` and the like, named "Bench load test {lt}").
pub async fn post_event(
    http: &awc::Client,
    base: &str,
    service: &str,
    lt: &str,
    project: usize,
    kind: &str,
    n: usize,
) -> Posted {
    let body = json!({
        "event_id": format!("{lt}-{kind}"), "org": "bench", "project": format!("p{project}"),
        "type": kind,
        "load_test": {"name": format!("Bench load test {lt}"), "url": format!("https://xtc.example/lt/{n}"), "started_by": "bench"},
    });
    let url = format!("{base}/api/v1/load-tests/{lt}/events");
    post_json(http, &url, Some(service), &body).await
}

/// A service and an admin token, issued with `xtc-slack token create` as an operator does.
fn tokens(exe: &Path, db_url: &str) -> anyhow::Result<(String, String)> {
    let service = token_create(exe, db_url, &["--role", "service", "--name", "bench"])?;
    let admin = token_create(
        exe,
        db_url,
        &["--role", "admin", "--org", "bench", "--name", "bench-admin"],
    )?;
    Ok((service, admin))
}

fn token_create(exe: &Path, db_url: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(exe)
        .args(["token", "create"])
        .args(args)
        .env("XTC_SLACK_DATABASE_URL", db_url)
        .stdin(Stdio::null())
        .output()
        .context("running xtc-slack token create")?;
    if !out.status.success() {
        bail!(
            "xtc-slack token create {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let token = String::from_utf8(out.stdout)?.trim().to_owned();
    if token.is_empty() {
        bail!("xtc-slack token create printed no token");
    }
    Ok(token)
}

/// The client ports of every TCP connection to `port` on this machine, in any state but
/// LISTEN (a closed one stays in TIME_WAIT for a minute, on whichever side closed first),
/// from `/proc/net/tcp{,6}`. Before and after a phase, the difference is how many
/// connections the phase opened: the check that the client reuses its keep-alive
/// connections. `None` where `/proc` is not readable.
pub fn connections_to(port: u16) -> Option<HashSet<u16>> {
    let mut ports = HashSet::new();
    let mut any = false;
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        any = true;
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 || f[3] == "0A" {
                continue;
            }
            let port_of = |addr: &str| {
                addr.rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
            };
            let (Some(local), Some(remote)) = (port_of(f[1]), port_of(f[2])) else {
                continue;
            };
            if remote == port {
                ports.insert(local);
            } else if local == port {
                ports.insert(remote);
            }
        }
    }
    any.then_some(ports)
}

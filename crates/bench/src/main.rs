//! `xtc-slack-bench`: drives a real `xtc-slack serve` process (a child of this one) and the
//! fake Slack over HTTP on loopback, the way the orchestrator does, and prints what it
//! measured: ingest throughput and latency, end-to-end latency (event accepted →
//! `chat.postMessage` received by the fake), a rate-limited flood into one channel, peak RSS
//! of the server, and start-up time on an existing database.
//!
//! It uses the product only from outside: the `xtc-slack` binary next to this one (the same
//! `cargo build` builds both) or the one `--server` names, its `serve` and `token create`
//! commands, and its HTTP API. So it measures exactly the binary that ships, and does not
//! depend on the product's library.
//!
//! Every phase gets a fresh server and database (a backlog of one phase must not slow the
//! next), except the start-up phase, which restarts on the ingest phase's full database.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use chrono::{DateTime, Utc};
use clap::Parser as _;
use fake_slack::{ChannelSpec, FakeSlackConfig, FakeSlackHandle};
use serde_json::{json, Value};

fn main() -> ExitCode {
    // awc's rustls needs a process-wide crypto provider; ring is the one we build with.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = BenchArgs::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match actix_web::rt::System::new().block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Which database the server under test uses.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchBackend {
    Sqlite,
    Postgres,
}

/// Options of `xtc-slack-bench`.
#[derive(clap::Parser, Clone, Debug)]
#[command(
    name = "xtc-slack-bench",
    version,
    about = "Measure ingest, dispatch, latency, memory and start-up of a real xtc-slack server",
    after_help = "Build first, so the server binary is current: \
                  `cargo build --release && target/release/xtc-slack-bench`."
)]
pub struct BenchArgs {
    /// The `xtc-slack` binary under test. Default: `xtc-slack` in this binary's directory
    /// (`target/release/` after `cargo build --release`).
    #[arg(long, env = "XTC_SLACK_BENCH_SERVER")]
    pub server: Option<PathBuf>,
    /// Database backend of the server under test.
    #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
    pub backend: BenchBackend,
    /// PostgreSQL server URL where the user may create databases (for `--backend postgres`);
    /// each phase creates and drops a database of its own.
    #[arg(long, env = "XTC_SLACK_BENCH_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    /// Concurrent clients of the ingest phase.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Load tests of the ingest phase (two events each: started, running); they are all
    /// "in flight" at the end of the phase.
    #[arg(long, default_value_t = 10_000)]
    pub load_tests: usize,
    /// Projects the load tests are spread over.
    #[arg(long, default_value_t = 100)]
    pub projects: usize,
    /// Target channels per project.
    #[arg(long, default_value_t = 1)]
    pub channels_per_project: usize,
    /// Events per second of the steady-rate phase.
    #[arg(long, default_value_t = 1_000)]
    pub steady_rate: u32,
    /// Seconds of the steady-rate phase.
    #[arg(long, default_value_t = 5)]
    pub steady_secs: u64,
    /// Events per second of the end-to-end phase (spread so every channel has budget).
    #[arg(long, default_value_t = 20)]
    pub e2e_rate: u32,
    /// Seconds of the end-to-end phase.
    #[arg(long, default_value_t = 5)]
    pub e2e_secs: u64,
    /// Events flooded into one channel (~1 s each with Slack's rate limit; 0 skips).
    #[arg(long, default_value_t = 60)]
    pub flood: usize,
    /// Turn the fake's per-channel rate limit off in the flood phase.
    #[arg(long)]
    pub no_rate_limit: bool,
}

/// Runs every phase and prints the table.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.projects == 0 || args.channels_per_project == 0 {
        bail!("--concurrency, --projects and --channels-per-project must be at least 1");
    }
    let exe = server_binary(&args)?;
    let started = Instant::now();
    let mut report = Report::default();
    println!(
        "xtc-slack-bench: {}, backend {:?}, {} cores",
        exe.display(),
        args.backend,
        num_cpus()
    );

    // Ingest throughput at `concurrency`, and the RSS with `load_tests` in flight.
    let channels = args.projects * args.channels_per_project;
    let mut env = Env::start(&exe, &args, channels, true, "ingest").await?;
    let ingest = ingest_phase(&env, &args).await?;
    report.ingest = Some(ingest);
    report.rss_kb = peak_rss_kb(env.server.child.id());
    report.actors = args.load_tests;
    // Start-up on the existing (now large) database: after a crash (SIGKILL: SQLite
    // recovers its WAL), then after a clean stop (SIGTERM).
    env.server.stop();
    let mut restarted = Server::start(&exe, &env.db, &env.fake, &[])?;
    report.startup_after_crash = Some(restarted.wait_ready(&env.http).await?);
    restarted.terminate()?;
    let restarted = Server::start(&exe, &env.db, &env.fake, &[])?;
    report.startup = Some(restarted.wait_ready(&env.http).await?);
    env.server = restarted;
    env.finish();

    // Ingest latency at a steady rate.
    let env = Env::start(&exe, &args, channels, true, "steady").await?;
    report.steady = Some(steady_phase(&env, &args).await?);
    env.finish();

    // End to end, with rate budget available in every channel.
    let env = Env::start(&exe, &args, 100.max(channels), true, "e2e").await?;
    report.e2e = Some(e2e_phase(&env, &args).await?);
    env.finish();

    // A flood into one channel against the fake's real rate limit.
    if args.flood > 0 {
        let env = Env::start(&exe, &args, 1, !args.no_rate_limit, "flood").await?;
        report.flood = Some(flood_phase(&env, &args).await?);
        env.finish();
    }
    report.print(&args, started.elapsed());
    Ok(())
}

/// The `xtc-slack` binary to measure: `--server`, or the one built next to this binary.
fn server_binary(args: &BenchArgs) -> anyhow::Result<PathBuf> {
    let exe = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("locating this binary")?
            .with_file_name(format!("xtc-slack{}", std::env::consts::EXE_SUFFIX)),
    };
    if !exe.is_file() {
        bail!(
            "no server binary at {} (build it with `cargo build --release`, or name one with --server)",
            exe.display()
        );
    }
    Ok(exe)
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

// ---------------------------------------------------------------------------------------
// Environment: database, fake Slack, server process, tokens, org + projects configured.

/// A database of one phase, removed at the end.
enum BenchDb {
    Sqlite {
        dir: PathBuf,
        url: String,
    },
    Postgres {
        admin: String,
        name: String,
        url: String,
    },
}

impl BenchDb {
    fn create(args: &BenchArgs, phase: &str) -> anyhow::Result<Self> {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match args.backend {
            BenchBackend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("xtc-bench-{phase}-{unique}"));
                std::fs::create_dir_all(&dir)?;
                let url = format!("sqlite://{}/bench.db", dir.display());
                Ok(Self::Sqlite { dir, url })
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
                })
            }
        }
    }

    fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } => url,
        }
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        match self {
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
struct Server {
    child: Child,
    base: String,
}

/// A fixed key: the bench's databases are throw-away.
const BENCH_KEY: &str = "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMTI=";

impl Server {
    fn start(
        exe: &Path,
        db: &BenchDb,
        fake: &FakeSlackHandle,
        extra: &[(&str, String)],
    ) -> anyhow::Result<Self> {
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
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().context("starting xtc-slack serve")?;
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Time from now until `/readyz` answers 200.
    async fn wait_ready(&self, http: &awc::Client) -> anyhow::Result<Duration> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(res) = http.get(format!("{}/readyz", self.base)).send().await {
                if res.status().is_success() {
                    return Ok(start.elapsed());
                }
            }
            actix_web::rt::time::sleep(Duration::from_millis(2)).await;
        }
        bail!("the server did not become ready within 30 s")
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A clean stop: SIGTERM, then wait for the exit.
    fn terminate(&mut self) -> anyhow::Result<()> {
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

/// One phase's world: fake Slack, server, tokens, and `bench` with its projects set up.
struct Env {
    fake: FakeSlackHandle,
    db: BenchDb,
    server: Server,
    http: awc::Client,
    service: String,
    /// `#bench-N` channel names, by index.
    channels: usize,
    projects: usize,
}

impl Env {
    async fn start(
        exe: &Path,
        args: &BenchArgs,
        channels: usize,
        rate_limit: bool,
        phase: &str,
    ) -> anyhow::Result<Self> {
        let mut config = FakeSlackConfig::default();
        config
            .channels
            .extend((0..channels).map(|i| ChannelSpec::public(&format!("bench-{i}"))));
        config.rate_limit_per_sec = if rate_limit { 1.0 } else { 0.0 };
        let fake = fake_slack::spawn(config, TcpListener::bind("127.0.0.1:0")?)?;
        let db = BenchDb::create(args, phase)?;
        let server = Server::start(exe, &db, &fake, &[])?;
        let http = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .disable_redirects()
            .connector(awc::Connector::new().limit(args.concurrency.max(16) * 2))
            .finish();
        server.wait_ready(&http).await?;
        let (service, admin) = tokens(exe, db.url())?;
        let projects = if phase == "flood" { 1 } else { args.projects };
        let env = Self {
            fake,
            db,
            server,
            http,
            service,
            channels,
            projects,
        };
        env.setup(&admin, args, phase).await?;
        Ok(env)
    }

    fn finish(mut self) {
        self.server.stop();
    }

    async fn call(
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

    async fn expect(
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
    async fn setup(&self, admin: &str, args: &BenchArgs, phase: &str) -> anyhow::Result<()> {
        self.expect(
            "PUT",
            "/api/v1/orgs/bench",
            &self.service,
            Some(json!({"name": "Bench Corp"})),
        )
        .await?;
        let install = self
            .expect("POST", "/api/v1/orgs/bench/slack/install", admin, None)
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
            admin,
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
            let per = if phase == "flood" {
                1
            } else {
                args.channels_per_project
            };
            let targets: Vec<String> = (0..per)
                .map(|c| format!("#bench-{}", (p * per + c) % self.channels))
                .collect();
            self.expect(
                "PUT",
                &format!("/api/v1/orgs/bench/projects/p{p}/slack"),
                admin,
                Some(json!({"send_messages": true, "target_channels": targets.join(" ")})),
            )
            .await?;
        }
        Ok(())
    }

    /// Posts one load-test event; returns (HTTP status, latency, time the answer came).
    async fn post_event(
        &self,
        lt: &str,
        project: usize,
        kind: &str,
        n: usize,
    ) -> (u16, Duration, DateTime<Utc>) {
        let body = json!({
            "event_id": format!("{lt}-{kind}"), "org": "bench", "project": format!("p{project}"),
            "type": kind,
            "load_test": {"name": format!("Bench load test {lt}"), "url": format!("https://xtc.example/lt/{n}"), "started_by": "bench"},
        });
        let start = Instant::now();
        let result = self
            .http
            .post(format!(
                "{}/api/v1/load-tests/{lt}/events",
                self.server.base
            ))
            .bearer_auth(&self.service)
            .send_json(&body)
            .await;
        let elapsed = start.elapsed();
        let status = match result {
            Ok(mut res) => {
                let _ = res.body().await;
                res.status().as_u16()
            }
            Err(_) => 0,
        };
        (status, elapsed, Utc::now())
    }

    async fn fake_json(&self, path: &str) -> anyhow::Result<Value> {
        let mut res = self
            .http
            .get(format!("{}{path}", self.fake.control_url()))
            .send()
            .await
            .map_err(|e| anyhow!("fake {path}: {e}"))?;
        Ok(serde_json::from_slice(
            &res.body().limit(256 * 1024 * 1024).await?,
        )?)
    }
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

// ---------------------------------------------------------------------------------------
// Phases

#[derive(Default, Clone)]
struct Latencies {
    samples: Vec<Duration>,
    errors: usize,
}

impl Latencies {
    fn percentile(&self, p: f64) -> Duration {
        let mut v = self.samples.clone();
        v.sort();
        if v.is_empty() {
            return Duration::ZERO;
        }
        let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[idx.min(v.len() - 1)]
    }

    fn max(&self) -> Duration {
        self.samples.iter().max().copied().unwrap_or_default()
    }
}

struct IngestResult {
    events: usize,
    elapsed: Duration,
    latency: Latencies,
}

async fn ingest_phase(env: &Env, args: &BenchArgs) -> anyhow::Result<IngestResult> {
    let next = Rc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers = (0..args.concurrency).map(|_| {
        let next = next.clone();
        async move {
            let mut lat = Latencies::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= args.load_tests {
                    return lat;
                }
                let lt = format!("lt-{i}");
                for kind in ["started", "running"] {
                    let (status, took, _) = env.post_event(&lt, i % env.projects, kind, i).await;
                    if status == 202 {
                        lat.samples.push(took);
                    } else {
                        lat.errors += 1;
                    }
                }
            }
        }
    });
    let results = futures_util::future::join_all(workers).await;
    let elapsed = start.elapsed();
    let mut latency = Latencies::default();
    for r in results {
        latency.samples.extend(r.samples);
        latency.errors += r.errors;
    }
    Ok(IngestResult {
        events: args.load_tests * 2,
        elapsed,
        latency,
    })
}

/// Sends events at a fixed rate (each a new load test's `started`); returns the latencies
/// and when each was accepted, by load-test id.
async fn paced(
    env: &Env,
    prefix: &str,
    rate: u32,
    secs: u64,
    project_of: impl Fn(usize) -> usize,
) -> (Latencies, HashMap<String, DateTime<Utc>>) {
    let total = (rate as u64 * secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = Instant::now();
    let mut pending = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        let now = Instant::now();
        if due > now {
            actix_web::rt::time::sleep(due - now).await;
        }
        let lt = format!("{prefix}-{i}");
        let project = project_of(i);
        pending.push(actix_web::rt::spawn({
            // Each request runs on its own task so a slow answer does not delay the schedule.
            let http = env.http.clone();
            let base = env.server.base.clone();
            let service = env.service.clone();
            async move {
                let body = json!({
                    "event_id": format!("{lt}-started"), "org": "bench", "project": format!("p{project}"),
                    "type": "started", "load_test": {"name": format!("Bench load test {lt}")},
                });
                let t = Instant::now();
                let res = http.post(format!("{base}/api/v1/load-tests/{lt}/events")).bearer_auth(&service).send_json(&body).await;
                let took = t.elapsed();
                let ok = res.map(|r| r.status().as_u16() == 202).unwrap_or(false);
                (lt, ok, took, Utc::now())
            }
        }));
    }
    let mut lat = Latencies::default();
    let mut accepted = HashMap::new();
    for handle in pending {
        if let Ok((lt, ok, took, at)) = handle.await {
            if ok {
                lat.samples.push(took);
                accepted.insert(lt, at);
            } else {
                lat.errors += 1;
            }
        }
    }
    (lat, accepted)
}

struct SteadyResult {
    rate: u32,
    latency: Latencies,
}

async fn steady_phase(env: &Env, args: &BenchArgs) -> anyhow::Result<SteadyResult> {
    let projects = env.projects;
    let (latency, _) = paced(env, "s", args.steady_rate, args.steady_secs, |i| {
        i % projects
    })
    .await;
    Ok(SteadyResult {
        rate: args.steady_rate,
        latency,
    })
}

struct E2eResult {
    delivered: usize,
    expected: usize,
    latency: Latencies,
}

/// Messages the fake received, by load-test id (from the "Bench load test {id}" name).
async fn received(env: &Env) -> anyhow::Result<(HashMap<String, DateTime<Utc>>, usize)> {
    let all = env.fake_json("/messages").await?;
    let mut by_lt = HashMap::new();
    let mut count = 0;
    for m in all["messages"].as_array().into_iter().flatten() {
        let text = m["text"].as_str().unwrap_or_default();
        let Some(rest) = text.split("Bench load test ").nth(1) else {
            continue;
        };
        let id = rest.split(' ').next().unwrap_or_default().to_owned();
        let at = m["received_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        if let Some(at) = at {
            count += 1;
            by_lt.entry(id).or_insert(at);
        }
    }
    Ok((by_lt, count))
}

async fn e2e_phase(env: &Env, args: &BenchArgs) -> anyhow::Result<E2eResult> {
    let projects = env.projects;
    let (_, accepted) = paced(env, "e", args.e2e_rate, args.e2e_secs, |i| i % projects).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let expected = accepted.len() * args.channels_per_project;
    let got = loop {
        let (got, count) = received(env).await?;
        if count >= expected || Instant::now() > deadline {
            break got;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    let mut latency = Latencies::default();
    for (lt, at) in &accepted {
        match got.get(lt) {
            // The message can arrive before the 202 is read: count that as 0.
            Some(rx) => latency
                .samples
                .push((*rx - *at).to_std().unwrap_or_default()),
            None => latency.errors += 1,
        }
    }
    Ok(E2eResult {
        delivered: got.len(),
        expected: accepted.len(),
        latency,
    })
}

struct FloodResult {
    sent: usize,
    delivered: usize,
    span: Duration,
    rate_limited: usize,
    rate_limit: bool,
}

async fn flood_phase(env: &Env, args: &BenchArgs) -> anyhow::Result<FloodResult> {
    let mut sent = 0;
    for i in 0..args.flood {
        let (status, _, _) = env.post_event(&format!("f-{i}"), 0, "started", i).await;
        if status == 202 {
            sent += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs_f64(args.flood as f64 * 1.5 + 30.0);
    let (got, _) = loop {
        let r = received(env).await?;
        if r.1 >= sent || Instant::now() > deadline {
            break r;
        }
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    };
    let mut times: Vec<DateTime<Utc>> = got.values().copied().collect();
    times.sort();
    let span = match (times.first(), times.last()) {
        (Some(a), Some(b)) => (*b - *a).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    let calls = env.fake_json("/calls?method=chat.postMessage").await?;
    let rate_limited = calls["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["http_status"] == 429)
        .count();
    Ok(FloodResult {
        sent,
        delivered: got.len(),
        span,
        rate_limited,
        rate_limit: !args.no_rate_limit,
    })
}

/// Peak resident set size of a process (Linux `VmHWM`), in KiB.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

// ---------------------------------------------------------------------------------------
// Report

#[derive(Default)]
struct Report {
    ingest: Option<IngestResult>,
    steady: Option<SteadyResult>,
    e2e: Option<E2eResult>,
    flood: Option<FloodResult>,
    rss_kb: Option<u64>,
    actors: usize,
    startup: Option<Duration>,
    startup_after_crash: Option<Duration>,
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

impl Report {
    fn print(&self, args: &BenchArgs, total: Duration) {
        let mut rows: Vec<(String, String, &str)> = Vec::new();
        if let Some(i) = &self.ingest {
            let rate = i.events as f64 / i.elapsed.as_secs_f64();
            let target = if args.backend == BenchBackend::Sqlite {
                "≥ 5,000/s"
            } else {
                "≥ 3,000/s"
            };
            rows.push((
                format!("ingest, {} clients: events/s", args.concurrency),
                format!(
                    "{rate:.0} ({} events in {:.2} s)",
                    i.events,
                    i.elapsed.as_secs_f64()
                ),
                target,
            ));
            rows.push((
                "ingest latency p50 / p99 / max".into(),
                format!(
                    "{} / {} / {}",
                    ms(i.latency.percentile(0.5)),
                    ms(i.latency.percentile(0.99)),
                    ms(i.latency.max())
                ),
                "",
            ));
            rows.push(("ingest errors".into(), i.latency.errors.to_string(), "0"));
        }
        if let Some(s) = &self.steady {
            rows.push((
                format!("steady {} events/s: latency p50 / p99 / max", s.rate),
                format!(
                    "{} / {} / {}",
                    ms(s.latency.percentile(0.5)),
                    ms(s.latency.percentile(0.99)),
                    ms(s.latency.max())
                ),
                "p99 ≤ 10 ms",
            ));
            rows.push(("steady errors".into(), s.latency.errors.to_string(), "0"));
        }
        if let Some(e) = &self.e2e {
            rows.push((
                "end-to-end p50 / p99".into(),
                format!(
                    "{} / {}",
                    ms(e.latency.percentile(0.5)),
                    ms(e.latency.percentile(0.99))
                ),
                "≤ 5 ms / ≤ 25 ms",
            ));
            rows.push((
                "end-to-end delivered".into(),
                format!("{} of {}", e.delivered, e.expected),
                "all",
            ));
        }
        if let Some(f) = &self.flood {
            let rate = if f.span.is_zero() {
                0.0
            } else {
                (f.delivered.saturating_sub(1)) as f64 / f.span.as_secs_f64()
            };
            let minutes = (f.span.as_secs_f64() / 60.0).max(1.0);
            rows.push((
                format!(
                    "flood into one channel (fake rate limit {})",
                    if f.rate_limit { "on" } else { "off" }
                ),
                format!(
                    "{} of {} delivered in {:.1} s",
                    f.delivered,
                    f.sent,
                    f.span.as_secs_f64()
                ),
                "none lost",
            ));
            rows.push((
                "flood: average rate".into(),
                format!("{rate:.3} msg/s"),
                "1 ± 10 %",
            ));
            rows.push((
                "flood: 429 answers".into(),
                format!(
                    "{} ({:.1}/min)",
                    f.rate_limited,
                    f.rate_limited as f64 / minutes
                ),
                "≤ 1/min",
            ));
        }
        if let Some(kb) = self.rss_kb {
            rows.push((
                format!("server peak RSS, {} load tests in flight", self.actors),
                format!("{:.1} MB", kb as f64 / 1024.0),
                "≤ 100 MB",
            ));
        }
        if let Some(s) = self.startup {
            rows.push((
                "start-up on the existing database to /readyz".into(),
                ms(s),
                "≤ 300 ms",
            ));
        }
        if let Some(s) = self.startup_after_crash {
            rows.push((
                "the same after a crash (SIGKILL, WAL recovery)".into(),
                ms(s),
                "",
            ));
        }
        let w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(10);
        let v = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(10);
        println!();
        println!("| {:<w$} | {:<v$} | target |", "measure", "result");
        println!("|{}|{}|--------|", "-".repeat(w + 2), "-".repeat(v + 2));
        for (name, value, target) in rows {
            println!("| {name:<w$} | {value:<v$} | {target} |");
        }
        println!();
        println!("total bench time: {:.1} s", total.as_secs_f64());
    }
}

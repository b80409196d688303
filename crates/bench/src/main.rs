//! `xtc-slack-bench`: drives a real `xtc-slack serve` process (a child of this one) and the
//! fake Slack over HTTP on loopback, the way the orchestrator does, and prints what it
//! measured: ingest throughput and latency, steady-rate latency, end-to-end latency (202 →
//! `chat.postMessage` received by the fake), a burst and a flood into one rate-limited
//! channel, peak RSS of the server, start-up time on an existing database, and (opt-in)
//! saves in a workspace of many channels and the hot paths on a year of history, the
//! report chart's rendering time and memory, the hot-path features (rules, incidents,
//! compared reports) end to end, and (opt-in) the same end-to-end load through Prometheus
//! Alertmanager next to xtc-slack.
//!
//! It uses the product only from outside: the `xtc-slack` binary next to this one (the same
//! `cargo build` builds both) or the one `--server` names, its `serve` and `token create`
//! commands, and its HTTP API (the history phase also writes rows straight into the
//! database, as a year of use would have). So it measures exactly the binary that ships,
//! and does not depend on the product's library.
//!
//! Every phase gets a fresh server and database (a backlog of one phase must not slow the
//! next), except the start-up phase, which restarts on the ingest phase's full database.
//!
//! Modules: [`args`] (the command line), [`env`] (database, fake, server, setup),
//! [`fake`] (reading what the fake saw), [`stats`], [`report`], and one module per phase in
//! [`phases`].

mod args;
mod env;
mod fake;
mod path;
mod phases;
mod report;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::Parser as _;

use args::{BenchArgs, BenchBackend, Phase};
use env::{Env, EnvSpec};
use phases::{burst, chart, directory, e2e, features, flood, history, ingest, peer, steady};
use report::{row, Report, Row};
use stats::ms;

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

/// Runs every phase and prints the table. A phase that fails is reported as a row and the
/// others still run.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.projects == 0 || args.channels_per_project == 0 {
        bail!("--concurrency, --projects and --channels-per-project must be at least 1");
    }
    if args.e2e_channels == 0 || args.e2e_rate == 0 || args.steady_rate == 0 {
        bail!("--e2e-channels, --e2e-rate and --steady-rate must be at least 1");
    }
    for phase in [Phase::Directory, Phase::History, Phase::Peer] {
        if args.only.contains(&phase) && !args.runs(phase) {
            bail!(
                "--only {phase:?} needs its size: --directory-channels N, --history N, or \
                 --peer-runs and --e2e-secs above 0"
            );
        }
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
    let exe = exe.as_path();
    let args = &args;

    if args.runs(Phase::Ingest) {
        let r = ingest_and_startup(exe, args).await;
        record(&mut report, "ingest", started, r);
    }
    if args.runs(Phase::Steady) {
        let r = async {
            let mut spec = EnvSpec::new("steady", channels(args), args.projects);
            spec.channels_per_project = args.channels_per_project;
            let env = Env::start(exe, args, spec).await?;
            let rows = steady::run(&env, args, &mut report.appendix).await?;
            env.finish();
            Ok(rows)
        }
        .await;
        record(&mut report, "steady", started, r);
    }
    if args.runs(Phase::E2e) {
        let r = async {
            let spec = EnvSpec::new("e2e", args.e2e_channels, args.e2e_channels);
            let env = Env::start(exe, args, spec).await?;
            let (before, slack_before) = (path::snapshot(&env).await?, env.slack_connections());
            let result = e2e::run(&env, args.e2e_rate, args.e2e_secs).await?;
            let (after, slack_after) = (path::snapshot(&env).await?, env.slack_connections());
            env.finish();
            let mut rows = result.rows(args);
            rows.push(path::slack_connections_row(slack_before, slack_after));
            rows.extend(path::rows("end to end", &after.since(&before)));
            Ok(rows)
        }
        .await;
        record(&mut report, "e2e", started, r);
    }
    if args.runs(Phase::Burst) {
        let r = async {
            let env = Env::start(exe, args, EnvSpec::new("burst", 1, 1)).await?;
            let rows = burst::run(&env, args.burst).await?;
            env.finish();
            Ok(rows)
        }
        .await;
        record(&mut report, "burst", started, r);
    }
    if args.runs(Phase::Flood) {
        let r = async {
            let mut spec = EnvSpec::new("flood", 1, 1);
            spec.rate_limit = !args.no_rate_limit;
            if !args.flood_digests {
                spec.server_env = vec![("XTC_SLACK_DIGEST_AFTER_SECS", "0".to_owned())];
            }
            let env = Env::start(exe, args, spec).await?;
            let rows =
                flood::run(&env, args.flood, !args.no_rate_limit, args.flood_digests).await?;
            env.finish();
            Ok(rows)
        }
        .await;
        record(&mut report, "flood", started, r);
    }
    if args.runs(Phase::Directory) {
        let r = async {
            let env = Env::start(exe, args, directory::spec(args)).await?;
            let rows = directory::run(&env, args).await?;
            env.finish();
            Ok(rows)
        }
        .await;
        record(&mut report, "directory", started, r);
    }
    if args.runs(Phase::History) {
        let r = history::run(exe, args).await;
        record(&mut report, "history", started, r);
    }
    if args.runs(Phase::Chart) {
        let r = chart::run(exe, args.chart_points, args.chart_runs);
        record(&mut report, "chart", started, r);
    }
    if args.runs(Phase::Report) {
        let r = async {
            let env = Env::start(exe, args, phases::report::spec(args.report_runs)).await?;
            let rows = phases::report::run(&env, args.report_runs).await?;
            env.finish();
            Ok(rows)
        }
        .await;
        record(&mut report, "report", started, r);
    }
    if args.runs(Phase::Features) {
        let r = async {
            let env = Env::start(exe, args, features::spec(args.feature_events)).await?;
            let rows = features::run(&env, args.feature_events).await;
            env.finish();
            rows
        }
        .await;
        record(&mut report, "features", started, r);
    }
    if args.runs(Phase::Peer) {
        let r = peer::run(exe, args).await;
        record(&mut report, "peer", started, r);
    }
    report.print(started.elapsed());
    Ok(())
}

/// Channels of the ingest and steady phases: every project's own.
fn channels(args: &BenchArgs) -> usize {
    args.projects * args.channels_per_project
}

/// Adds a phase's rows, or a row saying it failed; prints progress.
fn record(report: &mut Report, phase: &str, started: Instant, result: anyhow::Result<Vec<Row>>) {
    match result {
        Ok(rows) => {
            println!(
                "phase {phase} done ({:.0} s into the run)",
                started.elapsed().as_secs_f64()
            );
            report.extend(rows);
        }
        Err(e) => {
            eprintln!("phase {phase} failed: {e:#}");
            report.extend(vec![row(
                format!("{phase} phase"),
                format!("FAILED: {e:#}"),
                "",
            )]);
        }
    }
}

/// Ingest throughput at `--concurrency`, the RSS with `--load-tests` in flight, then
/// start-up on that (now large) database: after a crash (SIGKILL: SQLite recovers its
/// WAL), then after a clean stop (SIGTERM).
async fn ingest_and_startup(exe: &Path, args: &BenchArgs) -> anyhow::Result<Vec<Row>> {
    let mut spec = EnvSpec::new("ingest", channels(args), args.projects);
    spec.channels_per_project = args.channels_per_project;
    let mut env = Env::start(exe, args, spec).await?;
    let result = ingest::run(&env, args.concurrency, args.load_tests, "lt").await;
    let rss_kb = peak_rss_kb(env.server.child.id());
    env.server.stop();
    env.restart(exe)?;
    let after_crash = env.server.wait_ready(&env.http).await?;
    env.server.terminate()?;
    env.restart(exe)?;
    let startup = env.server.wait_ready(&env.http).await?;
    env.finish();

    // Issue 17's goals (64 clients; 10,000 load tests in flight for the memory).
    let target = match args.backend {
        BenchBackend::Sqlite => "≥ 9,000/s",
        BenchBackend::Postgres => "≥ 3,300/s",
    };
    let mut rows = result.rows(target);
    if let Some(kb) = rss_kb {
        rows.push(row(
            format!("server peak RSS, {} load tests in flight", args.load_tests),
            format!("{:.1} MB", kb as f64 / 1024.0),
            "≤ 60 MB",
        ));
    }
    rows.push(row(
        "start-up on the existing database to /readyz",
        ms(startup),
        "≤ 300 ms",
    ));
    rows.push(row(
        "the same after a crash (SIGKILL, WAL recovery)",
        ms(after_crash),
        "",
    ));
    Ok(rows)
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

/// Peak resident set size of a process (Linux `VmHWM`), in KiB.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

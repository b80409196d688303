//! The command line of `xtc-slack-bench`.

use std::path::PathBuf;

/// Which database the server under test uses.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchBackend {
    Sqlite,
    Postgres,
}

/// The phases, in the order they run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Ingest,
    Steady,
    E2e,
    Burst,
    Flood,
    Directory,
    History,
    Chart,
    Report,
    Features,
    Peer,
}

/// Options of `xtc-slack-bench`.
#[derive(clap::Parser, Clone, Debug)]
#[command(
    name = "xtc-slack-bench",
    version,
    about = "Measure ingest, dispatch, latency, memory and start-up of a real xtc-slack server",
    long_about = "Measure ingest, dispatch, latency, memory and start-up of a real xtc-slack \
                  server.\n\n\
                  Phases, in order; each gets a fresh server, database and fake Slack:\n\
                  \x20 1. ingest: --concurrency clients post --load-tests load tests (started + \
                  running), then peak RSS, then start-up on that database after SIGKILL and \
                  after SIGTERM;\n\
                  \x20 2. steady: --steady-rate events/s for --steady-secs (--steady-secs 0 \
                  skips), with what the fake received meanwhile;\n\
                  \x20 3. e2e: --e2e-rate events/s for --e2e-secs over --e2e-channels channels, \
                  202 to the fake's chat.postMessage (--e2e-secs 0 skips);\n\
                  \x20 4. burst: --burst load tests started at once into one rate-limited \
                  channel, 202 to visible in the channel (--burst 0 skips);\n\
                  \x20 5. flood: --flood events one after the other into one rate-limited \
                  channel, digests off, sustained pacing (--flood 0 skips);\n\
                  \x20 6. directory (opt-in, 5-8 min with 20,000 channels): a workspace of --directory-channels \
                  channels, its channel directory's build, then warm saves;\n\
                  \x20 7. history (opt-in, several minutes): --history deliveries and \
                  --history-scenarios monitoring scenarios' results seeded into a fresh \
                  database, then e2e, ingest, the delivery-log pages and the weekly-summary \
                  previews on it and on an empty database, side by side; then, on the seeded \
                  one, e2e and ingest again while organization previews run back to back;\n\
                  \x20 8. chart: the report chart of --chart-points points rendered --chart-runs \
                  times by the server binary's hidden `bench-chart` command, in a process of its \
                  own: time per chart and peak memory (a second or two; --chart-runs 0 skips);\n\
                  \x20 9. report: --report-runs load tests, each with a final report carrying a \
                  2,000-point series, on idle channels: 202 to the report message and to its chart \
                  shared in the channel (about 15 s; --report-runs 0 skips);\n\
                  \x20 10. features: --feature-events events of each hot-path feature next to a \
                  plain event, on idle channels: a rule's channel with its @here mention, a \
                  monitoring incident's card with its buttons, a final report compared with its \
                  baseline; from the request sent and from the 202 to the message in the fake \
                  (about 20 s; --feature-events 0 skips);\n\
                  \x20 11. peer (opt-in, --only peer, about 20 s per pair of runs): xtc-slack next to \
                  Prometheus Alertmanager (--alertmanager) against the same kind of fake Slack, \
                  the e2e load (--e2e-rate, --e2e-secs, --e2e-channels), --peer-runs runs of \
                  each, interleaved; from the request sent and from its answer to the fake's \
                  chat.postMessage.",
    after_help = "Build first, so the server binary is current: \
                  `cargo build --release -p xtc-slack -p xtc-slack-bench && \
                  target/release/xtc-slack-bench`. The default phases take about 3 minutes."
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

    /// Run only these phases (comma-separated: ingest, steady, e2e, burst, flood,
    /// directory, history, chart, report, features, peer); their size flags still apply, and
    /// the opt-in ones still need theirs (`--only history --history 5000000`; `peer` runs only
    /// when named).
    #[arg(long, value_delimiter = ',', value_enum)]
    pub only: Vec<Phase>,

    /// Keep each phase's database (SQLite directory, PostgreSQL database) instead of removing
    /// it at the end, to inspect it; their names are printed.
    #[arg(long)]
    pub keep_databases: bool,

    /// Ingest phase: concurrent clients.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Ingest phase: load tests (two events each: started, running); they are all "in
    /// flight" at the end of the phase, which is when peak RSS is read. 0 skips the ingest
    /// and start-up phases.
    #[arg(long, default_value_t = 10_000)]
    pub load_tests: usize,
    /// Projects the load tests of the ingest and steady phases are spread over.
    #[arg(long, default_value_t = 100)]
    pub projects: usize,
    /// Target channels per project (ingest and steady phases).
    #[arg(long, default_value_t = 1)]
    pub channels_per_project: usize,

    /// Steady phase: events per second (each a new load test's `started`), paced, each
    /// request on its own task.
    #[arg(long, default_value_t = 1_000)]
    pub steady_rate: u32,
    /// Steady phase: seconds (0 skips the phase).
    #[arg(long, default_value_t = 30)]
    pub steady_secs: u64,
    /// Steady phase: print the N slowest requests with their send time (offset from the
    /// phase start), to correlate stalls.
    #[arg(long, default_value_t = 0)]
    pub slowest: usize,
    /// Steady phase: print a latency histogram (powers of two) and a per-second timeline.
    #[arg(long)]
    pub histogram: bool,

    /// End-to-end phase: events per second (each a new load test's `started`).
    #[arg(long, default_value_t = 50)]
    pub e2e_rate: u32,
    /// End-to-end phase: seconds (0 skips the phase).
    #[arg(long, default_value_t = 10)]
    pub e2e_secs: u64,
    /// End-to-end phase: channels (one project each) the events go round-robin to; with the
    /// defaults every channel gets 0.5 event/s, below Slack's 1 message/s, so pacing never
    /// delays a message.
    #[arg(long, default_value_t = 100)]
    pub e2e_channels: usize,

    /// Burst phase: load tests `started` at the same moment (all requests concurrent) into
    /// one channel with the fake's real rate limit (1/s, burst 3); measures each one's 202 →
    /// a message naming it is visible (digests merge several). 0 skips.
    #[arg(long, default_value_t = 60)]
    pub burst: usize,

    /// Flood phase: events sent one after the other into one channel, digests off (~1 s
    /// each with Slack's rate limit: sustained pacing). 0 skips.
    #[arg(long, default_value_t = 60)]
    pub flood: usize,
    /// Turn the fake's per-channel rate limit off in the flood phase.
    #[arg(long)]
    pub no_rate_limit: bool,
    /// Leave the server's digests on in the flood phase. By default the flood runs with
    /// `XTC_SLACK_DIGEST_AFTER_SECS=0` (one message per event), so that it measures
    /// sustained pacing; with digests its events go out in a few messages.
    #[arg(long)]
    pub flood_digests: bool,

    /// Directory phase (opt-in): channels of the fake workspace (`channel-00001` …), listed
    /// 200 per `conversations.list` page under Tier 2 (20 a minute, burst 1). The build
    /// takes one page per --directory-page-ms: 20,000 channels take about 5.5 minutes.
    /// 0 skips.
    #[arg(long, default_value_t = 0)]
    pub directory_channels: usize,
    /// Directory phase: `XTC_SLACK_CHANNEL_DIRECTORY_PAGE_MS` of the server (its default).
    #[arg(long, default_value_t = 3_200)]
    pub directory_page_ms: u64,
    /// Directory phase: warm saves measured once the directory is built.
    #[arg(long, default_value_t = 10)]
    pub directory_saves: usize,

    /// History phase (opt-in): deliveries seeded (5 per event, 4 events per load test, over
    /// the last 29 days) into a fresh database before e2e, ingest, delivery-log and summary
    /// previews run on it; the same run on an empty database for comparison. 5,000,000 takes several
    /// minutes and ~2 GB of disk on SQLite. 0 skips.
    #[arg(long, default_value_t = 0)]
    pub history: u64,
    /// History phase: load tests of its ingest part (64 clients as --concurrency says).
    #[arg(long, default_value_t = 3_000)]
    pub history_load_tests: usize,
    /// History phase: requests per delivery-log page (project page and organization page).
    #[arg(long, default_value_t = 50)]
    pub log_requests: usize,
    /// History phase: monitoring scenarios seeded (a result every 5 minutes each over the
    /// 29 days, mostly ok, an incident every 2 days, most acknowledged).
    #[arg(long, default_value_t = 20)]
    pub history_scenarios: u64,
    /// History phase: requests per weekly-summary preview (organization and project p0).
    #[arg(long, default_value_t = 20)]
    pub summary_requests: usize,

    /// Chart phase: renders of the report chart (0 skips).
    #[arg(long, default_value_t = 50)]
    pub chart_runs: usize,
    /// Chart phase: points per series (the API allows at most 2,000).
    #[arg(long, default_value_t = 2_000)]
    pub chart_points: usize,
    /// Report phase: load tests with a final report and its chart (0 skips).
    #[arg(long, default_value_t = 10)]
    pub report_runs: usize,

    /// Features phase: events of each feature (rule with a mention, monitoring incident,
    /// report compared with its baseline) and as many plain events, each on an idle channel
    /// of its own, one every 200 ms in turn (0 skips).
    #[arg(long, default_value_t = 20)]
    pub feature_events: usize,

    /// Peer phase (opt-in, `--only peer`): runs of each product, alternating xtc-slack and
    /// Alertmanager, each with a fresh server (or Alertmanager) and fake Slack.
    #[arg(long, default_value_t = 3)]
    pub peer_runs: usize,
    /// Peer phase: the Prometheus Alertmanager binary (Debian's package installs it there).
    #[arg(long, default_value = "/usr/bin/prometheus-alertmanager")]
    pub alertmanager: PathBuf,
}

impl BenchArgs {
    /// Whether `phase` runs: named by `--only` (or no `--only`), and not sized to 0.
    pub fn runs(&self, phase: Phase) -> bool {
        let sized = match phase {
            Phase::Ingest => self.load_tests > 0,
            Phase::Steady => self.steady_secs > 0,
            Phase::E2e => self.e2e_secs > 0,
            Phase::Burst => self.burst > 0,
            Phase::Flood => self.flood > 0,
            Phase::Directory => self.directory_channels > 0,
            Phase::History => self.history > 0,
            Phase::Chart => self.chart_runs > 0,
            Phase::Report => self.report_runs > 0,
            Phase::Features => self.feature_events > 0,
            // Opt-in: it takes minutes and needs another product installed.
            Phase::Peer => self.peer_runs > 0 && self.e2e_secs > 0 && self.only.contains(&phase),
        };
        sized && (self.only.is_empty() || self.only.contains(&phase))
    }
}

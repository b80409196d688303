//! The command-line flags (each also read from its environment variable), as given:
//! checked and typed by [`super::Settings::from_args`].

use std::path::PathBuf;

use clap::Args;

use super::SettingsError;
use crate::db::DatabaseUrl;

/// Database selection shared by every subcommand that touches the database.
#[derive(Args, Clone)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (embedded default) or `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(
        long,
        env = "XTC_SLACK_DATABASE_URL",
        default_value = "sqlite://xtc-slack.db",
        hide_env_values = true
    )]
    pub database_url: String,
}

impl DatabaseArgs {
    pub fn parse_url(&self) -> Result<DatabaseUrl, SettingsError> {
        const NAME: &str = "XTC_SLACK_DATABASE_URL";
        let url = DatabaseUrl::parse(&self.database_url)
            .map_err(|_| SettingsError::new(NAME, "expected sqlite://PATH or postgres://..."))?;
        // SQLite creates the file but not its directory; without this check the first thing
        // to fail is writing the key file beside it, reported as a bad secret key.
        if let DatabaseUrl::Sqlite(path) = &url {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            if let Some(dir) = dir.filter(|d| !d.is_dir()) {
                return Err(SettingsError::new(
                    NAME,
                    format!(
                        "the directory {} of the SQLite database does not exist (create it first)",
                        dir.display()
                    ),
                ));
            }
        }
        Ok(url)
    }
}

/// Output format of the logs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Flags of `xtc-slack serve`; each also reads its environment variable.
#[derive(Args, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Listen address.
    #[arg(long, env = "XTC_SLACK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Base URL that browsers and Slack reach (default `http://{bind}`).
    #[arg(long, env = "XTC_SLACK_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// 32 bytes, base64: encrypts Slack tokens at rest. Generated into `<db>.key` for SQLite
    /// when unset; required for PostgreSQL.
    #[arg(long, env = "XTC_SLACK_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// The Slack app's client ID.
    #[arg(long, env = "SLACK_CLIENT_ID")]
    pub slack_client_id: Option<String>,

    /// The Slack app's client secret.
    #[arg(long, env = "SLACK_CLIENT_SECRET", hide_env_values = true)]
    pub slack_client_secret: Option<String>,

    /// Verifies Slack's signed requests to `/slack/events` and `/slack/interactions`.
    #[arg(long, env = "SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub slack_signing_secret: Option<String>,

    /// Slack Web API base URL.
    #[arg(long, env = "SLACK_API_URL", default_value = "https://slack.com/api")]
    pub slack_api_url: String,

    /// Slack OAuth authorize page.
    #[arg(
        long,
        env = "SLACK_AUTHORIZE_URL",
        default_value = "https://slack.com/oauth/v2/authorize"
    )]
    pub slack_authorize_url: String,

    /// Timeout of each Slack Web API call, in seconds.
    #[arg(long, env = "XTC_SLACK_SLACK_TIMEOUT_SECS", default_value_t = 10)]
    pub slack_timeout_secs: u64,

    /// Directory with message templates overriding the compiled-in ones.
    #[arg(long, env = "XTC_SLACK_TEMPLATES_DIR")]
    pub templates_dir: Option<PathBuf>,

    /// Log format.
    #[arg(long, env = "XTC_SLACK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// Database calls and ingest commits that take at least this many milliseconds are
    /// logged as warnings with where the time went (waiting for a thread, for a pooled
    /// connection, or in the database). 0: never.
    #[arg(long, env = "XTC_SLACK_SLOW_DB_MS", default_value_t = 50)]
    pub slow_db_ms: u64,

    /// Database connections of the request pool.
    #[arg(long, env = "XTC_SLACK_DB_POOL_SIZE", default_value_t = 8)]
    pub db_pool_size: u32,

    /// Database connections (each with a thread) of the background pool: the sender's
    /// database work, card edits and the periodic checks. Slack calls do not hold one.
    #[arg(long, env = "XTC_SLACK_BACKGROUND_DB_POOL_SIZE", default_value_t = 2)]
    pub background_db_pool_size: u32,

    /// Average spacing of messages to one Slack channel, in milliseconds (Slack allows
    /// about one per second per channel).
    #[arg(long, env = "XTC_SLACK_CHANNEL_INTERVAL_MS", default_value_t = 1050)]
    pub channel_interval_ms: u64,

    /// Messages that may go to one channel back to back after a quiet spell.
    #[arg(long, env = "XTC_SLACK_CHANNEL_BURST", default_value_t = 2)]
    pub channel_burst: u32,

    /// Shortest retry delay after a Slack 5xx or timeout, in milliseconds. A message is
    /// retried after half the time it has waited so far (at least this, at most a minute);
    /// a card edit after this delay doubled per attempt (at most a minute); both with jitter.
    #[arg(long, env = "XTC_SLACK_RETRY_BASE_MS", default_value_t = 1000)]
    pub retry_base_ms: u64,

    /// Attempts before a delivery that keeps failing transiently is marked failed; 0 (the
    /// default) sets no limit, so only the retry window ends retries.
    #[arg(long, env = "XTC_SLACK_MAX_ATTEMPTS", default_value_t = 0)]
    pub max_attempts: u32,

    /// How long, in seconds after it was accepted, a delivery is retried while Slack fails
    /// (5xx, timeouts, unreachable) before it is marked failed. Slack has had outages of
    /// hours; the default is 6 hours.
    #[arg(long, env = "XTC_SLACK_RETRY_WINDOW_SECS", default_value_t = 21600)]
    pub retry_window_secs: u64,

    /// Seconds between two checks of every target channel with Slack (archived, deleted,
    /// turned private); 0 turns the periodic check off.
    #[arg(
        long,
        env = "XTC_SLACK_CHANNEL_CHECK_INTERVAL_SECS",
        default_value_t = 21600
    )]
    pub channel_check_interval_secs: u64,

    /// Milliseconds between two `conversations.list` pages while building a workspace's
    /// channel directory (Slack's Tier 2 allows about 20 calls a minute); 0 turns the
    /// directory off (every save that names a channel then lists the workspace).
    #[arg(
        long,
        env = "XTC_SLACK_CHANNEL_DIRECTORY_PAGE_MS",
        default_value_t = 3200
    )]
    pub channel_directory_page_ms: u64,

    /// Most live actors per kind (load tests, scenarios); past it the least recently used
    /// one stops (its state is in the database), so memory stays bounded.
    #[arg(long, env = "XTC_SLACK_MAX_LIVE_ACTORS", default_value_t = 10_000)]
    pub max_live_actors: usize,

    /// Run-card edits (chat.update) per minute and Slack workspace (Slack's Tier 3 allows
    /// about 50).
    #[arg(long, env = "XTC_SLACK_CARD_EDITS_PER_MIN", default_value_t = 50)]
    pub card_edits_per_min: u32,

    /// Run-card edits that may go to one workspace back to back after a quiet spell.
    #[arg(long, env = "XTC_SLACK_CARD_EDIT_BURST", default_value_t = 5)]
    pub card_edit_burst: u32,

    /// When a channel's backlog would hold a message back longer than this many seconds
    /// (at the channel's pace), what waits goes out as digest messages (several events in
    /// one). 0: never; every event gets its own message however long it waits.
    #[arg(long, env = "XTC_SLACK_DIGEST_AFTER_SECS", default_value_t = 5)]
    pub digest_after_secs: u64,

    /// Deliveries that may go out at once (their channel idle) are claimed in the event's
    /// own transaction and handed to the sender in memory, so nothing is written between
    /// the commit and the post but the outcome. false: the sender claims every delivery in
    /// a transaction of its own after the commit (the path before; for comparison).
    #[arg(
        long,
        env = "XTC_SLACK_HANDOFF",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub handoff: bool,

    /// Connections to Slack are kept open and reused (HTTP/1.1 keep-alive). false: a new
    /// connection (and TLS handshake) for every call, e.g. behind a proxy that drops idle
    /// connections.
    #[arg(
        long,
        env = "XTC_SLACK_SLACK_KEEP_ALIVE",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub slack_keep_alive: bool,

    /// `during_load_tests: hold`: an incident held during a load test that still fails this
    /// many seconds after the test ended is posted (one that recovered by then becomes one
    /// line in the test's thread).
    #[arg(long, env = "XTC_SLACK_HOLD_GRACE_SECS", default_value_t = 300)]
    pub hold_grace_secs: u64,

    /// A monitoring scenario that changes state more than this many times within
    /// XTC_SLACK_FLAP_WINDOW_SECS is flapping.
    #[arg(long, env = "XTC_SLACK_FLAP_CHANGES", default_value_t = 3)]
    pub flap_changes: u32,

    /// The window, in seconds, in which state changes are counted for flapping.
    #[arg(long, env = "XTC_SLACK_FLAP_WINDOW_SECS", default_value_t = 900)]
    pub flap_window_secs: u64,

    /// How long, in seconds, a flapping scenario must stay ok before its recovery is
    /// reported.
    #[arg(long, env = "XTC_SLACK_FLAP_RECOVERY_HOLD_SECS", default_value_t = 300)]
    pub flap_recovery_hold_secs: u64,

    /// Days settled deliveries, their events, finished load tests, scenarios that are ok
    /// and test-message results are kept (pending deliveries are kept whatever their age).
    #[arg(long, env = "XTC_SLACK_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u32,

    /// Days the audit log is kept.
    #[arg(long, env = "XTC_SLACK_AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u32,

    /// Seconds between two retention passes; 0 turns retention off (nothing is deleted).
    #[arg(
        long,
        env = "XTC_SLACK_RETENTION_INTERVAL_SECS",
        default_value_t = 3600
    )]
    pub retention_interval_secs: u64,

    /// Seconds a request may take to send its body once its headers arrived (slow headers
    /// are cut after 5 s); a slower body is answered `408` and its connection closed.
    #[arg(
        long,
        env = "XTC_SLACK_REQUEST_BODY_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub request_body_timeout_secs: u64,

    /// Seconds between two checks for a weekly summary that is due; 0 turns the scheduler
    /// off (previews and "send now" still work).
    #[arg(long, env = "XTC_SLACK_SUMMARY_CHECK_SECS", default_value_t = 30)]
    pub summary_check_secs: u64,

    /// Tests only: seconds added to the clock the summary scheduler reads, so a test can
    /// cross a scheduled time without waiting for it.
    #[arg(
        long,
        env = "XTC_SLACK_SUMMARY_CLOCK_OFFSET_SECS",
        default_value_t = 0,
        hide = true,
        allow_hyphen_values = true
    )]
    pub summary_clock_offset_secs: i64,
}

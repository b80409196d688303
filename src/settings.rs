//! Typed settings from environment variables and flags (flags win), validated once.
//!
//! Secrets are wrapped in [`SecretString`] so `Debug` can never print them. A bad value
//! becomes a [`SettingsError`] naming the setting; `main` prints it on one line and exits 2.

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::crypto::{CryptoError, SecretKey};
use crate::db::DatabaseUrl;

/// A setting that cannot be used, with the name of its environment variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid {setting}: {reason}")]
pub struct SettingsError {
    /// The environment variable (the flag has the same name in kebab case).
    pub setting: &'static str,
    /// What is wrong, safe to print (never the secret value itself).
    pub reason: String,
}

impl SettingsError {
    pub fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        Self {
            setting,
            reason: reason.into(),
        }
    }
}

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
}

/// What retention keeps and how often it prunes.
#[derive(Clone, Copy, Debug)]
pub struct RetentionSettings {
    pub policy: crate::pipeline::retention::Policy,
    /// Period of the retention pass; `None` turns retention off.
    pub interval: Option<Duration>,
}

/// How the sender paces and retries.
#[derive(Clone, Copy, Debug)]
pub struct DeliverySettings {
    pub channel_interval: Duration,
    pub channel_burst: u32,
    pub retry_base: Duration,
    /// 0: no limit.
    pub max_attempts: u32,
    pub retry_window: Duration,
    /// Average spacing of run-card edits (chat.update) per workspace.
    pub card_edit_interval: Duration,
    pub card_edit_burst: u32,
    /// Digests: a backlog that would delay a message longer than this (`None`: off).
    pub digest_after: Option<Duration>,
}

/// Slack-side configuration.
#[derive(Clone)]
pub struct SlackSettings {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub signing_secret: Option<SecretString>,
    pub api_url: Url,
    pub authorize_url: Url,
    pub timeout: Duration,
}

impl std::fmt::Debug for SlackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .field("api_url", &self.api_url.as_str())
            .field("authorize_url", &self.authorize_url.as_str())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Everything `serve` needs, validated.
#[derive(Debug)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub bind: String,
    pub public_url: Url,
    pub secret_key: SecretKey,
    pub slack: SlackSettings,
    pub templates_dir: Option<PathBuf>,
    pub log_format: LogFormat,
    pub db_pool_size: u32,
    pub background_db_pool_size: u32,
    /// "Slow database call" warnings from this many milliseconds (0: none).
    pub slow_db_ms: u64,
    pub delivery: DeliverySettings,
    /// Pause between two pages of a channel directory build; `None`: no directory.
    pub channel_directory_pause: Option<Duration>,
    /// Period of the channel health check; `None` turns it off.
    pub channel_check_interval: Option<Duration>,
    /// Most live actors per kind.
    pub max_live_actors: usize,
    /// When a monitoring scenario counts as flapping.
    pub flap: crate::domain::monitoring::FlapRules,
    /// What retention keeps and how often it prunes.
    pub retention: RetentionSettings,
    /// How long a request's body may take to arrive.
    pub request_body_timeout: Duration,
}

impl Settings {
    /// Validates the flags; may create the SQLite key file on first start.
    pub fn from_args(args: ServeArgs) -> Result<Self, SettingsError> {
        let database_url = args.database.parse_url()?;
        let bind = args.bind.trim().to_owned();
        bind.to_socket_addrs()
            .map_err(|e| SettingsError::new("XTC_SLACK_BIND", format!("{bind:?}: {e}")))?;
        let public_url = match args.public_url {
            Some(u) => parse_http_url("XTC_SLACK_PUBLIC_URL", &u)?,
            None => parse_http_url("XTC_SLACK_BIND", &format!("http://{bind}"))?,
        };
        let slack = SlackSettings {
            client_id: non_empty(args.slack_client_id),
            client_secret: non_empty(args.slack_client_secret).map(SecretString::from),
            signing_secret: non_empty(args.slack_signing_secret).map(SecretString::from),
            api_url: parse_http_url("SLACK_API_URL", &args.slack_api_url)?,
            authorize_url: parse_http_url("SLACK_AUTHORIZE_URL", &args.slack_authorize_url)?,
            timeout: Duration::from_secs(args.slack_timeout_secs.max(1)),
        };
        if let Some(dir) = &args.templates_dir {
            if !dir.is_dir() {
                return Err(SettingsError::new(
                    "XTC_SLACK_TEMPLATES_DIR",
                    format!("{} is not a directory", dir.display()),
                ));
            }
        }
        if args.db_pool_size == 0 {
            return Err(SettingsError::new(
                "XTC_SLACK_DB_POOL_SIZE",
                "must be at least 1",
            ));
        }
        if args.background_db_pool_size == 0 {
            return Err(SettingsError::new(
                "XTC_SLACK_BACKGROUND_DB_POOL_SIZE",
                "must be at least 1",
            ));
        }
        if args.channel_burst == 0 {
            return Err(SettingsError::new(
                "XTC_SLACK_CHANNEL_BURST",
                "must be at least 1",
            ));
        }
        if args.retry_window_secs == 0 {
            return Err(SettingsError::new(
                "XTC_SLACK_RETRY_WINDOW_SECS",
                "must be at least 1",
            ));
        }
        for (name, value) in [
            ("XTC_SLACK_CARD_EDITS_PER_MIN", args.card_edits_per_min),
            ("XTC_SLACK_CARD_EDIT_BURST", args.card_edit_burst),
            ("XTC_SLACK_FLAP_CHANGES", args.flap_changes),
        ] {
            if value == 0 {
                return Err(SettingsError::new(name, "must be at least 1"));
            }
        }
        if args.flap_window_secs == 0 {
            return Err(SettingsError::new(
                "XTC_SLACK_FLAP_WINDOW_SECS",
                "must be at least 1",
            ));
        }
        for (name, value) in [
            ("XTC_SLACK_RETENTION_DAYS", args.retention_days),
            ("XTC_SLACK_AUDIT_RETENTION_DAYS", args.audit_retention_days),
        ] {
            if value == 0 {
                return Err(SettingsError::new(name, "must be at least 1 (day)"));
            }
        }
        let retention = RetentionSettings {
            policy: crate::pipeline::retention::Policy::days(
                args.retention_days,
                args.audit_retention_days,
            ),
            interval: (args.retention_interval_secs > 0)
                .then(|| Duration::from_secs(args.retention_interval_secs)),
        };
        let secs = |n: u64| chrono::Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1000));
        let flap = crate::domain::monitoring::FlapRules {
            changes: args.flap_changes,
            window: secs(args.flap_window_secs),
            recovery_hold: secs(args.flap_recovery_hold_secs),
        };
        // Last: it may create the key file, which a refused start should not leave behind.
        let secret_key = load_secret_key(args.secret_key.as_deref(), &database_url)?;
        let delivery = DeliverySettings {
            channel_interval: Duration::from_millis(args.channel_interval_ms),
            channel_burst: args.channel_burst,
            retry_base: Duration::from_millis(args.retry_base_ms.max(1)),
            max_attempts: args.max_attempts,
            retry_window: Duration::from_secs(args.retry_window_secs),
            card_edit_interval: Duration::from_secs(60) / args.card_edits_per_min,
            card_edit_burst: args.card_edit_burst,
            digest_after: (args.digest_after_secs > 0)
                .then(|| Duration::from_secs(args.digest_after_secs)),
        };
        Ok(Self {
            database_url,
            bind,
            public_url,
            secret_key,
            slack,
            templates_dir: args.templates_dir,
            log_format: args.log_format,
            db_pool_size: args.db_pool_size,
            background_db_pool_size: args.background_db_pool_size,
            slow_db_ms: args.slow_db_ms,
            delivery,
            channel_directory_pause: (args.channel_directory_page_ms > 0)
                .then(|| Duration::from_millis(args.channel_directory_page_ms)),
            channel_check_interval: (args.channel_check_interval_secs > 0)
                .then(|| Duration::from_secs(args.channel_check_interval_secs)),
            max_live_actors: args.max_live_actors.max(1),
            flap,
            retention,
            request_body_timeout: Duration::from_secs(args.request_body_timeout_secs.max(1)),
        })
    }

    /// `{public}/slack/oauth/callback`, the OAuth `redirect_uri`.
    pub fn oauth_redirect_uri(&self) -> String {
        format!("{}/slack/oauth/callback", self.public_base())
    }

    /// The public base URL without a trailing slash.
    pub fn public_base(&self) -> &str {
        self.public_url.as_str().trim_end_matches('/')
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn parse_http_url(setting: &'static str, raw: &str) -> Result<Url, SettingsError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| SettingsError::new(setting, format!("{raw:?} is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(SettingsError::new(
            setting,
            format!("{raw:?} must be an http:// or https:// URL with a host"),
        ));
    }
    Ok(url)
}

/// The encryption key: given, or for SQLite read from / generated into `<db>.key`.
fn load_secret_key(given: Option<&str>, db: &DatabaseUrl) -> Result<SecretKey, SettingsError> {
    const NAME: &str = "XTC_SLACK_SECRET_KEY";
    let bad = |e: CryptoError| SettingsError::new(NAME, e.to_string());
    if let Some(encoded) = given.filter(|s| !s.trim().is_empty()) {
        return SecretKey::from_base64(encoded).map_err(bad);
    }
    match db {
        DatabaseUrl::Postgres(_) => Err(SettingsError::new(
            NAME,
            "is required with a PostgreSQL database (32 bytes, base64: `openssl rand -base64 32`)",
        )),
        DatabaseUrl::Sqlite(path) => {
            let key_path = key_file_path(path);
            let encoded = read_or_create_key_file(&key_path).map_err(|e| {
                SettingsError::new(NAME, format!("key file {}: {e}", key_path.display()))
            })?;
            SecretKey::from_base64(encoded.expose_secret()).map_err(|e| {
                SettingsError::new(NAME, format!("key file {}: {e}", key_path.display()))
            })
        }
    }
}

/// `<db path>.key` beside the SQLite file.
pub fn key_file_path(db_path: &std::path::Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

fn read_or_create_key_file(path: &std::path::Path) -> std::io::Result<SecretString> {
    use std::io::Write;
    match std::fs::read_to_string(path) {
        Ok(s) => return Ok(SecretString::from(s.trim().to_owned())),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let key = SecretKey::generate_base64();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(key.expose_secret().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated a new secret key file");
    Ok(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["x"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().serve
    }

    #[test]
    fn sqlite_key_file_is_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}/x.db", dir.path().display());
        Settings::from_args(args(&["--database-url", &db])).unwrap();
        let key_path = dir.path().join("x.db.key");
        let first = std::fs::read_to_string(&key_path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Settings::from_args(args(&["--database-url", &db])).unwrap();
        assert_eq!(std::fs::read_to_string(&key_path).unwrap(), first);
    }

    #[test]
    fn a_missing_sqlite_directory_is_named_not_blamed_on_the_key() {
        let err = Settings::from_args(args(&["--database-url", "sqlite:///missing/dir/x.db"]))
            .unwrap_err();
        assert_eq!(err.setting, "XTC_SLACK_DATABASE_URL", "{}", err.reason);
        assert!(
            err.reason.contains("/missing/dir") && err.reason.contains("does not exist"),
            "{}",
            err.reason
        );
        // A file in the current directory has no directory to check.
        assert!(DatabaseArgs {
            database_url: "sqlite://x.db".into()
        }
        .parse_url()
        .is_ok());
    }

    #[test]
    fn postgres_requires_a_key() {
        let err = Settings::from_args(args(&["--database-url", "postgres://u@localhost/db"]))
            .unwrap_err();
        assert_eq!(err.setting, "XTC_SLACK_SECRET_KEY");
    }

    #[test]
    fn bad_values_name_their_setting() {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}/x.db", dir.path().display());
        let cases: [(&[&str], &str); 8] = [
            (&["--secret-key", "dG9vc2hvcnQ="], "XTC_SLACK_SECRET_KEY"),
            (&["--db-pool-size", "0"], "XTC_SLACK_DB_POOL_SIZE"),
            (
                &["--background-db-pool-size", "0"],
                "XTC_SLACK_BACKGROUND_DB_POOL_SIZE",
            ),
            (&["--public-url", "not a url"], "XTC_SLACK_PUBLIC_URL"),
            (&["--slack-api-url", "ftp://x"], "SLACK_API_URL"),
            (&["--bind", "nonsense"], "XTC_SLACK_BIND"),
            (&["--database-url", "mysql://x"], "XTC_SLACK_DATABASE_URL"),
            (
                &["--database-url", "sqlite:///missing/dir/x.db"],
                "XTC_SLACK_DATABASE_URL",
            ),
        ];
        for (extra, setting) in cases {
            let mut argv = extra.to_vec();
            if !extra.contains(&"--database-url") {
                argv.extend_from_slice(&["--database-url", db.as_str()]);
            }
            let err = Settings::from_args(args(&argv)).unwrap_err();
            assert_eq!(err.setting, setting, "{extra:?}");
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}/x.db", dir.path().display());
        let s = Settings::from_args(args(&[
            "--database-url",
            &db,
            "--slack-client-secret",
            "super-secret-value",
            "--slack-signing-secret",
            "signing-secret-value",
        ]))
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("super-secret-value"));
        assert!(!shown.contains("signing-secret-value"));
        assert_eq!(
            s.oauth_redirect_uri(),
            "http://127.0.0.1:8080/slack/oauth/callback"
        );
    }
}

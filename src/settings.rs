//! The validated [`Settings`] of `serve`: the flags of [`args`] checked once and turned
//! into typed values.
//!
//! Secrets are wrapped in [`SecretString`] so `Debug` can never print them. A bad value
//! becomes a [`SettingsError`] naming the setting; `main` prints it on one line and exits 2.

mod args;
mod secret_key;

pub use crate::db::key_file_path;
pub use args::{DatabaseArgs, LogFormat, ServeArgs};
use secret_key::load_secret_key;

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::crypto::SecretKey;
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

/// What retention keeps and how often it prunes.
#[derive(Clone, Copy, Debug)]
pub struct RetentionSettings {
    pub policy: crate::domain::retention::Policy,
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
    /// Holds: how long a held incident still failing after its load test ended waits.
    pub hold_grace: Duration,
    /// Deliveries of idle channels are claimed at commit and handed to the sender.
    pub handoff: bool,
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
    /// Connections to Slack are reused (`XTC_SLACK_SLACK_KEEP_ALIVE`).
    pub keep_alive: bool,
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
            .field("keep_alive", &self.keep_alive)
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
    /// Period of the weekly summary scheduler; `None` turns it off.
    pub summary_check_interval: Option<Duration>,
    /// Added to the clock the summary scheduler reads (tests only).
    pub summary_clock_offset: chrono::Duration,
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
            keep_alive: args.slack_keep_alive,
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
            policy: crate::domain::retention::Policy::days(
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
            hold_grace: Duration::from_secs(args.hold_grace_secs),
            handoff: args.handoff,
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
            summary_check_interval: (args.summary_check_secs > 0)
                .then(|| Duration::from_secs(args.summary_check_secs)),
            summary_clock_offset: chrono::Duration::seconds(args.summary_clock_offset_secs),
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

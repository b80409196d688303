//! Command line: `serve`, `migrate`, `token create|list|revoke`, `db backup|copy`,
//! `fake-slack`. The bench harness is its own binary, `xtc-slack-bench` (crates/bench); the
//! hidden `bench-chart` is the part of it that runs inside the product (its `chart` phase).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use crate::db::models::api_token::ApiTokenRow;
use crate::db::{self, write_tx};
use crate::domain::access::Role;
use crate::domain::ids::{OrgId, ProjectId};
use crate::settings::{DatabaseArgs, ServeArgs, Settings, SettingsError};
use crate::startup::{Application, StartupError};

#[derive(Parser)]
#[command(
    name = "xtc-slack",
    version,
    about = "Slack notifications for XTC load tests and monitoring"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP server and the actors (applies pending migrations first).
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Run a local fake of the Slack Web API and OAuth pages (demos and tests).
    FakeSlack(Box<fake_slack::FakeSlackArgs>),
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenCommand,
    },
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        action: DbCommand,
    },
    /// Renders the report chart of a sample run `--runs` times and prints, as JSON, the
    /// microseconds of each render and this process's peak RSS before and after (for
    /// `xtc-slack-bench --only chart`).
    #[command(hide = true)]
    BenchChart {
        /// Points per series.
        #[arg(long, default_value_t = 2_000)]
        points: usize,
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Also write the chart to this file.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// A consistent copy of the SQLite database, safe while the service runs, and its key
    /// file beside it (`PATH.key`, mode 0600). Restore: stop the service, put both back as
    /// the database file and its `.key`. PostgreSQL: use pg_dump and keep the secret key.
    Backup {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Where to write the copy (must not exist; its directory must).
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Copy a whole database to an empty one, SQLite and PostgreSQL either way (stop the
    /// service first). The target is migrated first; the copy is verified (row counts,
    /// tokens decrypted) and committed only when it holds. The source key is carried over
    /// unless --to-key names another (then buttons on cards already in Slack stop working).
    Copy(Box<CopyArgs>),
}

/// `db copy`.
#[derive(clap::Args)]
pub struct CopyArgs {
    /// The database to copy: `sqlite://PATH` or `postgres://...`.
    #[arg(long)]
    from: String,
    /// The database to copy into: empty, or --force.
    #[arg(long)]
    to: String,
    /// The source's secret key (base64), as its service runs with it; default: the
    /// `.key` file beside an SQLite source. Prefer the environment variable.
    #[arg(long, env = "XTC_SLACK_FROM_KEY", hide_env_values = true)]
    from_key: Option<String>,
    /// The key the target will run with, when it is not the source's: the tokens are
    /// re-encrypted, web sessions are left out, buttons on existing cards stop matching.
    #[arg(long, env = "XTC_SLACK_TO_KEY", hide_env_values = true)]
    to_key: Option<String>,
    /// Replace what the target holds (in the same transaction as the copy).
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once (only its hash is stored).
    Create {
        #[command(flatten)]
        database: DatabaseArgs,
        /// `service` (orchestrator, scheduler) or `admin`.
        #[arg(long, value_parser = ["service", "admin"])]
        role: String,
        /// The organization an admin token administers.
        #[arg(long)]
        org: Option<String>,
        /// The one project a project-admin token administers (needs --org).
        #[arg(long)]
        project: Option<String>,
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
    },
    /// List tokens (never their values).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token by its id (see `token list`).
    Revoke {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The token id, e.g. tok_1a2b3c4d5e6f.
        id: String,
    },
}

/// Runs the parsed command and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Migrate(database) => migrate(&database),
        Command::Token { action } => token(action),
        Command::FakeSlack(args) => run_fake_slack(*args),
        Command::Db {
            action: DbCommand::Backup { database, to },
        } => backup(&database, &to),
        Command::Db {
            action: DbCommand::Copy(args),
        } => copy(*args),
        Command::BenchChart { points, runs, out } => bench_chart(points, runs, out.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), StartupError> {
    crate::telemetry::init(args.log_format);
    // First the port: a busy one must not leave a new database or key file behind.
    let listener = crate::startup::bind(&args.bind)?;
    let settings = Settings::from_args(args)?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build_with_listener(settings, listener).await?;
        app.run_until_signalled().await?;
        Ok(())
    })
}

/// The fake Slack lives in its own crate (`crates/fake-slack`); the product only starts it.
fn run_fake_slack(args: fake_slack::FakeSlackArgs) -> Result<(), StartupError> {
    crate::telemetry::init(crate::settings::LogFormat::Human);
    actix_web::rt::System::new()
        .block_on(fake_slack::run(args))
        .map_err(|e| StartupError::Io(std::io::Error::other(format!("{e:#}"))))
}

fn migrate(database: &DatabaseArgs) -> Result<(), StartupError> {
    let url = database.parse_url()?;
    let mut conn = url.connect()?;
    let n = db::run_migrations(&mut conn)?;
    println!("applied {n} migration(s)");
    Ok(())
}

fn backup(database: &DatabaseArgs, to: &std::path::Path) -> Result<(), StartupError> {
    let url = database.parse_url()?;
    let done = db::backup::backup(&url, to).map_err(|e| {
        use db::backup::BackupError as E;
        match e {
            E::Database(e) => StartupError::Database(e),
            // What the operator gave does not fit: exit 2, like other settings.
            E::NotSqlite | E::NoSource(_) => {
                SettingsError::new("XTC_SLACK_DATABASE_URL", e.to_string()).into()
            }
            E::TargetExists(_) | E::NoTargetDirectory(_) => {
                SettingsError::new("--to", e.to_string()).into()
            }
            e => StartupError::Backup(e.to_string()),
        }
    })?;
    println!(
        "backed up {} to {} ({} bytes, integrity ok)",
        describe_database(&url),
        done.database.display(),
        done.bytes
    );
    match done.key {
        Some(key) => println!("key file: {} (mode 0600; keep it with the copy: the Slack tokens are encrypted with it)", key.display()),
        None => println!(
            "no key file beside the database: keep the XTC_SLACK_SECRET_KEY the service runs with together with the copy"
        ),
    }
    Ok(())
}

fn bench_chart(
    points: usize,
    runs: usize,
    out: Option<&std::path::Path>,
) -> Result<(), StartupError> {
    use crate::chart::{render_png, sample::sample_run};
    let run = sample_run(points);
    let input = run.input();
    let chart_failed = |e: crate::chart::ChartError| StartupError::Io(std::io::Error::other(e));
    let rss_before_kb = peak_rss_kb();
    let mut render_us = Vec::with_capacity(runs);
    let mut png = Vec::new();
    for _ in 0..runs.max(1) {
        let started = std::time::Instant::now();
        png = render_png(&input).map_err(chart_failed)?;
        render_us.push(started.elapsed().as_micros() as u64);
    }
    if let Some(path) = out {
        std::fs::write(path, &png)?;
    }
    let report = serde_json::json!({
        "points": points,
        "png_bytes": png.len(),
        "render_us": render_us,
        "rss_before_kb": rss_before_kb,
        "peak_rss_kb": peak_rss_kb(),
    });
    println!("{report}");
    Ok(())
}

/// This process's peak resident set size (Linux `VmHWM`), in KiB; `None` elsewhere.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn copy(args: CopyArgs) -> Result<(), StartupError> {
    let from = db::DatabaseUrl::parse(&args.from)
        .map_err(|e| SettingsError::new("--from", e.to_string()))?;
    let to =
        db::DatabaseUrl::parse(&args.to).map_err(|e| SettingsError::new("--to", e.to_string()))?;
    let secret = |k: Option<String>| k.filter(|k| !k.trim().is_empty()).map(SecretString::from);
    let request = db::copy::CopyRequest {
        from,
        to,
        from_key: secret(args.from_key),
        to_key: secret(args.to_key),
        force: args.force,
    };
    eprintln!(
        "copying {} to {}",
        describe_database(&request.from),
        describe_database(&request.to)
    );
    let report = db::copy::copy(&request)?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let mut total = 0;
    for t in &report.tables {
        total += t.target_rows;
        let note = if t.left_out {
            " (left out: sessions do not hold under a new key)"
        } else {
            ""
        };
        println!("{:<24} {:>10}{note}", t.table, t.target_rows);
    }
    println!(
        "copied {total} rows in {} tables; every count matches the source",
        report.tables.len()
    );
    println!(
        "Slack tokens: {} installation(s), every token decrypts with the target's key",
        report.tokens_verified
    );
    match &report.key {
        db::copy::TargetKey::CarriedOver { origin } => println!(
            "key: the source's ({origin}), carried over, so buttons on cards already in Slack keep working"
        ),
        db::copy::TargetKey::Reencrypted => println!(
            "key: the tokens were re-encrypted with --to-key; buttons on cards posted before the copy no longer match until the card is edited again, and web sessions were left out"
        ),
    }
    match &report.key_file {
        Some(path) => println!(
            "key file: {} (mode 0600; the service reads it unless XTC_SLACK_SECRET_KEY is set)",
            path.display()
        ),
        None => println!(
            "start the service on the target with XTC_SLACK_SECRET_KEY set to {}",
            match &report.key {
                db::copy::TargetKey::CarriedOver { origin } =>
                    format!("the source's key ({origin})"),
                db::copy::TargetKey::Reencrypted => "the key given with --to-key".to_owned(),
            }
        ),
    }
    Ok(())
}

fn token(action: TokenCommand) -> Result<(), StartupError> {
    match action {
        TokenCommand::Create {
            database,
            role,
            org,
            project,
            name,
        } => {
            let role = Role::parse(&role)
                .ok_or_else(|| SettingsError::new("--role", "must be service or admin"))?;
            let org = org
                .map(|o| OrgId::parse(&o))
                .transpose()
                .map_err(|e| SettingsError::new("--org", format!("organization id {e}")))?;
            let project = project
                .map(|p| ProjectId::parse(&p))
                .transpose()
                .map_err(|e| SettingsError::new("--project", format!("project id {e}")))?;
            let mut conn = connect_migrated(&database)?;
            let issued = write_tx(&mut conn, |c| {
                crate::auth::issue(c, role, org.as_ref(), project.as_ref(), &name)
            })
            .map_err(|e| match e {
                crate::auth::IssueError::Db(e) => StartupError::Database(e.into()),
                other => SettingsError::new("token", other.to_string()).into(),
            })?;
            eprintln!("created token {} (shown once; store it now)", issued.id);
            println!("{}", issued.token.expose_secret());
            Ok(())
        }
        TokenCommand::List { database } => {
            let mut conn = connect_migrated(&database)?;
            let rows = ApiTokenRow::list(&mut conn).map_err(db::DbError::from)?;
            println!(
                "{:<18} {:<8} {:<20} {:<20} {:<20} {:<9} NAME",
                "ID", "ROLE", "ORG", "PROJECT", "CREATED", "STATUS"
            );
            for r in rows {
                println!(
                    "{:<18} {:<8} {:<20} {:<20} {:<20} {:<9} {}",
                    r.id,
                    r.role.as_str(),
                    r.org_id.as_deref().unwrap_or("-"),
                    r.project_id.as_deref().unwrap_or("-"),
                    r.created_at.format("%Y-%m-%d %H:%M:%S"),
                    if r.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    },
                    r.name
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { database, id } => {
            let mut conn = connect_migrated(&database)?;
            let revoked =
                write_tx(&mut conn, |c| ApiTokenRow::revoke(c, &id)).map_err(db::DbError::from)?;
            if revoked {
                println!("revoked {id}");
                Ok(())
            } else {
                Err(SettingsError::new("ID", format!("no active token with id {id:?}")).into())
            }
        }
    }
}

/// Tokens can be created before the first `serve`, so apply migrations first. Says on
/// stderr which database it is: a token in another one than the server's answers 401.
fn connect_migrated(database: &DatabaseArgs) -> Result<db::DbConnection, StartupError> {
    let url = database.parse_url()?;
    let mut conn = url.connect()?;
    db::run_migrations(&mut conn)?;
    eprintln!("database: {}", describe_database(&url));
    Ok(conn)
}

/// Where a database is, for people: the absolute path of an SQLite file, or a PostgreSQL
/// URL without its password (nor any `password` parameter).
pub fn describe_database(url: &db::DatabaseUrl) -> String {
    match url {
        db::DatabaseUrl::Sqlite(path) => std::path::absolute(path)
            .unwrap_or_else(|_| path.clone())
            .display()
            .to_string(),
        db::DatabaseUrl::Postgres(raw) => {
            let Ok(mut parsed) = url::Url::parse(raw) else {
                return "a PostgreSQL database (its URL could not be shown safely)".to_owned();
            };
            let _ = parsed.set_password(None);
            let kept: Vec<(String, String)> = parsed
                .query_pairs()
                .filter(|(k, _)| !k.to_ascii_lowercase().contains("password"))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            parsed.set_query(None);
            if !kept.is_empty() {
                parsed.query_pairs_mut().extend_pairs(kept);
            }
            parsed.set_fragment(None);
            parsed.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_url_is_described_without_its_password() {
        let url = db::DatabaseUrl::Postgres(
            "postgres://xtc:s3cr%40t@db.example:5432/xtc?sslmode=require&password=other".into(),
        );
        let shown = describe_database(&url);
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(!shown.contains("other"), "{shown}");
        assert!(shown.contains("xtc@db.example:5432/xtc"), "{shown}");
        assert!(shown.contains("sslmode=require"), "{shown}");
    }

    #[test]
    fn an_sqlite_path_is_described_absolute() {
        let shown = describe_database(&db::DatabaseUrl::Sqlite("x.db".into()));
        assert!(std::path::Path::new(&shown).is_absolute(), "{shown}");
        assert!(shown.ends_with("x.db"), "{shown}");
    }
}

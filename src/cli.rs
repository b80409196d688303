//! Command line: `serve`, `migrate`, `token create|list|revoke`, `fake-slack`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

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
    FakeSlack(Box<crate::fake_slack::FakeSlackArgs>),
    /// Measure ingest, dispatch, latency, memory and start-up against a real server.
    Bench(Box<crate::bench::BenchArgs>),
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenCommand,
    },
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
        Command::FakeSlack(args) => fake_slack(*args),
        Command::Bench(args) => bench(*args),
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
    let settings = Settings::from_args(args)?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        app.run_until_signalled().await?;
        Ok(())
    })
}

fn fake_slack(args: crate::fake_slack::FakeSlackArgs) -> Result<(), StartupError> {
    crate::telemetry::init(crate::settings::LogFormat::Human);
    actix_web::rt::System::new()
        .block_on(crate::fake_slack::run(args))
        .map_err(|e| StartupError::Io(std::io::Error::other(format!("{e:#}"))))
}

fn bench(args: crate::bench::BenchArgs) -> Result<(), StartupError> {
    crate::telemetry::init(crate::settings::LogFormat::Human);
    actix_web::rt::System::new()
        .block_on(crate::bench::run(args))
        .map_err(|e| StartupError::Io(std::io::Error::other(format!("{e:#}"))))
}

fn migrate(database: &DatabaseArgs) -> Result<(), StartupError> {
    let url = database.parse_url()?;
    let mut conn = url.connect()?;
    let n = db::run_migrations(&mut conn)?;
    println!("applied {n} migration(s)");
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
                    r.role,
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

/// Tokens can be created before the first `serve`, so apply migrations first.
fn connect_migrated(database: &DatabaseArgs) -> Result<db::DbConnection, StartupError> {
    let mut conn = database.parse_url()?.connect()?;
    db::run_migrations(&mut conn)?;
    Ok(conn)
}

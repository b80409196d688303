//! Builds the application: database pool, migrations, actors, and the HTTP server on a
//! listener the caller may bind itself (tests pass port 0 and read the port back).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

use crate::crypto::Cipher;
use crate::db::{self, Db, DbError};
use crate::settings::{Settings, SettingsError};
use crate::state::AppState;

/// Why the service could not start. Settings problems exit with code 2.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("could not start the HTTP server: {0}")]
    Io(#[from] std::io::Error),
    #[error("message templates: {0}")]
    Templates(#[from] crate::pipeline::render::RenderError),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error(transparent)]
    UiTemplates(#[from] crate::http::ui::render::UiTemplateError),
    /// Another process listens on the address: a setting to change, so exit code 2.
    #[error(
        "XTC_SLACK_BIND {addr}: address already in use (another process listens there; stop it \
         or choose another address)"
    )]
    AddressInUse { addr: String },
    /// `db backup` could not make or check its copy.
    #[error("backup failed: {0}")]
    Backup(String),
    /// `db copy` refused (exit 2) or failed (exit 1).
    #[error("db copy: {0}")]
    Copy(#[from] crate::db::copy::CopyError),
}

impl StartupError {
    /// 2 for configuration errors (API.md / issue 2), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Settings(_) | Self::AddressInUse { .. } => 2,
            Self::Copy(e) => e.exit_code(),
            _ => 1,
        }
    }
}

/// Binds the listen address (`XTC_SLACK_BIND`). `serve` does this before anything is
/// created on disk, so a busy port leaves no database or key file behind.
pub fn bind(addr: &str) -> Result<TcpListener, StartupError> {
    let addr = addr.trim();
    TcpListener::bind(addr).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => StartupError::AddressInUse {
            addr: addr.to_owned(),
        },
        _ => SettingsError::new("XTC_SLACK_BIND", format!("cannot listen on {addr}: {e}")).into(),
    })
}

/// A built, not yet running, service.
pub struct Application {
    port: u16,
    server: Server,
    /// What graceful shutdown drains.
    shutdown: crate::shutdown::Drainer,
}

impl Application {
    /// Binds `settings.bind` and builds everything.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listener = bind(&settings.bind)?;
        Self::build_with_listener(settings, listener).await
    }

    /// Builds everything on an already bound listener.
    pub async fn build_with_listener(
        settings: Settings,
        listener: TcpListener,
    ) -> Result<Self, StartupError> {
        let port = listener.local_addr()?.port();
        migrate(&settings.database_url).await?;
        db::set_slow_threshold(settings.slow_db_ms);
        let db = Db::new(settings.database_url.clone(), settings.db_pool_size)?;
        // The sender and the periodic work use connections of their own: requests (the
        // bearer-token lookup) never queue behind a backlog being delivered.
        let background = db.background(background_pool_size(&settings))?;
        let cipher = Cipher::new(&settings.secret_key);
        let metrics = crate::metrics::Metrics::new()?;
        let mut slack =
            crate::slack::SlackApi::new(settings.slack.api_url.as_str(), settings.slack.timeout)
                .with_call_counter(metrics.slack_calls.clone());
        if !settings.slack.keep_alive {
            slack = slack.without_keep_alive();
        }
        // One registry for the sender and the services (compiling every template takes
        // about 15 ms: `cargo bench --bench micro`, "load templates").
        let renderer = Arc::new(crate::pipeline::render::Renderer::new(
            settings.templates_dir.as_deref(),
        )?);
        let pipeline = start_pipeline(
            &settings,
            &db,
            &background,
            (&cipher, &slack),
            &metrics,
            renderer.clone(),
        )
        .await?;
        let channel_health = {
            use actix::Actor;
            let deps = crate::pipeline::channel_health::HealthDeps {
                db: background.clone(),
                slack: slack.clone(),
                cipher: cipher.clone(),
                metrics: metrics.clone(),
                pause: crate::pipeline::channel_health::CALL_PAUSE,
            };
            crate::actors::channel_health::ChannelHealth::new(deps, settings.channel_check_interval)
                .start()
        };
        if let Some(pause) = settings.channel_directory_pause {
            use actix::Actor;
            let deps = crate::pipeline::channel_directory::DirectoryDeps {
                db: background.clone(),
                slack: slack.clone(),
                cipher: cipher.clone(),
            };
            crate::actors::channel_directory::ChannelDirectoryBuilder::new(deps, pause).start();
        }
        {
            use actix::Actor;
            crate::actors::maintenance::MaintenanceWindows::new(
                background.clone(),
                pipeline.sender().clone(),
            )
            .start();
        }
        if let Some(interval) = settings.retention.interval {
            use actix::Actor;
            crate::actors::retention::Retention::new(
                background.clone(),
                settings.retention.policy,
                metrics.clone(),
                interval,
            )
            .start();
        }
        if let Some(interval) = settings.summary_check_interval {
            use actix::Actor;
            crate::actors::summary::SummaryScheduler::new(
                background.clone(),
                interval,
                settings.summary_clock_offset,
            )
            .start();
        }
        let shutdown = crate::shutdown::Drainer {
            sender: pipeline.sender().clone(),
            db: db.clone(),
            // Long enough for a delivery that just started its Slack call to finish it.
            timeout: settings.slack.timeout * crate::slack::client::POST_MESSAGE_TIMEOUT_FACTOR
                + std::time::Duration::from_secs(5),
        };
        let ui = crate::http::ui::render::Ui::new(&settings)?;
        let settings = Arc::new(settings);
        let services = crate::services::Services {
            db: db.clone(),
            reads: db.low_priority_reads(1)?,
            settings: settings.clone(),
            cipher,
            slack,
            effective: pipeline.effective().clone(),
            renderer,
        };
        let token_checks = crate::auth::TokenChecks::start(db.clone())?;
        let state = web::Data::new(AppState {
            services,
            token_checks,
            db,
            settings: settings.clone(),
            actors: pipeline,
            metrics,
            channel_health,
        });
        let body_timeout = settings.request_body_timeout;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(move |req, next| {
                    crate::http::body_deadline::limit_body_time(req, next, body_timeout)
                }))
                // Inside `observe`, which thus logs and counts the final answers.
                .wrap(actix_web::middleware::from_fn(crate::http::json_errors))
                .wrap(actix_web::middleware::from_fn(
                    crate::http::observe::observe,
                ))
                .configure(crate::http::configure)
                .configure(|cfg| crate::http::ui::configure(cfg, &ui))
                .default_service(web::to(crate::http::not_found))
        })
        .shutdown_timeout(10)
        // Signals are handled by `run_until_signalled`, which also drains the pipeline.
        .disable_signals()
        .listen(listener)?
        .run();
        tracing::info!(port, public_url = %settings.public_url, "xtc-slack listening");
        Ok(Self {
            port,
            server,
            shutdown,
        })
    }

    /// A handle to stop the server (tests, graceful shutdown).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server is stopped through [`Application::handle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully: stops accepting,
    /// finishes in-flight requests and deliveries (bounded), hands back unfinished claims.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        crate::shutdown::run_until_signalled(self.server, self.shutdown).await
    }
}

/// Connections (and threads) of the background pool: `XTC_SLACK_BACKGROUND_DB_POOL_SIZE`.
/// Few by default, on both backends: the sender's database work comes in a burst once a
/// second (every paced channel is due again at once), and on PostgreSQL every connection
/// of it is a server process competing for the cores with the ingest writers' (the
/// PostgreSQL steady phase's p99 halved going from 8 to 2; see the README). The Slack
/// calls themselves do not hold a connection and stay concurrent.
fn background_pool_size(settings: &Settings) -> u32 {
    settings.background_db_pool_size
}

/// Starts the resolver and the sender; on SQLite (one instance by design) hands back
/// claims a previous run left behind, so nothing waits for a lease to expire.
async fn start_pipeline(
    settings: &Settings,
    db: &Db,
    background: &Db,
    (cipher, slack): (&Cipher, &crate::slack::SlackApi),
    metrics: &crate::metrics::Metrics,
    renderer: Arc<crate::pipeline::render::Renderer>,
) -> Result<crate::actors::Actors, StartupError> {
    use actix::Actor;

    use crate::actors::config_resolver::ConfigResolver;
    use crate::actors::slack_sender::SlackSender;
    use crate::actors::subject::Deps;
    use crate::db::models::delivery::Delivery;
    use crate::domain::pacing::Pacing;
    use crate::pipeline::deliver::{SenderConfig, SenderDeps};

    if settings.database_url.is_sqlite() {
        let released = db
            .run(|conn| {
                db::write_tx(conn, |c| {
                    crate::db::models::card_edit::CardEdit::release_all_claims(c)?;
                    Delivery::release_all_claims(c)
                })
                .map_err(DbError::from)
            })
            .await?;
        if released > 0 {
            tracing::info!(released, "released deliveries claimed by a previous run");
        }
    }
    let d = settings.delivery;
    let config = SenderConfig {
        pacing: Pacing {
            interval: chrono::Duration::from_std(d.channel_interval)
                .unwrap_or(chrono::Duration::seconds(1)),
            burst: d.channel_burst,
        },
        retry_base: d.retry_base,
        max_attempts: match d.max_attempts {
            0 => i32::MAX,
            n => i32::try_from(n).unwrap_or(i32::MAX),
        },
        retry_window: chrono::Duration::from_std(d.retry_window)
            .unwrap_or(chrono::Duration::hours(6)),
        lease: chrono::Duration::seconds(30),
        instance: format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
        edit_pacing: Pacing {
            interval: chrono::Duration::from_std(d.card_edit_interval)
                .unwrap_or(chrono::Duration::milliseconds(1200)),
            burst: d.card_edit_burst,
        },
        digest_after: d
            .digest_after
            .and_then(|a| chrono::Duration::from_std(a).ok()),
        hold_grace: chrono::Duration::from_std(d.hold_grace)
            .unwrap_or(chrono::Duration::minutes(5)),
    };
    let handoff_config = config.clone();
    let resolver = ConfigResolver::new(db.clone(), background.clone());
    let effective = resolver.cache();
    let resolver = resolver.start();
    let outcome_writer = std::sync::Arc::new(std::sync::OnceLock::new());
    let sender = SlackSender::new(SenderDeps {
        outcome_writer: outcome_writer.clone(),
        db: background.clone(),
        effective: effective.clone(),
        slack: slack.clone(),
        renderer,
        cipher: cipher.clone(),
        tokens: crate::pipeline::tokens::TokenSource {
            db: background.clone(),
            slack: slack.clone(),
            cipher: cipher.clone(),
            credentials: match (&settings.slack.client_id, &settings.slack.client_secret) {
                (Some(id), Some(secret)) => Some(crate::pipeline::tokens::ClientCredentials {
                    client_id: id.clone(),
                    client_secret: secret.clone(),
                }),
                _ => None,
            },
        },
        config,
        metrics: metrics.clone(),
    })
    .start();
    let handoff = d.handoff.then(|| {
        let (to, ahead) = (sender.clone(), sender.clone());
        crate::pipeline::writer::Handoff {
            sender: handoff_config,
            sink: std::sync::Arc::new(move |deliveries, trace, gate| {
                to.do_send(crate::actors::slack_sender::Handoff {
                    deliveries,
                    trace,
                    gate,
                });
            }),
            prerender: std::sync::Arc::new(move |p| {
                ahead.do_send(crate::actors::slack_sender::Prerender(p));
            }),
        }
    });
    let writer = crate::pipeline::writer::IngestWriter::start(db, handoff)?;
    if db.url().is_sqlite() {
        // One connection writes on the hot path: see `SenderDeps::outcome_writer`.
        let _ = outcome_writer.set(writer.clone());
    }
    Ok(crate::actors::Actors {
        deps: Deps {
            writer,
            resolver,
            effective,
            sender,
            ingest: crate::pipeline::subjects::IngestConfig {
                flap: settings.flap,
            },
        },
        load_tests: crate::actors::subject::Directory::with_capacity(settings.max_live_actors),
        scenarios: crate::actors::subject::Directory::with_capacity(settings.max_live_actors),
    })
}

/// Applies pending migrations on a connection of its own (off the async workers).
pub async fn migrate(url: &db::DatabaseUrl) -> Result<usize, DbError> {
    let url = url.clone();
    let joined = actix_web::rt::task::spawn_blocking(move || {
        let mut conn = url.connect()?;
        db::run_migrations(&mut conn)
    })
    .await;
    joined.unwrap_or(Err(DbError::Canceled))
}

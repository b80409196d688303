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
}

impl StartupError {
    /// 2 for configuration errors (API.md / issue 2), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Settings(_) => 2,
            _ => 1,
        }
    }
}

/// A built, not yet running, service.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds `settings.bind` and builds everything.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(&settings.bind).map_err(|e| {
            SettingsError::new(
                "XTC_SLACK_BIND",
                format!("cannot listen on {}: {e}", settings.bind),
            )
        })?;
        Self::build_with_listener(settings, listener).await
    }

    /// Builds everything on an already bound listener.
    pub async fn build_with_listener(
        settings: Settings,
        listener: TcpListener,
    ) -> Result<Self, StartupError> {
        let port = listener.local_addr()?.port();
        migrate(&settings.database_url).await?;
        let db = Db::new(settings.database_url.clone(), settings.db_pool_size)?;
        let cipher = Cipher::new(&settings.secret_key);
        let settings = Arc::new(settings);
        let state = web::Data::new(AppState {
            db,
            settings: settings.clone(),
            cipher,
            slack: crate::slack::SlackApi::new(
                settings.slack.api_url.as_str(),
                settings.slack.timeout,
            ),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .configure(crate::http::configure)
                .default_service(web::to(crate::http::not_found))
        })
        .shutdown_timeout(10)
        .listen(listener)?
        .run();
        tracing::info!(port, public_url = %settings.public_url, "xtc-slack listening");
        Ok(Self { port, server })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server is stopped (SIGINT/SIGTERM).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
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

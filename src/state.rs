//! Shared application state handed to every handler through `web::Data`.

use std::sync::Arc;

use crate::db::Db;
use crate::settings::Settings;

/// What handlers need: the database, validated settings, the token cipher, the admin
/// operations' [`Services`](crate::services::Services) and the running actors.
pub struct AppState {
    /// What the admin operations (`services::*`) are called with.
    pub services: crate::services::Services,
    pub db: Db,
    /// Bearer-token checks of API requests, answered together (`auth::TokenChecks`).
    pub token_checks: crate::auth::TokenChecks,
    pub settings: Arc<Settings>,
    /// The running actors of the notification pipeline.
    pub actors: crate::actors::Actors,
    /// This app's Prometheus metrics.
    pub metrics: crate::metrics::Metrics,
    /// The periodic (and on-demand) target channel check.
    pub channel_health: actix::Addr<crate::actors::channel_health::ChannelHealth>,
}

//! The work behind the handlers, one file (or folder) per job, shared by the JSON API and
//! the web UI: a handler (JSON or HTML) parses its input, calls one function here with the
//! [`Services`] it needs, and renders the result; the services own the work (database
//! queries included). They call `pipeline`, `db`, `domain` and `slack`; never `actors` or
//! `http`.

pub mod delivery_counts;
pub mod delivery_log;
pub mod registry;
pub mod slack_config;
pub mod slack_events;
pub mod slack_interactions;
pub mod ui_sessions;

use std::sync::Arc;

/// The storage error every service answers with; the HTTP layer maps it to a status
/// (`http::error`) without naming the database layer.
pub use crate::db::DbError;

use crate::crypto::Cipher;
use crate::db::Db;
use crate::pipeline::effective::EffectiveCache;
use crate::settings::Settings;
use crate::slack::SlackApi;

/// What the admin operations need, and nothing else.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    /// Long reads nothing else waits for (the summary's preview), at a lower priority.
    pub reads: Db,
    pub settings: Arc<Settings>,
    /// Encrypts and decrypts Slack tokens at rest.
    pub cipher: Cipher,
    pub slack: SlackApi,
    /// Effective settings cached for the ingest path; cleared when a change lands here.
    pub effective: EffectiveCache,
    /// Renders messages shown without being sent (the weekly summary's preview).
    pub renderer: Arc<crate::pipeline::render::Renderer>,
}

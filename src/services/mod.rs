//! Operations shared by the JSON API and the web UI. Handlers (JSON or HTML) parse their
//! input, call one function here with the [`Services`] it needs, and render the result.
//! Services call `pipeline`, `db`, `domain` and `slack`; never `actors` or `http`.

pub mod slack_config;
pub mod slack_events;
pub mod slack_interactions;

use std::sync::Arc;

use crate::crypto::Cipher;
use crate::db::Db;
use crate::pipeline::effective::EffectiveCache;
use crate::settings::Settings;
use crate::slack::SlackApi;

/// What the admin operations need, and nothing else.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Encrypts and decrypts Slack tokens at rest.
    pub cipher: Cipher,
    pub slack: SlackApi,
    /// Effective settings cached for the ingest path; cleared when a change lands here.
    pub effective: EffectiveCache,
}

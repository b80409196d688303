//! Operations shared by the JSON API and the web UI. Handlers (JSON or HTML) parse their
//! input, call one function here and render the result; no handler talks to the database
//! or to Slack directly.

pub mod channel_health;
pub(crate) mod installed_channels;
pub mod slack_config;
pub mod slack_events;

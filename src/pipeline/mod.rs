//! The notification pipeline: validated events, the ingest transaction (event + state +
//! outbox), message rendering, and the delivery of outbox rows to Slack.

pub(crate) mod baselines;
pub mod card_edits;
pub(crate) mod channel_directory;
pub(crate) mod channel_health;
pub(crate) mod commit_gate;
pub(crate) mod deliver;
pub(crate) mod digest;
pub(crate) mod effective;
pub mod events;
pub(crate) mod holds;
pub(crate) mod incidents;
pub(crate) mod ingest;
pub(crate) mod installations;
pub(crate) mod installed_channels;
pub(crate) mod message_names;
pub mod path_trace;
pub mod render;
pub(crate) mod reports;
pub mod retention;
pub(crate) mod subjects;
pub(crate) mod summary;
pub(crate) mod tokens;
pub(crate) mod writer;

//! The notification pipeline: validated events, the ingest transaction (event + state +
//! outbox), message rendering, and the delivery of outbox rows to Slack.

pub mod card_edits;
pub mod channel_health;
pub mod deliver;
pub mod effective;
pub mod events;
pub mod ingest;
pub mod installations;
pub mod installed_channels;
pub mod render;
pub mod retention;
pub mod subjects;
pub mod tokens;
pub mod writer;

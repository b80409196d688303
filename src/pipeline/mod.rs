//! The notification pipeline: validated events, the ingest transaction (event + state +
//! outbox), message rendering, and the delivery of outbox rows to Slack.

pub mod deliver;
pub mod events;
pub mod ingest;
pub mod render;
pub mod tokens;
pub mod writer;

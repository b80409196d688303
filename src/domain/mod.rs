//! Validated newtypes and pure rules. Nothing here touches the network or the database.

pub mod access;
pub mod channel;
pub mod delivery_reason;
pub mod delivery_status;
pub mod event_kind;
pub mod ids;
pub mod incident;
pub mod lifecycle;
pub mod maintenance;
pub(crate) mod monitoring;
pub mod pacing;
pub mod quiet;
pub mod report;
pub mod retention;
pub mod rules;
pub mod settings;
pub mod summary;
pub(crate) mod user_text;

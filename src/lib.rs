//! xtc-slack: Slack notifications for XTC load tests and synthetic monitoring.

pub(crate) mod actors;
pub mod auth;
pub mod chart;
pub mod cli;
pub mod crypto;
pub mod db;
pub mod domain;
pub(crate) mod http;
pub(crate) mod metrics;
pub mod pipeline;
pub(crate) mod services;
pub mod settings;
pub(crate) mod shutdown;
pub mod slack;
pub mod startup;
pub(crate) mod state;
pub(crate) mod telemetry;

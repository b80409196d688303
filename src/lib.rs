//! xtc-slack: Slack notifications for XTC load tests and synthetic monitoring.

pub mod actors;
pub mod auth;
pub mod cli;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod pipeline;
pub mod services;
pub mod settings;
pub mod shutdown;
pub mod slack;
pub mod startup;
pub mod state;
pub mod telemetry;

//! Integration tests: the real server on port 0, a database of its own per test, and the
//! project's fake Slack over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod access;
mod auth;
mod backup;
mod bad_input;
mod browser;
mod cards;
mod channel_directory;
mod channel_health;
mod db_copy;
mod delivery_lifecycle;
mod delivery_log;
mod digests;
mod event_input;
mod fake_slack;
mod file_uploads;
mod handoff;
mod health;
mod interactions;
mod maintenance_windows;
mod metrics;
mod migrations;
mod mute_dialog;
mod oauth;
mod observability;
mod openapi;
mod pipeline;
mod process_exit;
mod quiet_load_tests;
mod registry;
mod report_card;
mod report_settings;
mod retention;
mod rules;
mod shutdown;
mod slack_client;
mod slack_edges;
mod slack_events;
mod slack_realities;
mod slack_settings;
mod test_message;
mod ui;
mod weekly_summary;

//! Integration tests: the real server on port 0, a database of its own per test, and the
//! project's fake Slack over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod access;
mod auth;
mod bad_input;
mod fake_slack;
mod health;
mod migrations;
mod oauth;
mod pipeline;
mod registry;
mod slack_client;
mod slack_settings;
mod test_message;
mod ui;
mod browser;

//! Integration tests: the real server on port 0, a database of its own per test, and the
//! project's fake Slack over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod auth;
mod bad_input;
mod health;
mod migrations;
mod registry;

//! `LoadTest` actor: one per load test. Owns the ordering of that test's events: each is
//! applied (`pipeline::subjects::LoadTest`, enforcing `domain::lifecycle`) only after the one
//! before is committed. It stops as soon as the load test is `reported` or in `error`.
//! Sends `Resolve`/`Refresh` to the `ConfigResolver` and `Wake` to the `SlackSender`.

use super::subject::Directory;
use crate::pipeline::subjects::LoadTest;

/// Finds or starts load-test actors.
pub type LoadTests = Directory<LoadTest>;

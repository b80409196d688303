//! The actors: one per load test and per monitoring scenario (ordering of their events),
//! the `ConfigResolver` (effective settings) and the `SlackSender` (dispatch).

pub mod channel_directory;
pub mod channel_health;
pub mod config_resolver;
pub mod load_test;
pub mod maintenance;
pub mod retention;
pub mod scenario;
pub mod slack_sender;
pub mod subject;
pub mod summary;

use actix::Addr;

use load_test::LoadTests;
use scenario::Scenarios;
use slack_sender::SlackSender;
use subject::Deps;

/// Handles to the running actors, shared by the HTTP handlers.
#[derive(Clone)]
pub struct Actors {
    pub deps: Deps,
    pub load_tests: LoadTests,
    pub scenarios: Scenarios,
}

impl Actors {
    pub fn sender(&self) -> &Addr<SlackSender> {
        &self.deps.sender
    }

    /// The effective-settings cache the subject actors read.
    pub fn effective(&self) -> &crate::pipeline::effective::EffectiveCache {
        &self.deps.effective
    }
}

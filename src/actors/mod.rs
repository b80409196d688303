//! The actors: one per load test and per monitoring scenario (ordering of their events),
//! the `ConfigResolver` (effective settings) and the `SlackSender` (dispatch).

pub mod channel_health;
pub mod config_resolver;
pub mod load_test;
pub mod scenario;
pub mod slack_sender;
pub mod subject;

use actix::Addr;

use config_resolver::ConfigResolver;
use load_test::LoadTests;
use scenario::Scenarios;
use slack_sender::SlackSender;
use subject::Deps;

/// Handles to the running pipeline, shared by the HTTP handlers.
#[derive(Clone)]
pub struct Pipeline {
    pub deps: Deps,
    pub load_tests: LoadTests,
    pub scenarios: Scenarios,
}

impl Pipeline {
    pub fn resolver(&self) -> &Addr<ConfigResolver> {
        &self.deps.resolver
    }

    pub fn sender(&self) -> &Addr<SlackSender> {
        &self.deps.sender
    }

    /// Settings of `org` changed on this instance: stop using cached ones.
    pub fn invalidate(&self, org: &str) {
        // Synchronously, so an event sent right after the change already sees it.
        self.deps.effective.invalidate_org(org);
    }
}

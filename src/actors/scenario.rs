//! `Scenario` actor: one per monitoring scenario. Owns the ordering of that scenario's
//! results: each is applied (`pipeline::subjects::Scenario`, `domain::monitoring`: notify
//! only on a change) after the one before is committed. Sends `Resolve`/`Refresh` to the
//! `ConfigResolver` and `Wake` to the `SlackSender`.

use super::subject::Directory;
use crate::pipeline::subjects::Scenario;

/// Finds or starts scenario actors.
pub type Scenarios = Directory<Scenario>;

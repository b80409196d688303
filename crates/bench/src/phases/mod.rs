//! The phases, one module each; `crate::run` runs them in order.

pub mod burst;
pub mod chart;
pub mod directory;
pub mod e2e;
pub mod features;
pub mod flood;
pub mod history;
pub mod ingest;
pub mod paced;
pub mod peer;
pub mod report;
pub mod steady;
pub mod summary;

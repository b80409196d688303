//! Thin entry point: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // awc's rustls needs a process-wide crypto provider; ring is the one we build with.
    let _ = rustls::crypto::ring::default_provider().install_default();
    xtc_slack::cli::run(xtc_slack::cli::Cli::parse())
}

//! Thin entry point: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    limit_malloc_arenas();
    xtc_slack::db::keep_libcrypto_at_exit();
    // awc's rustls needs a process-wide crypto provider; ring is the one we build with.
    let _ = rustls::crypto::ring::default_provider().install_default();
    xtc_slack::cli::run(xtc_slack::cli::Cli::parse())
}

/// glibc gives each thread that allocates concurrently an arena of its own (up to 8 per
/// core), and each keeps what it once held: with request threads, blocking threads and
/// the sender's threads that is tens of megabytes of peak memory that one process with
/// two cores does not need. Four arenas keep allocation contention low.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called first thing in `main`,
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

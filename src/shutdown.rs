//! Graceful shutdown on SIGTERM/SIGINT: stop accepting connections and finish in-flight
//! requests (the HTTP server's own graceful stop), stop claiming deliveries and let those
//! in flight finish within a bound, then hand back the claims of any that did not, so the
//! next start (of this or another instance) sends them. Accepted events are in the outbox
//! already, so nothing accepted is lost; a delivery is sent at most once unless it was cut
//! off in the middle of its Slack call after the bound.

use std::time::{Duration, Instant};

use actix::Addr;
use actix_web::dev::Server;

use crate::actors::slack_sender::{Drain, InFlight, SlackSender};
use crate::db::models::delivery::Delivery;
use crate::db::{write_tx, Db, DbError};

/// How often the drain looks whether the sender is idle.
const DRAIN_POLL: Duration = Duration::from_millis(50);

/// What a graceful shutdown drains.
pub struct Drainer {
    pub sender: Addr<SlackSender>,
    pub db: Db,
    /// Longest wait for in-flight deliveries.
    pub timeout: Duration,
}

impl Drainer {
    /// Stops the sender and waits (at most `timeout`) until nothing is in flight; then
    /// hands back what still is. Returns the number of claims handed back.
    pub async fn drain(&self) -> usize {
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.sender.send(Drain).await {
                Ok(0) => return 0,
                Ok(n) if Instant::now() >= deadline => {
                    tracing::warn!(
                        in_flight = n,
                        "deliveries still in flight after the shutdown timeout"
                    );
                    break;
                }
                Ok(_) => actix_web::rt::time::sleep(DRAIN_POLL).await,
                // The sender is gone: whatever it held is lost to it; hand back below.
                Err(_) => break,
            }
        }
        let ids = self.sender.send(InFlight).await.unwrap_or_default();
        if ids.is_empty() {
            return 0;
        }
        let n = ids.len();
        let released = self
            .db
            .run(move |conn| {
                write_tx(conn, |c| {
                    for id in &ids {
                        Delivery::release(c, *id)?;
                    }
                    Ok::<_, diesel::result::Error>(())
                })
                .map_err(DbError::from)
            })
            .await;
        match released {
            Ok(()) => {
                tracing::info!(released = n, "handed back unfinished deliveries");
                n
            }
            Err(e) => {
                // Their leases expire and they are sent then.
                tracing::error!(error = %e, "could not hand back unfinished deliveries");
                0
            }
        }
    }
}

/// Waits for SIGTERM or SIGINT (Ctrl-C).
async fn signalled() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the service");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

/// Serves until a signal, then shuts down gracefully (see the module docs).
pub async fn run_until_signalled(server: Server, drainer: Drainer) -> std::io::Result<()> {
    let handle = server.handle();
    let mut server = std::pin::pin!(server);
    let signal = tokio::select! {
        stopped = &mut server => return stopped,
        signal = signalled() => signal,
    };
    tracing::info!(
        signal,
        "shutting down: no new connections, draining deliveries"
    );
    // All at once: the server future runs the stop command; requests in flight may still
    // commit events (they stay in the outbox for the next start); deliveries in flight
    // finish or are handed back.
    let (stopped, (), handed_back) = tokio::join!(&mut server, handle.stop(true), drainer.drain());
    tracing::info!(handed_back, "shutdown complete");
    stopped
}

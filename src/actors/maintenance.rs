//! `MaintenanceWindows`: owns the timer of maintenance window ends. Every
//! [`CHECK_INTERVAL`] it releases the holds whose window occurrence has ended
//! ([`crate::pipeline::ingest::release_due`]: each hold once, across instances and after
//! downtime) and wakes the `SlackSender` for what that queued.

use std::time::Duration;

use actix::prelude::*;

use super::slack_sender::{SlackSender, Wake};
use crate::db::{write_tx, Db, DbError};
use crate::pipeline::ingest::{release_due, Released};

/// How often ended window occurrences are looked for.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The releaser.
pub struct MaintenanceWindows {
    db: Db,
    sender: Addr<SlackSender>,
    running: bool,
}

impl MaintenanceWindows {
    pub fn new(db: Db, sender: Addr<SlackSender>) -> Self {
        Self {
            db,
            sender,
            running: false,
        }
    }

    fn check(&mut self, ctx: &mut Context<Self>) {
        if self.running {
            return;
        }
        self.running = true;
        let db = self.db.clone();
        let pass = async move {
            db.run(move |conn| {
                write_tx(conn, |c| release_due(c, chrono::Utc::now())).map_err(DbError::from)
            })
            .await
        };
        ctx.spawn(
            pass.into_actor(self)
                .map(|result: Result<Released, DbError>, act, _| {
                    act.running = false;
                    match result {
                        Ok(r) if r.released > 0 => {
                            tracing::info!(
                                released = r.released,
                                "maintenance window holds released"
                            );
                            act.sender.do_send(Wake {
                                channels: r.channels,
                            });
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "could not release maintenance holds"),
                    }
                }),
        );
    }
}

impl Actor for MaintenanceWindows {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.check(ctx);
        ctx.run_interval(CHECK_INTERVAL, |act, ctx| act.check(ctx));
    }
}

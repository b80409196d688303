//! `SummaryScheduler`: owns the weekly summary's timer. Every `interval` it looks for
//! scopes whose latest scheduled summary is due and not queued yet, and queues it
//! ([`crate::pipeline::summary`]: read the week, then one short write transaction that
//! inserts the `summaries` key with the event and its deliveries). Several instances may
//! run it at once: the key makes one of them queue each summary, the others nothing. One
//! check at a time: a check still running when the next is due makes the next one skip.

use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;

use crate::db::Db;
use crate::pipeline::summary::queue_due;

/// The scheduler.
pub struct SummaryScheduler {
    db: Db,
    interval: Duration,
    /// Added to the clock (tests cross a scheduled time without waiting for it).
    clock_offset: chrono::Duration,
    running: bool,
}

impl SummaryScheduler {
    pub fn new(db: Db, interval: Duration, clock_offset: chrono::Duration) -> Self {
        Self {
            db,
            interval,
            clock_offset,
            running: false,
        }
    }

    fn check(&mut self, ctx: &mut Context<Self>) {
        if self.running {
            return;
        }
        self.running = true;
        let (db, now) = (self.db.clone(), Utc::now() + self.clock_offset);
        let pass = async move { db.run(move |conn| queue_due(conn, now)).await };
        ctx.spawn(pass.into_actor(self).map(|result, act, _| {
            act.running = false;
            match result {
                Ok(0) => {}
                Ok(n) => tracing::info!(summaries = n, "weekly summaries queued"),
                Err(e) => tracing::warn!(error = %e, "weekly summary check failed"),
            }
        }));
    }
}

impl Actor for SummaryScheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // A summary missed while the service was down goes out right after start.
        self.check(ctx);
        ctx.run_interval(self.interval, |act, ctx| act.check(ctx));
    }
}

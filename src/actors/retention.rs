//! `Retention`: owns the periodic retention pass. Every `interval` it runs
//! [`crate::pipeline::retention::run_pass`] (one at a time: a pass still running when the
//! next is due makes the next one skip) and counts what it deleted in
//! `xtc_slack_retention_pruned_total{table}`.

use std::time::Duration;

use actix::prelude::*;

use crate::db::Db;
use crate::metrics::Metrics;
use crate::pipeline::retention::{self, Policy};

/// The first pass runs this long after start (or after `interval`, if shorter): out of
/// the way of a start-up backlog, yet soon enough for a service restarted more often than
/// `interval`.
pub const FIRST_PASS_DELAY: Duration = Duration::from_secs(300);

/// The pruner.
pub struct Retention {
    db: Db,
    policy: Policy,
    metrics: Metrics,
    interval: Duration,
    running: bool,
}

impl Retention {
    pub fn new(db: Db, policy: Policy, metrics: Metrics, interval: Duration) -> Self {
        Self {
            db,
            policy,
            metrics,
            interval,
            running: false,
        }
    }

    fn periodic(&mut self, ctx: &mut Context<Self>) {
        if self.running {
            tracing::debug!("retention pass still running; skipping this round");
            return;
        }
        self.running = true;
        let (db, policy, metrics) = (self.db.clone(), self.policy, self.metrics.clone());
        let pass = async move {
            let started = std::time::Instant::now();
            let result = retention::run_pass(&db, &policy, crate::db::now()).await;
            if let Ok(pruned) = &result {
                for (table, n) in &pruned.tables {
                    metrics
                        .retention_pruned
                        .with_label_values(&[table])
                        .inc_by(*n);
                }
                if pruned.total() > 0 {
                    tracing::info!(
                        rows = pruned.total(),
                        tables = ?pruned.tables,
                        vacuumed_pages = pruned.vacuumed_pages,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "retention pass pruned old history"
                    );
                }
            }
            result
        };
        ctx.spawn(pass.into_actor(self).map(|result, act, _| {
            act.running = false;
            if let Err(e) = result {
                tracing::warn!(error = %e, "retention pass failed");
            }
        }));
    }
}

impl Actor for Retention {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let interval = self.interval;
        ctx.run_later(FIRST_PASS_DELAY.min(interval), move |act, ctx| {
            act.periodic(ctx);
            ctx.run_interval(interval, |act, ctx| act.periodic(ctx));
        });
    }
}

//! `ChannelHealth`: owns the periodic channel health check. Every `interval` it runs
//! [`crate::pipeline::channel_health::check`] (one at a time: a check still running when
//! the next is due makes the next one skip). [`CheckNow`] runs a check on demand (the
//! admin endpoint and tests).

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::db::DbError;
use crate::pipeline::channel_health::{self, CheckSummary, HealthDeps};

/// The first periodic check runs this long after start (or after `interval`, if shorter),
/// so that a service restarted more often than `interval` still checks.
pub const FIRST_CHECK_DELAY: Duration = Duration::from_secs(60);

/// The checker.
pub struct ChannelHealth {
    deps: Arc<HealthDeps>,
    /// `None`: no periodic checks (only [`CheckNow`]).
    interval: Option<Duration>,
    running: bool,
}

impl ChannelHealth {
    pub fn new(deps: HealthDeps, interval: Option<Duration>) -> Self {
        Self {
            deps: Arc::new(deps),
            interval,
            running: false,
        }
    }

    fn periodic(&mut self, ctx: &mut Context<Self>) {
        if self.running {
            tracing::debug!("channel health check still running; skipping this round");
            return;
        }
        self.running = true;
        let check = channel_health::check(self.deps.clone(), None);
        ctx.spawn(check.into_actor(self).map(|result, act, _| {
            act.running = false;
            if let Err(e) = result {
                tracing::warn!(error = %e, "channel health check failed");
            }
        }));
    }
}

impl Actor for ChannelHealth {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Some(interval) = self.interval {
            ctx.run_later(FIRST_CHECK_DELAY.min(interval), move |act, ctx| {
                act.periodic(ctx);
                ctx.run_interval(interval, |act, ctx| act.periodic(ctx));
            });
        }
    }
}

/// Check the target channels now (of one organization, or all); answers when done.
#[derive(Message)]
#[rtype(result = "Result<CheckSummary, DbError>")]
pub struct CheckNow {
    pub org: Option<String>,
}

impl Handler<CheckNow> for ChannelHealth {
    type Result = ResponseFuture<Result<CheckSummary, DbError>>;

    fn handle(&mut self, msg: CheckNow, _: &mut Self::Context) -> Self::Result {
        Box::pin(channel_health::check(self.deps.clone(), msg.org))
    }
}

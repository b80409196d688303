//! `ChannelDirectoryBuilder`: builds and refreshes the per-workspace channel directories
//! ([`crate::pipeline::channel_directory`]), one `conversations.list` page per tick (every
//! `pause`, 3 s in production), one step at a time, waiting out `Retry-After`.

use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::pipeline::channel_directory::{self, DirectoryDeps, Step};

/// When idle, look for work (a new installation, a due rebuild) this often.
const IDLE_TICKS: u32 = 10;

pub struct ChannelDirectoryBuilder {
    deps: DirectoryDeps,
    pause: Duration,
    running: bool,
    not_before: Option<Instant>,
    idle_ticks: u32,
}

impl ChannelDirectoryBuilder {
    pub fn new(deps: DirectoryDeps, pause: Duration) -> Self {
        Self {
            deps,
            pause,
            running: false,
            not_before: None,
            idle_ticks: 0,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.running || self.not_before.is_some_and(|t| Instant::now() < t) {
            return;
        }
        if self.idle_ticks > 0 {
            self.idle_ticks -= 1;
            return;
        }
        self.running = true;
        let deps = self.deps.clone();
        let fut = async move { channel_directory::step(&deps).await };
        ctx.spawn(fut.into_actor(self).map(|result, act, _| {
            act.running = false;
            act.not_before = None;
            match result {
                Ok(Step::Idle) => act.idle_ticks = IDLE_TICKS,
                Ok(Step::Listed { .. }) => {}
                Ok(Step::Wait(wait)) => act.not_before = Some(Instant::now() + wait),
                Err(e) => {
                    tracing::warn!(error = %e, "channel directory step failed");
                    act.idle_ticks = IDLE_TICKS;
                }
            }
        }));
    }
}

impl Actor for ChannelDirectoryBuilder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.pause, |act, ctx| act.tick(ctx));
    }
}

//! `ChannelDirectoryBuilder`: builds and refreshes the per-workspace channel directories
//! ([`crate::pipeline::channel_directory`]), one `conversations.list` page per tick (every
//! `pause`, 3.2 s in production, start to start), one step at a time, waiting out
//! `Retry-After`.

use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::pipeline::channel_directory::{self, DirectoryDeps, Step};

/// How often the builder looks whether the next step is due.
const TICK: Duration = Duration::from_millis(50);
/// When idle, look for work (a new installation, a due rebuild) every this many pauses.
const IDLE_TICKS: u32 = 10;

pub struct ChannelDirectoryBuilder {
    deps: DirectoryDeps,
    pause: Duration,
    running: bool,
    not_before: Option<Instant>,
    /// The next step starts no earlier than `pause` after the previous one started, however
    /// long that one took (Slack's tier counts calls, start to start).
    next_step_at: Instant,
    idle_ticks: u32,
}

impl ChannelDirectoryBuilder {
    pub fn new(deps: DirectoryDeps, pause: Duration) -> Self {
        Self {
            deps,
            pause,
            running: false,
            not_before: None,
            next_step_at: Instant::now(),
            idle_ticks: 0,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        if self.running || now < self.next_step_at || self.not_before.is_some_and(|t| now < t) {
            return;
        }
        if self.idle_ticks > 0 {
            self.idle_ticks -= 1;
            self.next_step_at = now + self.pause;
            return;
        }
        self.running = true;
        self.next_step_at = now + self.pause;
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
        // Ticks often; `next_step_at` keeps the steps `pause` apart.
        ctx.run_interval(self.pause.min(TICK), |act, ctx| act.tick(ctx));
    }
}

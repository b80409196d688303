//! Slack's rate limits as the fake applies them: a token bucket per channel for posting
//! (set with `set_rate_limit`), and one per workspace and method for the methods given a
//! tier (`set_method_limit`); each refusal is a `429` with `Retry-After`.

use super::*;

/// Token bucket of one channel.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bucket {
    tokens: f64,
    last: Instant,
}

impl World {
    /// Changes the per-channel posting limit; 0 disables it.
    pub fn set_rate_limit(&mut self, per_sec: f64, burst: u32) {
        self.rate_per_sec = per_sec.max(0.0);
        self.rate_burst = burst.max(1);
        self.buckets.clear();
    }

    /// Sets a method's per-workspace limit (calls per minute, burst); 0 per minute removes it.
    pub fn set_method_limit(&mut self, method: &str, per_minute: u32, burst: u32) {
        if per_minute == 0 {
            self.method_limits.remove(method);
        } else {
            self.method_limits
                .insert(method.to_owned(), (per_minute, burst.max(1)));
        }
        self.method_buckets.retain(|(_, m), _| m != method);
    }

    /// The method's per-workspace tier: `Err(seconds to wait)` beyond it.
    pub(super) fn take_method_token(
        &mut self,
        method: &str,
        params: &Params,
        now: Instant,
    ) -> Result<(), u64> {
        let Some(&(per_minute, burst)) = self.method_limits.get(method) else {
            return Ok(());
        };
        let team = params
            .token
            .as_deref()
            .and_then(|t| self.tokens.get(t))
            .map_or_else(|| self.config.team_id.clone(), |t| t.team_id.clone());
        let rate = f64::from(per_minute) / 60.0;
        let burst = f64::from(burst.max(1));
        let bucket = self
            .method_buckets
            .entry((team, method.to_owned()))
            .or_insert(Bucket {
                tokens: burst,
                last: now,
            });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - bucket.tokens) / rate).ceil();
        Err(if wait.is_finite() && wait >= 1.0 {
            wait.min(3600.0) as u64
        } else {
            1
        })
    }

    /// Token bucket per channel: `Err(seconds to wait)` when empty.
    pub(super) fn take_rate_token(&mut self, channel_id: &str, now: Instant) -> Result<(), u64> {
        if self.rate_per_sec <= 0.0 {
            return Ok(());
        }
        let burst = f64::from(self.rate_burst.max(1));
        let bucket = self.buckets.entry(channel_id.to_owned()).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate_per_sec).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / self.rate_per_sec).ceil();
            // Clamp into u64 range; Slack sends whole seconds, at least one.
            Err(if wait.is_finite() && wait >= 1.0 {
                wait.min(3600.0) as u64
            } else {
                1
            })
        }
    }
}

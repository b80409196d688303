//! Pacing arithmetic, one rule for channel messages and card edits alike: a generic cell
//! rate algorithm over a stored "theoretical arrival time" (TAT) per channel or workspace.
//! The sender claims only where the TAT allows it, moves the TAT one interval per send,
//! and pushes it out after a 429. Pure: the tables holding the TATs are the models'.

use chrono::NaiveDateTime;

/// How one channel (or workspace) is paced.
#[derive(Clone, Copy, Debug)]
pub struct Pacing {
    /// Average spacing of sends.
    pub interval: chrono::Duration,
    /// How many may go out back to back after a quiet spell.
    pub burst: u32,
}

impl Pacing {
    /// How far the TAT may run ahead of now and still allow a send (the burst's room).
    fn tolerance(&self) -> chrono::Duration {
        self.interval * (self.burst.max(1) as i32 - 1)
    }

    /// The latest TAT that allows a send at `now`.
    pub fn allowed_until(&self, now: NaiveDateTime) -> NaiveDateTime {
        now + self.tolerance()
    }

    /// When a send is allowed again with the TAT at `tat`.
    pub fn allowed_at(&self, tat: NaiveDateTime) -> NaiveDateTime {
        tat - self.tolerance()
    }

    /// The TAT after a send at `now` (`tat`: the stored one, if any).
    pub fn after_send(&self, tat: Option<NaiveDateTime>, now: NaiveDateTime) -> NaiveDateTime {
        tat.map_or(now, |t| t.max(now)) + self.interval
    }

    /// The TAT that allows nothing before `until`, no burst either (after a 429).
    pub fn blocked_until(&self, until: NaiveDateTime) -> NaiveDateTime {
        until + self.tolerance()
    }

    /// How long the sender leaves a channel it just sent to alone before claiming for it
    /// again (its next message is paced at least that far out).
    pub fn hold(&self, fallback: std::time::Duration) -> std::time::Duration {
        self.interval.to_std().unwrap_or(fallback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + ms)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn a_burst_goes_out_back_to_back_then_one_per_interval() {
        let p = Pacing {
            interval: chrono::Duration::milliseconds(1_000),
            burst: 3,
        };
        let now = t(0);
        let mut tat = None;
        for sent in 0..3 {
            assert!(tat.is_none_or(|x| x <= p.allowed_until(now)), "send {sent}");
            tat = Some(p.after_send(tat, now));
        }
        let tat = tat.unwrap();
        assert!(tat > p.allowed_until(now), "the fourth waits");
        assert_eq!(p.allowed_at(tat), t(1_000));
    }

    #[test]
    fn a_block_allows_nothing_before_its_end_and_no_burst_after() {
        let p = Pacing {
            interval: chrono::Duration::milliseconds(500),
            burst: 4,
        };
        let tat = p.blocked_until(t(10_000));
        assert_eq!(p.allowed_at(tat), t(10_000));
        assert!(tat > p.allowed_until(t(9_999)));
        assert_eq!(p.after_send(Some(tat), t(10_000)), tat + p.interval);
    }

    #[test]
    fn a_burst_of_zero_is_a_burst_of_one() {
        let p = Pacing {
            interval: chrono::Duration::milliseconds(500),
            burst: 0,
        };
        assert_eq!(p.allowed_until(t(0)), t(0));
    }
}

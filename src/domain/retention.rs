//! How long each kind of history is kept: the retention policy and the cut-off times it
//! gives for one pass. The pruning itself is `pipeline::retention`.

use std::time::Duration;

use chrono::NaiveDateTime;

/// How long each kind of history is kept and how pruning paces itself.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Settled deliveries, unreferenced events, finished load tests, scenarios that are
    /// `ok`, their thread parents, and test-message results.
    pub history: chrono::Duration,
    /// The audit log.
    pub audit: chrono::Duration,
    /// Rows per delete statement.
    pub batch: u32,
    /// Pause between two batches.
    pub pause: Duration,
}

impl Policy {
    /// Rows per statement by default.
    pub const BATCH: u32 = 1_000;
    /// Pause between batches by default.
    pub const PAUSE: Duration = Duration::from_millis(50);

    /// `history_days` and `audit_days` with the default batch size and pause.
    pub fn days(history_days: u32, audit_days: u32) -> Self {
        Self {
            history: chrono::Duration::days(i64::from(history_days)),
            audit: chrono::Duration::days(i64::from(audit_days)),
            batch: Self::BATCH,
            pause: Self::PAUSE,
        }
    }

    /// The cut-off times of each kind of row for a pass that starts at `now`.
    pub fn cutoffs(&self, now: NaiveDateTime) -> Cutoffs {
        Cutoffs {
            history: now - self.history,
            audit: now - self.audit,
            // An OAuth state is useless once expired; a day more keeps the "expired"
            // answer (rather than "unknown") for someone who comes back late.
            oauth_states: now - chrono::Duration::days(1),
            ui_sessions: now,
            // A click may come again only within its signature's 5 minutes.
            slack_actions: now - chrono::Duration::days(1),
        }
    }
}

/// Rows older than these times go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoffs {
    pub history: NaiveDateTime,
    pub audit: NaiveDateTime,
    pub oauth_states: NaiveDateTime,
    pub ui_sessions: NaiveDateTime,
    pub slack_actions: NaiveDateTime,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cutoffs_follow_the_policy() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let c = Policy::days(30, 365).cutoffs(now);
        assert_eq!(c.history, now - chrono::Duration::days(30));
        assert_eq!(c.audit, now - chrono::Duration::days(365));
        assert_eq!(c.oauth_states, now - chrono::Duration::days(1));
        assert_eq!(c.ui_sessions, now);
    }
}

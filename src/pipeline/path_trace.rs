//! Where one event's time goes between the API and Slack: a [`PathTrace`] is stamped at each
//! step of the hot path (the request arrived, the event handed to its subject's actor,
//! taken up by it, taken by the group commit, its delivery handed to the sender before the
//! `COMMIT`, loaded, rendered, the commit known to the sender, posted, recorded) and, once
//! the outcome is recorded, observed as `xtc_slack_event_path_seconds{stage}` (each stage:
//! the time since the step before it). Only events whose delivery is handed to the sender
//! in memory (`pipeline::writer`'s hand-off, the common case of an idle channel) are traced
//! end to end: a delivery the sender claims later has waited for its channel, and that wait
//! is pacing, not the path.

use std::time::Instant;

/// The steps of the hot path, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The request's head arrived (the HTTP layer's first look at it).
    Received,
    /// The parsed, validated event was handed to its subject's actor (the time before: the
    /// body, the token check and the validation).
    Submitted,
    /// The actor took it up (the time before: its mailbox).
    Actor,
    /// The group commit took it from its queue (the time before: settings and the queue).
    Dequeued,
    /// The sender received the claimed delivery, given to it before the `COMMIT` (the time
    /// before: the batch's statements, the hand-off's claim and its loading of what the
    /// message needs, and the sender's mailbox, which the `COMMIT` overlaps).
    Handed,
    /// What the message needs is at hand (a handed delivery's was loaded at commit, so this
    /// stage is the sender's bookkeeping only).
    Prepared,
    /// The message was rendered (or taken rendered ahead), the token read and the request
    /// body encoded.
    Rendered,
    /// The sender knows the transaction committed (the time before: what of the `COMMIT`
    /// the render did not hide; nothing when it was over first).
    Committed,
    /// Slack answered the post (connection included).
    Posted,
    /// The outcome was recorded in the database.
    Recorded,
}

impl Step {
    const ALL: [Step; 10] = [
        Step::Received,
        Step::Submitted,
        Step::Actor,
        Step::Dequeued,
        Step::Handed,
        Step::Prepared,
        Step::Rendered,
        Step::Committed,
        Step::Posted,
        Step::Recorded,
    ];

    /// The metric's `stage` label for the time that ends at this step.
    pub fn stage(self) -> &'static str {
        match self {
            Step::Received => "received",
            Step::Submitted => "request",
            Step::Actor => "actor_mailbox",
            Step::Dequeued => "writer_queue",
            Step::Handed => "transaction",
            Step::Prepared => "prepare",
            Step::Rendered => "render",
            Step::Committed => "commit",
            Step::Posted => "post",
            Step::Recorded => "record",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The stamps of one event's path (steps not reached stay empty).
#[derive(Clone, Debug, Default)]
pub struct PathTrace {
    at: [Option<Instant>; 10],
}

impl PathTrace {
    /// A trace that starts now at `step`.
    pub fn starting(step: Step) -> Self {
        let mut t = Self::default();
        t.mark(step);
        t
    }

    /// Stamps `step` now.
    pub fn mark(&mut self, step: Step) {
        self.at[step.index()] = Some(Instant::now());
    }

    /// Stamps `step` with an instant taken elsewhere (the group commit's).
    pub fn set(&mut self, step: Step, at: Instant) {
        self.at[step.index()] = Some(at);
    }

    /// Each stage reached, with the time since the step before it (stages whose step or
    /// whose previous step is missing are left out), and the whole path from the first
    /// stamp to the last.
    pub fn stages(
        &self,
    ) -> (
        Vec<(&'static str, std::time::Duration)>,
        Option<std::time::Duration>,
    ) {
        let mut out = Vec::new();
        for pair in Step::ALL.windows(2) {
            if let (Some(a), Some(b)) = (self.at[pair[0].index()], self.at[pair[1].index()]) {
                out.push((pair[1].stage(), b.saturating_duration_since(a)));
            }
        }
        let stamps: Vec<Instant> = self.at.iter().flatten().copied().collect();
        let total = match (stamps.first(), stamps.last()) {
            (Some(a), Some(b)) if stamps.len() > 1 => Some(b.saturating_duration_since(*a)),
            _ => None,
        };
        (out, total)
    }

    /// Observes the stages and the total in `xtc_slack_event_path_seconds`.
    pub fn observe(&self, metrics: &crate::metrics::Metrics) {
        let (stages, total) = self.stages();
        for (stage, took) in stages {
            metrics
                .event_path
                .with_label_values(&[stage])
                .observe(took.as_secs_f64());
        }
        if let Some(total) = total {
            metrics
                .event_path
                .with_label_values(&["total"])
                .observe(total.as_secs_f64());
        }
    }
}

/// Stamps `step` on a trace, if the event is traced.
pub fn mark(trace: &mut Option<PathTrace>, step: Step) {
    if let Some(t) = trace {
        t.mark(step);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn stages_are_the_times_between_consecutive_stamps() {
        let t0 = Instant::now();
        let mut t = PathTrace::default();
        t.set(Step::Submitted, t0);
        t.set(Step::Actor, t0 + Duration::from_micros(10));
        t.set(Step::Dequeued, t0 + Duration::from_micros(30));
        // Handed missing: neither "transaction" nor "prepare" can be told.
        t.set(Step::Prepared, t0 + Duration::from_micros(200));
        t.set(Step::Rendered, t0 + Duration::from_micros(260));
        t.set(Step::Committed, t0 + Duration::from_micros(270));
        let (stages, total) = t.stages();
        assert_eq!(
            stages,
            [
                ("actor_mailbox", Duration::from_micros(10)),
                ("writer_queue", Duration::from_micros(20)),
                ("render", Duration::from_micros(60)),
                ("commit", Duration::from_micros(10)),
            ]
        );
        assert_eq!(total, Some(Duration::from_micros(270)));
        assert_eq!(
            PathTrace::starting(Step::Submitted).stages(),
            (vec![], None)
        );
    }
}

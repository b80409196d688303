//! What a delivery attempt came to and how it is recorded: Slack's answer classified
//! (sent, retry when, failed, integration broken), the backoffs, giving up, and the one
//! write transaction that saves the outcome (the row's transition, the thread and its card
//! edit, the workspace's outage mark, the channel's 429 block).

use std::time::Duration;

use rand::Rng;

use super::{SenderConfig, SenderDeps};
use crate::db::models::card_edit::{CardEdit, CardPlace};
use crate::db::models::delivery::{block_channel, Delivery};
use crate::db::models::installation::Installation;
use crate::db::models::slack_thread::SlackThread;
use crate::db::{now, DbConnection};
use crate::domain::delivery_reason::DeliveryReason;
use crate::domain::monitoring::human_duration;
use crate::domain::pacing::Pacing;
use crate::slack::{ErrorClass, SlackError};

/// Longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Longest pause between two probes of a workspace Slack is failing for: once Slack is
/// back, the backlog goes on within this time.
pub(super) const MAX_PROBE_INTERVAL: Duration = Duration::from_secs(60);

/// What to record after the Slack call.
#[derive(Clone)]
pub(super) enum Record {
    Sent {
        ts: String,
        thread: Option<ThreadWrite>,
        /// The other deliveries that went out in the same digest.
        merged: Vec<i64>,
    },
    Retry {
        delay: Duration,
        error: DeliveryReason,
        blocked_for: Option<Duration>,
        cause: RetryCause,
    },
    Failed {
        reason: DeliveryReason,
    },
    /// Slack refused the installation's token with `code`.
    Broken {
        code: String,
    },
}

/// Why a delivery is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RetryCause {
    /// A 429, a database hiccup, a refresh to retry.
    Other,
    /// Slack itself failed (5xx, timeout): the workspace is in an outage.
    SlackFailing,
    /// Slack is failing for the workspace and another delivery probes it.
    AwaitingProbe,
}

#[derive(Clone)]
pub(super) enum ThreadWrite {
    Insert(SlackThread),
    /// The card's new state, saved with the thread and queued as a card edit.
    SaveCard {
        card: String,
        channel_id: String,
    },
}

impl Record {
    /// Transient failures (5xx, timeouts, 429s, a database hiccup) are retried for the
    /// retry window after the event was accepted (and at most `max_attempts` times, when
    /// set); then the retry becomes a failure saying so.
    pub(super) fn or_give_up(self, d: &Delivery, config: &SenderConfig) -> Self {
        let Self::Retry {
            blocked_for, error, ..
        } = &self
        else {
            return self;
        };
        let waited = now() - d.created_at;
        let limited = blocked_for.is_none() && d.attempts >= config.max_attempts;
        if waited < config.retry_window && !limited {
            return self;
        }
        Self::Failed {
            reason: DeliveryReason::GaveUp {
                attempts: d.attempts,
                over: Some(human_duration(waited.num_seconds())),
                last: Box::new(error.clone()),
            },
        }
    }
}

/// What Slack's error `e` means for delivery `d`.
pub(super) fn record_of_error(deps: &SenderDeps, d: &Delivery, e: SlackError) -> Record {
    let code = e.code().to_owned();
    match e.class() {
        ErrorClass::RetryLater => {
            let rate_limited = matches!(e, SlackError::RateLimited { .. });
            let delay = match e.retry_after() {
                Some(after) => after,
                None if rate_limited => Duration::from_secs(1),
                None => outage_backoff(deps.config.retry_base, now() - d.created_at),
            };
            Record::Retry {
                delay,
                error: DeliveryReason::Slack(code),
                blocked_for: rate_limited.then_some(delay),
                cause: if rate_limited {
                    RetryCause::Other
                } else {
                    RetryCause::SlackFailing
                },
            }
        }
        ErrorClass::IntegrationBroken => Record::Broken { code },
        ErrorClass::Channel | ErrorClass::BadMessage | ErrorClass::Other => Record::Failed {
            reason: DeliveryReason::Slack(code),
        },
    }
}

/// The next probe of a workspace Slack is failing for: half the time this delivery has
/// waited so far (so the probes thin out as an outage goes on, whatever the attempt count),
/// at least `base`, at most [`MAX_PROBE_INTERVAL`], with ±25 % jitter. Once Slack is back,
/// the backlog therefore goes on within a minute, or within half the outage if shorter.
fn outage_backoff(base: Duration, waited: chrono::Duration) -> Duration {
    let half = waited.to_std().unwrap_or_default() / 2;
    let delay = half.clamp(base.min(MAX_PROBE_INTERVAL), MAX_PROBE_INTERVAL);
    delay.mul_f64(rand::thread_rng().gen_range(0.75..1.25))
}

/// Exponential backoff with ±25 % jitter, capped.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempts.clamp(1, 16).saturating_sub(1) as u32);
    let capped = exp.min(MAX_BACKOFF);
    capped.mul_f64(rand::thread_rng().gen_range(0.75..1.25))
}

/// What a saved outcome meant for the workspace's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SavedOutage {
    Unchanged,
    Recovered,
}

/// Records the attempt's outcome. Call inside `write_tx`.
pub(super) fn save(
    conn: &mut DbConnection,
    d: &Delivery,
    record: Record,
    pacing: Pacing,
    was_failing: bool,
) -> Result<SavedOutage, diesel::result::Error> {
    let now_naive = now();
    let mut outage = SavedOutage::Unchanged;
    match record {
        Record::Sent { ts, thread, merged } => {
            if !Delivery::mark_sent(conn, d.id, &ts, now_naive)? {
                // Settled meanwhile (its installation broke): the message went out all the
                // same, so the thread below is still recorded.
                tracing::warn!("sent, but the delivery had been settled meanwhile");
            }
            Delivery::mark_sent_many(conn, &merged, &ts, now_naive)?;
            // Only a workspace seen failing is asked (a statement saved per delivery; one
            // marked failing meanwhile is cleared by the next success, the probe's).
            if let (Some(installation), true) = (&d.installation_id, was_failing) {
                if Installation::clear_failing(conn, installation)? {
                    // The probe got through: what waited for it goes now (still paced).
                    Delivery::wake_pending_for_installation(conn, installation, now_naive)?;
                    outage = SavedOutage::Recovered;
                }
            }
            match (thread, &d.team_id) {
                (Some(ThreadWrite::Insert(row)), _) => {
                    let existing =
                        SlackThread::find(conn, &row.subject_key, &row.team_id, &row.channel)?;
                    if existing.is_none() {
                        SlackThread::insert(conn, &row)?;
                    }
                }
                (Some(ThreadWrite::SaveCard { card, channel_id }), Some(team)) => {
                    SlackThread::save_card(conn, &d.subject_key, team, &d.channel, &card)?;
                    // The card's edit: durable, coalesced with a pending one, paced per
                    // workspace (`pipeline::card_edits`).
                    if let Some(installation) = &d.installation_id {
                        let place = CardPlace {
                            subject_key: &d.subject_key,
                            team_id: team,
                            channel: &d.channel,
                            slack_channel: &channel_id,
                            installation_id: installation,
                            org_id: &d.org_id,
                            project_id: &d.project_id,
                            compact: d.compact,
                        };
                        CardEdit::upsert(conn, &CardEdit::due_now(&place, card, now_naive))?;
                    }
                }
                _ => {}
            }
        }
        Record::Retry {
            delay,
            error,
            blocked_for,
            cause,
        } => {
            let mut at = now_naive + chrono::Duration::from_std(delay).unwrap_or_default();
            let installation = d.installation_id.as_deref();
            if let (RetryCause::AwaitingProbe, Some(id)) = (cause, installation) {
                // Slack may have recovered (and the waiting deliveries been woken) while
                // this one was deciding to wait: then it goes now.
                let failing =
                    Installation::find_by_id(conn, id)?.is_some_and(|i| i.failing_since.is_some());
                if !failing {
                    at = now_naive;
                }
            }
            // Lost to another path (logged there), what Slack said still holds below.
            Delivery::reschedule(conn, d.id, at, &error)?;
            if let (RetryCause::SlackFailing, Some(installation)) = (cause, installation) {
                let probe = now_naive
                    + chrono::Duration::from_std(delay.min(MAX_PROBE_INTERVAL)).unwrap_or_default();
                if Installation::mark_failing(conn, installation, now_naive, probe)? {
                    tracing::warn!(installation = %installation, "Slack is failing for this workspace; deliveries wait for it to recover");
                }
            }
            if let (Some(blocked), Some(team)) = (blocked_for, &d.team_id) {
                let until = now_naive + chrono::Duration::from_std(blocked).unwrap_or_default();
                block_channel(conn, team, &d.channel, until, pacing)?;
            }
        }
        Record::Failed { reason } => {
            Delivery::mark_failed(conn, d.id, &reason)?;
        }
        Record::Broken { code } => {
            let installation = match &d.installation_id {
                Some(id) => Installation::find_by_id(conn, id)?,
                None => None,
            };
            match installation {
                // Fails this delivery with every other pending one of the installation.
                Some(inst) => {
                    crate::pipeline::installations::mark_broken(
                        conn,
                        &inst,
                        &code,
                        "xtc-slack (delivery)",
                    )?;
                }
                // Not there any more: removed or replaced meanwhile (a replacement took over
                // the pending deliveries); only this one fails.
                None => {
                    let reason = DeliveryReason::IntegrationBroken { code };
                    Delivery::mark_failed(conn, d.id, &reason)?;
                }
            }
        }
    }
    Ok(outage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outage_probes_thin_out_with_the_outage_and_stay_within_a_minute() {
        let base = Duration::from_millis(100);
        let at = |secs: i64| outage_backoff(base, chrono::Duration::seconds(secs));
        assert!(at(0) >= Duration::from_millis(75) && at(0) <= Duration::from_millis(125));
        assert!(at(10) >= Duration::from_millis(3_750) && at(10) <= Duration::from_millis(6_250));
        for _ in 0..20 {
            assert!(at(3_600) <= Duration::from_secs(75), "{:?}", at(3_600));
            assert!(at(3_600) >= Duration::from_secs(45));
        }
    }
}

//! Sending one claimed delivery: load what the message needs ([`prepare`]), make sure
//! the workspace may be called (outage probe, token), send ([`send`]), and record the
//! outcome ([`record`]: sent / retry later / failed / integration broken). Claiming what
//! is due is [`claim`].

mod chart;
mod claim;
mod prepare;
pub mod prerender;
mod record;
mod send;

use std::sync::Arc;
use std::time::Duration;

pub use claim::claim;
pub(crate) use prepare::Prepared;
pub use record::backoff;
use record::{Record, RetryCause, SavedOutage, MAX_PROBE_INTERVAL};

use super::commit_gate::Pending;
use super::path_trace::{mark, PathTrace, Step};
use super::tokens::RefreshError;
use crate::crypto::Cipher;
use crate::db::models::delivery::{ClaimedHead, Delivery};
use crate::db::models::installation::Installation;
use crate::db::{now, write_tx, Db, DbError};
use crate::domain::delivery_reason::DeliveryReason;
use crate::domain::pacing::Pacing;
use crate::slack::{ErrorClass, SlackApi};

/// How long a probe holds the probe right (its Slack call's timeout is shorter).
const PROBE_HOLD: Duration = Duration::from_secs(120);

/// Tunables of the sender.
#[derive(Clone, Debug)]
pub struct SenderConfig {
    pub pacing: Pacing,
    /// First retry delay after a 5xx/timeout; doubles per attempt (with jitter).
    pub retry_base: Duration,
    /// Attempts before a delivery that keeps failing transiently is given up.
    pub max_attempts: i32,
    /// How long after its acceptance a delivery is retried before it is given up.
    pub retry_window: chrono::Duration,
    /// How long a claim protects a delivery from other senders.
    pub lease: chrono::Duration,
    /// Names this process in `claimed_by`.
    pub instance: String,
    /// How run-card edits (`chat.update`) are paced per workspace.
    pub edit_pacing: Pacing,
    /// A channel backlog that would hold a message back longer than this goes out as
    /// digests (`pipeline::digest`); `None`: never.
    pub digest_after: Option<chrono::Duration>,
    /// How long an incident held during a load test that still fails after the test ended
    /// waits before it is posted (`pipeline::holds`).
    pub hold_grace: chrono::Duration,
}

#[cfg(test)]
impl SenderConfig {
    /// A sender's tunables for tests: one message per second and channel, no digests.
    pub fn for_tests() -> Self {
        let pacing = Pacing {
            interval: chrono::Duration::seconds(1),
            burst: 1,
        };
        Self {
            pacing,
            retry_base: Duration::from_secs(1),
            max_attempts: 3,
            retry_window: chrono::Duration::hours(1),
            lease: chrono::Duration::seconds(30),
            instance: "me".into(),
            edit_pacing: pacing,
            digest_after: None,
            hold_grace: chrono::Duration::minutes(5),
        }
    }
}

/// What sending needs.
pub struct SenderDeps {
    pub db: Db,
    /// Cleared when an installation breaks, so new events stop resolving to it at once.
    pub effective: super::effective::EffectiveCache,
    pub slack: SlackApi,
    pub renderer: Arc<super::render::Renderer>,
    pub cipher: Cipher,
    /// Bot tokens, refreshed when the app rotates them.
    pub tokens: super::tokens::TokenSource,
    pub config: SenderConfig,
    /// Attempt outcomes and delivery latency.
    pub metrics: crate::metrics::Metrics,
    /// On SQLite, the ingest writer, set once it started: outcomes are written on its
    /// connection (`IngestWriter::submit_write`), so the next event's transaction keeps its
    /// cached pages. Unset (PostgreSQL, or no writer yet): written on `db`.
    pub outcome_writer: Arc<std::sync::OnceLock<super::writer::IngestWriter>>,
}

/// A delivery claimed at commit by the hand-off (`pipeline::writer`), with what it needs
/// loaded in the same transaction (or why it cannot be sent), so the sender goes straight
/// to rendering and posting. Also on PostgreSQL, where each load is a round trip inside the
/// ingest transaction: loaded by the sender instead, end to end was slower (p50 from the
/// request 3.25 ms against 2.35, three runs each, `--only peer`).
pub struct HandedDelivery {
    pub delivery: Delivery,
    pub(crate) prepared: Result<Prepared, DeliveryReason>,
}

impl std::fmt::Debug for HandedDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandedDelivery")
            .field("delivery", &self.delivery.id)
            .finish_non_exhaustive()
    }
}

/// Loads what the claimed `head` needs inside the transaction that claimed it (the
/// hand-off); a delivery of the event `stored` that transaction wrote takes its payload from
/// there, one of the rows `preloaded` ahead takes what was loaded for it (and its message
/// rendered ahead, see [`prerender`]), and one with nothing queued behind it heads no
/// digest.
pub fn prepare_handed(
    conn: &mut crate::db::DbConnection,
    head: ClaimedHead,
    config: &SenderConfig,
    stored: &super::ingest::Stored,
    preloaded: &mut Vec<prerender::Preloaded>,
) -> Result<HandedDelivery, DbError> {
    let ClaimedHead {
        delivery: d,
        queued_behind,
    } = head;
    let prepared = match prerender::claimed(conn, preloaded, &d)? {
        Some(mut ahead) => {
            if let Ok(p) = &mut ahead {
                prepare::add_digest(conn, &d, config, p, queued_behind)?;
            }
            ahead
        }
        None => {
            let known = stored.payload_of(&d.event_id).cloned();
            prepare::prepare(conn, &d, config, known, queued_behind)?
        }
    };
    Ok(HandedDelivery {
        delivery: d,
        prepared,
    })
}

/// How a delivery attempt ended (for metrics and logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    Sent,
    Retry,
    Failed,
    /// Handed before its transaction's `COMMIT`, which failed: the delivery never existed.
    /// Nothing was sent or recorded, and it is not counted as an attempt.
    Withdrawn,
}

impl Attempt {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retry => "retry",
            Self::Failed => "failed",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// A handed delivery whose transaction did not commit (see [`Attempt::Withdrawn`]).
#[derive(Debug)]
pub(super) struct Withdrawn;

/// Waits, before anything with an effect, until the transaction that claimed a handed
/// delivery is known to have committed (`pipeline::commit_gate`); stamps when the sender
/// learned it. At once for a delivery claimed by the sender itself, or a second time.
pub(super) async fn committed(
    gate: &mut Pending,
    trace: &mut Option<PathTrace>,
) -> Result<(), Withdrawn> {
    if !gate.waiting() {
        return Ok(());
    }
    let committed = gate.pass().await;
    mark(trace, Step::Committed);
    if committed {
        Ok(())
    } else {
        Err(Withdrawn)
    }
}

/// Sends one claimed delivery and records the outcome. Every log line of the attempt
/// carries the `delivery` span (`delivery_id`, `event_id`, `channel`). A traced delivery
/// (handed over at commit) has its remaining steps stamped and observed; `prepared`: what it
/// needs, loaded at commit (else it is loaded now); `gate`: a handed delivery's commit, which
/// everything but rendering waits for (see [`committed`]).
pub async fn deliver(
    deps: Arc<SenderDeps>,
    d: Delivery,
    prepared: Option<Result<Prepared, DeliveryReason>>,
    mut trace: Option<PathTrace>,
    mut gate: Pending,
) -> Attempt {
    use tracing::Instrument;
    let span = tracing::info_span!("delivery", delivery_id = d.id, event_id = %d.event_id, channel = %d.channel);
    // `instrument`, not `span.enter()`: a guard held across `.await` would leak the span
    // into whatever else runs on this thread while the attempt waits.
    let created_at = d.created_at;
    let metrics = deps.metrics.clone();
    let attempt = deliver_in_span(deps, d, prepared, &mut trace, &mut gate)
        .instrument(span)
        .await;
    if attempt == Attempt::Withdrawn {
        tracing::debug!("handed delivery withdrawn: its transaction did not commit");
        return attempt;
    }
    if let Some(trace) = trace.filter(|_| attempt == Attempt::Sent) {
        trace.observe(&metrics);
    }
    let latency = (attempt == Attempt::Sent)
        .then(|| (now() - created_at).to_std().ok())
        .flatten();
    metrics.delivery_attempt(attempt.as_str(), latency);
    attempt
}

async fn deliver_in_span(
    deps: Arc<SenderDeps>,
    d: Delivery,
    prepared: Option<Result<Prepared, DeliveryReason>>,
    trace: &mut Option<PathTrace>,
    gate: &mut Pending,
) -> Attempt {
    let prepared = match prepared {
        Some(p) => Ok(p),
        None => {
            let (d2, deps2) = (d.clone(), deps.clone());
            deps.db
                .run(move |conn| prepare::prepare(conn, &d2, &deps2.config, None, true))
                .await
        }
    };
    mark(trace, Step::Prepared);
    // Whether the workspace was seen failing (only then may a success clear the mark).
    let mut was_failing = false;
    let record = match prepared {
        Err(e) => {
            tracing::warn!(error = %e, "could not load the delivery; will retry");
            Record::Retry {
                delay: deps.config.retry_base,
                error: DeliveryReason::DatabaseUnavailable,
                blocked_for: None,
                cause: RetryCause::Other,
            }
        }
        Ok(Err(reason)) => Record::Failed { reason },
        Ok(Ok(p)) => {
            was_failing = p.installation.failing_since.is_some();
            // A probe is taken in the database, and a token about to expire is refreshed
            // (Slack rotates the pair, the new one is written): not for a delivery that may
            // not exist.
            let effects = was_failing || super::tokens::refreshes_first(&p.installation);
            if effects && committed(gate, trace).await.is_err() {
                return Attempt::Withdrawn;
            }
            match wait_for_probe(&deps, &p.installation).await {
                Some(wait) => wait,
                None => match deps.tokens.token(&p.installation).await {
                    Err(RefreshError::Unreadable) => Record::Failed {
                        reason: DeliveryReason::TokenUnreadable,
                    },
                    Err(e) => token_expired_after(&deps, &p.installation, e).await,
                    Ok(token) => {
                        let installation = p.installation.clone();
                        let Ok(sent) = send::send(&deps, &d, p, &token, trace, gate).await else {
                            return Attempt::Withdrawn;
                        };
                        match sent {
                            // Rotating tokens: refresh once before calling the integration
                            // broken.
                            Record::Broken { code } if code == "token_expired" => {
                                match deps.tokens.refresh(&installation).await {
                                    Ok(_) => Record::Retry {
                                        delay: Duration::ZERO,
                                        error: DeliveryReason::Slack(code),
                                        blocked_for: None,
                                        cause: RetryCause::Other,
                                    },
                                    Err(e) => token_expired_after(&deps, &installation, e).await,
                                }
                            }
                            record => record,
                        }
                    }
                },
            }
        }
    };
    if committed(gate, trace).await.is_err() {
        return Attempt::Withdrawn;
    }
    let record = record.or_give_up(&d, &deps.config);
    let attempt = match record {
        Record::Retry { .. } => Attempt::Retry,
        Record::Sent { .. } => Attempt::Sent,
        Record::Failed { .. } | Record::Broken { .. } => Attempt::Failed,
    };
    match &record {
        Record::Sent { .. } => tracing::info!(attempts = d.attempts, "delivered"),
        Record::Retry { error, delay, .. } => {
            tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "will retry")
        }
        Record::Failed { reason } => tracing::warn!(error = %reason, "delivery failed"),
        Record::Broken { code } => tracing::warn!(error = %code, "delivery failed"),
    }
    let broken = matches!(record, Record::Broken { .. });
    let org = d.org_id.clone();
    let pacing = deps.config.pacing;
    let saved = save_outcome(&deps, d, record, pacing, was_failing).await;
    mark(trace, Step::Recorded);
    if let Ok(SavedOutage::Recovered) = saved {
        tracing::info!("Slack answers again; the workspace's waiting deliveries go on");
    }
    if let Err(e) = saved {
        // The claim's lease expires and the delivery is tried again.
        tracing::error!(error = %e, "could not record a delivery outcome");
    }
    if broken {
        deps.effective.invalidate_org(&org);
    }
    attempt
}

/// Writes a delivery's outcome: on SQLite through the ingest writer's connection
/// (`SenderDeps::outcome_writer`), else, or when the writer is gone (its thread ended: the
/// job never ran, or ran in a transaction that was rolled back), in a transaction of the
/// background pool.
async fn save_outcome(
    deps: &SenderDeps,
    d: Delivery,
    record: Record,
    pacing: Pacing,
    was_failing: bool,
) -> Result<SavedOutage, DbError> {
    if let Some(writer) = deps.outcome_writer.get() {
        let (d, record) = (d.clone(), record.clone());
        let save = move |c: &mut crate::db::DbConnection| {
            record::save(c, &d, record.clone(), pacing, was_failing).map_err(DbError::from)
        };
        match writer.submit_write(save).await {
            Err(DbError::Canceled) => {
                tracing::warn!("the ingest writer is gone; the outcome goes to the pool");
            }
            saved => return saved,
        }
    }
    deps.db
        .run(move |conn| {
            write_tx(conn, |c| record::save(c, &d, record, pacing, was_failing))
                .map_err(DbError::from)
        })
        .await
}

/// The bot token expired and could not be refreshed: a refresh that Slack refused for
/// good breaks the integration; anything else (Slack or the database unreachable) is
/// retried.
async fn token_expired_after(deps: &SenderDeps, inst: &Installation, e: RefreshError) -> Record {
    tracing::warn!(installation = %inst.id, error = %e, "could not refresh the Slack token");
    match e {
        RefreshError::Slack(s) if s.class() != ErrorClass::RetryLater => Record::Broken {
            code: format!("token_expired (refresh failed: {})", s.code()),
        },
        RefreshError::NotRotating | RefreshError::NoCredentials | RefreshError::Unreadable => {
            Record::Broken {
                code: "token_expired".into(),
            }
        }
        _ => Record::Retry {
            delay: backoff(deps.config.retry_base, 1),
            error: DeliveryReason::TokenRefreshRetried,
            blocked_for: None,
            cause: RetryCause::Other,
        },
    }
}

/// While Slack is failing for a workspace, one delivery at a time probes it and the others
/// wait for the next probe without calling Slack. `Some(record)` when this delivery waits.
async fn wait_for_probe(deps: &SenderDeps, installation: &Installation) -> Option<Record> {
    let next = installation.next_probe_at?;
    installation.failing_since?;
    let id = installation.id.clone();
    let at = now();
    let hold = at + chrono::Duration::from_std(PROBE_HOLD).unwrap_or_default();
    let taken = deps
        .db
        .run(move |conn| {
            write_tx(conn, |c| Installation::take_probe(c, &id, at, hold)).map_err(DbError::from)
        })
        .await;
    match taken {
        Ok(true) => None,
        Ok(false) | Err(_) => Some(Record::Retry {
            delay: (next - at)
                .to_std()
                .unwrap_or_default()
                .clamp(Duration::from_millis(200), MAX_PROBE_INTERVAL),
            error: DeliveryReason::AwaitingProbe,
            blocked_for: None,
            cause: RetryCause::AwaitingProbe,
        }),
    }
}

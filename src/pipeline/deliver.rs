//! Sending one claimed delivery: load what the message needs, render it, call Slack, and
//! record the outcome (sent / retry later / failed / integration broken).

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use secrecy::SecretString;

use super::events::Payload;
use super::render::{Card, CardControls, Names, Renderer};
use super::tokens::RefreshError;
use crate::crypto::Cipher;
use crate::db::models::card_edit::{CardEdit, CardPlace};
use crate::db::models::delivery::{block_channel, Delivery, Pacing};
use crate::db::models::event::EventRow;
use crate::db::models::installation::Installation;
use crate::db::models::organization::Organization;
use crate::db::models::project::Project;
use crate::db::models::slack_thread::SlackThread;
use crate::db::{now, write_tx, Db, DbConnection, DbError};
use crate::domain::incident::Controls;
use crate::domain::settings::IntegrationStatus;
use crate::slack::{ErrorClass, PostMessage, SlackApi, SlackError};

/// Longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Longest pause between two probes of a workspace Slack is failing for: once Slack is
/// back, the backlog goes on within this time.
const MAX_PROBE_INTERVAL: Duration = Duration::from_secs(60);
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
    pub edit_pacing: crate::db::models::card_edit::EditPacing,
    /// A channel backlog that would hold a message back longer than this goes out as
    /// digests (`pipeline::digest`); `None`: never.
    pub digest_after: Option<chrono::Duration>,
}

/// What sending needs.
pub struct SenderDeps {
    pub db: Db,
    /// Cleared when an installation breaks, so new events stop resolving to it at once.
    pub effective: super::effective::EffectiveCache,
    pub slack: SlackApi,
    pub renderer: Arc<Renderer>,
    pub cipher: Cipher,
    /// Bot tokens, refreshed when the app rotates them.
    pub tokens: super::tokens::TokenSource,
    pub config: SenderConfig,
    /// Attempt outcomes and delivery latency.
    pub metrics: crate::metrics::Metrics,
}

/// How a delivery attempt ended (for metrics and logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    Sent,
    Retry,
    Failed,
}

impl Attempt {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retry => "retry",
            Self::Failed => "failed",
        }
    }
}

/// Claims what may be sent now (oldest per channel, paced), skipping superseded reports.
pub async fn claim(deps: &SenderDeps, limit: usize) -> Result<Vec<Delivery>, DbError> {
    let config = deps.config.clone();
    deps.db
        .run(move |conn| {
            let now = now();
            if Delivery::has_superseded(conn)? {
                write_tx(conn, |c| Delivery::skip_superseded(c, now))?;
            }
            let (lease, pacing, limit) = (config.lease, config.pacing, limit as i64);
            let claimed = match conn {
                // One instance: find candidates without holding the write lock, then claim.
                DbConnection::Sqlite(_) => {
                    let candidates = Delivery::claimable(conn, now, pacing, limit)?;
                    if candidates.is_empty() {
                        return Ok(candidates);
                    }
                    write_tx(conn, |c| {
                        Delivery::claim(c, candidates, now, lease, &config.instance, pacing)
                    })?
                }
                // Several instances: lock what we claim, skip what others are claiming.
                DbConnection::Postgresql(_) => write_tx(conn, |c| {
                    let candidates = Delivery::claimable(c, now, pacing, limit)?;
                    Delivery::claim(c, candidates, now, lease, &config.instance, pacing)
                })?,
            };
            Ok(claimed)
        })
        .await
}

/// Everything a delivery needs from the database.
struct Prepared {
    payload: Payload,
    names: Names,
    installation: Installation,
    thread: Option<SlackThread>,
    /// An incident's acknowledgement and mute (for its card).
    controls: Option<Controls>,
    /// Waiting deliveries of the channel that go out with this one as a digest.
    digest: Vec<super::digest::Merged>,
}

fn prepare(
    conn: &mut DbConnection,
    d: &Delivery,
    config: &SenderConfig,
) -> Result<Result<Prepared, String>, DbError> {
    let Some(event) = EventRow::find_by_id(conn, &d.event_id)? else {
        return Ok(Err("the event is gone".into()));
    };
    let Ok(payload) = serde_json::from_str::<Payload>(&event.payload) else {
        return Ok(Err("the stored event cannot be read".into()));
    };
    let Some(installation_id) = &d.installation_id else {
        return Ok(Err("no Slack integration".into()));
    };
    let Some(installation) = Installation::find_by_id(conn, installation_id)? else {
        return Ok(Err("the Slack integration was removed".into()));
    };
    if installation.status() != IntegrationStatus::Active {
        let why = installation
            .status_reason
            .clone()
            .unwrap_or_else(|| "revoked".into());
        return Ok(Err(super::installations::broken_reason(&why)));
    }
    let names = names_of(conn, &d.org_id, &d.project_id)?;
    let (thread, controls) = if d.threads {
        (
            SlackThread::find(conn, &d.subject_key, &installation.team_id, &d.channel)?,
            super::incidents::controls_for(conn, &d.subject_key)?,
        )
    } else {
        (None, None)
    };
    // A reply under an existing card never heads a digest: no need to look behind it.
    let digest = if thread.is_some() {
        Vec::new()
    } else {
        super::digest::batch(conn, d, &payload, &names, config, now())?
    };
    Ok(Ok(Prepared {
        payload,
        names,
        installation,
        thread,
        controls,
        digest,
    }))
}

/// The organization's and project's names as they are now.
pub(crate) fn names_of(
    conn: &mut DbConnection,
    org_id: &str,
    project_id: &str,
) -> Result<Names, DbError> {
    let org = Organization::find_by_id(conn, org_id)?;
    let project = Project::find_by_id(conn, org_id, project_id)?;
    Ok(Names {
        org_id: org_id.to_owned(),
        org_name: org.map_or_else(|| org_id.to_owned(), |o| o.name),
        project_id: project_id.to_owned(),
        project_name: project.map_or_else(|| project_id.to_owned(), |p| p.name),
    })
}

/// What to record after the Slack call.
enum Record {
    Sent {
        ts: String,
        thread: Option<ThreadWrite>,
        /// The other deliveries that went out in the same digest.
        merged: Vec<i64>,
    },
    Retry {
        delay: Duration,
        error: String,
        blocked_for: Option<Duration>,
        cause: RetryCause,
    },
    Failed {
        error: String,
    },
    Broken {
        error: String,
    },
}

/// Why a delivery is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RetryCause {
    /// A 429, a database hiccup, a refresh to retry.
    Other,
    /// Slack itself failed (5xx, timeout): the workspace is in an outage.
    SlackFailing,
    /// Slack is failing for the workspace and another delivery probes it.
    AwaitingProbe,
}

enum ThreadWrite {
    Insert(SlackThread),
    /// The card's new state, saved with the thread and queued as a card edit.
    SaveCard {
        card: String,
        channel_id: String,
    },
}

/// Error and aborted events (and recoveries, and an incident failing again) are also shown
/// in the channel.
fn broadcast(payload: &Payload) -> bool {
    use crate::domain::lifecycle::LoadTestEventType as E;
    use crate::domain::monitoring::Change;
    match payload {
        Payload::LoadTest(lt) => matches!(lt.event_type, E::Error | E::Aborted),
        Payload::Scenario(sc) => {
            matches!(sc.change, Change::Recovered { .. } | Change::Failing { .. })
        }
        Payload::IncidentAction(_) => false,
    }
}

/// Sends one claimed delivery and records the outcome. Every log line of the attempt
/// carries the `delivery` span (`delivery_id`, `event_id`, `channel`).
pub async fn deliver(deps: Arc<SenderDeps>, d: Delivery) -> Attempt {
    use tracing::Instrument;
    let span = tracing::info_span!("delivery", delivery_id = d.id, event_id = %d.event_id, channel = %d.channel);
    // `instrument`, not `span.enter()`: a guard held across `.await` would leak the span
    // into whatever else runs on this thread while the attempt waits.
    let created_at = d.created_at;
    let metrics = deps.metrics.clone();
    let attempt = deliver_in_span(deps, d).instrument(span).await;
    let latency = (attempt == Attempt::Sent)
        .then(|| (now() - created_at).to_std().ok())
        .flatten();
    metrics.delivery_attempt(attempt.as_str(), latency);
    attempt
}

async fn deliver_in_span(deps: Arc<SenderDeps>, d: Delivery) -> Attempt {
    let (d2, deps2) = (d.clone(), deps.clone());
    let prepared = deps
        .db
        .run(move |conn| prepare(conn, &d2, &deps2.config))
        .await;
    // Whether the workspace was seen failing (only then may a success clear the mark).
    let mut was_failing = false;
    let record = match prepared {
        Err(e) => {
            tracing::warn!(error = %e, "could not load the delivery; will retry");
            Record::Retry {
                delay: deps.config.retry_base,
                error: "database unavailable".into(),
                blocked_for: None,
                cause: RetryCause::Other,
            }
        }
        Ok(Err(reason)) => Record::Failed { error: reason },
        Ok(Ok(p)) => {
            was_failing = p.installation.failing_since.is_some();
            match wait_for_probe(&deps, &p.installation).await {
                Some(wait) => wait,
                None => match deps.tokens.token(&p.installation).await {
                    Err(RefreshError::Unreadable) => Record::Failed {
                        error:
                            "the stored Slack token cannot be decrypted (was XTC_SLACK_SECRET_KEY \
                            changed?)"
                                .into(),
                    },
                    Err(e) => token_expired_after(&deps, &p.installation, e).await,
                    Ok(token) => {
                        let installation = p.installation.clone();
                        match send(&deps, &d, p, &token).await {
                            // Rotating tokens: refresh once before calling the integration broken.
                            Record::Broken { error } if error == "token_expired" => {
                                match deps.tokens.refresh(&installation).await {
                                    Ok(_) => Record::Retry {
                                        delay: Duration::ZERO,
                                        error,
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
    let (attempt, record) = match record {
        Record::Retry { .. } if should_give_up(&d, &record, &deps.config) => {
            let error = match &record {
                Record::Retry { error, .. } => format!(
                    "gave up after {} attempts over {}: {error}",
                    d.attempts,
                    crate::domain::monitoring::human_duration((now() - d.created_at).num_seconds())
                ),
                _ => String::new(),
            };
            (Attempt::Failed, Record::Failed { error })
        }
        Record::Retry { .. } => (Attempt::Retry, record),
        Record::Sent { .. } => (Attempt::Sent, record),
        Record::Failed { .. } | Record::Broken { .. } => (Attempt::Failed, record),
    };
    match &record {
        Record::Sent { .. } => tracing::info!(attempts = d.attempts, "delivered"),
        Record::Retry { error, delay, .. } => {
            tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "will retry")
        }
        Record::Failed { error } | Record::Broken { error } => {
            tracing::warn!(%error, "delivery failed")
        }
    }
    let broken = matches!(record, Record::Broken { .. });
    let org = d.org_id.clone();
    let pacing = deps.config.pacing;
    let saved = deps
        .db
        .run(move |conn| {
            write_tx(conn, |c| save(c, &d, record, pacing, was_failing)).map_err(DbError::from)
        })
        .await;
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

/// Transient failures (5xx, timeouts, 429s, a database hiccup) are retried for the retry
/// window after the event was accepted (and at most `max_attempts` times, when set).
fn should_give_up(d: &Delivery, record: &Record, config: &SenderConfig) -> bool {
    let Record::Retry { blocked_for, .. } = record else {
        return false;
    };
    let waited = now() - d.created_at;
    waited >= config.retry_window || (blocked_for.is_none() && d.attempts >= config.max_attempts)
}

/// The bot token expired and could not be refreshed: a refresh that Slack refused for
/// good breaks the integration; anything else (Slack or the database unreachable) is
/// retried.
async fn token_expired_after(deps: &SenderDeps, inst: &Installation, e: RefreshError) -> Record {
    tracing::warn!(installation = %inst.id, error = %e, "could not refresh the Slack token");
    match e {
        RefreshError::Slack(s) if s.class() != ErrorClass::RetryLater => Record::Broken {
            error: format!("token_expired (refresh failed: {})", s.code()),
        },
        RefreshError::NotRotating | RefreshError::NoCredentials | RefreshError::Unreadable => {
            Record::Broken {
                error: "token_expired".into(),
            }
        }
        _ => Record::Retry {
            delay: backoff(deps.config.retry_base, 1),
            error: "token_expired (refresh will be retried)".into(),
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
            error: "Slack is failing for this workspace; waiting for it to recover".into(),
            blocked_for: None,
            cause: RetryCause::AwaitingProbe,
        }),
    }
}

/// How an event becomes a Slack message.
enum Plan {
    /// Threads off: one message per event.
    Single,
    /// Threads on, first message of this subject in this channel: the run card as parent.
    Parent(Card),
    /// Threads on and a parent exists: a reply, then the parent edited into the new state
    /// (a durable, coalesced card edit, see `pipeline::card_edits`).
    Reply(SlackThread, Card),
    /// A change that only updates the card (a flapping scenario's later changes): no
    /// message, only the card edit.
    CardOnly(SlackThread, Card),
}

async fn send(deps: &SenderDeps, d: &Delivery, p: Prepared, token: &SecretString) -> Record {
    if !p.digest.is_empty() {
        return send_digest(deps, d, &p, token).await;
    }
    let card_only = matches!(&p.payload, Payload::Scenario(sc) if sc.change.card_only());
    // Someone acted on an incident: a reply under its card (which the action's own card
    // edits update), never a card of its own.
    let action = matches!(&p.payload, Payload::IncidentAction(_));
    let controls = super::incidents::card_controls(
        &deps.cipher,
        p.controls.clone(),
        &d.subject_key,
        &p.installation.team_id,
        &d.channel,
    );
    let plan = match p.thread.clone() {
        Some(thread) => {
            let mut card: Card =
                serde_json::from_str(&thread.card).unwrap_or_else(|_| Card::new(&p.payload));
            card.absorb(&p.payload);
            if card_only {
                Plan::CardOnly(thread, card)
            } else {
                Plan::Reply(thread, card)
            }
        }
        None if d.threads && !action => Plan::Parent(Card::new(&p.payload)),
        None => Plan::Single,
    };
    let card_json = |card: &Card| serde_json::to_string(card).unwrap_or_default();
    if let Plan::CardOnly(thread, card) = plan {
        // The edit goes out with the card edits; the delivery counts as the card's ts.
        let channel_id = card_channel(&thread, d);
        return Record::Sent {
            ts: thread.parent_ts,
            thread: Some(ThreadWrite::SaveCard {
                card: card_json(&card),
                channel_id,
            }),
            merged: Vec::new(),
        };
    }
    let rendered = match &plan {
        Plan::Parent(card) => {
            deps.renderer
                .render_card(card, &p.names, d.compact, controls.as_ref())
        }
        Plan::Single => deps.renderer.render_event(&p.payload, &p.names, d.compact),
        // Only what is new; the edited card holds the rest.
        Plan::Reply(_, card) | Plan::CardOnly(_, card) => {
            let shown = broadcast(&p.payload);
            let r = &deps.renderer;
            r.render_reply(&p.payload, card, &p.names, d.compact, shown)
        }
    };
    let rendered = match rendered {
        Ok(r) => r,
        Err(e) => {
            return Record::Failed {
                error: format!("template error: {e}"),
            }
        }
    };
    let (thread_ts, reply_broadcast) = match &plan {
        Plan::Reply(thread, _) => (Some(thread.parent_ts.clone()), broadcast(&p.payload)),
        Plan::Single | Plan::Parent(_) | Plan::CardOnly(..) => (None, false),
    };
    let mut msg = PostMessage {
        channel: d.channel.clone(),
        text: rendered.text,
        blocks: Some(rendered.blocks),
        attachments: rendered.attachments,
        thread_ts,
        reply_broadcast,
    };
    with_mention(&mut msg, d.mention.as_deref());
    let posted = match deps.slack.post_message(token, &msg).await {
        Ok(posted) => posted,
        // Someone deleted the card: a new card with the current state, the reply under it.
        Err(e) if e.code() == "thread_not_found" => match &plan {
            Plan::Reply(thread, card) => {
                match repost_card(deps, d, &p, token, thread, card, controls.as_ref()).await {
                    Ok(new_ts) => msg.thread_ts = Some(new_ts),
                    Err(record) => return record,
                }
                match deps.slack.post_message(token, &msg).await {
                    Ok(posted) => posted,
                    Err(e) => return classify(deps, d, e),
                }
            }
            _ => return classify(deps, d, e),
        },
        Err(e) => return classify(deps, d, e),
    };
    let thread = match plan {
        Plan::Single | Plan::CardOnly(..) => None,
        Plan::Parent(card) => Some(ThreadWrite::Insert(SlackThread {
            subject_key: d.subject_key.clone(),
            team_id: p.installation.team_id.clone(),
            channel: d.channel.clone(),
            parent_ts: posted.ts.clone(),
            card: card_json(&card),
            updated_at: now(),
        })),
        Plan::Reply(..) if action => None,
        Plan::Reply(_, card) => Some(ThreadWrite::SaveCard {
            card: card_json(&card),
            channel_id: posted.channel.clone(),
        }),
    };
    Record::Sent {
        ts: posted.ts,
        thread,
        merged: Vec::new(),
    }
}

/// The head delivery and the ones waiting behind it as one digest message.
async fn send_digest(
    deps: &SenderDeps,
    d: &Delivery,
    p: &Prepared,
    token: &SecretString,
) -> Record {
    let mut entries = vec![(&p.payload, &p.names)];
    entries.extend(p.digest.iter().map(|m| (&m.payload, &m.names)));
    let rendered = match deps.renderer.render_digest(&entries) {
        Ok(r) => r,
        Err(e) => {
            return Record::Failed {
                error: format!("template error: {e}"),
            }
        }
    };
    let mut msg = rendered.post_to(d.channel.clone());
    // Every rule's mention once (each is validated markup, `domain::rules::Mention`).
    let mut mentions: Vec<&str> = Vec::new();
    for m in std::iter::once(d.mention.as_deref())
        .chain(p.digest.iter().map(|m| m.delivery.mention.as_deref()))
    {
        if let Some(m) = m.filter(|m| !m.is_empty() && !mentions.contains(m)) {
            mentions.push(m);
        }
    }
    if !mentions.is_empty() {
        with_mention(&mut msg, Some(&mentions.join(" ")));
    }
    match deps.slack.post_message(token, &msg).await {
        Ok(posted) => {
            tracing::info!(merged = p.digest.len(), "sent a digest");
            Record::Sent {
                ts: posted.ts,
                thread: None,
                merged: p.digest.iter().map(|m| m.delivery.id).collect(),
            }
        }
        Err(e) => classify(deps, d, e),
    }
}

/// The channel ID to edit a thread's card in: the delivery's channel when it is an ID
/// (a `#name` address is resolved by Slack on the next post; `chat.update` needs the ID).
fn card_channel(_thread: &SlackThread, d: &Delivery) -> String {
    d.channel.clone()
}

/// The thread's parent was deleted in Slack: posts the card again with `card` (the current
/// state) and records it as the thread's parent at once, so a retry of the reply goes there
/// too. `Ok(new parent ts)`.
async fn repost_card(
    deps: &SenderDeps,
    d: &Delivery,
    p: &Prepared,
    token: &SecretString,
    thread: &SlackThread,
    card: &Card,
    controls: Option<&CardControls>,
) -> Result<String, Record> {
    let rendered = deps
        .renderer
        .render_card(card, &p.names, d.compact, controls)
        .map_err(|e| Record::Failed {
            error: format!("template error: {e}"),
        })?;
    let parent = rendered.post_to(d.channel.clone());
    let posted = deps
        .slack
        .post_message(token, &parent)
        .await
        .map_err(|e| classify(deps, d, e))?;
    tracing::info!(old_parent = %thread.parent_ts, new_parent = %posted.ts, "the thread's card was deleted in Slack; posted a new one");
    let key = (
        thread.subject_key.clone(),
        thread.team_id.clone(),
        thread.channel.clone(),
    );
    let (ts, json) = (
        posted.ts.clone(),
        serde_json::to_string(card).unwrap_or_default(),
    );
    let saved = deps
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                SlackThread::replace_parent(c, &key.0, &key.1, &key.2, &ts, &json)?;
                CardEdit::delete(c, &key.0, &key.1, &key.2).map(|_| ())
            })
            .map_err(DbError::from)
        })
        .await;
    if let Err(e) = saved {
        tracing::error!(error = %e, "could not record the new card");
    }
    Ok(posted.ts)
}

fn classify(deps: &SenderDeps, d: &Delivery, e: SlackError) -> Record {
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
                error: code,
                blocked_for: rate_limited.then_some(delay),
                cause: if rate_limited {
                    RetryCause::Other
                } else {
                    RetryCause::SlackFailing
                },
            }
        }
        ErrorClass::IntegrationBroken => Record::Broken { error: code },
        ErrorClass::Channel | ErrorClass::BadMessage | ErrorClass::Other => {
            Record::Failed { error: code }
        }
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
enum SavedOutage {
    Unchanged,
    Recovered,
}

fn save(
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
            Delivery::mark_sent(conn, d.id, &ts, now_naive)?;
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
        Record::Failed { error } => Delivery::mark_failed(conn, d.id, &error)?,
        Record::Broken { error } => {
            let installation = match &d.installation_id {
                Some(id) => Installation::find_by_id(conn, id)?,
                None => None,
            };
            // Not there any more: removed or replaced meanwhile (a replacement took over the
            // pending deliveries); only this one fails.
            if let Some(inst) = installation {
                super::installations::mark_broken(conn, &inst, &error, "xtc-slack (delivery)")?;
            }
            Delivery::mark_failed(conn, d.id, &super::installations::broken_reason(&error))?;
        }
    }
    Ok(outage)
}

/// A notification rule's mention, in the first message of an event in its channel (never
/// in an edit, which notifies nobody anyway): first in the notification text, and as the
/// message's first block. The markup was validated when the rule was saved
/// (`domain::rules::Mention`); user text never reaches it.
fn with_mention(msg: &mut PostMessage, mention: Option<&str>) {
    let Some(mention) = mention.filter(|m| !m.is_empty()) else {
        return;
    };
    msg.text = format!("{mention} {}", msg.text);
    let block = serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": mention}});
    match &mut msg.blocks {
        Some(serde_json::Value::Array(blocks)) => blocks.insert(0, block),
        _ => msg.blocks = Some(serde_json::Value::Array(vec![block])),
    }
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

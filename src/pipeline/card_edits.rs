//! Sending run-card edits (`chat.update`) from `card_edits`: the latest state of each card,
//! paced per workspace within the method's tier, retried until it lands (`Retry-After`
//! honoured). A card deleted in Slack (`message_not_found`) is posted again with its current
//! state and the thread continues under the new card.

use std::sync::Arc;
use std::time::Duration;

use super::deliver::{backoff, SenderDeps};
use super::message_names::names_of;
use super::render::Card;
use super::tokens::RefreshError;
use crate::db::models::card_edit::{block_workspace, CardEdit};
use crate::db::models::installation::Installation;
use crate::db::models::slack_thread::SlackThread;
use crate::db::{now, write_tx, DbError};
use crate::domain::settings::IntegrationStatus;
use crate::slack::{ErrorClass, SlackError, UpdateMessage};

/// Longest pause between two attempts of an edit Slack keeps failing.
const MAX_EDIT_BACKOFF: Duration = Duration::from_secs(60);

/// Claims the edits that may go out now (due, not claimed, within each workspace's pace).
pub async fn claim(deps: &SenderDeps, limit: usize) -> Result<Vec<CardEdit>, DbError> {
    let config = deps.config.clone();
    deps.db
        .run(move |conn| {
            write_tx(conn, |c| {
                CardEdit::claim_due(
                    c,
                    now(),
                    config.lease,
                    &config.instance,
                    limit as i64,
                    config.edit_pacing,
                )
            })
            .map_err(DbError::from)
        })
        .await
}

/// How one edit attempt ended.
enum Outcome {
    /// Slack shows this revision (or a new card with it).
    Done,
    /// Try again after `delay`; `blocked`: a 429 that holds back the whole workspace.
    Retry {
        delay: Duration,
        error: String,
        blocked: bool,
    },
    /// Nothing more to do for this card (gone, channel or integration broken).
    Drop { error: String },
}

/// Sends one claimed edit and records the outcome.
pub async fn send(deps: Arc<SenderDeps>, edit: CardEdit) {
    use tracing::Instrument;
    let span =
        tracing::info_span!("card_edit", subject = %edit.subject_key, channel = %edit.channel);
    send_in_span(deps, edit).instrument(span).await
}

async fn send_in_span(deps: Arc<SenderDeps>, edit: CardEdit) {
    let outcome = attempt(&deps, &edit).await;
    let outcome = match outcome {
        Outcome::Retry { error, .. } if now() - edit.created_at >= deps.config.retry_window => {
            Outcome::Drop {
                error: format!("gave up after {} attempts: {error}", edit.attempts),
            }
        }
        other => other,
    };
    match &outcome {
        Outcome::Done => tracing::debug!("card edited"),
        Outcome::Retry { error, delay, .. } => {
            tracing::info!(%error, retry_in_ms = delay.as_millis() as u64, "card edit will be retried")
        }
        Outcome::Drop { error } => tracing::warn!(%error, "card edit dropped"),
    }
    let pacing = deps.config.edit_pacing;
    let saved = deps
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                let at = now();
                match outcome {
                    Outcome::Done => CardEdit::settle(c, &edit, at),
                    Outcome::Retry {
                        delay,
                        error,
                        blocked,
                    } => {
                        let until = at + chrono::Duration::from_std(delay).unwrap_or_default();
                        if blocked {
                            block_workspace(c, &edit.team_id, until, pacing)?;
                        }
                        CardEdit::reschedule(c, &edit, until, &error)
                    }
                    Outcome::Drop { .. } => {
                        CardEdit::delete(c, &edit.subject_key, &edit.team_id, &edit.channel)
                            .map(|_| ())
                    }
                }
            })
            .map_err(DbError::from)
        })
        .await;
    if let Err(e) = saved {
        // The claim's lease expires and the edit is tried again.
        tracing::error!(error = %e, "could not record a card edit's outcome");
    }
}

async fn attempt(deps: &SenderDeps, edit: &CardEdit) -> Outcome {
    let e2 = edit.clone();
    let loaded = deps
        .db
        .run(move |conn| {
            let installation = Installation::find_by_id(conn, &e2.installation_id)?;
            let thread = SlackThread::find(conn, &e2.subject_key, &e2.team_id, &e2.channel)?;
            let names = names_of(conn, &e2.org_id, &e2.project_id)?;
            let controls = super::incidents::controls_for(conn, &e2.subject_key)?;
            let pinned = super::baselines::pinned_for(conn, &e2.subject_key)?;
            Ok::<_, DbError>((installation, thread, names, (controls, pinned)))
        })
        .await;
    let (installation, thread, names, (controls, pinned)) = match loaded {
        Ok(v) => v,
        Err(e) => {
            return Outcome::Retry {
                delay: deps.config.retry_base,
                error: format!("database: {e}"),
                blocked: false,
            }
        }
    };
    let Some(installation) = installation.filter(|i| i.status() == IntegrationStatus::Active)
    else {
        return Outcome::Drop {
            error: "the Slack integration is gone or broken".into(),
        };
    };
    let Some(thread) = thread else {
        return Outcome::Drop {
            error: "the thread is gone".into(),
        };
    };
    let Ok(mut card) = serde_json::from_str::<Card>(&edit.card) else {
        return Outcome::Drop {
            error: "the stored card cannot be read".into(),
        };
    };
    card.pinned = pinned;
    let controls = super::incidents::card_controls(
        &deps.cipher,
        controls,
        &edit.subject_key,
        &edit.team_id,
        &edit.channel,
    );
    let rendered = match deps
        .renderer
        .render_card(&card, &names, edit.compact, controls.as_ref())
    {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Drop {
                error: format!("template error: {e}"),
            }
        }
    };
    let token = match deps.tokens.token(&installation).await {
        Ok(t) => t,
        Err(RefreshError::Unreadable) => {
            return Outcome::Drop {
                error: "the stored Slack token cannot be decrypted".into(),
            }
        }
        Err(e) => {
            return Outcome::Retry {
                delay: backoff(deps.config.retry_base, edit.attempts).min(MAX_EDIT_BACKOFF),
                error: format!("token: {e}"),
                blocked: false,
            }
        }
    };
    let msg = UpdateMessage {
        channel: edit.slack_channel.clone(),
        ts: thread.parent_ts.clone(),
        text: rendered.text.clone(),
        blocks: Some(rendered.blocks.clone()),
        attachments: rendered.attachments.clone(),
    };
    let err = match deps.slack.update_message(&token, &msg).await {
        Ok(_) => return Outcome::Done,
        Err(e) => e,
    };
    if err.code() == "message_not_found" {
        // Someone deleted the card: post it again with the current state; the thread
        // continues there.
        let parent = rendered.post_to(edit.slack_channel.clone());
        return match deps.slack.post_message(&token, &parent).await {
            Ok(posted) => {
                tracing::info!(old_parent = %thread.parent_ts, new_parent = %posted.ts, "the card was deleted in Slack; posted a new one");
                let (e2, old_ts) = (edit.clone(), thread.parent_ts.clone());
                let saved = deps
                    .db
                    .run(move |conn| {
                        write_tx(conn, |c| {
                            // Only if no reply replaced the card meanwhile.
                            let current =
                                SlackThread::find(c, &e2.subject_key, &e2.team_id, &e2.channel)?;
                            if current.is_some_and(|t| t.parent_ts == old_ts) {
                                SlackThread::replace_parent(
                                    c,
                                    &e2.subject_key,
                                    &e2.team_id,
                                    &e2.channel,
                                    &posted.ts,
                                    &e2.card,
                                )?;
                            }
                            Ok::<_, diesel::result::Error>(())
                        })
                        .map_err(DbError::from)
                    })
                    .await;
                match saved {
                    Ok(()) => Outcome::Done,
                    Err(e) => Outcome::Retry {
                        delay: deps.config.retry_base,
                        error: format!("database: {e}"),
                        blocked: false,
                    },
                }
            }
            Err(e) => failed(deps, edit, e),
        };
    }
    failed(deps, edit, err)
}

fn failed(deps: &SenderDeps, edit: &CardEdit, e: SlackError) -> Outcome {
    let error = e.code().to_owned();
    match e.class() {
        ErrorClass::RetryLater => {
            let rate_limited = matches!(e, SlackError::RateLimited { .. });
            let delay = match e.retry_after() {
                Some(after) => after,
                None if rate_limited => Duration::from_secs(1),
                None => backoff(deps.config.retry_base, edit.attempts).min(MAX_EDIT_BACKOFF),
            };
            Outcome::Retry {
                delay,
                error,
                blocked: rate_limited,
            }
        }
        // The next delivery finds out about the integration and marks it broken; a token
        // that expired is refreshed by then.
        ErrorClass::IntegrationBroken if error == "token_expired" => Outcome::Retry {
            delay: deps.config.retry_base.max(Duration::from_secs(1)),
            error,
            blocked: false,
        },
        ErrorClass::IntegrationBroken
        | ErrorClass::Channel
        | ErrorClass::BadMessage
        | ErrorClass::Other => Outcome::Drop { error },
    }
}

//! The weekly summary on demand: a preview of the last seven days (rendered, nothing sent)
//! and "send now" (queued like a scheduled one, to the effective target channels). The
//! scheduled ones are queued by the `SummaryScheduler` actor; the work is
//! `pipeline::summary`'s.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::super::Services;
use super::{ensure_exists, ConfigError, Scope};
use crate::db::models::audit::AuditEntry;
use crate::db::write_tx;
use crate::domain::access::Principal;
use crate::domain::summary::last_seven_days;
use crate::pipeline::effective::load_effective;
use crate::pipeline::events::{Payload, WeeklySummaryPayload};
use crate::pipeline::message_names::names_of;
use crate::pipeline::summary::{self, display_zone, Queued, SummaryScope};

/// A summary's period.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodView {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// `POST …/slack/summary/preview`: the message as Slack would receive it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SummaryPreview {
    pub period: PeriodView,
    /// The headline block(s).
    #[schema(value_type = Vec<Object>)]
    pub blocks: serde_json::Value,
    /// The figures' lines behind the colour bar (`[{"color", "blocks"}]`).
    #[schema(value_type = Vec<Object>)]
    pub attachments: serde_json::Value,
    /// The notification text (the headline).
    pub text: String,
}

fn summary_scope(scope: &Scope) -> SummaryScope {
    SummaryScope {
        org: scope.org().as_str().to_owned(),
        project: scope.project().map(|p| p.as_str().to_owned()),
    }
}

/// The summary of the last seven days up to now, rendered; nothing is sent.
pub async fn preview_summary(
    services: &Services,
    scope: &Scope,
) -> Result<SummaryPreview, ConfigError> {
    let (s, now, renderer) = (scope.clone(), Utc::now(), services.renderer.clone());
    // Rendered on the reads pool's thread too: all of a preview's work runs where it gives
    // way to ingest and delivery at once (`db::pool`, `SCHED_IDLE`).
    let (period, rendered) = services
        .reads
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let target = summary_scope(&s);
            let effective = load_effective(conn, &target.org, target.project.as_deref())?;
            let figures = summary::gather(conn, &target, last_seven_days(now))?;
            let names = names_of(conn, &target.org, target.project.as_deref().unwrap_or(""))?;
            let payload = WeeklySummaryPayload {
                figures,
                timezone: display_zone(effective.summary.value.as_ref()),
            };
            let period = payload.figures.period;
            let rendered =
                renderer.render_event(&Payload::WeeklySummary(payload), &names, false)?;
            Ok::<_, ConfigError>((period, rendered))
        })
        .await?;
    Ok(SummaryPreview {
        period: PeriodView {
            from: period.from,
            to: period.to,
        },
        blocks: rendered.blocks,
        attachments: rendered.attachments.unwrap_or_else(|| json!([])),
        text: rendered.text,
    })
}

/// Queues the summary of the last seven days to the scope's effective target channels
/// now (409 `incomplete_config` when there is nowhere to send it).
pub async fn send_summary_now(
    services: &Services,
    actor: &Principal,
    scope: &Scope,
) -> Result<(), ConfigError> {
    let (s, now, actor) = (scope.clone(), Utc::now(), actor.actor());
    services
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let target = summary_scope(&s);
            let effective = load_effective(conn, &target.org, target.project.as_deref())?;
            if !effective.complete() {
                let missing = effective.missing();
                return Err(ConfigError::Incomplete {
                    message: format!(
                        "the Slack configuration is incomplete (missing: {}), so there is \
                         nowhere to send the summary",
                        missing.join(", ")
                    ),
                    missing,
                });
            }
            let figures = summary::gather(conn, &target, last_seven_days(now))?;
            let zone = display_zone(effective.summary.value.as_ref());
            let queued = summary::queue(conn, &target, figures, &zone, &effective, true)?;
            if let Queued::Queued { channels } = &queued {
                write_tx(conn, |c| {
                    AuditEntry::insert(
                        c,
                        &actor,
                        &target.org,
                        target.project.as_deref(),
                        "summary.send",
                        &json!({ "channels": channels.len() }),
                    )
                })?;
            }
            Ok(())
        })
        .await
}

//! Loading what one delivery needs from the database (its event, installation, thread,
//! incident controls, the digest behind it), or the reason it cannot be sent at all.

use std::sync::Arc;

use super::prerender;
use super::SenderConfig;
use crate::db::models::delivery::{Address, Delivery};
use crate::db::models::event::EventRow;
use crate::db::models::installation::Installation;
use crate::db::models::slack_thread::SlackThread;
use crate::db::{now, DbConnection, DbError};
use crate::domain::delivery_reason::DeliveryReason;
use crate::domain::incident::Controls;
use crate::domain::settings::IntegrationStatus;
use crate::pipeline::digest;
use crate::pipeline::events::Payload;
use crate::pipeline::message_names::installation_and_names;
use crate::pipeline::render::MessageNames;
use crate::pipeline::render::Pinned;
use crate::pipeline::{baselines, incidents};

/// Everything a delivery needs from the database.
pub(crate) struct Prepared {
    pub(super) payload: Arc<Payload>,
    pub(super) names: MessageNames,
    pub(super) installation: Installation,
    pub(super) thread: Option<SlackThread>,
    /// An incident's acknowledgement and mute (for its card).
    pub(super) controls: Option<Controls>,
    /// A run card's: the run is its definition's pinned baseline.
    pub(super) pinned: Option<Pinned>,
    /// Waiting deliveries of the channel that go out with this one as a digest.
    pub(super) digest: Vec<digest::Merged>,
    /// Its message, rendered while its transaction still wrote (see [`prerender`]).
    pub(super) prerendered: Option<prerender::Slot>,
}

impl Prepared {
    /// What rendering ahead needs of it (no digest: a prerender is of a delivery heading
    /// none).
    pub(super) fn for_render(&self) -> Self {
        Self {
            payload: self.payload.clone(),
            names: self.names.clone(),
            installation: self.installation.clone(),
            thread: self.thread.clone(),
            controls: self.controls.clone(),
            pinned: self.pinned.clone(),
            digest: Vec::new(),
            prerendered: None,
        }
    }

    /// Whether `other` loaded the same (its payload, digest and a message rendered ahead
    /// aside): the debug check of `prerender::assert_unchanged`.
    #[cfg(debug_assertions)]
    pub(super) fn same_load(&self, other: &Self) -> bool {
        let (i, j) = (&self.installation, &other.installation);
        let installation = (&i.id, &i.org_id, &i.project_id, &i.team_id, &i.bot_token)
            == (&j.id, &j.org_id, &j.project_id, &j.team_id, &j.bot_token)
            && (
                i.status,
                &i.status_reason,
                &i.refresh_token,
                i.token_expires_at,
            ) == (
                j.status,
                &j.status_reason,
                &j.refresh_token,
                j.token_expires_at,
            )
            && (i.updated_at, i.failing_since, i.next_probe_at)
                == (j.updated_at, j.failing_since, j.next_probe_at);
        let thread = |p: &Self| {
            p.thread
                .as_ref()
                .map(|t| (t.parent_ts.clone(), t.card.clone()))
        };
        installation
            && self.names == other.names
            && thread(self) == thread(other)
            && self.controls == other.controls
            && self.pinned == other.pinned
    }
}

/// `Ok(Err(reason))`: the delivery fails for `reason` without calling Slack. `known`: the
/// payload of `d`'s event when the caller has it (the hand-off, in the transaction that
/// stored the event); otherwise the event is read. `queued_behind`: whether deliveries may
/// wait behind `d` in its channel (`false` when its claim saw none: no digest to look for).
pub(super) fn prepare(
    conn: &mut DbConnection,
    d: &Delivery,
    config: &SenderConfig,
    known: Option<Arc<Payload>>,
    queued_behind: bool,
) -> Result<Result<Prepared, DeliveryReason>, DbError> {
    let payload = match known {
        Some(payload) => payload,
        None => {
            let Some(event) = EventRow::find_by_id(conn, &d.event_id)? else {
                return Ok(Err(DeliveryReason::EventGone));
            };
            let Ok(payload) = serde_json::from_str::<Payload>(&event.payload) else {
                return Ok(Err(DeliveryReason::EventUnreadable));
            };
            Arc::new(payload)
        }
    };
    let mut prepared = load(conn, d.address(), payload)?;
    if let Ok(p) = &mut prepared {
        add_digest(conn, d, config, p, queued_behind)?;
    }
    Ok(prepared)
}

/// What a delivery to `to` of an event with `payload` needs but its digest: its
/// installation, the names, and with threads its thread, incident controls and pinned
/// baseline.
pub(super) fn load(
    conn: &mut DbConnection,
    to: Address<'_>,
    payload: Arc<Payload>,
) -> Result<Result<Prepared, DeliveryReason>, DbError> {
    let Some(installation_id) = to.installation_id else {
        return Ok(Err(DeliveryReason::NoIntegration));
    };
    let found = installation_and_names(conn, installation_id, to.org_id, to.project_id)?;
    let Some((installation, names)) = found else {
        return Ok(Err(DeliveryReason::IntegrationRemoved));
    };
    if installation.status() != IntegrationStatus::Active {
        let code = installation
            .status_reason
            .clone()
            .unwrap_or_else(|| "revoked".into());
        return Ok(Err(DeliveryReason::IntegrationBroken { code }));
    }
    let (thread, controls, pinned) = if to.threads {
        (
            SlackThread::find(conn, to.subject_key, &installation.team_id, to.channel)?,
            incidents::controls_for(conn, to.subject_key)?,
            baselines::pinned_for(conn, to.subject_key)?,
        )
    } else {
        (None, None, None)
    };
    Ok(Ok(Prepared {
        payload,
        names,
        installation,
        thread,
        controls,
        pinned,
        digest: Vec::new(),
        prerendered: None,
    }))
}

/// The waiting deliveries of `d`'s channel that go out with it as a digest. A reply under
/// an existing card never heads a digest, nor does a delivery with nothing behind it
/// (`queued_behind`): no need to look behind them.
pub(super) fn add_digest(
    conn: &mut DbConnection,
    d: &Delivery,
    config: &SenderConfig,
    p: &mut Prepared,
    queued_behind: bool,
) -> Result<(), DbError> {
    if p.thread.is_some() || !queued_behind {
        return Ok(());
    }
    p.digest = digest::batch(
        conn,
        d,
        &p.payload,
        &p.names,
        (config.digest_after, config.pacing.interval),
        now(),
    )?;
    Ok(())
}

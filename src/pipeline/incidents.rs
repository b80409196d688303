//! People acting on monitoring incidents: a click on an incident card's button (Slack's
//! interactivity requests, `services::slack_interactions`) or an admin ending a mute (web
//! UI, API). One transaction records the action, the audit entry, the edits of every card
//! of the incident (`card_edits`) and the one-line reply in the thread (an outbox row), so
//! an action acknowledged to Slack is never lost. The rules are in `domain::incident`.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::effective::with_active_integration;
use super::events::{IncidentActionPayload, Payload};
use super::render::CardControls;
use crate::crypto::Cipher;
use crate::db::models::audit::AuditEntry;
use crate::db::models::card_edit::{CardEdit, CardPlace};
use crate::db::models::delivery::{Delivery, DeliveryStatus, NewDelivery};
use crate::db::models::event::{EventRow, PAYLOAD_COLUMN};
use crate::db::models::installation::Installation;
use crate::db::models::scenario::ScenarioRow;
use crate::db::models::scenario_controls::{ControlsRow, MuteListing};
use crate::db::models::slack_action::{ActionKey, SlackAction};
use crate::db::models::slack_thread::SlackThread;
use crate::db::unreadable::write_json;
use crate::db::DbConnection;
use crate::domain::delivery_reason::DeliveryReason;
use crate::domain::ids::{EventId, EventKey, SubjectKey, SubjectKind};
use crate::domain::incident::{Action, Actor, Applied, Controls, Refusal};
use crate::domain::settings::Integration;

mod card_ref;
pub use card_ref::{card_reference, CardRef};

/// A click on a button of an incident card, as Slack sent it (signature verified), or a
/// submitted "Mute for…" dialog (which names the card the same way).
#[derive(Debug, Clone)]
pub struct Click {
    pub card: CardRef,
    pub user: Actor,
    pub action: Action,
    /// Slack's time of the click (with the rest, it makes a replay recognisable); for a
    /// dialog, `view:` and the view's ID (one mute per dialog).
    pub action_ts: String,
    /// A mute's reason, as typed in the dialog (checked: `domain::incident::mute_comment`).
    pub comment: Option<String>,
}

/// What a click did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClickOutcome {
    /// Recorded: the cards are being edited and the thread gets a reply. The channels to
    /// wake the sender for.
    Applied { channels: Vec<(String, String)> },
    /// The same click again (a replayed request): nothing changes.
    Duplicate,
    /// Nothing to do; the person who clicked is told why (an ephemeral message).
    Told(Refusal),
    /// Not a card of ours in a workspace we serve: refused, nothing changes.
    Refused(&'static str),
}

/// The controls of the incident a card shows (`None` for load-test cards). Call where
/// the card is rendered, with the same connection that loaded it.
pub fn controls_for(
    conn: &mut DbConnection,
    subject_key: &str,
) -> diesel::QueryResult<Option<Controls>> {
    let Some((scenario, incident)) = SubjectKey::incident_of(subject_key) else {
        return Ok(None);
    };
    let row = ControlsRow::find(conn, scenario)?;
    Ok(Some(match row {
        Some(r) if r.incident == incident => r.controls(),
        _ => Controls::none(incident),
    }))
}

/// What the renderer needs to draw a card's controls and buttons.
pub fn card_controls(
    cipher: &Cipher,
    controls: Option<Controls>,
    subject_key: &str,
    team_id: &str,
    channel: &str,
) -> Option<CardControls> {
    controls.map(|controls| CardControls {
        controls,
        reference: card_reference(cipher, subject_key, team_id, channel),
        now: Utc::now(),
    })
}

/// Why a scenario's change at `now` is not sent (its incident is muted), if it is. The
/// recovery is always sent, and it ends the mute. Call inside the ingest transaction.
pub fn mute_reason(
    conn: &mut DbConnection,
    scenario_id: &str,
    incident: i64,
    recovery: bool,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<DeliveryReason>> {
    let Some(row) = ControlsRow::find(conn, scenario_id)? else {
        return Ok(None);
    };
    let controls = row.controls();
    if recovery && controls.incident == incident && controls.mute.is_some() {
        // The recovery ends the mute (the next incident starts unmuted).
        let mut ended = controls.clone();
        ended.mute = None;
        ControlsRow::save(
            conn,
            &ControlsRow::of(&row.scenario_id, &row.org_id, &row.project_id, &ended),
        )?;
    }
    Ok(controls.mute_reason(incident, recovery, now))
}

/// The key that makes a replayed click recognisable.
fn action_key(c: &Click) -> ActionKey {
    ActionKey::click(&[
        &c.card.team_id,
        &c.user.id,
        &c.card.channel_id,
        &c.card.message_ts,
        c.action.action_id(),
        &c.action_ts,
    ])
}

/// An incident card a click named, checked: the workspace has an active installation,
/// the message is a card xtc-slack posted in that workspace's channel, and the reference
/// matches it.
struct CheckedCard {
    thread: SlackThread,
    scenario: ScenarioRow,
    incident: i64,
}

/// Checks the card `card` names (see [`CheckedCard`]); `Err` says why it is refused.
fn check_card(
    conn: &mut DbConnection,
    cipher: &Cipher,
    card: &CardRef,
) -> diesel::QueryResult<Result<CheckedCard, &'static str>> {
    if !Installation::team_is_active(conn, &card.team_id)? {
        return Ok(Err("no active installation in this workspace"));
    }
    let named = card.channel_name.as_deref().map(|n| format!("#{n}"));
    let thread = SlackThread::find_by_parent(conn, &card.team_id, &card.message_ts)?
        .into_iter()
        .find(|t| t.channel == card.channel_id || Some(&t.channel) == named.as_ref());
    let Some(thread) = thread else {
        return Ok(Err("not a card of this workspace's channel"));
    };
    let expected = card_reference(
        cipher,
        &thread.subject_key,
        &thread.team_id,
        &thread.channel,
    );
    if !bool::from(expected.as_bytes().ct_eq(card.value.as_bytes())) {
        return Ok(Err("the button's reference does not match its card"));
    }
    let Some((scenario_id, incident)) = SubjectKey::incident_of(&thread.subject_key) else {
        return Ok(Err("not an incident card"));
    };
    let Some(scenario) = ScenarioRow::find_by_id(conn, scenario_id)? else {
        return Ok(Err("the scenario is gone"));
    };
    Ok(Ok(CheckedCard {
        thread,
        scenario,
        incident,
    }))
}

/// Whether the checked card's incident is still open.
fn is_open(card: &CheckedCard) -> bool {
    card.scenario.incident == card.incident && card.scenario.failing_since.is_some()
}

/// What a "Mute for…" click may do: open the dialog, with the installation whose bot
/// posted the card (its token opens the dialog) and the scenario's name.
#[derive(Debug)]
pub enum DialogTarget {
    Open {
        installation: Box<Installation>,
        scenario_name: String,
    },
    /// Nothing to mute; the person who clicked is told why.
    Told(Refusal),
    /// Not a card of ours in a workspace we serve.
    Refused(&'static str),
}

/// Checks a "Mute for…" click before its dialog opens. Reads only: opening a dialog
/// changes nothing (its submission is applied by [`apply_click`]).
pub fn mute_dialog_target(
    conn: &mut DbConnection,
    cipher: &Cipher,
    card: &CardRef,
) -> diesel::QueryResult<DialogTarget> {
    let checked = match check_card(conn, cipher, card)? {
        Ok(c) => c,
        Err(why) => return Ok(DialogTarget::Refused(why)),
    };
    if !is_open(&checked) {
        return Ok(DialogTarget::Told(Refusal::Ended));
    }
    let scenario = &checked.scenario;
    let integration = with_active_integration(conn, &scenario.org_id, &scenario.project_id)?
        .map(|(_, i)| i)
        .filter(|i| i.team_id == card.team_id);
    let installation = match integration {
        Some(i) => Installation::find_by_id(conn, &i.installation_id)?,
        None => None,
    };
    Ok(match installation {
        Some(installation) => DialogTarget::Open {
            installation: Box::new(installation),
            scenario_name: scenario.name.clone(),
        },
        None => DialogTarget::Refused("the card's project has no integration in this workspace"),
    })
}

/// Applies a click. Call inside `write_tx`: the action, its audit entry, the card edits and
/// the reply commit together or not at all.
pub fn apply_click(
    conn: &mut DbConnection,
    cipher: &Cipher,
    click: &Click,
    now: DateTime<Utc>,
) -> diesel::QueryResult<ClickOutcome> {
    let checked = match check_card(conn, cipher, &click.card)? {
        Ok(c) => c,
        Err(why) => return Ok(ClickOutcome::Refused(why)),
    };
    let now_naive = now.naive_utc();
    if !SlackAction::record(conn, &action_key(click), now_naive)? {
        return Ok(ClickOutcome::Duplicate);
    }
    if !is_open(&checked) {
        return Ok(ClickOutcome::Told(Refusal::Ended));
    }
    let card = &click.card;
    let channels = act(
        conn,
        &checked.scenario,
        Doing {
            action: click.action,
            by: &click.user,
            comment: click.comment.as_deref(),
        },
        &format!("{} (slack:{})", click.user.name, click.user.id),
        json!({"team_id": card.team_id, "channel": card.channel_id, "message_ts": card.message_ts}),
        Replies::In(&checked.thread, &card.channel_id),
        now,
    )?;
    Ok(match channels {
        Ok(channels) => ClickOutcome::Applied { channels },
        Err(refusal) => ClickOutcome::Told(refusal),
    })
}

/// Ends the mute of a scenario's current incident (an admin in the web UI or the API).
/// `Ok(None)` when it is not muted; `Ok(Some(channels to wake))` when it was. Call inside
/// `write_tx`.
pub fn end_mute(
    conn: &mut DbConnection,
    org: &str,
    project: &str,
    scenario_id: &str,
    admin: &Actor,
    audit_actor: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<Vec<(String, String)>>> {
    let scenario = ScenarioRow::find_by_id(conn, scenario_id)?
        .filter(|s| s.org_id == org && s.project_id == project && s.failing_since.is_some());
    let Some(scenario) = scenario else {
        return Ok(None);
    };
    let done = act(
        conn,
        &scenario,
        Doing {
            action: Action::Unmute,
            by: admin,
            comment: None,
        },
        audit_actor,
        json!({"via": "xtc-slack"}),
        Replies::AllThreads,
        now,
    )?;
    Ok(done.ok())
}

/// Active mutes of an organization's open incidents (one project, or all of them).
pub fn active_mutes(
    conn: &mut DbConnection,
    org: &str,
    project: Option<&str>,
    now: NaiveDateTime,
) -> diesel::QueryResult<Vec<MuteListing>> {
    ControlsRow::active_mutes(conn, org, project, now)
}

/// Where the one-line reply about an action goes.
enum Replies<'a> {
    /// The thread whose card was clicked, and the channel ID the click came from.
    In(&'a SlackThread, &'a str),
    /// Every thread of the incident (an action taken outside Slack).
    AllThreads,
}

/// Queues an edit of every card of the scenario's current incident in the project's
/// workspace (they are rendered with the incident's controls when sent); `clicked` is the
/// card a click came from, with the channel ID the click named. Returns the project's active
/// integration, its compact setting and the cards; `None` without an active integration.
fn edit_cards(
    conn: &mut DbConnection,
    scenario: &ScenarioRow,
    clicked: Option<(&SlackThread, &str)>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<(Integration, bool, Vec<SlackThread>)>> {
    let (org, project) = (scenario.org_id.as_str(), scenario.project_id.as_str());
    // Where the incident's cards are, and with which installation they are edited: the
    // project's current integration, when it is in the card's workspace.
    let Some((effective, integration)) = with_active_integration(conn, org, project)? else {
        return Ok(None);
    };
    let compact = effective.compact_messages.value;
    let subject_key = SubjectKey::incident(&scenario.id, scenario.incident);
    let threads: Vec<SlackThread> = SlackThread::list_for_subject(conn, subject_key.as_str())?
        .into_iter()
        .filter(|t| t.team_id == integration.team_id)
        .collect();
    let now_naive = now.naive_utc();
    for t in &threads {
        // `chat.update` needs the channel's ID; a card posted to a `#name` address has it
        // only from the click (or from an earlier edit, which `upsert` keeps).
        let slack_channel = match (clicked, t.channel.starts_with('#')) {
            (Some((c, id)), true) if c.channel == t.channel => id.to_owned(),
            _ => t.channel.clone(),
        };
        let place = CardPlace {
            subject_key: &t.subject_key,
            team_id: &t.team_id,
            channel: &t.channel,
            slack_channel: &slack_channel,
            installation_id: &integration.installation_id,
            org_id: org,
            project_id: project,
            compact,
        };
        CardEdit::upsert(conn, &CardEdit::due_now(&place, t.card.clone(), now_naive))?;
    }
    Ok(Some((integration, compact, threads)))
}

/// Ends the timed mutes whose time is up, so the incident's cards stop showing them (and
/// their buttons are Mute again). Returns how many ended. Call inside `write_tx`.
pub fn expire_mutes(conn: &mut DbConnection, now: DateTime<Utc>) -> diesel::QueryResult<usize> {
    let expired = ControlsRow::expired_mutes(conn, now.naive_utc())?;
    for row in &expired {
        let mut controls = row.controls();
        controls.mute = None;
        ControlsRow::save(
            conn,
            &ControlsRow::of(&row.scenario_id, &row.org_id, &row.project_id, &controls),
        )?;
        let open = ScenarioRow::find_by_id(conn, &row.scenario_id)?
            .filter(|s| s.incident == row.incident && s.failing_since.is_some());
        if let Some(scenario) = open {
            edit_cards(conn, &scenario, None, now)?;
        }
    }
    Ok(expired.len())
}

/// What someone does to an incident: the action, who, and a mute's reason.
struct Doing<'a> {
    action: Action,
    by: &'a Actor,
    comment: Option<&'a str>,
}

/// Applies `action` to the scenario's open incident; on a change saves it, audits it,
/// queues the edit of every card of the incident and the reply. `Err(refusal)` changes
/// nothing.
fn act(
    conn: &mut DbConnection,
    scenario: &ScenarioRow,
    doing: Doing<'_>,
    audit_actor: &str,
    audit_details: serde_json::Value,
    replies: Replies<'_>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Result<Vec<(String, String)>, Refusal>> {
    let Doing {
        action,
        by,
        comment,
    } = doing;
    let incident = scenario.incident;
    let mut controls = match ControlsRow::find(conn, &scenario.id)? {
        Some(r) if r.incident == incident => r.controls(),
        _ => Controls::none(incident),
    };
    if let Applied::Refused(refusal) = controls.apply_with(action, by, now, comment) {
        return Ok(Err(refusal));
    }
    let (org, project) = (scenario.org_id.as_str(), scenario.project_id.as_str());
    ControlsRow::save(
        conn,
        &ControlsRow::of(&scenario.id, org, project, &controls),
    )?;
    let until = controls.mute.as_ref().and_then(|m| m.until);
    let mut details = audit_details;
    details["scenario"] = json!(scenario.id);
    details["incident"] = json!(incident);
    details["user_id"] = json!(by.id);
    details["user_name"] = json!(by.name);
    if let (Action::Mute(_), Some(u)) = (action, until) {
        details["until"] = json!(u.to_rfc3339());
    }
    if let (Action::Mute(_), Some(c)) = (action, comment) {
        details["reason"] = json!(c);
    }
    AuditEntry::insert(
        conn,
        audit_actor,
        org,
        Some(project),
        action.audit_name(),
        &details,
    )?;

    let clicked = match &replies {
        Replies::In(t, id) => Some((*t, *id)),
        Replies::AllThreads => None,
    };
    let Some((integration, compact, threads)) = edit_cards(conn, scenario, clicked, now)? else {
        return Ok(Ok(Vec::new()));
    };
    let now_naive = now.naive_utc();

    // The reply: an event of the scenario and one outbox row per thread it goes to.
    let reply_threads: Vec<&SlackThread> = match replies {
        Replies::In(t, _) => vec![t],
        Replies::AllThreads => threads.iter().collect(),
    };
    if reply_threads.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let payload = Payload::IncidentAction(IncidentActionPayload {
        scenario_id: scenario.id.clone(),
        name: scenario.name.clone(),
        incident,
        action,
        by: by.clone(),
        at: now,
        until: until.filter(|_| matches!(action, Action::Mute(_))),
        comment: comment
            .filter(|_| matches!(action, Action::Mute(_)))
            .map(str::to_owned),
    });
    let event_type = match action {
        Action::Acknowledge => "incident_acknowledged",
        Action::Mute(_) => "incident_muted",
        Action::Unmute => "incident_unmuted",
    };
    let stamp = format!(
        "{}-{}",
        event_type,
        &hex::encode(Sha256::digest(
            format!(
                "{}\0{}\0{}",
                by.id,
                now.timestamp_nanos_opt().unwrap_or_default(),
                incident
            )
            .as_bytes()
        ))[..16]
    );
    let event_id = EventId::parse(&stamp).unwrap_or_else(|_| unreachable!("ASCII, under 128"));
    let key = EventKey::new(SubjectKind::Scenario, &scenario.id, &event_id);
    EventRow::insert(
        conn,
        &EventRow {
            event_id: key.as_str().to_owned(),
            subject_kind: SubjectKind::Scenario,
            subject_id: scenario.id.clone(),
            org_id: org.to_owned(),
            project_id: project.to_owned(),
            event_type: event_type.to_owned(),
            occurred_at: now_naive,
            payload: write_json(PAYLOAD_COLUMN, &payload, "null"),
            resulting_state: scenario.state.as_str().to_owned(),
            received_at: now_naive,
            body_sha256: None,
        },
    )?;
    // The log names the reply's channel as it names the card's (the thread has only its ID).
    let mut names = Vec::with_capacity(reply_threads.len());
    for t in &reply_threads {
        names.push(Delivery::shown_channel_name(
            conn,
            &t.subject_key,
            &t.team_id,
            &t.channel,
        )?);
    }
    let rows: Vec<NewDelivery> = reply_threads
        .iter()
        .zip(names)
        .map(|(t, channel_name)| NewDelivery {
            event_id: key.as_str().to_owned(),
            org_id: org.to_owned(),
            project_id: project.to_owned(),
            subject_key: t.subject_key.clone(),
            event_type: event_type.to_owned(),
            channel: t.channel.clone(),
            channel_name,
            team_id: Some(t.team_id.clone()),
            installation_id: Some(integration.installation_id.clone()),
            threads: true,
            compact,
            status: DeliveryStatus::Pending,
            error: None,
            next_attempt_at: now_naive,
            created_at: now_naive,
            mention: None,
            rule: None,
            reason: None,
            hold_id: None,
        })
        .collect();
    Delivery::insert_all(conn, &rows)?;
    Ok(Ok(rows
        .into_iter()
        .map(|r| (r.team_id.unwrap_or_default(), r.channel))
        .collect()))
}

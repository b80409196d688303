//! Pinning and unpinning a definition's baseline run: an admin (API, web UI) or anyone in
//! the workspace from a reported run's card ("Set as baseline"). One transaction saves the
//! pin, audits it, queues the edits of the old and the new baseline's cards (the old one no
//! longer says it is the baseline) and, for a click, the one-line reply under the card.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::effective::{load_effective, with_active_integration};
use super::events::{BaselineSetPayload, Payload};
use super::render::Pinned;
use super::reports::baseline_run;
use crate::db::models::audit::AuditEntry;
use crate::db::models::card_edit::{CardEdit, CardPlace};
use crate::db::models::delivery::{Delivery, DeliveryStatus, NewDelivery};
use crate::db::models::event::{EventRow, PAYLOAD_COLUMN};
use crate::db::models::installation::Installation;
use crate::db::models::load_test::LoadTestRow;
use crate::db::models::run_report::{BaselineRow, RunReport};
use crate::db::models::slack_action::{ActionKey, SlackAction};
use crate::db::models::slack_thread::SlackThread;
use crate::db::unreadable::{read_json, write_json};
use crate::db::DbConnection;
use crate::domain::ids::{EventId, EventKey, SubjectKey, SubjectKind};
use crate::domain::incident::Actor;
use crate::domain::report::BaselineRun;
use crate::domain::settings::IntegrationStatus;

/// Why a run cannot become a baseline (nothing changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinRefusal {
    #[error("load test {0:?} is not a run of this project")]
    UnknownRun(String),
    #[error(
        "load test {0:?} has no final report with figures; only a reported run can be a baseline"
    )]
    NoFinalSummary(String),
    #[error("load test {load_test:?} is a run of the definition {actual:?}, not {asked:?}")]
    OtherDefinition {
        load_test: String,
        asked: String,
        actual: String,
    },
}

/// A definition of a project with its baseline and its newest run (the project's page).
#[derive(Debug, Clone)]
pub struct DefinitionListing {
    pub definition: String,
    pub latest: BaselineRun,
    pub baseline: Option<(BaselineRow, Option<BaselineRun>)>,
}

/// Who pins: the audit log's actor and the name the card shows.
#[derive(Debug, Clone)]
pub struct PinnedBy<'a> {
    pub audit_actor: &'a str,
    pub shown: &'a str,
}

/// The pinned baselines of a project with the pinned runs' figures.
pub fn list(
    conn: &mut DbConnection,
    scope: (&str, &str),
) -> diesel::QueryResult<Vec<(BaselineRow, Option<BaselineRun>)>> {
    let mut out = Vec::new();
    for row in BaselineRow::list(conn, scope)? {
        let run = RunReport::find(conn, &row.load_test_id)?.map(|r| baseline_run(&r, true));
        out.push((row, run));
    }
    Ok(out)
}

/// The definitions of a project that have reported runs (among the newest `limit`), newest
/// run first, each with its baseline.
pub fn definitions(
    conn: &mut DbConnection,
    scope: (&str, &str),
    limit: i64,
) -> diesel::QueryResult<Vec<DefinitionListing>> {
    let mut pinned = list(conn, scope)?;
    let mut out: Vec<DefinitionListing> = Vec::new();
    for r in RunReport::recent(conn, scope, limit)? {
        if out.iter().any(|d| d.definition == r.definition) {
            continue;
        }
        let baseline = pinned
            .iter()
            .position(|(b, _)| b.definition == r.definition)
            .map(|i| pinned.swap_remove(i));
        out.push(DefinitionListing {
            definition: r.definition.clone(),
            latest: baseline_run(&r, false),
            baseline,
        });
    }
    Ok(out)
}

/// Makes `load_test_id` the baseline of its definition (`definition`: the one the caller
/// named, which must be the run's). `Ok(Ok(previous baseline))`; pinning the current
/// baseline again changes nothing. Call inside `write_tx`.
pub fn pin(
    conn: &mut DbConnection,
    (org, project): (&str, &str),
    definition: Option<&str>,
    load_test_id: &str,
    by: &PinnedBy<'_>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Result<Option<String>, PinRefusal>> {
    let run =
        RunReport::find(conn, load_test_id)?.filter(|r| r.org_id == org && r.project_id == project);
    let Some(run) = run else {
        let known = LoadTestRow::find_by_id(conn, load_test_id)?
            .is_some_and(|r| r.org_id == org && r.project_id == project);
        return Ok(Err(if known {
            PinRefusal::NoFinalSummary(load_test_id.to_owned())
        } else {
            PinRefusal::UnknownRun(load_test_id.to_owned())
        }));
    };
    if let Some(asked) = definition.filter(|d| *d != run.definition) {
        return Ok(Err(PinRefusal::OtherDefinition {
            load_test: load_test_id.to_owned(),
            asked: asked.to_owned(),
            actual: run.definition,
        }));
    }
    let old = BaselineRow::find(conn, (org, project), &run.definition)?;
    if old.as_ref().is_some_and(|o| o.load_test_id == load_test_id) {
        return Ok(Ok(Some(load_test_id.to_owned())));
    }
    BaselineRow::save(
        conn,
        &BaselineRow {
            org_id: org.to_owned(),
            project_id: project.to_owned(),
            definition: run.definition.clone(),
            load_test_id: load_test_id.to_owned(),
            set_by: by.shown.to_owned(),
            set_at: now.naive_utc(),
        },
    )?;
    let previous = old.map(|o| o.load_test_id);
    AuditEntry::insert(
        conn,
        by.audit_actor,
        org,
        Some(project),
        "baseline.set",
        &serde_json::json!({
            "definition": run.definition,
            "load_test_id": load_test_id,
            "previous": previous,
        }),
    )?;
    if let Some(old) = &previous {
        mark_cards(conn, old, now)?;
    }
    mark_cards(conn, load_test_id, now)?;
    Ok(Ok(previous))
}

/// Unpins the baseline of `definition`; returns whether there was one. Call inside
/// `write_tx`.
pub fn unpin(
    conn: &mut DbConnection,
    (org, project): (&str, &str),
    definition: &str,
    audit_actor: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<bool> {
    let Some(old) = BaselineRow::find(conn, (org, project), definition)? else {
        return Ok(false);
    };
    BaselineRow::delete(conn, (org, project), definition)?;
    AuditEntry::insert(
        conn,
        audit_actor,
        org,
        Some(project),
        "baseline.unset",
        &serde_json::json!({"definition": definition, "load_test_id": old.load_test_id}),
    )?;
    mark_cards(conn, &old.load_test_id, now)?;
    Ok(true)
}

/// Whether a run card's run is its definition's pinned baseline (read where the card is
/// rendered, like an incident's controls: never stored with the card).
pub fn pinned_for(
    conn: &mut DbConnection,
    subject_key: &str,
) -> diesel::QueryResult<Option<Pinned>> {
    let Some(load_test_id) = SubjectKey::load_test_of(subject_key) else {
        return Ok(None);
    };
    Ok(BaselineRow::of_run(conn, load_test_id)?.map(|b| Pinned {
        by: b.set_by,
        at: b.set_at.and_utc(),
    }))
}

/// Queues the edit of every card of the run (in its project's current workspace), which
/// then shows whether it is the baseline ([`pinned_for`]).
fn mark_cards(
    conn: &mut DbConnection,
    load_test_id: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    let Some(run) = LoadTestRow::find_by_id(conn, load_test_id)? else {
        return Ok(());
    };
    let Some((effective, integration)) =
        with_active_integration(conn, &run.org_id, &run.project_id)?
    else {
        return Ok(());
    };
    let subject_key = SubjectKey::load_test(load_test_id);
    for t in SlackThread::list_for_subject(conn, subject_key.as_str())? {
        if t.team_id != integration.team_id {
            continue;
        }
        let place = CardPlace {
            subject_key: &t.subject_key,
            team_id: &t.team_id,
            channel: &t.channel,
            slack_channel: &t.channel,
            installation_id: &integration.installation_id,
            org_id: &run.org_id,
            project_id: &run.project_id,
            compact: effective.compact_messages.value,
        };
        CardEdit::upsert(
            conn,
            &CardEdit::due_now(&place, t.card.clone(), now.naive_utc()),
        )?;
    }
    Ok(())
}

/// A click on "Set as baseline", as Slack sent it (signature verified).
#[derive(Debug, Clone)]
pub struct BaselineClick {
    pub team_id: String,
    pub channel_id: String,
    pub message_ts: String,
    pub user: Actor,
    /// The button's value: the run.
    pub load_test_id: String,
    pub action_ts: String,
}

/// What a click did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineClickOutcome {
    /// Pinned; the channels to wake the sender for (the reply).
    Applied { channels: Vec<(String, String)> },
    /// The same click again, or the run is the baseline already: nothing changes.
    Unchanged,
    /// Nothing to do; the person who clicked is told why.
    Told(String),
    /// Not a message of ours in a workspace we serve.
    Refused(&'static str),
}

fn click_key(c: &BaselineClick) -> ActionKey {
    ActionKey::click(&[
        &c.team_id,
        &c.user.id,
        &c.channel_id,
        &c.message_ts,
        "baseline",
        &c.action_ts,
    ])
}

/// Applies a click on "Set as baseline". Only a message we posted about that run, in a
/// workspace with an active installation, may pin it. Call inside `write_tx`.
pub fn apply_click(
    conn: &mut DbConnection,
    click: &BaselineClick,
    now: DateTime<Utc>,
) -> diesel::QueryResult<BaselineClickOutcome> {
    if !Installation::team_is_active(conn, &click.team_id)? {
        return Ok(BaselineClickOutcome::Refused(
            "no active installation in this workspace",
        ));
    }
    let subject_key = SubjectKey::load_test(&click.load_test_id);
    // The card (threads on) or the message (threads off) the button is on.
    let thread = SlackThread::find_by_parent(conn, &click.team_id, &click.message_ts)?
        .into_iter()
        .find(|t| t.subject_key == subject_key.as_str());
    let (channel, channel_name) = match &thread {
        Some(t) => (t.channel.clone(), None),
        None => match Delivery::posted_message(
            conn,
            subject_key.as_str(),
            &click.team_id,
            &click.message_ts,
        )? {
            Some(found) => found,
            None => {
                return Ok(BaselineClickOutcome::Refused(
                    "not a message of ours about that run",
                ))
            }
        },
    };
    let Some(run) = LoadTestRow::find_by_id(conn, &click.load_test_id)? else {
        return Ok(BaselineClickOutcome::Refused("the load test is gone"));
    };
    if !SlackAction::record(conn, &click_key(click), now.naive_utc())? {
        return Ok(BaselineClickOutcome::Unchanged);
    }
    let audit_actor = format!("{} (slack:{})", click.user.name, click.user.id);
    let by = PinnedBy {
        audit_actor: &audit_actor,
        shown: &click.user.name,
    };
    let scope = (run.org_id.as_str(), run.project_id.as_str());
    let previous = match pin(conn, scope, None, &run.id, &by, now)? {
        Ok(previous) => previous,
        Err(refusal) => return Ok(BaselineClickOutcome::Told(refusal.to_string())),
    };
    if previous.as_deref() == Some(run.id.as_str()) {
        return Ok(BaselineClickOutcome::Told(
            "This run is already the baseline of its definition.".into(),
        ));
    }
    reply(
        conn,
        &run,
        click,
        thread.is_some(),
        (channel, channel_name),
        now,
    )
}

/// The one-line reply: an event of the load test and its outbox row, under the card (threads
/// on) or in the channel.
fn reply(
    conn: &mut DbConnection,
    run: &LoadTestRow,
    click: &BaselineClick,
    threads: bool,
    (channel, channel_name): (String, Option<String>),
    now: DateTime<Utc>,
) -> diesel::QueryResult<BaselineClickOutcome> {
    let effective = load_effective(conn, &run.org_id, Some(&run.project_id))?;
    let Some(integration) = effective
        .integration
        .value
        .filter(|i| i.status == IntegrationStatus::Active && i.team_id == click.team_id)
    else {
        return Ok(BaselineClickOutcome::Applied {
            channels: Vec::new(),
        });
    };
    let payload = Payload::BaselineSet(BaselineSetPayload {
        load_test_id: run.id.clone(),
        name: run.name.clone(),
        definition: run
            .definition_name
            .clone()
            .unwrap_or_else(|| run.definition_key().to_owned()),
        by: click.user.clone(),
        at: now,
    });
    let stamp = format!(
        "baseline_set-{}",
        &hex::encode(Sha256::digest(
            format!(
                "{}\0{}",
                click.user.id,
                now.timestamp_nanos_opt().unwrap_or_default()
            )
            .as_bytes()
        ))[..16]
    );
    let event_id = EventId::parse(&stamp).unwrap_or_else(|_| unreachable!("ASCII, under 128"));
    let key = EventKey::new(SubjectKind::LoadTest, &run.id, &event_id);
    let now_naive = now.naive_utc();
    EventRow::insert(
        conn,
        &EventRow {
            event_id: key.as_str().to_owned(),
            subject_kind: SubjectKind::LoadTest,
            subject_id: run.id.clone(),
            org_id: run.org_id.clone(),
            project_id: run.project_id.clone(),
            event_type: "baseline_set".to_owned(),
            occurred_at: now_naive,
            payload: write_json(PAYLOAD_COLUMN, &payload, "null"),
            resulting_state: run.state.as_str().to_owned(),
            received_at: now_naive,
            body_sha256: None,
        },
    )?;
    let channel_name = match channel_name {
        Some(n) => Some(n),
        None => Delivery::shown_channel_name(
            conn,
            SubjectKey::load_test(&run.id).as_str(),
            &click.team_id,
            &channel,
        )?,
    };
    let row = NewDelivery {
        event_id: key.as_str().to_owned(),
        org_id: run.org_id.clone(),
        project_id: run.project_id.clone(),
        subject_key: SubjectKey::load_test(&run.id).as_str().to_owned(),
        event_type: "baseline_set".to_owned(),
        channel: channel.clone(),
        channel_name,
        team_id: Some(click.team_id.clone()),
        installation_id: Some(integration.installation_id.clone()),
        threads,
        compact: effective.compact_messages.value,
        status: DeliveryStatus::Pending,
        error: None,
        next_attempt_at: now_naive,
        created_at: now_naive,
        mention: None,
        rule: None,
        reason: None,
        hold_id: None,
    };
    Delivery::insert_all(conn, &[row])?;
    Ok(BaselineClickOutcome::Applied {
        channels: vec![(click.team_id.clone(), channel)],
    })
}

/// The summary figures of a stored run, for the API's `summary`.
pub fn summary_of(r: &RunReport) -> crate::pipeline::events::ReportSummary {
    read_json(crate::db::models::run_report::SUMMARY_COLUMN, &r.summary)
}

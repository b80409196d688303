//! What people do with the buttons on our messages (`POST /slack/interactions`), after the
//! handler verified the signature: a click on an incident card's button is applied in one
//! transaction (`pipeline::incidents`) before Slack gets its answer, so a click Slack saw
//! acknowledged is never lost; link buttons need nothing. "Mute for…" opens a dialog
//! (`views.open` within the click's 3 seconds); its submission (`view_submission`) is
//! checked field by field and then applied like a mute button.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::Services;
use crate::db::{write_tx, DbError};
use crate::domain::incident::{self as rules, Action, Actor, MuteChoice, Refusal};
use crate::domain::report::SET_BASELINE_ACTION;
use crate::pipeline::baselines::{self, BaselineClick, BaselineClickOutcome};
use crate::pipeline::incidents::{self, CardRef, Click, ClickOutcome, DialogTarget};
use crate::pipeline::render::mute_dialog::{self, DURATION_BLOCK, REASON_BLOCK, UNTIL_BLOCK};
use crate::slack::{text, SlackError};

mod parse;

pub use parse::*;

/// Applies a "Set as baseline" click durably, like an incident's buttons.
pub async fn apply_baseline(
    services: &Services,
    click: BaselineClick,
) -> Result<BaselineClickOutcome, DbError> {
    let now = chrono::Utc::now();
    services
        .db
        .run(move |conn| {
            write_tx(conn, |c| baselines::apply_click(c, &click, now)).map_err(DbError::from)
        })
        .await
}

/// Applies a click durably (see the module documentation).
pub async fn apply(services: &Services, click: Click) -> Result<ClickOutcome, DbError> {
    let cipher = services.cipher.clone();
    let now = chrono::Utc::now();
    services
        .db
        .run(move |conn| {
            write_tx(conn, |c| incidents::apply_click(c, &cipher, &click, now))
                .map_err(DbError::from)
        })
        .await
}

/// What a "Mute for…" click did.
#[derive(Debug)]
pub enum DialogOutcome {
    /// The dialog is open (Slack's view ID).
    Opened(String),
    /// Nothing to mute; the person who clicked is told why.
    Told(Refusal),
    /// Not a card of ours in a workspace we serve.
    Refused(&'static str),
    /// Slack did not open it (e.g. `expired_trigger_id`: the click is older than 3 s).
    NotOpened(SlackError),
}

/// Opens the "Mute for…" dialog for a click on a card of ours: one read of the database,
/// then `views.open` with the installation's token (both well within the trigger's 3 s).
pub async fn open_mute_dialog(
    services: &Services,
    dialog: &DialogClick,
) -> Result<DialogOutcome, DbError> {
    let cipher = services.cipher.clone();
    let card = dialog.card.clone();
    let target = services
        .db
        .run(move |conn| incidents::mute_dialog_target(conn, &cipher, &card).map_err(DbError::from))
        .await?;
    let (installation, scenario_name) = match target {
        DialogTarget::Open {
            installation,
            scenario_name,
        } => (installation, scenario_name),
        DialogTarget::Told(refusal) => return Ok(DialogOutcome::Told(refusal)),
        DialogTarget::Refused(why) => return Ok(DialogOutcome::Refused(why)),
    };
    let Ok(token) = installation.decrypt_token(&services.cipher) else {
        return Ok(DialogOutcome::Refused(
            "the installation's token cannot be read",
        ));
    };
    let view = mute_dialog::mute_dialog(&dialog.card, &scenario_name);
    Ok(
        match services
            .slack
            .views_open(&token, &dialog.trigger_id, &view)
            .await
        {
            Ok(id) => DialogOutcome::Opened(id),
            Err(e) => DialogOutcome::NotOpened(e),
        },
    )
}

/// What a submitted dialog did.
#[derive(Debug)]
pub enum SubmissionOutcome {
    /// Applied or refused like a click (see [`ClickOutcome`]).
    Done(ClickOutcome),
    /// Fields to correct: block ID → message (the dialog stays open and shows them).
    FieldErrors(BTreeMap<&'static str, String>),
}

/// The mute a submission asks for, or the messages for the fields that are wrong.
fn read_submission(
    sub: &Submission,
    now: DateTime<Utc>,
) -> Result<(Action, Option<String>), BTreeMap<&'static str, String>> {
    let mut errors = BTreeMap::new();
    let until = sub.until.and_then(|s| DateTime::from_timestamp(s, 0));
    let mute = match sub.duration.as_deref().and_then(MuteChoice::parse) {
        None => {
            errors.insert(DURATION_BLOCK, "Pick a duration.".to_owned());
            None
        }
        Some(choice) => match choice.end(until, now) {
            Ok(length) => Some(Action::Mute(length)),
            Err(e) => {
                errors.insert(UNTIL_BLOCK, e.to_string());
                None
            }
        },
    };
    let comment = match rules::mute_comment(sub.reason.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            errors.insert(REASON_BLOCK, e.to_string());
            None
        }
    };
    match mute {
        Some(action) if errors.is_empty() => Ok((action, comment)),
        _ => Err(errors),
    }
}

/// Applies a submitted "Mute for…" dialog: its fields checked first (nothing is stored
/// for a wrong one), then the card it names checked and the mute applied exactly like a
/// mute button's, once per dialog (a replayed submission changes nothing).
pub async fn submit_mute(
    services: &Services,
    sub: Submission,
) -> Result<SubmissionOutcome, DbError> {
    let refused = |why| Ok(SubmissionOutcome::Done(ClickOutcome::Refused(why)));
    if sub.callback_id != mute_dialog::CALLBACK_ID {
        return refused("not a dialog of this service");
    }
    let Some(card) = CardRef::from_metadata(&sub.private_metadata) else {
        return refused("the dialog names no card");
    };
    if card.team_id != sub.team_id {
        return refused("the dialog names a card of another workspace");
    }
    let now = Utc::now();
    let (action, comment) = match read_submission(&sub, now) {
        Ok(read) => read,
        Err(errors) => return Ok(SubmissionOutcome::FieldErrors(errors)),
    };
    let click = Click {
        card,
        user: sub.user,
        action,
        action_ts: format!("view:{}", sub.view_id),
        comment,
    };
    let outcome = apply(services, click).await?;
    Ok(match outcome {
        ClickOutcome::Told(refusal) => {
            SubmissionOutcome::FieldErrors(BTreeMap::from([(DURATION_BLOCK, refusal.message())]))
        }
        other => SubmissionOutcome::Done(other),
    })
}

/// Tells the person who clicked why nothing changed: an ephemeral message through the
/// click's `response_url` (only a URL Slack could have given us is called).
pub async fn tell(services: &Services, response_url: &str, refusal: &Refusal) {
    tell_text(services, response_url, &refusal.message()).await
}

/// Tells the person who clicked `message` (an ephemeral message, see [`tell`]).
pub async fn tell_text(services: &Services, response_url: &str, message: &str) {
    let message = json!({
        "response_type": "ephemeral",
        "replace_original": false,
        "text": text::escape(message),
    });
    if let Err(e) = services.slack.respond(response_url, &message).await {
        tracing::warn!(error = %e, "could not answer a click through its response_url");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(payload: serde_json::Value) -> Vec<u8> {
        serde_urlencoded::to_string([("payload", payload.to_string())])
            .unwrap()
            .into_bytes()
    }

    fn submission(values: serde_json::Value) -> Submission {
        let body = form(json!({
            "type": "view_submission",
            "team": {"id": "T1"},
            "user": {"id": "U2", "username": "sam"},
            "view": {"id": "V1", "callback_id": "incident.mute_for", "private_metadata": "{}",
                     "state": {"values": values}},
        }));
        match parse(&body).unwrap() {
            Interaction::MuteSubmission(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mute_for_clicks_carry_their_trigger_and_submissions_their_fields() {
        let click = |trigger: Option<&str>| {
            form(json!({
                "type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U2", "name": "sam"},
                "container": {"channel_id": "C1", "message_ts": "1.000001"},
                "trigger_id": trigger,
                "actions": [{"action_id": "incident.mute_for", "value": "ref"}],
            }))
        };
        match parse(&click(Some("1.2.abc"))).unwrap() {
            Interaction::OpenMuteDialog { dialog, .. } => {
                assert_eq!(dialog.trigger_id, "1.2.abc");
                assert_eq!(dialog.card.value, "ref");
                assert_eq!(dialog.user.name, "sam");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse(&click(None)).unwrap_err(), ParseError::Incomplete);

        let s = submission(json!({
            "mute_duration": {"mute_duration": {"type": "static_select", "selected_option": {"value": "date"}}},
            "mute_until": {"mute_until": {"type": "datetimepicker", "selected_date_time": 1_800_000_000}},
            "mute_reason": {"mute_reason": {"type": "plain_text_input", "value": "deploy"}},
        }));
        assert_eq!(
            (s.duration.as_deref(), s.until, s.reason.as_deref()),
            (Some("date"), Some(1_800_000_000), Some("deploy"))
        );
        assert_eq!((s.view_id.as_str(), s.team_id.as_str()), ("V1", "T1"));
        let empty = submission(json!({}));
        assert_eq!(
            (empty.duration, empty.until, empty.reason),
            (None, None, None)
        );
        let no_view = form(json!({"type": "view_submission", "team": {"id": "T1"}}));
        assert_eq!(parse(&no_view).unwrap_err(), ParseError::IncompleteView);
    }

    #[test]
    fn every_wrong_field_of_a_submission_gets_its_message() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut s = submission(json!({}));
        s.reason = Some("x".repeat(301));
        let errors = read_submission(&s, now).unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            [DURATION_BLOCK, REASON_BLOCK]
        );
        s.duration = Some("date".into());
        s.until = Some(1_800_000_000 - 60);
        s.reason = Some("  deploy  ".into());
        let errors = read_submission(&s, now).unwrap_err();
        assert_eq!(errors.keys().copied().collect::<Vec<_>>(), [UNTIL_BLOCK]);
        s.until = Some(1_800_000_000 + 60);
        let (action, comment) = read_submission(&s, now).unwrap();
        assert_eq!(
            action,
            Action::Mute(rules::MuteFor::Until(
                DateTime::from_timestamp(1_800_000_060, 0).unwrap()
            ))
        );
        assert_eq!(comment.as_deref(), Some("deploy"));
    }
}

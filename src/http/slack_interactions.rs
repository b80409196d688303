//! `POST /slack/interactions`: Slack's interactivity requests (button clicks). Verified
//! like `/slack/events`; a click on an incident card's button is applied durably before
//! the answer (well within Slack's 3 seconds), then the cards are edited and the thread
//! gets a reply by the sender. Link buttons are answered 200 and ignored. "Mute for…"
//! opens its dialog (`views.open`) before the click is answered; the dialog's submission
//! is answered with an empty 200 (closes it) or `response_action: errors`.

use actix_web::{post, web, HttpRequest, HttpResponse};

use super::slack_events::{count_request, refuse, verified_body};
use crate::actors::slack_sender::Wake;
use crate::pipeline::baselines::{BaselineClick, BaselineClickOutcome};
use crate::pipeline::incidents::ClickOutcome;
use crate::services::slack_interactions::{
    self as svc, DialogClick, DialogOutcome, Interaction, Submission, SubmissionOutcome,
};
use crate::state::AppState;

#[post("/slack/interactions")]
pub async fn receive(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let count = |kind: &str, outcome: &str| count_request(&state, kind, outcome);
    let body = match verified_body(&req, &state, payload, "interaction").await? {
        Ok(body) => body,
        Err(refused) => {
            count("interaction", "rejected");
            return Ok(refused);
        }
    };
    let interaction = match svc::parse(&body) {
        Ok(i) => i,
        Err(e) => {
            count("interaction", "rejected");
            return Ok(refuse(400, "invalid_request", &e.to_string()));
        }
    };
    let (click, response_url) = match interaction {
        Interaction::Click {
            click,
            response_url,
        } => (click, response_url),
        Interaction::SetBaseline {
            click,
            response_url,
        } => return Ok(set_baseline(&state, click, response_url).await),
        Interaction::OpenMuteDialog {
            dialog,
            response_url,
        } => return Ok(open_mute_dialog(&state, dialog, response_url).await),
        Interaction::MuteSubmission(sub) => return Ok(submit_mute(&state, sub).await),
        Interaction::Link => {
            count("block_actions.link", "ignored");
            return Ok(HttpResponse::Ok().finish());
        }
        Interaction::Other(kind) => {
            tracing::debug!(kind = %kind, "ignored a Slack interaction");
            count("interaction.other", "ignored");
            return Ok(HttpResponse::Ok().finish());
        }
    };
    let span = tracing::info_span!(
        "slack_interaction",
        action = click.action.action_id(),
        team_id = %click.card.team_id,
        channel = %click.card.channel_id,
        message_ts = %click.card.message_ts,
        user_id = %click.user.id,
    );
    let kind = click.action.action_id();
    let outcome = svc::apply(&state.services, click).await;
    Ok(answer_click(&state, kind, &span, outcome, response_url))
}

/// The answer to an applied click or dialog: 200 (waking the sender for the cards and the
/// reply), 403 for a card that is not ours, 503 when it could not be stored.
fn answer_click(
    state: &web::Data<AppState>,
    kind: &'static str,
    span: &tracing::Span,
    outcome: Result<ClickOutcome, crate::services::DbError>,
    response_url: Option<String>,
) -> HttpResponse {
    let count = |outcome: &str| count_request(state, kind, outcome);
    match outcome {
        Ok(ClickOutcome::Applied { channels }) => {
            span.in_scope(|| tracing::info!("incident action applied"));
            count("handled");
            if !channels.is_empty() {
                state.actors.sender().do_send(Wake { channels });
            }
            HttpResponse::Ok().finish()
        }
        Ok(ClickOutcome::Duplicate) => {
            span.in_scope(|| tracing::info!("a click already applied came again; nothing changes"));
            count("ignored");
            HttpResponse::Ok().finish()
        }
        Ok(ClickOutcome::Told(refusal)) => {
            span.in_scope(
                || tracing::info!(why = %refusal.message(), "incident action changed nothing"),
            );
            count("ignored");
            if let Some(url) = response_url {
                let services = state.services.clone();
                actix_web::rt::spawn(async move { svc::tell(&services, &url, &refusal).await });
            }
            HttpResponse::Ok().finish()
        }
        Ok(ClickOutcome::Refused(why)) => {
            span.in_scope(|| tracing::warn!(why, "refused a click on a card that is not ours"));
            count("rejected");
            not_our_card()
        }
        Err(e) => {
            span.in_scope(|| tracing::error!(error = %e, "could not apply a click"));
            count("error");
            refuse(
                503,
                "unavailable",
                "the action could not be stored; try again",
            )
        }
    }
}

/// 403 for a click or dialog naming a card that is not ours.
fn not_our_card() -> HttpResponse {
    refuse(
        403,
        "forbidden",
        "this workspace or message has no incident card of this service",
    )
}

/// "Mute for…": the dialog opens before Slack gets its answer (the trigger lives 3 s; a
/// database read and one Slack call take milliseconds). A dialog that did not open is
/// logged and the person told to click again; nothing changed, so the click gets 200.
async fn open_mute_dialog(
    state: &web::Data<AppState>,
    dialog: DialogClick,
    response_url: Option<String>,
) -> HttpResponse {
    const KIND: &str = "incident.mute_for";
    let count = |outcome: &str| count_request(state, KIND, outcome);
    let span = tracing::info_span!(
        "slack_interaction",
        action = KIND,
        team_id = %dialog.card.team_id,
        channel = %dialog.card.channel_id,
        message_ts = %dialog.card.message_ts,
        user_id = %dialog.user.id,
    );
    let tell = |message: String| {
        if let Some(url) = response_url.clone() {
            let services = state.services.clone();
            actix_web::rt::spawn(async move { svc::tell_text(&services, &url, &message).await });
        }
    };
    match svc::open_mute_dialog(&state.services, &dialog).await {
        Ok(DialogOutcome::Opened(view_id)) => {
            span.in_scope(|| tracing::info!(view_id = %view_id, "Mute for… dialog opened"));
            count("handled");
            HttpResponse::Ok().finish()
        }
        Ok(DialogOutcome::Told(refusal)) => {
            count("ignored");
            tell(refusal.message());
            HttpResponse::Ok().finish()
        }
        Ok(DialogOutcome::NotOpened(e)) => {
            span.in_scope(|| {
                tracing::warn!(error = %e, code = e.code(), "Slack did not open the Mute for… dialog")
            });
            count("failed");
            tell("The dialog could not be opened in time; click “Mute for…” again.".to_owned());
            HttpResponse::Ok().finish()
        }
        Ok(DialogOutcome::Refused(why)) => {
            span.in_scope(|| tracing::warn!(why, "refused a click on a card that is not ours"));
            count("rejected");
            not_our_card()
        }
        Err(e) => {
            span.in_scope(|| tracing::error!(error = %e, "could not check a Mute for… click"));
            count("error");
            refuse(503, "unavailable", "the card could not be read; try again")
        }
    }
}

/// A submitted "Mute for…" dialog: field errors keep it open; otherwise the mute is
/// stored before the empty 200 that closes it.
async fn submit_mute(state: &web::Data<AppState>, sub: Submission) -> HttpResponse {
    const KIND: &str = "view_submission.mute_for";
    let span = tracing::info_span!(
        "slack_interaction",
        action = KIND,
        team_id = %sub.team_id,
        view_id = %sub.view_id,
        user_id = %sub.user.id,
    );
    match svc::submit_mute(&state.services, sub).await {
        Ok(SubmissionOutcome::FieldErrors(errors)) => {
            span.in_scope(
                || tracing::info!(fields = ?errors.keys(), "Mute for… answered with field errors"),
            );
            count_request(state, KIND, "ignored");
            HttpResponse::Ok()
                .json(serde_json::json!({"response_action": "errors", "errors": errors}))
        }
        Ok(SubmissionOutcome::Done(outcome)) => answer_click(state, KIND, &span, Ok(outcome), None),
        Err(e) => answer_click(state, KIND, &span, Err(e), None),
    }
}

/// "Set as baseline": pinned before Slack gets its answer; the person is told when nothing
/// changed.
async fn set_baseline(
    state: &web::Data<AppState>,
    click: BaselineClick,
    response_url: Option<String>,
) -> HttpResponse {
    let count = |outcome: &str| count_request(state, "baseline.set", outcome);
    let span = tracing::info_span!(
        "slack_interaction",
        action = "baseline.set",
        team_id = %click.team_id,
        channel = %click.channel_id,
        message_ts = %click.message_ts,
        user_id = %click.user.id,
        load_test = %click.load_test_id,
    );
    match svc::apply_baseline(&state.services, click).await {
        Ok(BaselineClickOutcome::Applied { channels }) => {
            span.in_scope(|| tracing::info!("baseline set from Slack"));
            count("handled");
            if !channels.is_empty() {
                state.actors.sender().do_send(Wake { channels });
            }
            HttpResponse::Ok().finish()
        }
        Ok(BaselineClickOutcome::Unchanged) => {
            count("ignored");
            HttpResponse::Ok().finish()
        }
        Ok(BaselineClickOutcome::Told(message)) => {
            span.in_scope(|| tracing::info!(why = %message, "Set as baseline changed nothing"));
            count("ignored");
            if let Some(url) = response_url {
                let services = state.services.clone();
                actix_web::rt::spawn(
                    async move { svc::tell_text(&services, &url, &message).await },
                );
            }
            HttpResponse::Ok().finish()
        }
        Ok(BaselineClickOutcome::Refused(why)) => {
            span.in_scope(|| tracing::warn!(why, "refused a click on a message that is not ours"));
            count("rejected");
            refuse(
                403,
                "forbidden",
                "this workspace or message has no run card of this service",
            )
        }
        Err(e) => {
            span.in_scope(|| tracing::error!(error = %e, "could not set a baseline"));
            count("error");
            refuse(
                503,
                "unavailable",
                "the action could not be stored; try again",
            )
        }
    }
}

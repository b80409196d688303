//! `POST /slack/interactions`: Slack's interactivity requests (button clicks). Verified
//! like `/slack/events`; a click on an incident card's button is applied durably before
//! the answer (well within Slack's 3 seconds), then the cards are edited and the thread
//! gets a reply by the sender. Link buttons are answered 200 and ignored.

use actix_web::{post, web, HttpRequest, HttpResponse};

use super::slack_events::{count_request, refuse, verified_body};
use crate::actors::slack_sender::Wake;
use crate::pipeline::baselines::{BaselineClick, BaselineClickOutcome};
use crate::pipeline::incidents::ClickOutcome;
use crate::services::slack_interactions::{self as svc, Interaction};
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
        team_id = %click.team_id,
        channel = %click.channel_id,
        message_ts = %click.message_ts,
        user_id = %click.user.id,
    );
    let kind = click.action.action_id();
    match svc::apply(&state.services, click).await {
        Ok(ClickOutcome::Applied { channels }) => {
            span.in_scope(|| tracing::info!("incident action applied"));
            count(kind, "handled");
            if !channels.is_empty() {
                state.actors.sender().do_send(Wake { channels });
            }
            Ok(HttpResponse::Ok().finish())
        }
        Ok(ClickOutcome::Duplicate) => {
            span.in_scope(|| tracing::info!("a click already applied came again; nothing changes"));
            count(kind, "ignored");
            Ok(HttpResponse::Ok().finish())
        }
        Ok(ClickOutcome::Told(refusal)) => {
            span.in_scope(
                || tracing::info!(why = %refusal.message(), "incident action changed nothing"),
            );
            count(kind, "ignored");
            if let Some(url) = response_url {
                let services = state.services.clone();
                actix_web::rt::spawn(async move { svc::tell(&services, &url, &refusal).await });
            }
            Ok(HttpResponse::Ok().finish())
        }
        Ok(ClickOutcome::Refused(why)) => {
            span.in_scope(|| tracing::warn!(why, "refused a click on a card that is not ours"));
            count(kind, "rejected");
            Ok(refuse(
                403,
                "forbidden",
                "this workspace or message has no incident card of this service",
            ))
        }
        Err(e) => {
            span.in_scope(|| tracing::error!(error = %e, "could not apply a click"));
            count(kind, "error");
            Ok(refuse(
                503,
                "unavailable",
                "the action could not be stored; try again",
            ))
        }
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

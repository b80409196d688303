//! `POST /slack/events`: Slack's Events API. Reads the raw body itself (the signature
//! covers the exact bytes), verifies `X-Slack-Signature`, answers `url_verification` and
//! hands events to [`crate::services::slack_events`].

use actix_web::{post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;

use super::responses::ErrorBody;

use crate::services::slack_events::{self as svc, Envelope, Handled, SlackEvent};
use crate::slack::signing::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::state::AppState;

/// Largest body accepted (Slack's events are a few KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The answer to `url_verification`.
#[derive(Serialize)]
struct Challenge {
    challenge: String,
}

/// The answer to every event, handled or ignored: `{"ok": true}`.
#[derive(Serialize)]
struct Ack {
    ok: bool,
}

fn ack() -> HttpResponse {
    HttpResponse::Ok().json(Ack { ok: true })
}

pub(super) fn refuse(status: u16, code: &str, message: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status).json(ErrorBody::new(code, message))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Reads at most [`MAX_BODY_BYTES`]; `None` when the body is larger.
async fn read_body(mut payload: web::Payload) -> Result<Option<Vec<u8>>, actix_web::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// Counts a request from Slack in `xtc_slack_slack_events_received_total{type, outcome}`.
pub(super) fn count_request(state: &AppState, kind: &str, outcome: &str) {
    state
        .metrics
        .slack_events
        .with_label_values(&[kind, outcome])
        .inc();
}

/// The body of a request signed by Slack (Events API, interactivity): read whole (the
/// signature covers the exact bytes), at most [`MAX_BODY_BYTES`], and verified against
/// `SLACK_SIGNING_SECRET` (v0, 5-minute window). `Err` is the answer to give: 401 when it
/// cannot be verified, 413 when too large.
pub(super) async fn verified_body(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
    what: &str,
) -> Result<Result<Vec<u8>, HttpResponse>, actix_web::Error> {
    let Some(secret) = &state.settings.slack.signing_secret else {
        tracing::warn!(
            what,
            "a Slack request arrived but SLACK_SIGNING_SECRET is not set; refused"
        );
        return Ok(Err(refuse(
            401,
            "unauthenticated",
            "Slack requests cannot be verified: SLACK_SIGNING_SECRET is not configured on this server",
        )));
    };
    let Some(body) = read_body(payload).await? else {
        return Ok(Err(refuse(
            413,
            "payload_too_large",
            "request body is larger than 65536 bytes",
        )));
    };
    let verified = signing::verify(
        secret,
        header(req, TIMESTAMP_HEADER),
        &body,
        header(req, SIGNATURE_HEADER),
        chrono::Utc::now().timestamp(),
    );
    if let Err(e) = verified {
        tracing::warn!(what, reason = %e, "refused a Slack request with a bad signature");
        return Ok(Err(refuse(
            401,
            "unauthenticated",
            "invalid or expired Slack request signature",
        )));
    }
    Ok(Ok(body))
}

#[post("/slack/events")]
pub async fn receive(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let count = |kind: &str, outcome: &str| count_request(&state, kind, outcome);
    let body = match verified_body(&req, &state, payload, "event").await? {
        Ok(body) => body,
        Err(refused) => {
            count("unverified", "rejected");
            return Ok(refused);
        }
    };
    let envelope: Envelope = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(_) => {
            count("malformed", "rejected");
            return Ok(refuse(
                400,
                "invalid_request",
                "the body is not a Slack event envelope",
            ));
        }
    };
    match envelope.kind.as_str() {
        "url_verification" => {
            count("url_verification", "handled");
            let challenge = envelope.challenge.unwrap_or_default();
            Ok(HttpResponse::Ok().json(Challenge { challenge }))
        }
        "event_callback" => {
            let event = envelope
                .event
                .as_ref()
                .map_or_else(|| SlackEvent::Other(String::new()), SlackEvent::parse);
            let kind = event.kind();
            let team = envelope.team_id.clone().unwrap_or_default();
            let event_id = envelope.event_id.clone().unwrap_or_default();
            // Slack's retries of an event it saw no timely answer to (1, 2, 3).
            let retry = header(&req, "X-Slack-Retry-Num")
                .parse::<u32>()
                .unwrap_or(0);
            let span =
                tracing::info_span!("slack_event", event_id = %event_id, kind, team_id = %team);
            if team.is_empty() {
                count(kind, "ignored");
                return Ok(ack());
            }
            let delivery = svc::Delivery {
                event_id: &event_id,
                event_time: envelope.event_time,
            };
            match svc::apply(&state.services, &team, delivery, event).await {
                Ok(Handled::Changed) => {
                    span.in_scope(|| tracing::info!(retry, "Slack event applied"));
                    count(kind, "handled");
                }
                Ok(Handled::Unchanged) => {
                    span.in_scope(|| tracing::debug!(retry, "Slack event changed nothing"));
                    count(kind, "ignored");
                }
                Ok(Handled::Duplicate) => {
                    span.in_scope(|| {
                        tracing::info!(retry, "Slack event applied before; not applied again")
                    });
                    count(kind, "duplicate");
                }
                Ok(Handled::Stale) => {
                    span.in_scope(|| {
                        tracing::info!(
                            retry,
                            event_time = envelope.event_time,
                            "Slack event older than the state it would change; not applied"
                        )
                    });
                    count(kind, "stale");
                }
                Err(e) => {
                    // 5xx: Slack retries the event later.
                    span.in_scope(|| tracing::error!(error = %e, "could not apply a Slack event"));
                    count(kind, "error");
                    return Ok(refuse(
                        503,
                        "unavailable",
                        "the event could not be stored; retry",
                    ));
                }
            }
            Ok(ack())
        }
        other => {
            tracing::debug!(kind = other, "ignored a Slack request of an unknown type");
            count("other", "ignored");
            Ok(ack())
        }
    }
}

//! Load-test and monitoring events (role `service`): parse, validate, hand to the
//! subject's actor, answer 202 once the event and its outbox rows are committed. The
//! caller's token may be confirmed by that same transaction (`http::auth::EventCaller`);
//! the body is taken as a `Result` so that its refusal, too, waits for the token's check.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpMessage, HttpRequest};
use chrono::Utc;
use serde::Serialize;

use super::auth::EventCaller;
use super::error::ApiError;
use super::json::ApiJson;
use super::observe::RequestStart;
use super::params;
use super::responses::{
    BadRequest, Conflict, Denied, NotFound, PayloadTooLarge, Unavailable, Unprocessable,
};
use crate::actors::subject::{Directory, Subject};
use crate::pipeline::events::{FieldError, LoadTestEventBody, MonitoringEventBody};
use crate::pipeline::ingest::{IngestError, IngestOutcome};
use crate::state::AppState;

/// When the request arrived (`observe::RequestStart`), where an event's traced path starts.
fn received(req: &HttpRequest) -> Option<std::time::Instant> {
    req.extensions().get::<RequestStart>().map(|s| s.0)
}

fn field_error(e: FieldError) -> ApiError {
    ApiError::field(e.field, e.message)
}

fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::UnknownProject { .. } => ApiError::not_found(e.to_string()),
        IngestError::WrongProject { .. } => ApiError::field("project", e.to_string()),
        IngestError::InvalidTransition(t) => ApiError::InvalidTransition {
            from: t.from.as_str().to_owned(),
            to: t.to().as_str().to_owned(),
        },
        IngestError::EventIdReused(_) => ApiError::EventIdReused(e.to_string()),
        IngestError::MissingField(field) => ApiError::field(
            field,
            format!("{field} is required for a load test's first event"),
        ),
        IngestError::Conflict => {
            ApiError::Unavailable("the subject is being updated concurrently; retry".into())
        }
        IngestError::TokenNotLive => ApiError::Unauthenticated,
        IngestError::Db(e) => e.into(),
        IngestError::Database(e) => e.into(),
    }
}

/// Answer to an event: its subject's lifecycle state, and whether it was a duplicate.
/// (Fields in alphabetical order, the order of the wire format.)
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventAccepted {
    /// Present (true) when the event was seen before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
    pub event_id: String,
    /// Present (true) when a monitoring result was older than the newest one already
    /// applied to its scenario: stored in the history, nothing changed or was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<bool>,
    pub state: String,
}

/// Both event endpoints: only the service may send events; `parse` reads the subject's id
/// and validates the event (with its id, for the answer); the subject's actor ingests it.
/// A refusal is settled by the caller (`EventCaller::settle`).
async fn accept<S: Subject>(
    req: &HttpRequest,
    caller: &EventCaller,
    state: &AppState,
    subjects: &Directory<S>,
    parse: impl FnOnce() -> Result<(String, String, S::Event), ApiError>,
) -> Result<(web::Json<EventAccepted>, StatusCode), ApiError> {
    let answer = async {
        caller.auth.require_service()?;
        let (id, event_id, event) = parse()?;
        let (deps, unconfirmed) = (&state.actors.deps, caller.unconfirmed());
        let outcome = subjects
            .ingest(&id, deps, event, unconfirmed, received(req))
            .await
            .map_err(ingest_error)?;
        Ok(respond(event_id, outcome))
    };
    caller.settle(state, answer.await).await
}

/// 202 for a stored event (stale or not), 200 for a duplicate.
fn respond(event_id: String, outcome: IngestOutcome) -> (web::Json<EventAccepted>, StatusCode) {
    let (state, duplicate, stale, status) = match outcome {
        IngestOutcome::Accepted { state, .. } => (state, None, None, StatusCode::ACCEPTED),
        IngestOutcome::Duplicate { state } => (state, Some(true), None, StatusCode::OK),
        IngestOutcome::Stale { state } => (state, None, Some(true), StatusCode::ACCEPTED),
    };
    let body = EventAccepted {
        duplicate,
        event_id,
        stale,
        state,
    };
    (web::Json(body), status)
}

#[utoipa::path(
    tag = "events",
    params(("load_test_id" = String, Path, description = "load test id")),
    request_body = LoadTestEventBody,
    responses(
        (status = 202, description = "Stored; notifications follow", body = EventAccepted),
        (status = 200, description = "Duplicate event id; nothing sent twice", body = EventAccepted),
        BadRequest, Denied, NotFound, Conflict, PayloadTooLarge, Unprocessable, Unavailable,
    ),
    security(("bearer" = []))
)]
#[post("/load-tests/{load_test_id}/events")]
pub async fn load_test_event(
    req: HttpRequest,
    caller: EventCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Result<ApiJson<LoadTestEventBody>, ApiError>,
) -> Result<(web::Json<EventAccepted>, StatusCode), ApiError> {
    let subjects = &state.actors.load_tests;
    accept(&req, &caller, &state, subjects, || {
        let body = body?;
        let id = params::load_test(&path)?;
        let event = body.0.validate(id.clone(), Utc::now());
        let event = event.map_err(field_error)?;
        Ok((id.as_str().to_owned(), event.event_id.to_string(), event))
    })
    .await
}

#[utoipa::path(
    tag = "events",
    params(("scenario_id" = String, Path, description = "scenario id")),
    request_body = MonitoringEventBody,
    responses(
        (status = 202, description = "Stored; notifications follow", body = EventAccepted),
        (status = 200, description = "Duplicate event id; nothing sent twice", body = EventAccepted),
        BadRequest, Denied, NotFound, Conflict, PayloadTooLarge, Unprocessable, Unavailable,
    ),
    security(("bearer" = []))
)]
#[post("/monitoring/scenarios/{scenario_id}/events")]
pub async fn monitoring_event(
    req: HttpRequest,
    caller: EventCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Result<ApiJson<MonitoringEventBody>, ApiError>,
) -> Result<(web::Json<EventAccepted>, StatusCode), ApiError> {
    let subjects = &state.actors.scenarios;
    accept(&req, &caller, &state, subjects, || {
        let body = body?;
        let id = params::scenario(&path)?;
        let event = body.0.validate(id.clone(), Utc::now());
        let event = event.map_err(field_error)?;
        Ok((id.as_str().to_owned(), event.event_id.to_string(), event))
    })
    .await
}

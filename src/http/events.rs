//! Load-test and monitoring events (role `service`): parse, validate, hand to the
//! subject's actor, answer 202 once the event and its outbox rows are committed.

use actix_web::{post, web, HttpResponse};
use chrono::Utc;
use serde_json::json;

use super::auth::Authenticated;
use super::error::ApiError;
use super::json::ApiJson;
use super::params;
use crate::pipeline::events::{FieldError, LoadTestEventBody, MonitoringEventBody};
use crate::pipeline::ingest::{IngestError, Outcome};
use crate::state::AppState;

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
        IngestError::Db(e) => e.into(),
        IngestError::Database(e) => e.into(),
    }
}

fn respond(event_id: String, outcome: Outcome) -> HttpResponse {
    match outcome {
        Outcome::Accepted { state, .. } => {
            HttpResponse::Accepted().json(json!({"event_id": event_id, "state": state}))
        }
        Outcome::Duplicate { state } => HttpResponse::Ok().json(json!({
            "event_id": event_id, "state": state, "duplicate": true
        })),
    }
}

#[utoipa::path(tag = "events", params(("load_test_id" = String, Path, description = "load test id")), request_body = crate::pipeline::events::LoadTestEventBody, responses((status = 202, description = "Stored; notifications follow", body = super::openapi::EventAccepted), (status = 200, description = "Duplicate event id; nothing sent twice", body = super::openapi::EventAccepted), (status = 400, body = super::openapi::ErrorBody), (status = 401, body = super::openapi::ErrorBody), (status = 403, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 409, body = super::openapi::ErrorBody), (status = 413, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody), (status = 503, body = super::openapi::ErrorBody)), security(("bearer" = [])))]
#[post("/api/v1/load-tests/{load_test_id}/events")]
pub async fn load_test_event(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ApiJson<LoadTestEventBody>,
) -> Result<HttpResponse, ApiError> {
    auth.require_service()?;
    let id = params::load_test(&path)?;
    let event = body
        .0
        .validate(id.clone(), Utc::now())
        .map_err(field_error)?;
    let event_id = event.event_id.to_string();
    let pipeline = &state.pipeline;
    let outcome = pipeline
        .load_tests
        .ingest(id.as_str(), &pipeline.deps, event)
        .await
        .map_err(ingest_error)?;
    Ok(respond(event_id, outcome))
}

#[utoipa::path(tag = "events", params(("scenario_id" = String, Path, description = "scenario id")), request_body = crate::pipeline::events::MonitoringEventBody, responses((status = 202, description = "Stored; notifications follow", body = super::openapi::EventAccepted), (status = 200, description = "Duplicate event id; nothing sent twice", body = super::openapi::EventAccepted), (status = 400, body = super::openapi::ErrorBody), (status = 401, body = super::openapi::ErrorBody), (status = 403, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody), (status = 413, body = super::openapi::ErrorBody), (status = 422, body = super::openapi::ErrorBody), (status = 503, body = super::openapi::ErrorBody)), security(("bearer" = [])))]
#[post("/api/v1/monitoring/scenarios/{scenario_id}/events")]
pub async fn monitoring_event(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ApiJson<MonitoringEventBody>,
) -> Result<HttpResponse, ApiError> {
    auth.require_service()?;
    let id = params::scenario(&path)?;
    let event = body
        .0
        .validate(id.clone(), Utc::now())
        .map_err(field_error)?;
    let event_id = event.event_id.to_string();
    let pipeline = &state.pipeline;
    let outcome = pipeline
        .scenarios
        .ingest(id.as_str(), &pipeline.deps, event)
        .await
        .map_err(ingest_error)?;
    Ok(respond(event_id, outcome))
}

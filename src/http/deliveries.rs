//! The delivery log of a project (role `admin`).

use actix_web::{get, web, HttpResponse};
use chrono::{NaiveDateTime, SecondsFormat};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Authenticated;
use super::error::ApiError;
use super::params;
use crate::db::models::delivery::Delivery;
use crate::db::models::project::Project;
use crate::domain::access::AdminTarget;
use crate::state::AppState;

/// Most entries one request returns.
pub const MAX_LIMIT: i64 = 500;

#[derive(Deserialize)]
pub struct LogQuery {
    limit: Option<String>,
}

/// RFC 3339 with offset, as everywhere in the API.
pub fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One delivery as the API and the UI show it.
pub fn delivery_json(d: &Delivery) -> Value {
    let channel = d
        .channel_name
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| (!d.channel.is_empty()).then(|| d.channel.clone()));
    json!({
        "id": d.id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "channel": channel,
        "status": d.status,
        "attempts": d.attempts,
        "error": d.error,
        "created_at": rfc3339(d.created_at),
        "sent_at": d.sent_at.map(rfc3339),
    })
}

#[utoipa::path(tag = "slack settings", params(("org" = String, Path, description = "organization id"), ("project" = String, Path, description = "project id"), ("limit" = Option<i64>, Query, description = "1 to 500, default 50")), responses((status = 200, description = "Newest first", body = super::openapi::DeliveryLog), (status = 400, body = super::openapi::ErrorBody), (status = 401, body = super::openapi::ErrorBody), (status = 403, body = super::openapi::ErrorBody), (status = 404, body = super::openapi::ErrorBody)), security(("bearer" = [])))]
#[get("/api/v1/orgs/{org}/projects/{project}/slack/deliveries")]
pub async fn list(
    auth: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let org = params::org(&path.0)?;
    let project = params::project(&path.1)?;
    auth.require_admin(AdminTarget::Project(&org, &project))?;
    let limit = match query.limit.as_deref() {
        None => 50,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::param(
                    "limit",
                    format!("limit must be a number from 1 to {MAX_LIMIT}"),
                ))
            }
        },
    };
    let (o, p) = (org.to_string(), project.to_string());
    let rows = state
        .db
        .run(move |conn| {
            if !Project::exists(conn, &o, &p)? {
                return Err(ApiError::not_found(format!(
                    "project {o}/{p} is not registered"
                )));
            }
            Ok(Delivery::list_by_project(conn, &o, &p, limit)?)
        })
        .await?;
    let deliveries: Vec<Value> = rows.iter().map(delivery_json).collect();
    Ok(HttpResponse::Ok().json(json!({"deliveries": deliveries})))
}

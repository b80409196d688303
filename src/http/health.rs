//! Liveness and readiness.

use actix_web::{get, web};
use serde::Serialize;

use super::error::ApiError;
use crate::state::AppState;

/// `{"status": "ok"}` / `{"status": "ready"}`.
#[derive(Serialize)]
pub struct Status {
    pub status: &'static str,
}

/// 200 whenever the process serves requests.
#[get("/healthz")]
pub async fn healthz() -> web::Json<Status> {
    web::Json(Status { status: "ok" })
}

/// 200 when the database answers, else 503.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<web::Json<Status>, ApiError> {
    match state.db.ping().await {
        Ok(()) => Ok(web::Json(Status { status: "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::Unavailable("the database does not answer".into()))
        }
    }
}

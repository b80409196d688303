//! The bearer-token extractor. Role and scope checks are rules of `domain::access`;
//! handlers call [`Authenticated::require_service`] / [`Authenticated::require_admin`]
//! before touching anything, so out-of-scope callers get 403 whether or not the
//! resource exists.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::error::ApiError;
use crate::domain::access::{AdminTarget, Principal};
use crate::state::AppState;

/// A request with a valid API token.
pub struct Authenticated(pub Principal);

impl Authenticated {
    /// Only the service role (orchestrator, scheduler) may continue.
    pub fn require_service(&self) -> Result<&Principal, ApiError> {
        if self.0.is_service() {
            Ok(&self.0)
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// Only an admin of `target` may continue.
    pub fn require_admin(&self, target: AdminTarget<'_>) -> Result<&Principal, ApiError> {
        if self.0.may_admin(target) {
            Ok(&self.0)
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// The token of an `Authorization: Bearer …` header, if well-formed.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token.ok_or(ApiError::Unauthenticated)?;
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no app state")))?;
            let principal = state.token_checks.principal(&token).await?;
            principal
                .map(Authenticated)
                .ok_or(ApiError::Unauthenticated)
        })
    }
}

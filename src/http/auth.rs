//! The bearer-token extractors. Role and scope checks are rules of `domain::access`;
//! handlers call [`Authenticated::require_service`] / [`Authenticated::require_admin`]
//! before touching anything, so out-of-scope callers get 403 whether or not the
//! resource exists. The event endpoints take an [`EventCaller`].

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::error::ApiError;
use crate::domain::access::{AdminTarget, Principal, TokenHash};
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

/// The stored form of a request's bearer token, when it has one that can be ours.
fn token_hash(req: &HttpRequest) -> Option<TokenHash> {
    bearer_token(req).and_then(|token| crate::auth::token_hash(&token))
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no app state")))
}

/// Checks a token now: its principal, or 401 (none, unknown or revoked).
async fn checked(hash: Option<TokenHash>, state: &AppState) -> Result<Principal, ApiError> {
    let hash = hash.ok_or(ApiError::Unauthenticated)?;
    let principal = state.token_checks.principal_of_hash(hash).await?;
    principal.ok_or(ApiError::Unauthenticated)
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (hash, state) = (token_hash(req), app_state(req));
        Box::pin(async move {
            let state = state?;
            Ok(Authenticated(checked(hash, &state).await?))
        })
    }
}

/// The caller of the event endpoints, the hot path. A token the checks found live before
/// (`auth::TokenChecks::seen_live`) is let in without a check of its own, and the event's
/// transaction confirms it live before it writes anything (`pipeline::writer`): that takes
/// the check's two thread hops off every event's path and still refuses a token revoked
/// before the request arrived. Other tokens are checked now, as for [`Authenticated`]. A
/// refusal on the way (a body that does not parse, 403, 404, 422, …) goes out only after a
/// check of a token let in unchecked ([`EventCaller::settle`]; the handlers take the body
/// as a `Result` for that), so a revoked token gets 401 first, as everywhere.
pub struct EventCaller {
    pub auth: Authenticated,
    unconfirmed: Option<TokenHash>,
}

impl EventCaller {
    /// The token the event's transaction is to confirm live (`None`: checked for this
    /// request already).
    pub fn unconfirmed(&self) -> Option<TokenHash> {
        self.unconfirmed.clone()
    }

    /// The handler's `answer`; a refusal of a caller let in unchecked becomes 401 when its
    /// token, checked now, is not live (and a token the event's transaction found revoked
    /// is forgotten). When that check cannot be made, the answer is its error (503).
    pub async fn settle<T>(
        &self,
        state: &AppState,
        answer: Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let (Err(refusal), Some(hash)) = (&answer, &self.unconfirmed) else {
            return answer;
        };
        if matches!(refusal, ApiError::Unauthenticated) {
            state.token_checks.forget(hash);
            return answer;
        }
        match state.token_checks.principal_of_hash(hash.clone()).await? {
            Some(_) => answer,
            None => Err(ApiError::Unauthenticated),
        }
    }
}

impl FromRequest for EventCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (hash, state) = (token_hash(req), app_state(req));
        Box::pin(async move {
            let state = state?;
            let seen = hash.as_ref().and_then(|h| state.token_checks.seen_live(h));
            if let Some(principal) = seen {
                return Ok(Self {
                    auth: Authenticated(principal),
                    unconfirmed: hash,
                });
            }
            Ok(Self {
                auth: Authenticated(checked(hash, &state).await?),
                unconfirmed: None,
            })
        })
    }
}

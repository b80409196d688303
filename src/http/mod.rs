//! The HTTP boundary. A handler translates HTTP into one call and the answer back: it
//! parses the request into domain types, checks the caller's role, calls a service
//! ([`crate::services`]: every admin job, the same for the JSON API and the web UI) or
//! sends an event to its actor ([`crate::actors`]: the notification pipeline), and turns
//! the result into JSON, a page or an [`error::ApiError`]. The work itself, and every
//! database query, lives in those layers, not here.

pub mod auth;
pub mod baselines;
pub mod body_deadline;
pub mod channel_health;
pub mod deliveries;
pub mod error;
pub mod events;
pub mod health;
pub mod json;
pub mod maintenance;
pub mod metrics;
pub mod oauth;
pub mod observe;
pub mod openapi;
pub mod params;
pub mod registry;
pub mod responses;
pub mod slack_events;
pub mod slack_interactions;
pub mod slack_settings;
pub mod summary;
pub mod ui;

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use utoipa_actix_web::scope;

use error::ApiError;
use openapi::ApiDocument;
use responses::ErrorBody;

/// Registers every route of the service, and the error handlers of actix's own
/// extractors, so their refusals use the API's error format too.
///
/// `/api/v1` is registered here once: each handler in its scope is served and documented
/// by the same line, so the OpenAPI document lists exactly the routes the app serves.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|e, _| query_error(&e).into()))
        .app_data(web::PathConfig::default().error_handler(|e, _| path_error(&e).into()))
        .app_data(web::JsonConfig::default().error_handler(|e, _| json_error(&e).into()))
        .app_data(web::FormConfig::default().error_handler(|e, _| form_error(&e).into()));
    let api = scope("/api/v1")
        .service(registry::put_org)
        .service(registry::put_project)
        .service(events::load_test_event)
        .service(events::monitoring_event)
        .service(deliveries::list)
        .service(deliveries::list_org)
        .service(deliveries::end_mute)
        .service(baselines::list)
        .service(baselines::put)
        .service(baselines::remove)
        .service(maintenance::list_org)
        .service(maintenance::create_org)
        .service(maintenance::delete_org)
        .service(maintenance::list_project)
        .service(maintenance::create_project)
        .service(maintenance::delete_project)
        .service(slack_settings::get_org)
        .service(slack_settings::put_org)
        .service(slack_settings::get_project)
        .service(slack_settings::put_project)
        .service(slack_settings::delete_project)
        .service(slack_settings::install_org)
        .service(slack_settings::install_project)
        .service(slack_settings::remove_org)
        .service(slack_settings::remove_project)
        .service(slack_settings::test_message_org)
        .service(slack_settings::test_message_project)
        .service(summary::preview_org)
        .service(summary::preview_project)
        .service(summary::send_org)
        .service(summary::send_project)
        .service(channel_health::check_org)
        .service(openapi::openapi_json);
    cfg.app_data(web::Data::new(ApiDocument::of(&api)))
        .service(api)
        .service(health::healthz)
        .service(health::readyz)
        .service(oauth::callback)
        .service(slack_events::receive)
        .service(slack_interactions::receive)
        .service(metrics::metrics);
}

/// The routes outside `/api/v1` and their one method each, for the 405 answer.
const OTHER_ROUTES: [(&str, &str); 6] = [
    ("/healthz", "GET"),
    ("/readyz", "GET"),
    ("/metrics", "GET"),
    ("/slack/oauth/callback", "GET"),
    ("/slack/events", "POST"),
    ("/slack/interactions", "POST"),
];

/// Unknown paths: a JSON 404 in the API's error format. A known path asked with a method
/// it does not serve: 405 `method_not_allowed` with an `Allow` header.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    // Every route is in the resource map, whatever its method guard.
    if let Some(pattern) = req.resource_map().match_pattern(req.path()) {
        let allowed = allowed_methods(&req, &pattern);
        let mut res = HttpResponse::build(StatusCode::METHOD_NOT_ALLOWED);
        if !allowed.is_empty() {
            res.insert_header((header::ALLOW, allowed.join(", ")));
        }
        let message = if allowed.is_empty() {
            format!("{} is not allowed on {}", req.method(), req.path())
        } else {
            format!(
                "{} is not allowed on {}; use {}",
                req.method(),
                req.path(),
                allowed.join(" or ")
            )
        };
        return res.json(ErrorBody::new("method_not_allowed", message));
    }
    ApiError::not_found(format!("no such endpoint: {} {}", req.method(), req.path()))
        .error_response()
}

/// The methods served on a route pattern: from the OpenAPI document for `/api/v1` (made
/// from the registered routes), from [`OTHER_ROUTES`] for the few routes outside it.
fn allowed_methods(req: &HttpRequest, pattern: &str) -> Vec<&'static str> {
    if let Some((_, method)) = OTHER_ROUTES.iter().find(|(path, _)| *path == pattern) {
        return vec![*method];
    }
    req.app_data::<web::Data<ApiDocument>>()
        .map(|doc| doc.methods(pattern))
        .unwrap_or_default()
}

/// 400 for a query string the handler's parameters cannot take (e.g. `?limit=5&limit=6`).
fn query_error(e: &actix_web::error::QueryPayloadError) -> ApiError {
    use actix_web::error::QueryPayloadError;
    let QueryPayloadError::Deserialize(inner) = e else {
        return ApiError::param("query", "the query string is not valid");
    };
    let message = inner.to_string();
    if let Some(name) = backticked(&message, "duplicate field `") {
        return ApiError::param(
            name,
            format!("query parameter `{name}` may be given only once"),
        );
    }
    let field = backticked(&message, "missing field `")
        .or_else(|| backticked(&message, "unknown field `"))
        .unwrap_or("query");
    ApiError::param(field, format!("the query string is not valid: {message}"))
}

/// The name in serde's "<prefix>`name`…" messages.
fn backticked<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next().filter(|name| !name.is_empty())
}

/// 400 for path parameters that cannot be decoded.
fn path_error(_: &actix_web::error::PathError) -> ApiError {
    ApiError::param("path", "a path parameter is not valid")
}

/// actix's own JSON extractor (the API's bodies use [`json::ApiJson`]).
fn json_error(e: &actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError;
    match e {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge { limit: *limit },
        JsonPayloadError::ContentType => ApiError::param(
            "content-type",
            "the body must be JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Payload(p) if body_deadline::is_timeout(p) => ApiError::BodyTimeout,
        _ => ApiError::param("body", "the body is not valid JSON"),
    }
}

/// actix's form extractor (the web UI's forms).
fn form_error(e: &actix_web::error::UrlencodedError) -> ApiError {
    use actix_web::error::UrlencodedError;
    match e {
        UrlencodedError::Overflow { limit, .. } => ApiError::PayloadTooLarge { limit: *limit },
        UrlencodedError::ContentType => ApiError::param(
            "content-type",
            "the form must be application/x-www-form-urlencoded",
        ),
        UrlencodedError::Payload(p) if body_deadline::is_timeout(p) => ApiError::BodyTimeout,
        _ => ApiError::param("body", "the form is not valid"),
    }
}

/// Middleware: an error answer (4xx/5xx) made by actix itself rather than by a handler
/// (an empty 405 of a resource, a plain-text extractor or payload error) is replaced by the
/// API's JSON error format with a safe message for its status; its headers (`Allow`,
/// `Retry-After`, ...) are kept. HTML pages of the web UI and JSON errors pass unchanged.
pub async fn json_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    // (The request cannot be cloned here: routing needs it unshared.)
    let res = match next.call(req).await {
        Ok(res) => res,
        // An error a middleware passed up: the same answer, in the JSON format.
        Err(e) => {
            let res = rewrite(e.error_response());
            return Err(actix_web::error::InternalError::from_response(e.to_string(), res).into());
        }
    };
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || !needs_json(res.response()) {
        return Ok(res.map_into_left_body());
    }
    let (http_req, res) = res.into_parts();
    let res = rewrite(res.map_into_boxed_body());
    Ok(ServiceResponse::new(http_req, res).map_into_right_body())
}

/// Whether an error response lacks the JSON error format: empty, or plain text.
fn needs_json<B: MessageBody>(res: &HttpResponse<B>) -> bool {
    if matches!(res.body().size(), BodySize::None | BodySize::Sized(0)) {
        return true;
    }
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/plain");
    content_type.starts_with("text/plain")
}

/// The JSON error answer for `res`'s status, keeping its headers but not its body.
fn rewrite(res: HttpResponse) -> HttpResponse {
    let status = res.status();
    if !needs_json(&res) {
        return res;
    }
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), "request failed");
    }
    let (code, message) = error_for_status(status);
    let mut out = HttpResponse::build(status);
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.append_header((name.clone(), value.clone()));
        }
    }
    let message = match (status, res.headers().get(header::ALLOW)) {
        (StatusCode::METHOD_NOT_ALLOWED, Some(allow)) => format!(
            "{message}; use {}",
            allow.to_str().unwrap_or_default().replace(", ", " or ")
        ),
        _ => message.to_owned(),
    };
    out.json(ErrorBody::new(code, message))
}

/// A stable code and a safe message for a status.
fn error_for_status(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        401 => ("unauthenticated", "missing or unknown API token"),
        403 => ("forbidden", "this token may not do that"),
        404 => ("not_found", "no such endpoint"),
        405 => ("method_not_allowed", "this method is not allowed here"),
        408 => ("invalid_request", "the request took too long to arrive"),
        413 => ("payload_too_large", "the request body is too large"),
        431 => (
            "invalid_request",
            "the request headers are too large or too many",
        ),
        503 => (
            "unavailable",
            "the service is not available; try again shortly",
        ),
        500..=599 => ("internal", "internal error"),
        _ => ("invalid_request", "the request could not be understood"),
    }
}

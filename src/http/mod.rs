//! The HTTP boundary: thin handlers that parse into domain types and call models/actors.

pub mod auth;
pub mod channel_health;
pub mod deliveries;
pub mod error;
pub mod events;
pub mod health;
pub mod json;
pub mod metrics;
pub mod oauth;
pub mod observe;
pub mod openapi;
pub mod pages;
pub mod params;
pub mod registry;
pub mod slack_events;
pub mod slack_settings;
pub mod ui;

use actix_web::{web, HttpRequest, HttpResponse};

use error::ApiError;

/// Registers every route of the service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(registry::put_org)
        .service(registry::put_project)
        .service(events::load_test_event)
        .service(events::monitoring_event)
        .service(deliveries::list)
        .service(deliveries::list_org)
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
        .service(oauth::callback)
        .service(slack_events::receive)
        .service(metrics::metrics)
        .service(channel_health::check_org)
        .service(openapi::openapi_json);
}

/// Unknown paths and methods: a JSON 404 in the API's error format.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    ApiError::not_found(format!("no such endpoint: {} {}", req.method(), req.path()))
        .error_response()
}

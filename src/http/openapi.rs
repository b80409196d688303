//! The OpenAPI 3 document of `/api/v1`, served at `GET /api/v1/openapi.json`.
//!
//! It is made from the routes as they are registered ([`super::configure`] builds the
//! `/api/v1` scope with `utoipa-actix-web`, which collects each handler's
//! `#[utoipa::path]` and the schemas of its request and response types), so the
//! document lists exactly the routes the app serves. This module adds only what is not
//! in any handler: the title and the bearer token scheme.

use actix_web::{get, web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::OpenApiFactory;

use super::responses::{ErrorBody, ServerErrors};

/// Adds the bearer token scheme every `/api/` path uses.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The parts of the document that no handler carries. `ErrorBody` is listed here because
/// the error responses of [`super::responses`] refer to it by name.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "xtc-slack",
        description = "Slack notifications for XTC load tests and synthetic monitoring"
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// The document of the routes registered in an `/api/v1` scope (app data, shared by
/// the document's route and the 405 answers of [`super::not_found`]).
pub struct ApiDocument(utoipa::openapi::OpenApi);

impl ApiDocument {
    /// The document of `api`; call it once, before the scope is registered (the factory
    /// hands its paths over).
    pub fn of(api: &impl OpenApiFactory) -> Self {
        let mut doc = ApiDoc::openapi();
        doc.paths.merge(api.paths());
        let mut schemas = Vec::new();
        api.schemas(&mut schemas);
        doc.components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
        add_server_errors(&mut doc);
        Self(doc)
    }

    /// The methods served on a route pattern (e.g. `/api/v1/orgs/{org}/slack`), upper case;
    /// empty for a pattern outside the document.
    pub fn methods(&self, pattern: &str) -> Vec<&'static str> {
        let Some(item) = self.0.paths.paths.get(pattern) else {
            return Vec::new();
        };
        [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ]
        .into_iter()
        .filter(|(_, op)| op.is_some())
        .map(|(method, _)| method)
        .collect()
    }
}

/// Adds 500 and 503 to every operation that checks a token: the check reads the
/// database, so each of them can answer both, whatever its handler does next.
fn add_server_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::IntoResponses;
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in operations.into_iter().flatten() {
            if op.security.is_none() {
                continue;
            }
            for (status, response) in ServerErrors::responses() {
                op.responses.responses.entry(status).or_insert(response);
            }
        }
    }
}

/// The document as JSON.
#[utoipa::path(
    tag = "meta",
    responses((status = 200, description = "This OpenAPI 3 document", content_type = "application/json"))
)]
#[get("/openapi.json")]
pub async fn openapi_json(doc: web::Data<ApiDocument>) -> HttpResponse {
    HttpResponse::Ok().json(&doc.0)
}

//! What the OpenAPI document says about error answers: the body every error has
//! ([`ErrorBody`], the shape of [`super::error::ApiError`]'s answers) and one type per
//! error status, so that a handler's `#[utoipa::path]` names its success response and the
//! errors it can give in a few words:
//! `responses((status = 200, body = OrgView), BadRequest, Denied, NotFound)`.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::ToSchema;

/// Every error body: a stable code and a safe message, plus the fields some codes add.
/// (Fields in alphabetical order, as serde_json writes the maps of `ApiError::body`.)
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// `unauthenticated`, `forbidden`, `not_found`, `invalid_request`, ...
    pub error: String,
    /// `invalid_request` on a list field: one object per refused entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Vec<serde_json::Value>>,
    /// The offending field or parameter, for `invalid_request`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The stored state, for `invalid_transition`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub message: String,
    /// What the configuration lacks, for `incomplete_config`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<String>>,
    /// The refused state, for `invalid_transition`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl ErrorBody {
    /// A body with only a code and a message.
    pub fn new(error: &str, message: impl Into<String>) -> Self {
        Self {
            error: error.to_owned(),
            errors: None,
            field: None,
            from: None,
            message: message.into(),
            missing: None,
            to: None,
        }
    }
}

/// `status → response` entries with an [`ErrorBody`] each.
fn with_error_body(entries: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    entries
        .iter()
        .map(|(status, description)| {
            let body = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build();
            let response = ResponseBuilder::new()
                .description(*description)
                .content("application/json", body)
                .build();
            ((*status).to_owned(), response.into())
        })
        .collect()
}

macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident => [$(($status:literal, $description:literal)),+ $(,)?];)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                with_error_body(&[$(($status, $description)),+])
            }
        }
    )*};
}

error_responses! {
    /// 400 `invalid_request`: a path or query parameter, or a body that is not JSON.
    BadRequest => [("400", "invalid_request: a path or query parameter, or a body that is not JSON")];
    /// 401 and 403: the token is checked before anything else.
    Denied => [
        ("401", "unauthenticated: missing or unknown API token"),
        ("403", "forbidden: the token's role or scope does not cover this"),
    ];
    /// 404 `not_found`: the organization or project is not registered.
    NotFound => [("404", "not_found: the organization or project is not registered")];
    /// 409: a state that does not allow this now.
    Conflict => [("409", "invalid_transition, event_id_reused, incomplete_config or slack_not_configured")];
    /// 413 `payload_too_large`.
    PayloadTooLarge => [("413", "payload_too_large: the body is larger than allowed")];
    /// 422 `invalid_request` naming a body field.
    Unprocessable => [("422", "invalid_request: a body field's value, named in `field`")];
    /// 503 `unavailable`: the database or Slack, for a moment; retry.
    Unavailable => [("503", "unavailable: try again shortly")];
    /// 500 and 503: what any operation that reads the database can answer (added to each
    /// one by [`super::openapi::ApiDocument`], not named by the handlers).
    ServerErrors => [
        ("500", "internal: an unexpected error (logged; the body says nothing more)"),
        ("503", "unavailable: the database, for a moment; try again shortly"),
    ];
}

/// `#[serde(serialize_with = "sorted_keys")]`: writes a value with the keys of its objects
/// in alphabetical order, as a `serde_json::Value` does. For the few fields that reuse a
/// service type whose field order differs from what the wire has always carried.
pub fn sorted_keys<T: Serialize, S: serde::Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    serde_json::to_value(value)
        .map_err(serde::ser::Error::custom)?
        .serialize(s)
}

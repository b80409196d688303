//! `ApiJson<T>`: the JSON body extractor of the API.
//!
//! actix-web's own `Json` answers with its own error bodies; this one reads at most
//! [`MAX_BODY_BYTES`], and reports syntax errors (400) and field errors (422, with the
//! JSON path of the field, thanks to `serde_path_to_error`) as [`ApiError`]s.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The body limit of API.md.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body deserialised into `T`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
                return Err(ApiError::PayloadTooLarge {
                    limit: MAX_BODY_BYTES,
                });
            }
            let mut body = Vec::with_capacity(declared.unwrap_or(1024).min(MAX_BODY_BYTES));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    if super::body_deadline::is_timeout(&e) {
                        return ApiError::BodyTimeout;
                    }
                    ApiError::InvalidRequest {
                        status: StatusCode::BAD_REQUEST,
                        field: Some("body".into()),
                        message: "the request body could not be read".into(),
                    }
                })?;
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(ApiError::PayloadTooLarge {
                        limit: MAX_BODY_BYTES,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            parse_body(&body).map(ApiJson)
        })
    }
}

/// Parses a JSON body, naming the offending field on error.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidRequest {
            status: StatusCode::BAD_REQUEST,
            field: Some("body".into()),
            message: "a JSON body is required".into(),
        });
    }
    // Every body of this API is an object; serde would otherwise accept a struct
    // written as an array and report odd paths like `[0]`.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') && serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        return Err(ApiError::field("body", "the body must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    // Trailing garbage after the document is a syntax error, not ignored.
    if value.is_ok() {
        if let Err(e) = de.end() {
            return Err(ApiError::InvalidRequest {
                status: StatusCode::BAD_REQUEST,
                field: Some("body".into()),
                message: format!("the body is not valid JSON: {e}"),
            });
        }
    }
    value.map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::InvalidRequest {
                status: StatusCode::BAD_REQUEST,
                field: Some("body".into()),
                message: format!("the body is not valid JSON: {inner}"),
            };
        }
        let message = inner.to_string();
        // serde reports a missing field at its parent; name the field itself. (An unknown
        // key of a strict body is already in the path.)
        let field = match missing_field_name(&message)
            .or_else(|| unknown_field_name(&message).filter(|_| path == "."))
        {
            Some(name) if path == "." => name.to_owned(),
            Some(name) => format!("{path}.{name}"),
            None if path == "." => "body".to_owned(),
            None => path,
        };
        ApiError::field(field, strip_position(&message))
    })
}

fn missing_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// The key of a strict body's "unknown field `x`, expected …" error.
fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// serde_json appends " at line L column C"; keep the message readable.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(idx) => message[..idx].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        url: String,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: u32,
        inner: Option<Inner>,
    }

    fn field_of(body: &str) -> (u16, String) {
        match parse_body::<Body>(body.as_bytes()).unwrap_err() {
            ApiError::InvalidRequest { status, field, .. } => (status.as_u16(), field.unwrap()),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn names_the_offending_field() {
        assert_eq!(field_of(r#"{"count": 1}"#), (422, "name".into()));
        assert_eq!(
            field_of(r#"{"name": "x", "count": "1"}"#),
            (422, "count".into())
        );
        assert_eq!(
            field_of(r#"{"name": "x", "count": 1, "inner": {}}"#),
            (422, "inner.url".into())
        );
        assert_eq!(
            field_of(r#"{"name": "x", "count": -1}"#),
            (422, "count".into())
        );
        assert_eq!(field_of("{"), (400, "body".into()));
        assert_eq!(field_of(""), (400, "body".into()));
        assert_eq!(
            field_of(r#"{"name": "x", "count": 1} trailing"#),
            (400, "body".into())
        );
        assert_eq!(field_of("[1, 2]"), (422, "body".into()));
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        send_messages: Option<bool>,
    }

    #[test]
    fn a_strict_body_names_the_unknown_key() {
        let err = parse_body::<Strict>(br#"{"sendmessages": true}"#).unwrap_err();
        let body = err.body();
        assert_eq!(body["field"], "sendmessages");
        assert!(body["message"].as_str().unwrap().contains("unknown field"));
    }
}

//! The one error type of the HTTP boundary: each variant maps to a status and a stable
//! snake_case code (API.md, "Errors"). Causes are logged once, never sent to clients.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Map, Value};

use crate::services::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or unknown API token")]
    Unauthenticated,
    #[error("this token may not do that")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    /// Bad input; `status` is 400 (syntax, path, query) or 422 (a body field's value).
    #[error("{message}")]
    InvalidRequest {
        status: StatusCode,
        field: Option<String>,
        message: String,
    },
    /// 422 `invalid_request` on a list field with several entries refused at once: like
    /// [`Self::InvalidRequest`] (same code, status and `field`), plus `errors`, one JSON
    /// object per refused entry (e.g. `{"channel": "@jane", "message": "…"}`).
    #[error("{message}")]
    InvalidEntries {
        field: String,
        message: String,
        errors: Vec<Value>,
    },
    #[error("cannot go from {from} to {to}")]
    InvalidTransition { from: String, to: String },
    /// 409: an `event_id` already used for another event of the same subject.
    #[error("{0}")]
    EventIdReused(String),
    #[error("{message}")]
    IncompleteConfig {
        message: String,
        missing: Vec<&'static str>,
    },
    #[error(
        "Slack app credentials are not configured: set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"
    )]
    SlackNotConfigured,
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 408: the body did not arrive within `XTC_SLACK_REQUEST_BODY_TIMEOUT_SECS`.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected. The cause is logged; the client sees a generic text.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// 422 naming a body field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// 400 naming a path or query parameter.
    pub fn param(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            status: StatusCode::BAD_REQUEST,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// The stable code of API.md.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::InvalidRequest { .. } | Self::InvalidEntries { .. } => "invalid_request",
            Self::InvalidTransition { .. } => "invalid_transition",
            Self::EventIdReused(_) => "event_id_reused",
            Self::IncompleteConfig { .. } => "incomplete_config",
            Self::SlackNotConfigured => "slack_not_configured",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BodyTimeout => "request_timeout",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The JSON body sent to the client.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), json!(self.code()));
        body.insert("message".into(), json!(self.to_string()));
        match self {
            Self::InvalidRequest {
                field: Some(field), ..
            } => {
                body.insert("field".into(), json!(field));
            }
            Self::InvalidEntries { field, errors, .. } => {
                body.insert("field".into(), json!(field));
                body.insert("errors".into(), json!(errors));
            }
            Self::InvalidTransition { from, to } => {
                body.insert("from".into(), json!(from));
                body.insert("to".into(), json!(to));
            }
            Self::IncompleteConfig { missing, .. } => {
                body.insert("missing".into(), json!(missing));
            }
            _ => {}
        }
        Value::Object(body)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::InvalidRequest { status, .. } => *status,
            Self::InvalidEntries { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InvalidTransition { .. }
            | Self::EventIdReused(_)
            | Self::IncompleteConfig { .. }
            | Self::SlackNotConfigured => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let mut res = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::UNAUTHORIZED {
            res.insert_header(("WWW-Authenticate", "Bearer"));
        }
        res.json(self.body())
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        fn lost(e: &DbError) -> bool {
            match e {
                DbError::Pool(_) | DbError::Connect(_) => true,
                DbError::Query(q) => is_connection_loss(q),
                DbError::Shared(inner) => lost(inner),
                _ => false,
            }
        }
        if lost(&e) {
            // A restart or failover of the database, or a pool that could not hand out a
            // connection in time: the client may retry (503), the cause stays in the log.
            tracing::warn!(error = %e, "database unavailable");
            return Self::Unavailable("the database is not available; try again shortly".into());
        }
        Self::Internal(e.into())
    }
}

/// Whether a query failed because the connection to the database went away (server
/// restart, `pg_terminate_backend`, network) or the database is momentarily busy, rather
/// than because of the query itself. diesel only flags a closed connection on a best-effort
/// basis, so PostgreSQL's messages for class 08 (connection exception) and 57
/// (operator intervention) are recognised too.
pub fn is_connection_loss(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message().to_ascii_lowercase();
            [
                "terminating connection",
                "server closed the connection",
                "connection to server",
                "no connection to the server",
                "could not receive data from server",
                "could not send data to server",
                "the database system is shutting down",
                "the database system is starting up",
                "the database system is in recovery mode",
                "ssl connection has been closed",
                "database is locked",
            ]
            .iter()
            .any(|needle| message.contains(needle))
        }
        Error::RollbackErrorOnCommit {
            rollback_error,
            commit_error,
        } => is_connection_loss(rollback_error) || is_connection_loss(commit_error),
        _ => false,
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        Self::from(DbError::Query(e))
    }
}

/// Configuration operations' failures as API answers.
impl From<crate::services::slack_config::ConfigError> for ApiError {
    fn from(e: crate::services::slack_config::ConfigError) -> Self {
        use crate::services::slack_config::ConfigError;
        match e {
            ConfigError::NotFound(m) => ApiError::NotFound(m),
            ConfigError::InvalidChannels { message, errors } => ApiError::InvalidEntries {
                field: "target_channels".to_owned(),
                message,
                errors: errors.iter().map(|e| json!(e)).collect(),
            },
            ConfigError::InvalidRule { field, message }
            | ConfigError::Invalid { field, message } => ApiError::field(field, message),
            ConfigError::SlackNotConfigured => ApiError::SlackNotConfigured,
            ConfigError::Incomplete { message, missing } => {
                ApiError::IncompleteConfig { message, missing }
            }
            ConfigError::SlackUnavailable(m) => ApiError::Unavailable(m),
            ConfigError::Db(e) => ApiError::from(e),
            ConfigError::Crypto(e) => ApiError::internal(e),
            ConfigError::Render(e) => ApiError::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = ApiError::internal(anyhow::anyhow!("secret detail xoxb-123"));
        let body = e.body().to_string();
        assert!(!body.contains("xoxb"));
        assert!(body.contains("\"internal\""));
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn entry_errors_are_invalid_requests_listing_each_entry() {
        let e = ApiError::InvalidEntries {
            field: "target_channels".into(),
            message: "2 problems".into(),
            errors: vec![
                json!({"channel": "@jane", "message": "a user"}),
                json!({"channel": "D0123ABCD", "message": "a DM"}),
            ],
        };
        assert_eq!(e.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = e.body();
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["field"], "target_channels");
        assert_eq!(body["message"], "2 problems");
        assert_eq!(body["errors"][1]["channel"], "D0123ABCD");
    }

    #[test]
    fn a_lost_database_connection_is_503_unavailable_without_its_cause() {
        use diesel::result::{DatabaseErrorKind, Error};
        let lost = [
            Error::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new("terminating connection due to administrator command".to_owned()),
            ),
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection,
                Box::new("anything".to_owned()),
            ),
            Error::DatabaseError(
                DatabaseErrorKind::UnableToSendCommand,
                Box::new("no connection to the server".to_owned()),
            ),
            Error::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new("server closed the connection unexpectedly".to_owned()),
            ),
        ];
        for e in lost {
            let api = ApiError::from(DbError::Query(e));
            assert_eq!(api.status_code(), StatusCode::SERVICE_UNAVAILABLE);
            let body = api.body();
            assert_eq!(body["error"], "unavailable");
            let text = body.to_string();
            assert!(!text.contains("administrator"), "{text}");
            assert!(!text.contains("server closed"), "{text}");
        }
        let constraint = Error::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new("duplicate key value".to_owned()),
        );
        let api = ApiError::from(DbError::Query(constraint));
        assert_eq!(api.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        // A failure answered to several requests (their token checks) is classified by
        // what it wraps.
        let shared = |e| DbError::Shared(std::sync::Arc::new(e));
        assert_eq!(
            ApiError::from(shared(DbError::Connect("refused".into()))).status_code(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::from(shared(DbError::Query(Error::NotFound))).status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            ApiError::from(Error::NotFound).status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn transition_errors_name_both_states() {
        let e = ApiError::InvalidTransition {
            from: "finished".into(),
            to: "running".into(),
        };
        assert_eq!(e.body()["from"], "finished");
        assert_eq!(e.body()["to"], "running");
        assert_eq!(e.status_code(), StatusCode::CONFLICT);
    }
}

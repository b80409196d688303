//! The error type of the Slack client and the classification of Slack's answers.
//!
//! Slack answers API-level failures with HTTP 200 and `{"ok":false,"error":"<code>"}`,
//! throttling with HTTP 429 + `Retry-After`, and anything else is a transport problem.
//! Callers do not care about the hundred codes; they care about what to do next, which is
//! [`ErrorClass`]. The mapping lives in exactly one place, [`classify`]; what a failed
//! look-up of one channel says about that channel is [`SlackError::channel_refusal`].

use std::time::Duration;

/// What a caller should do about a failed Slack call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// A transient problem (throttling, Slack trouble, network, timeout): try again later,
    /// after [`SlackError::retry_after`] if it is set.
    RetryLater,
    /// The target channel is unusable (unknown, private, archived, bot not a member, ...):
    /// fix the channel configuration; other channels of the same workspace still work.
    Channel,
    /// The installation no longer works (token revoked, app removed, scope missing, ...):
    /// nothing will succeed until someone reinstalls the integration.
    IntegrationBroken,
    /// Slack refused the message itself (blocks invalid, text missing or too long):
    /// retrying the same payload cannot help.
    BadMessage,
    /// Anything else; treat as a permanent failure of this one call.
    Other,
}

/// Why Slack would not describe a channel (`conversations.info`), when the refusal is an
/// answer about the channel rather than a failure of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelRefusal {
    /// `channel_not_found`: deleted, or never visible to the bot.
    NotFound,
    /// `missing_scope` needing `groups:read`: only private channels need that scope, and
    /// the app does not ask for it, so the channel is (or has turned) private.
    Private,
}

/// A failed Slack Web API call. Never contains a token: the client never puts request
/// headers or bodies into errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// HTTP 200 with `ok: false`.
    #[error("Slack {method} failed: {code}")]
    Api {
        /// The Web API method, e.g. `chat.postMessage`.
        method: &'static str,
        /// Slack's error code, e.g. `channel_not_found`.
        code: String,
        /// For `missing_scope`: the scope(s) the call needs.
        needed: Option<String>,
        /// For `missing_scope`: the scopes the token has.
        provided: Option<String>,
        /// Details, e.g. for `invalid_blocks` (`must be less than 3001 characters ...`).
        errors: Vec<String>,
    },
    /// HTTP 429: Slack throttles this method (or this channel).
    #[error("Slack {method} was rate limited (retry after {retry_after:?})")]
    RateLimited {
        /// The Web API method.
        method: &'static str,
        /// The `Retry-After` header in seconds, when present and valid.
        retry_after: Option<Duration>,
    },
    /// An HTTP status other than 200 and 429 (Slack does not use them meaningfully).
    #[error("Slack {method} answered HTTP {status}")]
    Http {
        /// The Web API method.
        method: &'static str,
        /// The HTTP status.
        status: u16,
        /// `http_<status>`, kept so that [`SlackError::code`] can borrow it.
        code: String,
        /// The `error` field of the body, if the body was Slack JSON.
        slack_error: Option<String>,
    },
    /// The call did not complete within the client's timeout.
    #[error("Slack {method} timed out")]
    Timeout {
        /// The Web API method.
        method: &'static str,
    },
    /// Connecting, sending or receiving failed below HTTP.
    #[error("Slack {method}: connection failed: {detail}")]
    Connection {
        /// The Web API method.
        method: &'static str,
        /// The transport error, for logs.
        detail: String,
    },
    /// An answer that is not a Slack reply at all: an HTML page, an empty or truncated
    /// body, JSON without `ok`. A proxy or load balancer in front of Slack answers like
    /// that while Slack is unreachable: worth retrying, like a 5xx.
    #[error("Slack {method} answered with something that is not a Slack reply: {detail}")]
    NotSlack {
        /// The Web API method.
        method: &'static str,
        /// What did not fit, for logs (never the body itself: it may echo a token).
        detail: String,
    },
    /// Slack's file host did not take a file's bytes (an HTTP 4xx other than 429 from the
    /// upload URL: it expired, was used or was refused; or it took another length). The
    /// URL is spent: a retry starts over with `files.getUploadURLExternal`.
    #[error("Slack {method} refused the file's bytes: {detail}")]
    UploadRefused {
        /// `upload_url`.
        method: &'static str,
        /// The HTTP status.
        status: u16,
        /// What was refused, for logs (never the URL: it is a credential for minutes).
        detail: String,
    },
    /// A Slack reply we cannot use (a success without the fields it must have), or a
    /// request we could not encode: retrying gives the same.
    #[error("Slack {method} answered something undecodable: {detail}")]
    Decode {
        /// The Web API method.
        method: &'static str,
        /// What did not fit, for logs (never the body itself: it may echo a token).
        detail: String,
    },
}

/// [`SlackError::code`] of [`SlackError::Timeout`].
pub const CODE_TIMEOUT: &str = "timeout";
/// [`SlackError::code`] of [`SlackError::Connection`].
pub const CODE_CONNECTION_FAILED: &str = "connection_failed";
/// [`SlackError::code`] of [`SlackError::NotSlack`].
pub const CODE_INVALID_RESPONSE: &str = "invalid_response";
/// [`SlackError::code`] of [`SlackError::Decode`].
pub const CODE_UNEXPECTED_RESPONSE: &str = "unexpected_response";
/// [`SlackError::code`] of [`SlackError::RateLimited`] (Slack's body code for HTTP 429).
pub const CODE_RATELIMITED: &str = "ratelimited";
/// [`SlackError::code`] of [`SlackError::UploadRefused`].
pub const CODE_UPLOAD_REFUSED: &str = "upload_refused";

impl SlackError {
    /// Slack's error code (`channel_not_found`, ...) or our own code for failures that have
    /// none: `ratelimited`, `http_<status>`, `timeout`, `connection_failed`,
    /// `invalid_response`, `unexpected_response`, `upload_refused`. Stable and safe to show to users and store.
    pub fn code(&self) -> &str {
        match self {
            SlackError::Api { code, .. } | SlackError::Http { code, .. } => code,
            SlackError::RateLimited { .. } => CODE_RATELIMITED,
            SlackError::Timeout { .. } => CODE_TIMEOUT,
            SlackError::Connection { .. } => CODE_CONNECTION_FAILED,
            SlackError::NotSlack { .. } => CODE_INVALID_RESPONSE,
            SlackError::Decode { .. } => CODE_UNEXPECTED_RESPONSE,
            SlackError::UploadRefused { .. } => CODE_UPLOAD_REFUSED,
        }
    }

    /// What to do about this error; see [`classify`].
    pub fn class(&self) -> ErrorClass {
        classify(self.code())
    }

    /// How long Slack asked us to wait (HTTP 429 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SlackError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// What this error of a channel look-up says about the channel; `None` when it is a
    /// failure of the call (throttling, token, transport, ...), not an answer about it.
    pub fn channel_refusal(&self) -> Option<ChannelRefusal> {
        match self {
            SlackError::Api { code, .. } if code == "channel_not_found" => {
                Some(ChannelRefusal::NotFound)
            }
            _ if self.lacks_scope("groups:read") => Some(ChannelRefusal::Private),
            _ => None,
        }
    }

    /// Whether Slack refused the call because the token lacks `scope` (`missing_scope`
    /// naming it in `needed`). For [`FILES_WRITE_SCOPE`] that means the installation was
    /// made without file uploads: only a new install that grants the scope helps, and
    /// everything else of the installation still works.
    ///
    /// [`FILES_WRITE_SCOPE`]: crate::slack::types::FILES_WRITE_SCOPE
    pub fn lacks_scope(&self, scope: &str) -> bool {
        matches!(
            self,
            SlackError::Api { code, needed: Some(needed), .. }
                if code == "missing_scope" && needed.split(',').any(|s| s.trim() == scope)
        )
    }

    /// The Web API method that failed.
    pub fn method(&self) -> &'static str {
        match self {
            SlackError::Api { method, .. }
            | SlackError::RateLimited { method, .. }
            | SlackError::Http { method, .. }
            | SlackError::Timeout { method }
            | SlackError::Connection { method, .. }
            | SlackError::NotSlack { method, .. }
            | SlackError::Decode { method, .. }
            | SlackError::UploadRefused { method, .. } => method,
        }
    }
}

/// Maps an error code (Slack's, or one of ours from [`SlackError::code`]) to what the
/// caller should do. Unknown codes are [`ErrorClass::Other`]: a permanent failure of this
/// call that does not condemn the channel or the integration.
pub fn classify(code: &str) -> ErrorClass {
    if let Some(status) = code.strip_prefix("http_") {
        // Slack's own advice: 429 and 5xx are worth retrying; other statuses mean we are
        // talking to the wrong thing, which retrying will not fix.
        return match status.parse::<u16>() {
            Ok(429) | Ok(500..=599) => ErrorClass::RetryLater,
            _ => ErrorClass::Other,
        };
    }
    match code {
        CODE_RATELIMITED
        | CODE_TIMEOUT
        | CODE_CONNECTION_FAILED
        | CODE_INVALID_RESPONSE
        | "rate_limited"
        | "internal_error"
        | "fatal_error"
        | "service_unavailable"
        | "request_timeout"
        | "message_limit_exceeded" => ErrorClass::RetryLater,
        // A file upload whose bytes never arrived or whose upload URL expired: a retry
        // starts over with a new upload URL, which fixes it.
        CODE_UPLOAD_REFUSED | "file_not_found" | "invalid_upload" => ErrorClass::RetryLater,

        "channel_not_found"
        | "invalid_channel"
        | "not_in_channel"
        | "is_archived"
        | "is_inactive"
        | "duplicate_channel_not_found"
        | "channel_is_limited_access"
        | "cannot_reply_to_message"
        | "posting_to_channel_denied"
        | "method_not_supported_for_channel_type"
        | "too_many_members" => ErrorClass::Channel,
        c if c.starts_with("restricted_action") => ErrorClass::Channel,

        "invalid_auth"
        | "not_authed"
        | "token_revoked"
        | "account_inactive"
        | "token_expired"
        | "missing_scope"
        | "no_permission"
        | "not_allowed_token_type"
        | "team_access_not_granted"
        | "ekm_access_denied"
        | "org_login_required"
        | "team_added_to_org"
        | "two_factor_setup_required"
        | "access_denied"
        | "accesslimited"
        | "not_bearer_token"
        | "team_not_found"
        | "app_missing_action_url" => ErrorClass::IntegrationBroken,

        // A dialog that cannot open: its trigger is older than 3 seconds or was used (only
        // a new click helps), or Slack refused the view itself.
        "expired_trigger_id" | "invalid_trigger_id" | "exchanged_trigger_id" => ErrorClass::Other,
        "view_too_large" | "duplicate_external_id" => ErrorClass::BadMessage,

        "invalid_blocks"
        | "invalid_blocks_format"
        | "no_text"
        | "msg_too_long"
        | "msg_blocks_too_long"
        | "too_many_attachments"
        | "attachment_payload_limit_exceeded"
        | "invalid_attachments"
        | "metadata_too_large"
        | "invalid_metadata_format"
        | "invalid_metadata_schema"
        | "markdown_text_conflict"
        | "invalid_json"
        | "json_not_object"
        | "invalid_arguments"
        | "missing_argument"
        | "invalid_arg_name"
        | "invalid_array_arg"
        | "invalid_charset"
        | "invalid_form_data"
        | "invalid_post_type"
        | "missing_post_type"
        | "thread_not_found"
        | "duplicate_message_not_found" => ErrorClass::BadMessage,

        _ => ErrorClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        use ErrorClass::*;
        let table: &[(&str, ErrorClass)] = &[
            ("ratelimited", RetryLater),
            ("expired_trigger_id", Other),
            ("invalid_trigger_id", Other),
            ("exchanged_trigger_id", Other),
            ("view_too_large", BadMessage),
            ("http_429", RetryLater),
            ("http_500", RetryLater),
            ("http_502", RetryLater),
            ("http_503", RetryLater),
            ("http_599", RetryLater),
            ("connection_failed", RetryLater),
            ("timeout", RetryLater),
            ("internal_error", RetryLater),
            ("fatal_error", RetryLater),
            ("service_unavailable", RetryLater),
            ("request_timeout", RetryLater),
            ("channel_not_found", Channel),
            ("not_in_channel", Channel),
            ("is_archived", Channel),
            ("restricted_action", Channel),
            ("restricted_action_read_only_channel", Channel),
            ("restricted_action_thread_only_channel", Channel),
            ("duplicate_channel_not_found", Channel),
            ("channel_is_limited_access", Channel),
            ("cannot_reply_to_message", Channel),
            ("invalid_auth", IntegrationBroken),
            ("not_authed", IntegrationBroken),
            ("token_revoked", IntegrationBroken),
            ("account_inactive", IntegrationBroken),
            ("token_expired", IntegrationBroken),
            ("missing_scope", IntegrationBroken),
            ("no_permission", IntegrationBroken),
            ("not_allowed_token_type", IntegrationBroken),
            ("team_access_not_granted", IntegrationBroken),
            ("ekm_access_denied", IntegrationBroken),
            ("org_login_required", IntegrationBroken),
            ("invalid_blocks", BadMessage),
            ("invalid_blocks_format", BadMessage),
            ("no_text", BadMessage),
            ("msg_too_long", BadMessage),
            ("msg_blocks_too_long", BadMessage),
            ("too_many_attachments", BadMessage),
            ("metadata_too_large", BadMessage),
            ("invalid_json", BadMessage),
            ("json_not_object", BadMessage),
            ("invalid_arguments", BadMessage),
            ("http_404", Other),
            ("http_400", Other),
            ("http_abc", Other),
            ("invalid_response", RetryLater),
            // The file upload flow (slack-api.md §10).
            ("upload_refused", RetryLater),
            ("file_not_found", RetryLater),
            ("invalid_upload", RetryLater),
            ("invalid_channel", Channel),
            ("missing_argument", BadMessage),
            // A workspace's file policy: permanent for this call, posts still work.
            ("file_uploads_disabled", Other),
            ("file_type_not_allowed", Other),
            ("storage_limit_reached", Other),
            ("unexpected_response", Other),
            ("invalid_code", Other),
            ("message_not_found", Other),
            ("something_new_from_slack", Other),
            ("", Other),
        ];
        for (code, class) in table {
            assert_eq!(classify(code), *class, "classify({code:?})");
        }
    }

    #[test]
    fn error_codes_and_retry_after() {
        let e = SlackError::RateLimited {
            method: "chat.postMessage",
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(e.code(), "ratelimited");
        assert_eq!(e.class(), ErrorClass::RetryLater);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        let e = SlackError::Timeout {
            method: "auth.test",
        };
        assert_eq!((e.code(), e.class()), ("timeout", ErrorClass::RetryLater));
        assert_eq!(e.retry_after(), None);
        assert_eq!(e.method(), "auth.test");
        let e = SlackError::Decode {
            method: "auth.test",
            detail: "x".into(),
        };
        assert_eq!(e.class(), ErrorClass::Other);
    }

    #[test]
    fn a_missing_files_write_scope_is_recognisable_and_final() {
        let api = |code: &str, needed: Option<&str>| SlackError::Api {
            method: "files.getUploadURLExternal",
            code: code.into(),
            needed: needed.map(Into::into),
            provided: Some("chat:write,channels:read".into()),
            errors: vec![],
        };
        let e = api("missing_scope", Some("files:write"));
        assert!(e.lacks_scope("files:write"));
        assert_eq!(e.class(), ErrorClass::IntegrationBroken);
        assert!(api("missing_scope", Some("chat:write, files:write")).lacks_scope("files:write"));
        assert!(!api("missing_scope", Some("files:read")).lacks_scope("files:write"));
        assert!(!api("missing_scope", None).lacks_scope("files:write"));
        assert!(!api("not_in_channel", Some("files:write")).lacks_scope("files:write"));
        let refused = SlackError::UploadRefused {
            method: "upload_url",
            status: 404,
            detail: "HTTP 404".into(),
        };
        assert_eq!(
            (refused.code(), refused.class(), refused.method()),
            ("upload_refused", ErrorClass::RetryLater, "upload_url")
        );
        assert!(!refused.lacks_scope("files:write"));
    }

    #[test]
    fn channel_refusals() {
        let api = |code: &str, needed: Option<&str>| SlackError::Api {
            method: "conversations.info",
            code: code.into(),
            needed: needed.map(Into::into),
            provided: None,
            errors: vec![],
        };
        let table = [
            (
                api("channel_not_found", None),
                Some(ChannelRefusal::NotFound),
            ),
            (
                api("missing_scope", Some("groups:read")),
                Some(ChannelRefusal::Private),
            ),
            (
                api("missing_scope", Some("channels:read, groups:read")),
                Some(ChannelRefusal::Private),
            ),
            (api("missing_scope", Some("channels:read")), None),
            (api("missing_scope", None), None),
            (api("not_in_channel", None), None),
            (api("invalid_auth", None), None),
            (
                SlackError::Timeout {
                    method: "conversations.info",
                },
                None,
            ),
        ];
        for (e, refusal) in table {
            assert_eq!(e.channel_refusal(), refusal, "{e:?}");
        }
    }
}

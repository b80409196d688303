//! How an answer from Slack is read: the status, the JSON envelope and its `ok`, warnings,
//! and the typed success body, each failure as the [`SlackError`] it means. Pure, so the
//! rules are unit-tested without a server.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::slack::error::SlackError;
use crate::slack::types::Posted;

/// A successful answer: the JSON object and its warnings.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub(super) value: Value,
    pub(super) warnings: Vec<String>,
}

/// Turns an HTTP answer into a success envelope or a [`SlackError`]. Pure, so the rules
/// (429 first, non-2xx, JSON, `ok`) are unit-tested without a server.
pub(crate) fn interpret(
    method: &'static str,
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<Envelope, SlackError> {
    if status == 429 {
        return Err(SlackError::RateLimited {
            method,
            retry_after: retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        });
    }
    let object = serde_json::from_slice::<Map<String, Value>>(body).ok();
    if !(200..300).contains(&status) {
        return Err(SlackError::Http {
            method,
            status,
            code: format!("http_{status}"),
            slack_error: object
                .as_ref()
                .and_then(|o| o.get("error"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    }
    let Some(object) = object else {
        return Err(SlackError::NotSlack {
            method,
            detail: if body.is_empty() {
                "empty body".to_owned()
            } else {
                "body is not a JSON object".to_owned()
            },
        });
    };
    let warnings = warnings(&object);
    if !warnings.is_empty() {
        tracing::warn!(method, warnings = %warnings.join(","), "Slack answered with warnings");
    }
    let ok = object.get("ok").and_then(Value::as_bool);
    let error = object.get("error").and_then(Value::as_str);
    match (ok, error) {
        (Some(true), _) => Ok(Envelope {
            value: Value::Object(object),
            warnings,
        }),
        (Some(false), _) | (None, Some(_)) => {
            let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
            Err(SlackError::Api {
                method,
                code: error.unwrap_or("unknown_error").to_owned(),
                needed: text("needed"),
                provided: text("provided"),
                errors: object
                    .get("errors")
                    .and_then(Value::as_array)
                    .map(|errs| {
                        errs.iter()
                            .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        }
        (None, None) => Err(SlackError::NotSlack {
            method,
            detail: "no `ok` field".to_owned(),
        }),
    }
}

/// Turns the answer of a file's upload URL into success or the [`SlackError`] it means.
/// Slack's file host answers `200 OK - <length>`; a 4xx (other than 429) means the URL
/// expired or was refused ([`SlackError::UploadRefused`]); 429, 5xx and anything that is
/// not that answer are read as for the Web API (retried).
pub(crate) fn interpret_upload(
    method: &'static str,
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    sent: usize,
) -> Result<(), SlackError> {
    if status == 429 || (!(200..300).contains(&status) && !(400..500).contains(&status)) {
        return interpret(method, status, retry_after, body).map(drop);
    }
    if (400..500).contains(&status) {
        return Err(SlackError::UploadRefused {
            method,
            status,
            detail: format!("HTTP {status}"),
        });
    }
    // `OK - 1234`: the host took that many bytes. A bare `OK` is taken at its word.
    let text = std::str::from_utf8(body).unwrap_or_default().trim();
    let took = match text.strip_prefix("OK").map(str::trim) {
        Some("") => None,
        Some(rest) => rest
            .strip_prefix('-')
            .and_then(|n| n.trim().parse::<usize>().ok())
            .map(Some)
            .ok_or_else(|| not_ok(method))?,
        None => return Err(not_ok(method)),
    };
    match took {
        Some(took) if took != sent => Err(SlackError::UploadRefused {
            method,
            status,
            detail: format!("took {took} of {sent} bytes"),
        }),
        _ => Ok(()),
    }
}

fn not_ok(method: &'static str) -> SlackError {
    SlackError::NotSlack {
        method,
        detail: "not an `OK - <length>` answer".to_owned(),
    }
}

/// `warning` (comma-joined) and `response_metadata.warnings`, deduplicated, in order.
fn warnings(object: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let top = object
        .get("warning")
        .and_then(Value::as_str)
        .into_iter()
        .flat_map(|w| w.split(','));
    let meta = object
        .get("response_metadata")
        .and_then(|m| m.get("warnings"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    for w in top.chain(meta).map(str::trim).filter(|w| !w.is_empty()) {
        if !out.iter().any(|o| o == w) {
            out.push(w.to_owned());
        }
    }
    out
}

pub(super) fn posted(method: &'static str, env: Envelope) -> Result<Posted, SlackError> {
    let mut posted: Posted = decode(method, env.value)?;
    posted.warnings = env.warnings;
    Ok(posted)
}

/// Deserialises a success body. The error detail names the JSON path and the kind of
/// mismatch but never a value: a value could be a token.
pub(super) fn decode<T: DeserializeOwned>(
    method: &'static str,
    value: Value,
) -> Result<T, SlackError> {
    serde_path_to_error::deserialize(value).map_err(|e| SlackError::Decode {
        method,
        detail: format!(
            "unexpected shape at `{}` ({:?})",
            e.path(),
            e.inner().classify()
        ),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::slack::ErrorClass;

    const M: &str = "chat.postMessage";

    #[test]
    fn ok_true_is_success_with_warnings() {
        let body = br#"{"ok":true,"channel":"C1","ts":"1.2","warning":"missing_charset,x","response_metadata":{"warnings":["missing_charset","message_truncated"]}}"#;
        let env = interpret(M, 200, None, body).unwrap();
        assert_eq!(env.warnings, ["missing_charset", "x", "message_truncated"]);
        let p = posted(M, env).unwrap();
        assert_eq!((p.channel.as_str(), p.ts.as_str()), ("C1", "1.2"));
    }

    #[test]
    fn ok_false_is_an_api_error_with_details() {
        let body = br#"{"ok":false,"error":"missing_scope","needed":"channels:read","provided":"chat:write"}"#;
        let e = interpret(M, 200, None, body).unwrap_err();
        assert_eq!(e.code(), "missing_scope");
        assert_eq!(e.class(), ErrorClass::IntegrationBroken);
        assert!(matches!(e, SlackError::Api { needed: Some(ref n), .. } if n == "channels:read"));
        let e = interpret(
            M,
            200,
            None,
            br#"{"error":"invalid_blocks","errors":["a"]}"#,
        )
        .unwrap_err();
        assert!(matches!(e, SlackError::Api { ref errors, .. } if errors == &["a"]));
        let e = interpret(M, 200, None, br#"{"ok":false}"#).unwrap_err();
        assert_eq!(e.code(), "unknown_error");
    }

    #[test]
    fn statuses_and_garbage_are_classified() {
        let e = interpret(M, 429, Some("7"), br#"{"ok":false,"error":"ratelimited"}"#).unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.class(), ErrorClass::RetryLater);
        let e = interpret(M, 429, Some("soon"), b"").unwrap_err();
        assert_eq!((e.code(), e.retry_after()), ("ratelimited", None));
        let e = interpret(M, 503, None, b"<html>busy</html>").unwrap_err();
        assert_eq!((e.code(), e.class()), ("http_503", ErrorClass::RetryLater));
        let e = interpret(M, 500, None, br#"{"ok":false,"error":"fatal_error"}"#).unwrap_err();
        assert!(
            matches!(e, SlackError::Http { slack_error: Some(ref s), .. } if s == "fatal_error")
        );
        let e = interpret(M, 404, None, b"not found").unwrap_err();
        assert_eq!(e.class(), ErrorClass::Other);
        // Not a Slack reply (a proxy's page, an empty or cut body): retried like a 5xx.
        for body in [
            &b"<html>"[..],
            b"",
            br#"{"ok":true,"chan"#,
            b"[1]",
            br#"{"channel":"C1"}"#,
        ] {
            let e = interpret(M, 200, None, body).unwrap_err();
            assert_eq!(
                (e.code(), e.class()),
                ("invalid_response", ErrorClass::RetryLater),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // A Slack success without its fields: retrying gives the same.
        let env = interpret(M, 200, None, br#"{"ok":true}"#).unwrap();
        let e = posted(M, env).unwrap_err();
        assert_eq!(
            (e.code(), e.class()),
            ("unexpected_response", ErrorClass::Other)
        );
    }

    #[test]
    fn upload_answers_are_classified() {
        const U: &str = "upload_url";
        assert_eq!(interpret_upload(U, 200, None, b"OK - 1234", 1234), Ok(()));
        assert_eq!(interpret_upload(U, 200, None, b"OK - 1234\n", 1234), Ok(()));
        assert_eq!(interpret_upload(U, 200, None, b"OK", 7), Ok(()));
        // Another length arrived: the file is broken, start over.
        let e = interpret_upload(U, 200, None, b"OK - 10", 1234).unwrap_err();
        assert_eq!(
            (e.code(), e.class()),
            ("upload_refused", ErrorClass::RetryLater)
        );
        // An expired, used or unknown URL.
        for status in [400, 403, 404, 410] {
            let e = interpret_upload(U, status, None, b"Not Found", 5).unwrap_err();
            assert_eq!(
                (e.code(), e.class(), e.method()),
                ("upload_refused", ErrorClass::RetryLater, U),
                "{status}"
            );
        }
        let e = interpret_upload(U, 429, Some("3"), b"", 5).unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        let e = interpret_upload(U, 503, None, b"<html>", 5).unwrap_err();
        assert_eq!((e.code(), e.class()), ("http_503", ErrorClass::RetryLater));
        // Not the file host's answer (a proxy's page, Slack JSON, nothing).
        for body in [
            &b"<html>ok</html>"[..],
            b"",
            br#"{"ok":false,"error":"x"}"#,
            b"OKAY",
            b"OK - many",
        ] {
            let e = interpret_upload(U, 200, None, body, 5).unwrap_err();
            assert_eq!(
                (e.code(), e.class()),
                ("invalid_response", ErrorClass::RetryLater)
            );
        }
    }

    #[test]
    fn decode_errors_do_not_echo_values() {
        let env = interpret(
            M,
            200,
            None,
            br#"{"ok":true,"channel":"C1","ts":{"x":"xoxb-secret"}}"#,
        )
        .unwrap();
        let e = posted(M, env).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("xoxb-secret"));
    }
}

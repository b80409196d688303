//! How one request to Slack travels: the per-thread HTTP client, authentication, the
//! request body, the timeout over the whole exchange, and the count of calls by outcome.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;

use super::response::{interpret, interpret_upload, Envelope};
use super::SlackApi;
use crate::slack::error::SlackError;

/// Largest response body we read; `conversations.list` pages of 1,000 channels fit easily.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

thread_local! {
    static HTTP: awc::Client = build_http_client();
}

fn build_http_client() -> awc::Client {
    // Logged first on purpose: when the thread ends, thread-locals are dropped in the reverse
    // order of their creation, and dropping this client's pooled connections logs (mio, at
    // trace level). Logging here first creates the log formatter's thread-local buffer
    // before the client, so it still exists then (else the thread aborts at exit).
    tracing::trace!("creating this thread's HTTP client for Slack");
    // rustls chooses its crypto provider from crate features; installing ring explicitly
    // keeps that working if another dependency ever enables a second provider. An error
    // only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    awc::Client::builder()
        // The Web API never redirects; following one would resend the bearer token.
        .disable_redirects()
        // Each request sets its own timeout from `SlackApi`.
        .disable_timeout()
        .finish()
}

/// Counts every call by method and outcome (`ok` or the error code).
#[derive(Clone)]
pub(super) struct CallCounter(pub(super) prometheus::IntCounterVec);

impl std::fmt::Debug for CallCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallCounter")
    }
}

pub(super) enum Auth<'a> {
    Bearer(&'a SecretString),
    Basic {
        client_id: &'a str,
        client_secret: &'a SecretString,
    },
}

pub(super) enum Body {
    Json(Vec<u8>),
    Form(String),
}
impl SlackApi {
    /// Whether `url` is a `response_url` Slack could have given us: `https://hooks.slack.com/…`,
    /// or on the host of the configured Web API (the fake Slack). Anything else is never
    /// called (a forged payload must not make us POST to an address of its choosing).
    pub fn is_response_url(&self, url: &str) -> bool {
        let Ok(parsed) = url::Url::parse(url) else {
            return false;
        };
        if parsed.scheme() == "https" && parsed.host_str() == Some("hooks.slack.com") {
            return true;
        }
        let Ok(base) = url::Url::parse(&self.base_url) else {
            return false;
        };
        parsed.scheme() == base.scheme()
            && parsed.host_str() == base.host_str()
            && parsed.port_or_known_default() == base.port_or_known_default()
    }

    /// Posts a message to an interaction's `response_url` (e.g. an ephemeral answer to
    /// the person who clicked). The URL must pass [`SlackApi::is_response_url`].
    pub async fn respond(&self, response_url: &str, message: &Value) -> Result<(), SlackError> {
        const METHOD: &str = "response_url";
        if !self.is_response_url(response_url) {
            return Err(SlackError::Api {
                method: METHOD,
                code: "invalid_response_url".to_owned(),
                needed: None,
                provided: None,
                errors: Vec::new(),
            });
        }
        let send = self
            .post(response_url)
            .timeout(self.timeout)
            .content_type("application/json; charset=utf-8")
            .send_body(message.to_string());
        let result = match tokio::time::timeout(self.timeout, send).await {
            Err(_) | Ok(Err(awc::error::SendRequestError::Timeout)) => {
                Err(SlackError::Timeout { method: METHOD })
            }
            Ok(Err(e)) => Err(SlackError::Connection {
                method: METHOD,
                detail: e.to_string(),
            }),
            Ok(Ok(resp)) if resp.status().is_success() => Ok(()),
            Ok(Ok(resp)) => {
                let status = resp.status().as_u16();
                Err(SlackError::Http {
                    method: METHOD,
                    status,
                    code: format!("http_{status}"),
                    slack_error: None,
                })
            }
        };
        self.count(METHOD, &result);
        result
    }

    /// A POST on this thread's client; without keep-alive, the connection is closed after
    /// the exchange instead of going back to the pool.
    fn post(&self, url: impl AsRef<str>) -> awc::ClientRequest {
        let req = HTTP.with(Clone::clone).post(url.as_ref());
        if self.keep_alive {
            req
        } else {
            req.force_close()
        }
    }

    /// Counts one call by method and outcome (`ok` or the error code).
    fn count<T>(&self, method: &str, result: &Result<T, SlackError>) {
        if let Some(CallCounter(counter)) = &self.calls {
            let outcome = match result {
                Ok(_) => "ok",
                Err(e) => e.code(),
            };
            counter.with_label_values(&[method, outcome]).inc();
        }
    }

    /// POSTs a file's bytes to its upload URL (no token: the URL is the credential) as a
    /// raw `application/octet-stream` body, which Slack's file host takes like a
    /// multipart `file` field. The URL never reaches logs or errors.
    pub(super) async fn send_upload(
        &self,
        upload_url: &SecretString,
        bytes: &[u8],
    ) -> Result<(), SlackError> {
        const METHOD: &str = "upload_url";
        let url = match url::Url::parse(upload_url.expose_secret()) {
            Ok(url) if matches!(url.scheme(), "https" | "http") => url,
            _ => {
                let result = Err(SlackError::Decode {
                    method: METHOD,
                    detail: "the upload URL is not an http(s) URL".to_owned(),
                });
                self.count(METHOD, &result);
                return result;
            }
        };
        let timeout = self.timeout_of(METHOD);
        let send = self
            .post(url.as_str())
            .timeout(timeout)
            .content_type("application/octet-stream")
            .send_body(actix_web::web::Bytes::copy_from_slice(bytes));
        let exchange = async move {
            let mut resp = send.await.map_err(|e| transport_error(METHOD, e))?;
            let status = resp.status().as_u16();
            let retry_after = retry_after(&resp);
            // The answer is a short line; a large body is not the file host's.
            let body = resp
                .body()
                .limit(64 * 1024)
                .await
                .map_err(|e| payload_error(METHOD, e))?;
            Ok::<_, SlackError>((status, retry_after, body))
        };
        let result = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| SlackError::Timeout { method: METHOD })
            .and_then(|r| r)
            .and_then(|(status, retry_after, body)| {
                interpret_upload(METHOD, status, retry_after.as_deref(), &body, bytes.len())
            });
        match &result {
            Ok(()) => tracing::debug!(bytes = bytes.len(), "file bytes uploaded to Slack"),
            Err(e) => tracing::debug!(code = e.code(), "file upload to Slack failed"),
        }
        self.count(METHOD, &result);
        result
    }

    /// Sends one request and interprets the answer; the whole exchange, body included,
    /// is bounded by the timeout.
    pub(super) async fn call(
        &self,
        method: &'static str,
        auth: Auth<'_>,
        body: Body,
    ) -> Result<Envelope, SlackError> {
        let url = format!("{}/{method}", self.base_url);
        let timeout = self.timeout_of(method);
        let mut req = self
            .post(url)
            .timeout(timeout)
            .insert_header(("Accept", "application/json"));
        req = match auth {
            Auth::Bearer(token) => req.bearer_auth(token.expose_secret()),
            Auth::Basic {
                client_id,
                client_secret,
            } => req.basic_auth(client_id, client_secret.expose_secret()),
        };
        let send = match body {
            Body::Json(bytes) => req
                .content_type("application/json; charset=utf-8")
                .send_body(bytes),
            Body::Form(form) => req
                .content_type("application/x-www-form-urlencoded")
                .send_body(form),
        };
        let exchange = async move {
            let mut resp = send.await.map_err(|e| transport_error(method, e))?;
            let status = resp.status().as_u16();
            let retry_after = retry_after(&resp);
            let body = resp
                .body()
                .limit(MAX_BODY_BYTES)
                .await
                .map_err(|e| payload_error(method, e))?;
            Ok::<_, SlackError>((status, retry_after, body))
        };
        let exchanged = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| SlackError::Timeout { method })
            .and_then(|r| r);
        let result = exchanged.and_then(|(status, retry_after, body)| {
            let result = interpret(method, status, retry_after.as_deref(), &body);
            match &result {
                Ok(_) => tracing::debug!(method, status, "Slack call succeeded"),
                Err(e) => tracing::debug!(method, status, code = e.code(), "Slack call failed"),
            }
            result
        });
        self.count(method, &result);
        result
    }
}

fn transport_error(method: &'static str, e: awc::error::SendRequestError) -> SlackError {
    match e {
        awc::error::SendRequestError::Timeout => SlackError::Timeout { method },
        e => SlackError::Connection {
            method,
            detail: e.to_string(),
        },
    }
}

fn payload_error(method: &'static str, e: awc::error::PayloadError) -> SlackError {
    match e {
        awc::error::PayloadError::Overflow => SlackError::NotSlack {
            method,
            detail: "response body too large".to_owned(),
        },
        e => SlackError::Connection {
            method,
            detail: e.to_string(),
        },
    }
}

fn retry_after<S>(resp: &awc::ClientResponse<S>) -> Option<String> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub(super) fn json_body<T: Serialize>(method: &'static str, value: &T) -> Result<Body, SlackError> {
    serde_json::to_vec(value)
        .map(Body::Json)
        .map_err(|e| SlackError::Decode {
            method,
            detail: format!("cannot encode request: {e}"),
        })
}

pub(super) fn form_body<T: Serialize + ?Sized>(
    method: &'static str,
    value: &T,
) -> Result<String, SlackError> {
    serde_urlencoded::to_string(value).map_err(|e| SlackError::Decode {
        method,
        detail: format!("cannot encode request: {e}"),
    })
}

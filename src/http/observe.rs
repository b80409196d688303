//! Per-request observability, as one middleware: a request id (taken from `X-Request-Id`
//! when it is sane, generated otherwise) on a `request` span that every log line of the
//! request carries, echoed in the response; one log line per request; and the counters
//! that are best read off the answer (events received by outcome, requests by status).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage as _};
use tracing::Instrument;

use crate::state::AppState;

/// The header carrying the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest request id accepted from a client.
const MAX_REQUEST_ID_LEN: usize = 128;

/// A client's request id, if it is short printable ASCII (it ends up in logs).
fn sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

/// Which event endpoint a route pattern is, for `xtc_slack_events_received_total`.
fn event_kind(pattern: Option<&str>) -> Option<&'static str> {
    match pattern? {
        "/api/v1/load-tests/{load_test_id}/events" => Some("load_test"),
        "/api/v1/monitoring/scenarios/{scenario_id}/events" => Some("monitoring"),
        _ => None,
    }
}

/// When the request's head arrived here (a request extension): the start of an event's
/// traced path (`pipeline::path_trace`).
#[derive(Clone, Copy, Debug)]
pub struct RequestStart(pub Instant);

/// The middleware (`App::wrap(from_fn(observe))`).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    // The path only: query strings may carry OAuth codes and states.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path()
    );
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let started = Instant::now();
    req.extensions_mut().insert(RequestStart(started));
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    if let Some(m) = &metrics {
        m.http_requests
            .with_label_values(&[&format!("{}xx", status / 100)])
            .inc();
        if let Some(kind) = event_kind(res.request().match_pattern().as_deref()) {
            let outcome = match status {
                202 => "accepted",
                200 => "duplicate",
                _ => "rejected",
            };
            m.events_received.with_label_values(&[kind, outcome]).inc();
        }
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request done"
        )
    });
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_request_ids_are_kept() {
        assert!(sane("3f2a-01"));
        assert!(sane("req:abc/1+2=3@x_y.z"));
        for bad in ["", "a b", "line\nbreak", "<script>", &"x".repeat(129)] {
            assert!(!sane(bad), "{bad:?}");
        }
    }

    #[test]
    fn event_routes_are_recognised() {
        assert_eq!(
            event_kind(Some("/api/v1/load-tests/{load_test_id}/events")),
            Some("load_test")
        );
        assert_eq!(event_kind(Some("/api/v1/orgs/{org}")), None);
        assert_eq!(event_kind(None), None);
    }
}

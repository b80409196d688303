//! Slow request bodies are cut: a client that sent its headers gets
//! `XTC_SLACK_REQUEST_BODY_TIMEOUT_SECS` to send the body (actix cuts slow headers itself).
//! Without it, connections that trickle a body hold their buffers for as long as they like.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::rt::time::{sleep, Sleep};
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;

/// The error a body that did not arrive in time reads as (answered `408` by the
/// extractors' error handlers, see `http::is_body_timeout`).
pub const TIMED_OUT: &str = "the request body did not arrive in time";

/// The body of a request, ended with an error once its time is up.
struct Deadline {
    inner: Payload,
    timer: Pin<Box<Sleep>>,
    expired: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.expired = true;
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                TIMED_OUT,
            )))));
        }
        Poll::Pending
    }
}

/// Middleware: gives every request body `limit` from now to arrive.
pub async fn limit_body_time(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    limit: Duration,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let inner = req.take_payload();
    let stream = Deadline {
        inner,
        timer: Box::pin(sleep(limit)),
        expired: false,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(stream),
    });
    next.call(req).await
}

/// Whether a payload error is this middleware's timeout.
pub fn is_timeout(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

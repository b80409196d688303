//! HTTP side of the fake Web API (`/api/<method>`): parses Slack's request encodings into
//! [`Params`], applies injected failures, runs the method on the [`World`] and logs the call.

use std::time::{Duration, Instant};

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use base64::Engine as _;
use chrono::Utc;
use serde_json::{Map, Value};

use super::{
    events, interactivity,
    state::{CallRecord, Params, Reply},
    Shared,
};

/// `GET|POST /api/{method}`.
pub(crate) async fn handle(
    req: HttpRequest,
    method: web::Path<String>,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let method = method.into_inner();
    let parsed = parse_params(&req, &body).map(|mut p| {
        p.base_url = interactivity::base_url(&req);
        p
    });
    let channel = parsed
        .as_ref()
        .ok()
        .and_then(|p| p.str("channel").or_else(|| p.str("channel_id")));

    let failure = shared.world().take_failure(&method);
    let mut injected = None;
    if let Some(f) = failure {
        if let Some(ms) = f.delay_ms {
            actix_rt::time::sleep(Duration::from_millis(ms)).await;
        }
        injected = injected_reply(&f);
    }

    let reply = match (injected, parsed) {
        (Some(reply), _) => reply,
        (None, Err(reply)) => reply,
        (None, Ok(params)) => {
            let (reply, events) = {
                let mut world = shared.world();
                let live_before = world.live_bot_tokens();
                let reply = world.call(&method, &params, Instant::now(), Utc::now());
                let live_after = world.live_bot_tokens();
                // With lifecycle events on, a revocation that leaves no bot token behaves
                // like an uninstall, as Slack's does.
                let events = (world.config.lifecycle_events && live_before > 0 && live_after == 0)
                    .then(|| {
                        (
                            world.config.events_url.clone(),
                            world.config.signing_secret.clone(),
                            vec![
                                events::envelope(&world.config, events::Kind::TokensRevoked),
                                events::envelope(&world.config, events::Kind::AppUninstalled),
                            ],
                        )
                    });
                for body in events.iter().flat_map(|(_, _, bodies)| bodies) {
                    world.remember_event(body);
                }
                (reply, events)
            };
            if let Some((Some(url), secret, bodies)) = events {
                actix_rt::spawn(async move {
                    for body in bodies {
                        if let Err(e) = events::deliver(&url, &secret, &body, None).await {
                            tracing::warn!(error = %e, "fake Slack could not deliver an event");
                        }
                    }
                });
            }
            reply
        }
    };

    shared.world().record_call(CallRecord {
        method,
        channel,
        ok: reply.status == 200 && reply.error_code().is_none() && reply.raw.is_none(),
        error: reply.error_code().map(str::to_owned),
        http_status: reply.status,
        at: Utc::now(),
    });
    respond(reply)
}

/// The reply an injected failure asks for, or `None` for a pure delay.
pub(crate) fn injected_reply(f: &super::state::Failure) -> Option<Reply> {
    let status = f.http_status;
    let mut reply = match (&f.error, status) {
        _ if f.body.is_some() => Reply {
            raw: f.body.clone(),
            ..Reply::error("injected")
        },
        (Some(code), _) => Reply::error(code),
        (None, Some(429)) => Reply::error("ratelimited"),
        (None, Some(s)) if s != 200 => Reply {
            raw: Some(format!("fake Slack: injected HTTP {s}")),
            ..Reply::error("injected")
        },
        (None, _) if f.cut => Reply::ok(serde_json::json!({"channel": "C0CUT", "ts": "1.000001"})),
        _ => return None,
    };
    reply.cut = f.cut;
    reply.status = status.unwrap_or(200);
    reply.retry_after = f.retry_after.or((reply.status == 429).then_some(1));
    Some(reply)
}

pub(crate) fn respond(reply: Reply) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(reply.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = HttpResponse::build(status);
    if let Some(secs) = reply.retry_after {
        resp.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    let (content_type, body) = match reply.raw {
        Some(raw) => ("text/html; charset=utf-8", raw),
        None => (
            "application/json; charset=utf-8",
            Value::Object(reply.body).to_string(),
        ),
    };
    resp.content_type(content_type);
    if !reply.cut {
        return resp.body(body);
    }
    // The first bytes, then the connection breaks (the stream fails, so the chunked
    // answer never ends).
    let head = web::Bytes::from(body.into_bytes()).slice(..1);
    let chunks = futures_util::stream::iter([
        Ok::<_, std::io::Error>(head),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fake Slack: injected cut",
        )),
    ]);
    resp.streaming(chunks)
}

/// Merges query string and body (form or JSON) into one parameter map, and finds the
/// credentials (Bearer/Basic header or `token` parameter).
fn parse_params(req: &HttpRequest, body: &[u8]) -> Result<Params, Reply> {
    let mut params = Params::default();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| Reply::error("invalid_arguments"))?;
    for (k, v) in query {
        params.map.insert(k, Value::String(v));
    }
    let query_token = params.str("token");

    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let has_charset = content_type.contains("charset=");
    let mut json_body = false;
    if content_type.starts_with("application/json") {
        json_body = true;
        if !has_charset {
            params.warnings.push("missing_charset".to_owned());
        }
        if !body.iter().all(u8::is_ascii_whitespace) {
            let value: Value =
                serde_json::from_slice(body).map_err(|_| Reply::error("invalid_json"))?;
            let Value::Object(obj) = value else {
                return Err(Reply::error("json_not_object"));
            };
            params.map.extend(obj);
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        if has_charset {
            params.warnings.push("superfluous_charset".to_owned());
        }
        let form: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| Reply::error("invalid_form_data"))?;
        let map: Map<String, Value> = form
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        params.map.extend(map);
    } else if !body.is_empty() {
        return Err(Reply::error("invalid_post_type"));
    }

    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(token) = auth.strip_prefix("Bearer ") {
        params.token = Some(token.trim().to_owned());
    } else if let Some(b64) = auth.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        if let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
            params.basic = Some((id.to_owned(), secret.to_owned()));
        }
    }
    // Slack ignores a `token` inside a JSON body: JSON requests must use the header.
    if params.token.is_none() {
        params.token = if json_body {
            query_token
        } else {
            params.str("token")
        };
    }
    params.map.remove("token");
    Ok(params)
}

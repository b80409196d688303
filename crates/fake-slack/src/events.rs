//! Events API requests the fake sends to the app: `app_uninstalled`, `tokens_revoked` and
//! the public channel events (`channel_created`, `channel_rename`, `channel_archive`, `channel_unarchive`,
//! `channel_deleted`), signed the way Slack signs them.
//!
//! The signing code is the fake's own (not the product's `xtc_slack::slack::signing`), so a test that
//! verifies these requests with the product's verifier checks both against the published
//! algorithm rather than against each other.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{state::random_alnum, FakeSlackConfig};

/// How long the fake waits for the app to acknowledge an event (Slack: about 3 s; a
/// little more so that a slow debug build still gets its answer recorded).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The legacy verification `token` in every request the fake sends to the app (Slack
/// deprecates it in favour of the signature).
pub(crate) const VERIFICATION_TOKEN: &str = "fake-verification-token";

/// The events the fake can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// The app was removed from the workspace.
    AppUninstalled,
    /// Tokens of the app were revoked.
    TokensRevoked,
    /// A public channel got a new name.
    ChannelRename,
    /// A public channel was created.
    ChannelCreated,
    /// A public channel was archived.
    ChannelArchive,
    /// A public channel was unarchived.
    ChannelUnarchive,
    /// A public channel was deleted.
    ChannelDeleted,
}

impl Kind {
    /// The `type` of the inner event.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::AppUninstalled => "app_uninstalled",
            Kind::TokensRevoked => "tokens_revoked",
            Kind::ChannelRename => "channel_rename",
            Kind::ChannelCreated => "channel_created",
            Kind::ChannelArchive => "channel_archive",
            Kind::ChannelUnarchive => "channel_unarchive",
            Kind::ChannelDeleted => "channel_deleted",
        }
    }
}

/// The inner event of a channel event, as Slack shapes it: `channel_rename` carries a
/// channel object, the others the channel ID (archive events also the acting user).
pub(crate) fn channel_event(
    config: &FakeSlackConfig,
    kind: Kind,
    id: &str,
    name: &str,
    created: i64,
) -> Value {
    match kind {
        Kind::ChannelRename => json!({
            "type": "channel_rename",
            "channel": {"id": id, "name": name, "created": created},
        }),
        Kind::ChannelCreated => json!({
            "type": "channel_created",
            "channel": {"id": id, "name": name, "created": created, "creator": config.installer_user_id},
        }),
        Kind::ChannelDeleted => json!({"type": "channel_deleted", "channel": id}),
        other => json!({"type": other.as_str(), "channel": id, "user": config.installer_user_id}),
    }
}

/// The outer `event_callback` envelope of a lifecycle event, as JSON bytes.
pub(crate) fn envelope(config: &FakeSlackConfig, kind: Kind) -> Vec<u8> {
    let event = match kind {
        // The values are user IDs, not tokens.
        Kind::TokensRevoked => json!({
            "type": "tokens_revoked",
            "tokens": {"oauth": [config.installer_user_id], "bot": [config.bot_user_id]},
        }),
        other => json!({"type": other.as_str()}),
    };
    envelope_of(config, event)
}

/// The outer `event_callback` envelope around `event`, as JSON bytes.
pub(crate) fn envelope_of(config: &FakeSlackConfig, event: Value) -> Vec<u8> {
    let now = chrono::Utc::now().timestamp();
    let body: Value = json!({
        "token": VERIFICATION_TOKEN,
        "team_id": config.team_id,
        "api_app_id": config.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": format!("Ev{}", random_alnum(10).to_uppercase()),
        "event_time": now,
    });
    body.to_string().into_bytes()
}

/// `v0=` + hex(HMAC-SHA256(secret, "v0:{ts}:{body}")), per Slack's documentation.
pub(crate) fn signature(signing_secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut base = format!("v0:{timestamp}:").into_bytes();
    base.extend_from_slice(body);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(signing_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(&base);
    let tag = mac.finalize().into_bytes();
    let mut out = String::from("v0=");
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A redelivery of an event the app did not acknowledge in time: Slack retries
/// immediately, after about a minute and after about five, with the same body, each time
/// signed anew and marked with these headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry<'a> {
    /// `X-Slack-Retry-Num`: 1, 2 or 3.
    pub num: u32,
    /// `X-Slack-Retry-Reason`: `http_timeout`, `http_error`, `connection_failed`, ...
    pub reason: &'a str,
}

/// POSTs a signed event to `url` (a retry of an earlier one when `retry` is given);
/// returns the app's HTTP status and body.
pub(crate) async fn deliver(
    url: &str,
    signing_secret: &str,
    body: &[u8],
    retry: Option<Retry<'_>>,
) -> Result<(u16, String), String> {
    let timestamp = chrono::Utc::now().timestamp();
    let headers: Vec<(&str, String)> = retry.map_or_else(Vec::new, |r| {
        vec![
            ("X-Slack-Retry-Num", r.num.to_string()),
            ("X-Slack-Retry-Reason", r.reason.to_owned()),
        ]
    });
    send_signed(
        url,
        "application/json",
        signing_secret,
        timestamp,
        body,
        &headers,
    )
    .await
}

/// POSTs `body` to `url` signed as Slack signs every request it sends to an app
/// (`X-Slack-Request-Timestamp`, `X-Slack-Signature`); returns the app's HTTP status and
/// body (at most 64 KiB). Waits at most [`DELIVERY_TIMEOUT`].
pub(crate) async fn post_signed(
    url: &str,
    content_type: &str,
    signing_secret: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<(u16, String), String> {
    send_signed(url, content_type, signing_secret, timestamp, body, &[]).await
}

/// [`post_signed`] with `extra` headers.
async fn send_signed(
    url: &str,
    content_type: &str,
    signing_secret: &str,
    timestamp: i64,
    body: &[u8],
    extra: &[(&str, String)],
) -> Result<(u16, String), String> {
    let client = awc::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .disable_redirects()
        .finish();
    let mut request = client.post(url);
    for (name, value) in extra {
        request = request.insert_header((*name, value.as_str()));
    }
    let mut resp = request
        .insert_header(("Content-Type", content_type))
        .insert_header(("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)"))
        .insert_header(("X-Slack-Request-Timestamp", timestamp.to_string()))
        .insert_header((
            "X-Slack-Signature",
            signature(signing_secret, timestamp, body),
        ))
        .send_body(body.to_vec())
        .await
        .map_err(|e| format!("cannot deliver to {url}: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp
        .body()
        .limit(64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok((status, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_published_vector() {
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            signature(
                "8f742231b10e8888abcd99yyyzzz85a5",
                1531420618,
                body.as_bytes()
            ),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }

    #[test]
    fn envelopes_have_the_documented_fields() {
        let config = FakeSlackConfig::default();
        for kind in [Kind::AppUninstalled, Kind::TokensRevoked] {
            let v: Value = serde_json::from_slice(&envelope(&config, kind)).unwrap_or_default();
            for field in [
                "token",
                "team_id",
                "api_app_id",
                "event",
                "type",
                "event_id",
                "event_time",
            ] {
                assert!(v.get(field).is_some(), "{kind:?} lacks {field}");
            }
            assert_eq!(v["team_id"], config.team_id.as_str());
        }
    }
}

//! Verification of Slack's request signatures (`X-Slack-Signature`, version `v0`).
//!
//! Slack signs every request it sends (Events API, interactivity) with the app's signing
//! secret: `v0=` + hex(HMAC-SHA256(secret, "v0:{timestamp}:{raw body}")). We check the
//! timestamp window first (replay protection) and compare the MAC in constant time.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Header carrying the signature (`v0=<hex>`).
pub const SIGNATURE_HEADER: &str = "X-Slack-Signature";
/// Header carrying the request timestamp (unix seconds).
pub const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";
/// Largest accepted distance between the request timestamp and our clock, in seconds.
pub const MAX_SKEW_SECS: u64 = 300;

/// Why a request signature was refused. The variants are for logs; answer all of them
/// the same way (401) so as not to help an attacker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The timestamp header is not an integer.
    #[error("malformed request timestamp")]
    MalformedTimestamp,
    /// The timestamp is more than five minutes away from now (possible replay).
    #[error("request timestamp outside the allowed window")]
    Stale,
    /// The signature header is not `v0=<hex>`.
    #[error("malformed signature header")]
    MalformedSignature,
    /// Well-formed, but not made with our secret over this body.
    #[error("signature mismatch")]
    Mismatch,
}

/// Verifies a Slack request signature.
///
/// `timestamp_header` and `signature_header` are the raw header values, `body` the exact
/// raw request body (before any parsing), `now_unix` the current time in unix seconds
/// (a parameter so that tests need no clock).
pub fn verify(
    signing_secret: &SecretString,
    timestamp_header: &str,
    body: &[u8],
    signature_header: &str,
    now_unix: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| SignatureError::MalformedTimestamp)?;
    if now_unix.abs_diff(ts) > MAX_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    let hex_sig = signature_header
        .trim()
        .strip_prefix("v0=")
        .ok_or(SignatureError::MalformedSignature)?;
    let sig = hex::decode(hex_sig).map_err(|_| SignatureError::MalformedSignature)?;
    // `verify_slice` compares in constant time.
    mac(signing_secret, ts, body)
        .verify_slice(&sig)
        .map_err(|_| SignatureError::Mismatch)
}

/// Computes the `X-Slack-Signature` value for a body, as Slack does. For tests and for
/// tools that need to talk to our own Events endpoint.
pub fn sign(signing_secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(signing_secret, timestamp, body).finalize().into_bytes();
    format!("v0={}", hex::encode(tag))
}

fn mac(signing_secret: &SecretString, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(signing_secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const NOW: i64 = 1531420618;

    fn secret() -> SecretString {
        SecretString::from(SECRET)
    }

    #[test]
    fn accepts_the_published_test_vector() {
        assert_eq!(verify(&secret(), TS, BODY.as_bytes(), SIG, NOW), Ok(()));
        assert_eq!(sign(&secret(), NOW, BODY.as_bytes()), SIG);
        // Inside the window on both sides.
        assert_eq!(
            verify(&secret(), TS, BODY.as_bytes(), SIG, NOW + 300),
            Ok(())
        );
        assert_eq!(
            verify(&secret(), TS, BODY.as_bytes(), SIG, NOW - 300),
            Ok(())
        );
    }

    #[test]
    fn rejects_stale_timestamps() {
        for now in [NOW + 301, NOW - 301, 0, i64::MAX, i64::MIN] {
            assert_eq!(
                verify(&secret(), TS, BODY.as_bytes(), SIG, now),
                Err(SignatureError::Stale),
                "now={now}"
            );
        }
    }

    #[test]
    fn rejects_garbled_headers() {
        let body = BODY.as_bytes();
        for ts in ["", "abc", "1531420618.5", "99999999999999999999999"] {
            assert_eq!(
                verify(&secret(), ts, body, SIG, NOW),
                Err(SignatureError::MalformedTimestamp)
            );
        }
        for sig in ["", "a2114d57", "v1=a2114d57", "v0=zz", "v0=abc"] {
            assert_eq!(
                verify(&secret(), TS, body, sig, NOW),
                Err(SignatureError::MalformedSignature),
                "{sig}"
            );
        }
    }

    #[test]
    fn rejects_wrong_secret_body_or_signature() {
        let wrong = SecretString::from("another-secret");
        assert_eq!(
            verify(&wrong, TS, BODY.as_bytes(), SIG, NOW),
            Err(SignatureError::Mismatch)
        );
        let mut body = BODY.as_bytes().to_vec();
        body.push(b'x');
        assert_eq!(
            verify(&secret(), TS, &body, SIG, NOW),
            Err(SignatureError::Mismatch)
        );
        // The right signature for another timestamp.
        assert_eq!(
            verify(&secret(), "1531420619", BODY.as_bytes(), SIG, NOW),
            Err(SignatureError::Mismatch)
        );
        // Truncated but well-formed hex.
        assert_eq!(
            verify(&secret(), TS, BODY.as_bytes(), &SIG[..SIG.len() - 2], NOW),
            Err(SignatureError::Mismatch)
        );
    }
}

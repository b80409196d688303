//! Unit tests of the fake workspace's rules without a server or a clock: `ts` values, the
//! token bucket, OAuth codes, `chat.postMessage`'s checks, the list cursor.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use std::time::Duration;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn world() -> World {
    World::new(FakeSlackConfig::default())
}

fn params(token: &str, pairs: Value) -> Params {
    Params {
        map: pairs.as_object().cloned().unwrap_or_default(),
        token: Some(token.to_owned()),
        ..Params::default()
    }
}

fn scopes(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn ts_is_slack_shaped_and_strictly_increasing() {
    let mut w = world();
    let wall = Utc::now();
    let a = w.next_ts(wall);
    let b = w.next_ts(wall);
    let c = w.next_ts(wall - chrono::Duration::seconds(5));
    for ts in [&a, &b, &c] {
        assert_eq!(ts.len(), 17, "{ts}");
        assert_eq!(&ts[10..11], ".");
        assert!(ts.chars().filter(|c| *c != '.').all(|c| c.is_ascii_digit()));
    }
    let n = |t: &str| t.replace('.', "").parse::<u64>().unwrap();
    assert!(n(&a) < n(&b) && n(&b) < n(&c));
}

#[test]
fn token_bucket_allows_a_burst_then_refills() {
    let mut w = world();
    w.set_rate_limit(1.0, 3);
    let t0 = Instant::now();
    for _ in 0..3 {
        assert_eq!(w.take_rate_token("C1", t0), Ok(()));
    }
    assert_eq!(w.take_rate_token("C1", t0), Err(1));
    // Another channel has its own bucket.
    assert_eq!(w.take_rate_token("C2", t0), Ok(()));
    assert_eq!(w.take_rate_token("C1", t0 + secs(1)), Ok(()));
    w.set_rate_limit(0.5, 1);
    assert_eq!(w.take_rate_token("C1", t0), Ok(()));
    assert_eq!(w.take_rate_token("C1", t0), Err(2));
    w.set_rate_limit(0.0, 1);
    for _ in 0..100 {
        assert_eq!(w.take_rate_token("C1", t0), Ok(()));
    }
}

#[test]
fn codes_expire_after_ten_minutes_and_are_single_use() {
    let mut w = world();
    let t0 = Instant::now();
    let grant = CodeGrant {
        client_id: w.config.client_id.clone(),
        redirect_uri: Some("http://app/cb".into()),
        effective_redirect: "http://app/cb".into(),
        scopes: scopes(&["chat:write"]),
        user_scopes: vec![],
        issued: t0,
        used: false,
    };
    let creds = |code: &str, redirect: &str| Params {
        basic: Some(("fake-client-id".into(), "fake-client-secret".into())),
        map: json!({"code": code, "redirect_uri": redirect})
            .as_object()
            .cloned()
            .unwrap(),
        ..Params::default()
    };
    let code = w.issue_code(grant.clone());
    let late = w.call(
        "oauth.v2.access",
        &creds(&code, "http://app/cb"),
        t0 + secs(601),
        Utc::now(),
    );
    assert_eq!(late.error_code(), Some("invalid_code"));
    let wrong = w.call(
        "oauth.v2.access",
        &creds(&code, "http://app/other"),
        t0 + secs(1),
        Utc::now(),
    );
    assert_eq!(wrong.error_code(), Some("bad_redirect_uri"));
    let ok = w.call(
        "oauth.v2.access",
        &creds(&code, "http://app/cb"),
        t0 + secs(599),
        Utc::now(),
    );
    assert_eq!(ok.error_code(), None, "{ok:?}");
    assert_eq!(ok.body["scope"], "chat:write");
    let again = w.call(
        "oauth.v2.access",
        &creds(&code, "http://app/cb"),
        t0 + secs(2),
        Utc::now(),
    );
    assert_eq!(again.error_code(), Some("invalid_code"));
}

#[test]
fn post_message_rules() {
    let mut w = world();
    w.set_rate_limit(0.0, 1);
    let now = Instant::now();
    let wall = Utc::now();
    let full = w.mint_bot_token(scopes(&["chat:write", "chat:write.public"]), None);
    let narrow = w.mint_bot_token(scopes(&["chat:write"]), None);
    let none = w.mint_bot_token(scopes(&[]), None);
    let mut post = |token: &str, body: Value| {
        w.call("chat.postMessage", &params(token, body), now, wall)
            .error_code()
            .map(str::to_owned)
    };
    assert_eq!(
        post(&full, json!({"channel": "#load-tests", "text": "x"})),
        None
    );
    assert_eq!(
        post(&full, json!({"channel": "secret-ops", "text": "x"})).as_deref(),
        Some("channel_not_found")
    );
    assert_eq!(
        post(&full, json!({"channel": "nope", "text": "x"})).as_deref(),
        Some("channel_not_found")
    );
    assert_eq!(
        post(&full, json!({"channel": "old-alerts", "text": "x"})).as_deref(),
        Some("is_archived")
    );
    assert_eq!(
        post(&narrow, json!({"channel": "perf", "text": "x"})).as_deref(),
        Some("not_in_channel")
    );
    assert_eq!(
        post(&narrow, json!({"channel": "general", "text": "x"})),
        None
    );
    assert_eq!(
        post(&none, json!({"channel": "general", "text": "x"})).as_deref(),
        Some("missing_scope")
    );
    assert_eq!(
        post(&full, json!({"channel": "general", "text": " "})).as_deref(),
        Some("no_text")
    );
    assert_eq!(
        post(&full, json!({"channel": "general", "blocks": "{"})).as_deref(),
        Some("invalid_blocks_format")
    );
    assert_eq!(
        post(
            &full,
            json!({"channel": "general", "text": "x", "thread_ts": "1.2"})
        )
        .as_deref(),
        Some("thread_not_found")
    );
    assert_eq!(
        post("xoxb-garbage", json!({"channel": "general", "text": "x"})).as_deref(),
        Some("invalid_auth")
    );
}

#[test]
fn cursor_round_trips() {
    assert_eq!(
        decode_cursor(&encode_cursor("C0AB")).as_deref(),
        Some("C0AB")
    );
    assert_eq!(decode_cursor("!!"), None);
}

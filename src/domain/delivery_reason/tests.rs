//! Unit tests of the delivery reasons: each read back from its stored form (and from the
//! forms earlier versions wrote), and each class's sentence in the delivery log.

use super::*;
use chrono::TimeZone;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 123)
        .single()
        .unwrap()
}

fn every_kind() -> Vec<DeliveryReason> {
    use DeliveryReason as R;
    vec![
        R::SendingDisabled(Source::Project),
        R::SendingDisabled(Source::Organization),
        R::ConfigurationIncomplete(vec!["active_integration".into()]),
        R::ConfigurationIncomplete(vec!["integration".into(), "target_channels".into()]),
        R::muted("sam", None),
        R::muted("sam until then", Some(at(59))),
        R::stale(Health::Failure, at(1), at(61)),
        R::maintenance("Database upgrade", 7, at(3600)),
        R::maintenance("odd (window 3, until never)", 12, at(60)),
        R::Superseded,
        R::HeldDuringLoadTest {
            load_test: "Checkout peak runs 2000 users".into(),
        },
        R::held_after("Checkout peak ended; posted at 2000 users", at(600)),
        R::RecoveredDuringLoadTest {
            load_test: "Checkout peak ran 2000 users".into(),
        },
        R::NoIntegration,
        R::IntegrationRemoved,
        R::IntegrationBroken {
            code: "token_revoked".into(),
        },
        R::EventGone,
        R::EventUnreadable,
        R::TokenUnreadable,
        R::IntegrationBroken {
            code: "token_expired (refresh failed: invalid_refresh_token)".into(),
        },
        R::TokenRefreshRetried,
        R::DatabaseUnavailable,
        R::AwaitingProbe,
        R::TemplateError {
            detail: "Error rendering \"x\": missing: y".into(),
        },
        R::ChannelNotFoundAfterReinstall {
            channel: "#ops".into(),
            workspace: "Acme".into(),
        },
        R::GaveUp {
            attempts: 6,
            over: None,
            last: Box::new(R::Slack("http_503".into())),
        },
        R::GaveUp {
            attempts: 3,
            over: Some("6h 0m".into()),
            last: Box::new(R::DatabaseUnavailable),
        },
        R::ChartsNeedScope,
        R::ChartsNeedMember,
        R::Slack("channel_not_found".into()),
        R::Slack("something new".into()),
    ]
}

#[test]
fn every_reason_reads_back_from_its_stored_form() {
    for reason in every_kind() {
        let stored = reason.to_string();
        assert_eq!(DeliveryReason::parse(&stored), reason, "{stored}");
    }
}

/// The stored code and parameters read back to the same reason, with no text parsed.
#[test]
fn every_reason_reads_back_from_its_code_and_parameters() {
    for reason in every_kind() {
        let stored = reason.to_stored().unwrap();
        let json: serde_json::Value = serde_json::from_str(&stored).unwrap();
        assert!(json["code"].is_string(), "{stored}");
        assert_eq!(
            DeliveryReason::from_stored(&stored).unwrap(),
            reason,
            "{stored}"
        );
    }
    assert_eq!(
        DeliveryReason::muted("sam", None).to_stored().unwrap(),
        r#"{"code":"muted","params":{"by":"sam","until":null}}"#
    );
    assert!(DeliveryReason::from_stored("muted by sam").is_err());
}

#[test]
fn texts_of_no_known_form_are_kept_as_they_are() {
    for text in [
        "",
        "gave up after",
        "gave up after x attempts: y",
        "muted by sam",
        "muted by sam until tomorrow",
        "stale result: nonsense",
        "maintenance: upgrade",
        "maintenance: upgrade (window x, until 2026-12-01 00:00 UTC)",
        "maintenance: upgrade (window 1, until soon)",
        "configuration incomplete: ",
    ] {
        let reason = DeliveryReason::parse(text);
        assert_eq!(reason.to_string(), text);
        assert!(reason.sentence().ends_with('.'), "{text}");
    }
}

#[test]
fn the_stored_forms_are_those_earlier_versions_wrote() {
    assert_eq!(
        DeliveryReason::muted("sam", Some(at(59))).to_string(),
        "muted by sam until 2023-11-14 22:14 UTC"
    );
    assert_eq!(
        DeliveryReason::stale(Health::Ok, at(1), at(61)).to_string(),
        "stale result: ok occurred at 2023-11-14 22:13:21 UTC, before the newest result \
         applied (2023-11-14 22:14:21 UTC)"
    );
}

#[test]
fn every_class_of_reason_reads_as_a_sentence_with_what_to_do() {
    for (reason, expect) in [
        ("is_archived", "archived in Slack"),
        ("channel_not_found", "cannot find this channel"),
        (
            "configuration incomplete: active_integration missing",
            "set up the Slack integration again",
        ),
        (
            "configuration incomplete: integration, target_channels missing",
            "at least one target channel",
        ),
        ("sending is disabled for this project", "Enable it"),
        (
            "the Slack integration is broken: token_revoked",
            "Set up the Slack integration again",
        ),
        ("token_revoked", "Set up the Slack integration again"),
        (
            "gave up after 6 attempts: http_503",
            "Slack kept failing (http_503) and the delivery was given up 6 attempts.",
        ),
        (
            "gave up after 6 attempts over 6h 0m: http_503",
            "given up 6 attempts over 6h 0m.",
        ),
        ("ratelimited", "retried automatically"),
        ("superseded by a newer intermediate report", "Nothing to do"),
        (
            "the Slack integration was removed",
            "Set up the Slack integration again",
        ),
        ("msg_too_long", "operator"),
        (
            "muted by sam until recovered",
            "by sam until recovered. Its",
        ),
        (
            "stale result: ok occurred at 2023-11-14 22:13:21 UTC, before the newest \
             result applied (2023-11-14 22:14:21 UTC)",
            "late (ok occurred at 2023-11-14 22:13:21 UTC, before",
        ),
        ("database unavailable", "Not sent: database unavailable. If"),
        (
            "maintenance: DB upgrade (window 4, until 2026-12-01 02:00 UTC)",
            "maintenance window (DB upgrade) until 2026-12-01 02:00 UTC. If",
        ),
        ("something new", "operator"),
    ] {
        let text = error_message(reason);
        assert!(text.contains(expect), "{reason}: {text}");
        assert!(text.ends_with('.'), "{reason}: {text}");
    }
}

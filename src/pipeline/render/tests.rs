//! Golden snapshots and checks of every message (`src/pipeline/render/snapshots/`).
use super::load_test::progress;
use super::*;
use crate::domain::lifecycle::LoadTestState;
use crate::domain::monitoring::Health;
use crate::pipeline::events::{
    ErrorInfo, ExecutionInfo, FailedSensor, IncidentActionPayload, LoadTestPayload, ReportInfo,
    ReportSummary, ScenarioPayload,
};
use chrono::{DateTime, TimeZone, Utc};

/// The name of the hostile-text check: every character must show, nothing pings.
const HOSTILE: &str = "<!channel> *x* _y_ ~z~ `c` :smile: & <https://evil|x>";
/// How Slack receives it: the three control characters escaped, nothing else touched.
const HOSTILE_ESCAPED: &str =
    "&lt;!channel&gt; *x* _y_ ~z~ `c` :smile: &amp; &lt;https://evil|x&gt;";

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 3, 14, minute, 0)
        .single()
        .unwrap()
}

fn names(name: &str) -> MessageNames {
    let (org, project) = if name == HOSTILE {
        (HOSTILE.to_owned(), HOSTILE.to_owned())
    } else {
        ("Acme Corp".to_owned(), "Webshop".to_owned())
    };
    MessageNames {
        org_id: "acme".into(),
        org_name: org,
        project_id: "webshop".into(),
        project_name: project,
    }
}

fn person(name: &str, default: &str) -> String {
    if name == HOSTILE {
        HOSTILE.into()
    } else {
        default.into()
    }
}

/// A realistic event: only the fields its type carries.
fn lt(t: LoadTestEventType, name: &str) -> Payload {
    use LoadTestEventType as E;
    let (state, minute) = match t {
        E::Started => (LoadTestState::Started, 0),
        E::Running => (LoadTestState::Running, 1),
        E::IntermediateReport => (LoadTestState::Running, 5),
        E::Finished => (LoadTestState::Finished, 10),
        E::Aborted => (LoadTestState::Aborted, 7),
        E::Error => (LoadTestState::Error, 2),
        E::ReportAvailable => (LoadTestState::Reported, 12),
    };
    let report = matches!(t, E::IntermediateReport | E::ReportAvailable).then(|| ReportInfo {
        url: "https://xtc.example/reports/9".into(),
        kind: Some(
            if t == E::ReportAvailable {
                "final"
            } else {
                "intermediate"
            }
            .into(),
        ),
        summary: Some(ReportSummary {
            throughput: Some(1234.5),
            errors: Some(12.0),
            p95_ms: Some(810.0),
            extra: [("apdex".to_owned(), json!(0.93))].into_iter().collect(),
            ..Default::default()
        }),
        series: None,
    });
    Payload::LoadTest(LoadTestPayload {
        load_test_id: "lt-1".into(),
        name: name.into(),
        url: Some("https://xtc.example/lt/1?a=1&b=2".into()),
        started_by: Some(person(name, "jane")),
        event_type: t,
        state,
        occurred_at: at(minute),
        error: (t == E::Error).then(|| ErrorInfo {
            step: Some(person(name, "provision_agents")),
            message: person(
                name,
                "No agents available in eu-west\n  at provision (agents.rs:42)",
            ),
        }),
        report,
        aborted_by: (t == E::Aborted).then(|| person(name, "joe")),
        definition: None,
        comparison: None,
    })
}

fn sc(change: Change, name: &str, minute: u32, sensors: usize) -> Payload {
    let health = match change {
        Change::Failing { severity } => severity,
        Change::SeverityChanged { to, .. } => to,
        Change::Recovered { .. } => Health::Ok,
        Change::Flapping { health, .. } => health,
    };
    Payload::Scenario(ScenarioPayload {
        scenario_id: "shop-checkout".into(),
        name: name.into(),
        url: Some("https://xtc.example/mon/77".into()),
        change,
        health,
        occurred_at: at(minute),
        incident: 1,
        execution: Some(ExecutionInfo {
            id: Some("e1".into()),
            url: Some("https://xtc.example/ex/1".into()),
            location: Some(person(name, "eu-west")),
        }),
        failed_sensors: (0..sensors)
            .map(|i| FailedSensor {
                name: if name == HOSTILE {
                    format!("{HOSTILE} {i}")
                } else {
                    ["Page load < 3s", "Login", "Add to cart"][i % 3].to_owned()
                },
                message: Some(person(name, ["3.8s", "timeout", "HTTP 502"][i % 3])),
            })
            .collect(),
        quiet: None,
        maintenance: None,
    })
}

/// The same change of an incident that opened during a load test (`annotate`).
fn during_load_test(p: Payload, name: &str) -> Payload {
    quiet(p, name, false)
}

/// The same change of an incident held during a load test, posted after it ended (`hold`).
fn held_during_load_test(p: Payload, name: &str) -> Payload {
    quiet(p, name, true)
}

fn quiet(p: Payload, name: &str, held: bool) -> Payload {
    use crate::domain::quiet::{QuietNote, RunningLoadTest};
    let Payload::Scenario(mut s) = p else {
        return p;
    };
    let load_test = RunningLoadTest {
        id: "lt-1".into(),
        name: name.replace("Shop checkout", "Checkout peak 2000 users"),
        url: Some("https://xtc.example/lt/1?a=1&b=2".into()),
        started_by: Some(person(name, "jane")),
        since: at(0),
    };
    s.quiet = Some(if held {
        QuietNote::HeldDuringLoadTest { load_test }
    } else {
        QuietNote::DuringLoadTest { load_test }
    });
    Payload::Scenario(s)
}

/// The same incident posted at the end of the maintenance window it opened in.
fn after_maintenance(p: Payload, name: &str) -> Payload {
    let Payload::Scenario(mut s) = p else {
        return p;
    };
    s.maintenance = Some(crate::domain::maintenance::MaintenanceNote {
        failing_since: at(0),
        reason: name.replace("Checkout peak 2000 users", "Database upgrade"),
    });
    Payload::Scenario(s)
}

/// Every event kind with the events that come before it in a thread (the last is it).
fn stories(name: &str) -> Vec<(&'static str, Vec<Payload>)> {
    use LoadTestEventType as E;
    let l = |types: &[E]| types.iter().map(|t| lt(*t, name)).collect::<Vec<_>>();
    let failing = sc(
        Change::Failing {
            severity: Health::Failure,
        },
        name,
        2,
        2,
    );
    let worse = sc(
        Change::SeverityChanged {
            from: Health::Failure,
            to: Health::Fatal,
        },
        name,
        5,
        13,
    );
    let recovered = sc(Change::Recovered { down_seconds: 425 }, name, 9, 0);
    vec![
        ("load_test_started", l(&[E::Started])),
        ("load_test_running", l(&[E::Started, E::Running])),
        (
            "load_test_intermediate_report",
            l(&[E::Started, E::Running, E::IntermediateReport]),
        ),
        (
            "load_test_finished",
            l(&[E::Started, E::Running, E::IntermediateReport, E::Finished]),
        ),
        (
            "load_test_report_available",
            l(&[E::Started, E::Running, E::Finished, E::ReportAvailable]),
        ),
        ("load_test_error", l(&[E::Started, E::Error])),
        (
            "load_test_aborted",
            l(&[E::Started, E::Running, E::Aborted]),
        ),
        (
            "load_test_aborted_then_report",
            l(&[E::Started, E::Running, E::Aborted, E::ReportAvailable]),
        ),
        ("scenario_failing", vec![failing.clone()]),
        (
            "scenario_severity_changed",
            vec![failing.clone(), worse.clone()],
        ),
        (
            "scenario_failing_during_load_test",
            vec![during_load_test(failing.clone(), name)],
        ),
        (
            "scenario_failing_held_during_load_test",
            vec![held_during_load_test(failing.clone(), name)],
        ),
        (
            "scenario_severity_changed_during_load_test",
            vec![during_load_test(failing.clone(), name), worse.clone()],
        ),
        (
            "scenario_failing_after_maintenance",
            vec![after_maintenance(failing.clone(), name)],
        ),
        ("scenario_recovered", vec![failing, worse, recovered]),
    ]
}

/// What deliver.rs broadcasts (errors, aborts, recoveries).
fn broadcast(p: &Payload) -> bool {
    match p {
        Payload::LoadTest(lt) => matches!(
            lt.event_type,
            LoadTestEventType::Error | LoadTestEventType::Aborted
        ),
        Payload::Scenario(sc) => matches!(sc.change, Change::Recovered { .. }),
        Payload::IncidentAction(_)
        | Payload::BaselineSet(_)
        | Payload::HoldRecovered(_)
        | Payload::WeeklySummary(_) => false,
    }
}

/// Every message of one story: threads off (full, compact), threads on (card full and
/// compact after the last event, the last event's reply).
fn render_story(r: &Renderer, name: &str, events: &[Payload]) -> Value {
    let last = events.last().unwrap();
    let mut card = Card::new(&events[0]);
    for e in &events[1..] {
        card.absorb(e);
    }
    let n = names(name);
    let mut out = json!({
        "threads_off_full": r.render_event(last, &n, false).unwrap().to_json(),
        "threads_off_compact": r.render_event(last, &n, true).unwrap().to_json(),
        "threads_on_card_full": r.render_card(&card, &n, false, None).unwrap().to_json(),
        "threads_on_card_compact": r.render_card(&card, &n, true, None).unwrap().to_json(),
    });
    if events.len() > 1 {
        let b = broadcast(last);
        out["threads_on_reply"] = r.render_reply(last, &card, &n, false, b).unwrap().to_json();
        out["threads_on_reply_broadcast"] = json!(b);
    }
    out
}

/// Every string a message carries, for checks that must hold everywhere.
fn check(v: &Value) {
    let all = v.to_string();
    assert!(!all.contains("<!channel>"), "{all}");
    assert!(
        !all.contains("\"emoji\":true"),
        "emoji codes in user text stay text: {all}"
    );
    // The only `<` are our own markup: dates (and mrkdwn links).
    for (i, _) in all.match_indices('<') {
        let rest = &all[i..];
        assert!(
            rest.starts_with("<!date^") || rest.starts_with("<https://xtc.example"),
            "unexpected markup at {rest:.40}"
        );
    }
    for part in ["blocks"] {
        if let Some(b) = v.get(part).and_then(Value::as_array) {
            assert!(b.len() <= limits::MAX_BLOCKS);
        }
    }
}

#[test]
fn golden_messages_for_every_kind_mode_and_thread_setting() {
    let r = Renderer::new(None).unwrap();
    for (kind, events) in stories("Checkout peak 2000 users") {
        let out = render_story(&r, "Checkout peak 2000 users", &events);
        for (_, m) in out.as_object().unwrap() {
            check(m);
        }
        insta::assert_json_snapshot!(kind, out);
    }
}

#[test]
fn golden_messages_with_a_hostile_name_show_it_exactly_and_ping_nobody() {
    let r = Renderer::new(None).unwrap();
    for (kind, events) in stories(HOSTILE) {
        let out = render_story(&r, HOSTILE, &events);
        for (variant, m) in out.as_object().unwrap() {
            if m.is_boolean() {
                continue;
            }
            check(m);
            let all = m.to_string();
            // A reply that is not broadcast may carry no user text (e.g. "Running").
            let quiet_reply =
                variant == "threads_on_reply" && out["threads_on_reply_broadcast"] == false;
            assert!(
                quiet_reply || all.contains(HOSTILE_ESCAPED),
                "{kind} {variant}: {all}"
            );
            // No character is dropped (the current XTC product filters `_*`~`).
            assert!(!all.contains("<https://evil"), "{kind} {variant}");
        }
        insta::assert_json_snapshot!(format!("hostile__{kind}"), out);
    }
}

/// A digest of several events waiting for one channel: the headline counts them, one
/// line per event, coloured by the worst; of one kind, or mixed.
#[test]
fn golden_digests() {
    let r = Renderer::new(None).unwrap();
    for name in ["Checkout peak 2000 users", HOSTILE] {
        let s = stories(name);
        let last = |k: &str| {
            s.iter()
                .find(|(n, _)| *n == k)
                .unwrap()
                .1
                .last()
                .unwrap()
                .clone()
        };
        let n = names(name);
        let started = last("load_test_started");
        let same = [&started, &started, &started];
        let mixed = [
            last("load_test_started"),
            last("load_test_error"),
            last("scenario_failing"),
            last("load_test_report_available"),
        ];
        let same: Vec<(&Payload, &MessageNames)> = same.iter().map(|p| (*p, &n)).collect();
        let mixed: Vec<(&Payload, &MessageNames)> = mixed.iter().map(|p| (p, &n)).collect();
        let out = json!({
            "same_kind": r.render_digest(&same).unwrap().to_json(),
            "mixed": r.render_digest(&mixed).unwrap().to_json(),
        });
        for (_, m) in out.as_object().unwrap() {
            check(m);
        }
        let same_text = out["same_kind"]["text"].as_str().unwrap();
        assert!(
            same_text.starts_with("3 load tests started: "),
            "{same_text}"
        );
        assert_eq!(out["mixed"]["attachments"][0]["color"], color::RED);
        if name == HOSTILE {
            assert!(out.to_string().contains(HOSTILE_ESCAPED));
        }
        let key = if name == HOSTILE {
            "hostile__digests"
        } else {
            "digests"
        };
        insta::assert_json_snapshot!(key, out);
    }
}

#[test]
fn progress_shows_only_what_happened() {
    let line = |events: &[Payload]| {
        let mut card = Card::new(&events[0]);
        for e in &events[1..] {
            card.absorb(e);
        }
        progress(&card.path)
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s["mark"].as_str().unwrap(),
                    s["label"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
            .join(" → ")
    };
    let s = stories("LT");
    let get = |k: &str| s.iter().find(|(n, _)| *n == k).unwrap().1.clone();
    assert_eq!(
        line(&get("load_test_error")),
        "✓ Started → ✗ Failed (provision_agents)"
    );
    assert_eq!(
        line(&get("load_test_aborted_then_report")),
        "✓ Started → ✓ Running → 🛑 Aborted by joe → 📄 Report"
    );
    assert_eq!(line(&get("load_test_running")), "✓ Started → ● Running");
    assert_eq!(
        line(&get("load_test_finished")),
        "✓ Started → ✓ Running → ✓ Finished"
    );
}

#[test]
fn incident_cards_keep_the_first_failure() {
    let r = Renderer::new(None).unwrap();
    let s = stories("Shop checkout");
    let events = &s
        .iter()
        .find(|(n, _)| *n == "scenario_recovered")
        .unwrap()
        .1;
    let mut card = Card::new(&events[0]);
    for e in &events[1..] {
        card.absorb(e);
    }
    let card = r.render_card(&card, &names("x"), false, None).unwrap();
    let all = card.to_json().to_string();
    let shown = format!("{}{}", card.blocks, card.attachments.unwrap()[0]["blocks"]);
    for fact in [
        "Failing, severity failure",
        "Page load &lt; 3s (3.8s)",
        "Severity failure → fatal",
        "Down for: ",
    ] {
        assert!(all.contains(fact), "{fact} in {all}");
    }
    // Each fact once: the time down is in the facts, not again in the state or history.
    assert_eq!(shown.matches("7m 5s").count(), 1, "{shown}");
    assert_eq!(all.matches(color::GREEN).count(), 1);
}

#[test]
fn long_text_stays_within_slack_limits_and_the_full_name_shows() {
    let r = Renderer::new(None).unwrap();
    let long = format!("{}{}", "ä".repeat(299), "Z");
    for (_, events) in stories(&long) {
        let out = render_story(&r, &long, &events);
        let card = &out["threads_on_card_full"];
        let header = card["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), limits::MAX_HEADER_TEXT);
        assert!(header.ends_with('…'));
        assert!(
            card.to_string().contains(&long),
            "the full name is in the body"
        );
    }
    let mut p = lt(LoadTestEventType::Error, "x");
    if let Payload::LoadTest(l) = &mut p {
        l.error = Some(ErrorInfo {
            step: None,
            message: "e".repeat(5_000),
        });
    }
    let out = r.render_event(&p, &names("x"), false).unwrap().to_json();
    let shown = out.to_string();
    assert!(shown.contains(&format!("{}…", "e".repeat(MAX_ERROR - 1))));
    assert!(shown.contains("Open in XTC"));
}

mod extremes;
mod incident_cards;
mod overrides;
mod summary;
mod verdicts;

/// A held incident that recovered before its load test ended: one line under the load
/// test's card (threads on) or in the channel, naming the scenario and how long it failed.
#[test]
fn golden_hold_recovered_line() {
    use crate::pipeline::events::HoldRecoveredPayload;
    let r = Renderer::new(None).unwrap();
    for name in ["Shop checkout", HOSTILE] {
        let p = Payload::HoldRecovered(HoldRecoveredPayload {
            load_test_id: "lt-1".into(),
            load_test: name.replace("Shop checkout", "Checkout peak 2000 users"),
            scenario_id: "shop-checkout".into(),
            name: name.into(),
            failing_since: at(2),
            recovered_at: at(6),
        });
        let n = names(name);
        let card = Card::new(&lt(LoadTestEventType::Running, name));
        let out = json!({
            "in_channel": r.render_event(&p, &n, false).unwrap().to_json(),
            "in_thread": r.render_reply(&p, &card, &n, false, false).unwrap().to_json(),
        });
        let text = out["in_thread"]["text"].as_str().unwrap();
        assert!(
            text.ends_with("failed for 4m 0s during this load test and recovered"),
            "{text}"
        );
        assert!(!out.to_string().contains("<!"), "never a mention: {out}");
        if name == HOSTILE {
            assert!(out.to_string().contains(HOSTILE_ESCAPED), "{out}");
        }
        let key = if name == HOSTILE {
            "hostile__hold_recovered_line"
        } else {
            "hold_recovered_line"
        };
        insta::assert_json_snapshot!(key, out);
    }
}

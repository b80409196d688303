//! Every message, rendered from extreme inputs the API accepts, passes Slack's documented
//! Block Kit limits (`slack::limits::violations`) and names its subject in its notification.
use super::*;
use crate::domain::incident::{Action, Actor, Controls, MuteFor};

const FAMILY: &str = "👩‍👩‍👧‍👦";

/// Names (and all other user text) to try: long, non-ASCII, emoji sequences, hostile.
fn texts() -> Vec<String> {
    vec![
        "x".repeat(10_000),
        "ä".repeat(5_000),
        FAMILY.repeat(700),
        format!("a{}", "e\u{301}".repeat(3_000)),
        HOSTILE.repeat(300),
        "&".repeat(4_000),
    ]
}

/// URLs to try: short, just fitting, too long, and non-ASCII that triples when encoded.
fn urls() -> Vec<String> {
    vec![
        "https://xtc.example/lt/1".into(),
        format!("https://xtc.example/{}", "a".repeat(2_900)),
        format!("https://xtc.example/{}", "a".repeat(9_000)),
        format!("https://xtc.example/{}?q=<x>|y z", "ä".repeat(1_000)),
    ]
}

/// The event with every piece of user text set to `t` and every URL to `url`.
fn stretch(p: &Payload, t: &str, url: &str, sensors: usize) -> Payload {
    let mut p = p.clone();
    match &mut p {
        Payload::LoadTest(l) => {
            l.name = t.into();
            l.url = Some(url.into());
            l.started_by = Some(t.into());
            l.aborted_by = l.aborted_by.as_ref().map(|_| t.into());
            if let Some(e) = &mut l.error {
                e.step = Some(t.into());
                e.message = format!("{t}\n{t}");
            }
            l.definition = Some(t.into());
            if let Some(r) = &mut l.report {
                r.url = url.into();
                r.kind = Some(t.into());
                if let Some(s) = &mut r.summary {
                    for i in 0..40 {
                        s.extra.insert(format!("{t}{i}"), json!(t));
                    }
                }
                // Compared with a baseline run whose name is the extreme text too.
                let baseline = crate::domain::report::BaselineRun {
                    load_test_id: "lt-0".into(),
                    name: t.into(),
                    reported_at: at(0),
                    pinned: true,
                    figures: crate::domain::report::Figures::new([
                        (crate::domain::report::Metric::P95, 1.0),
                        (crate::domain::report::Metric::Throughput, 1e9),
                        (crate::domain::report::Metric::Users, 1.0),
                    ]),
                };
                l.comparison =
                    crate::pipeline::reports::comparison(l.event_type, r, Some(baseline), 10);
            }
        }
        Payload::Scenario(s) => {
            s.name = t.into();
            s.url = Some(url.into());
            s.execution = Some(ExecutionInfo {
                id: Some(t.into()),
                url: Some(url.into()),
                location: Some(t.into()),
            });
            // Long text in the ones listed; a body holds thousands of short ones.
            s.failed_sensors = (0..sensors)
                .map(|i| FailedSensor {
                    name: if i < 12 {
                        format!("{i} {t}")
                    } else {
                        format!("s{i}")
                    },
                    message: (i < 12).then(|| t.into()),
                })
                .collect();
        }
        Payload::IncidentAction(a) => a.name = t.into(),
        Payload::BaselineSet(b) => {
            b.name = t.into();
            b.definition = t.into();
            b.by.name = t.into();
        }
        Payload::HoldRecovered(h) => {
            h.name = t.into();
            h.load_test = t.into();
        }
        // Checked in `tests/summary.rs`.
        Payload::WeeklySummary(_) => {}
    }
    p
}

fn extreme_names(t: &str) -> MessageNames {
    MessageNames {
        org_id: "acme".into(),
        org_name: t.into(),
        project_id: "webshop".into(),
        project_name: t.into(),
    }
}

/// The first characters of the subject's name as a message shows it.
fn shown_name(t: &str) -> String {
    text::escape(text::truncate(t, 8).trim_end_matches(text::ELLIPSIS))
}

fn assert_fits(what: &str, m: &Value, name: &str) {
    let problems = limits::violations(m);
    assert!(problems.is_empty(), "{what}: {problems:#?}");
    let notification = m["text"].as_str().unwrap_or_default();
    assert!(
        notification.contains(&shown_name(name)),
        "{what}: the notification names its subject: {notification:.200}"
    );
    assert!(!m.to_string().contains("<!channel>"), "{what}");
}

#[test]
fn every_message_from_extreme_input_fits_slacks_limits_and_names_its_subject() {
    let r = Renderer::new(None).unwrap();
    for t in texts() {
        let n = extreme_names(&t);
        for url in urls() {
            for (kind, events) in stories("x") {
                let events: Vec<Payload> =
                    events.iter().map(|e| stretch(e, &t, &url, 5_000)).collect();
                let out = render_story(&r, &t, &events);
                for (variant, m) in out.as_object().unwrap() {
                    if !m.is_boolean() {
                        let what = format!("{kind} {variant} name {:.20} url {:.40}", t, url);
                        assert_fits(&what, m, &t);
                    }
                }
                // Both reply variants, whatever deliver.rs broadcasts.
                let mut card = Card::new(&events[0]);
                events[1..].iter().for_each(|e| card.absorb(e));
                for b in [false, true] {
                    let last = events.last().unwrap();
                    let m = r.render_reply(last, &card, &n, false, b).unwrap().to_json();
                    assert_fits(&format!("{kind} reply {b}"), &m, &t);
                }
            }
            // A digest of many events.
            let all: Vec<Payload> = stories("x")
                .into_iter()
                .flat_map(|(_, e)| e)
                .map(|e| stretch(&e, &t, &url, 5_000))
                .collect();
            let many: Vec<(&Payload, &MessageNames)> =
                all.iter().cycle().take(200).map(|p| (p, &n)).collect();
            let m = r.render_digest(&many).unwrap().to_json();
            assert_fits("digest", &m, &t);
        }
        incident_controls(&r, &t, &n);
        let pinned = stretch(
            &Payload::BaselineSet(crate::pipeline::events::BaselineSetPayload {
                load_test_id: "lt-1".into(),
                name: "x".into(),
                definition: "x".into(),
                by: Actor {
                    id: "U1".into(),
                    name: "x".into(),
                },
                at: at(0),
            }),
            &t,
            "https://xtc.example",
            0,
        );
        let m = r.render_event(&pinned, &n, false).unwrap().to_json();
        assert_fits("baseline set", &m, &t);
    }
}

/// Incident cards with every control, and the action replies, from extreme input.
fn incident_controls(r: &Renderer, t: &str, n: &MessageNames) {
    let s = stories("x");
    let events: Vec<Payload> = s
        .iter()
        .find(|(k, _)| *k == "scenario_recovered")
        .unwrap()
        .1
        .iter()
        .map(|e| stretch(e, t, &urls()[3], 5_000))
        .collect();
    let by = Actor {
        id: "U0FAKEUSR02".into(),
        name: t.into(),
    };
    let mut card = Card::new(&events[0]);
    let mut controls = Controls::none(2);
    // A long flapping history: the card keeps the first failure and the latest changes.
    for i in 0..40 {
        let mut e = events[1].clone();
        if let Payload::Scenario(sc) = &mut e {
            sc.change = Change::Flapping {
                health: Health::Fatal,
                changes: i,
                started: i == 0,
            };
        }
        card.absorb(&e);
        card.absorb(&events[1]);
    }
    for step in 0..3 {
        if step == 1 {
            controls.apply(Action::Acknowledge, &by, at(2));
            controls.apply_with(Action::Mute(MuteFor::OneHour), &by, at(2), Some(t));
        }
        if step == 2 {
            card.absorb(&events[2]);
        }
        let cc = CardControls {
            controls: controls.clone(),
            reference: "r".repeat(100),
            now: at(3),
        };
        for compact in [false, true] {
            let m = r
                .render_card(&card, n, compact, Some(&cc))
                .unwrap()
                .to_json();
            assert_fits(&format!("card step {step} compact {compact}"), &m, t);
        }
    }
    for action in [
        Action::Acknowledge,
        Action::Mute(MuteFor::UntilRecovered),
        Action::Unmute,
    ] {
        let p = Payload::IncidentAction(IncidentActionPayload {
            scenario_id: "shop-checkout".into(),
            name: t.into(),
            incident: 2,
            action,
            by: by.clone(),
            at: at(2),
            until: None,
            comment: Some(t.into()),
        });
        for b in [false, true] {
            let m = r.render_reply(&p, &card, n, false, b).unwrap().to_json();
            assert_fits(&format!("action reply {b}"), &m, t);
        }
        let m = r.render_event(&p, n, false).unwrap().to_json();
        assert_fits("action without thread", &m, t);
    }
}

#[test]
fn a_link_too_long_for_slack_loses_its_button_and_the_message_says_so() {
    let r = Renderer::new(None).unwrap();
    let long = &urls()[3];
    let fits = &urls()[1];
    let mut p = lt(LoadTestEventType::ReportAvailable, "Checkout");
    if let Payload::LoadTest(l) = &mut p {
        l.url = Some(long.clone());
        l.report.as_mut().unwrap().url = fits.clone();
    }
    let m = r.render_event(&p, &names("x"), false).unwrap().to_json();
    assert!(limits::violations(&m).is_empty());
    let shown = m.to_string();
    assert!(
        shown.contains("Open in XTC: the link is too long for Slack"),
        "{shown:.3000}"
    );
    assert!(
        shown.contains("\"Open report\""),
        "the report's button stays: {shown:.500}"
    );
    assert!(
        shown.contains("load test lt-1"),
        "the id to find it by stays"
    );
}

#[test]
fn many_failed_sensors_show_the_first_ones_and_how_many_more_with_the_execution_link() {
    let r = Renderer::new(None).unwrap();
    let s = stories("Shop checkout");
    let failing = &s.iter().find(|(k, _)| *k == "scenario_failing").unwrap().1[0];
    let p = stretch(failing, "Shop checkout", "https://xtc.example/ex/1", 150);
    for compact in [false, true] {
        let m = r.render_event(&p, &names("x"), compact).unwrap().to_json();
        let shown = m.to_string();
        assert!(shown.contains("and 140 more"), "{shown}");
        assert!(shown.contains("9 Shop checkout") && !shown.contains("10 Shop checkout"));
        assert!(shown.contains("https://xtc.example/ex/1"));
    }
}

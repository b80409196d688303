//! The report card's verdicts: a regression, no regression (with an improvement), the first
//! run of a definition, a report whose figures the baseline lacks, an intermediate report,
//! and a pinned baseline's card. Each in every mode (full, compact, card, reply).
use super::*;
use crate::domain::report::{BaselineRun, Figures, Metric};
use crate::pipeline::render::Pinned;

fn baseline(pairs: &[(Metric, f64)]) -> BaselineRun {
    BaselineRun {
        load_test_id: "lt-118".into(),
        name: "Checkout peak 1900 users".into(),
        reported_at: Utc.with_ymd_and_hms(2026, 11, 30, 14, 0, 0).unwrap(),
        pinned: true,
        figures: Figures::new(pairs.iter().copied()),
    }
}

/// The run's events up to `last`, the report carrying `summary` compared with `base`.
fn run(last: LoadTestEventType, summary: ReportSummary, base: Option<BaselineRun>) -> Vec<Payload> {
    use LoadTestEventType as E;
    let path: &[E] = match last {
        E::IntermediateReport => &[E::Started, E::Running, E::IntermediateReport],
        _ => &[E::Started, E::Running, E::Finished, E::ReportAvailable],
    };
    path.iter()
        .map(|t| {
            let mut p = lt(*t, "Checkout peak 2000 users");
            if let Payload::LoadTest(l) = &mut p {
                if let Some(r) = &mut l.report {
                    r.summary = Some(summary.clone());
                    l.comparison = crate::pipeline::reports::comparison(*t, r, base.clone(), 10);
                }
            }
            p
        })
        .collect()
}

fn summary(throughput: f64, errors: f64, p95: f64) -> ReportSummary {
    ReportSummary {
        throughput: Some(throughput),
        errors: Some(errors),
        p95_ms: Some(p95),
        requests: Some(740_000.0),
        p99_ms: Some(p95 * 1.6),
        users: Some(2000.0),
        duration_s: Some(600.0),
        ..Default::default()
    }
}

fn old() -> Vec<(Metric, f64)> {
    vec![
        (Metric::Throughput, 1260.0),
        (Metric::Errors, 400.0),
        (Metric::Requests, 756_000.0),
        (Metric::P95, 723.0),
        (Metric::P99, 1150.0),
        (Metric::Users, 1900.0),
        (Metric::Duration, 600.0),
    ]
}

#[test]
fn golden_report_verdicts() {
    use LoadTestEventType as E;
    let r = Renderer::new(None).unwrap();
    let cases: Vec<(&str, Vec<Payload>)> = vec![
        (
            "regression",
            run(
                E::ReportAvailable,
                summary(1234.5, 1200.0, 890.0),
                Some(baseline(&old())),
            ),
        ),
        (
            "no_regression",
            run(
                E::ReportAvailable,
                summary(1270.0, 390.0, 610.0),
                Some(baseline(&old())),
            ),
        ),
        (
            "first_run",
            run(E::ReportAvailable, summary(1234.5, 12.0, 810.0), None),
        ),
        (
            "missing_figures",
            run(
                E::ReportAvailable,
                ReportSummary {
                    extra: [("apdex".to_owned(), json!(0.93))].into_iter().collect(),
                    ..Default::default()
                },
                Some(baseline(&old())),
            ),
        ),
        (
            "intermediate",
            run(
                E::IntermediateReport,
                summary(1100.0, 30.0, 950.0),
                Some(baseline(&old())),
            ),
        ),
    ];
    for (name, events) in cases {
        let out = render_story(&r, "Checkout peak 2000 users", &events);
        for (_, m) in out.as_object().unwrap() {
            check(m);
        }
        insta::assert_json_snapshot!(format!("verdict_{name}"), out);
    }
}

#[test]
fn a_regression_is_red_and_its_verdict_is_the_notification() {
    let r = Renderer::new(None).unwrap();
    let events = run(
        LoadTestEventType::ReportAvailable,
        summary(1234.5, 1200.0, 890.0),
        Some(baseline(&old())),
    );
    let m = r
        .render_event(events.last().unwrap(), &names("x"), false)
        .unwrap()
        .to_json();
    assert_eq!(m["attachments"][0]["color"], color::RED);
    let text = m["text"].as_str().unwrap();
    assert!(
        text.ends_with("Regression: errors ×3, P99 +24 %, P95 +23 %"),
        "{text}"
    );
    assert!(m.to_string().contains("\"action_id\":\"baseline.set\""));
}

#[test]
fn the_pinned_baseline_card_says_so_and_offers_no_pin_button() {
    let r = Renderer::new(None).unwrap();
    let events = run(
        LoadTestEventType::ReportAvailable,
        summary(1234.5, 12.0, 810.0),
        None,
    );
    let mut card = Card::new(&events[0]);
    for e in &events[1..] {
        card.absorb(e);
    }
    let before = r
        .render_card(&card, &names("x"), false, None)
        .unwrap()
        .to_json();
    assert!(before.to_string().contains("baseline.set"));
    card.pinned = Some(Pinned {
        by: "sam".into(),
        at: at(20),
    });
    let after = r
        .render_card(&card, &names("x"), false, None)
        .unwrap()
        .to_json();
    insta::assert_json_snapshot!("verdict_pinned_card", after);
    assert!(!after.to_string().contains("baseline.set"));
    assert!(after
        .to_string()
        .contains("The baseline of this definition"));
}

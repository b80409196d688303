//! Unit tests of a run's figures against its baseline: what is judged, the threshold, the
//! verdict and its caveats, and how figures read.

use super::*;
use chrono::TimeZone;

fn figures(pairs: &[(Metric, f64)]) -> Figures {
    Figures::new(pairs.iter().copied())
}

fn baseline(pairs: &[(Metric, f64)]) -> BaselineRun {
    BaselineRun {
        load_test_id: "lt-118".into(),
        name: "Checkout peak".into(),
        reported_at: Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap(),
        pinned: true,
        figures: figures(pairs),
    }
}

#[test]
fn a_slower_p95_beyond_the_threshold_is_a_regression_named_in_the_verdict() {
    let c = Comparison::new(
        &figures(&[(Metric::P95, 890.0), (Metric::Throughput, 1000.0)]),
        Some(baseline(&[
            (Metric::P95, 723.0),
            (Metric::Throughput, 1010.0),
        ])),
        10,
        true,
    );
    assert_eq!(c.changes[0].judgement, Judgement::Regression);
    assert_eq!(c.changes[1].judgement, Judgement::Unchanged);
    assert_eq!(c.verdict().headline(), "Regression: P95 +23 %");
}

#[test]
fn the_threshold_is_strict_and_throughput_regresses_when_it_drops() {
    let base = baseline(&[(Metric::P95, 100.0), (Metric::Throughput, 1000.0)]);
    let c = Comparison::new(
        &figures(&[(Metric::P95, 110.0), (Metric::Throughput, 850.0)]),
        Some(base),
        10,
        true,
    );
    assert_eq!(
        c.changes[0].judgement,
        Judgement::Unchanged,
        "exactly +10 % is not beyond 10"
    );
    assert_eq!(c.changes[1].judgement, Judgement::Regression);
    assert_eq!(c.verdict().headline(), "Regression: Throughput −15 %");
}

#[test]
fn errors_are_judged_by_rate_when_both_runs_have_one_else_by_count() {
    // By count: 4 -> 12 is ×3.
    let c = Comparison::new(
        &figures(&[(Metric::Errors, 12.0), (Metric::P95, 900.0)]),
        Some(baseline(&[(Metric::Errors, 4.0), (Metric::P95, 723.0)])),
        10,
        true,
    );
    assert_eq!(c.verdict().headline(), "Regression: errors ×3, P95 +24 %");
    // By rate: twice the errors in four times the requests is better.
    let c = Comparison::new(
        &figures(&[(Metric::Errors, 8.0), (Metric::Requests, 4000.0)]),
        Some(baseline(&[
            (Metric::Errors, 4.0),
            (Metric::Requests, 1000.0),
        ])),
        10,
        true,
    );
    let errors = c
        .changes
        .iter()
        .find(|x| x.metric == Metric::Errors)
        .unwrap();
    assert_eq!(errors.judgement, Judgement::Improvement);
    assert!(!c.is_regression());
    // Three times the rate, worked out from the counts, is a regression of the errors.
    let c = Comparison::new(
        &figures(&[(Metric::Errors, 300.0), (Metric::Requests, 100_000.0)]),
        Some(baseline(&[
            (Metric::Errors, 100.0),
            (Metric::Requests, 100_000.0),
        ])),
        10,
        true,
    );
    assert_eq!(c.verdict().headline(), "Regression: errors ×3");
}

#[test]
fn a_tiny_error_rate_rise_is_noise_and_new_errors_by_count_are_a_regression() {
    let c = Comparison::new(
        &figures(&[(Metric::ErrorRate, 0.0004)]),
        Some(baseline(&[(Metric::ErrorRate, 0.0)])),
        10,
        true,
    );
    assert!(!c.is_regression());
    let c = Comparison::new(
        &figures(&[(Metric::Errors, 3.0)]),
        Some(baseline(&[(Metric::Errors, 0.0)])),
        10,
        true,
    );
    assert_eq!(c.verdict().headline(), "Regression: errors from 0");
}

#[test]
fn verdicts_first_run_missing_figures_interim_and_improvements() {
    let f = figures(&[(Metric::P95, 500.0)]);
    assert_eq!(
        Comparison::new(&f, None, 10, true).verdict(),
        Verdict::FirstRun
    );
    assert_eq!(Verdict::FirstRun.headline(), "First run of this definition");
    let c = Comparison::new(&f, Some(baseline(&[(Metric::Throughput, 9.0)])), 10, true);
    assert_eq!(c.verdict(), Verdict::MissingFigures);
    let c = Comparison::new(&f, Some(baseline(&[(Metric::P95, 100.0)])), 10, false);
    assert_eq!(c.verdict(), Verdict::Interim);
    assert_eq!(c.changes[0].judgement, Judgement::Worse);
    let c = Comparison::new(&f, Some(baseline(&[(Metric::P95, 700.0)])), 10, true);
    assert_eq!(
        c.verdict().headline(),
        "No regression against the baseline; better: P95 −29 %"
    );
}

#[test]
fn caveats_name_load_that_differs() {
    let c = Comparison::new(
        &figures(&[(Metric::Users, 2000.0), (Metric::P95, 1.0)]),
        Some(baseline(&[(Metric::Users, 1000.0), (Metric::P95, 1.0)])),
        10,
        true,
    );
    assert_eq!(c.caveats(), vec!["Users 2,000 vs 1,000 in the baseline"]);
}

#[test]
fn figures_read_like_people_write_them() {
    assert_eq!(number(1234.5), "1,234.5");
    assert_eq!(number(1234567.0), "1,234,567");
    assert_eq!(number(0.42), "0.42");
    assert_eq!(number(12.0), "12");
    assert_eq!(Metric::ErrorRate.show(0.0123), "1.23 %");
    assert_eq!(Metric::Duration.show(3725.0), "1:02:05");
    assert_eq!(Metric::Duration.show(600.0), "10:00");
    assert_eq!(Metric::P95.show(810.0), "810 ms");
}

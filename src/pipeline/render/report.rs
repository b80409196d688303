//! The report part of load-test messages: the verdict line, each figure with the
//! baseline's value and the change, which run the baseline is, and the "Set as baseline"
//! button's condition. What counts as a regression is decided in `domain::report`.

use serde_json::{json, Value};

use super::card::Pinned;
use super::shared::fit;
use super::MAX_SHORT;
use crate::domain::report::{Comparison, FigureChange, Judgement, Metric, Verdict};
use crate::pipeline::events::{BaselineSetPayload, ReportInfo, ReportSummary};
use crate::slack::text;

/// A figure that is not one of the known ones, as it was sent.
pub(super) fn figure(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.2}")
    }
}

/// Unknown figures shown after the known ones (at most this many).
const MAX_EXTRA_FIGURES: usize = 7;

/// The figures of a summary that are not compared: the known ones in card order, then the
/// unknown ones as sent.
fn plain_figures(s: &ReportSummary) -> Vec<Value> {
    let known = s.figures();
    let mut out: Vec<Value> = Metric::ALL
        .into_iter()
        .filter_map(|m| Some(json!({"label": m.label(), "value": m.show(known.get(m)?)})))
        .collect();
    for (k, v) in s.extra.iter().take(MAX_EXTRA_FIGURES) {
        let shown = match v {
            Value::Number(n) => n.as_f64().map(figure).unwrap_or_else(|| n.to_string()),
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        out.push(json!({"label": fit(k, 60), "value": fit(&shown, MAX_SHORT)}));
    }
    out
}

/// (emoji, word) marking a judged figure.
fn mark(j: Judgement) -> Option<(&'static str, &'static str)> {
    match j {
        Judgement::Regression => Some(("red_circle", "regression")),
        Judgement::Worse => Some(("large_orange_circle", "worse")),
        Judgement::Improvement => Some(("large_green_circle", "better")),
        Judgement::Unchanged => None,
    }
}

fn compared_figure(c: &FigureChange) -> Value {
    let change = c
        .change_text()
        .map(|t| format!("{t} vs {}", c.metric.show(c.baseline.unwrap_or_default())));
    json!({
        "label": c.metric.label(),
        "value": c.metric.show(c.value),
        "change": change,
        "mark": mark(c.judgement).map(|(emoji, word)| json!({"emoji": emoji, "word": word})),
    })
}

fn verdict_context(v: &Verdict) -> Value {
    let (label, detail) = v.parts();
    let emoji = match v {
        Verdict::Regression(_) => "red_circle",
        Verdict::NoRegression(_) => "white_check_mark",
        Verdict::FirstRun => "new",
        Verdict::MissingFigures => "grey_question",
        Verdict::Interim => "hourglass_flowing_sand",
    };
    json!({
        "emoji": emoji,
        "label": label,
        "detail": detail,
        "text": v.headline(),
        "regression": v.is_regression(),
    })
}

/// `lt-118 (Checkout peak 1900 users), reported Nov 30, pinned`.
fn baseline_line(c: &Comparison, current_name: Option<&str>) -> Option<String> {
    let b = c.baseline.as_ref()?;
    let mut line = b.load_test_id.clone();
    if current_name != Some(b.name.as_str()) {
        line.push_str(&format!(" ({})", fit(&b.name, MAX_SHORT)));
    }
    line.push_str(&format!(
        ", reported {}",
        b.reported_at.format("%b %-d, %Y")
    ));
    line.push_str(if b.pinned {
        ", pinned"
    } else {
        ", the previous run"
    });
    Some(line)
}

/// The report's context: link, figures (compared when there is a comparison), verdict,
/// baseline, caveats, whether this run is the pinned baseline and whether it can become one.
pub(super) fn report_context(
    r: &ReportInfo,
    comparison: Option<&Comparison>,
    pinned: Option<&Pinned>,
    run_name: Option<&str>,
) -> Value {
    let figures = match (comparison, &r.summary) {
        (Some(c), _) if c.baseline.is_some() => c.changes.iter().map(compared_figure).collect(),
        (_, Some(s)) => plain_figures(s),
        (_, None) => Vec::new(),
    };
    let verdict = comparison.map(|c| verdict_context(&c.verdict()));
    let can_pin =
        pinned.is_none() && comparison.is_some_and(|c| c.final_report && !c.changes.is_empty());
    json!({
        "url": text::safe_url(&r.url),
        "kind": r.kind,
        "figures": figures,
        "verdict": verdict,
        "baseline": comparison.and_then(|c| baseline_line(c, run_name)),
        "caveats": comparison.map(Comparison::caveats).unwrap_or_default(),
        "pinned": pinned.map(|p| json!({"by": fit(&p.by, MAX_SHORT)})),
        "can_pin": can_pin,
    })
}

/// "Set as baseline" was pressed: who, which run, which definition.
pub(super) fn baseline_set_context(b: &BaselineSetPayload) -> Value {
    json!({
        "by": fit(&b.by.name, MAX_SHORT),
        "name": fit(&b.name, MAX_SHORT),
        "load_test_id": b.load_test_id,
        "definition": fit(&b.definition, MAX_SHORT),
    })
}

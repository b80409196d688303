//! The weekly summary's message: a headline naming the scope and the period, then at most
//! ten lines (load tests, regressions, P95 trends, one line per scenario, mutes and
//! maintenance), or one line for a quiet week. The figures come from `domain::summary`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use super::shared::fit;
use super::{color, MessageNames, MAX_SHORT};
use crate::domain::monitoring::human_duration;
use crate::domain::report::{number, Metric};
use crate::domain::summary::{P95Trend, RunCounts, ScenarioFigures, SummaryFigures};
use crate::pipeline::events::WeeklySummaryPayload;
use crate::slack::text;

/// Scenarios listed one per line; the rest are counted on the last of them.
const MAX_SCENARIO_LINES: usize = 5;
/// Definitions whose P95 trend is shown.
const MAX_TRENDS: usize = 3;

/// One line: a bold label, then parts of text and links.
fn line(label: &str, parts: Vec<Value>) -> Value {
    json!({"label": label, "parts": parts})
}

fn plain(s: impl Into<String>) -> Value {
    json!({"text": s.into()})
}

/// A link to XTC, or the text alone when the URL is not a safe link.
fn linked(name: &str, url: Option<&str>) -> Value {
    let name = fit(name, MAX_SHORT);
    match url.and_then(text::safe_url) {
        Some(url) => json!({"text": name, "url": url}),
        None => json!({"text": name}),
    }
}

fn pct_change(pct: Option<f64>) -> String {
    match pct {
        Some(p) if p.abs() < 0.5 => " (±0 %)".into(),
        Some(p) if p > 0.0 => format!(" (+{p:.0} %)"),
        Some(p) => format!(" (−{:.0} %)", -p),
        None => String::new(),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn runs_line(runs: &RunCounts) -> Value {
    let mut parts = vec![];
    for (n, word) in [
        (runs.passed, "passed"),
        (runs.failed, "failed"),
        (runs.aborted, "aborted"),
        (runs.running, "still running"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    line(
        "Load tests:",
        vec![plain(format!(
            " {} · {}",
            plural(runs.total(), "run", "runs"),
            parts.join(", ")
        ))],
    )
}

fn regressions_line(f: &SummaryFigures) -> Option<Value> {
    let worst = f.worst_regression()?;
    Some(line(
        "Regressions:",
        vec![
            plain(format!(
                " {} against baselines · worst: ",
                f.regressions.len()
            )),
            linked(&worst.name, worst.url.as_deref()),
            plain(format!(" {}", worst.worst)),
        ],
    ))
}

fn trend_text(t: &P95Trend) -> String {
    if t.runs == 1 {
        return format!("{} {}", t.definition, Metric::P95.show(t.last_ms));
    }
    format!(
        "{} {} → {}{}",
        t.definition,
        number(t.first_ms),
        Metric::P95.show(t.last_ms),
        pct_change(t.change_pct)
    )
}

fn trends_line(trends: &[P95Trend]) -> Option<Value> {
    if trends.is_empty() {
        return None;
    }
    let mut shown: Vec<String> = trends
        .iter()
        .take(MAX_TRENDS)
        .map(|t| fit(&trend_text(t), MAX_SHORT))
        .collect();
    if trends.len() > MAX_TRENDS {
        shown.push(format!("and {} more", trends.len() - MAX_TRENDS));
    }
    Some(line(
        "P95 trend:",
        vec![plain(format!(" {}", shown.join(" · ")))],
    ))
}

fn scenario_line(s: &ScenarioFigures, more: usize) -> Value {
    let mut facts = vec![match s.availability {
        Some(a) => format!("{}% available", number(a * 100.0)),
        None => "no results".to_owned(),
    }];
    facts.push(plural(s.incidents, "incident", "incidents"));
    if s.longest_outage_secs > 0 {
        facts.push(format!(
            "longest outage {}",
            human_duration(s.longest_outage_secs)
        ));
    }
    if let Some(t) = s.mtta_secs {
        facts.push(format!("MTTA {}", human_duration(t)));
    }
    if let Some(t) = s.mttr_secs {
        facts.push(format!("MTTR {}", human_duration(t)));
    }
    let mut parts = vec![
        plain(" "),
        linked(&s.name, s.url.as_deref()),
        plain(format!(": {}", facts.join(" · "))),
    ];
    if more > 0 {
        let what = if more == 1 { "scenario" } else { "scenarios" };
        parts.push(plain(format!(" · and {more} more {what}")));
    }
    line("Monitoring:", parts)
}

fn controls_line(f: &SummaryFigures) -> Option<Value> {
    if f.mutes == 0 && f.maintenance.is_empty() {
        return None;
    }
    let windows = match f.maintenance.len() {
        0 => "none".to_owned(),
        _ => f
            .maintenance
            .iter()
            .map(|w| fit(&w.name, MAX_SHORT))
            .collect::<Vec<_>>()
            .join(", "),
    };
    Some(line(
        "Mutes:",
        vec![plain(format!(
            " {} · maintenance windows: {windows}",
            plural(f.mutes, "incident muted", "incidents muted")
        ))],
    ))
}

/// Red for a regression or a scenario below 99 % available, orange for incidents or
/// failed runs, green otherwise.
fn colour(f: &SummaryFigures) -> &'static str {
    let poor = f
        .scenarios
        .iter()
        .any(|s| s.availability.is_some_and(|a| a < 0.99));
    if !f.regressions.is_empty() || poor {
        color::RED
    } else if f.runs.failed + f.runs.aborted > 0 || f.scenarios.iter().any(|s| s.incidents > 0) {
        color::ORANGE
    } else {
        color::GREEN
    }
}

/// `Nov 30 – Dec 7` in the schedule's time zone.
fn period_text(from: DateTime<Utc>, to: DateTime<Utc>, zone: &str) -> String {
    let tz: Tz = zone.parse().unwrap_or(Tz::UTC);
    let day = |t: DateTime<Utc>| t.with_timezone(&tz).format("%b %-d").to_string();
    format!("{} – {}", day(from), day(to))
}

pub(super) fn summary_context(p: &WeeklySummaryPayload, names: &MessageNames) -> Value {
    let f = &p.figures;
    let scope = if names.project_id.is_empty() {
        fit(&names.org_name, MAX_SHORT)
    } else {
        format!(
            "{} / {}",
            fit(&names.org_name, MAX_SHORT),
            fit(&names.project_name, MAX_SHORT)
        )
    };
    let period = period_text(f.period.from, f.period.to, &p.timezone);
    let lines: Vec<Value> = if f.is_quiet() {
        vec![line(
            "A quiet week:",
            vec![plain(" no load tests, no incidents")],
        )]
    } else {
        let mut lines = vec![];
        if f.runs.total() > 0 {
            lines.push(runs_line(&f.runs));
        }
        lines.extend(regressions_line(f));
        lines.extend(trends_line(&f.trends));
        let shown = f.scenarios.len().min(MAX_SCENARIO_LINES);
        for (i, s) in f.scenarios.iter().take(shown).enumerate() {
            let more = if i + 1 == shown {
                f.scenarios.len() - shown
            } else {
                0
            };
            lines.push(scenario_line(s, more));
        }
        lines.extend(controls_line(f));
        lines
    };
    json!({
        "scope": scope,
        "period": period,
        "color": colour(f),
        "lines": lines,
    })
}

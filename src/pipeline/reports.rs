//! Report figures kept per run, and the baseline a report is compared with: the
//! definition's pinned run, or else its previous reported run. Called inside the ingest
//! transaction, so the comparison a message shows is the one the rules routed by. The rules
//! of the comparison itself are in `domain::report`.

use chrono::{DateTime, Utc};

use super::events::{LoadTestEvent, ReportInfo, ReportSummary};
use crate::db::models::load_test::LoadTestRow;
use crate::db::models::run_report::{BaselineRow, RunReport, SUMMARY_COLUMN};
use crate::db::unreadable::{read_json, write_json};
use crate::db::DbConnection;
use crate::domain::lifecycle::LoadTestEventType;
use crate::domain::report::{BaselineRun, Comparison, Metric};

/// Whether a report is a run's final report (what runs are judged and compared by).
pub fn is_final(event_type: LoadTestEventType, report: &ReportInfo) -> bool {
    event_type == LoadTestEventType::ReportAvailable
        && report.kind.as_deref() != Some("intermediate")
}

/// The definition a load test's runs are compared by: the id the orchestrator named (in
/// this event or an earlier one), else the run's name.
pub fn definition_key(ev: &LoadTestEvent, existing: Option<&LoadTestRow>) -> Option<String> {
    ev.info
        .definition
        .as_ref()
        .map(|d| d.id.clone())
        .or_else(|| existing.and_then(|r| r.definition.clone()))
        .or_else(|| ev.info.name.clone())
        .or_else(|| existing.map(|r| r.name.clone()))
}

/// The run a report of load test `load_test_id` is compared with, if any.
pub fn baseline_for(
    conn: &mut DbConnection,
    (org, project): (&str, &str),
    definition: &str,
    load_test_id: &str,
) -> diesel::QueryResult<Option<BaselineRun>> {
    let pinned = BaselineRow::find(conn, (org, project), definition)?
        .filter(|b| b.load_test_id != load_test_id);
    let (report, pinned) = match pinned {
        Some(b) => match RunReport::find(conn, &b.load_test_id)? {
            Some(r) => (Some(r), true),
            // The pinned run's figures were pruned: the previous run stands in.
            None => (
                RunReport::latest(conn, (org, project), definition, load_test_id)?,
                false,
            ),
        },
        None => (
            RunReport::latest(conn, (org, project), definition, load_test_id)?,
            false,
        ),
    };
    Ok(report.map(|r| baseline_run(&r, pinned)))
}

/// A stored run as a baseline.
pub fn baseline_run(r: &RunReport, pinned: bool) -> BaselineRun {
    let summary: ReportSummary = read_json(SUMMARY_COLUMN, &r.summary);
    BaselineRun {
        load_test_id: r.load_test_id.clone(),
        name: r.name.clone(),
        reported_at: r.reported_at.and_utc(),
        pinned,
        figures: summary.figures(),
    }
}

/// The comparison a report event shows: `None` for a report without figures and without
/// a baseline (nothing to say).
pub fn comparison(
    event_type: LoadTestEventType,
    report: &ReportInfo,
    baseline: Option<BaselineRun>,
    threshold_pct: u32,
) -> Option<Comparison> {
    let figures = report
        .summary
        .as_ref()
        .map(ReportSummary::figures)
        .unwrap_or_default();
    if figures.is_empty() && baseline.is_none() {
        return None;
    }
    Some(Comparison::new(
        &figures,
        baseline,
        threshold_pct,
        is_final(event_type, report),
    ))
}

/// The report's link, else the run's.
pub fn report_link(run_url: &Option<String>, report_url: &str) -> Option<String> {
    Some(report_url.to_owned())
        .filter(|u| !u.is_empty())
        .or_else(|| run_url.clone())
}

/// Keeps a run's final figures as what later runs of its definition compare with. A
/// report without figures is not kept: it cannot be a baseline.
pub fn record(
    conn: &mut DbConnection,
    row: &LoadTestRow,
    event_type: LoadTestEventType,
    (report, comparison): (Option<&ReportInfo>, Option<&Comparison>),
    at: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    let Some(report) = report.filter(|r| is_final(event_type, r)) else {
        return Ok(());
    };
    let Some(summary) = report.summary.as_ref() else {
        return Ok(());
    };
    let figures = summary.figures();
    if figures.is_empty() {
        return Ok(());
    }
    let worst = comparison.and_then(Comparison::worst_regression);
    RunReport::save(
        conn,
        &RunReport {
            load_test_id: row.id.clone(),
            org_id: row.org_id.clone(),
            project_id: row.project_id.clone(),
            definition: row.definition_key().to_owned(),
            name: row.name.clone(),
            summary: write_json(SUMMARY_COLUMN, summary, "{}"),
            reported_at: at.naive_utc(),
            p95_ms: figures.get(Metric::P95),
            report_url: report_link(&row.url, &report.url),
            regression_metric: worst.as_ref().map(|w| w.metric),
            regression_value: worst.as_ref().map(|w| w.value),
            regression_baseline: worst.and_then(|w| w.baseline),
        },
    )
}

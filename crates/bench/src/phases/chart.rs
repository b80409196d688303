//! The report chart (issue 25 goal: a 2,000-point chart in under 50 ms and 20 MB): the
//! product binary's hidden `bench-chart` command renders it `--chart-runs` times in a child
//! process of its own and prints the time of each render and its peak RSS (`VmHWM`) before
//! the first and after the last; this phase summarises them. A child process of its own,
//! so the memory figure is the chart's and not a server's.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::report::{row, Row};
use crate::stats::Latencies;

pub fn run(exe: &Path, points: usize, runs: usize) -> anyhow::Result<Vec<Row>> {
    let out = std::process::Command::new(exe)
        .args(["bench-chart", "--points", &points.to_string()])
        .args(["--runs", &runs.to_string()])
        .output()
        .with_context(|| format!("running {} bench-chart", exe.display()))?;
    if !out.status.success() {
        bail!(
            "bench-chart failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading bench-chart's JSON")?;
    let renders = Latencies {
        samples: report["render_us"]
            .as_array()
            .context("no render_us in bench-chart's answer")?
            .iter()
            .filter_map(serde_json::Value::as_u64)
            .map(Duration::from_micros)
            .collect(),
        errors: 0,
    };
    let kb = |key: &str| report[key].as_u64().map(|kb| kb as f64 / 1024.0);
    let mut rows = vec![row(
        format!(
            "chart: {points} points, {} renders to PNG: p50 / p99 / max",
            renders.samples.len()
        ),
        renders.summary(),
        "≤ 50 ms",
    )];
    if let (Some(before), Some(peak)) = (kb("rss_before_kb"), kb("peak_rss_kb")) {
        rows.push(row(
            "chart: peak RSS of the rendering process (before the first render)",
            format!(
                "{peak:.1} MB (+{:.1} MB over {before:.1} MB)",
                peak - before
            ),
            "+ ≤ 20 MB",
        ));
    }
    if let Some(bytes) = report["png_bytes"].as_u64() {
        rows.push(row(
            "chart: PNG size",
            format!("{:.0} KB", bytes as f64 / 1024.0),
            "",
        ));
    }
    Ok(rows)
}

//! The weekly summary on a year of history (issue 27 item 5), part of the history phase.
//!
//! The seed's realistic week: every load test names one of 12 definitions, its final report
//! carries figures and a comparison with the definition's previous run in its project (1 in
//! 47 a P95 regression); `--history-scenarios` monitoring scenarios report every 5 minutes
//! over the 29 days, each failing every 2 days for 5 to 55 minutes (`scenario_failing`,
//! results while failing, `scenario_recovered`), two incidents in three acknowledged a few
//! minutes in. Payloads as the product stores them (read back from its `events.payload`).
//!
//! Measured: the organization's and a project's preview, one request after the other, on
//! the empty and on the seeded database (goal: under a second); then on the seeded
//! database end to end and ingest once more while a task requests the organization's
//! preview back to back, next to the same run alone just before (goal: within 10 %).

use std::cell::Cell;
use std::time::Instant;

use serde_json::{json, Value};

use crate::args::BenchArgs;
use crate::env::Env;
use crate::phases::{e2e, ingest};
use crate::report::{row, Row};
use crate::stats::{versus, Latencies};

/// Seconds between two results of a scenario, and results between two incidents.
pub const RESULT_SECS: u64 = 300;
const INCIDENT_EVERY: u64 = 576;
/// Definitions the load tests cycle through; a run's baseline is the previous run of its
/// definition in its project (`lcm(projects, 12)` runs before; 300 with 100 projects).
const DEFINITIONS: u64 = 12;

const ORG_PREVIEW: &str = "/api/v1/orgs/bench/slack/summary/preview";
const PROJECT_PREVIEW: &str = "/api/v1/orgs/bench/projects/p0/slack/summary/preview";

/// A load-test event's payload as the product stores it, as a SQL expression over the
/// columns `j` (load-test number), `ty`/`st` (event type, resulting state); `occurred`:
/// the event's RFC 3339 time, `previous`: the number of the definition's previous run.
pub fn load_test_payload(occurred: &str, previous: u64) -> String {
    // P95 varies a little by run; a regression adds 400 ms (over 45 % on 750–770 ms).
    let p95 = "(750 + (j % 5) * 5 + CASE WHEN j % 47 = 7 THEN 400 ELSE 0 END)";
    let figures = |p95: &str| {
        format!(
            r#""p95_ms":' || {p95} || '.0,"p99_ms":1450.0,"p50_ms":210.0,"mean_ms":260.0,"error_rate":0.0016,"errors":12.0,"throughput":1234.5,"requests":740700.0,"users":2000.0,"duration_s":600.0"#
        )
    };
    let change = |metric: &str, value: &str, judgement: &str| {
        format!(
            r#"{{"metric":"{metric}","value":{value},"baseline":{value},"judgement":"{judgement}"}}"#
        )
    };
    let changes = [
        ("p99_ms", "1450.0"),
        ("p50_ms", "210.0"),
        ("mean_ms", "260.0"),
        ("error_rate", "0.0016"),
        ("errors", "12.0"),
        ("throughput", "1234.5"),
        ("requests", "740700.0"),
        ("users", "2000.0"),
        ("duration_s", "600.0"),
    ]
    .map(|(m, v)| change(m, v, "unchanged"))
    .join(",");
    // The baseline's `reported_at` is the run's own time (nothing reads it back).
    let comparison = format!(
        r#"',"comparison":{{"baseline":{{"load_test_id":"h-' || (j - {previous}) || '","name":"History load test h-' || (j - {previous}) || '","reported_at":"' || {occurred} || '","pinned":false,"figures":{{{base}}}}},"threshold_pct":10,"final_report":true,"changes":[{{"metric":"p95_ms","value":' || {p95} || '.0,"baseline":' || (750 + (j % 5) * 5) || '.0,"judgement":"' || CASE WHEN j % 47 = 7 THEN 'regression' ELSE 'unchanged' END || '"}},{changes}]}}'"#,
        base = figures("(750 + (j % 5) * 5)"),
    );
    let report = format!(
        r#"'{{"url":"https://xtc.example/reports/h-' || j || '","kind":"final","summary":{{"throughput":1234.5,"errors":12.0,"p95_ms":' || {p95} || '.0,"requests":740700.0,"error_rate":0.0016,"p50_ms":210.0,"p99_ms":1450.0,"mean_ms":260.0,"duration_s":600.0,"users":2000.0}}}}'"#
    );
    format!(
        r#"'{{"kind":"load_test","load_test_id":"h-' || j || '","name":"History load test h-' || j || '","url":"https://xtc.example/lt/h-' || j || '","started_by":"bench","event_type":"' || ty || '","state":"' || st || '","occurred_at":"' || {occurred} || '","error":null,"report":' || CASE WHEN ty = 'report_available' THEN {report} ELSE 'null' END || ',"aborted_by":null,"definition":"History definition ' || (j % {DEFINITIONS}) || '"' || CASE WHEN ty = 'report_available' AND j >= {previous} THEN {comparison} ELSE '' END || '}}'"#
    )
}

/// A seeded load test's definition, as an SQL expression over its number `j`.
pub fn definition(j: &str) -> String {
    format!("'History definition ' || ({j} % {DEFINITIONS})")
}

/// What the product tallies of each seeded run's final report (`run_reports`, as its
/// ingest writes them), as SQL both backends run: from the seeded `load_tests` rows, the
/// same P95, link and regression (against the definition's previous run, `previous`
/// before) as [`load_test_payload`] puts into the events.
pub fn run_reports_sql(previous: u64) -> String {
    let p95 =
        "CAST(750 + (j % 5) * 5 + CASE WHEN j % 47 = 7 THEN 400 ELSE 0 END AS DOUBLE PRECISION)";
    let base = "CAST(750 + (j % 5) * 5 AS DOUBLE PRECISION)";
    let regressed = format!("j % 47 = 7 AND j >= {previous}");
    format!(
        r#"
INSERT INTO run_reports (load_test_id, org_id, project_id, definition, name, summary, reported_at, p95_ms, report_url, regression_metric, regression_value, regression_baseline)
SELECT id, org_id, project_id, definition, name,
       '{{"throughput":1234.5,"errors":12.0,"p95_ms":' || {p95} || ',"requests":740700.0,"error_rate":0.0016,"p50_ms":210.0,"p99_ms":1450.0,"mean_ms":260.0,"duration_s":600.0,"users":2000.0}}',
       last_event_at, {p95}, 'https://xtc.example/reports/' || id,
       CASE WHEN {regressed} THEN 'p95_ms' END,
       CASE WHEN {regressed} THEN {p95} END,
       CASE WHEN {regressed} THEN {base} END
FROM (SELECT id, org_id, project_id, definition, name, last_event_at, CAST(substr(id, 3) AS BIGINT) AS j
      FROM load_tests WHERE org_id = 'bench' AND id LIKE 'h-%') x;
"#
    )
}

/// The definition's previous run in the same project: `lcm(projects, DEFINITIONS)` before.
pub fn previous_run(projects: usize) -> u64 {
    let p = projects.max(1) as u64;
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    p / gcd(p, DEFINITIONS) * DEFINITIONS
}

/// The scenarios, their results and acknowledgements, as SQL both backends run (a
/// recursive CTE; `ts(secs)`: a timestamp from Unix seconds, `iso`: the RFC 3339 form of
/// the column `ts`, `hash`: a 64-hex-digit text from the integer column `n`). Uses the
/// `$SCENARIOS`, `$RESULTS`, `$START` and `$PROJECTS` placeholders.
pub fn monitoring_sql(ts: impl Fn(&str) -> String, iso: &str, hash: &str) -> String {
    // Rows in time order, as the product writes them. `ph`: where result `r` of scenario
    // `k` falls in its 2-day cycle; failing at 1..=len.
    let cte = format!(
        "WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n + 1 < $SCENARIOS * $RESULTS),
x AS (SELECT n, k, r, len, (r + k * 37) % {INCIDENT_EVERY} AS ph, (r + k * 37) / {INCIDENT_EVERY} + 1 AS inc,
        $START + r * {RESULT_SECS} AS t
      FROM (SELECT n, n % $SCENARIOS AS k, n / $SCENARIOS AS r, 1 + ((n % $SCENARIOS) % 6) * 2 AS len FROM s) a)"
    );
    let common = r#"'{"kind":"scenario","scenario_id":"hs-' || k || '","name":"History scenario hs-' || k || '","url":"https://xtc.example/mon/hs-' || k || '","change":'"#;
    let result = format!(
        r#"CASE ty WHEN 'scenario_unchanged' THEN 'null' ELSE {common} || CASE ty WHEN 'scenario_failing' THEN '{{"type":"failing","severity":"failure"}}' ELSE '{{"type":"recovered","down_seconds":' || (len * {RESULT_SECS}) || '}}' END || ',"health":"' || st || '","occurred_at":"' || {iso} || '","incident":' || inc || ',"execution":{{"id":"x-' || r || '","url":"https://xtc.example/ex/hs-' || k || '-' || r || '","location":"eu-west"}},"failed_sensors":' || CASE st WHEN 'ok' THEN '[]' ELSE '[{{"name":"Page load < 3s","message":"3.8s"}}]' END || '}}' END"#
    );
    let ack = format!(
        r#"'{{"kind":"incident_action","scenario_id":"hs-' || k || '","name":"History scenario hs-' || k || '","incident":' || inc || ',"action":"acknowledge","by":{{"id":"U0BENCH","name":"bench"}},"at":"' || {iso} || '","until":null}}'"#
    );
    // The scenario's state after its last result.
    let last = format!("(($RESULTS - 1 + k * 37) % {INCIDENT_EVERY})");
    let failing = format!("{last} BETWEEN 1 AND 1 + (k % 6) * 2");
    format!(
        r#"
WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k + 1 < $SCENARIOS)
INSERT INTO scenarios (id, org_id, project_id, name, url, state, failing_since, incident, version, created_at, updated_at, recent_changes, flapping_since, flap_changes, ok_since, last_result_at, first_result_at)
SELECT 'hs-' || k, 'bench', 'p' || (k % $PROJECTS), 'History scenario hs-' || k, 'https://xtc.example/mon/hs-' || k,
       CASE WHEN {failing} THEN 'failure' ELSE 'ok' END,
       CASE WHEN {failing} THEN {failing_since} END,
       ($RESULTS - 1 + k * 37) / {INCIDENT_EVERY} + 1, $RESULTS, {start}, {end}, '[]', NULL, 0,
       CASE WHEN {failing} THEN NULL ELSE {start} END, {end}, {start}
FROM s;
{cte}
INSERT INTO events (event_id, subject_kind, subject_id, org_id, project_id, event_type, occurred_at, payload, resulting_state, received_at, body_sha256)
SELECT 'scenario:hs-' || k || ':r-' || r, 'scenario', 'hs-' || k, 'bench', 'p' || (k % $PROJECTS), ty, ts, {result}, st, ts, {hash}
FROM (SELECT n, k, r, len, inc, {t} AS ts,
        CASE WHEN ph = 1 THEN 'scenario_failing' WHEN ph = len + 1 THEN 'scenario_recovered' ELSE 'scenario_unchanged' END AS ty,
        CASE WHEN ph BETWEEN 1 AND len THEN 'failure' ELSE 'ok' END AS st
      FROM x) e;
{cte}
INSERT INTO events (event_id, subject_kind, subject_id, org_id, project_id, event_type, occurred_at, payload, resulting_state, received_at, body_sha256)
SELECT 'scenario:hs-' || k || ':incident_acknowledged-' || inc, 'scenario', 'hs-' || k, 'bench', 'p' || (k % $PROJECTS),
       'incident_acknowledged', ts, {ack}, 'failure', ts, NULL
FROM (SELECT k, inc, {ack_t} AS ts FROM x WHERE ph = 1 AND inc % 3 <> 0) e;
"#,
        start = ts("$START"),
        end = ts(&format!("$START + ($RESULTS - 1) * {RESULT_SECS}")),
        failing_since = ts(&format!("$START + ($RESULTS - {last}) * {RESULT_SECS}")),
        t = ts("t"),
        ack_t = ts("t + 60 * (1 + k % 4)"),
    )
}

/// Preview latencies of one scope, and the last answer.
pub struct Previews {
    pub latency: Latencies,
    pub answer: Value,
}

/// Between two previews of [`previews`]: as a person asks them, not back to back (the
/// server's low-priority reads rest nine times as long as their last read before the
/// next, so back to back would measure that rest; `alongside` asks them back to back).
const PREVIEW_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// `n` previews of `path`, one after the other, [`PREVIEW_PAUSE`] apart.
pub async fn previews(env: &Env, path: &str, n: usize) -> anyhow::Result<Previews> {
    let mut answer = Value::Null;
    let mut latency = Latencies::default();
    for _ in 0..n {
        actix_web::rt::time::sleep(PREVIEW_PAUSE).await;
        latency.extend(timed(env, ("POST", path), 1, |body| answer = body).await?);
    }
    Ok(Previews { latency, answer })
}

/// `n` requests (`method`, `path`; a POST with `{}`), one after the other: their
/// latencies (errors: not 200), each 200's body handed to `each`.
pub async fn timed(
    env: &Env,
    (method, path): (&str, &str),
    n: usize,
    mut each: impl FnMut(Value),
) -> anyhow::Result<Latencies> {
    let mut latency = Latencies::default();
    for _ in 0..n {
        let body = (method == "POST").then(|| json!({}));
        let start = Instant::now();
        let (status, answer) = env.call(method, path, &env.admin, body).await?;
        let took = start.elapsed();
        if status == 200 {
            latency.samples.push(took);
            each(answer);
        } else {
            if latency.errors == 0 {
                eprintln!("history: {method} {path}: HTTP {status} {answer}");
            }
            latency.errors += 1;
        }
    }
    Ok(latency)
}

/// Both scopes' previews on one database.
pub struct Measured {
    pub org: Previews,
    pub project: Previews,
}

pub async fn measure(env: &Env, args: &BenchArgs) -> anyhow::Result<Measured> {
    Ok(Measured {
        org: previews(env, ORG_PREVIEW, args.summary_requests).await?,
        project: previews(env, PROJECT_PREVIEW, args.summary_requests).await?,
    })
}

/// End to end and ingest again, while organization previews run back to back.
pub struct Alongside {
    pub e2e: e2e::E2eResult,
    pub ingest: ingest::IngestResult,
    pub previews: Latencies,
}

/// The phase's end to end and ingest (new load tests: `e2`, `lt2`), in the same order as
/// alone, while one task requests the organization's preview back to back until both end.
pub async fn alongside(env: &Env, args: &BenchArgs) -> anyhow::Result<Alongside> {
    let done = Cell::new(false);
    let work = async {
        let e2e = e2e::run_named(env, "e2", args.e2e_rate, args.e2e_secs).await;
        let ingest = ingest::run(env, args.concurrency, args.history_load_tests, "lt2").await;
        done.set(true);
        (e2e, ingest)
    };
    let load = async {
        let mut all = Latencies::default();
        while !done.get() {
            all.extend(timed(env, ("POST", ORG_PREVIEW), 1, |_| {}).await?);
        }
        anyhow::Ok(all)
    };
    let ((e2e, ingest), previews) = futures_util::future::join(work, load).await;
    Ok(Alongside {
        e2e: e2e?,
        ingest,
        previews: previews?,
    })
}

/// The preview's lines as text ("Load tests: 60,232 runs · …"), one per section.
pub fn lines(answer: &Value) -> Vec<String> {
    let sections = answer["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["blocks"].as_array().into_iter().flatten())
        .flat_map(|b| b["elements"].as_array().into_iter().flatten());
    sections
        .map(|s| {
            s["elements"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["text"].as_str())
                .collect::<String>()
        })
        .collect()
}

/// What a preview found: runs, regressions, the trends line's length, scenarios shown
/// (and how many more), incidents of the scenarios shown.
fn found(answer: &Value) -> String {
    let lines = lines(answer);
    let after = |label: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(label))
            .map_or("none", |s| s.trim())
            .to_owned()
    };
    let runs = after("Load tests:");
    let regressions = after("Regressions:");
    let regressions = regressions.split(" · ").next().unwrap_or_default();
    let monitoring: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("Monitoring:"))
        .collect();
    let incidents: u64 = monitoring
        .iter()
        .flat_map(|l| l.split(" · "))
        .filter_map(|f| f.strip_suffix(" incidents").or(f.strip_suffix(" incident")))
        .filter_map(|n| n.trim().replace(',', "").parse::<u64>().ok())
        .sum();
    let more = monitoring
        .last()
        .and_then(|l| l.split(" · and ").nth(1))
        .map_or(String::new(), |m| format!(" (and {m})"));
    format!(
        "{runs}; regressions: {regressions}; scenarios shown: {}{more}, with {incidents} incidents",
        monitoring.len()
    )
}

fn latency(l: &Latencies) -> String {
    format!("{}, {} errors", l.summary(), l.errors)
}

/// The rows of the summary's part of the history phase. `alone`: end to end and ingest
/// before the previews back to back, and ingest once more after them (on a noisy machine
/// the run before and the run after tell its spread; the ratio is to their mean).
pub fn rows(
    args: &BenchArgs,
    (empty, full): (&Measured, &Measured),
    alone: (
        &e2e::E2eResult,
        &ingest::IngestResult,
        &ingest::IngestResult,
    ),
    with: &Alongside,
) -> Vec<Row> {
    let n = args.summary_requests;
    let mut rows = Vec::new();
    for (scope, e, f) in [
        ("organization", &empty.org, &full.org),
        ("project p0", &empty.project, &full.project),
    ] {
        for (db, p) in [("empty", e), ("seeded", f)] {
            rows.push(row(
                format!("summary preview, {scope}, {n} requests, {db}: p50 / p99 / max"),
                latency(&p.latency),
                "< 1 s",
            ));
        }
        rows.push(row(
            format!("summary preview, {scope}, seeded: found"),
            found(&f.answer),
            "a busy week",
        ));
    }
    let (e2e, ing, again) = alone;
    let pair = |name: &str, a: &Latencies, b: &Latencies| {
        [(0.5, "p50"), (0.99, "p99")].map(|(q, label)| {
            row(
                format!("seeded {name} {label}: alone → with previews"),
                versus(a.percentile(q), b.percentile(q)),
                "within 10 %",
            )
        })
    };
    rows.extend(pair("end to end", &e2e.latency, &with.e2e.latency));
    rows.push(row(
        "seeded end to end delivered / errors: alone | with previews",
        format!(
            "{} of {} | {} of {}",
            e2e.delivered, e2e.expected, with.e2e.delivered, with.e2e.expected
        ),
        "all",
    ));
    let (a, b, c) = (ing.rate(), with.ingest.rate(), again.rate());
    rows.push(row(
        "seeded ingest events/s: alone → with previews → alone again (with / mean of alone)",
        format!(
            "{a:.0} → {b:.0} → {c:.0} (×{:.2})",
            b / ((a + c) / 2.0).max(1e-9)
        ),
        "within 10 %",
    ));
    rows.extend(pair("ingest latency", &ing.latency, &with.ingest.latency));
    rows.push(row(
        "seeded ingest errors: alone | with previews",
        format!("{} | {}", ing.latency.errors, with.ingest.latency.errors),
        "0",
    ));
    rows.push(row(
        "organization previews during e2e + ingest",
        format!(
            "{} done: {}",
            with.previews.samples.len(),
            latency(&with.previews)
        ),
        "< 1 s",
    ));
    rows
}

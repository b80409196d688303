//! A year of history (issue 18 part 2): `--history` settled deliveries seeded straight into
//! a fresh database (after the server migrated and set it up through the API, then
//! stopped), `ANALYZE`d like a long-lived database, the server started again; then end to
//! end, ingest, the delivery-log pages and the weekly-summary previews run on it, and the
//! same on an empty database, side by side. Goal: within 10 % of the empty database (the
//! summary: under a second, and not slowing the rest: `phases::summary`).
//!
//! The seed: 5 deliveries per event (the project's channel and four others: rules, and
//! channels changed over time), 4 events per load test (started, running, finished,
//! report_available), load tests round-robin over the projects, `created_at` spread evenly
//! over the last 29 days (inside the 30-day retention; the server also runs with retention
//! off), ids rising with time as the product writes them; 94 % `sent`, 5 % `skipped`, 1 %
//! `failed`. One statement per table (a recursive CTE on SQLite through the `sqlite3`
//! command, `generate_series` on PostgreSQL). Load tests name definitions and carry final
//! reports with figures; monitoring scenarios and their results join them
//! (`phases::summary`, the same SQL on both backends), without deliveries.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};

use crate::args::{BenchArgs, BenchBackend};
use crate::env::{BenchDb, Env, EnvSpec};
use crate::fake;
use crate::phases::{e2e, ingest, summary};
use crate::report::{row, Row};
use crate::stats::{ms, versus, Latencies};

/// Deliveries per event and events per load test.
const FANOUT: u64 = 5;
const EVENTS_PER_LT: u64 = 4;

pub fn spec(args: &BenchArgs) -> EnvSpec {
    let mut spec = EnvSpec::new("history", args.projects, args.projects);
    // Nothing of the seeded history may be pruned while it is measured.
    spec.server_env = vec![("XTC_SLACK_RETENTION_INTERVAL_SECS", "0".to_owned())];
    spec
}

/// What one database gave.
struct Measured {
    e2e: e2e::E2eResult,
    ingest: ingest::IngestResult,
    drain: Option<Duration>,
    project_log: LogPage,
    org_log: LogPage,
}

/// The seeding's numbers.
struct Seeded {
    deliveries: u64,
    events: u64,
    load_tests: u64,
    results: u64,
    took: Duration,
    bytes: Option<u64>,
    startup: Duration,
}

pub async fn run(exe: &Path, args: &BenchArgs) -> anyhow::Result<Vec<Row>> {
    // The empty database first, then the seeded one, in the same order of steps.
    let env = Env::start(exe, args, spec(args)).await?;
    let empty = measure(&env, args).await?;
    let empty_summary = summary::measure(&env, args).await?;
    env.finish();

    let mut env = Env::start(exe, args, spec(args)).await?;
    env.server.terminate()?;
    let mut seeded = seed(&env, args).await?;
    env.restart(exe)?;
    seeded.startup = env.server.wait_ready(&env.http).await?;
    let full = measure(&env, args).await?;
    let full_summary = summary::measure(&env, args).await?;
    for line in summary::lines(&full_summary.org.answer) {
        println!("history: seeded organization's preview: {line}");
    }
    // Alone first (just above), then with previews back to back: the same steps in the
    // same order, on the same server.
    let with = summary::alongside(&env, args).await?;
    let again = ingest::run(&env, args.concurrency, args.history_load_tests, "lt3").await;
    env.finish();
    let mut rows = rows(args, &seeded, &empty, &full);
    rows.extend(summary::rows(
        args,
        (&empty_summary, &full_summary),
        (&full.e2e, &full.ingest, &again),
        &with,
    ));
    Ok(rows)
}

async fn measure(env: &Env, args: &BenchArgs) -> anyhow::Result<Measured> {
    // End to end first (the channels are idle), then ingest, whose backlog (two deliveries
    // per load test) is worked off before the delivery logs are read.
    let e2e = e2e::run(env, args.e2e_rate, args.e2e_secs).await?;
    let ingest = ingest::run(env, args.concurrency, args.history_load_tests, "lt").await;
    let drain = fake::wait_drained(env, Duration::from_secs(3)).await?;
    let project_log = log_page(
        env,
        "/api/v1/orgs/bench/projects/p0/slack/deliveries?limit=50",
        args.log_requests,
    )
    .await?;
    let org_log = log_page(
        env,
        "/api/v1/orgs/bench/slack/deliveries?limit=50",
        args.log_requests,
    )
    .await?;
    Ok(Measured {
        e2e,
        ingest,
        drain,
        project_log,
        org_log,
    })
}

/// `n` requests of one delivery-log page, one after the other: their latencies (errors:
/// not 200) and the fewest deliveries one listed.
async fn log_page(env: &Env, path: &str, n: usize) -> anyhow::Result<LogPage> {
    let mut listed = usize::MAX;
    let latency = summary::timed(env, ("GET", path), n, |body| {
        listed = listed.min(body["deliveries"].as_array().map_or(0, Vec::len));
    })
    .await?;
    Ok(LogPage { latency, listed })
}

struct LogPage {
    latency: Latencies,
    listed: usize,
}

/// Stops nothing: the server must be stopped already. Seeds the database and `ANALYZE`s it.
async fn seed(env: &Env, args: &BenchArgs) -> anyhow::Result<Seeded> {
    let per_lt = FANOUT * EVENTS_PER_LT;
    let deliveries = args.history.div_ceil(per_lt) * per_lt;
    let events = deliveries / FANOUT;
    let load_tests = events / EVENTS_PER_LT;
    let projects = env.projects.max(1);
    // The fake's channel IDs of #bench-0 … (one per project, as set up).
    let channels = env.fake_json("/channels").await?;
    let ids: HashMap<String, String> = channels["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["name"].as_str()?.to_owned(), c["id"].as_str()?.to_owned())))
        .collect();
    let chans: Vec<(usize, String)> = (0..projects)
        .map(|p| {
            ids.get(&format!("bench-{p}"))
                .map(|id| (p, id.clone()))
                .ok_or_else(|| anyhow!("the fake has no #bench-{p}"))
        })
        .collect::<anyhow::Result<_>>()?;
    // The fake runs with its default workspace.
    let team = fake_slack::FakeSlackConfig::default().team_id;
    let now = chrono::Utc::now().timestamp() as f64;
    let span = 29.0 * 86_400.0 - 3_600.0;
    let params = Params {
        deliveries,
        events,
        load_tests,
        scenarios: args.history_scenarios,
        results: span as u64 / summary::RESULT_SECS,
        projects,
        start: now - 29.0 * 86_400.0,
        step: span / events as f64,
        team,
        chans,
    };
    let results = params.scenarios * params.results;
    println!(
        "history: seeding {deliveries} deliveries, {events} events, {load_tests} load tests, \
         {results} monitoring results …"
    );
    let start = Instant::now();
    let bytes = match &env.db {
        BenchDb::Sqlite { .. } => {
            let file = env
                .db
                .sqlite_file()
                .ok_or_else(|| anyhow!("no SQLite file"))?;
            run_sqlite(&file, &sqlite_sql(&params))?;
            // Seeded without syncs: write it all out now, or the server's first fsyncs
            // would wait for gigabytes of writeback (a long-lived database has none).
            std::fs::File::open(&file)?.sync_all()?;
            let wal = file.with_extension("db-wal");
            Some(
                std::fs::metadata(&file)?.len()
                    + std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0),
            )
        }
        BenchDb::Postgres { url, .. } => Some(run_postgres(url, &params)?),
    };
    // Whatever else is dirty (PostgreSQL's files) goes to disk too.
    let _ = Command::new("sync").status();
    let took = start.elapsed();
    println!("history: seeded in {:.1} s", took.as_secs_f64());
    Ok(Seeded {
        deliveries,
        events,
        load_tests,
        results,
        took,
        bytes,
        startup: Duration::ZERO,
    })
}

struct Params {
    deliveries: u64,
    events: u64,
    load_tests: u64,
    /// Monitoring scenarios, and results of each.
    scenarios: u64,
    results: u64,
    projects: usize,
    /// Unix time of the first event, and seconds between two events.
    start: f64,
    step: f64,
    team: String,
    /// (project index, the ID of its channel `#bench-{index}`).
    chans: Vec<(usize, String)>,
}

impl Params {
    /// Fills the `$NAME` placeholders of a SQL template.
    fn fill(&self, sql: &str) -> String {
        sql.replace("$DELIVERIES", &self.deliveries.to_string())
            .replace("$EVENTS", &self.events.to_string())
            .replace("$LOAD_TESTS", &self.load_tests.to_string())
            .replace("$SCENARIOS", &self.scenarios.to_string())
            .replace("$RESULTS", &self.results.to_string())
            .replace("$PROJECTS", &self.projects.to_string())
            .replace("$START", &format!("{:.3}", self.start))
            .replace("$STEP", &format!("{:.9}", self.step))
            .replace("$TEAM", &self.team)
    }

    fn chans_values(&self) -> String {
        self.chans
            .iter()
            .map(|(i, id)| format!("({i}, '{id}')"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn sqlite_sql(p: &Params) -> String {
    let ts = |secs: &str| format!("strftime('%Y-%m-%d %H:%M:%f', {secs}, 'unixepoch')");
    let iso = "replace(ts, ' ', 'T') || 'Z'";
    let payload = summary::load_test_payload(iso, summary::previous_run(p.projects));
    let monitoring = summary::monitoring_sql(ts, iso, "printf('%064x', n)");
    let sql = format!(
        r#"
PRAGMA journal_mode = DELETE;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -2000000;
PRAGMA temp_store = MEMORY;
BEGIN;
CREATE TEMP TABLE bench_chans (idx INTEGER PRIMARY KEY, id TEXT NOT NULL);
INSERT INTO bench_chans (idx, id) VALUES {chans};
WITH RECURSIVE s(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM s WHERE j + 1 < $LOAD_TESTS)
INSERT INTO load_tests (id, org_id, project_id, name, url, started_by, state, version, created_at, updated_at, definition, definition_name, first_event_at, last_event_at, ended_at)
SELECT 'h-' || j, 'bench', 'p' || (j % $PROJECTS), 'History load test h-' || j,
       'https://xtc.example/lt/h-' || j, 'bench', 'reported', 4,
       {lt_created}, {lt_updated}, {definition}, {definition}, {lt_created}, {lt_updated}, {lt_ended}
FROM s;
{run_reports}
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < $EVENTS),
e AS (SELECT i, i / 4 AS j,
        CASE i % 4 WHEN 0 THEN 'started' WHEN 1 THEN 'running' WHEN 2 THEN 'finished' ELSE 'report_available' END AS ty,
        CASE i % 4 WHEN 0 THEN 'started' WHEN 1 THEN 'running' WHEN 2 THEN 'finished' ELSE 'reported' END AS st,
        {ev_ts} AS ts
      FROM s)
INSERT INTO events (event_id, subject_kind, subject_id, org_id, project_id, event_type, occurred_at, payload, resulting_state, received_at, body_sha256)
SELECT 'load_test:h-' || j || ':h-' || j || '-' || ty, 'load_test', 'h-' || j, 'bench',
       'p' || (j % $PROJECTS), ty, ts, {payload}, st, ts,
       printf('%032x%032x', i, i * 2654435761)
FROM e;
WITH RECURSIVE s(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM s WHERE d + 1 < $DELIVERIES),
x AS (SELECT d, d / 20 AS j, d % 5 AS c,
        CASE (d / 5) % 4 WHEN 0 THEN 'started' WHEN 1 THEN 'running' WHEN 2 THEN 'finished' ELSE 'report_available' END AS ty,
        CASE WHEN (d * 7919) % 100 < 1 THEN 'failed' WHEN (d * 7919) % 100 < 6 THEN 'skipped' ELSE 'sent' END AS st,
        $START + (d / 5) * $STEP AS t
      FROM s)
INSERT INTO deliveries (event_id, org_id, project_id, subject_key, event_type, channel, channel_name, team_id, installation_id, threads, compact, status, attempts, error, next_attempt_at, claimed_until, claimed_by, slack_ts, created_at, sent_at, mention, rule)
SELECT 'load_test:h-' || j || ':h-' || j || '-' || ty, 'bench', 'p' || (j % $PROJECTS), 'lt:h-' || j, ty,
       (SELECT id FROM bench_chans WHERE idx = ((j % $PROJECTS) + c) % $PROJECTS),
       '#bench-' || (((j % $PROJECTS) + c) % $PROJECTS),
       '$TEAM',
       (SELECT id FROM slack_installations WHERE org_id = 'bench' ORDER BY project_id LIMIT 1),
       0, 0, st,
       CASE st WHEN 'sent' THEN 1 WHEN 'failed' THEN 3 ELSE 0 END,
       CASE st WHEN 'failed' THEN 'channel_not_found' WHEN 'skipped' THEN 'send_messages is off' END,
       {d_ts}, NULL,
       CASE st WHEN 'skipped' THEN NULL ELSE 'seed-history' END,
       CASE st WHEN 'sent' THEN printf('%d.%06d', CAST(t AS INTEGER), d % 1000000) END,
       {d_ts},
       CASE st WHEN 'sent' THEN {d_sent} END,
       NULL, NULL
FROM x;
{monitoring}
DROP TABLE bench_chans;
COMMIT;
ANALYZE;
PRAGMA journal_mode = WAL;
"#,
        chans = p.chans_values(),
        lt_created = ts("$START + 4 * j * $STEP"),
        lt_updated = ts("$START + (4 * j + 3) * $STEP"),
        lt_ended = ts("$START + (4 * j + 2) * $STEP"),
        definition = summary::definition("j"),
        run_reports = summary::run_reports_sql(summary::previous_run(p.projects)),
        ev_ts = ts("$START + i * $STEP"),
        d_ts = ts("t"),
        d_sent = ts("t + 0.05"),
    );
    p.fill(&sql)
}

fn run_sqlite(file: &Path, sql: &str) -> anyhow::Result<()> {
    let mut child = Command::new("sqlite3")
        .arg("-bail")
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running sqlite3 (is the sqlite3 command installed?)")?;
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow!("no stdin"))?
        .write_all(sql.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() || !out.stderr.is_empty() {
        bail!(
            "sqlite3 seeding failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Seeds through a connection of the bench's own; returns the database size.
fn run_postgres(url: &str, p: &Params) -> anyhow::Result<u64> {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, RunQueryDsl};
    let ts = |secs: &str| format!("(timestamp 'epoch' + ({secs}) * interval '1 second')");
    let iso = r#"to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#;
    let payload = summary::load_test_payload(iso, summary::previous_run(p.projects));
    let monitoring = summary::monitoring_sql(ts, iso, "md5(n::text) || md5((n + 7)::text)");
    let sql = format!(
        r#"
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
BEGIN;
CREATE TEMP TABLE bench_chans (idx INT PRIMARY KEY, id TEXT NOT NULL);
INSERT INTO bench_chans (idx, id) VALUES {chans};
INSERT INTO load_tests (id, org_id, project_id, name, url, started_by, state, version, created_at, updated_at, definition, definition_name, first_event_at, last_event_at, ended_at)
SELECT 'h-' || j, 'bench', 'p' || (j % $PROJECTS), 'History load test h-' || j,
       'https://xtc.example/lt/h-' || j, 'bench', 'reported', 4,
       {lt_created}, {lt_updated}, {definition}, {definition}, {lt_created}, {lt_updated}, {lt_ended}
FROM generate_series(0::bigint, $LOAD_TESTS - 1) AS j;
{run_reports}
INSERT INTO events (event_id, subject_kind, subject_id, org_id, project_id, event_type, occurred_at, payload, resulting_state, received_at, body_sha256)
SELECT 'load_test:h-' || j || ':h-' || j || '-' || ty, 'load_test', 'h-' || j, 'bench',
       'p' || (j % $PROJECTS), ty, ts, {payload}, st, ts, md5(i::text) || md5((i + 1)::text)
FROM (SELECT i, i / 4 AS j,
        (ARRAY['started','running','finished','report_available'])[(i % 4)::int + 1] AS ty,
        (ARRAY['started','running','finished','reported'])[(i % 4)::int + 1] AS st,
        {ev_ts} AS ts
      FROM generate_series(0::bigint, $EVENTS - 1) AS i) e;
INSERT INTO deliveries (event_id, org_id, project_id, subject_key, event_type, channel, channel_name, team_id, installation_id, threads, compact, status, attempts, error, next_attempt_at, claimed_until, claimed_by, slack_ts, created_at, sent_at, mention, rule)
SELECT 'load_test:h-' || j || ':h-' || j || '-' || ty, 'bench', 'p' || (j % $PROJECTS), 'lt:h-' || j, ty,
       ch.id, '#bench-' || ch.idx, '$TEAM',
       (SELECT id FROM slack_installations WHERE org_id = 'bench' ORDER BY project_id LIMIT 1),
       false, false, st,
       CASE st WHEN 'sent' THEN 1 WHEN 'failed' THEN 3 ELSE 0 END,
       CASE st WHEN 'failed' THEN 'channel_not_found' WHEN 'skipped' THEN 'send_messages is off' END,
       {d_ts}, NULL,
       CASE st WHEN 'skipped' THEN NULL ELSE 'seed-history' END,
       CASE st WHEN 'sent' THEN floor(t)::bigint || '.' || lpad((d % 1000000)::text, 6, '0') END,
       {d_ts},
       CASE st WHEN 'sent' THEN {d_sent} END,
       NULL, NULL
FROM (SELECT d, d / 20 AS j, d % 5 AS c,
        (ARRAY['started','running','finished','report_available'])[((d / 5) % 4)::int + 1] AS ty,
        CASE WHEN (d * 7919) % 100 < 1 THEN 'failed' WHEN (d * 7919) % 100 < 6 THEN 'skipped' ELSE 'sent' END AS st,
        $START + (d / 5) * $STEP AS t
      FROM generate_series(0::bigint, $DELIVERIES - 1) AS d) x
JOIN bench_chans ch ON ch.idx = ((x.j % $PROJECTS) + x.c) % $PROJECTS
ORDER BY x.d;
{monitoring}
DROP TABLE bench_chans;
COMMIT;
"#,
        chans = p.chans_values(),
        lt_created = ts("$START + 4 * j * $STEP"),
        lt_updated = ts("$START + (4 * j + 3) * $STEP"),
        lt_ended = ts("$START + (4 * j + 2) * $STEP"),
        definition = summary::definition("j"),
        run_reports = summary::run_reports_sql(summary::previous_run(p.projects)),
        ev_ts = ts("$START + i * $STEP"),
        d_ts = ts("t"),
        d_sent = ts("t + 0.05"),
    );
    let mut conn = diesel::PgConnection::establish(url)
        .map_err(|e| anyhow!("connecting to PostgreSQL: {e}"))?;
    conn.batch_execute(&p.fill(&sql))
        .context("seeding PostgreSQL")?;
    // Outside a transaction (one multi-statement query would be one): what autovacuum
    // would have done to a long-lived database, and fresh statistics.
    conn.batch_execute("VACUUM (ANALYZE) load_tests, run_reports, scenarios, events, deliveries")
        .context("VACUUM")?;
    conn.batch_execute("ANALYZE").context("ANALYZE")?;
    let size: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "pg_database_size(current_database())",
    ))
    .get_result(&mut conn)?;
    Ok(u64::try_from(size).unwrap_or(0))
}

fn rows(args: &BenchArgs, s: &Seeded, empty: &Measured, full: &Measured) -> Vec<Row> {
    let size = s.bytes.map_or("size unknown".to_owned(), |b| {
        format!("{:.2} GB", b as f64 / 1e9)
    });
    let backend = match args.backend {
        BenchBackend::Sqlite => "SQLite",
        BenchBackend::Postgres => "PostgreSQL",
    };
    let pair = |name: &str, a: &Latencies, b: &Latencies| {
        vec![
            row(
                format!("history {name} p50: empty → seeded"),
                versus(a.percentile(0.5), b.percentile(0.5)),
                "within 10 %",
            ),
            row(
                format!("history {name} p99: empty → seeded"),
                versus(a.percentile(0.99), b.percentile(0.99)),
                "within 10 %",
            ),
        ]
    };
    let mut rows = vec![
        row(
            format!("history: seeded ({backend})"),
            format!(
                "{} deliveries, {} events, {} load tests, {} monitoring results in {:.1} s \
                 (with ANALYZE, sync); {size}",
                s.deliveries,
                s.events,
                s.load_tests,
                s.results,
                s.took.as_secs_f64()
            ),
            "",
        ),
        row(
            "history: start-up on the seeded database to /readyz",
            ms(s.startup),
            "≤ 300 ms",
        ),
    ];
    rows.extend(pair(
        &format!("end to end ({})", full.e2e.setup()),
        &empty.e2e.latency,
        &full.e2e.latency,
    ));
    rows.push(row(
        "history end to end delivered: empty / seeded",
        format!(
            "{} of {} / {} of {}",
            empty.e2e.delivered, empty.e2e.expected, full.e2e.delivered, full.e2e.expected
        ),
        "all",
    ));
    let (a, b) = (empty.ingest.rate(), full.ingest.rate());
    rows.push(row(
        format!(
            "history ingest, {} clients, {} load tests: events/s, empty → seeded",
            args.concurrency, args.history_load_tests
        ),
        format!("{a:.0} → {b:.0} (×{:.2})", b / a.max(1e-9)),
        "within 10 %",
    ));
    rows.extend(pair(
        "ingest latency",
        &empty.ingest.latency,
        &full.ingest.latency,
    ));
    rows.push(row(
        "history ingest errors: empty / seeded",
        format!(
            "{} / {}",
            empty.ingest.latency.errors, full.ingest.latency.errors
        ),
        "0",
    ));
    let drain = |d: Option<Duration>| {
        d.map_or("not within 180 s".to_owned(), |d| {
            format!("{:.1} s", d.as_secs_f64())
        })
    };
    rows.push(row(
        "history: ingest backlog sent after: empty / seeded",
        format!("{} / {}", drain(empty.drain), drain(full.drain)),
        "",
    ));
    let listed = |a: &LogPage, b: &LogPage| {
        let n = |p: &LogPage| {
            if p.listed == usize::MAX {
                "-".to_owned()
            } else {
                p.listed.to_string()
            }
        };
        format!("{} / {} rows", n(a), n(b))
    };
    rows.extend(pair(
        &format!(
            "project delivery log (limit 50: {}, {} requests)",
            listed(&empty.project_log, &full.project_log),
            args.log_requests
        ),
        &empty.project_log.latency,
        &full.project_log.latency,
    ));
    rows.extend(pair(
        &format!(
            "org delivery log (limit 50: {}, {} requests)",
            listed(&empty.org_log, &full.org_log),
            args.log_requests
        ),
        &empty.org_log.latency,
        &full.org_log.latency,
    ));
    let errors = empty.project_log.latency.errors
        + full.project_log.latency.errors
        + empty.org_log.latency.errors
        + full.org_log.latency.errors;
    rows.push(row("history delivery-log errors", errors.to_string(), "0"));
    rows
}

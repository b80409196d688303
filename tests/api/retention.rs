//! Retention: history past its age is deleted, in batches, and nothing still pending is.
//! Old rows are written straight into the test's database; a pass runs through the
//! library (`pipeline::retention::run_pass`) or, periodically, inside the service.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use xtc_slack::db::schema::{
    audit_log, deliveries, events, load_tests, oauth_states, run_reports, scenarios, slack_threads,
    test_messages, ui_sessions,
};
use xtc_slack::db::{DatabaseUrl, Db, DbConnection};
use xtc_slack::pipeline::retention::{run_pass, Policy};

use crate::helpers::*;
use crate::test_both_backends;

/// `days` days ago (negative: in the future) as an SQL literal both backends accept.
fn ago(days: i64) -> String {
    let t = chrono::Utc::now().naive_utc() - chrono::Duration::days(days);
    format!("'{}'", t.format("%Y-%m-%d %H:%M:%S"))
}

fn event(conn: &mut DbConnection, id: &str, subject: &str, days: i64) {
    let (kind, subject_id) = subject.split_once(':').unwrap();
    let kind = if kind == "lt" {
        "load_test"
    } else {
        "scenario"
    };
    let at = ago(days);
    conn.batch_execute(&format!(
        "INSERT INTO events (event_id, subject_kind, subject_id, org_id, project_id, \
         event_type, occurred_at, payload, resulting_state, received_at) VALUES \
         ('{id}', '{kind}', '{subject_id}', 'acme', 'webshop', 'started', {at}, '{{}}', \
         'running', {at})"
    ))
    .unwrap();
}

fn delivery(conn: &mut DbConnection, event: &str, subject_key: &str, status: &str, days: i64) {
    let at = ago(days);
    conn.batch_execute(&format!(
        "INSERT INTO deliveries (event_id, org_id, project_id, subject_key, event_type, \
         channel, threads, compact, status, attempts, next_attempt_at, created_at) VALUES \
         ('{event}', 'acme', 'webshop', '{subject_key}', 'started', '#perf', TRUE, FALSE, \
         '{status}', 0, {at}, {at})"
    ))
    .unwrap();
}

fn load_test(conn: &mut DbConnection, id: &str, state: &str, days: i64) {
    let at = ago(days);
    conn.batch_execute(&format!(
        "INSERT INTO load_tests (id, org_id, project_id, name, state, version, created_at, \
         updated_at) VALUES ('{id}', 'acme', 'webshop', '{id}', '{state}', 1, {at}, {at})"
    ))
    .unwrap();
}

/// A run's final figures, reported `days` ago; `pinned`: the baseline of its definition.
fn run_report(conn: &mut DbConnection, id: &str, days: i64, pinned: bool) {
    let at = ago(days);
    conn.batch_execute(&format!(
        "INSERT INTO run_reports (load_test_id, org_id, project_id, definition, name, summary, \
         reported_at) VALUES ('{id}', 'acme', 'webshop', 'def-{id}', '{id}', '{{\"p95_ms\": 1}}', {at})"
    ))
    .unwrap();
    if pinned {
        conn.batch_execute(&format!(
            "INSERT INTO baselines (org_id, project_id, definition, load_test_id, set_by, set_at) \
             VALUES ('acme', 'webshop', 'def-{id}', '{id}', 'sam', {at})"
        ))
        .unwrap();
    }
}

fn scenario_row(conn: &mut DbConnection, id: &str, state: &str, incident: i64, days: i64) {
    let at = ago(days);
    conn.batch_execute(&format!(
        "INSERT INTO scenarios (id, org_id, project_id, name, state, incident, version, \
         created_at, updated_at) VALUES ('{id}', 'acme', 'webshop', '{id}', '{state}', \
         {incident}, 1, {at}, {at})"
    ))
    .unwrap();
}

fn thread(conn: &mut DbConnection, subject_key: &str, days: i64) {
    let at = ago(days);
    conn.batch_execute(&format!(
        "INSERT INTO slack_threads (subject_key, team_id, channel, parent_ts, card, \
         updated_at) VALUES ('{subject_key}', 'T1', '#perf', '1.0', '{{}}', {at})"
    ))
    .unwrap();
}

fn audit(conn: &mut DbConnection, action: &str, days: i64) {
    let at = ago(days);
    conn.batch_execute(&format!(
        "INSERT INTO audit_log (at, actor, org_id, action, details) VALUES \
         ({at}, 'test', 'acme', '{action}', '{{}}')"
    ))
    .unwrap();
}

fn oauth_state(conn: &mut DbConnection, hash: &str, expires_days: i64) {
    let (created, expires) = (ago(expires_days + 1), ago(expires_days));
    conn.batch_execute(&format!(
        "INSERT INTO oauth_states (state_hash, org_id, token_id, created_at, expires_at) \
         VALUES ('{hash}', 'acme', 't', {created}, {expires})"
    ))
    .unwrap();
}

fn test_message(conn: &mut DbConnection, sent_by: &str, days: i64) {
    let at = ago(days);
    conn.batch_execute(&format!(
        "INSERT INTO test_messages (org_id, channel, status, sent_by, created_at) VALUES \
         ('acme', '#perf', 'sent', '{sent_by}', {at})"
    ))
    .unwrap();
}

fn ui_session(conn: &mut DbConnection, hash: &str, expires_days: i64) {
    let (created, expires) = (ago(expires_days + 1), ago(expires_days));
    conn.batch_execute(&format!(
        "INSERT INTO ui_sessions (id_hash, token_id, created_at, expires_at) VALUES \
         ('{hash}', 't', {created}, {expires})"
    ))
    .unwrap();
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn db_of(app: &TestApp) -> Db {
    Db::new(DatabaseUrl::parse(&app.db.url).unwrap(), 2).unwrap()
}

/// Two rows a batch, no pause: every table needs several batches.
fn small_batches() -> Policy {
    Policy {
        batch: 2,
        pause: Duration::ZERO,
        ..Policy::days(30, 365)
    }
}

/// A migrated database of its own with acme/webshop registered, and no service running on
/// it (whose sender would settle the pending delivery this test keeps).
fn fixture_db(backend: Backend) -> Option<TestDb> {
    let db = TestDb::create(backend)?;
    let mut conn = db.connect();
    xtc_slack::db::run_migrations(&mut conn).unwrap();
    let at = ago(100);
    conn.batch_execute(&format!(
        "INSERT INTO organizations (id, name, created_at, updated_at) \
         VALUES ('acme', 'Acme', {at}, {at}); \
         INSERT INTO projects (org_id, id, name, created_at, updated_at) \
         VALUES ('acme', 'webshop', 'Webshop', {at}, {at});"
    ))
    .unwrap();
    Some(db)
}

fn pool(db: &TestDb) -> Db {
    Db::new(DatabaseUrl::parse(&db.url).unwrap(), 2).unwrap()
}

#[actix_web::test]
async fn retention_prunes_only_what_is_past_its_age_and_never_what_is_pending_on_sqlite() {
    prunes_only_what_is_past_its_age(fixture_db(Backend::Sqlite).unwrap()).await;
}

#[actix_web::test]
async fn retention_prunes_only_what_is_past_its_age_and_never_what_is_pending_on_postgres() {
    match fixture_db(Backend::Postgres) {
        Some(db) => prunes_only_what_is_past_its_age(db).await,
        None => eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set"),
    }
}

async fn prunes_only_what_is_past_its_age(db: TestDb) {
    let mut conn = db.connect();
    let c = &mut conn;
    // Deliveries and their events: old settled ones go, an old pending one stays with
    // its event, young ones stay; an old event no delivery references goes.
    for (n, status) in ["sent", "skipped", "failed", "sent", "sent"]
        .iter()
        .enumerate()
    {
        let id = format!("lt:done:old-{n}");
        event(c, &id, "lt:done", 40);
        delivery(c, &id, "lt:done", status, 40);
    }
    event(c, "lt:busy:old-pending", "lt:busy", 40);
    delivery(c, "lt:busy:old-pending", "lt:busy", "pending", 40);
    event(c, "lt:done:old-unsent", "lt:done", 40);
    event(c, "lt:done:young", "lt:done", 1);
    delivery(c, "lt:done:young", "lt:done", "sent", 1);
    event(c, "lt:done:young-unsent", "lt:done", 1);
    // Load tests: a finished old one goes (with its thread); a running one, a young one
    // and a finished one with a pending delivery stay (with their threads).
    load_test(c, "done", "reported", 40);
    load_test(c, "errored", "error", 40);
    load_test(c, "stuck", "running", 40);
    load_test(c, "recent", "reported", 1);
    load_test(c, "busy", "reported", 40);
    for key in ["lt:done", "lt:errored", "lt:stuck", "lt:busy"] {
        thread(c, key, 40);
    }
    thread(c, "lt:recent", 1);
    // Runs' figures: an old one goes; an old pinned baseline and a young one stay.
    run_report(c, "old-run", 40, false);
    run_report(c, "old-baseline", 40, true);
    run_report(c, "young-run", 1, false);
    // Scenarios: an old ok one goes with its past incidents' threads; a failing one keeps
    // its open incident's thread but not a closed one's.
    scenario_row(c, "calm", "ok", 2, 40);
    scenario_row(c, "down", "failure", 3, 40);
    scenario_row(c, "fresh", "ok", 1, 1);
    for key in ["sc:calm:1", "sc:calm:2", "sc:down:2", "sc:down:3"] {
        thread(c, key, 40);
    }
    // Audit: kept for a year; test messages follow the deliveries; OAuth states go a day
    // after they expired; UI sessions once expired.
    audit(c, "old-but-kept", 40);
    audit(c, "too-old-1", 400);
    audit(c, "too-old-2", 400);
    audit(c, "too-old-3", 366);
    test_message(c, "old", 40);
    test_message(c, "young", 1);
    oauth_state(c, "expired-days-ago", 3);
    oauth_state(c, "expired-just-now", 0);
    oauth_state(c, "live", -1);
    ui_session(c, "expired", 1);
    ui_session(c, "live", -1);

    let pruned = run_pass(&pool(&db), &small_batches(), chrono::Utc::now().naive_utc())
        .await
        .unwrap();
    assert_eq!(pruned.of("deliveries"), 5, "{pruned:?}");
    assert_eq!(pruned.of("events"), 6, "{pruned:?}");
    assert_eq!(pruned.of("load_tests"), 2, "{pruned:?}");
    assert_eq!(pruned.of("run_reports"), 1, "{pruned:?}");
    assert_eq!(pruned.of("scenarios"), 1, "{pruned:?}");
    assert_eq!(pruned.of("audit_log"), 3, "{pruned:?}");

    let statuses: Vec<(String, String)> = deliveries::table
        .order(deliveries::id)
        .select((deliveries::event_id, deliveries::status))
        .load(c)
        .unwrap();
    assert_eq!(
        statuses,
        [
            ("lt:busy:old-pending".to_owned(), "pending".to_owned()),
            ("lt:done:young".to_owned(), "sent".to_owned()),
        ]
    );
    let kept_events = events::table.select(events::event_id).load(c).unwrap();
    assert_eq!(
        sorted(kept_events),
        [
            "lt:busy:old-pending",
            "lt:done:young",
            "lt:done:young-unsent"
        ]
    );
    let kept_tests = load_tests::table.select(load_tests::id).load(c).unwrap();
    assert_eq!(sorted(kept_tests), ["busy", "recent", "stuck"]);
    let kept_reports: Vec<String> = run_reports::table
        .select(run_reports::load_test_id)
        .load(c)
        .unwrap();
    assert_eq!(sorted(kept_reports), ["old-baseline", "young-run"]);
    let kept_scenarios = scenarios::table.select(scenarios::id).load(c).unwrap();
    assert_eq!(sorted(kept_scenarios), ["down", "fresh"]);
    let kept_threads = slack_threads::table
        .select(slack_threads::subject_key)
        .load(c)
        .unwrap();
    assert_eq!(
        sorted(kept_threads),
        ["lt:busy", "lt:recent", "lt:stuck", "sc:down:3"]
    );
    let kept_audit: Vec<String> = audit_log::table.select(audit_log::action).load(c).unwrap();
    assert_eq!(kept_audit, ["old-but-kept"]);
    let kept_messages: Vec<String> = test_messages::table
        .select(test_messages::sent_by)
        .load(c)
        .unwrap();
    assert_eq!(kept_messages, ["young"]);
    let kept_states = oauth_states::table
        .select(oauth_states::state_hash)
        .load(c)
        .unwrap();
    assert_eq!(sorted(kept_states), ["expired-just-now", "live"]);
    let kept_sessions: Vec<String> = ui_sessions::table
        .select(ui_sessions::id_hash)
        .load(c)
        .unwrap();
    assert_eq!(kept_sessions, ["live"]);

    // A second pass finds nothing more to do.
    let again = run_pass(&pool(&db), &small_batches(), chrono::Utc::now().naive_utc())
        .await
        .unwrap();
    assert_eq!(again.total(), 0, "{again:?}");
}

test_both_backends! {
    async fn the_service_prunes_periodically_and_counts_what_it_pruned(app: TestApp) {
        // The fixture app has retention off; start a second service on the same database
        // with a pass every second.
        app.seed_acme().await;
        let mut conn = app.db.connect();
        audit(&mut conn, "too-old", 400);
        audit(&mut conn, "recent", 1);
        let url = app.db.url.clone();
        let settings = xtc_slack::settings::Settings::from_args({
            let mut args = test_args(&url);
            args.retention_interval_secs = 1;
            args
        })
        .unwrap();
        let second = xtc_slack::startup::Application::build(settings).await.unwrap();
        let port = second.port();
        let handle = second.handle();
        actix_web::rt::spawn(second.run_until_stopped());

        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left: Vec<String> = audit_log::table
                .select(audit_log::action)
                .load(&mut conn)
                .unwrap();
            if left == ["recent"] {
                break;
            }
            assert!(Instant::now() < deadline, "nothing pruned: {left:?}");
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
        // The pass counts its rows once it has returned (on SQLite after its incremental
        // vacuum), a moment after the row vanished: wait for the count too.
        loop {
            let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if metrics.contains("xtc_slack_retention_pruned_total{table=\"audit_log\"} 1") {
                break;
            }
            assert!(Instant::now() < deadline, "pruned but not counted: {metrics}");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        handle.stop(false).await;
    }
}

#[actix_web::test]
async fn a_new_sqlite_database_gives_the_space_of_pruned_rows_back() {
    #[derive(QueryableByName)]
    struct Value {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        value: i64,
    }
    let app = try_spawn_app(Backend::Sqlite).await.unwrap();
    let mut conn = app.db.connect();
    let DbConnection::Sqlite(c) = &mut conn else {
        unreachable!()
    };
    let pragma = |c: &mut diesel::SqliteConnection, name: &str| {
        diesel::sql_query(format!("SELECT {name} AS value FROM pragma_{name}"))
            .get_result::<Value>(c)
            .unwrap()
            .value
    };
    assert_eq!(pragma(c, "auto_vacuum"), 2, "auto_vacuum = INCREMENTAL");
    // About 8 MiB of old audit rows.
    let details = "x".repeat(4_000);
    let at = ago(400);
    c.batch_execute(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
         INSERT INTO audit_log (at, actor, org_id, action, details) \
         SELECT {at}, 'test', 'acme', 'bulk', '{details}' FROM n"
    ))
    .unwrap();
    let pages_before = pragma(c, "page_count");
    let pruned = run_pass(
        &db_of(&app),
        &Policy {
            pause: Duration::ZERO,
            ..Policy::days(30, 365)
        },
        chrono::Utc::now().naive_utc(),
    )
    .await
    .unwrap();
    assert_eq!(pruned.of("audit_log"), 2_000);
    assert!(pruned.vacuumed_pages > 1_000, "{pruned:?}");
    assert_eq!(pragma(c, "freelist_count"), 0);
    let pages_after = pragma(c, "page_count");
    assert!(
        pages_after < pages_before / 2,
        "{pages_before} pages before, {pages_after} after"
    );
}

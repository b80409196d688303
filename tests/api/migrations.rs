use diesel::connection::SimpleConnection;
use xtc_slack::db::{revert_all_migrations, revert_last_migration, run_migrations};

use crate::helpers::*;

fn check_up_down_up(backend: Backend) {
    let Some(db) = TestDb::create(backend) else {
        eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set");
        return;
    };
    let mut conn = db.connect();
    let applied = run_migrations(&mut conn).unwrap();
    assert!(applied >= 1);
    conn.batch_execute("SELECT count(*) FROM deliveries")
        .unwrap();
    let reverted = revert_all_migrations(&mut conn).unwrap();
    assert_eq!(reverted, applied, "every migration has a working down.sql");
    assert!(
        conn.batch_execute("SELECT count(*) FROM deliveries")
            .is_err(),
        "tables are gone"
    );
    assert_eq!(
        run_migrations(&mut conn).unwrap(),
        applied,
        "and can be applied again"
    );
    assert_eq!(
        run_migrations(&mut conn).unwrap(),
        0,
        "nothing left pending"
    );
}

#[test]
fn migrations_apply_and_revert_on_sqlite() {
    check_up_down_up(Backend::Sqlite);
}

#[test]
fn migrations_apply_and_revert_on_postgres() {
    check_up_down_up(Backend::Postgres);
}

#[test]
fn both_backends_have_the_same_migrations() {
    let names = |dir: &str| {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let root = env!("CARGO_MANIFEST_DIR");
    assert_eq!(
        names(&format!("{root}/migrations/sqlite")),
        names(&format!("{root}/migrations/postgres"))
    );
}

/// The SQLite database and its `-wal` and `-shm` files are 0600, like the key file (the
/// database was created 0644).
#[cfg(unix)]
#[actix_web::test]
async fn the_sqlite_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    app.seed_acme().await;
    let db = app.db.sqlite_path().unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let mode = std::fs::metadata(&name).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name:?} has mode {mode:o}");
    }
}

/// `token create` prints the token alone on stdout and, on stderr, the database it wrote:
/// an absolute path, so a token made in another directory than `serve`'s is noticed.
#[test]
fn token_create_names_the_database_it_used() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtc-slack"))
        .args(["token", "create", "--role", "service", "--name", "t"])
        .env_remove("XTC_SLACK_DATABASE_URL")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("xtcs_"), "{stdout}");
    let db = std::fs::canonicalize(dir.path().join("xtc-slack.db")).unwrap();
    let shown = stderr
        .lines()
        .find_map(|l| l.strip_prefix("database: "))
        .unwrap_or_else(|| panic!("no database line in {stderr}"));
    assert_eq!(std::fs::canonicalize(shown).unwrap(), db, "{stderr}");
}

/// The weekly summary's tallies (migration `summary_tallies`): a fresh database keeps them
/// from its first event; one with events before the upgrade, from the upgrade on (its
/// older weeks are read from their events).
fn tallies_start_at_the_upgrade(backend: Backend) {
    use diesel::prelude::*;
    use xtc_slack::db::schema::summary_tallies;
    let Some(db) = TestDb::create(backend) else {
        eprintln!("skipped: XTC_SLACK_TEST_POSTGRES_URL is not set");
        return;
    };
    let mut conn = db.connect();
    run_migrations(&mut conn).unwrap();
    let since = |conn: &mut xtc_slack::db::DbConnection| {
        summary_tallies::table
            .select(summary_tallies::since)
            .load::<chrono::NaiveDateTime>(conn)
            .unwrap()
    };
    assert!(since(&mut conn).is_empty(), "a fresh database tallies all");
    assert!(revert_last_migration(&mut conn)
        .unwrap()
        .starts_with("20261221000001"));
    conn.batch_execute(
        "INSERT INTO organizations (id, name, created_at, updated_at) \
         VALUES ('acme', 'Acme', '2026-11-01 00:00:00', '2026-11-01 00:00:00'); \
         INSERT INTO events (event_id, subject_kind, subject_id, org_id, project_id, event_type, \
         occurred_at, payload, resulting_state, received_at, body_sha256) VALUES \
         ('scenario:s1:e1', 'scenario', 's1', 'acme', 'shop', 'scenario_unchanged', \
         '2026-11-01 00:00:00', 'null', 'ok', '2026-11-01 00:00:00', NULL)",
    )
    .unwrap();
    let before = chrono::Utc::now().naive_utc();
    run_migrations(&mut conn).unwrap();
    let got = since(&mut conn);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0] >= before - chrono::Duration::seconds(1), "{got:?}");
}

#[test]
fn summary_tallies_start_at_the_upgrade_on_sqlite() {
    tallies_start_at_the_upgrade(Backend::Sqlite);
}

#[test]
fn summary_tallies_start_at_the_upgrade_on_postgres() {
    tallies_start_at_the_upgrade(Backend::Postgres);
}

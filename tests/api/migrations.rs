use diesel::connection::SimpleConnection;
use xtc_slack::db::{revert_all_migrations, run_migrations};

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

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

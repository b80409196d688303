//! `xtc-slack db backup`: a consistent copy of the embedded database while the service
//! runs, with its key file, and clear refusals.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use diesel::prelude::*;
use serde_json::json;
use xtc_slack::db::schema::{api_tokens, deliveries, organizations};
use xtc_slack::db::DatabaseUrl;

use crate::helpers::*;
use crate::pipeline::{lt_body, post_lt};

fn backup(database_url: &str, to: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtc-slack"))
        .args(["db", "backup", "--to"])
        .arg(to)
        .env("XTC_SLACK_DATABASE_URL", database_url)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[actix_web::test]
async fn a_backup_of_the_running_service_holds_its_data_and_its_key() {
    let app = spawn_app_with_slack().await;
    app.configure_acme(json!({"target_channels": "#load-tests"}))
        .await;
    for i in 0..20 {
        let (status, body) = post_lt(
            &app,
            &format!("lt-{i}"),
            lt_body(&format!("e-{i}"), "started"),
        )
        .await;
        assert_eq!(status, 202, "{body}");
    }
    let source = app.db.sqlite_path().unwrap();
    // The key file `serve` keeps beside the database (the tests give the key directly).
    let key = xtc_slack::db::key_file_path(&source);
    std::fs::write(&key, "a-key-for-this-test\n").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("copy.db");
    // Taken while the service runs and delivers.
    let (code, out, err) = backup(&app.db.url, &to);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("integrity ok"), "{out}");
    let copied_key = xtc_slack::db::key_file_path(&to);
    assert_eq!(
        std::fs::read_to_string(&copied_key).unwrap(),
        "a-key-for-this-test\n"
    );
    let mode = std::fs::metadata(&copied_key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let mut copy = DatabaseUrl::Sqlite(to.clone()).connect().unwrap();
    let orgs: i64 = organizations::table.count().get_result(&mut copy).unwrap();
    let tokens: i64 = api_tokens::table.count().get_result(&mut copy).unwrap();
    let queued: i64 = deliveries::table.count().get_result(&mut copy).unwrap();
    assert_eq!(orgs, 1);
    assert!(tokens >= 2, "{tokens}");
    assert_eq!(queued, 20);

    // It never overwrites, and says what is wrong.
    let (code, _, err) = backup(&app.db.url, &to);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exists already"), "{err}");
    let (code, _, err) = backup(&app.db.url, &dir.path().join("missing/copy.db"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    let (code, _, err) = backup(
        &format!("sqlite://{}", dir.path().join("nothing.db").display()),
        &dir.path().join("other.db"),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no database at"), "{err}");
    let (code, _, err) = backup(
        "postgres://user:secret@127.0.0.1:9/db",
        &dir.path().join("pg.db"),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pg_dump") && !err.contains("secret"), "{err}");
}

//! Scratch databases for unit tests: a migrated SQLite file in a temporary directory, and
//! a migrated PostgreSQL database of its own when `XTC_SLACK_TEST_POSTGRES_URL` is set
//! (created under a unique name, dropped with its guard, so no two tests share one).

use diesel::connection::SimpleConnection;
use diesel::Connection;

use super::{run_migrations, DatabaseUrl};

/// A migrated database, removed when dropped.
pub(crate) struct Scratch {
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    /// The administrator's URL and the database's name, to drop it.
    pg: Option<(String, String)>,
}

impl Scratch {
    pub fn backend(&self) -> &'static str {
        if self.pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg {
            let dropped = diesel::PgConnection::establish(admin)
                .map_err(|e| e.to_string())
                .and_then(|mut c| {
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = dropped {
                eprintln!("scratch database {name} left behind: {e}");
            }
        }
    }
}

/// A migrated SQLite database, and a migrated PostgreSQL one when the environment names a
/// server (else a line on stderr says it was skipped).
pub(crate) fn migrated() -> Vec<Scratch> {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(dir.path().join("scratch.db"));
    let mut all = vec![Scratch {
        url,
        _dir: Some(dir),
        pg: None,
    }];
    match std::env::var("XTC_SLACK_TEST_POSTGRES_URL") {
        Ok(admin) => {
            super::keep_libcrypto_at_exit();
            let name = format!("xtc_unit_{}", uuid::Uuid::new_v4().simple());
            // The URL first: nothing is created unless the guard that drops it can be made.
            let mut url = url::Url::parse(&admin).expect("XTC_SLACK_TEST_POSTGRES_URL: a URL");
            url.set_path(&format!("/{name}"));
            let url = DatabaseUrl::parse(url.as_str()).unwrap();
            diesel::PgConnection::establish(&admin)
                .unwrap()
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
            all.push(Scratch {
                url,
                _dir: None,
                pg: Some((admin, name)),
            });
        }
        Err(_) => eprintln!("PostgreSQL skipped: XTC_SLACK_TEST_POSTGRES_URL is not set"),
    }
    for db in &all {
        run_migrations(&mut db.url.connect().unwrap()).unwrap();
    }
    all
}

/// Organization "acme" ("Acme Corp") with its project `project` ("Web shop"), and the
/// active organization-level installation `installation` of workspace `team` (its token a
/// placeholder, never decrypted).
pub(crate) fn seed_installation(
    conn: &mut super::DbConnection,
    project: &str,
    (installation, team): (&str, &str),
) {
    let at = "'2026-01-01 00:00:00'";
    conn.batch_execute(&format!(
        "INSERT INTO organizations (id, name, created_at, updated_at) \
         VALUES ('acme', 'Acme Corp', {at}, {at}); \
         INSERT INTO projects (org_id, id, name, created_at, updated_at) \
         VALUES ('acme', '{project}', 'Web shop', {at}, {at}); \
         INSERT INTO slack_installations (id, org_id, project_id, team_id, team_name, \
         app_id, bot_user_id, scopes, bot_token, status, installed_by, installed_at, \
         updated_at) VALUES ('{installation}', 'acme', '', '{team}', 'Team', 'A1', 'U1', \
         'chat:write', 'sealed', 'active', 'jane', {at}, {at});"
    ))
    .unwrap();
}

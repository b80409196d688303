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
            if let Ok(mut c) = diesel::PgConnection::establish(admin) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
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
            diesel::PgConnection::establish(&admin)
                .unwrap()
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&format!("/{name}"));
            all.push(Scratch {
                url: DatabaseUrl::parse(url.as_str()).unwrap(),
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

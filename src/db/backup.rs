//! `xtc-slack db backup`: a consistent copy of the embedded SQLite database while the
//! service runs, and its key file beside it. SQLite's `VACUUM INTO` writes the copy from
//! one read transaction, so it sees one committed state whatever the writers do meanwhile
//! (a file copy of a database in WAL mode can miss or tear the last commits).

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::{DatabaseUrl, DbConnection};

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "db backup copies the embedded SQLite database; for PostgreSQL use pg_dump (and keep \
         the XTC_SLACK_SECRET_KEY the service runs with: the Slack tokens are encrypted with it)"
    )]
    NotSqlite,
    #[error("no database at {0} (give the XTC_SLACK_DATABASE_URL the service uses)")]
    NoSource(PathBuf),
    #[error("{0} exists already; a backup never overwrites a file")]
    TargetExists(PathBuf),
    #[error("the directory of {0} does not exist")]
    NoTargetDirectory(PathBuf),
    #[error("the copy failed: {0}")]
    Copy(#[from] diesel::result::Error),
    #[error("the copy at {path} failed its integrity check: {report}")]
    Corrupt { path: PathBuf, report: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Database(#[from] super::DbError),
}

/// What [`backup`] wrote.
#[derive(Debug)]
pub struct Backup {
    pub database: PathBuf,
    pub bytes: u64,
    /// The key file written beside the copy; `None` when the source had none (the service
    /// then runs with `XTC_SLACK_SECRET_KEY`, which must be kept with the copy).
    pub key: Option<PathBuf>,
}

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// Copies the SQLite database of `url` to `to` (which must not exist) and its key file to
/// `<to>.key` (mode 0600), then checks the copy's integrity.
pub fn backup(url: &DatabaseUrl, to: &Path) -> Result<Backup, BackupError> {
    let DatabaseUrl::Sqlite(from) = url else {
        return Err(BackupError::NotSqlite);
    };
    if !from.exists() {
        return Err(BackupError::NoSource(from.clone()));
    }
    let key_to = super::key_file_path(to);
    for target in [to, key_to.as_path()] {
        if target.exists() {
            return Err(BackupError::TargetExists(target.to_owned()));
        }
    }
    let dir = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(BackupError::NoTargetDirectory(to.to_owned()));
    }
    let mut conn = url.connect()?;
    let DbConnection::Sqlite(c) = &mut conn else {
        return Err(BackupError::NotSqlite);
    };
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(to.to_string_lossy())
        .execute(c)?;
    let check = verify(to)?;
    if check != "ok" {
        return Err(BackupError::Corrupt {
            path: to.to_owned(),
            report: check,
        });
    }
    let key_from = super::key_file_path(from);
    let key = if key_from.exists() {
        copy_private(&key_from, &key_to)?;
        Some(key_to)
    } else {
        None
    };
    Ok(Backup {
        database: to.to_owned(),
        bytes: std::fs::metadata(to)?.len(),
        key,
    })
}

/// `PRAGMA integrity_check` of the copy, read-only.
fn verify(path: &Path) -> Result<String, BackupError> {
    super::backend::sqlite_without_memory_statistics();
    let mut c = SqliteConnection::establish(&format!("file:{}?mode=ro", path.display()))
        .map_err(|e| super::DbError::Connect(e.to_string()))?;
    c.batch_execute("PRAGMA query_only = ON")?;
    let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check").load(&mut c)?;
    Ok(rows
        .into_iter()
        .map(|r| r.integrity_check)
        .collect::<Vec<_>>()
        .join("; "))
}

/// Copies a secret file to a new file readable by its owner only.
fn copy_private(from: &Path, to: &Path) -> std::io::Result<()> {
    super::write_private_file(to, &std::fs::read(from)?)
}

//! `xtc-slack db copy`: a whole database to another one, SQLite and PostgreSQL either
//! way, for a service that is stopped.
//!
//! Order of work, so that every refusal comes before the first write: the keys, the
//! source (migrated to this binary's version, no live claims, its tokens decrypt), the
//! target's key file and emptiness; then the target is migrated and everything is copied
//! in one target transaction that reads one snapshot of the source, is verified (row
//! counts per table, every installation's tokens decrypted with the target's key) and is
//! committed only when all of it holds. A failed copy leaves the target as it was (plus
//! its migrations).
//!
//! The key: by default the source key is carried over, because button values on cards
//! already in Slack and web UI session cookies are derived from it; `--to-key` with
//! another key re-encrypts the tokens instead (those buttons then stop matching, and the
//! sessions are left out).

mod catalog;
mod keys;
mod rows;

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};
use secrecy::{ExposeSecret, SecretString};

pub use catalog::{ENCRYPTED, KEY_BOUND, TABLES};

use self::catalog::Column;
use self::keys::{parse_key, source_key, target_key_file, KeyMaterial};
use self::rows::{quoted, Kind, RowIo, Value};
use super::models::installation::Installation;
use super::{on_each_backend, DatabaseUrl, DbConnection, DbError};
use crate::crypto::Cipher;

/// What the operator asked for.
pub struct CopyRequest {
    pub from: DatabaseUrl,
    pub to: DatabaseUrl,
    /// The source's key (base64); without it, the `.key` file beside an SQLite source.
    pub from_key: Option<SecretString>,
    /// The key the target runs with, when it is not to be the source's.
    pub to_key: Option<SecretString>,
    /// Replace what a non-empty target holds.
    pub force: bool,
}

/// Why a copy was not made. No variant carries a key, a token or a password.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// What the operator gave does not fit, or the source is in use (exit 2).
    #[error("{0}")]
    Refused(String),
    /// The verification failed; the target transaction was rolled back.
    #[error("the copy did not verify and was rolled back: {0}")]
    Mismatch(String),
    #[error("schema: {0}")]
    Schema(String),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("{0}")]
    Io(String),
}

impl CopyError {
    /// 2 for a refusal (a setting or a state to change), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Refused(_) => 2,
            _ => 1,
        }
    }
}

/// One table's outcome.
#[derive(Debug)]
pub struct TableCopy {
    pub table: &'static str,
    pub source_rows: i64,
    pub target_rows: i64,
    /// Left out on purpose ([`KEY_BOUND`] under a new key).
    pub left_out: bool,
}

/// Which key the target's tokens are encrypted with, and where it is.
#[derive(Debug)]
pub enum TargetKey {
    /// The source's key, carried over; `origin` says where it came from.
    CarriedOver { origin: String },
    /// A new key (`--to-key`): the tokens were re-encrypted.
    Reencrypted,
}

/// What [`copy`] did.
#[derive(Debug)]
pub struct CopyReport {
    pub tables: Vec<TableCopy>,
    /// Installations whose tokens were decrypted with the target's key after the copy.
    pub tokens_verified: usize,
    pub key: TargetKey,
    /// The key file beside an SQLite target (written by the copy, or already there with
    /// the same key).
    pub key_file: Option<PathBuf>,
    pub warnings: Vec<String>,
}

/// Copies `req.from` to `req.to`; see the module documentation.
pub fn copy(req: &CopyRequest) -> Result<CopyReport, CopyError> {
    if same_database(&req.from, &req.to) {
        return Err(CopyError::Refused(
            "--from and --to name the same database".into(),
        ));
    }
    let mut warnings = Vec::new();
    if let DatabaseUrl::Sqlite(path) = &req.from {
        if !path.exists() {
            return Err(CopyError::Refused(format!(
                "--from: no database at {}",
                path.display()
            )));
        }
        if wal_in_use(path) {
            warnings.push(format!(
                "{}-wal is not empty: another process may have the source open (a running \
                 service?); the copy reads one consistent state, but what it commits later \
                 is not copied",
                path.display()
            ));
        }
    }
    let source_key = source_key(req)?;
    let (target_key, rekey) = match &req.to_key {
        Some(encoded) => {
            let key = parse_key(encoded, "--to-key")?;
            let rekey = !key.same_as(&source_key.key);
            let material = KeyMaterial {
                key,
                encoded: encoded.clone(),
                origin: "--to-key".into(),
            };
            (material, rekey)
        }
        None => (
            KeyMaterial {
                key: parse_key(&source_key.encoded, &source_key.origin)?,
                encoded: source_key.encoded.clone(),
                origin: source_key.origin.clone(),
            },
            false,
        ),
    };
    let from_cipher = Cipher::new(&source_key.key);
    let to_cipher = Cipher::new(&target_key.key);

    let mut source = req.from.connect()?;
    check_source(&mut source)?;
    let installations = Installation::list_all(&mut source)?;
    let unreadable = installations
        .iter()
        .filter(|i| !tokens_decrypt(i, &from_cipher))
        .count();
    if unreadable > 0 {
        return Err(CopyError::Refused(format!(
            "{unreadable} of {} Slack installations' tokens in the source do not decrypt with \
             the source key ({}): wrong key? Give the key the source service runs with \
             (--from-key). Nothing was written.",
            installations.len(),
            source_key.origin
        )));
    }

    let (key_file, write_key) = target_key_file(&req.to, &target_key)?;
    let mut target = req.to.connect()?;
    let held = rows_held(&mut target)?;
    if !held.is_empty() && !req.force {
        return Err(CopyError::Refused(format!(
            "the target already holds data ({}); nothing was written. --force replaces it",
            held.join(", ")
        )));
    }
    super::run_migrations(&mut target)?;
    if super::applied_migrations(&mut target)? != super::known_migrations(&target)? {
        return Err(CopyError::Refused(
            "the target has migrations this xtc-slack does not know (written by a newer \
             version?)"
                .into(),
        ));
    }
    let plan = plan(&mut source, &mut target)?;

    let mut key_written = false;
    let copied = source.transaction(|s| {
        if let DbConnection::Postgresql(c) = s {
            // One snapshot of the whole source, whatever still writes to it.
            c.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        }
        target.transaction(|t| {
            if req.force {
                for table in TABLES.iter().rev() {
                    t.batch_execute(&format!("DELETE FROM {}", quoted(table)))?;
                }
            }
            let mut tables = Vec::with_capacity(plan.len());
            for table in &plan {
                tables.push(copy_table(s, t, table, rekey)?);
            }
            if rekey {
                reencrypt(t, &from_cipher, &to_cipher)?;
            }
            let verified = verify(t, &tables, &to_cipher)?;
            if let Some(path) = &write_key {
                super::write_private_file(
                    path,
                    format!("{}\n", target_key.encoded.expose_secret().trim()).as_bytes(),
                )
                .map_err(|e| CopyError::Io(format!("key file {}: {e}", path.display())))?;
                key_written = true;
            }
            Ok::<_, CopyError>((tables, verified))
        })
    });
    let (tables, tokens_verified) = match copied {
        Ok(done) => done,
        Err(e) => {
            if let (true, Some(path)) = (key_written, &write_key) {
                // The commit failed after the key file was written: take it back.
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    Ok(CopyReport {
        tables,
        tokens_verified,
        key: if rekey {
            TargetKey::Reencrypted
        } else {
            TargetKey::CarriedOver {
                origin: source_key.origin,
            }
        },
        key_file,
        warnings,
    })
}

/// One table to copy: the target's columns, and the source's kinds of the same columns.
struct TablePlan {
    table: &'static str,
    columns: Vec<Column>,
    source_kinds: Vec<Kind>,
}

/// The columns of every table on both sides; they must be the same names.
fn plan(source: &mut DbConnection, target: &mut DbConnection) -> Result<Vec<TablePlan>, CopyError> {
    let mut listed: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
    listed.sort();
    for (side, conn) in [("source", &mut *source), ("target", &mut *target)] {
        let mut actual = catalog::table_names(conn)?;
        actual.sort();
        if actual != listed {
            return Err(CopyError::Schema(format!(
                "the {side}'s tables are not the ones db copy knows (db::copy::TABLES)"
            )));
        }
    }
    TABLES
        .iter()
        .map(|table| {
            let columns = catalog::columns(target, table)?;
            let in_source = catalog::columns(source, table)?;
            let source_kinds = columns
                .iter()
                .map(|c| {
                    in_source
                        .iter()
                        .find(|s| s.name == c.name)
                        .map(|s| s.kind)
                        .ok_or_else(|| {
                            CopyError::Schema(format!(
                                "the source has no column {table}.{}",
                                c.name
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if in_source.len() != columns.len() {
                return Err(CopyError::Schema(format!(
                    "{table} has other columns in the source than in the target"
                )));
            }
            Ok(TablePlan {
                table,
                columns,
                source_kinds,
            })
        })
        .collect()
}

/// Most bind parameters in one `INSERT` (SQLite before 3.32 allows 999).
fn max_binds(target: &DbConnection) -> usize {
    match target {
        DbConnection::Sqlite(_) => 999,
        DbConnection::Postgresql(_) => 10_000,
    }
}

fn copy_table(
    s: &mut DbConnection,
    t: &mut DbConnection,
    plan: &TablePlan,
    rekey: bool,
) -> Result<TableCopy, CopyError> {
    let table = plan.table;
    let source_rows = count(s, table)?;
    if rekey && KEY_BOUND.contains(&table) {
        return Ok(TableCopy {
            table,
            source_rows,
            target_rows: count(t, table)?,
            left_out: true,
        });
    }
    let names: Vec<String> = plan.columns.iter().map(|c| quoted(&c.name)).collect();
    let order: Vec<&str> = plan
        .columns
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| c.name.as_str())
        .collect();
    let mut select = format!("SELECT {} FROM {}", names.join(", "), quoted(table));
    if !order.is_empty() {
        let order: Vec<String> = order.iter().map(|c| quoted(c)).collect();
        select.push_str(&format!(" ORDER BY {}", order.join(", ")));
    }
    let target_kinds: Vec<Kind> = plan.columns.iter().map(|c| c.kind).collect();
    let per_batch = (max_binds(t) / names.len().max(1)).clamp(1, 500);
    // Under a new key, a ciphertext outside the known columns would become unreadable.
    let guarded: Vec<bool> = plan
        .columns
        .iter()
        .map(|c| rekey && !ENCRYPTED.contains(&(table, c.name.as_str())))
        .collect();
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(per_batch);
    let flush = |t: &mut DbConnection, batch: Vec<Vec<Value>>| -> Result<(), CopyError> {
        if batch.is_empty() {
            return Ok(());
        }
        let sql = insert_sql(t, table, &names, batch.len());
        on_each_backend!(t, c => c.insert_rows(&sql, &target_kinds, batch))?;
        Ok(())
    };
    let mut each = |row: Vec<Value>| -> Result<(), CopyError> {
        for ((value, column), guard) in row.iter().zip(&plan.columns).zip(&guarded) {
            if let Value::Text(text) = value {
                if *guard && crate::crypto::looks_encrypted(text) {
                    return Err(CopyError::Refused(format!(
                        "{table}.{} holds what looks like an encrypted value, which --to-key \
                         cannot re-encrypt; copy with the source key (leave out --to-key). \
                         Nothing was written.",
                        column.name
                    )));
                }
            }
        }
        batch.push(row);
        if batch.len() == per_batch {
            flush(t, std::mem::take(&mut batch))?;
        }
        Ok(())
    };
    let kinds = &plan.source_kinds;
    on_each_backend!(s, c => c.read_rows(&select, kinds, &mut each))?;
    flush(t, batch)?;
    reset_sequences(t, table, &plan.columns)?;
    Ok(TableCopy {
        table,
        source_rows,
        target_rows: count(t, table)?,
        left_out: false,
    })
}

/// `INSERT INTO table (columns) VALUES (...), ...` for `rows` rows, in the target's
/// placeholder syntax.
fn insert_sql(t: &DbConnection, table: &str, names: &[String], rows: usize) -> String {
    let placeholder = match t {
        DbConnection::Postgresql(_) => <PgConnection as RowIo>::placeholder,
        DbConnection::Sqlite(_) => <SqliteConnection as RowIo>::placeholder,
    };
    let width = names.len();
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let marks: Vec<String> = (1..=width).map(|i| placeholder(r * width + i)).collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        quoted(table),
        names.join(", "),
        tuples.join(", ")
    )
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut DbConnection, table: &str) -> QueryResult<i64> {
    let sql = format!("SELECT COUNT(*) AS n FROM {}", quoted(table));
    let row: Count = on_each_backend!(conn, c => diesel::sql_query(&sql).get_result(c))?;
    Ok(row.n)
}

/// After rows with their own ids went into a `BIGSERIAL` column, its sequence continues
/// after the largest one (SQLite's `AUTOINCREMENT` does so by itself).
fn reset_sequences(t: &mut DbConnection, table: &str, columns: &[Column]) -> QueryResult<()> {
    let DbConnection::Postgresql(c) = t else {
        return Ok(());
    };
    for column in columns.iter().filter(|c| c.serial) {
        diesel::sql_query(format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX({col}), 0) + 1, false) \
             FROM {table}",
            col = quoted(&column.name),
            table = quoted(table),
        ))
        .bind::<diesel::sql_types::Text, _>(quoted(table))
        .bind::<diesel::sql_types::Text, _>(&column.name)
        .execute(c)?;
    }
    Ok(())
}

/// Whether an installation's bot token (and refresh token, if any) decrypt with `cipher`.
fn tokens_decrypt(installation: &Installation, cipher: &Cipher) -> bool {
    installation.decrypt_token(cipher).is_ok()
        && installation
            .decrypt_refresh_token(cipher)
            .is_none_or(|r| r.is_ok())
}

/// Every installation's tokens, decrypted with the source key and stored encrypted with
/// the target's (the model owns their associated data).
fn reencrypt(t: &mut DbConnection, from: &Cipher, to: &Cipher) -> Result<(), CopyError> {
    let unreadable =
        || CopyError::Mismatch("a Slack token did not decrypt with the source key".into());
    for installation in Installation::list_all(t)? {
        let bot = installation.decrypt_token(from).map_err(|_| unreadable())?;
        let refresh = installation
            .decrypt_refresh_token(from)
            .transpose()
            .map_err(|_| unreadable())?;
        Installation::store_tokens(t, to, &installation.id, &bot, refresh.as_ref())?;
    }
    Ok(())
}

/// Row counts per table and every installation's tokens under the target key; returns
/// how many installations were checked.
fn verify(t: &mut DbConnection, tables: &[TableCopy], to: &Cipher) -> Result<usize, CopyError> {
    let wrong: Vec<String> = tables
        .iter()
        .filter(|c| {
            let expected = if c.left_out { 0 } else { c.source_rows };
            c.target_rows != expected
        })
        .map(|c| {
            format!(
                "{}: {} rows in the source, {} in the target",
                c.table, c.source_rows, c.target_rows
            )
        })
        .collect();
    if !wrong.is_empty() {
        return Err(CopyError::Mismatch(wrong.join("; ")));
    }
    let installations = Installation::list_all(t)?;
    let unreadable = installations
        .iter()
        .filter(|i| !tokens_decrypt(i, to))
        .count();
    if unreadable > 0 {
        return Err(CopyError::Mismatch(format!(
            "{unreadable} of {} installations' tokens do not decrypt with the target key",
            installations.len()
        )));
    }
    Ok(installations.len())
}

/// The source must be an xtc-slack database at this binary's migration level, and no
/// sender may hold a claim on it right now (a running service).
fn check_source(source: &mut DbConnection) -> Result<(), CopyError> {
    if catalog::table_names(source)?.is_empty() {
        return Err(CopyError::Refused(
            "--from: the source holds no xtc-slack database".into(),
        ));
    }
    let applied = super::applied_migrations(source)?;
    let known = super::known_migrations(source)?;
    if applied != known {
        let missing = known.iter().filter(|k| !applied.contains(k)).count();
        return Err(CopyError::Refused(if missing > 0 {
            format!(
                "--from: the source lacks {missing} migration(s) of this xtc-slack; run \
                 `xtc-slack migrate` on it first (XTC_SLACK_DATABASE_URL=<the --from URL>)"
            )
        } else {
            "--from: the source has migrations this xtc-slack does not know (written by a \
             newer version?)"
                .to_owned()
        }));
    }
    let now = super::now();
    let mut claims = Vec::new();
    for table in TABLES {
        if !catalog::columns(source, table)?
            .iter()
            .any(|c| c.name == "claimed_until")
        {
            continue;
        }
        let sql = |p: String| {
            format!(
                "SELECT COUNT(*) AS n FROM {} WHERE claimed_until > {p}",
                quoted(table)
            )
        };
        let row: Count = match source {
            DbConnection::Postgresql(c) => diesel::sql_query(sql(PgConnection::placeholder(1)))
                .bind::<Timestamp, _>(now)
                .get_result(c)?,
            DbConnection::Sqlite(c) => diesel::sql_query(sql(SqliteConnection::placeholder(1)))
                .bind::<Timestamp, _>(now)
                .get_result(c)?,
        };
        if row.n > 0 {
            claims.push(format!("{table}: {}", row.n));
        }
    }
    if !claims.is_empty() {
        return Err(CopyError::Refused(format!(
            "the source looks in use: rows are claimed by a running sender right now ({}). \
             Stop the service, wait until its claims run out (at most 30 s) and copy again. \
             Nothing was written.",
            claims.join(", ")
        )));
    }
    Ok(())
}

/// The listed tables of the target that hold rows, as "table: N rows".
fn rows_held(target: &mut DbConnection) -> Result<Vec<String>, CopyError> {
    let existing = catalog::table_names(target)?;
    let mut held = Vec::new();
    for table in existing.iter().filter(|t| TABLES.contains(&t.as_str())) {
        let n = count(target, table)?;
        if n > 0 {
            held.push(format!("{table}: {n} rows"));
        }
    }
    Ok(held)
}

/// Whether two URLs name the same database (the same file, or the same PostgreSQL URL).
fn same_database(a: &DatabaseUrl, b: &DatabaseUrl) -> bool {
    let canonical = |p: &Path| {
        std::fs::canonicalize(p)
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_owned())
    };
    match (a, b) {
        (DatabaseUrl::Sqlite(x), DatabaseUrl::Sqlite(y)) => canonical(x) == canonical(y),
        (DatabaseUrl::Postgres(x), DatabaseUrl::Postgres(y)) => x == y,
        _ => false,
    }
}

/// A non-empty `-wal` file: SQLite removes it when the last connection closes cleanly,
/// so another process has the database open (or one did not close it cleanly).
fn wal_in_use(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
}

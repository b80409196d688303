//! Which tables a copy takes, in which order, and what the database's own catalog says
//! about their columns.
//!
//! [`TABLES`] is the one list: a table that a later migration adds fails
//! `every_table_of_a_migrated_database_is_listed_parents_first` (on SQLite, and on
//! PostgreSQL when `XTC_SLACK_TEST_POSTGRES_URL` is set) until it is named here. Its
//! columns need no code: they are read from the catalog at copy time.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::rows::Kind;
use super::CopyError;
use crate::db::DbConnection;

/// Every table of the schema, parents before children (foreign keys), so rows can be
/// inserted in this order and deleted in the reverse one.
pub const TABLES: &[&str] = &[
    "organizations",
    "projects",
    "api_tokens",
    "org_slack_settings",
    "project_slack_settings",
    "slack_installations",
    "oauth_states",
    "slack_channels",
    "channel_directories",
    "load_tests",
    "run_reports",
    "baselines",
    "scenarios",
    "scenario_controls",
    "holds",
    "events",
    "deliveries",
    "slack_threads",
    "card_edits",
    "channel_pacing",
    "workspace_pacing",
    "audit_log",
    "test_messages",
    "ui_sessions",
    "slack_actions",
    "maintenance_windows",
    "maintenance_holds",
    "summaries",
    "summary_tallies",
];

/// Tables whose rows are only of use under the key they were made with: a web UI
/// session's cookie is sealed with a key derived from the service key, so under a new
/// key its row could never be used (the copy leaves them out then).
pub const KEY_BOUND: &[&str] = &["ui_sessions"];

/// Columns holding ciphertext of the service key (re-encrypted by `--to-key` through
/// the installation model, which owns their associated data).
pub const ENCRYPTED: &[(&str, &str)] = &[
    ("slack_installations", "bot_token"),
    ("slack_installations", "refresh_token"),
];

/// The bookkeeping table of diesel's migrations: the target gets its own by migrating.
const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

/// One column as the catalog describes it.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
    pub primary_key: bool,
    /// Filled from a PostgreSQL sequence (`BIGSERIAL`), reset after the copy.
    pub serial: bool,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    declared: String,
    #[diesel(sql_type = Bool)]
    primary_key: bool,
    #[diesel(sql_type = Bool)]
    serial: bool,
}

#[cfg(test)]
#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

/// The tables of the database, without diesel's migrations table.
pub fn table_names(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let rows: Vec<Name> = match conn {
        DbConnection::Postgresql(c) => diesel::sql_query(
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .load(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1",
        )
        .load(c)?,
    };
    Ok(rows
        .into_iter()
        .map(|r| r.name)
        .filter(|n| n != MIGRATIONS_TABLE)
        .collect())
}

/// The columns of `table` in their declared order; a type the copy does not know is an
/// error naming it.
pub fn columns(conn: &mut DbConnection, table: &str) -> Result<Vec<Column>, CopyError> {
    let rows: Vec<ColumnRow> = match conn {
        DbConnection::Postgresql(c) => diesel::sql_query(
            "SELECT c.column_name::text AS name, c.data_type::text AS declared, \
                EXISTS (SELECT 1 FROM information_schema.table_constraints t \
                        JOIN information_schema.key_column_usage k \
                          ON k.constraint_schema = t.constraint_schema \
                         AND k.constraint_name = t.constraint_name \
                        WHERE t.constraint_type = 'PRIMARY KEY' \
                          AND t.table_schema = c.table_schema AND t.table_name = c.table_name \
                          AND k.column_name = c.column_name) AS primary_key, \
                COALESCE(c.column_default LIKE 'nextval(%', FALSE) AS serial \
             FROM information_schema.columns c \
             WHERE c.table_schema = current_schema() AND c.table_name = $1 \
             ORDER BY c.ordinal_position",
        )
        .bind::<Text, _>(table)
        .load(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT name, type AS declared, pk > 0 AS primary_key, 0 AS serial \
             FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind::<Text, _>(table)
        .load(c)?,
    };
    if rows.is_empty() {
        return Err(CopyError::Schema(format!("table {table} does not exist")));
    }
    rows.into_iter()
        .map(|r| {
            let kind = Kind::parse(&r.declared).ok_or_else(|| {
                CopyError::Schema(format!(
                    "column {table}.{} has the type {}, which db copy does not know",
                    r.name, r.declared
                ))
            })?;
            Ok(Column {
                name: r.name,
                kind,
                primary_key: r.primary_key,
                serial: r.serial,
            })
        })
        .collect()
}

/// Every foreign key as (child table, parent table).
#[cfg(test)]
pub fn foreign_keys(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    let rows: Vec<ForeignKey> = match conn {
        DbConnection::Postgresql(c) => diesel::sql_query(
            "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent \
             FROM pg_constraint WHERE contype = 'f' \
             AND connamespace = current_schema()::regnamespace",
        )
        .load(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT m.name AS child, f.\"table\" AS parent \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
        )
        .load(c)?,
    };
    Ok(rows.into_iter().map(|r| (r.child, r.parent)).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A freshly migrated database of each backend at hand (PostgreSQL when
    /// `XTC_SLACK_TEST_POSTGRES_URL` is set), given to `check`.
    fn on_fresh_databases(check: impl Fn(&str, &mut DbConnection)) {
        for db in crate::db::scratch::migrated() {
            check(db.backend(), &mut db.url.connect().unwrap());
        }
    }

    #[test]
    fn every_table_of_a_migrated_database_is_listed_parents_first() {
        on_fresh_databases(|backend, conn| {
            let mut actual = table_names(conn).unwrap();
            actual.sort();
            let mut listed: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
            listed.sort();
            assert_eq!(
                actual, listed,
                "{backend}: db::copy::catalog::TABLES must name every table exactly once"
            );
            let position = |t: &str| TABLES.iter().position(|x| *x == t).unwrap();
            for (child, parent) in foreign_keys(conn).unwrap() {
                assert!(
                    child == parent || position(&parent) < position(&child),
                    "{backend}: {parent} must come before {child} in TABLES"
                );
            }
            // Every column has a kind the copy knows, on this backend.
            for table in TABLES {
                let cols = columns(conn, table).unwrap();
                assert!(cols.iter().any(|c| c.primary_key), "{backend}: {table}");
            }
            for (table, column) in ENCRYPTED {
                let cols = columns(conn, table).unwrap();
                assert!(cols.iter().any(|c| c.name == *column), "{table}.{column}");
            }
        });
    }

    #[test]
    fn both_backends_describe_the_same_columns() {
        // Column names and kinds as each backend declares them; integers are one kind
        // for this comparison (SQLite's INTEGER holds PostgreSQL's BIGINT ids).
        let shapes = std::sync::Mutex::new(Vec::new());
        on_fresh_databases(|backend, conn| {
            let shape: Vec<(String, Vec<(String, Kind)>)> = TABLES
                .iter()
                .map(|t| {
                    let cols = columns(conn, t).unwrap();
                    let named = cols
                        .into_iter()
                        .map(|c| {
                            let kind = if c.kind == Kind::BigInt {
                                Kind::Integer
                            } else {
                                c.kind
                            };
                            (c.name, kind)
                        })
                        .collect();
                    ((*t).to_owned(), named)
                })
                .collect();
            shapes.lock().unwrap().push((backend.to_owned(), shape));
        });
        let shapes = shapes.into_inner().unwrap();
        if let [(_, sqlite), (_, pg)] = shapes.as_slice() {
            for ((table, a), (_, b)) in sqlite.iter().zip(pg) {
                let mut a = a.clone();
                let mut b = b.clone();
                a.sort_by(|x, y| x.0.cmp(&y.0));
                b.sort_by(|x, y| x.0.cmp(&y.0));
                assert_eq!(a, b, "{table} differs between SQLite and PostgreSQL");
            }
        }
    }
}

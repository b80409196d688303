//! Rows of any table as dynamic values, read from one backend and written to the other.
//!
//! A column's kind comes from the database's own catalog (see `catalog`), so a column that
//! a later migration adds is copied without code here. Every value goes through diesel's
//! own `FromSql`/`ToSql` of its kind: a timestamp is read as a `NaiveDateTime` and written
//! in exactly the format the service writes on that backend (SQLite keeps text, PostgreSQL
//! a `TIMESTAMP`), a boolean as a `bool` (SQLite's 0/1), JSON as the text it is.

use chrono::NaiveDateTime;
use diesel::connection::LoadConnection;
use diesel::deserialize::FromSql;
use diesel::pg::{Pg, PgRowByRowLoadingMode};
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::row::{Field, Row};
use diesel::sql_types::{BigInt, Bool, Double, Integer, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::{PgConnection, QueryResult, RunQueryDsl, SqliteConnection};

use super::CopyError;

/// What a column holds, as far as copying it is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Bool,
    /// 32 bits on PostgreSQL (`INTEGER`); SQLite's integers are all 64 bits.
    Integer,
    BigInt,
    Double,
    Timestamp,
}

impl Kind {
    /// The kind of a declared type: PostgreSQL's `information_schema.columns.data_type` or
    /// SQLite's declared column type. `None` for a type the copy does not know (a later
    /// migration that introduces one fails the catalog test until it is added here).
    pub fn parse(declared: &str) -> Option<Self> {
        match declared.trim().to_ascii_lowercase().as_str() {
            "text" | "character varying" | "varchar" => Some(Self::Text),
            "boolean" | "bool" => Some(Self::Bool),
            "integer" | "int" | "int4" => Some(Self::Integer),
            "bigint" | "int8" => Some(Self::BigInt),
            "double" | "double precision" | "float8" => Some(Self::Double),
            "timestamp" | "timestamp without time zone" => Some(Self::Timestamp),
            _ => None,
        }
    }
}

/// One value of one row. No `Debug`: values include token ciphertexts and hashes.
#[derive(Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Timestamp(NaiveDateTime),
}

/// Reading and writing rows of dynamic shape on one concrete backend.
pub trait RowIo {
    /// The bind placeholder number `n` (1-based) in this backend's SQL.
    fn placeholder(n: usize) -> String;

    /// Runs `sql` (a `SELECT` of columns of `kinds`) and hands each row to `each`,
    /// streaming (not the whole table in memory). Returns the number of rows.
    fn read_rows(
        &mut self,
        sql: &str,
        kinds: &[Kind],
        each: &mut dyn FnMut(Vec<Value>) -> Result<(), CopyError>,
    ) -> Result<u64, CopyError>;

    /// Runs `sql` (an `INSERT` with one placeholder per value) with `values` bound as
    /// `kinds`, repeated row after row.
    fn insert_rows(
        &mut self,
        sql: &str,
        kinds: &[Kind],
        rows: Vec<Vec<Value>>,
    ) -> Result<usize, CopyError>;
}

type DeserializeResult<T> = diesel::deserialize::Result<T>;

fn decode_pg(kind: Kind, raw: diesel::pg::PgValue<'_>) -> DeserializeResult<Value> {
    Ok(match kind {
        Kind::Text => Value::Text(<String as FromSql<Text, Pg>>::from_sql(raw)?),
        Kind::Bool => Value::Bool(<bool as FromSql<Bool, Pg>>::from_sql(raw)?),
        Kind::Integer => Value::Int(<i32 as FromSql<Integer, Pg>>::from_sql(raw)?.into()),
        Kind::BigInt => Value::Int(<i64 as FromSql<BigInt, Pg>>::from_sql(raw)?),
        Kind::Double => Value::Double(<f64 as FromSql<Double, Pg>>::from_sql(raw)?),
        Kind::Timestamp => {
            Value::Timestamp(<NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(raw)?)
        }
    })
}

fn decode_sqlite(
    kind: Kind,
    raw: diesel::sqlite::SqliteValue<'_, '_, '_>,
) -> DeserializeResult<Value> {
    Ok(match kind {
        Kind::Text => Value::Text(<String as FromSql<Text, Sqlite>>::from_sql(raw)?),
        Kind::Bool => Value::Bool(<bool as FromSql<Bool, Sqlite>>::from_sql(raw)?),
        Kind::Integer | Kind::BigInt => {
            Value::Int(<i64 as FromSql<BigInt, Sqlite>>::from_sql(raw)?)
        }
        Kind::Double => Value::Double(<f64 as FromSql<Double, Sqlite>>::from_sql(raw)?),
        Kind::Timestamp => Value::Timestamp(
            <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(raw)?,
        ),
    })
}

/// A value that does not fit the target column's kind.
fn mismatch(kind: Kind) -> CopyError {
    CopyError::Schema(format!("a value does not fit a {kind:?} column"))
}

fn text(kind: Kind, v: Value) -> Result<Option<String>, CopyError> {
    match v {
        Value::Null => Ok(None),
        Value::Text(s) => Ok(Some(s)),
        _ => Err(mismatch(kind)),
    }
}

fn boolean(kind: Kind, v: Value) -> Result<Option<bool>, CopyError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        // SQLite may hand a boolean back as its integer.
        Value::Int(i) => Ok(Some(i != 0)),
        _ => Err(mismatch(kind)),
    }
}

fn int(kind: Kind, v: Value) -> Result<Option<i64>, CopyError> {
    match v {
        Value::Null => Ok(None),
        Value::Int(i) => Ok(Some(i)),
        _ => Err(mismatch(kind)),
    }
}

fn double(kind: Kind, v: Value) -> Result<Option<f64>, CopyError> {
    match v {
        Value::Null => Ok(None),
        Value::Double(d) => Ok(Some(d)),
        _ => Err(mismatch(kind)),
    }
}

fn timestamp(kind: Kind, v: Value) -> Result<Option<NaiveDateTime>, CopyError> {
    match v {
        Value::Null => Ok(None),
        Value::Timestamp(t) => Ok(Some(t)),
        _ => Err(mismatch(kind)),
    }
}

fn bind_pg(
    q: BoxedSqlQuery<'static, Pg, SqlQuery>,
    kind: Kind,
    v: Value,
) -> Result<BoxedSqlQuery<'static, Pg, SqlQuery>, CopyError> {
    Ok(match kind {
        Kind::Text => q.bind::<Nullable<Text>, _>(text(kind, v)?),
        Kind::Bool => q.bind::<Nullable<Bool>, _>(boolean(kind, v)?),
        Kind::Integer => {
            let n = int(kind, v)?
                .map(i32::try_from)
                .transpose()
                .map_err(|_| CopyError::Schema("an integer does not fit 32 bits".into()))?;
            q.bind::<Nullable<Integer>, _>(n)
        }
        Kind::BigInt => q.bind::<Nullable<BigInt>, _>(int(kind, v)?),
        Kind::Double => q.bind::<Nullable<Double>, _>(double(kind, v)?),
        Kind::Timestamp => q.bind::<Nullable<Timestamp>, _>(timestamp(kind, v)?),
    })
}

fn bind_sqlite(
    q: BoxedSqlQuery<'static, Sqlite, SqlQuery>,
    kind: Kind,
    v: Value,
) -> Result<BoxedSqlQuery<'static, Sqlite, SqlQuery>, CopyError> {
    Ok(match kind {
        Kind::Text => q.bind::<Nullable<Text>, _>(text(kind, v)?),
        Kind::Bool => q.bind::<Nullable<Bool>, _>(boolean(kind, v)?),
        Kind::Integer | Kind::BigInt => q.bind::<Nullable<BigInt>, _>(int(kind, v)?),
        Kind::Double => q.bind::<Nullable<Double>, _>(double(kind, v)?),
        Kind::Timestamp => q.bind::<Nullable<Timestamp>, _>(timestamp(kind, v)?),
    })
}

/// The same loop for both backends; only decoding, binding and the loading mode differ.
macro_rules! row_io {
    ($conn:ty, $backend:ty, $mode:ty, $decode:ident, $bind:ident, $placeholder:expr) => {
        impl RowIo for $conn {
            fn placeholder(n: usize) -> String {
                $placeholder(n)
            }

            fn read_rows(
                &mut self,
                sql: &str,
                kinds: &[Kind],
                each: &mut dyn FnMut(Vec<Value>) -> Result<(), CopyError>,
            ) -> Result<u64, CopyError> {
                let query = diesel::sql_query(sql);
                let cursor = LoadConnection::<$mode>::load(self, query)?;
                let mut n = 0;
                for row in cursor {
                    let row = row?;
                    let mut values = Vec::with_capacity(kinds.len());
                    for (i, kind) in kinds.iter().enumerate() {
                        let field = row.get(i).ok_or_else(|| {
                            CopyError::Schema(format!(
                                "a row has fewer than {} columns",
                                kinds.len()
                            ))
                        })?;
                        values.push(match field.value() {
                            None => Value::Null,
                            Some(raw) => $decode(*kind, raw)
                                .map_err(diesel::result::Error::DeserializationError)?,
                        });
                    }
                    each(values)?;
                    n += 1;
                }
                Ok(n)
            }

            fn insert_rows(
                &mut self,
                sql: &str,
                kinds: &[Kind],
                rows: Vec<Vec<Value>>,
            ) -> Result<usize, CopyError> {
                let mut q = diesel::sql_query(sql).into_boxed::<$backend>();
                for row in rows {
                    for (kind, v) in kinds.iter().zip(row) {
                        q = $bind(q, *kind, v)?;
                    }
                }
                let n: QueryResult<usize> = q.execute(self);
                Ok(n?)
            }
        }
    };
}

row_io!(
    PgConnection,
    Pg,
    PgRowByRowLoadingMode,
    decode_pg,
    bind_pg,
    |n: usize| format!("${n}")
);
row_io!(
    SqliteConnection,
    Sqlite,
    diesel::connection::DefaultLoadingMode,
    decode_sqlite,
    bind_sqlite,
    |_: usize| "?".to_owned()
);

/// `name` quoted as an SQL identifier (the same on both backends).
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_of_both_backends_have_a_kind() {
        assert_eq!(Kind::parse("TIMESTAMP"), Some(Kind::Timestamp));
        assert_eq!(
            Kind::parse("timestamp without time zone"),
            Some(Kind::Timestamp)
        );
        assert_eq!(Kind::parse("BOOLEAN"), Some(Kind::Bool));
        assert_eq!(Kind::parse("INTEGER"), Some(Kind::Integer));
        assert_eq!(Kind::parse("bigint"), Some(Kind::BigInt));
        assert_eq!(Kind::parse("DOUBLE"), Some(Kind::Double));
        assert_eq!(Kind::parse("double precision"), Some(Kind::Double));
        assert_eq!(Kind::parse("TEXT"), Some(Kind::Text));
        assert_eq!(Kind::parse("jsonb"), None);
        assert_eq!(Kind::parse("timestamp with time zone"), None);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quoted("deliveries"), "\"deliveries\"");
        assert_eq!(quoted("a\"b"), "\"a\"\"b\"");
    }
}

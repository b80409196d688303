//! Prepared statements that stay prepared.
//!
//! diesel keeps a prepared statement per query in each connection's cache, but only for
//! queries it deems "safe to cache", and `.first()` binds its limit. Profiles of the
//! ingest path (`xtc-slack-bench`) showed both costs:
//!
//! - `LIMIT ?`: SQLite (3.4x, as bundled) marks a statement whose `LIMIT` is a bound
//!   parameter for re-preparation whenever that parameter is bound, so every execution of
//!   a cached `.first()` statement went through SQLite's parser and planner again
//!   (measured with `sqlite3_stmt_status(…REPREPARE)`: 100 executions gave 100
//!   re-prepares with `LIMIT ?` and none with `LIMIT 1`; the ingest writer spent 38 % of
//!   its time in `sqlite3Reprepare`). [`FirstRowDsl::first_row`] writes a literal
//!   `LIMIT 1`.
//! - diesel never caches an `UPDATE`, an insert with optional values, or anything with a
//!   SQL literal in it, because such a query type may stand for many SQL texts. Each
//!   execution is then a fresh prepare (SQLite) or a Parse/plan round (PostgreSQL).
//!   [`CachedDsl::cached`] marks a statement whose SQL texts are few (the hot statements
//!   of ingest and delivery): it is cached under its SQL text, so every distinct text gets
//!   its own prepared statement and none is ever confused with another.
//!
//! `.cached()` must be the outermost wrapper, and the statement must run through the load
//! path (`load`, `get_result`): `MultiConnection` executes `execute()` statements through
//! a reference, which asks the inner query and finds it unsafe. Statements that only
//! change rows therefore say `RETURNING key` and are loaded; inserts avoid the question
//! with `treat_none_as_default_value = false` (an optional value is a bound NULL, not
//! `DEFAULT`, so the SQL text is fixed and diesel caches it by type).
//!
//! Through `DbConnection` a statement is still written out as text at each execution, cached
//! or not; the hot ones run on the backend's own connection ([`super::on_each_backend`]).

use diesel::backend::Backend;
use diesel::query_builder::{AsQuery, AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::methods::LoadQuery;
use diesel::{QueryResult, RunQueryDsl};

/// A query with ` LIMIT 1` appended (the inner query must not have a limit of its own).
#[derive(Debug, Clone, Copy, QueryId)]
pub struct LimitOne<Q>(Q);

impl<Q: Query> Query for LimitOne<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for LimitOne<Q> {}

impl<Q, DB> QueryFragment<DB> for LimitOne<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT 1");
        Ok(())
    }
}

/// A query with ` LIMIT n` written into its text, not bound (see the module's note on
/// `LIMIT ?`); with [`CachedDsl::cached`] only for a fixed `n`, else each `n` is a
/// statement of its own.
#[derive(Debug, Clone, Copy)]
pub struct LimitLiteral<Q>(Q, u32);

impl<Q> QueryId for LimitLiteral<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for LimitLiteral<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for LimitLiteral<Q> {}

impl<Q, DB> QueryFragment<DB> for LimitLiteral<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(&format!(" LIMIT {}", self.1));
        Ok(())
    }
}

/// `.limit_literal(n)`: see [`LimitLiteral`] (the inner query must not have a limit).
pub trait LimitLiteralDsl: AsQuery + Sized {
    fn limit_literal(self, n: u32) -> LimitLiteral<Self::Query> {
        LimitLiteral(self.as_query(), n)
    }
}

impl<T: AsQuery> LimitLiteralDsl for T {}

/// `.first_row(conn)`: the first row, or `NotFound` (use `.optional()` as with `.first()`).
pub trait FirstRowDsl: AsQuery + Sized {
    fn first_row<'query, U, Conn>(self, conn: &mut Conn) -> QueryResult<U>
    where
        LimitOne<Self::Query>: LoadQuery<'query, Conn, U>,
    {
        LimitOne(self.as_query()).get_result(conn)
    }
}

impl<T: AsQuery> FirstRowDsl for T {}

/// A statement cached under its SQL text although diesel would not cache its type.
/// Only for statements with a bounded set of SQL texts (never `IN` lists of varying
/// length or SQL built from input).
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(Q);

impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    // Keyed by SQL text, never by type: one type may render several texts.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Cached<Q> {}

impl<Q, DB> QueryFragment<DB> for Cached<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

/// `.cached()`: see [`Cached`].
pub trait CachedDsl: Sized {
    fn cached(self) -> Cached<Self> {
        Cached(self)
    }
}

impl<T> CachedDsl for T {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::load_tests;
    use diesel::prelude::*;
    use diesel::sqlite::Sqlite;

    #[test]
    fn limit_is_literal_not_a_bound_parameter() {
        let query = LimitOne(
            load_tests::table
                .filter(load_tests::id.eq("lt-1"))
                .select(load_tests::state)
                .as_query(),
        );
        let sql = diesel::debug_query::<Sqlite, _>(&query).to_string();
        assert!(sql.contains("LIMIT 1 --"), "{sql}");
        assert!(!sql.contains("LIMIT ?"), "{sql}");
        // Only the filter value is bound.
        assert!(sql.ends_with("binds: [\"lt-1\"]"), "{sql}");
    }

    #[test]
    fn first_row_finds_a_row_or_not_found() {
        let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
        diesel::sql_query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query("INSERT INTO t (id, v) VALUES (1, 'a'), (2, 'b')")
            .execute(&mut conn)
            .unwrap();
        diesel::table! { t (id) { id -> BigInt, v -> Text, } }
        let newest: String = t::table
            .order(t::id.desc())
            .select(t::v)
            .first_row(&mut conn)
            .unwrap();
        assert_eq!(newest, "b");
        let missing: Option<String> = t::table
            .filter(t::id.eq(3))
            .select(t::v)
            .first_row(&mut conn)
            .optional()
            .unwrap();
        assert_eq!(missing, None);
    }
}

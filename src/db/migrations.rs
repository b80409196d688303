//! The migrations of each backend, embedded in the binary and applied at start.

use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{DbConnection, DbError};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies every pending migration of the URL's backend.
pub fn run_migrations(conn: &mut DbConnection) -> Result<usize, DbError> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConnection::Postgresql(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
    };
    applied.map_err(|e| DbError::Migration(e.to_string()))
}

/// Reverts every applied migration (used by tests that check `down.sql`).
pub fn revert_all_migrations(conn: &mut DbConnection) -> Result<usize, DbError> {
    let reverted = match conn {
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConnection::Postgresql(c) => c
            .revert_all_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
    };
    reverted.map_err(|e| DbError::Migration(e.to_string()))
}

/// Reverts the latest applied migration (used by tests of what a migration does to a
/// database that has rows).
pub fn revert_last_migration(conn: &mut DbConnection) -> Result<String, DbError> {
    let reverted = match conn {
        DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS),
        DbConnection::Postgresql(c) => c.revert_last_migration(POSTGRES_MIGRATIONS),
    };
    reverted
        .map(|v| v.to_string())
        .map_err(|e| DbError::Migration(e.to_string()))
}

/// The versions of the migrations applied to the database, sorted.
pub fn applied_migrations(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.applied_migrations(),
        DbConnection::Postgresql(c) => c.applied_migrations(),
    }
    .map_err(|e| DbError::Migration(e.to_string()))?;
    let mut versions: Vec<String> = applied.iter().map(ToString::to_string).collect();
    versions.sort();
    Ok(versions)
}

/// The versions of the migrations this binary embeds for the connection's backend, sorted.
pub fn known_migrations(conn: &DbConnection) -> Result<Vec<String>, DbError> {
    use diesel::migration::MigrationSource;
    fn versions<DB: diesel::backend::Backend>(
        source: &EmbeddedMigrations,
    ) -> Result<Vec<String>, DbError>
    where
        EmbeddedMigrations: MigrationSource<DB>,
    {
        let all = MigrationSource::<DB>::migrations(source)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(all.iter().map(|m| m.name().version().to_string()).collect())
    }
    let mut versions = match conn {
        DbConnection::Sqlite(_) => versions::<diesel::sqlite::Sqlite>(&SQLITE_MIGRATIONS)?,
        DbConnection::Postgresql(_) => versions::<diesel::pg::Pg>(&POSTGRES_MIGRATIONS)?,
    };
    versions.sort();
    Ok(versions)
}

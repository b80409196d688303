//! `oauth_states`: pending OAuth installs. Only the SHA-256 of a state is stored; a state
//! is bound to an organization or project and to the API token that started the install,
//! is single-use and expires.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{api_tokens, oauth_states};
use crate::db::{now, DbConnection, FirstRowDsl};

/// A stored install state.
#[allow(dead_code, reason = "the row mirrors its table")]
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = oauth_states)]
pub struct OAuthState {
    pub state_hash: String,
    pub org_id: String,
    /// `''` for an organization-level install.
    pub project_id: String,
    pub token_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

/// Why a state cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateProblem {
    Unknown,
    Used,
    Expired,
}

impl OAuthState {
    pub fn find_by_hash(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<Self>> {
        oauth_states::table
            .find(hash)
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    pub fn insert(
        conn: &mut DbConnection,
        hash: &str,
        org: &str,
        project: &str,
        token_id: &str,
        expires_at: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::insert_into(oauth_states::table)
            .values((
                oauth_states::state_hash.eq(hash),
                oauth_states::org_id.eq(org),
                oauth_states::project_id.eq(project),
                oauth_states::token_id.eq(token_id),
                oauth_states::created_at.eq(now()),
                oauth_states::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Marks the state used, exactly once: a conditional update, so two concurrent
    /// callbacks with the same state cannot both win.
    pub fn consume(conn: &mut DbConnection, hash: &str) -> QueryResult<Result<Self, StateProblem>> {
        let now = now();
        let taken = diesel::update(
            oauth_states::table
                .filter(oauth_states::state_hash.eq(hash))
                .filter(oauth_states::used_at.is_null())
                .filter(oauth_states::expires_at.gt(now)),
        )
        .set(oauth_states::used_at.eq(now))
        .execute(conn)?;
        let row = Self::find_by_hash(conn, hash)?;
        Ok(match row {
            Some(row) if taken > 0 => Ok(row),
            Some(row) if row.used_at.is_some() => Err(StateProblem::Used),
            Some(_) => Err(StateProblem::Expired),
            None => Err(StateProblem::Unknown),
        })
    }

    /// Drops states that expired before `before` (housekeeping at each new install).
    pub fn delete_expired(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(oauth_states::table.filter(oauth_states::expires_at.lt(before)))
            .execute(conn)
    }

    /// The name of the API token that started the install, if it is still live.
    pub fn live_issuer_name(
        conn: &mut DbConnection,
        token_id: &str,
    ) -> QueryResult<Option<String>> {
        api_tokens::table
            .filter(api_tokens::id.eq(token_id))
            .filter(api_tokens::revoked_at.is_null())
            .select(api_tokens::name)
            .first_row(conn)
            .optional()
    }
}

//! `api_tokens`: bearer tokens of the API, stored as SHA-256 hashes only.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::api_tokens;
use crate::db::{now, on_each_backend, DbConnection, FirstRowDsl};
use crate::domain::access::{Principal, Role};
use crate::domain::ids::{OrgId, ProjectId};

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = api_tokens)]
pub struct ApiTokenRow {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub org_id: Option<String>,
    pub project_id: Option<String>,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewApiToken<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub org_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub token_hash: &'a str,
    pub created_at: NaiveDateTime,
}

impl ApiTokenRow {
    pub fn insert(conn: &mut DbConnection, new: &NewApiToken<'_>) -> QueryResult<()> {
        diesel::insert_into(api_tokens::table)
            .values(new)
            .execute(conn)?;
        Ok(())
    }

    /// The caller this token stands for; `None` when its scope does not parse, which makes
    /// the token as good as revoked: everything that decides whether a token is live (the
    /// token checks, the ingest transaction's confirmation) goes through here. Rows are only
    /// written by `auth::issue`, so a scope that does not parse was edited by hand (an unknown
    /// role is an error reading the row, logged and counted: `db::text_enum`).
    pub fn principal(self) -> Option<Principal> {
        let org = match self.org_id.as_deref().map(OrgId::parse) {
            Some(Ok(o)) => Some(o),
            Some(Err(_)) => return None,
            None => None,
        };
        let project = match self.project_id.as_deref().map(ProjectId::parse) {
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => return None,
            None => None,
        };
        Some(Principal {
            token_id: self.id,
            name: self.name,
            role: self.role,
            org,
            project,
        })
    }

    /// The live tokens among `hashes` (repeats allowed), by hash, with the caller each
    /// stands for: not revoked, and with a scope that parses ([`Self::principal`]). One
    /// statement; what the token checks and the ingest transaction's confirmation both ask.
    pub fn live_principals(
        conn: &mut DbConnection,
        hashes: &[&str],
    ) -> QueryResult<HashMap<String, Principal>> {
        let mut asked = hashes.to_vec();
        asked.sort_unstable();
        asked.dedup();
        let rows = Self::find_active_by_hashes(conn, &asked)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let hash = row.token_hash.clone();
                row.principal().map(|p| (hash, p))
            })
            .collect())
    }

    /// The live (not revoked) tokens among these hashes (one statement for many requests'
    /// checks, `auth::TokenChecks`).
    pub fn find_active_by_hashes(
        conn: &mut DbConnection,
        hashes: &[&str],
    ) -> QueryResult<Vec<Self>> {
        if let [hash] = hashes {
            // The usual batch when requests do not overlap: a statement of a fixed text,
            // prepared once per connection (an `IN` list is parsed and planned anew).
            return on_each_backend!(conn, c => api_tokens::table
                .filter(api_tokens::token_hash.eq(*hash))
                .filter(api_tokens::revoked_at.is_null())
                .select(Self::as_select())
                .load(c));
        }
        api_tokens::table
            .filter(api_tokens::token_hash.eq_any(hashes))
            .filter(api_tokens::revoked_at.is_null())
            .select(Self::as_select())
            .load(conn)
    }

    /// The live (not revoked) token with this id (web UI sessions keep only the id).
    pub fn find_active_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Self>> {
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::revoked_at.is_null())
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<Self>> {
        api_tokens::table
            .order(api_tokens::created_at.asc())
            .select(Self::as_select())
            .load(conn)
    }

    /// Marks the token revoked; returns false when no live token has that id.
    pub fn revoke(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
        let n = diesel::update(
            api_tokens::table
                .filter(api_tokens::id.eq(id))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(now()))
        .execute(conn)?;
        Ok(n > 0)
    }
}

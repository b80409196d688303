//! Issuing and checking API tokens. Only the SHA-256 of a token is ever stored.

use secrecy::{ExposeSecret, SecretString};

use crate::crypto::{random_token, sha256_hex};
use crate::db::models::api_token::{ApiTokenRow, NewApiToken};
use crate::db::{now, DbConnection};
use crate::domain::access::{Principal, Role};
use crate::domain::ids::{OrgId, ProjectId};

/// Every API token starts with this, so leaked tokens are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "xtcs_";

/// A freshly issued token: the only moment its clear text exists.
pub struct IssuedToken {
    pub id: String,
    pub token: SecretString,
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("an admin token needs --org (and optionally --project)")]
    AdminWithoutOrg,
    #[error("--project needs --org")]
    ProjectWithoutOrg,
    #[error("a service token works for every organization; do not pass --org or --project")]
    ServiceWithScope,
    #[error("--name must not be empty")]
    EmptyName,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Issues a token for `role` and scope.
pub fn issue(
    conn: &mut DbConnection,
    role: Role,
    org: Option<&OrgId>,
    project: Option<&ProjectId>,
    name: &str,
) -> Result<IssuedToken, IssueError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(IssueError::EmptyName);
    }
    match (role, org, project) {
        (Role::Service, None, None) => {}
        (Role::Service, _, _) => return Err(IssueError::ServiceWithScope),
        (Role::Admin, None, None) => return Err(IssueError::AdminWithoutOrg),
        (Role::Admin, None, Some(_)) => return Err(IssueError::ProjectWithoutOrg),
        (Role::Admin, Some(_), _) => {}
    }
    let token = random_token(TOKEN_PREFIX);
    let hash = sha256_hex(token.expose_secret());
    let id = format!("tok_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    ApiTokenRow::insert(
        conn,
        &NewApiToken {
            id: &id,
            name,
            role: role.as_str(),
            org_id: org.map(OrgId::as_str),
            project_id: project.map(ProjectId::as_str),
            token_hash: &hash,
            created_at: now(),
        },
    )?;
    Ok(IssuedToken { id, token })
}

/// The principal of a bearer token, or `None` for unknown and revoked tokens.
pub fn authenticate(
    conn: &mut DbConnection,
    bearer: &str,
) -> diesel::QueryResult<Option<Principal>> {
    if !bearer.starts_with(TOKEN_PREFIX) || bearer.len() > 200 {
        return Ok(None);
    }
    let Some(row) = ApiTokenRow::find_active_by_hash(conn, &sha256_hex(bearer))? else {
        return Ok(None);
    };
    Ok(principal_of(row))
}

/// The principal of a live token found by its id (the web UI's session holds only the
/// id), or `None` once the token is revoked or gone.
pub fn principal_by_token_id(
    conn: &mut DbConnection,
    token_id: &str,
) -> diesel::QueryResult<Option<Principal>> {
    Ok(ApiTokenRow::find_active_by_id(conn, token_id)?.and_then(principal_of))
}

fn principal_of(row: ApiTokenRow) -> Option<Principal> {
    // Rows are only written by `issue`, so these parse; a hand-edited row denies access.
    let role = Role::parse(&row.role)?;
    let org = match row.org_id.as_deref().map(OrgId::parse) {
        Some(Ok(o)) => Some(o),
        Some(Err(_)) => return None,
        None => None,
    };
    let project = match row.project_id.as_deref().map(ProjectId::parse) {
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => return None,
        None => None,
    };
    Some(Principal {
        token_id: row.id,
        name: row.name,
        role,
        org,
        project,
    })
}

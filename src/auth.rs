//! Issuing and checking API tokens. Only the SHA-256 of a token is ever stored.

use secrecy::{ExposeSecret, SecretString};

use crate::crypto::{random_token, sha256_hex};
use crate::db::models::api_token::{ApiTokenRow, NewApiToken};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::db::{next_batch, now, Db, DbConnection, DbError};
use crate::domain::access::{Principal, Role, TokenHash};
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
            role,
            org_id: org.map(OrgId::as_str),
            project_id: project.map(ProjectId::as_str),
            token_hash: &hash,
            created_at: now(),
        },
    )?;
    Ok(IssuedToken { id, token })
}

/// The stored form of a bearer token, or `None` for one that cannot be ours.
pub fn token_hash(bearer: &str) -> Option<TokenHash> {
    (bearer.starts_with(TOKEN_PREFIX) && bearer.len() <= 200)
        .then(|| TokenHash::new(sha256_hex(bearer)))
}

/// Most token checks answered by one statement.
const MAX_CHECKS: usize = 256;
/// Most tokens remembered as live ([`TokenChecks::seen_live`]); past it the memory starts
/// over. A deployment has a handful (the orchestrator's, the scheduler's, its admins').
const MAX_REMEMBERED: usize = 1_024;

/// The bearer-token checks of API requests, answered together: one thread takes every
/// check queued while its previous statement ran and answers them with one statement.
/// Under load most requests carry the same few tokens (the orchestrator's, the
/// scheduler's), and a statement per request was the larger part of the database's work
/// on PostgreSQL. A check's statement always begins after the check was queued, so a token
/// revoked (by `xtc-slack token revoke`, another process) stops working for every request
/// that arrives after the revocation committed.
///
/// The checks also remember which tokens they found live, and with what principal
/// ([`TokenChecks::seen_live`]). No check is answered from that memory. The event endpoints
/// let a remembered token in on it (its principal decides their role check: a token's row
/// changes only by its revocation) and the event's own transaction confirms the token live
/// before anything is written (`pipeline::writer`); a refusal on the way is answered after a
/// check (`http::auth::EventCaller`). That keeps the guarantee above and takes two thread
/// hops (to this thread and back) off the path of every event.
#[derive(Clone)]
pub struct TokenChecks {
    queue: std::sync::mpsc::Sender<Check>,
    live: Arc<Mutex<HashMap<TokenHash, Principal>>>,
}

struct Check {
    hash: TokenHash,
    reply: tokio::sync::oneshot::Sender<Result<Option<Principal>, DbError>>,
}

impl TokenChecks {
    /// Starts the checking thread on `db`'s pool; it ends when the last handle is dropped.
    pub fn start(db: Db) -> std::io::Result<Self> {
        let (queue, checks) = std::sync::mpsc::channel::<Check>();
        let live = Arc::new(Mutex::new(HashMap::new()));
        let remembered = live.clone();
        std::thread::Builder::new()
            .name("xtc-token-checks".into())
            .spawn(move || {
                let checks = Mutex::new(checks);
                let mut conn = None;
                while let Some(batch) = next_batch(&checks, MAX_CHECKS) {
                    answer(&db, &mut conn, batch, &remembered);
                }
            })?;
        Ok(Self { queue, live })
    }

    /// The principal of a bearer token, or `None` for unknown and revoked tokens.
    pub async fn principal(&self, bearer: &str) -> Result<Option<Principal>, DbError> {
        match token_hash(bearer) {
            Some(hash) => self.principal_of_hash(hash).await,
            None => Ok(None),
        }
    }

    /// The principal of a token by its stored form, checked now.
    pub async fn principal_of_hash(&self, hash: TokenHash) -> Result<Option<Principal>, DbError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue
            .send(Check { hash, reply })
            .map_err(|_| DbError::Canceled)?;
        answer.await.unwrap_or(Err(DbError::Canceled))
    }

    /// The principal a check last found for this token, without a check: the token was
    /// live then and may have been revoked since. Whoever acts on it must confirm it live
    /// where the action is written (the event endpoints: `pipeline::writer`).
    pub fn seen_live(&self, hash: &TokenHash) -> Option<Principal> {
        self.remembered().get(hash).cloned()
    }

    /// Forgets a token found revoked elsewhere (by an event's transaction).
    pub fn forget(&self, hash: &TokenHash) {
        self.remembered().remove(hash);
    }

    /// The tokens found live (a panic while the lock was held leaves a map still usable).
    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, Principal>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Answers a batch of checks with one statement, on the thread's own connection `conn`,
/// and remembers in `live` what it found.
fn answer(
    db: &Db,
    conn: &mut Option<DbConnection>,
    batch: Vec<Check>,
    live: &Mutex<HashMap<TokenHash, Principal>>,
) {
    let started = std::time::Instant::now();
    let hashes: Vec<&str> = batch.iter().map(|c| c.hash.as_str()).collect();
    let found = find_live(db, conn, &hashes);
    let took = started.elapsed();
    if crate::db::is_slow(took) {
        tracing::warn!(
            took_ms = took.as_millis() as u64,
            checks = batch.len(),
            "slow token check"
        );
    }
    match found {
        Ok(found) => {
            let mut live = live.lock().unwrap_or_else(|e| e.into_inner());
            for check in batch {
                let principal = found.get(check.hash.as_str()).cloned();
                match &principal {
                    Some(p) => {
                        if live.len() >= MAX_REMEMBERED && !live.contains_key(&check.hash) {
                            live.clear();
                        }
                        live.insert(check.hash, p.clone());
                    }
                    None => {
                        live.remove(&check.hash);
                    }
                }
                let _ = check.reply.send(Ok(principal));
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for check in batch {
                let _ = check.reply.send(Err(DbError::Shared(e.clone())));
            }
        }
    }
}

/// The live tokens among `hashes` (`ApiTokenRow::live_principals`), read on `conn`: the
/// checking thread's own connection, opened on first use and kept, not one lent by the pool
/// for each batch (a PostgreSQL pool tests every connection it lends with `SELECT 1`: a
/// round trip more on every request).
/// When the statement fails on a kept connection (it died with a database restart, say),
/// the connection is dropped and the statement runs once more on a new one, so a restart
/// costs no request its answer.
fn find_live(
    db: &Db,
    conn: &mut Option<DbConnection>,
    hashes: &[&str],
) -> Result<HashMap<String, Principal>, DbError> {
    if let Some(kept) = conn.as_mut() {
        match ApiTokenRow::live_principals(kept, hashes) {
            Ok(found) => return Ok(found),
            Err(e) => {
                tracing::info!(error = %e, "token check: reconnecting to the database");
                *conn = None;
            }
        }
    }
    let mut fresh = db.url().connect()?;
    let found = ApiTokenRow::live_principals(&mut fresh, hashes)?;
    *conn = Some(fresh);
    Ok(found)
}

/// The principal of a live token found by its id (the web UI's session holds only the
/// id), or `None` once the token is revoked or gone.
pub fn principal_by_token_id(
    conn: &mut DbConnection,
    token_id: &str,
) -> diesel::QueryResult<Option<Principal>> {
    Ok(ApiTokenRow::find_active_by_id(conn, token_id)?.and_then(ApiTokenRow::principal))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{run_migrations, DatabaseUrl};

    fn database() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("tokens.db"));
        run_migrations(&mut url.connect().unwrap()).unwrap();
        let db = Db::new(url, 2).unwrap();
        (dir, db)
    }

    fn issued(db: &Db, role: Role, org: Option<&str>) -> (String, String) {
        let org = org.map(|o| OrgId::parse(o).unwrap());
        let t = issue(&mut db.get().unwrap(), role, org.as_ref(), None, "test").unwrap();
        (t.id, t.token.expose_secret().to_owned())
    }

    /// One statement answers a batch that mixes live, revoked, unknown and repeated
    /// tokens, each with its own principal.
    #[test]
    fn a_batch_of_checks_answers_each_token_with_its_own_principal() {
        let (_dir, db) = database();
        let (service_id, service) = issued(&db, Role::Service, None);
        let (admin_id, admin) = issued(&db, Role::Admin, Some("acme"));
        let (revoked_id, revoked) = issued(&db, Role::Service, None);
        assert!(ApiTokenRow::revoke(&mut db.get().unwrap(), &revoked_id).unwrap());
        let unknown = format!("{TOKEN_PREFIX}{}", "A".repeat(43));

        let mut answers = Vec::new();
        let batch = [&service, &admin, &revoked, &unknown, &service]
            .iter()
            .map(|bearer| {
                let (reply, answer) = tokio::sync::oneshot::channel();
                answers.push(answer);
                Check {
                    hash: token_hash(bearer).unwrap(),
                    reply,
                }
            })
            .collect();
        answer(&db, &mut None, batch, &Mutex::default());
        let got: Vec<Option<(String, Role)>> = answers
            .into_iter()
            .map(|mut a| a.try_recv().unwrap().unwrap().map(|p| (p.token_id, p.role)))
            .collect();
        assert_eq!(
            got,
            vec![
                Some((service_id.clone(), Role::Service)),
                Some((admin_id, Role::Admin)),
                None,
                None,
                Some((service_id, Role::Service)),
            ]
        );
    }

    /// A check that begins after a revocation committed sees it (what the checks remember
    /// answers no check), and forgets the token; what cannot be one of our tokens is
    /// refused without a statement.
    #[actix_web::test]
    async fn a_token_revoked_between_two_checks_is_refused_by_the_second() {
        let (_dir, db) = database();
        let (id, token) = issued(&db, Role::Service, None);
        let checks = TokenChecks::start(db.clone()).unwrap();
        let hash = token_hash(&token).unwrap();
        assert!(checks.seen_live(&hash).is_none());
        let first = checks.principal(&token).await.unwrap();
        assert_eq!(first.as_ref().map(|p| &p.token_id), Some(&id));
        assert_eq!(checks.seen_live(&hash), first);
        assert!(ApiTokenRow::revoke(&mut db.get().unwrap(), &id).unwrap());
        assert_eq!(checks.principal(&token).await.unwrap(), None);
        assert!(checks.seen_live(&hash).is_none());
        assert_eq!(checks.principal("Bearer-less garbage").await.unwrap(), None);
        assert_eq!(checks.principal(&"x".repeat(500)).await.unwrap(), None);
    }
}

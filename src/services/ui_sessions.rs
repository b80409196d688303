//! The web UI's sign-in sessions as rows of `ui_sessions` (by the hash of the session id),
//! so that signing out ends every copy of the cookie; and who a live session belongs to.

use chrono::NaiveDateTime;

use super::Services;
use crate::db::models::ui_session::UiSession;
use crate::db::DbError;
use crate::domain::access::Principal;

/// Records a new session of `token_id` until `expires_at` (and forgets expired ones).
pub async fn record(
    services: &Services,
    id_hash: String,
    token_id: String,
    expires_at: NaiveDateTime,
) -> Result<(), DbError> {
    services
        .db
        .run(move |conn| {
            UiSession::delete_expired(conn)?;
            UiSession::insert(conn, &id_hash, &token_id, expires_at)?;
            Ok(())
        })
        .await
}

/// Ends the session (signing out).
pub async fn end(services: &Services, id_hash: String) -> Result<(), DbError> {
    services
        .db
        .run(move |conn| {
            UiSession::delete(conn, &id_hash)?;
            Ok(())
        })
        .await
}

/// Whether the session is live and still `token_id`'s, and the token's principal now
/// (`None` once the token is revoked).
pub async fn check(
    services: &Services,
    id_hash: String,
    token_id: String,
) -> Result<(bool, Option<Principal>), DbError> {
    services
        .db
        .run(move |conn| {
            let live =
                UiSession::find_live(conn, &id_hash)?.is_some_and(|s| s.token_id == token_id);
            let found = crate::auth::principal_by_token_id(conn, &token_id)?;
            Ok((live, found))
        })
        .await
}

//! "Remove Slack Integration": the installation's data is deleted and its token revoked
//! at Slack (best effort).

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::super::Services;
use crate::crypto::Cipher;
use crate::db::models::audit::AuditEntry;
use crate::db::models::installation::Installation;
use crate::db::{write_tx, DbConnection};
use crate::domain::access::Principal;

use super::*;

/// What `DELETE …/slack/integration` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// There was no installation.
    NothingInstalled,
    /// Slack revoked the token.
    Revoked,
    /// Another installation uses the same token; revoking it would break that one.
    SkippedShared,
    /// Slack could not revoke the token (the local data is removed anyway).
    Failed(String),
}

impl RevokeOutcome {
    pub fn as_str(&self) -> String {
        match self {
            Self::NothingInstalled => "nothing_installed".to_owned(),
            Self::Revoked => "revoked".to_owned(),
            Self::SkippedShared => "skipped_shared_token".to_owned(),
            Self::Failed(code) => format!("failed: {code}"),
        }
    }
}

/// Whether another installation holds the same bot token (same app, same workspace).
pub(crate) fn token_shared(
    conn: &mut DbConnection,
    cipher: &Cipher,
    inst: &Installation,
    token: &SecretString,
) -> diesel::QueryResult<bool> {
    Ok(Installation::find_by_team(conn, &inst.team_id)?
        .iter()
        .filter(|o| o.id != inst.id)
        .filter_map(|o| o.decrypt_token(cipher).ok())
        .any(|t| t.expose_secret() == token.expose_secret()))
}

/// Removes the installation of `scope` and revokes its token at Slack (best effort: the
/// local data is removed even when Slack fails; the outcome says what happened).
pub async fn remove_integration(
    services: &Services,
    actor: &Principal,
    scope: &Scope,
) -> Result<RevokeOutcome, ConfigError> {
    let (s, cipher) = (scope.clone(), services.cipher.clone());
    let found = services
        .db
        .run(move |conn| {
            ensure_exists(conn, &s)?;
            let Some(inst) = Installation::find_by_scope(conn, s.org().as_str(), s.project_str())?
            else {
                return Ok::<_, ConfigError>(None);
            };
            let token = inst.decrypt_token(&cipher).ok();
            let shared = match &token {
                Some(t) => token_shared(conn, &cipher, &inst, t)?,
                None => false,
            };
            Ok(Some((inst, token, shared)))
        })
        .await?;
    let Some((inst, token, shared)) = found else {
        return Ok(RevokeOutcome::NothingInstalled);
    };
    let outcome = match (&token, shared) {
        (_, true) => RevokeOutcome::SkippedShared,
        (None, false) => RevokeOutcome::Failed("token_unreadable".to_owned()),
        (Some(t), false) => match services.slack.auth_revoke(t).await {
            Ok(()) => RevokeOutcome::Revoked,
            Err(e) => {
                tracing::warn!(code = e.code(), installation = %inst.id, "auth.revoke failed; removing the installation anyway");
                RevokeOutcome::Failed(e.code().to_owned())
            }
        },
    };
    let (actor, detail) = (actor.actor(), outcome.as_str());
    let removed = services
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                Installation::delete(c, &inst.id)?;
                AuditEntry::insert(
                    c,
                    &actor,
                    &inst.org_id,
                    inst.project(),
                    "slack_integration.remove",
                    &json!({
                        "installation_id": inst.id,
                        "team_id": inst.team_id,
                        "team_name": inst.team_name,
                        "revoke": detail,
                    }),
                )
            })
            .map_err(ConfigError::from)
        })
        .await;
    settled(services, scope.org().as_str(), removed)?;
    Ok(outcome)
}

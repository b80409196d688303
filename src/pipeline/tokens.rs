//! Token rotation. A Slack app with token rotation on gets bot tokens that expire after 12
//! hours, each with a single-use refresh token. Tokens are refreshed ahead of expiry (the
//! sender looks every [`REFRESH_CHECK_INTERVAL`]) and once more when Slack answers
//! `token_expired`, before the integration is called broken. Each refresh stores the new
//! pair (both encrypted); the old refresh token is dead from then on.
//!
//! Several instances (or the sender and a delivery) may refresh the same installation at
//! once: the save is a compare-and-swap on the stored refresh token, and the loser, whose
//! refresh token Slack has retired (`invalid_refresh_token`), uses the winner's token.

use std::time::Duration;

use chrono::NaiveDateTime;
use secrecy::SecretString;

use crate::crypto::Cipher;
use crate::db::models::installation::Installation;
use crate::db::{now, write_tx, Db, DbError};
use crate::slack::{SlackApi, SlackError};

/// Refresh a token this long before it expires (Slack's own SDK uses two hours).
pub const REFRESH_AHEAD: chrono::Duration = chrono::Duration::hours(2);
/// How often the sender looks for tokens to refresh.
pub const REFRESH_CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// `expires_in` when Slack does not say (12 hours).
const DEFAULT_LIFETIME_SECS: i64 = 43_200;

/// The Slack app's credentials (a refresh needs them).
#[derive(Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

/// What a refresh needs.
#[derive(Clone)]
pub struct TokenSource {
    pub db: Db,
    pub slack: SlackApi,
    pub cipher: Cipher,
    /// `None` when the app's credentials are not configured (nothing can be refreshed).
    pub credentials: Option<ClientCredentials>,
}

/// Why a token could not be refreshed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("the installation does not rotate tokens")]
    NotRotating,
    #[error("the Slack app's credentials are not configured")]
    NoCredentials,
    #[error("the stored refresh token cannot be decrypted")]
    Unreadable,
    #[error("Slack refused the refresh: {0}")]
    Slack(#[from] SlackError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Whether `inst`'s bot token expires before `at`.
pub fn expires_before(inst: &Installation, at: NaiveDateTime) -> bool {
    inst.refresh_token.is_some() && inst.token_expires_at.is_some_and(|e| e <= at)
}

/// Whether [`TokenSource::token`] refreshes `inst`'s token pair (a call to Slack and a
/// write) before it answers: its token expires within a minute.
pub fn refreshes_first(inst: &Installation) -> bool {
    expires_before(inst, now() + chrono::Duration::minutes(1))
}

impl TokenSource {
    /// A usable bot token of `inst`: the stored one, refreshed first when it expires
    /// within a minute ([`refreshes_first`]).
    pub async fn token(&self, inst: &Installation) -> Result<SecretString, RefreshError> {
        if refreshes_first(inst) {
            return self.refresh(inst).await;
        }
        inst.decrypt_token(&self.cipher)
            .map_err(|_| RefreshError::Unreadable)
    }

    /// Refreshes `inst`'s token pair now; returns the new bot token.
    pub async fn refresh(&self, inst: &Installation) -> Result<SecretString, RefreshError> {
        let creds = self
            .credentials
            .as_ref()
            .ok_or(RefreshError::NoCredentials)?;
        let refresh = inst
            .decrypt_refresh_token(&self.cipher)
            .ok_or(RefreshError::NotRotating)?
            .map_err(|_| RefreshError::Unreadable)?;
        let answer = self
            .slack
            .oauth_v2_refresh(&creds.client_id, &creds.client_secret, &refresh)
            .await;
        let access = match answer {
            Ok(a) => a,
            Err(e) if e.code() == "invalid_refresh_token" => {
                // Another refresh may have won the race: its pair is stored by now.
                return self
                    .refreshed_elsewhere(inst)
                    .await?
                    .ok_or(RefreshError::Slack(e));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(new_refresh) = access.refresh_token.clone() else {
            return Err(RefreshError::NotRotating);
        };
        let lifetime = access
            .expires_in
            .and_then(|s| i64::try_from(s).ok())
            .unwrap_or(DEFAULT_LIFETIME_SECS);
        let expires_at = now() + chrono::Duration::seconds(lifetime);
        let (id, old, cipher, token) = (
            inst.id.clone(),
            inst.refresh_token.clone(),
            self.cipher.clone(),
            access.access_token.clone(),
        );
        self.db
            .run(move |conn| {
                write_tx(conn, |c| {
                    Installation::save_rotated_tokens(
                        c,
                        &cipher,
                        &id,
                        old.as_deref(),
                        &token,
                        &new_refresh,
                        expires_at,
                    )
                })
                .map_err(DbError::from)
            })
            .await?;
        tracing::info!(installation = %inst.id, "Slack token refreshed");
        Ok(access.access_token)
    }

    /// The bot token stored by a concurrent refresh, if the row changed since `inst`.
    async fn refreshed_elsewhere(
        &self,
        inst: &Installation,
    ) -> Result<Option<SecretString>, DbError> {
        let id = inst.id.clone();
        let current = self
            .db
            .run(move |conn| Installation::find_by_id(conn, &id).map_err(DbError::from))
            .await?;
        Ok(current
            .filter(|c| c.refresh_token != inst.refresh_token)
            .and_then(|c| c.decrypt_token(&self.cipher).ok()))
    }

    /// Refreshes every active installation whose token expires within [`REFRESH_AHEAD`].
    pub async fn refresh_due(&self) -> Result<usize, DbError> {
        if self.credentials.is_none() {
            return Ok(0);
        }
        let horizon = now() + REFRESH_AHEAD;
        let due = self
            .db
            .run(move |conn| Installation::list_expiring(conn, horizon).map_err(DbError::from))
            .await?;
        let mut refreshed = 0;
        for inst in due {
            match self.refresh(&inst).await {
                Ok(_) => refreshed += 1,
                Err(e) => {
                    tracing::warn!(installation = %inst.id, error = %e, "could not refresh a Slack token ahead of expiry")
                }
            }
        }
        Ok(refreshed)
    }
}

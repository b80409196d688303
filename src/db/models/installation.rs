//! `slack_installations`: one Slack installation per organization (`project_id = ''`)
//! or per project. The bot token is stored only as ciphertext, bound to the row's id.

use chrono::{NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use secrecy::SecretString;

use crate::crypto::{Cipher, CryptoError};
use crate::db::schema::slack_installations;
use crate::db::{now, DbConnection, FirstRowDsl};
use crate::domain::settings::{Integration, IntegrationStatus};

/// `project_id` of organization-level rows.
pub const ORG_LEVEL: &str = "";

/// A stored installation. `bot_token` is ciphertext; use [`Installation::decrypt_token`].
#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = slack_installations)]
pub struct Installation {
    pub id: String,
    pub org_id: String,
    /// `''` for the organization itself.
    pub project_id: String,
    pub team_id: String,
    pub team_name: String,
    pub app_id: String,
    pub bot_user_id: String,
    pub scopes: String,
    pub bot_token: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub installed_by: String,
    pub installed_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl std::fmt::Debug for Installation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Even ciphertext stays out of logs.
        f.debug_struct("Installation")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("project_id", &self.project_id)
            .field("team_id", &self.team_id)
            .field("team_name", &self.team_name)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A new installation; the token is encrypted by [`Installation::insert`].
pub struct NewInstallation<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub project_id: &'a str,
    pub team_id: &'a str,
    pub team_name: &'a str,
    pub app_id: &'a str,
    pub bot_user_id: &'a str,
    pub scopes: &'a str,
    pub bot_token: &'a SecretString,
    pub installed_by: &'a str,
}

impl Installation {
    pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Self>> {
        slack_installations::table
            .find(id)
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// The installation of an organization (`project = None`) or of one project.
    pub fn find_by_scope(
        conn: &mut DbConnection,
        org: &str,
        project: Option<&str>,
    ) -> QueryResult<Option<Self>> {
        slack_installations::table
            .filter(slack_installations::org_id.eq(org))
            .filter(slack_installations::project_id.eq(project.unwrap_or(ORG_LEVEL)))
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }

    /// Every installation into one Slack workspace.
    pub fn find_by_team(conn: &mut DbConnection, team_id: &str) -> QueryResult<Vec<Self>> {
        slack_installations::table
            .filter(slack_installations::team_id.eq(team_id))
            .select(Self::as_select())
            .load(conn)
    }

    /// Every installation (channel health checks walk them).
    pub fn list_all(conn: &mut DbConnection) -> QueryResult<Vec<Self>> {
        slack_installations::table
            .order(slack_installations::id.asc())
            .select(Self::as_select())
            .load(conn)
    }

    /// Stores a new active installation, encrypting the token with the row id as
    /// associated data (a ciphertext copied into another row does not decrypt there).
    pub fn insert(
        conn: &mut DbConnection,
        cipher: &Cipher,
        new: &NewInstallation<'_>,
    ) -> QueryResult<()> {
        let now = now();
        diesel::insert_into(slack_installations::table)
            .values((
                slack_installations::id.eq(new.id),
                slack_installations::org_id.eq(new.org_id),
                slack_installations::project_id.eq(new.project_id),
                slack_installations::team_id.eq(new.team_id),
                slack_installations::team_name.eq(new.team_name),
                slack_installations::app_id.eq(new.app_id),
                slack_installations::bot_user_id.eq(new.bot_user_id),
                slack_installations::scopes.eq(new.scopes),
                slack_installations::bot_token.eq(cipher.encrypt(new.bot_token, new.id)),
                slack_installations::status.eq(IntegrationStatus::Active.as_str()),
                slack_installations::status_reason.eq(None::<String>),
                slack_installations::installed_by.eq(new.installed_by),
                slack_installations::installed_at.eq(now),
                slack_installations::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Saves the mutable fields (team name, status).
    pub fn save(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        diesel::update(slack_installations::table.find(&self.id))
            .set((
                slack_installations::team_name.eq(&self.team_name),
                slack_installations::status.eq(&self.status),
                slack_installations::status_reason.eq(&self.status_reason),
                slack_installations::updated_at.eq(now()),
            ))
            .execute(conn)
    }

    /// Deletes the row and with it every piece of stored installation data.
    pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
        diesel::delete(slack_installations::table.find(id)).execute(conn)
    }

    /// Marks one installation revoked (Slack refused its token, or it was uninstalled).
    pub fn mark_revoked(conn: &mut DbConnection, id: &str, reason: &str) -> QueryResult<usize> {
        diesel::update(slack_installations::table.find(id))
            .set((
                slack_installations::status.eq(IntegrationStatus::Revoked.as_str()),
                slack_installations::status_reason.eq(reason),
                slack_installations::updated_at.eq(now()),
            ))
            .execute(conn)
    }

    /// Marks every installation into workspace `team_id` revoked (`app_uninstalled`,
    /// `tokens_revoked`).
    pub fn mark_revoked_by_team(
        conn: &mut DbConnection,
        team_id: &str,
        reason: &str,
    ) -> QueryResult<usize> {
        diesel::update(slack_installations::table.filter(slack_installations::team_id.eq(team_id)))
            .set((
                slack_installations::status.eq(IntegrationStatus::Revoked.as_str()),
                slack_installations::status_reason.eq(reason),
                slack_installations::updated_at.eq(now()),
            ))
            .execute(conn)
    }

    /// The clear-text bot token. Keep it in the `SecretString`; never log it.
    pub fn decrypt_token(&self, cipher: &Cipher) -> Result<SecretString, CryptoError> {
        cipher.decrypt(&self.bot_token, &self.id)
    }

    /// The project this installation belongs to, `None` at organization level.
    pub fn project(&self) -> Option<&str> {
        (self.project_id != ORG_LEVEL).then_some(self.project_id.as_str())
    }

    pub fn status(&self) -> IntegrationStatus {
        IntegrationStatus::parse(&self.status)
    }

    /// The installation as settings resolution sees it (no token).
    pub fn to_integration(&self) -> Integration {
        Integration {
            installation_id: self.id.clone(),
            team_id: self.team_id.clone(),
            team_name: self.team_name.clone(),
            installed_at: Utc.from_utc_datetime(&self.installed_at),
            status: self.status(),
            status_reason: self.status_reason.clone(),
        }
    }
}

//! `slack_installations`: one Slack installation per organization (`project_id = ''`)
//! or per project. The bot token is stored only as ciphertext, bound to the row's id.

use chrono::{NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use secrecy::SecretString;

use crate::crypto::{Cipher, CryptoError};
use crate::db::schema::slack_installations;
use crate::db::{now, on_each_backend, DbConnection, FirstRowDsl};
use crate::domain::settings::{Integration, IntegrationStatus};

/// Associated data of a refresh token's ciphertext: bound to the row, and distinct from
/// the bot token's, so one cannot be swapped for the other.
fn refresh_aad(id: &str) -> String {
    format!("{id}:refresh")
}

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
    pub status: IntegrationStatus,
    pub status_reason: Option<String>,
    pub installed_by: String,
    pub installed_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Ciphertext of the refresh token (apps with token rotation), bound like `bot_token`.
    pub refresh_token: Option<String>,
    /// When `bot_token` expires (apps with token rotation).
    pub token_expires_at: Option<NaiveDateTime>,
    /// Since when Slack has been failing (5xx, timeouts) for this installation.
    pub failing_since: Option<NaiveDateTime>,
    /// While failing: when the next probe may go out.
    pub next_probe_at: Option<NaiveDateTime>,
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
    /// With token rotation: the refresh token and when the bot token expires.
    pub rotation: Option<(&'a SecretString, NaiveDateTime)>,
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

    /// The installation `id` with the names of organization `org` and of its project
    /// `project` (each `None` when gone), in one statement: what every delivery loads before
    /// it is sent, on the hot path (on PostgreSQL one round trip instead of two). `None`: no
    /// such installation.
    #[allow(clippy::type_complexity)]
    pub fn find_with_names(
        conn: &mut DbConnection,
        id: &str,
        org: &str,
        project: &str,
    ) -> QueryResult<Option<(Self, Option<String>, Option<String>)>> {
        use crate::db::schema::{organizations, projects};
        // On the hand-off's path: on the backend's own connection (`db::on_each_backend`).
        on_each_backend!(conn, c => slack_installations::table
            // Owned: a join's condition is checked with 'static bounds.
            .left_join(organizations::table.on(organizations::id.eq(org.to_owned())))
            .left_join(
                projects::table.on(projects::org_id
                    .eq(organizations::id)
                    .and(projects::id.eq(project.to_owned()))),
            )
            .filter(slack_installations::id.eq(id))
            .select((
                Self::as_select(),
                organizations::name.nullable(),
                projects::name.nullable(),
            ))
            .first_row(c))
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

    /// The project-level installations of those of `projects` in `org` that have one.
    pub fn find_by_projects(
        conn: &mut DbConnection,
        org: &str,
        projects: &[&str],
    ) -> QueryResult<Vec<Self>> {
        slack_installations::table
            .filter(slack_installations::org_id.eq(org))
            .filter(slack_installations::project_id.eq_any(projects))
            .select(Self::as_select())
            .load(conn)
    }

    /// Every installation into one Slack workspace.
    pub fn find_by_team(conn: &mut DbConnection, team_id: &str) -> QueryResult<Vec<Self>> {
        slack_installations::table
            .filter(slack_installations::team_id.eq(team_id))
            .select(Self::as_select())
            .load(conn)
    }

    /// Whether the workspace has an active installation (who may act on our messages).
    pub fn team_is_active(conn: &mut DbConnection, team_id: &str) -> QueryResult<bool> {
        Ok(Self::find_by_team(conn, team_id)?
            .into_iter()
            .any(|i| i.status() == IntegrationStatus::Active))
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
                slack_installations::status.eq(IntegrationStatus::Active),
                slack_installations::status_reason.eq(None::<String>),
                slack_installations::installed_by.eq(new.installed_by),
                slack_installations::installed_at.eq(now),
                slack_installations::updated_at.eq(now),
                slack_installations::refresh_token.eq(new
                    .rotation
                    .map(|(r, _)| cipher.encrypt(r, &refresh_aad(new.id)))),
                slack_installations::token_expires_at.eq(new.rotation.map(|(_, at)| at)),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Stores a rotated token pair (Slack retires the refresh token it was given), unless
    /// another refresh stored one first (`previous` is the refresh token ciphertext the
    /// refresh started from). Returns whether it stored.
    pub fn save_rotated_tokens(
        conn: &mut DbConnection,
        cipher: &Cipher,
        id: &str,
        previous: Option<&str>,
        bot_token: &SecretString,
        refresh_token: &SecretString,
        expires_at: NaiveDateTime,
    ) -> QueryResult<bool> {
        let Some(previous) = previous else {
            return Ok(false);
        };
        let saved = diesel::update(
            slack_installations::table
                .find(id)
                .filter(slack_installations::refresh_token.eq(previous)),
        )
        .set((
            slack_installations::bot_token.eq(cipher.encrypt(bot_token, id)),
            slack_installations::refresh_token
                .eq(Some(cipher.encrypt(refresh_token, &refresh_aad(id)))),
            slack_installations::token_expires_at.eq(Some(expires_at)),
            slack_installations::updated_at.eq(now()),
        ))
        .execute(conn)?;
        Ok(saved > 0)
    }

    /// Stores the row's tokens encrypted anew with `cipher` (`db copy --to-key` moves
    /// them to another key), leaving everything else as it is.
    pub fn store_tokens(
        conn: &mut DbConnection,
        cipher: &Cipher,
        id: &str,
        bot_token: &SecretString,
        refresh_token: Option<&SecretString>,
    ) -> QueryResult<usize> {
        diesel::update(slack_installations::table.find(id))
            .set((
                slack_installations::bot_token.eq(cipher.encrypt(bot_token, id)),
                slack_installations::refresh_token
                    .eq(refresh_token.map(|r| cipher.encrypt(r, &refresh_aad(id)))),
            ))
            .execute(conn)
    }

    /// Active installations with rotating tokens that expire before `horizon`.
    pub fn list_expiring(
        conn: &mut DbConnection,
        horizon: NaiveDateTime,
    ) -> QueryResult<Vec<Self>> {
        slack_installations::table
            .filter(slack_installations::status.eq(IntegrationStatus::Active))
            .filter(slack_installations::refresh_token.is_not_null())
            .filter(slack_installations::token_expires_at.le(horizon))
            .select(Self::as_select())
            .load(conn)
    }

    /// The clear-text refresh token, when the app rotates tokens.
    pub fn decrypt_refresh_token(
        &self,
        cipher: &Cipher,
    ) -> Option<Result<SecretString, CryptoError>> {
        self.refresh_token
            .as_ref()
            .map(|r| cipher.decrypt(r, &refresh_aad(&self.id)))
    }

    /// Records that Slack is failing for this installation; the next probe may go at
    /// `next_probe`. Returns whether it was healthy until now.
    pub fn mark_failing(
        conn: &mut DbConnection,
        id: &str,
        at: NaiveDateTime,
        next_probe: NaiveDateTime,
    ) -> QueryResult<bool> {
        let newly = diesel::update(
            slack_installations::table
                .find(id)
                .filter(slack_installations::failing_since.is_null()),
        )
        .set(slack_installations::failing_since.eq(Some(at)))
        .execute(conn)?;
        diesel::update(slack_installations::table.find(id))
            .set(slack_installations::next_probe_at.eq(Some(next_probe)))
            .execute(conn)?;
        Ok(newly > 0)
    }

    /// Takes the right to probe a failing installation now (one delivery at a time, across
    /// instances): moves `next_probe_at` to `hold_until` if it was due. Returns whether
    /// this caller got it.
    pub fn take_probe(
        conn: &mut DbConnection,
        id: &str,
        at: NaiveDateTime,
        hold_until: NaiveDateTime,
    ) -> QueryResult<bool> {
        let taken = diesel::update(
            slack_installations::table
                .find(id)
                .filter(slack_installations::failing_since.is_not_null())
                .filter(
                    slack_installations::next_probe_at
                        .is_null()
                        .or(slack_installations::next_probe_at.le(at)),
                ),
        )
        .set(slack_installations::next_probe_at.eq(Some(hold_until)))
        .execute(conn)?;
        Ok(taken > 0)
    }

    /// Slack answered again: the installation is healthy. Returns whether it was failing.
    pub fn clear_failing(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
        let cleared = diesel::update(
            slack_installations::table
                .find(id)
                .filter(slack_installations::failing_since.is_not_null()),
        )
        .set((
            slack_installations::failing_since.eq(None::<NaiveDateTime>),
            slack_installations::next_probe_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
        Ok(cleared > 0)
    }

    /// How many installations Slack is failing for right now (metrics).
    pub fn count_failing(conn: &mut DbConnection) -> QueryResult<i64> {
        slack_installations::table
            .filter(slack_installations::failing_since.is_not_null())
            .count()
            .get_result(conn)
    }

    /// Deletes the row and with it every piece of stored installation data.
    pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
        diesel::delete(slack_installations::table.find(id)).execute(conn)
    }

    /// Marks one installation revoked (Slack refused its token, or it was uninstalled).
    pub fn mark_revoked(conn: &mut DbConnection, id: &str, reason: &str) -> QueryResult<usize> {
        diesel::update(slack_installations::table.find(id))
            .set((
                slack_installations::status.eq(IntegrationStatus::Revoked),
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
        self.status
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
            failing_since: self.failing_since.map(|t| Utc.from_utc_datetime(&t)),
            can_upload_files: Integration::scopes_allow_uploads(&self.scopes),
        }
    }
}

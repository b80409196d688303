//! "Set Up Slack Integration": the OAuth v2 install, from the authorize URL to the stored
//! installation (and what it changes for the configured channels and pending deliveries).

use chrono::Duration as ChronoDuration;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::super::Services;
use crate::crypto::{random_token, sha256_hex};
use crate::db::models::audit::AuditEntry;
use crate::db::models::installation::{Installation, NewInstallation, ORG_LEVEL};
use crate::db::models::oauth_state::{OAuthState, StateProblem};
use crate::db::{now, write_tx, DbError};
use crate::domain::access::Principal;
use crate::domain::channel::TargetChannel;
use crate::pipeline::installed_channels;
use crate::slack::{self, ErrorClass};

use super::channel_check::record_learned;
use super::*;

/// Percent-encodes a query value, keeping the characters RFC 3986 allows in a query
/// that Slack's own URLs show literally (`:`, `,`, `/`).
pub(crate) fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:,/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Starts an install: stores a fresh state (hashed, single-use, 10 minutes, bound to the
/// scope and the caller's token) and returns Slack's authorize URL.
pub async fn start_install(
    services: &Services,
    actor: &Principal,
    scope: &Scope,
) -> Result<String, ConfigError> {
    let s = scope.clone();
    services.db.run(move |conn| ensure_exists(conn, &s)).await?;
    let slack_settings = &services.settings.slack;
    let (Some(client_id), Some(_)) = (&slack_settings.client_id, &slack_settings.client_secret)
    else {
        return Err(ConfigError::SlackNotConfigured);
    };
    let raw_state = random_token(STATE_PREFIX);
    let hash = sha256_hex(raw_state.expose_secret());
    let (s, token_id) = (scope.clone(), actor.token_id.clone());
    services
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                let now = now();
                OAuthState::delete_expired(c, now - ChronoDuration::days(1))?;
                OAuthState::insert(
                    c,
                    &hash,
                    s.org().as_str(),
                    s.project_str().unwrap_or(ORG_LEVEL),
                    &token_id,
                    now + ChronoDuration::minutes(STATE_TTL_MINUTES),
                )
            })
            .map_err(ConfigError::from)
        })
        .await?;
    let base = slack_settings.authorize_url.as_str();
    let sep = if slack_settings.authorize_url.query().is_some() {
        '&'
    } else {
        '?'
    };
    Ok(format!(
        "{base}{sep}client_id={}&scope={}&redirect_uri={}&state={}",
        query_value(client_id),
        query_value(BOT_SCOPES),
        query_value(&services.settings.oauth_redirect_uri()),
        query_value(raw_state.expose_secret()),
    ))
}

/// The query of `GET /slack/oauth/callback`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// How a callback ended badly: what the page says. Nothing was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackFailure {
    /// HTTP status of the page.
    pub status: u16,
    pub title: String,
    pub message: String,
    /// What to do now.
    pub hint: String,
    /// Where to start again, when the scope is known.
    pub settings_page: Option<String>,
}

impl CallbackFailure {
    fn new(status: u16, title: &str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            status,
            title: title.to_owned(),
            message: message.into(),
            hint: hint.into(),
            settings_page: None,
        }
    }

    fn internal() -> Self {
        Self::new(
            500,
            "Slack installation failed",
            "An internal error occurred; nothing was stored.",
            "Try again shortly. If it keeps failing, ask your XTC operator to check the logs.",
        )
    }
}

/// A finished install: where to send the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackSuccess {
    pub scope: Scope,
    pub team_name: String,
    /// The settings page (relative path, with `?installed=1`).
    pub redirect: String,
}

pub(crate) const START_AGAIN: &str =
    "Start the installation again with \"Set Up Slack Integration\" on the Slack settings page.";

/// Handles Slack's redirect back: checks the state, exchanges the code, stores the
/// installation (replacing and revoking a previous one of the same scope).
pub async fn complete_oauth(
    services: &Services,
    params: CallbackParams,
) -> Result<CallbackSuccess, CallbackFailure> {
    let given_state = params.state.filter(|s| !s.is_empty());
    if let Some(error) = params.error.filter(|e| !e.is_empty()) {
        return Err(refused_by_user(services, &error, given_state).await);
    }
    let (raw_state, code) = link_parts(given_state, params.code)?;
    let (scope, actor) = checked_state(services, &raw_state).await?;
    let page = scope.settings_page();
    let with_page = |mut f: CallbackFailure| {
        f.settings_page = Some(page.clone());
        f
    };
    let (access, team) = exchange_code(services, &code).await.map_err(with_page)?;
    let replaced = store_installation(services, &scope, &access, &team, &actor)
        .await
        .map_err(with_page)?;
    revoke_replaced(services, replaced, &access.access_token).await;
    Ok(CallbackSuccess {
        scope,
        team_name: team.name,
        redirect: format!("{page}?installed=1"),
    })
}

/// The user cancelled (or Slack refused) the install: burns the state, if any, so it
/// cannot be reused, and says what happened (with the settings page when the state names
/// a scope).
async fn refused_by_user(
    services: &Services,
    error: &str,
    given_state: Option<String>,
) -> CallbackFailure {
    let mut page = None;
    if let Some(st) = given_state {
        if let Ok(Ok(row)) = consume_state(services, &st).await {
            page = Scope::from_row(&row.org_id, &row.project_id).map(|s| s.settings_page());
        }
    }
    let mut failure = if error == "access_denied" {
        CallbackFailure::new(
            200,
            "Slack installation cancelled",
            "The installation was cancelled in Slack, so nothing was installed or stored.",
            "If your Slack workspace requires app approval, request approval for the app in \
             Slack; once an administrator has approved it, start the setup again from the \
             Slack settings page.",
        )
    } else {
        CallbackFailure::new(
            400,
            "Slack installation failed",
            format!("Slack reported an error: {error}. Nothing was stored."),
            START_AGAIN,
        )
    };
    failure.settings_page = page;
    failure
}

/// The state and the code of the callback link; without either the link cannot be used
/// (and the state, if any, is left alone).
fn link_parts(
    given_state: Option<String>,
    code: Option<String>,
) -> Result<(String, String), CallbackFailure> {
    let Some(raw_state) = given_state else {
        return Err(CallbackFailure::new(
            400,
            "Invalid installation link",
            "This link has no installation state, so it cannot be trusted. Nothing was stored.",
            START_AGAIN,
        ));
    };
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        return Err(CallbackFailure::new(
            400,
            "Invalid installation link",
            "Slack did not send an authorization code. Nothing was stored.",
            START_AGAIN,
        ));
    };
    Ok((raw_state, code))
}

/// Consumes the state and checks what it is bound to: the scope must still exist and the
/// admin token that started the install must still be live. Returns the scope and the
/// audit actor (`name (token id)`).
async fn checked_state(
    services: &Services,
    raw_state: &str,
) -> Result<(Scope, String), CallbackFailure> {
    let row = match consume_state(services, raw_state).await {
        Ok(Ok(row)) => row,
        Ok(Err(problem)) => {
            let message = match problem {
                StateProblem::Unknown => "This installation link is not valid.",
                StateProblem::Used => "This installation link has already been used.",
                StateProblem::Expired => {
                    "This installation link has expired (links are valid for 10 minutes)."
                }
            };
            return Err(CallbackFailure::new(
                400,
                "Invalid installation link",
                format!("{message} Nothing was stored."),
                START_AGAIN,
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "could not check an OAuth state");
            return Err(CallbackFailure::internal());
        }
    };
    let Some(scope) = Scope::from_row(&row.org_id, &row.project_id) else {
        return Err(CallbackFailure::internal());
    };
    let (s, token_id) = (scope.clone(), row.token_id.clone());
    let checked = services
        .db
        .run(move |conn| {
            let issuer = OAuthState::live_issuer_name(conn, &token_id)?;
            let exists = ensure_exists(conn, &s);
            Ok::<_, ConfigError>((issuer, exists))
        })
        .await;
    let mut failure = match checked {
        Ok((Some(name), Ok(()))) => {
            let actor = format!("{name} ({})", row.token_id);
            return Ok((scope, actor));
        }
        Ok((None, _)) => CallbackFailure::new(
            400,
            "Invalid installation link",
            "The API token that started this installation has been revoked. Nothing was stored.",
            START_AGAIN,
        ),
        Ok((Some(_), Err(e))) => CallbackFailure::new(
            404,
            "Slack installation failed",
            format!("{e}. Nothing was stored."),
            "Register the organization or project first, then start again.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "could not check an OAuth state");
            return Err(CallbackFailure::internal());
        }
    };
    failure.settings_page = Some(scope.settings_page());
    Err(failure)
}

/// Exchanges the code for a bot token (`oauth.v2.access`) and the workspace it is for;
/// org-wide Enterprise Grid installs, which have no workspace, are refused.
async fn exchange_code(
    services: &Services,
    code: &str,
) -> Result<(slack::OAuthV2Access, slack::Team), CallbackFailure> {
    let slack_settings = &services.settings.slack;
    let (Some(client_id), Some(client_secret)) =
        (&slack_settings.client_id, &slack_settings.client_secret)
    else {
        return Err(CallbackFailure::new(
            409,
            "Slack is not configured",
            "The Slack app credentials are not configured on this server. Nothing was stored.",
            "Ask your XTC operator to set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET.",
        ));
    };
    let redirect_uri = services.settings.oauth_redirect_uri();
    let access = match services
        .slack
        .oauth_v2_access(client_id, client_secret, code, &redirect_uri)
        .await
    {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(
                code = e.code(),
                method = e.method(),
                "OAuth code exchange failed"
            );
            let hint = if e.class() == ErrorClass::RetryLater {
                format!(
                    "Slack could not be reached; wait a moment, then start again. {START_AGAIN}"
                )
            } else {
                START_AGAIN.to_owned()
            };
            return Err(CallbackFailure::new(
                502,
                "Slack installation failed",
                format!(
                    "Slack did not complete the installation ({}). Nothing was stored.",
                    e.code()
                ),
                hint,
            ));
        }
    };
    let Some(team) = access.team.clone() else {
        return Err(CallbackFailure::new(
            400,
            "Slack installation not supported",
            "Organization-wide (Enterprise Grid) installations are not supported. Nothing was stored.",
            "Install the app into a single workspace, then start again.",
        ));
    };
    Ok((access, team))
}

/// Stores the new installation of `scope` in one transaction: replaces the previous one
/// (handing its pending deliveries over), resolves the configured channels in the new
/// workspace, and audits. Returns the replaced installation's token, when it had one that
/// could be decrypted.
async fn store_installation(
    services: &Services,
    scope: &Scope,
    access: &slack::OAuthV2Access,
    team: &slack::Team,
    actor: &str,
) -> Result<Option<SecretString>, CallbackFailure> {
    let new_token = access.access_token.clone();
    // Token rotation on: keep the refresh token (encrypted) and when the token expires.
    let rotation = access.refresh_token.clone().map(|r| {
        let lifetime = access
            .expires_in
            .and_then(|s| i64::try_from(s).ok())
            .unwrap_or(43_200);
        (r, now() + ChronoDuration::seconds(lifetime))
    });
    let new_id = format!("inst_{}", uuid::Uuid::new_v4().simple());
    let (s, cipher, bot_user, app_id, scopes, actor) = (
        scope.clone(),
        services.cipher.clone(),
        access.bot_user_id.clone().unwrap_or_default(),
        access.app_id.clone(),
        access.scopes().collect::<Vec<_>>().join(","),
        actor.to_owned(),
    );
    let (team_id, team_name) = (team.id.clone(), team.name.clone());
    let channels = match installed_channels(services, scope, &access.access_token, &team_id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "could not read the channels to resolve at install");
            return Err(CallbackFailure::internal());
        }
    };
    let stored = services
        .db
        .run(move |conn| {
            write_tx(conn, |c| {
                let (o, p) = (s.org().as_str(), s.project_str());
                let old = Installation::find_by_scope(c, o, p)?;
                if let Some(old) = &old {
                    Installation::delete(c, &old.id)?;
                }
                Installation::insert(
                    c,
                    &cipher,
                    &NewInstallation {
                        id: &new_id,
                        org_id: o,
                        project_id: p.unwrap_or(ORG_LEVEL),
                        team_id: &team_id,
                        team_name: &team_name,
                        app_id: &app_id,
                        bot_user_id: &bot_user,
                        scopes: &scopes,
                        bot_token: &new_token,
                        rotation: rotation.as_ref().map(|(r, at)| (r, *at)),
                        installed_by: &actor,
                    },
                )?;
                // Names saved before, and channels of a previous workspace, resolved here;
                // the replaced installation's backlog goes on with this one.
                installed_channels::save_lists(c, &channels.lists)?;
                record_learned(c, &channels.learned)?;
                let mut handed_over = 0;
                if let (Some(old), Some(new)) = (&old, Installation::find_by_id(c, &new_id)?) {
                    handed_over =
                        installed_channels::hand_over_pending(c, old, &new, &channels.readdress)?;
                }
                AuditEntry::insert(
                    c,
                    &actor,
                    o,
                    p,
                    "slack_integration.install",
                    &json!({
                        "installation_id": new_id,
                        "team_id": team_id,
                        "team_name": team_name,
                        "scopes": scopes,
                        "replaced": old.as_ref().map(|o| &o.id),
                        "pending_handed_over": handed_over,
                        "unresolved_channels": channels.unresolved,
                    }),
                )?;
                let old_token = old.map(|o| o.decrypt_token(&cipher));
                Ok::<_, DbError>(old_token)
            })
        })
        .await;
    match settled(services, scope.org().as_str(), stored) {
        Ok(old_token) => Ok(old_token.and_then(Result::ok)),
        Err(e) => {
            tracing::error!(error = %e, "could not store a Slack installation");
            Err(CallbackFailure::internal())
        }
    }
}

/// Best effort: the replaced installation's token should stop working. Reinstalling the
/// same app into the same workspace can return the same token; never revoke that.
async fn revoke_replaced(services: &Services, old: Option<SecretString>, new: &SecretString) {
    let Some(old) = old else { return };
    if old.expose_secret() != new.expose_secret() {
        if let Err(e) = services.slack.auth_revoke(&old).await {
            tracing::warn!(code = e.code(), "could not revoke the replaced Slack token");
        }
    }
}

/// The configured channels as they will be with a new installation of `scope` into
/// workspace `team_id` (see `installed_channels`).
pub(crate) struct InstalledChannels {
    lists: Vec<installed_channels::SavedList>,
    /// Old address → the channel in the new workspace (for the pending deliveries).
    readdress: std::collections::HashMap<String, TargetChannel>,
    learned: Vec<(String, slack::Channel)>,
    /// Channels that could not be resolved in the new workspace, as shown.
    unresolved: Vec<String>,
}

pub(crate) async fn installed_channels(
    services: &Services,
    scope: &Scope,
    token: &SecretString,
    team_id: &str,
) -> Result<InstalledChannels, DbError> {
    let s = scope.clone();
    let (old_team, lists) = services
        .db
        .run(move |conn| {
            let (o, p) = (s.org().as_str(), s.project_str());
            let old = Installation::find_by_scope(conn, o, p)?;
            let lists = installed_channels::served_lists(conn, o, p)?;
            Ok::<_, DbError>((old.map(|i| i.team_id), lists))
        })
        .await?;
    let workspace_changed = old_team.is_some_and(|t| t != team_id);
    let listed = if installed_channels::needs_lookup(&lists, workspace_changed) {
        match services.slack.conversations_list(token, false).await {
            Ok(listed) => listed,
            Err(e) => {
                // The install itself succeeded; the channels stay unresolved (and shown as
                // such) until the next channel check resolves them.
                tracing::warn!(code = e.code(), "could not list channels at install");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let mut out = InstalledChannels {
        lists: Vec::new(),
        readdress: std::collections::HashMap::new(),
        learned: Vec::new(),
        unresolved: Vec::new(),
    };
    for mut list in lists {
        for channel in list.channels_mut() {
            let resolved = installed_channels::resolve_one(channel, &listed, workspace_changed);
            if let Some(c) = resolved
                .id
                .as_ref()
                .and_then(|id| listed.iter().find(|c| &c.id == id))
            {
                out.learned.push((team_id.to_owned(), c.clone()));
            }
            if resolved.id.is_none() && !out.unresolved.contains(&resolved.display()) {
                out.unresolved.push(resolved.display());
            }
            out.readdress.insert(channel.address(), resolved.clone());
            *channel = resolved;
        }
        out.lists.push(list);
    }
    Ok(out)
}

pub(crate) async fn consume_state(
    services: &Services,
    raw_state: &str,
) -> Result<Result<OAuthState, StateProblem>, DbError> {
    let hash = sha256_hex(raw_state);
    services
        .db
        .run(move |conn| write_tx(conn, |c| OAuthState::consume(c, &hash)).map_err(DbError::from))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_keep_scope_lists_readable_and_encode_the_rest() {
        assert_eq!(query_value(BOT_SCOPES), BOT_SCOPES);
        assert_eq!(query_value("a b&c=d?"), "a%20b%26c%3Dd%3F");
        assert_eq!(
            query_value("http://h:1/slack/oauth/callback"),
            "http://h:1/slack/oauth/callback"
        );
    }
}

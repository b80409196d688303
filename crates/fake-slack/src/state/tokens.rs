//! The fake's tokens and OAuth codes (minted, rotated, revoked) and the Web API methods
//! that deal in them: `oauth.v2.access` (with refresh), `auth.test`, `auth.revoke`,
//! `team.info`, `apps.uninstall`.

use super::*;

impl World {
    /// Mints a bot token with these scopes for the configured team.
    pub fn mint_bot_token(&mut self, scopes: Vec<String>, app_id: Option<String>) -> String {
        let token = format!(
            "xoxb-{}-{}-{}",
            random_digits(11),
            random_digits(13),
            random_alnum(24)
        );
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                scopes,
                app_id: app_id.unwrap_or_else(|| self.config.app_id.clone()),
                team_id: self.config.team_id.clone(),
                user_id: self.config.bot_user_id.clone(),
                is_bot: true,
                revoked: None,
                expires_at: None,
            },
        );
        token
    }

    /// With token rotation on: an expiring bot token (`xoxe.xoxb-…`) and its refresh
    /// token, and the lifetime in seconds (`expires_in`).
    pub(super) fn mint_rotating_pair(
        &mut self,
        scopes: Vec<String>,
        lifetime: std::time::Duration,
    ) -> (String, String, u64) {
        let bot = self.mint_bot_token(scopes.clone(), None);
        let rotating = format!("xoxe.{bot}");
        if let Some(mut info) = self.tokens.remove(&bot) {
            info.expires_at = Some(Instant::now() + lifetime);
            self.tokens.insert(rotating.clone(), info);
        }
        let refresh = format!("xoxe-1-{}", random_alnum(40));
        self.refresh_tokens.insert(refresh.clone(), scopes);
        (rotating, refresh, lifetime.as_secs())
    }

    pub(super) fn mint_user_token(&mut self, scopes: Vec<String>) -> String {
        let token = format!(
            "xoxp-{}-{}-{}-{}",
            random_digits(11),
            random_digits(11),
            random_digits(13),
            random_alnum(32).to_lowercase()
        );
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                scopes,
                app_id: self.config.app_id.clone(),
                team_id: self.config.team_id.clone(),
                user_id: self.config.installer_user_id.clone(),
                is_bot: false,
                revoked: None,
                expires_at: None,
            },
        );
        token
    }

    /// Revokes every token of the team; returns how many were live.
    pub fn revoke_all(&mut self, code: &str, bots_only: bool) -> usize {
        let team = self.config.team_id.clone();
        let mut n = 0;
        for t in self.tokens.values_mut() {
            if t.team_id == team && t.revoked.is_none() && (t.is_bot || !bots_only) {
                t.revoked = Some(code.to_owned());
                n += 1;
            }
        }
        n
    }

    /// Bot tokens of the team that still work.
    pub fn live_bot_tokens(&self) -> usize {
        self.tokens
            .values()
            .filter(|t| t.is_bot && t.revoked.is_none() && t.team_id == self.config.team_id)
            .count()
    }

    /// Issues an OAuth code after the user approved.
    pub fn issue_code(&mut self, grant: CodeGrant) -> String {
        let code = format!(
            "{}.{}.{}",
            random_digits(12),
            random_digits(13),
            random_alnum(40).to_lowercase()
        );
        self.codes.insert(code.clone(), grant);
        code
    }

    pub(super) fn client_credentials(&self, params: &Params) -> Result<(), Reply> {
        let (id, secret) = match &params.basic {
            Some((id, secret)) => (Some(id.clone()), Some(secret.clone())),
            None => (params.str("client_id"), params.str("client_secret")),
        };
        if id.as_deref() != Some(self.config.client_id.as_str()) {
            return Err(Reply::error("invalid_client_id"));
        }
        if secret.as_deref() != Some(self.config.client_secret.as_str()) {
            return Err(Reply::error("bad_client_secret"));
        }
        Ok(())
    }

    pub(super) fn oauth_v2_access(&mut self, params: &Params, now: Instant) -> Answer {
        self.client_credentials(params)?;
        match params.str("grant_type").as_deref() {
            None | Some("") | Some("authorization_code") => {}
            Some("refresh_token") => return self.refresh(params),
            Some(_) => return Err(Reply::error("invalid_grant_type")),
        }
        let code = params.str("code").unwrap_or_default();
        let ttl = self.config.code_ttl;
        let grant = self
            .codes
            .get(&code)
            .filter(|g| {
                !g.used
                    && g.client_id == self.config.client_id
                    && now.saturating_duration_since(g.issued) <= ttl
            })
            .cloned()
            .ok_or_else(|| Reply::error("invalid_code"))?;
        let given = params.str("redirect_uri").filter(|r| !r.is_empty());
        let redirect_ok = match (&grant.redirect_uri, &given) {
            // Sent to authorize: the exchange must repeat it exactly.
            (Some(sent), given) => given.as_deref() == Some(sent.as_str()),
            // Not sent: if given now, it must be where the browser went.
            (None, Some(given)) => *given == grant.effective_redirect,
            (None, None) => true,
        };
        if !redirect_ok {
            return Err(Reply::error("bad_redirect_uri"));
        }
        if let Some(g) = self.codes.get_mut(&code) {
            g.used = true;
        }
        let (access_token, rotation) = match self.config.token_lifetime {
            Some(lifetime) => {
                let (access, refresh, expires_in) =
                    self.mint_rotating_pair(grant.scopes.clone(), lifetime);
                (access, Some((refresh, expires_in)))
            }
            None => (self.mint_bot_token(grant.scopes.clone(), None), None),
        };
        let mut authed_user = json!({"id": self.config.installer_user_id});
        if !grant.user_scopes.is_empty() {
            let user_token = self.mint_user_token(grant.user_scopes.clone());
            authed_user = json!({
                "id": self.config.installer_user_id,
                "scope": grant.user_scopes.join(","),
                "access_token": user_token,
                "token_type": "user",
            });
        }
        let mut body = json!({
            "app_id": self.config.app_id,
            "authed_user": authed_user,
            "scope": grant.scopes.join(","),
            "token_type": "bot",
            "access_token": access_token,
            "bot_user_id": self.config.bot_user_id,
            "team": {"id": self.config.team_id, "name": self.config.team_name},
            "enterprise": null,
            "is_enterprise_install": false,
        });
        if let Some((refresh, expires_in)) = rotation {
            body["refresh_token"] = json!(refresh);
            body["expires_in"] = json!(expires_in);
        }
        Ok(Reply::ok(body))
    }

    /// `oauth.v2.access` with `grant_type=refresh_token`: a new token pair; the refresh
    /// token used is retired (a second use is `invalid_refresh_token`).
    pub(super) fn refresh(&mut self, params: &Params) -> Answer {
        let Some(lifetime) = self.config.token_lifetime else {
            return Err(Reply::error("invalid_refresh_token"));
        };
        let given = params.str("refresh_token").unwrap_or_default();
        let scopes = self
            .refresh_tokens
            .remove(&given)
            .ok_or_else(|| Reply::error("invalid_refresh_token"))?;
        let (access, refresh, expires_in) = self.mint_rotating_pair(scopes.clone(), lifetime);
        Ok(Reply::ok(json!({
            "app_id": self.config.app_id,
            "scope": scopes.join(","),
            "token_type": "bot",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": expires_in,
            "bot_user_id": self.config.bot_user_id,
            "team": {"id": self.config.team_id, "name": self.config.team_name},
            "enterprise": null,
            "is_enterprise_install": false,
        })))
    }

    pub(super) fn auth_test(&mut self, params: &Params) -> Answer {
        let token = self.authed(params)?;
        let mut reply = Reply::ok(json!({
            "url": format!("https://{}.slack.com/", self.config.team_domain()),
            "team": self.config.team_name,
            "user": if token.is_bot { self.config.app_name.clone() } else { "installer".to_owned() },
            "team_id": token.team_id,
            "user_id": token.user_id,
            "is_enterprise_install": false,
        }));
        if token.is_bot {
            reply = reply
                .with("bot_id", json!(self.config.bot_id))
                .with("app_id", json!(token.app_id));
        }
        Ok(reply)
    }

    pub(super) fn auth_revoke(&mut self, params: &Params) -> Answer {
        self.authed(params)?;
        let test = params.bool("test");
        if !test {
            if let Some(t) = params.token.as_ref().and_then(|t| self.tokens.get_mut(t)) {
                t.revoked = Some("token_revoked".to_owned());
            }
        }
        Ok(Reply::ok(json!({"revoked": !test})))
    }

    pub(super) fn team_info(&mut self, params: &Params) -> Answer {
        let token = self.authed(params)?;
        token.require("team:read")?;
        if let Some(team) = params.str("team").filter(|t| !t.is_empty()) {
            if team != self.config.team_id {
                return Err(Reply::error("team_not_found"));
            }
        }
        let icon = "https://a.slack-edge.com/80588/img/avatars-teams/ava_0001-88.png";
        Ok(Reply::ok(json!({"team": {
            "id": self.config.team_id,
            "name": self.config.team_name,
            "domain": self.config.team_domain(),
            "email_domain": "",
            "icon": {
                "image_34": icon, "image_44": icon, "image_68": icon, "image_88": icon,
                "image_102": icon, "image_132": icon, "image_default": true,
            },
        }})))
    }

    pub(super) fn apps_uninstall(&mut self, params: &Params) -> Answer {
        let token = self.authed(params)?;
        self.client_credentials(params)?;
        if token.app_id != self.config.app_id {
            return Err(Reply::error("client_id_token_mismatch"));
        }
        // Removing the installation kills every token of it; Slack then answers
        // `account_inactive` for the old bot token.
        self.revoke_all("account_inactive", false);
        Ok(Reply::ok(json!({})))
    }
}

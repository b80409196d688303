//! The typed Slack Web API client: one method per Web API call the product makes.
//!
//! Each method has typed request and response structs (in [`crate::slack::types`]). Every
//! call has a timeout, sends the token only in the `Authorization` header, and turns every
//! failure into a [`SlackError`] that knows its [`ErrorClass`] (see [`crate::slack::error`]).
//! How a request travels is in [`transport`]; how an answer is read, in [`response`];
//! the file upload flow, in [`files`].
//!
//! `awc::Client` is `!Send`, so [`SlackApi`] only holds configuration (it is `Send + Sync`
//! and cheap to clone) and each thread lazily creates one `awc::Client` that all calls on
//! that thread share (connection pooling per thread). The futures returned by the methods
//! are therefore `!Send`: run them on an actix-web handler or actor context, as usual with
//! actix.
//!
//! [`ErrorClass`]: crate::slack::ErrorClass

mod files;
mod response;
mod transport;

use std::{sync::Arc, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::error::SlackError;
use super::types::{
    AuthTest, Channel, ChannelsPage, ConversationsListRequest, OAuthV2Access, PostMessage, Posted,
    TeamInfo, UpdateMessage,
};
use response::{decode, posted};
use transport::{form_body, json_body, Auth, Body, CallCounter};

/// How many times the configured timeout `chat.postMessage` may take (see
/// [`SlackApi::timeout_of`]).
pub const POST_MESSAGE_TIMEOUT_FACTOR: u32 = 3;
/// The longest `views.open` may take: the click's `trigger_id` is dead after 3 seconds (a
/// later answer could only say `expired_trigger_id`), and the click itself must be answered
/// within Slack's 3 seconds, after the call.
pub const VIEWS_OPEN_TIMEOUT: Duration = Duration::from_millis(2_500);
/// Safety net against a server that never ends pagination.
const MAX_LIST_PAGES: usize = 1000;

/// Client for Slack's Web API. Holds only the base URL, the timeout and, optionally, the
/// counter of calls by method and outcome.
#[derive(Debug, Clone)]
pub struct SlackApi {
    base_url: Arc<str>,
    timeout: Duration,
    calls: Option<CallCounter>,
    /// Connections to Slack are reused (HTTP/1.1 keep-alive; awc's pool keeps an idle one
    /// 15 s). Off: a new connection per call (`XTC_SLACK_SLACK_KEEP_ALIVE=false`).
    keep_alive: bool,
}

const POST_MESSAGE: &str = "chat.postMessage";

/// A `chat.postMessage` body, encoded (see [`SlackApi::encode_post`]).
pub struct EncodedPost(Body);

impl SlackApi {
    /// A client for the Web API at `base_url` (`https://slack.com/api`, or the fake's
    /// `…/api`), giving every call at most `timeout` from sending to the end of the body.
    pub fn new(base_url: &str, timeout: Duration) -> SlackApi {
        SlackApi {
            base_url: Arc::from(base_url.trim_end_matches('/')),
            timeout,
            calls: None,
            keep_alive: true,
        }
    }

    /// The same client with a new connection per call (no keep-alive).
    pub fn without_keep_alive(mut self) -> SlackApi {
        self.keep_alive = false;
        self
    }

    /// The same client, counting every call in `counter` (labels `method`, `outcome`).
    pub fn with_call_counter(mut self, counter: prometheus::IntCounterVec) -> SlackApi {
        self.calls = Some(CallCounter(counter));
        self
    }

    /// The Web API base URL, without trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The timeout of one method. `chat.postMessage` gets [`POST_MESSAGE_TIMEOUT_FACTOR`]
    /// times the others': a post that Slack completes after we gave up is retried and
    /// shows twice, so we wait longer for an answer before we call it lost.
    pub fn timeout_of(&self, method: &str) -> Duration {
        match method {
            "chat.postMessage" => self.timeout.saturating_mul(POST_MESSAGE_TIMEOUT_FACTOR),
            "views.open" => self.timeout.min(VIEWS_OPEN_TIMEOUT),
            _ => self.timeout,
        }
    }

    /// `oauth.v2.access`: exchanges an OAuth `code` for the installation's bot token.
    /// Client credentials go in an HTTP Basic header (Slack's preferred way).
    pub async fn oauth_v2_access(
        &self,
        client_id: &str,
        client_secret: &SecretString,
        code: &str,
        redirect_uri: &str,
    ) -> Result<OAuthV2Access, SlackError> {
        const METHOD: &str = "oauth.v2.access";
        let form = form_body(METHOD, &[("code", code), ("redirect_uri", redirect_uri)])?;
        let auth = Auth::Basic {
            client_id,
            client_secret,
        };
        let env = self.call(METHOD, auth, Body::Form(form)).await?;
        decode(METHOD, env.value)
    }

    /// `oauth.v2.access` with `grant_type=refresh_token`: a new bot token (and a new refresh
    /// token; Slack retires the one given) for apps with token rotation on.
    pub async fn oauth_v2_refresh(
        &self,
        client_id: &str,
        client_secret: &SecretString,
        refresh_token: &SecretString,
    ) -> Result<OAuthV2Access, SlackError> {
        const METHOD: &str = "oauth.v2.access";
        let form = form_body(
            METHOD,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose_secret()),
            ],
        )?;
        let auth = Auth::Basic {
            client_id,
            client_secret,
        };
        let env = self.call(METHOD, auth, Body::Form(form)).await?;
        decode(METHOD, env.value)
    }

    /// `chat.postMessage` (links and media are never unfurled: our messages carry their
    /// own summaries).
    pub async fn post_message(
        &self,
        token: &SecretString,
        msg: &PostMessage,
    ) -> Result<Posted, SlackError> {
        self.post_encoded(token, Self::encode_post(msg)?).await
    }

    /// The body of `chat.postMessage` for `msg`, encoded ahead of the call (the sender
    /// encodes while the transaction of a handed delivery commits).
    pub fn encode_post(msg: &PostMessage) -> Result<EncodedPost, SlackError> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(flatten)]
            msg: &'a PostMessage,
            unfurl_links: bool,
            unfurl_media: bool,
        }
        let wire = Wire {
            msg,
            unfurl_links: false,
            unfurl_media: false,
        };
        json_body(POST_MESSAGE, &wire).map(EncodedPost)
    }

    /// `chat.postMessage` with a body of [`Self::encode_post`].
    pub async fn post_encoded(
        &self,
        token: &SecretString,
        body: EncodedPost,
    ) -> Result<Posted, SlackError> {
        let env = self.call(POST_MESSAGE, Auth::Bearer(token), body.0).await?;
        posted(POST_MESSAGE, env)
    }

    /// `chat.update`: replaces text and blocks of a message the bot posted.
    pub async fn update_message(
        &self,
        token: &SecretString,
        msg: &UpdateMessage,
    ) -> Result<Posted, SlackError> {
        const METHOD: &str = "chat.update";
        let body = json_body(METHOD, msg)?;
        let env = self.call(METHOD, Auth::Bearer(token), body).await?;
        posted(METHOD, env)
    }

    /// `conversations.info` for one channel ID.
    pub async fn conversations_info(
        &self,
        token: &SecretString,
        channel: &str,
    ) -> Result<Channel, SlackError> {
        const METHOD: &str = "conversations.info";
        #[derive(Deserialize)]
        struct Wire {
            channel: Channel,
        }
        let form = form_body(METHOD, &[("channel", channel)])?;
        let env = self
            .call(METHOD, Auth::Bearer(token), Body::Form(form))
            .await?;
        decode::<Wire>(METHOD, env.value).map(|w| w.channel)
    }

    /// One page of `conversations.list`.
    pub async fn conversations_list_page(
        &self,
        token: &SecretString,
        req: &ConversationsListRequest,
    ) -> Result<ChannelsPage, SlackError> {
        const METHOD: &str = "conversations.list";
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            channels: Vec<Channel>,
            #[serde(default)]
            response_metadata: Option<Metadata>,
        }
        #[derive(Deserialize)]
        struct Metadata {
            #[serde(default)]
            next_cursor: Option<String>,
        }
        let form = form_body(METHOD, req)?;
        let env = self
            .call(METHOD, Auth::Bearer(token), Body::Form(form))
            .await?;
        let wire: Wire = decode(METHOD, env.value)?;
        Ok(ChannelsPage {
            channels: wire.channels,
            // Slack documents empty, null and missing as "last page".
            next_cursor: wire
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| !c.is_empty()),
        })
    }

    /// All public channels (`conversations.list`, every cursor page, 200 per page).
    pub async fn conversations_list(
        &self,
        token: &SecretString,
        exclude_archived: bool,
    ) -> Result<Vec<Channel>, SlackError> {
        let mut req = ConversationsListRequest {
            exclude_archived,
            ..ConversationsListRequest::default()
        };
        let mut all = Vec::new();
        for _ in 0..MAX_LIST_PAGES {
            let page = self.conversations_list_page(token, &req).await?;
            all.extend(page.channels);
            match page.next_cursor {
                None => return Ok(all),
                Some(next) if req.cursor.as_deref() == Some(next.as_str()) => {
                    return Err(SlackError::Decode {
                        method: "conversations.list",
                        detail: "pagination cursor did not advance".to_owned(),
                    })
                }
                Some(next) => req.cursor = Some(next),
            }
        }
        Err(SlackError::Decode {
            method: "conversations.list",
            detail: format!("more than {MAX_LIST_PAGES} pages"),
        })
    }

    /// `auth.test`: checks a token and tells whose it is.
    pub async fn auth_test(&self, token: &SecretString) -> Result<AuthTest, SlackError> {
        const METHOD: &str = "auth.test";
        let env = self
            .call(METHOD, Auth::Bearer(token), Body::Form(String::new()))
            .await?;
        decode(METHOD, env.value)
    }

    /// `team.info` of the token's workspace (needs `team:read`).
    pub async fn team_info(&self, token: &SecretString) -> Result<TeamInfo, SlackError> {
        const METHOD: &str = "team.info";
        #[derive(Deserialize)]
        struct Wire {
            team: TeamInfo,
        }
        let env = self
            .call(METHOD, Auth::Bearer(token), Body::Form(String::new()))
            .await?;
        decode::<Wire>(METHOD, env.value).map(|w| w.team)
    }

    /// `views.open`: opens `view` (a modal) for the person whose click gave `trigger_id`
    /// (valid 3 seconds: `expired_trigger_id` after). Returns the view's ID.
    pub async fn views_open(
        &self,
        token: &SecretString,
        trigger_id: &str,
        view: &serde_json::Value,
    ) -> Result<String, SlackError> {
        const METHOD: &str = "views.open";
        #[derive(Serialize)]
        struct Request<'a> {
            trigger_id: &'a str,
            view: &'a serde_json::Value,
        }
        #[derive(Deserialize)]
        struct Wire {
            view: Opened,
        }
        #[derive(Deserialize)]
        struct Opened {
            id: String,
        }
        let body = json_body(METHOD, &Request { trigger_id, view })?;
        let env = self.call(METHOD, Auth::Bearer(token), body).await?;
        decode::<Wire>(METHOD, env.value).map(|w| w.view.id)
    }

    /// `auth.revoke`: revokes the calling token.
    pub async fn auth_revoke(&self, token: &SecretString) -> Result<(), SlackError> {
        const METHOD: &str = "auth.revoke";
        self.call(METHOD, Auth::Bearer(token), Body::Form(String::new()))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_message_waits_longer_than_other_methods() {
        let api = SlackApi::new("http://127.0.0.1:9/api", Duration::from_secs(10));
        assert_eq!(api.timeout_of("chat.postMessage"), Duration::from_secs(30));
        assert_eq!(api.timeout_of("chat.update"), Duration::from_secs(10));
        assert_eq!(api.timeout_of("views.open"), VIEWS_OPEN_TIMEOUT);
        assert_eq!(
            api.timeout_of("conversations.list"),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn api_is_send_sync_and_trims_the_base_url() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<SlackApi>();
        let api = SlackApi::new("http://fake/api/", Duration::from_secs(1));
        assert_eq!(api.base_url(), "http://fake/api");
    }
}

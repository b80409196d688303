//! The request and response structs of the Web API calls [`SlackApi`] makes: what goes
//! over the wire, as Slack documents it (`docs/slack-api.md`). Tokens in responses are
//! [`SecretString`]s so `Debug` cannot print them.
//!
//! [`SlackApi`]: crate::slack::SlackApi

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Default page size of [`ConversationsListRequest`] (Slack recommends 100-200).
pub const LIST_PAGE_LIMIT: u32 = 200;

/// Response of `oauth.v2.access`: the installation's bot token and who/where installed it.
#[derive(Debug, Clone, Deserialize)]
pub struct OAuthV2Access {
    /// The Slack app's ID (`A…`).
    pub app_id: String,
    /// Granted bot scopes, comma-separated.
    pub scope: String,
    /// `bot` for bot tokens.
    pub token_type: String,
    /// The bot token (`xoxb-…`).
    #[serde(deserialize_with = "de_secret")]
    pub access_token: SecretString,
    /// The bot's user ID (`U…`).
    #[serde(default)]
    pub bot_user_id: Option<String>,
    /// The workspace; `null` for org-wide Enterprise Grid installs.
    #[serde(default)]
    pub team: Option<Team>,
    /// The Enterprise Grid organization, if any.
    #[serde(default)]
    pub enterprise: Option<Enterprise>,
    /// True for org-wide installs.
    #[serde(default)]
    pub is_enterprise_install: bool,
    /// The installing user (always present, with a token only if user scopes were asked).
    #[serde(default)]
    pub authed_user: Option<AuthedUser>,
    /// Present when the `incoming-webhook` scope was requested.
    #[serde(default)]
    pub incoming_webhook: Option<IncomingWebhook>,
    /// With token rotation on: the refresh token.
    #[serde(default, deserialize_with = "de_opt_secret")]
    pub refresh_token: Option<SecretString>,
    /// With token rotation on: seconds until `access_token` expires.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl OAuthV2Access {
    /// The granted bot scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

/// A workspace reference `{id, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// `T…`.
    pub id: String,
    /// Display name of the workspace.
    #[serde(default)]
    pub name: String,
}

/// An Enterprise Grid organization reference `{id, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enterprise {
    /// `E…`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

/// The user who approved an install.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthedUser {
    /// `U…`/`W…`.
    pub id: String,
    /// Granted user scopes, if any were requested.
    #[serde(default)]
    pub scope: Option<String>,
    /// User token (`xoxp-…`), if user scopes were requested.
    #[serde(default, deserialize_with = "de_opt_secret")]
    pub access_token: Option<SecretString>,
    /// `user` when a token is present.
    #[serde(default)]
    pub token_type: Option<String>,
}

/// The incoming webhook created by an install with the `incoming-webhook` scope.
#[derive(Debug, Clone, Deserialize)]
pub struct IncomingWebhook {
    /// `#channel` name.
    #[serde(default)]
    pub channel: String,
    /// Channel ID.
    #[serde(default)]
    pub channel_id: String,
    /// Where a user can manage the webhook.
    #[serde(default)]
    pub configuration_url: String,
    /// The webhook URL itself: a credential.
    #[serde(deserialize_with = "de_secret")]
    pub url: SecretString,
}

/// A `chat.postMessage` request (the token is passed separately so this can be logged).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PostMessage {
    /// Channel ID (preferred) or name.
    pub channel: String,
    /// Message text; with blocks, the notification fallback.
    pub text: String,
    /// Block Kit blocks (a JSON array).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Value>,
    /// Secondary attachments (a JSON array), e.g. `[{"color": "#e01e5a", "blocks": [...]}]`
    /// for a severity colour bar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Value>,
    /// Parent message ts, to reply in a thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    /// With `thread_ts`: also show the reply in the channel.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reply_broadcast: bool,
}

/// A `chat.update` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UpdateMessage {
    /// Channel ID of the message.
    pub channel: String,
    /// `ts` of the message to edit.
    pub ts: String,
    /// New text.
    pub text: String,
    /// New blocks (replace the old ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Value>,
    /// New attachments (replace the old ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Value>,
}

/// Where a message landed (`chat.postMessage` / `chat.update`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Posted {
    /// Channel ID.
    pub channel: String,
    /// The message's `ts`, its ID within the channel.
    pub ts: String,
    /// Warnings Slack attached (e.g. `message_truncated`); already logged.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// A conversation as returned by `conversations.info` / `conversations.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// `C…` (or `G…` for legacy private channels).
    pub id: String,
    /// Name without `#`.
    #[serde(default)]
    pub name: String,
    /// Normalised name.
    #[serde(default)]
    pub name_normalized: Option<String>,
    /// True for channels (public or private), false for DMs.
    #[serde(default)]
    pub is_channel: bool,
    /// Legacy private channel.
    #[serde(default)]
    pub is_group: bool,
    /// Direct message.
    #[serde(default)]
    pub is_im: bool,
    /// Group direct message.
    #[serde(default)]
    pub is_mpim: bool,
    /// Private channel (decide privacy with this, never with the ID prefix).
    #[serde(default)]
    pub is_private: bool,
    /// Archived channels reject posts.
    #[serde(default)]
    pub is_archived: bool,
    /// The workspace's `#general`.
    #[serde(default)]
    pub is_general: bool,
    /// Whether the calling bot is a member.
    #[serde(default)]
    pub is_member: bool,
    /// Creation time, unix seconds.
    #[serde(default)]
    pub created: i64,
    /// Creator's user ID.
    #[serde(default)]
    pub creator: Option<String>,
    /// Member count, when Slack includes it.
    #[serde(default)]
    pub num_members: Option<u64>,
    /// Channel topic.
    #[serde(default)]
    pub topic: Option<TopicInfo>,
    /// Channel purpose.
    #[serde(default)]
    pub purpose: Option<TopicInfo>,
    /// Earlier names of the channel.
    #[serde(default)]
    pub previous_names: Vec<String>,
}

/// A channel's topic or purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// The text.
    #[serde(default)]
    pub value: String,
    /// Who set it.
    #[serde(default)]
    pub creator: String,
    /// When, unix seconds.
    #[serde(default)]
    pub last_set: i64,
}

/// Parameters of one `conversations.list` page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationsListRequest {
    /// Comma-separated: `public_channel`, `private_channel`, `mpim`, `im`.
    pub types: String,
    /// Leave out archived channels.
    pub exclude_archived: bool,
    /// Page size (Slack: at most 1,000; may return fewer).
    pub limit: u32,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl Default for ConversationsListRequest {
    fn default() -> Self {
        Self {
            types: "public_channel".to_owned(),
            exclude_archived: false,
            limit: LIST_PAGE_LIMIT,
            cursor: None,
        }
    }
}

/// One page of `conversations.list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelsPage {
    /// The channels on this page.
    pub channels: Vec<Channel>,
    /// Cursor of the next page; `None` on the last page (empty, null or missing).
    pub next_cursor: Option<String>,
}

/// Response of `auth.test`: who the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthTest {
    /// Workspace URL, e.g. `https://acme.slack.com/`.
    #[serde(default)]
    pub url: String,
    /// Workspace name.
    #[serde(default)]
    pub team: String,
    /// User name of the token's user (the bot user for bot tokens).
    #[serde(default)]
    pub user: String,
    /// `T…`.
    pub team_id: String,
    /// `U…`/`W…`.
    pub user_id: String,
    /// `B…` for bot tokens.
    #[serde(default)]
    pub bot_id: Option<String>,
    /// The app, when Slack says.
    #[serde(default)]
    pub app_id: Option<String>,
    /// Enterprise Grid organization.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// Org-wide install.
    #[serde(default)]
    pub is_enterprise_install: bool,
}

/// The `team` object of `team.info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamInfo {
    /// `T…`.
    pub id: String,
    /// Workspace name.
    #[serde(default)]
    pub name: String,
    /// Subdomain: `{domain}.slack.com`.
    #[serde(default)]
    pub domain: String,
    /// Email domain(s) for sign-up.
    #[serde(default)]
    pub email_domain: String,
    /// Icon URLs (`image_34`, …).
    #[serde(default)]
    pub icon: Option<Value>,
    /// Enterprise Grid organization.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// Enterprise Grid organization name.
    #[serde(default)]
    pub enterprise_name: Option<String>,
}

/// The scope Slack's file upload methods need (`files.getUploadURLExternal`,
/// `files.completeUploadExternal`).
pub const FILES_WRITE_SCOPE: &str = "files:write";

/// A file to share into a channel (or a thread) with Slack's external upload flow
/// ([`SlackApi::upload_file`]).
///
/// [`SlackApi::upload_file`]: crate::slack::SlackApi::upload_file
#[derive(Clone, Copy)]
pub struct FileUpload<'a> {
    /// The file's name, e.g. `report-chart.png`.
    pub filename: &'a str,
    /// The title Slack shows above the file (and the image's text for screen readers).
    pub title: &'a str,
    /// The file's content.
    pub bytes: &'a [u8],
    /// The channel's ID (`C…`): Slack refuses names here with `channel_not_found`.
    pub channel_id: &'a str,
    /// The parent message's `ts`, to share the file as a reply in its thread.
    pub thread_ts: Option<&'a str>,
    /// Message text shown with the file.
    pub initial_comment: Option<&'a str>,
}

impl std::fmt::Debug for FileUpload<'_> {
    /// The bytes as a length: a chart in a log line is noise.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileUpload")
            .field("filename", &self.filename)
            .field("title", &self.title)
            .field("bytes", &self.bytes.len())
            .field("channel_id", &self.channel_id)
            .field("thread_ts", &self.thread_ts)
            .field("initial_comment", &self.initial_comment)
            .finish()
    }
}

/// Response of `files.getUploadURLExternal`: where to send one file's bytes.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadTicket {
    /// Where to POST the bytes; valid for minutes, and on another host than the Web API
    /// (`https://files.slack.com/upload/v1/…`). Whoever holds it can upload, so it is
    /// kept out of `Debug`, logs and errors.
    #[serde(deserialize_with = "de_secret")]
    pub upload_url: SecretString,
    /// The file's ID (`F…`), to complete the upload with.
    pub file_id: String,
}

/// A file that `files.completeUploadExternal` finished (and shared, given a channel).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UploadedFile {
    /// `F…`.
    pub id: String,
    /// Its title.
    #[serde(default)]
    pub title: String,
}

fn de_secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::from)
}

fn de_opt_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Option::<String>::deserialize(d).map(|s| s.map(SecretString::from))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn debug_of_oauth_answer_hides_the_token() {
        let v: OAuthV2Access = serde_json::from_str(
            r#"{"ok":true,"app_id":"A1","scope":"chat:write","token_type":"bot","access_token":"xoxb-1-2-abc","bot_user_id":"U1","team":{"id":"T1","name":"n"},"enterprise":null,"is_enterprise_install":false,"authed_user":{"id":"U2","access_token":"xoxp-9"}}"#,
        )
        .unwrap();
        let dbg = format!("{v:?}");
        assert!(
            !dbg.contains("xoxb-1-2-abc") && !dbg.contains("xoxp-9"),
            "{dbg}"
        );
        assert_eq!(v.access_token.expose_secret(), "xoxb-1-2-abc");
        assert_eq!(v.scopes().collect::<Vec<_>>(), ["chat:write"]);
    }

    #[test]
    fn upload_answers_parse_and_keep_the_upload_url_out_of_debug() {
        let ticket: UploadTicket = serde_json::from_str(
            r#"{"ok":true,"upload_url":"https://files.slack.com/upload/v1/CwABAAAAXAoAAZnQ","file_id":"F07ABCDE123"}"#,
        )
        .unwrap();
        assert_eq!(ticket.file_id, "F07ABCDE123");
        assert_eq!(
            ticket.upload_url.expose_secret(),
            "https://files.slack.com/upload/v1/CwABAAAAXAoAAZnQ"
        );
        assert!(!format!("{ticket:?}").contains("CwABAAAAXAoAAZnQ"));
        // Without a URL the ticket is useless: an error, not a default.
        assert!(serde_json::from_str::<UploadTicket>(r#"{"ok":true,"file_id":"F1"}"#).is_err());

        let done: UploadedFile =
            serde_json::from_str(r#"{"id":"F07ABCDE123","title":"Throughput and P95","name":"chart.png","mimetype":"image/png"}"#)
                .unwrap();
        assert_eq!(done.title, "Throughput and P95");
        let untitled: UploadedFile = serde_json::from_str(r#"{"id":"F1"}"#).unwrap();
        assert_eq!(untitled.title, "");
    }

    #[test]
    fn debug_of_a_file_upload_shows_the_size_not_the_bytes() {
        let bytes = [0x89u8; 300];
        let file = FileUpload {
            filename: "chart.png",
            title: "Chart",
            bytes: &bytes,
            channel_id: "C0123ABCD",
            thread_ts: Some("1712345678.000100"),
            initial_comment: None,
        };
        let dbg = format!("{file:?}");
        assert!(
            dbg.contains("bytes: 300") && dbg.contains("chart.png"),
            "{dbg}"
        );
        assert!(!dbg.contains("137"), "{dbg}");
    }
}

//! Everything that talks to (or reasons about) Slack's Web API.
//!
//! - [`client`]: the typed Web API client over `awc` ([`SlackApi`]), one method per call,
//!   and the file upload flow ([`SlackApi::upload_file`]);
//! - [`types`]: the request and response structs of those calls;
//! - [`error`]: the one error type of that client and the classification of Slack's answers
//!   into what the caller should do about them ([`ErrorClass`]);
//! - [`text`]: escaping of user text for mrkdwn, safe links, cutting text at a grapheme;
//! - [`limits`]: Block Kit limits: fitting a message into them, listing what breaks them;
//! - [`signing`]: verification of Slack's request signatures (Events API).
//!
//! Facts about Slack's behaviour come from `docs/slack-api.md`; the fake Slack
//! (`crates/fake-slack`, a crate of its own that cannot use this module) implements the
//! same facts independently, so tests of this module against the fake can catch a
//! misreading on either side.

pub(crate) mod client;
pub mod error;
pub mod limits;
pub mod signing;
pub mod text;
pub(crate) mod types;

pub use client::SlackApi;
pub use error::{classify, ChannelRefusal, ErrorClass, SlackError};
pub use types::{
    AuthTest, AuthedUser, Channel, ChannelsPage, ConversationsListRequest, Enterprise, FileUpload,
    IncomingWebhook, OAuthV2Access, PostMessage, Posted, Team, TeamInfo, TopicInfo, UpdateMessage,
    UploadTicket, UploadedFile, FILES_WRITE_SCOPE,
};

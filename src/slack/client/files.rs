//! Slack's external file upload flow (the only one since `files.upload` was retired):
//! `files.getUploadURLExternal` hands out an upload URL, the bytes go there, and
//! `files.completeUploadExternal` shares the file into a channel or a thread
//! (`docs/slack-api.md`, section 10).

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::response::decode;
use super::transport::{form_body, Auth, Body};
use super::SlackApi;
use crate::slack::error::SlackError;
use crate::slack::types::{FileUpload, UploadTicket, UploadedFile};

impl SlackApi {
    /// Uploads a file and shares it into `file.channel_id` (in the thread of
    /// `file.thread_ts`, when given): the three calls of Slack's flow, in order.
    ///
    /// A retry must call this again from the start, never reuse a step: upload URLs
    /// expire within minutes, which is why an expired URL ([`SlackError::UploadRefused`])
    /// and `file_not_found` are classified as worth a retry. A token without
    /// `files:write` fails with `missing_scope` ([`SlackError::lacks_scope`]); a channel
    /// refuses like for posts (`not_in_channel`, `channel_not_found`, `is_archived`).
    pub async fn upload_file(
        &self,
        token: &SecretString,
        file: &FileUpload<'_>,
    ) -> Result<UploadedFile, SlackError> {
        let ticket = self
            .get_upload_url(token, file.filename, file.bytes.len())
            .await?;
        self.send_upload(&ticket.upload_url, file.bytes).await?;
        self.complete_upload(token, &ticket.file_id, file).await
    }

    /// `files.getUploadURLExternal`: where to send a file of `length` bytes.
    pub async fn get_upload_url(
        &self,
        token: &SecretString,
        filename: &str,
        length: usize,
    ) -> Result<UploadTicket, SlackError> {
        const METHOD: &str = "files.getUploadURLExternal";
        #[derive(Serialize)]
        struct Wire<'a> {
            filename: &'a str,
            length: usize,
        }
        let form = form_body(METHOD, &Wire { filename, length })?;
        let env = self
            .call(METHOD, Auth::Bearer(token), Body::Form(form))
            .await?;
        decode(METHOD, env.value)
    }

    /// `files.completeUploadExternal` for one uploaded file: gives it `file.title` and
    /// shares it into `file.channel_id` (and thread), with `file.initial_comment`.
    pub async fn complete_upload(
        &self,
        token: &SecretString,
        file_id: &str,
        file: &FileUpload<'_>,
    ) -> Result<UploadedFile, SlackError> {
        const METHOD: &str = "files.completeUploadExternal";
        #[derive(Serialize)]
        struct Wire<'a> {
            /// A JSON array as a string, as form encoding carries arrays.
            files: String,
            channel_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            thread_ts: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            initial_comment: Option<&'a str>,
        }
        #[derive(Deserialize)]
        struct Done {
            files: Vec<UploadedFile>,
        }
        let files = serde_json::json!([{"id": file_id, "title": file.title}]).to_string();
        let wire = Wire {
            files,
            channel_id: file.channel_id,
            thread_ts: file.thread_ts,
            initial_comment: file.initial_comment,
        };
        let form = form_body(METHOD, &wire)?;
        let env = self
            .call(METHOD, Auth::Bearer(token), Body::Form(form))
            .await?;
        let done: Done = decode(METHOD, env.value)?;
        done.files
            .into_iter()
            .find(|f| f.id == file_id)
            .ok_or_else(|| SlackError::Decode {
                method: METHOD,
                detail: "the answer does not list the uploaded file".to_owned(),
            })
    }
}

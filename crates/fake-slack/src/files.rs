//! Slack's external file upload flow (`docs/slack-api.md`, section 10 "File uploads"):
//!
//! 1. `files.getUploadURLExternal` (scope `files:write`, `filename`, `length`) hands out an
//!    upload URL on the fake's own server, `{base}/_fake/upload/{file_id}?key=…`, that works
//!    for [`World::upload_url_ttl`] (Slack: minutes);
//! 2. the bytes are POSTed there, as a raw body or as the multipart field `file`; the answer
//!    is `200 OK - <length>`, an expired, used or unknown URL gets 404;
//! 3. `files.completeUploadExternal` (`files`, `channel_id`, `thread_ts`, `initial_comment`)
//!    titles the file and shares it into the channel (or thread) as a message of the bot,
//!    which the page draws with the image where Slack shows it.
//!
//! The control API lists the files (`GET /_fake/api/files`), serves their bytes
//! (`GET /_fake/files/{id}`) and shortens the URLs' lifetime (`POST /_fake/api/files/expiry`).
//! Injected failures (`POST /_fake/api/fail`) apply to the upload URLs as the method
//! [`UPLOAD`].

use std::time::{Duration, Instant};

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    control::{fail, ok},
    state::{random_alnum, Answer, CallRecord, Message, Params, Reply, World},
    web_api, Shared, MAX_BODY_BYTES,
};

/// How long an upload URL works unless configured otherwise (Slack: "a short time
/// (minutes)").
pub(crate) const DEFAULT_UPLOAD_URL_TTL: Duration = Duration::from_secs(300);
/// The name of the upload step in the call log and for injected failures.
pub(crate) const UPLOAD: &str = "upload";
/// The scope both Web API methods of the flow need.
const FILES_WRITE: &str = "files:write";
/// PNG's eight-byte signature.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A file of the upload flow, from its announcement to its share.
#[derive(Debug, Clone)]
pub(crate) struct FakeFile {
    /// `F` + 10 uppercase letters and digits.
    pub id: String,
    pub filename: String,
    /// The length announced with `files.getUploadURLExternal`.
    pub length: usize,
    /// The secret part of the upload URL.
    key: String,
    /// When the upload URL was handed out.
    issued: Instant,
    /// The workspace whose token asked for it.
    team_id: String,
    /// The content, once uploaded.
    pub bytes: Option<Vec<u8>>,
    pub uploaded_at: Option<DateTime<Utc>>,
    /// Set by `files.completeUploadExternal`.
    pub title: Option<String>,
    /// Completed: the upload URL and the ticket are spent.
    completed: bool,
    /// Where it was shared, if it was.
    pub share: Option<Share>,
}

impl FakeFile {
    /// An uploaded file with a title, for tests of what shows it.
    #[cfg(test)]
    pub(crate) fn uploaded(id: &str, filename: &str, title: &str, bytes: &[u8]) -> FakeFile {
        FakeFile {
            id: id.to_owned(),
            filename: filename.to_owned(),
            length: bytes.len(),
            key: String::new(),
            issued: Instant::now(),
            team_id: String::new(),
            bytes: Some(bytes.to_vec()),
            uploaded_at: Some(Utc::now()),
            title: Some(title.to_owned()),
            completed: true,
            share: None,
        }
    }

    /// The content type of the bytes (images by their signatures), as served.
    pub(crate) fn content_type(&self) -> &'static str {
        match self.bytes.as_deref() {
            Some(b) if b.starts_with(PNG_SIGNATURE) => "image/png",
            Some(b) if b.starts_with(b"\xFF\xD8\xFF") => "image/jpeg",
            Some(b) if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") => "image/gif",
            _ => "application/octet-stream",
        }
    }
}

/// Where a completed file was shared: the message that carries it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Share {
    /// Channel ID.
    pub channel: String,
    /// The thread it went into, if any.
    pub thread_ts: Option<String>,
    /// The `ts` of the message that shows it.
    pub message_ts: String,
}

/// Why the upload step refused: an HTTP status and a short text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub text: &'static str,
}

const NOT_FOUND: Refusal = Refusal {
    status: 404,
    text: "Not Found",
};

impl World {
    /// `files.getUploadURLExternal`.
    pub(crate) fn get_upload_url(
        &mut self,
        params: &Params,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Answer {
        let token = self.authed(params)?;
        token.require(FILES_WRITE)?;
        let filename = params
            .str("filename")
            .filter(|f| !f.trim().is_empty())
            .ok_or_else(|| Reply::error("invalid_arguments"))?;
        let length = match params.str("length").map(|l| l.trim().parse::<usize>()) {
            None | Some(Ok(0)) => return Err(Reply::error("missing_argument")),
            Some(Ok(n)) if n > MAX_BODY_BYTES => {
                return Err(Reply::error("file_upload_size_restricted"))
            }
            Some(Ok(n)) => n,
            Some(Err(_)) => return Err(Reply::error("invalid_arguments")),
        };
        let id = format!("F{}", random_alnum(10).to_uppercase());
        let key = random_alnum(32);
        let upload_url = format!(
            "{}/_fake/upload/{id}?key={key}",
            params.base_url.trim_end_matches('/')
        );
        self.files.push(FakeFile {
            id: id.clone(),
            filename,
            length,
            key,
            issued: now,
            team_id: token.team_id,
            bytes: None,
            uploaded_at: None,
            title: None,
            completed: false,
            share: None,
        });
        tracing::debug!(file_id = %id, length, at = %wall, "fake Slack handed out an upload URL");
        Ok(Reply::ok(json!({"upload_url": upload_url, "file_id": id})))
    }

    /// The upload step: the bytes of file `id`, sent to its URL with `key`. Returns the
    /// length taken.
    pub(crate) fn receive_upload(
        &mut self,
        id: &str,
        key: &str,
        bytes: Vec<u8>,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Result<usize, Refusal> {
        let ttl = self.upload_url_ttl;
        let file = self
            .files
            .iter_mut()
            .find(|f| f.id == id && f.key == key)
            .ok_or(NOT_FOUND)?;
        // The lifetime in force now counts, so a test can let a URL handed out
        // earlier expire.
        if file.completed || now.saturating_duration_since(file.issued) >= ttl {
            return Err(NOT_FOUND);
        }
        if bytes.len() != file.length {
            return Err(Refusal {
                status: 400,
                text: "length does not match the length given to files.getUploadURLExternal",
            });
        }
        let n = bytes.len();
        file.bytes = Some(bytes);
        file.uploaded_at = Some(wall);
        Ok(n)
    }

    /// `files.completeUploadExternal`.
    pub(crate) fn complete_upload(&mut self, params: &Params, wall: DateTime<Utc>) -> Answer {
        let token = self.authed(params)?;
        token.require(FILES_WRITE)?;
        let wanted = files_param(params)?;
        // Every file must have been uploaded by this workspace and not completed yet.
        let found = wanted
            .iter()
            .map(|(id, _)| {
                self.files.iter().position(|f| {
                    f.id == *id && f.team_id == token.team_id && f.bytes.is_some() && !f.completed
                })
            })
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| Reply::error("file_not_found"))?;
        let place = match params.str("channel_id").filter(|c| !c.is_empty()) {
            // Not shared anywhere: the file stays private.
            None if params.str("thread_ts").is_some_and(|t| !t.is_empty()) => {
                return Err(Reply::error("invalid_arguments"))
            }
            None => None,
            Some(channel) => {
                // IDs only: a channel name is not found, as at Slack.
                let ci = self.visible_channel(Some(channel), false)?;
                let c = &self.channels[ci];
                if c.is_archived {
                    return Err(Reply::error("is_archived"));
                }
                // Sharing a file needs membership; `chat:write.public` is for messages
                // only (KIT: "User/bot membership is required for the specified channel").
                if !c.is_member {
                    return Err(Reply::error("not_in_channel"));
                }
                Some((ci, self.thread_of(ci, params)?))
            }
        };
        let mut listed = Vec::new();
        for (&fi, (_, title)) in found.iter().zip(&wanted) {
            let f = &mut self.files[fi];
            f.completed = true;
            f.title = Some(title.clone().unwrap_or_else(|| f.filename.clone()));
            listed.push(json!({
                "id": f.id, "title": f.title, "name": f.filename, "size": f.length,
                "mimetype": f.content_type(),
            }));
        }
        if let Some((ci, thread_ts)) = place {
            let ts = self.next_ts(wall);
            let message = Message {
                ts: ts.clone(),
                text: params.str("initial_comment").unwrap_or_default(),
                blocks: None,
                attachments: None,
                thread_ts: thread_ts.clone(),
                reply_broadcast: false,
                app_id: token.app_id.clone(),
                bot_id: self.config.bot_id.clone(),
                user: token.user_id.clone(),
                received_at: wall,
                edits: Vec::new(),
                files: wanted.iter().map(|(id, _)| id.clone()).collect(),
            };
            let share = Share {
                channel: self.channels[ci].id.clone(),
                thread_ts,
                message_ts: ts,
            };
            self.channels[ci].messages.push(message);
            for &fi in &found {
                self.files[fi].share = Some(share.clone());
            }
        }
        Ok(Reply::ok(json!({ "files": listed })))
    }
}

/// `files`: a JSON array (or, form-encoded, a JSON string of one) of `{"id", "title"}`.
fn files_param(params: &Params) -> Result<Vec<(String, Option<String>)>, Reply> {
    let invalid = || Reply::error("invalid_arguments");
    let entries = params
        .array("files", "invalid_arguments")?
        .ok_or_else(invalid)?;
    if entries.is_empty() {
        return Err(invalid());
    }
    entries
        .iter()
        .map(|e| {
            let id = e.get("id").and_then(Value::as_str).ok_or_else(invalid)?;
            let title = e.get("title").and_then(Value::as_str).map(str::to_owned);
            Ok((id.to_owned(), title))
        })
        .collect()
}

/// Query of an upload URL.
#[derive(Debug, Deserialize)]
pub(crate) struct UploadQuery {
    key: Option<String>,
}

/// `POST /_fake/upload/{file_id}?key=…`: a file's bytes, raw or as multipart field `file`.
pub(crate) async fn upload(
    req: HttpRequest,
    file_id: web::Path<String>,
    query: web::Query<UploadQuery>,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let failure = shared.world().take_failure(UPLOAD);
    let mut injected = None;
    if let Some(f) = failure {
        if let Some(ms) = f.delay_ms {
            actix_rt::time::sleep(Duration::from_millis(ms)).await;
        }
        injected = web_api::injected_reply(&f);
    }
    let outcome = match injected {
        Some(reply) => Err(reply),
        None => match file_bytes(&req, body).await {
            Err(text) => Ok(Err(Refusal { status: 400, text })),
            Ok(bytes) => Ok(shared.world().receive_upload(
                &file_id,
                query.key.as_deref().unwrap_or_default(),
                bytes,
                Instant::now(),
                Utc::now(),
            )),
        },
    };
    let (status, error) = match &outcome {
        Err(reply) => (reply.status, reply.error_code().map(str::to_owned)),
        Ok(Ok(_)) => (200, None),
        Ok(Err(r)) => (r.status, Some(format!("http_{}", r.status))),
    };
    shared.world().record_call(CallRecord {
        method: UPLOAD.to_owned(),
        channel: None,
        ok: error.is_none(),
        error,
        http_status: status,
        at: Utc::now(),
    });
    match outcome {
        Err(reply) => web_api::respond(reply),
        Ok(Ok(n)) => text(200, &format!("OK - {n}")),
        Ok(Err(r)) => text(r.status, r.text),
    }
}

fn text(status: u16, body: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body.to_owned())
}

/// The uploaded bytes: the multipart field `file`, or else the raw body.
async fn file_bytes(req: &HttpRequest, body: web::Bytes) -> Result<Vec<u8>, &'static str> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Ok(body.to_vec());
    }
    let stream = futures_util::stream::once(async move { Ok(body) });
    let mut form = actix_multipart::Multipart::new(req.headers(), stream);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|_| "malformed multipart body")?;
        if field.name() != Some("file") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            bytes.extend_from_slice(&chunk.map_err(|_| "malformed multipart body")?);
        }
        return Ok(bytes);
    }
    Err("multipart body without a `file` field")
}

/// `GET /_fake/api/files`: every file of the upload flow, oldest first.
pub(crate) async fn list(shared: web::Data<Shared>) -> HttpResponse {
    let world = shared.world();
    let files: Vec<Value> = world
        .files
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "title": f.title,
                "filename": f.filename,
                "length": f.length,
                "uploaded_at": f.uploaded_at,
                "content_type": f.bytes.is_some().then(|| f.content_type()),
                "shared": f.share.is_some(),
                "channel": f.share.as_ref().map(|s| &s.channel),
                "thread_ts": f.share.as_ref().and_then(|s| s.thread_ts.as_ref()),
                "message_ts": f.share.as_ref().map(|s| &s.message_ts),
            })
        })
        .collect();
    ok(json!({ "files": files }))
}

/// `GET /_fake/files/{file_id}`: an uploaded file's bytes, with its content type.
pub(crate) async fn bytes(file_id: web::Path<String>, shared: web::Data<Shared>) -> HttpResponse {
    let world = shared.world();
    let Some((bytes, content_type)) = world
        .files
        .iter()
        .find(|f| f.id == *file_id)
        .and_then(|f| Some((f.bytes.clone()?, f.content_type())))
    else {
        return fail(404, "file_not_found", "no uploaded file with this ID");
    };
    HttpResponse::Ok()
        .content_type(content_type)
        // The bytes are whatever the app sent: never let a browser read them as a page.
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(bytes)
}

/// Body of `POST /_fake/api/files/expiry`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expiry {
    seconds: u64,
}

/// `POST /_fake/api/files/expiry`: how long upload URLs work, from now on also for the
/// ones already handed out (`0`: every upload URL has expired).
pub(crate) async fn expiry(body: web::Json<Expiry>, shared: web::Data<Shared>) -> HttpResponse {
    shared.world().upload_url_ttl = Duration::from_secs(body.seconds);
    ok(json!({ "seconds": body.seconds }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::FakeSlackConfig;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n rest of a tiny picture";

    fn params(token: &str, pairs: Value) -> Params {
        Params {
            map: pairs.as_object().cloned().unwrap_or_default(),
            token: Some(token.to_owned()),
            base_url: "http://fake".to_owned(),
            ..Params::default()
        }
    }

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    /// A ticket: (file ID, key).
    fn ticket(w: &mut World, token: &str, length: usize, now: Instant) -> (String, String) {
        let reply = w.call(
            "files.getUploadURLExternal",
            &params(
                token,
                json!({"filename": "chart.png", "length": length.to_string()}),
            ),
            now,
            Utc::now(),
        );
        assert_eq!(reply.error_code(), None, "{reply:?}");
        let url = url::Url::parse(reply.body["upload_url"].as_str().unwrap()).unwrap();
        assert_eq!(
            url.path(),
            format!("/_fake/upload/{}", reply.body["file_id"].as_str().unwrap())
        );
        let key = url
            .query_pairs()
            .find(|(k, _)| k == "key")
            .unwrap()
            .1
            .into_owned();
        (reply.body["file_id"].as_str().unwrap().to_owned(), key)
    }

    fn complete(w: &mut World, token: &str, body: Value) -> Reply {
        w.call(
            "files.completeUploadExternal",
            &params(token, body),
            Instant::now(),
            Utc::now(),
        )
    }

    #[test]
    fn a_file_goes_from_ticket_to_upload_to_a_thread() {
        let mut w = World::new(FakeSlackConfig::default());
        let token = w.mint_bot_token(scopes(&["chat:write", "files:write"]), None);
        let post = w.call(
            "chat.postMessage",
            &params(&token, json!({"channel": "C0FAKE0GEN1", "text": "card"})),
            Instant::now(),
            Utc::now(),
        );
        let card_ts = post.body["ts"].as_str().unwrap().to_owned();
        let now = Instant::now();
        let (id, key) = ticket(&mut w, &token, PNG.len(), now);
        assert!(id.starts_with('F') && id.len() == 11, "{id}");
        assert_eq!(
            w.receive_upload(&id, "wrong", PNG.to_vec(), now, Utc::now()),
            Err(NOT_FOUND)
        );
        assert_eq!(
            w.receive_upload(&id, &key, PNG.to_vec(), now, Utc::now()),
            Ok(PNG.len())
        );
        let files = json!([{"id": id, "title": "Throughput"}]).to_string();
        let done = complete(
            &mut w,
            &token,
            json!({"files": files, "channel_id": "C0FAKE0GEN1", "thread_ts": card_ts, "initial_comment": "chart"}),
        );
        assert_eq!(done.error_code(), None, "{done:?}");
        assert_eq!(done.body["files"][0]["id"], id.as_str());
        assert_eq!(done.body["files"][0]["mimetype"], "image/png");
        let shared = w.channels[0].messages.last().unwrap();
        assert_eq!(shared.thread_ts.as_deref(), Some(card_ts.as_str()));
        assert_eq!(
            (shared.text.as_str(), shared.files.clone()),
            ("chart", vec![id.clone()])
        );
        // The ticket is spent: neither the URL nor the completion works twice.
        assert_eq!(
            w.receive_upload(&id, &key, PNG.to_vec(), now, Utc::now()),
            Err(NOT_FOUND)
        );
        let again = complete(
            &mut w,
            &token,
            json!({"files": files, "channel_id": "C0FAKE0GEN1"}),
        );
        assert_eq!(again.error_code(), Some("file_not_found"));
    }

    #[test]
    fn urls_expire_lengths_must_match_and_refusals_are_slacks() {
        let mut w = World::new(FakeSlackConfig::default());
        let token = w.mint_bot_token(scopes(&["chat:write", "files:write"]), None);
        let t0 = Instant::now();
        let (id, key) = ticket(&mut w, &token, 4, t0);
        assert_eq!(
            w.receive_upload(&id, &key, b"abc".to_vec(), t0, Utc::now())
                .unwrap_err()
                .status,
            400
        );
        // Not uploaded: nothing to complete.
        let files = json!([{"id": id}]).to_string();
        let early = complete(
            &mut w,
            &token,
            json!({"files": files, "channel_id": "C0FAKE0GEN1"}),
        );
        assert_eq!(early.error_code(), Some("file_not_found"));
        let late = t0 + DEFAULT_UPLOAD_URL_TTL;
        assert_eq!(
            w.receive_upload(&id, &key, b"abcd".to_vec(), late, Utc::now()),
            Err(NOT_FOUND)
        );

        let (id, key) = ticket(&mut w, &token, 4, t0);
        w.receive_upload(&id, &key, b"abcd".to_vec(), t0, Utc::now())
            .unwrap();
        let files = json!([{"id": id}]).to_string();
        for (channel, error) in [
            ("general", "channel_not_found"),
            ("C0NOSUCH01", "channel_not_found"),
            ("C0FAKE0SEC1", "channel_not_found"),
            ("C0FAKE0OLD1", "is_archived"),
            ("C0FAKE0LDT1", "not_in_channel"),
        ] {
            let r = complete(
                &mut w,
                &token,
                json!({"files": files, "channel_id": channel}),
            );
            assert_eq!(r.error_code(), Some(error), "{channel}");
        }
        let r = complete(
            &mut w,
            &token,
            json!({"files": files, "channel_id": "C0FAKE0GEN1", "thread_ts": "1.000001"}),
        );
        assert_eq!(r.error_code(), Some("thread_not_found"));
        // Without a channel the file is completed but shared nowhere.
        let private = complete(&mut w, &token, json!({"files": files}));
        assert_eq!(private.error_code(), None);
        assert!(w.files.iter().find(|f| f.id == id).unwrap().share.is_none());

        for (body, error) in [
            (json!({"filename": "x.png"}), "missing_argument"),
            (
                json!({"filename": "x.png", "length": "0"}),
                "missing_argument",
            ),
            (
                json!({"filename": "x.png", "length": "many"}),
                "invalid_arguments",
            ),
            (json!({"length": "3"}), "invalid_arguments"),
        ] {
            let r = w.call(
                "files.getUploadURLExternal",
                &params(&token, body),
                t0,
                Utc::now(),
            );
            assert_eq!(r.error_code(), Some(error));
        }
        let narrow = w.mint_bot_token(scopes(&["chat:write"]), None);
        let r = w.call(
            "files.getUploadURLExternal",
            &params(&narrow, json!({"filename": "x.png", "length": "3"})),
            t0,
            Utc::now(),
        );
        assert_eq!(r.error_code(), Some("missing_scope"));
        assert_eq!(
            (r.body["needed"].as_str(), r.body["provided"].as_str()),
            (Some("files:write"), Some("chat:write"))
        );
        let r = complete(&mut w, &narrow, json!({"files": files}));
        assert_eq!(r.error_code(), Some("missing_scope"));
    }
}

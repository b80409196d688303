//! Slack's external file upload flow (slack-api.md §10): the fake over HTTP as Slack
//! documents it, and the product's client (`SlackApi::upload_file`) against the fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use xtc_slack::slack::{ErrorClass, FileUpload, PostMessage, SlackApi, FILES_WRITE_SCOPE};

use crate::slack_client::Env;

/// The smallest valid PNG: one transparent pixel.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];
const GENERAL: &str = "C0FAKE0GEN1";
const UPLOADER: &[&str] = &["chat:write", "chat:write.public", "files:write"];

/// Calls of the upload flow over HTTP, on the fake of `slack_client`'s `Env`.
impl Env {
    /// A Web API call with a form body; the JSON answer.
    async fn form(&self, method: &str, token: &SecretString, form: &[(&str, &str)]) -> Value {
        let resp = self
            .http
            .post(format!("{}/{method}", self.fake.api_url()))
            .bearer_auth(token.expose_secret())
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// `files.getUploadURLExternal`: (upload_url, file_id).
    async fn ticket(&self, token: &SecretString, length: usize) -> (String, String) {
        let v = self
            .form(
                "files.getUploadURLExternal",
                token,
                &[("filename", "chart.png"), ("length", &length.to_string())],
            )
            .await;
        assert_eq!(v["ok"], true, "{v}");
        let url = v["upload_url"].as_str().unwrap().to_owned();
        (url, v["file_id"].as_str().unwrap().to_owned())
    }

    async fn upload(&self, url: &str, bytes: &[u8]) -> (u16, String) {
        let resp = self
            .http
            .post(url)
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    async fn complete(&self, token: &SecretString, body: Value) -> Value {
        let resp = self
            .http
            .post(format!(
                "{}/files.completeUploadExternal",
                self.fake.api_url()
            ))
            .bearer_auth(token.expose_secret())
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        resp.json().await.unwrap()
    }

    /// Posts a message to #general (the bot is a member); its `ts`.
    async fn card(&self, token: &SecretString) -> String {
        let v = self
            .form(
                "chat.postMessage",
                token,
                &[("channel", GENERAL), ("text", "Load test finished")],
            )
            .await;
        v["ts"].as_str().unwrap().to_owned()
    }

    async fn files(&self) -> Vec<Value> {
        self.get("files").await["files"].as_array().unwrap().clone()
    }

    async fn served(&self, file_id: &str) -> (String, Vec<u8>) {
        let resp = self
            .http
            .get(format!("{}/_fake/files/{file_id}", self.fake.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
        (content_type, resp.bytes().await.unwrap().to_vec())
    }
}

fn chart<'a>(channel_id: &'a str, thread_ts: Option<&'a str>) -> FileUpload<'a> {
    FileUpload {
        filename: "report-chart.png",
        title: "Throughput and P95 of run 7",
        bytes: PNG,
        channel_id,
        thread_ts,
        initial_comment: None,
    }
}

/// The code and class of a failed `upload_file`.
async fn refusal(
    api: &SlackApi,
    token: &SecretString,
    file: &FileUpload<'_>,
) -> (String, ErrorClass) {
    let e = api.upload_file(token, file).await.unwrap_err();
    (e.code().to_owned(), e.class())
}

#[actix_web::test]
async fn the_fake_takes_a_file_in_three_steps_and_shows_it_in_the_thread() {
    let env = Env::new();
    let token = env.token(UPLOADER).await;
    let card = env.card(&token).await;

    let (url, file_id) = env.ticket(&token, PNG.len()).await;
    assert!(file_id.starts_with('F'), "{file_id}");
    assert!(
        url.starts_with(&format!("{}/_fake/upload/", env.fake.base_url())),
        "{url}"
    );
    assert_eq!(
        env.upload(&url, PNG).await,
        (200, format!("OK - {}", PNG.len()))
    );
    let done = env
        .complete(
            &token,
            json!({"files": [{"id": file_id, "title": "The chart"}], "channel_id": GENERAL,
                   "thread_ts": card, "initial_comment": "Report chart"}),
        )
        .await;
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(done["files"][0]["id"], file_id.as_str());
    assert_eq!(done["files"][0]["title"], "The chart");

    let files = env.files().await;
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert_eq!(
        (
            &f["id"],
            &f["title"],
            &f["filename"],
            &f["channel"],
            &f["thread_ts"]
        ),
        (
            &json!(file_id),
            &json!("The chart"),
            &json!("chart.png"),
            &json!(GENERAL),
            &json!(card)
        )
    );
    assert_eq!(
        (&f["length"], &f["shared"]),
        (&json!(PNG.len()), &json!(true))
    );
    assert!(f["uploaded_at"].is_string(), "{f}");
    assert_eq!(
        env.served(&file_id).await,
        ("image/png".to_owned(), PNG.to_vec())
    );

    // Shared as a reply of the bot in the card's thread, drawn there with its title.
    let messages = env.get("messages?channel=general").await;
    let reply = messages["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (&reply["thread_ts"], &reply["files"]),
        (&json!(card), &json!([file_id]))
    );
    assert_eq!(reply["text"], "Report chart");
    let page = env
        .http
        .get(format!("{}/_fake/?channel=general", env.fake.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let thread = page.find(&format!("id=\"thread-{card}\"")).unwrap();
    let img = page
        .find(&format!(
            "<img src=\"/_fake/files/{file_id}\" alt=\"The chart\""
        ))
        .unwrap();
    assert!(thread < img, "{page}");

    // A multipart `file` field is taken as well.
    let (url, second) = env.ticket(&token, 3).await;
    let multipart =
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
                     Content-Type: text/plain\r\n\r\nabc\r\n--XyZ--\r\n";
    let resp = env
        .http
        .post(&url)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(multipart)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "OK - 3");
    assert_eq!(
        env.served(&second).await,
        ("application/octet-stream".to_owned(), b"abc".to_vec())
    );
}

#[actix_web::test]
async fn the_fake_refuses_file_uploads_as_slack_does() {
    let env = Env::new();
    let token = env.token(UPLOADER).await;

    // Installed without files:write.
    let narrow = env.token(&["chat:write", "channels:read"]).await;
    let v = env
        .form(
            "files.getUploadURLExternal",
            &narrow,
            &[("filename", "x.png"), ("length", "3")],
        )
        .await;
    assert_eq!(
        (&v["ok"], &v["error"], &v["needed"], &v["provided"]),
        (
            &json!(false),
            &json!("missing_scope"),
            &json!("files:write"),
            &json!("chat:write,channels:read")
        )
    );

    // A wrong length, an unknown URL, then an expired one.
    let (url, file_id) = env.ticket(&token, 5).await;
    assert_eq!(env.upload(&url, b"four").await.0, 400);
    let unknown = url.replace("key=", "key=x");
    assert_eq!(env.upload(&unknown, b"fives").await.0, 404);
    // Completing a file that never arrived.
    let v = env
        .complete(
            &token,
            json!({"files": [{"id": file_id}], "channel_id": GENERAL}),
        )
        .await;
    assert_eq!(v["error"], "file_not_found");
    env.control("files/expiry", json!({"seconds": 0})).await;
    assert_eq!(
        env.upload(&url, b"fives").await,
        (404, "Not Found".to_owned())
    );
    env.control("files/expiry", json!({"seconds": 300})).await;

    // A channel name where an ID belongs, an unknown thread, a channel the bot is not in.
    let (url, file_id) = env.ticket(&token, 5).await;
    assert_eq!(env.upload(&url, b"fives").await.0, 200);
    for (body, error) in [
        (json!({"channel_id": "general"}), "channel_not_found"),
        (json!({"channel_id": "#general"}), "channel_not_found"),
        (
            json!({"channel_id": GENERAL, "thread_ts": "1700000000.000001"}),
            "thread_not_found",
        ),
        (json!({"channel_id": "C0FAKE0LDT1"}), "not_in_channel"),
        (json!({"channel_id": "C0FAKE0OLD1"}), "is_archived"),
    ] {
        let mut body = body;
        body["files"] = json!([{"id": file_id}]);
        let v = env.complete(&token, body).await;
        assert_eq!(v["error"], error, "{v}");
    }
    let files = env.files().await;
    assert!(files.iter().all(|f| f["shared"] == false), "{files:?}");
    // The upload step is in the call log, as Slack's file host would count it.
    let statuses: Vec<Value> = env.get("calls?method=upload").await["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["http_status"].clone())
        .collect();
    assert_eq!(statuses, [400, 404, 404, 200]);
}

#[actix_web::test]
async fn the_client_uploads_a_png_into_a_thread() {
    let env = Env::new();
    let token = env.token(UPLOADER).await;
    let calls = prometheus::IntCounterVec::new(
        prometheus::Opts::new("calls", "Slack calls"),
        &["method", "outcome"],
    )
    .unwrap();
    let api = env.api.clone().with_call_counter(calls.clone());
    let card = api
        .post_message(
            &token,
            &PostMessage {
                channel: GENERAL.to_owned(),
                text: "Report available".to_owned(),
                ..PostMessage::default()
            },
        )
        .await
        .unwrap();

    let file = api
        .upload_file(&token, &chart(GENERAL, Some(&card.ts)))
        .await
        .unwrap();
    assert!(file.id.starts_with('F'));
    assert_eq!(file.title, "Throughput and P95 of run 7");

    let listed = env.files().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            &listed[0]["id"],
            &listed[0]["channel"],
            &listed[0]["thread_ts"]
        ),
        (&json!(file.id), &json!(GENERAL), &json!(card.ts))
    );
    assert_eq!(listed[0]["filename"], "report-chart.png");
    assert_eq!(
        env.served(&file.id).await,
        ("image/png".to_owned(), PNG.to_vec())
    );
    for method in [
        "files.getUploadURLExternal",
        "upload_url",
        "files.completeUploadExternal",
    ] {
        assert_eq!(
            calls.with_label_values(&[method, "ok"]).get(),
            1,
            "{method}"
        );
    }
}

#[actix_web::test]
async fn a_token_without_files_write_gets_the_missing_scope_error() {
    let env = Env::new();
    let token = env.token(&["chat:write", "chat:write.public"]).await;
    let e = env
        .api
        .upload_file(&token, &chart(GENERAL, None))
        .await
        .unwrap_err();
    assert!(e.lacks_scope(FILES_WRITE_SCOPE), "{e:?}");
    assert_eq!(
        (e.code(), e.method()),
        ("missing_scope", "files.getUploadURLExternal")
    );
    assert_ne!(e.class(), ErrorClass::RetryLater);
    assert!(env.files().await.is_empty());
}

#[actix_web::test]
async fn failed_uploads_are_classified_and_a_new_attempt_starts_over() {
    let env = Env::new();
    let token = env.token(UPLOADER).await;
    let api = &env.api;

    // The URL expired between the steps: retried, and the next attempt gets a new one.
    env.control("files/expiry", json!({"seconds": 0})).await;
    assert_eq!(
        refusal(api, &token, &chart(GENERAL, None)).await,
        ("upload_refused".to_owned(), ErrorClass::RetryLater)
    );
    env.control("files/expiry", json!({"seconds": 300})).await;
    api.upload_file(&token, &chart(GENERAL, None))
        .await
        .unwrap();

    // The file host in trouble, or a proxy's page in its place.
    for (failure, code) in [
        (json!({"http_status": 503}), "http_503"),
        (
            json!({"body": "<html>maintenance</html>"}),
            "invalid_response",
        ),
        (json!({"cut": true}), "connection_failed"),
        (json!({"http_status": 429, "retry_after": 9}), "ratelimited"),
    ] {
        let mut failure = failure;
        failure["method"] = json!("upload");
        env.control("fail", failure.clone()).await;
        let refused = refusal(api, &token, &chart(GENERAL, None)).await;
        assert_eq!(
            refused,
            (code.to_owned(), ErrorClass::RetryLater),
            "{failure}"
        );
    }

    // The channel refuses like for posts; a name is not an ID.
    for (channel, code) in [
        ("general", "channel_not_found"),
        ("C0FAKE0LDT1", "not_in_channel"),
        ("C0FAKE0OLD1", "is_archived"),
    ] {
        let refused = refusal(api, &token, &chart(channel, None)).await;
        assert_eq!(refused, (code.to_owned(), ErrorClass::Channel), "{channel}");
    }

    // Throttled as a Tier-4 method.
    env.control(
        "method-limits",
        json!({"method": "files.completeUploadExternal", "per_minute": 1, "burst": 1}),
    )
    .await;
    api.upload_file(&token, &chart(GENERAL, None))
        .await
        .unwrap();
    let e = api
        .upload_file(&token, &chart(GENERAL, None))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.class()),
        ("ratelimited", ErrorClass::RetryLater)
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
}

use reqwest::Method;

use crate::helpers::*;

/// (what, path, body, expected status, expected field)
type Case<'a> = (&'a str, &'a str, Vec<u8>, u16, Option<&'a str>);

/// Every malformed request gets a 4xx in the error format, with a message and, where it
/// makes sense, the field; never a 500.
#[actix_web::test]
async fn malformed_requests_get_clear_4xx_answers() {
    let app = spawn_app().await;
    app.seed_acme().await;
    let t = app.service_token.clone();
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024));
    let cases: Vec<Case> = vec![
        (
            "not JSON",
            "/api/v1/orgs/acme",
            b"{name: acme".to_vec(),
            400,
            Some("body"),
        ),
        (
            "empty body",
            "/api/v1/orgs/acme",
            b"".to_vec(),
            400,
            Some("body"),
        ),
        (
            "whitespace body",
            "/api/v1/orgs/acme",
            b"  \n".to_vec(),
            400,
            Some("body"),
        ),
        (
            "missing name",
            "/api/v1/orgs/acme",
            b"{}".to_vec(),
            422,
            Some("name"),
        ),
        (
            "name is a number",
            "/api/v1/orgs/acme",
            br#"{"name": 5}"#.to_vec(),
            422,
            Some("name"),
        ),
        (
            "name is null",
            "/api/v1/orgs/acme",
            br#"{"name": null}"#.to_vec(),
            422,
            Some("name"),
        ),
        (
            "name is empty",
            "/api/v1/orgs/acme",
            br#"{"name": "  "}"#.to_vec(),
            422,
            Some("name"),
        ),
        (
            "name too long",
            "/api/v1/orgs/acme",
            format!("{{\"name\": \"{}\"}}", "n".repeat(201)).into_bytes(),
            422,
            Some("name"),
        ),
        (
            "name has a control char",
            "/api/v1/orgs/acme",
            br#"{"name": "a\u0007b"}"#.to_vec(),
            422,
            Some("name"),
        ),
        (
            "body is an array",
            "/api/v1/orgs/acme",
            br#"[{"name": "x"}]"#.to_vec(),
            422,
            Some("body"),
        ),
        (
            "trailing garbage",
            "/api/v1/orgs/acme",
            br#"{"name": "x"} {"#.to_vec(),
            400,
            Some("body"),
        ),
        (
            "uppercase org slug",
            "/api/v1/orgs/Acme",
            br#"{"name": "x"}"#.to_vec(),
            400,
            Some("org"),
        ),
        (
            "org slug starts with -",
            "/api/v1/orgs/-acme",
            br#"{"name": "x"}"#.to_vec(),
            400,
            Some("org"),
        ),
        (
            "org slug too long",
            &*Box::leak(format!("/api/v1/orgs/{}", "a".repeat(65)).into_boxed_str()),
            br#"{"name": "x"}"#.to_vec(),
            400,
            Some("org"),
        ),
        (
            "org slug with space",
            "/api/v1/orgs/ac%20me",
            br#"{"name": "x"}"#.to_vec(),
            400,
            Some("org"),
        ),
        (
            "bad project slug",
            "/api/v1/orgs/acme/projects/Web_Shop",
            br#"{"name": "x"}"#.to_vec(),
            400,
            Some("project"),
        ),
        (
            "body over 64 KiB",
            "/api/v1/orgs/acme",
            big.into_bytes(),
            413,
            None,
        ),
        (
            "invalid UTF-8",
            "/api/v1/orgs/acme",
            b"{\"name\": \"\xff\"}".to_vec(),
            400,
            Some("body"),
        ),
    ];
    assert!(cases.len() >= 15);
    for (what, path, body, want_status, want_field) in cases {
        let (status, res) = app.call_raw(Method::PUT, path, &t, body).await;
        assert_eq!(status, want_status, "{what}: {res}");
        let code = res["error"].as_str().unwrap_or_default();
        assert!(!code.is_empty(), "{what}: error code missing in {res}");
        assert!(
            res["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: message missing"
        );
        if let Some(field) = want_field {
            assert_eq!(res["field"], field, "{what}: {res}");
        }
        if want_status == 413 {
            assert_eq!(code, "payload_too_large");
        } else {
            assert_eq!(code, "invalid_request", "{what}");
        }
    }
}

#[actix_web::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let app = spawn_app().await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..80).map(|_| Ok(vec![b' '; 1024])).collect();
    let stream = futures_util::stream::iter(chunks);
    let res = app
        .http
        .put(app.url("/api/v1/orgs/acme"))
        .bearer_auth(&app.service_token)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
}

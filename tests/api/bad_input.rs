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

/// Asserts the API's error format: JSON with a code and a message.
fn assert_error_format(what: &str, status: u16, want: u16, body: &serde_json::Value, code: &str) {
    assert_eq!(status, want, "{what}: {body}");
    assert_eq!(body["error"], code, "{what}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: message missing in {body}"
    );
}

/// A query parameter given twice is a 400 in the error format naming it (it was plain text).
#[actix_web::test]
async fn a_repeated_query_parameter_is_a_json_400_naming_it() {
    let app = spawn_app().await;
    app.seed_acme().await;
    let admin = app.admin_token("acme");
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/orgs/acme/projects/webshop/slack/deliveries?limit=5&limit=6",
            Some(&admin),
            None,
        )
        .await;
    assert_error_format("?limit twice", status, 400, &body, "invalid_request");
    assert_eq!(body["field"], "limit", "{body}");
}

/// `path → methods` of every route: `/api/v1` from the OpenAPI document (which the app
/// makes from the routes it registers), and the service's other endpoints.
async fn routes_served(app: &TestApp) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let doc: serde_json::Value = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                out.entry(path.clone())
                    .or_default()
                    .push(method.to_uppercase());
            }
        }
    }
    for (path, method) in [
        ("/healthz", "GET"),
        ("/readyz", "GET"),
        ("/metrics", "GET"),
        ("/slack/oauth/callback", "GET"),
        ("/slack/events", "POST"),
    ] {
        out.insert(path.to_owned(), vec![method.to_owned()]);
    }
    out
}

/// A method a path does not serve answers 405 `method_not_allowed` in the error format with
/// an `Allow` header listing what it serves (it was a 404); unknown paths stay 404.
#[actix_web::test]
async fn a_wrong_method_on_a_known_path_is_a_json_405_with_allow() {
    let app = spawn_app().await;
    app.seed_acme().await;
    let routes = routes_served(&app).await;
    assert!(routes.len() >= 15, "{routes:?}");
    for (route, methods) in &routes {
        let path = route
            .replace("{org}", "acme")
            .replace("{project}", "webshop")
            .replace("{load_test_id}", "lt-1")
            .replace("{scenario_id}", "sc-1")
            .replace("{definition}", "checkout-peak")
            .replace("{id}", "1");
        assert!(!path.contains('{'), "fill in the parameters of {route}");
        let wrong = ["PATCH", "DELETE", "PUT", "POST"]
            .into_iter()
            .find(|m| !methods.iter().any(|have| have == m))
            .unwrap();
        let res = app
            .http
            .request(wrong.parse().unwrap(), app.url(&path))
            .bearer_auth(&app.service_token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let allow = res
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        let what = format!("{wrong} {path}");
        assert_error_format(&what, status, 405, &body, "method_not_allowed");
        let allow = allow.unwrap_or_else(|| panic!("{what}: no Allow header"));
        let mut listed: Vec<&str> = allow.split(',').map(str::trim).collect();
        listed.sort_unstable();
        let mut want: Vec<&str> = methods.iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(listed, want, "{what}: Allow");
    }
    // The web UI's sign-in resource too (actix answered an empty 405 there).
    let res = app.http.delete(app.url("/")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 405);
    assert!(res.headers().get("allow").is_some());
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    assert_error_format("DELETE /", 405, 405, &body, "method_not_allowed");
    // Unknown paths are still 404.
    let (status, body) = app
        .call(Method::GET, "/api/v1/nothing-here", None, None)
        .await;
    assert_error_format("unknown path", status, 404, &body, "not_found");
}

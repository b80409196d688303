//! `GET /api/v1/openapi.json`: an OpenAPI 3 document that lists every `/api/v1` route.
//!
//! The route list comes from the code: every actix route attribute under `src/http/`;
//! each is checked to be served by the app (not the JSON 404 of unknown endpoints) and
//! to be in the document, and every documented operation to be such a route.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::*;

/// `(method, path)` of every `#[get("/api/v1…")]`-style attribute in `src/http/`.
fn routes_in_code() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/http"
    ))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines().map(str::trim) {
                for method in ["get", "post", "put", "delete", "patch"] {
                    let prefix = format!("#[{method}(\"/api/v1");
                    if let Some(rest) = line.strip_prefix(&prefix) {
                        let path = format!("/api/v1{}", rest.split('"').next().unwrap());
                        out.insert((method.to_owned(), path));
                    }
                }
            }
        }
    }
    out
}

fn routes_in_doc(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                out.insert((method.clone(), path.clone()));
            }
        }
    }
    out
}

#[actix_web::test]
async fn the_openapi_document_lists_every_api_route() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let code = routes_in_code();
    assert!(code.len() >= 18, "{code:#?}");
    let documented = routes_in_doc(&doc);
    assert_eq!(code, documented, "routes in code vs. documented");

    // Each route is really served: not the 404 of unknown endpoints.
    for (method, path) in &code {
        let concrete = path
            .replace("{org}", "acme")
            .replace("{project}", "webshop")
            .replace("{load_test_id}", "lt-1")
            .replace("{scenario_id}", "sc-1");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let res = app
            .http
            .request(method.clone(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("no such endpoint"),
            "{method} {concrete} is not served: {status} {body}"
        );
    }

    // Path parameters and bodies are described.
    let put_org = &doc["paths"]["/api/v1/orgs/{org}/slack"]["put"];
    assert!(
        put_org["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "org"),
        "{put_org}"
    );
    assert!(put_org["requestBody"].is_object(), "{put_org}");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "OrgView",
        "ProjectView",
        "LoadTestEventBody",
        "MonitoringEventBody",
        "ChannelWarning",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    assert!(schemas["OrgView"]["properties"]["channel_warnings"].is_object());
}

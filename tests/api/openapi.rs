//! `GET /api/v1/openapi.json`: an OpenAPI 3 document that lists every `/api/v1` route.
//!
//! The document is made from the routes as the app registers them, so it cannot list a
//! route the app does not serve; these tests check that it lists every route of the
//! contract (API.md) and nothing else, that each is really served, and what it says
//! about parameters, bodies and errors.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::*;

/// `method path` of every `/api/v1` route of API.md.
const CONTRACT: [&str; 20] = [
    "put /api/v1/orgs/{org}",
    "put /api/v1/orgs/{org}/projects/{project}",
    "post /api/v1/load-tests/{load_test_id}/events",
    "post /api/v1/monitoring/scenarios/{scenario_id}/events",
    "get /api/v1/orgs/{org}/slack",
    "put /api/v1/orgs/{org}/slack",
    "get /api/v1/orgs/{org}/projects/{project}/slack",
    "put /api/v1/orgs/{org}/projects/{project}/slack",
    "delete /api/v1/orgs/{org}/projects/{project}/slack",
    "post /api/v1/orgs/{org}/slack/install",
    "post /api/v1/orgs/{org}/projects/{project}/slack/install",
    "delete /api/v1/orgs/{org}/slack/integration",
    "delete /api/v1/orgs/{org}/projects/{project}/slack/integration",
    "post /api/v1/orgs/{org}/slack/test-message",
    "post /api/v1/orgs/{org}/projects/{project}/slack/test-message",
    "get /api/v1/orgs/{org}/projects/{project}/slack/deliveries",
    "get /api/v1/orgs/{org}/slack/deliveries",
    "post /api/v1/orgs/{org}/slack/channel-check",
    "delete /api/v1/orgs/{org}/projects/{project}/slack/mutes/{scenario_id}",
    "get /api/v1/openapi.json",
];

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

    let contract: BTreeSet<(String, String)> = CONTRACT
        .iter()
        .map(|route| {
            let (method, path) = route.split_once(' ').unwrap();
            (method.to_owned(), path.to_owned())
        })
        .collect();
    let documented = routes_in_doc(&doc);
    assert_eq!(
        contract, documented,
        "routes of the contract vs. documented"
    );

    // Each documented route is really served: not the 404 of unknown endpoints.
    for (method, path) in &documented {
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

    // Each protected route names its error answers, with the shared error body.
    let get_org = &doc["paths"]["/api/v1/orgs/{org}/slack"]["get"]["responses"];
    for status in ["200", "400", "401", "403", "404"] {
        assert!(get_org[status].is_object(), "{status} missing: {get_org}");
    }
    assert_eq!(
        get_org["404"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    let event = &doc["paths"]["/api/v1/load-tests/{load_test_id}/events"]["post"]["responses"];
    for status in ["202", "200", "409", "413", "422", "503"] {
        assert!(event[status].is_object(), "{status} missing: {event}");
    }
}

#[actix_web::test]
async fn the_openapi_document_states_input_limits_and_the_rules_setting() {
    let app = spawn_app().await;
    let doc: Value = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &doc["components"]["schemas"];
    for body in ["LoadTestEventBody", "MonitoringEventBody"] {
        let props = &schemas[body]["properties"];
        assert_eq!(props["event_id"]["maxLength"], 200, "{body}: {props}");
        assert_eq!(props["org"]["maxLength"], 64, "{body}");
        assert_eq!(props["project"]["maxLength"], 64, "{body}");
    }
    let org_body = &schemas["OrgSettingsBody"]["properties"];
    assert!(org_body["rules"].is_object(), "{org_body}");
    assert!(
        schemas["RuleBody"]["properties"]["mention"].is_object(),
        "{}",
        schemas["RuleBody"]
    );
}

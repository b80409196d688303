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
const CONTRACT: [&str; 33] = [
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
    "get /api/v1/orgs/{org}/projects/{project}/slack/baselines",
    "put /api/v1/orgs/{org}/projects/{project}/slack/baselines/{definition}",
    "delete /api/v1/orgs/{org}/projects/{project}/slack/baselines/{definition}",
    "post /api/v1/orgs/{org}/slack/summary/preview",
    "post /api/v1/orgs/{org}/projects/{project}/slack/summary/preview",
    "post /api/v1/orgs/{org}/slack/summary/send",
    "post /api/v1/orgs/{org}/projects/{project}/slack/summary/send",
    "get /api/v1/openapi.json",
    "get /api/v1/orgs/{org}/slack/maintenance-windows",
    "post /api/v1/orgs/{org}/slack/maintenance-windows",
    "delete /api/v1/orgs/{org}/slack/maintenance-windows/{id}",
    "get /api/v1/orgs/{org}/projects/{project}/slack/maintenance-windows",
    "post /api/v1/orgs/{org}/projects/{project}/slack/maintenance-windows",
    "delete /api/v1/orgs/{org}/projects/{project}/slack/maintenance-windows/{id}",
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
            .replace("{scenario_id}", "sc-1")
            .replace("{definition}", "checkout-peak")
            .replace("{id}", "1");
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
    // The regression threshold's limits, wherever the document states the type.
    let threshold = &schemas["RegressionThreshold"];
    assert_eq!(
        (threshold["minimum"].as_f64(), threshold["maximum"].as_f64()),
        (Some(1.0), Some(1000.0)),
        "{threshold}"
    );
    for body in [
        "OrgSettingsBody",
        "ProjectSettingsBody",
        "OrgView",
        "OwnView",
    ] {
        let field = schemas[body]["properties"]["regression_threshold_pct"].to_string();
        assert!(
            field.contains("#/components/schemas/RegressionThreshold"),
            "{body}: {field}"
        );
    }
    for view in ["OrgView", "EffectiveView"] {
        assert!(
            schemas[view]["properties"]["warnings"]
                .to_string()
                .contains("WarningView"),
            "{view}"
        );
    }
    assert!(
        schemas["RuleBody"]["properties"]["mention"].is_object(),
        "{}",
        schemas["RuleBody"]
    );
}

async fn served_document(app: &TestApp) -> Value {
    app.http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every operation of the document as `(method, path, operation)`.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&method.as_str())
            {
                out.push((method.clone(), path.clone(), op));
            }
        }
    }
    out
}

/// Every `$ref` anywhere in `value`, with where it was found.
fn refs<'a>(value: &'a Value, at: &str, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(target)) => out.push((at.to_owned(), target)),
                    _ => refs(v, &format!("{at}/{key}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                refs(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// What the OpenAPI 3 specification requires of a document that code generators rely
/// on, checked on the JSON: the rules a strict validator reports first.
fn structural_problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if !doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")) {
        problems.push(format!("openapi version {}", doc["openapi"]));
    }
    for field in ["title", "version"] {
        if !doc["info"][field].is_string() {
            problems.push(format!("info.{field} missing"));
        }
    }
    let mut ids = std::collections::BTreeMap::<&str, Vec<String>>::new();
    for (method, path, op) in operations(doc) {
        let at = format!("{method} {path}");
        if !path.starts_with('/') {
            problems.push(format!("{at}: a path must start with /"));
        }
        match op["operationId"].as_str() {
            Some(id) => ids.entry(id).or_default().push(at.clone()),
            None => problems.push(format!("{at}: no operationId")),
        }
        let responses = op["responses"].as_object();
        if responses.is_none_or(|r| r.is_empty()) {
            problems.push(format!("{at}: no responses"));
        }
        for (status, response) in responses.into_iter().flatten() {
            let known = status == "default"
                || (status.len() == 3
                    && status.parse::<u16>().is_ok_and(|s| (100..600).contains(&s)));
            if !known {
                problems.push(format!("{at}: response key {status}"));
            }
            if response.get("$ref").is_none() && !response["description"].is_string() {
                problems.push(format!("{at}: response {status} has no description"));
            }
        }
        // Each `{name}` of the path is a required path parameter, and no other is.
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let mut seen = BTreeSet::new();
        for p in &params {
            let key = (
                p["in"].as_str().unwrap_or("?"),
                p["name"].as_str().unwrap_or("?"),
            );
            if !seen.insert(key) {
                problems.push(format!("{at}: parameter {key:?} twice"));
            }
            if key.0 == "path" && p["required"] != true {
                problems.push(format!("{at}: path parameter {} not required", key.1));
            }
            if !["path", "query", "header", "cookie"].contains(&key.0) {
                problems.push(format!("{at}: parameter {} in {}", key.1, key.0));
            }
        }
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: BTreeSet<&str> = seen
            .iter()
            .filter(|(place, _)| *place == "path")
            .map(|(_, name)| *name)
            .collect();
        if in_path != declared {
            problems.push(format!(
                "{at}: path parameters {declared:?}, path has {in_path:?}"
            ));
        }
        for requirement in op["security"].as_array().into_iter().flatten() {
            for scheme in requirement.as_object().unwrap().keys() {
                if !doc["components"]["securitySchemes"][scheme].is_object() {
                    problems.push(format!("{at}: security scheme {scheme} not defined"));
                }
            }
        }
    }
    for (id, used_by) in ids {
        if used_by.len() > 1 {
            problems.push(format!("operationId {id} is used by {used_by:?}"));
        }
    }
    let mut found = Vec::new();
    refs(doc, "#", &mut found);
    for (at, target) in found {
        let resolves = target
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer))
            .is_some();
        if !resolves {
            problems.push(format!("{at}: $ref {target} does not resolve"));
        }
    }
    problems
}

/// `put_org` and `put_project` were each the operationId of two operations (the registry's
/// and the Slack settings'), which every client generator refuses.
#[actix_web::test]
async fn the_openapi_document_is_valid_with_unique_operation_ids_and_resolving_refs() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    let problems = structural_problems(&doc);
    assert!(problems.is_empty(), "{problems:#?}");
    let mut found = Vec::new();
    refs(&doc, "#", &mut found);
    assert!(found.len() > 20, "{found:?}");
}

/// The statuses each operation is seen to answer (to no token, another scope's token, a bad
/// path parameter, an unknown organization, a body that is no JSON, an unknown field, a
/// body over the limit) are all among its documented responses.
#[actix_web::test]
async fn every_status_an_operation_answers_is_documented() {
    let app = spawn_app().await;
    app.seed_acme().await;
    let doc = served_document(&app).await;
    let acme_admin = app.admin_token("acme");
    let other_admin = app.admin_token("other");
    let unknown_admin = app.admin_token("nope");
    let service = app.service_token.clone();
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(70 * 1024));
    let mut undocumented = Vec::new();
    for (method, path, op) in operations(&doc) {
        let declared = op["responses"].as_object().unwrap();
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let concrete = |org: &str| {
            path.replace("{org}", org)
                .replace("{project}", "webshop")
                .replace("{load_test_id}", "lt-1")
                .replace("{scenario_id}", "sc-1")
                .replace("{definition}", "checkout-peak")
                .replace("{id}", "1")
        };
        let mut tries: Vec<(&str, Option<&str>, String, Option<String>)> = vec![
            ("no token", None, concrete("acme"), None),
            (
                "another org's admin",
                Some(&other_admin),
                concrete("acme"),
                None,
            ),
        ];
        for (who, token) in [("service", &service), ("admin", &acme_admin)] {
            tries.push((who, Some(token), concrete("Not%20A%20Slug"), None));
            tries.push((who, Some(token), concrete("acme"), Some("{".into())));
            tries.push((
                who,
                Some(token),
                concrete("acme"),
                Some(r#"{"zzz": 1}"#.into()),
            ));
            tries.push((who, Some(token), concrete("acme"), Some(big.clone())));
        }
        tries.push((
            "unknown org's admin",
            Some(&unknown_admin),
            concrete("nope"),
            None,
        ));
        tries.push((
            "service",
            Some(&service),
            concrete("nope"),
            Some("{}".into()),
        ));
        for (who, token, url, body) in tries {
            let mut req = app.http.request(m.clone(), app.url(&url));
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            if let Some(body) = body.clone() {
                req = req.header("content-type", "application/json").body(body);
            }
            let status = req.send().await.unwrap().status().as_u16().to_string();
            if !declared.contains_key(&status) {
                let body = body.map(|b| b.chars().take(20).collect::<String>());
                undocumented.push(format!(
                    "{method} {path}: {status} ({who}, {url}, {body:?})"
                ));
            }
        }
    }
    assert!(undocumented.is_empty(), "{undocumented:#?}");
}

/// The event endpoints answer 202, 200 (duplicate), 401, 403, 404, 409 and 422, and the
/// document says so for each (the monitoring endpoint's 409 was missing).
#[actix_web::test]
async fn the_event_endpoints_document_each_status_they_answer() {
    use serde_json::json;
    let app = spawn_app().await;
    app.seed_acme().await;
    let doc = served_document(&app).await;
    let service = app.service_token.clone();
    let admin = app.admin_token("acme");
    let lt = crate::pipeline::lt_body("e-1", "started");
    let mon = json!({
        "event_id": "m-1", "org": "acme", "project": "webshop", "state": "failure",
        "occurred_at": "2026-11-26T10:00:00Z", "notify_via": ["slack"],
        "scenario": {"name": "Shop checkout", "url": "https://xtc.example/mon/77"},
    });
    let cases = [
        (
            "/api/v1/load-tests/{load_test_id}/events",
            "/api/v1/load-tests/lt-1/events",
            lt,
        ),
        (
            "/api/v1/monitoring/scenarios/{scenario_id}/events",
            "/api/v1/monitoring/scenarios/sc-1/events",
            mon,
        ),
    ];
    for (pattern, url, body) in cases {
        let declared = doc["paths"][pattern]["post"]["responses"]
            .as_object()
            .unwrap();
        let mut reused = body.clone();
        reused["occurred_at"] = json!("2026-11-26T10:05:00Z");
        let mut unknown = body.clone();
        unknown["event_id"] = json!("e-unknown");
        unknown["org"] = json!("nope");
        let mut bad = body.clone();
        bad["event_id"] = json!("e-bad");
        bad["org"] = json!(42);
        let answers = [
            (202, Some(&service), body.clone()),
            (200, Some(&service), body.clone()),
            (409, Some(&service), reused),
            (401, None, body.clone()),
            (403, Some(&admin), body.clone()),
            (404, Some(&service), unknown),
            (422, Some(&service), bad),
        ];
        for (expected, token, body) in answers {
            let (status, answer) = app
                .call(
                    reqwest::Method::POST,
                    url,
                    token.map(String::as_str),
                    Some(body),
                )
                .await;
            assert_eq!(status, expected, "{url}: {answer}");
            assert!(
                declared.contains_key(&status.to_string()),
                "{pattern} answers {status} ({answer}) but documents only {:?}",
                declared.keys().collect::<Vec<_>>()
            );
        }
    }
}

/// The served document passes a real validator: `openapi-spec-validator` (PyPI), run as the
/// command in `XTC_SLACK_OPENAPI_VALIDATOR` (`.ci/run` sets it), else as found on `PATH`, on
/// the document written to a file. Without one the test prints "skipped", except on CI
/// (`CI=true`), where the validator is required.
#[actix_web::test]
async fn the_openapi_document_passes_openapi_spec_validator() {
    let command = match std::env::var("XTC_SLACK_OPENAPI_VALIDATOR") {
        Ok(c) if !c.trim().is_empty() => c,
        _ if on_path("openapi-spec-validator") => "openapi-spec-validator".to_owned(),
        _ => {
            let why = "no OpenAPI validator: set XTC_SLACK_OPENAPI_VALIDATOR or \
                       `pip install openapi-spec-validator`";
            assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{why}");
            eprintln!("skipped: {why}");
            return;
        }
    };
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let mut words = command.split_whitespace();
    let program = words.next().unwrap();
    let out = std::process::Command::new(program)
        .args(words)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("could not run {command}: {e}"));
    // Its messages quote the whole document after the problem: the start is what matters.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let said: String = said.chars().take(4000).collect();
    assert!(
        out.status.success(),
        "{command} refused the served document ({}):\n{said}",
        out.status
    );
}

/// `name` found on `PATH`.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(name).is_file()))
}

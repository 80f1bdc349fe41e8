//! `/openapi.json` against the real hub: it lists exactly the routes the hub serves, each with
//! its answer's schema and its error answers, and its schemas name the fields the handlers
//! really read and write.

use crate::common;

use common::{items, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;

/// Every route the hub serves (method, path), written out: a route added without being
/// documented, or documented without being routed, changes the served document and fails here.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/auth/my-account/integrations/v1/setup"),
    ("post", "/auth/my-account/integrations/v1/setup"),
    ("get", "/auth/my-account/integrations/v1/confirm"),
    ("post", "/auth/my-account/integrations/v1/confirm"),
    (
        "get",
        "/auth/my-account/integrations/v1/create-testing-events",
    ),
    (
        "post",
        "/auth/my-account/integrations/v1/create-testing-events",
    ),
    ("put", "/integrations/v1/token/{token}"),
    ("put", "/integrations/v1/token"),
    ("get", "/integrations/v1/stream"),
    ("get", "/integrations/v1/commands"),
    ("get", "/integrations/v1/events"),
    ("post", "/integrations/v1/comments"),
    ("get", "/integrations/v1/comments"),
    ("patch", "/integrations/v1/comment-ids"),
    ("get", "/integrations/v1/api-secret"),
    ("post", "/admin/v1/tenants"),
    ("post", "/api/v1/comments"),
    ("get", "/api/v1/comments"),
    ("patch", "/api/v1/comments/{id}"),
    ("delete", "/api/v1/comments/{id}"),
    ("post", "/api/v1/comments/{id}/votes"),
    ("post", "/api/v1/comments/bulk"),
    ("get", "/api/v1/comments/{id}"),
    ("post", "/api/v1/comments/{id}/flag"),
    ("post", "/api/v1/comments/{id}/un-flag"),
    ("post", "/api/v1/votes"),
    ("get", "/api/v1/votes"),
    ("get", "/api/v1/votes/for-user"),
    ("get", "/api/v1/export"),
    ("post", "/api/v1/imports"),
    ("get", "/api/v1/imports"),
    ("get", "/api/v1/imports/{id}"),
    ("post", "/api/v1/pages"),
    ("get", "/api/v1/pages"),
    ("get", "/api/v1/pages/by-url-id"),
    ("patch", "/api/v1/pages/{id}"),
    ("delete", "/api/v1/pages/{id}"),
    ("get", "/api/v1/pending-webhook-events"),
    ("get", "/api/v1/pending-webhook-events/count"),
    ("delete", "/api/v1/pending-webhook-events/{id}"),
    ("delete", "/api/v1/votes/{id}"),
    ("get", "/api/v1/api-secrets"),
    ("post", "/api/v1/api-secrets"),
    ("delete", "/api/v1/api-secrets/{id}"),
    ("get", "/api/v1/integrations"),
    ("post", "/api/v1/integrations/{token}/acknowledge"),
    ("post", "/api/v1/integrations/{token}/resync"),
    ("delete", "/api/v1/integrations/{token}"),
    ("get", "/api/v1/webhook-config"),
    ("put", "/api/v1/webhook-config"),
    ("get", "/api/v1/webhook-deliveries"),
    ("post", "/api/v1/webhook-deliveries/retry-failed"),
    ("post", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks/sample-payloads"),
    ("delete", "/api/v1/webhooks/{id}"),
    ("post", "/api/v1/webhooks/{id}/enable"),
    ("post", "/api/v1/webhooks/{id}/disable"),
    ("post", "/api/v1/webhooks/{id}/recover"),
    ("post", "/api/v1/webhook-config/recover"),
    ("post", "/api/v1/api-secrets/{id}/rotate"),
    ("get", "/api/v1/api-secrets/rotations"),
    ("get", "/api/v1/webhook-deliveries/{id}"),
    ("post", "/api/v1/webhook-deliveries/{id}/cancel"),
    ("post", "/api/v1/webhook-deliveries/{id}/retry"),
    ("post", "/api/v1/webhook-test"),
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

async fn document(hub: &TestHub) -> Value {
    let res = hub.get_raw("/openapi.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    doc
}

/// The (method, path) pairs of the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                out.insert((method.clone(), path.clone()));
            }
        }
    }
    out
}

/// What the router answers to `method path` with no credentials and no body: `None` when the
/// router itself refused it (no such route, or not that method), else the status.
async fn probe(hub: &TestHub, method: &str, path: &str) -> Option<StatusCode> {
    let concrete = path
        .replace("{token}", "openapi-probe-token")
        .replace("{id}", "openapi-probe-id");
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let res = hub
        .client
        .request(method, format!("{}{concrete}", hub.base))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    let body: Option<Value> = serde_json::from_str(&text).ok();
    let code = body.as_ref().and_then(|b| b["code"].as_str());
    let reason = body.as_ref().and_then(|b| b["reason"].as_str());
    let refused_by_router = (status == StatusCode::METHOD_NOT_ALLOWED
        && code == Some("method-not-allowed"))
        || (status == StatusCode::NOT_FOUND && reason == Some("route not found"))
        || (status == StatusCode::NOT_FOUND && code == Some("not-supported"));
    (!refused_by_router).then_some(status)
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_hub_serves() {
    let hub = TestHub::start(common::Backend::Sqlite).await;
    let doc = document(&hub).await;
    let documented = operations(&doc);
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&expected).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "routes not documented: {missing:?}; documented but not in the list: {unknown:?}"
    );
    // Every documented operation is routed, and on a documented path no other method is.
    for (path, _) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let routed = probe(&hub, method, path).await;
            let documented = documented.contains(&(method.to_string(), path.clone()));
            assert_eq!(
                routed.is_some(),
                documented,
                "{method} {path}: routed {routed:?}, documented {documented}"
            );
        }
    }
    // And the router answers its own JSON for a path that is not in the document.
    assert_eq!(probe(&hub, "get", "/api/v1/not-a-route").await, None);
}

/// `#/components/schemas/X` → the schema `X`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").expect(r);
            let found = &doc["components"]["schemas"][name];
            assert!(found.is_object(), "{r} is not in components");
            found
        }
        None => schema,
    }
}

#[tokio::test]
async fn every_operation_has_a_response_schema_errors_and_security() {
    let hub = TestHub::start(common::Backend::Sqlite).await;
    let doc = document(&hub).await;
    let failure = &doc["components"]["schemas"]["Failure"];
    let required: BTreeSet<&str> = failure["required"]
        .as_array()
        .expect("Failure.required")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, BTreeSet::from(["status", "code", "reason"]));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["apiKey"]["in"], "header");
    assert_eq!(schemes["apiKey"]["name"], "x-api-key");
    assert_eq!(schemes["apiKeyQuery"]["in"], "query");
    assert_eq!(schemes["apiKeyQuery"]["name"], "API_KEY");
    assert_eq!(schemes["operator"]["scheme"], "bearer");

    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let what = format!("{method} {path}");
            let responses = op["responses"].as_object().expect(&what);
            // The success answer: 200, or 202 for a call that goes on in the background.
            let ok = &responses
                .get("200")
                .or_else(|| responses.get("202"))
                .expect(&what)["content"];
            let (_, media) = ok.as_object().and_then(|c| c.iter().next()).expect(&what);
            assert!(media["schema"].is_object(), "{what}: 200 has no schema");
            // Every call that can fail documents how (liveness and metrics read nothing).
            let errors: Vec<_> = responses.keys().filter(|k| k.as_str() >= "4").collect();
            if !["/healthz", "/metrics"].contains(&path.as_str()) {
                assert!(!errors.is_empty(), "{what}: no error answer");
            }
            for code in &errors {
                let content = responses[code.as_str()]["content"].as_object();
                let schema = content
                    .and_then(|c| c.values().next())
                    .map(|m| &m["schema"]);
                assert!(
                    schema.is_some_and(Value::is_object),
                    "{what} {code}: no schema"
                );
            }
            if path.starts_with("/api/") || path.starts_with("/integrations/") {
                // A JSON API call: its 200 is a named schema (a JSON one; the export is a
                // stream of JSON lines), and its errors are `Failure`s.
                let json = ok.get("application/json").is_some();
                assert!(
                    !json || media["schema"]["$ref"].is_string(),
                    "{what}: 200 not named"
                );
                let errors: Vec<_> = responses.keys().filter(|k| k.as_str() >= "400").collect();
                assert!(errors.len() >= 3, "{what}: error answers {errors:?}");
                for code in errors {
                    let schema = &responses[code]["content"]["application/json"]["schema"];
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/Failure",
                        "{what} {code}"
                    );
                }
            }
            let security: Vec<String> = op["security"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .flat_map(|r| r.as_object().unwrap().keys().cloned())
                        .collect()
                })
                .unwrap_or_default();
            if path.starts_with("/api/") {
                assert_eq!(security, ["apiKey", "apiKeyQuery"], "{what}");
            } else if path.starts_with("/admin/") {
                assert_eq!(security, ["operator"], "{what}");
            }
        }
    }
}

/// The property names of a (resolved) object schema.
fn properties(doc: &Value, schema: &Value) -> BTreeSet<String> {
    resolve(doc, schema)["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn schemas_name_the_fields_of_the_real_bodies() {
    let hub = TestHub::start(common::Backend::Sqlite).await;
    let doc = document(&hub).await;
    let op = |method: &str, path: &str| doc["paths"][path][method].clone();
    let ok_schema =
        |op: &Value| op["responses"]["200"]["content"]["application/json"]["schema"].clone();

    // The upload body is the protocol's `UploadRequest`: comments in every form plugins send.
    let upload = op("post", "/integrations/v1/comments");
    let body = &upload["requestBody"]["content"]["application/json"]["schema"];
    let fields = properties(&doc, body);
    for f in ["comments", "countRemaining", "hasMore", "start"] {
        assert!(fields.contains(f), "upload body lacks {f}: {fields:?}");
    }
    let comments = &resolve(&doc, body)["properties"]["comments"]["items"];
    let comment_fields = properties(&doc, comments);
    for f in ["comment", "externalId", "externalParentId", "date", "urlId"] {
        assert!(comment_fields.contains(f), "UploadComment lacks {f}");
    }
    let upload_ok = properties(&doc, &ok_schema(&upload));
    assert_eq!(
        upload_ok,
        BTreeSet::from(["status", "commentIds", "received"].map(String::from))
    );

    // The stream answer: cursor and gap flag, events with their comment or vote.
    let stream = ok_schema(&op("get", "/integrations/v1/stream"));
    let fields = properties(&doc, &stream);
    for f in [
        "nextFetchDate",
        "gapDetected",
        "hasMore",
        "events",
        "commands",
    ] {
        assert!(fields.contains(f), "stream answer lacks {f}: {fields:?}");
    }
    let event = &resolve(&doc, &stream)["properties"]["events"]["items"];
    let event_fields = properties(&doc, event);
    for f in ["id", "createdAt", "type", "urlId", "comment", "vote"] {
        assert!(event_fields.contains(f), "stream event lacks {f}");
    }
    // `nextFetchDate` is a number (epoch ms), as plugins store it.
    let next = &resolve(&doc, &stream)["properties"]["nextFetchDate"]["type"];
    assert_eq!(next, "integer");
    let stream_op = op("get", "/integrations/v1/stream");
    let stream_params: BTreeSet<&str> = items(&stream_op["parameters"])
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(stream_params, BTreeSet::from(["token", "lastFetchDate"]));

    // Generation B: events carry their payload as a JSON string, described as EventData.
    let events = ok_schema(&op("get", "/integrations/v1/events"));
    let encoded = &resolve(&doc, &events)["properties"]["events"]["items"];
    assert_eq!(
        properties(&doc, encoded),
        BTreeSet::from(["_id", "createdAt", "urlId", "data"].map(String::from))
    );
    assert_eq!(
        resolve(&doc, encoded)["properties"]["data"]["type"],
        "string"
    );
    let data = properties(&doc, &doc["components"]["schemas"]["EventData"].clone());
    for f in ["type", "broadcastId", "timestamp", "comment", "vote"] {
        assert!(data.contains(f), "EventData lacks {f}");
    }

    // A vote's direction is the number on the wire.
    let vote = &doc["components"]["schemas"]["Vote"];
    let direction = resolve(&doc, &vote["properties"]["direction"]);
    assert_eq!(direction["type"], "integer");
    assert_eq!(direction["enum"], serde_json::json!([1, -1]));

    // The webhook configuration is the stored shape, targets and all.
    let put = op("put", "/api/v1/webhook-config");
    let input = &put["requestBody"]["content"]["application/json"]["schema"];
    let fields = properties(&doc, input);
    for f in [
        "domain",
        "create",
        "update",
        "delete",
        "legacyTokenHeader",
        "fireOnImport",
    ] {
        assert!(fields.contains(f), "webhook config input lacks {f}");
    }
    let config = properties(&doc, &doc["components"]["schemas"]["WebhookConfig"].clone());
    assert!(config.contains("fireOnImport"), "{config:?}");
}

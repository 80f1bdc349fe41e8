//! `/` (the hub's front page), `/healthz`, `/metrics`, `/openapi.json`.

use super::extract::AppState;
use crate::error::ApiError;
use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// A link of the front page.
pub struct PageLink {
    /// Where it goes (also shown, so a reader can type it).
    pub href: &'static str,
    /// What to click.
    pub label: &'static str,
    /// One line on what is there.
    pub what: &'static str,
}

/// Where a visitor of `/` may want to go.
const FRONT_LINKS: &[PageLink] = &[
    PageLink {
        href: "/auth/my-account/integrations/v1/setup",
        label: "Connect a site plugin",
        what: "The setup page: a tenant admin acknowledges a plugin's integration token.",
    },
    PageLink {
        href: "/admin",
        label: "Admin pages",
        what: "Integrations, webhooks, deliveries and comments of a tenant (being built).",
    },
    PageLink {
        href: "/openapi.json",
        label: "API description",
        what: "OpenAPI document of the integration, tenant and operator API.",
    },
    PageLink {
        href: "/healthz",
        label: "Liveness",
        what: "Answers while the process serves HTTP; reads nothing from disk.",
    },
    PageLink {
        href: "/readyz",
        label: "Readiness",
        what: "Answers 200 when the store answers a query, 503 with the reason when not.",
    },
    PageLink {
        href: "/metrics",
        label: "Metrics",
        what: "Prometheus counters.",
    },
];

/// The front page (`templates/index.html` inside `templates/base.html`).
#[derive(Template)]
#[template(path = "index.html")]
struct FrontPage {
    version: &'static str,
    links: &'static [PageLink],
}

/// `GET /`: a short page naming the hub and its version, with links to where to go next.
pub async fn front_page() -> Response {
    let page = FrontPage {
        version: env!("CARGO_PKG_VERSION"),
        links: FRONT_LINKS,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the front page failed");
            ApiError::internal().into_response()
        }
    }
}

/// `GET /healthz`: liveness. The process serves HTTP, so it is alive; nothing else is checked,
/// so a probe every few seconds costs no disk read (readiness is [`readyz`]).
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "success"}))
}

/// How long a readiness probe waits for the store before calling it unavailable (the store's
/// own pool waits far longer, which would hold a prober's connection open).
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// `GET /readyz`: readiness. Answers `200` once the store answers a cheap query (one primary-key
/// lookup), `503 store-unavailable` with the reason otherwise.
pub async fn readyz(State(hub): State<AppState>) -> Response {
    let reason = match tokio::time::timeout(READY_TIMEOUT, hub.store.tenant("readyz-probe")).await {
        Ok(Ok(_)) => return Json(json!({"status": "success"})).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "readiness check: the store failed");
            "the store does not answer queries"
        }
        Err(_) => {
            tracing::error!("readiness check: the store did not answer within 5 s");
            "the store did not answer within 5 s"
        }
    };
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store-unavailable", reason).into_response()
}

/// `GET /metrics`.
pub async fn metrics(State(hub): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::scrape(&hub).await,
    )
}

/// One public endpoint: method, path, summary, how it is authenticated, query parameters.
struct Endpoint {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    auth: Auth,
    query: &'static [&'static str],
    body: bool,
}

#[derive(Clone, Copy)]
enum Auth {
    None,
    Token,
    ApiKey,
    Operator,
}

const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "get",
        path: "/",
        summary: "A short HTML page naming the hub and its version, with links.",
        auth: Auth::None,
        query: &[],
        body: false,
    },
    Endpoint {
        method: "put",
        path: "/integrations/v1/token/{token}",
        summary: "Register an integration token (pending until acknowledged).",
        auth: Auth::None,
        query: &["integrationType", "domain", "skipInitialSync"],
        body: false,
    },
    Endpoint {
        method: "put",
        path: "/integrations/v1/token",
        summary: "Register an integration token given as ?token=.",
        auth: Auth::Token,
        query: &["integrationType", "domain", "skipInitialSync"],
        body: false,
    },
    Endpoint {
        method: "get",
        path: "/integrations/v1/stream",
        summary: "Generation A: commands and events after lastFetchDate.",
        auth: Auth::Token,
        query: &["lastFetchDate"],
        body: false,
    },
    Endpoint {
        method: "get",
        path: "/integrations/v1/commands",
        summary: "Generation B: what the plugin should do now.",
        auth: Auth::Token,
        query: &["fromDateTime"],
        body: false,
    },
    Endpoint {
        method: "get",
        path: "/integrations/v1/events",
        summary: "Generation B: events after fromDateTime, data as a JSON string.",
        auth: Auth::Token,
        query: &["fromDateTime"],
        body: false,
    },
    Endpoint {
        method: "post",
        path: "/integrations/v1/comments",
        summary: "Upload a batch of the site's comments (idempotent upsert).",
        auth: Auth::Token,
        query: &[],
        body: true,
    },
    Endpoint {
        method: "get",
        path: "/integrations/v1/comments",
        summary: "Download the tenant's comments, oldest first.",
        auth: Auth::Token,
        query: &["skip", "includeCount"],
        body: false,
    },
    Endpoint {
        method: "patch",
        path: "/integrations/v1/comment-ids",
        summary: "Store the plugin's local ids (meta.wpId), at most 500 per call.",
        auth: Auth::Token,
        query: &[],
        body: true,
    },
    Endpoint {
        method: "get",
        path: "/integrations/v1/api-secret",
        summary: "The tenant's API secret for the token's domain, else the wildcard one.",
        auth: Auth::Token,
        query: &[],
        body: false,
    },
    Endpoint {
        method: "post",
        path: "/admin/v1/tenants",
        summary: "Create a tenant with a wildcard API secret.",
        auth: Auth::Operator,
        query: &[],
        body: true,
    },
    Endpoint {
        method: "post",
        path: "/api/v1/comments",
        summary: "Create a comment.",
        auth: Auth::ApiKey,
        query: &[],
        body: true,
    },
    Endpoint {
        method: "get",
        path: "/api/v1/comments",
        summary: "A thread's comments.",
        auth: Auth::ApiKey,
        query: &["urlId"],
        body: false,
    },
    Endpoint {
        method: "patch",
        path: "/api/v1/comments/{id}",
        summary: "Change a comment's text or flags.",
        auth: Auth::ApiKey,
        query: &[],
        body: true,
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/comments/{id}",
        summary: "Delete a comment.",
        auth: Auth::ApiKey,
        query: &[],
        body: false,
    },
    Endpoint {
        method: "post",
        path: "/api/v1/comments/{id}/votes",
        summary: "Vote on a comment.",
        auth: Auth::ApiKey,
        query: &[],
        body: true,
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/votes/{voteId}",
        summary: "Remove a vote.",
        auth: Auth::ApiKey,
        query: &[],
        body: false,
    },
    Endpoint {
        method: "get",
        path: "/api/v1/api-secrets",
        summary: "List the tenant's API secrets.",
        auth: Auth::ApiKey,
        query: &[],
        body: false,
    },
    Endpoint {
        method: "post",
        path: "/api/v1/api-secrets",
        summary: "Create an API secret for a domain (or * for all).",
        auth: Auth::ApiKey,
        query: &[],
        body: true,
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/api-secrets/{id}",
        summary: "Revoke an API secret.",
        auth: Auth::ApiKey,
        query: &[],
        body: false,
    },
    Endpoint {
        method: "get",
        path: "/api/v1/integrations",
        summary: "List the tenant's integration tokens.",
        auth: Auth::ApiKey,
        query: &[],
        body: false,
    },
    Endpoint {
        method: "post",
        path: "/api/v1/integrations/{token}/acknowledge",
        summary: "Bind a pending token to the tenant.",
        auth: Auth::ApiKey,
        query: &[],
        body: true,
    },
    Endpoint {
        method: "post",
        path: "/api/v1/integrations/{token}/resync",
        summary: "Start the token's upload over.",
        auth: Auth::ApiKey,
        query: &[],
        body: false,
    },
    Endpoint {
        method: "delete",
        path: "/api/v1/integrations/{token}",
        summary: "Revoke a token.",
        auth: Auth::ApiKey,
        query: &[],
        body: false,
    },
    Endpoint {
        method: "get",
        path: "/auth/my-account/integrations/v1/setup",
        summary: "The setup page where an admin acknowledges a token.",
        auth: Auth::None,
        query: &["token"],
        body: false,
    },
    Endpoint {
        method: "get",
        path: "/healthz",
        summary: "Liveness: the process serves HTTP (no store access).",
        auth: Auth::None,
        query: &[],
        body: false,
    },
    Endpoint {
        method: "get",
        path: "/readyz",
        summary: "Readiness: 200 when the store answers, 503 store-unavailable when not.",
        auth: Auth::None,
        query: &[],
        body: false,
    },
    Endpoint {
        method: "get",
        path: "/metrics",
        summary: "Prometheus counters.",
        auth: Auth::None,
        query: &[],
        body: false,
    },
    Endpoint {
        method: "get",
        path: "/openapi.json",
        summary: "This document.",
        auth: Auth::None,
        query: &[],
        body: false,
    },
];

fn failure_schema() -> Value {
    json!({"type": "object", "required": ["status", "code", "reason"], "properties": {
        "status": {"type": "string", "enum": ["failed"]}, "code": {"type": "string"}, "reason": {"type": "string"}}})
}

/// The OpenAPI 3.1 description of every public endpoint.
pub fn openapi_document() -> Value {
    let mut paths = Map::new();
    for e in ENDPOINTS {
        let mut params: Vec<Value> = e
            .query
            .iter()
            .map(|q| json!({"name": q, "in": "query", "required": false, "schema": {"type": "string"}}))
            .collect();
        for seg in e.path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                params.push(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}));
            }
        }
        if matches!(e.auth, Auth::Token) && !e.path.contains("{token}") {
            params.push(json!({"name": "token", "in": "query", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{8,128}$"}}));
        }
        let security = match e.auth {
            Auth::ApiKey => json!([{"apiKey": []}]),
            Auth::Operator => json!([{"operator": []}]),
            Auth::None | Auth::Token => json!([]),
        };
        let mut op = json!({
            "summary": e.summary,
            "parameters": params,
            "security": security,
            "responses": {
                "200": {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}},
                "4XX": {"description": "refused", "content": {"application/json": {"schema": failure_schema()}}},
            }
        });
        if e.body {
            op["requestBody"] = json!({"required": false, "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        let item = paths.entry(e.path.to_owned()).or_insert_with(|| json!({}));
        item[e.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "FastComments hub", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Integration protocol (both generations), comments API and operator API."},
        "paths": paths,
        "components": {"securitySchemes": {
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            "operator": {"type": "http", "scheme": "bearer"}
        }}
    })
}

/// `GET /openapi.json`.
pub async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

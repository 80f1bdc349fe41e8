//! `/` (the hub's front page), `/healthz`, `/metrics`, `/openapi.json`.

use super::doc::InternalError;
use crate::error::{ApiError, Code};
use crate::extract::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use fastcomments_protocol::{Failure, Status};
use serde::Serialize;
use std::sync::OnceLock;
use std::time::Duration;
use utoipa::ToSchema;

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
        what: "Integrations, webhooks, deliveries, API secrets and comments of a tenant.",
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
#[utoipa::path(
    get,
    path = "/",
    tag = "pages",
    summary = "A short page naming the hub and its version, with links",
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        InternalError
    )
)]
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
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    summary = "Liveness: the process serves HTTP (no store access)",
    responses((status = 200, description = "Alive", body = Probe))
)]
pub async fn healthz() -> Json<Probe> {
    Json(Probe {
        status: Status::Success,
    })
}

/// The answer of a probe that passed: `{"status":"success"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Probe {
    status: Status,
}

/// How long a readiness probe waits for the store before calling it unavailable (the store's
/// own pool waits far longer, which would hold a prober's connection open).
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// `GET /readyz`: readiness. Answers `200` once the store answers a cheap query (one primary-key
/// lookup) and, if the last write failed for a storage fault (a full disk), once a probe write
/// commits again; `503 store-unavailable` with the reason otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    summary = "Readiness: 200 when the store answers and takes writes, 503 store-unavailable when not",
    responses(
        (status = 200, description = "Ready", body = Probe),
        (status = 503, description = "`store-unavailable`, with the reason", body = Failure)
    )
)]
pub async fn readyz(State(hub): State<AppState>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, hub.readiness()).await {
        Ok(Ok(())) => Json(Probe {
            status: Status::Success,
        })
        .into_response(),
        Ok(Err(reason)) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::StoreUnavailable,
            reason,
        )
        .into_response(),
        Err(_) => {
            tracing::error!("readiness check: the store did not answer within 5 s");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::StoreUnavailable,
                "the store did not answer within 5 s",
            )
            .into_response()
        }
    }
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    summary = "Prometheus counters",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(hub): State<AppState>) -> impl IntoResponse {
    // The store's gauges are read at most every STORE_GAUGES_TTL, so a scraper polling every
    // second costs one query per few seconds; a failed read keeps the previous values.
    if hub.metrics.store_gauges_stale() {
        match hub.reads().webhook_stats().await {
            Ok(stats) => hub.metrics.set_store_gauges(&stats, hub.now()),
            Err(e) => tracing::warn!(error = %e, "reading webhook statistics for /metrics failed"),
        }
    }
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        hub.metrics.render(),
    )
}

/// The OpenAPI 3.1 document of every route: what [`super::api_routes`] mounts, each route
/// described by its handler's `#[utoipa::path]`, over the frame of [`super::doc::ApiDoc`].
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    super::api_routes().into_openapi()
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "ops",
    summary = "This document",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", body = Object),
        InternalError
    )
)]
pub async fn openapi() -> Response {
    // Built once: the routes do not change while the process runs.
    static DOC: OnceLock<Option<Bytes>> = OnceLock::new();
    let doc = DOC.get_or_init(|| match serde_json::to_vec(&openapi_document()) {
        Ok(v) => Some(Bytes::from(v)),
        Err(e) => {
            tracing::error!(error = %e, "serialising the OpenAPI document failed");
            None
        }
    });
    match doc {
        Some(bytes) => {
            ([(header::CONTENT_TYPE, "application/json")], bytes.clone()).into_response()
        }
        None => ApiError::internal().into_response(),
    }
}

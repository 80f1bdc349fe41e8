//! The HTTP API, grouped by resource: `integration` (SPEC §1), `tenant` (the comments and
//! management API), `admin` (operator), `setup_page`, `ops` (health, metrics, OpenAPI).

pub mod admin;
pub mod extract;
pub mod integration;
pub mod ops;
pub mod setup_page;
pub mod subscriptions;
pub mod tenant;
pub mod testing_events;
pub mod webhooks;

use crate::error::ApiError;
use crate::hub::Hub;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;
use std::sync::Arc;

async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this route does not take that method",
    )
}

async fn count_responses(State(hub): State<Arc<Hub>>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let s = res.status().as_u16();
    match s {
        500.. => hub.metrics.responses_5xx.inc(),
        400..=499 => hub.metrics.responses_4xx.inc(),
        _ => hub.metrics.responses_2xx.inc(),
    }
    res
}

/// Every route of the hub.
pub fn router(hub: Arc<Hub>) -> Router {
    let integration = Router::new()
        .route("/token/{token}", put(integration::put_token_path))
        .route("/token", put(integration::put_token_query))
        .route("/stream", get(integration::stream))
        .route("/commands", get(integration::commands))
        .route("/events", get(integration::events))
        .route(
            "/comments",
            post(integration::upload).get(integration::download),
        )
        .route("/comment-ids", patch(integration::comment_ids))
        .route("/api-secret", get(integration::api_secret));
    let tenant_api = Router::new()
        .route(
            "/comments",
            post(tenant::create_comment).get(tenant::list_comments),
        )
        .route(
            "/comments/{id}",
            patch(tenant::update_comment).delete(tenant::delete_comment),
        )
        .route("/comments/{id}/votes", post(tenant::vote))
        .route("/votes/{id}", delete(tenant::delete_vote))
        .route(
            "/api-secrets",
            get(tenant::list_secrets).post(tenant::create_secret),
        )
        .route("/api-secrets/{id}", delete(tenant::delete_secret))
        .route(
            "/api-secrets/{id}/rotate",
            post(subscriptions::rotate_secret),
        )
        .route("/api-secrets/rotations", get(subscriptions::list_rotations))
        .route("/integrations", get(tenant::list_integrations))
        .route(
            "/integrations/{token}/acknowledge",
            post(tenant::acknowledge),
        )
        .route("/integrations/{token}/resync", post(tenant::resync))
        .route("/integrations/{token}", delete(tenant::revoke))
        .route(
            "/webhook-config",
            get(webhooks::get_config).put(webhooks::put_config),
        )
        .route("/webhook-deliveries", get(webhooks::list_deliveries))
        .route("/webhook-deliveries/{id}", get(webhooks::get_delivery))
        .route("/webhook-deliveries/{id}/cancel", post(webhooks::cancel))
        .route("/webhook-deliveries/{id}/retry", post(webhooks::retry))
        .route("/webhook-test", post(webhooks::send_test))
        .route(
            "/webhooks",
            post(subscriptions::create).get(subscriptions::list),
        )
        .route(
            "/webhooks/sample-payloads",
            get(subscriptions::sample_payloads),
        )
        .route("/webhooks/{id}", delete(subscriptions::remove))
        .route("/webhooks/{id}/enable", post(subscriptions::enable))
        .route("/webhooks/{id}/disable", post(subscriptions::disable));
    Router::new()
        .nest("/integrations/v1", integration)
        .nest("/api/v1", tenant_api)
        .route("/admin/v1/tenants", post(admin::create_tenant))
        .route(
            "/auth/my-account/integrations/v1/setup",
            get(setup_page::show).post(setup_page::submit),
        )
        .route("/", get(ops::front_page))
        // The link the WordPress plugin shows its admins (`&hasAccount=true|false`).
        .route(
            "/auth/my-account/integrations/v1/confirm",
            get(setup_page::show).post(setup_page::submit),
        )
        .route(
            "/auth/my-account/integrations/v1/create-testing-events",
            get(testing_events::create).post(testing_events::create),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(hub.clone(), count_responses))
        .with_state(hub)
}

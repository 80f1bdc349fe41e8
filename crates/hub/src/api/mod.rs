//! The HTTP API, grouped by resource: `integration` (SPEC §1), `tenant` (the comments and
//! management API), `admin` (operator), `setup_page`, `ops` (health, metrics, OpenAPI); `doc`,
//! what the OpenAPI document says besides the routes.

pub mod admin;
pub mod comment_view;
pub mod comments;
pub mod doc;
pub mod export;
pub mod imports;
pub mod integration;
pub mod ops;
pub mod pages;
pub mod pending_events;
pub mod recover;
pub mod setup_page;
pub mod subscriptions;
pub mod tenant;
pub mod testing_events;
pub mod throttle;
pub mod votes;
pub mod webhooks;

use crate::error::{ApiError, Code};
use crate::extract::AppState;
use crate::hub::access::TenantAuth;
use crate::hub::Hub;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The paths of the hosted FastComments API (the official SDKs' base paths) this hub has no
/// part of: its account-level calls under `/api/v1` (users, moderators, notifications, email
/// templates, badges, …), and the widget's public API with its SSO.
const HOSTED_ONLY: &[&str] = &[
    "/api/v1/",
    "/comments/",
    "/comments-for-user",
    "/user-notifications",
    "/page-reacts",
    "/feed-posts",
    "/pages/",
    "/gifs",
    "/event-log",
    "/block-from-comment",
    "/user-search",
    "/user-presence-status",
    "/upload-image",
    "/translations",
    "/flag-comment",
    "/check-blocked-comments",
    "/auth/",
];

/// What every handler of the tenant API takes: the hub, and the tenant credential the request
/// came with (a missing or unknown API secret is refused before the handler runs, as
/// [`TenantAuth`] refuses it).
pub struct TenantCall {
    /// The hub.
    pub hub: AppState,
    /// Whose API secret the call came with, and what it reaches.
    pub auth: TenantAuth,
}

impl FromRequestParts<AppState> for TenantCall {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &AppState) -> Result<Self, ApiError> {
        let auth = TenantAuth::from_request_parts(parts, hub).await?;
        Ok(TenantCall {
            hub: hub.clone(),
            auth,
        })
    }
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    let path = uri.path();
    if HOSTED_ONLY.iter().any(|p| path.starts_with(p)) {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            Code::NotSupported,
            format!(
                "{path} is a part of the hosted FastComments API this hub does not have: it \
                 serves comments, votes, flags, pages and pending webhook events \
                 (docs/protocol.md §8)"
            ),
        );
    }
    ApiError::not_found("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        Code::MethodNotAllowed,
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

/// The setup page (and `/confirm`) asks for an API secret: it gets the admin pages' headers
/// (no framing, no caching), whatever it answers.
async fn setup_page_headers(req: Request, next: Next) -> Response {
    let page = req.uri().path().starts_with(setup_page::BASE);
    let res = next.run(req).await;
    if page {
        crate::page_headers::secure(res)
    } else {
        res
    }
}

/// Every route of the hub, each mounted and documented in one call: `routes!` takes the
/// handlers of one path and reads their `#[utoipa::path]` (method, path, parameters, bodies,
/// answers), so nothing is routed that `/openapi.json` does not describe, nor the other way.
pub fn api_routes() -> OpenApiRouter<AppState> {
    let integration = OpenApiRouter::new()
        .routes(routes!(integration::put_token_path))
        .routes(routes!(integration::put_token_query))
        .routes(routes!(integration::stream))
        .routes(routes!(integration::commands))
        .routes(routes!(integration::events))
        .routes(routes!(integration::upload, integration::download))
        .routes(routes!(integration::comment_ids))
        .routes(routes!(integration::api_secret));
    let tenant_api = OpenApiRouter::new()
        .routes(routes!(comments::create_comment, comments::list_comments))
        .routes(routes!(comments::create_bulk))
        .routes(routes!(
            comments::get_comment,
            comments::update_comment,
            comments::delete_comment
        ))
        .routes(routes!(comments::flag))
        .routes(routes!(comments::un_flag))
        .routes(routes!(votes::vote))
        .routes(routes!(votes::cast_vote, votes::list_votes))
        .routes(routes!(votes::votes_for_user))
        .routes(routes!(votes::delete_vote))
        .routes(routes!(tenant::list_secrets, tenant::create_secret))
        .routes(routes!(tenant::delete_secret))
        .routes(routes!(subscriptions::rotate_secret))
        .routes(routes!(subscriptions::list_rotations))
        .routes(routes!(tenant::list_integrations))
        .routes(routes!(tenant::acknowledge))
        .routes(routes!(tenant::resync))
        .routes(routes!(tenant::revoke))
        .routes(routes!(webhooks::get_config, webhooks::put_config))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::retry_failed))
        .routes(routes!(webhooks::get_delivery))
        .routes(routes!(webhooks::cancel))
        .routes(routes!(webhooks::retry))
        .routes(routes!(webhooks::send_test))
        .routes(routes!(export::export))
        .routes(routes!(imports::start, imports::list))
        .routes(routes!(imports::get))
        .routes(routes!(pages::add, pages::list))
        .routes(routes!(pages::by_url_id))
        .routes(routes!(pages::change, pages::remove))
        .routes(routes!(pending_events::list))
        .routes(routes!(pending_events::count))
        .routes(routes!(pending_events::remove))
        .routes(routes!(subscriptions::create, subscriptions::list))
        .routes(routes!(subscriptions::sample_payloads))
        .routes(routes!(subscriptions::remove))
        .routes(routes!(subscriptions::enable))
        .routes(routes!(subscriptions::disable))
        .routes(routes!(recover::recover_subscription))
        .routes(routes!(recover::recover_config));
    OpenApiRouter::with_openapi(
        doc::ApiDoc::openapi().merge_from(integration::EncodedSchemas::openapi()),
    )
    .nest("/integrations/v1", integration)
    .nest("/api/v1", tenant_api)
    .routes(routes!(admin::create_tenant))
    .routes(routes!(setup_page::show, setup_page::submit))
    // The link the WordPress plugin shows its admins (`&hasAccount=true|false`).
    .routes(routes!(
        setup_page::show_confirm,
        setup_page::submit_confirm
    ))
    .routes(routes!(testing_events::create))
    .routes(routes!(ops::front_page))
    .routes(routes!(ops::healthz))
    .routes(routes!(ops::readyz))
    .routes(routes!(ops::metrics))
    .routes(routes!(ops::openapi))
}

/// The API's routes as an axum router, ready for [`layers`] (the pages are mounted beside it
/// by the server, not by the API).
pub fn routes() -> Router<AppState> {
    api_routes().split_for_parts().0
}

/// What wraps every route of the hub, the admin pages included: JSON answers for unknown routes
/// and methods, the credential throttle, the setup page's headers, the response counters.
pub fn layers(routes: Router<AppState>, hub: Arc<Hub>) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            hub.clone(),
            throttle::credential_throttle,
        ))
        .layer(middleware::from_fn(setup_page_headers))
        .layer(middleware::from_fn_with_state(hub.clone(), count_responses))
        .with_state(hub)
}

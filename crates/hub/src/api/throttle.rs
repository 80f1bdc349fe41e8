//! The credential throttle's place in the request path (issue 20 §2; the budget itself is
//! `hub::throttle`): a request whose client address has spent its budget of failed
//! credential checks is answered `429 rate-limited` with `Retry-After` before anything looks at
//! its credential, and every `401` a handler answers costs the address one failure.
//!
//! Probes and documents that carry no credential (`/`, `/healthz`, `/readyz`, `/metrics`,
//! `/openapi.json`) are never refused, so monitoring keeps working during an attack.

use crate::client_addr::{of_request, ClientIp};
use crate::error::{ApiError, Code};
use crate::extract::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Duration;

/// Paths that never carry a credential.
fn carries_no_credential(path: &str) -> bool {
    matches!(
        path,
        "/" | "/healthz" | "/readyz" | "/metrics" | "/openapi.json"
    )
}

/// The answer to an address over its budget: the same whatever credential it sent.
pub fn rate_limited(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        Code::RateLimited,
        format!("too many failed credential checks from this address; retry in {secs} s"),
    )
    .retry_after(secs.max(1))
    .into_response()
}

/// The middleware: refuse an address over its budget, count this request's `401`.
pub async fn credential_throttle(
    State(hub): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    // Requests served without a socket (in-process `oneshot` calls) have no address to count.
    if req.extensions().get::<ConnectInfo<SocketAddr>>().is_none() {
        return next.run(req).await;
    }
    // Found once here; the handlers and pages after read it from the extensions.
    let proxies = &hub.config.connections.trusted_proxies;
    let client = of_request(req.extensions(), req.headers(), proxies);
    req.extensions_mut().insert(ClientIp(client));
    if carries_no_credential(req.uri().path()) {
        return next.run(req).await;
    }
    if let Some(wait) = hub.throttle.wait(client) {
        return rate_limited(wait);
    }
    let response = next.run(req).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        if let Some(wait) = hub.throttle.failed(client) {
            tracing::warn!(client = %client, wait_s = wait.as_secs(), "failed credential checks over the budget; refusing this address for a while");
        }
    }
    response
}

//! Recover (issue 23 §3): `POST /api/v1/webhooks/{id}/recover` for a subscription and
//! `POST /api/v1/webhook-config/recover` for a domain's configuration (configurations are named
//! by their domain, as in `PUT /api/v1/webhook-config`). Every change since a time that went to
//! the target is queued again as a copy; the answer comes once the recover started, and its
//! copies are queued in the background, a page at a time.

use super::doc::TenantErrors;
use super::TenantCall;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::records::{RecoverTarget, Recovery};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use fastcomments_protocol::{Millis, Status};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /api/v1/webhooks/{id}/recover`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverInput {
    /// Epoch ms: the changes made at or after it are sent again (not in the future).
    since: Millis,
}

/// Body of `POST /api/v1/webhook-config/recover`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigRecoverInput {
    /// The configuration's domain (`*` for the wildcard one).
    domain: String,
    /// Epoch ms: the changes made at or after it are sent again (not in the future).
    since: Millis,
}

/// A recover as started.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryOut {
    id: String,
    /// The subscription it re-sends to (absent for a configuration).
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription_id: Option<String>,
    /// The configuration it re-sends to, by domain (absent for a subscription).
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    /// The changes from this position…
    since: Millis,
    /// …to this one (when it started).
    until: Millis,
    started_at: Millis,
}

impl From<Recovery> for RecoveryOut {
    fn from(r: Recovery) -> Self {
        let (subscription_id, domain) = match r.target {
            RecoverTarget::Subscription(id) => (Some(id), None),
            RecoverTarget::Config(d) => (None, Some(d)),
        };
        RecoveryOut {
            id: r.id,
            subscription_id,
            domain,
            since: Millis(r.since),
            until: Millis(r.until),
            started_at: Millis(r.started_at),
        }
    }
}

/// `{status, recovery}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryStarted {
    status: Status,
    recovery: RecoveryOut,
}

/// `POST /api/v1/webhooks/{id}/recover {"since"}`.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/recover",
    tag = "tenant",
    summary = "Send a subscription every change since a time again, as copies with the original webhook-id",
    params(("id" = String, Path, description = "The subscription's id")),
    request_body = RecoverInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 202, description = "Started; the copies are queued in the background", body = RecoveryStarted), TenantErrors)
)]
pub async fn recover_subscription(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<RecoverInput>,
) -> ApiResult<(StatusCode, Json<RecoveryStarted>)> {
    let r = hub
        .recover(&auth, RecoverTarget::Subscription(id), input.since)
        .await?;
    Ok(started(r))
}

/// `POST /api/v1/webhook-config/recover {"domain", "since"}`.
#[utoipa::path(
    post,
    path = "/webhook-config/recover",
    tag = "tenant",
    summary = "Send a domain's configuration every change since a time again, as copies with the original webhook-id",
    request_body = ConfigRecoverInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 202, description = "Started; the copies are queued in the background", body = RecoveryStarted), TenantErrors)
)]
pub async fn recover_config(
    TenantCall { hub, auth }: TenantCall,
    JsonBody(input): JsonBody<ConfigRecoverInput>,
) -> ApiResult<(StatusCode, Json<RecoveryStarted>)> {
    let r = hub
        .recover(&auth, RecoverTarget::Config(input.domain), input.since)
        .await?;
    Ok(started(r))
}

fn started(r: Recovery) -> (StatusCode, Json<RecoveryStarted>) {
    (
        StatusCode::ACCEPTED,
        Json(RecoveryStarted {
            status: Status::Success,
            recovery: r.into(),
        }),
    )
}

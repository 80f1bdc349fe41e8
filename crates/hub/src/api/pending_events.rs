//! `/api/v1/pending-webhook-events…`: the hosted API's view of the webhook queue, as its
//! official SDKs call it. A pending event is a delivery still to be sent (queued or retrying);
//! deleting one cancels the delivery. The hub's own, fuller view is `/webhook-deliveries`.

use super::doc::TenantErrors;
use super::TenantCall;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::hub::access::TenantAuth;
use crate::records::{Delivery, DeliveryFilter};
use axum::extract::Path;
use axum::Json;
use fastcomments_protocol::{Millis, Status, WebhookEventKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Pending events per page of the list (the SDKs page with `skip`).
pub const PENDING_PAGE: u64 = 100;

/// `eventType` of a change: `0` create, `1` update, `2` delete.
fn event_type(kind: WebhookEventKind) -> u8 {
    match kind {
        WebhookEventKind::Create => 0,
        WebhookEventKind::Update => 1,
        WebhookEventKind::Delete => 2,
    }
}

/// A delivery as the hosted API lists pending events (`PendingCommentToSyncOutbound`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingEvent {
    /// The delivery's id (`X-FastComments-Delivery`).
    #[serde(rename = "_id")]
    id: String,
    comment_id: String,
    /// The comment's id at the site, or `null`.
    external_id: Option<String>,
    tenant_id: String,
    created_at: Millis,
    /// Attempts made so far.
    attempt_count: i64,
    next_attempt_at: Millis,
    /// `0` create, `1` update, `2` delete.
    event_type: u8,
    /// `0`: for a domain's webhook configuration; `1`: for a subscription (`webhookId`).
    #[serde(rename = "type")]
    target_type: u8,
    /// The comment's domain, else the configuration's.
    domain: String,
    /// The last attempt's error, or `null`.
    #[schema(value_type = Option<String>)]
    last_error: Option<String>,
    /// The subscription, when a subscription queued it.
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_id: Option<String>,
}

impl From<Delivery> for PendingEvent {
    fn from(d: Delivery) -> PendingEvent {
        let external_id = serde_json::from_str::<Value>(&d.body)
            .ok()
            .and_then(|b| b["externalId"].as_str().map(str::to_owned));
        let subscription = (!d.subscription_id.is_empty()).then_some(d.subscription_id);
        PendingEvent {
            external_id,
            comment_id: d.comment_id,
            tenant_id: d.tenant_id.to_string(),
            created_at: Millis(d.created_at),
            attempt_count: d.attempts,
            next_attempt_at: Millis(d.next_attempt_at),
            event_type: event_type(d.kind),
            target_type: u8::from(subscription.is_some()),
            domain: d.domain.unwrap_or(d.config_domain),
            last_error: d.last_error,
            webhook_id: subscription,
            id: d.id,
        }
    }
}

/// The filters of the list and the count.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PendingQuery {
    /// Only this comment's.
    comment_id: Option<String>,
    /// Only those of the comment the site knows by this id.
    external_id: Option<String>,
    /// `0`/`create`, `1`/`update`, `2`/`delete`.
    event_type: Option<String>,
    /// `0` (a domain's configuration) or `1` (a subscription).
    #[serde(rename = "type")]
    target_type: Option<String>,
    /// Only those of this domain (the comment's, or the configuration's).
    domain: Option<String>,
    /// Only those tried more than this many times.
    #[serde(rename = "attemptCountGT")]
    attempt_count_gt: Option<f64>,
    /// Events passed over first (the list only).
    skip: Option<f64>,
}

/// The filter a query asks for.
fn filter<'a>(auth: &'a TenantAuth, q: &'a PendingQuery) -> ApiResult<DeliveryFilter<'a>> {
    let text = |v: &'a Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty());
    let kind = match text(&q.event_type) {
        None => None,
        Some("0") => Some(WebhookEventKind::Create),
        Some("1") => Some(WebhookEventKind::Update),
        Some("2") => Some(WebhookEventKind::Delete),
        Some(name) => Some(WebhookEventKind::parse(name).ok_or_else(|| {
            ApiError::invalid_query(format!(
                "eventType must be 0 (create), 1 (update) or 2 (delete), got {name:?}"
            ))
        })?),
    };
    let by_subscription = match text(&q.target_type) {
        None => None,
        Some("0") => Some(false),
        Some("1") => Some(true),
        Some(other) => {
            return Err(ApiError::invalid_query(format!(
                "type must be 0 (a domain's configuration) or 1 (a subscription), got {other:?}"
            )))
        }
    };
    let whole = |v: Option<f64>, name: &str| -> ApiResult<Option<i64>> {
        match v {
            None => Ok(None),
            Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n.floor() as i64)),
            Some(n) => Err(ApiError::invalid_query(format!(
                "{name} must be 0 or more, got {n}"
            ))),
        }
    };
    let f = DeliveryFilter {
        pending: true,
        kind,
        comment_id: text(&q.comment_id),
        external_id: text(&q.external_id),
        domain: text(&q.domain),
        reach: auth.own_domain(),
        attempts_over: whole(q.attempt_count_gt, "attemptCountGT")?,
        offset: whole(q.skip, "skip")?.unwrap_or(0).max(0) as u64,
        limit: PENDING_PAGE,
        by_subscription,
        ..DeliveryFilter::default()
    };
    Ok(f)
}

/// `{status, pendingWebhookEvents}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingEventsOut {
    status: Status,
    pending_webhook_events: Vec<PendingEvent>,
}

/// `GET /api/v1/pending-webhook-events`: a page of up to 100, newest first.
#[utoipa::path(
    get,
    path = "/pending-webhook-events",
    tag = "tenant",
    summary = "Webhook deliveries still to be sent (the hosted API's form)",
    params(PendingQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "A page of pending events", body = PendingEventsOut), TenantErrors)
)]
pub async fn list(
    TenantCall { hub, auth }: TenantCall,
    QueryParams(q): QueryParams<PendingQuery>,
) -> ApiResult<Json<PendingEventsOut>> {
    let f = filter(&auth, &q)?;
    let found = hub.reads().find_deliveries(&auth.tenant_id, &f).await?;
    Ok(Json(PendingEventsOut {
        status: Status::Success,
        pending_webhook_events: found.into_iter().map(PendingEvent::from).collect(),
    }))
}

/// `{status, count}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingCountOut {
    status: Status,
    count: u64,
}

/// `GET /api/v1/pending-webhook-events/count`.
#[utoipa::path(
    get,
    path = "/pending-webhook-events/count",
    tag = "tenant",
    summary = "How many webhook deliveries are still to be sent (the hosted API's form)",
    params(PendingQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The count", body = PendingCountOut), TenantErrors)
)]
pub async fn count(
    TenantCall { hub, auth }: TenantCall,
    QueryParams(q): QueryParams<PendingQuery>,
) -> ApiResult<Json<PendingCountOut>> {
    let count = hub
        .reads()
        .count_deliveries(&auth.tenant_id, &filter(&auth, &q)?)
        .await?;
    Ok(Json(PendingCountOut {
        status: Status::Success,
        count,
    }))
}

/// `{status}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelledOut {
    status: Status,
}

/// `DELETE /api/v1/pending-webhook-events/{id}`: cancels the delivery (`404` when it is not
/// pending, or not the credential's).
#[utoipa::path(
    delete,
    path = "/pending-webhook-events/{id}",
    tag = "tenant",
    summary = "Cancel a pending webhook delivery (the hosted API's form)",
    params(("id" = String, Path, description = "The delivery's id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "Cancelled", body = CancelledOut), TenantErrors)
)]
pub async fn remove(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
) -> ApiResult<Json<CancelledOut>> {
    let pending = hub
        .reads()
        .delivery(&auth.tenant_id, &id)
        .await?
        .filter(|(d, _)| d.status.is_pending() && auth.reaches(d.domain.as_deref()));
    if pending.is_none() {
        return Err(ApiError::not_found("pending webhook event"));
    }
    hub.cancel_delivery(&auth.tenant_id, &id).await?;
    Ok(Json(CancelledOut {
        status: Status::Success,
    }))
}

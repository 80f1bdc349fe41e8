//! `/api/v1/webhook-…`: webhook configuration, delivery logs, cancel, retry and test payloads
//! (SPEC §2, §3).

use super::doc::TenantErrors;
use super::TenantCall;
use crate::delivery::test_send::{self, TestRequest};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::hub::access::TenantAuth;
use crate::hub::webhooks::{ConfigRequest, TargetRequest};
use crate::hub::Hub;
use crate::site_domain::normalize_domain;

use crate::records::{Delivery, DeliveryAttempt, DeliveryStatus, WebhookConfig, WebhookTarget};
use axum::extract::Path;

use axum::Json;
use fastcomments_protocol::{HttpMethod, Millis, Status, WebhookEventKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

// ---------- configuration ----------

/// One kind's target as given.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    url: String,
    #[serde(default)]
    method: Option<String>,
}

/// Body of `PUT /api/v1/webhook-config`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigInput {
    domain: String,
    #[serde(default)]
    create: Option<TargetInput>,
    #[serde(default)]
    update: Option<TargetInput>,
    #[serde(default)]
    delete: Option<TargetInput>,
    #[serde(default)]
    legacy_token_header: bool,
    #[serde(default)]
    fire_on_import: bool,
}

impl From<TargetInput> for TargetRequest {
    fn from(t: TargetInput) -> TargetRequest {
        TargetRequest {
            url: t.url,
            method: t.method,
        }
    }
}

impl From<ConfigInput> for ConfigRequest {
    fn from(c: ConfigInput) -> ConfigRequest {
        ConfigRequest {
            domain: c.domain,
            create: c.create.map(Into::into),
            update: c.update.map(Into::into),
            delete: c.delete.map(Into::into),
            legacy_token_header: c.legacy_token_header,
            fire_on_import: c.fire_on_import,
        }
    }
}

/// Where one kind of webhook goes, as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookTarget)]
pub struct TargetOut {
    /// `http://` or `https://` URL.
    url: String,
    /// The HTTP method.
    method: HttpMethod,
}

/// A domain's webhook configuration as the API shows it (`*`: any domain without its own).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookConfig)]
pub struct WebhookConfigOut {
    /// The domain (one of the tenant's, or `*` for all).
    domain: String,
    /// Comment created.
    create: Option<TargetOut>,
    /// Comment updated (votes included).
    update: Option<TargetOut>,
    /// Comment deleted.
    delete: Option<TargetOut>,
    /// Also send the API secret in clear in a `token` header (legacy receivers).
    legacy_token_header: bool,
    /// Fire for comments imported by integration uploads too.
    fire_on_import: bool,
}

impl From<WebhookTarget> for TargetOut {
    fn from(t: WebhookTarget) -> TargetOut {
        TargetOut {
            url: t.url,
            method: t.method,
        }
    }
}

impl From<WebhookConfig> for WebhookConfigOut {
    fn from(c: WebhookConfig) -> WebhookConfigOut {
        WebhookConfigOut {
            domain: c.domain,
            create: c.create.map(Into::into),
            update: c.update.map(Into::into),
            delete: c.delete.map(Into::into),
            legacy_token_header: c.legacy_token_header,
            fire_on_import: c.fire_on_import,
        }
    }
}

/// `{status, config}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigOut {
    status: Status,
    config: WebhookConfigOut,
}

/// `PUT /api/v1/webhook-config`.
#[utoipa::path(
    put,
    path = "/webhook-config",
    tag = "tenant",
    summary = "Set a domain's webhook configuration",
    request_body = ConfigInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The configuration", body = ConfigOut), TenantErrors)
)]
pub async fn put_config(
    TenantCall { hub, auth }: TenantCall,
    JsonBody(input): JsonBody<ConfigInput>,
) -> ApiResult<Json<ConfigOut>> {
    let config = hub
        .put_webhook_config(&auth, input.into())
        .await
        .map_err(|refused| refused.error)?;
    Ok(Json(ConfigOut {
        status: Status::Success,
        config: config.into(),
    }))
}

/// Query of `GET /api/v1/webhook-config`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfigQuery {
    /// Only the configuration of this domain (`*` for the wildcard one).
    domain: Option<String>,
}

/// `{status, configs}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigsOut {
    status: Status,
    configs: Vec<WebhookConfigOut>,
}

/// Answer of `GET /api/v1/webhook-config`: one configuration when a domain was asked for,
/// else all of them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ConfigAnswer {
    /// `?domain=` given.
    One(ConfigOut),
    /// No domain given.
    All(ConfigsOut),
}

/// `GET /api/v1/webhook-config[?domain=]`: every configuration, or the one of a domain.
#[utoipa::path(
    get,
    path = "/webhook-config",
    tag = "tenant",
    summary = "Every webhook configuration, or the one of a domain",
    params(ConfigQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The configuration(s)", body = ConfigAnswer), TenantErrors)
)]
pub async fn get_config(
    TenantCall { hub, auth }: TenantCall,
    QueryParams(q): QueryParams<ConfigQuery>,
) -> ApiResult<Json<ConfigAnswer>> {
    let mut configs = hub.webhook_configs(&auth.tenant_id).await?;
    configs.retain(|c| auth.reaches(Some(&c.domain)));
    match q.domain {
        Some(d) => {
            let d = normalize_domain(&d)
                .ok_or_else(|| ApiError::invalid_query(format!("not a domain: {d:?}")))?;
            let config = configs
                .into_iter()
                .find(|c| c.domain == d)
                .ok_or_else(|| ApiError::not_found("webhook config"))?;
            Ok(Json(ConfigAnswer::One(ConfigOut {
                status: Status::Success,
                config: config.into(),
            })))
        }
        None => Ok(Json(ConfigAnswer::All(ConfigsOut {
            status: Status::Success,
            configs: configs.into_iter().map(Into::into).collect(),
        }))),
    }
}

// ---------- deliveries ----------

/// A delivery as listed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOut {
    id: String,
    comment_id: String,
    kind: WebhookEventKind,
    url: String,
    method: HttpMethod,
    /// The subscription that queued it (`POST /api/v1/webhooks`); absent for the per-domain
    /// configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription_id: Option<String>,
    /// `queued`, `retrying`, `paused`, `succeeded`, `failed` or `cancelled`.
    #[schema(value_type = String)]
    status: &'static str,
    attempts: i64,
    next_attempt_at: Option<Millis>,
    created_at: Millis,
    updated_at: Millis,
    last_error: Option<String>,
    body: String,
    /// A recover's copy (`POST /api/v1/webhooks/{id}/recover`).
    recovered: bool,
    /// For a recover's copy: the delivery it copies, whose id its `webhook-id` and
    /// `X-FastComments-Delivery` carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovered_from: Option<String>,
}

impl From<Delivery> for DeliveryOut {
    fn from(d: Delivery) -> Self {
        DeliveryOut {
            next_attempt_at: d.status.is_pending().then_some(Millis(d.next_attempt_at)),
            id: d.id,
            comment_id: d.comment_id,
            kind: d.kind,
            url: d.url,
            method: d.method,
            subscription_id: (!d.subscription_id.is_empty()).then_some(d.subscription_id),
            status: d.status.as_str(),
            attempts: d.attempts,
            created_at: Millis(d.created_at),
            updated_at: Millis(d.updated_at),
            last_error: d.last_error,
            body: d.body,
            recovered: d.recovered_from.is_some(),
            recovered_from: d.recovered_from,
        }
    }
}

/// An attempt's log.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptOut {
    attempt: i64,
    at: Millis,
    url: String,
    method: String,
    status_code: Option<i64>,
    response_body: Option<String>,
    duration_ms: i64,
    error: Option<String>,
}

impl From<DeliveryAttempt> for AttemptOut {
    fn from(a: DeliveryAttempt) -> Self {
        AttemptOut {
            attempt: a.attempt,
            at: Millis(a.at),
            url: a.url,
            method: a.method,
            status_code: a.status_code,
            response_body: a.response_body,
            duration_ms: a.duration_ms,
            error: a.error,
        }
    }
}

/// Query of the delivery list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// `queued`, `retrying`, `succeeded`, `failed` or `cancelled`.
    status: Option<String>,
    /// Only the deliveries of this comment.
    comment_id: Option<String>,
    /// At most this many (1 to 1000, default 100).
    #[serde(default, deserialize_with = "fastcomments_protocol::lenient::opt_int")]
    limit: Option<i64>,
    /// Page number, from 0: skips `page × limit` deliveries.
    #[serde(default, deserialize_with = "fastcomments_protocol::lenient::opt_int")]
    page: Option<i64>,
    /// Deliveries skipped before the page (added to `page × limit`).
    #[serde(default, deserialize_with = "fastcomments_protocol::lenient::opt_int")]
    skip: Option<i64>,
}

/// `{status, deliveries}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveriesOut {
    status: Status,
    deliveries: Vec<DeliveryOut>,
}

/// `GET /api/v1/webhook-deliveries?status=&commentId=`.
#[utoipa::path(
    get,
    path = "/webhook-deliveries",
    tag = "tenant",
    summary = "Webhook deliveries, newest first",
    params(DeliveriesQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The deliveries", body = DeliveriesOut), TenantErrors)
)]
pub async fn list_deliveries(
    TenantCall { hub, auth }: TenantCall,
    QueryParams(q): QueryParams<DeliveriesQuery>,
) -> ApiResult<Json<DeliveriesOut>> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| {
            ApiError::invalid_query(format!(
                "status must be queued, retrying, paused, succeeded, failed or cancelled, got {s:?}"
            ))
        })?),
        None => None,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000) as u64;
    let count = |v: Option<i64>, name: &str| -> ApiResult<u64> {
        u64::try_from(v.unwrap_or(0))
            .map_err(|_| ApiError::invalid_query(format!("{name} must be 0 or more")))
    };
    let offset = count(q.page, "page")?
        .saturating_mul(limit)
        .saturating_add(count(q.skip, "skip")?);
    let filter = crate::records::DeliveryFilter {
        status,
        kind: None,
        comment_id: q.comment_id.as_deref(),
        domain: None,
        offset,
        limit,
        ..crate::records::DeliveryFilter::default()
    };
    let mut list = hub
        .reads()
        .find_deliveries(&auth.tenant_id, &filter)
        .await?;
    // A domain's secret sees its domain's deliveries (of the page read).
    list.retain(|d| auth.reaches(d.domain.as_deref()));
    Ok(Json(DeliveriesOut {
        status: Status::Success,
        deliveries: list.into_iter().map(DeliveryOut::from).collect(),
    }))
}

/// `{status, delivery, attempts}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    status: Status,
    delivery: DeliveryOut,
    attempts: Vec<AttemptOut>,
}

/// `GET /api/v1/webhook-deliveries/{id}`.
#[utoipa::path(
    get,
    path = "/webhook-deliveries/{id}",
    tag = "tenant",
    summary = "A delivery with its attempts",
    params(("id" = String, Path, description = "The delivery's id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The delivery", body = DeliveryDetail), TenantErrors)
)]
pub async fn get_delivery(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryDetail>> {
    let (d, attempts) = hub
        .reads()
        .delivery(&auth.tenant_id, &id)
        .await?
        .filter(|(d, _)| auth.reaches(d.domain.as_deref()))
        .ok_or_else(|| ApiError::not_found("webhook delivery"))?;
    Ok(Json(DeliveryDetail {
        status: Status::Success,
        delivery: d.into(),
        attempts: attempts.into_iter().map(AttemptOut::from).collect(),
    }))
}

/// `{status, delivery}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResult {
    status: Status,
    delivery: DeliveryOut,
}

/// `POST /api/v1/webhook-deliveries/{id}/cancel`.
#[utoipa::path(
    post,
    path = "/webhook-deliveries/{id}/cancel",
    tag = "tenant",
    summary = "Cancel a pending delivery",
    params(("id" = String, Path, description = "The delivery's id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The delivery", body = DeliveryResult), TenantErrors)
)]
pub async fn cancel(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryResult>> {
    delivery_in_scope(&hub, &auth, &id).await?;
    let d = hub.cancel_delivery(&auth.tenant_id, &id).await?;
    Ok(Json(DeliveryResult {
        status: Status::Success,
        delivery: d.into(),
    }))
}

/// `POST /api/v1/webhook-deliveries/{id}/retry`: a fresh budget of attempts, due now.
#[utoipa::path(
    post,
    path = "/webhook-deliveries/{id}/retry",
    tag = "tenant",
    summary = "Retry a delivery now, with a fresh budget of attempts",
    params(("id" = String, Path, description = "The delivery's id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The delivery", body = DeliveryResult), TenantErrors)
)]
pub async fn retry(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryResult>> {
    delivery_in_scope(&hub, &auth, &id).await?;
    let d = hub.retry_delivery(&auth.tenant_id, &id).await?;
    Ok(Json(DeliveryResult {
        status: Status::Success,
        delivery: d.into(),
    }))
}

/// `Ok` when a domain's secret may act on delivery `id` (its comment is of the secret's
/// domain); another domain's is "not found". The All Domains secret reads nothing here.
async fn delivery_in_scope(hub: &Hub, auth: &TenantAuth, id: &str) -> ApiResult<()> {
    if auth.own_domain().is_none() {
        return Ok(());
    }
    match hub.reads().delivery(&auth.tenant_id, id).await? {
        Some((d, _)) if auth.reaches(d.domain.as_deref()) => Ok(()),
        _ => Err(ApiError::not_found("webhook delivery")),
    }
}

// ---------- test payloads ----------

/// Body of `POST /api/v1/webhook-test`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestInput {
    kind: String,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    url: Option<String>,
    /// The method to test with (one the kind allows); left out: the configured one, else the
    /// kind's default. Lets a form test a method before it is saved.
    #[serde(default)]
    method: Option<String>,
    /// Send the legacy `token` header; left out: as configured.
    #[serde(default, rename = "legacyTokenHeader")]
    legacy_token_header: Option<bool>,
}

/// A request header as sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentHeader {
    /// Its name, in the spelling it went out in.
    name: String,
    /// Its value (the legacy `token` header's secret is not shown).
    value: String,
}

/// `{status, attempt, headers, ok, forged, forgedAccepted, warning?}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestOut {
    status: Status,
    attempt: AttemptOut,
    /// The signed request's headers as sent (empty when it was never sent: no secret, a bad
    /// or refused URL).
    headers: Vec<SentHeader>,
    /// Whether the receiver answered 2xx.
    ok: bool,
    /// The second request, the same payload signed with a wrong secret; `null` when the first
    /// was not accepted (a receiver that refuses everything tells nothing about verification).
    forged: Option<ForgedOut>,
    /// Whether the receiver answered 2xx to the forged request (`null` when none was sent).
    forged_accepted: Option<bool>,
    /// Set when the receiver accepted the forged request.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

/// How the receiver answered the forged request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForgedOut {
    attempt: AttemptOut,
    /// It answered non-2xx, as a receiver that verifies signatures does.
    refused: bool,
}

/// `POST /api/v1/webhook-test {"kind","domain?","url?","method?","legacyTokenHeader?"}`: sends a signed test payload now and,
/// when the receiver accepted it, the same payload signed with a wrong secret, to check that the
/// receiver verifies signatures; answers with both attempts' logs.
#[utoipa::path(
    post,
    path = "/webhook-test",
    tag = "tenant",
    summary = "Send a signed test payload, then a forged one",
    request_body = TestInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "Both attempts", body = TestOut), TenantErrors)
)]
pub async fn send_test(
    TenantCall { hub, auth }: TenantCall,
    JsonBody(input): JsonBody<TestInput>,
) -> ApiResult<Json<TestOut>> {
    let request = TestRequest {
        kind: input.kind,
        domain: input.domain,
        url: input.url,
        method: input.method,
        legacy_token_header: input.legacy_token_header,
    };
    let report = test_send::send_test(&hub, &auth, request).await?;
    let warning = report.warning().map(str::to_owned);
    Ok(Json(TestOut {
        status: Status::Success,
        attempt: report.attempt.into(),
        headers: report
            .headers
            .into_iter()
            .map(|(name, value)| SentHeader { name, value })
            .collect(),
        ok: report.ok,
        forged_accepted: report.forged.as_ref().map(|(_, accepted)| *accepted),
        forged: report.forged.map(|(attempt, accepted)| ForgedOut {
            attempt: attempt.into(),
            refused: !accepted,
        }),
        warning,
    }))
}

// ---------- bulk retry ----------

/// Body of `POST /api/v1/webhook-deliveries/retry-failed`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryFailedInput {
    /// Epoch ms: deliveries that failed at or after it are queued again.
    since: Millis,
}

/// `{status, retried}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryFailedOut {
    status: Status,
    /// How many deliveries were queued again.
    retried: u64,
}

/// `POST /api/v1/webhook-deliveries/retry-failed {"since"}`: every failed delivery since a
/// time, queued again with a fresh budget of attempts, due now.
#[utoipa::path(
    post,
    path = "/webhook-deliveries/retry-failed",
    tag = "tenant",
    summary = "Retry every delivery that failed since a time",
    request_body = RetryFailedInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "How many were queued again", body = RetryFailedOut), TenantErrors)
)]
pub async fn retry_failed(
    TenantCall { hub, auth }: TenantCall,
    JsonBody(input): JsonBody<RetryFailedInput>,
) -> ApiResult<Json<RetryFailedOut>> {
    auth.require_all_domains("retrying every failed delivery")?;
    let retried = hub.retry_failed_since(&auth.tenant_id, input.since).await?;
    Ok(Json(RetryFailedOut {
        status: Status::Success,
        retried,
    }))
}

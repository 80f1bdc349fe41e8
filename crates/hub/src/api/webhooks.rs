//! `/api/v1/webhook-…`: webhook configuration, delivery logs, cancel, retry and test payloads
//! (SPEC §2, §3).

use super::doc::TenantErrors;
use super::extract::{AppState, JsonBody, QueryParams, TenantAuth};
use crate::delivery::{send_once, send_once_showing, Outgoing, Senders};
use crate::error::{ApiError, ApiResult};
use crate::hub::{normalize_domain, Hub};
use crate::ids;
use crate::store::{Delivery, DeliveryAttempt, DeliveryStatus, WebhookConfig, WebhookTarget};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use fastcomments_protocol::{
    DeleteTestPayload, HttpMethod, Millis, Status, WebhookComment, WebhookEventKind,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

// ---------- domain ownership ----------

/// The code of a `403` for a domain the tenant does not own.
pub const DOMAIN_NOT_OWNED: &str = "domain-not-owned";

/// `403 domain-not-owned` unless the tenant owns `domain` (normalised) or it is `*`. Webhook
/// configurations, test payloads and comments name a domain; another tenant's (or nobody's)
/// is refused (SPEC §2.2).
pub async fn require_owned_domain(hub: &Hub, tenant: &str, domain: &str) -> ApiResult<()> {
    if hub.owns_domain(tenant, domain).await? {
        Ok(())
    } else {
        Err(not_owned(domain))
    }
}

/// The `403 domain-not-owned` answer for `domain`.
pub fn not_owned(domain: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        DOMAIN_NOT_OWNED,
        format!("{domain:?} is not one of this tenant's domains (nor a subdomain of one)"),
    )
}

/// `text` as an `http://` or `https://` URL with a host (what a webhook may be sent to).
pub fn http_url(text: &str) -> Option<url::Url> {
    url::Url::parse(text.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// `text` as a method every one of `kinds` may be sent with, or why not.
pub fn method_for_kinds(text: &str, kinds: &[WebhookEventKind]) -> Result<HttpMethod, String> {
    let method = HttpMethod::parse(text).ok_or_else(|| format!("unknown method {text:?}"))?;
    match kinds.iter().find(|k| !k.allows(method)) {
        Some(k) => Err(format!(
            "{} webhooks cannot be sent with {}",
            k.as_str(),
            method.as_str()
        )),
        None => Ok(method),
    }
}

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

fn target(kind: WebhookEventKind, input: Option<TargetInput>) -> ApiResult<Option<WebhookTarget>> {
    let Some(input) = input else { return Ok(None) };
    let url = http_url(&input.url).ok_or_else(|| {
        ApiError::invalid_body(format!(
            "{}: not an http(s) URL: {:?}",
            kind.as_str(),
            input.url
        ))
    })?;
    let method = match input.method.as_deref() {
        None => kind.default_method(),
        Some(m) => HttpMethod::parse(m)
            .filter(|m| kind.allows(*m))
            .ok_or_else(|| {
                ApiError::invalid_body(format!("{}: method {m:?} is not allowed", kind.as_str()))
            })?,
    };
    Ok(Some(WebhookTarget {
        url: url.to_string(),
        method,
    }))
}

/// `{status, config}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigOut {
    status: Status,
    config: WebhookConfig,
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
    State(hub): State<AppState>,
    auth: TenantAuth,
    JsonBody(input): JsonBody<ConfigInput>,
) -> ApiResult<Json<ConfigOut>> {
    let domain = normalize_domain(&input.domain)
        .ok_or_else(|| ApiError::invalid_body(format!("not a domain: {:?}", input.domain)))?;
    require_owned_domain(&hub, &auth.tenant_id, &domain).await?;
    auth.require_domain(Some(&domain))?;
    let config = WebhookConfig {
        domain,
        create: target(WebhookEventKind::Create, input.create)?,
        update: target(WebhookEventKind::Update, input.update)?,
        delete: target(WebhookEventKind::Delete, input.delete)?,
        legacy_token_header: input.legacy_token_header,
        fire_on_import: input.fire_on_import,
    };
    hub.store
        .put_webhook_config(&auth.tenant_id, &config, hub.now_ms())
        .await?;
    Ok(Json(ConfigOut {
        status: Status::Success,
        config,
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
    configs: Vec<WebhookConfig>,
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
    State(hub): State<AppState>,
    auth: TenantAuth,
    QueryParams(q): QueryParams<ConfigQuery>,
) -> ApiResult<Json<ConfigAnswer>> {
    let mut configs = hub.store.webhook_configs(&auth.tenant_id).await?;
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
                config,
            })))
        }
        None => Ok(Json(ConfigAnswer::All(ConfigsOut {
            status: Status::Success,
            configs,
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
    State(hub): State<AppState>,
    auth: TenantAuth,
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
    let filter = crate::store::DeliveryFilter {
        status,
        kind: None,
        comment_id: q.comment_id.as_deref(),
        domain: None,
        offset,
        limit,
    };
    let mut list = hub.store.find_deliveries(&auth.tenant_id, &filter).await?;
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
    State(hub): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryDetail>> {
    let (d, attempts) = hub
        .store
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
    State(hub): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryResult>> {
    delivery_in_scope(&hub, &auth, &id).await?;
    let d = hub
        .store
        .cancel_delivery(&auth.tenant_id, &id, hub.now_ms())
        .await?;
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
    State(hub): State<AppState>,
    auth: TenantAuth,
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
    match hub.store.delivery(&auth.tenant_id, id).await? {
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

/// A dummy comment for create/update test payloads.
pub fn dummy_comment(domain: Option<&str>) -> WebhookComment {
    let c = crate::domain::NewCommentInput {
        url_id: "fastcomments-webhook-test".into(),
        url: Some("https://example.com/webhook-test".into()),
        page_title: Some("Webhook test".into()),
        commenter_name: "Webhook Test".into(),
        commenter_email: None,
        // ASCII only: receivers that verify over re-serialised JSON (the old guide's Python
        // and PHP examples) then still pass, so a test says whether the key and URL are right.
        // Real comments are not ASCII; docs/webhooks.md says how to verify those.
        comment: "This is a test payload from FastComments.".into(),
        parent_id: None,
        user_id: None,
        domain: domain.map(str::to_owned),
        meta: None,
    }
    .into_comment("test", ids::object_id(), Millis::now());
    crate::domain::webhook_comment(&c)
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
    State(hub): State<AppState>,
    auth: TenantAuth,
    JsonBody(input): JsonBody<TestInput>,
) -> ApiResult<Json<TestOut>> {
    let kind = WebhookEventKind::parse(&input.kind).ok_or_else(|| {
        ApiError::invalid_body(format!(
            "kind must be create, update or delete, got {:?}",
            input.kind
        ))
    })?;
    let domain = match input.domain.as_deref() {
        Some(d) => Some(
            normalize_domain(d)
                .ok_or_else(|| ApiError::invalid_body(format!("not a domain: {d:?}")))?,
        ),
        // A domain's secret tests its own domain.
        None => auth.own_domain().map(str::to_owned),
    };
    if let Some(d) = &domain {
        require_owned_domain(&hub, &auth.tenant_id, d).await?;
        auth.require_domain(Some(d))?;
    }
    let configs = hub.store.webhook_configs(&auth.tenant_id).await?;
    let config = match &domain {
        Some(d) => configs.iter().find(|c| &c.domain == d),
        None => None,
    }
    .or_else(|| configs.iter().find(|c| c.domain == "*"))
    .or_else(|| {
        if domain.is_none() {
            configs.first()
        } else {
            None
        }
    });
    let configured = config.and_then(|c| c.target(kind));
    let url = match (input.url, configured) {
        (Some(u), _) => u,
        (None, Some(t)) => t.url.clone(),
        (None, None) => {
            return Err(ApiError::invalid_body(
                "no URL given and none configured for this kind and domain",
            ))
        }
    };
    let method = match input.method.as_deref() {
        Some(m) => method_for_kinds(m, &[kind]).map_err(ApiError::invalid_body)?,
        None => configured
            .map(|t| t.method)
            .unwrap_or_else(|| kind.default_method()),
    };
    let body = match kind {
        WebhookEventKind::Delete => serde_json::to_vec(&DeleteTestPayload {
            id: ids::object_id(),
        }),
        _ => serde_json::to_vec(&dummy_comment(domain.as_deref())),
    }
    .map_err(|_| ApiError::internal())?;
    let senders = Senders::new(hub.config.webhook_timeout).map_err(|_| ApiError::internal())?;
    let delivery_id = format!("test-{}", ids::object_id());
    let out = Outgoing {
        delivery_id: &delivery_id,
        tenant_id: &auth.tenant_id,
        domain: domain.as_deref(),
        url: &url,
        method,
        kind,
        legacy_token: input
            .legacy_token_header
            .unwrap_or_else(|| config.is_some_and(|c| c.legacy_token_header)),
        body: &body,
        attempt: 1,
        secret_override: None,
    };
    let (sent, attempt, shown) = send_once_showing(&hub, &senders, &out).await;
    let ok = sent.is_success();
    let (mut forged, mut forged_accepted, mut warning) = (None, None, None);
    if ok {
        let wrong = ids::api_secret();
        let forged_id = format!("{delivery_id}-forged");
        let forged_out = Outgoing {
            delivery_id: &forged_id,
            secret_override: Some(&wrong),
            ..out
        };
        let (sent, attempt) = send_once(&hub, &senders, &forged_out).await;
        let accepted = sent.is_success();
        if accepted {
            warning = Some(
                "the receiver answered 2xx to a request signed with a wrong secret: it does not \
                 verify the X-FastComments-Signature header, so anyone can send it webhooks"
                    .to_owned(),
            );
        }
        forged_accepted = Some(accepted);
        forged = Some(ForgedOut {
            attempt: attempt.into(),
            refused: !accepted,
        });
    }
    Ok(Json(TestOut {
        status: Status::Success,
        attempt: attempt.into(),
        headers: shown
            .into_iter()
            .map(|(name, value)| SentHeader { name, value })
            .collect(),
        ok,
        forged,
        forged_accepted,
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
    State(hub): State<AppState>,
    auth: TenantAuth,
    JsonBody(input): JsonBody<RetryFailedInput>,
) -> ApiResult<Json<RetryFailedOut>> {
    auth.require_all_domains("retrying every failed delivery")?;
    let retried = hub
        .retry_failed_since(&auth.tenant_id, input.since.0)
        .await?;
    Ok(Json(RetryFailedOut {
        status: Status::Success,
        retried,
    }))
}

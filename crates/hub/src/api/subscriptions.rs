//! Issue 13's tenant API: webhook subscriptions (`/api/v1/webhooks`, the hosted API's form:
//! a URL, a method, the kinds and the domains it wants), their sample payloads, enabling a
//! disabled one, and secret rotation with overlap (`/api/v1/api-secrets/{id}/rotate`).

use super::doc::TenantErrors;
use super::tenant::SecretOut;
use super::TenantCall;
use crate::delivery::test_send::dummy_comment;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, OptionalJson, QueryParams};
use crate::hub::webhooks::SubscriptionRequest;

use crate::records::Subscription;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use fastcomments_protocol::{HttpMethod, Millis, Status, WebhookComment, WebhookEventKind};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

// ---------- subscriptions ----------

/// Body of `POST /api/v1/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionInput {
    /// `http://` or `https://` URL.
    pub url: String,
    /// One method for every kind (each must allow it); left out: `POST`, as on the hosted API.
    #[serde(default)]
    pub method: Option<String>,
    /// `create`, `update`, `delete` (or `comment.created`, `comment-created` …); left out
    /// (and no `event`): all three.
    #[serde(default, alias = "kinds", alias = "eventKinds")]
    pub events: Option<Vec<String>>,
    /// One kind, the hosted API's form (`comment-created` …, as its Zapier app sends it);
    /// added to `events`.
    #[serde(default)]
    pub event: Option<String>,
    /// The tenant's domains (or `*`) whose comments it wants; left out (and no `domain`): `*`.
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    /// One domain (or `*`), the hosted API's form; added to `domains`.
    #[serde(default)]
    pub domain: Option<String>,
    /// Also fire for comments imported by integration uploads.
    #[serde(default)]
    pub fire_on_import: bool,
}

/// A subscription as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionOut {
    id: String,
    url: String,
    /// The method its webhooks are sent with (`POST` when it was made without one).
    method: HttpMethod,
    events: Vec<WebhookEventKind>,
    /// The hosted API's single `event` (`comment-created` …), when it wants one kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'static str>,
    domains: Vec<String>,
    /// The hosted API's single `domain`, when it wants one.
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    /// How it was made: `api` (the per-domain configurations are not subscriptions).
    source: &'static str,
    fire_on_import: bool,
    created_at: Millis,
    /// `false` while disabled: its deliveries wait, `paused`.
    enabled: bool,
    disabled_at: Option<Millis>,
    disabled_reason: Option<String>,
    /// Since when every attempt failed, if it is failing now.
    failing_since: Option<Millis>,
}

impl From<Subscription> for SubscriptionOut {
    fn from(s: Subscription) -> Self {
        let method = s.method();
        SubscriptionOut {
            id: s.id,
            url: s.url,
            method,
            event: match s.kinds.as_slice() {
                [one] => Some(one.event_name()),
                _ => None,
            },
            events: s.kinds,
            domain: match s.domains.as_slice() {
                [one] => Some(one.clone()),
                _ => None,
            },
            domains: s.domains,
            source: "api",
            fire_on_import: s.fire_on_import,
            created_at: Millis(s.created_at),
            enabled: s.disabled_at.is_none(),
            disabled_at: s.disabled_at.map(Millis),
            disabled_reason: s.disabled_reason,
            failing_since: s.failing_since.map(Millis),
        }
    }
}

/// `{status, webhook, created}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionCreated {
    status: Status,
    webhook: SubscriptionOut,
    /// `false` when an identical subscription existed: it is the one returned.
    created: bool,
}

/// `POST /api/v1/webhooks {"url","method?","events?","domains?","fireOnImport?"}`: subscribes
/// a URL. The same subscription twice gives the first (`created: false`); a tenant has at
/// most 50 (`409 too-many-webhooks`).
#[utoipa::path(
    post,
    path = "/webhooks",
    tag = "tenant",
    summary = "Subscribe a URL to comment webhooks (the same subscription twice returns the first)",
    request_body = SubscriptionInput,
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The subscription", body = SubscriptionCreated), (status = 201, description = "Created", body = SubscriptionCreated), TenantErrors)
)]
pub async fn create(
    TenantCall { hub, auth }: TenantCall,
    JsonBody(input): JsonBody<SubscriptionInput>,
) -> ApiResult<(StatusCode, Json<SubscriptionCreated>)> {
    auth.require_all_domains("managing webhook subscriptions")?;
    let (stored, created) = hub
        .subscribe(&auth.tenant_id, input.into())
        .await
        .map_err(|refused| refused.error)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(SubscriptionCreated {
            status: Status::Success,
            webhook: stored.into(),
            created,
        }),
    ))
}

/// The names given as a list, a single one (the hosted API's form), or both; `default` when
/// neither was given.
fn named(
    many: Option<Vec<String>>,
    one: Option<String>,
    default: impl FnOnce() -> Vec<String>,
) -> Vec<String> {
    match (many, one) {
        (None, None) => default(),
        (many, one) => many.unwrap_or_default().into_iter().chain(one).collect(),
    }
}

impl From<SubscriptionInput> for SubscriptionRequest {
    fn from(input: SubscriptionInput) -> SubscriptionRequest {
        let all_kinds = || {
            WebhookEventKind::ALL
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect()
        };
        SubscriptionRequest {
            url: input.url,
            method: input.method,
            kinds: named(input.events, input.event, all_kinds),
            domains: named(input.domains, input.domain, || vec!["*".to_owned()]),
            fire_on_import: input.fire_on_import,
        }
    }
}

/// `{status, webhooks}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionsOut {
    status: Status,
    webhooks: Vec<SubscriptionOut>,
}

/// `GET /api/v1/webhooks`: the tenant's subscriptions, oldest first (disabled ones say so).
#[utoipa::path(
    get,
    path = "/webhooks",
    tag = "tenant",
    summary = "The tenant's webhook subscriptions",
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "Every subscription", body = SubscriptionsOut), TenantErrors)
)]
pub async fn list(TenantCall { hub, auth }: TenantCall) -> ApiResult<Json<SubscriptionsOut>> {
    auth.require_all_domains("managing webhook subscriptions")?;
    let subs = hub.reads().subscriptions(&auth.tenant_id).await?;
    Ok(Json(SubscriptionsOut {
        status: Status::Success,
        webhooks: subs.into_iter().map(Into::into).collect(),
    }))
}

/// `{status, webhook}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionOne {
    status: Status,
    webhook: SubscriptionOut,
}

/// `DELETE /api/v1/webhooks/{id}`: unsubscribes; its waiting deliveries are cancelled.
#[utoipa::path(
    delete,
    path = "/webhooks/{id}",
    tag = "tenant",
    summary = "Remove a subscription",
    params(("id" = String, Path, description = "The subscription's id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The removed subscription", body = SubscriptionOne), TenantErrors)
)]
pub async fn remove(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
) -> ApiResult<Json<SubscriptionOne>> {
    auth.require_all_domains("managing webhook subscriptions")?;
    let removed = hub.unsubscribe(&auth.tenant_id, &id).await?;
    Ok(Json(SubscriptionOne {
        status: Status::Success,
        webhook: removed.into(),
    }))
}

/// `POST /api/v1/webhooks/{id}/enable`: a disabled subscription sends again; its paused
/// deliveries go out first, in their order.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/enable",
    tag = "tenant",
    summary = "Enable a subscription; its paused deliveries resume in order",
    params(("id" = String, Path, description = "The subscription's id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The subscription", body = SubscriptionOne), TenantErrors)
)]
pub async fn enable(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
) -> ApiResult<Json<SubscriptionOne>> {
    auth.require_all_domains("managing webhook subscriptions")?;
    let s = hub
        .set_subscription_enabled(&auth.tenant_id, &id, true)
        .await?;
    Ok(Json(SubscriptionOne {
        status: Status::Success,
        webhook: s.into(),
    }))
}

/// `POST /api/v1/webhooks/{id}/disable`: stops sending; deliveries wait, paused.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/disable",
    tag = "tenant",
    summary = "Disable a subscription; its deliveries wait, paused",
    params(("id" = String, Path, description = "The subscription's id")),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The subscription", body = SubscriptionOne), TenantErrors)
)]
pub async fn disable(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
) -> ApiResult<Json<SubscriptionOne>> {
    auth.require_all_domains("managing webhook subscriptions")?;
    let s = hub
        .set_subscription_enabled(&auth.tenant_id, &id, false)
        .await?;
    Ok(Json(SubscriptionOne {
        status: Status::Success,
        webhook: s.into(),
    }))
}

/// One sample payload.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SampleOut {
    kind: WebhookEventKind,
    /// `X-FastComments-Event`.
    event: &'static str,
    /// The method a subscription without one uses.
    method: HttpMethod,
    /// The body, as a `WebhookComment` (a delete carries the comment as it was).
    body: WebhookComment,
}

/// `{status, samples, payloads}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SamplesOut {
    status: Status,
    /// One example per kind asked for, with its header value and default method.
    samples: Vec<SampleOut>,
    /// Bodies as the hosted API gives them (what its Zapier app reads): the tenant's newest
    /// comments as `WebhookComment`s, newest first, at most `limit`; one made-up comment when
    /// the tenant has none yet.
    payloads: Vec<WebhookComment>,
}

/// Query of `GET /api/v1/webhooks/sample-payloads`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SamplesQuery {
    /// One kind (`comment-created`, `create`, `comment.created` …); left out: all three.
    #[serde(default)]
    event: Option<String>,
    /// Most `payloads` (default 10, at most 100).
    #[serde(default)]
    limit: Option<u64>,
}

/// Most sample payloads given at once.
const MAX_SAMPLE_PAYLOADS: u64 = 100;

/// `GET /api/v1/webhooks/sample-payloads?event=&limit=`: example bodies: one per kind
/// (`samples`), and the tenant's newest comments as the bodies its webhooks carry
/// (`payloads`, the hosted API's form).
#[utoipa::path(
    get,
    path = "/webhooks/sample-payloads",
    tag = "tenant",
    summary = "Example bodies: one per event kind, and the tenant's newest comments as webhook bodies",
    params(SamplesQuery),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The samples", body = SamplesOut), TenantErrors)
)]
pub async fn sample_payloads(
    TenantCall { hub, auth }: TenantCall,
    QueryParams(q): QueryParams<SamplesQuery>,
) -> ApiResult<Json<SamplesOut>> {
    auth.require_all_domains("reading sample payloads of the whole tenant")?;
    let kinds: Vec<WebhookEventKind> = match q.event.as_deref() {
        None => WebhookEventKind::ALL.to_vec(),
        Some(e) => vec![WebhookEventKind::parse(e.trim()).ok_or_else(|| {
            ApiError::invalid_query(format!(
                "unknown event {e:?}: comment-created, comment-updated or comment-deleted"
            ))
        })?],
    };
    let limit = q.limit.unwrap_or(10).clamp(1, MAX_SAMPLE_PAYLOADS);
    let total = hub.reads().count_comments(&auth.tenant_id).await?;
    let newest = hub
        .reads()
        .comments_page(&auth.tenant_id, total.saturating_sub(limit), limit)
        .await?;
    let mut payloads: Vec<WebhookComment> = newest
        .iter()
        .rev()
        .map(crate::rules::webhook_comment)
        .collect();
    if payloads.is_empty() {
        payloads.push(dummy_comment(Some("example.com")));
    }
    Ok(Json(SamplesOut {
        status: Status::Success,
        samples: kinds
            .into_iter()
            .map(|kind| SampleOut {
                kind,
                event: kind.header_value(),
                method: crate::records::SUBSCRIPTION_DEFAULT_METHOD,
                body: dummy_comment(Some("example.com")),
            })
            .collect(),
        payloads,
    }))
}

// ---------- secret rotation ----------

/// How long an old secret keeps signing and authenticating after a rotation, unless told.
pub const DEFAULT_ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// The longest overlap a rotation may ask for.
pub const MAX_ROTATION_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// Body of `POST /api/v1/api-secrets/{id}/rotate` (may be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateInput {
    /// Seconds the old secret stays valid beside the new one (default a day, at most 30 days).
    #[serde(default)]
    overlap_seconds: Option<u64>,
}

/// A secret being retired.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetiringOut {
    id: String,
    domain: String,
    retires_at: Millis,
}

/// `{status, apiSecret, retiring}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rotated {
    status: Status,
    /// The new secret.
    api_secret: SecretOut,
    /// The old one and when it goes.
    retiring: RetiringOut,
}

/// `POST /api/v1/api-secrets/{id}/rotate {"overlapSeconds"?}`: a new secret for the same
/// domain now; the old one keeps authenticating and signing until `retiring.retiresAt`
/// (webhooks carry a Standard Webhooks signature by each meanwhile, and the FastComments
/// header is signed by the old one), then maintenance removes it. `DELETE
/// /api/v1/api-secrets/{id}` retires it earlier.
#[utoipa::path(
    post,
    path = "/api-secrets/{id}/rotate",
    tag = "tenant",
    summary = "Replace an API secret, keeping the old one signing beside the new for an overlap",
    params(("id" = String, Path, description = "The secret's id")),
    request_body(content = Option<RotateInput>),
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "The new secret, and when the old retires", body = Rotated), TenantErrors)
)]
pub async fn rotate_secret(
    TenantCall { hub, auth }: TenantCall,
    Path(id): Path<String>,
    OptionalJson(input): OptionalJson<RotateInput>,
) -> ApiResult<Json<Rotated>> {
    auth.require_all_domains("rotating API secrets")?;
    let overlap = input
        .overlap_seconds
        .map_or(DEFAULT_ROTATION_OVERLAP, Duration::from_secs);
    if overlap > MAX_ROTATION_OVERLAP {
        return Err(ApiError::invalid_body(format!(
            "overlapSeconds is at most {}",
            MAX_ROTATION_OVERLAP.as_secs()
        )));
    }
    let (old, new, retires_at) = hub.rotate_secret(&auth.tenant_id, &id, overlap).await?;
    // The overlap ends on time: a timer of its own, with maintenance as the fallback (a
    // restart loses the timer; another node removes the secret at its own run).
    let retiring = hub.clone();
    tokio::spawn(async move {
        tokio::time::sleep(overlap).await;
        if let Err(e) = retiring.retire_due_secrets().await {
            tracing::warn!(error = %e, "retiring a rotated API secret failed; maintenance will");
        }
    });
    Ok(Json(Rotated {
        status: Status::Success,
        api_secret: new.into(),
        retiring: RetiringOut {
            id: old.id,
            domain: old.domain,
            retires_at,
        },
    }))
}

/// `{status, retiring}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotationsOut {
    status: Status,
    retiring: Vec<RetiringOut>,
}

/// `GET /api/v1/api-secrets/rotations`: the tenant's secrets being retired, soonest first.
#[utoipa::path(
    get,
    path = "/api-secrets/rotations",
    tag = "tenant",
    summary = "Secrets being retired, and when",
    security(("apiKey" = []), ("apiKeyQuery" = [])),
    responses((status = 200, description = "Retiring secrets", body = RotationsOut), TenantErrors)
)]
pub async fn list_rotations(TenantCall { hub, auth }: TenantCall) -> ApiResult<Json<RotationsOut>> {
    auth.require_all_domains("listing API secret rotations")?;
    let retiring = hub.reads().secret_retirements(&auth.tenant_id).await?;
    Ok(Json(RotationsOut {
        status: Status::Success,
        retiring: retiring
            .into_iter()
            .map(|r| RetiringOut {
                id: r.secret.id,
                domain: r.secret.domain,
                retires_at: Millis(r.retires_at),
            })
            .collect(),
    }))
}

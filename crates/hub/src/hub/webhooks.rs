//! The tenant's webhook settings, one path for every caller: a domain's configuration
//! (`PUT /api/v1/webhook-config` and the admin page's form) and subscriptions
//! (`/api/v1/webhooks` and the subscriptions page). Each action checks its input, the domains'
//! ownership and the tenant's limits, writes, and on refusal says which field was wrong
//! ([`Refused`]), so a form puts the error beside that field without reading the reason's text.

use super::access::TenantAuth;
use super::Hub;
use crate::error::{ApiError, ApiResult, Code};
use crate::ids::{self, TenantId};
use crate::records::{Subscription, WebhookConfig, WebhookTarget};
use crate::rules::webhooks::{http_url, method_for_kinds};
use crate::site_domain::{domain_is_owned, normalize_domain};
use crate::store::StoreError;
use axum::http::StatusCode;
use fastcomments_protocol::{HttpMethod, WebhookEventKind};

/// The `403 domain-not-owned` answer for `domain`.
pub fn not_owned(domain: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        Code::DomainNotOwned,
        format!("{domain:?} is not one of this tenant's domains (nor a subdomain of one)"),
    )
}

/// The part of a request that was refused (a form shows the error beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A subscription's `url`.
    Url,
    /// A subscription's `method`.
    Method,
    /// A subscription's `events`.
    Events,
    /// A subscription's `domains`.
    Domains,
    /// One kind's target (URL or method) of a domain's configuration.
    Target(WebhookEventKind),
    /// None in particular (the domain, the secret's scope, the tenant's limit, the store).
    Whole,
}

/// Why a webhook setting was refused, and which field it was about.
#[derive(Debug)]
pub struct Refused {
    /// The field.
    pub field: Field,
    /// The answer the API gives.
    pub error: ApiError,
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Refused {
        ApiError::from(e).into()
    }
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Refused {
        Refused {
            field: Field::Whole,
            error,
        }
    }
}

fn refused(field: Field, reason: String) -> Refused {
    Refused {
        field,
        error: ApiError::invalid_body(reason),
    }
}

/// A subscription as asked for: the names as given, each list already merged from the
/// hosted API's single-name form.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionRequest {
    /// `http://` or `https://` URL.
    pub url: String,
    /// One method for every kind; `None`: the kinds' own default (`POST`).
    pub method: Option<String>,
    /// Event kinds in any accepted spelling; must not be empty.
    pub kinds: Vec<String>,
    /// The tenant's domains, or `*`; must not be empty.
    pub domains: Vec<String>,
    /// Also fire for comments imported by integration uploads.
    pub fire_on_import: bool,
}

/// One kind's target of a domain's configuration, as given.
#[derive(Debug, Clone)]
pub struct TargetRequest {
    /// `http://` or `https://` URL.
    pub url: String,
    /// `None`: the kind's default method.
    pub method: Option<String>,
}

/// A domain's configuration, as given.
#[derive(Debug, Clone)]
pub struct ConfigRequest {
    /// The domain (normalised here) or `*`.
    pub domain: String,
    /// Where `comment.created` goes.
    pub create: Option<TargetRequest>,
    /// Where `comment.updated` goes.
    pub update: Option<TargetRequest>,
    /// Where `comment.deleted` goes.
    pub delete: Option<TargetRequest>,
    /// Also send the secret in clear in the legacy `token` header.
    pub legacy_token_header: bool,
    /// Also fire for comments imported by integration uploads.
    pub fire_on_import: bool,
}

fn target(
    kind: WebhookEventKind,
    input: Option<TargetRequest>,
) -> Result<Option<WebhookTarget>, Refused> {
    let Some(input) = input else { return Ok(None) };
    let field = Field::Target(kind);
    let url = http_url(&input.url).ok_or_else(|| {
        refused(
            field,
            format!("{}: not an http(s) URL: {:?}", kind.as_str(), input.url),
        )
    })?;
    let method = match input.method.as_deref() {
        None => kind.default_method(),
        Some(m) => HttpMethod::parse(m)
            .filter(|m| kind.allows(*m))
            .ok_or_else(|| {
                refused(
                    field,
                    format!("{}: method {m:?} is not allowed", kind.as_str()),
                )
            })?,
    };
    Ok(Some(WebhookTarget {
        url: url.to_string(),
        method,
    }))
}

impl Hub {
    /// The tenant's per-domain webhook configurations.
    pub async fn webhook_configs(&self, tenant: &TenantId) -> ApiResult<Vec<WebhookConfig>> {
        Ok(self.store.webhook_configs(tenant).await?)
    }

    /// `403 domain-not-owned` unless the tenant owns `domain` (normalised) or it is `*`.
    /// Webhook configurations, test payloads and comments name a domain; another tenant's (or
    /// nobody's) is refused (SPEC §2.2).
    pub async fn require_owned_domain(&self, tenant: &TenantId, domain: &str) -> ApiResult<()> {
        if self.owns_domain(tenant, domain).await? {
            Ok(())
        } else {
            Err(not_owned(domain))
        }
    }

    /// Checks and stores one domain's webhook configuration, replacing the one it had. The
    /// domain must be the tenant's and within the secret's reach.
    pub async fn put_webhook_config(
        &self,
        auth: &TenantAuth,
        input: ConfigRequest,
    ) -> Result<WebhookConfig, Refused> {
        let domain = normalize_domain(&input.domain)
            .ok_or_else(|| refused(Field::Whole, format!("not a domain: {:?}", input.domain)))?;
        self.require_owned_domain(&auth.tenant_id, &domain).await?;
        auth.require_domain(Some(&domain))?;
        let config = WebhookConfig {
            domain,
            create: target(WebhookEventKind::Create, input.create)?,
            update: target(WebhookEventKind::Update, input.update)?,
            delete: target(WebhookEventKind::Delete, input.delete)?,
            legacy_token_header: input.legacy_token_header,
            fire_on_import: input.fire_on_import,
        };
        self.store
            .put_webhook_config(&auth.tenant_id, &config, self.now())
            .await?;
        Ok(config)
    }

    /// Checks `input` and stores the subscription for `tenant`; the same one twice gives the
    /// first (`false`). A tenant has at most [`MAX_SUBSCRIPTIONS`](crate::records::MAX_SUBSCRIPTIONS)
    /// (`409 too-many-webhooks`).
    pub async fn subscribe(
        &self,
        tenant: &TenantId,
        input: SubscriptionRequest,
    ) -> Result<(Subscription, bool), Refused> {
        let url = http_url(&input.url)
            .ok_or_else(|| refused(Field::Url, format!("not an http(s) URL: {:?}", input.url)))?;
        let mut kinds = Vec::new();
        for e in &input.kinds {
            let kind = WebhookEventKind::parse(e.trim())
                .ok_or_else(|| refused(Field::Events, format!("unknown event kind {e:?}")))?;
            kinds.push(kind);
        }
        kinds.sort_by_key(|k| WebhookEventKind::ALL.iter().position(|a| a == k));
        kinds.dedup();
        if kinds.is_empty() {
            return Err(refused(Field::Events, "events is empty".into()));
        }
        let method = match input.method.as_deref() {
            None => None,
            Some(m) => {
                Some(method_for_kinds(m, &kinds).map_err(|why| refused(Field::Method, why))?)
            }
        };
        let mut domains = Vec::new();
        // One read of the tenant's domains for every name given.
        let owned = self.owned_domains(tenant).await?;
        for d in &input.domains {
            let domain = normalize_domain(d)
                .ok_or_else(|| refused(Field::Domains, format!("not a domain: {d:?}")))?;
            if domain != "*" && !domain_is_owned(&owned, &domain) {
                return Err(Refused {
                    field: Field::Domains,
                    error: not_owned(&domain),
                });
            }
            domains.push(domain);
        }
        domains.sort();
        domains.dedup();
        if domains.is_empty() {
            return Err(refused(Field::Domains, "domains is empty".into()));
        }
        let wanted = Subscription {
            id: ids::object_id(),
            tenant_id: tenant.to_owned(),
            url: url.to_string(),
            method,
            kinds,
            domains,
            fire_on_import: input.fire_on_import,
            created_at: self.now().0,
            failing_since: None,
            disabled_at: None,
            disabled_reason: None,
        };
        let (stored, created) = match self.store.create_subscription(&wanted).await {
            Err(StoreError::Conflict(reason)) => {
                return Err(
                    ApiError::new(StatusCode::CONFLICT, Code::TooManyWebhooks, reason).into(),
                )
            }
            other => other?,
        };
        if created {
            tracing::info!(tenant = %stored.tenant_id, subscription = %stored.id, url = %crate::redact::url(&stored.url), "webhook subscription created");
        }
        Ok((stored, created))
    }

    /// Unsubscribes; the subscription's waiting deliveries are cancelled. Another tenant's id
    /// is `404`, as no id at all.
    pub async fn unsubscribe(&self, tenant: &TenantId, id: &str) -> ApiResult<Subscription> {
        let removed = self
            .store
            .delete_subscription(tenant, id, self.now())
            .await?
            .ok_or_else(|| ApiError::not_found("webhook subscription"))?;
        tracing::info!(tenant = %tenant, subscription = %id, "webhook subscription removed");
        Ok(removed)
    }
}

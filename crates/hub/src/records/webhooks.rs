//! Where a tenant's comment changes go: per-domain webhook configurations and
//! subscriptions. A configuration is stored as JSON (its serde form); the API shows it through
//! its own types.

use crate::ids::TenantId;
use crate::site_domain::normalize_domain;

/// Where one kind of webhook goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebhookTarget {
    /// `http://` or `https://` URL.
    pub url: String,
    /// The HTTP method.
    pub method: fastcomments_protocol::HttpMethod,
}

/// A tenant's webhook configuration for one domain (`*`: any domain without its own).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfig {
    /// The domain (one of the tenant's, or `*` for all).
    pub domain: String,
    /// Comment created.
    #[serde(default)]
    pub create: Option<WebhookTarget>,
    /// Comment updated (votes included).
    #[serde(default)]
    pub update: Option<WebhookTarget>,
    /// Comment deleted.
    #[serde(default)]
    pub delete: Option<WebhookTarget>,
    /// Also send the API secret in clear in a `token` header (legacy receivers).
    #[serde(default)]
    pub legacy_token_header: bool,
    /// Fire for comments imported by integration uploads too.
    #[serde(default)]
    pub fire_on_import: bool,
}

impl WebhookConfig {
    /// The target for one kind.
    pub fn target(&self, kind: fastcomments_protocol::WebhookEventKind) -> Option<&WebhookTarget> {
        use fastcomments_protocol::WebhookEventKind as K;
        match kind {
            K::Create => self.create.as_ref(),
            K::Update => self.update.as_ref(),
            K::Delete => self.delete.as_ref(),
        }
    }
}

/// A webhook subscription (issue 13 §1, the hosted API's form): one URL that receives the
/// chosen kinds of the chosen domains' comment changes, with its own deliveries, order and
/// health. A tenant has at most [`MAX_SUBSCRIPTIONS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Its id.
    pub id: String,
    /// Owner.
    pub tenant_id: TenantId,
    /// `http://` or `https://` URL.
    pub url: String,
    /// The method of every kind; `None`: [`SUBSCRIPTION_DEFAULT_METHOD`].
    pub method: Option<fastcomments_protocol::HttpMethod>,
    /// The kinds it wants, sorted, without repeats.
    pub kinds: Vec<fastcomments_protocol::WebhookEventKind>,
    /// The domains it wants (normalised, sorted; `*` for every domain).
    pub domains: Vec<String>,
    /// Also fire for comments imported by integration uploads.
    pub fire_on_import: bool,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Since when every attempt failed (none succeeded since), epoch ms.
    pub failing_since: Option<i64>,
    /// When it was disabled; its deliveries wait as `paused` meanwhile.
    pub disabled_at: Option<i64>,
    /// Why.
    pub disabled_reason: Option<String>,
}

/// The method of a subscription made without one, for every kind: `POST`, the hosted API's
/// default for API subscriptions (its Zapier app's source says so). The per-domain
/// configuration keeps the guide's per-kind defaults (`PUT`, `PUT`, `DELETE`).
pub const SUBSCRIPTION_DEFAULT_METHOD: fastcomments_protocol::HttpMethod =
    fastcomments_protocol::HttpMethod::Post;

/// The most subscriptions a tenant may have.
pub const MAX_SUBSCRIPTIONS: usize = 50;

impl Subscription {
    /// The method its changes are sent with: its own, else [`SUBSCRIPTION_DEFAULT_METHOD`].
    pub fn method(&self) -> fastcomments_protocol::HttpMethod {
        self.method.unwrap_or(SUBSCRIPTION_DEFAULT_METHOD)
    }

    /// The entry of [`Subscription::domains`] a comment of `domain` matches (its normalised
    /// host, else `*`), if any.
    pub fn matching_domain(&self, domain: Option<&str>) -> Option<&str> {
        let host = domain.and_then(normalize_domain);
        host.and_then(|h| self.domains.iter().find(|d| **d == h))
            .or_else(|| self.domains.iter().find(|d| *d == "*"))
            .map(String::as_str)
    }
}

/// Where a tenant's comment changes go: its per-domain configurations and its subscriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookTargets {
    /// Per-domain configurations (each kind's target is one subscription, in effect).
    pub configs: Vec<WebhookConfig>,
    /// Subscriptions.
    pub subscriptions: Vec<Subscription>,
}

impl WebhookTargets {
    /// Nothing would fire.
    pub fn is_empty(&self) -> bool {
        self.configs.is_empty() && self.subscriptions.is_empty()
    }

    /// Some target also wants comments imported by integration uploads.
    pub fn fire_on_import(&self) -> bool {
        self.configs.iter().any(|c| c.fire_on_import)
            || self.subscriptions.iter().any(|s| s.fire_on_import)
    }
}

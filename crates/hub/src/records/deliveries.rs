//! The webhook outbox: deliveries, their states and attempts, and the reads of the
//! dispatcher, `/metrics` and the admin pages.

use crate::ids::TenantId;
use fastcomments_protocol::{Millis, WebhookEventKind};

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its first attempt.
    Queued,
    /// Failed at least once; waits for `next_attempt_at`.
    Retrying,
    /// A 2xx answer was received.
    Succeeded,
    /// Gave up (attempts exhausted, no secret, or a refused target).
    Failed,
    /// Cancelled by the tenant.
    Cancelled,
    /// Waiting for its subscription to be enabled again (it was disabled for failing too
    /// long); queued again, in order, when it is.
    Paused,
}

impl DeliveryStatus {
    /// Storage and API text.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Cancelled => "cancelled",
            DeliveryStatus::Paused => "paused",
        }
    }

    /// Inverse of [`DeliveryStatus::as_str`].
    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        Some(match s {
            "queued" => DeliveryStatus::Queued,
            "retrying" => DeliveryStatus::Retrying,
            "succeeded" => DeliveryStatus::Succeeded,
            "failed" => DeliveryStatus::Failed,
            "cancelled" => DeliveryStatus::Cancelled,
            "paused" => DeliveryStatus::Paused,
            _ => return None,
        })
    }

    /// The open states (waiting, or failed for good and waiting for a retry by hand): what
    /// `/metrics` counts in the store, sent and cancelled deliveries being history the
    /// retention keeps.
    pub const OPEN: [DeliveryStatus; 4] = [
        DeliveryStatus::Queued,
        DeliveryStatus::Retrying,
        DeliveryStatus::Paused,
        DeliveryStatus::Failed,
    ];

    /// Every state but sent: what the store keeps an index by state of (a sent delivery's
    /// record would pay for an entry in it).
    pub const UNSENT: [DeliveryStatus; 5] = [
        DeliveryStatus::Queued,
        DeliveryStatus::Retrying,
        DeliveryStatus::Paused,
        DeliveryStatus::Failed,
        DeliveryStatus::Cancelled,
    ];

    /// The states still to be sent.
    pub const PENDING: [DeliveryStatus; 2] = [DeliveryStatus::Queued, DeliveryStatus::Retrying];

    /// Still to be sent.
    pub fn is_pending(self) -> bool {
        Self::PENDING.contains(&self)
    }
}

/// One webhook to deliver (the outbox row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The delivery id (`X-FastComments-Delivery`, stable across retries).
    pub id: String,
    /// Owner.
    pub tenant_id: TenantId,
    /// The comment.
    pub comment_id: String,
    /// The change's timeline position; deliveries of one comment go out in this order.
    pub position: i64,
    /// Create, update or delete.
    pub kind: fastcomments_protocol::WebhookEventKind,
    /// The comment's domain (picks the signing secret).
    pub domain: Option<String>,
    /// The domain of the configuration that queued it (for a subscription, the entry of its
    /// domains that matched).
    pub config_domain: String,
    /// The subscription that queued it; empty for the per-domain configurations. Deliveries
    /// of one comment go out in order per subscription (the configurations count as one).
    pub subscription_id: String,
    /// Target URL.
    pub url: String,
    /// [`target_host`] of the URL: the dispatcher's per-host limit counts by it. Empty for
    /// deliveries queued before it was stored.
    pub target_host: String,
    /// Target method.
    pub method: fastcomments_protocol::HttpMethod,
    /// Send the legacy `token` header.
    pub legacy_token: bool,
    /// The exact body bytes (compact JSON).
    pub body: String,
    /// Life stage.
    pub status: DeliveryStatus,
    /// The head of its stream (its comment's deliveries to its subscription, or to the
    /// configurations): no earlier delivery of the comment in the stream is waiting (queued,
    /// retrying or paused). Only a ready delivery is claimed; ending it (sent, failed for good,
    /// cancelled) makes the next one ready in the same transaction. Meaningful while waiting.
    pub ready: bool,
    /// Attempts made.
    pub attempts: i64,
    /// Attempt limit; 0 means the hub's default.
    pub max_attempts: i64,
    /// When the next attempt is due, epoch ms.
    pub next_attempt_at: i64,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Last change, epoch ms.
    pub updated_at: i64,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Set on a recover's copy: the delivery it copies. Its `webhook-id` carries that id, so a
    /// receiver that de-duplicates sees a copy; its own id is `X-FastComments-Delivery`.
    pub recovered_from: Option<String>,
}

impl Delivery {
    /// The delivery id its Standard Webhooks `webhook-id` carries: the copied delivery's for a
    /// recover's copy, its own otherwise.
    pub fn message_id(&self) -> &str {
        self.recovered_from.as_deref().unwrap_or(&self.id)
    }
}

/// What a recover re-sends to: one subscription, or one domain's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoverTarget {
    /// A subscription, by id.
    Subscription(String),
    /// A domain's per-domain configuration (`*` included), by its domain.
    Config(String),
}

impl RecoverTarget {
    /// How the target is stored (`s:` + the subscription's id, `c:` + the domain).
    pub fn key(&self) -> String {
        match self {
            RecoverTarget::Subscription(id) => format!("s:{id}"),
            RecoverTarget::Config(domain) => format!("c:{domain}"),
        }
    }

    /// Inverse of [`RecoverTarget::key`].
    pub fn parse(key: &str) -> Option<RecoverTarget> {
        if let Some(id) = key.strip_prefix("s:") {
            Some(RecoverTarget::Subscription(id.to_owned()))
        } else {
            key.strip_prefix("c:")
                .map(|d| RecoverTarget::Config(d.to_owned()))
        }
    }
}

/// A recover: every change of the tenant from `since` to `until` that went to its target,
/// queued again as copies, a page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Its id.
    pub id: String,
    /// Owner.
    pub tenant_id: TenantId,
    /// Where it re-sends to.
    pub target: RecoverTarget,
    /// The first change's position it re-sends, epoch ms.
    pub since: i64,
    /// The last: when it started, so that it ends.
    pub until: i64,
    /// Where the next page starts: past this (position, id), the last delivery copied; at
    /// first `(since, "")`, before every delivery at `since`.
    pub cursor: (i64, String),
    /// Copies queued so far.
    pub queued: u64,
    /// Started, epoch ms.
    pub started_at: i64,
    /// Every delivery in its range copied, epoch ms.
    pub finished_at: Option<i64>,
}

/// The host a webhook URL is sent to, as `host:port` with the scheme's port when none is given
/// (`https://Hooks.Example.com/x` → `hooks.example.com:443`); the URL itself when it does not
/// parse. One receiver's deliveries share it, so one slow receiver is limited as one.
pub fn target_host(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{}:{p}", h.to_ascii_lowercase()),
            (Some(h), None) => h.to_ascii_lowercase(),
            _ => url.to_owned(),
        },
        Err(_) => url.to_owned(),
    }
}

/// What the dispatcher asks [`crate::store::Store::due_deliveries`] for.
#[derive(Debug, Clone, Copy)]
pub struct DueQuery<'a> {
    /// Due at or before this instant, epoch ms.
    pub now: Millis,
    /// At most this many in all.
    pub limit: u64,
    /// At most this many per target host (the dispatcher asks for two in-flight limits'
    /// worth).
    pub per_host: u64,
    /// Delivery ids to leave out (in flight).
    pub exclude: &'a [String],
    /// Target hosts to leave out.
    pub skip_hosts: &'a [String],
    /// Tenants to leave out.
    pub skip_tenants: &'a [TenantId],
    /// Subscriptions to leave out (those at their in-flight limit; the per-domain
    /// configurations, with an empty id, are never left out by this).
    pub skip_subscriptions: &'a [String],
    /// How long what is handed out stays claimed if its attempt is never recorded; longer
    /// than any attempt.
    pub lease_ms: i64,
}

/// Totals of the webhook outbox, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Open deliveries (queued, retrying, paused, failed) by state; states with none may be
    /// missing, and sent or cancelled ones are not counted.
    pub by_status: Vec<(DeliveryStatus, u64)>,
    /// When the oldest pending delivery was queued, epoch ms.
    pub oldest_pending_at: Option<i64>,
    /// Subscriptions disabled for failing too long.
    pub disabled_subscriptions: u64,
}

/// The log of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// The delivery.
    pub delivery_id: String,
    /// 1, 2, 3 …
    pub attempt: i64,
    /// When it started, epoch ms.
    pub at: i64,
    /// URL called.
    pub url: String,
    /// Method used.
    pub method: String,
    /// HTTP status, when an answer came.
    pub status_code: Option<i64>,
    /// The answer's first 4 KiB.
    pub response_body: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// An attempt and what it means for its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The log row.
    pub attempt: DeliveryAttempt,
    /// The delivery's status after it.
    pub status: DeliveryStatus,
    /// When the next attempt is due (for `Retrying`).
    pub next_attempt_at: i64,
}

/// Which of a tenant's deliveries to list ([`crate::store::Store::find_deliveries`]), newest first.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter<'a> {
    /// Only this state.
    pub status: Option<DeliveryStatus>,
    /// Only those still to be sent (queued or retrying).
    pub pending: bool,
    /// Only those whose comment's domain is this one or one of its subdomains.
    pub reach: Option<&'a str>,
    /// Only those of the comment the site knows by this id.
    pub external_id: Option<&'a str>,
    /// Only those tried more than this many times.
    pub attempts_over: Option<i64>,
    /// Only those a subscription queued (`true`) or a domain's configuration (`false`).
    pub by_subscription: Option<bool>,
    /// Only this event kind.
    pub kind: Option<WebhookEventKind>,
    /// Only this comment's.
    pub comment_id: Option<&'a str>,
    /// Only those whose comment's domain, or whose configuration's domain, is this.
    pub domain: Option<&'a str>,
    /// Skip this many (paging).
    pub offset: u64,
    /// At most this many.
    pub limit: u64,
}

/// How many of a tenant's deliveries are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryCounts {
    /// Waiting for a first attempt.
    pub queued: u64,
    /// Waiting for a retry.
    pub retrying: u64,
    /// Delivered.
    pub succeeded: u64,
    /// Given up.
    pub failed: u64,
    /// Cancelled by the tenant.
    pub cancelled: u64,
    /// Waiting for their disabled subscription to be enabled again.
    pub paused: u64,
}

impl DeliveryCounts {
    /// Adds `n` to the count of `status`.
    pub fn add(&mut self, status: DeliveryStatus, n: u64) {
        let slot = match status {
            DeliveryStatus::Queued => &mut self.queued,
            DeliveryStatus::Retrying => &mut self.retrying,
            DeliveryStatus::Succeeded => &mut self.succeeded,
            DeliveryStatus::Failed => &mut self.failed,
            DeliveryStatus::Cancelled => &mut self.cancelled,
            DeliveryStatus::Paused => &mut self.paused,
        };
        *slot += n;
    }
}

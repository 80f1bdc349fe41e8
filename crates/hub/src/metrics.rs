//! What `/metrics` shows, in the OpenMetrics text format through `prometheus-client`.
//!
//! Counters keep the names they had when this module wrote the text by hand (a counter
//! registered as `fastcomments_polls` is exposed as `fastcomments_polls_total`). The webhook
//! metrics of issue 13 §4 are of two sorts: what this process sees happen (attempts by
//! outcome, latency from commit to 2xx) is counted as it happens; what the store holds
//! (deliveries by state, queue depth, age of the oldest pending delivery, disabled
//! subscriptions) is read from it by the `/metrics` handler, at most every [`STORE_GAUGES_TTL`], so a
//! scraper polling every second costs one store query per few seconds, and on several nodes
//! every node tells the same totals.

use crate::records::DeliveryStatus;
use fastcomments_protocol::Millis;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter as PromCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// How long gauges read from the store are reused.
pub const STORE_GAUGES_TTL: Duration = Duration::from_secs(1);

/// A monotonically increasing counter (a handle; clones count together).
#[derive(Debug, Clone, Default)]
pub struct Counter(PromCounter);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.inc_by(n);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.0.inc();
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// A counter of seconds spent (a handle; clones count together).
#[derive(Debug, Clone, Default)]
pub struct Seconds(PromCounter<f64, AtomicU64>);

impl Seconds {
    /// Adds `d`.
    pub fn add(&self, d: Duration) {
        self.0.inc_by(d.as_secs_f64());
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// How a webhook attempt ended, as `/metrics` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Success,
    /// A 1xx or 3xx answer (redirects are not followed).
    Other,
    /// A 4xx answer.
    ClientError,
    /// A 5xx answer.
    ServerError,
    /// No complete answer within the attempt timeout.
    Timeout,
    /// The connection was refused, by the receiver or by the SSRF guard.
    Refused,
    /// Anything else: other network errors, no API secret, an invalid URL.
    Error,
}

impl AttemptOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Success => "2xx",
            AttemptOutcome::Other => "other",
            AttemptOutcome::ClientError => "4xx",
            AttemptOutcome::ServerError => "5xx",
            AttemptOutcome::Timeout => "timeout",
            AttemptOutcome::Refused => "refused",
            AttemptOutcome::Error => "error",
        }
    }

    const ALL: [AttemptOutcome; 7] = [
        AttemptOutcome::Success,
        AttemptOutcome::Other,
        AttemptOutcome::ClientError,
        AttemptOutcome::ServerError,
        AttemptOutcome::Timeout,
        AttemptOutcome::Refused,
        AttemptOutcome::Error,
    ];
}

/// Everything the hub counts.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// HTTP responses by class.
    pub responses_2xx: Counter,
    /// 4xx responses.
    pub responses_4xx: Counter,
    /// 5xx responses.
    pub responses_5xx: Counter,
    /// Stream / commands polls.
    pub polls: Counter,
    /// Polls answered from memory (nothing new).
    pub idle_polls: Counter,
    /// Events sent to integrations.
    pub events_served: Counter,
    /// Timeline entries left out of a poll because their stored payload cannot be read.
    pub unreadable_entries: Counter,
    /// Comments received by uploads.
    pub comments_uploaded: Counter,
    /// Uploads refused as too large.
    pub uploads_too_large: Counter,
    /// Timeline entries written.
    pub timeline_entries: Counter,
    /// Comment changes that matched none of their tenant's webhook configurations.
    pub webhooks_unmatched: Counter,
    /// Delivery attempts made by this process, by outcome.
    attempts: Family<OutcomeLabel, PromCounter>,
    /// Seconds from the change's commit to its delivery's 2xx.
    latency: Histogram,
    /// Deliveries and their attempts removed by retention.
    pub deliveries_pruned: Counter,
    /// Subscriptions disabled or removed (410) by this process.
    pub subscriptions_disabled_here: Counter,
    /// Claims of due deliveries this process's dispatcher made, and the deliveries they
    /// handed out: what a claim costs the store is mostly per claim, not per delivery.
    pub webhook_claims: Counter,
    pub webhook_claimed: Counter,
    /// Seconds the claims took, asked to answered: one node claims one batch at a time, so
    /// a busy host's drain is bound by how long each takes (BENCHMARKS.md).
    pub webhook_claim_seconds: Seconds,
    deliveries: Family<StateLabel, Gauge>,
    queue_depth: Gauge,
    oldest_pending_age: Gauge<f64, AtomicU64>,
    disabled_subscriptions: Gauge,
    /// Storage faults (full disk, I/O error, busy, unreachable) this process met, by kind:
    /// raised to [`crate::store::faults_seen`] at each render.
    storage_failures: Family<KindLabel, PromCounter>,
    /// When the store gauges were last read.
    refreshed: Mutex<Option<Instant>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric, registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.0.clone());
            c
        };
        let responses = Family::<ClassLabel, PromCounter>::default();
        registry.register(
            "fastcomments_http_responses",
            "HTTP responses by status class",
            responses.clone(),
        );
        let class = |class| Counter(responses.get_or_create(&ClassLabel { class }).clone());
        let (responses_2xx, responses_4xx, responses_5xx) =
            (class("2xx"), class("4xx"), class("5xx"));
        let polls = counter(
            &mut registry,
            "fastcomments_polls",
            "Integration polls (stream and commands)",
        );
        let idle_polls = counter(
            &mut registry,
            "fastcomments_idle_polls",
            "Polls answered from memory",
        );
        let events_served = counter(
            &mut registry,
            "fastcomments_events_served",
            "Events sent to integrations",
        );
        let unreadable_entries = counter(
            &mut registry,
            "fastcomments_unreadable_entries",
            "Timeline entries left out of polls: their stored payload cannot be read",
        );
        let comments_uploaded = counter(
            &mut registry,
            "fastcomments_comments_uploaded",
            "Comments received through uploads",
        );
        let uploads_too_large = counter(
            &mut registry,
            "fastcomments_uploads_too_large",
            "Uploads refused with 413",
        );
        let timeline_entries = counter(
            &mut registry,
            "fastcomments_timeline_entries",
            "Timeline entries written by this process",
        );
        let webhooks_unmatched = counter(
            &mut registry,
            "fastcomments_webhooks_unmatched",
            "Comment changes of tenants with webhook configurations that matched none of them (no configuration for the comment's domain and no '*' one, or no target for the kind)",
        );
        let attempts = Family::<OutcomeLabel, PromCounter>::default();
        registry.register(
            "fastcomments_webhook_attempts",
            "Webhook delivery attempts made by this process, by outcome (2xx, 4xx, 5xx, timeout, refused, other status, error)",
            attempts.clone(),
        );
        for o in AttemptOutcome::ALL {
            // Every outcome shows from the start, at 0.
            let _ = attempts.get_or_create(&OutcomeLabel {
                outcome: o.as_str(),
            });
        }
        // 5 ms to about 2.9 hours: a healthy receiver answers in milliseconds, a retried
        // delivery succeeds minutes to hours after its change.
        let latency = Histogram::new(exponential_buckets(0.005, 2.0, 22));
        registry.register(
            "fastcomments_webhook_delivery_latency_seconds",
            "Seconds from the comment change's commit to its webhook's 2xx answer (retries included)",
            latency.clone(),
        );
        let deliveries_pruned = counter(
            &mut registry,
            "fastcomments_webhook_deliveries_pruned",
            "Succeeded and cancelled deliveries removed by retention, with their attempts",
        );
        let subscriptions_disabled_here = counter(
            &mut registry,
            "fastcomments_webhook_subscriptions_disabled",
            "Webhook subscriptions this process disabled (failing too long) or removed (410 Gone)",
        );
        let webhook_claims = counter(
            &mut registry,
            "fastcomments_webhook_claims",
            "Claims of due webhook deliveries this process made (one store query each)",
        );
        let webhook_claimed = counter(
            &mut registry,
            "fastcomments_webhook_claimed",
            "Webhook deliveries this process's claims handed out",
        );
        let webhook_claim_seconds = Seconds::default();
        registry.register(
            "fastcomments_webhook_claim_seconds",
            "Seconds this process's claims of due webhook deliveries took, asked to answered",
            webhook_claim_seconds.0.clone(),
        );
        let deliveries = Family::<StateLabel, Gauge>::default();
        registry.register(
            "fastcomments_webhook_deliveries",
            "Open webhook deliveries in the store (waiting, or failed for good), by state",
            deliveries.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "fastcomments_webhook_queue_depth",
            "Webhook deliveries waiting to be sent (queued or retrying)",
            queue_depth.clone(),
        );
        let oldest_pending_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "fastcomments_webhook_oldest_pending_age_seconds",
            "Age of the oldest webhook delivery still waiting to be sent (0 when none waits)",
            oldest_pending_age.clone(),
        );
        let disabled_subscriptions = Gauge::default();
        registry.register(
            "fastcomments_webhook_disabled_subscriptions",
            "Webhook subscriptions disabled because their receiver failed for too long",
            disabled_subscriptions.clone(),
        );
        let storage_failures = Family::<KindLabel, PromCounter>::default();
        registry.register(
            "fastcomments_storage_failures",
            "Storage faults met by this process, by kind (disk-full, io-error, busy, unreachable); a write that met one was answered 507 or 503, never 2xx",
            storage_failures.clone(),
        );
        for k in crate::store::FaultKind::ALL {
            let _ = storage_failures.get_or_create(&KindLabel { kind: k.as_str() });
        }
        Metrics {
            registry,
            storage_failures,
            responses_2xx,
            responses_4xx,
            responses_5xx,
            polls,
            idle_polls,
            events_served,
            unreadable_entries,
            comments_uploaded,
            uploads_too_large,
            timeline_entries,
            webhooks_unmatched,
            attempts,
            latency,
            deliveries_pruned,
            subscriptions_disabled_here,
            webhook_claims,
            webhook_claimed,
            webhook_claim_seconds,
            deliveries,
            queue_depth,
            oldest_pending_age,
            disabled_subscriptions,
            refreshed: Mutex::new(None),
        }
    }

    /// Counts one webhook attempt.
    pub fn attempt(&self, outcome: AttemptOutcome) {
        self.attempts
            .get_or_create(&OutcomeLabel {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// Records a delivery's 2xx, `ms` after its change committed.
    pub fn delivered_after(&self, ms: i64) {
        self.latency.observe(ms.max(0) as f64 / 1000.0);
    }

    /// Whether the gauges read from the store are older than [`STORE_GAUGES_TTL`] (or were
    /// never read), so `/metrics` should read them again before it renders.
    pub fn store_gauges_stale(&self) -> bool {
        self.refreshed
            .lock()
            .is_none_or(|at| at.elapsed() >= STORE_GAUGES_TTL)
    }

    /// Sets the gauges read from the store, and when they were read.
    pub fn set_store_gauges(&self, stats: &crate::records::WebhookStats, now: Millis) {
        *self.refreshed.lock() = Some(Instant::now());
        // The open states only: sent and cancelled deliveries are history the retention keeps,
        // and counting them would read every one at each refresh (what was sent is
        // `fastcomments_webhook_attempts_total`).
        for status in DeliveryStatus::OPEN {
            let n = stats
                .by_status
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            self.deliveries
                .get_or_create(&StateLabel {
                    state: status.as_str(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let pending: u64 = stats
            .by_status
            .iter()
            .filter(|(s, _)| s.is_pending())
            .map(|(_, n)| *n)
            .sum();
        self.queue_depth
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        let age = stats
            .oldest_pending_at
            .map_or(0.0, |at| (now.0 - at).max(0) as f64 / 1000.0);
        self.oldest_pending_age.set(age);
        self.disabled_subscriptions
            .set(i64::try_from(stats.disabled_subscriptions).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text exposition of what is counted now.
    pub fn render(&self) -> String {
        for (kind, seen) in crate::store::faults_seen() {
            let counter = self.storage_failures.get_or_create(&KindLabel {
                kind: kind.as_str(),
            });
            let counted = counter.get();
            if seen > counted {
                counter.inc_by(seen - counted);
            }
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding /metrics failed");
        }
        out
    }
}

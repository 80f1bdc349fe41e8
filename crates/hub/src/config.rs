//! The hub's settings. Every limit SPEC.md calls configurable lives here, with its default.

use std::time::Duration;

/// How many registrations of new pending tokens a node makes between two checks of the overall
/// cap (the check walks an index as far as the cap; the per-address cap is checked every time).
pub const PENDING_OVERALL_EVERY: u64 = 64;

/// How the hub behaves. `HubConfig::default()` is what `fastcomments serve` runs with.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Bearer token of the operator API (`/admin/v1/…`); `None` disables that API.
    pub admin_token: Option<String>,
    /// Most events in one stream/events page (SPEC §1.3: 500).
    pub page_size: u64,
    /// A generation-B page is extended to the end of its last wall-clock second, up to this
    /// many events in that second (SPEC §1.5: 10,000).
    pub max_second_extension: u64,
    /// How long timeline entries are kept (SPEC §1.2: at least 14 days).
    pub retention: Duration,
    /// How long an unacknowledged token stays registered (SPEC §1.1: 7 days).
    pub pending_token_ttl: Duration,
    /// Most pending (unacknowledged) tokens one client address may have registered; past it
    /// its oldest pending ones go (issue 20 §3; 100).
    pub pending_tokens_per_address: u64,
    /// Most pending tokens in all; past it the oldest go (100,000). Checked every
    /// [`PENDING_OVERALL_EVERY`] registrations of a node, so it may be passed by that many.
    pub pending_tokens_overall: u64,
    /// Largest upload body (SPEC §1.4: 1 MiB).
    pub upload_limit_bytes: usize,
    /// Largest body of any other call.
    pub body_limit_bytes: usize,
    /// Comments asked for per upload batch before any 413.
    pub initial_batch_size: i64,
    /// Comments per page of `GET /integrations/v1/comments`.
    pub download_page_size: u64,
    /// How often expired tokens and old timeline entries are removed.
    pub maintenance_interval: Duration,
    /// Webhook retry delay unit: attempt *n* failing waits `n × webhook_retry_base`
    /// (SPEC §2.2: 1 minute; tests use milliseconds).
    pub webhook_retry_base: Duration,
    /// Attempts before a delivery is `failed` (SPEC §2.2: 99).
    pub webhook_max_attempts: i64,
    /// Deliveries in flight at once, in the whole hub.
    pub webhook_concurrency: usize,
    /// Deliveries in flight at once to one target host (`host:port`): a receiver that hangs
    /// holds at most this many slots, so it delays only its own deliveries (issue 14 §2).
    /// 16 keeps one fast receiver's throughput (BENCHMARKS.md: 8 cost it about 13 %).
    pub webhook_per_host_concurrency: usize,
    /// Deliveries in flight at once for one tenant, whatever the hosts: a tenant with many slow
    /// receivers cannot take the whole pool either.
    pub webhook_per_tenant_concurrency: usize,
    /// At most this many attempts in flight per webhook subscription, so one subscription's
    /// slow receiver cannot take its tenant's whole share.
    pub webhook_per_subscription_concurrency: usize,
    /// Timeout of one webhook call, from connecting to the last byte of the answer (5 s: a
    /// receiver should answer at once and do slow work afterwards; a hanging one then gives its
    /// slots back twice as often as with the former 10 s).
    pub webhook_timeout: Duration,
    /// How long a delivery handed to a dispatcher stays claimed if its attempt is never
    /// recorded (its hub died): then another dispatcher (or the restarted hub) takes it.
    /// Longer than `webhook_timeout`.
    pub webhook_claim_lease: Duration,
    /// Let webhooks reach private, loopback, link-local and other non-public addresses. Off by
    /// default: then no tenant and no domain (not even `localhost`) can make the hub call into
    /// its own network (SPEC §2.2). Only the operator sets it, for local development.
    pub webhook_allow_private_targets: bool,
    /// How long succeeded and cancelled webhook deliveries (and their attempt logs) are kept
    /// after their last change; maintenance removes older ones (issue 13 §4: 30 days).
    pub webhook_delivery_retention: Duration,
    /// Deliveries removed per retention transaction: each batch is short, and the writer
    /// serves other work between batches.
    pub webhook_prune_batch: u64,
    /// A subscription whose every attempt failed for this long is disabled (issue 13 §2: 5
    /// days): its deliveries wait, paused, until the tenant enables it again.
    pub webhook_disable_after: Duration,
    /// How long the hub trusts what it cached from the store (token records, API secrets,
    /// timeline bounds). `None`: until this hub itself changes it, which is right only when
    /// this hub sees every write, as with SQLite (one serving hub per database, see
    /// `Store::claim_for_serving`). Hubs sharing a database with other nodes set a short TTL:
    /// another node's revocation or new events reach this one's answers within it.
    pub cache_ttl: Option<Duration>,
    /// The accept loop's caps and timeouts, and the trusted reverse proxies (issue 20 §1–2).
    pub connections: ConnectionLimits,
    /// Failed credential checks allowed per client address before its credentials are
    /// refused `429` for a while (issue 20 §2; `hub::throttle`).
    pub credential_failures: ThrottleQuota,
}

/// Failed credential checks allowed per client address.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleQuota {
    /// Failures an address may make at once.
    pub burst: u32,
    /// Failures per minute it may make after that.
    pub per_minute: u32,
}

impl Default for ThrottleQuota {
    /// 60 at once, then one every two seconds: a plugin that polls with a token not yet
    /// acknowledged every few seconds never reaches it; guessing an 8-character token (62^8
    /// values) at 30 a minute takes millions of years.
    fn default() -> ThrottleQuota {
        ThrottleQuota {
            burst: 60,
            per_minute: 30,
        }
    }
}

/// The limits of the accept loop. `Default` is what `fastcomments serve` runs with.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Most time from a connection's start, or from the first byte of a kept-alive
    /// connection's next request, to the end of the request's head (10 s).
    pub header_read_timeout: Duration,
    /// Most time a kept-alive connection waits for its next request (30 s).
    pub idle_timeout: Duration,
    /// Most time from a request's head to the end of its body (60 s: a 1 MiB upload at
    /// 17 KB/s); a body that trickles slower closes the connection.
    pub body_read_timeout: Duration,
    /// Most open connections in all (4,096; lowered at start to three quarters of the
    /// process's open-files limit when that is lower).
    pub max_connections: usize,
    /// Most open connections from one client address, an IPv6 /64 counting as one (128).
    pub max_per_address: usize,
    /// Addresses of reverse proxies in front of the hub: their connections count only toward
    /// `max_connections`, and their `X-Forwarded-For` names the client (see `client_ip`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_per_address: 128,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            admin_token: None,
            page_size: 500,
            max_second_extension: 10_000,
            retention: Duration::from_secs(14 * 24 * 3600),
            pending_token_ttl: Duration::from_secs(7 * 24 * 3600),
            pending_tokens_per_address: 100,
            pending_tokens_overall: 100_000,
            upload_limit_bytes: 1024 * 1024,
            body_limit_bytes: 1024 * 1024,
            initial_batch_size: 500,
            download_page_size: 100,
            maintenance_interval: Duration::from_secs(3600),
            webhook_retry_base: Duration::from_secs(60),
            webhook_max_attempts: 99,
            webhook_concurrency: 128,
            webhook_per_host_concurrency: 16,
            webhook_per_tenant_concurrency: 32,
            webhook_per_subscription_concurrency: 8,
            webhook_timeout: Duration::from_secs(5),
            webhook_claim_lease: Duration::from_secs(60),
            webhook_allow_private_targets: false,
            webhook_delivery_retention: Duration::from_secs(30 * 24 * 3600),
            webhook_prune_batch: 500,
            webhook_disable_after: Duration::from_secs(5 * 24 * 3600),
            cache_ttl: None,
            connections: ConnectionLimits::default(),
            credential_failures: ThrottleQuota::default(),
        }
    }
}

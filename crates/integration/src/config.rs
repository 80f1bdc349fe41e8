//! What an integration needs to know: where the hub is, which protocol generation to speak,
//! how fast to poll, how big to batch and how hard to retry.

use std::time::Duration;

/// The protocol generation (SPEC §1.3 and §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// `GET /stream` (the seed's protocol, "generation A").
    #[default]
    Stream,
    /// `GET /commands` + `GET /events` (what deployed plugins speak, "generation B").
    Commands,
}

/// Retry policy for one HTTP call: exponential backoff with jitter.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per call before giving up (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub base_delay: Duration,
    /// Largest delay between two attempts.
    pub max_delay: Duration,
    /// Per-request timeout (connect + response).
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Settings of an [`crate::Integration`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The hub's base URL, e.g. `https://fastcomments.com` (no trailing path needed).
    pub hub_url: String,
    /// Which protocol generation to speak.
    pub protocol: Protocol,
    /// Sent as `integrationType` when registering the token.
    pub integration_type: Option<String>,
    /// Sent as `domain` when registering the token.
    pub domain: Option<String>,
    /// Poll cadence until setup completes (SPEC §1.3: every few seconds).
    pub setup_poll_interval: Duration,
    /// Poll cadence once setup completed (SPEC §1.3: about daily, never rarer than retention).
    pub idle_poll_interval: Duration,
    /// Largest upload batch, whatever the hub asks for (generation B never says: this is the size).
    pub max_batch: usize,
    /// Upload batches in flight at once (the cursor still only advances over contiguous ones).
    pub upload_concurrency: usize,
    /// How long an applied event id is remembered for de-duplication.
    pub dedup_ttl: Duration,
    /// How many applied event ids are remembered at most.
    pub dedup_capacity: usize,
    /// HTTP retries.
    pub retry: RetryPolicy,
}

impl Config {
    /// Defaults for a hub at `hub_url`.
    pub fn new(hub_url: impl Into<String>) -> Config {
        Config {
            hub_url: hub_url.into(),
            protocol: Protocol::Stream,
            integration_type: None,
            domain: None,
            setup_poll_interval: Duration::from_secs(3),
            idle_poll_interval: Duration::from_secs(24 * 3600),
            max_batch: 500,
            // Eight: a hub with group commit stores several batches per transaction, and
            // measured end to end (BENCHMARKS.md, runs 21-28) eight beat four by ~15 %.
            upload_concurrency: 8,
            dedup_ttl: Duration::from_secs(3600),
            dedup_capacity: 2_000,
            retry: RetryPolicy::default(),
        }
    }
}

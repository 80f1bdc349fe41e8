//! [`Verifier`]: the secrets, tolerance, clock, accepted schemes and replay store of a receiver,
//! set up once and shared by every request.
//!
//! It checks either signature scheme: Standard Webhooks when a request carries any of its
//! headers, the FastComments scheme otherwise ([`AcceptedSchemes`] narrows that down). Both
//! schemes key HMAC-SHA256 with the same secret bytes, so one set of keyed MACs serves both.
//!
//! Each secret is absorbed into an HMAC state when the verifier is built; a verification clones
//! that state (a copy of two SHA-256 states) instead of re-keying, so verifying costs little
//! more than hashing the body once. The verifier is an `Arc` inside: cloning it into every
//! request handler, as axum's state does, copies one pointer.

use crate::error::VerifyError;
use crate::headers::{HeaderLookup, WebhookHeaderValues};
use crate::replay::ReplayStore;
use crate::sign::{keyed_mac, HmacSha256};
use crate::standard::StandardHeaders;
use crate::verify::{SignedHeaders, SignedParts, Verified, DEFAULT_TOLERANCE_SECS};
use std::sync::Arc;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
use std::time::{SystemTime, UNIX_EPOCH};

/// The largest body the axum extractor reads unless configured otherwise: 1 MiB, far above any
/// comment and low enough that a flood of large bodies cannot exhaust memory.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// A source of "now" in unix seconds. Tests pass a closure over a value they control.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system's wall clock in unix seconds.
///
/// On Linux this reads `CLOCK_REALTIME_COARSE` through the vDSO: its resolution is a few
/// milliseconds, far finer than the seconds the freshness check works in, and it costs a few
/// nanoseconds instead of the ~35 ns of a precise read, on every verification. Elsewhere it is
/// [`SystemTime::now`](std::time::SystemTime::now) (0 if that reads before 1970).
pub fn system_clock() -> i64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse).tv_sec
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .unwrap_or(0)
    }
}

/// Which signature schemes a [`Verifier`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AcceptedSchemes {
    /// Standard Webhooks when any of `webhook-id`, `webhook-timestamp`, `webhook-signature` is
    /// present (then all three must be, and must verify: there is no falling back), the
    /// FastComments scheme otherwise. Anyone who strips all three headers from a request the
    /// hub signed both ways gets the weaker scheme checked: once the sender sends Standard
    /// Webhooks, prefer [`StandardWebhooksOnly`](AcceptedSchemes::StandardWebhooksOnly).
    #[default]
    Either,
    /// Only Standard Webhooks; a request without its headers is refused
    /// ([`VerifyError::MissingStandardHeader`]).
    StandardWebhooksOnly,
    /// Only the FastComments scheme; Standard Webhooks headers are ignored.
    FastCommentsOnly,
}

/// What a [`Verifier`] shares between its clones.
#[derive(Clone)]
struct Settings {
    /// One keyed MAC per non-empty secret, with the secret's index in the list given.
    keys: Vec<(usize, HmacSha256)>,
    /// Allowed distance between the request's timestamp and the clock, both ways.
    tolerance_secs: u64,
    /// "Now".
    clock: Clock,
    /// Largest body the axum extractor reads.
    max_body_bytes: usize,
    /// Which schemes are checked.
    schemes: AcceptedSchemes,
    /// Where accepted Standard Webhooks messages are remembered, if anywhere.
    replay: Option<Arc<dyn ReplayStore>>,
}

/// Verifies webhook requests against a fixed set of secrets.
///
/// ```
/// use fastcomments_webhooks::{sign, Verifier};
/// let verifier = Verifier::new(["per-domain secret", "wildcard secret"])
///     .with_tolerance_secs(120)
///     .with_clock(|| 1763880000);
/// let body = br#"{"id":"abc"}"#;
/// let sig = sign(b"wildcard secret", 1763880000, body);
/// let headers = [
///     ("x-fastcomments-timestamp", sig.timestamp_header()),
///     ("x-fastcomments-signature", sig.signature_header()),
/// ];
/// assert_eq!(verifier.verify(&headers, body).unwrap().secret_index, 1);
/// ```
#[derive(Clone)]
pub struct Verifier {
    /// Shared so that a clone per request costs a reference count.
    settings: Arc<Settings>,
}

impl Verifier {
    /// A verifier accepting a signature by any of `secrets` (empty ones are skipped), with the
    /// default tolerance ([`DEFAULT_TOLERANCE_SECS`]), the system clock and the default body
    /// limit ([`DEFAULT_MAX_BODY_BYTES`]).
    pub fn new<I>(secrets: I) -> Verifier
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let keys = secrets
            .into_iter()
            .enumerate()
            .filter(|(_, s)| !s.as_ref().is_empty())
            .map(|(i, s)| (i, keyed_mac(s.as_ref())))
            .collect();
        Verifier {
            settings: Arc::new(Settings {
                keys,
                tolerance_secs: DEFAULT_TOLERANCE_SECS,
                clock: Arc::new(system_clock),
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                schemes: AcceptedSchemes::Either,
                replay: None,
            }),
        }
    }

    /// Sets how far, in seconds, a timestamp may be from the clock in either direction.
    pub fn with_tolerance_secs(mut self, tolerance_secs: u64) -> Verifier {
        Arc::make_mut(&mut self.settings).tolerance_secs = tolerance_secs;
        self
    }

    /// Replaces the clock (unix seconds), e.g. with a fixed instant in tests.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Verifier {
        Arc::make_mut(&mut self.settings).clock = Arc::new(clock);
        self
    }

    /// Sets the largest body, in bytes, the axum extractor reads (larger ones are answered 413).
    pub fn with_max_body_bytes(mut self, max_body_bytes: usize) -> Verifier {
        Arc::make_mut(&mut self.settings).max_body_bytes = max_body_bytes;
        self
    }

    /// Sets which signature schemes are accepted (default [`AcceptedSchemes::Either`]).
    pub fn with_schemes(mut self, schemes: AcceptedSchemes) -> Verifier {
        Arc::make_mut(&mut self.settings).schemes = schemes;
        self
    }

    /// Remembers accepted Standard Webhooks messages in `store` and refuses one seen again
    /// within the tolerance ([`VerifyError::Replayed`]); see [`crate::replay`].
    ///
    /// ```
    /// use fastcomments_webhooks::{MemoryReplayStore, MessageId, StandardSigner, Verifier, VerifyError, WebhookEventKind};
    /// let verifier = Verifier::new(["secret"])
    ///     .with_replay_store(MemoryReplayStore::new())
    ///     .with_clock(|| 1763880000);
    /// let id = MessageId::for_delivery(WebhookEventKind::Update, "d1").unwrap();
    /// let sig = StandardSigner::new(["secret"]).unwrap().sign(&id, 1763880000, b"{}");
    /// let headers = [
    ///     ("webhook-id", sig.id().as_str()),
    ///     ("webhook-timestamp", sig.timestamp_header()),
    ///     ("webhook-signature", sig.signature_header()),
    /// ];
    /// assert!(verifier.verify(&headers, b"{}").is_ok());
    /// assert_eq!(verifier.verify(&headers, b"{}"), Err(VerifyError::Replayed));
    /// ```
    pub fn with_replay_store(mut self, store: impl ReplayStore + 'static) -> Verifier {
        Arc::make_mut(&mut self.settings).replay = Some(Arc::new(store));
        self
    }

    /// The schemes accepted.
    pub fn schemes(&self) -> AcceptedSchemes {
        self.settings.schemes
    }

    /// The tolerance in force, seconds.
    pub fn tolerance_secs(&self) -> u64 {
        self.settings.tolerance_secs
    }

    /// The body limit of the axum extractor, bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.settings.max_body_bytes
    }

    /// How many (non-empty) secrets are configured.
    pub fn secret_count(&self) -> usize {
        self.settings.keys.len()
    }

    /// The clock's "now", unix seconds.
    pub fn now(&self) -> i64 {
        (self.settings.clock)()
    }

    /// Verifies a request as of the clock's "now": by Standard Webhooks when it carries any of
    /// that scheme's headers (see [`AcceptedSchemes`]), else by the FastComments scheme. See
    /// [`verify`](fn@crate::verify) and [`verify_standard`](crate::standard::verify_standard)
    /// for the checks; a replay store, if set, is asked last.
    pub fn verify<H: HeaderLookup + ?Sized>(
        &self,
        headers: &H,
        raw_body: &[u8],
    ) -> Result<Verified, VerifyError> {
        self.verify_at(headers, raw_body, self.now())
    }

    /// Verifies a request as of `now_unix_secs` instead of the clock.
    pub fn verify_at<H: HeaderLookup + ?Sized>(
        &self,
        headers: &H,
        raw_body: &[u8],
        now_unix_secs: i64,
    ) -> Result<Verified, VerifyError> {
        let settings = &*self.settings;
        if settings.keys.is_empty() {
            return Err(VerifyError::NoSecret);
        }
        let values = headers.webhook_headers();
        let standard = match settings.schemes {
            AcceptedSchemes::Either => {
                values.webhook_id.is_some()
                    || values.webhook_timestamp.is_some()
                    || values.webhook_signature.is_some()
            }
            AcceptedSchemes::StandardWebhooksOnly => true,
            AcceptedSchemes::FastCommentsOnly => false,
        };
        if standard {
            return self.verify_standard(&values, raw_body, now_unix_secs);
        }
        let signed = SignedHeaders::read(&values, now_unix_secs, settings.tolerance_secs)?;
        for (index, keyed) in &settings.keys {
            if signed.matches(keyed, raw_body) {
                return signed.verified(&values, *index);
            }
        }
        Err(VerifyError::SignatureMismatch)
    }

    /// The Standard Webhooks checks, then the replay store.
    fn verify_standard(
        &self,
        values: &WebhookHeaderValues<'_>,
        raw_body: &[u8],
        now: i64,
    ) -> Result<Verified, VerifyError> {
        let settings = &*self.settings;
        // Without any of the three headers (possible with `StandardWebhooksOnly`), this says
        // "missing webhook-id".
        let signed = StandardHeaders::read(values, now, settings.tolerance_secs)?;
        let index = settings
            .keys
            .iter()
            .find(|(_, keyed)| signed.matches(keyed, raw_body))
            .map(|(index, _)| *index)
            .ok_or(VerifyError::SignatureMismatch)?;
        let verified = signed.verified(values, index)?;
        if let Some(store) = &settings.replay {
            let keep_until = signed
                .timestamp()
                .saturating_add_unsigned(settings.tolerance_secs);
            if !store.first_sighting(signed.id(), signed.timestamp(), keep_until, now) {
                return Err(VerifyError::Replayed);
            }
        }
        Ok(verified)
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secret_count()),
            )
            .field("tolerance_secs", &self.settings.tolerance_secs)
            .field("max_body_bytes", &self.settings.max_body_bytes)
            .field("schemes", &self.settings.schemes)
            .field("replay_store", &self.settings.replay.is_some())
            .finish_non_exhaustive()
    }
}

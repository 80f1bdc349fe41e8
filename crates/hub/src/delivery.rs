//! The webhook dispatcher (SPEC §2.2): takes due deliveries from the outbox, signs and sends
//! them, logs every attempt and schedules retries.
//!
//! It is woken on commit (no polling delay) and also wakes when the earliest retry is due, so a
//! restart picks up whatever was queued before it. Deliveries of one comment go out one at a
//! time in change order: the outbox query only offers a delivery whose comment has no earlier
//! pending one, and a delivery stays pending in the store until its attempt is recorded.
//! A crash between sending and recording sends again after the restart: at-least-once, with
//! `X-FastComments-Delivery` as the receiver's idempotency key.

use crate::hub::Hub;
use crate::store::{AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus};
use fastcomments_protocol::{HttpMethod, WebhookEventKind};
use fastcomments_webhooks::headers;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Most response bytes kept in an attempt's log.
pub const RESPONSE_LOG_BYTES: usize = 4096;

/// Whether an address is private, loopback, link-local or otherwise not a public target.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_non_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// A DNS resolver that drops non-public addresses, so a public name that later resolves to a
/// private address (DNS rebinding) cannot reach the hub's network.
#[derive(Debug, Clone, Copy)]
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| !is_non_public(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!("{host} resolves only to private or local addresses").into());
            }
            let iter: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(iter)
        })
    }
}

/// The HTTP clients webhooks are sent with: one that refuses non-public targets, one that
/// allows them (the `localhost` domain, or when the operator allows it).
#[derive(Debug, Clone)]
pub struct Senders {
    public_only: reqwest::Client,
    any: reqwest::Client,
}

impl Senders {
    /// Builds both clients; redirects are not followed (a redirect could lead anywhere).
    pub fn new(timeout: Duration) -> Result<Senders, reqwest::Error> {
        let base = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(64)
                .user_agent(concat!("fastcomments-hub/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Senders {
            public_only: base().dns_resolver(Arc::new(PublicOnlyResolver)).build()?,
            any: base().build()?,
        })
    }
}

/// What is to be sent: the parts of a delivery an attempt needs.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// Delivery id (a test payload has its own).
    pub delivery_id: &'a str,
    /// Tenant (for the secret).
    pub tenant_id: &'a str,
    /// The comment's domain (picks the secret).
    pub domain: Option<&'a str>,
    /// The configuration's domain (`localhost` may target loopback).
    pub config_domain: &'a str,
    /// Where.
    pub url: &'a str,
    /// How.
    pub method: HttpMethod,
    /// Which event.
    pub kind: WebhookEventKind,
    /// Send the legacy `token` header.
    pub legacy_token: bool,
    /// The body bytes.
    pub body: &'a [u8],
    /// Attempt number, 1-based.
    pub attempt: i64,
}

/// How an attempt ended.
#[derive(Debug)]
pub enum Sent {
    /// An HTTP answer came (any status).
    Answered {
        /// The status code.
        status: u16,
        /// Its first 4 KiB.
        body: String,
    },
    /// No answer; worth retrying (network error, timeout).
    Transient(String),
    /// Never worth retrying as configured (no secret, refused target, bad URL).
    Fatal(String),
}

/// Makes one attempt: signs with a fresh timestamp and sends. Returns the outcome and the log.
pub async fn send_once(
    hub: &Hub,
    senders: &Senders,
    out: &Outgoing<'_>,
) -> (Sent, DeliveryAttempt) {
    let at = hub.now_ms();
    let started = Instant::now();
    let sent = send_inner(hub, senders, out).await;
    let (status_code, response_body, error) = match &sent {
        Sent::Answered { status, body } => (
            Some(i64::from(*status)),
            Some(body.clone()),
            (!(200..300).contains(status)).then(|| format!("http-{status}")),
        ),
        Sent::Transient(e) | Sent::Fatal(e) => (None, None, Some(e.clone())),
    };
    let attempt = DeliveryAttempt {
        delivery_id: out.delivery_id.to_owned(),
        attempt: out.attempt,
        at,
        url: out.url.to_owned(),
        method: out.method.as_str().to_owned(),
        status_code,
        response_body,
        duration_ms: started.elapsed().as_millis() as i64,
        error,
    };
    (sent, attempt)
}

async fn send_inner(hub: &Hub, senders: &Senders, out: &Outgoing<'_>) -> Sent {
    let secret = match hub.secret_for_domain(out.tenant_id, out.domain).await {
        Ok(Some(s)) => s,
        Ok(None) => return Sent::Fatal("no-api-secret".into()),
        Err(e) => return Sent::Transient(format!("store: {e}")),
    };
    let url = match reqwest::Url::parse(out.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        _ => return Sent::Fatal(format!("invalid-url: {}", out.url)),
    };
    let allow_private =
        hub.config.allow_private_webhook_targets || out.config_domain == "localhost";
    if !allow_private {
        if let Some(refusal) = refuse_target(&url).await {
            return Sent::Fatal(refusal);
        }
    }
    let client = if allow_private {
        &senders.any
    } else {
        &senders.public_only
    };
    let timestamp = hub.now_ms().div_euclid(1000);
    let signature = fastcomments_webhooks::sign(secret.secret.as_bytes(), timestamp, out.body);
    let method = match out.method {
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Delete => reqwest::Method::DELETE,
    };
    let mut request = client
        .request(method, url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(headers::TIMESTAMP, signature.timestamp_header())
        .header(headers::SIGNATURE, signature.signature_header())
        .header(headers::EVENT, out.kind.header_value())
        .header(headers::DELIVERY, out.delivery_id)
        .header(headers::ATTEMPT, out.attempt.to_string())
        .body(out.body.to_vec());
    if out.legacy_token {
        request = request.header(headers::LEGACY_TOKEN, secret.secret.as_str());
    }
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Sent::Transient(describe(&e)),
    };
    let status = response.status().as_u16();
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_LOG_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                kept.extend_from_slice(&chunk[..chunk.len().min(RESPONSE_LOG_BYTES - kept.len())])
            }
            Ok(None) | Err(_) => break,
        }
    }
    Sent::Answered {
        status,
        body: String::from_utf8_lossy(&kept).into_owned(),
    }
}

/// Refuses URLs whose host is, or resolves only to, non-public addresses.
async fn refuse_target(url: &reqwest::Url) -> Option<String> {
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if let Ok(ip) = host.parse::<IpAddr>() {
        return is_non_public(ip).then(|| format!("target-refused: {ip} is not a public address"));
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), port)).await {
        Ok(addrs) => addrs.collect(),
        Err(_) => return None,
    };
    (!addrs.is_empty() && addrs.iter().all(|a| is_non_public(a.ip())))
        .then(|| format!("target-refused: {host} resolves only to private or local addresses"))
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "request"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// What an attempt means for its delivery: done, failed for good, or retried after
/// `base × attempt` (SPEC §2.2).
pub fn outcome_of(
    hub: &Hub,
    delivery: &Delivery,
    sent: &Sent,
    attempt: DeliveryAttempt,
) -> AttemptOutcome {
    let max = if delivery.max_attempts > 0 {
        delivery.max_attempts
    } else {
        hub.config.webhook_max_attempts
    };
    let n = attempt.attempt;
    let now = hub.now_ms();
    let status = match sent {
        Sent::Answered { status, .. } if (200..300).contains(status) => DeliveryStatus::Succeeded,
        Sent::Fatal(_) => DeliveryStatus::Failed,
        _ if n >= max => DeliveryStatus::Failed,
        _ => DeliveryStatus::Retrying,
    };
    let delay = hub.config.webhook_retry_base.as_millis() as i64 * n.max(1);
    AttemptOutcome {
        attempt,
        status,
        next_attempt_at: if status == DeliveryStatus::Retrying {
            now + delay
        } else {
            now
        },
    }
}

/// Starts the dispatcher; it stops (after finishing what is in flight) when `stop` turns true.
pub fn spawn(hub: Arc<Hub>, senders: Senders, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(run(hub, senders, stop))
}

async fn run(hub: Arc<Hub>, senders: Senders, mut stop: watch::Receiver<bool>) {
    let concurrency = hub.config.webhook_concurrency.max(1);
    let mut in_flight: HashSet<String> = HashSet::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<AttemptOutcome>();
    let mut finished: Vec<AttemptOutcome> = Vec::new();
    let mut stopping = *stop.borrow();
    loop {
        while let Ok(o) = done_rx.try_recv() {
            finished.push(o);
        }
        if !finished.is_empty() {
            match hub.store.record_attempts(&finished, hub.now_ms()).await {
                Ok(()) => {
                    for o in finished.drain(..) {
                        in_flight.remove(&o.attempt.delivery_id);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "recording webhook attempts failed; will retry");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
        }
        if stopping {
            if in_flight.is_empty() {
                break;
            }
            if let Some(o) = done_rx.recv().await {
                finished.push(o);
            }
            continue;
        }
        let free = concurrency.saturating_sub(in_flight.len());
        // Claim in batches: a query per freed slot would re-read the outbox far too often.
        if free > 0 && (in_flight.is_empty() || free >= (concurrency / 4).max(1)) {
            let exclude: Vec<String> = in_flight.iter().cloned().collect();
            match hub
                .store
                .due_deliveries(hub.now_ms(), free as u64, &exclude)
                .await
            {
                Ok(due) => {
                    for d in due {
                        in_flight.insert(d.id.clone());
                        let hub = hub.clone();
                        let senders = senders.clone();
                        let done = done_tx.clone();
                        tokio::spawn(async move {
                            let out = Outgoing {
                                delivery_id: &d.id,
                                tenant_id: &d.tenant_id,
                                domain: d.domain.as_deref(),
                                config_domain: &d.config_domain,
                                url: &d.url,
                                method: d.method,
                                kind: d.kind,
                                legacy_token: d.legacy_token,
                                body: d.body.as_bytes(),
                                attempt: d.attempts + 1,
                            };
                            let (sent, attempt) = send_once(&hub, &senders, &out).await;
                            if let Sent::Fatal(reason) | Sent::Transient(reason) = &sent {
                                tracing::info!(delivery = %d.id, attempt = out.attempt, reason, "webhook attempt failed");
                            }
                            let _ = done.send(outcome_of(&hub, &d, &sent, attempt));
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reading due webhook deliveries failed"),
            }
        }
        // Sleep until woken by a commit, a finished attempt, the next retry, or the stop flag.
        let now = hub.now_ms();
        let wait = match hub.store.next_due_at(now).await {
            Ok(Some(at)) => Duration::from_millis(at.saturating_sub(now).max(1) as u64),
            _ => Duration::from_secs(1),
        }
        .min(Duration::from_secs(1));
        tokio::select! {
            _ = hub.webhook_wake.notified() => {}
            Some(o) = done_rx.recv() => finished.push(o),
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => stopping = *stop.borrow(),
        }
    }
    tracing::info!("webhook dispatcher stopped");
}

#[cfg(test)]
mod tests {
    use super::is_non_public;

    #[test]
    fn private_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_non_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_non_public(ip.parse().unwrap()), "{ip}");
        }
    }
}

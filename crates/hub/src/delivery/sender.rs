//! One signed HTTP attempt (SPEC §2.1): sign with a fresh timestamp, both ways (the
//! FastComments headers, and Standard Webhooks' `webhook-id` / `webhook-timestamp` /
//! `webhook-signature` with the kind in the signed id and one `v1,` entry per secret of the
//! comment's domain, so a rotation overlaps), send through the guarded connector, keep the
//! first 4 KiB of the answer.
//!
//! Header names go out exactly as SPEC §2.1 spells them (`X-FastComments-Timestamp`, `token`,
//! …): receivers built from the guide's PHP example look them up case-sensitively. HTTP/1
//! clients normally write names lower-case; hyper writes the original spelling of a name when
//! the request carries hyper's header-case map, a type hyper only builds itself while parsing a
//! message. So the map is learnt once per process by letting hyper's own parser read a request
//! head that names every header in the wanted spelling ([`header_case`]), and copied into each
//! request's extensions. Names missing from the map still go out lower-case, so a change in
//! hyper shows up as lower-case names, never as a broken request (the raw-bytes test in
//! `tests/it/suites/webhook_headers.rs` catches that).

use super::guard::{refusal_in, GuardedConnector};
use crate::hub::Hub;
use crate::ids::TenantId;
use crate::records::DeliveryAttempt;
use bytes::Bytes;
use fastcomments_protocol::{HttpMethod, WebhookEventKind};
use fastcomments_webhooks::standard::MAX_STANDARD_SIGNATURES;
use fastcomments_webhooks::{headers, MessageId, StandardSigner};
use http::{Extensions, Method, Request, Uri};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::time::{Duration, Instant};

/// Most response bytes kept in an attempt's log.
pub const RESPONSE_LOG_BYTES: usize = 4096;
/// Most response bytes read at all: a longer answer is cut and its connection not reused.
const RESPONSE_READ_BYTES: usize = 64 * 1024;

const USER_AGENT_VALUE: &str = concat!("fastcomments-hub/", env!("CARGO_PKG_VERSION"));

type HttpClient = Client<hyper_rustls::HttpsConnector<GuardedConnector>, Full<Bytes>>;

/// The HTTP clients webhooks are sent with: one that refuses non-public targets, and one that
/// allows them, used only when the operator set `webhook_allow_private_targets`. Each keeps its
/// connections alive per host; redirects are never followed (a redirect could lead anywhere).
#[derive(Debug, Clone)]
pub struct Senders {
    public_only: HttpClient,
    any: HttpClient,
    timeout: Duration,
}

impl Senders {
    /// Builds both clients; `timeout` bounds each attempt from connecting to the last byte read.
    pub fn new(timeout: Duration) -> Result<Senders, rustls::Error> {
        Ok(Senders {
            public_only: client(false, timeout)?,
            any: client(true, timeout)?,
            timeout,
        })
    }
}

fn client(allow_private: bool, timeout: Duration) -> Result<HttpClient, rustls::Error> {
    let tcp = GuardedConnector::new(allow_private, timeout.min(Duration::from_secs(5)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_max_idle_per_host(64)
        .http1_preserve_header_case(true)
        .build(https))
}

/// What is to be sent: the parts of a delivery an attempt needs.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// Delivery id, which its attempt is logged under (a test payload has its own).
    pub delivery_id: &'a str,
    /// The id the request carries (`X-FastComments-Delivery` and the signed `webhook-id`):
    /// the delivery's own, or for a recover's copy the copied one's, so a receiver that
    /// de-duplicates sees a copy. Both headers carry the same one: a receiver verifying
    /// Standard Webhooks refuses a `X-FastComments-Delivery` that contradicts the signed id.
    pub message_id: &'a str,
    /// Tenant (for the secret).
    pub tenant_id: &'a TenantId,
    /// The comment's domain (picks the secret).
    pub domain: Option<&'a str>,
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
    /// Sign with this secret instead of the tenant's (the deliberately forged request of a
    /// test payload, which checks that the receiver verifies).
    pub secret_override: Option<&'a str>,
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
        /// What its `Retry-After` asked for, on a 429 or 503 (see [`super::schedule`]).
        retry_after: Option<Duration>,
    },
    /// No answer; worth retrying (network error, timeout).
    Transient(String),
    /// Never worth retrying as configured (no secret, refused target, bad URL).
    Fatal(String),
}

impl Sent {
    /// A 2xx answer.
    pub fn is_success(&self) -> bool {
        matches!(self, Sent::Answered { status, .. } if (200..300).contains(status))
    }
}

/// How `/metrics` counts an attempt that ended so.
pub fn metric_outcome(sent: &Sent) -> crate::metrics::AttemptOutcome {
    use crate::metrics::AttemptOutcome as O;
    match sent {
        Sent::Answered { status, .. } => match status {
            200..=299 => O::Success,
            400..=499 => O::ClientError,
            500..=599 => O::ServerError,
            _ => O::Other,
        },
        Sent::Transient(e) | Sent::Fatal(e) => {
            if e.starts_with("timeout") {
                O::Timeout
            } else if e.starts_with("target-refused") || e.starts_with(CONNECTION_REFUSED) {
                O::Refused
            } else {
                O::Error
            }
        }
    }
}

/// Makes one attempt: signs with a fresh timestamp and sends. Returns the outcome and the log.
/// A refused target is never contacted, so its log has no status and no body.
pub async fn send_once(
    hub: &Hub,
    senders: &Senders,
    out: &Outgoing<'_>,
) -> (Sent, DeliveryAttempt) {
    attempt_once(hub, senders, out, None).await
}

/// [`send_once`], also giving the request's headers as sent (names in their spelling; the
/// legacy `token` header's value, the secret, replaced by [`LEGACY_TOKEN_SHOWN`]), for a test
/// payload's report. Empty when the request was never made (no secret, bad URL).
pub async fn send_once_showing(
    hub: &Hub,
    senders: &Senders,
    out: &Outgoing<'_>,
) -> (Sent, DeliveryAttempt, Vec<(String, String)>) {
    let mut shown = Vec::new();
    let (sent, attempt) = attempt_once(hub, senders, out, Some(&mut shown)).await;
    (sent, attempt, shown)
}

/// What a report shows for the legacy `token` header instead of the secret it carries.
pub const LEGACY_TOKEN_SHOWN: &str = "<the API secret, in clear: not shown>";

async fn attempt_once(
    hub: &Hub,
    senders: &Senders,
    out: &Outgoing<'_>,
    shown: Option<&mut Vec<(String, String)>>,
) -> (Sent, DeliveryAttempt) {
    let at = hub.now().0;
    let started = Instant::now();
    let sent = send_inner(hub, senders, out, shown).await;
    let (status_code, response_body, error) = match &sent {
        Sent::Answered { status, body, .. } => (
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

/// The target as a URI hyper can send to: `http` or `https` with a host. The WHATWG parse
/// first turns odd IPv4 spellings (`0x7f.1`, `2130706433`) into the address they mean.
fn target_uri(url: &str) -> Option<Uri> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return None;
    }
    parsed.as_str().parse().ok()
}

async fn send_inner(
    hub: &Hub,
    senders: &Senders,
    out: &Outgoing<'_>,
    shown: Option<&mut Vec<(String, String)>>,
) -> Sent {
    // The first secret signs the FastComments header; every one signs Standard Webhooks.
    let secrets: Vec<String> = match out.secret_override {
        Some(s) => vec![s.to_owned()],
        None => match hub.signing_secrets(out.tenant_id, out.domain).await {
            Ok(found) => found.into_iter().map(|s| s.secret).collect(),
            Err(e) => return Sent::Transient(format!("store: {e}")),
        },
    };
    let Some(secret) = secrets.first() else {
        return Sent::Fatal("no-api-secret".into());
    };
    // The kind goes into the signed `webhook-id` (`update_<delivery id>`): Standard Webhooks
    // signs only its own three headers and the body, and the body stays the `WebhookComment`
    // existing receivers parse (see `fastcomments_webhooks::standard`).
    let Ok(message_id) = MessageId::for_delivery(out.kind, out.message_id) else {
        return Sent::Fatal(format!("invalid-delivery-id: {}", out.message_id));
    };
    let signing: Vec<&[u8]> = secrets
        .iter()
        .take(MAX_STANDARD_SIGNATURES)
        .map(|s| s.as_bytes())
        .collect();
    let Some(standard) = StandardSigner::new(signing) else {
        return Sent::Fatal("no-api-secret".into());
    };
    let Some(uri) = target_uri(out.url) else {
        return Sent::Fatal(format!("invalid-url: {}", out.url));
    };
    let client = if hub.config.webhook_allow_private_targets {
        &senders.any
    } else {
        &senders.public_only
    };
    let timestamp = hub.now().0.div_euclid(1000);
    let signature = fastcomments_webhooks::sign(secret.as_bytes(), timestamp, out.body);
    let standard = standard.sign(&message_id, timestamp, out.body);
    let method = match out.method {
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
    };
    let attempt = out.attempt.to_string();
    // The headers in the order and spelling they go out (SPEC §2.1).
    let fixed: [(&'static str, &str); 10] = [
        ("Content-Type", "application/json"),
        ("User-Agent", USER_AGENT_VALUE),
        (headers::TIMESTAMP, signature.timestamp_header()),
        (headers::SIGNATURE, signature.signature_header()),
        (headers::EVENT, out.kind.header_value()),
        (headers::DELIVERY, out.message_id),
        (headers::ATTEMPT, &attempt),
        (headers::WEBHOOK_ID, standard.id().as_str()),
        (headers::WEBHOOK_TIMESTAMP, standard.timestamp_header()),
        (headers::WEBHOOK_SIGNATURE, standard.signature_header()),
    ];
    let legacy = out
        .legacy_token
        .then_some((headers::LEGACY_TOKEN, secret.as_str()));
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in fixed.iter().chain(legacy.iter()) {
        builder = builder.header(*name, *value);
    }
    if let Some(shown) = shown {
        // The legacy header is the secret itself: a page or a log never shows it.
        *shown = fixed
            .iter()
            .chain(legacy.map(|(n, _)| (n, LEGACY_TOKEN_SHOWN)).iter())
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
    }
    let mut request = match builder.body(Full::new(Bytes::copy_from_slice(out.body))) {
        Ok(r) => r,
        Err(e) => return Sent::Fatal(format!("invalid-request: {e}")),
    };
    if let Some(case) = header_case().await {
        request.extensions_mut().extend(case.clone());
    }
    // HTTP-dates in `Retry-After` are read against the hub's clock (tests move it).
    let now = std::time::UNIX_EPOCH + Duration::from_millis(hub.now().0.max(0) as u64);
    let exchange = async {
        let response = client.request(request).await?;
        let status = response.status().as_u16();
        let retry_after = matches!(status, 429 | 503)
            .then(|| response.headers().get(http::header::RETRY_AFTER))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| super::schedule::parse_retry_after(v, now));
        let mut body = response.into_body();
        let (mut kept, mut read) = (Vec::new(), 0usize);
        // Read to the end when it is short, so the connection can be reused.
        while read <= RESPONSE_READ_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        let room = RESPONSE_LOG_BYTES.saturating_sub(kept.len());
                        kept.extend_from_slice(&data[..data.len().min(room)]);
                        read += data.len();
                    }
                }
                Some(Err(_)) | None => break,
            }
        }
        Ok::<_, hyper_util::client::legacy::Error>(Sent::Answered {
            status,
            body: String::from_utf8_lossy(&kept).into_owned(),
            retry_after,
        })
    };
    match tokio::time::timeout(senders.timeout, exchange).await {
        Ok(Ok(sent)) => sent,
        Ok(Err(e)) => match refusal_in(&e) {
            Some(refused) => Sent::Fatal(refused.to_string()),
            None => Sent::Transient(describe(&e)),
        },
        Err(_) => Sent::Transient(format!(
            "timeout: no complete answer within {} ms",
            senders.timeout.as_millis()
        )),
    }
}

/// How the log of an attempt whose connection the receiver refused begins.
const CONNECTION_REFUSED: &str = "connect: refused";

fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let refused = {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        let mut found = false;
        while let Some(s) = source {
            found |= s
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
            source = s.source();
        }
        found
    };
    let mut text = if refused {
        CONNECTION_REFUSED.to_owned()
    } else if e.is_connect() {
        "connect".to_owned()
    } else {
        "request".to_owned()
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Request extensions that make hyper write the webhook headers in their documented spelling
/// (see the module doc); `None` if hyper could not be made to produce them.
async fn header_case() -> Option<&'static Extensions> {
    static CASE: tokio::sync::OnceCell<Option<Extensions>> = tokio::sync::OnceCell::const_new();
    CASE.get_or_init(|| async {
        match learn_header_case().await {
            Ok(ext) => Some(ext),
            Err(e) => {
                tracing::warn!(error = %e, "webhook header names will be sent lower-case");
                None
            }
        }
    })
    .await
    .as_ref()
}

/// Lets hyper's server parse a request head naming every header the hub sends, with
/// `preserve_header_case` on, and returns the extensions of the parsed request: they hold
/// hyper's map from each lower-case name to the spelling it was read in.
async fn learn_header_case() -> Result<Extensions, String> {
    use tokio::io::AsyncWriteExt;
    let mut head = String::from("POST / HTTP/1.1\r\n");
    for name in [
        "Host",
        "User-Agent",
        "Content-Type",
        "Content-Length",
        headers::TIMESTAMP,
        headers::SIGNATURE,
        headers::EVENT,
        headers::DELIVERY,
        headers::ATTEMPT,
        headers::LEGACY_TOKEN,
    ] {
        let value = if name == "Content-Length" { "0" } else { "x" };
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let (mut near, far) = tokio::io::duplex(4096);
    let (tx, rx) = tokio::sync::oneshot::channel::<Extensions>();
    let tx = parking_lot::Mutex::new(Some(tx));
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        if let Some(tx) = tx.lock().take() {
            let _ = tx.send(req.extensions().clone());
        }
        async { Ok::<_, std::convert::Infallible>(http::Response::new(Empty::<Bytes>::new())) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(far), service);
    let ask = async move {
        near.write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let learnt = rx.await.map_err(|e| e.to_string());
        drop(near); // ends the connection
        learnt
    };
    let (_, learnt) =
        tokio::time::timeout(Duration::from_secs(5), async { tokio::join!(conn, ask) })
            .await
            .map_err(|_| "hyper did not parse the header-case request".to_owned())?;
    learnt
}

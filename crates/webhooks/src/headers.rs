//! The HTTP headers of a comment webhook (SPEC §2.1) and [`HeaderLookup`], the one thing
//! verification needs from an HTTP stack: "give me the value of this header".
//!
//! The trait is implemented for [`http::HeaderMap`] (axum, hyper, reqwest) and for plain lists
//! of `(name, value)` pairs, so a receiver on any other stack can verify without converting its
//! request into `http` types. Header names are always compared case-insensitively.

use fastcomments_protocol::WebhookEventKind;
use http::header::{HeaderMap, HeaderName, HeaderValue, InvalidHeaderValue};

/// `X-FastComments-Timestamp`: unix **seconds** at which the request was signed.
pub const TIMESTAMP: &str = "X-FastComments-Timestamp";
/// `X-FastComments-Signature`: `sha256=<lowercase hex HMAC-SHA256(secret, timestamp + "." + body)>`.
pub const SIGNATURE: &str = "X-FastComments-Signature";
/// `X-FastComments-Event` (extension): `comment.created`, `comment.updated` or `comment.deleted`.
pub const EVENT: &str = "X-FastComments-Event";
/// `X-FastComments-Delivery` (extension): the delivery id, stable across retries, so receivers
/// can use it as an idempotency key.
pub const DELIVERY: &str = "X-FastComments-Delivery";
/// `X-FastComments-Attempt` (extension): the attempt number, 1 for the first try.
pub const ATTEMPT: &str = "X-FastComments-Attempt";
/// `token`: the API secret in clear. Sent only for webhooks explicitly marked legacy; never use
/// it to authenticate a request when the HMAC signature is available.
pub const LEGACY_TOKEN: &str = "token";
/// What the signature header value starts with.
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// One of the headers a webhook request carries.
///
/// [`HeaderLookup`] is asked by this enum rather than by a string so that lookups in an
/// [`http::HeaderMap`] use a ready [`HeaderName`] (no parsing of the name on every request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookHeader {
    /// [`TIMESTAMP`]
    Timestamp,
    /// [`SIGNATURE`]
    Signature,
    /// [`EVENT`]
    Event,
    /// [`DELIVERY`]
    Delivery,
    /// [`ATTEMPT`]
    Attempt,
    /// [`LEGACY_TOKEN`]
    LegacyToken,
}

// `HeaderName::from_static` is a `const fn`, so these are built at compile time.
const TIMESTAMP_NAME: HeaderName = HeaderName::from_static("x-fastcomments-timestamp");
const SIGNATURE_NAME: HeaderName = HeaderName::from_static("x-fastcomments-signature");
const EVENT_NAME: HeaderName = HeaderName::from_static("x-fastcomments-event");
const DELIVERY_NAME: HeaderName = HeaderName::from_static("x-fastcomments-delivery");
const ATTEMPT_NAME: HeaderName = HeaderName::from_static("x-fastcomments-attempt");
const LEGACY_TOKEN_NAME: HeaderName = HeaderName::from_static("token");

impl WebhookHeader {
    /// The name as the hub writes it, e.g. `X-FastComments-Timestamp`.
    pub const fn as_str(self) -> &'static str {
        match self {
            WebhookHeader::Timestamp => TIMESTAMP,
            WebhookHeader::Signature => SIGNATURE,
            WebhookHeader::Event => EVENT,
            WebhookHeader::Delivery => DELIVERY,
            WebhookHeader::Attempt => ATTEMPT,
            WebhookHeader::LegacyToken => LEGACY_TOKEN,
        }
    }

    /// The name as an [`http`] header name (lowercase, as HTTP/2 and `http` store it).
    pub fn header_name(self) -> HeaderName {
        match self {
            WebhookHeader::Timestamp => TIMESTAMP_NAME,
            WebhookHeader::Signature => SIGNATURE_NAME,
            WebhookHeader::Event => EVENT_NAME,
            WebhookHeader::Delivery => DELIVERY_NAME,
            WebhookHeader::Attempt => ATTEMPT_NAME,
            WebhookHeader::LegacyToken => LEGACY_TOKEN_NAME,
        }
    }
}

/// Read access to a request's headers.
///
/// Implement it for your HTTP stack's header type if it is neither an [`http::HeaderMap`] nor a
/// list of pairs: return the *first* value of the header named `name.as_str()`, comparing names
/// ASCII-case-insensitively, as raw bytes.
pub trait HeaderLookup {
    /// The first value of `name`, if the request has that header.
    fn header(&self, name: WebhookHeader) -> Option<&[u8]>;
}

impl HeaderLookup for HeaderMap {
    fn header(&self, name: WebhookHeader) -> Option<&[u8]> {
        self.get(name.header_name()).map(HeaderValue::as_bytes)
    }
}

fn find_pair<N: AsRef<str>, V: AsRef<[u8]>>(
    pairs: &[(N, V)],
    name: WebhookHeader,
) -> Option<&[u8]> {
    let wanted = name.as_str();
    pairs
        .iter()
        .find(|(n, _)| n.as_ref().eq_ignore_ascii_case(wanted))
        .map(|(_, v)| v.as_ref())
}

/// `(name, value)` pairs, e.g. `&[("X-FastComments-Timestamp", "1763880000"), …][..]`.
impl<N: AsRef<str>, V: AsRef<[u8]>> HeaderLookup for [(N, V)] {
    fn header(&self, name: WebhookHeader) -> Option<&[u8]> {
        find_pair(self, name)
    }
}

/// An array of `(name, value)` pairs.
impl<N: AsRef<str>, V: AsRef<[u8]>, const K: usize> HeaderLookup for [(N, V); K] {
    fn header(&self, name: WebhookHeader) -> Option<&[u8]> {
        find_pair(self, name)
    }
}

/// A vector of `(name, value)` pairs, e.g. headers collected from a CGI environment.
impl<N: AsRef<str>, V: AsRef<[u8]>> HeaderLookup for Vec<(N, V)> {
    fn header(&self, name: WebhookHeader) -> Option<&[u8]> {
        find_pair(self, name)
    }
}

impl<T: HeaderLookup + ?Sized> HeaderLookup for &T {
    fn header(&self, name: WebhookHeader) -> Option<&[u8]> {
        (**self).header(name)
    }
}

/// Adds the extension headers ([`EVENT`], [`DELIVERY`], [`ATTEMPT`]) to an outgoing request.
///
/// The signature headers come from [`Signature::insert_into`](crate::Signature::insert_into).
/// Fails only when `delivery_id` holds characters a header value may not (control characters).
pub fn insert_extensions(
    headers: &mut HeaderMap,
    event: WebhookEventKind,
    delivery_id: &str,
    attempt: u32,
) -> Result<(), InvalidHeaderValue> {
    headers.insert(EVENT_NAME, HeaderValue::from_static(event.header_value()));
    headers.insert(DELIVERY_NAME, HeaderValue::from_str(delivery_id)?);
    headers.insert(ATTEMPT_NAME, HeaderValue::from(attempt));
    Ok(())
}

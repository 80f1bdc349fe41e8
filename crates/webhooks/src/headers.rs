//! The HTTP headers of a comment webhook (SPEC §2.1, and the three of Standard Webhooks) and
//! [`HeaderLookup`], the one thing verification needs from an HTTP stack: "give me the value of
//! this header".
//!
//! The trait is implemented for [`http::HeaderMap`] (axum, hyper, reqwest) and for plain lists
//! of `(name, value)` pairs, so a receiver on any other stack can verify without converting its
//! request into `http` types. Header names are always compared case-insensitively.

use fastcomments_protocol::WebhookEventKind;
use http::header::{HeaderMap, HeaderName, HeaderValue, InvalidHeaderValue};

/// `X-FastComments-Timestamp`: unix **seconds** at which the request was signed.
pub const TIMESTAMP: &str = "X-FastComments-Timestamp";
/// `X-FastComments-Signature`: `sha256=<lowercase hex HMAC-SHA256(secret, ts + "." + body)>`.
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
/// The most `v1` signatures of one `webhook-signature` header that are checked (a rotation
/// needs two).
pub const MAX_STANDARD_SIGNATURES: usize = 8;
/// What the signature header value starts with.
pub const SIGNATURE_PREFIX: &str = "sha256=";
/// `webhook-id` (Standard Webhooks): the message id, signed. The hub makes it
/// `<kind>_<delivery id>` (see [`MessageId`](crate::MessageId)).
pub const WEBHOOK_ID: &str = "webhook-id";
/// `webhook-timestamp` (Standard Webhooks): unix seconds at which the request was signed.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// `webhook-signature` (Standard Webhooks): space-separated `v1,<base64 HMAC-SHA256 of
/// "id.timestamp.body">` entries, one per signing secret.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

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
    /// [`WEBHOOK_ID`]
    WebhookId,
    /// [`WEBHOOK_TIMESTAMP`]
    WebhookTimestamp,
    /// [`WEBHOOK_SIGNATURE`]
    WebhookSignature,
}

// `HeaderName::from_static` is a `const fn`, so these are built at compile time.
const TIMESTAMP_NAME: HeaderName = HeaderName::from_static("x-fastcomments-timestamp");
const SIGNATURE_NAME: HeaderName = HeaderName::from_static("x-fastcomments-signature");
const EVENT_NAME: HeaderName = HeaderName::from_static("x-fastcomments-event");
const DELIVERY_NAME: HeaderName = HeaderName::from_static("x-fastcomments-delivery");
const ATTEMPT_NAME: HeaderName = HeaderName::from_static("x-fastcomments-attempt");
const LEGACY_TOKEN_NAME: HeaderName = HeaderName::from_static("token");
const WEBHOOK_ID_NAME: HeaderName = HeaderName::from_static(WEBHOOK_ID);
const WEBHOOK_TIMESTAMP_NAME: HeaderName = HeaderName::from_static(WEBHOOK_TIMESTAMP);
const WEBHOOK_SIGNATURE_NAME: HeaderName = HeaderName::from_static(WEBHOOK_SIGNATURE);

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
            WebhookHeader::WebhookId => WEBHOOK_ID,
            WebhookHeader::WebhookTimestamp => WEBHOOK_TIMESTAMP,
            WebhookHeader::WebhookSignature => WEBHOOK_SIGNATURE,
        }
    }

    /// Which webhook header `name` is, ASCII-case-insensitively (`None` for any other header,
    /// and for [`LEGACY_TOKEN`], which verification never reads).
    ///
    /// Cheap enough to run on every header of a request: a length check rejects most other
    /// names before any byte is compared.
    pub fn classify(name: &[u8]) -> Option<WebhookHeader> {
        classify_with(name, <[u8]>::eq_ignore_ascii_case)
    }

    /// [`classify`](WebhookHeader::classify) for names known to be lowercase (as
    /// [`http::HeaderMap`] stores them): fixed-length byte compares, several times faster.
    pub fn classify_lowercase(name: &[u8]) -> Option<WebhookHeader> {
        // Fixed-size array compares compile to a few word compares, no `memcmp` call.
        fn is<const N: usize>(rest: &[u8], expected: &[u8; N]) -> bool {
            <&[u8; N]>::try_from(rest).is_ok_and(|r| r == expected)
        }
        // The Standard Webhooks names are 10 and 17 bytes long, ours 20 to 24.
        match name.len() {
            10 => return is(name, b"webhook-id").then_some(WebhookHeader::WebhookId),
            17 => {
                let (prefix, rest) = name.split_first_chunk::<8>()?;
                let header = match rest.first()? {
                    b't' if is(rest, b"timestamp") => WebhookHeader::WebhookTimestamp,
                    b's' if is(rest, b"signature") => WebhookHeader::WebhookSignature,
                    _ => return None,
                };
                return (prefix == b"webhook-").then_some(header);
            }
            _ => {}
        }
        let (prefix, rest) = name.split_first_chunk::<15>()?;
        let header = match rest.first()? {
            b't' if is(rest, b"timestamp") => WebhookHeader::Timestamp,
            b's' if is(rest, b"signature") => WebhookHeader::Signature,
            b'e' if is(rest, b"event") => WebhookHeader::Event,
            b'd' if is(rest, b"delivery") => WebhookHeader::Delivery,
            b'a' if is(rest, b"attempt") => WebhookHeader::Attempt,
            _ => return None,
        };
        (prefix == b"x-fastcomments-").then_some(header)
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
            WebhookHeader::WebhookId => WEBHOOK_ID_NAME,
            WebhookHeader::WebhookTimestamp => WEBHOOK_TIMESTAMP_NAME,
            WebhookHeader::WebhookSignature => WEBHOOK_SIGNATURE_NAME,
        }
    }
}

/// The values of the webhook headers of one request, read in one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookHeaderValues<'a> {
    /// [`TIMESTAMP`]
    pub timestamp: Option<&'a [u8]>,
    /// [`SIGNATURE`]
    pub signature: Option<&'a [u8]>,
    /// [`EVENT`]
    pub event: Option<&'a [u8]>,
    /// [`DELIVERY`]
    pub delivery: Option<&'a [u8]>,
    /// [`ATTEMPT`]
    pub attempt: Option<&'a [u8]>,
    /// [`WEBHOOK_ID`]
    pub webhook_id: Option<&'a [u8]>,
    /// [`WEBHOOK_TIMESTAMP`]
    pub webhook_timestamp: Option<&'a [u8]>,
    /// [`WEBHOOK_SIGNATURE`]
    pub webhook_signature: Option<&'a [u8]>,
}

impl<'a> WebhookHeaderValues<'a> {
    /// Keeps `value` for `name` unless that header already had a value (the first one counts).
    /// Returns whether it was kept.
    fn offer(&mut self, name: WebhookHeader, value: &'a [u8]) -> bool {
        let slot = match name {
            WebhookHeader::Timestamp => &mut self.timestamp,
            WebhookHeader::Signature => &mut self.signature,
            WebhookHeader::Event => &mut self.event,
            WebhookHeader::Delivery => &mut self.delivery,
            WebhookHeader::Attempt => &mut self.attempt,
            WebhookHeader::WebhookId => &mut self.webhook_id,
            WebhookHeader::WebhookTimestamp => &mut self.webhook_timestamp,
            WebhookHeader::WebhookSignature => &mut self.webhook_signature,
            WebhookHeader::LegacyToken => return false,
        };
        let fresh = slot.is_none();
        if fresh {
            *slot = Some(value);
        }
        fresh
    }

    /// Collects the webhook headers from `(name, value)` pairs in one pass, names compared
    /// ASCII-case-insensitively.
    pub fn scan<I>(pairs: I) -> WebhookHeaderValues<'a>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
    {
        Self::scan_with(pairs, WebhookHeader::classify)
    }

    /// [`scan`](WebhookHeaderValues::scan) for pairs whose names are known to be lowercase.
    pub fn scan_lowercase<I>(pairs: I) -> WebhookHeaderValues<'a>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
    {
        Self::scan_with(pairs, WebhookHeader::classify_lowercase)
    }

    #[inline(always)]
    fn scan_with<I, C>(pairs: I, classify: C) -> WebhookHeaderValues<'a>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
        C: Fn(&[u8]) -> Option<WebhookHeader>,
    {
        let mut values = WebhookHeaderValues::default();
        let mut missing = 8;
        for (name, value) in pairs {
            if let Some(header) = classify(name) {
                missing -= usize::from(values.offer(header, value));
                if missing == 0 {
                    break; // all eight found: the rest of the request's headers cannot matter
                }
            }
        }
        values
    }
}

/// The body of [`WebhookHeader::classify`]: a length check first, then case-insensitive
/// compares.
fn classify_with(name: &[u8], eq: impl Fn(&[u8], &[u8]) -> bool) -> Option<WebhookHeader> {
    const PREFIX: &[u8] = b"x-fastcomments-";
    match name.len() {
        10 => return eq(name, b"webhook-id").then_some(WebhookHeader::WebhookId),
        17 if eq(name, b"webhook-timestamp") => return Some(WebhookHeader::WebhookTimestamp),
        17 if eq(name, b"webhook-signature") => return Some(WebhookHeader::WebhookSignature),
        _ => {}
    }
    if name.len() < PREFIX.len() + 5 || name.len() > PREFIX.len() + 9 {
        return None;
    }
    let (prefix, rest) = name.split_at(PREFIX.len());
    let (candidate, lowercase_suffix): (WebhookHeader, &[u8]) = match rest.len() {
        9 if eq(&rest[..1], b"t") => (WebhookHeader::Timestamp, b"timestamp"),
        9 => (WebhookHeader::Signature, b"signature"),
        5 => (WebhookHeader::Event, b"event"),
        8 => (WebhookHeader::Delivery, b"delivery"),
        7 => (WebhookHeader::Attempt, b"attempt"),
        _ => return None,
    };
    (eq(rest, lowercase_suffix) && eq(prefix, PREFIX)).then_some(candidate)
}

/// Read access to a request's headers.
///
/// Implement it for your HTTP stack's header type if it is neither an [`http::HeaderMap`] nor a
/// list of pairs: [`header`](HeaderLookup::header) returns the *first* value of the header named
/// `name.as_str()`, comparing names ASCII-case-insensitively, as raw bytes.
pub trait HeaderLookup {
    /// The first value of `name`, if the request has that header.
    fn header(&self, name: WebhookHeader) -> Option<&[u8]>;

    /// All webhook headers at once. The default asks [`header`](HeaderLookup::header) for each;
    /// the implementations of this crate read them in a single pass over the headers instead.
    fn webhook_headers(&self) -> WebhookHeaderValues<'_> {
        WebhookHeaderValues {
            timestamp: self.header(WebhookHeader::Timestamp),
            signature: self.header(WebhookHeader::Signature),
            event: self.header(WebhookHeader::Event),
            delivery: self.header(WebhookHeader::Delivery),
            attempt: self.header(WebhookHeader::Attempt),
            webhook_id: self.header(WebhookHeader::WebhookId),
            webhook_timestamp: self.header(WebhookHeader::WebhookTimestamp),
            webhook_signature: self.header(WebhookHeader::WebhookSignature),
        }
    }
}

impl HeaderLookup for HeaderMap {
    fn header(&self, name: WebhookHeader) -> Option<&[u8]> {
        self.get(name.header_name()).map(HeaderValue::as_bytes)
    }

    /// One walk over the map instead of eight hashed lookups: a request has few headers, and
    /// hashing each long `x-fastcomments-…` name costs more than rejecting the other names by
    /// length. `http` stores names lowercase, so plain byte compares suffice.
    fn webhook_headers(&self) -> WebhookHeaderValues<'_> {
        WebhookHeaderValues::scan_lowercase(
            self.iter()
                .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes())),
        )
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

fn scan_pairs<N: AsRef<str>, V: AsRef<[u8]>>(pairs: &[(N, V)]) -> WebhookHeaderValues<'_> {
    WebhookHeaderValues::scan(
        pairs
            .iter()
            .map(|(n, v)| (n.as_ref().as_bytes(), v.as_ref())),
    )
}

/// `(name, value)` pairs, e.g. `&[("X-FastComments-Timestamp", "1763880000"), …][..]`.
impl<N: AsRef<str>, V: AsRef<[u8]>> HeaderLookup for [(N, V)] {
    fn header(&self, name: WebhookHeader) -> Option<&[u8]> {
        find_pair(self, name)
    }

    fn webhook_headers(&self) -> WebhookHeaderValues<'_> {
        scan_pairs(self)
    }
}

/// An array of `(name, value)` pairs.
impl<N: AsRef<str>, V: AsRef<[u8]>, const K: usize> HeaderLookup for [(N, V); K] {
    fn header(&self, name: WebhookHeader) -> Option<&[u8]> {
        find_pair(self, name)
    }

    fn webhook_headers(&self) -> WebhookHeaderValues<'_> {
        scan_pairs(self)
    }
}

/// A vector of `(name, value)` pairs, e.g. headers collected from a CGI environment.
impl<N: AsRef<str>, V: AsRef<[u8]>> HeaderLookup for Vec<(N, V)> {
    fn header(&self, name: WebhookHeader) -> Option<&[u8]> {
        find_pair(self, name)
    }

    fn webhook_headers(&self) -> WebhookHeaderValues<'_> {
        scan_pairs(self)
    }
}

impl<T: HeaderLookup + ?Sized> HeaderLookup for &T {
    fn header(&self, name: WebhookHeader) -> Option<&[u8]> {
        (**self).header(name)
    }

    fn webhook_headers(&self) -> WebhookHeaderValues<'_> {
        (**self).webhook_headers()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_names() {
        use WebhookHeader::*;
        for header in [
            Timestamp,
            Signature,
            Event,
            Delivery,
            Attempt,
            WebhookId,
            WebhookTimestamp,
            WebhookSignature,
        ] {
            let name = header.as_str();
            assert_eq!(WebhookHeader::classify(name.as_bytes()), Some(header));
            let lower = name.to_ascii_lowercase();
            assert_eq!(WebhookHeader::classify(lower.as_bytes()), Some(header));
            let upper = name.to_ascii_uppercase();
            assert_eq!(WebhookHeader::classify(upper.as_bytes()), Some(header));
            assert_eq!(
                WebhookHeader::classify_lowercase(lower.as_bytes()),
                Some(header)
            );
            // Only names in lowercase are recognised by the lowercase classifier.
            assert_eq!(WebhookHeader::classify_lowercase(upper.as_bytes()), None);
            assert_eq!(header.header_name().as_str(), lower);
        }
        for other in [
            "token",
            "content-type",
            "x-fastcomments-",
            "x-fastcomments-times",
            "x-fastcomments-timestampx",
            "x-fastcomments-tignature",
            "x-fastcomments-sxgnature",
            "x-fastcomment-timestamp",
            "y-fastcomments-event",
            "x-fastcomments-evenT2",
            "x-fastcomments-deliverx",
            "x-fastcomments-attempts",
            "x-fastcomments-époque",
            "webhook-i",
            "webhook-idx",
            "webhook_id",
            "xebhook-id",
            "webhook-timestamq",
            "webhook-signaturf",
            "webhook-tignature",
            "webhookxtimestamp",
            "svix-id",
        ] {
            assert_eq!(WebhookHeader::classify(other.as_bytes()), None, "{other}");
            assert_eq!(
                WebhookHeader::classify_lowercase(other.as_bytes()),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn scan_keeps_the_first_value() {
        let pairs = [
            ("Host", "example.bg"),
            ("X-FastComments-Event", "comment.created"),
            ("x-fastcomments-event", "comment.deleted"),
            ("X-FASTCOMMENTS-ATTEMPT", "4"),
        ];
        let values = pairs.webhook_headers();
        assert_eq!(values.event, Some(&b"comment.created"[..]));
        assert_eq!(values.attempt, Some(&b"4"[..]));
        assert_eq!(values.timestamp, None);
        let mut map = HeaderMap::new();
        map.append(
            "x-fastcomments-event",
            HeaderValue::from_static("comment.created"),
        );
        map.append(
            "x-fastcomments-event",
            HeaderValue::from_static("comment.deleted"),
        );
        assert_eq!(map.webhook_headers().event, Some(&b"comment.created"[..]));
        assert_eq!(
            map.header(WebhookHeader::Event),
            Some(&b"comment.created"[..])
        );
    }
}

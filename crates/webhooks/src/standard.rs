//! Standard Webhooks (<https://www.standardwebhooks.com>, spec 1.0.0), symmetric `v1`
//! signatures: both sides of `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, id "." timestamp "." body)>`.
//!
//! # Where the event kind is signed
//!
//! The body stays the FastComments `WebhookComment` (existing receivers parse it), so the kind
//! cannot live in a body envelope; and the scheme signs no header but its own three, so a signed
//! `webhook-event` header would be ours alone and every other Standard Webhooks library would
//! ignore it. The hub therefore writes the kind into the signed id: `webhook-id` is
//! `<kind>_<delivery id>`, e.g. `update_6741a2b3c4d5e6f708192a3b` ([`MessageId::for_delivery`]),
//! with `<kind>` one of `create`, `update`, `delete`. Any Standard Webhooks library verifies it
//! unchanged; a receiver then reads the kind and the delivery id from the verified id
//! ([`MessageId::event`], or `Verified::event` from this crate), and this crate refuses a request
//! whose unsigned `X-FastComments-Event` / `X-FastComments-Delivery` contradict it, and a
//! `DELETE` that is signed as another kind (`Verified::check_method`).
//!
//! # Receiving
//!
//! - Entries of the signature list are separated by spaces; entries of a version other than
//!   `v1` (such as the asymmetric `v1a`) are skipped, as the spec says. At most
//!   [`MAX_STANDARD_SIGNATURES`] `v1` entries are checked; a `v1` entry without the length of
//!   the base64 of 32 bytes (43 characters and `=`) cannot match and is skipped too.
//! - For each secret the computed MAC is base64-encoded once, in standard padded form, into a
//!   stack buffer and compared with every entry in constant time (as six words). Only the
//!   canonical encoding of the right MAC matches, so an entry that is not base64 at all, or
//!   spells the bytes with non-zero trailing bits, is simply a mismatch; encoding one MAC is
//!   cheaper than decoding every entry. The expected value is never stored or reported.
//! - An id holding a `.` is refused: the spec forbids it, because `a.1.2.{…}` could then be
//!   read as another id, timestamp and body under the same MAC.

use crate::delivery::DeliveryId;
use crate::error::{StandardSignatureError, VerifyError};
use crate::headers::{HeaderLookup, WebhookHeader, WebhookHeaderValues};
use crate::sign::{ascii, keyed_mac, write_decimal, HmacSha256, MAX_TIMESTAMP_LEN};
use crate::verify::{
    check_freshness, event_kind, parse_attempt, parse_timestamp, text, trim_ows, verify_with,
    Scheme, SignedParts, Verified,
};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use fastcomments_protocol::WebhookEventKind;
use hmac::Mac;
use http::header::{HeaderMap, HeaderValue};
use subtle::{Choice, ConstantTimeEq};

pub use crate::headers::MAX_STANDARD_SIGNATURES;
/// The longest `webhook-id` accepted, bytes.
pub const MAX_WEBHOOK_ID_LEN: usize = 256;
/// The version tag of symmetric (HMAC-SHA256) signatures.
pub const SIGNATURE_VERSION: &str = "v1";
/// Length of the base64 of 32 bytes, padding included.
const TAG_BASE64_LEN: usize = 44;

/// Whether `id` may be a `webhook-id`: 1 to [`MAX_WEBHOOK_ID_LEN`] visible ASCII characters
/// other than `.`.
fn valid_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_WEBHOOK_ID_LEN
        && id.iter().all(|b| b.is_ascii_graphic() && *b != b'.')
}

/// The kind named by an id's `<kind>_` prefix, and the rest (the delivery id); the whole id
/// and `None` when it has no such prefix.
fn split_id(id: &str) -> (Option<WebhookEventKind>, &str) {
    if let Some((head, rest)) = id.split_once('_') {
        if let Some(kind) = WebhookEventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == head)
        {
            if !rest.is_empty() {
                return (Some(kind), rest);
            }
        }
    }
    (None, id)
}

/// A `webhook-id` value: 1 to 256 visible ASCII characters, no `.`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MessageId(Box<str>);

/// Why a text cannot be a `webhook-id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a webhook-id is 1 to 256 visible ASCII characters other than '.'")]
pub struct InvalidMessageId;

impl MessageId {
    /// The id the hub sends for one delivery: `<kind>_<delivery id>` (`create_…`, `update_…`,
    /// `delete_…`), so the signature covers the kind. Stable across the delivery's retries.
    ///
    /// ```
    /// use fastcomments_webhooks::{MessageId, WebhookEventKind};
    /// let id = MessageId::for_delivery(WebhookEventKind::Update, "6741a2b3c4d5e6f708192a3b").unwrap();
    /// assert_eq!(id.as_str(), "update_6741a2b3c4d5e6f708192a3b");
    /// assert_eq!(id.event(), Some(WebhookEventKind::Update));
    /// assert_eq!(id.delivery_id(), "6741a2b3c4d5e6f708192a3b");
    /// ```
    pub fn for_delivery(
        kind: WebhookEventKind,
        delivery_id: &str,
    ) -> Result<MessageId, InvalidMessageId> {
        if delivery_id.is_empty() {
            return Err(InvalidMessageId);
        }
        MessageId::new(&format!("{}_{delivery_id}", kind.as_str()))
    }

    /// Any valid id (for senders other than the hub, and tests).
    pub fn new(id: &str) -> Result<MessageId, InvalidMessageId> {
        if valid_id(id.as_bytes()) {
            Ok(MessageId(id.into()))
        } else {
            Err(InvalidMessageId)
        }
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The event kind the id names, if it starts with `create_`, `update_` or `delete_`.
    pub fn event(&self) -> Option<WebhookEventKind> {
        split_id(&self.0).0
    }

    /// The delivery id: what follows the kind, or the whole id if it names no kind.
    pub fn delivery_id(&self) -> &str {
        split_id(&self.0).1
    }
}

impl std::fmt::Debug for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Feeds `id "." timestamp "." body` to a keyed MAC.
#[inline]
fn feed(mac: &mut HmacSha256, id: &[u8], timestamp: &[u8], body: &[u8]) {
    // The short head in one stack buffer: one update fewer, no heap.
    let mut head = [0u8; 96];
    let len = id.len() + timestamp.len() + 2;
    match head.get_mut(..len) {
        Some(slot) => {
            slot[..id.len()].copy_from_slice(id);
            slot[id.len()] = b'.';
            slot[id.len() + 1..len - 1].copy_from_slice(timestamp);
            slot[len - 1] = b'.';
            mac.update(slot);
        }
        None => {
            mac.update(id);
            mac.update(b".");
            mac.update(timestamp);
            mac.update(b".");
        }
    }
    mac.update(body);
}

/// The three Standard Webhooks header values of one request, signed with one or several keys.
#[derive(Clone, PartialEq, Eq)]
pub struct StandardSignature {
    /// `webhook-id`.
    id: MessageId,
    /// The signed instant, unix seconds.
    timestamp: i64,
    /// `timestamp` in decimal, in `timestamp_buf[..timestamp_len]`.
    timestamp_buf: [u8; MAX_TIMESTAMP_LEN],
    /// How many bytes of `timestamp_buf` are used.
    timestamp_len: usize,
    /// `v1,<base64>` entries separated by spaces, in the order of the signer's keys.
    signature: String,
}

impl StandardSignature {
    /// The `webhook-id` value.
    pub fn id(&self) -> &MessageId {
        &self.id
    }

    /// The signed instant, unix seconds.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The `webhook-timestamp` value: the timestamp in decimal.
    pub fn timestamp_header(&self) -> &str {
        ascii(&self.timestamp_buf[..self.timestamp_len])
    }

    /// The `webhook-signature` value: one `v1,<base64>` per key, separated by spaces.
    pub fn signature_header(&self) -> &str {
        &self.signature
    }

    /// Sets `webhook-id`, `webhook-timestamp` and `webhook-signature` on an outgoing request,
    /// replacing earlier values (a retry re-signs with a fresh timestamp).
    pub fn insert_into(&self, headers: &mut HeaderMap) {
        // Visible ASCII, digits, and base64 with `v1,` and spaces: always valid header values.
        if let Ok(id) = HeaderValue::from_str(self.id.as_str()) {
            headers.insert(WebhookHeader::WebhookId.header_name(), id);
        }
        headers.insert(
            WebhookHeader::WebhookTimestamp.header_name(),
            HeaderValue::from(self.timestamp),
        );
        if let Ok(signature) = HeaderValue::from_str(&self.signature) {
            headers.insert(WebhookHeader::WebhookSignature.header_name(), signature);
        }
    }
}

impl std::fmt::Debug for StandardSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandardSignature")
            .field("id", &self.id)
            .field("timestamp", &self.timestamp_header())
            .field("signature", &self.signature)
            .finish()
    }
}

/// Signs Standard Webhooks messages with one or several keys, each keyed once.
///
/// While a secret is being retired the hub signs with the old and the new one: the header then
/// holds two `v1,` entries, and a receiver configured with either verifies.
///
/// ```
/// use fastcomments_webhooks::{MessageId, StandardSigner, Verifier, WebhookEventKind};
/// let signer = StandardSigner::new(["old api secret", "new api secret"]).unwrap();
/// let id = MessageId::for_delivery(WebhookEventKind::Create, "dlv1").unwrap();
/// let body = br#"{"id":"c1"}"#;
/// let sig = signer.sign(&id, 1763880000, body);
/// assert_eq!(sig.signature_header().matches("v1,").count(), 2);
///
/// let headers = [
///     ("webhook-id", sig.id().as_str()),
///     ("webhook-timestamp", sig.timestamp_header()),
///     ("webhook-signature", sig.signature_header()),
/// ];
/// let receiver = Verifier::new(["new api secret"]).with_clock(|| 1763880000);
/// let verified = receiver.verify(&headers, body).unwrap();
/// assert_eq!(verified.signed_event(), Some(WebhookEventKind::Create));
/// assert_eq!(verified.signed_delivery_id(), Some("dlv1"));
/// ```
#[derive(Clone)]
pub struct StandardSigner {
    /// One keyed MAC per non-empty secret, in the order given.
    keys: Vec<HmacSha256>,
}

impl StandardSigner {
    /// A signer for every non-empty secret of `secrets` (raw key bytes: an API secret's text,
    /// or a [`Secret`](crate::Secret)), or `None` when there is none.
    pub fn new<I>(secrets: I) -> Option<StandardSigner>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let keys: Vec<_> = secrets
            .into_iter()
            .filter(|s| !s.as_ref().is_empty())
            .map(|s| keyed_mac(s.as_ref()))
            .collect();
        (!keys.is_empty()).then_some(StandardSigner { keys })
    }

    /// How many keys sign (the number of `v1,` entries of each signature).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Signs `body` (the exact bytes that will be sent) as message `id` at `timestamp`.
    pub fn sign(&self, id: &MessageId, timestamp: i64, body: &[u8]) -> StandardSignature {
        let mut timestamp_buf = [0u8; MAX_TIMESTAMP_LEN];
        let timestamp_len = write_decimal(timestamp, &mut timestamp_buf);
        let mut signature = String::with_capacity(self.keys.len() * (TAG_BASE64_LEN + 4));
        for keyed in &self.keys {
            let mut mac = keyed.clone();
            feed(
                &mut mac,
                id.as_str().as_bytes(),
                &timestamp_buf[..timestamp_len],
                body,
            );
            if !signature.is_empty() {
                signature.push(' ');
            }
            signature.push_str(SIGNATURE_VERSION);
            signature.push(',');
            BASE64.encode_string(mac.finalize().into_bytes(), &mut signature);
        }
        StandardSignature {
            id: id.clone(),
            timestamp,
            timestamp_buf,
            timestamp_len,
            signature,
        }
    }
}

impl std::fmt::Debug for StandardSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StandardSigner {{ keys: [{} redacted] }}",
            self.keys.len()
        )
    }
}

/// Signs a Standard Webhooks message with every non-empty secret of `secrets`; `None` when
/// there is none. To sign many messages, a [`StandardSigner`] keys the secrets once.
pub fn sign_standard<S: AsRef<[u8]>>(
    secrets: &[S],
    id: &MessageId,
    timestamp: i64,
    body: &[u8],
) -> Option<StandardSignature> {
    StandardSigner::new(secrets).map(|signer| signer.sign(id, timestamp, body))
}

/// Whether a `v1` value has the shape of the base64 of 32 bytes: 43 characters, then `=`.
#[inline]
fn tag_shaped(text: &[u8]) -> bool {
    text.len() == TAG_BASE64_LEN && text[43] == b'=' && text[42] != b'='
}

/// 44 base64 characters as six words (the last one half zeros), the same way for both sides
/// of a compare.
#[inline]
fn tag_words(text: &[u8]) -> [u64; 6] {
    let mut buf = [0u8; 48];
    buf[..TAG_BASE64_LEN].copy_from_slice(&text[..TAG_BASE64_LEN]);
    let mut words = [0u64; 6];
    for (i, word) in words.iter_mut().enumerate() {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(&buf[i * 8..i * 8 + 8]);
        *word = u64::from_ne_bytes(eight);
    }
    words
}

/// The entries of a `webhook-signature` value, separated by runs of spaces or tabs.
///
/// A `v1,` entry of the usual length is taken whole when a separator (or the end) follows it,
/// without looking at its 44 characters one by one: a byte-by-byte split of a two-entry header
/// was a third of the header parsing. Such a 47-byte window can only swallow pieces shorter
/// than a real entry (one with a separator inside, which is then a harmless non-matching
/// candidate): a well-formed entry is 47 bytes without separators, so no window that ends at
/// a separator can overlap it without being it.
struct Entries<'h>(&'h [u8]);

impl<'h> Iterator for Entries<'h> {
    type Item = &'h [u8];

    #[inline]
    fn next(&mut self) -> Option<&'h [u8]> {
        let is_sep = |b: &u8| *b == b' ' || *b == b'\t';
        let start = self.0.iter().position(|b| !is_sep(b))?;
        let rest = &self.0[start..];
        const V1_LEN: usize = 3 + TAG_BASE64_LEN;
        let len = if rest.len() >= V1_LEN
            && rest.starts_with(b"v1,")
            && rest.get(V1_LEN).is_none_or(is_sep)
        {
            V1_LEN
        } else {
            rest.iter().position(is_sep).unwrap_or(rest.len())
        };
        let (entry, tail) = rest.split_at(len);
        self.0 = tail;
        Some(entry)
    }
}

/// The signed parts of a Standard Webhooks request, read and checked before any MAC.
pub(crate) struct StandardHeaders<'h> {
    /// `webhook-id`, trimmed: the MAC covers these bytes.
    id: &'h str,
    /// `webhook-timestamp` exactly as received (trimmed).
    timestamp_text: &'h [u8],
    /// Its value.
    timestamp: i64,
    /// The `v1` values of the right shape, `tags[..count]` (44 base64 characters each).
    tags: [&'h [u8]; MAX_STANDARD_SIGNATURES],
    /// How many of `tags` are used (at least 1).
    count: usize,
}

impl<'h> StandardHeaders<'h> {
    /// The message id, as signed.
    pub(crate) fn id(&self) -> &'h str {
        self.id
    }

    /// The signed instant.
    pub(crate) fn timestamp(&self) -> i64 {
        self.timestamp
    }
}

impl<'h> SignedParts<'h> for StandardHeaders<'h> {
    fn read(
        values: &WebhookHeaderValues<'h>,
        now: i64,
        tolerance_secs: u64,
    ) -> Result<StandardHeaders<'h>, VerifyError> {
        let missing = VerifyError::MissingStandardHeader;
        let id = values
            .webhook_id
            .map(trim_ows)
            .ok_or(missing(WebhookHeader::WebhookId))?;
        let timestamp_text = values
            .webhook_timestamp
            .map(trim_ows)
            .ok_or(missing(WebhookHeader::WebhookTimestamp))?;
        let signature = values
            .webhook_signature
            .map(trim_ows)
            .ok_or(missing(WebhookHeader::WebhookSignature))?;
        if !valid_id(id) {
            return Err(VerifyError::MalformedWebhookId);
        }
        // Visible ASCII only, so always UTF-8.
        let id = std::str::from_utf8(id).map_err(|_| VerifyError::MalformedWebhookId)?;
        let timestamp =
            parse_timestamp(timestamp_text).map_err(|_| VerifyError::MalformedWebhookTimestamp)?;
        let mut tags: [&[u8]; MAX_STANDARD_SIGNATURES] = [&[]; MAX_STANDARD_SIGNATURES];
        let mut count = 0;
        let mut saw_v1 = false;
        for entry in Entries(signature) {
            let Some(value) = entry.strip_prefix(b"v1,") else {
                continue; // another version (`v1a`, `v2`, …): not ours to check
            };
            saw_v1 = true;
            if tag_shaped(value) {
                let slot = tags
                    .get_mut(count)
                    .ok_or(VerifyError::MalformedWebhookSignature(
                        StandardSignatureError::TooMany,
                    ))?;
                *slot = value;
                count += 1;
            }
        }
        if count == 0 {
            return Err(VerifyError::MalformedWebhookSignature(if saw_v1 {
                StandardSignatureError::NotBase64
            } else {
                StandardSignatureError::NoV1Signature
            }));
        }
        check_freshness(timestamp, now, tolerance_secs)?;
        Ok(StandardHeaders {
            id,
            timestamp_text,
            timestamp,
            tags,
            count,
        })
    }

    /// Whether the MAC keyed with one secret matches any of the signatures, each compared in
    /// constant time.
    #[inline]
    fn matches(&self, keyed: &HmacSha256, body: &[u8]) -> bool {
        let mut mac = keyed.clone();
        feed(&mut mac, self.id.as_bytes(), self.timestamp_text, body);
        let mut text = [0u8; TAG_BASE64_LEN];
        // 32 bytes are always 44 characters: the buffer always fits.
        let _ = BASE64.encode_slice(mac.finalize().into_bytes(), &mut text);
        let computed = tag_words(&text);
        let any = self.tags[..self.count]
            .iter()
            .fold(Choice::from(0), |any, tag| {
                let equal = computed
                    .iter()
                    .zip(tag_words(tag))
                    .fold(Choice::from(1), |acc, (a, b)| acc & a.ct_eq(&b));
                any | equal
            });
        bool::from(any)
    }

    /// The result: kind and delivery from the signed id, refusing unsigned FastComments headers
    /// that contradict them.
    fn verified(
        &self,
        values: &WebhookHeaderValues<'_>,
        secret_index: usize,
    ) -> Result<Verified, VerifyError> {
        let (event, delivery) = split_id(self.id);
        let header_event = values.event.map(trim_ows).and_then(event_kind);
        if event.is_some() && header_event.is_some() && header_event != event {
            return Err(VerifyError::HeaderMismatch(WebhookHeader::Event));
        }
        if text(values.delivery).is_some_and(|d| !d.is_empty() && d != delivery) {
            return Err(VerifyError::HeaderMismatch(WebhookHeader::Delivery));
        }
        Ok(Verified {
            timestamp: self.timestamp,
            secret_index,
            event,
            delivery_id: Some(DeliveryId::new(delivery)),
            attempt: values.attempt.map(trim_ows).and_then(parse_attempt),
            scheme: Scheme::StandardWebhooks,
        })
    }
}

/// Verifies a Standard Webhooks request against `secrets` (raw key bytes; see
/// [`Secret`](crate::Secret) for the `whsec_` form), as of `now_unix_secs`, accepting a
/// timestamp up to `tolerance_secs` away either way. No replay store: a
/// [`Verifier`](crate::Verifier) takes one.
///
/// ```
/// use fastcomments_webhooks::{standard::verify_standard, Secret, VerifyError};
/// // The vector of the Standard Webhooks libraries' tests.
/// let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// let headers = [
///     ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
///     ("webhook-timestamp", "1614265330"),
///     ("webhook-signature", "v1a,ignored v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
/// ];
/// let body = br#"{"test": 2432232314}"#;
/// assert!(verify_standard(&headers, body, &[&secret], 1614265330, 300).is_ok());
/// assert_eq!(
///     verify_standard(&headers, b"{}", &[&secret], 1614265330, 300),
///     Err(VerifyError::SignatureMismatch)
/// );
/// ```
pub fn verify_standard<H, S>(
    headers: &H,
    raw_body: &[u8],
    secrets: &[S],
    now_unix_secs: i64,
    tolerance_secs: u64,
) -> Result<Verified, VerifyError>
where
    H: HeaderLookup + ?Sized,
    S: AsRef<[u8]>,
{
    let values = headers.webhook_headers();
    verify_with::<StandardHeaders>(&values, raw_body, secrets, now_unix_secs, tolerance_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(
            split_id("delete_abc"),
            (Some(WebhookEventKind::Delete), "abc")
        );
        assert_eq!(split_id("delete_"), (None, "delete_"));
        assert_eq!(split_id("msg_abc"), (None, "msg_abc"));
        assert_eq!(split_id("comment_x"), (None, "comment_x"));
        assert_eq!(
            split_id("create_a_b"),
            (Some(WebhookEventKind::Create), "a_b")
        );
        for bad in ["", "a.b", "a b", "é", "a\u{7f}", &"x".repeat(257)] {
            assert_eq!(MessageId::new(bad), Err(InvalidMessageId), "{bad:?}");
        }
        assert!(MessageId::new(&"x".repeat(256)).is_ok());
        assert_eq!(
            MessageId::for_delivery(WebhookEventKind::Create, ""),
            Err(InvalidMessageId)
        );
        assert_eq!(
            MessageId::for_delivery(WebhookEventKind::Create, "a.b"),
            Err(InvalidMessageId)
        );
    }

    #[test]
    fn tags() {
        let key = keyed_mac(b"k");
        let text = BASE64.encode({
            let mut mac = key.clone();
            feed(&mut mac, b"id", b"1", b"body");
            mac.finalize().into_bytes()
        });
        assert!(tag_shaped(text.as_bytes()));
        assert!(!tag_shaped(&text.as_bytes()[..43]));
        assert!(!tag_shaped(text.trim_end_matches('=').as_bytes()));
        assert!(!tag_shaped(BASE64.encode([7u8; 31]).as_bytes()));
        assert!(!tag_shaped(format!("{text}A").as_bytes()));
        fn headers(sig: &[u8]) -> StandardHeaders<'_> {
            StandardHeaders {
                id: "id",
                timestamp_text: b"1",
                timestamp: 1,
                tags: [sig; MAX_STANDARD_SIGNATURES],
                count: 1,
            }
        }
        assert!(headers(text.as_bytes()).matches(&key, b"body"));
        assert!(!headers(text.as_bytes()).matches(&key, b"bodY"));
        // The same bytes with non-zero trailing bits (one more in the last character's low
        // bits) are not the canonical encoding, and do not match.
        let mut odd = text.clone().into_bytes();
        odd[42] += 1;
        assert_eq!(BASE64.decode(&odd).ok().map(|_| ()), None);
        assert!(!headers(&odd).matches(&key, b"body"));
    }

    #[test]
    fn entries() {
        let tag = "A".repeat(43) + "=";
        let split = |text: &str| {
            Entries(text.as_bytes())
                .map(|e| String::from_utf8(e.to_vec()).unwrap())
                .collect::<Vec<_>>()
        };
        let v1 = format!("v1,{tag}");
        assert_eq!(split(&v1), std::slice::from_ref(&v1));
        assert_eq!(
            split(&format!("  {v1} \t v1a,xy\t{v1}  ")),
            [v1.clone(), "v1a,xy".into(), v1.clone()]
        );
        // A v1 entry one character longer is not cut at the usual length.
        assert_eq!(
            split(&format!("{v1}= v2,z")),
            [format!("{v1}="), "v2,z".into()]
        );
        assert_eq!(split("v1,short v1,"), ["v1,short", "v1,"]);
        // A window over short pieces is one (non-matching) candidate; what follows is intact.
        let pieces = format!("v1,{} v1,{}", "b".repeat(20), "c".repeat(20));
        assert_eq!(pieces.len(), 47);
        assert_eq!(split(&format!("{pieces} {v1}")), [pieces, v1.clone()]);
        assert!(split(" \t ").is_empty());
        assert!(split("").is_empty());
    }

    #[test]
    fn long_heads_are_fed_in_pieces() {
        let key = keyed_mac(b"k");
        let id = "x".repeat(200);
        let mut short = key.clone();
        feed(&mut short, id.as_bytes(), b"1", b"body");
        let mut whole = key.clone();
        whole.update(format!("{id}.1.body").as_bytes());
        assert_eq!(short.finalize().into_bytes(), whole.finalize().into_bytes());
    }
}

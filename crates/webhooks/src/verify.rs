//! The receiver's side: checking a request against one or more secrets (SPEC §2.3).
//!
//! The order of the checks is fixed and cheap-first: headers present, well-formed, fresh, and
//! only then the MAC over `timestamp "." raw_body`. The received hex is decoded once into 32
//! bytes and compared with the computed MAC in constant time ([`subtle`]); the expected value is
//! never hex-encoded, never stored and never reported.
//!
//! Case of the hex digits: the hub sends lowercase, and lowercase or uppercase (or mixed) hex is
//! accepted, because both spell the same 32 bytes and the comparison is on those bytes. The
//! `sha256=` prefix, an identifier of the scheme, must be written exactly so.

use crate::delivery::DeliveryId;
use crate::error::{SignatureFormatError, VerifyError};
use crate::headers::{HeaderLookup, WebhookHeaderValues, SIGNATURE_PREFIX};
use crate::sign::{feed, keyed_mac, HmacSha256};
use fastcomments_protocol::WebhookEventKind;
use hmac::Mac;
use subtle::{Choice, ConstantTimeEq};

/// How far the timestamp may be from "now", in either direction, unless configured otherwise.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// The signature scheme a request was verified by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `X-FastComments-Signature`: covers the timestamp and the body.
    FastComments,
    /// `webhook-signature` (Standard Webhooks): covers the `webhook-id` (which names the event
    /// kind and the delivery), the timestamp and the body.
    StandardWebhooks,
}

/// What a successful verification learned about the request.
///
/// What the signature covers depends on [`scheme`](Verified::scheme):
/// - [`Scheme::FastComments`]: only `timestamp` (and the body). `event`, `delivery_id` and
///   `attempt` come from the unsigned extension headers: hints from a request that was otherwise
///   authentic (a replay within the tolerance could change them).
/// - [`Scheme::StandardWebhooks`]: `event` and `delivery_id` come from the signed `webhook-id`
///   (`event` is `None` when the id names no kind); only `attempt` is an unsigned hint.
///
/// [`signed_event`](Verified::signed_event) and [`signed_delivery_id`](Verified::signed_delivery_id)
/// return only what the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signed instant, unix seconds.
    pub timestamp: i64,
    /// Index, in the secrets given, of the secret that matched (useful to see when an old
    /// secret can be dropped after a rotation).
    pub secret_index: usize,
    /// `X-FastComments-Event`, when present and one of the three known values.
    pub event: Option<WebhookEventKind>,
    /// `X-FastComments-Delivery`, when present, non-empty and valid UTF-8: the idempotency key.
    pub delivery_id: Option<DeliveryId>,
    /// `X-FastComments-Attempt`, when present and a number.
    pub attempt: Option<u32>,
    /// The scheme whose signature was checked.
    pub scheme: Scheme,
}

impl Verified {
    /// The event kind, only if the signature covers it (Standard Webhooks).
    pub fn signed_event(&self) -> Option<WebhookEventKind> {
        match self.scheme {
            Scheme::StandardWebhooks => self.event,
            Scheme::FastComments => None,
        }
    }

    /// The delivery id, only if the signature covers it (Standard Webhooks).
    pub fn signed_delivery_id(&self) -> Option<&str> {
        match self.scheme {
            Scheme::StandardWebhooks => self.delivery_id.as_deref(),
            Scheme::FastComments => None,
        }
    }

    /// Refuses a `DELETE` request whose *signed* event kind is not a delete: the hub sends
    /// creates and updates only as `POST` or `PUT`, so that is a captured update or create
    /// replayed as a delete, which a receiver telling deletes apart by method would act on.
    ///
    /// Only a signed kind (Standard Webhooks) is checked. Under the FastComments scheme the kind
    /// is an unsigned header that whoever changes the method can change too, so nothing is
    /// refused. The axum extractor and `fastcomments webhooks listen` run this check.
    pub fn check_method(&self, method: &http::Method) -> Result<(), VerifyError> {
        match self.signed_event() {
            Some(signed)
                if method == http::Method::DELETE && signed != WebhookEventKind::Delete =>
            {
                Err(VerifyError::MethodMismatch { signed })
            }
            _ => Ok(()),
        }
    }
}

/// The signed parts of a request, read and checked before any MAC is computed.
pub(crate) struct SignedHeaders<'h> {
    /// The timestamp header bytes exactly as received: the MAC covers these.
    timestamp_text: &'h [u8],
    /// Their value.
    timestamp: i64,
    /// The decoded signature, as four words for a cheap constant-time compare.
    tag: [u64; 4],
}

/// Optional whitespace around a header value is not part of it (RFC 9110 §5.5).
#[inline]
pub(crate) fn trim_ows(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    if !value.first().is_some_and(is_ows) && !value.last().is_some_and(is_ows) {
        return value; // the usual case: nothing to trim
    }
    let start = value
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| *b != b' ' && *b != b'\t')
        .map_or(start, |p| p + 1);
    &value[start..end]
}

/// `-?[0-9]+` fitting an `i64`; nothing else (no `+`, no fraction, no exponent).
#[inline]
pub(crate) fn parse_timestamp(text: &[u8]) -> Result<i64, VerifyError> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    // Up to 18 digits cannot overflow; 19 may (checked below); 20 or more always do.
    if digits.is_empty() || digits.len() > 19 {
        return Err(VerifyError::MalformedTimestamp);
    }
    // Two halves parsed independently (shorter dependency chains), then joined.
    let split = digits.len().saturating_sub(9);
    let (high, low) = digits.split_at(split);
    let mut invalid = false;
    let mut parse = |part: &[u8]| {
        part.iter().fold(0u64, |acc, &b| {
            let digit = b.wrapping_sub(b'0');
            invalid |= digit > 9;
            acc * 10 + u64::from(digit)
        })
    };
    let high = parse(high);
    let low = parse(low);
    if invalid {
        return Err(VerifyError::MalformedTimestamp);
    }
    // At most 10 high digits times 10^9 plus 9 low digits: below 10^19, no overflow.
    let magnitude = high * 1_000_000_000 + low;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
    .ok_or(VerifyError::MalformedTimestamp)
}

/// Splats a byte over a word.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// Eight ASCII hex digits (either case), little-endian in a word, into the four bytes they
/// spell (little-endian in the low half), and whether all eight were hex digits. SWAR: the
/// eight bytes are classified and converted at once.
#[inline(always)]
fn decode_hex8(x: u64) -> (u32, bool) {
    const HIGH: u64 = splat(0x80);
    // For bytes below 0x80, adding up to 0x80 never carries into the next byte: the top bit
    // of each byte of `v + splat(0x80 - lo)` says "byte >= lo".
    let in_range = |v: u64, lo: u8, hi: u8| {
        (v.wrapping_add(splat(0x80 - lo)) & !v.wrapping_add(splat(0x7F - hi))) & HIGH
    };
    let ascii = x & HIGH == 0;
    let digit = in_range(x, b'0', b'9');
    let letter = in_range(x | splat(0x20), b'a', b'f'); // | 0x20 lowercases letters
    let valid = ascii & (digit | letter == HIGH);
    // '0'..'9' are 0x30..0x39, 'a'..'f' / 'A'..'F' end in 1..6: low nibble, plus 9 for letters.
    let nibbles = (x & splat(0x0F)) + (letter >> 7) * 9;
    // Byte 2k becomes (nibble 2k << 4) | nibble 2k+1; then the even bytes are packed.
    let pairs = ((nibbles << 4) | (nibbles >> 8)) & 0x00FF_00FF_00FF_00FF;
    let packed = (pairs | (pairs >> 8)) & 0x0000_FFFF_0000_FFFF;
    let packed = (packed | (packed >> 16)) & 0xFFFF_FFFF;
    (packed as u32, valid)
}

/// 64 hex digits into 32 bytes, or `None` if any is not a hex digit. The received signature
/// is public, so nothing here needs to be constant-time.
#[inline]
fn decode_hex32(digits: &[u8]) -> Option<[u8; 32]> {
    let digits: &[u8; 64] = digits.try_into().ok()?;
    let mut bytes = [0u8; 32];
    let mut valid = true;
    for i in 0..8 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&digits[i * 8..i * 8 + 8]);
        let (four, ok) = decode_hex8(u64::from_le_bytes(word));
        bytes[i * 4..i * 4 + 4].copy_from_slice(&four.to_le_bytes());
        valid &= ok;
    }
    valid.then_some(bytes)
}

/// 32 bytes as four native-endian words (the same for both sides of a compare).
#[inline]
pub(crate) fn words(bytes: &[u8; 32]) -> [u64; 4] {
    let mut words = [0u64; 4];
    for (i, word) in words.iter_mut().enumerate() {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
        *word = u64::from_ne_bytes(buf);
    }
    words
}

/// `sha256=` and 64 hex digits (either case) into the 32 bytes they spell.
#[inline]
fn parse_signature(value: &[u8]) -> Result<[u8; 32], SignatureFormatError> {
    let hex_digits = value
        .strip_prefix(SIGNATURE_PREFIX.as_bytes())
        .ok_or(SignatureFormatError::MissingPrefix)?;
    if hex_digits.len() != 64 {
        return Err(SignatureFormatError::WrongLength {
            len: hex_digits.len(),
        });
    }
    decode_hex32(hex_digits).ok_or(SignatureFormatError::NotHex)
}

/// Checks that `timestamp` is within `tolerance_secs` of `now`, both ways.
#[inline]
pub(crate) fn check_freshness(
    timestamp: i64,
    now: i64,
    tolerance_secs: u64,
) -> Result<(), VerifyError> {
    // i128: no overflow whatever the two instants are.
    let diff = i128::from(now) - i128::from(timestamp);
    let secs = u64::try_from(diff.unsigned_abs()).unwrap_or(u64::MAX);
    if secs <= tolerance_secs {
        Ok(())
    } else if diff > 0 {
        Err(VerifyError::StaleTimestamp {
            age_secs: secs,
            tolerance_secs,
        })
    } else {
        Err(VerifyError::FutureTimestamp {
            ahead_secs: secs,
            tolerance_secs,
        })
    }
}

/// The event kind an `X-FastComments-Event` value names (`comment.created` …, or the short
/// `create` … that [`WebhookEventKind::parse`] also accepts), compared as bytes.
#[inline]
pub(crate) fn event_kind(value: &[u8]) -> Option<WebhookEventKind> {
    WebhookEventKind::ALL
        .into_iter()
        .find(|kind| value == kind.header_value().as_bytes() || value == kind.as_str().as_bytes())
}

/// An `X-FastComments-Attempt` value: decimal digits fitting a `u32`.
#[inline]
pub(crate) fn parse_attempt(value: &[u8]) -> Option<u32> {
    if value.is_empty() || value.len() > 10 {
        return None;
    }
    value.iter().try_fold(0u32, |acc, &b| {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u32::from(digit))
    })
}

/// A header value as text: surrounding whitespace trimmed, `None` unless UTF-8.
#[inline]
pub(crate) fn text(value: Option<&[u8]>) -> Option<&str> {
    value
        .map(trim_ows)
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// The signed headers of one scheme, read and checked before any secret is tried.
pub(crate) trait SignedParts<'h>: Sized {
    /// Runs every check that needs no secret on the webhook headers.
    fn read(
        values: &WebhookHeaderValues<'h>,
        now: i64,
        tolerance_secs: u64,
    ) -> Result<Self, VerifyError>;

    /// Whether the MAC keyed with one secret (`keyed` is cloned, not consumed) matches,
    /// compared in constant time.
    fn matches(&self, keyed: &HmacSha256, body: &[u8]) -> bool;

    /// The result once a secret matched, `secret_index` being that secret's place.
    fn verified(
        &self,
        values: &WebhookHeaderValues<'_>,
        secret_index: usize,
    ) -> Result<Verified, VerifyError>;
}

/// [`verify`] and [`verify_standard`](crate::standard::verify_standard): the scheme's headers
/// `P`, then each non-empty secret until one matches.
pub(crate) fn verify_with<'h, P: SignedParts<'h>>(
    values: &WebhookHeaderValues<'h>,
    raw_body: &[u8],
    secrets: &[impl AsRef<[u8]>],
    now_unix_secs: i64,
    tolerance_secs: u64,
) -> Result<Verified, VerifyError> {
    if secrets.iter().all(|s| s.as_ref().is_empty()) {
        return Err(VerifyError::NoSecret);
    }
    let signed = P::read(values, now_unix_secs, tolerance_secs)?;
    for (index, secret) in secrets.iter().enumerate() {
        let secret = secret.as_ref();
        if !secret.is_empty() && signed.matches(&keyed_mac(secret), raw_body) {
            return signed.verified(values, index);
        }
    }
    Err(VerifyError::SignatureMismatch)
}

impl<'h> SignedParts<'h> for SignedHeaders<'h> {
    #[inline]
    fn read(
        values: &WebhookHeaderValues<'h>,
        now: i64,
        tolerance_secs: u64,
    ) -> Result<SignedHeaders<'h>, VerifyError> {
        let timestamp_text = values
            .timestamp
            .map(trim_ows)
            .ok_or(VerifyError::MissingTimestamp)?;
        let signature = values
            .signature
            .map(trim_ows)
            .ok_or(VerifyError::MissingSignature)?;
        let timestamp = parse_timestamp(timestamp_text)?;
        let tag = parse_signature(signature).map_err(VerifyError::MalformedSignature)?;
        check_freshness(timestamp, now, tolerance_secs)?;
        Ok(SignedHeaders {
            timestamp_text,
            timestamp,
            tag: words(&tag),
        })
    }

    #[inline]
    fn matches(&self, keyed: &HmacSha256, body: &[u8]) -> bool {
        let mut mac = keyed.clone();
        feed(&mut mac, self.timestamp_text, body);
        let computed: [u8; 32] = mac.finalize().into_bytes().into();
        let computed = words(&computed);
        let equal = computed
            .iter()
            .zip(&self.tag)
            .fold(Choice::from(1), |acc, (a, b)| acc & a.ct_eq(b));
        bool::from(equal)
    }

    /// The result, with the unsigned extension headers read.
    #[inline]
    fn verified(
        &self,
        values: &WebhookHeaderValues<'_>,
        secret_index: usize,
    ) -> Result<Verified, VerifyError> {
        Ok(Verified {
            timestamp: self.timestamp,
            secret_index,
            event: values.event.map(trim_ows).and_then(event_kind),
            delivery_id: text(values.delivery)
                .filter(|v| !v.is_empty())
                .map(DeliveryId::new),
            attempt: values.attempt.map(trim_ows).and_then(parse_attempt),
            scheme: Scheme::FastComments,
        })
    }
}

/// Verifies a webhook request signed by the FastComments scheme: `headers` and the body bytes
/// exactly as received. (For Standard Webhooks see
/// [`verify_standard`](crate::standard::verify_standard); for either, a
/// [`Verifier`](crate::Verifier).)
///
/// - `secrets`: every secret that may have signed it (the domain's and the wildcard one, or the
///   old and new one during a rotation); the first that matches wins. Empty secrets are
///   skipped, never matched.
/// - `now_unix_secs`: the receiver's clock; `tolerance_secs`: how far the timestamp may be from
///   it either way ([`DEFAULT_TOLERANCE_SECS`]; exactly the tolerance is still accepted).
///
/// Each call keys a MAC per secret tried; to verify many requests with the same secrets, a
/// [`Verifier`](crate::Verifier) keys them once.
///
/// ```
/// use fastcomments_webhooks::{sign, verify, VerifyError};
/// let body = br#"{"id":"abc"}"#;
/// let sig = sign(b"secret", 1763880000, body);
/// let headers = [
///     ("X-FastComments-Timestamp", sig.timestamp_header()),
///     ("X-FastComments-Signature", sig.signature_header()),
/// ];
/// let ok = verify(&headers, body, &["old-secret", "secret"], 1763880100, 300).unwrap();
/// assert_eq!(ok.secret_index, 1);
/// let err = verify(&headers, b"{}", &["secret"], 1763880100, 300).unwrap_err();
/// assert_eq!(err, VerifyError::SignatureMismatch);
/// ```
pub fn verify<H, S>(
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
    verify_with::<SignedHeaders>(&values, raw_body, secrets, now_unix_secs, tolerance_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_forms() {
        assert_eq!(parse_timestamp(b"1763880000"), Ok(1_763_880_000));
        assert_eq!(parse_timestamp(b"0"), Ok(0));
        assert_eq!(parse_timestamp(b"-5"), Ok(-5));
        assert_eq!(parse_timestamp(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_timestamp(b"-9223372036854775808"), Ok(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+5",
            b"1.5",
            b"1e9",
            b"abc",
            b"17638 80000",
            b"9223372036854775808",
            "١٢٣".as_bytes(),
        ] {
            assert_eq!(parse_timestamp(bad), Err(VerifyError::MalformedTimestamp));
        }
    }

    #[test]
    fn hex_decoding() {
        let lower = "00ff10a0b1c2d3e4f5a6b7c8d9eafb0c1d2e3f405162738495a6b7c8d9eaf0ff";
        let expected = hex::decode(lower).unwrap();
        assert_eq!(decode_hex32(lower.as_bytes()).unwrap().to_vec(), expected);
        let upper = lower.to_ascii_uppercase();
        assert_eq!(decode_hex32(upper.as_bytes()).unwrap().to_vec(), expected);
        for bad_at in [0, 1, 31, 62, 63] {
            for bad in [b'g', b'G', b' ', b'/', b':', b'@', b'`', 0x80, 0xFF] {
                let mut digits = lower.as_bytes().to_vec();
                digits[bad_at] = bad;
                assert_eq!(decode_hex32(&digits), None);
            }
        }
        assert_eq!(decode_hex32(&lower.as_bytes()[..62]), None);
        // Every byte value is classified like the hex crate does.
        for b in 0..=255u8 {
            let digits = [b; 64];
            assert_eq!(
                decode_hex32(&digits).is_some(),
                hex::decode(digits).is_ok(),
                "{b}"
            );
        }
    }

    #[test]
    fn extension_values() {
        for kind in WebhookEventKind::ALL {
            assert_eq!(event_kind(kind.header_value().as_bytes()), Some(kind));
            assert_eq!(event_kind(kind.as_str().as_bytes()), Some(kind));
            assert_eq!(
                event_kind(kind.header_value().as_bytes()),
                WebhookEventKind::parse(kind.header_value())
            );
        }
        for other in [
            &b""[..],
            b"comment.exploded",
            b"Comment.Created",
            b"comment.created ",
        ] {
            assert_eq!(event_kind(other), None);
        }
        assert_eq!(parse_attempt(b"1"), Some(1));
        assert_eq!(parse_attempt(b"4294967295"), Some(u32::MAX));
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b"4294967296",
            b"1.0",
            b"x",
            b"99999999999",
        ] {
            assert_eq!(parse_attempt(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ows_is_trimmed() {
        assert_eq!(trim_ows(b"  12\t"), b"12");
        assert_eq!(trim_ows(b" \t "), b"");
        assert_eq!(trim_ows(b""), b"");
        assert_eq!(trim_ows(b"a b"), b"a b");
    }

    #[test]
    fn freshness_edges() {
        assert!(check_freshness(1000, 1300, 300).is_ok());
        assert!(check_freshness(1300, 1000, 300).is_ok());
        assert_eq!(
            check_freshness(1000, 1301, 300),
            Err(VerifyError::StaleTimestamp {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
        assert_eq!(
            check_freshness(1301, 1000, 300),
            Err(VerifyError::FutureTimestamp {
                ahead_secs: 301,
                tolerance_secs: 300
            })
        );
        assert!(check_freshness(i64::MIN, i64::MAX, u64::MAX).is_ok());
        assert!(check_freshness(i64::MIN, i64::MAX, 0).is_err());
    }
}

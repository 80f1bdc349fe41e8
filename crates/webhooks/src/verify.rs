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

use crate::error::{SignatureFormatError, VerifyError};
use crate::headers::{HeaderLookup, WebhookHeader, SIGNATURE_PREFIX};
use crate::sign::{feed, keyed_mac, HmacSha256};
use fastcomments_protocol::WebhookEventKind;
use hmac::Mac;
use subtle::ConstantTimeEq;

/// How far the timestamp may be from "now", in either direction, unless configured otherwise.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// What a successful verification learned about the request.
///
/// Only `timestamp` (and the body) are covered by the signature. The extension headers are
/// *not* signed: treat `event`, `delivery_id` and `attempt` as hints from a request that was
/// otherwise authentic (a replay within the tolerance could change them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signed instant, unix seconds.
    pub timestamp: i64,
    /// Index, in the secrets given, of the secret that matched (useful to see when an old
    /// secret can be dropped after a rotation).
    pub secret_index: usize,
    /// `X-FastComments-Event`, when present and one of the three known values.
    pub event: Option<WebhookEventKind>,
    /// `X-FastComments-Delivery`, when present and valid UTF-8: the idempotency key.
    pub delivery_id: Option<String>,
    /// `X-FastComments-Attempt`, when present and a number.
    pub attempt: Option<u32>,
}

/// The signed parts of a request, read and checked before any MAC is computed.
pub(crate) struct SignedHeaders<'h> {
    /// The timestamp header bytes exactly as received: the MAC covers these.
    pub(crate) timestamp_text: &'h [u8],
    /// Their value.
    pub(crate) timestamp: i64,
    /// The decoded signature.
    pub(crate) tag: [u8; 32],
}

/// Optional whitespace around a header value is not part of it (RFC 9110 §5.5).
fn trim_ows(value: &[u8]) -> &[u8] {
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
fn parse_timestamp(text: &[u8]) -> Result<i64, VerifyError> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return Err(VerifyError::MalformedTimestamp);
    }
    let mut value: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(VerifyError::MalformedTimestamp);
        }
        let digit = i64::from(b - b'0');
        value = value
            .checked_mul(10)
            .and_then(|v| {
                if negative {
                    v.checked_sub(digit)
                } else {
                    v.checked_add(digit)
                }
            })
            .ok_or(VerifyError::MalformedTimestamp)?;
    }
    Ok(value)
}

/// `sha256=` and 64 hex digits (either case) into the 32 bytes they spell.
fn parse_signature(value: &[u8]) -> Result<[u8; 32], SignatureFormatError> {
    let hex_digits = value
        .strip_prefix(SIGNATURE_PREFIX.as_bytes())
        .ok_or(SignatureFormatError::MissingPrefix)?;
    if hex_digits.len() != 64 {
        return Err(SignatureFormatError::WrongLength {
            len: hex_digits.len(),
        });
    }
    let mut tag = [0u8; 32];
    hex::decode_to_slice(hex_digits, &mut tag).map_err(|_| SignatureFormatError::NotHex)?;
    Ok(tag)
}

/// Checks that `timestamp` is within `tolerance_secs` of `now`, both ways.
fn check_freshness(timestamp: i64, now: i64, tolerance_secs: u64) -> Result<(), VerifyError> {
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

impl<'h> SignedHeaders<'h> {
    /// Reads the two signed headers and runs every check that needs no secret.
    pub(crate) fn read<H: HeaderLookup + ?Sized>(
        headers: &'h H,
        now: i64,
        tolerance_secs: u64,
    ) -> Result<SignedHeaders<'h>, VerifyError> {
        let timestamp_text = headers
            .header(WebhookHeader::Timestamp)
            .map(trim_ows)
            .ok_or(VerifyError::MissingTimestamp)?;
        let signature = headers
            .header(WebhookHeader::Signature)
            .map(trim_ows)
            .ok_or(VerifyError::MissingSignature)?;
        let timestamp = parse_timestamp(timestamp_text)?;
        let tag = parse_signature(signature).map_err(VerifyError::MalformedSignature)?;
        check_freshness(timestamp, now, tolerance_secs)?;
        Ok(SignedHeaders {
            timestamp_text,
            timestamp,
            tag,
        })
    }

    /// Whether the MAC keyed with one secret (`keyed` is cloned, not consumed) matches.
    pub(crate) fn matches(&self, keyed: &HmacSha256, body: &[u8]) -> bool {
        let mut mac = keyed.clone();
        feed(&mut mac, self.timestamp_text, body);
        let computed = mac.finalize().into_bytes();
        bool::from(computed.as_slice().ct_eq(&self.tag))
    }

    /// The result, with the unsigned extension headers read.
    pub(crate) fn verified<H: HeaderLookup + ?Sized>(
        &self,
        headers: &H,
        secret_index: usize,
    ) -> Verified {
        let text = |name| {
            headers
                .header(name)
                .map(trim_ows)
                .and_then(|v| std::str::from_utf8(v).ok())
        };
        Verified {
            timestamp: self.timestamp,
            secret_index,
            event: text(WebhookHeader::Event).and_then(WebhookEventKind::parse),
            delivery_id: text(WebhookHeader::Delivery)
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            attempt: text(WebhookHeader::Attempt).and_then(|v| v.parse().ok()),
        }
    }
}

/// Verifies a webhook request: `headers` and the body bytes exactly as received.
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
    if secrets.iter().all(|s| s.as_ref().is_empty()) {
        return Err(VerifyError::NoSecret);
    }
    let signed = SignedHeaders::read(headers, now_unix_secs, tolerance_secs)?;
    for (index, secret) in secrets.iter().enumerate() {
        let secret = secret.as_ref();
        if !secret.is_empty() && signed.matches(&keyed_mac(secret), raw_body) {
            return Ok(signed.verified(headers, index));
        }
    }
    Err(VerifyError::SignatureMismatch)
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

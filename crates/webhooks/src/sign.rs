//! The sender's side: `HMAC-SHA256(secret, timestamp + "." + body)` as the two header values
//! the hub sends (SPEC §2.1).
//!
//! Signing never concatenates the message: the MAC is fed the timestamp digits, the dot and the
//! body in turn, and the hex digest is written into a fixed buffer inside [`Signature`], so a
//! signature costs no heap allocation.

use crate::headers::{WebhookHeader, SIGNATURE_PREFIX};
use hmac::{Hmac, Mac};
use http::header::{HeaderMap, HeaderValue};
use sha2::Sha256;

/// HMAC-SHA256, the only MAC of the protocol.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Length of `sha256=` plus 64 hex digits.
const SIGNATURE_HEADER_LEN: usize = SIGNATURE_PREFIX.len() + 64;
/// Enough for any `i64` in decimal, sign included (`-9223372036854775808`).
pub(crate) const MAX_TIMESTAMP_LEN: usize = 20;

/// Keys a MAC. HMAC accepts keys of any length, so this cannot fail; the `Result` of
/// `new_from_slice` is only there for MACs that can.
pub(crate) fn keyed_mac(secret: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()),
    }
}

/// Feeds `timestamp "." body` to a keyed MAC: the message both sides agree on.
#[inline]
pub(crate) fn feed(mac: &mut HmacSha256, timestamp: &[u8], body: &[u8]) {
    // `timestamp "."` in one small stack buffer: one update fewer, no heap.
    let mut head = [0u8; 32];
    match head.get_mut(..timestamp.len() + 1) {
        Some(slot) => {
            let (digits, dot) = slot.split_at_mut(timestamp.len());
            digits.copy_from_slice(timestamp);
            dot.copy_from_slice(b".");
            mac.update(slot);
        }
        None => {
            mac.update(timestamp);
            mac.update(b".");
        }
    }
    mac.update(body);
}

/// The two header values that authenticate one webhook request.
///
/// Everything lives in fixed buffers; the accessors hand out `&str` views of them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// The signed instant, unix seconds.
    timestamp: i64,
    /// `timestamp` in decimal, in `timestamp_buf[..timestamp_len]`.
    timestamp_buf: [u8; MAX_TIMESTAMP_LEN],
    /// How many bytes of `timestamp_buf` are used.
    timestamp_len: usize,
    /// `sha256=` and the lowercase hex digest.
    header: [u8; SIGNATURE_HEADER_LEN],
}

impl Signature {
    /// The signed instant, unix seconds.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The `X-FastComments-Timestamp` value: the timestamp in decimal.
    pub fn timestamp_header(&self) -> &str {
        ascii(&self.timestamp_buf[..self.timestamp_len])
    }

    /// The `X-FastComments-Signature` value: `sha256=` and 64 lowercase hex digits.
    pub fn signature_header(&self) -> &str {
        ascii(&self.header)
    }

    /// The 64 lowercase hex digits alone.
    pub fn hex(&self) -> &str {
        ascii(&self.header[SIGNATURE_PREFIX.len()..])
    }

    /// Sets `X-FastComments-Timestamp` and `X-FastComments-Signature` on an outgoing request
    /// (replacing earlier values, as a retry re-signs with a fresh timestamp).
    pub fn insert_into(&self, headers: &mut HeaderMap) {
        headers.insert(
            WebhookHeader::Timestamp.header_name(),
            HeaderValue::from(self.timestamp),
        );
        // Only `sha256=` and hex digits: always a valid header value.
        if let Ok(value) = HeaderValue::from_bytes(&self.header) {
            headers.insert(WebhookHeader::Signature.header_name(), value);
        }
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signature")
            .field("timestamp", &self.timestamp_header())
            .field("signature", &self.signature_header())
            .finish()
    }
}

/// Views bytes this module wrote (ASCII digits, letters and `=`/`-`) as text.
pub(crate) fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// Writes `value` in decimal into `buf`, returning the number of bytes used.
pub(crate) fn write_decimal(value: i64, buf: &mut [u8; MAX_TIMESTAMP_LEN]) -> usize {
    let mut digits = [0u8; MAX_TIMESTAMP_LEN];
    let mut n = value.unsigned_abs();
    let mut count = 0;
    loop {
        digits[count] = b'0' + (n % 10) as u8;
        count += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut len = 0;
    if value < 0 {
        buf[0] = b'-';
        len = 1;
    }
    for &d in digits[..count].iter().rev() {
        buf[len] = d;
        len += 1;
    }
    len
}

/// A MAC keyed once with a secret, to sign many bodies with it (the hub's dispatcher keeps one
/// per API secret). Keying costs two SHA-256 blocks; [`Signer::sign`] clones the keyed state.
#[derive(Clone)]
pub struct Signer {
    /// The MAC after the key was absorbed.
    keyed: HmacSha256,
}

impl Signer {
    /// Keys a signer with the API secret (the bytes of the secret text).
    pub fn new(secret: impl AsRef<[u8]>) -> Signer {
        Signer {
            keyed: keyed_mac(secret.as_ref()),
        }
    }

    /// Signs `body` (the exact bytes that will be sent) as of `timestamp` (unix seconds).
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> Signature {
        let mut timestamp_buf = [0u8; MAX_TIMESTAMP_LEN];
        let timestamp_len = write_decimal(timestamp, &mut timestamp_buf);
        let mut mac = self.keyed.clone();
        feed(&mut mac, &timestamp_buf[..timestamp_len], body);
        let digest = mac.finalize().into_bytes();
        let mut header = [0u8; SIGNATURE_HEADER_LEN];
        header[..SIGNATURE_PREFIX.len()].copy_from_slice(SIGNATURE_PREFIX.as_bytes());
        // 32 bytes into exactly 64 hex digits: the lengths always agree.
        let _ = hex::encode_to_slice(digest, &mut header[SIGNATURE_PREFIX.len()..]);
        Signature {
            timestamp,
            timestamp_buf,
            timestamp_len,
            header,
        }
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { secret: [redacted] }")
    }
}

/// Signs `body` with `secret` as of `timestamp` (unix seconds): the values of
/// `X-FastComments-Timestamp` and `X-FastComments-Signature`.
///
/// ```
/// let sig = fastcomments_webhooks::sign(b"secret", 1763880000, br#"{"id":"abc"}"#);
/// assert_eq!(sig.timestamp_header(), "1763880000");
/// assert!(sig.signature_header().starts_with("sha256="));
/// assert_eq!(sig.signature_header().len(), 71);
/// ```
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> Signature {
    Signer::new(secret).sign(timestamp, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_forms() {
        for v in [0i64, 7, 10, 1_763_880_000, -1, -300, i64::MAX, i64::MIN] {
            let mut buf = [0u8; MAX_TIMESTAMP_LEN];
            let len = write_decimal(v, &mut buf);
            assert_eq!(&buf[..len], v.to_string().as_bytes());
        }
    }
}

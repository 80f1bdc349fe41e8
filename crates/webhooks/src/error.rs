//! Why a webhook request was refused: one [`VerifyError`] variant per check, each with a
//! kebab-case [`code`](VerifyError::code) for machine-readable answers.
//!
//! No variant carries the signature the secret would have produced: an error message that ends
//! up in a response or a log must not help anyone forge the next request.

use crate::headers::WebhookHeader;
use fastcomments_protocol::WebhookEventKind;
use thiserror::Error;

/// The check of [`verify`](fn@crate::verify) / [`Verifier::verify`](crate::Verifier::verify) that
/// failed.
///
/// The FastComments scheme's checks run in the order of the variants from `NoSecret` to
/// `SignatureMismatch`. The Standard Webhooks checks run in this order: `NoSecret`,
/// `MissingStandardHeader` (id, timestamp, signature), `MalformedWebhookId`,
/// `MalformedWebhookTimestamp`, `MalformedWebhookSignature`, `StaleTimestamp` /
/// `FutureTimestamp`, `SignatureMismatch`, `HeaderMismatch`, `Replayed`; `MethodMismatch` comes
/// from [`Verified::check_method`](crate::Verified::check_method) after that.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// No secret to verify with (none given, or all empty). A configuration error of the
    /// receiver, not of the request.
    #[error("no webhook secret is configured")]
    NoSecret,
    /// The `X-FastComments-Timestamp` header is absent.
    #[error("missing X-FastComments-Timestamp header")]
    MissingTimestamp,
    /// The `X-FastComments-Signature` header is absent.
    #[error("missing X-FastComments-Signature header")]
    MissingSignature,
    /// The timestamp is not a decimal integer of unix seconds (`-?[0-9]+`, fitting an `i64`).
    #[error("malformed X-FastComments-Timestamp header: expected unix seconds")]
    MalformedTimestamp,
    /// The signature header is not `sha256=` followed by 64 hex digits.
    #[error("malformed X-FastComments-Signature header: {0}")]
    MalformedSignature(SignatureFormatError),
    /// The timestamp is more than the tolerance in the past (an old request replayed, or a
    /// receiver clock running ahead).
    #[error("stale timestamp: signed {age_secs} s ago, tolerance is {tolerance_secs} s")]
    StaleTimestamp {
        /// How many seconds before "now" the request was signed.
        age_secs: u64,
        /// The tolerance in force.
        tolerance_secs: u64,
    },
    /// The timestamp is more than the tolerance in the future (a sender clock running ahead).
    #[error("timestamp in the future: {ahead_secs} s ahead, tolerance is {tolerance_secs} s")]
    FutureTimestamp {
        /// How many seconds after "now" the request claims to be signed.
        ahead_secs: u64,
        /// The tolerance in force.
        tolerance_secs: u64,
    },
    /// Well-formed and fresh, but no configured secret produces this signature over these
    /// bytes: a wrong secret, or a body or timestamp changed on the way.
    #[error("signature does not match the body with any configured secret")]
    SignatureMismatch,
    /// Standard Webhooks: one of `webhook-id`, `webhook-timestamp`, `webhook-signature` is
    /// absent while another is present (or all are, and the verifier accepts only Standard
    /// Webhooks).
    #[error("missing {} header", .0.as_str())]
    MissingStandardHeader(WebhookHeader),
    /// Standard Webhooks: `webhook-id` is empty, longer than 256 bytes, or holds a byte outside
    /// visible ASCII or a `.` (which would make `id.timestamp.body` ambiguous).
    #[error("malformed webhook-id header: expected 1 to 256 visible ASCII characters, no '.'")]
    MalformedWebhookId,
    /// Standard Webhooks: `webhook-timestamp` is not a decimal integer of unix seconds.
    #[error("malformed webhook-timestamp header: expected unix seconds")]
    MalformedWebhookTimestamp,
    /// Standard Webhooks: `webhook-signature` holds no usable `v1` signature.
    #[error("malformed webhook-signature header: {0}")]
    MalformedWebhookSignature(StandardSignatureError),
    /// Standard Webhooks: the signature is good, but an unsigned FastComments header
    /// (`X-FastComments-Event` or `X-FastComments-Delivery`) names another event kind or delivery
    /// than the signed `webhook-id`: the request was altered on the way.
    #[error("{} contradicts the signed webhook-id", .0.as_str())]
    HeaderMismatch(WebhookHeader),
    /// Standard Webhooks with a replay store: this very message (same `webhook-id` and
    /// `webhook-timestamp`) was already accepted. A sender's retry is signed afresh with a new
    /// timestamp, so only a copy of an earlier request can meet this.
    #[error("replayed: this webhook-id and webhook-timestamp were already accepted")]
    Replayed,
    /// The request's method is `DELETE` but the signed event kind is not a delete (the hub
    /// sends creates and updates only as `POST` or `PUT`): an update replayed as a delete.
    #[error("a DELETE request must be signed as comment.deleted, this one is signed as {}", .signed.header_value())]
    MethodMismatch {
        /// The kind the signature covers.
        signed: WebhookEventKind,
    },
}

impl VerifyError {
    /// The kebab-case machine code of the failed check, as used in
    /// `{"status":"failed","code":…}` answers.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::NoSecret => "no-api-secret",
            VerifyError::MissingTimestamp => "missing-timestamp",
            VerifyError::MissingSignature => "missing-signature",
            VerifyError::MalformedTimestamp => "malformed-timestamp",
            VerifyError::MalformedSignature(_) => "malformed-signature",
            VerifyError::StaleTimestamp { .. } => "stale-timestamp",
            VerifyError::FutureTimestamp { .. } => "future-timestamp",
            VerifyError::SignatureMismatch => "signature-mismatch",
            VerifyError::MissingStandardHeader(header) => match header {
                WebhookHeader::WebhookTimestamp => "missing-webhook-timestamp",
                WebhookHeader::WebhookSignature => "missing-webhook-signature",
                _ => "missing-webhook-id",
            },
            VerifyError::MalformedWebhookId => "malformed-webhook-id",
            VerifyError::MalformedWebhookTimestamp => "malformed-timestamp",
            VerifyError::MalformedWebhookSignature(_) => "malformed-signature",
            VerifyError::HeaderMismatch(_) => "header-mismatch",
            VerifyError::Replayed => "replayed",
            VerifyError::MethodMismatch { .. } => "method-mismatch",
        }
    }
}

/// How a signature header value is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SignatureFormatError {
    /// It does not start with `sha256=` (the prefix is case-sensitive).
    #[error("expected the prefix \"sha256=\"")]
    MissingPrefix,
    /// After the prefix there are not exactly 64 characters.
    #[error("expected 64 hex digits after \"sha256=\", found {len} characters")]
    WrongLength {
        /// How many bytes followed the prefix.
        len: usize,
    },
    /// After the prefix there is something other than hex digits.
    #[error("expected hex digits after \"sha256=\"")]
    NotHex,
}

/// How a `webhook-signature` value fails to offer a `v1` signature to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum StandardSignatureError {
    /// No `v1,` entry at all (entries of other versions, such as `v1a,`, are skipped).
    #[error("no v1 signature")]
    NoV1Signature,
    /// There are `v1,` entries, but none has the length of the base64 of 32 bytes
    /// (43 characters and `=`).
    #[error("no v1 signature has the length of the base64 of 32 bytes")]
    NotBase64,
    /// More `v1,` entries than are checked ([`MAX_STANDARD_SIGNATURES`](crate::headers::MAX_STANDARD_SIGNATURES)).
    #[error("more than {} v1 signatures", crate::headers::MAX_STANDARD_SIGNATURES)]
    TooMany,
}

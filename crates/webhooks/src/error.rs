//! Why a webhook request was refused: one [`VerifyError`] variant per check, each with a
//! kebab-case [`code`](VerifyError::code) for machine-readable answers.
//!
//! No variant carries the signature the secret would have produced: an error message that ends
//! up in a response or a log must not help anyone forge the next request.

use thiserror::Error;

/// The check of [`verify`](fn@crate::verify) / [`Verifier::verify`](crate::Verifier::verify) that
/// failed. The checks run in the order of the variants.
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

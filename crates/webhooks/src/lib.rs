//! Signing and verifying FastComments comment webhooks (SPEC §2), over the **raw body bytes**.
//!
//! A webhook request carries `X-FastComments-Timestamp: <unix seconds>` and
//! `X-FastComments-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. The MAC
//! covers the bytes on the wire, so a receiver must verify the body *as received*: parsing the
//! JSON and serialising it again (as the old guide's Python, PHP and Node examples do) gives
//! different bytes as soon as a comment holds non-ASCII text, a `/`, or keys in another order.
//! See `docs/webhooks.md` at the repository root.
//!
//! # Map of the crate
//!
//! - [`headers`]: the header names, [`WebhookHeader`], and [`HeaderLookup`], the small trait
//!   through which verification reads headers (implemented for [`http::HeaderMap`] and for lists
//!   of `(name, value)` pairs, names compared case-insensitively).
//! - [`sign`](mod@sign): the sender's side. [`sign()`] and [`Signer`] (a MAC keyed once) give a
//!   [`Signature`], the two header values in fixed buffers.
//! - [`verify`](mod@verify): the receiver's side. [`verify()`] runs every check of SPEC §2.3
//!   against one or several secrets and returns [`Verified`].
//! - [`verifier`]: [`Verifier`], the secrets (keyed once), tolerance, clock and body limit of a
//!   receiver, cheap to clone into every request.
//! - [`error`]: [`VerifyError`], one variant per failed check, each with a kebab-case code.
//! - [`delivery`]: [`DeliveryId`], the idempotency key of a delivery, read without allocating.
//! - `extract` (feature `axum`): `VerifiedWebhook`, `VerifiedBody` and `WebhookRejection`,
//!   axum 0.8 extractors that verify before a handler runs.
//!
//! # Example
//!
//! ```
//! use fastcomments_webhooks::{sign, Verifier, VerifyError};
//!
//! // The hub signs the exact bytes it sends…
//! let body = r#"{"id":"c1","comment":"Здравей 👋 https://example.bg/a/b"}"#.as_bytes();
//! let sig = sign(b"api secret", 1763880000, body);
//!
//! // …and the receiver verifies the exact bytes it received.
//! let verifier = Verifier::new(["api secret"]).with_clock(|| 1763880042);
//! let headers = [
//!     ("X-FastComments-Timestamp", sig.timestamp_header()),
//!     ("X-FastComments-Signature", sig.signature_header()),
//!     ("X-FastComments-Event", "comment.created"),
//! ];
//! let verified = verifier.verify(&headers, body).unwrap();
//! assert_eq!(verified.timestamp, 1763880000);
//!
//! // One changed byte and it is refused, saying which check failed.
//! let err = verifier.verify(&headers, br#"{"id":"c2"}"#).unwrap_err();
//! assert_eq!(err, VerifyError::SignatureMismatch);
//! assert_eq!(err.code(), "signature-mismatch");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod delivery;
pub mod error;
#[cfg(feature = "axum")]
pub mod extract;
pub mod headers;
pub mod replay;
pub mod secret;
pub mod sign;
pub mod standard;
pub mod verifier;
pub mod verify;

pub use delivery::DeliveryId;
pub use error::{SignatureFormatError, StandardSignatureError, VerifyError};
#[cfg(feature = "axum")]
pub use extract::{CommentOrId, VerifiedBody, VerifiedWebhook, WebhookRejection};
pub use fastcomments_protocol::{WebhookComment, WebhookEventKind};
pub use headers::{HeaderLookup, WebhookHeader};
pub use replay::{MemoryReplayStore, ReplayStore};
pub use secret::{Secret, SecretError};
pub use sign::{sign, Signature, Signer};
pub use standard::{
    sign_standard, verify_standard, InvalidMessageId, MessageId, StandardSignature, StandardSigner,
};
pub use verifier::{AcceptedSchemes, Clock, Verifier, DEFAULT_MAX_BODY_BYTES};
pub use verify::{verify, Scheme, Verified, DEFAULT_TOLERANCE_SECS};

/// Compiles (and runs, where not `no_run`) the Rust examples of `docs/webhooks.md`.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/webhooks.md")]
struct WebhooksGuideExamples;

//! Signing and verifying FastComments comment webhooks (SPEC §2), over the **raw body bytes**,
//! in two schemes: the FastComments one and [Standard Webhooks](https://www.standardwebhooks.com).
//!
//! A webhook request carries `X-FastComments-Timestamp: <unix seconds>` and
//! `X-FastComments-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, and
//! (from the hub that signs both ways) `webhook-id: <kind>_<delivery id>`,
//! `webhook-timestamp: <unix seconds>` and
//! `webhook-signature: v1,<base64 HMAC-SHA256(secret, id + "." + timestamp + "." + body)>`, one
//! `v1,` entry per secret the hub signs with. Both MACs cover the bytes on the wire, so a
//! receiver must verify the body *as received*: parsing the JSON and serialising it again (as
//! the old guide's Python, PHP and Node examples do) gives different bytes as soon as a comment
//! holds non-ASCII text, a `/`, or keys in another order. See `docs/webhooks.md` at the
//! repository root.
//!
//! # Which scheme protects against what
//!
//! | an attacker who captured a genuine request… | FastComments | Standard Webhooks | Standard Webhooks + [`ReplayStore`] |
//! |---|---|---|---|
//! | changes a byte of the body | refused | refused | refused |
//! | sends it again after the tolerance (300 s) | refused (stale) | refused (stale) | refused (stale) |
//! | sends it again within the tolerance, unchanged | **accepted** | **accepted** | refused (`replayed`) |
//! | sends an update again as a `DELETE`, or with another `X-FastComments-Event` | **accepted** | refused: the kind is signed in the id (`method-mismatch`, `header-mismatch`) | refused |
//! | changes `X-FastComments-Delivery` to slip past a receiver's de-duplication | **accepted** | refused (`header-mismatch`; the signed id carries the delivery) | refused |
//! | strips the `webhook-*` headers to fall back to the FastComments scheme | — | **accepted** with [`AcceptedSchemes::Either`], refused with [`AcceptedSchemes::StandardWebhooksOnly`] | same |
//! | changes the URL path or query, or `PUT` ↔ `POST` | **accepted** | **accepted** (neither scheme signs them; a `DELETE` must be signed as a delete) | same |
//!
//! The event kind is signed by writing it into the Standard Webhooks message id
//! (`update_6741a2b3…`, see [`MessageId`]) rather than into the body, which stays the
//! `WebhookComment` existing receivers parse, or into a header of our own, which no other
//! Standard Webhooks library would check; the reasoning is in [`standard`]. Why a replay is
//! an identical id *and* timestamp, so that the hub's retries still pass, is in [`replay`].
//!
//! # How to verify each
//!
//! [`Verifier::verify`] checks either scheme from the headers and raw body: Standard Webhooks
//! when any of its headers is present, the FastComments scheme otherwise. Once your sender
//! signs with Standard Webhooks, accept only that ([`Verifier::with_schemes`]) and give the
//! verifier a [`MemoryReplayStore`] (or your own shared [`ReplayStore`]); act on
//! [`Verified::signed_event`] and de-duplicate on [`Verified::signed_delivery_id`], never on
//! the request method. The axum extractor runs [`Verified::check_method`] for you. For one-off
//! checks there are the free functions [`verify()`] (FastComments) and [`verify_standard()`].
//!
//! Secrets: both schemes key HMAC with the bytes of the API secret. A Standard Webhooks
//! library in another language takes the same key written `whsec_` + base64
//! ([`Secret::to_standard`]); [`Secret::parse`] reads either form.
//!
//! # Rotating a secret with overlap
//!
//! While a secret is being retired, the hub signs the Standard Webhooks header with both the
//! old and the new secret ([`StandardSigner::new`]`([old, new])`: two `v1,` entries). A receiver
//! that knows only the old secret, or only the new one, verifies every request; switch the
//! receiver over at any time during the overlap, and the hub drops the old secret after it. The
//! FastComments header has room for one signature only: a receiver of that scheme configures
//! both secrets for the overlap (`Verifier::new([new, old])`; [`Verified::secret_index`] shows
//! which one still matches).
//!
//! # Map of the crate
//!
//! - [`headers`]: the header names, [`WebhookHeader`], and [`HeaderLookup`], the small trait
//!   through which verification reads headers (implemented for [`http::HeaderMap`] and for lists
//!   of `(name, value)` pairs, names compared case-insensitively).
//! - [`sign`](mod@sign): the FastComments sender's side. [`sign()`] and [`Signer`] (a MAC keyed
//!   once) give a [`Signature`], the two header values in fixed buffers.
//! - [`standard`]: Standard Webhooks, both sides: [`MessageId`], [`StandardSigner`] /
//!   [`sign_standard()`] giving a [`StandardSignature`], and [`verify_standard()`].
//! - [`verify`](mod@verify): the FastComments receiver's side. [`verify()`] runs every check of
//!   SPEC §2.3 against one or several secrets and returns [`Verified`].
//! - [`verifier`]: [`Verifier`], the secrets (keyed once), tolerance, clock, accepted schemes,
//!   replay store and body limit of a receiver, cheap to clone into every request.
//! - [`replay`]: [`ReplayStore`] and [`MemoryReplayStore`].
//! - [`secret`](mod@secret): [`Secret`], a key read from an API secret or a `whsec_` string.
//! - [`error`]: [`VerifyError`], one variant per failed check, each with a kebab-case code.
//! - [`delivery`]: [`DeliveryId`], the idempotency key of a delivery, read without allocating.
//! - `extract` (feature `axum`): `VerifiedWebhook`, `VerifiedBody` and `WebhookRejection`,
//!   axum 0.8 extractors that verify before a handler runs.
//!
//! # Examples
//!
//! The FastComments scheme:
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
//!
//! Standard Webhooks, with two secrets during a rotation and a replay store:
//!
//! ```
//! use fastcomments_webhooks::{
//!     AcceptedSchemes, MemoryReplayStore, MessageId, StandardSigner, Verifier, VerifyError,
//!     WebhookEventKind,
//! };
//!
//! // The hub: the kind and delivery go into the signed id; old and new secret both sign.
//! let body = br#"{"id":"c1","comment":"hi"}"#;
//! let id = MessageId::for_delivery(WebhookEventKind::Update, "6741a2b3c4d5e6f708192a3b").unwrap();
//! let sig = StandardSigner::new(["old secret", "new secret"]).unwrap().sign(&id, 1763880000, body);
//! let mut headers = http::HeaderMap::new();
//! sig.insert_into(&mut headers);
//!
//! // A receiver that already has the new secret.
//! let verifier = Verifier::new(["new secret"])
//!     .with_schemes(AcceptedSchemes::StandardWebhooksOnly)
//!     .with_replay_store(MemoryReplayStore::new())
//!     .with_clock(|| 1763880003);
//! let verified = verifier.verify(&headers, body).unwrap();
//! assert_eq!(verified.signed_event(), Some(WebhookEventKind::Update));
//! assert_eq!(verified.signed_delivery_id(), Some("6741a2b3c4d5e6f708192a3b"));
//! // Sent again as a DELETE: refused, as is any copy of it within the tolerance.
//! assert!(verified.check_method(&http::Method::DELETE).is_err());
//! assert_eq!(verifier.verify(&headers, body), Err(VerifyError::Replayed));
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

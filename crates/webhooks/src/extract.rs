//! axum 0.8 extractors (feature `axum`): a handler that takes a [`VerifiedWebhook`] only runs
//! for a request whose signature checked out.
//!
//! The extractor reads the raw body (bounded by [`Verifier::max_body_bytes`] and any
//! `DefaultBodyLimit` layer), verifies those exact bytes with the [`Verifier`] it gets from the
//! router's state through [`FromRef`] (either scheme, as [`Verifier::verify`] does; then
//! [`Verified::check_method`]: a `DELETE` must be signed as a delete), and only then parses
//! JSON. Refusals are answered in the project's failure shape,
//! `{"status":"failed","code":…,"reason":…}` ([`WebhookRejection`]).
//!
//! Which extractor for which endpoint:
//! - create/update: `VerifiedWebhook` (a [`WebhookComment`]).
//! - delete: `VerifiedWebhook<CommentOrId>`, because the hub's *test* delete sends only
//!   `{"id":"…"}` while real deletes send the full comment.
//! - anything else: `VerifiedWebhook<serde_json::Value>`, your own type, or [`VerifiedBody`]
//!   for the verified bytes without parsing.

use crate::error::VerifyError;
use crate::verifier::Verifier;
use crate::verify::Verified;
use ::axum::body::Bytes;
use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::http::{header, StatusCode};
use ::axum::response::{IntoResponse, Response};
use ::axum::{Json, RequestExt};
use fastcomments_protocol::{codes, DeleteTestPayload, Failure, WebhookComment, WebhookEventKind};
use http_body_util::LengthLimitError;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The verified raw body of a webhook request, not parsed.
#[derive(Debug, Clone)]
pub struct VerifiedBody {
    /// What verification learned (timestamp, matching secret, extension headers).
    pub verified: Verified,
    /// The body exactly as received and verified.
    pub body: Bytes,
}

/// A verified webhook request whose body parsed as `T` (by default a [`WebhookComment`]).
#[derive(Debug, Clone)]
pub struct VerifiedWebhook<T = WebhookComment> {
    /// The parsed body.
    pub payload: T,
    /// What verification learned (timestamp, matching secret, extension headers).
    pub verified: Verified,
    /// The body exactly as received and verified, e.g. to store it as it came.
    pub body: Bytes,
}

impl<T> VerifiedWebhook<T> {
    /// The event kind: signed under Standard Webhooks (from `webhook-id`), else the unsigned
    /// `X-FastComments-Event`, when sent.
    pub fn event(&self) -> Option<WebhookEventKind> {
        self.verified.event
    }

    /// The delivery id, the idempotency key: signed under Standard Webhooks (from
    /// `webhook-id`), else the unsigned `X-FastComments-Delivery`, when sent.
    pub fn delivery_id(&self) -> Option<&str> {
        self.verified.delivery_id.as_deref()
    }
}

/// The body of a delete webhook: the full comment, or only its id as the hub's test delete
/// sends it (and as deletes did before November 2023).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum CommentOrId {
    /// The comment as it was.
    Comment(Box<WebhookComment>),
    /// `{"id":"…"}` only.
    IdOnly(DeleteTestPayload),
}

impl CommentOrId {
    /// The comment's id, whichever form came.
    pub fn id(&self) -> &str {
        match self {
            CommentOrId::Comment(comment) => &comment.id,
            CommentOrId::IdOnly(payload) => &payload.id,
        }
    }
}

/// Why an extractor refused a request; answered as JSON in the failure shape.
#[derive(Debug)]
pub enum WebhookRejection {
    /// A verification check failed: `401` with that check's code (or `500 no-api-secret` when
    /// the receiver has no secret configured).
    Verify(VerifyError),
    /// The body is over the limit: `413 payload-too-large`.
    PayloadTooLarge {
        /// The extractor's own limit, bytes (a `DefaultBodyLimit` layer may have been lower).
        limit: usize,
    },
    /// The body could not be read (the connection failed): `400 invalid-body`.
    UnreadableBody,
    /// The body verified but is not the JSON expected: `400 invalid-body`, with serde's reason.
    InvalidBody(String),
}

impl WebhookRejection {
    /// The status code it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            WebhookRejection::Verify(VerifyError::NoSecret) => StatusCode::INTERNAL_SERVER_ERROR,
            WebhookRejection::Verify(_) => StatusCode::UNAUTHORIZED,
            WebhookRejection::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookRejection::UnreadableBody | WebhookRejection::InvalidBody(_) => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    /// The failure body: kebab-case code and human reason.
    pub fn failure(&self) -> Failure {
        match self {
            WebhookRejection::Verify(err) => Failure::new(err.code(), err.to_string()),
            WebhookRejection::PayloadTooLarge { limit } => Failure::new(
                codes::PAYLOAD_TOO_LARGE,
                format!("webhook body is over the size limit (at most {limit} bytes are read)"),
            ),
            WebhookRejection::UnreadableBody => {
                Failure::new(codes::INVALID_BODY, "the request body could not be read")
            }
            WebhookRejection::InvalidBody(reason) => Failure::new(
                codes::INVALID_BODY,
                format!("verified body is not the expected JSON: {reason}"),
            ),
        }
    }
}

impl From<VerifyError> for WebhookRejection {
    fn from(err: VerifyError) -> Self {
        WebhookRejection::Verify(err)
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        (self.status(), Json(self.failure())).into_response()
    }
}

/// Whether a body error was caused by a length limit (ours or a `DefaultBodyLimit` layer's).
fn is_length_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.is::<LengthLimitError>() {
            return true;
        }
        current = e.source();
    }
    false
}

impl<S> FromRequest<S> for VerifiedBody
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let limit = verifier.max_body_bytes();
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(WebhookRejection::PayloadTooLarge { limit });
        }
        let (parts, body) = req.with_limited_body().into_parts();
        let body = ::axum::body::to_bytes(body, limit).await.map_err(|err| {
            if is_length_limit(&err) {
                WebhookRejection::PayloadTooLarge { limit }
            } else {
                WebhookRejection::UnreadableBody
            }
        })?;
        let verified = verifier.verify(&parts.headers, &body)?;
        verified.check_method(&parts.method)?;
        Ok(VerifiedBody { verified, body })
    }
}

impl<S, T> FromRequest<S> for VerifiedWebhook<T>
where
    Verifier: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let VerifiedBody { verified, body } = VerifiedBody::from_request(req, state).await?;
        let payload = serde_json::from_slice(&body)
            .map_err(|err| WebhookRejection::InvalidBody(err.to_string()))?;
        Ok(VerifiedWebhook {
            payload,
            verified,
            body,
        })
    }
}

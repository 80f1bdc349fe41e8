//! Errors the API answers with: an HTTP status, a kebab-case `code` and a human `reason`
//! (SPEC §1). Storage failures are logged, never leaked: a full disk is `507
//! insufficient-storage`, storage that failed or cannot be reached `503 storage-unavailable`
//! with `Retry-After`, anything else `500 internal-error`. None of them is ever a 2xx.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use fastcomments_protocol::{codes, Failure};

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The machine code.
    pub code: &'static str,
    /// Human text.
    pub reason: String,
    /// Seconds a client should wait before trying again (`Retry-After`), if any.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Any status and code.
    pub fn new(status: StatusCode, code: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// The same error, telling the client to retry after `seconds`.
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// `400` with this code.
    pub fn bad_request(code: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, reason)
    }

    /// `400 invalid-body`.
    pub fn invalid_body(reason: impl Into<String>) -> ApiError {
        ApiError::bad_request(codes::INVALID_BODY, reason)
    }

    /// `400 invalid-query`.
    pub fn invalid_query(reason: impl Into<String>) -> ApiError {
        ApiError::bad_request(codes::INVALID_QUERY, reason)
    }

    /// `404 not-found`.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            format!("{what} not found"),
        )
    }

    /// `401 unauthorized`.
    pub fn unauthorized(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, reason)
    }

    /// `500 internal-error`.
    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "the hub failed to complete the request; retry later",
        )
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        use crate::store::StoreError;
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict(reason) => ApiError::new(StatusCode::CONFLICT, "conflict", reason),
            StoreError::Invalid(reason) => ApiError::invalid_body(reason),
            StoreError::Contended(err) => {
                tracing::warn!(error = %err, "a write lost to concurrent ones after retries");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "the hub is busy with concurrent writes; retry",
                )
            }
            StoreError::Database(err) => {
                tracing::error!(error = %err, "storage failure");
                ApiError::internal()
            }
            StoreError::Unavailable { kind, detail } => {
                tracing::error!(kind = kind.as_str(), error = %detail, "storage failure; nothing was stored");
                storage_unavailable(kind)
            }
        }
    }
}

/// Seconds a client is told to wait after a storage failure.
pub const STORAGE_RETRY_AFTER_SECS: u64 = 5;

/// The answer to a write the storage could not take: `507` when the disk is full, `503`
/// otherwise, both with `Retry-After`.
pub fn storage_unavailable(kind: crate::store::FaultKind) -> ApiError {
    use crate::store::FaultKind;
    let e = match kind {
        FaultKind::Full => ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            codes::INSUFFICIENT_STORAGE,
            "the hub's disk is full; nothing was stored; retry later",
        ),
        _ => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::STORAGE_UNAVAILABLE,
            "the hub's storage is unavailable, so the request may not have been stored; retry later",
        ),
    };
    e.retry_after(STORAGE_RETRY_AFTER_SECS)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after;
        let mut response =
            (self.status, Json(Failure::new(self.code, self.reason))).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

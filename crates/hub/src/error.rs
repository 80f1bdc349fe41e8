//! Errors the API answers with: an HTTP status, a kebab-case `code` and a human `reason`
//! (SPEC §1). Storage failures become `500 internal-error` and are logged, never leaked.

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
}

impl ApiError {
    /// Any status and code.
    pub fn new(status: StatusCode, code: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            reason: reason.into(),
        }
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
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(Failure::new(self.code, self.reason))).into_response()
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

//! Errors the API answers with: an HTTP status, a kebab-case `code` and a human `reason`
//! (SPEC §1). Storage failures are logged, never leaked: a full disk is `507
//! insufficient-storage`, storage that failed or cannot be reached `503 storage-unavailable`
//! with `Retry-After`, anything else `500 internal-error`. None of them is ever a 2xx.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use fastcomments_protocol::{codes, Failure};

/// Every `code` the hub answers with, and the statuses it comes with: the one list the codes
/// table of docs/protocol.md is checked against (`crates/cli/tests/it/docs_hold.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `invalid-token`: not a token the protocol allows.
    InvalidToken,
    /// `invalid-query`: a query value cannot be used.
    InvalidQuery,
    /// `invalid-body`: the JSON body cannot be used.
    InvalidBody,
    /// `unknown-token`: never registered.
    UnknownToken,
    /// `token-not-validated`: registered, not acknowledged.
    TokenNotValidated,
    /// `unauthorized`: a missing or wrong secret.
    Unauthorized,
    /// `token-revoked`.
    TokenRevoked,
    /// `operator-api-disabled`: no operator token configured.
    OperatorApiDisabled,
    /// `not-found`.
    NotFound,
    /// `api-secret-not-allowed`: the integration may not read the API secret.
    ApiSecretNotAllowed,
    /// `no-api-secret`: no secret for the domain.
    NoApiSecret,
    /// `domain-not-owned`.
    DomainNotOwned,
    /// `all-domains-secret-required`.
    AllDomainsSecretRequired,
    /// `outside-secret-domain`.
    OutsideSecretDomain,
    /// `method-not-allowed`.
    MethodNotAllowed,
    /// `not-supported`: a part of the hosted FastComments API this hub does not have.
    NotSupported,
    /// `conflict`.
    Conflict,
    /// `too-many-webhooks`.
    TooManyWebhooks,
    /// `token-expired`.
    TokenExpired,
    /// `payload-too-large`.
    PayloadTooLarge,
    /// `rate-limited`.
    RateLimited,
    /// `internal-error`.
    Internal,
    /// `busy`: a write lost to concurrent ones after retries.
    Busy,
    /// `storage-unavailable`: a write the storage could not take.
    StorageUnavailable,
    /// `store-unavailable`: `/readyz` is not ready.
    StoreUnavailable,
    /// `insufficient-storage`: the disk is full.
    InsufficientStorage,
}

impl Code {
    /// Every code.
    pub const ALL: &'static [Code] = &[
        Code::InvalidToken,
        Code::InvalidQuery,
        Code::InvalidBody,
        Code::UnknownToken,
        Code::TokenNotValidated,
        Code::Unauthorized,
        Code::TokenRevoked,
        Code::OperatorApiDisabled,
        Code::NotFound,
        Code::ApiSecretNotAllowed,
        Code::NoApiSecret,
        Code::DomainNotOwned,
        Code::AllDomainsSecretRequired,
        Code::OutsideSecretDomain,
        Code::MethodNotAllowed,
        Code::NotSupported,
        Code::Conflict,
        Code::TooManyWebhooks,
        Code::TokenExpired,
        Code::PayloadTooLarge,
        Code::RateLimited,
        Code::Internal,
        Code::Busy,
        Code::StorageUnavailable,
        Code::StoreUnavailable,
        Code::InsufficientStorage,
    ];

    /// The code's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidToken => codes::INVALID_TOKEN,
            Code::InvalidQuery => codes::INVALID_QUERY,
            Code::InvalidBody => codes::INVALID_BODY,
            Code::UnknownToken => codes::UNKNOWN_TOKEN,
            Code::TokenNotValidated => codes::TOKEN_NOT_VALIDATED,
            Code::Unauthorized => codes::UNAUTHORIZED,
            Code::TokenRevoked => codes::TOKEN_REVOKED,
            Code::OperatorApiDisabled => "operator-api-disabled",
            Code::NotFound => codes::NOT_FOUND,
            Code::ApiSecretNotAllowed => "api-secret-not-allowed",
            Code::NoApiSecret => codes::NO_API_SECRET,
            Code::DomainNotOwned => "domain-not-owned",
            Code::AllDomainsSecretRequired => "all-domains-secret-required",
            Code::OutsideSecretDomain => "outside-secret-domain",
            Code::MethodNotAllowed => "method-not-allowed",
            Code::NotSupported => "not-supported",
            Code::Conflict => "conflict",
            Code::TooManyWebhooks => "too-many-webhooks",
            Code::TokenExpired => "token-expired",
            Code::PayloadTooLarge => codes::PAYLOAD_TOO_LARGE,
            Code::RateLimited => codes::RATE_LIMITED,
            Code::Internal => codes::INTERNAL,
            Code::Busy => "busy",
            Code::StorageUnavailable => codes::STORAGE_UNAVAILABLE,
            Code::StoreUnavailable => "store-unavailable",
            Code::InsufficientStorage => codes::INSUFFICIENT_STORAGE,
        }
    }

    /// The statuses the code is answered with.
    pub fn statuses(self) -> &'static [u16] {
        match self {
            Code::InvalidToken | Code::InvalidQuery | Code::InvalidBody => &[400],
            // 400 from the operator's test-events page, 401 on the protocol's calls.
            Code::TokenNotValidated => &[400, 401],
            Code::UnknownToken | Code::Unauthorized => &[401],
            Code::TokenRevoked
            | Code::OperatorApiDisabled
            | Code::ApiSecretNotAllowed
            | Code::DomainNotOwned
            | Code::AllDomainsSecretRequired
            | Code::OutsideSecretDomain => &[403],
            Code::NotFound | Code::NoApiSecret | Code::NotSupported => &[404],
            Code::MethodNotAllowed => &[405],
            Code::Conflict | Code::TooManyWebhooks => &[409],
            Code::TokenExpired => &[410],
            Code::PayloadTooLarge => &[413],
            Code::RateLimited => &[429],
            Code::Internal => &[500],
            Code::Busy | Code::StorageUnavailable | Code::StoreUnavailable => &[503],
            Code::InsufficientStorage => &[507],
        }
    }
}

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
    /// A status and one of the [`Code`]s it comes with.
    pub fn new(status: StatusCode, code: Code, reason: impl Into<String>) -> ApiError {
        debug_assert!(
            code.statuses().contains(&status.as_u16()),
            "{} is not answered with {status}",
            code.as_str()
        );
        ApiError {
            status,
            code: code.as_str(),
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
    pub fn bad_request(code: Code, reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, reason)
    }

    /// `400 invalid-body`.
    pub fn invalid_body(reason: impl Into<String>) -> ApiError {
        ApiError::bad_request(Code::InvalidBody, reason)
    }

    /// `400 invalid-query`.
    pub fn invalid_query(reason: impl Into<String>) -> ApiError {
        ApiError::bad_request(Code::InvalidQuery, reason)
    }

    /// `404 not-found`.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            Code::NotFound,
            format!("{what} not found"),
        )
    }

    /// `401 unauthorized`.
    pub fn unauthorized(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, Code::Unauthorized, reason)
    }

    /// `500 internal-error`.
    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::Internal,
            "the hub failed to complete the request; retry later",
        )
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        use crate::store::StoreError;
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict(reason) => {
                ApiError::new(StatusCode::CONFLICT, Code::Conflict, reason)
            }
            StoreError::Invalid(reason) => ApiError::invalid_body(reason),
            StoreError::Contended(err) => {
                tracing::warn!(error = %err, "a write lost to concurrent ones after retries");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Code::Busy,
                    "the hub is busy with concurrent writes; retry",
                )
            }
            StoreError::Database { message: err, .. } => {
                tracing::error!(error = %err, "storage failure");
                ApiError::internal()
            }
            StoreError::Unavailable { kind, detail } => {
                match kind {
                    crate::store::FaultKind::Full | crate::store::FaultKind::Busy => {
                        tracing::error!(kind = kind.as_str(), error = %detail, "storage failure; nothing was stored")
                    }
                    // A lost connection or an I/O error may come after the commit reached the
                    // disk: the outcome is unknown, as the answer says.
                    _ => {
                        tracing::error!(kind = kind.as_str(), error = %detail, "storage failure; the write may or may not have been stored")
                    }
                }
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
            Code::InsufficientStorage,
            "the hub's disk is full; nothing was stored; retry later",
        ),
        _ => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::StorageUnavailable,
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

#[cfg(test)]
mod tests {
    use super::Code;

    /// [`Code::ALL`] holds every variant once, in declaration order: a new code cannot be
    /// left out of the list the docs are checked against (the match below is exhaustive).
    #[test]
    fn all_lists_every_code() {
        let position = |c: Code| -> usize {
            match c {
                Code::InvalidToken => 0,
                Code::InvalidQuery => 1,
                Code::InvalidBody => 2,
                Code::UnknownToken => 3,
                Code::TokenNotValidated => 4,
                Code::Unauthorized => 5,
                Code::TokenRevoked => 6,
                Code::OperatorApiDisabled => 7,
                Code::NotFound => 8,
                Code::ApiSecretNotAllowed => 9,
                Code::NoApiSecret => 10,
                Code::DomainNotOwned => 11,
                Code::AllDomainsSecretRequired => 12,
                Code::OutsideSecretDomain => 13,
                Code::MethodNotAllowed => 14,
                Code::NotSupported => 15,
                Code::Conflict => 16,
                Code::TooManyWebhooks => 17,
                Code::TokenExpired => 18,
                Code::PayloadTooLarge => 19,
                Code::RateLimited => 20,
                Code::Internal => 21,
                Code::Busy => 22,
                Code::StorageUnavailable => 23,
                Code::StoreUnavailable => 24,
                Code::InsufficientStorage => 25,
            }
        };
        for (i, c) in Code::ALL.iter().enumerate() {
            assert_eq!(position(*c), i, "{}", c.as_str());
        }
        assert_eq!(Code::ALL.len(), 26);
    }
}
